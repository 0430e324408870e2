//! On-disk caches: source -> wasm, and wasm -> compiled artifact. Safe with several
//! processes writing at once (write to a temporary file, then rename).

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::SandboxError;

/// A directory of files keyed by hash.
#[derive(Clone, Debug)]
pub(crate) struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    pub(crate) fn new(dir: PathBuf) -> DiskCache {
        DiskCache { dir }
    }

    pub(crate) fn path(&self, key: &str, extension: &str) -> PathBuf {
        self.dir.join(format!("{key}.{extension}"))
    }

    pub(crate) fn read(&self, key: &str, extension: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(key, extension)).ok()
    }

    /// Writes atomically: a reader sees the whole file or none.
    pub(crate) fn write(&self, key: &str, extension: &str, bytes: &[u8]) -> Result<PathBuf, SandboxError> {
        let cache_error = |source| SandboxError::Cache { path: self.dir.clone(), source };
        std::fs::create_dir_all(&self.dir).map_err(cache_error)?;
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir).map_err(cache_error)?;
        temp.write_all(bytes).map_err(cache_error)?;
        let path = self.path(key, extension);
        temp.persist(&path).map_err(|e| cache_error(e.error))?;
        Ok(path)
    }
}

/// Hex SHA-256 of the given parts, separated so that ("ab","c") != ("a","bc").
pub(crate) fn hash_parts(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

pub(crate) fn exists(path: &Path) -> bool {
    path.is_file()
}
