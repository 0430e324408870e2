//! The counterexample evaluator: the REFUTE verdict on a candidate (see the kind's
//! documentation) and the random inputs of the baseline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use hone_sandbox::{Compilation, Language, Limits, Outcome, Program, RunStatus, Sandbox};
use serde_json::{Value, json};

use super::config::{self, RunLimits, SolutionLimits};
use super::{LITERAL_INPUT_FILE, SCORE_NOT_REFUTED, SCORE_REFUTED};
use crate::candidate::Candidate;
use crate::checker::{self, CheckerSpec, check_builtin, checker_program_input, trim_for_feedback};
use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};
use crate::task::{Evaluator, PromptMaterial, RandomCandidates};

/// The sandbox seeds of the correct solution's two runs (self-consistency check).
const CORRECT_RUN_SEEDS: [u64; 2] = [0, 1];
/// Bytes of any output quoted in feedback.
const EXCERPT_BYTES: usize = 300;

/// How the two solutions' outputs are compared.
pub(super) enum Checker {
    Builtin(CheckerSpec),
    Program(Program),
}

/// Scores counterexample candidates (see the module documentation). Thread-safe and cheap
/// to share behind an `Arc`; every program is compiled once, at load.
pub struct CounterexampleEvaluator {
    pub(super) sandbox: Sandbox,
    pub(super) manifest_path: PathBuf,
    pub(super) languages: Vec<Language>,
    pub(super) max_input_bytes: u64,
    pub(super) generator_limits: RunLimits,
    pub(super) validator_limits: RunLimits,
    pub(super) solution_limits: SolutionLimits,
    pub(super) validator: Program,
    pub(super) correct: Program,
    pub(super) wrong: Program,
    pub(super) random_generator: Program,
    pub(super) checker: Checker,
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

    fn has_held_out_cases(&self) -> bool {
        false
    }

    fn random_candidates(&self) -> Option<&dyn RandomCandidates> {
        Some(self)
    }
}

impl RandomCandidates for CounterexampleEvaluator {
    fn random_candidate(&self, seed: u64) -> Result<Candidate, TaskError> {
        self.random_input(seed)
    }
}

impl CounterexampleEvaluator {
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

    pub(super) fn language_allowed(&self, language: Language) -> bool {
        self.languages.is_empty() || self.languages.contains(&language)
    }

    fn allowed_languages(&self) -> Vec<Language> {
        if self.languages.is_empty() {
            Language::ALL.to_vec()
        } else {
            self.languages.clone()
        }
    }

    pub(super) fn prompt(
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
