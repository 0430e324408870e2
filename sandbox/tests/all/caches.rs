//! The on-disk caches: shared by concurrent writers (threads and processes) without damage,
//! and never trusting a damaged entry.

use std::path::{Path, PathBuf};

use hone_sandbox::{
    Compilation, CompilerConfig, Language, Limits, RunStatus, Sandbox, SandboxConfig, SandboxError,
};

use crate::support::compile_with;

/// Set by the parent of `helper_process_compiles_into_cache_dir`.
const HELPER_DIR_VARIABLE: &str = "HONE_SANDBOX_TEST_CACHE_DIR";

fn sandbox_at(dir: &Path) -> Sandbox {
    Sandbox::new(SandboxConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..SandboxConfig::default()
    })
    .unwrap()
}

/// A sandbox that cannot compile anything (its bubblewrap does not exist): it can only
/// produce programs from the cache.
fn cache_only_sandbox_at(dir: &Path) -> Sandbox {
    let compilers = CompilerConfig {
        bwrap: "/nonexistent/bwrap".into(),
        ..CompilerConfig::default()
    };
    Sandbox::new(SandboxConfig {
        cache_dir: Some(dir.to_path_buf()),
        compilers,
        ..SandboxConfig::default()
    })
    .unwrap()
}

/// A C program printing `tag`; the tag makes each source (and its cache entries) distinct.
fn c_source(tag: &str) -> String {
    format!("#include <stdio.h>\nint main(void) {{ puts(\"{tag}\"); return 0; }}\n")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path)
            } else {
                out.push(path)
            }
        }
    }
    out.sort();
    out
}

fn with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect()
}

#[track_caller]
fn assert_prints(sandbox: &Sandbox, source: &str, expected: &str) {
    let program = compile_with(sandbox, Language::C, source);
    let outcome = sandbox.run(&program, b"", &Limits::default()).unwrap();
    assert_eq!(outcome.status, RunStatus::Ok);
    assert_eq!(outcome.stdout_text(), format!("{expected}\n"));
}

/// Not run on its own: `two_processes_fill_one_cache_dir` starts it in child processes.
#[test]
#[ignore = "helper process of two_processes_fill_one_cache_dir"]
fn helper_process_compiles_into_cache_dir() {
    let Some(dir) = std::env::var_os(HELPER_DIR_VARIABLE) else {
        return;
    };
    let reverse = std::env::var_os("HONE_SANDBOX_TEST_REVERSE").is_some();
    let sandbox = sandbox_at(Path::new(&dir));
    let mut tags = vec!["process-shared-1", "process-shared-2", "process-shared-3"];
    tags.push(if reverse {
        "process-only-b"
    } else {
        "process-only-a"
    });
    if reverse {
        tags.reverse();
    }
    for tag in tags {
        assert_prints(&sandbox, &c_source(tag), tag);
    }
}

#[test]
fn two_processes_fill_one_cache_dir() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = [false, true]
        .into_iter()
        .map(|reverse| {
            let mut command = std::process::Command::new(&exe);
            command
                .args([
                    "caches::helper_process_compiles_into_cache_dir",
                    "--exact",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(HELPER_DIR_VARIABLE, dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            if reverse {
                command.env("HONE_SANDBOX_TEST_REVERSE", "1");
            }
            command.spawn().unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let reader = cache_only_sandbox_at(dir.path());
    for tag in [
        "process-shared-1",
        "process-shared-2",
        "process-shared-3",
        "process-only-a",
        "process-only-b",
    ] {
        assert_prints(&reader, &c_source(tag), tag);
    }
    assert_eq!(with_extension(dir.path(), "wasm").len(), 5);
    assert_eq!(with_extension(dir.path(), "cwasm").len(), 5);
    let partial: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".partial-"))
        })
        .collect();
    assert!(partial.is_empty(), "temporary files left: {partial:?}");
}

#[test]
fn threads_of_two_sandboxes_fill_one_cache_dir() {
    let dir = tempfile::tempdir().unwrap();
    let a = sandbox_at(dir.path());
    let b = sandbox_at(dir.path());
    std::thread::scope(|scope| {
        for (sandbox, tag) in [
            (&a, "thread-shared"),
            (&b, "thread-shared"),
            (&a, "thread-a"),
            (&b, "thread-b"),
        ] {
            scope.spawn(move || assert_prints(sandbox, &c_source(tag), tag));
        }
        let wat = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;
        for sandbox in [&a, &b] {
            scope.spawn(move || {
                assert!(matches!(
                    sandbox.compile(Language::Wat, wat),
                    Ok(Compilation::Ready(_))
                ))
            });
        }
    });
    let reader = cache_only_sandbox_at(dir.path());
    for tag in ["thread-shared", "thread-a", "thread-b"] {
        assert_prints(&reader, &c_source(tag), tag);
    }
    assert_eq!(with_extension(dir.path(), "wasm").len(), 3);
    assert_eq!(
        with_extension(dir.path(), "cwasm").len(),
        4,
        "three C programs and the wat module"
    );
}

#[test]
fn damaged_entries_are_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let source = c_source("damage");
    assert_prints(&sandbox_at(dir.path()), &source, "damage");
    let Ok([wasm]) = <[PathBuf; 1]>::try_from(with_extension(dir.path(), "wasm")) else {
        panic!("one wasm entry")
    };
    let Ok([cwasm]) = <[PathBuf; 1]>::try_from(with_extension(dir.path(), "cwasm")) else {
        panic!("one artifact entry")
    };
    let good_wasm = std::fs::read(&wasm).unwrap();
    let good_cwasm = std::fs::read(&cwasm).unwrap();

    // A truncated artifact, then one with a byte flipped in its middle (machine code that a
    // blind deserialize would run): each is rebuilt, and the program still runs right.
    let mut flipped = good_cwasm.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    for damaged in [
        good_cwasm[..good_cwasm.len() / 2].to_vec(),
        flipped,
        Vec::new(),
    ] {
        std::fs::write(&cwasm, &damaged).unwrap();
        assert_prints(&sandbox_at(dir.path()), &source, "damage");
        assert_eq!(
            std::fs::read(&cwasm).unwrap(),
            good_cwasm,
            "the artifact was rewritten"
        );
    }

    // A truncated wasm entry is not used: a sandbox that cannot compile must say so rather
    // than load it; a working one recompiles and rewrites it.
    std::fs::write(&wasm, &good_wasm[..good_wasm.len() - 7]).unwrap();
    match cache_only_sandbox_at(dir.path()).compile(Language::C, &source) {
        Err(SandboxError::ConfinementUnavailable { .. }) => {}
        Ok(Compilation::Ready(_)) => panic!("a damaged wasm entry was trusted"),
        other => panic!("unexpected: {:?}", other.map(|c| c.program().err())),
    }
    assert_prints(&sandbox_at(dir.path()), &source, "damage");
    assert_eq!(
        std::fs::read(&wasm).unwrap(),
        good_wasm,
        "the wasm entry was rewritten"
    );
}

#[test]
fn an_unwritable_cache_dir_slows_down_but_does_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"").unwrap();
    let sandbox = sandbox_at(&file);
    let wat = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;
    assert!(matches!(
        sandbox.compile(Language::Wat, wat),
        Ok(Compilation::Ready(_))
    ));
}
