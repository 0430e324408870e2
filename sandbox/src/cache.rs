//! On-disk caches: source -> wasm, and wasm -> compiled artifact. Safe with several
//! processes writing at once (write to a temporary file in the same directory, then rename),
//! and never trusting a damaged file: each entry carries a SHA-256 digest of its key and
//! contents, checked on every read.
//!
//! Entry layout: `MAGIC` (8 bytes) | SHA-256(key length, key, payload) (32 bytes) | payload.

use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::SandboxError;

/// Identifies a hone cache entry and its layout version.
const MAGIC: &[u8; 8] = b"honec\x00\x01\x00";
const HEADER_LEN: usize = MAGIC.len() + 32;

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

    /// The payload stored under `key`, if present and intact. A damaged entry (truncated,
    /// altered, written by another layout version, or stored under another key) is removed
    /// and reported as absent, so the caller rebuilds it.
    pub(crate) fn read(&self, key: &str, extension: &str) -> Option<Vec<u8>> {
        let path = self.path(key, extension);
        let mut bytes = std::fs::read(&path).ok()?;
        let intact = bytes.len() >= HEADER_LEN
            && &bytes[..MAGIC.len()] == MAGIC
            && bytes[MAGIC.len()..HEADER_LEN] == digest(key, &bytes[HEADER_LEN..])[..];
        if !intact {
            tracing::warn!(path = %path.display(), "ignoring a damaged cache entry");
            // Best effort: a concurrent writer may already have replaced it with a good one,
            // in which case removing it only costs that writer's work.
            let _ = std::fs::remove_file(&path);
            return None;
        }
        bytes.drain(..HEADER_LEN);
        Some(bytes)
    }

    /// Writes atomically: a reader sees the whole previous entry, the whole new one, or none.
    pub(crate) fn write(
        &self,
        key: &str,
        extension: &str,
        payload: &[u8],
    ) -> Result<PathBuf, SandboxError> {
        let cache_error = |source| SandboxError::Cache {
            path: self.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(cache_error)?;
        let mut temp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&self.dir)
            .map_err(cache_error)?;
        temp.write_all(MAGIC).map_err(cache_error)?;
        temp.write_all(&digest(key, payload)).map_err(cache_error)?;
        temp.write_all(payload).map_err(cache_error)?;
        let path = self.path(key, extension);
        temp.persist(&path).map_err(|e| cache_error(e.error))?;
        Ok(path)
    }

    /// Writes `payload` alone, without the header and digest [`DiskCache::read`] checks,
    /// atomically like [`DiskCache::write`]: for an entry that is mapped from its file rather
    /// than read (the Python interpreter's artifact). A failure only logs a warning.
    pub(crate) fn write_raw_or_warn(&self, key: &str, extension: &str, payload: &[u8]) {
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let mut temp = tempfile::Builder::new()
                .prefix(".partial-")
                .tempfile_in(&self.dir)?;
            temp.write_all(payload)?;
            temp.persist(self.path(key, extension))
                .map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(error) = write() {
            tracing::warn!(dir = %self.dir.display(), %error, "could not write a cache entry");
        }
    }

    /// Like [`DiskCache::write`], but a failure only logs a warning: a read-only or full
    /// cache directory slows hone down, it does not stop it.
    pub(crate) fn write_or_warn(&self, key: &str, extension: &str, payload: &[u8]) {
        if let Err(error) = self.write(key, extension, payload) {
            tracing::warn!(%error, "could not write a cache entry");
        }
    }
}

/// Cranelift's per-function cache of machine code, in memory (wasmtime's incremental
/// compilation). A new candidate is mostly the C library it links, the same functions as
/// the last candidate's: those are looked up here instead of compiled again, so only the
/// functions that changed go through Cranelift. Keys are digests of a function's whole
/// compiler input (its IR, with fuel and epoch checks, and the target's flags), so a hit is
/// the machine code Cranelift would produce, and fuel does not depend on it. Bounded: when
/// the entries pass `capacity` bytes they are all dropped and the cache fills again.
#[derive(Debug)]
pub(crate) struct FunctionCache {
    entries: std::sync::Mutex<FunctionEntries>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct FunctionEntries {
    code: std::collections::HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl FunctionCache {
    pub(crate) fn new(capacity: usize) -> FunctionCache {
        FunctionCache {
            entries: std::sync::Mutex::new(FunctionEntries::default()),
            capacity,
        }
    }
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
        let entries = self.entries.lock().ok()?;
        entries
            .code
            .get(key)
            .map(|code| std::borrow::Cow::Owned(code.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let Ok(mut entries) = self.entries.lock() else {
            return false;
        };
        let size = key.len() + value.len();
        if size > self.capacity {
            return false;
        }
        if let Some(old) = entries.code.remove(key) {
            entries.bytes -= key.len() + old.len();
        }
        if entries.bytes + size > self.capacity {
            entries.code.clear();
            entries.bytes = 0;
        }
        entries.code.insert(key.to_vec(), value);
        entries.bytes += size;
        true
    }
}

fn digest(key: &str, payload: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((key.len() as u64).to_le_bytes());
    hasher.update(key.as_bytes());
    hasher.update(payload);
    hasher.finalize().into()
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

/// A [`std::hash::Hasher`] feeding SHA-256, so that values offering only `Hash` (like
/// `Engine::precompile_compatibility_hash`) get a digest that is stable across processes
/// and Rust releases.
pub(crate) struct Sha256Hasher(pub(crate) Sha256);

impl std::hash::Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path().join("c"));
        let path = cache.write("k1", "bin", b"payload bytes").unwrap();
        assert_eq!(
            cache.read("k1", "bin").as_deref(),
            Some(&b"payload bytes"[..])
        );

        // Truncated.
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        assert_eq!(cache.read("k1", "bin"), None);
        assert!(!path.exists(), "a damaged entry is removed");

        // One byte altered.
        let path = cache.write("k1", "bin", b"payload bytes").unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.read("k1", "bin"), None);

        // An intact entry stored under another key's name.
        let other = cache.write("k2", "bin", b"other").unwrap();
        std::fs::rename(&other, cache.path("k3", "bin")).unwrap();
        assert_eq!(cache.read("k3", "bin"), None);

        // Empty and foreign files.
        std::fs::write(cache.path("k4", "bin"), b"").unwrap();
        assert_eq!(cache.read("k4", "bin"), None);
        assert_eq!(cache.read("missing", "bin"), None);
    }

    #[test]
    fn the_function_cache_keeps_entries_until_full_then_starts_over() {
        use wasmtime::CacheStore;
        let cache = FunctionCache::new(100);
        assert!(cache.insert(b"a", vec![1; 40]));
        assert!(cache.insert(b"b", vec![2; 40]));
        assert_eq!(cache.get(b"a").as_deref(), Some(&[1u8; 40][..]));
        assert!(cache.insert(b"a", vec![3; 40]), "replacing an entry");
        assert_eq!(cache.get(b"a").as_deref(), Some(&[3u8; 40][..]));
        assert_eq!(
            cache.get(b"b").as_deref(),
            Some(&[2u8; 40][..]),
            "a replacement keeps the other entries"
        );
        assert!(
            cache.insert(b"c", vec![4; 40]),
            "full: everything dropped first"
        );
        assert_eq!(cache.get(b"a"), None);
        assert_eq!(cache.get(b"c").as_deref(), Some(&[4u8; 40][..]));
        assert!(
            !cache.insert(b"d", vec![5; 200]),
            "larger than the whole cache"
        );
    }

    #[test]
    fn hash_parts_separates_parts() {
        assert_ne!(hash_parts(&[b"ab", b"c"]), hash_parts(&[b"a", b"bc"]));
        assert_eq!(hash_parts(&[b"x"]), hash_parts(&[b"x"]));
    }
}
