//! The warm compiler (compile servers with clang and lld loaded, one fork per compile)
//! produces the very modules and diagnostics the `clang` binary does, from several threads
//! at once, and recovers from a server that died. The hostile compile tests
//! (`hostile.rs`, `hostile_cpp.rs`) run through it too: it is on by default.
//!
//! Where the warm compiler is not built (no clang/lld development files) these tests skip
//! with the reason printed, but fail under CI (`CI=true`): there it must be built and used.

use std::path::Path;
use std::time::Duration;

use hone_sandbox::{CompilerConfig, Language, Sandbox, SandboxConfig};

/// Whether the tests run under CI: `CI` set to anything but empty, `false` or `0`.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0"))
}

fn sandbox(warm: bool, cache: Option<&Path>) -> Sandbox {
    Sandbox::new(SandboxConfig {
        cache_dir: cache.map(Path::to_path_buf),
        compilers: CompilerConfig {
            warm_compiler: warm,
            ..CompilerConfig::default()
        },
        ..SandboxConfig::default()
    })
    .expect("sandbox")
}

/// A warm sandbox whose warm compiler works; `None` (the test skips) where it is not
/// built, which fails under CI.
fn warm_sandbox(cache: Option<&Path>) -> Option<Sandbox> {
    let sandbox = sandbox(true, cache);
    match sandbox.toolchain_report().warm_compiler {
        Some(Ok(_)) => {
            assert!(
                !compile_servers().is_empty(),
                "the warm compiler reports ready but no compile server runs"
            );
            Some(sandbox)
        }
        Some(Err(reason)) => {
            assert!(
                !under_ci(),
                "the warm compiler is unavailable: {reason}\nCI is set, so it must be built and used \
                 (install libclang-14-dev liblld-14-dev llvm-14-dev: scripts/bootstrap)"
            );
            eprintln!(
                "SKIPPED: the warm compiler is unavailable: {reason} (under CI=true this fails)"
            );
            None
        }
        None => panic!("the warm compiler is on by default for confined compiles"),
    }
}

/// Compile servers started by this process: processes below it whose environment has the
/// servers' slot variable.
fn compile_servers() -> Vec<u32> {
    let me = std::process::id();
    let parent_of = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|&b| b == 0)
                    .any(|var| var.starts_with(b"HONE_WARMCC_SLOT="))
            })
        })
        .filter(|&pid| {
            let mut at = pid;
            for _ in 0..8 {
                match parent_of(at) {
                    Some(parent) if parent == me => return true,
                    Some(parent) if parent > 1 => at = parent,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

/// Diagnostics with the driver's temporary object names (`/tmp/main-1a2b3c.o`, random per
/// compile) made equal.
fn normalized(diagnostics: &str) -> String {
    let mut out = String::new();
    let mut rest = diagnostics;
    while let Some(at) = rest.find("/tmp/main-") {
        out.push_str(&rest[..at]);
        out.push_str("/tmp/main-XXXXXX");
        let after = &rest[at + "/tmp/main-".len()..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

const PAIR_COUNT: &str = include_str!("../../../tasks/library/efficiency/pair-count/seed.c");
const AHC001: &str = include_str!("../../../tasks/library/heuristic/ahc001-cpp/seed.cpp");

/// Sources and languages compiled both ways: modules, compile errors, a link error.
fn sources() -> Vec<(&'static str, Language, String)> {
    vec![
        ("pair-count seed", Language::C, PAIR_COUNT.to_string()),
        ("AHC001 C++ seed", Language::Cpp, AHC001.to_string()),
        (
            "bits/stdc++.h not first (no precompiled header)",
            Language::Cpp,
            format!("#define HONE_NOT_FIRST 1\n{AHC001}"),
        ),
        (
            "C++ with a class template and iostream",
            Language::Cpp,
            "#include <iostream>\n#include <vector>\ntemplate <class T> struct S { T v; };\n\
             int main() { std::vector<S<int>> v(3); std::cout << v.size() << '\\n'; }\n"
                .to_string(),
        ),
        (
            "a C compile error",
            Language::C,
            "int main(void) { return undeclared + ; }\n".to_string(),
        ),
        (
            "a C++ compile error",
            Language::Cpp,
            "#include <bits/stdc++.h>\nint main() { std::vector<int> v; v.push(1); throw 1; }\n"
                .to_string(),
        ),
        (
            "a C link error",
            Language::C,
            "int missing(int);\nint main(void) { return missing(1); }\n".to_string(),
        ),
        (
            "a C++ link error",
            Language::Cpp,
            "int missing(int);\nint main() { return missing(1); }\n".to_string(),
        ),
        (
            "warnings and a module",
            Language::C,
            "#include <stdio.h>\nint main(void) { int unused; printf(\"%d\\n\", 1L); return 0; }\n"
                .to_string(),
        ),
    ]
}

fn compile(sandbox: &Sandbox, language: Language, source: &str) -> Result<Vec<u8>, String> {
    sandbox
        .compile_to_wasm(language, source)
        .expect("the compiler runs")
}

#[track_caller]
fn assert_same(name: &str, warm: Result<Vec<u8>, String>, cold: Result<Vec<u8>, String>) {
    match (warm, cold) {
        (Ok(warm), Ok(cold)) => assert!(warm == cold, "{name}: the modules differ"),
        (Err(warm), Err(cold)) => assert_eq!(
            normalized(&warm),
            normalized(&cold),
            "{name}: the diagnostics differ"
        ),
        (warm, cold) => panic!(
            "{name}: warm {:?} but cold {:?}",
            warm.map(|w| w.len()),
            cold.map(|c| c.len())
        ),
    }
}

#[test]
fn warm_and_cold_compiles_are_identical() {
    // With a cache directory (C++ sources starting with <bits/stdc++.h> take the
    // precompiled header) and without one.
    for with_cache in [true, false] {
        let cache = tempfile::tempdir().unwrap();
        let cache = with_cache.then_some(cache.path());
        let Some(warm) = warm_sandbox(cache) else {
            return;
        };
        let cold = sandbox(false, cache);
        assert_eq!(cold.toolchain_report().warm_compiler, None);
        let mut modules = 0;
        for (name, language, source) in sources() {
            let warm_result = compile(&warm, language, &source);
            modules += usize::from(warm_result.is_ok());
            assert_same(name, warm_result, compile(&cold, language, &source));
        }
        assert_eq!(modules, 5, "the sources that compile");
        if with_cache {
            let pch = std::fs::read_dir(cache.unwrap().join("pch"))
                .map(|d| d.count())
                .unwrap_or(0);
            assert_eq!(pch, 1, "the precompiled header was built and used");
        }
    }
}

#[test]
fn the_diagnostics_are_those_of_the_clang_binary() {
    let Some(warm) = warm_sandbox(None) else {
        return;
    };
    let error = compile(
        &warm,
        Language::C,
        "int main(void) { return undeclared; }\n",
    )
    .unwrap_err();
    assert!(
        error.starts_with("main.c:1:25: error: use of undeclared identifier 'undeclared'"),
        "{error}"
    );
    let link = compile(
        &warm,
        Language::C,
        "int missing(int);\nint main(void) { return missing(1); }\n",
    )
    .unwrap_err();
    assert!(link.contains("wasm-ld-14: error: /tmp/main-"), "{link}");
    assert!(link.contains("undefined symbol: missing"), "{link}");
    assert!(
        link.contains("clang: error: linker command failed with exit code 1"),
        "{link}"
    );
}

#[test]
fn concurrent_warm_compiles_match_the_cold_ones() {
    let Some(warm) = warm_sandbox(None) else {
        return;
    };
    let cold = sandbox(false, None);
    let variants: Vec<String> = (0..6)
        .map(|i| PAIR_COUNT.replace("20000 //", &format!("{} //", 20_000 + i)))
        .collect();
    let expected: Vec<Vec<u8>> = variants
        .iter()
        .map(|source| compile(&cold, Language::C, source).unwrap())
        .collect();
    for _ in 0..2 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = variants
                .iter()
                .map(|source| {
                    let warm = &warm;
                    scope.spawn(move || compile(warm, Language::C, source).unwrap())
                })
                .collect();
            for (i, handle) in handles.into_iter().enumerate() {
                assert!(handle.join().unwrap() == expected[i], "variant {i} differs");
            }
        });
    }
    let servers = compile_servers().len();
    assert!(
        (1..=6).contains(&servers),
        "{servers} compile servers for 6 concurrent compiles"
    );
}

#[test]
fn a_dead_compile_server_is_replaced() {
    let Some(warm) = warm_sandbox(None) else {
        return;
    };
    let source = "int main(void) { return 0; }\n";
    let first = compile(&warm, Language::C, source).unwrap();
    let servers = compile_servers();
    assert!(!servers.is_empty());
    for pid in &servers {
        // SAFETY: kill(2) on a process this test started (a compile server).
        unsafe {
            libc::kill(*pid as i32, libc::SIGKILL);
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(compile(&warm, Language::C, source).unwrap() == first);
    let after = compile_servers();
    assert!(!after.is_empty(), "a new server runs");
    assert!(after.iter().all(|pid| !servers.contains(pid)));
}

#[test]
fn the_timeout_and_memory_limit_hold_in_the_compile_server() {
    let scratch = tempfile::tempdir().unwrap();
    let config = |timeout: Duration, memory_bytes: u64| SandboxConfig {
        compilers: CompilerConfig {
            timeout,
            memory_bytes,
            scratch_dir: Some(scratch.path().to_path_buf()),
            ..CompilerConfig::default()
        },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::new(config(Duration::from_secs(2), 4 << 30)).unwrap();
    if warm_sandbox(None).is_none() {
        return;
    }
    let mut bomb = String::from("#define A0 1+1\n");
    for i in 1..=48 {
        bomb.push_str(&format!("#define A{i} A{0}+A{0}\n", i - 1));
    }
    bomb.push_str("int main(void){ return A48; }\n");
    let started = std::time::Instant::now();
    let message = compile(&sandbox, Language::C, &bomb).unwrap_err();
    assert_eq!(
        message,
        "the c compiler did not finish within 2.0 s and was stopped (the source may expand without bound: macros, templates, constant evaluation or includes)"
    );
    assert!(started.elapsed() < Duration::from_secs(6));
    // The server survives its child's timeout and compiles the next source.
    assert!(compile(&sandbox, Language::C, "int main(void) { return 0; }\n").is_ok());

    let small = Sandbox::new(config(Duration::from_secs(60), 256 << 20)).unwrap();
    let mut initializer = String::from("#define B0 1,2,3,4,5,6,7,8,\n");
    for i in 1..=40 {
        initializer.push_str(&format!("#define B{i} B{0} B{0}\n", i - 1));
    }
    initializer.push_str("static const char z[] = { B40 };\nint main(void) { return z[7]; }\n");
    let message = compile(&small, Language::C, &initializer).unwrap_err();
    let lower = message.to_lowercase();
    assert!(
        lower.contains("memory") || lower.contains("allocat") || lower.contains("killed"),
        "{message}"
    );
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "scratch directories left behind: {left:?}");
}

#[test]
fn a_warm_compile_sees_only_its_own_scratch_directory() {
    if warm_sandbox(None).is_none() {
        return;
    }
    // A file in the scratch root, which every compile server has at /build: a compile sees
    // its own directory there, never the root or another compile's directory.
    let scratch = tempfile::tempdir().unwrap();
    let secret = format!("HONE_ROOT_SECRET_{}", std::process::id());
    std::fs::write(
        scratch.path().join("planted.h"),
        format!("{secret} {secret}\n"),
    )
    .unwrap();
    let sandbox = Sandbox::new(SandboxConfig {
        compilers: CompilerConfig {
            scratch_dir: Some(scratch.path().to_path_buf()),
            ..CompilerConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    assert!(matches!(
        sandbox.toolchain_report().warm_compiler,
        Some(Ok(_))
    ));
    for include in ["../planted.h", "/build/planted.h", "/build/../planted.h"] {
        let source = format!("#include \"{include}\"\nint main(void) {{ return 0; }}\n");
        let diagnostics = compile(&sandbox, Language::C, &source).unwrap_err();
        assert!(!diagnostics.contains(&secret), "{include}:\n{diagnostics}");
        assert!(
            diagnostics.contains("file not found"),
            "{include}:\n{diagnostics}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("planted.h")]);
}
