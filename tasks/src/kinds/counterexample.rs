//! counterexample tasks (REFUTE): find an input on which a subtly wrong solution fails.
//!
//! # task.toml
//! ```toml
//! [task]
//! kind = "counterexample"
//! statement = "statement.md"           # the problem: input format and constraints, precisely
//! languages = ["c", "rust", "wat", "python"]  # languages a generator may use (empty: all)
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
//! Program files are compiled once at load (language from the extension: .rs, .c, .cpp, .wat).
//!
//! # Candidates
//! A candidate is a literal input (`input.txt`; any single `.txt` file is accepted too) or a
//! generator program (`main.rs`, `main.c`, `main.cpp`, `main.wat` or `main.py`, in an
//! allowed language) whose stdout is the input. A generator reads an empty stdin; it runs with `generator_limits` and its
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
//! The task's [`RandomCandidates`](crate::RandomCandidates) (from
//! [`Task::random_candidates`](crate::Task::random_candidates)) run its `random_generator`
//! with a seed, written to its stdin as a decimal number and a line feed, which also seeds
//! the sandbox's `random_get`. Each is an `input.txt` candidate to evaluate like any other,
//! so a baseline and a model compare at equal numbers of evaluations.

mod config;
mod evaluator;

use std::path::Path;
use std::sync::Arc;

use hone_sandbox::Language;

pub use config::{DEFAULT_MAX_INPUT_BYTES, RunLimits, SolutionLimits};
use evaluator::Checker;
pub use evaluator::CounterexampleEvaluator;

use crate::candidate::Candidate;
use crate::checker::CheckerSpec;
use crate::error::TaskError;
use crate::evaluation::EvalStatus;
use crate::task::{Evaluator, LoadContext, Loaded, PromptMaterial, TaskKind};

/// Score of a refuting input.
pub const SCORE_REFUTED: f64 = 1.0;
/// Score of a valid input on which the wrong solution answers correctly.
pub const SCORE_NOT_REFUTED: f64 = 0.1;
/// The file name of a literal-input candidate.
pub const LITERAL_INPUT_FILE: &str = "input.txt";

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
                format!(
                    "`{relative}`: use a .txt input or a generator source ({})",
                    Language::extension_list()
                ),
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
