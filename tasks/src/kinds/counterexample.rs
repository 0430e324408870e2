//! counterexample tasks (REFUTE): find an input on which a subtly wrong solution fails.
//!
//! # task.toml
//! ```toml
//! [task]
//! kind = "counterexample"
//! statement = "statement.md"           # the problem: input format and constraints, precisely
//! languages = ["c", "rust", "wat"]     # languages a generator candidate may use (empty: all)
//!
//! [counterexample]
//! validator = "validator.c"            # trusted: input on stdin; exit 0 = valid, else prints why
//! correct = "correct.c"                # trusted reference solution
//! wrong = "wrong.c"                    # the solution to refute (shown to the model)
//! random_generator = "random_generator.c"  # trusted: decimal seed on stdin -> valid random input
//! checker = { type = "tokens" }        # or "yes_no", "float" (abs, rel), "program" (path)
//! max_input_bytes = 1048576            # default 1 MiB
//! seeds = ["seeds/trivial.txt"]        # optional: .txt inputs or generator sources
//!
//! [counterexample.generator_limits]    # the candidate's generator (defaults shown)
//! fuel = 2_000_000_000
//! memory_mb = 256
//! timeout_ms = 10_000
//!
//! [counterexample.solution_limits]     # both solutions
//! fuel = 2_000_000_000                 # the correct solution's limit (and the wrong one's)
//! memory_mb = 256
//! timeout_ms = 10_000
//! output_bytes = 16777216
//! # fuel_factor = 10.0                 # relative mode: see below
//! # fuel_floor = 10_000_000
//!
//! [counterexample.validator_limits]    # validator, checker program, random generator
//! ```
//! Program files are compiled once at load (language from the extension: .rs, .c, .wat).
//!
//! # Candidates
//! A candidate is a literal input (`input.txt`; any single `.txt` file is accepted too) or a
//! generator program (`main.rs`, `main.c` or `main.wat`, in an allowed language) whose stdout
//! is the input. A generator reads an empty stdin; it runs with `generator_limits` and its
//! stdout is capped at `max_input_bytes` (printing more ends it as `output_exceeded`).
//!
//! # Verdict (as REFUTE verifies)
//! 1. The input is made (literal, or the generator's output) and must be non-empty and at
//!    most `max_input_bytes`.
//! 2. The validator must exit 0 on it; another exit code rejects the input with the
//!    validator's message. A validator that traps or hits a limit is a task problem.
//! 3. The correct solution runs twice, with the sandbox's random seed 0 and then 1; it must
//!    finish both times with outputs the checker accepts as equal. Otherwise the task is at
//!    fault (status `invalid_output`, metric `task_problem`): never a success.
//! 4. The wrong solution runs once (seed 0) with the same memory, time and output limits and
//!    a fuel limit of `fuel` (absolute mode), or `min(fuel, max(fuel_floor, fuel_factor x F))`
//!    when `fuel_factor` is set, `F` being the correct solution's fuel on this input.
//!    Refuted iff it fails (non-zero exit, trap, any exceeded limit) or the checker rejects
//!    its output against the correct solution's.
//!
//! The sandbox is deterministic, so one run settles every step.
//!
//! # Status and score
//! | outcome | status | valid | score |
//! |---|---|---|---|
//! | refuted | `ok` | true | 1.0 |
//! | valid input, the wrong solution answers correctly | `wrong_answer` | false | 0.1 |
//! | invalid input (validator, size, empty) | `invalid_output` | false | 0 |
//! | the generator fails | its run status (`runtime_error`, `fuel_exhausted`, ...) | false | 0 |
//! | no usable file, language not allowed, compile error | `compile_error` | false | 0 |
//! | the task's own programs misbehave | `invalid_output` + `task_problem` | false | 0 |
//!
//! # Random-search baseline (REFUTE's randsearch)
//! [`CounterexampleEvaluator::random_input`] runs the task's `random_generator` with a seed:
//! the seed is written to its stdin as a decimal number and line feed, and also seeds the
//! sandbox's `random_get`. It returns an `input.txt` candidate to evaluate like any other, so
//! a baseline and a model compare at equal numbers of evaluations.

mod config;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use hone_sandbox::{Compilation, Language, Limits, Outcome, Program, RunStatus, Sandbox};
use serde_json::{Value, json};

pub use config::{DEFAULT_MAX_INPUT_BYTES, RunLimits, SolutionLimits};

use crate::candidate::Candidate;
use crate::checker::{self, CheckerSpec, check_builtin, checker_program_input, trim_for_feedback};
use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};
use crate::task::{Evaluator, LoadContext, Loaded, PromptMaterial, TaskKind};

/// Score of a refuting input.
pub const SCORE_REFUTED: f64 = 1.0;
/// Score of a valid input on which the wrong solution answers correctly.
pub const SCORE_NOT_REFUTED: f64 = 0.1;
/// The file name of a literal-input candidate.
pub const LITERAL_INPUT_FILE: &str = "input.txt";

/// The sandbox seeds of the correct solution's two runs (self-consistency check).
const CORRECT_RUN_SEEDS: [u64; 2] = [0, 1];
/// Bytes of any output quoted in feedback.
const EXCERPT_BYTES: usize = 300;

pub(crate) fn load(context: &LoadContext) -> Result<Loaded, TaskError> {
    let (evaluator, seeds, prompt) = build(context)?;
    Ok(Loaded {
        evaluator: Arc::new(evaluator),
        seeds,
        prompt,
    })
}

/// Parses the section, compiles the trusted programs, prepares and checks the seeds.
fn build(
    context: &LoadContext,
) -> Result<(CounterexampleEvaluator, Vec<Candidate>, PromptMaterial), TaskError> {
    let section: config::Section = context.parse_section(TaskKind::Counterexample)?;
    let manifest = &context.manifest_path;
    if section.max_input_bytes == 0 {
        return Err(TaskError::field(
            manifest,
            "counterexample.max_input_bytes",
            "must be at least 1",
        ));
    }
    if let Some(factor) = section.solution_limits.fuel_factor
        && !(factor.is_finite() && factor >= 1.0)
    {
        return Err(TaskError::field(
            manifest,
            "counterexample.solution_limits.fuel_factor",
            format!(
                "{factor} is not allowed: the wrong solution gets at least the correct one's fuel; use a number >= 1"
            ),
        ));
    }
    for (field, limits) in [
        ("counterexample.generator_limits", &section.generator_limits),
        ("counterexample.validator_limits", &section.validator_limits),
    ] {
        check_limits(
            manifest,
            field,
            limits.fuel,
            limits.memory_mb,
            limits.timeout_ms,
        )?;
    }
    let s = &section.solution_limits;
    check_limits(
        manifest,
        "counterexample.solution_limits",
        s.fuel,
        s.memory_mb,
        s.timeout_ms,
    )?;

    let checker = match &section.checker {
        CheckerSpec::Program { path } => {
            Checker::Program(context.compile_task_program("counterexample.checker.path", path)?)
        }
        spec => Checker::Builtin(spec.clone()),
    };
    let wrong_source = context.read_file("counterexample.wrong", &section.wrong)?;
    let wrong_language = Language::from_path(Path::new(&section.wrong))
        .map(|l| l.name())
        .unwrap_or("");
    let evaluator = CounterexampleEvaluator {
        sandbox: context.sandbox.clone(),
        manifest_path: manifest.clone(),
        languages: context.languages.clone(),
        max_input_bytes: section.max_input_bytes,
        generator_limits: section.generator_limits.clone(),
        validator_limits: section.validator_limits.clone(),
        solution_limits: section.solution_limits.clone(),
        validator: context.compile_task_program("counterexample.validator", &section.validator)?,
        correct: context.compile_task_program("counterexample.correct", &section.correct)?,
        wrong: context.compile_task_program("counterexample.wrong", &section.wrong)?,
        random_generator: context
            .compile_task_program("counterexample.random_generator", &section.random_generator)?,
        checker,
    };

    let mut seeds = Vec::new();
    for (i, relative) in section.seeds.iter().enumerate() {
        let field = format!("counterexample.seeds[{i}]");
        let text = context.read_file(&field, relative)?;
        let name = if relative.ends_with(".txt") {
            LITERAL_INPUT_FILE
        } else if let Some(language) = Language::from_path(Path::new(relative)) {
            if !evaluator.language_allowed(language) {
                return Err(TaskError::field(
                    manifest,
                    field,
                    format!(
                        "`{relative}` is written in {language}, which task.languages does not allow"
                    ),
                ));
            }
            language.file_name()
        } else {
            return Err(TaskError::field(
                manifest,
                field,
                format!("`{relative}`: use a .txt input or a generator source (.rs, .c, .wat)"),
            ));
        };
        seeds.push((context.dir.join(relative), Candidate::from_file(name, text)));
    }
    if seeds.is_empty() {
        seeds.push((
            context.dir.join(&section.random_generator),
            evaluator.random_input(0)?,
        ));
    }
    for (path, seed) in &seeds {
        let evaluation = evaluator.evaluate(seed);
        if !matches!(evaluation.status, EvalStatus::Ok | EvalStatus::WrongAnswer) {
            return Err(TaskError::SeedFails {
                path: path.clone(),
                message: format!(
                    "expected a valid input, got status {}: {}",
                    evaluation.status, evaluation.feedback
                ),
            });
        }
    }

    let prompt = evaluator.prompt(&section, &wrong_source, wrong_language);
    Ok((
        evaluator,
        seeds.into_iter().map(|(_, c)| c).collect(),
        prompt,
    ))
}

fn check_limits(
    manifest: &Path,
    field: &str,
    fuel: u64,
    memory_mb: u64,
    timeout_ms: u64,
) -> Result<(), TaskError> {
    for (name, value) in [
        ("fuel", fuel),
        ("memory_mb", memory_mb),
        ("timeout_ms", timeout_ms),
    ] {
        if value == 0 {
            return Err(TaskError::field(
                manifest,
                format!("{field}.{name}"),
                "must be at least 1",
            ));
        }
    }
    Ok(())
}

/// How the two solutions' outputs are compared.
enum Checker {
    Builtin(CheckerSpec),
    Program(Program),
}

/// Scores counterexample candidates (see the module documentation). Thread-safe and cheap
/// to share behind an `Arc`; every program is compiled once, at load.
pub struct CounterexampleEvaluator {
    sandbox: Sandbox,
    manifest_path: PathBuf,
    languages: Vec<Language>,
    max_input_bytes: u64,
    generator_limits: RunLimits,
    validator_limits: RunLimits,
    solution_limits: SolutionLimits,
    validator: Program,
    correct: Program,
    wrong: Program,
    random_generator: Program,
    checker: Checker,
}

impl std::fmt::Debug for CounterexampleEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterexampleEvaluator")
            .field("manifest_path", &self.manifest_path)
            .finish()
    }
}

/// A finished judgement, before it becomes an [`Evaluation`].
struct Verdict {
    status: EvalStatus,
    score: f64,
    /// Short stable name of what happened (metric `outcome`).
    outcome: &'static str,
    feedback: String,
}

impl Verdict {
    fn new(
        status: EvalStatus,
        score: f64,
        outcome: &'static str,
        feedback: impl Into<String>,
    ) -> Verdict {
        Verdict {
            status,
            score,
            outcome,
            feedback: feedback.into(),
        }
    }

    fn invalid_input(feedback: impl Into<String>) -> Verdict {
        Verdict::new(EvalStatus::InvalidOutput, 0.0, "invalid_input", feedback)
    }

    fn task_problem(feedback: impl AsRef<str>) -> Verdict {
        Verdict::new(
            EvalStatus::InvalidOutput,
            0.0,
            "task_problem",
            format!(
                "Task problem, not a counterexample: {}\nThe task's own programs misbehaved on this input; report it to the task's author.",
                feedback.as_ref()
            ),
        )
    }

    fn unusable(feedback: impl Into<String>) -> Verdict {
        Verdict::new(EvalStatus::CompileError, 0.0, "no_input", feedback)
    }
}

/// Metrics and per-run trace gathered while judging one candidate.
struct Record {
    start: Instant,
    metrics: BTreeMap<String, Value>,
    runs: Vec<Value>,
    generator_fuel: Option<u64>,
}

impl Record {
    fn new() -> Record {
        Record {
            start: Instant::now(),
            metrics: BTreeMap::new(),
            runs: Vec::new(),
            generator_fuel: None,
        }
    }

    fn metric(&mut self, name: &str, value: impl Into<Value>) {
        self.metrics.insert(name.to_string(), value.into());
    }

    fn run(&mut self, role: &str, outcome: &Outcome, limits: &Limits) {
        self.runs.push(json!({
            "program": role,
            "status": outcome.status.to_string(),
            "fuel": outcome.fuel_used,
            "fuel_limit": limits.fuel,
            "seed": limits.seed,
            "stdout_bytes": outcome.stdout.len(),
            "wall_ms": outcome.wall.as_secs_f64() * 1000.0,
        }));
    }

    fn finish(mut self, verdict: Verdict) -> Evaluation {
        let refuted = verdict.status == EvalStatus::Ok;
        self.metric("refuted", refuted);
        self.metric("outcome", verdict.outcome);
        self.metric("task_problem", verdict.outcome == "task_problem");
        Evaluation {
            status: verdict.status,
            valid: refuted,
            score: verdict.score,
            metrics: self.metrics,
            feedback: verdict.feedback,
            trace: json!({ "runs": self.runs }),
            fuel: self.generator_fuel,
            wall_ms: self.start.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

impl Evaluator for CounterexampleEvaluator {
    fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        let mut record = Record::new();
        let verdict = match self.judge(candidate, &mut record) {
            Ok(verdict) | Err(verdict) => verdict,
        };
        record.finish(verdict)
    }

    /// Counterexample tasks have no held-out data: a refutation is final.
    fn evaluate_private(&self, _candidate: &Candidate) -> Option<Evaluation> {
        None
    }
}

impl CounterexampleEvaluator {
    /// Loads the counterexample task in `dir` on its own (reading `[task]` only for its kind and
    /// languages), for callers that need the concrete evaluator, such as the random-search
    /// baseline. [`Task::load`](crate::Task::load) remains the way to load any task.
    pub fn load(dir: &Path, sandbox: &Sandbox) -> Result<CounterexampleEvaluator, TaskError> {
        let manifest_path = dir.join("task.toml");
        let text = crate::task::read_to_string(&manifest_path)?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| TaskError::Parse {
            path: manifest_path.clone(),
            message: crate::task::toml_message(&e),
        })?;
        let header = table.get("task").and_then(|v| v.as_table());
        let kind = header.and_then(|h| h.get("kind")).and_then(|v| v.as_str());
        if kind != Some(TaskKind::Counterexample.name()) {
            return Err(TaskError::field(
                &manifest_path,
                "task.kind",
                format!(
                    "expected `counterexample`, found {}",
                    kind.map(|k| format!("`{k}`")).unwrap_or("nothing".into())
                ),
            ));
        }
        let mut languages = Vec::new();
        if let Some(list) = header
            .and_then(|h| h.get("languages"))
            .and_then(|v| v.as_array())
        {
            for (i, value) in list.iter().enumerate() {
                let language = value.as_str().and_then(Language::parse).ok_or_else(|| {
                    TaskError::field(
                        &manifest_path,
                        format!("task.languages[{i}]"),
                        "unknown language; accepted: rust, c, wat",
                    )
                })?;
                languages.push(language);
            }
        }
        let section = table
            .get("counterexample")
            .and_then(|v| v.as_table())
            .cloned()
            .unwrap_or_default();
        let context = LoadContext {
            dir: dir.to_path_buf(),
            manifest_path,
            sandbox: sandbox.clone(),
            section,
            languages,
            statement: String::new(),
        };
        Ok(build(&context)?.0)
    }

    /// A random valid input from the task's random generator, as an `input.txt` candidate.
    /// The seed goes to the generator's stdin (decimal, then a line feed) and seeds its
    /// `random_get`; the same seed always gives the same input. An error means the task's
    /// random generator is broken (it failed, or printed something that is not UTF-8 text).
    pub fn random_input(&self, seed: u64) -> Result<Candidate, TaskError> {
        let field = "counterexample.random_generator";
        let limits = self
            .validator_limits
            .sandbox_limits(self.max_input_bytes, seed);
        let outcome = self
            .sandbox
            .run(
                &self.random_generator,
                format!("{seed}\n").as_bytes(),
                &limits,
            )
            .map_err(|e| {
                TaskError::field(
                    &self.manifest_path,
                    field,
                    format!("seed {seed}: the sandbox failed: {e}"),
                )
            })?;
        if !outcome.status.is_ok() {
            return Err(TaskError::field(
                &self.manifest_path,
                field,
                format!(
                    "seed {seed}: the random generator {}",
                    describe_failure(&outcome, &limits)
                ),
            ));
        }
        let text = String::from_utf8(outcome.stdout).map_err(|_| {
            TaskError::field(
                &self.manifest_path,
                field,
                format!("seed {seed}: the random generator printed bytes that are not UTF-8"),
            )
        })?;
        Ok(Candidate::from_file(LITERAL_INPUT_FILE, text))
    }

    /// `count` random inputs with seeds `first_seed`, `first_seed + 1`, ...
    pub fn random_candidates(
        &self,
        first_seed: u64,
        count: usize,
    ) -> Result<Vec<Candidate>, TaskError> {
        (0..count as u64)
            .map(|i| self.random_input(first_seed.wrapping_add(i)))
            .collect()
    }

    /// The largest input, in bytes.
    pub fn max_input_bytes(&self) -> u64 {
        self.max_input_bytes
    }

    /// The limits of the two solutions.
    pub fn solution_limits(&self) -> &SolutionLimits {
        &self.solution_limits
    }

    fn language_allowed(&self, language: Language) -> bool {
        self.languages.is_empty() || self.languages.contains(&language)
    }

    fn allowed_languages(&self) -> Vec<Language> {
        if self.languages.is_empty() {
            Language::ALL.to_vec()
        } else {
            self.languages.clone()
        }
    }

    fn prompt(
        &self,
        section: &config::Section,
        wrong_source: &str,
        wrong_language: &str,
    ) -> PromptMaterial {
        let generator_files: Vec<String> = self
            .allowed_languages()
            .iter()
            .map(|l| format!("`{}`", l.file_name()))
            .collect();
        let g = &self.generator_limits;
        PromptMaterial {
            objective: "Find a counterexample: an input that satisfies every constraint of the statement and on \
                        which the wrong solution fails, that is, it prints an answer that differs from a correct \
                        solution's answer under the checker, crashes, or exceeds a limit."
                .into(),
            statement: String::new(),
            documentation: format!(
                "The wrong solution (`{}`):\n```{wrong_language}\n{}\n```\n\nOutputs are compared as follows: {}.",
                section.wrong,
                wrong_source.trim_end(),
                describe_checker(&section.checker)
            ),
            constraints: format!(
                "The input must pass the task's validator (the statement's format and constraints, checked exactly) \
                 and be at most {} bytes. A generator program may use {} fuel, {} MiB of memory and {} ms. \
                 Solution limits: {}.",
                self.max_input_bytes,
                g.fuel,
                g.memory_mb,
                g.timeout_ms,
                self.solution_limits.describe()
            ),
            inputs: "A generator program reads nothing (its stdin is empty). It has no files, environment or \
                     network; clocks are virtual and random numbers come from a fixed seed, so it prints the same \
                     input on every run."
                .into(),
            outputs: format!(
                "Either a file `{LITERAL_INPUT_FILE}` holding the input exactly, or a generator program ({}) that \
                 prints the input on stdout.",
                generator_files.join(", ")
            ),
            variables: Vec::new(),
        }
    }

    /// Runs the whole REFUTE check; `Ok` and `Err` both carry the final verdict (`Err` for
    /// early stops, so `?` ends the judgement).
    fn judge(&self, candidate: &Candidate, record: &mut Record) -> Result<Verdict, Verdict> {
        let (input, generated) = self.candidate_input(candidate, record)?;
        record.metric("input_bytes", input.len());
        let shown = if generated {
            format!(
                "The generator printed {} bytes: {}\n",
                input.len(),
                quote(&input)
            )
        } else {
            String::new()
        };
        if input.iter().all(|b| b.is_ascii_whitespace()) {
            let what = if generated {
                "the generator printed nothing but whitespace"
            } else {
                "the input file is empty"
            };
            return Err(Verdict::invalid_input(format!("Invalid input: {what}.")));
        }
        if input.len() as u64 > self.max_input_bytes {
            return Err(Verdict::invalid_input(format!(
                "Invalid input: it has {} bytes, more than the largest allowed input ({} bytes).",
                input.len(),
                self.max_input_bytes
            )));
        }

        // The validator.
        let limits = self.validator_limits.message_limits();
        let outcome = self.run(record, "validator", &self.validator, &input, &limits)?;
        match outcome.status {
            RunStatus::Ok => record.metric("input_valid", true),
            RunStatus::Exit { code } => {
                record.metric("input_valid", false);
                let message = message_of(&outcome);
                return Err(Verdict::invalid_input(format!(
                    "{shown}Invalid input: the validator rejected it (exit code {code}): {message}"
                )));
            }
            _ => {
                return Err(Verdict::task_problem(format!(
                    "the validator {} instead of accepting or rejecting the input.",
                    describe_failure(&outcome, &limits)
                )));
            }
        }

        // The correct solution, twice.
        let correct_limits = self
            .solution_limits
            .sandbox_limits(self.solution_limits.fuel, CORRECT_RUN_SEEDS[0]);
        let correct = self.run(record, "correct", &self.correct, &input, &correct_limits)?;
        if !correct.status.is_ok() {
            return Err(Verdict::task_problem(format!(
                "the correct solution {} on this valid input.",
                describe_failure(&correct, &correct_limits)
            )));
        }
        record.metric("correct_fuel", correct.fuel_used);
        let again_limits = self
            .solution_limits
            .sandbox_limits(self.solution_limits.fuel, CORRECT_RUN_SEEDS[1]);
        let again = self.run(
            record,
            "correct (second run)",
            &self.correct,
            &input,
            &again_limits,
        )?;
        if !again.status.is_ok() {
            return Err(Verdict::task_problem(format!(
                "the correct solution disagrees with itself: it finished on its first run but {} on its second \
                 (random seed {}).",
                describe_failure(&again, &again_limits),
                CORRECT_RUN_SEEDS[1]
            )));
        }
        if again.stdout != correct.stdout
            && let checker::Verdict::Rejected(why) =
                self.compare(record, &input, &correct.stdout, &again.stdout)?
        {
            return Err(Verdict::task_problem(format!(
                "the correct solution disagrees with itself between two runs (random seeds {} and {}): {why}\n\
                 first output: {}\nsecond output: {}",
                CORRECT_RUN_SEEDS[0],
                CORRECT_RUN_SEEDS[1],
                quote(&correct.stdout),
                quote(&again.stdout)
            )));
        }

        // The wrong solution.
        let fuel_limit = self.solution_limits.wrong_fuel_limit(correct.fuel_used);
        record.metric("wrong_fuel_limit", fuel_limit);
        let wrong_limits = self.solution_limits.sandbox_limits(fuel_limit, 0);
        let wrong = self.run(record, "wrong", &self.wrong, &input, &wrong_limits)?;
        record.metric("wrong_fuel", wrong.fuel_used);
        if !wrong.status.is_ok() {
            let kind = match wrong.status {
                RunStatus::Exit { .. } | RunStatus::RuntimeError { .. } => "refuted_crash",
                _ => "refuted_limit",
            };
            return Ok(Verdict::new(
                EvalStatus::Ok,
                SCORE_REFUTED,
                kind,
                format!(
                    "{shown}Refuted: the input is valid and the wrong solution {} (the correct solution finished \
                     with {} fuel and printed {}).",
                    describe_failure(&wrong, &wrong_limits),
                    correct.fuel_used,
                    quote(&correct.stdout)
                ),
            ));
        }
        match self.compare(record, &input, &correct.stdout, &wrong.stdout)? {
            checker::Verdict::Rejected(why) => Ok(Verdict::new(
                EvalStatus::Ok,
                SCORE_REFUTED,
                "refuted_wrong_answer",
                format!(
                    "{shown}Refuted: the input is valid and the outputs differ: {why}\ncorrect output: {}\nwrong output: {}",
                    quote(&correct.stdout),
                    quote(&wrong.stdout)
                ),
            )),
            checker::Verdict::Accepted => Err(Verdict::new(
                EvalStatus::WrongAnswer,
                SCORE_NOT_REFUTED,
                "not_refuted",
                format!(
                    "{shown}Not refuted: the input is valid, but the wrong solution answers it correctly \
                     (both solutions print {}; the wrong one used {} fuel of its {} limit).",
                    quote(&correct.stdout),
                    wrong.fuel_used,
                    fuel_limit
                ),
            )),
        }
    }

    /// The candidate's input: a literal file, or its generator's output (`true` when generated).
    fn candidate_input(
        &self,
        candidate: &Candidate,
        record: &mut Record,
    ) -> Result<(Vec<u8>, bool), Verdict> {
        let generators: Vec<(Language, &String)> = Language::ALL
            .into_iter()
            .filter_map(|l| candidate.files.get(l.file_name()).map(|source| (l, source)))
            .collect();
        let literal = literal_input(candidate);
        match (literal, generators.as_slice()) {
            (Some((name, _)), [(language, _), ..]) => Err(Verdict::unusable(format!(
                "The candidate has both an input file (`{name}`) and a generator (`{}`): give one of them.",
                language.file_name()
            ))),
            (Some((_, text)), []) => {
                record.metric("source", "literal");
                record.generator_fuel = Some(0);
                Ok((text.as_bytes().to_vec(), false))
            }
            (None, [(language, source)]) => {
                record.metric("source", "generator");
                self.generate(*language, source, record)
                    .map(|input| (input, true))
            }
            (None, []) => {
                let names: Vec<&str> = candidate.files.keys().map(String::as_str).collect();
                Err(Verdict::unusable(format!(
                    "The candidate has no input: give `{LITERAL_INPUT_FILE}` or a generator program ({}); files given: {}.",
                    self.allowed_languages()
                        .iter()
                        .map(|l| l.file_name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )))
            }
            (None, several) => Err(Verdict::unusable(format!(
                "The candidate has several generator programs ({}): give exactly one.",
                several
                    .iter()
                    .map(|(l, _)| l.file_name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Compiles and runs a generator candidate; its stdout is the input.
    fn generate(
        &self,
        language: Language,
        source: &str,
        record: &mut Record,
    ) -> Result<Vec<u8>, Verdict> {
        if !self.language_allowed(language) {
            let allowed: Vec<&str> = self.allowed_languages().iter().map(|l| l.name()).collect();
            return Err(Verdict::unusable(format!(
                "language {language} is not allowed; allowed: {}",
                allowed.join(", ")
            )));
        }
        let program = match self.sandbox.compile(language, source) {
            Ok(Compilation::Ready(program)) => program,
            Ok(Compilation::Rejected(diagnostics)) => {
                return Err(Verdict::new(
                    EvalStatus::CompileError,
                    0.0,
                    "compile_error",
                    format!(
                        "The generator does not compile:\n{}",
                        trim_for_feedback(&diagnostics, 4000)
                    ),
                ));
            }
            Err(e) => {
                return Err(Verdict::new(
                    EvalStatus::CompileError,
                    0.0,
                    "compile_error",
                    format!("The generator could not be compiled: {e}"),
                ));
            }
        };
        let limits = self
            .generator_limits
            .sandbox_limits(self.max_input_bytes, 0);
        let outcome = self.run(record, "generator", &program, b"", &limits)?;
        record.generator_fuel = Some(outcome.fuel_used);
        record.metric("generator_fuel", outcome.fuel_used);
        match EvalStatus::from_run_status(&outcome.status) {
            None => Ok(outcome.stdout),
            Some(status) => {
                let what = if matches!(outcome.status, RunStatus::OutputExceeded { .. }) {
                    format!(
                        "printed more than the largest allowed input ({} bytes)",
                        self.max_input_bytes
                    )
                } else {
                    describe_failure(&outcome, &limits)
                };
                Err(Verdict::new(
                    status,
                    0.0,
                    "generator_failed",
                    format!("The generator {what}; no input was made."),
                ))
            }
        }
    }

    /// Compares `got` with `expected` under the task's checker. `Err` when a checker program
    /// misbehaves (a task problem).
    fn compare(
        &self,
        record: &mut Record,
        input: &[u8],
        expected: &[u8],
        got: &[u8],
    ) -> Result<checker::Verdict, Verdict> {
        match &self.checker {
            Checker::Builtin(spec) => {
                let expected = String::from_utf8_lossy(expected);
                let got = String::from_utf8_lossy(got);
                check_builtin(spec, &expected, &got).ok_or_else(|| {
                    Verdict::task_problem("the checker is a program but was not compiled.")
                })
            }
            Checker::Program(program) => {
                let limits = self.validator_limits.message_limits();
                let stdin = checker_program_input(input, expected, got);
                let outcome = self.run(record, "checker", program, &stdin, &limits)?;
                match outcome.status {
                    RunStatus::Ok => Ok(checker::Verdict::Accepted),
                    RunStatus::Exit { code } => {
                        let message = message_of(&outcome);
                        Ok(checker::Verdict::Rejected(format!(
                            "the checker rejected it (exit code {code}): {message}"
                        )))
                    }
                    _ => Err(Verdict::task_problem(format!(
                        "the checker program {}.",
                        describe_failure(&outcome, &limits)
                    ))),
                }
            }
        }
    }

    /// One sandbox run, recorded in the trace. A sandbox failure (not the program's) ends
    /// the judgement with a runtime_error that is never a success.
    fn run(
        &self,
        record: &mut Record,
        role: &str,
        program: &Program,
        stdin: &[u8],
        limits: &Limits,
    ) -> Result<Outcome, Verdict> {
        match self.sandbox.run(program, stdin, limits) {
            Ok(outcome) => {
                record.run(role, &outcome, limits);
                Ok(outcome)
            }
            Err(e) => Err(Verdict::new(
                EvalStatus::RuntimeError,
                0.0,
                "sandbox_error",
                format!("The sandbox failed while running the {role}: {e}"),
            )),
        }
    }
}

/// The literal input of a candidate: `input.txt`, or else its only `.txt` file.
fn literal_input(candidate: &Candidate) -> Option<(&str, &str)> {
    if let Some(text) = candidate.files.get(LITERAL_INPUT_FILE) {
        return Some((LITERAL_INPUT_FILE, text));
    }
    let mut texts = candidate
        .files
        .iter()
        .filter(|(name, _)| name.ends_with(".txt"));
    match (texts.next(), texts.next()) {
        (Some((name, text)), None) => Some((name, text)),
        _ => None,
    }
}

/// How a run failed, in words, with its stderr when it wrote some.
fn describe_failure(outcome: &Outcome, limits: &Limits) -> String {
    let what = match &outcome.status {
        RunStatus::Ok => "finished normally".to_string(),
        RunStatus::Exit { code } => format!("exited with code {code}"),
        RunStatus::RuntimeError { trap, message } => {
            format!("crashed ({trap}: {})", trim_for_feedback(message, 200))
        }
        RunStatus::FuelExhausted => {
            format!(
                "ran out of fuel (limit {})",
                limits.fuel.map(|f| f.to_string()).unwrap_or("none".into())
            )
        }
        RunStatus::Timeout => format!(
            "hit the wall-clock limit of {} ms",
            limits.timeout.as_millis()
        ),
        RunStatus::MemoryExceeded => format!(
            "exceeded the memory limit of {} MiB",
            limits.memory_bytes >> 20
        ),
        RunStatus::OutputExceeded { stream } => {
            format!("wrote more to {stream} than its limit allows")
        }
    };
    let stderr = outcome.stderr.trim();
    if stderr.is_empty() {
        what
    } else {
        format!(
            "{what}; stderr: {}",
            trim_for_feedback(stderr, EXCERPT_BYTES)
        )
    }
}

/// A validator's or checker's message: its stdout, else its stderr.
fn message_of(outcome: &Outcome) -> String {
    let stdout = outcome.stdout_text();
    let text = if stdout.trim().is_empty() {
        outcome.stderr.as_str()
    } else {
        stdout.as_ref()
    };
    let text = text.trim();
    if text.is_empty() {
        "(no message)".to_string()
    } else {
        trim_for_feedback(text, EXCERPT_BYTES)
    }
}

/// An output quoted for feedback: trimmed, cut to a few hundred bytes, in backticks.
fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "nothing".to_string();
    }
    format!("`{}`", trim_for_feedback(text, EXCERPT_BYTES))
}

fn describe_checker(spec: &CheckerSpec) -> String {
    match spec {
        CheckerSpec::Tokens => "whitespace-separated tokens must be equal".into(),
        CheckerSpec::YesNo => {
            "whitespace-separated tokens must be equal, ignoring letter case (YES = yes)".into()
        }
        CheckerSpec::Float { abs, rel } => {
            format!(
                "tokens must be equal, except numbers, which may differ by an absolute error of {abs} or a relative error of {rel}"
            )
        }
        CheckerSpec::Program { .. } => {
            "a checker program decides whether the wrong output is acceptable".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_input_prefers_input_txt() {
        let mut candidate = Candidate::from_file("notes.txt", "x");
        assert_eq!(literal_input(&candidate), Some(("notes.txt", "x")));
        candidate
            .files
            .insert(LITERAL_INPUT_FILE.into(), "1\n".into());
        assert_eq!(literal_input(&candidate), Some((LITERAL_INPUT_FILE, "1\n")));
        let two = Candidate {
            files: [
                ("a.txt".to_string(), "1".to_string()),
                ("b.txt".to_string(), "2".to_string()),
            ]
            .into(),
            values: BTreeMap::new(),
        };
        assert_eq!(literal_input(&two), None);
    }

    #[test]
    fn quote_trims_and_cuts() {
        assert_eq!(quote(b"  42\n"), "`42`");
        assert_eq!(quote(b"\n"), "nothing");
        assert!(quote(&vec![b'7'; 5000]).contains("more bytes cut"));
    }
}
