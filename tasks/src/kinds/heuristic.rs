//! heuristic tasks (ALE-Bench / AtCoder Heuristic Contest): a program that solves generated
//! cases of a hard optimization problem, scored case by case.
//!
//! # task.toml
//! ```toml
//! [task]
//! kind = "heuristic"
//! languages = ["rust", "c"]
//!
//! [heuristic]
//! builtin = "ahc001"            # a generator + scorer built into hone-tasks, or:
//! # tools = "tools"             # an AHC tools folder (Cargo project: gen + vis or tester)
//! # interactive = true          # tools only: run `tester` (default: when there is no vis)
//! objective = "maximize"        # or "minimize"; required for tools, checked for builtins
//! seed = "seed.rs"              # the starting candidate (.rs, .c or .cpp)
//! public_seeds = "0..15"        # cases scored during the run: a range or [1, 2, 3]
//! private_seeds = "1000..1030"  # cases scored only by evaluate_private (optional)
//! best_known = "best.txt"       # optional: `SEED SCORE` lines, or { "0" = 123, ... }
//! zero_on_failure = false       # AtCoder rule: any failed case zeroes the total
//! strict_output = false         # ahc001: read outputs more strictly than the contest's vis
//! fuel = 2_000_000_000          # per case
//! timeout_ms = 10_000           # per case, wall clock
//! memory_mb = 256               # per case
//! tool_timeout_ms = 60_000      # per run of gen / vis / tester (plus timeout_ms for tester)
//! cascade = [{ cases = 3, min_score = 0.5 }]  # optional: stages of public cases, cheap first
//! ```
//! A cascade runs the public cases in stages and stops a candidate at the first stage it
//! does not pass: valid on the stage's cases and, with `min_score`, scoring at least that
//! on them (scored as the whole evaluation is, over the stage's cases only). A candidate
//! stopped below a threshold is `cascade_stopped` (invalid, score 0); its metrics and
//! trace cover the cases it ran. Put cheap (small) seeds first in `public_seeds`.
//!
//! # Scoring (higher is better for hone)
//! Each case: the candidate runs in the sandbox on the case's input (its `random_get` seeded
//! with the case seed); the scorer gives the raw score. A failed case (runtime error, a
//! limit, output the scorer rejects or gives no score for) scores 0 and is named in the
//! feedback. A case whose generator failed is skipped (named in the feedback, not scored).
//!
//! - With a reference per case, the case's relative score is `raw / ref` (maximize) or
//!   `ref / max(raw, 1)` (minimize), and hone's score is the mean relative score over the
//!   cases. The reference is `best_known` when given (it must then name every seed); for a
//!   minimize task without `best_known` it is the seed candidate's raw score, measured at
//!   load (the seed must pass every case), so the seed scores 1.0 and a tour 10% shorter
//!   on every case about 1.11. (Negating the total was the alternative; it leaves no
//!   natural value for a failed case, lets large cases dominate, and puts every score below
//!   the 0 of an invalid candidate, which the strategies would misread.)
//! - Otherwise (maximize without `best_known`) hone's score is the total raw score.
//! - `zero_on_failure`: any failed case makes the score 0.
//!
//! Interactive tools: the tester's command is `hone sandbox run --stream` (the hone binary
//! given to the [`TaskLoader`](crate::TaskLoader)), which passes the
//! candidate's stdin and stdout through as it runs, so the tester can answer each query
//! before the next (turn by turn); a candidate that stops answering ends at `timeout_ms`.
//!
//! Valid when at least one case scored (every case, under `zero_on_failure`); an invalid
//! evaluation's status is the first failed case's. Metrics: `total` (raw, over passed
//! cases), `cases`, `passed`, `failed`, `skipped`, `case_scores` (seed -> raw score or
//! null), `relative` (mean, when relative), `fuel`, `wall_ms`. The trace has one object
//! per case: `seed`, `status`, `raw`, `score`, `fuel`, `message`.

mod judge;
pub mod problems;
mod spec;
pub mod tools;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hone_sandbox::{Language, Limits};

use crate::candidate::Candidate;
use crate::cascade::Cascade;
use crate::checker::trim_for_feedback;
use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};
use crate::task::{Evaluator, LoadContext, Loaded, PromptMaterial};
use judge::{CaseResult, Judge};
pub use spec::Objective;
use tools::Tools;

/// Makes the input of a seed, or says why it cannot.
type Generator = Box<dyn Fn(u64) -> Result<String, String>>;

/// One case: its seed, its input (or why the generator gave none) and its reference score.
struct Case {
    seed: u64,
    input: Result<Arc<str>, String>,
    reference: Option<f64>,
}

struct HeuristicEvaluator {
    judge: Judge,
    scoring: Scoring,
    public: Vec<Case>,
    private: Vec<Case>,
    /// Stages of the public cases (empty: every case at once).
    cascade: Cascade,
}

/// How case results become one evaluation.
struct Scoring {
    objective: Objective,
    zero_on_failure: bool,
    /// Scores are relative to each case's reference (best known, or the seed's).
    relative: bool,
}

impl HeuristicEvaluator {
    /// Scores `candidate` on `cases`, in the stages of `cascade` (empty: all at once).
    fn evaluate_on(&self, candidate: &Candidate, cases: &[Case], cascade: &Cascade) -> Evaluation {
        let start = Instant::now();
        let runner = match self.judge.prepare(candidate) {
            Ok(runner) => runner,
            Err(mut evaluation) => {
                evaluation.wall_ms = start.elapsed().as_secs_f64() * 1e3;
                return evaluation.with_metric("cases", cases.len());
            }
        };
        let mut results: Vec<CaseResult> = Vec::with_capacity(cases.len());
        // A stopped candidate's evaluation is the one of the stage that stopped it.
        let mut stopped = None;
        for case in cases {
            results.push(match &case.input {
                Ok(input) => runner.run(case.seed, input),
                Err(message) => CaseResult::skipped(case.seed, message.clone()),
            });
            if let Some((number, stage)) = cascade.stage_ending_at(results.len()) {
                let on_stage = self.scoring.aggregate(&cases[..results.len()], &results);
                if let Some(stop) = cascade.judge(number, stage, on_stage.valid, on_stage.score) {
                    stopped = Some((stop, on_stage));
                    break;
                }
            }
        }
        let (stop, mut evaluation) = match stopped {
            Some((stop, on_stage)) => (Some(stop), on_stage),
            None => (None, self.scoring.aggregate(cases, &results)),
        };
        cascade.mark(&mut evaluation, stop, cases.len());
        evaluation.wall_ms = start.elapsed().as_secs_f64() * 1e3;
        evaluation
            .metrics
            .insert("wall_ms".into(), evaluation.wall_ms.into());
        evaluation
    }
}

impl Scoring {
    /// Case results -> the evaluation (score, validity, metrics, feedback, trace).
    fn aggregate(&self, cases: &[Case], results: &[CaseResult]) -> Evaluation {
        let relative = self.relative;
        let mut contributions = Vec::with_capacity(results.len());
        let (mut total, mut passed, mut failed, mut skipped, mut fuel) =
            (0i64, 0usize, 0usize, 0usize, 0u64);
        let mut first_failure = None;
        for (case, result) in cases.iter().zip(results) {
            fuel += result.fuel.unwrap_or(0);
            let contribution = match (&result.status, result.raw) {
                (None, _) if result.skipped => {
                    skipped += 1;
                    None
                }
                (None, Some(raw)) => {
                    passed += 1;
                    total = total.saturating_add(raw);
                    Some(match (relative, case.reference) {
                        (true, Some(reference)) => match self.objective {
                            Objective::Maximize => raw as f64 / reference,
                            Objective::Minimize => reference / (raw.max(1) as f64),
                        },
                        // Every case with an input has a reference when scoring is relative.
                        (true, None) => 0.0,
                        (false, _) => raw as f64,
                    })
                }
                (status, _) => {
                    failed += 1;
                    first_failure.get_or_insert(status.unwrap_or(EvalStatus::WrongAnswer));
                    Some(0.0)
                }
            };
            contributions.push(contribution);
        }
        let counted = passed + failed;
        let valid = passed > 0 && !(self.zero_on_failure && failed > 0);
        let score = if !valid {
            0.0
        } else if relative {
            contributions.iter().flatten().sum::<f64>() / counted.max(1) as f64
        } else {
            total as f64
        };
        let status = if valid {
            EvalStatus::Ok
        } else {
            first_failure.unwrap_or(EvalStatus::RuntimeError)
        };
        let case_scores: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|r| {
                (
                    r.seed.to_string(),
                    r.raw.filter(|_| r.status.is_none()).into(),
                )
            })
            .collect();
        let trace: Vec<serde_json::Value> = results
            .iter()
            .zip(&contributions)
            .map(|(r, c)| {
                serde_json::json!({
                    "seed": r.seed,
                    "status": r.status_name(),
                    "raw": r.raw.filter(|_| r.status.is_none()),
                    "score": c,
                    "fuel": r.fuel,
                    "message": r.message,
                })
            })
            .collect();
        let mut evaluation = Evaluation {
            status,
            valid,
            score,
            metrics: Default::default(),
            feedback: self.feedback(results, &contributions, relative, score, total, valid),
            trace: serde_json::Value::Array(trace),
            fuel: Some(fuel),
            wall_ms: 0.0,
        };
        let metrics = [
            ("total", serde_json::json!(total)),
            ("cases", serde_json::json!(results.len())),
            ("passed", serde_json::json!(passed)),
            ("failed", serde_json::json!(failed)),
            ("skipped", serde_json::json!(skipped)),
            ("case_scores", serde_json::Value::Object(case_scores)),
            ("fuel", serde_json::json!(fuel)),
            ("objective", serde_json::json!(self.objective.name())),
        ];
        for (name, value) in metrics {
            evaluation.metrics.insert(name.into(), value);
        }
        if relative {
            evaluation.metrics.insert("relative".into(), score.into());
        }
        evaluation
    }

    fn feedback(
        &self,
        results: &[CaseResult],
        contributions: &[Option<f64>],
        relative: bool,
        score: f64,
        total: i64,
        valid: bool,
    ) -> String {
        let failed: Vec<&CaseResult> = results.iter().filter(|r| r.status.is_some()).collect();
        let passed = results
            .iter()
            .filter(|r| r.status.is_none() && !r.skipped)
            .count();
        let mut out = format!(
            "{passed} of {} cases scored, {} failed; total raw score {total} ({}).",
            results.len(),
            failed.len(),
            self.objective.name()
        );
        if relative {
            let _ = write!(
                out,
                " Score {score:.6} = mean relative score (1.0 = the reference on every case)."
            );
        }
        if !valid && self.zero_on_failure && !failed.is_empty() {
            out += " Every case must pass on this task (zero_on_failure): the score is 0.";
        }
        out.push('\n');
        if !failed.is_empty() {
            out += "Failed cases (score 0):\n";
            for r in &failed {
                let _ = writeln!(
                    out,
                    "- seed {}: {}: {}",
                    r.seed,
                    r.status_name(),
                    one_line(r.message.as_deref().unwrap_or(""))
                );
            }
        }
        for r in results.iter().filter(|r| r.skipped) {
            let _ = writeln!(
                out,
                "- seed {} skipped (no input): {}",
                r.seed,
                one_line(r.message.as_deref().unwrap_or(""))
            );
        }
        let mut scored: Vec<(&CaseResult, f64)> = results
            .iter()
            .zip(contributions)
            .filter(|(r, _)| r.status.is_none() && !r.skipped)
            .filter_map(|(r, c)| c.map(|c| (r, c)))
            .collect();
        // Weakest first: the lowest contribution (for raw minimize scores, the highest raw).
        scored.sort_by(|a, b| {
            let key = |c: f64| {
                if !relative && self.objective == Objective::Minimize {
                    -c
                } else {
                    c
                }
            };
            key(a.1).total_cmp(&key(b.1)).then(a.0.seed.cmp(&b.0.seed))
        });
        if !scored.is_empty() {
            out += "Weakest cases:\n";
            for (r, c) in scored.iter().take(5) {
                let _ = write!(out, "- seed {}: raw {}", r.seed, r.raw.unwrap_or(0));
                if relative {
                    let _ = write!(out, ", relative {c:.4}");
                }
                if let Some(fuel) = r.fuel {
                    let _ = write!(out, ", fuel {fuel}");
                }
                out.push('\n');
            }
        }
        out
    }
}

impl Evaluator for HeuristicEvaluator {
    fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        self.evaluate_on(candidate, &self.public, &self.cascade)
    }

    fn evaluate_private(&self, candidate: &Candidate) -> Option<Evaluation> {
        (!self.private.is_empty())
            .then(|| self.evaluate_on(candidate, &self.private, &Cascade::default()))
    }

    fn has_held_out_cases(&self) -> bool {
        !self.private.is_empty()
    }
}

pub(crate) fn load(context: &LoadContext) -> Result<Loaded, TaskError> {
    let manifest = &context.manifest_path;
    let raw = spec::parse(context)?;
    if context.languages.is_empty() {
        return Err(TaskError::field(
            manifest,
            "task.languages",
            "a heuristic task needs at least one candidate language; accepted: [\"rust\"], [\"c\"], [\"rust\", \"c\"]",
        ));
    }
    let public_seeds = spec::seeds(manifest, "heuristic.public_seeds", &raw.public_seeds)?;
    let private_seeds = match &raw.private_seeds {
        Some(v) => spec::seeds(manifest, "heuristic.private_seeds", v)?,
        None => Vec::new(),
    };
    if let Some(seed) = private_seeds.iter().find(|s| public_seeds.contains(s)) {
        return Err(TaskError::field(
            manifest,
            "heuristic.private_seeds",
            format!("seed {seed} is also public; private cases must be unseen during the run"),
        ));
    }
    let best_known = raw
        .best_known
        .as_ref()
        .map(|v| spec::best_known(context, v))
        .transpose()?;
    if let Some(best) = &best_known
        && let Some(seed) = public_seeds
            .iter()
            .chain(&private_seeds)
            .find(|s| !best.contains_key(s))
    {
        return Err(TaskError::field(
            manifest,
            "heuristic.best_known",
            format!(
                "has no score for seed {seed}; relative scoring needs one for every public and private seed"
            ),
        ));
    }

    // The seed candidate.
    let seed_path = context.existing_path("heuristic.seed", &raw.seed)?;
    let seed_language = Language::from_path(&seed_path).ok_or_else(|| {
        TaskError::field(
            manifest,
            "heuristic.seed",
            format!(
                "`{}`: unknown language; accepted: {}",
                raw.seed,
                Language::extension_list()
            ),
        )
    })?;
    if !context.languages.contains(&seed_language) {
        return Err(TaskError::field(
            manifest,
            "heuristic.seed",
            format!(
                "`{}` is {seed_language}, which `task.languages` does not allow",
                raw.seed
            ),
        ));
    }
    let seed_candidate = Candidate::from_file(
        seed_language.file_name(),
        context.read_file("heuristic.seed", &raw.seed)?,
    );

    let limits = Limits {
        fuel: Some(raw.fuel),
        memory_bytes: raw.memory_mb << 20,
        timeout: Duration::from_millis(raw.timeout_ms),
        host_kernels: context.host_kernels,
        ..Limits::default()
    };
    let (source, objective, generate): (judge::Source, Objective, Generator) = match (
        &raw.builtin,
        &raw.tools,
    ) {
        (Some(_), Some(_)) => {
            return Err(TaskError::field(
                manifest,
                "heuristic",
                "give either `builtin` (a generator and scorer built into hone) or `tools` (an AHC tools folder), not both",
            ));
        }
        (None, None) => {
            return Err(TaskError::field(
                manifest,
                "heuristic.builtin",
                format!(
                    "missing: give `builtin` (one of {}) or `tools` (an AtCoder Heuristic Contest tools folder)",
                    problems::NAMES.join(", ")
                ),
            ));
        }
        (Some(name), None) => {
            if raw.interactive.is_some() {
                return Err(TaskError::field(
                    manifest,
                    "heuristic.interactive",
                    "applies to `tools` folders only",
                ));
            }
            if raw.strict_output && !problems::STRICT_OUTPUT.contains(&name.as_str()) {
                return Err(TaskError::field(
                    manifest,
                    "heuristic.strict_output",
                    format!(
                        "applies to {} only (`{name}` always reads its output strictly)",
                        problems::STRICT_OUTPUT.join(", ")
                    ),
                ));
            }
            let problem: Arc<dyn problems::Problem> = problems::by_name(name, raw.strict_output)
                .map(Arc::from)
                .ok_or_else(|| {
                    TaskError::field(
                        manifest,
                        "heuristic.builtin",
                        format!(
                            "unknown problem `{name}`; accepted: {}",
                            problems::NAMES.join(", ")
                        ),
                    )
                })?;
            let own = problem.objective();
            if let Some(given) = raw.objective
                && given != own
            {
                return Err(TaskError::field(
                    manifest,
                    "heuristic.objective",
                    format!(
                        "`{}` contradicts the problem `{name}`, whose score is to {}",
                        given.name(),
                        own.name()
                    ),
                ));
            }
            let generator = problem.clone();
            (
                judge::Source::Builtin(problem),
                own,
                Box::new(move |seed| Ok(generator.generate(seed))),
            )
        }
        (None, Some(relative)) => {
            if raw.strict_output {
                return Err(TaskError::field(
                    manifest,
                    "heuristic.strict_output",
                    "applies to `builtin` problems only (a tools folder's vis decides how it reads)",
                ));
            }
            let objective = raw.objective.ok_or_else(|| {
                TaskError::field(
                    manifest,
                    "heuristic.objective",
                    "missing: a tools folder task must say \"maximize\" or \"minimize\"",
                )
            })?;
            let folder = context.existing_path("heuristic.tools", relative)?;
            let cache_root = context
                .sandbox
                .cache_dir()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| std::env::temp_dir().join("hone-cache"));
            let tool_timeout = Duration::from_millis(raw.tool_timeout_ms);
            let tools = Arc::new(Tools::prepare(
                manifest,
                &folder,
                &cache_root,
                raw.interactive,
                tool_timeout,
            )?);
            if tools.interactive && context.languages.contains(&Language::Python) {
                return Err(TaskError::field(
                    manifest,
                    "task.languages",
                    "python is not accepted with an interactive tester: the tester runs the candidate as a wasm module in a process of its own (`hone sandbox run --stream FILE.wasm`), and a Python candidate has no module, only the interpreter hone runs it in; list compiled languages (rust, c, cpp), or use a batch tools folder or a builtin problem, which take python",
                ));
            }
            let source = if tools.interactive {
                let hone = hone_binary(context)?;
                judge::Source::Interactive {
                    tools: tools.clone(),
                    hone,
                }
            } else {
                judge::Source::Batch(tools.clone())
            };
            let generator = tools.clone();
            (
                source,
                objective,
                Box::new(move |seed| generator.generate(seed)),
            )
        }
    };

    let make_cases = |seeds: &[u64], set: &str| -> Result<Vec<Case>, TaskError> {
        let cases: Vec<Case> = seeds
            .iter()
            .map(|&seed| Case {
                seed,
                input: generate(seed).map(Arc::from),
                reference: best_known.as_ref().and_then(|b| b.get(&seed).copied()),
            })
            .collect();
        for case in &cases {
            if let Err(message) = &case.input {
                tracing::warn!(seed = case.seed, %message, "a heuristic case has no input; it is skipped");
            }
        }
        if !seeds.is_empty() && cases.iter().all(|c| c.input.is_err()) {
            let message = cases
                .iter()
                .find_map(|c| c.input.as_ref().err())
                .cloned()
                .unwrap_or_default();
            return Err(TaskError::field(
                manifest,
                format!("heuristic.{set}_seeds"),
                format!("the generator gave no input for any seed: {message}"),
            ));
        }
        Ok(cases)
    };
    let public = make_cases(&public_seeds, "public")?;
    let cascade = Cascade::parse(
        manifest,
        "heuristic.cascade",
        raw.cascade.clone(),
        public.len(),
        (objective == Objective::Minimize && best_known.is_none()).then_some((
            1.0,
            "the task scores relative to the seed, which scores 1.0 on every stage",
        )),
    )?;
    let private = make_cases(&private_seeds, "private")?;

    let judge = Judge::new(
        context.sandbox.clone(),
        context.languages.clone(),
        source,
        limits.clone(),
        raw.timeout_ms,
    );
    let mut evaluator = HeuristicEvaluator {
        judge,
        scoring: Scoring {
            objective,
            zero_on_failure: raw.zero_on_failure,
            relative: best_known.is_some() || objective == Objective::Minimize,
        },
        public,
        private,
        cascade,
    };
    if objective == Objective::Minimize && best_known.is_none() {
        seed_references(&mut evaluator, &seed_candidate, &seed_path)?;
    }
    let prompt = prompt_material(&evaluator, &raw, &limits);
    Ok(Loaded {
        evaluator: Arc::new(evaluator),
        seeds: vec![seed_candidate],
        prompt,
    })
}

/// A case's message on one feedback line: newlines folded, at most 300 bytes (the trace
/// keeps it whole).
fn one_line(message: &str) -> String {
    let folded = message
        .trim()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" / ");
    trim_for_feedback(&folded, 300)
}

/// Measures the seed on every case and makes its raw scores the references.
fn seed_references(
    evaluator: &mut HeuristicEvaluator,
    seed: &Candidate,
    seed_path: &Path,
) -> Result<(), TaskError> {
    let runner = evaluator
        .judge
        .prepare(seed)
        .map_err(|e| TaskError::SeedFails {
            path: seed_path.to_path_buf(),
            message: e.feedback,
        })?;
    for cases in [&mut evaluator.public, &mut evaluator.private] {
        for case in cases.iter_mut() {
            let Ok(input) = &case.input else { continue };
            let result = runner.run(case.seed, input);
            match (result.status, result.raw) {
                (None, Some(raw)) => case.reference = Some(raw.max(1) as f64),
                _ => {
                    return Err(TaskError::SeedFails {
                        path: seed_path.to_path_buf(),
                        message: format!(
                            "seed {}: {}: {} (a minimize task without best_known scores relative to the seed, which must pass every case)",
                            case.seed,
                            result.status_name(),
                            result.message.unwrap_or_default()
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The hone binary that runs candidates for an interactive tester: the one given to the
/// [`TaskLoader`](crate::TaskLoader), as an absolute path (the tester runs in a scratch dir,
/// where a relative path would not reach it).
fn hone_binary(context: &LoadContext) -> Result<PathBuf, TaskError> {
    let manifest = &context.manifest_path;
    let Some(path) = &context.hone_binary else {
        return Err(TaskError::field(
            manifest,
            "heuristic.tools",
            "an interactive tools folder runs candidates through `hone sandbox run`, and no hone binary was given to load it with (the hone CLI passes its own executable, or --hone-bin / HONE_BIN)",
        ));
    };
    if !path.is_file() {
        return Err(TaskError::field(
            manifest,
            "heuristic.tools",
            format!(
                "the hone binary `{}` is not a file; an interactive tools folder runs candidates through it",
                path.display()
            ),
        ));
    }
    std::fs::canonicalize(path).map_err(|source| TaskError::Read {
        path: path.clone(),
        source,
    })
}

fn prompt_material(
    evaluator: &HeuristicEvaluator,
    raw: &spec::RawSpec,
    limits: &Limits,
) -> PromptMaterial {
    let scoring = match (evaluator.scoring.relative, raw.best_known.is_some()) {
        (true, true) => {
            "Your score is the mean over the cases of your raw score relative to the best known one (1.0 = as good as the best known)."
        }
        (true, false) => {
            "Your score is the mean over the cases of the starting solution's raw score divided by yours (1.0 = as good as the starting solution; higher is better)."
        }
        _ => "Your score is the total raw score over the cases.",
    };
    let reads = if evaluator.judge.is_interactive() {
        "The program talks with an interactive judge, line by line: it reads the judge's messages on stdin and writes its queries on stdout, and must flush stdout after every line it writes (the judge waits for each line before answering)"
    } else {
        "The program reads one case on stdin"
    };
    let private = if evaluator.private.is_empty() {
        ""
    } else {
        "; the score a run reports is measured on private cases, which are never shown"
    };
    let mut inputs = format!(
        "{reads}; it is scored on {} public cases (seeds {}){private}.\n",
        evaluator.public.len(),
        evaluator
            .public
            .iter()
            .map(|c| c.seed.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(Ok(example)) = evaluator
        .public
        .iter()
        .map(|c| &c.input)
        .min_by_key(|i| i.as_ref().map(|t| t.len()).unwrap_or(usize::MAX))
    {
        let _ = write!(
            inputs,
            "\nExample input:\n{}",
            trim_for_feedback(example.trim_end(), 800)
        );
    }
    PromptMaterial {
        objective: format!(
            "Write a heuristic program for this optimization problem ({} the raw score). {scoring} A case whose output is invalid, or that breaks a limit, scores 0{}.",
            evaluator.scoring.objective.name(),
            if raw.zero_on_failure { ", and any failed case makes the whole score 0" } else { "" }
        ),
        statement: String::new(),
        documentation: "Programs are compiled to WebAssembly (WASI preview 1) and run in a sandbox: rust with `rustc -O` \
                        (edition 2021, std available), c with `clang -O2` (wasi-libc, -lm). Input on stdin, answer on \
                        stdout; no files, no network, no threads. Time is fuel: deterministic instruction counts; the \
                        virtual clock advances with fuel, so a time check against the fuel budget works. `random_get` \
                        is seeded with the case's seed."
            .into(),
        constraints: format!(
            "Per case: fuel {} (about that many wasm instructions), memory {} MiB, wall clock {} ms.",
            raw.fuel, raw.memory_mb, limits.timeout.as_millis()
        ),
        inputs,
        outputs: "The output format of the statement, on stdout.".into(),
        variables: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(seed: u64, reference: Option<f64>) -> Case {
        Case {
            seed,
            input: Ok(Arc::from("")),
            reference,
        }
    }

    fn passed(seed: u64, raw: i64) -> CaseResult {
        CaseResult {
            seed,
            status: None,
            raw: Some(raw),
            fuel: Some(10),
            message: None,
            skipped: false,
        }
    }

    fn failed(seed: u64, status: EvalStatus) -> CaseResult {
        CaseResult {
            seed,
            status: Some(status),
            raw: None,
            fuel: Some(5),
            message: Some("rectangles 1 and 2\noverlap".into()),
            skipped: false,
        }
    }

    fn scoring(objective: Objective, zero_on_failure: bool, relative: bool) -> Scoring {
        Scoring {
            objective,
            zero_on_failure,
            relative,
        }
    }

    #[test]
    fn totals_count_passed_cases_and_name_failures() {
        let cases = [case(1, None), case(2, None), case(3, None)];
        let results = [
            passed(1, 100),
            failed(2, EvalStatus::WrongAnswer),
            CaseResult::skipped(3, "gen failed".into()),
        ];
        let e = scoring(Objective::Maximize, false, false).aggregate(&cases, &results);
        assert!(e.valid && e.status == EvalStatus::Ok);
        assert_eq!(e.score, 100.0);
        assert_eq!(
            (
                e.metrics["passed"].as_i64(),
                e.metrics["failed"].as_i64(),
                e.metrics["skipped"].as_i64()
            ),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(e.fuel, Some(15));
        assert!(
            e.feedback
                .contains("- seed 2: wrong_answer: rectangles 1 and 2 / overlap"),
            "{}",
            e.feedback
        );
        assert!(
            e.feedback
                .contains("- seed 3 skipped (no input): gen failed"),
            "{}",
            e.feedback
        );
        assert_eq!(e.metrics["case_scores"]["2"], serde_json::Value::Null);
        let zeroed = scoring(Objective::Maximize, true, false).aggregate(&cases, &results);
        assert!(!zeroed.valid && zeroed.score == 0.0 && zeroed.status == EvalStatus::WrongAnswer);
        // Nothing passed: invalid, with the failure's status.
        let none =
            scoring(Objective::Maximize, false, false).aggregate(&cases[1..2], &results[1..2]);
        assert!(!none.valid && none.status == EvalStatus::WrongAnswer);
    }

    #[test]
    fn relative_scores_follow_the_direction() {
        let cases = [
            case(1, Some(200.0)),
            case(2, Some(50.0)),
            case(3, Some(10.0)),
        ];
        let results = [
            passed(1, 100),
            passed(2, 100),
            failed(3, EvalStatus::FuelExhausted),
        ];
        let max = scoring(Objective::Maximize, false, true).aggregate(&cases, &results);
        assert!((max.score - (0.5 + 2.0 + 0.0) / 3.0).abs() < 1e-12);
        let min = scoring(Objective::Minimize, false, true).aggregate(&cases, &results);
        assert!((min.score - (2.0 + 0.5 + 0.0) / 3.0).abs() < 1e-12);
        assert_eq!(min.metrics["relative"], min.score);
        // A raw 0 on a minimize case counts as 1 (no division by zero).
        let zero =
            scoring(Objective::Minimize, false, true).aggregate(&cases[..1], &[passed(1, 0)]);
        assert_eq!(zero.score, 200.0);
        // The weakest case is listed first: seed 1 at relative 0.5 when maximizing.
        let weakest = max
            .feedback
            .split("Weakest cases:\n")
            .nth(1)
            .expect("weakest");
        assert!(
            weakest.starts_with("- seed 1: raw 100, relative 0.5000"),
            "{}",
            max.feedback
        );
    }
}
