//! Budgets: what a run has spent (counted from the store, then kept live) and when to stop.
//!
//! The evaluation budget's rule: every candidate evaluated counts, the task's seed
//! included, and nothing else does (a duplicate reuses an earlier evaluation and is stored
//! as a node without costing one). A budget of N therefore ends with exactly N evaluated
//! candidates in the store, whether the run went through uninterrupted or was killed and
//! resumed any number of times: the live count starts from [`Spend::evaluations`], which
//! counts the stored non-duplicate nodes, seed included, and the seed's step reserves an
//! evaluation like any other.

use hone_store::{Budgets, Spend};

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    Evaluations(i64),
    LlmCalls(i64),
    Tokens(i64),
    Dollars(f64),
    WallTime(f64),
    /// The strategy had nothing more to do.
    StrategyDone,
    /// `--stop-after-stale N`: N evaluations in a row did not raise the best public score.
    Stale(u64),
    /// `--stop-at SCORE`: the best public score reached the target.
    TargetReached {
        target: f64,
        best: f64,
    },
    /// Ctrl-C.
    Interrupted,
    /// Too many steps in a row failed (model unreachable, replies unusable).
    TooManyFailures(u32),
    /// Too many steps in a row proposed a candidate already evaluated (duplicates cost no
    /// evaluation, so without this an evaluation budget would never run out).
    NoProgress(u32),
    /// The model stayed unreachable longer than the run's patience (resumable).
    ModelUnavailable {
        run: i64,
        message: String,
    },
    /// The model refused in a way that will not go away (key, model name, address).
    ModelRefused {
        message: String,
        hint: Option<String>,
    },
    /// A map-elites descriptor or an objective the task's evaluations do not have.
    MissingMeasure(String),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Evaluations(n) => write!(f, "evaluation budget spent ({n})"),
            StopReason::LlmCalls(n) => write!(f, "model-call budget spent ({n})"),
            StopReason::Tokens(n) => write!(f, "token budget spent ({n})"),
            StopReason::Dollars(d) => write!(f, "dollar budget spent (${d:.4})"),
            StopReason::WallTime(s) => write!(f, "time budget spent ({s:.0} s)"),
            StopReason::StrategyDone => f.write_str("the strategy had nothing left to try"),
            StopReason::Stale(n) => write!(
                f,
                "no improvement of the best public score in {n} evaluations (--stop-after-stale)"
            ),
            StopReason::TargetReached { target, best } => write!(
                f,
                "target score reached: public best {best:.4} >= {target} (--stop-at)"
            ),
            StopReason::Interrupted => f.write_str("interrupted"),
            StopReason::TooManyFailures(n) => write!(
                f,
                "{n} steps in a row failed (is the model reachable? see `hone status` and the run's model calls)"
            ),
            StopReason::NoProgress(n) => write!(
                f,
                "{n} steps in a row proposed only candidates already evaluated (or, with --novelty, too similar to a valid node)"
            ),
            StopReason::ModelUnavailable { run, message } => write!(
                f,
                "{message}\nhint: `hone resume {run}` continues the run once the model answers (`--model-patience` sets how long a run waits)"
            ),
            StopReason::MissingMeasure(message) => f.write_str(message),
            StopReason::ModelRefused { message, hint } => match hint {
                Some(hint) => write!(f, "{message}\nhint: {hint}"),
                None => f.write_str(message),
            },
        }
    }
}

/// Spend so far plus what steps in flight have reserved.
#[derive(Clone, Debug, Default)]
pub struct BudgetCounters {
    pub evaluations: i64,
    pub llm_calls: i64,
    pub tokens: i64,
    pub dollars: f64,
    /// Active seconds of earlier segments of the run.
    pub active_seconds: f64,
    reserved_evaluations: i64,
    reserved_calls: i64,
}

/// What one model call cost, for the live counters.
#[derive(Clone, Debug, Default)]
pub struct CallCost {
    pub model: String,
    pub tokens: i64,
    pub cost_dollars: f64,
}

impl BudgetCounters {
    pub fn from_spend(spend: &Spend) -> BudgetCounters {
        BudgetCounters {
            evaluations: spend.evaluations,
            llm_calls: spend.llm_calls,
            tokens: spend.tokens(),
            dollars: spend.dollars,
            active_seconds: spend.wall_seconds,
            reserved_evaluations: 0,
            reserved_calls: 0,
        }
    }

    /// A step was launched: it may use one evaluation (unless it is a meta step such as
    /// scatter or scout) and, with a model, one call.
    pub fn reserve(&mut self, evaluation: bool, call: bool) {
        self.reserved_evaluations += i64::from(evaluation);
        self.reserved_calls += i64::from(call);
    }

    /// A step ended: its reservation goes; its real spend is added separately.
    pub fn release(&mut self, evaluation: bool, call: bool) {
        self.reserved_evaluations = (self.reserved_evaluations - i64::from(evaluation)).max(0);
        self.reserved_calls = (self.reserved_calls - i64::from(call)).max(0);
    }

    pub fn add_calls(&mut self, calls: &[CallCost]) {
        for call in calls {
            self.llm_calls += 1;
            self.tokens += call.tokens;
            self.dollars += call.cost_dollars;
        }
    }

    /// The first budget that launching one more step would exceed. Tokens and dollars cannot
    /// be reserved ahead, so a run may pass them by what its steps in flight spend.
    pub fn exhausted(&self, budgets: &Budgets, active_seconds: f64) -> Option<StopReason> {
        if let Some(n) = budgets.evaluations
            && self.evaluations + self.reserved_evaluations >= n
        {
            return Some(StopReason::Evaluations(n));
        }
        if let Some(n) = budgets.llm_calls
            && self.llm_calls + self.reserved_calls >= n
        {
            return Some(StopReason::LlmCalls(n));
        }
        if let Some(n) = budgets.tokens
            && self.tokens >= n
        {
            return Some(StopReason::Tokens(n));
        }
        if let Some(d) = budgets.dollars
            && self.dollars >= d
        {
            return Some(StopReason::Dollars(d));
        }
        if let Some(s) = budgets.wall_seconds
            && active_seconds >= s
        {
            return Some(StopReason::WallTime(s));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_against_evaluations() {
        let budgets = Budgets {
            evaluations: Some(2),
            ..Budgets::default()
        };
        let mut c = BudgetCounters::default();
        assert_eq!(c.exhausted(&budgets, 0.0), None);
        c.reserve(true, true);
        c.reserve(true, true);
        assert_eq!(c.exhausted(&budgets, 0.0), Some(StopReason::Evaluations(2)));
        c.release(true, true);
        assert_eq!(c.exhausted(&budgets, 0.0), None);
        c.reserve(false, true);
        assert_eq!(c.exhausted(&budgets, 0.0), None);
    }

    #[test]
    fn a_resumed_count_is_the_stored_one_seed_included() {
        let budgets = Budgets {
            evaluations: Some(3),
            ..Budgets::default()
        };
        // A run killed after its seed and one more candidate (and a duplicate).
        let spend = Spend {
            evaluations: 2,
            duplicates: 1,
            ..Spend::default()
        };
        let mut resumed = BudgetCounters::from_spend(&spend);
        assert_eq!(
            resumed.exhausted(&budgets, 0.0),
            None,
            "one evaluation left"
        );
        resumed.reserve(true, false);
        assert_eq!(
            resumed.exhausted(&budgets, 0.0),
            Some(StopReason::Evaluations(3))
        );
        // Uninterrupted, the seed's step reserves and then counts the same evaluation.
        let mut fresh = BudgetCounters::default();
        fresh.reserve(true, false);
        fresh.release(true, false);
        fresh.evaluations += 1;
        fresh.reserve(true, true);
        fresh.release(true, true);
        fresh.evaluations += 1;
        assert_eq!(
            fresh.evaluations,
            BudgetCounters::from_spend(&spend).evaluations,
            "the live count after the seed and one candidate is the stored one"
        );
    }

    #[test]
    fn each_budget_stops() {
        let c = BudgetCounters {
            llm_calls: 3,
            tokens: 10,
            dollars: 1.0,
            ..BudgetCounters::default()
        };
        let b = |f: fn(&mut Budgets)| {
            let mut b = Budgets::default();
            f(&mut b);
            b
        };
        assert!(matches!(
            c.exhausted(&b(|b| b.llm_calls = Some(3)), 0.0),
            Some(StopReason::LlmCalls(3))
        ));
        assert!(matches!(
            c.exhausted(&b(|b| b.tokens = Some(10)), 0.0),
            Some(StopReason::Tokens(10))
        ));
        assert!(matches!(
            c.exhausted(&b(|b| b.dollars = Some(0.5)), 0.0),
            Some(StopReason::Dollars(_))
        ));
        assert!(matches!(
            c.exhausted(&b(|b| b.wall_seconds = Some(1.0)), 2.0),
            Some(StopReason::WallTime(_))
        ));
        assert_eq!(c.exhausted(&Budgets::default(), 1e9), None);
    }
}
