//! Turnaround of a new C candidate: compiled and scored on pair-count's visible tests, the
//! way a run meets every new candidate (a changed constant: a new source and a new module,
//! so neither the compile cache nor the machine-code cache can answer).
//! `#[ignore]`d: a benchmark that prints figures, not a test of them. Run:
//! `cargo test -p hone-tasks --test all turnaround -- --ignored --nocapture`
//! (`HONE_TURNAROUND_ROUNDS`, 30 by default).

use std::time::{Duration, Instant};

use hone_sandbox::{Compilation, Language, Sandbox, SandboxConfig};
use hone_tasks::{Candidate, Task};

use crate::support::library;

#[allow(
    clippy::disallowed_methods,
    reason = "a benchmark's round count comes from the environment"
)]
fn rounds() -> usize {
    std::env::var("HONE_TURNAROUND_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

/// CPU time this process and its waited-for children (the confined compilers) have used,
/// in clock ticks (`/proc/self/stat`: utime, stime, cutime, cstime).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let after = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11..15]
        .iter()
        .map(|f| f.parse::<u64>().expect("a tick count"))
        .sum()
}

/// Milliseconds of `ticks` (the kernel's USER_HZ is 100 on Linux).
fn ticks_ms(ticks: u64) -> f64 {
    ticks as f64 * 10.0
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

/// Wall times of one phase, and the CPU ticks it used over every round.
#[derive(Default)]
struct Phase {
    wall: Vec<Duration>,
    ticks: u64,
}

impl Phase {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (ticks, started) = (cpu_ticks(), Instant::now());
        let out = f();
        self.wall.push(started.elapsed());
        self.ticks += cpu_ticks() - ticks;
        out
    }

    fn line(self, name: &str) {
        let rounds = self.wall.len();
        let mut sorted = self.wall.clone();
        sorted.sort();
        println!(
            "turnaround {name}: median {:.1} ms (min {:.1}, max {:.1}, {rounds} rounds); \
             CPU {:.1} ms a round",
            median(self.wall),
            sorted[0].as_secs_f64() * 1e3,
            sorted[rounds - 1].as_secs_f64() * 1e3,
            ticks_ms(self.ticks) / rounds as f64,
        );
    }
}

#[test]
#[ignore = "a benchmark: prints figures"]
fn turnaround_of_a_new_c_candidate() {
    // Without Cranelift's function cache first (every module compiled whole), then with
    // it, in one run.
    for function_cache in [false, true] {
        println!("turnaround: function cache {function_cache}");
        measure(function_cache);
    }
}

fn measure(function_cache: bool) {
    let cache = tempfile::tempdir().expect("cache dir");
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        function_cache,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let task = Task::load(&library("efficiency", "pair-count"), &sandbox).expect("pair-count");
    let seed = task.seeds[0].files["main.c"].clone();
    let mut variant = 0u32;
    // A new candidate: the seed with another brute-force threshold (every visible test
    // stays below it, so every variant runs the same code path and passes).
    let mut next = || {
        variant += 1;
        let source = seed.replace(
            "#define BRUTE_FORCE_MAX_N 20000 //",
            &format!("#define BRUTE_FORCE_MAX_N {} //", 20_000 + variant),
        );
        assert_ne!(source, seed, "the seed's threshold line moved");
        source
    };
    // Warm-up: the seed's own evaluation, page cache, first use of every path.
    for _ in 0..3 {
        let evaluation = task.evaluate(&Candidate::from_file("main.c", next()));
        assert!(evaluation.valid, "{}", evaluation.feedback);
    }
    let (mut whole, mut clang) = (Phase::default(), Phase::default());
    let (mut cranelift, mut tests) = (Phase::default(), Phase::default());
    for _ in 0..rounds() {
        // End to end: what a run's step pays.
        let source = next();
        let evaluation = whole.time(|| task.evaluate(&Candidate::from_file("main.c", source)));
        assert!(evaluation.valid, "{}", evaluation.feedback);

        // The same, phase by phase, on another new candidate.
        let source = next();
        let wasm = clang
            .time(|| sandbox.compile_to_wasm(Language::C, &source))
            .expect("compile")
            .expect("clang accepts the variant");
        match cranelift.time(|| sandbox.load_wasm(&wasm)).expect("load") {
            Compilation::Ready(_) => {}
            Compilation::Rejected(reason) => panic!("{reason}"),
        }
        // Compiled now (the wasm on disk, the machine code in memory): the tests alone.
        let evaluation = tests.time(|| task.evaluate(&Candidate::from_file("main.c", source)));
        assert!(evaluation.valid, "{}", evaluation.feedback);
    }
    whole.line("new candidate compiled and scored");
    clang.line("clang in bubblewrap (wasm)");
    cranelift.line("cranelift (machine code)");
    tests.line("visible tests (compiled)");
}
