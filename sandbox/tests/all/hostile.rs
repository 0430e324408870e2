//! The hostile-candidate suite: every way a candidate (or its source, at compile time) can
//! try to hang, exhaust, crash or spy on the host ends with its documented status, the host
//! survives, and nothing leaks.

use std::time::{Duration, Instant};

use hone_sandbox::{
    Compilation, CompilerConfig, Language, Limits, RunStatus, Sandbox, SandboxConfig, SandboxError,
};

use crate::support::{
    assert_trap, hostile, processes_of_compiles_under, quick_limits, rejected, run, sandbox,
    zombie_children,
};

const BOTH: [Language; 2] = [Language::C, Language::Rust];

#[test]
fn infinite_loop_ends_by_fuel_and_by_timeout() {
    for language in BOTH {
        let p = hostile(language);
        let outcome = run(
            p,
            "loop",
            &Limits {
                fuel: Some(5_000_000),
                ..Limits::default()
            },
        );
        assert_eq!(outcome.status, RunStatus::FuelExhausted, "{language}");
        assert_eq!(
            outcome.fuel_used, 5_000_000,
            "{language}: all the fuel, exactly"
        );

        let started = Instant::now();
        let outcome = run(
            p,
            "loop",
            &Limits {
                fuel: None,
                timeout: Duration::from_millis(300),
                ..Limits::default()
            },
        );
        assert_eq!(outcome.status, RunStatus::Timeout, "{language}");
        assert!(
            outcome.wall >= Duration::from_millis(300),
            "{language}: ended early: {:?}",
            outcome.wall
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{language}: the deadline did not hold"
        );
    }
}

#[test]
fn memory_bombs_are_memory_exceeded() {
    let limits = Limits {
        memory_bytes: 48 << 20,
        ..Limits::default()
    };
    for language in BOTH {
        for command in ["bomb", "big"] {
            let outcome = run(hostile(language), command, &limits);
            assert_eq!(
                outcome.status,
                RunStatus::MemoryExceeded,
                "{language} {command}: {}",
                outcome.stderr
            );
            assert!(
                outcome.peak_memory_bytes <= 48 << 20,
                "{language} {command}: peak {}",
                outcome.peak_memory_bytes
            );
            assert!(outcome.peak_memory_bytes > 0);
        }
    }
    // A bare failed memory.grow is memory_exceeded too, not -1 handed back to the guest.
    let grow = crate::support::program(
        Language::Wat,
        r#"(module (memory (export "memory") 1)
             (func (export "_start") (drop (memory.grow (i32.const 1000)))))"#,
    );
    let outcome = run(
        &grow,
        "",
        &Limits {
            memory_bytes: 16 << 20,
            ..Limits::default()
        },
    );
    assert_eq!(outcome.status, RunStatus::MemoryExceeded);
    assert_eq!(
        outcome.peak_memory_bytes,
        64 << 10,
        "the peak is the initial page"
    );
}

#[test]
fn unbounded_recursion_is_a_clean_trap() {
    for (language, command) in [
        (Language::C, "recurse"),
        (Language::C, "recurse_frames"),
        (Language::Rust, "recurse"),
    ] {
        let outcome = run(hostile(language), command, &Limits::default());
        let message = assert_trap(&outcome, &["stack_overflow", "memory_out_of_bounds"]);
        assert!(!message.is_empty());
    }
    // From a thread with far less stack than the wasm stack limit: the run moves to a helper
    // thread instead of overflowing this one.
    let outcome = std::thread::Builder::new()
        .stack_size(192 << 10)
        .spawn(|| sandbox().run(hostile(Language::Rust), b"recurse", &Limits::default()))
        .unwrap()
        .join()
        .expect("the small-stack thread survived")
        .unwrap();
    assert_trap(&outcome, &["stack_overflow"]);
}

#[test]
fn a_gibibyte_of_output_ends_quickly() {
    let limits = Limits {
        stdout_bytes: 1 << 20,
        ..Limits::default()
    };
    for language in BOTH {
        let started = Instant::now();
        let outcome = run(hostile(language), "flood 0", &limits);
        assert_eq!(
            outcome.status,
            RunStatus::OutputExceeded {
                stream: "stdout".into()
            },
            "{language}"
        );
        assert_eq!(
            outcome.stdout.len(),
            1 << 20,
            "{language}: stdout is kept up to its cap"
        );
        assert!(outcome.stdout.iter().all(|&b| b == b'x'));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{language}: took {:?}",
            started.elapsed()
        );

        // stderr is truncated with a visible marker; the run goes on.
        let outcome = run(
            hostile(language),
            "flood 1",
            &Limits {
                stderr_bytes: 1000,
                ..Limits::default()
            },
        );
        assert_eq!(outcome.status, RunStatus::Ok, "{language}");
        assert_eq!(outcome.stdout_text(), "done\n");
        let dropped = (1u64 << 30) - 1000;
        assert!(outcome.stderr.starts_with(&"x".repeat(1000)), "{language}");
        assert!(
            outcome.stderr.ends_with(&format!(
                "\n[hone: {dropped} more bytes of stderr dropped]\n"
            )),
            "{language}: {}",
            &outcome.stderr[1000..]
        );
    }
}

#[test]
fn host_files_are_not_reachable_through_wasi() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let first_line = passwd.lines().next().unwrap_or("root:x:0:0");
    for language in BOTH {
        let outcome = run(hostile(language), "passwd", &quick_limits());
        assert_eq!(
            outcome.status,
            RunStatus::Ok,
            "{language}: {}",
            outcome.stderr
        );
        assert!(
            !outcome.stdout_text().contains(first_line),
            "{language} read /etc/passwd"
        );
        assert!(!outcome.stderr.contains(first_line));
        match language {
            Language::C => {
                assert_eq!(outcome.stdout_text(), "no file 0 0\n");
                assert!(
                    outcome.stderr.starts_with("fopen /etc/passwd: "),
                    "{}",
                    outcome.stderr
                );
            }
            _ => {
                assert!(
                    outcome.stdout_text().starts_with("error: "),
                    "{}",
                    outcome.stdout_text()
                );
                assert!(
                    outcome.stdout_text().ends_with(" false\n"),
                    "no directory listing either"
                );
            }
        }
    }
}

#[test]
fn the_environment_is_empty_and_args_are_fixed() {
    let outcome = run(hostile(Language::C), "env", &quick_limits());
    assert_eq!(outcome.stdout_text(), "0 - -\n");
    let outcome = run(hostile(Language::Rust), "env", &quick_limits());
    assert_eq!(outcome.stdout_text(), "0 None [\"candidate\"]\n");
}

#[test]
fn proc_exit_codes_are_reported() {
    for language in BOTH {
        for (code, status) in [
            (0, RunStatus::Ok),
            (1, RunStatus::Exit { code: 1 }),
            (255, RunStatus::Exit { code: 255 }),
        ] {
            let outcome = run(hostile(language), &format!("exit {code}"), &quick_limits());
            assert_eq!(outcome.status, status, "{language} exit {code}");
        }
    }
    let outcome = run(hostile(Language::C), "nonsense", &quick_limits());
    assert_eq!(
        outcome.status,
        RunStatus::Exit { code: 2 },
        "returning from main is an exit too"
    );
}

#[test]
fn arithmetic_traps_have_their_kinds() {
    let outcome = run(hostile(Language::C), "div0", &quick_limits());
    assert_trap(&outcome, &["integer_divide_by_zero"]);
    let outcome = run(hostile(Language::C), "overflow", &quick_limits());
    assert_trap(&outcome, &["integer_overflow"]);
    // Rust checks before dividing: a panic, which aborts (an `unreachable` trap), with the
    // panic message on stderr.
    let outcome = run(hostile(Language::Rust), "div0", &quick_limits());
    assert_trap(&outcome, &["unreachable"]);
    assert!(
        outcome.stderr.contains("attempt to divide by zero"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn unreachable_abort_and_panic_are_unreachable_traps() {
    let outcome = run(hostile(Language::C), "trap", &quick_limits());
    assert_trap(&outcome, &["unreachable"]);
    let outcome = run(hostile(Language::Rust), "trap", &quick_limits());
    assert_trap(&outcome, &["unreachable"]);
    let outcome = run(hostile(Language::Rust), "panic 7", &quick_limits());
    let message = assert_trap(&outcome, &["unreachable"]);
    assert!(
        outcome.stderr.contains("candidate gave up at step 7"),
        "{}",
        outcome.stderr
    );
    assert!(message.contains("unreachable"), "{message}");
}

#[test]
fn out_of_bounds_access_traps() {
    let outcome = run(hostile(Language::C), "oob", &quick_limits());
    assert_trap(&outcome, &["memory_out_of_bounds"]);
    let wat = crate::support::program(
        Language::Wat,
        r#"(module (memory (export "memory") 1)
             (func (export "_start") (drop (i32.load (i32.const 65535)))))"#,
    );
    assert_trap(
        &run(&wat, "", &Limits::default()),
        &["memory_out_of_bounds"],
    );
    let table = crate::support::program(
        Language::Wat,
        r#"(module (memory (export "memory") 1) (table 1 funcref) (type $t (func))
             (func (export "_start") (call_indirect (type $t) (i32.const 5))))"#,
    );
    assert_trap(
        &run(&table, "", &Limits::default()),
        &["table_out_of_bounds"],
    );
}

#[test]
fn malformed_and_unfit_modules_are_rejected() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "invalid wasm module"),
        (
            b"\0asm\x01\0\0\0\xff\xff\xff garbage",
            "invalid wasm module",
        ),
        (b"not wasm at all", "invalid wasm module"),
        (b"(module (func (export \"main\")))", "exports no `_start`"),
        (
            b"(module (import \"env\" \"open\" (func)) (func (export \"_start\")))",
            "env.open",
        ),
    ];
    for (bytes, expected) in cases {
        match sandbox().load_wasm(bytes) {
            Ok(Compilation::Rejected(d)) => assert!(d.contains(expected), "{d}"),
            Ok(Compilation::Ready(_)) => {
                panic!("{:?} was accepted", String::from_utf8_lossy(bytes))
            }
            Err(e) => panic!("sandbox error: {e}"),
        }
    }
    let two_memories = rejected(
        Language::Wat,
        r#"(module (memory 1) (memory 1) (func (export "_start")))"#,
    );
    assert!(two_memories.contains("memories"), "{two_memories}");
    // An instance too large for a pool slot (its globals alone exceed it) is rejected at
    // load time, not a sandbox error at run time.
    let globals = "(global (mut i64) (i64.const 0)) ".repeat(200_000);
    let huge = rejected(
        Language::Wat,
        &format!("(module {globals} (memory (export \"memory\") 1) (func (export \"_start\")))"),
    );
    assert!(huge.contains("instance"), "{huge}");
    let syntax = rejected(Language::Wat, "(module (func (export \"_start\") (i32.add)");
    assert!(syntax.starts_with("main.wat:"), "{syntax}");
    // Unimplemented WASI imports link, and answer ENOSYS (52) when called.
    let nosys = crate::support::program(
        Language::Wat,
        r#"(module
             (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (func (export "_start") (call $exit (call $accept (i32.const 0) (i32.const 0) (i32.const 0)))))"#,
    );
    assert_eq!(
        run(&nosys, "", &Limits::default()).status,
        RunStatus::Exit { code: 52 }
    );
}

#[test]
fn the_clock_is_virtual_and_repeatable() {
    // Loop on the clock until one virtual second has passed: it ends, after about 1e9 fuel,
    // with identical counts every time.
    for language in BOTH {
        let runs: Vec<_> = (0..3)
            .map(|_| run(hostile(language), "clock 1000000000", &Limits::default()))
            .collect();
        let first = &runs[0];
        assert_eq!(first.status, RunStatus::Ok, "{language}: {}", first.stderr);
        // Each clock read also advances the clock by a tick, so slightly less than 1e9 fuel.
        assert!(
            (950_000_000..1_000_000_000).contains(&first.fuel_used),
            "{language}: {}",
            first.fuel_used
        );
        let iterations: u64 = first.stdout_text().trim().parse().unwrap();
        assert!(iterations > 1000, "{language}: {iterations}");
        for other in &runs[1..] {
            assert_eq!(
                (&other.status, other.fuel_used, &other.stdout),
                (&first.status, first.fuel_used, &first.stdout)
            );
        }
    }
    // Sleeping advances the virtual clocks without burning fuel or wall time.
    let outcome = run(hostile(Language::C), "sleep 5", &quick_limits());
    assert_eq!(outcome.stdout_text(), "0 5\n", "{}", outcome.stderr);
    let outcome = run(hostile(Language::Rust), "sleep 5", &quick_limits());
    assert_eq!(outcome.stdout_text(), "5\n", "{}", outcome.stderr);
    assert!(outcome.wall < Duration::from_secs(5));
}

#[test]
fn runs_repeat_bit_for_bit() {
    for language in BOTH {
        for command in ["clock 1000000", "random", "env", "passwd", "div0"] {
            let first = run(hostile(language), command, &quick_limits());
            for _ in 0..9 {
                let again = run(hostile(language), command, &quick_limits());
                assert_eq!(again.status, first.status, "{language} {command}");
                assert_eq!(again.fuel_used, first.fuel_used, "{language} {command}");
                assert_eq!(again.stdout, first.stdout, "{language} {command}");
                assert_eq!(again.stderr, first.stderr, "{language} {command}");
                assert_eq!(
                    again.peak_memory_bytes, first.peak_memory_bytes,
                    "{language} {command}"
                );
            }
        }
    }
}

#[test]
fn random_is_seeded() {
    for language in BOTH {
        let with_seed = |seed| {
            run(
                hostile(language),
                "random",
                &Limits {
                    seed,
                    ..quick_limits()
                },
            )
            .stdout
        };
        let a = with_seed(1);
        assert!(a.len() > 8, "{language}");
        assert_eq!(a, with_seed(1), "{language}: same seed, same bytes");
        assert_ne!(a, with_seed(2), "{language}: another seed, other bytes");
    }
}

/// A sandbox for hostile sources: short compile timeout, modest memory, a private scratch
/// parent (so the test can check that nothing is left behind).
fn compile_sandbox(scratch: &std::path::Path, confine: bool) -> Sandbox {
    let compilers = CompilerConfig {
        timeout: Duration::from_secs(3),
        memory_bytes: 2 << 30,
        scratch_dir: Some(scratch.to_path_buf()),
        confine,
        ..CompilerConfig::default()
    };
    Sandbox::new(SandboxConfig {
        compilers,
        max_concurrent_runs: 4,
        ..SandboxConfig::default()
    })
    .unwrap()
}

#[track_caller]
fn assert_nothing_left(scratch: &std::path::Path) {
    let left: Vec<_> = std::fs::read_dir(scratch)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "scratch directories left behind: {left:?}");
    assert_eq!(
        processes_of_compiles_under(scratch),
        Vec::<u32>::new(),
        "compiler processes left running"
    );
    assert_eq!(
        zombie_children(Duration::from_secs(2)),
        Vec::<u32>::new(),
        "zombie children"
    );
}

#[test]
fn compile_bombs_end_by_time_or_memory() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("scratch");
    let sandbox = compile_sandbox(&scratch, true);
    let mut c_bomb = String::from("#define A0 1+1\n");
    for i in 1..=48 {
        c_bomb.push_str(&format!("#define A{i} A{0}+A{0}\n", i - 1));
    }
    c_bomb.push_str("int main(void){ return A48; }\n");
    let rust_macro_bomb = "macro_rules! bomb { () => {}; ($x:tt $($rest:tt)*) => { bomb!($($rest)*); bomb!($($rest)*); }; }\n\
        fn main() { bomb!(a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a); }\n";
    let rust_const_eval = "const N: u64 = { let mut i = 0u64; let mut x = 1u64; while i < u64::MAX { x = x.wrapping_mul(6364136223846793005).wrapping_add(i); i += 1; } x };\n\
        fn main() { println!(\"{}\", N); }\n";
    std::thread::scope(|scope| {
        let handles: Vec<_> = [
            (Language::C, c_bomb.as_str()),
            (Language::Rust, rust_macro_bomb),
            (Language::Rust, rust_const_eval),
        ]
        .into_iter()
        .map(|(language, source)| {
            let sandbox = &sandbox;
            scope.spawn(move || {
                let started = Instant::now();
                let result = sandbox.compile(language, source);
                (language, started.elapsed(), result)
            })
        })
        .collect();
        for handle in handles {
            let (language, elapsed, result) = handle.join().unwrap();
            match result {
                // Killed at the deadline or the memory limit, or (the const-eval bomb on an
                // idle machine) stopped first by rustc's own const-evaluation step limit.
                Ok(Compilation::Rejected(message)) => assert!(
                    message.contains("did not finish within 3.0 s")
                        || message.contains("memory")
                        || message.contains("constant evaluation is taking a long time"),
                    "{language}: {message}"
                ),
                Ok(Compilation::Ready(_)) => panic!("{language}: the bomb compiled"),
                Err(e) => panic!("{language}: sandbox error {e}"),
            }
            assert!(
                elapsed < Duration::from_secs(20),
                "{language}: the compile took {elapsed:?}"
            );
        }
    });
    assert_nothing_left(&scratch);
}

#[test]
fn compiles_that_eat_memory_end_by_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("scratch");
    let compilers = CompilerConfig {
        timeout: Duration::from_secs(60),
        memory_bytes: 1 << 30,
        scratch_dir: Some(scratch.clone()),
        ..CompilerConfig::default()
    };
    let sandbox = Sandbox::new(SandboxConfig {
        compilers,
        ..SandboxConfig::default()
    })
    .unwrap();
    // C: an initializer list that doubles 40 times (clang sizes /dev/zero as empty, so
    // including it does not eat memory); Rust: include_bytes! of an endless file.
    let mut c_initializer = String::from("#define B0 1,2,3,4,5,6,7,8,\n");
    for i in 1..=40 {
        c_initializer.push_str(&format!("#define B{i} B{0} B{0}\n", i - 1));
    }
    c_initializer.push_str("static const char z[] = { B40 };\nint main(void) { return z[7]; }\n");
    let sources = [
        (Language::C, c_initializer.as_str()),
        (
            Language::Rust,
            "static Z: &[u8] = include_bytes!(\"/dev/zero\");\nfn main() { println!(\"{}\", Z[0]); }\n",
        ),
    ];
    for (language, source) in sources {
        let started = Instant::now();
        match sandbox.compile(language, source) {
            Ok(Compilation::Rejected(message)) => {
                let lower = message.to_lowercase();
                assert!(
                    lower.contains("memory")
                        || lower.contains("allocat")
                        || lower.contains("killed"),
                    "{language}: {message}"
                );
            }
            Ok(Compilation::Ready(_)) => panic!("{language}: compiled"),
            Err(e) => panic!("{language}: sandbox error {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(50),
            "{language}: ended by the timeout, not memory"
        );
    }
    assert_nothing_left(&scratch);
}

/// Sources that try to pull a host file into the compile, each of which must fail without
/// the file's contents appearing anywhere.
fn include_attempts(secret_path: &str) -> Vec<(Language, String)> {
    let mut attempts = Vec::new();
    for path in [
        "/etc/passwd",
        "../../secret.txt",
        secret_path,
        "/etc/../etc/passwd",
    ] {
        attempts.push((
            Language::Rust,
            format!("fn main() {{ print!(\"{{}}\", include_str!(\"{path}\")); }}\n"),
        ));
        attempts.push((
            Language::Rust,
            format!("fn main() {{ std::io::Write::write_all(&mut std::io::stdout(), include_bytes!(\"{path}\")).unwrap(); }}\n"),
        ));
        attempts.push((
            Language::Rust,
            format!("#[path = \"{path}\"] mod leaked;\nfn main() {{}}\n"),
        ));
        attempts.push((
            Language::C,
            format!("#include \"{path}\"\nint main(void) {{ return 0; }}\n"),
        ));
        attempts.push((
            Language::C,
            format!("#include <{path}>\nint main(void) {{ return 0; }}\n"),
        ));
        attempts.push((
            Language::C,
            format!("static const char s[] = {{\n#include \"{path}\"\n}};\nint main(void) {{ return s[0]; }}\n"),
        ));
        attempts.push((
            Language::C,
            format!("__asm__(\".section .data.leak,\\\"\\\",@\\n.incbin \\\"{path}\\\"\");\nint main(void) {{ return 0; }}\n"),
        ));
    }
    attempts.push((
        Language::C,
        "#include \"../../x\"\nint main(void) { return 0; }\n".to_string(),
    ));
    attempts.push((
        Language::Rust,
        "fn main() { print!(\"{}\", include_str!(\"../../x\")); }\n".to_string(),
    ));
    attempts
}

/// A secret outside the scratch directory: `<dir>/secret.txt`, which `../../secret.txt`
/// reaches from a scratch directory `<dir>/scratch/hone-compile-*`.
fn plant_secret(dir: &std::path::Path) -> (String, String) {
    let secret = format!(
        "HONE_SECRET_{}_{}",
        std::process::id(),
        dir.display().to_string().len()
    );
    let path = dir.join("secret.txt");
    // Not valid in either language, so a compiler that read it would quote it in an error.
    std::fs::write(&path, format!("{secret} {secret}\n")).unwrap();
    (secret, path.display().to_string())
}

#[test]
fn host_file_includes_never_leak() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, secret_path) = plant_secret(dir.path());
    let scratch = dir.path().join("scratch");
    let sandbox = compile_sandbox(&scratch, true);
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let passwd_line = passwd.lines().next().unwrap_or("root:x:0:0").to_string();
    assert!(!passwd_line.is_empty());
    for (language, source) in include_attempts(&secret_path) {
        match sandbox.compile(language, &source) {
            Ok(Compilation::Rejected(diagnostics)) => {
                assert!(
                    !diagnostics.contains(&secret),
                    "{language} leaked the secret:\n{source}\n{diagnostics}"
                );
                assert!(
                    !diagnostics.contains(&passwd_line),
                    "{language} leaked /etc/passwd:\n{source}\n{diagnostics}"
                );
                assert!(!diagnostics.trim().is_empty());
            }
            Ok(Compilation::Ready(program)) => {
                let outcome = sandbox.run(&program, b"", &Limits::default()).unwrap();
                panic!(
                    "{language} compiled a host-file include:\n{source}\nstdout: {}",
                    outcome.stdout_text()
                );
            }
            Err(e) => panic!("{language}: sandbox error {e}"),
        }
    }
    assert_nothing_left(&scratch);
}

/// The control for the test above: without confinement the same sources do reach the
/// secret, so the test can tell a leak when there is one.
#[test]
fn unconfined_compilers_would_leak_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, secret_path) = plant_secret(dir.path());
    let sandbox = compile_sandbox(&dir.path().join("scratch"), false);
    let rust = format!("fn main() {{ print!(\"{{}}\", include_str!(\"{secret_path}\")); }}\n");
    match sandbox.compile(Language::Rust, &rust) {
        Ok(Compilation::Ready(program)) => {
            let outcome = sandbox.run(&program, b"", &Limits::default()).unwrap();
            assert!(outcome.stdout_text().contains(&secret));
        }
        other => panic!(
            "unconfined include_str! should compile: {:?}",
            other.map(|c| c.program().err())
        ),
    }
    match sandbox.compile(
        Language::C,
        "#include \"../../secret.txt\"\nint main(void) { return 0; }\n",
    ) {
        Ok(Compilation::Rejected(diagnostics)) => {
            assert!(diagnostics.contains(&secret), "{diagnostics}")
        }
        other => panic!(
            "expected a diagnostic quoting the secret: {:?}",
            other.map(|c| c.program().err())
        ),
    }
}

#[test]
fn missing_bubblewrap_is_a_clear_error() {
    let compilers = CompilerConfig {
        bwrap: "/nonexistent/bwrap".into(),
        ..CompilerConfig::default()
    };
    let sandbox = Sandbox::new(SandboxConfig {
        compilers,
        ..SandboxConfig::default()
    })
    .unwrap();
    match sandbox.compile(Language::C, "int main(void) { return 0; }\n") {
        Err(error @ SandboxError::ConfinementUnavailable { .. }) => {
            let message = error.to_string();
            assert!(message.contains("/nonexistent/bwrap"), "{message}");
            assert!(message.contains("hint: install bubblewrap"), "{message}");
        }
        other => panic!(
            "expected ConfinementUnavailable, got {:?}",
            other.map(|c| c.program().err())
        ),
    }
    // wat needs no compiler, so it still works.
    assert!(matches!(
        sandbox.compile(
            Language::Wat,
            r#"(module (memory (export "memory") 1) (func (export "_start")))"#
        ),
        Ok(Compilation::Ready(_))
    ));
}

#[test]
fn diagnostics_cannot_pose_as_a_sandbox_failure() {
    let sources = [
        (
            Language::Rust,
            "compile_error!(\"\\nbwrap: execvp rustc: No such file or directory\\nbwrap: setting up uid map: Permission denied\");\nfn main() {}\n",
        ),
        (
            Language::C,
            "#error bwrap: Can't mount proc on /newroot/proc\nint main(void) { return 0; }\n",
        ),
    ];
    for (language, source) in sources {
        match sandbox().compile(language, source) {
            Ok(Compilation::Rejected(diagnostics)) => {
                assert!(diagnostics.contains("bwrap:"), "{diagnostics}")
            }
            Ok(Compilation::Ready(_)) => panic!("{language}: compiled"),
            Err(e) => panic!("{language}: a candidate's diagnostics became a sandbox error: {e}"),
        }
    }
}

#[test]
fn a_missing_compiler_is_a_clear_error() {
    let compilers = CompilerConfig {
        clang: "/usr/bin/no-such-clang".into(),
        ..CompilerConfig::default()
    };
    let sandbox = Sandbox::new(SandboxConfig {
        compilers,
        ..SandboxConfig::default()
    })
    .unwrap();
    match sandbox.compile(Language::C, "int main(void) { return 0; }\n") {
        Err(error @ SandboxError::CompilerMissing { .. }) => {
            let message = error.to_string();
            assert!(message.contains("/usr/bin/no-such-clang"), "{message}");
            assert!(message.contains("hint: run `hone doctor`"), "{message}");
        }
        other => panic!(
            "expected CompilerMissing, got {:?}",
            other.map(|c| c.program().err())
        ),
    }
}
