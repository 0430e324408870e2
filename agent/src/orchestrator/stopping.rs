//! Early stopping (OpenEvolve's): stop a run before its budgets are spent when it has gone
//! `stale_evaluations` evaluations without raising its best public score, or once that score
//! reaches `target_score`.
//!
//! Only evaluated candidates count (a duplicate reuses an evaluation and a candidate
//! rejected for novelty is not evaluated); the seed's evaluation sets the first best.
//! [`Progress`] is rebuilt on resume by observing the stored nodes in order, so a resumed
//! run counts the stale evaluations of its earlier segments.

use serde::{Deserialize, Serialize};

use super::budget::StopReason;

/// When a run stops early (kept in the run's stored settings, so `hone resume` keeps it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StopRules {
    /// Stop after this many evaluations in a row that did not raise the best public score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_evaluations: Option<u64>,
    /// Stop once the best public score reaches this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_score: Option<f64>,
}

/// The best public score so far and the evaluations since it last rose.
#[derive(Clone, Debug, Default)]
pub(super) struct Progress {
    best: Option<f64>,
    stale: u64,
}

impl Progress {
    /// An evaluated candidate (not a duplicate, not a rejected one) with `rank_score`: its
    /// public score if it is valid.
    pub(super) fn observe(&mut self, rank_score: Option<f64>) {
        let improves = rank_score
            .is_some_and(|score| score.is_finite() && self.best.is_none_or(|best| score > best));
        if improves {
            self.best = rank_score;
            self.stale = 0;
        } else {
            self.stale += 1;
        }
    }

    /// Why the run must stop under `rules`, if it must.
    pub(super) fn check(&self, rules: &StopRules) -> Option<StopReason> {
        if let (Some(target), Some(best)) = (rules.target_score, self.best)
            && best >= target
        {
            return Some(StopReason::TargetReached { target, best });
        }
        if let Some(n) = rules.stale_evaluations
            && self.stale >= n
        {
            return Some(StopReason::Stale(n));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_counts_evaluations_since_the_best_rose() {
        let rules = StopRules {
            stale_evaluations: Some(2),
            target_score: None,
        };
        let mut p = Progress::default();
        p.observe(Some(1.0)); // the seed
        assert_eq!(p.check(&rules), None);
        p.observe(None);
        p.observe(Some(1.5));
        assert_eq!(
            p.check(&rules),
            None,
            "the best rose: the count starts again"
        );
        p.observe(Some(1.5));
        assert_eq!(p.check(&rules), None, "an equal score is no improvement");
        p.observe(Some(0.5));
        assert_eq!(p.check(&rules), Some(StopReason::Stale(2)));
    }

    #[test]
    fn an_invalid_seed_is_stale_and_the_first_valid_node_improves() {
        let rules = StopRules {
            stale_evaluations: Some(2),
            target_score: None,
        };
        let mut p = Progress::default();
        p.observe(None);
        p.observe(Some(f64::NAN));
        assert_eq!(p.check(&rules), Some(StopReason::Stale(2)));
        let mut q = Progress::default();
        q.observe(None);
        q.observe(Some(-3.0));
        assert_eq!(q.check(&rules), None);
    }

    #[test]
    fn the_target_is_reached_by_the_best_public_score() {
        let rules = StopRules {
            stale_evaluations: None,
            target_score: Some(2.0),
        };
        let mut p = Progress::default();
        assert_eq!(p.check(&rules), None);
        p.observe(None);
        assert_eq!(p.check(&rules), None, "an invalid node reaches nothing");
        p.observe(Some(2.0));
        assert_eq!(
            p.check(&rules),
            Some(StopReason::TargetReached {
                target: 2.0,
                best: 2.0
            })
        );
        assert_eq!(Progress::default().check(&StopRules::default()), None);
    }
}
