//! Embeds the bundled task library (`library/<kind>/<task>/...`) in the crate, so `hone`
//! finds its tasks from any folder: writes `$OUT_DIR/library.rs`, a table of every task
//! folder's files as `include_bytes!`, read by `src/library.rs`. Dot files and `target/`
//! are left out, as `hash_folder` leaves them out.

#![allow(
    clippy::disallowed_methods,
    reason = "a build script learns its folders from the environment cargo sets"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let library = manifest.join("library");
    println!("cargo::rerun-if-changed=library");
    let mut tasks = Vec::new();
    for kind in sorted_entries(&library) {
        if !kind.is_dir() {
            continue;
        }
        for task in sorted_entries(&kind) {
            if task.join("task.toml").is_file() {
                tasks.push(task);
            }
        }
    }
    let mut out = String::from("&[\n");
    for task in &tasks {
        let kind = file_name(task.parent().expect("a task folder is in a kind folder"));
        let folder = file_name(task);
        let mut files = Vec::new();
        collect(task, task, &mut files);
        files.sort();
        writeln!(
            out,
            "    BundledTask {{ kind: {kind:?}, folder: {folder:?}, files: &["
        )
        .unwrap();
        for relative in files {
            let path = task.join(&relative);
            writeln!(
                out,
                "        ({relative:?}, include_bytes!({:?})),",
                path.to_str().expect("library paths are UTF-8")
            )
            .unwrap();
        }
        out.push_str("    ] },\n");
    }
    out.push_str("]\n");
    let target =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("library.rs");
    std::fs::write(&target, out).expect("write the library table");
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    entries
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("library names are UTF-8")
        .to_string()
}

/// Every file under `dir`, as `/`-separated paths relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in sorted_entries(dir) {
        let name = file_name(&entry);
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if entry.is_dir() {
            collect(root, &entry, out);
        } else if entry.is_file() {
            let relative = entry.strip_prefix(root).expect("under the root");
            let parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
}
