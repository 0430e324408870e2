//! Native objective throughput: one full evaluation of the SOR sequence (200 systems,
//! omega = 1.7) in native Rust against the same objective written in C and run in the
//! sandbox (`tasks/library/params/sor-sandboxed/objective.c`). The ratio is what the native
//! hot path buys.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use hone_sandbox::{Language, Limits, Sandbox, SandboxConfig};
use hone_tasks::objectives::sor::{SorConfig, SorSequence};

fn sor(c: &mut Criterion) {
    let config = SorConfig::default();
    let mut group = c.benchmark_group("sor_sequence_omega_1.7");
    group.sample_size(10);

    group.bench_function("native", |b| {
        // Generation is part of a task's load, not of an evaluation.
        let sequence = SorSequence::generate(&config, config.seed);
        b.iter(|| black_box(sequence.total_iterations(black_box(1.7))))
    });

    let source_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("library/params/sor-sandboxed/objective.c");
    let source = std::fs::read_to_string(&source_path).expect("the bench's C objective exists");
    let cache_dir = std::env::temp_dir().join("hone-test-cache");
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(cache_dir),
        ..SandboxConfig::default()
    })
    .expect("a sandbox");
    match sandbox
        .compile(Language::C, &source)
        .expect("the compiler runs")
        .program()
    {
        Ok(program) => {
            let limits = Limits {
                fuel: None,
                ..Limits::default()
            };
            let native = SorSequence::generate(&config, config.seed).total_iterations(1.7);
            let outcome = sandbox
                .run(&program, br#"{"omega": 1.7}"#, &limits)
                .expect("the sandbox runs");
            let sandboxed: u64 = outcome
                .stdout_text()
                .lines()
                .next()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            assert_eq!(
                native, sandboxed,
                "native and sandboxed objectives must agree"
            );
            eprintln!(
                "sandboxed run: {} fuel, {:?} wall",
                outcome.fuel_used, outcome.wall
            );
            group.bench_function("sandboxed", |b| {
                b.iter(|| {
                    black_box(
                        sandbox
                            .run(&program, br#"{"omega": 1.7}"#, &limits)
                            .map(|o| o.fuel_used),
                    )
                })
            });
        }
        Err(diagnostics) => {
            eprintln!("skipping the sandboxed bench: objective.c does not compile:\n{diagnostics}")
        }
    }
    group.finish();
}

criterion_group!(benches, sor);
criterion_main!(benches);
