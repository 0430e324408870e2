//! Git objects built in memory, written loose or as one pack file, and the packs kept few.
//!
//! A node's commit is four objects (its file blobs, `hone.json`, a tree, the commit). They
//! are serialized here, byte for byte as git writes them, so building a commit reads
//! nothing back from the repository. A loose object is a file of its own, and on a slow
//! disk creating it dominates a commit; a batch of at least [`PACK_MIN_NODES`] nodes is
//! instead written as one pack (undeltified: `git gc` deltifies later if asked) with its
//! index, both written here from what is already known (ids, offsets, CRC-32s), so nothing
//! is parsed back. Objects under [`STORE_BELOW`] bytes (commits, trees, small files) are
//! stored uncompressed inside their zlib stream. So that lookups do not slow down as
//! batches add packs, each new pack is followed by a geometric roll-up: the smallest packs
//! are merged until each pack holds at least twice the objects of the next smaller one,
//! which keeps O(log n) packs; a merge copies each object's bytes as they are (only a
//! delta, from a pack git wrote, is inflated and stored again), so the O(log n) rewrites of
//! an object over a run cost a copy each, not a decompression and compression. A merge
//! reads one object at a time from its pack and streams it into the new one, so it holds
//! about 60 bytes an object in memory (ids, offsets, CRC-32s), not the packs themselves.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Odb, Oid, Repository};
use sha1::{Digest, Sha1};

/// The fewest nodes a batch needs to be written as a pack rather than as loose objects.
pub(crate) const PACK_MIN_NODES: usize = 8;

/// Objects to write, each once, in the order first added.
#[derive(Default)]
pub(crate) struct Objects {
    list: Vec<(Oid, ObjectType, Vec<u8>)>,
    seen: HashSet<Oid>,
}

impl Objects {
    /// Adds an object (once per id) and returns its id.
    pub(crate) fn add(&mut self, kind: ObjectType, data: Vec<u8>) -> Result<Oid, git2::Error> {
        let id = Oid::hash_object(kind, &data)?;
        if self.seen.insert(id) {
            self.list.push((id, kind, data));
        }
        Ok(id)
    }

    /// Adds a tree of `entries` (name, whether it is a directory, id), in git's order.
    pub(crate) fn add_tree(&mut self, entries: &[(&str, bool, Oid)]) -> Result<Oid, git2::Error> {
        // Git sorts a directory as if its name ended with `/`.
        let key = |(name, dir, _): &(&str, bool, Oid)| {
            let mut key = name.as_bytes().to_vec();
            if *dir {
                key.push(b'/');
            }
            key
        };
        let mut sorted = entries.to_vec();
        sorted.sort_by_key(key);
        let mut data = Vec::new();
        for (name, dir, id) in sorted {
            data.extend_from_slice(if dir { b"40000 " } else { b"100644 " });
            data.extend_from_slice(name.as_bytes());
            data.push(0);
            data.extend_from_slice(id.as_bytes());
        }
        self.add(ObjectType::Tree, data)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Writes every object as a loose file (those already present are left as they are).
    pub(crate) fn write_loose(&self, odb: &Odb<'_>) -> Result<(), git2::Error> {
        for (_, kind, data) in &self.list {
            odb.write(*kind, data)?;
        }
        Ok(())
    }

    /// Writes every object into one new pack file, with its index, in `repo`.
    pub(crate) fn write_pack(&self, repo: &Repository) -> Result<(), git2::Error> {
        if self.list.is_empty() {
            return Ok(());
        }
        let mut compress = Compressor::default();
        let mut entries = Vec::with_capacity(self.list.len());
        for (id, kind, data) in &self.list {
            entries.push(Entry::encode(*id, *kind, data, &mut compress)?);
        }
        write_pack_files(repo, &entries)?;
        repo.odb()?.refresh()
    }
}

/// Objects below this size are stored in their zlib stream without compression: setting a
/// compressor up for a stream zeroes tens of kilobytes, more than compressing a commit or a
/// tree saves (a tree is mostly object ids, which do not compress).
const STORE_BELOW: usize = 512;

/// One compressor, made on first use and reset for each object's stream.
#[derive(Default)]
struct Compressor(Option<flate2::Compress>);

/// An object as a pack holds it: its id, and its bytes in the pack (the type-and-size
/// header, then the zlib stream of its data).
struct Entry {
    id: Oid,
    bytes: Vec<u8>,
}

impl Entry {
    fn encode(
        id: Oid,
        kind: ObjectType,
        data: &[u8],
        compress: &mut Compressor,
    ) -> Result<Entry, git2::Error> {
        let code: u8 = match kind {
            ObjectType::Commit => 1,
            ObjectType::Tree => 2,
            ObjectType::Blob => 3,
            ObjectType::Tag => 4,
            other => {
                return Err(git2::Error::from_str(&format!(
                    "cannot pack an object of kind {other}"
                )));
            }
        };
        let mut bytes = Vec::with_capacity(data.len() / 2 + 32);
        // Type and size: 3 bits of type and 4 of size, then 7 bits of size a byte.
        let mut size = data.len();
        let mut byte = (code << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size > 0 {
            bytes.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        bytes.push(byte);
        if data.len() < STORE_BELOW {
            stored_zlib(data, &mut bytes);
            return Ok(Entry { id, bytes });
        }
        let compress = compress
            .0
            .get_or_insert_with(|| flate2::Compress::new(flate2::Compression::fast(), true));
        compress.reset();
        loop {
            bytes.reserve(data.len() / 2 + 64);
            let consumed = compress.total_in() as usize;
            let status = compress
                .compress_vec(&data[consumed..], &mut bytes, flate2::FlushCompress::Finish)
                .map_err(|e| git2::Error::from_str(&format!("cannot compress an object: {e}")))?;
            if status == flate2::Status::StreamEnd {
                break;
            }
        }
        Ok(Entry { id, bytes })
    }

    /// The object's type code (6 and 7 are deltas).
    #[cfg(test)]
    fn type_code(&self) -> u8 {
        type_code(&self.bytes)
    }
}

/// A zlib stream of `data` in stored (uncompressed) deflate blocks, appended to `out`.
fn stored_zlib(data: &[u8], out: &mut Vec<u8>) {
    // CMF 0x78 (deflate, 32K window), FLG 0x01 (no dictionary; the header is a multiple of 31).
    out.extend_from_slice(&[0x78, 0x01]);
    if data.is_empty() {
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    }
    let mut blocks = data.chunks(0xffff).peekable();
    while let Some(block) = blocks.next() {
        // BFINAL on the last block, BTYPE 00 (stored).
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
}

/// zlib's Adler-32 checksum.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5,552 bytes is the most that can be summed before `b` may overflow a u32.
    for chunk in data.chunks(5_552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Writes `entries` as a version-2 pack and its version-2 index into `repo`'s pack folder
/// (see [`PackWriter`]). Returns the index's path.
fn write_pack_files(repo: &Repository, entries: &[Entry]) -> Result<PathBuf, git2::Error> {
    let count = u32::try_from(entries.len())
        .map_err(|_| git2::Error::from_str("too many objects for one pack"))?;
    let mut writer = PackWriter::new(repo, count)?;
    for entry in entries {
        writer.add(entry.id, &entry.bytes)?;
    }
    writer.finish()
}

/// A version-2 pack written object by object to a temporary file, hashed as it goes, then
/// its version-2 index built from what is known here (ids, offsets, CRC-32s: nothing is
/// parsed back). The pack is renamed into place before its index is written and renamed
/// (git finds packs by their index, so a reader never sees an index without its pack); both
/// are named by the pack's checksum, so equal packs share one name. What it holds in memory
/// is 32 bytes an object, not the objects: a roll-up that merges a whole run's packs costs
/// no memory in the size of the repository.
struct PackWriter {
    dir: PathBuf,
    temporary: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    hasher: Sha1,
    written: u64,
    count: u32,
    /// (id, CRC-32 of its bytes, offset) of each object written.
    index: Vec<(Oid, u32, u64)>,
}

impl PackWriter {
    /// Starts a pack of `count` objects in `repo`'s pack folder.
    fn new(repo: &Repository, count: u32) -> Result<PackWriter, git2::Error> {
        static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = repo.path().join("objects").join("pack");
        std::fs::create_dir_all(&dir).map_err(|e| write_error(&dir, e))?;
        let temporary = dir.join(format!(
            "tmp_pack_{}_{}",
            std::process::id(),
            SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let file = std::fs::File::create(&temporary).map_err(|e| write_error(&temporary, e))?;
        let mut writer = PackWriter {
            dir,
            temporary,
            file: std::io::BufWriter::with_capacity(1 << 16, file),
            hasher: Sha1::new(),
            written: 0,
            count,
            index: Vec::with_capacity(count as usize),
        };
        let mut header = Vec::with_capacity(12);
        header.extend_from_slice(b"PACK");
        header.extend_from_slice(&2u32.to_be_bytes());
        header.extend_from_slice(&count.to_be_bytes());
        writer.write(&header)?;
        Ok(writer)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), git2::Error> {
        use std::io::Write;
        self.file
            .write_all(bytes)
            .map_err(|e| write_error(&self.temporary, e))?;
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Appends one object: its bytes in a pack (type-and-size header, zlib stream).
    fn add(&mut self, id: Oid, bytes: &[u8]) -> Result<(), git2::Error> {
        if self.index.len() >= self.count as usize {
            return Err(git2::Error::from_str(
                "more objects than the pack's header announced",
            ));
        }
        self.index.push((id, crc32fast::hash(bytes), self.written));
        self.write(bytes)
    }

    /// Ends the pack and writes its index; the index's path.
    fn finish(mut self) -> Result<PathBuf, git2::Error> {
        use std::io::Write;
        if self.index.len() != self.count as usize {
            return Err(git2::Error::from_str(&format!(
                "a pack of {} objects holds {}",
                self.count,
                self.index.len()
            )));
        }
        let checksum = std::mem::take(&mut self.hasher).finalize();
        self.file
            .write_all(&checksum)
            .and_then(|()| self.file.flush())
            .map_err(|e| write_error(&self.temporary, e))?;
        let mut index = std::mem::take(&mut self.index);
        index.sort_by_key(|(id, ..)| *id);
        if index.windows(2).any(|w| w[0].0 == w[1].0) {
            let _ = std::fs::remove_file(&self.temporary);
            return Err(git2::Error::from_str("an object appears twice in one pack"));
        }

        let mut idx = Vec::with_capacity(8 + 256 * 4 + index.len() * 28 + 40);
        idx.extend_from_slice(&[0xff, b't', b'O', b'c', 0, 0, 0, 2]);
        let mut fanout = [0u32; 256];
        for (id, ..) in &index {
            fanout[usize::from(id.as_bytes()[0])] += 1;
        }
        let mut running = 0u32;
        for n in fanout {
            running += n;
            idx.extend_from_slice(&running.to_be_bytes());
        }
        for (id, ..) in &index {
            idx.extend_from_slice(id.as_bytes());
        }
        for (_, crc, _) in &index {
            idx.extend_from_slice(&crc.to_be_bytes());
        }
        // Offsets from 2 GiB on go to a table of 64-bit offsets, named by slot, top bit set.
        let mut large = Vec::new();
        for (.., offset) in &index {
            let small = match u32::try_from(*offset) {
                Ok(small) if small < 0x8000_0000 => small,
                _ => {
                    let slot = u32::try_from(large.len())
                        .map_err(|_| git2::Error::from_str("pack too large"))?;
                    large.push(*offset);
                    0x8000_0000 | slot
                }
            };
            idx.extend_from_slice(&small.to_be_bytes());
        }
        for offset in large {
            idx.extend_from_slice(&offset.to_be_bytes());
        }
        idx.extend_from_slice(&checksum);
        let idx_checksum = Sha1::digest(&idx);
        idx.extend_from_slice(&idx_checksum);

        let name = format!(
            "pack-{}",
            checksum
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let pack = self.dir.join(format!("{name}.pack"));
        std::fs::rename(&self.temporary, &pack).map_err(|e| write_error(&pack, e))?;
        let path = self.dir.join(format!("{name}.idx"));
        let temporary = self.dir.join(format!("tmp_{name}.idx"));
        std::fs::write(&temporary, &idx)
            .and_then(|()| std::fs::rename(&temporary, &path))
            .map_err(|e| write_error(&path, e))?;
        Ok(path)
    }
}

impl Drop for PackWriter {
    /// A pack left unfinished (an error on the way) leaves no temporary file behind; a
    /// finished one has been renamed away already.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.temporary);
    }
}

fn write_error(path: &Path, error: std::io::Error) -> git2::Error {
    git2::Error::from_str(&format!("cannot write {}: {error}", path.display()))
}

/// A pack of the repository: its index file and how many objects it holds.
#[derive(Debug)]
struct Pack {
    idx: PathBuf,
    objects: u32,
}

/// Keeps the pack sizes of `repo` geometric (each pack at least twice the objects of the next
/// smaller one): the smallest packs are merged into one, taking each next pack while it holds
/// fewer than twice the objects taken so far. Returns how many packs were merged (0: none).
pub(crate) fn roll_up(repo: &Repository) -> Result<usize, git2::Error> {
    let dir = repo.path().join("objects").join("pack");
    let mut packs = list_packs(&dir);
    packs.sort_by_key(|p| p.objects);
    let mut taken_objects: u64 = 0;
    let mut take = 0;
    for pack in &packs {
        if take > 0 && u64::from(pack.objects) >= 2 * taken_objects {
            break;
        }
        taken_objects += u64::from(pack.objects);
        take += 1;
    }
    if take < 2 {
        return Ok(0);
    }
    let merging = &packs[..take];
    // Whole objects are copied as they are, compressed bytes and all; a delta (in a pack
    // `git gc` wrote) is read whole through libgit2 and stored again. Objects are read one
    // at a time from their packs and streamed into the new one.
    let mut seen = HashSet::new();
    let mut sources = Vec::with_capacity(merging.len());
    let mut count: u32 = 0;
    for pack in merging {
        let mut located = pack_locations(&pack.idx)?;
        located.retain(|(_, _, id)| seen.insert(*id));
        count = count
            .checked_add(located.len() as u32)
            .ok_or_else(|| git2::Error::from_str("too many objects for one pack"))?;
        sources.push((pack.idx.with_extension("pack"), located));
    }
    drop(seen);
    let mut writer = PackWriter::new(repo, count)?;
    let mut compress = Compressor::default();
    let mut odb = None;
    let mut bytes = Vec::new();
    for (path, located) in &sources {
        use std::os::unix::fs::FileExt;
        let bad = |what: &str| git2::Error::from_str(&format!("{}: {what}", path.display()));
        let file = std::fs::File::open(path).map_err(|e| bad(&e.to_string()))?;
        for &(start, stop, id) in located {
            bytes.resize((stop - start) as usize, 0);
            file.read_exact_at(&mut bytes, start)
                .map_err(|e| bad(&e.to_string()))?;
            if matches!(type_code(&bytes), 1..=4) {
                writer.add(id, &bytes)?;
                continue;
            }
            let odb = match &odb {
                Some(odb) => odb,
                None => odb.insert(repo.odb()?),
            };
            let object = odb.read(id)?;
            let entry = Entry::encode(id, object.kind(), object.data(), &mut compress)?;
            writer.add(id, &entry.bytes)?;
        }
    }
    let merged = writer.finish()?;
    // The new pack holds every object of the merged ones: they can go. The index first, so
    // that a reader never finds an index without its pack. A merged pack whose bytes the
    // new one repeats (its objects, in its order, held everything the others added) has
    // the new pack's name: it is the new pack now, and stays.
    for pack in merging.iter().filter(|p| p.idx != merged) {
        for extension in ["idx", "pack", "rev", "bitmap", "mtimes", "promisor"] {
            let _ = std::fs::remove_file(pack.idx.with_extension(extension));
        }
    }
    Ok(take)
}

/// The packs in `dir` that have both files, a version-2 index and no `.keep`.
fn list_packs(dir: &Path) -> Vec<Pack> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .filter(|idx| idx.with_extension("pack").exists() && !idx.with_extension("keep").exists())
        .filter_map(|idx| {
            let objects = object_count(&idx)?;
            Some(Pack { idx, objects })
        })
        .collect()
}

/// The object count of a version-2 pack index (its last fan-out entry), read from its first
/// 1,032 bytes.
fn object_count(idx: &Path) -> Option<u32> {
    use std::io::Read;
    let mut header = [0u8; 8 + 256 * 4];
    std::fs::File::open(idx)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    if header[..8] != [0xff, b't', b'O', b'c', 0, 0, 0, 2] {
        return None;
    }
    let last = &header[8 + 255 * 4..];
    Some(u32::from_be_bytes([last[0], last[1], last[2], last[3]]))
}

/// Where the objects of a pack are, found through its version-2 index: each object's
/// start and end in the pack file (type and size header, then the zlib stream of its data,
/// or a delta) and its id, in the pack's order. Reads the index and the pack's length only.
fn pack_locations(idx: &Path) -> Result<Vec<(u64, u64, Oid)>, git2::Error> {
    let bad = |what: &str| git2::Error::from_str(&format!("{}: {what}", idx.display()));
    let index = std::fs::read(idx).map_err(|e| bad(&e.to_string()))?;
    let pack_len = std::fs::metadata(idx.with_extension("pack"))
        .map_err(|e| bad(&e.to_string()))?
        .len();
    let count = object_count(idx).ok_or_else(|| bad("not a version-2 pack index"))? as usize;
    let table = |start: usize, width: usize, n: usize| {
        index
            .get(start..start + width * n)
            .ok_or_else(|| bad("truncated pack index"))
    };
    let ids_start = 8 + 256 * 4;
    let ids = table(ids_start, 20, count)?;
    // After the ids come their CRC-32s, then their offsets, then the 64-bit offsets.
    let offsets_start = ids_start + count * (20 + 4);
    let offsets = table(offsets_start, 4, count)?;
    let large_start = offsets_start + count * 4;
    let mut located: Vec<(u64, Oid)> = Vec::with_capacity(count);
    for (id, offset) in ids.chunks_exact(20).zip(offsets.chunks_exact(4)) {
        let offset = u32::from_be_bytes([offset[0], offset[1], offset[2], offset[3]]);
        let offset = if offset & 0x8000_0000 == 0 {
            u64::from(offset)
        } else {
            let slot = (offset & 0x7fff_ffff) as usize;
            let wide = table(large_start + slot * 8, 8, 1)?;
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(wide);
            u64::from_be_bytes(bytes)
        };
        located.push((offset, Oid::from_bytes(id)?));
    }
    located.sort_by_key(|(offset, _)| *offset);
    // Each object runs to the next one's offset; the last one to the 20-byte trailer.
    let end = pack_len
        .checked_sub(20)
        .ok_or_else(|| bad("truncated pack"))?;
    let mut spans = Vec::with_capacity(count);
    for (i, &(start, id)) in located.iter().enumerate() {
        let stop = located.get(i + 1).map(|(next, _)| *next).unwrap_or(end);
        if start < 12 || start >= stop || stop > end {
            return Err(bad("an object's offset is outside its pack"));
        }
        spans.push((start, stop, id));
    }
    Ok(spans)
}

/// An object's type code, from the first byte of its bytes in a pack (6 and 7 are deltas).
fn type_code(bytes: &[u8]) -> u8 {
    bytes.first().map(|b| (b >> 4) & 7).unwrap_or(0)
}

/// The objects of a pack with their bytes in it.
#[cfg(test)]
fn pack_entries(idx: &Path) -> Result<Vec<Entry>, git2::Error> {
    let pack = std::fs::read(idx.with_extension("pack"))
        .map_err(|e| git2::Error::from_str(&e.to_string()))?;
    Ok(pack_locations(idx)?
        .into_iter()
        .map(|(start, stop, id)| Entry {
            id,
            bytes: pack[start as usize..stop as usize].to_vec(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commit `i`: a blob `file` (`blob {i}`) in a tree in `dir/` beside `top`, 4 objects
    /// (the blob `top` is shared by all).
    fn commit(objects: &mut Objects, i: u32) -> Result<Oid, git2::Error> {
        let blob = objects.add(ObjectType::Blob, format!("blob {i}\n").into_bytes())?;
        let top = objects.add(ObjectType::Blob, b"top\n".to_vec())?;
        let dir = objects.add_tree(&[("file", false, blob)])?;
        let tree = objects.add_tree(&[("top", false, top), ("dir", true, dir)])?;
        let text =
            format!("tree {tree}\nauthor t <t@t> {i} +0000\ncommitter t <t@t> {i} +0000\n\nm\n");
        objects.add(ObjectType::Commit, text.into_bytes())
    }

    fn batch(repo: &Repository, range: std::ops::Range<u32>) -> Vec<Oid> {
        let mut objects = Objects::default();
        let ids = range
            .map(|i| commit(&mut objects, i).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        objects.write_pack(repo).unwrap_or_else(|e| panic!("{e}"));
        ids
    }

    fn counts(repo: &Repository) -> Vec<u32> {
        let mut counts: Vec<u32> = list_packs(&repo.path().join("objects").join("pack"))
            .iter()
            .map(|p| p.objects)
            .collect();
        counts.sort();
        counts
    }

    #[test]
    fn trees_and_objects_match_what_libgit2_writes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = Repository::init_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut objects = Objects::default();
        let blob = objects
            .add(ObjectType::Blob, b"x\n".to_vec())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(blob, repo.blob(b"x\n").unwrap_or_else(|e| panic!("{e}")));
        // `a.b` sorts before the directory `a` (compared as `a/`), `a-` after... and so on.
        let names = ["a.b", "a", "a-", "a0", "b", "A"];
        let inner = objects
            .add_tree(&[("f", false, blob)])
            .unwrap_or_else(|e| panic!("{e}"));
        let ours: Vec<(&str, bool, Oid)> = names
            .iter()
            .map(|&n| (n, n == "a", if n == "a" { inner } else { blob }))
            .collect();
        let ours = objects.add_tree(&ours).unwrap_or_else(|e| panic!("{e}"));
        let mut builder = repo.treebuilder(None).unwrap_or_else(|e| panic!("{e}"));
        builder
            .insert("f", blob, 0o100644)
            .unwrap_or_else(|e| panic!("{e}"));
        let theirs_inner = builder.write().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(inner, theirs_inner);
        let mut builder = repo.treebuilder(None).unwrap_or_else(|e| panic!("{e}"));
        for n in names {
            let (id, mode) = if n == "a" {
                (inner, 0o040000)
            } else {
                (blob, 0o100644)
            };
            builder
                .insert(n, id, mode)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(ours, builder.write().unwrap_or_else(|e| panic!("{e}")));
    }

    #[test]
    fn batches_become_packs_and_packs_stay_geometric() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = Repository::init_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut ids = Vec::new();
        for b in 0..40u32 {
            ids.extend(batch(&repo, b * 10..b * 10 + 10));
            roll_up(&repo).unwrap_or_else(|e| panic!("{e}"));
            let counts = counts(&repo);
            // 3 objects a commit, plus the shared blob once a pack.
            let total: u32 = counts.iter().sum();
            assert!(total > 3 * ids.len() as u32, "batch {b}: {counts:?}");
            for pair in counts.windows(2) {
                assert!(pair[1] >= 2 * pair[0], "batch {b}: {counts:?}");
            }
            assert!(
                counts.len() <= 1 + (ids.len() as f64).log2() as usize,
                "{counts:?}"
            );
        }
        // No loose object was written, and every commit reads back, whole, with `git` too.
        let loose = std::fs::read_dir(dir.path().join("objects"))
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().len() == 2)
            .count();
        assert_eq!(loose, 0);
        let fresh = Repository::open_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        for (i, id) in ids.iter().enumerate() {
            let found = fresh
                .find_commit(*id)
                .unwrap_or_else(|e| panic!("commit {i}: {e}"));
            let tree = found.tree().unwrap_or_else(|e| panic!("{e}"));
            let entry = tree
                .get_path(Path::new("dir/file"))
                .unwrap_or_else(|e| panic!("commit {i}: {e}"));
            let blob = fresh
                .find_blob(entry.id())
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(blob.content(), format!("blob {i}\n").as_bytes());
        }
        git_checks(dir.path());
    }

    /// `git fsck --strict` and `git verify-pack` of every pack (CRC-32s, offsets, both
    /// checksums), where git is installed.
    fn git_checks(repo: &Path) {
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .current_dir(repo)
                .output()
        };
        let Ok(fsck) = git(&["fsck", "--strict", "--no-dangling"]) else {
            eprintln!("git is not installed: fsck and verify-pack skipped");
            return;
        };
        assert!(
            fsck.status.success(),
            "git fsck: {}",
            String::from_utf8_lossy(&fsck.stderr)
        );
        for pack in list_packs(&repo.join("objects").join("pack")) {
            let path = pack.idx.display().to_string();
            let verify = git(&["verify-pack", "-v", &path]).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                verify.status.success(),
                "git verify-pack {path}: {}",
                String::from_utf8_lossy(&verify.stderr)
            );
        }
    }

    /// Stored zlib streams inflate back to their data (empty, small, and over one 64 KiB
    /// block), checksum included.
    #[test]
    fn stored_streams_inflate() {
        for len in [0usize, 1, 511, 65_535, 65_536, 200_001] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut stream = Vec::new();
            stored_zlib(&data, &mut stream);
            let mut inflate = flate2::Decompress::new(true);
            let mut out = Vec::with_capacity(len + 1);
            let status = inflate
                .decompress_vec(&stream, &mut out, flate2::FlushDecompress::Finish)
                .unwrap_or_else(|e| panic!("{len} bytes: {e}"));
            assert_eq!(status, flate2::Status::StreamEnd, "{len} bytes");
            assert_eq!(inflate.total_in() as usize, stream.len(), "{len} bytes");
            assert_eq!(out, data, "{len} bytes");
        }
    }

    /// A pack git wrote with deltas merges too: its objects are read whole and stored
    /// again (copying a delta would point into the old pack), and everything reads back.
    #[test]
    fn packs_with_deltas_merge() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = Repository::init_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        // Blobs alike enough for git to store most as deltas of one another.
        let body: String = (0..400).map(|i| format!("line {i}\n")).collect();
        let mut objects = Objects::default();
        let mut blobs = Vec::new();
        for i in 0..12 {
            let text = format!("{body}change {i}\n");
            blobs.push((
                objects
                    .add(ObjectType::Blob, text.clone().into_bytes())
                    .unwrap_or_else(|e| panic!("{e}")),
                text,
            ));
        }
        objects
            .write_loose(&repo.odb().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        // `git pack-objects` packs the blobs (with deltas), `git prune-packed` drops the
        // loose copies, so reads below go through the merged pack.
        let ids: String = blobs.iter().map(|(id, _)| format!("{id}\n")).collect();
        let git = |args: &[&str], input: &str| {
            use std::io::Write;
            let mut child = std::process::Command::new("git")
                .args(args)
                .env("GIT_DIR", dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(input.as_bytes())?;
            }
            child.wait_with_output()
        };
        let prefix = dir.path().join("objects").join("pack").join("pack");
        let prefix = prefix.display().to_string();
        let Ok(packed) = git(
            &["pack-objects", "-q", "--window=20", "--depth=20", &prefix],
            &ids,
        ) else {
            eprintln!("git is not installed: the delta merge is not tested");
            return;
        };
        assert!(
            packed.status.success(),
            "{}",
            String::from_utf8_lossy(&packed.stderr)
        );
        let pruned = git(&["prune-packed"], "").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            pruned.status.success(),
            "{}",
            String::from_utf8_lossy(&pruned.stderr)
        );
        let packs = list_packs(&dir.path().join("objects").join("pack"));
        assert_eq!(packs.len(), 1);
        let deltas = pack_entries(&packs[0].idx)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .filter(|e| !matches!(e.type_code(), 1..=4))
            .count();
        assert!(deltas > 0, "git wrote no delta");
        // Our own pack of 13 objects beside git's 12: the roll-up merges both.
        batch(&repo, 0..3);
        assert_eq!(roll_up(&repo).unwrap_or_else(|e| panic!("{e}")), 2);
        let packs = list_packs(&dir.path().join("objects").join("pack"));
        assert_eq!(packs.len(), 1);
        let merged = pack_entries(&packs[0].idx).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(merged.len(), 12 + 13);
        assert!(merged.iter().all(|e| matches!(e.type_code(), 1..=4)));
        let fresh = Repository::open_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        for (id, text) in &blobs {
            let blob = fresh.find_blob(*id).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(blob.content(), text.as_bytes());
        }
        git_checks(dir.path());
    }

    /// A merge whose result repeats one merged pack byte for byte (that pack already held
    /// every object, in the same order) writes a pack of the same name: it must survive.
    #[test]
    fn a_merge_equal_to_one_of_its_packs_keeps_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = Repository::init_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        // Commit 0 alone (5 objects), then commits 0 and 1 (9): the merge takes the first
        // pack's objects, then the second's new ones, which is the second pack again.
        let first = batch(&repo, 0..1);
        let both = batch(&repo, 0..2);
        assert_eq!(counts(&repo), [5, 9]);
        assert_eq!(roll_up(&repo).unwrap_or_else(|e| panic!("{e}")), 2);
        assert_eq!(counts(&repo), [9]);
        let fresh = Repository::open_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        for id in first.iter().chain(&both) {
            fresh.find_commit(*id).unwrap_or_else(|e| panic!("{e}"));
        }
        git_checks(dir.path());
    }

    #[test]
    fn loose_objects_read_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = Repository::init_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut objects = Objects::default();
        let id = commit(&mut objects, 7).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(objects.len(), 5);
        objects
            .write_loose(&repo.odb().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(counts(&repo).is_empty());
        let found = repo.find_commit(id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.author().when().seconds(), 7);
    }
}
