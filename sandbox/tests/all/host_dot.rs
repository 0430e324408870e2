//! The host-kernel path end to end: C and Rust guests import `hone.dot`, get the native
//! result, pay the documented fuel (CALL_FUEL + 2n), and a bad pointer is a clean trap.

use hone_sandbox::kernels::CALL_FUEL;
use hone_sandbox::{Language, Limits, Program, RunStatus};

use crate::support::{assert_trap, kernel_limits, program, run};

/// `cost N1 N2`: dot products of length N1 and N2, each timed on the virtual clock (which
/// advances one nanosecond per unit of fuel), printed as `result1 result2 cost1 cost2`.
/// `bad PTR N`: one dot product with x at PTR.
const C_GUEST: &str = r#"
#include <stdio.h>
#include <time.h>

#define HONE_IMPORT(name) __attribute__((import_module("hone"), import_name(#name)))
HONE_IMPORT(dot) double hone_dot(const double *x, const double *y, int n);

static double x[4096], y[4096];

static long long now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

__attribute__((noinline)) static long long timed_dot(int n, double *result) {
  long long before = now();
  *result = hone_dot(x, y, n);
  long long after = now();
  return after - before;
}

int main(void) {
  char command[16];
  long long a = 0, b = 0;
  if (scanf("%15s %lld %lld", command, &a, &b) != 3) return 2;
  for (int i = 0; i < 4096; i++) { x[i] = i; y[i] = 0.5; }
  if (command[0] == 'c') {
    double r1, r2;
    long long c1 = timed_dot((int)a, &r1);
    long long c2 = timed_dot((int)b, &r2);
    printf("%.1f %.1f %lld %lld\n", r1, r2, c1, c2);
  } else {
    printf("%f\n", hone_dot((const double *)(unsigned long)a, y, (int)b));
  }
  return 0;
}
"#;

const RUST_GUEST: &str = r#"
use std::io::Read;
use std::time::Instant;

#[link(wasm_import_module = "hone")]
extern "C" {
    fn dot(x: *const f64, y: *const f64, n: i32) -> f64;
}

#[inline(never)]
fn timed_dot(x: &[f64], y: &[f64], n: usize) -> (f64, u128) {
    let before = Instant::now();
    let result = unsafe { dot(x.as_ptr(), y.as_ptr(), n as i32) };
    (result, before.elapsed().as_nanos())
}

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let words: Vec<&str> = input.split_whitespace().collect();
    let a: i64 = words[1].parse().unwrap();
    let b: i64 = words[2].parse().unwrap();
    let x: Vec<f64> = (0..4096).map(|i| i as f64).collect();
    let y = vec![0.5f64; 4096];
    if words[0] == "cost" {
        let (r1, c1) = timed_dot(&x, &y, a as usize);
        let (r2, c2) = timed_dot(&x, &y, b as usize);
        println!("{r1:.1} {r2:.1} {c1} {c2}");
    } else {
        println!("{}", unsafe { dot(a as usize as *const f64, y.as_ptr(), b as i32) });
    }
}
"#;

fn guests() -> [(Language, Program); 2] {
    [
        (Language::C, program(Language::C, C_GUEST)),
        (Language::Rust, program(Language::Rust, RUST_GUEST)),
    ]
}

#[test]
fn dot_returns_the_native_result_and_charges_its_documented_fuel() {
    let (n1, n2) = (10u64, 1000u64);
    for (language, guest) in guests() {
        let outcome = run(&guest, &format!("cost {n1} {n2}"), &kernel_limits());
        assert_eq!(
            outcome.status,
            RunStatus::Ok,
            "{language}: {}",
            outcome.stderr
        );
        let text = outcome.stdout_text();
        let fields: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(
            fields[..2],
            ["22.5", "249750.0"],
            "{language}: sum of 0.5*i"
        );
        let c1: u64 = fields[2].parse().unwrap();
        let c2: u64 = fields[3].parse().unwrap();
        // Same code path, only n differs: the difference is the kernel's 2 fuel per element.
        assert_eq!(c2 - c1, 2 * (n2 - n1), "{language}: {c1} {c2}");
        // And the call costs its fixed part too, plus a few instructions around it.
        assert!(
            c1 >= CALL_FUEL + 2 * n1 && c1 < CALL_FUEL + 2 * n1 + 300,
            "{language}: {c1}"
        );
    }
}

#[test]
fn a_bad_pointer_or_length_is_a_clean_kernel_fault() {
    for (language, guest) in guests() {
        let outcome = run(
            &guest,
            &format!("bad {} 100", 0xFFFF_FF00u32),
            &kernel_limits(),
        );
        let message = assert_trap(&outcome, &["kernel_fault"]);
        assert!(
            message.contains(
                "hone.dot: x: 100 elements at address 0xffffff00 lie outside guest memory"
            ),
            "{message}"
        );

        let outcome = run(&guest, "bad 1024 -5", &kernel_limits());
        let message = assert_trap(&outcome, &["kernel_fault"]);
        assert!(
            message.contains("negative length -5"),
            "{language}: {message}"
        );

        // Fuel is charged before the work: a huge n with little fuel is fuel_exhausted.
        let outcome = run(
            &guest,
            "bad 1024 100000000",
            &Limits {
                fuel: Some(50_000_000),
                ..kernel_limits()
            },
        );
        assert_eq!(outcome.status, RunStatus::FuelExhausted, "{language}");
    }
}

#[test]
fn host_kernels_are_offered_only_when_the_limits_say_so() {
    for (language, guest) in guests() {
        assert_eq!(guest.kernel_imports(), ["dot"], "{language}");
        // Off by default: the run ends before the guest starts, naming the kernel.
        let refused = run(&guest, "cost 10 1000", &Limits::default());
        let message = assert_trap(&refused, &["host_kernels_off"]);
        assert!(
            message.contains("`hone.dot`") && message.contains("not offered"),
            "{language}: {message}"
        );
        assert_eq!(refused.fuel_used, 0, "{language}");
        assert!(refused.stdout.is_empty(), "{language}");
        // The same program, with the kernels offered.
        let offered = run(&guest, "cost 10 1000", &kernel_limits());
        assert_eq!(
            offered.status,
            RunStatus::Ok,
            "{language}: {}",
            offered.stderr
        );
    }
    // A module without kernel imports runs either way.
    let plain = program(
        Language::Wat,
        r#"(module (memory (export "memory") 1) (func (export "_start")))"#,
    );
    assert!(plain.kernel_imports().is_empty());
    assert_eq!(run(&plain, "", &Limits::default()).status, RunStatus::Ok);
}
