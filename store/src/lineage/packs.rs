//! Git objects built in memory, written loose or as one pack file, and the packs kept few.
//!
//! A node's commit is four objects (its file blobs, `hone.json`, a tree, the commit). They
//! are serialized here, byte for byte as git writes them, so building a commit reads
//! nothing back from the repository. A loose object is a file of its own, and on a slow
//! disk creating it dominates a commit; a batch of at least [`PACK_MIN_NODES`] nodes is
//! instead written as one pack (undeltified: `git gc` deltifies later if asked) and indexed
//! by libgit2. So that lookups do not slow down as batches add packs, each new pack is
//! followed by a geometric roll-up: the smallest packs are merged until each pack holds at
//! least twice the objects of the next smaller one, which keeps O(log n) packs and rewrites
//! each object O(log n) times over a run.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Odb, Oid, Repository};
use sha1::{Digest, Sha1};

/// The fewest nodes a batch needs to be written as a pack rather than as loose objects.
pub(crate) const PACK_MIN_NODES: usize = 8;

/// Objects to write, each once, in the order first added.
#[derive(Default)]
pub(crate) struct Objects {
    list: Vec<(ObjectType, Vec<u8>)>,
    seen: HashSet<Oid>,
}

impl Objects {
    /// Adds an object (once per id) and returns its id.
    pub(crate) fn add(&mut self, kind: ObjectType, data: Vec<u8>) -> Result<Oid, git2::Error> {
        let id = Oid::hash_object(kind, &data)?;
        if self.seen.insert(id) {
            self.list.push((kind, data));
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
        for (kind, data) in &self.list {
            odb.write(*kind, data)?;
        }
        Ok(())
    }

    /// Writes every object into one new pack file with its index.
    pub(crate) fn write_pack(&self, odb: &Odb<'_>) -> Result<(), git2::Error> {
        if self.list.is_empty() {
            return Ok(());
        }
        let pack = pack_bytes(
            self.list
                .iter()
                .map(|(kind, data)| (*kind, data.as_slice())),
        )?;
        let mut writer = odb.packwriter()?;
        writer
            .write_all(&pack)
            .map_err(|e| git2::Error::from_str(&format!("cannot write a pack: {e}")))?;
        writer.commit()?;
        Ok(())
    }
}

/// A version-2 pack of whole (undeltified) objects, zlib-compressed, with its SHA-1 trailer.
fn pack_bytes<'a>(
    objects: impl ExactSizeIterator<Item = (ObjectType, &'a [u8])>,
) -> Result<Vec<u8>, git2::Error> {
    let count = u32::try_from(objects.len())
        .map_err(|_| git2::Error::from_str("too many objects for one pack"))?;
    let mut pack = Vec::new();
    pack.extend_from_slice(b"PACK");
    pack.extend_from_slice(&2u32.to_be_bytes());
    pack.extend_from_slice(&count.to_be_bytes());
    // One compressor for the whole pack: setting one up zeroes hundreds of kilobytes.
    let mut compress = flate2::Compress::new(flate2::Compression::fast(), true);
    for (kind, data) in objects {
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
        // Type and size: 3 bits of type and 4 of size, then 7 bits of size a byte.
        let mut size = data.len();
        let mut byte = (code << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size > 0 {
            pack.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        pack.push(byte);
        compress.reset();
        loop {
            pack.reserve(data.len() / 2 + 64);
            let consumed = compress.total_in() as usize;
            let status = compress
                .compress_vec(&data[consumed..], &mut pack, flate2::FlushCompress::Finish)
                .map_err(|e| git2::Error::from_str(&format!("cannot compress an object: {e}")))?;
            if status == flate2::Status::StreamEnd {
                break;
            }
        }
    }
    let trailer = Sha1::digest(&pack);
    pack.extend_from_slice(&trailer);
    Ok(pack)
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
    let odb = repo.odb()?;
    let mut objects = Objects::default();
    for pack in merging {
        for id in pack_ids(&pack.idx)? {
            if objects.seen.insert(id) {
                let object = odb.read(id)?;
                objects.list.push((object.kind(), object.data().to_vec()));
            }
        }
    }
    objects.write_pack(&odb)?;
    // The new pack holds every object of the merged ones: they can go. The index first, so
    // that a reader never finds an index without its pack.
    for pack in merging {
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

/// The object ids listed in a version-2 pack index.
fn pack_ids(idx: &Path) -> Result<Vec<Oid>, git2::Error> {
    let bad = |what: &str| git2::Error::from_str(&format!("{}: {what}", idx.display()));
    let bytes = std::fs::read(idx).map_err(|e| bad(&e.to_string()))?;
    let count = object_count(idx).ok_or_else(|| bad("not a version-2 pack index"))? as usize;
    let start = 8 + 256 * 4;
    let ids = bytes
        .get(start..start + 20 * count)
        .ok_or_else(|| bad("truncated pack index"))?;
    ids.chunks_exact(20).map(Oid::from_bytes).collect()
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
        let odb = repo.odb().unwrap_or_else(|e| panic!("{e}"));
        objects.write_pack(&odb).unwrap_or_else(|e| panic!("{e}"));
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
        if let Ok(status) = std::process::Command::new("git")
            .args(["fsck", "--strict", "--no-dangling"])
            .current_dir(dir.path())
            .status()
        {
            assert!(status.success(), "git fsck failed");
        }
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
