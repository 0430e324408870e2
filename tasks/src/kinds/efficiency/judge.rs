//! Runs a compiled candidate on a suite, checks its outputs and turns the results into an
//! [`Evaluation`]: score, Afterburner metrics, feedback and the per-test trace.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hone_sandbox::{Limits, Program, RunStatus, Sandbox, SandboxError};
use serde_json::json;

use super::afterburner_reward;
use super::suite::{Suite, TestCase};
use crate::cascade::Cascade;
use crate::checker::{
    CheckerSpec, Verdict, check_builtin, checker_program_input, trim_for_feedback,
};
use crate::evaluation::{EvalStatus, Evaluation};

/// After this many failing tests the remaining ones are skipped: the verdict is already
/// "invalid", and each failure may have burnt its whole fuel limit.
pub(crate) const MAX_FAILURES: usize = 3;
/// Failing tests described in full in the feedback.
const FEEDBACK_FAILURES: usize = 2;
/// Costliest tests listed in the feedback.
const FEEDBACK_COSTLIEST: usize = 3;
/// Bytes of input / expected / produced output quoted in the feedback.
const EXCERPT_BYTES: usize = 300;

/// Compares outputs: a built-in checker, or a trusted checker program run in the sandbox.
pub(crate) struct Judge {
    pub sandbox: Sandbox,
    pub spec: CheckerSpec,
    pub program: Option<Program>,
}

impl Judge {
    /// The verdict on `got` for a test. `Err` only when the sandbox itself fails.
    pub(super) fn check(
        &self,
        input: &[u8],
        expected: &[u8],
        got: &[u8],
    ) -> Result<Verdict, SandboxError> {
        let expected_text = String::from_utf8_lossy(expected);
        let got_text = String::from_utf8_lossy(got);
        if let Some(verdict) = check_builtin(&self.spec, &expected_text, &got_text) {
            return Ok(verdict);
        }
        let Some(program) = &self.program else {
            return Ok(Verdict::Rejected(
                "the checker program is not loaded".into(),
            ));
        };
        let limits = Limits {
            timeout: Duration::from_secs(60),
            ..Limits::default()
        };
        let outcome = self.sandbox.run(
            program,
            &checker_program_input(input, expected, got),
            &limits,
        )?;
        Ok(match &outcome.status {
            RunStatus::Ok => Verdict::Accepted,
            status => {
                let reason = outcome.stdout_text().trim().to_string();
                Verdict::Rejected(if reason.is_empty() {
                    format!("the checker rejected the output ({status})")
                } else {
                    reason
                })
            }
        })
    }
}

/// What one test gave.
struct CaseResult<'a> {
    case: &'a TestCase,
    /// `None` when the test was skipped.
    outcome: Option<CaseOutcome>,
}

struct CaseOutcome {
    /// `None` when the test passed.
    failure: Option<(EvalStatus, String)>,
    fuel: u64,
    peak_memory: u64,
    stdout: Vec<u8>,
    stderr: String,
}

impl CaseResult<'_> {
    fn passed(&self) -> bool {
        self.outcome.as_ref().is_some_and(|o| o.failure.is_none())
    }

    fn status_name(&self) -> &'static str {
        match &self.outcome {
            None => "skipped",
            Some(CaseOutcome { failure: None, .. }) => "ok",
            Some(CaseOutcome {
                failure: Some((status, _)),
                ..
            }) => status.as_str(),
        }
    }
}

/// Per-run limits shared by every test of a task.
pub(crate) struct RunLimits {
    pub memory_bytes: u64,
    pub timeout: Duration,
    /// `[task] host_kernels`.
    pub host_kernels: bool,
}

/// Runs `program` on every test of `suite` (up to [`MAX_FAILURES`] failures, and in the
/// stages of `cascade`) and scores it against the seed: score = seed fuel / candidate fuel
/// over the suite when every test passes.
pub(crate) fn evaluate_suite(
    judge: &Judge,
    program: &Program,
    suite: &Suite,
    cascade: &Cascade,
    limits: &RunLimits,
) -> Evaluation {
    let start = std::time::Instant::now();
    let mut results = Vec::with_capacity(suite.cases.len());
    let mut failures = 0;
    let mut stop = None;
    // Outcomes run ahead, in parallel, up to the end of the current cascade stage.
    let mut ahead: Vec<Option<CaseOutcome>> = Vec::new();
    for (index, case) in suite.cases.iter().enumerate() {
        if failures >= MAX_FAILURES || stop.is_some() {
            results.push(CaseResult {
                case,
                outcome: None,
            });
            continue;
        }
        if ahead.is_empty() {
            let end = cascade
                .stage_end_after(index)
                .unwrap_or(suite.cases.len())
                .min(suite.cases.len());
            ahead = run_ahead(judge, program, &suite.cases[index..end], limits, failures);
            ahead.reverse();
        }
        let outcome = match ahead.pop().flatten() {
            Some(outcome) => outcome,
            // Not run ahead: only when the tests before it already failed too often, which
            // the check above has handled; run it here all the same.
            None => run_case(judge, program, case, limits),
        };
        if outcome.failure.is_some() {
            failures += 1;
        }
        results.push(CaseResult {
            case,
            outcome: Some(outcome),
        });
        if let Some((number, stage)) = cascade.stage_ending_at(results.len()) {
            // The stage's score, as the suite's: seed fuel / candidate fuel when all pass.
            let valid = results.iter().all(CaseResult::passed);
            let seed_fuel: u64 = results.iter().map(|r| r.case.seed_fuel).sum();
            let fuel: u64 = results
                .iter()
                .filter_map(|r| r.outcome.as_ref())
                .map(|o| o.fuel)
                .sum();
            let speedup = if valid {
                seed_fuel as f64 / fuel.max(1) as f64
            } else {
                0.0
            };
            stop = cascade.judge(number, stage, valid, speedup);
        }
    }
    let mut evaluation = summarize(suite, &results, start.elapsed());
    cascade.mark(&mut evaluation, stop, suite.cases.len());
    evaluation
}

/// Threads running candidates' tests in this process, each evaluation's own included.
static TEST_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// An evaluation's share of [`TEST_THREADS`]: its own thread, plus helpers only for the
/// cores other evaluations leave idle (a run evaluating two candidates at once on two cores
/// takes none, so no test's wall-clock limit is met under oversubscription). Released when
/// dropped.
struct TestThreads(usize);

impl TestThreads {
    fn reserve(cores: usize, cases: usize) -> TestThreads {
        use std::sync::atomic::Ordering;
        let busy = TEST_THREADS.fetch_add(1, Ordering::SeqCst) + 1;
        let helpers = cores.saturating_sub(busy).min(cases.saturating_sub(1));
        TEST_THREADS.fetch_add(helpers, Ordering::SeqCst);
        TestThreads(1 + helpers)
    }

    fn threads(&self) -> usize {
        self.0
    }
}

impl Drop for TestThreads {
    fn drop(&mut self) {
        TEST_THREADS.fetch_sub(self.0, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Runs `cases` (the rest of a cascade stage) on as many threads as [`TestThreads`] grants,
/// each taking the next test in order, and stops taking tests once `failures_before` plus
/// the failures seen reach [`MAX_FAILURES`]: each test's outcome in its slot, `None` for a
/// test not run. Every test a sequential pass would run is run (a test is passed over only
/// when tests before it have failed [`MAX_FAILURES`] times), so the caller, which reads the
/// outcomes in order and applies the same stopping rules, sees exactly what one thread would
/// have produced; a test run beyond the stopping point is discarded.
fn run_ahead(
    judge: &Judge,
    program: &Program,
    cases: &[TestCase],
    limits: &RunLimits,
    failures_before: usize,
) -> Vec<Option<CaseOutcome>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let reserved = TestThreads::reserve(cores, cases.len());
    let slots: Vec<Mutex<Option<CaseOutcome>>> = cases.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(failures_before);
    std::thread::scope(|scope| {
        for _ in 0..reserved.threads() {
            scope.spawn(|| {
                while failures.load(Ordering::SeqCst) < MAX_FAILURES {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(index) else {
                        break;
                    };
                    let outcome = run_case(judge, program, case, limits);
                    if outcome.failure.is_some() {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                    *slots[index].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

fn run_case(judge: &Judge, program: &Program, case: &TestCase, limits: &RunLimits) -> CaseOutcome {
    let run_limits = Limits {
        fuel: Some(case.fuel_limit),
        memory_bytes: limits.memory_bytes,
        timeout: limits.timeout,
        stdout_bytes: (case.expected.len() as u64)
            .saturating_mul(2)
            .saturating_add(64 << 10),
        stderr_bytes: 16 << 10,
        seed: 0,
        host_kernels: limits.host_kernels,
    };
    let outcome = match judge.sandbox.run(program, &case.input, &run_limits) {
        Ok(outcome) => outcome,
        Err(error) => {
            return CaseOutcome {
                failure: Some((
                    EvalStatus::RuntimeError,
                    format!("the sandbox could not run the program: {error}"),
                )),
                fuel: 0,
                peak_memory: 0,
                stdout: Vec::new(),
                stderr: String::new(),
            };
        }
    };
    let failure = match EvalStatus::from_run_status(&outcome.status) {
        Some(status) => Some((status, describe_run_failure(&outcome.status, case, limits))),
        None => match judge.check(&case.input, &case.expected, &outcome.stdout) {
            Ok(Verdict::Accepted) => None,
            Ok(Verdict::Rejected(reason)) => Some((EvalStatus::WrongAnswer, reason)),
            Err(error) => Some((
                EvalStatus::WrongAnswer,
                format!("the checker could not run: {error}"),
            )),
        },
    };
    CaseOutcome {
        failure,
        fuel: outcome.fuel_used,
        peak_memory: outcome.peak_memory_bytes,
        stdout: outcome.stdout,
        stderr: outcome.stderr,
    }
}

fn describe_run_failure(status: &RunStatus, case: &TestCase, limits: &RunLimits) -> String {
    match status {
        RunStatus::FuelExhausted => format!(
            "used more than its fuel limit of {} ({}x the seed's {} on this test)",
            case.fuel_limit,
            ratio(case.fuel_limit, case.seed_fuel.max(1)),
            case.seed_fuel
        ),
        RunStatus::Timeout => format!(
            "ran longer than {} ms of wall time",
            limits.timeout.as_millis()
        ),
        RunStatus::MemoryExceeded => format!(
            "asked for more than {} MiB of memory",
            limits.memory_bytes >> 20
        ),
        RunStatus::OutputExceeded { stream } => format!("printed too much on {stream}"),
        RunStatus::Exit { code } => format!("exited with code {code}"),
        RunStatus::RuntimeError { trap, message } => format!("trapped ({trap}): {message}"),
        RunStatus::Ok => "ok".into(),
    }
}

fn ratio(a: u64, b: u64) -> String {
    format!("{:.2}", a as f64 / b.max(1) as f64)
}

fn summarize(suite: &Suite, results: &[CaseResult<'_>], elapsed: Duration) -> Evaluation {
    let ran: Vec<(&TestCase, &CaseOutcome)> = results
        .iter()
        .filter_map(|r| r.outcome.as_ref().map(|o| (r.case, o)))
        .collect();
    let total_fuel: u64 = ran.iter().map(|(_, o)| o.fuel).sum();
    let peak_memory = ran.iter().map(|(_, o)| o.peak_memory).max().unwrap_or(0);
    let passed = results.iter().filter(|r| r.passed()).count();
    let valid = passed == suite.cases.len();
    let status = results
        .iter()
        .find_map(|r| {
            r.outcome
                .as_ref()
                .and_then(|o| o.failure.as_ref())
                .map(|(status, _)| *status)
        })
        .unwrap_or(EvalStatus::Ok);
    let seed_fuel = suite.seed_fuel();
    let seed_peak = suite.seed_peak_memory();
    let speedup = seed_fuel as f64 / total_fuel.max(1) as f64;
    let memory_ratio = peak_memory as f64 / seed_peak.max(1) as f64;
    let score = if valid { speedup } else { 0.0 };
    let reward = afterburner_reward(Some(seed_fuel), valid.then_some(total_fuel));

    let fuel_per_test: serde_json::Map<String, serde_json::Value> = ran
        .iter()
        .map(|(case, o)| (case.name.clone(), json!(o.fuel)))
        .collect();
    let mut metrics = BTreeMap::new();
    metrics.insert("fuel".into(), json!(total_fuel));
    metrics.insert("seed_fuel".into(), json!(seed_fuel));
    metrics.insert(
        "fuel_per_test".into(),
        serde_json::Value::Object(fuel_per_test),
    );
    metrics.insert("speedup".into(), json!(if valid { speedup } else { 0.0 }));
    metrics.insert("peak_memory_bytes".into(), json!(peak_memory));
    metrics.insert("seed_peak_memory_bytes".into(), json!(seed_peak));
    metrics.insert("memory_ratio".into(), json!(memory_ratio));
    metrics.insert("tests".into(), json!(suite.cases.len()));
    metrics.insert("passed".into(), json!(passed));
    metrics.insert("failed".into(), json!(ran.len() - passed));
    metrics.insert("skipped".into(), json!(results.len() - ran.len()));
    metrics.insert("wall_ms".into(), json!(elapsed.as_secs_f64() * 1000.0));
    metrics.insert(
        "afterburner".into(),
        json!({ "passed": valid, "speedup": if valid { speedup } else { 0.0 }, "memory_ratio": memory_ratio }),
    );
    metrics.insert("grpo_reward".into(), json!(reward));

    let trace = serde_json::Value::Array(
        results
            .iter()
            .map(|r| {
                let o = r.outcome.as_ref();
                json!({
                    "name": r.case.name,
                    "status": r.status_name(),
                    "passed": r.passed(),
                    "fuel": o.map(|o| o.fuel),
                    "fuel_limit": r.case.fuel_limit,
                    "seed_fuel": r.case.seed_fuel,
                    "peak_memory_bytes": o.map(|o| o.peak_memory),
                    "seed_peak_memory_bytes": r.case.seed_peak_memory,
                })
            })
            .collect(),
    );

    let feedback = feedback(
        suite,
        results,
        valid,
        speedup,
        memory_ratio,
        total_fuel,
        peak_memory,
    );
    Evaluation {
        status,
        valid,
        score,
        metrics,
        feedback,
        trace,
        fuel: Some(total_fuel),
        wall_ms: elapsed.as_secs_f64() * 1000.0,
    }
}

fn feedback(
    suite: &Suite,
    results: &[CaseResult<'_>],
    valid: bool,
    speedup: f64,
    memory_ratio: f64,
    total_fuel: u64,
    peak_memory: u64,
) -> String {
    let mut text = String::new();
    let total = suite.cases.len();
    let passed = results.iter().filter(|r| r.passed()).count();
    let skipped = results.iter().filter(|r| r.outcome.is_none()).count();
    let memory_line = format!(
        "peak memory {} vs the seed's {} ({memory_ratio:.2}x)",
        mib(peak_memory),
        mib(suite.seed_peak_memory())
    );
    if valid {
        let _ = writeln!(
            text,
            "All {total} {} tests pass. Speedup {speedup:.3}x over the seed (fuel {total_fuel} vs {}); {memory_line}.",
            suite.label,
            suite.seed_fuel()
        );
    } else {
        let failing: Vec<&CaseResult<'_>> = results
            .iter()
            .filter(|r| r.outcome.as_ref().is_some_and(|o| o.failure.is_some()))
            .collect();
        if failing.is_empty() {
            // Stopped by the cascade with every test it ran passing: its line says why.
            let _ = writeln!(
                text,
                "{passed} of {total} {} tests ran and pass; {skipped} were not run.",
                suite.label
            );
        } else {
            let _ = writeln!(
                text,
                "{} of {total} {} tests fail{}; {passed} pass. The program is invalid (score 0) until every test passes.",
                failing.len(),
                suite.label,
                match skipped {
                    0 => String::new(),
                    _ if failing.len() >= MAX_FAILURES => {
                        format!(" ({skipped} more skipped after {MAX_FAILURES} failures)")
                    }
                    _ =>
                        format!(" ({skipped} more skipped: the cascade stopped at a failing stage)"),
                },
            );
        }
        for result in failing.iter().take(FEEDBACK_FAILURES) {
            let Some(outcome) = &result.outcome else {
                continue;
            };
            let Some((status, reason)) = &outcome.failure else {
                continue;
            };
            let case = result.case;
            let _ = writeln!(
                text,
                "\nTest `{}` ({}): {status}: {reason}",
                case.name, case.origin
            );
            let _ = writeln!(
                text,
                "input ({} bytes):\n{}",
                case.input.len(),
                excerpt(&case.input)
            );
            if *status == EvalStatus::WrongAnswer {
                let _ = writeln!(text, "expected:\n{}", excerpt(&case.expected));
                let _ = writeln!(text, "got:\n{}", excerpt(&outcome.stdout));
            }
            if !outcome.stderr.trim().is_empty() {
                let _ = writeln!(
                    text,
                    "stderr:\n{}",
                    trim_for_feedback(outcome.stderr.trim(), EXCERPT_BYTES)
                );
            }
        }
        if failing.len() > FEEDBACK_FAILURES {
            let names: Vec<&str> = failing[FEEDBACK_FAILURES..]
                .iter()
                .map(|r| r.case.name.as_str())
                .collect();
            let _ = writeln!(text, "\nAlso failing: {}", names.join(", "));
        }
        let _ = writeln!(
            text,
            "\nFuel so far {total_fuel} (the seed uses {} on all tests); {memory_line}.",
            suite.seed_fuel()
        );
    }
    let mut costly: Vec<(&TestCase, &CaseOutcome)> = results
        .iter()
        .filter_map(|r| r.outcome.as_ref().map(|o| (r.case, o)))
        .collect();
    costly.sort_by(|a, b| {
        b.1.fuel
            .cmp(&a.1.fuel)
            .then_with(|| a.0.name.cmp(&b.0.name))
    });
    if !costly.is_empty() {
        let _ = writeln!(text, "\nCostliest tests:");
        for (case, outcome) in costly.iter().take(FEEDBACK_COSTLIEST) {
            let share = 100.0 * outcome.fuel as f64 / total_fuel.max(1) as f64;
            let _ = writeln!(
                text,
                "- {}: {} fuel ({share:.0}% of the total; seed {}, {}x faster; {} input bytes)",
                case.name,
                outcome.fuel,
                case.seed_fuel,
                ratio(case.seed_fuel, outcome.fuel),
                case.input.len()
            );
        }
    }
    text
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end();
    if text.is_empty() {
        "(empty)".into()
    } else {
        trim_for_feedback(text, EXCERPT_BYTES)
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}
