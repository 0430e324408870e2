//! efficiency tasks (Afterburner): make a correct but slow program faster without breaking it.
//!
//! # task.toml
//! ```toml
//! [task]
//! kind = "efficiency"
//! statement = "statement.md"          # the problem, shown to the model
//! languages = ["c", "rust"]           # languages a candidate may use
//!
//! [efficiency]
//! seed = "seed.c"                     # the slow, correct starting program (.rs, .c or .cpp)
//! checker = { type = "tokens" }       # or float {abs, rel}, yes_no, program {path}
//! generator = "gen.c"                 # trusted input generator (needed by `generate`)
//! reference = "reference.c"           # optional: produces generated expected outputs
//! fuel_factor = 20                    # per-test fuel limit = 20 x the seed's fuel on it ...
//! fuel_floor = 10_000_000             # ... but never below this (optional)
//! memory_mb = 256                     # linear memory limit of each run
//! timeout_ms = 10_000                 # wall-clock backstop of each run
//! visible = { files = "tests/visible", generate = ["1 1000", "2 200000"] }
//! hidden = { files = "tests/hidden", generate = ["101 200000"] }
//! cascade = [{ cases = 1, min_score = 0.5 }]  # optional: stages of visible tests
//! ```
//! A test set takes `files` (a folder of `NAME.in` / `NAME.out` pairs, run in name order),
//! `generate`, or both (files first). Each `generate` line is given to the generator on
//! stdin followed by a newline; its first token is the seed (an unsigned integer, also the
//! seed of the sandbox's `random_get`), the rest are parameters the generator defines (a
//! size, typically). Whatever the generator prints is the test's input; the test is named
//! `gen-` plus the line's tokens joined by `-`. Its expected output is the stdout of the
//! `reference` program on that input, or, without a reference, the seed's own stdout.
//!
//! With a `cascade`, the visible tests run in stages (the first N tests, in the order
//! above: put small ones first) and a candidate stops at the first stage where a test
//! fails or, with `min_score`, its speedup over the seed on the stage's tests is below
//! it: then it is `cascade_stopped` (invalid, score 0) and the remaining tests are
//! skipped. `min_score` is at most 1, the seed's speedup on every stage. A candidate
//! that passes every stage gets the evaluation it would get without a cascade.
//!
//! At load the seed runs once on every visible and hidden test: it must pass each one (a
//! `TaskError::SeedFails` otherwise), and its fuel on a test is that test's baseline.
//!
//! # Evaluation
//! A candidate (`main.rs` or `main.c`, in an allowed language) runs on each visible test
//! with fuel limit `max(fuel_factor x seed fuel, fuel_floor)`. It is valid iff every test
//! passes; after three failures the remaining tests are skipped, so a
//! broken candidate costs little. Score = seed fuel / candidate fuel summed over the visible
//! tests (1.0 for the seed itself), 0 when invalid: the public score, which the prompt and
//! feedback may explain (they show visible inputs). `evaluate_private` does the same on the
//! hidden tests: the private score a run reports and ranks by. Bundled tasks generate their
//! hidden tests with `gen.c` from seeds no prompt shows, at sizes where the seed's fuel is
//! spent on the algorithm rather than on reading input, so a candidate that recognises the
//! visible inputs gains nothing there. Fuel is deterministic, so a candidate always gets the
//! same score.
//!
//! Metrics: `fuel`, `seed_fuel`, `fuel_per_test`, `speedup`, `peak_memory_bytes`,
//! `seed_peak_memory_bytes`, `memory_ratio`, `tests`, `passed`, `failed`, `skipped`,
//! `wall_ms`, the Afterburner summary `afterburner = {passed, speedup, memory_ratio}` and
//! `grpo_reward` (see [`afterburner_reward`]). The trace is a JSON array with one object
//! per test: `name`, `status`, `passed`, `fuel`, `fuel_limit`, `seed_fuel`,
//! `peak_memory_bytes`, `seed_peak_memory_bytes`.

mod config;
mod judge;
mod suite;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hone_sandbox::{Compilation, Language, Program, Sandbox};
use sha2::{Digest, Sha256};

use crate::candidate::Candidate;
use crate::cascade::Cascade;
use crate::checker::{CheckerSpec, trim_for_feedback};
use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};
use crate::task::{Evaluator, LoadContext, Loaded, PromptMaterial};
use judge::{Judge, RunLimits};
use suite::{Suite, SuiteBuilder};

/// The Afterburner GRPO reward of a program against a base program, both measured on the
/// same tests. `None` means "fails at least one test"; `Some(fuel)` means "passes, at this
/// cost".
///
/// - base fails, current passes: +1 (a new pass);
/// - base passes, current fails: −1 (a regression);
/// - both fail: 0 (no signal);
/// - both pass: `0.5 · tanh(clip((base − cur) / base, −1, 1))`, in (−0.381, 0.381):
///   positive when the current program is cheaper, negative when it is costlier.
///
/// The `grpo_reward` metric of an evaluation uses the task's seed as the base (the seed
/// passes by construction, so only −1 or the shaped term occur there); trainers that want
/// the reward against a parent call this with the parent's fuel.
pub fn afterburner_reward(base_fuel: Option<u64>, current_fuel: Option<u64>) -> f64 {
    match (base_fuel, current_fuel) {
        (None, Some(_)) => 1.0,
        (Some(_), None) => -1.0,
        (None, None) => 0.0,
        (Some(base), Some(current)) => {
            let base = base.max(1) as f64;
            let gain = ((base - current as f64) / base).clamp(-1.0, 1.0);
            0.5 * gain.tanh()
        }
    }
}

/// Compiled candidates kept in memory (by language and source hash), so the public and the
/// private evaluation of one candidate compile it once.
const COMPILE_MEMO_CAPACITY: usize = 64;

struct EfficiencyEvaluator {
    sandbox: Sandbox,
    languages: Vec<Language>,
    judge: Judge,
    visible: Suite,
    hidden: Suite,
    /// Stages of the visible tests (empty: every test at once).
    cascade: Cascade,
    limits: RunLimits,
    compiled: Mutex<HashMap<String, Compilation>>,
}

impl EfficiencyEvaluator {
    /// The candidate's program, or the evaluation that says why there is none.
    fn program(&self, candidate: &Candidate) -> Result<Program, Evaluation> {
        let allowed: Vec<&str> = self.languages.iter().map(|l| l.name()).collect();
        let expected_files: Vec<&str> = self.languages.iter().map(|l| l.file_name()).collect();
        let Some((name, source)) = candidate.file_with_extension(&Language::all_extensions())
        else {
            return Err(Evaluation::failed(
                EvalStatus::CompileError,
                format!(
                    "the candidate has no code file; expected one of: {}",
                    expected_files.join(", ")
                ),
            ));
        };
        let language = match Language::from_path(Path::new(name)) {
            Some(language) if self.languages.contains(&language) => language,
            other => {
                let shown = other.map(|l| l.name()).unwrap_or("unknown");
                return Err(Evaluation::failed(
                    EvalStatus::CompileError,
                    format!(
                        "language {shown} (file `{name}`) is not allowed for this task; allowed: {}; write {}",
                        allowed.join(", "),
                        expected_files.join(" or ")
                    ),
                )
                .with_metric("language", shown));
            }
        };
        let key = format!(
            "{}:{}",
            language.name(),
            hex::encode(Sha256::digest(source.as_bytes()))
        );
        let memo = self.compiled.lock().ok().and_then(|m| m.get(&key).cloned());
        let compilation = match memo {
            Some(compilation) => compilation,
            None => {
                let compilation = self.sandbox.compile(language, source).map_err(|error| {
                    Evaluation::failed(
                        EvalStatus::CompileError,
                        format!("the sandbox could not compile the candidate: {error}"),
                    )
                })?;
                if let Ok(mut memo) = self.compiled.lock() {
                    if memo.len() >= COMPILE_MEMO_CAPACITY {
                        memo.clear();
                    }
                    memo.insert(key, compilation.clone());
                }
                compilation
            }
        };
        match compilation {
            Compilation::Ready(program) => Ok(program),
            Compilation::Rejected(diagnostics) => Err(Evaluation::failed(
                EvalStatus::CompileError,
                format!(
                    "{name} does not compile:\n{}",
                    trim_for_feedback(&diagnostics, 4000)
                ),
            )
            .with_metric("language", language.name())),
        }
    }

    fn evaluate_on(&self, candidate: &Candidate, suite: &Suite, cascade: &Cascade) -> Evaluation {
        let start = std::time::Instant::now();
        match self.program(candidate) {
            Ok(program) => {
                judge::evaluate_suite(&self.judge, &program, suite, cascade, &self.limits)
            }
            Err(mut evaluation) => {
                evaluation.wall_ms = start.elapsed().as_secs_f64() * 1000.0;
                let seed_fuel = suite.seed_fuel();
                let metrics = [
                    ("tests", serde_json::json!(suite.cases.len())),
                    ("passed", serde_json::json!(0)),
                    ("seed_fuel", serde_json::json!(seed_fuel)),
                    ("speedup", serde_json::json!(0.0)),
                    (
                        "afterburner",
                        serde_json::json!({ "passed": false, "speedup": 0.0, "memory_ratio": null }),
                    ),
                    (
                        "grpo_reward",
                        serde_json::json!(afterburner_reward(Some(seed_fuel), None)),
                    ),
                ];
                for (name, value) in metrics {
                    evaluation.metrics.insert(name.into(), value);
                }
                evaluation
            }
        }
    }
}

impl Evaluator for EfficiencyEvaluator {
    fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        self.evaluate_on(candidate, &self.visible, &self.cascade)
    }

    fn evaluate_private(&self, candidate: &Candidate) -> Option<Evaluation> {
        Some(self.evaluate_on(candidate, &self.hidden, &Cascade::default()))
    }

    fn has_held_out_cases(&self) -> bool {
        true
    }
}

pub(crate) fn load(context: &LoadContext) -> Result<Loaded, TaskError> {
    let manifest = &context.manifest_path;
    let config = config::parse(manifest, &context.section)?;
    if context.languages.is_empty() {
        return Err(TaskError::field(
            manifest,
            "task.languages",
            "an efficiency task needs at least one candidate language; accepted: [\"rust\"], [\"c\"], [\"c\", \"rust\"], ...",
        ));
    }
    let seed_path = context.existing_path("efficiency.seed", &config.seed)?;
    let seed_language = Language::from_path(&seed_path).ok_or_else(|| {
        TaskError::field(
            manifest,
            "efficiency.seed",
            format!(
                "`{}`: unknown language; accepted: {}",
                config.seed,
                Language::extension_list()
            ),
        )
    })?;
    if !context.languages.contains(&seed_language) {
        return Err(TaskError::field(
            manifest,
            "efficiency.seed",
            format!(
                "`{}` is {seed_language}, which `task.languages` does not allow",
                config.seed
            ),
        ));
    }
    let seed_source = context.read_file("efficiency.seed", &config.seed)?;
    let seed = context.compile_task_program("efficiency.seed", &config.seed)?;
    let generator = config
        .generator
        .as_deref()
        .map(|p| context.compile_task_program("efficiency.generator", p))
        .transpose()?;
    let reference = config
        .reference
        .as_deref()
        .map(|p| context.compile_task_program("efficiency.reference", p))
        .transpose()?;
    let checker_program = match &config.checker {
        CheckerSpec::Program { path } => {
            Some(context.compile_task_program("efficiency.checker.path", path)?)
        }
        _ => None,
    };
    let judge = Judge {
        sandbox: context.sandbox.clone(),
        spec: config.checker.clone(),
        program: checker_program,
    };
    let limits = RunLimits {
        memory_bytes: config.memory_mb << 20,
        timeout: Duration::from_millis(config.timeout_ms),
        host_kernels: context.host_kernels,
    };
    let builder = SuiteBuilder {
        sandbox: &context.sandbox,
        manifest,
        dir: &context.dir,
        judge: &judge,
        seed: &seed,
        seed_path: &seed_path,
        generator: generator.as_ref(),
        reference: reference.as_ref(),
        memory_bytes: limits.memory_bytes,
        timeout: limits.timeout,
        host_kernels: limits.host_kernels,
        fuel_factor: config.fuel_factor,
        fuel_floor: config.fuel_floor,
    };
    let visible = builder.build("visible", &config.visible)?;
    let hidden = builder.build("hidden", &config.hidden)?;
    let cascade = Cascade::parse(
        manifest,
        "efficiency.cascade",
        config.cascade.clone(),
        visible.cases.len(),
        Some((1.0, "the seed's speedup is 1.0 on every stage")),
    )?;
    let prompt = prompt_material(&config, context, &visible, &limits);
    let evaluator = EfficiencyEvaluator {
        sandbox: context.sandbox.clone(),
        languages: context.languages.clone(),
        judge,
        visible,
        hidden,
        cascade,
        limits,
        compiled: Mutex::new(HashMap::new()),
    };
    Ok(Loaded {
        evaluator: Arc::new(evaluator),
        seeds: vec![Candidate::from_file(seed_language.file_name(), seed_source)],
        prompt,
    })
}

fn prompt_material(
    config: &config::EfficiencyConfig,
    context: &LoadContext,
    visible: &Suite,
    limits: &RunLimits,
) -> PromptMaterial {
    let languages: Vec<&str> = context.languages.iter().map(|l| l.name()).collect();
    let files: Vec<&str> = context.languages.iter().map(|l| l.file_name()).collect();
    let mut inputs = format!(
        "The program reads one test input on stdin. Its public score is measured on {} visible tests; the score a run reports is measured the same way on private inputs generated from fresh seeds, which are never shown:\n",
        visible.cases.len()
    );
    for case in &visible.cases {
        let _ = writeln!(
            inputs,
            "- {}: {} input bytes; the seed uses {} fuel",
            case.name,
            case.input.len(),
            case.seed_fuel
        );
    }
    if let Some(example) = visible.cases.iter().min_by_key(|c| c.input.len()) {
        let _ = write!(
            inputs,
            "\nExample (test `{}`):\ninput:\n{}\nexpected output:\n{}",
            example.name,
            trim_for_feedback(String::from_utf8_lossy(&example.input).trim_end(), 600),
            trim_for_feedback(String::from_utf8_lossy(&example.expected).trim_end(), 300)
        );
    }
    let checker = match &config.checker {
        CheckerSpec::Tokens => {
            "whitespace-separated tokens must equal the expected ones exactly".to_string()
        }
        CheckerSpec::Float { abs, rel } => {
            format!("tokens must match; numbers within abs {abs:e} or rel {rel:e}")
        }
        CheckerSpec::YesNo => "tokens must match, case-insensitively".to_string(),
        CheckerSpec::Program { .. } => "a checker program judges the output".to_string(),
    };
    PromptMaterial {
        objective: "Make the program faster: use less fuel (deterministic instruction count) over the visible tests \
                    while keeping every answer correct. Score = the seed's fuel / your fuel; a wrong answer scores 0."
            .into(),
        statement: String::new(),
        documentation: "Programs are compiled to WebAssembly (WASI preview 1) and run in a sandbox: rust with \
                        `rustc -O` (edition 2021, std available), c with `clang -O2` (wasi-libc, -lm). Input on \
                        stdin, answer on stdout; no files, no environment, no network, no threads. Fuel counts \
                        executed wasm instructions, so it measures work exactly and identically on every run: \
                        asymptotic improvements and fewer instructions per step both pay; caches, SIMD width and \
                        wall-clock tricks do not. Buffered input and output matter for large tests."
            .into(),
        constraints: format!(
            "Languages: {} (file {}). Per test: fuel at most {}x the seed's fuel on that test (at least {}), \
             {} MiB of memory, {} ms of wall time. Every visible test must pass, and every private test for the reported score.",
            languages.join(", "),
            files.join(" or "),
            config.fuel_factor,
            config.fuel_floor,
            limits.memory_bytes >> 20,
            limits.timeout.as_millis()
        ),
        inputs,
        outputs: format!("The answer on stdout, as the statement specifies ({checker})."),
        variables: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reward_follows_the_afterburner_shape() {
        assert_eq!(afterburner_reward(None, Some(10)), 1.0);
        assert_eq!(afterburner_reward(Some(10), None), -1.0);
        assert_eq!(afterburner_reward(None, None), 0.0);
        assert_eq!(afterburner_reward(Some(100), Some(100)), 0.0);
        let faster = afterburner_reward(Some(100), Some(50));
        assert!((faster - 0.5 * 0.5f64.tanh()).abs() < 1e-12);
        // Clipped at ±1 relative change.
        assert!(
            (afterburner_reward(Some(100), Some(1_000)) - 0.5 * (-1.0f64).tanh()).abs() < 1e-12
        );
        assert!(afterburner_reward(Some(100), Some(0)) <= 0.5 * 1.0f64.tanh() + 1e-12);
    }
}
