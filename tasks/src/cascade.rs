//! Cascade evaluation (as OpenEvolve's `cascade_evaluation`): a candidate runs on the
//! public cases in stages, cheap cases first, and stops at the first stage it does not
//! pass, so a hopeless candidate is not run on the expensive cases.
//!
//! # task.toml
//! ```toml
//! [efficiency]                      # or [heuristic]
//! cascade = [
//!   { cases = 1 },                  # stage 1: the first public case must pass
//!   { cases = 3, min_score = 0.8 }, # stage 2: on the first 3, score >= 0.8
//! ]                                 # then every remaining case
//! ```
//! A stage covers the first `cases` public cases (in the order the task lists them; the
//! counts strictly increase and stay below the number of public cases). The candidate
//! passes a stage when its evaluation restricted to those cases, computed exactly as the
//! task scores all of them, is valid and, when `min_score` is given, scores at least
//! `min_score`.
//!
//! A candidate that passes every stage runs on every case and gets exactly the evaluation
//! it would get without the cascade (plus a `cascade` metric). One that fails a stage
//! because a case failed is invalid with that case's status, as it would be anyway; one
//! that is valid on the stage but scores below `min_score` ends with status
//! `cascade_stopped`: invalid, score 0, since it was not measured on every case, and
//! its feedback and `cascade` metric say at which stage, with what score and threshold.
//! Cascades apply to the public evaluation only; the private one runs every case.

use std::path::Path;

use serde::Deserialize;
use serde_json::json;

use crate::error::TaskError;
use crate::evaluation::{EvalStatus, Evaluation};

/// One stage as written in task.toml.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StageSection {
    cases: i64,
    min_score: Option<f64>,
}

/// What the `cascade` key accepts, for messages.
pub(crate) const CASCADE_FORM: &str = "a list of stages such as [{ cases = 1 }, { cases = 3, min_score = 0.8 }]: \
each the number of public cases it covers (strictly increasing, below the number of public cases) \
and optionally the score the candidate must reach on them";

/// One checked stage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stage {
    /// The stage covers the first `cases` public cases.
    pub cases: usize,
    pub min_score: Option<f64>,
}

/// The checked stages of a task (empty: no cascade).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Cascade {
    stages: Vec<Stage>,
}

/// Where a candidate stopped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stop {
    /// 1-based stage number.
    pub number: usize,
    pub stage: Stage,
    /// The candidate's score on the stage's cases.
    pub score: f64,
    /// The candidate failed a case of the stage (rather than scoring below `min_score`).
    pub failed_case: bool,
}

impl Cascade {
    /// Checks the stages of `field` (`efficiency.cascade`) against the number of public
    /// cases; `max_score`, when given, is the most a threshold may ask (the seed's score
    /// on every stage, when the task scores relative to the seed).
    pub(crate) fn parse(
        manifest: &Path,
        field: &str,
        stages: Vec<StageSection>,
        public_cases: usize,
        max_score: Option<(f64, &str)>,
    ) -> Result<Cascade, TaskError> {
        let mut checked: Vec<Stage> = Vec::with_capacity(stages.len());
        for (i, stage) in stages.into_iter().enumerate() {
            let name = format!("{field}[{i}]");
            let cases = match usize::try_from(stage.cases) {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(TaskError::field(
                        manifest,
                        format!("{name}.cases"),
                        format!(
                            "{} is not accepted: expected a positive integer",
                            stage.cases
                        ),
                    ));
                }
            };
            if let Some(previous) = checked.last()
                && cases <= previous.cases
            {
                return Err(TaskError::field(
                    manifest,
                    format!("{name}.cases"),
                    format!(
                        "{cases} does not exceed the previous stage's {}: each stage must cover more cases than the one before",
                        previous.cases
                    ),
                ));
            }
            if cases >= public_cases {
                return Err(TaskError::field(
                    manifest,
                    format!("{name}.cases"),
                    format!(
                        "{cases} is not below the task's {public_cases} public cases: the last stage is every case, so a stage must cover fewer"
                    ),
                ));
            }
            if let Some(min) = stage.min_score {
                if !min.is_finite() {
                    return Err(TaskError::field(
                        manifest,
                        format!("{name}.min_score"),
                        format!("{min} is not accepted: expected a finite number"),
                    ));
                }
                if let Some((max, why)) = max_score
                    && min > max
                {
                    return Err(TaskError::field(
                        manifest,
                        format!("{name}.min_score"),
                        format!("{min} is above {max}: {why}, so the seed itself would stop"),
                    ));
                }
            }
            checked.push(Stage {
                cases,
                min_score: stage.min_score,
            });
        }
        Ok(Cascade { stages: checked })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Where the first stage that ends after `done` cases ends (its case count): `None`
    /// when no stage ends after it.
    pub(crate) fn stage_end_after(&self, done: usize) -> Option<usize> {
        self.stages.iter().map(|s| s.cases).find(|&end| end > done)
    }

    /// The stage that ends once `done` cases have run, with its 1-based number.
    pub(crate) fn stage_ending_at(&self, done: usize) -> Option<(usize, Stage)> {
        self.stages
            .iter()
            .position(|s| s.cases == done)
            .map(|i| (i + 1, self.stages[i]))
    }

    /// Whether the candidate goes on past the stage `number`, given its evaluation on the
    /// stage's cases (valid, and its score): `None` when it does, the stop otherwise.
    pub(crate) fn judge(
        &self,
        number: usize,
        stage: Stage,
        valid: bool,
        score: f64,
    ) -> Option<Stop> {
        debug_assert!(number >= 1 && number <= self.stages.len());
        let below = stage.min_score.is_some_and(|min| score < min);
        (!valid || below).then_some(Stop {
            number,
            stage,
            score,
            failed_case: !valid,
        })
    }

    /// Marks `evaluation` (over every case, the ones past the stop skipped) with how the
    /// cascade went: a `cascade` metric, and for a candidate stopped below a threshold
    /// the status `cascade_stopped`, invalid, score 0, and a feedback line saying why.
    pub(crate) fn mark(&self, evaluation: &mut Evaluation, stop: Option<Stop>, total: usize) {
        if self.is_empty() {
            return;
        }
        let stages = self.stages.len();
        match stop {
            None => {
                evaluation.metrics.insert(
                    "cascade".into(),
                    json!({ "stages": stages, "passed": stages, "stopped": false }),
                );
            }
            Some(stop) => {
                evaluation.metrics.insert(
                    "cascade".into(),
                    json!({
                        "stages": stages,
                        "passed": stop.number - 1,
                        "stopped": true,
                        "stopped_at": stop.number,
                        "cases_run": stop.stage.cases,
                        "stage_score": stop.score,
                        "min_score": stop.stage.min_score,
                        "failed_case": stop.failed_case,
                    }),
                );
                if stop.failed_case {
                    // Invalid already, with the failed case's status and feedback.
                    return;
                }
                let min = stop.stage.min_score.unwrap_or(f64::NEG_INFINITY);
                evaluation.status = EvalStatus::CascadeStopped;
                evaluation.valid = false;
                evaluation.score = 0.0;
                evaluation.feedback = format!(
                    "Stopped by the cascade at stage {} of {stages}: score {:.6} on the first {} of {total} public cases, below the stage's threshold {min}; the other cases were not run, so the candidate is not ranked (score 0). Every case of the stage passed.\n\n{}",
                    stop.number, stop.score, stop.stage.cases, evaluation.feedback
                );
            }
        }
    }
}
