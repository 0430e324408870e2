//! Engine-level guarantees: runs from many threads at once, waiting for a pool slot when all
//! are busy; the sandbox-wide memory cap; peak memory; output at exactly its cap; the
//! fuel-off switch used by benchmarks.

use std::time::Duration;

use hone_sandbox::{Language, Limits, RunStatus, Sandbox, SandboxConfig};

use crate::support::{HOSTILE_C, cache_dir, compile_with, hostile, program, run, sandbox};

#[test]
fn many_threads_run_one_program_at_once_with_identical_results() {
    let p = hostile(Language::Rust);
    let expected = run(p, "random", &Limits::default());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| {
                    (0..5)
                        .map(|_| sandbox().run(p, b"random", &Limits::default()).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            for outcome in handle.join().unwrap() {
                assert_eq!(
                    (&outcome.status, outcome.fuel_used, &outcome.stdout),
                    (&expected.status, expected.fuel_used, &expected.stdout)
                );
            }
        }
    });
}

#[test]
fn runs_beyond_the_pool_size_wait_for_a_slot() {
    let small = Sandbox::new(SandboxConfig {
        cache_dir: Some(cache_dir()),
        max_concurrent_runs: 2,
        ..SandboxConfig::default()
    })
    .unwrap();
    let p = compile_with(&small, Language::C, HOSTILE_C);
    let expected = small.run(&p, b"clock 2000000", &Limits::default()).unwrap();
    assert_eq!(expected.status, RunStatus::Ok);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|_| scope.spawn(|| small.run(&p, b"clock 2000000", &Limits::default())))
            .collect();
        for handle in handles {
            let outcome = handle
                .join()
                .unwrap()
                .expect("a run waits for a slot instead of failing");
            assert_eq!(
                (&outcome.status, outcome.fuel_used, &outcome.stdout),
                (&expected.status, expected.fuel_used, &expected.stdout)
            );
        }
    });
}

#[test]
fn the_sandbox_caps_every_run_memory_limit() {
    let capped = Sandbox::new(SandboxConfig {
        cache_dir: Some(cache_dir()),
        max_memory_bytes: 24 << 20,
        ..SandboxConfig::default()
    })
    .unwrap();
    let p = compile_with(&capped, Language::C, HOSTILE_C);
    let outcome = capped
        .run(
            &p,
            b"bomb",
            &Limits {
                memory_bytes: 1 << 30,
                ..Limits::default()
            },
        )
        .unwrap();
    assert_eq!(outcome.status, RunStatus::MemoryExceeded);
    assert!(
        outcome.peak_memory_bytes <= 24 << 20,
        "{}",
        outcome.peak_memory_bytes
    );
}

#[test]
fn peak_memory_is_the_largest_size_reached() {
    let p = program(
        Language::Wat,
        r#"(module (memory (export "memory") 2)
             (func (export "_start") (drop (memory.grow (i32.const 3))) (drop (memory.grow (i32.const 1)))))"#,
    );
    let outcome = run(&p, "", &Limits::default());
    assert_eq!(outcome.status, RunStatus::Ok);
    assert_eq!(outcome.peak_memory_bytes, 6 * 65536);
    // An initial memory above the limit fails at instantiation, with the same status.
    let outcome = run(
        &p,
        "",
        &Limits {
            memory_bytes: 65536,
            ..Limits::default()
        },
    );
    assert_eq!(outcome.status, RunStatus::MemoryExceeded);
}

#[test]
fn stdout_exactly_at_its_cap_is_fine_one_more_byte_is_not() {
    let writer = |bytes: u32| {
        format!(
            r#"(module
                 (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
                 (memory (export "memory") 1)
                 (func (export "_start")
                   (i32.store (i32.const 0) (i32.const 64))
                   (i32.store (i32.const 4) (i32.const {bytes}))
                   (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#
        )
    };
    let limits = Limits {
        stdout_bytes: 1000,
        ..Limits::default()
    };
    let outcome = run(&program(Language::Wat, &writer(1000)), "", &limits);
    assert_eq!(outcome.status, RunStatus::Ok);
    assert_eq!(outcome.stdout.len(), 1000);
    let outcome = run(&program(Language::Wat, &writer(1001)), "", &limits);
    assert_eq!(
        outcome.status,
        RunStatus::OutputExceeded {
            stream: "stdout".into()
        }
    );
    assert_eq!(outcome.stdout.len(), 1000);
}

#[test]
fn without_fuel_metering_runs_are_bounded_by_the_deadline() {
    let unmetered = Sandbox::new(SandboxConfig {
        cache_dir: Some(cache_dir()),
        meter_fuel: false,
        ..SandboxConfig::default()
    })
    .unwrap();
    let p = compile_with(&unmetered, Language::C, HOSTILE_C);
    let outcome = unmetered.run(&p, b"random", &Limits::default()).unwrap();
    assert_eq!(outcome.status, RunStatus::Ok);
    assert_eq!(outcome.fuel_used, 0);
    assert_eq!(
        outcome.stdout,
        run(hostile(Language::C), "random", &Limits::default()).stdout
    );
    let limits = Limits {
        fuel: Some(1000),
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    assert_eq!(
        unmetered.run(&p, b"loop", &limits).unwrap().status,
        RunStatus::Timeout
    );
}

#[test]
fn a_program_runs_only_in_the_sandbox_that_made_it() {
    let other = Sandbox::new(SandboxConfig::default()).unwrap();
    let p = program(
        Language::Wat,
        r#"(module (memory (export "memory") 1) (func (export "_start")))"#,
    );
    let error = other.run(&p, b"", &Limits::default()).unwrap_err();
    assert!(error.to_string().contains("another Sandbox"), "{error}");
}
