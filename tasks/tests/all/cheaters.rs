//! The cheater suite: for every kind, candidates that try to game the score, each of which
//! must end invalid (with the reason named) or score no higher than an honest candidate, on
//! the public score and on the private one a run reports.
//!
//! - `efficiency`: special-casing the visible tests (every bundled task), extra output,
//!   early exits with a success code, output floods.
//! - `heuristic`: special-casing the public seeds of ahc001, grid-path and tour; NaN, Inf,
//!   huge and overflowing numbers, extra output, early exits.
//! - `params`: NaN, ±Inf, huge and out-of-box values, the wrong number of values, values with
//!   extra tokens, on native and sandboxed objectives.
//! - `pde`: NaN, Inf, huge values, the wrong output size, text after the output, early exits.
//! - `counterexample`: generators that print extra output or exit early with success.
//! - Judge detection, in each kind's module: a [`probe`] records everything a candidate can
//!   observe besides its input (argv, environment, every clock, `random_get`, files of the
//!   host and of the task folder, the working directory, its memory) and the
//!   public and private evaluations must show it the same values, with the host's files and
//!   environment invisible. A candidate that sees the same thing cannot branch on it.

mod counterexample;
mod efficiency;
mod heuristic;
mod params;
mod pde;

use std::collections::BTreeMap;

use hone_tasks::{Candidate, Evaluation};

/// Exit code of the probe, so that every kind's feedback quotes its stderr.
const PROBE_EXIT: i32 = 3;

/// A C program that records what it can observe of its surroundings before it reads any
/// input, prints it to stderr as one line `OBS{key=value ...}END` and exits with
/// [`PROBE_EXIT`]. `paths` are the files and folders it tries to open (host files, the task
/// folder's files by absolute and relative path). Clocks and `random_get` are read through
/// the raw WASI imports (every clock id) and through libc (`time`).
pub(crate) fn probe(paths: &[String]) -> Candidate {
    let list: String = paths.iter().map(|p| format!("{p:?}, ")).collect::<String>();
    let source = r#"#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

__attribute__((import_module("wasi_snapshot_preview1"), import_name("clock_time_get")))
int wasi_clock_time_get(unsigned id, unsigned long long precision, unsigned long long *time);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("random_get")))
int wasi_random_get(unsigned char *buffer, unsigned length);

static const char *const paths[] = { PATHS 0 };
static char line[600];

int main(int argc, char **argv) {
    unsigned long long clocks[4] = {0};
    for (unsigned id = 0; id < 4; id++) wasi_clock_time_get(id, 1, &clocks[id]);
    long long now = (long long)time(0);
    unsigned char rnd[8] = {0};
    int rnd_errno = wasi_random_get(rnd, sizeof rnd);
    unsigned char entropy[4] = {0};
    int entropy_ok = getentropy(entropy, sizeof entropy) == 0;
    int envc = 0;
    for (char **e = environ; e && *e; e++) envc++;
    int opened = 0, tried = 0, first_errno = 0;
    for (int i = 0; paths[i]; i++) {
        tried++;
        errno = 0;
        int fd = open(paths[i], O_RDONLY);
        if (fd >= 0) {
            opened++;
            close(fd);
        } else if (!first_errno) {
            first_errno = errno;
        }
    }
    int listed = opendir(".") != 0 || opendir("/") != 0;
    char cwd[64];
    if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "none");
    unsigned long pages = __builtin_wasm_memory_size(0);
    snprintf(line, sizeof line,
             "OBS{argc=%d argv0=%s env=%d realtime=%llu monotonic=%llu cputime=%llu threadtime=%llu "
             "time=%lld random=%d:%02x%02x%02x%02x%02x%02x%02x%02x entropy=%d:%02x%02x%02x%02x "
             "opened=%d/%d errno=%d listed=%d cwd=%s pages=%lu}END\n",
             argc, argc > 0 ? argv[0] : "none", envc, clocks[0], clocks[1], clocks[2], clocks[3], now,
             rnd_errno, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], entropy_ok,
             entropy[0], entropy[1], entropy[2], entropy[3], opened, tried, first_errno, listed, cwd,
             pages);
    write(2, line, strlen(line));
    return 3;
}
"#
    .replace("PATHS", &list);
    Candidate::from_file("main.c", source)
}

/// What one run of the [`probe`] observed, by key.
pub(crate) type Observation = BTreeMap<String, String>;

/// Every observation quoted in `text` (feedback or a trace message), in order.
pub(crate) fn observations(text: &str) -> Vec<Observation> {
    text.split("OBS{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}END"))
        .map(|(fields, _)| {
            fields
                .split_whitespace()
                .filter_map(|field| field.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The single kind of observation an evaluation shows (every run it quotes saw the same),
/// checked for a sandbox that hides the host: the one argument `candidate`, no environment,
/// no file or folder opened, the virtual clocks, and `random_get` working.
pub(crate) fn observed(what: &str, evaluation: &Evaluation) -> Observation {
    let mut text = evaluation.feedback.clone();
    text.push_str(&evaluation.trace.to_string());
    let seen = observations(&text);
    let first = seen
        .first()
        .unwrap_or_else(|| panic!("{what}: no observation quoted:\n{}", evaluation.feedback))
        .clone();
    for other in &seen {
        assert_eq!(other, &first, "{what}: runs of one evaluation differ");
    }
    assert_hidden(what, &first);
    first
}

/// The host is hidden: what the sandbox promises a candidate sees.
pub(crate) fn assert_hidden(what: &str, seen: &Observation) {
    let field = |key: &str| {
        seen.get(key)
            .unwrap_or_else(|| panic!("{what}: no `{key}` in {seen:?}"))
            .as_str()
    };
    assert!(
        std::fs::read("/proc/self/environ").is_ok_and(|e| !e.is_empty()),
        "the test process has an environment to hide"
    );
    assert_eq!(
        (field("argc"), field("argv0"), field("env")),
        ("1", "candidate", "0"),
        "{what}: {seen:?}"
    );
    let opened = field("opened");
    assert!(
        opened.starts_with("0/") && opened != "0/0",
        "{what}: opened {opened}"
    );
    assert_eq!(field("listed"), "0", "{what}: {seen:?}");
    // The virtual wall clock starts at 2024-01-01T00:00:00Z and advances with fuel.
    let realtime: u64 = field("realtime").parse().expect("realtime");
    assert_eq!(realtime / 1_000_000_000, 1_704_067_200, "{what}: {seen:?}");
    assert_eq!(field("time"), "1704067200", "{what}: {seen:?}");
    assert!(field("random").starts_with("0:"), "{what}: {seen:?}");
}

/// Host paths a probe tries: the process's own files, system files, and the task folder's
/// files by absolute and relative path (all of which exist on the host).
pub(crate) fn host_paths(task_dir: &std::path::Path, files: &[&str]) -> Vec<String> {
    let mut paths: Vec<String> = [
        "/proc/self/status",
        "/proc/self/environ",
        "/etc/passwd",
        "/",
    ]
    .map(String::from)
    .to_vec();
    for file in files {
        let absolute = task_dir.join(file);
        assert!(
            absolute.exists(),
            "{} exists on the host",
            absolute.display()
        );
        paths.push(absolute.display().to_string());
        paths.push((*file).to_string());
    }
    paths.extend([".", "..", "task.toml"].map(String::from));
    paths
}
