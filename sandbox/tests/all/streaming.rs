//! `Sandbox::run_streaming`: a conversation through pipes (the test answers each line the
//! guest writes before sending the next), and every way a streamed run can end.

use std::io::{BufRead, BufReader, PipeReader, PipeWriter, Read, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hone_sandbox::{Language, Limits, Outcome, Program, RunStatus};

use crate::support::{assert_trap, program, sandbox};

/// One C program with modes (first word of stdin), so one compile serves every test:
/// `guess N` plays a guessing game by bisection (`? X` queries answered `<`, `>` or `=`,
/// then `! X`); `flood` writes stdout forever; `sum` adds numbers up to end of file.
const INTERACTIVE_C: &str = r#"
#include <stdio.h>
#include <string.h>
int main(void) {
    char mode[16];
    if (scanf("%15s", mode) != 1) return 3;
    if (strcmp(mode, "guess") == 0) {
        int n;
        if (scanf("%d", &n) != 1) return 4;
        int lo = 1, hi = n;
        while (lo <= hi) {
            int mid = lo + (hi - lo) / 2;
            printf("? %d\n", mid);
            fflush(stdout);
            char reply[8];
            if (scanf("%7s", reply) != 1) return 5;
            if (reply[0] == '=') { printf("! %d\n", mid); return 0; }
            if (reply[0] == '<') hi = mid - 1; else lo = mid + 1;
        }
        return 6;
    }
    if (strcmp(mode, "flood") == 0) {
        for (;;) { fputs("xxxxxxxxxxxxxxx\n", stdout); fflush(stdout); }
    }
    if (strcmp(mode, "sum") == 0) {
        long total = 0, x;
        while (scanf("%ld", &x) == 1) total += x;
        printf("%ld\n", total);
        return 0;
    }
    return 7;
}
"#;

fn interactive() -> &'static Program {
    static PROGRAM: OnceLock<Program> = OnceLock::new();
    PROGRAM.get_or_init(|| program(Language::C, INTERACTIVE_C))
}

fn limits(timeout_ms: u64) -> Limits {
    Limits {
        timeout: Duration::from_millis(timeout_ms),
        ..Limits::default()
    }
}

/// Starts a streaming run of the interactive program on a thread; returns the test's ends
/// of the guest's stdin and stdout, and the run.
fn start(limits: Limits) -> (PipeWriter, PipeReader, JoinHandle<Outcome>) {
    let (guest_in, to_guest) = std::io::pipe().expect("pipe");
    let (from_guest, guest_out) = std::io::pipe().expect("pipe");
    let run = std::thread::spawn(move || {
        sandbox()
            .run_streaming(interactive(), guest_in, guest_out, &limits)
            .unwrap_or_else(|e| panic!("sandbox error: {e}"))
    });
    (to_guest, from_guest, run)
}

#[test]
fn a_guessing_game_is_played_turn_by_turn() {
    let mut fuel = Vec::new();
    for secret in [1, 377, 1000, 377] {
        let (mut to_guest, from_guest, run) = start(limits(10_000));
        let mut from_guest = BufReader::new(from_guest);
        writeln!(to_guest, "guess 1000").unwrap();
        let mut queries = 0;
        let answer = loop {
            let mut line = String::new();
            assert!(
                from_guest.read_line(&mut line).unwrap() > 0,
                "guest stopped"
            );
            let (kind, value) = line.trim().split_once(' ').expect("`? X` or `! X`");
            let value: i32 = value.parse().unwrap();
            if kind == "!" {
                break value;
            }
            queries += 1;
            // Each reply depends on the query just read: the guest cannot have it earlier.
            let reply = match value.cmp(&secret) {
                std::cmp::Ordering::Less => ">",
                std::cmp::Ordering::Greater => "<",
                std::cmp::Ordering::Equal => "=",
            };
            writeln!(to_guest, "{reply}").unwrap();
        };
        assert_eq!(answer, secret);
        assert!((1..=10).contains(&queries), "{queries} queries");
        let outcome = run.join().unwrap();
        assert_eq!(outcome.status, RunStatus::Ok, "{}", outcome.stderr);
        assert!(outcome.stdout.is_empty(), "streamed output is not kept");
        assert!(outcome.fuel_used > 0);
        // The writer was dropped when the run returned: the pipe is at its end.
        let mut rest = String::new();
        from_guest.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "");
        fuel.push(outcome.fuel_used);
    }
    // `writeln!` on a pipe makes one write per piece, split by timing; the guest still
    // reads whole lines, so the same game costs the same fuel.
    assert_eq!(fuel[1], fuel[3]);
}

#[test]
fn a_silent_peer_ends_the_run_at_the_deadline() {
    let (to_guest, _from_guest, run) = start(limits(300));
    let started = Instant::now();
    let outcome = run.join().unwrap();
    assert_eq!(outcome.status, RunStatus::Timeout);
    assert!(
        outcome.wall >= Duration::from_millis(290),
        "{:?}",
        outcome.wall
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(to_guest);
}

#[test]
fn a_closed_stdin_is_end_of_file() {
    let (to_guest, _from_guest, run) = start(limits(10_000));
    drop(to_guest);
    let outcome = run.join().unwrap();
    // scanf saw end of file on its first read.
    assert_eq!(outcome.status, RunStatus::Exit { code: 3 });
    // Ending mid-game: end of file where a reply was expected.
    let (mut to_guest, mut from_guest, run) = start(limits(10_000));
    to_guest.write_all(b"guess 10\n").unwrap();
    let mut query = [0u8; 4];
    from_guest.read_exact(&mut query).unwrap();
    assert_eq!(&query, b"? 5\n");
    drop(to_guest);
    assert_eq!(run.join().unwrap().status, RunStatus::Exit { code: 5 });
}

#[test]
fn a_closed_stdout_ends_the_run_as_stdout_closed() {
    let (mut to_guest, from_guest, run) = start(limits(10_000));
    drop(from_guest);
    to_guest.write_all(b"flood\n").unwrap();
    let outcome = run.join().unwrap();
    let message = assert_trap(&outcome, &["stdout_closed"]);
    assert!(message.contains("broken pipe"), "{message}");
}

#[test]
fn a_peer_that_stops_reading_ends_the_run_at_the_deadline() {
    // The pipe fills up and the guest's write blocks: the deadline still ends the run.
    let (mut to_guest, _from_guest, run) = start(limits(300));
    to_guest.write_all(b"flood\n").unwrap();
    let outcome = run.join().unwrap();
    assert_eq!(outcome.status, RunStatus::Timeout);
}

#[test]
fn streamed_output_counts_against_the_cap() {
    let (mut to_guest, mut from_guest, run) = start(Limits {
        stdout_bytes: 1000,
        ..limits(10_000)
    });
    to_guest.write_all(b"flood\n").unwrap();
    let mut received = Vec::new();
    from_guest.read_to_end(&mut received).unwrap();
    let outcome = run.join().unwrap();
    assert_eq!(
        outcome.status,
        RunStatus::OutputExceeded {
            stream: "stdout".into()
        }
    );
    assert_eq!(received.len(), 1000, "exactly the cap reaches the peer");
    assert!(outcome.stdout.is_empty());
}

/// A writer the test can read back after the run dropped it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn whole_input_up_front_matches_the_buffered_run() {
    let input: &'static [u8] = b"sum 1 2 3 40\n";
    let buffered = sandbox()
        .run(interactive(), input, &limits(10_000))
        .unwrap();
    let out = Shared::default();
    let streamed = sandbox()
        .run_streaming(interactive(), input, out.clone(), &limits(10_000))
        .unwrap();
    assert_eq!(buffered.status, RunStatus::Ok);
    assert_eq!(streamed.status, RunStatus::Ok);
    assert_eq!(buffered.stdout, b"46\n");
    assert_eq!(*out.0.lock().unwrap(), b"46\n");
    // The same reads and writes: the same fuel.
    assert_eq!(streamed.fuel_used, buffered.fuel_used);
}

#[test]
fn the_fuel_limit_still_applies() {
    let out = Shared::default();
    let outcome = sandbox()
        .run_streaming(
            interactive(),
            &b"flood\n"[..],
            out.clone(),
            &Limits {
                fuel: Some(200_000),
                ..limits(10_000)
            },
        )
        .unwrap();
    assert_eq!(outcome.status, RunStatus::FuelExhausted);
    assert!(!out.0.lock().unwrap().is_empty());
}
