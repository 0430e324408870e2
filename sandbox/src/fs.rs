//! A read-only, in-memory file system for guests that need files to start (the Python
//! interpreter reads its standard library from a zip): a tree of directories and files held
//! in host memory, shown to the guest through WASI preopens. Nothing of the host's own file
//! system is reachable through it: every path is looked up in the tree, `..` never leaves
//! the directory a path is resolved from, and every write, create or rename is refused with
//! `EROFS` (or `ENOSYS` for the calls that are not implemented at all).
//!
//! Candidates compiled from Rust, C or WAT run without a volume: their file calls keep
//! answering `EBADF`/`ENOSYS` exactly as before.
//!
//! Fuel: bytes read from a file or a directory listing are charged like every other host
//! copy, one unit per [`BYTES_PER_FUEL`](crate::wasi::BYTES_PER_FUEL) bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::{Caller, Linker};

use crate::run::RunState;
use crate::wasi::{
    ERRNO_BADF, ERRNO_FAULT, ERRNO_INVAL, ERRNO_SUCCESS, MODULE, charge_bytes, errno, iovecs,
    memory, range, write_bytes, write_u32, write_u64,
};

const ERRNO_ISDIR: i32 = 31;
const ERRNO_MFILE: i32 = 33;
const ERRNO_NOENT: i32 = 44;
const ERRNO_NOTDIR: i32 = 54;
const ERRNO_NOTCAPABLE: i32 = 76;
const ERRNO_ROFS: i32 = 69;

const FILETYPE_DIRECTORY: u8 = 3;
const FILETYPE_REGULAR_FILE: u8 = 4;

const OFLAGS_CREAT: i32 = 1;
const OFLAGS_DIRECTORY: i32 = 2;
const OFLAGS_EXCL: i32 = 4;
const OFLAGS_TRUNC: i32 = 8;
const FDFLAGS_APPEND: i32 = 1;

const RIGHT_FD_WRITE: u64 = 1 << 6;
const RIGHT_FD_ALLOCATE: u64 = 1 << 8;
const RIGHT_FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
/// Rights whose request means the guest wants to change a file.
const WRITE_RIGHTS: u64 = RIGHT_FD_WRITE | RIGHT_FD_ALLOCATE | RIGHT_FD_FILESTAT_SET_SIZE;
/// The rights a file descriptor reports: read, seek, tell, advise, filestat, poll.
const FILE_RIGHTS: u64 = (1 << 1) | (1 << 2) | (1 << 5) | (1 << 7) | (1 << 21) | (1 << 27);
/// The rights a directory reports: open, readdir, readlink, path and fd filestat.
const DIR_RIGHTS: u64 = (1 << 13) | (1 << 14) | (1 << 15) | (1 << 18) | (1 << 21);
/// What a directory lets files opened below it ask for: every defined right, so a request
/// for a write right reaches `path_open` (wasi-libc masks its request with this) and is
/// refused there with `EROFS`, the error a read-only file system gives.
const INHERITABLE_RIGHTS: u64 = (1 << 30) - 1;

/// Most files a guest may hold open at once (preopens included).
const MAX_OPEN: usize = 256;

/// Modification time every entry reports: the virtual wall clock's origin.
const MTIME_NS: u64 = 1_704_067_200_000_000_000;

/// An entry of a [`Tree`].
#[derive(Clone, Debug)]
enum Node {
    Dir,
    File(Arc<[u8]>),
}

/// A read-only tree of directories and files, keyed by path without a leading slash (`""`
/// is the root). Adding a file adds its parent directories.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tree {
    nodes: BTreeMap<String, Node>,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert(String::new(), Node::Dir);
        Tree { nodes }
    }

    /// Adds a file at `path` (absolute, `/`-separated) and its parent directories.
    pub(crate) fn add_file(&mut self, path: &str, contents: Arc<[u8]>) {
        let key = path.trim_matches('/').to_string();
        let mut parent = key.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            self.nodes.insert(up.to_string(), Node::Dir);
            parent = up;
        }
        self.nodes.insert(key, Node::File(contents));
    }

    fn node(&self, key: &str) -> Option<&Node> {
        self.nodes.get(key)
    }

    /// A stable inode number: the entry's position in the tree.
    fn inode(&self, key: &str) -> u64 {
        self.nodes.keys().take_while(|k| k.as_str() < key).count() as u64 + 1
    }

    /// The names of a directory's entries, in order.
    fn children(&self, key: &str) -> Vec<(String, u8, u64)> {
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        self.nodes
            .iter()
            .skip_while(|(k, _)| !k.starts_with(&prefix))
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k.is_empty() && !k[prefix.len()..].contains('/'))
            .map(|(k, node)| {
                let kind = match node {
                    Node::Dir => FILETYPE_DIRECTORY,
                    Node::File(_) => FILETYPE_REGULAR_FILE,
                };
                (k[prefix.len()..].to_string(), kind, self.inode(k))
            })
            .collect()
    }
}

/// A tree and the directories of it a guest gets as preopens (file descriptors 3, 4, ...).
#[derive(Debug)]
pub(crate) struct Volume {
    tree: Tree,
    /// (guest path, tree key) of each preopen, in descriptor order.
    preopens: Vec<(String, String)>,
}

impl Volume {
    /// `preopens` are absolute guest paths of directories of `tree`.
    pub(crate) fn new(tree: Tree, preopens: &[&str]) -> Volume {
        let preopens = preopens
            .iter()
            .map(|p| (p.to_string(), p.trim_matches('/').to_string()))
            .collect();
        Volume { tree, preopens }
    }
}

/// One open descriptor.
#[derive(Clone, Debug)]
struct Open {
    key: String,
    position: u64,
}

/// A run's descriptors above stdio: index 0 is descriptor 3.
#[derive(Debug)]
pub(crate) struct Files {
    volume: Arc<Volume>,
    open: Vec<Option<Open>>,
}

impl Files {
    pub(crate) fn new(volume: Arc<Volume>) -> Files {
        let open = volume
            .preopens
            .iter()
            .map(|(_, key)| {
                Some(Open {
                    key: key.clone(),
                    position: 0,
                })
            })
            .collect();
        Files { volume, open }
    }

    /// A descriptor whose state differs from a fresh table's (a file still open, a preopen
    /// closed or moved), if any.
    pub(crate) fn opened_beyond_preopens(&self) -> Option<i32> {
        let preopens = &self.volume.preopens;
        self.open.iter().enumerate().find_map(|(index, open)| {
            let as_fresh = match (open, preopens.get(index)) {
                (Some(open), Some((_, key))) => open.key == *key && open.position == 0,
                (None, None) => true,
                _ => false,
            };
            (!as_fresh).then(|| i32::try_from(index + 3).unwrap_or(i32::MAX))
        })
    }

    fn get(&self, fd: i32) -> Option<&Open> {
        let index = usize::try_from(fd).ok()?.checked_sub(3)?;
        self.open.get(index)?.as_ref()
    }

    fn get_mut(&mut self, fd: i32) -> Option<&mut Open> {
        let index = usize::try_from(fd).ok()?.checked_sub(3)?;
        self.open.get_mut(index)?.as_mut()
    }

    fn node(&self, open: &Open) -> Option<&Node> {
        self.volume.tree.node(&open.key)
    }

    /// The preopen's guest path, if `fd` is one that is still open.
    fn preopen_name(&self, fd: i32) -> Option<&str> {
        let index = usize::try_from(fd).ok()?.checked_sub(3)?;
        self.open.get(index)?.as_ref()?;
        self.volume
            .preopens
            .get(index)
            .map(|(name, _)| name.as_str())
    }

    /// Resolves `path` below the directory open at `fd`: `Ok(key)` of an existing entry.
    /// `..` is resolved by name (the tree has no links) and may not climb above that
    /// directory.
    fn resolve(&self, fd: i32, path: &str) -> Result<String, i32> {
        let dir = self.get(fd).ok_or(ERRNO_BADF)?;
        if !matches!(self.node(dir), Some(Node::Dir)) {
            return Err(ERRNO_NOTDIR);
        }
        if path.starts_with('/') {
            return Err(ERRNO_NOTCAPABLE);
        }
        let mut parts: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(ERRNO_NOTCAPABLE);
                    }
                }
                name => parts.push(name),
            }
        }
        let mut key = dir.key.clone();
        for part in parts {
            match self.volume.tree.node(&key) {
                Some(Node::Dir) => {}
                Some(Node::File(_)) => return Err(ERRNO_NOTDIR),
                None => return Err(ERRNO_NOENT),
            }
            if !key.is_empty() {
                key.push('/');
            }
            key.push_str(part);
        }
        if self.volume.tree.node(&key).is_none() {
            return Err(ERRNO_NOENT);
        }
        Ok(key)
    }

    fn filestat(&self, key: &str) -> [u8; 64] {
        let mut stat = [0u8; 64];
        let (kind, size) = match self.volume.tree.node(key) {
            Some(Node::File(bytes)) => (FILETYPE_REGULAR_FILE, bytes.len() as u64),
            _ => (FILETYPE_DIRECTORY, 0),
        };
        stat[8..16].copy_from_slice(&self.volume.tree.inode(key).to_le_bytes());
        stat[16] = kind;
        stat[24..32].copy_from_slice(&1u64.to_le_bytes());
        stat[32..40].copy_from_slice(&size.to_le_bytes());
        for at in [40, 48, 56] {
            stat[at..at + 8].copy_from_slice(&MTIME_NS.to_le_bytes());
        }
        stat
    }
}

fn files<'a>(caller: &'a Caller<'_, RunState>) -> Option<&'a Files> {
    caller.data().files.as_ref()
}

fn guest_string(caller: &mut Caller<'_, RunState>, ptr: i32, len: i32) -> Result<String, i32> {
    let memory = memory(caller).ok_or(ERRNO_FAULT)?;
    let data = memory.data(&*caller);
    let r = range(data.len(), ptr, u64::from(len as u32)).ok_or(ERRNO_FAULT)?;
    String::from_utf8(data[r].to_vec()).map_err(|_| ERRNO_INVAL)
}

/// `fd_prestat_get` for a descriptor above stdio: `Some(errno)` when a volume answers it.
pub(crate) fn prestat_get(caller: &mut Caller<'_, RunState>, fd: i32, buf: i32) -> i32 {
    let Some(name_len) = files(caller).and_then(|f| f.preopen_name(fd)).map(str::len) else {
        return ERRNO_BADF;
    };
    let mut prestat = [0u8; 8];
    prestat[4..8].copy_from_slice(&(name_len as u32).to_le_bytes());
    errno(write_bytes(caller, buf, &prestat))
}

pub(crate) fn prestat_dir_name(
    caller: &mut Caller<'_, RunState>,
    fd: i32,
    path: i32,
    len: i32,
) -> i32 {
    let Some(name) = files(caller)
        .and_then(|f| f.preopen_name(fd))
        .map(str::to_string)
    else {
        return ERRNO_BADF;
    };
    if (len as u32 as usize) < name.len() {
        return ERRNO_INVAL;
    }
    errno(write_bytes(caller, path, name.as_bytes()))
}

pub(crate) fn fdstat_get(caller: &mut Caller<'_, RunState>, fd: i32, buf: i32) -> i32 {
    let Some(kind) = files(caller).and_then(|f| {
        let open = f.get(fd)?;
        Some(match f.node(open)? {
            Node::Dir => FILETYPE_DIRECTORY,
            Node::File(_) => FILETYPE_REGULAR_FILE,
        })
    }) else {
        return ERRNO_BADF;
    };
    let mut stat = [0u8; 24];
    stat[0] = kind;
    let (base, inheriting) = if kind == FILETYPE_DIRECTORY {
        (DIR_RIGHTS, INHERITABLE_RIGHTS)
    } else {
        (FILE_RIGHTS, 0)
    };
    stat[8..16].copy_from_slice(&base.to_le_bytes());
    stat[16..24].copy_from_slice(&inheriting.to_le_bytes());
    errno(write_bytes(caller, buf, &stat))
}

pub(crate) fn filestat_get(caller: &mut Caller<'_, RunState>, fd: i32, buf: i32) -> i32 {
    let Some(stat) = files(caller).and_then(|f| Some(f.filestat(&f.get(fd)?.key))) else {
        return ERRNO_BADF;
    };
    errno(write_bytes(caller, buf, &stat))
}

pub(crate) fn close(caller: &mut Caller<'_, RunState>, fd: i32) -> i32 {
    let Some(files) = caller.data_mut().files.as_mut() else {
        return ERRNO_BADF;
    };
    let Some(slot) = usize::try_from(fd)
        .ok()
        .and_then(|fd| fd.checked_sub(3))
        .and_then(|i| files.open.get_mut(i))
        .filter(|slot| slot.is_some())
    else {
        return ERRNO_BADF;
    };
    *slot = None;
    ERRNO_SUCCESS
}

/// `fd_seek`; `whence` 0 = set, 1 = current, 2 = end.
pub(crate) fn seek(
    caller: &mut Caller<'_, RunState>,
    fd: i32,
    offset: i64,
    whence: i32,
    new_offset: i32,
) -> i32 {
    let Some(files) = caller.data_mut().files.as_mut() else {
        return ERRNO_BADF;
    };
    let size = match files.get(fd).and_then(|o| files.node(o)) {
        Some(Node::File(bytes)) => bytes.len() as i64,
        Some(Node::Dir) => return ERRNO_ISDIR,
        None => return ERRNO_BADF,
    };
    let Some(open) = files.get_mut(fd) else {
        return ERRNO_BADF;
    };
    let base = match whence {
        0 => 0,
        1 => open.position as i64,
        2 => size,
        _ => return ERRNO_INVAL,
    };
    let Some(position) = base.checked_add(offset).filter(|p| *p >= 0) else {
        return ERRNO_INVAL;
    };
    open.position = position as u64;
    errno(write_u64(caller, new_offset, position as u64))
}

/// Reads from the file open at `fd` into the guest's iovecs, at `at` (`fd_pread`) or at
/// and advancing the descriptor's position (`fd_read`).
pub(crate) fn read(
    caller: &mut Caller<'_, RunState>,
    fd: i32,
    iovs: i32,
    count: i32,
    at: Option<u64>,
    nread: i32,
) -> wasmtime::Result<i32> {
    let Some(files) = caller.data().files.as_ref() else {
        return Ok(ERRNO_BADF);
    };
    let Some(open) = files.get(fd) else {
        return Ok(ERRNO_BADF);
    };
    let bytes = match files.node(open) {
        Some(Node::File(bytes)) => bytes.clone(),
        Some(Node::Dir) => return Ok(ERRNO_ISDIR),
        None => return Ok(ERRNO_BADF),
    };
    let start = at.unwrap_or(open.position);
    let Some(memory) = memory(caller) else {
        return Ok(ERRNO_FAULT);
    };
    let vecs = match iovecs(memory.data(&*caller), iovs, count) {
        Ok(v) => v,
        Err(e) => return Ok(e),
    };
    let wanted: u64 = vecs.iter().map(|&(_, len)| u64::from(len)).sum();
    let available = (bytes.len() as u64).saturating_sub(start);
    charge_bytes(caller, wanted.min(available))?;
    let data = memory.data_mut(&mut *caller);
    let mut position = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let mut total = 0usize;
    for (ptr, len) in vecs {
        let n = (bytes.len() - position).min(len as usize);
        let Some(r) = range(data.len(), ptr, n as u64) else {
            return Ok(ERRNO_FAULT);
        };
        data[r].copy_from_slice(&bytes[position..position + n]);
        position += n;
        total += n;
        if n < len as usize {
            break;
        }
    }
    if at.is_none()
        && let Some(open) = caller.data_mut().files.as_mut().and_then(|f| f.get_mut(fd))
    {
        open.position = position as u64;
    }
    Ok(errno(write_u32(caller, nread, total as u32)))
}

#[allow(clippy::too_many_arguments, reason = "the WASI signature")]
fn path_open(
    caller: &mut Caller<'_, RunState>,
    fd: i32,
    path: i32,
    path_len: i32,
    oflags: i32,
    rights: u64,
    fdflags: i32,
    opened: i32,
) -> Result<(), i32> {
    let path = guest_string(caller, path, path_len)?;
    let files = caller.data().files.as_ref().ok_or(ERRNO_BADF)?;
    let found = files.resolve(fd, &path);
    let wants_write = oflags & (OFLAGS_CREAT | OFLAGS_TRUNC | OFLAGS_EXCL) != 0
        || rights & WRITE_RIGHTS != 0
        || fdflags & FDFLAGS_APPEND != 0;
    if wants_write {
        // Creating where the parent does not exist is still "no such file", as on a disk.
        return Err(match found {
            Err(ERRNO_NOENT) if oflags & OFLAGS_CREAT == 0 => ERRNO_NOENT,
            Err(e) if e != ERRNO_NOENT => e,
            _ => ERRNO_ROFS,
        });
    }
    let key = found?;
    if oflags & OFLAGS_DIRECTORY != 0 && !matches!(files.volume.tree.node(&key), Some(Node::Dir)) {
        return Err(ERRNO_NOTDIR);
    }
    let files = caller.data_mut().files.as_mut().ok_or(ERRNO_BADF)?;
    let index = match files.open.iter().position(Option::is_none) {
        Some(index) => index,
        None if files.open.len() + 3 < MAX_OPEN => {
            files.open.push(None);
            files.open.len() - 1
        }
        None => return Err(ERRNO_MFILE),
    };
    files.open[index] = Some(Open { key, position: 0 });
    write_u32(caller, opened, index as u32 + 3)
}

fn path_filestat_get(
    caller: &mut Caller<'_, RunState>,
    fd: i32,
    path: i32,
    path_len: i32,
    buf: i32,
) -> Result<(), i32> {
    let path = guest_string(caller, path, path_len)?;
    let files = caller.data().files.as_ref().ok_or(ERRNO_BADF)?;
    let key = files.resolve(fd, &path)?;
    let stat = files.filestat(&key);
    write_bytes(caller, buf, &stat)
}

/// `fd_readdir`: entries `.`, `..`, then the children in name order; the cookie is the
/// index of the next entry.
fn readdir(
    caller: &mut Caller<'_, RunState>,
    fd: i32,
    buf: i32,
    buf_len: i32,
    cookie: u64,
    used: i32,
) -> wasmtime::Result<i32> {
    let Some(files) = caller.data().files.as_ref() else {
        return Ok(ERRNO_BADF);
    };
    let Some(open) = files.get(fd) else {
        return Ok(ERRNO_BADF);
    };
    if !matches!(files.node(open), Some(Node::Dir)) {
        return Ok(ERRNO_NOTDIR);
    }
    let own = files.volume.tree.inode(&open.key);
    let mut entries = vec![
        (".".to_string(), FILETYPE_DIRECTORY, own),
        ("..".to_string(), FILETYPE_DIRECTORY, own),
    ];
    entries.extend(files.volume.tree.children(&open.key));
    let capacity = buf_len as u32 as usize;
    let mut out = Vec::new();
    for (index, (name, kind, inode)) in entries
        .iter()
        .enumerate()
        .skip(usize::try_from(cookie).unwrap_or(usize::MAX))
    {
        if out.len() >= capacity {
            break;
        }
        let mut entry = [0u8; 24];
        entry[0..8].copy_from_slice(&(index as u64 + 1).to_le_bytes());
        entry[8..16].copy_from_slice(&inode.to_le_bytes());
        entry[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
        entry[20] = *kind;
        out.extend_from_slice(&entry);
        out.extend_from_slice(name.as_bytes());
    }
    out.truncate(capacity);
    charge_bytes(caller, out.len() as u64)?;
    Ok(errno(
        write_bytes(caller, buf, &out).and_then(|()| write_u32(caller, used, out.len() as u32)),
    ))
}

/// The file functions only a run with a volume needs; [`crate::wasi::add_to_linker`]
/// answers the shared ones (`fd_read`, `fd_seek`, `fd_close`, ...) for volumes too.
pub(crate) const IMPLEMENTED: &[&str] = &[
    "path_open",
    "path_filestat_get",
    "fd_pread",
    "fd_readdir",
    "fd_advise",
];

pub(crate) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "path_open",
        |mut caller: Caller<'_, RunState>,
         fd: i32,
         _dirflags: i32,
         path: i32,
         path_len: i32,
         oflags: i32,
         rights: i64,
         _inheriting: i64,
         fdflags: i32,
         opened: i32|
         -> i32 {
            errno(path_open(
                &mut caller,
                fd,
                path,
                path_len,
                oflags,
                rights as u64,
                fdflags,
                opened,
            ))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_filestat_get",
        |mut caller: Caller<'_, RunState>,
         fd: i32,
         _flags: i32,
         path: i32,
         path_len: i32,
         buf: i32|
         -> i32 { errno(path_filestat_get(&mut caller, fd, path, path_len, buf)) },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_pread",
        |mut caller: Caller<'_, RunState>,
         fd: i32,
         iovs: i32,
         count: i32,
         offset: i64,
         nread: i32|
         -> wasmtime::Result<i32> {
            read(&mut caller, fd, iovs, count, Some(offset as u64), nread)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_readdir",
        |mut caller: Caller<'_, RunState>,
         fd: i32,
         buf: i32,
         buf_len: i32,
         cookie: i64,
         used: i32|
         -> wasmtime::Result<i32> {
            readdir(&mut caller, fd, buf, buf_len, cookie as u64, used)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_advise",
        |caller: Caller<'_, RunState>, fd: i32, _offset: i64, _len: i64, _advice: i32| -> i32 {
            match files(&caller).and_then(|f| f.get(fd)) {
                Some(_) => ERRNO_SUCCESS,
                None => ERRNO_BADF,
            }
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume() -> Arc<Volume> {
        let mut tree = Tree::new();
        tree.add_file("/usr/local/lib/python.zip", Arc::from(&b"zip"[..]));
        tree.add_file("/work/main.py", Arc::from(&b"print(1)"[..]));
        Arc::new(Volume::new(tree, &["/usr/local/lib", "/work"]))
    }

    #[test]
    fn paths_resolve_inside_their_directory_only() {
        let files = Files::new(volume());
        assert_eq!(
            files.resolve(3, "python.zip"),
            Ok("usr/local/lib/python.zip".into())
        );
        assert_eq!(
            files.resolve(3, "./x/../python.zip"),
            Ok("usr/local/lib/python.zip".into()),
            "`..` is resolved by name: there are no links to follow"
        );
        assert_eq!(files.resolve(3, "nothing"), Err(ERRNO_NOENT));
        assert_eq!(files.resolve(3, "../lib/python.zip"), Err(ERRNO_NOTCAPABLE));
        assert_eq!(files.resolve(4, "../etc/passwd"), Err(ERRNO_NOTCAPABLE));
        assert_eq!(files.resolve(4, "/etc/passwd"), Err(ERRNO_NOTCAPABLE));
        assert_eq!(files.resolve(4, "main.py/x"), Err(ERRNO_NOTDIR));
        assert_eq!(files.resolve(5, "main.py"), Err(ERRNO_BADF));
        assert_eq!(files.resolve(4, ""), Ok("work".into()));
    }

    #[test]
    fn directories_list_their_children_once() {
        let tree = volume();
        let names: Vec<String> = tree
            .tree
            .children("usr/local")
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(names, ["lib"]);
        let root: Vec<String> = tree
            .tree
            .children("")
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(root, ["usr", "work"]);
    }
}
