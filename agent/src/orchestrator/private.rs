//! Which nodes are evaluated privately, and what of a private evaluation is kept.
//!
//! A valid node whose public score enters the run's best [`PRIVATE_TOP_K`] public scores is
//! evaluated privately in its own step, right after its public evaluation; at the end of a
//! run and on resume, the best [`PRIVATE_TOP_K`] public nodes still without a private result
//! are. The run's best is ranked by private score ([`hone_store::Store::best_node`]). Of a
//! private evaluation only its numbers are kept: its feedback, metrics and trace are dropped
//! here, so they can reach no prompt, log or export. With `--workers` a worker makes the
//! private evaluation and keeps the same numbers ([`held_out_numbers`]) before it stores
//! the job's result.

use hone_store::PrivateEvaluation;
use hone_tasks::Evaluation;

/// How many of the best public scores are checked privately.
pub const PRIVATE_TOP_K: usize = 3;

/// The best public scores seen so far (at most [`PRIVATE_TOP_K`], best first).
#[derive(Debug, Default)]
pub(super) struct PublicLeaders {
    scores: Vec<f64>,
}

impl PublicLeaders {
    /// Admits a valid node's public score if it enters the best [`PRIVATE_TOP_K`]: fewer
    /// are known, or it beats the last (a tie stays out: ties rank the older node first).
    pub(super) fn admit(&mut self, score: f64) -> bool {
        if !score.is_finite() {
            return false;
        }
        if self.scores.len() >= PRIVATE_TOP_K
            && self.scores.last().is_some_and(|last| score <= *last)
        {
            return false;
        }
        let at = self.scores.partition_point(|s| *s >= score);
        self.scores.insert(at, score);
        self.scores.truncate(PRIVATE_TOP_K);
        true
    }
}

/// What is kept of a private evaluation: its numbers. `None` (the task has no held-out
/// cases) keeps the public result's, marked as such.
pub fn private_evaluation(private: Option<&Evaluation>, public: &Evaluation) -> PrivateEvaluation {
    match private {
        Some(private) => held_out_numbers(private),
        None => numbers(false, public),
    }
}

/// The numbers of a private evaluation on held-out cases: all that may be kept of it.
pub fn held_out_numbers(private: &Evaluation) -> PrivateEvaluation {
    numbers(true, private)
}

fn numbers(held_out: bool, evaluation: &Evaluation) -> PrivateEvaluation {
    PrivateEvaluation {
        held_out,
        status: evaluation.status.to_string(),
        valid: evaluation.valid,
        score: Some(evaluation.score).filter(|s| s.is_finite()),
        fuel: evaluation.fuel.map(|f| f.min(i64::MAX as u64) as i64),
        wall_ms: Some(evaluation.wall_ms).filter(|w| w.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaders_admit_the_best_k_and_refuse_ties_with_the_last() {
        let mut leaders = PublicLeaders::default();
        assert!(leaders.admit(1.0));
        assert!(leaders.admit(1.0), "fewer than K are known");
        assert!(leaders.admit(0.5));
        assert_eq!(leaders.scores, [1.0, 1.0, 0.5]);
        assert!(!leaders.admit(0.5), "a tie with the last stays out");
        assert!(!leaders.admit(0.1));
        assert!(leaders.admit(2.0));
        assert_eq!(leaders.scores, [2.0, 1.0, 1.0]);
        assert!(!leaders.admit(f64::NAN));
        assert!(!leaders.admit(f64::INFINITY));
    }

    #[test]
    fn a_private_evaluation_keeps_numbers_only() {
        let mut public = Evaluation::failed(hone_tasks::EvalStatus::Ok, "public feedback");
        public.valid = true;
        public.score = 40_000.0;
        let mut private = Evaluation::failed(hone_tasks::EvalStatus::Ok, "private inputs")
            .with_metric("cases", 3);
        private.valid = true;
        private.score = 35.0;
        private.fuel = Some(7);
        let kept = private_evaluation(Some(&private), &public);
        assert_eq!(
            kept,
            PrivateEvaluation {
                held_out: true,
                status: "ok".into(),
                valid: true,
                score: Some(35.0),
                fuel: Some(7),
                wall_ms: Some(0.0),
            }
        );
        let standing_in = private_evaluation(None, &public);
        assert!(!standing_in.held_out);
        assert_eq!(standing_in.score, Some(40_000.0));
    }
}
