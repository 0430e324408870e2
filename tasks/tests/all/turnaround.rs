//! Turnaround of a new candidate: compiled and scored on pair-count's visible tests, the
//! way a run meets every new candidate (a changed constant: a new source and a new module,
//! so neither the compile cache nor the machine-code cache can answer). C (pair-count's
//! seed) with the `clang` binary and with the warm compiler, without and with Cranelift's
//! function cache; C++ (the seed in contest style, `<bits/stdc++.h>` first, so the
//! precompiled header applies) both ways; Rust (the seed in Rust) with rustc.
//! `#[ignore]`d: a benchmark that prints figures, not a test of them. Run:
//! `cargo test -p hone-tasks --test all turnaround -- --ignored --nocapture`
//! (`HONE_TURNAROUND_ROUNDS`, 30 by default).

use std::path::Path;
use std::time::{Duration, Instant};

use hone_sandbox::{Compilation, CompilerConfig, Language, Sandbox, SandboxConfig};
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

/// pair-count's seed in C++, contest style (what a model writing C++ starts from).
const SEED_CPP: &str = r#"// Pair count: pairs i < j with a[i] + a[j] == K.
#include <bits/stdc++.h>
using namespace std;

#define BRUTE_FORCE_MAX_N 20000 // small arrays pair by pair, large ones sorted

int main() {
    int n;
    long long k;
    if (scanf("%d %lld", &n, &k) != 2) return 1;
    vector<long long> a(n);
    for (auto &x : a)
        if (scanf("%lld", &x) != 1) return 1;
    long long count = 0;
    if (n <= BRUTE_FORCE_MAX_N) {
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (a[i] + a[j] == k) count++;
    } else {
        sort(a.begin(), a.end());
        int i = 0, j = n - 1;
        while (i < j) {
            long long s = a[i] + a[j];
            if (s < k) {
                i++;
            } else if (s > k) {
                j--;
            } else if (a[i] == a[j]) {
                long long m = j - i + 1;
                count += m * (m - 1) / 2;
                break;
            } else {
                long long ci = 1, cj = 1;
                while (i + ci < j && a[i + ci] == a[i]) ci++;
                while (j - cj > i && a[j - cj] == a[j]) cj++;
                count += ci * cj;
                i += ci;
                j -= cj;
            }
        }
    }
    printf("%lld\n", count);
}
"#;

/// pair-count's seed in Rust.
const SEED_RUST: &str = r#"// Pair count: pairs i < j with a[i] + a[j] == K.
use std::io::Read;

const BRUTE_FORCE_MAX_N: usize = 20000; // small arrays pair by pair, large ones sorted

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let mut numbers = input.split_ascii_whitespace().map(|t| t.parse::<i64>().unwrap());
    let n = numbers.next().unwrap() as usize;
    let k = numbers.next().unwrap();
    let mut a: Vec<i64> = numbers.take(n).collect();
    let mut count: i64 = 0;
    if n <= BRUTE_FORCE_MAX_N {
        for i in 0..n {
            for j in i + 1..n {
                if a[i] + a[j] == k {
                    count += 1;
                }
            }
        }
    } else {
        a.sort_unstable();
        let (mut i, mut j) = (0, n - 1);
        while i < j {
            let s = a[i] + a[j];
            if s < k {
                i += 1;
            } else if s > k {
                j -= 1;
            } else if a[i] == a[j] {
                let m = (j - i + 1) as i64;
                count += m * (m - 1) / 2;
                break;
            } else {
                let (mut ci, mut cj) = (1, 1);
                while i + ci < j && a[i + ci] == a[i] {
                    ci += 1;
                }
                while j - cj > i && a[j - cj] == a[j] {
                    cj += 1;
                }
                count += (ci * cj) as i64;
                i += ci;
                j -= cj;
            }
        }
    }
    println!("{count}");
}
"#;

/// One bench row group: a language, how it is compiled, the threshold line to vary.
struct Case {
    name: &'static str,
    language: Language,
    file: &'static str,
    seed: String,
    /// The seed's threshold line up to its value, which each variant raises.
    threshold: &'static str,
    warm_compiler: bool,
    function_cache: bool,
}

#[test]
#[ignore = "a benchmark: prints figures"]
fn turnaround_of_a_new_candidate() {
    // pair-count, with C++ allowed (its task.toml allows C and Rust): a copy of its folder.
    let folder = tempfile::tempdir().expect("task folder");
    let original = library("efficiency", "pair-count");
    copy_dir(&original, folder.path());
    let manifest = folder.path().join("task.toml");
    let text = std::fs::read_to_string(&manifest).expect("task.toml");
    let allowed = text.replace(
        r#"languages = ["c", "rust"]"#,
        r#"languages = ["c", "cpp", "rust"]"#,
    );
    assert_ne!(allowed, text, "pair-count's languages line moved");
    std::fs::write(&manifest, allowed).expect("task.toml");
    let seed_c = std::fs::read_to_string(original.join("seed.c")).expect("seed.c");

    let c = |name, warm_compiler, function_cache| Case {
        name,
        language: Language::C,
        file: "main.c",
        seed: seed_c.clone(),
        threshold: "#define BRUTE_FORCE_MAX_N ",
        warm_compiler,
        function_cache,
    };
    let cpp = |name, warm_compiler| Case {
        name,
        language: Language::Cpp,
        file: "main.cpp",
        seed: SEED_CPP.to_string(),
        threshold: "#define BRUTE_FORCE_MAX_N ",
        warm_compiler,
        function_cache: true,
    };
    let cases = [
        c("C, clang binary, whole modules", false, false),
        c("C, clang binary", false, true),
        c("C, warm compiler", true, true),
        cpp("C++, clang binary", false),
        cpp("C++, warm compiler", true),
        Case {
            name: "Rust, rustc",
            language: Language::Rust,
            file: "main.rs",
            seed: SEED_RUST.to_string(),
            threshold: "const BRUTE_FORCE_MAX_N: usize = ",
            warm_compiler: false,
            function_cache: true,
        },
    ];
    for case in &cases {
        println!("turnaround: {}", case.name);
        measure(case, folder.path());
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("read folder").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn measure(case: &Case, task_dir: &Path) {
    let cache = tempfile::tempdir().expect("cache dir");
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        function_cache: case.function_cache,
        compilers: CompilerConfig {
            warm_compiler: case.warm_compiler,
            ..CompilerConfig::default()
        },
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    if case.warm_compiler
        && let Some(Err(reason)) = sandbox.toolchain_report().warm_compiler
    {
        panic!("the warm compiler is unavailable: {reason}");
    }
    let task = Task::load(task_dir, &sandbox).expect("pair-count");
    let seed_line = format!("{}20000", case.threshold);
    let mut variant = 0u32;
    // A new candidate: the seed with another brute-force threshold (every visible test
    // stays below it, so every variant runs the same code path and passes).
    let mut next = || {
        variant += 1;
        let source = case.seed.replace(
            &seed_line,
            &format!("{}{}", case.threshold, 20_000 + variant),
        );
        assert_ne!(source, case.seed, "the seed's threshold line moved");
        source
    };
    let candidate = |source: String| Candidate::from_file(case.file, source);
    // Warm-up: the seed's own evaluation, page cache, first use of every path (the
    // precompiled header).
    for _ in 0..3 {
        let evaluation = task.evaluate(&candidate(next()));
        assert!(evaluation.valid, "{}", evaluation.feedback);
    }
    let (mut whole, mut compiler) = (Phase::default(), Phase::default());
    let (mut cranelift, mut tests) = (Phase::default(), Phase::default());
    for _ in 0..rounds() {
        // End to end: what a run's step pays.
        let source = next();
        let evaluation = whole.time(|| task.evaluate(&candidate(source)));
        assert!(evaluation.valid, "{}", evaluation.feedback);

        // The same, phase by phase, on another new candidate.
        let source = next();
        let wasm = compiler
            .time(|| sandbox.compile_to_wasm(case.language, &source))
            .expect("compile")
            .unwrap_or_else(|diagnostics| panic!("the variant does not compile:\n{diagnostics}"));
        match cranelift.time(|| sandbox.load_wasm(&wasm)).expect("load") {
            Compilation::Ready(_) => {}
            Compilation::Rejected(reason) => panic!("{reason}"),
        }
        // Compiled now (the wasm on disk, the machine code in memory): the tests alone.
        let evaluation = tests.time(|| task.evaluate(&candidate(source)));
        assert!(evaluation.valid, "{}", evaluation.feedback);
    }
    whole.line("new candidate compiled and scored");
    compiler.line(if case.warm_compiler {
        "warm compiler (wasm)"
    } else {
        "compiler in bubblewrap (wasm)"
    });
    cranelift.line("cranelift (machine code)");
    tests.line("visible tests (compiled)");
}
