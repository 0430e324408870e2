//! construction tasks (AlphaEvolve-style mathematical constructions): a program prints a
//! construction (circles, points), which hone verifies exactly and scores against the best
//! published value.
//!
//! # task.toml
//! ```toml
//! [task]
//! kind = "construction"
//! languages = ["c", "rust"]
//!
//! [construction]
//! problem = "circles_in_square"  # circles_in_square | circles_in_rectangle |
//!                                # heilbronn_triangle | distance_ratio
//! n = 26                         # circles or points (1..=1000; heilbronn 3..=100)
//! dimension = 2                  # distance_ratio only (2 or more; default 2)
//! best_known = 2.6358627564136983  # the best published objective (its source in the statement)
//! seed = "seed.c"                # the starting candidate (.rs or .c)
//! fuel = 2_000_000_000           # one run (defaults shown)
//! timeout_ms = 10_000
//! memory_mb = 256
//! ```
//!
//! # The problems
//! - `circles_in_square`: n disjoint circles (`x y r` each) inside the unit square
//!   `[0,1]²`; maximize the sum of radii.
//! - `circles_in_rectangle`: n disjoint circles (`x y r`) inside some rectangle of
//!   perimeter 4 (the circles' axis-aligned bounding box must have width + height <= 2);
//!   maximize the sum of radii.
//! - `heilbronn_triangle`: n points (`x y`) on or inside the equilateral triangle with
//!   vertices (0,0), (1,0), (1/2, √3/2); maximize the smallest area of a triangle of three
//!   of them, over the triangle's area √3/4 (so as in a unit-area triangle).
//! - `distance_ratio`: n distinct points of `dimension` coordinates; minimize the squared
//!   ratio of the largest to the smallest distance between two of them.
//!
//! Circles may touch (distance = r1 + r2) and touch the sides; radii must be >= 0.
//!
//! # Verification (cannot be fooled by the candidate)
//! The candidate runs once, with an empty stdin and `random_get` seeded with 0. Its stdout
//! must be exactly n x (numbers per item) whitespace-separated decimal numbers, nothing
//! else: each `-?D+(.D+)?([eE][+-]?D+)?` with at most 100 digits and an exponent within
//! ±30 (NaN, infinities, hex floats, other tokens, too few or too many numbers are
//! `invalid_output`). The numbers are read exactly (a decimal is a rational) and every
//! constraint is decided on them in exact integer arithmetic (see [`problems`]); a
//! construction that violates any constraint by any amount is `wrong_answer`, and the
//! feedback names the first violated constraint. The objective comes from the printed
//! numbers only; nothing else the program prints counts.
//!
//! # Score (higher is better)
//! `objective / best_known` (maximize) or `best_known / objective` (minimize): 1.0 matches
//! the best published construction, above 1 beats it. An invalid construction scores 0.
//! There are no held-out cases: the public evaluation is the private one.
//!
//! Metrics: `objective`, `objective_exact` (the exact value, as text), `best_known`,
//! `fuel`, `wall_ms`.

pub mod exact;
pub mod problems;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hone_sandbox::{Compilation, Language, Limits, Sandbox};
use serde::Deserialize;

use crate::candidate::Candidate;
use crate::checker::trim_for_feedback;
use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};
use crate::task::{Evaluator, LoadContext, Loaded, PromptMaterial, TaskKind};
use exact::{Decimal, MAX_DIGITS, MAX_EXPONENT, Scaled};
pub use problems::{Direction, Family, Problem, Rejection, Verified};

/// The `[construction]` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    problem: Family,
    n: usize,
    dimension: Option<usize>,
    best_known: f64,
    seed: String,
    #[serde(default = "default_fuel")]
    fuel: u64,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_memory_mb")]
    memory_mb: u64,
}

fn default_fuel() -> u64 {
    2_000_000_000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_memory_mb() -> u64 {
    256
}

/// The most items a problem may ask for (every pair is checked).
const MAX_ITEMS: usize = 1000;

/// The most points a Heilbronn problem may ask for (every triple is checked).
const MAX_HEILBRONN_POINTS: usize = 100;

/// Bytes of stdout kept: far more than any construction of [`MAX_ITEMS`] items needs.
const STDOUT_BYTES: u64 = 1 << 20;

/// Verifies and scores printed constructions of one problem.
pub struct ConstructionEvaluator {
    sandbox: Sandbox,
    languages: Vec<Language>,
    problem: Problem,
    best_known: f64,
    limits: Limits,
}

impl ConstructionEvaluator {
    /// Reads the program's stdout as the construction: exactly the numbers asked for.
    pub fn read(&self, stdout: &[u8]) -> Result<Scaled, Rejection> {
        let malformed = |message: String| Rejection {
            malformed: true,
            message,
        };
        let text = std::str::from_utf8(stdout)
            .map_err(|e| malformed(format!("the output is not UTF-8 text ({e})")))?;
        let problem = &self.problem;
        let expected = problem.n * problem.per_item();
        let mut decimals = Vec::with_capacity(expected);
        for (index, token) in text.split_ascii_whitespace().enumerate() {
            if index == expected {
                return Err(malformed(format!(
                    "extra output after the {expected} numbers: token {} is `{}`; print the numbers only (use stderr for anything else)",
                    index + 1,
                    trim_for_feedback(token, 60)
                )));
            }
            let decimal = Decimal::parse(token).map_err(|why| {
                malformed(format!(
                    "number {} ({} {}, value {}) `{}` {why}",
                    index + 1,
                    problem.item(),
                    index / problem.per_item() + 1,
                    index % problem.per_item() + 1,
                    trim_for_feedback(token, 60)
                ))
            })?;
            decimals.push(decimal);
        }
        if decimals.len() < expected {
            return Err(malformed(format!(
                "the output has {} numbers; {expected} are needed ({} {}s, `{}` each)",
                decimals.len(),
                problem.n,
                problem.item(),
                problem.line_format()
            )));
        }
        Ok(Scaled::new(&decimals))
    }

    /// The score of an objective: its fraction of the best known (inverted when minimizing).
    pub fn score(&self, objective: f64) -> f64 {
        match self.problem.direction() {
            Direction::Maximize => objective / self.best_known,
            Direction::Minimize if objective > 0.0 => self.best_known / objective,
            Direction::Minimize => 0.0,
        }
    }

    /// Verifies printed output and scores it (no program run): what [`Evaluator::evaluate`]
    /// does with the program's stdout.
    pub fn judge_output(&self, stdout: &[u8]) -> Evaluation {
        let verified = self
            .read(stdout)
            .and_then(|numbers| self.problem.verify(&numbers));
        let verified = match verified {
            Ok(verified) => verified,
            Err(rejection) => {
                let status = if rejection.malformed {
                    EvalStatus::InvalidOutput
                } else {
                    EvalStatus::WrongAnswer
                };
                let what = if rejection.malformed {
                    "The output is not a construction"
                } else {
                    "The construction is invalid"
                };
                return Evaluation::failed(status, format!("{what}: {}", rejection.message))
                    .with_metric("best_known", self.best_known);
            }
        };
        let score = self.score(verified.objective);
        let problem = &self.problem;
        let mut feedback = format!(
            "Valid construction. {} ({}): {}",
            capitalized(problem.objective_name()),
            problem.direction().name(),
            verified.objective
        );
        if let Some(exact) = &verified.exact {
            let _ = write!(feedback, " (exact: {})", trim_for_feedback(exact, 300));
        }
        let _ = write!(
            feedback,
            ".\nBest known: {}. Score {score:.6} = {}.",
            self.best_known,
            match problem.direction() {
                Direction::Maximize => "objective / best known",
                Direction::Minimize => "best known / objective",
            }
        );
        if !verified.detail.is_empty() {
            let _ = write!(feedback, "\n{}", verified.detail);
        }
        let mut evaluation = Evaluation {
            status: EvalStatus::Ok,
            valid: true,
            score,
            metrics: Default::default(),
            feedback,
            trace: serde_json::Value::Null,
            fuel: None,
            wall_ms: 0.0,
        }
        .with_metric("objective", verified.objective)
        .with_metric("best_known", self.best_known);
        if let Some(exact) = verified.exact {
            evaluation = evaluation.with_metric("objective_exact", exact);
        }
        evaluation
    }

    fn run(&self, candidate: &Candidate) -> Evaluation {
        let Some((name, source, language)) = candidate.files.iter().find_map(|(name, text)| {
            Language::from_path(Path::new(name)).map(|l| (name.as_str(), text.as_str(), l))
        }) else {
            return Evaluation::failed(
                EvalStatus::CompileError,
                format!(
                    "the candidate has no code file; expected one of: {}",
                    self.file_names()
                ),
            );
        };
        if !self.languages.contains(&language) {
            return Evaluation::failed(
                EvalStatus::CompileError,
                format!(
                    "language {language} (file `{name}`) is not allowed for this task; write {}",
                    self.file_names()
                ),
            );
        }
        let program = match self.sandbox.compile(language, source) {
            Ok(Compilation::Ready(program)) => program,
            Ok(Compilation::Rejected(diagnostics)) => {
                return Evaluation::failed(
                    EvalStatus::CompileError,
                    format!(
                        "{name} does not compile:\n{}",
                        trim_for_feedback(&diagnostics, 4000)
                    ),
                );
            }
            Err(error) => {
                return Evaluation::failed(
                    EvalStatus::CompileError,
                    format!("the sandbox could not compile the candidate: {error}"),
                );
            }
        };
        let outcome = match self.sandbox.run(&program, b"", &self.limits) {
            Ok(outcome) => outcome,
            Err(error) => {
                return Evaluation::failed(
                    EvalStatus::RuntimeError,
                    format!("the sandbox failed: {error}"),
                );
            }
        };
        let mut evaluation = match EvalStatus::from_run_status(&outcome.status) {
            Some(status) => {
                let mut message = format!("The program did not finish: {}", outcome.status);
                let stderr = outcome.stderr.trim();
                if !stderr.is_empty() {
                    let _ = write!(message, "; stderr: {}", trim_for_feedback(stderr, 400));
                }
                Evaluation::failed(status, message)
            }
            None => self.judge_output(&outcome.stdout),
        };
        evaluation.fuel = Some(outcome.fuel_used);
        evaluation.with_metric("fuel", outcome.fuel_used)
    }

    fn file_names(&self) -> String {
        self.languages
            .iter()
            .map(|l| l.file_name())
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl Evaluator for ConstructionEvaluator {
    fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        let start = Instant::now();
        let mut evaluation = self.run(candidate);
        evaluation.wall_ms = start.elapsed().as_secs_f64() * 1e3;
        let wall_ms = evaluation.wall_ms;
        evaluation.with_metric("wall_ms", wall_ms)
    }

    /// No held-out cases: a construction is judged on itself alone.
    fn evaluate_private(&self, _candidate: &Candidate) -> Option<Evaluation> {
        None
    }

    fn has_held_out_cases(&self) -> bool {
        false
    }
}

pub(crate) fn load(context: &LoadContext) -> Result<Loaded, TaskError> {
    let manifest = &context.manifest_path;
    if context.section.is_empty() {
        return Err(TaskError::field(
            manifest,
            "construction",
            "missing: a construction task needs a [construction] section with `problem`, `n`, `best_known` and `seed`",
        ));
    }
    let section: Section = context.parse_section(TaskKind::Construction)?;
    if context.languages.is_empty() {
        return Err(TaskError::field(
            manifest,
            "task.languages",
            "a construction task needs at least one candidate language, e.g. [\"c\", \"rust\"]",
        ));
    }
    let minimum = match section.problem {
        Family::HeilbronnTriangle => 3,
        Family::DistanceRatio => 2,
        _ => 1,
    };
    let maximum = match section.problem {
        Family::HeilbronnTriangle => MAX_HEILBRONN_POINTS,
        _ => MAX_ITEMS,
    };
    if !(minimum..=maximum).contains(&section.n) {
        return Err(TaskError::field(
            manifest,
            "construction.n",
            format!(
                "{} is out of range; accepted: {minimum}..={maximum}",
                section.n
            ),
        ));
    }
    let dimension = match (section.problem, section.dimension) {
        (Family::DistanceRatio, None) => 2,
        (Family::DistanceRatio, Some(d)) if (1..=16).contains(&d) => d,
        (Family::DistanceRatio, Some(d)) => {
            return Err(TaskError::field(
                manifest,
                "construction.dimension",
                format!("{d} is out of range; accepted: 1..=16"),
            ));
        }
        (_, None) => 2,
        (_, Some(_)) => {
            return Err(TaskError::field(
                manifest,
                "construction.dimension",
                "applies to `distance_ratio` only (the other problems are planar); remove the key",
            ));
        }
    };
    if !(section.best_known.is_finite() && section.best_known > 0.0) {
        return Err(TaskError::field(
            manifest,
            "construction.best_known",
            format!(
                "{} must be a positive finite number (the best published objective)",
                section.best_known
            ),
        ));
    }
    for (field, value) in [
        ("construction.fuel", section.fuel),
        ("construction.timeout_ms", section.timeout_ms),
        ("construction.memory_mb", section.memory_mb),
    ] {
        if value == 0 {
            return Err(TaskError::field(manifest, field, "must be at least 1"));
        }
    }
    let seed_path = context.existing_path("construction.seed", &section.seed)?;
    let seed_language = Language::from_path(&seed_path)
        .filter(|l| context.languages.contains(l))
        .ok_or_else(|| {
            TaskError::field(
                manifest,
                "construction.seed",
                format!(
                    "`{}` is not in a language of `task.languages` ({})",
                    section.seed,
                    context
                        .languages
                        .iter()
                        .map(|l| l.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let seed = Candidate::from_file(
        seed_language.file_name(),
        context.read_file("construction.seed", &section.seed)?,
    );
    let problem = Problem {
        family: section.problem,
        n: section.n,
        dimension,
    };
    let limits = Limits {
        fuel: Some(section.fuel),
        memory_bytes: section.memory_mb << 20,
        timeout: Duration::from_millis(section.timeout_ms),
        stdout_bytes: STDOUT_BYTES,
        host_kernels: context.host_kernels,
        ..Limits::default()
    };
    let evaluator = ConstructionEvaluator {
        sandbox: context.sandbox.clone(),
        languages: context.languages.clone(),
        problem,
        best_known: section.best_known,
        limits,
    };
    let prompt = prompt_material(&evaluator, &section);
    Ok(Loaded {
        evaluator: Arc::new(evaluator),
        seeds: vec![seed],
        prompt,
    })
}

fn prompt_material(evaluator: &ConstructionEvaluator, section: &Section) -> PromptMaterial {
    let problem = &evaluator.problem;
    let direction = problem.direction();
    PromptMaterial {
        objective: format!(
            "Write a program that prints a construction for this problem ({} the {}). It is verified exactly; your score is {} (1.0 = the best published construction, {}; above 1 beats it). An invalid construction scores 0.",
            direction.name(),
            problem.objective_name(),
            match direction {
                Direction::Maximize => "your objective divided by the best known",
                Direction::Minimize => "the best known divided by your objective",
            },
            evaluator.best_known
        ),
        statement: String::new(),
        documentation: "Programs are compiled to WebAssembly (WASI preview 1) and run once in a sandbox: rust with \
                        `rustc -O` (edition 2021, std available), c with `clang -O2` (wasi-libc, -lm). No files, no \
                        network, no threads. Time is fuel: deterministic instruction counts. `random_get` is seeded \
                        with 0, so a randomized search is reproducible. The program may search or optimize before \
                        it prints (within the fuel limit)."
            .into(),
        constraints: format!(
            "Fuel {} (about that many wasm instructions), memory {} MiB, wall clock {} ms. Every constraint is \
             checked in exact arithmetic on the numbers exactly as printed: a violation by any amount (1e-15 \
             included) makes the construction invalid, so leave a tiny margin where you round (e.g. shrink radii \
             by 1e-12). Print enough digits (printf(\"%.17g\")) for the numbers you mean.",
            section.fuel, section.memory_mb, section.timeout_ms
        ),
        inputs: "Nothing: stdin is empty.".into(),
        outputs: format!(
            "Exactly {} lines on stdout, one per {}: `{}`, the numbers as decimals (e.g. 0.125, -3, 1.5e-3; at \
             most {MAX_DIGITS} digits, exponents within ±{MAX_EXPONENT}; no NaN, infinity or hex floats). \
             Nothing else on stdout (use stderr for notes): any other token makes the output invalid.",
            problem.n,
            problem.item(),
            problem.line_format()
        ),
        variables: Vec::new(),
    }
}
