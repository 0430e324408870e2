//! Baseline proposers over a params task's variables, to compare with at equal evaluations:
//! [`GridProposer`] (`--llm grid`) and [`TsallisProposer`] (`--llm tsallis`).
//!
//! Both are deterministic given the run seed and the sequence of stored nodes, and rebuild
//! their state on resume from the nodes alone (the orchestrator replays every stored node
//! through `observe`, in order, before proposing again).
//!
//! # Grid
//! The points of [`grid_points`]`(variables, n)`, `n` = the
//! run's evaluation budget less the task's seeds (100 without an evaluation budget), visited in
//! order; a point already evaluated (the seed's, or before a resume) is skipped. When every
//! point is visited the grid is refined (`2k − 1` levels per variable for `k`, which keeps the
//! old points and adds the midpoints) so a time budget keeps it busy.
//!
//! # Tsallis-INF
//! [`TsallisInf`] over the arms `grid_points(variables,
//! max(20, n))` (20 arms as in "Learning to Relax", more when the budget allows). One round is
//! one candidate: the loss of an evaluation is its cost normalized by the task's seed,
//!
//! ```text
//! loss = clamp(1/2 + (s0 − score) / (2 |s0|), 0, 1)      (|s0| taken as 1 when s0 = 0)
//! ```
//!
//! with `s0` the score of the first valid node (the seed) — for a cost objective
//! (`score = −cost`) that is `cost / (2 · seed cost)`: the seed scores 1/2, twice its cost or
//! an invalid candidate scores 1. The task is deterministic, so a round drawing an arm already
//! evaluated is free: the learner takes the known loss and draws again (at most
//! [`FREE_ROUNDS`] times per proposal, then the known arm is proposed anyway and the
//! orchestrator reuses its evaluation as a duplicate). When every arm is evaluated the arms
//! are refined as the grid's points are, under a fresh learner.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use hone_tasks::{Candidate, VariableSpec};

use super::grid::grid_points;
use super::tsallis::TsallisInf;
use super::{Dimension, TunerError};

/// Points (or arms) a grid or bandit gets when the run has no evaluation budget.
pub const DEFAULT_POINTS: usize = 100;

/// The fewest arms of the Tsallis-INF proposer.
pub const MIN_ARMS: usize = 20;

/// Free rounds (arms already evaluated) the bandit may draw per proposal.
pub const FREE_ROUNDS: usize = 1000;

/// The identity of a point: its values as the candidate stores them, in variable order, to
/// 12 significant digits (a float read back from the store may differ in its last bit).
fn key_of_values(specs: &[VariableSpec], values: &[f64]) -> String {
    let typed: Vec<String> = specs
        .iter()
        .zip(values)
        .map(|(s, v)| match crate::reply::variable_value(s, *v) {
            serde_json::Value::Number(n) if n.is_f64() => {
                format!("{:.11e}", n.as_f64().unwrap_or(*v))
            }
            other => other.to_string(),
        })
        .collect();
    typed.join(",")
}

/// The key of a candidate's values (missing ones take the variable's initial value).
fn key_of_candidate(specs: &[VariableSpec], candidate: &Candidate) -> String {
    key_of_values(specs, &super::values_of(specs, candidate))
}

fn check_specs(specs: &[VariableSpec]) -> Result<(), TunerError> {
    if specs.is_empty() {
        return Err(TunerError::NoVariables);
    }
    for spec in specs {
        Dimension::from_variable(spec)?;
    }
    Ok(())
}

fn point_values(specs: &[VariableSpec], point: &BTreeMap<String, f64>) -> Vec<f64> {
    specs
        .iter()
        .map(|s| point.get(&s.name).copied().unwrap_or(s.initial))
        .collect()
}

fn candidate_of(specs: &[VariableSpec], base: &Candidate, values: &[f64]) -> Candidate {
    let mut candidate = base.clone();
    for (spec, value) in specs.iter().zip(values) {
        candidate.values.insert(
            spec.name.clone(),
            crate::reply::variable_value(spec, *value),
        );
    }
    candidate
}

/// The grid with `levels` levels per variable (robust to rounding in `grid_points`).
fn grid_with_levels(specs: &[VariableSpec], levels: usize) -> Vec<Vec<f64>> {
    let d = specs.len() as u32;
    // Any budget in [k^d, (k+1)^d) gives k levels; ask for the top of the range.
    let budget = (levels + 1)
        .checked_pow(d)
        .map(|n| n - 1)
        .unwrap_or(usize::MAX);
    grid_points(specs, budget.max(1))
        .iter()
        .map(|p| point_values(specs, p))
        .collect()
}

/// Grid search as a proposer: the grid's points in order, then finer grids.
pub struct GridProposer {
    specs: Vec<VariableSpec>,
    base: Candidate,
    points: Vec<Vec<f64>>,
    /// Levels per variable of the current grid (for refinement).
    levels: usize,
    cursor: usize,
    /// Points evaluated or proposed (by key).
    seen: HashSet<String>,
}

impl GridProposer {
    /// A grid of at most `budget` points over the box of `specs`; `base` supplies the rest
    /// of each candidate.
    pub fn new(
        specs: &[VariableSpec],
        base: Candidate,
        budget: usize,
    ) -> Result<GridProposer, TunerError> {
        check_specs(specs)?;
        let points: Vec<Vec<f64>> = grid_points(specs, budget.max(1))
            .iter()
            .map(|p| point_values(specs, p))
            .collect();
        let d = specs.len() as f64;
        let levels = ((points.len() as f64).powf(1.0 / d).round() as usize).max(1);
        Ok(GridProposer {
            specs: specs.to_vec(),
            base,
            points,
            levels,
            cursor: 0,
            seen: HashSet::new(),
        })
    }

    /// The points of the current grid, in visiting order.
    pub fn points(&self) -> &[Vec<f64>] {
        &self.points
    }

    /// The next grid point not yet evaluated nor proposed.
    pub fn propose(&mut self) -> Candidate {
        loop {
            while self.cursor < self.points.len() {
                let values = self.points[self.cursor].clone();
                self.cursor += 1;
                if self.seen.insert(key_of_values(&self.specs, &values)) {
                    return candidate_of(&self.specs, &self.base, &values);
                }
            }
            // Every point visited: refine. A grid that cannot grow (integer variables at
            // every level) proposes its first point again, which the run reuses as a duplicate.
            let levels = (2 * self.levels).saturating_sub(1).max(3);
            let finer = grid_with_levels(&self.specs, levels);
            if finer.len() <= self.points.len() {
                let values = self.points.first().cloned().unwrap_or_default();
                return candidate_of(&self.specs, &self.base, &values);
            }
            self.levels = levels;
            self.points = finer;
            self.cursor = 0;
        }
    }

    /// A node was stored: its point counts as visited.
    pub fn observe(&mut self, candidate: &Candidate) {
        self.seen.insert(key_of_candidate(&self.specs, candidate));
    }
}

/// Tsallis-INF as a proposer (see the module documentation for the loss and free rounds).
pub struct TsallisProposer {
    specs: Vec<VariableSpec>,
    base: Candidate,
    seed: u64,
    learner: TsallisInf,
    arms: Vec<Vec<f64>>,
    /// Levels per variable of the arm grid (for refinement).
    levels: usize,
    /// Refinements so far (each draws from its own stream).
    generation: u64,
    arm_of: HashMap<String, usize>,
    /// Losses of the points evaluated, by key.
    losses: HashMap<String, f64>,
    /// Points proposed and not yet observed (by key), with their probability when drawn.
    pending: VecDeque<(String, f64)>,
    /// The reference score `s0` (the first valid node's).
    reference: Option<f64>,
}

impl TsallisProposer {
    /// A learner over `max(20, budget)` grid arms of the box of `specs`, drawing from `seed`.
    pub fn new(
        specs: &[VariableSpec],
        base: Candidate,
        budget: usize,
        seed: u64,
    ) -> Result<TsallisProposer, TunerError> {
        check_specs(specs)?;
        let arms: Vec<Vec<f64>> = grid_points(specs, budget.max(MIN_ARMS))
            .iter()
            .map(|p| point_values(specs, p))
            .collect();
        let levels = ((arms.len() as f64).powf(1.0 / specs.len() as f64).round() as usize).max(1);
        let mut proposer = TsallisProposer {
            specs: specs.to_vec(),
            base,
            seed,
            learner: TsallisInf::new(Vec::new(), seed),
            arms: Vec::new(),
            levels,
            generation: 0,
            arm_of: HashMap::new(),
            losses: HashMap::new(),
            pending: VecDeque::new(),
            reference: None,
        };
        proposer.set_arms(arms);
        Ok(proposer)
    }

    /// A fresh learner over `arms` (its arm values are indices; the points live here).
    fn set_arms(&mut self, arms: Vec<Vec<f64>>) {
        self.arm_of = arms
            .iter()
            .enumerate()
            .map(|(i, a)| (key_of_values(&self.specs, a), i))
            .collect();
        let stream = self
            .seed
            .wrapping_add(self.generation.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.learner = TsallisInf::new((0..arms.len()).map(|i| i as f64).collect(), stream);
        self.arms = arms;
    }

    /// The arms (points) of the bandit.
    pub fn arms(&self) -> &[Vec<f64>] {
        &self.arms
    }

    /// The sampling distribution of the latest round.
    pub fn probabilities(&self) -> &[f64] {
        self.learner.probabilities()
    }

    /// The normalized loss of a score (see the module documentation).
    pub fn loss(&self, score: Option<f64>) -> f64 {
        let Some(score) = score.filter(|s| s.is_finite()) else {
            return 1.0;
        };
        let s0 = self.reference.unwrap_or(score);
        let scale = if s0 == 0.0 { 1.0 } else { s0.abs() };
        (0.5 + (s0 - score) / (2.0 * scale)).clamp(0.0, 1.0)
    }

    fn known(&self, arm: usize) -> Option<f64> {
        let key = key_of_values(&self.specs, &self.arms[arm]);
        self.losses.get(&key).copied()
    }

    /// Draws arms until one not yet evaluated comes up (free rounds learn from the known
    /// losses), at most [`FREE_ROUNDS`] draws; returns the arm and its probability. When
    /// every arm is evaluated the arm grid is refined first (`2k − 1` levels, a fresh
    /// learner on the next stream), so a run with a time budget keeps finding new points.
    fn draw(&mut self) -> (usize, f64) {
        if (0..self.arms.len()).all(|a| self.known(a).is_some()) {
            let levels = (2 * self.levels).saturating_sub(1).max(3);
            let finer = grid_with_levels(&self.specs, levels);
            if finer.len() > self.arms.len() {
                self.levels = levels;
                self.generation += 1;
                self.set_arms(finer);
            }
        }
        let mut arm = 0;
        for _ in 0..=FREE_ROUNDS {
            arm = self.learner.choose();
            match self.known(arm) {
                Some(loss) => self.learner.update(arm, loss),
                None => break,
            }
        }
        let p = self
            .learner
            .probabilities()
            .get(arm)
            .copied()
            .unwrap_or(0.0);
        (arm, p)
    }

    /// The next candidate.
    pub fn propose(&mut self) -> Candidate {
        let (arm, p) = self.draw();
        let values = self.arms[arm].clone();
        self.pending
            .push_back((key_of_values(&self.specs, &values), p));
        candidate_of(&self.specs, &self.base, &values)
    }

    /// A node was stored: `score` is `None` for an invalid candidate. `seed` marks the
    /// task's seed nodes (not drawn by the learner). On resume the stored nodes come here
    /// with nothing pending: the draw a live run made before each is made again, so at
    /// concurrency 1 the learner ends in the state an uninterrupted run would have.
    pub fn observe(&mut self, candidate: &Candidate, score: Option<f64>, seed: bool) {
        if self.reference.is_none()
            && let Some(s) = score.filter(|s| s.is_finite())
        {
            self.reference = Some(s);
        }
        let loss = self.loss(score);
        let key = key_of_candidate(&self.specs, candidate);
        if !seed && self.pending.is_empty() {
            // Replaying a stored node: redo the draw that proposed it (before its loss is
            // known, as it was live).
            let (arm, p) = self.draw();
            let drawn = key_of_values(&self.specs, &self.arms[arm]);
            self.pending.push_back((drawn, p));
        }
        self.losses.insert(key.clone(), loss);
        if seed {
            return;
        }
        let position = self.pending.iter().position(|(k, _)| *k == key);
        let probability = match position {
            Some(i) => self.pending.remove(i).map(|(_, p)| p),
            None => {
                // Not the point drawn (another proposer's node, or replay at concurrency
                // > 1): forget the oldest draw, learn from this point as it stands.
                self.pending.pop_front();
                self.arm_of
                    .get(&key)
                    .and_then(|&a| self.learner.probabilities().get(a).copied())
            }
        };
        let Some(&arm) = self.arm_of.get(&key) else {
            return;
        };
        if let Some(p) = probability.filter(|p| *p > 0.0) {
            // TsallisInf::update weights by the current distribution; scale so the
            // estimate grows by loss / p, p the probability the arm was drawn with.
            let current = self
                .learner
                .probabilities()
                .get(arm)
                .copied()
                .unwrap_or(p)
                .max(1e-300);
            self.learner.update(arm, loss * current / p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hone_tasks::{Scale, VariableType};

    fn omega() -> Vec<VariableSpec> {
        vec![VariableSpec {
            name: "omega".into(),
            kind: VariableType::Float,
            lower: 1.0,
            upper: 2.0,
            scale: Scale::Linear,
            initial: 1.0,
            description: String::new(),
        }]
    }

    fn value(c: &Candidate) -> f64 {
        c.values["omega"].as_f64().unwrap_or(f64::NAN)
    }

    /// A cost with its minimum near 1.7.
    fn score(w: f64) -> f64 {
        -(100.0 + 1000.0 * (w - 1.7).powi(2))
    }

    #[test]
    fn grid_visits_in_order_skips_the_seed_and_refines() {
        let mut grid = GridProposer::new(&omega(), Candidate::default(), 5).unwrap();
        let seed = candidate_of(&omega(), &Candidate::default(), &[1.0]);
        grid.observe(&seed);
        let first: Vec<f64> = (0..4).map(|_| value(&grid.propose())).collect();
        assert_eq!(first, vec![1.25, 1.5, 1.75, 2.0]);
        // Refined: 9 levels, the midpoints only.
        let next: Vec<f64> = (0..4).map(|_| value(&grid.propose())).collect();
        assert_eq!(next, vec![1.125, 1.375, 1.625, 1.875]);
    }

    #[test]
    fn keys_ignore_the_last_bit() {
        let specs = omega();
        let x = 1.0260526315789473_f64;
        let y = f64::from_bits(x.to_bits() - 1);
        assert_eq!(key_of_values(&specs, &[x]), key_of_values(&specs, &[y]));
        assert_ne!(key_of_values(&specs, &[x]), key_of_values(&specs, &[1.026]));
    }

    #[test]
    fn grid_resumes_where_it_stood() {
        let mut live = GridProposer::new(&omega(), Candidate::default(), 11).unwrap();
        let stored: Vec<Candidate> = (0..4).map(|_| live.propose()).collect();
        let mut resumed = GridProposer::new(&omega(), Candidate::default(), 11).unwrap();
        stored.iter().for_each(|c| resumed.observe(c));
        for _ in 0..5 {
            assert_eq!(value(&live.propose()), value(&resumed.propose()));
        }
    }

    #[test]
    fn tsallis_loss_is_normalized_by_the_seed() {
        let mut t = TsallisProposer::new(&omega(), Candidate::default(), 20, 1).unwrap();
        t.observe(&Candidate::default(), Some(-200.0), true);
        assert_eq!(t.loss(Some(-200.0)), 0.5);
        assert_eq!(t.loss(Some(-100.0)), 0.25);
        assert_eq!(t.loss(Some(-400.0)), 1.0);
        assert_eq!(t.loss(Some(0.0)), 0.0);
        assert_eq!(t.loss(None), 1.0);
    }

    #[test]
    fn tsallis_replay_rebuilds_the_live_state() {
        let specs = omega();
        let mut live = TsallisProposer::new(&specs, Candidate::default(), 30, 7).unwrap();
        let seed = candidate_of(&specs, &Candidate::default(), &[1.0]);
        live.observe(&seed, Some(score(1.0)), true);
        let mut history = vec![(seed, true)];
        for _ in 0..12 {
            let c = live.propose();
            live.observe(&c, Some(score(value(&c))), false);
            history.push((c, false));
        }
        let mut resumed = TsallisProposer::new(&specs, Candidate::default(), 30, 7).unwrap();
        for (c, seed) in &history {
            resumed.observe(c, Some(score(value(c))), *seed);
        }
        for _ in 0..8 {
            let (a, b) = (live.propose(), resumed.propose());
            assert_eq!(value(&a), value(&b));
            live.observe(&a, Some(score(value(&a))), false);
            resumed.observe(&b, Some(score(value(&b))), false);
        }
        assert_eq!(live.probabilities(), resumed.probabilities());
    }

    #[test]
    fn tsallis_proposes_new_arms_while_there_are_some() {
        let specs = omega();
        let mut t = TsallisProposer::new(&specs, Candidate::default(), 20, 3).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..20 {
            let c = t.propose();
            assert!(
                seen.insert(value(&c).to_bits()),
                "an arm was proposed twice"
            );
            t.observe(&c, Some(score(value(&c))), false);
        }
        assert_eq!(seen.len(), t.arms().len());
        // Every arm evaluated: the grid is refined and new points come.
        let c = t.propose();
        assert!(
            seen.insert(value(&c).to_bits()),
            "no new arm after refinement"
        );
        assert!(t.arms().len() > 20);
    }

    #[test]
    fn no_variables_is_an_error() {
        assert!(matches!(
            GridProposer::new(&[], Candidate::default(), 10),
            Err(TunerError::NoVariables)
        ));
        assert!(matches!(
            TsallisProposer::new(&[], Candidate::default(), 10, 1),
            Err(TunerError::NoVariables)
        ));
    }
}
