//! Task folders through the store: the orchestrator uploads a run's task folder under its
//! content hash; a worker unpacks it into its cache (`CACHE/tasks/HASH/`), checks the hash
//! with [`hone_tasks::hash_folder`] and loads it. No shared filesystem is assumed.

use std::path::{Component, Path, PathBuf};

use hone_store::Store;

use super::WorkerError;

/// Reads a task folder's files as `hash_folder` sees them: every file below `dir`, by
/// relative `/`-separated path, skipping dot files and `target/`, sorted by path.
pub fn read_folder(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, WorkerError> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    Ok(files)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), WorkerError> {
    let entries = std::fs::read_dir(dir).map_err(WorkerError::io("read", dir))?;
    for entry in entries {
        let entry = entry.map_err(WorkerError::io("read", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let bytes = std::fs::read(&path).map_err(WorkerError::io("read", &path))?;
            out.push((relative.to_string_lossy().replace('\\', "/"), bytes));
        }
    }
    Ok(())
}

/// The content hash of files read by [`read_folder`] (the same digest as `hash_folder`).
pub fn files_hash(files: &[(String, Vec<u8>)]) -> String {
    hone_tasks::hash_files(files.iter().map(|(r, b)| (r.as_str(), b.as_slice())))
}

/// Uploads the task folder at `dir` under `hash` unless the store has it. Fails if the
/// folder no longer hashes to `hash` (it changed after the task was loaded).
pub async fn upload(store: &Store, dir: &Path, hash: &str) -> Result<bool, WorkerError> {
    if store.has_task_folder(hash).await? {
        return Ok(false);
    }
    let files = read_folder(dir)?;
    let found = files_hash(&files);
    if found != hash {
        return Err(WorkerError::FolderChanged {
            dir: dir.to_path_buf(),
            found,
            loaded: hash.to_string(),
        });
    }
    Ok(store.put_task_folder(hash, &files).await?)
}

/// A relative path from the store made safe to join below a directory: no absolute paths,
/// no `..`, no empty names.
fn safe_relative(path: &str) -> Result<PathBuf, WorkerError> {
    let candidate = Path::new(path);
    let mut out = PathBuf::new();
    for component in candidate.components() {
        match component {
            Component::Normal(part) => out.push(part),
            _ => return Err(WorkerError::UnsafeFileName(path.to_string())),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(WorkerError::EmptyFileName);
    }
    Ok(out)
}

/// Makes `cache/tasks/HASH/` hold the task folder stored under `hash`, fetching and
/// unpacking it if needed, and returns its path. The unpacked folder is checked against
/// its hash before it is used.
pub async fn materialize(store: &Store, cache: &Path, hash: &str) -> Result<PathBuf, WorkerError> {
    if hash.is_empty() || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(WorkerError::NotAHexDigest(hash.to_string()));
    }
    let root = cache.join("tasks");
    let dir = root.join(hash);
    if dir.is_dir() && hone_tasks::hash_folder(&dir).ok().as_deref() == Some(hash) {
        return Ok(dir);
    }
    let files = store
        .task_folder(hash)
        .await?
        .ok_or_else(|| WorkerError::NoTaskFolder(hash.to_string()))?;
    let staging = root.join(format!(".{hash}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    for (name, bytes) in &files {
        let path = staging.join(safe_relative(name)?);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(WorkerError::io("create", parent))?;
        }
        std::fs::write(&path, bytes).map_err(WorkerError::io("write", &path))?;
    }
    let found = hone_tasks::hash_folder(&staging)?;
    if found != hash {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(WorkerError::DamagedTaskFolder {
            hash: hash.to_string(),
            found,
        });
    }
    // Another process may have unpacked the same folder meanwhile and be loading it: a
    // complete folder already in place is kept (never deleted under its reader), and only
    // a damaged one is replaced.
    let unpacked = |dir: &Path| hone_tasks::hash_folder(dir).ok().as_deref() == Some(hash);
    if std::fs::rename(&staging, &dir).is_err() {
        if dir.is_dir() && unpacked(&dir) {
            let _ = std::fs::remove_dir_all(&staging);
            return Ok(dir);
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&staging, &dir).map_err(|source| WorkerError::Move {
            from: staging.clone(),
            to: dir.clone(),
            source,
        })?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_hash_matches_hash_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tests/a")).unwrap();
        std::fs::write(dir.path().join("task.toml"), "[task]\n").unwrap();
        std::fs::write(dir.path().join("tests/a/in.bin"), [0u8, 1, 255]).unwrap();
        std::fs::write(dir.path().join(".hidden"), "skipped").unwrap();
        let files = read_folder(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            files_hash(&files),
            hone_tasks::hash_folder(dir.path()).unwrap()
        );
    }

    #[test]
    fn unsafe_names_are_refused() {
        assert!(safe_relative("a/b.txt").is_ok());
        for bad in ["/etc/passwd", "../x", "a/../../x", ""] {
            let error = safe_relative(bad).unwrap_err().to_string();
            assert!(error.contains("task folder"), "{bad}: {error}");
        }
    }
}
