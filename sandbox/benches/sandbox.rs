//! Sandbox benchmarks (`cargo bench -p hone-sandbox`); figures go to BENCHMARKS.md as ratios
//! against baselines measured in the same run.
//!
//! - `run/*`: instantiate + run a cached module (the per-candidate-run cost), against
//!   `python3 -c pass` in a subprocess (what a Python optimizer pays per candidate).
//! - `fuel/*`: a float kernel with fuel metering on and off (what the cost metric costs).
//! - `compile/*`: a C compile that misses every cache, against disk-cache and in-process hits.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hone_sandbox::{Compilation, Language, Limits, Program, RunStatus, Sandbox, SandboxConfig};

const TRIVIAL_WAT: &str = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;

const HELLO_C: &str = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n";

/// Dense 96x96 double matrix product: ~0.9 M multiply-adds plus sin/cos set-up.
const MATMUL_C: &str = r#"
#include <math.h>
#include <stdio.h>
#define N 96
static double a[N * N], b[N * N], c[N * N];
int main(void) {
  for (int i = 0; i < N * N; i++) { a[i] = sin(i * 0.001); b[i] = cos(i * 0.002); }
  for (int i = 0; i < N; i++)
    for (int k = 0; k < N; k++) {
      double aik = a[i * N + k];
      for (int j = 0; j < N; j++) c[i * N + j] += aik * b[k * N + j];
    }
  double trace = 0;
  for (int i = 0; i < N; i++) trace += c[i * N + i];
  printf("%.6f\n", trace);
  return 0;
}
"#;

fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("hone-bench-cache")
}

fn sandbox(meter_fuel: bool) -> Sandbox {
    Sandbox::new(SandboxConfig {
        cache_dir: Some(cache_dir()),
        meter_fuel,
        ..SandboxConfig::default()
    })
    .unwrap_or_else(|e| panic!("sandbox: {e}"))
}

fn compile(sandbox: &Sandbox, language: Language, source: &str) -> Program {
    match sandbox.compile(language, source) {
        Ok(Compilation::Ready(program)) => program,
        Ok(Compilation::Rejected(d)) => panic!("did not compile:\n{d}"),
        Err(e) => panic!("sandbox error: {e}"),
    }
}

/// The interpreter itself, not a shim script in front of it (pyenv's would add ~20 ms).
fn python() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let path = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn run_benches(c: &mut Criterion) {
    let sandbox = sandbox(true);
    let limits = Limits::default();
    let mut group = c.benchmark_group("run");
    let trivial = compile(&sandbox, Language::Wat, TRIVIAL_WAT);
    group.bench_function("trivial_wat", |b| {
        b.iter(|| {
            let outcome = sandbox.run(&trivial, b"", &limits).unwrap();
            assert_eq!(outcome.status, RunStatus::Ok);
            black_box(outcome)
        })
    });
    let hello = compile(&sandbox, Language::C, HELLO_C);
    group.bench_function("hello_c", |b| {
        b.iter(|| {
            let outcome = sandbox.run(&hello, b"", &limits).unwrap();
            assert_eq!(outcome.stdout, b"hello\n");
            black_box(outcome)
        })
    });
    match python() {
        Some(python) => {
            group
                .sample_size(20)
                .measurement_time(Duration::from_secs(5));
            // As a Python optimizer runs a candidate, and with no site packages at all
            // (`-S -I`: the cheapest interpreter start, the most generous baseline).
            for (name, args) in [
                ("python3_c_pass", &["-c", "pass"][..]),
                ("python3_SI_c_pass", &["-S", "-I", "-c", "pass"][..]),
            ] {
                group.bench_function(name, |b| {
                    b.iter(|| {
                        let status = Command::new(&python)
                            .args(args)
                            .stdin(Stdio::null())
                            .stdout(Stdio::null())
                            .status()
                            .unwrap();
                        assert!(status.success());
                    })
                });
            }
        }
        None => eprintln!("python3 not found: skipping the interpreter baseline"),
    }
    group.finish();
}

fn fuel_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("fuel");
    group.sample_size(30);
    let limits = Limits::default();
    for (name, meter_fuel) in [("matmul96_fuel_on", true), ("matmul96_fuel_off", false)] {
        let sandbox = sandbox(meter_fuel);
        let program = compile(&sandbox, Language::C, MATMUL_C);
        let expected = sandbox.run(&program, b"", &limits).unwrap();
        assert_eq!(expected.status, RunStatus::Ok);
        group.bench_function(name, |b| {
            b.iter(|| {
                let outcome = sandbox.run(&program, b"", &limits).unwrap();
                assert_eq!(outcome.stdout, expected.stdout);
                black_box(outcome)
            })
        });
    }
    group.finish();
}

fn compile_benches(c: &mut Criterion) {
    let sandbox = sandbox(true);
    let mut group = c.benchmark_group("compile");
    // Each iteration's source gives a different module (the constant lands in the data
    // segment), so it misses the source cache, the artifact cache and the in-process memo.
    static UNIQUE: AtomicU64 = AtomicU64::new(0);
    let salt = std::process::id();
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("c_miss", |b| {
        b.iter(|| {
            let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
            let source = format!("{HELLO_C}volatile long long unique = {salt}{n}LL;\n");
            black_box(compile(&sandbox, Language::C, &source))
        })
    });
    group
        .sample_size(100)
        .measurement_time(Duration::from_secs(3));
    compile(&sandbox, Language::C, HELLO_C);
    group.bench_function("c_disk_hit", |b| {
        b.iter(|| {
            sandbox.forget_programs();
            black_box(compile(&sandbox, Language::C, HELLO_C))
        })
    });
    group.bench_function("c_memo_hit", |b| {
        b.iter(|| black_box(compile(&sandbox, Language::C, HELLO_C)))
    });
    group.finish();
}

criterion_group!(benches, run_benches, fuel_benches, compile_benches);
criterion_main!(benches);
