//! The hostile-candidate suite for C++ (clang, libc++, `-fno-exceptions`): what the C and
//! Rust suite checks, through the C++ library's own doors (`std::ifstream`, `std::getenv`,
//! `std::vector` growth, `std::cout`), plus what only C++ has: `throw`, a template
//! instantiation bomb, `<bits/stdc++.h>`; and the clocks contest code reads.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hone_sandbox::{
    Compilation, CompilerConfig, Language, Limits, Program, RunStatus, Sandbox, SandboxConfig,
};

use crate::support::{assert_trap, program, quick_limits, rejected, run};

/// A C++ program that misbehaves as told on stdin (`<command> [argument]`), like
/// `HOSTILE_C`.
const HOSTILE_CPP: &str = r#"
#include <bits/stdc++.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
using namespace std;

extern char **environ;
vector<vector<char>> keep;
volatile int zero = 0;

int main() {
  string cmd;
  long long arg = 0;
  if (!(cin >> cmd)) return 2;
  cin >> arg;
  if (cmd == "loop") { volatile unsigned long x = 0; for (;;) x = x + 1; }
  if (cmd == "bomb") { for (;;) keep.emplace_back(1 << 20, 'x'); }
  if (cmd == "big") { keep.emplace_back((size_t)1 << 30, 'x'); cout << (int)keep.back()[12345 + zero] << endl; return 0; }
  if (cmd == "flood") {
    string block(1 << 20, 'x');
    for (int i = 0; i < 1024; i++) (arg ? cerr : cout) << block;
    cout << "done" << endl;
    return 0;
  }
  if (cmd == "passwd") {
    ifstream f("/etc/passwd");
    if (f) { cout << f.rdbuf(); return 0; }
    ifstream g("passwd"), h("../../../../etc/passwd");
    FILE *p = fopen("/etc/passwd", "r");
    cout << "no file " << bool(g) << ' ' << bool(h) << ' ' << (p != nullptr) << endl;
    return 0;
  }
  if (cmd == "env") {
    int n = 0;
    for (char **e = environ; e && *e; e++) n++;
    cout << n << ' ' << (getenv("PATH") ? "PATH" : "-") << ' ' << (getenv("HOME") ? "HOME" : "-") << endl;
    return 0;
  }
  if (cmd == "socket") {
    // WASI preview 1 has no socket(); an inherited descriptor is the only way in.
    int a = accept(3, nullptr, nullptr);
    int e1 = errno;
    char buf[8];
    ssize_t r = recv(4, buf, sizeof buf, 0);
    int e2 = errno;
    cout << a << ' ' << e1 << ' ' << r << ' ' << e2 << endl;
    return 0;
  }
  if (cmd == "abort") { vector<int> v; return v.at(5 + zero); }
  if (cmd == "div0") { cout << (int)arg / zero << endl; return 0; }
  if (cmd == "recurse") { function<int(int)> f = [&](int n) { return n < 0 ? 0 : f(n + 1) + f(n - 1 - zero); }; return f(0); }
  if (cmd == "clocks") {
    // Every clock a contest entry reads: seconds on each after burning `arg` loop rounds.
    auto s0 = chrono::steady_clock::now();
    auto w0 = chrono::system_clock::now();
    auto h0 = chrono::high_resolution_clock::now();
    clock_t c0 = clock();
    timespec m0, p0;
    clock_gettime(CLOCK_MONOTONIC, &m0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p0);
    timeval t0;
    gettimeofday(&t0, nullptr);
    time_t now = time(nullptr);
    volatile unsigned long long x = 0;
    for (long long i = 0; i < arg; i++) x = x + i;
    auto s1 = chrono::steady_clock::now();
    auto w1 = chrono::system_clock::now();
    auto h1 = chrono::high_resolution_clock::now();
    clock_t c1 = clock();
    timespec m1, p1;
    clock_gettime(CLOCK_MONOTONIC, &m1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p1);
    timeval t1;
    gettimeofday(&t1, nullptr);
    auto secs = [](auto d) { return chrono::duration<double>(d).count(); };
    printf("steady %.6f\nsystem %.6f\nhigh_resolution %.6f\nclock %.6f\nmonotonic %.6f\ncputime %.6f\ngettimeofday %.6f\ntime %lld\n",
           secs(s1 - s0), secs(w1 - w0), secs(h1 - h0), double(c1 - c0) / CLOCKS_PER_SEC,
           (m1.tv_sec - m0.tv_sec) + (m1.tv_nsec - m0.tv_nsec) * 1e-9,
           (p1.tv_sec - p0.tv_sec) + (p1.tv_nsec - p0.tv_nsec) * 1e-9,
           (t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) * 1e-6, (long long)now);
    return 0;
  }
  if (cmd == "deadline") {
    // The contest idiom: search until a time limit of `arg` milliseconds.
    auto start = chrono::steady_clock::now();
    mt19937 rng(1);
    unsigned long long best = 0, rounds = 0;
    while (chrono::duration_cast<chrono::milliseconds>(chrono::steady_clock::now() - start).count() < arg) {
      best = max<unsigned long long>(best, rng());
      rounds++;
    }
    cout << rounds << ' ' << best << endl;
    return 0;
  }
  return 2;
}
"#;

fn hostile_cpp() -> &'static Program {
    static PROGRAM: OnceLock<Program> = OnceLock::new();
    PROGRAM.get_or_init(|| program(Language::Cpp, HOSTILE_CPP))
}

#[test]
fn a_cpp_program_runs_with_the_same_fuel_every_time() {
    let p = program(
        Language::Cpp,
        "#include <bits/stdc++.h>\nusing namespace std;\nint main() { long long a, b; cin >> a >> b; vector<long long> v{a, b}; sort(v.rbegin(), v.rend()); map<string, long long> m{{\"sum\", a + b}}; cout << m[\"sum\"] << ' ' << v[0] << endl; }\n",
    );
    let first = run(&p, "40 2\n", &Limits::default());
    assert_eq!(first.status, RunStatus::Ok, "{}", first.stderr);
    assert_eq!(first.stdout_text(), "42 40\n");
    for _ in 0..4 {
        let again = run(&p, "40 2\n", &Limits::default());
        assert_eq!(
            (again.fuel_used, &again.stdout, again.peak_memory_bytes),
            (first.fuel_used, &first.stdout, first.peak_memory_bytes)
        );
    }
}

#[test]
fn cpp_candidates_reach_no_host_file_environment_or_socket() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let first_line = passwd.lines().next().unwrap_or("root:x:0:0");
    let outcome = run(hostile_cpp(), "passwd", &quick_limits());
    assert_eq!(outcome.status, RunStatus::Ok, "{}", outcome.stderr);
    assert_eq!(outcome.stdout_text(), "no file 0 0 0\n");
    assert!(!outcome.stderr.contains(first_line));

    let outcome = run(hostile_cpp(), "env", &quick_limits());
    assert_eq!(outcome.stdout_text(), "0 - -\n");

    // sock_accept and sock_recv answer ENOSYS (52) or EBADF (8); nothing connects.
    let outcome = run(hostile_cpp(), "socket", &quick_limits());
    assert_eq!(outcome.status, RunStatus::Ok, "{}", outcome.stderr);
    let fields: Vec<i64> = outcome
        .stdout_text()
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(fields.len(), 4, "{}", outcome.stdout_text());
    assert_eq!((fields[0], fields[2]), (-1, -1), "both calls fail");
    assert!([8, 52].contains(&fields[1]) && [8, 52].contains(&fields[3]));
}

#[test]
fn cpp_loops_bombs_floods_and_aborts_end_with_their_status() {
    let outcome = run(
        hostile_cpp(),
        "loop",
        &Limits {
            fuel: Some(5_000_000),
            ..Limits::default()
        },
    );
    assert_eq!(outcome.status, RunStatus::FuelExhausted);
    assert_eq!(outcome.fuel_used, 5_000_000);
    let outcome = run(
        hostile_cpp(),
        "loop",
        &Limits {
            fuel: None,
            timeout: Duration::from_millis(300),
            ..Limits::default()
        },
    );
    assert_eq!(outcome.status, RunStatus::Timeout);

    // Without exceptions a failed `new` aborts; the denied memory.grow names the cause.
    let limits = Limits {
        memory_bytes: 48 << 20,
        ..Limits::default()
    };
    for command in ["bomb", "big"] {
        let outcome = run(hostile_cpp(), command, &limits);
        assert_eq!(
            outcome.status,
            RunStatus::MemoryExceeded,
            "{command}: {}",
            outcome.stderr
        );
        assert!(outcome.peak_memory_bytes <= 48 << 20);
    }

    let started = Instant::now();
    let outcome = run(
        hostile_cpp(),
        "flood 0",
        &Limits {
            stdout_bytes: 1 << 20,
            ..Limits::default()
        },
    );
    assert_eq!(
        outcome.status,
        RunStatus::OutputExceeded {
            stream: "stdout".into()
        }
    );
    assert_eq!(outcome.stdout.len(), 1 << 20);
    assert!(started.elapsed() < Duration::from_secs(10));

    // vector::at out of range: libc++ without exceptions aborts, an `unreachable` trap.
    assert_trap(
        &run(hostile_cpp(), "abort", &quick_limits()),
        &["unreachable"],
    );
    assert_trap(
        &run(hostile_cpp(), "div0 1", &quick_limits()),
        &["integer_divide_by_zero"],
    );
    assert_trap(
        &run(hostile_cpp(), "recurse", &Limits::default()),
        &["stack_overflow", "memory_out_of_bounds"],
    );
}

/// Every clock a contest entry reads advances with fuel (1 ns per unit), so `arg` rounds of
/// a loop read as the same duration on each, and the same on every run.
#[test]
fn every_contest_clock_follows_the_virtual_clock() {
    let outcomes: Vec<_> = (0..3)
        .map(|_| run(hostile_cpp(), "clocks 20000000", &Limits::default()))
        .collect();
    let first = &outcomes[0];
    assert_eq!(first.status, RunStatus::Ok, "{}", first.stderr);
    let text = first.stdout_text();
    let mut seconds = std::collections::BTreeMap::new();
    for line in text.lines() {
        let (name, value) = line.split_once(' ').unwrap();
        seconds.insert(name.to_string(), value.parse::<f64>().unwrap());
    }
    // The virtual wall clock starts at 2024-01-01T00:00:00Z.
    let start = seconds.remove("time").unwrap();
    assert!(
        (1_704_067_200.0..1_704_067_260.0).contains(&start),
        "{start}"
    );
    assert_eq!(seconds.len(), 7, "{text}");
    let loop_seconds = seconds["steady"];
    assert!(
        loop_seconds > 0.01 && loop_seconds < first.fuel_used as f64 * 1e-9,
        "{text} (fuel {})",
        first.fuel_used
    );
    for (name, value) in &seconds {
        assert!(
            (value - loop_seconds).abs() < 0.002,
            "{name} measured {value} s, steady_clock {loop_seconds} s\n{text}"
        );
    }
    for other in &outcomes[1..] {
        assert_eq!(
            (other.fuel_used, &other.stdout),
            (first.fuel_used, &first.stdout)
        );
    }
}

/// A search that runs until a time limit stops after the same number of rounds on every
/// run, and a longer limit costs proportionally more fuel.
#[test]
fn a_time_limited_search_stops_deterministically() {
    let runs: Vec<_> = (0..3)
        .map(|_| run(hostile_cpp(), "deadline 50", &Limits::default()))
        .collect();
    let first = &runs[0];
    assert_eq!(first.status, RunStatus::Ok, "{}", first.stderr);
    // Each clock read also advances the clock by a tick, so slightly less than 5e7 fuel.
    assert!(
        (45_000_000..55_000_000).contains(&first.fuel_used),
        "50 ms of virtual time is about 5e7 fuel, not {}",
        first.fuel_used
    );
    for other in &runs[1..] {
        assert_eq!(
            (other.fuel_used, &other.stdout),
            (first.fuel_used, &first.stdout)
        );
    }
    let longer = run(hostile_cpp(), "deadline 100", &Limits::default());
    assert!(longer.fuel_used > first.fuel_used + 45_000_000);
}

#[test]
fn c_clock_links_and_follows_the_virtual_clock() {
    let p = program(
        Language::C,
        "#include <stdio.h>\n#include <time.h>\n#include <sys/time.h>\nint main(void) { clock_t c0 = clock(); struct timeval t0, t1; gettimeofday(&t0, 0); time_t w = time(0); volatile unsigned long x = 0; for (long i = 0; i < 10000000; i++) x += i; clock_t c1 = clock(); gettimeofday(&t1, 0); printf(\"%.4f %.4f %lld\\n\", (double)(c1 - c0) / CLOCKS_PER_SEC, (t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) * 1e-6, (long long)w); return 0; }\n",
    );
    let first = run(&p, "", &Limits::default());
    assert_eq!(first.status, RunStatus::Ok, "{}", first.stderr);
    let fields: Vec<f64> = first
        .stdout_text()
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    assert!(fields[0] > 0.005, "{}", first.stdout_text());
    assert!(
        (fields[0] - fields[1]).abs() < 0.002,
        "{}",
        first.stdout_text()
    );
    assert!((1_704_067_200.0..1_704_067_260.0).contains(&fields[2]));
    let again = run(&p, "", &Limits::default());
    assert_eq!(
        (again.fuel_used, &again.stdout),
        (first.fuel_used, &first.stdout)
    );
}

#[test]
fn bits_stdcxx_compiles_and_unavailable_headers_are_named() {
    // The whole shim, used as contest code does.
    let p = program(
        Language::Cpp,
        "#include <bits/stdc++.h>\nusing namespace std;\nint main() { priority_queue<pair<int, string>> q; q.push({2, \"b\"}); unordered_map<int, bitset<8>> m; m[1].set(3); optional<int> o = 4; cout << q.top().second << m[1].count() << *o << gcd(12, 18) << endl; }\n",
    );
    assert_eq!(run(&p, "", &quick_limits()).stdout_text(), "b146\n");
    // A header this target lacks: the error names it.
    let missing = rejected(
        Language::Cpp,
        "#include <ext/pb_ds/assoc_container.hpp>\nint main() {}\n",
    );
    assert!(
        missing.contains("'ext/pb_ds/assoc_container.hpp' file not found"),
        "{missing}"
    );
    let thread = rejected(Language::Cpp, "#include <thread>\nint main() {}\n");
    assert!(thread.contains("<thread>"), "{thread}");
    assert!(
        thread.contains("candidates run single-threaded"),
        "{thread}"
    );
}

#[test]
fn throwing_is_a_clear_compile_error() {
    let diagnostics = rejected(
        Language::Cpp,
        "#include <stdexcept>\nint main() { try { throw std::runtime_error(\"x\"); } catch (...) { return 1; } }\n",
    );
    assert!(
        diagnostics.contains("with exceptions disabled"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("compiled with -fno-exceptions"),
        "{diagnostics}"
    );
}

#[test]
fn cpp_host_file_includes_do_not_leak() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let first_line = passwd.lines().next().unwrap_or("root:x:0:0").to_string();
    for source in [
        "#include \"/etc/passwd\"\nint main() {}\n",
        "#include <../../../../etc/passwd>\nint main() {}\n",
        "static const char s[] = {\n#include \"/etc/passwd\"\n};\nint main() { return s[0]; }\n",
    ] {
        let diagnostics = rejected(Language::Cpp, source);
        assert!(!diagnostics.contains(&first_line), "{diagnostics}");
    }
}

/// Templates that instantiate 2^40 distinct types: the compile ends at the time or memory
/// limit with a message saying so, and leaves no process behind.
#[test]
fn a_template_bomb_hits_the_compile_limit() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(SandboxConfig {
        compilers: CompilerConfig {
            timeout: Duration::from_secs(3),
            memory_bytes: 2 << 30,
            scratch_dir: Some(dir.path().join("scratch")),
            ..CompilerConfig::default()
        },
        max_concurrent_runs: 2,
        ..SandboxConfig::default()
    })
    .unwrap();
    let bomb = "template <int N, unsigned M> struct X { static constexpr unsigned v = X<N - 1, 2 * M>::v + X<N - 1, 2 * M + 1>::v; };\n\
        template <unsigned M> struct X<0, M> { static constexpr unsigned v = M; };\n\
        int main() { return X<40, 0>::v & 1; }\n";
    let started = Instant::now();
    match sandbox.compile(Language::Cpp, bomb) {
        Ok(Compilation::Rejected(message)) => assert!(
            message.contains("did not finish within 3.0 s") || message.contains("memory"),
            "{message}"
        ),
        Ok(Compilation::Ready(_)) => panic!("the template bomb compiled"),
        Err(e) => panic!("sandbox error {e}"),
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    let left: Vec<_> = std::fs::read_dir(dir.path().join("scratch"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "scratch directories left behind");
    assert_eq!(
        crate::support::processes_of_compiles_under(&dir.path().join("scratch")),
        Vec::<u32>::new()
    );
}
