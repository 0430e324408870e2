//! Pareto selection over several objectives (`--objectives score,fuel,...`; GEPA's and
//! LLM4AD's multi-objective selection): non-dominated sorting, and the incremental front
//! best-first, islands and map-elites pick parents from.
//!
//! Values are oriented so that higher is better ([`Objective::oriented`]). `a` dominates `b`
//! when it is at least as good on every objective and better on one. A node takes part only
//! when it is valid, not a duplicate, and has a finite value for every objective.
//!
//! Which member of a front is picked: uniformly at random with the step's RNG (derived from
//! the run's seed and the step number, so a run at `--concurrency 1` is reproducible),
//! among the members in node order.

use rand::Rng;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use super::measures::Objective;
use super::{NodeIndex, SearchTree, TreeNode};

/// The run's objectives and where their values sit in [`TreeNode::measures`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objectives {
    pub list: Vec<Objective>,
    /// Index of the first objective's value in a node's measures (after the descriptors).
    pub offset: usize,
}

impl Objectives {
    /// A node's oriented objective values, or `None` when it takes no part (invalid,
    /// duplicate, or a value missing).
    pub fn point(&self, node: &TreeNode) -> Option<Vec<f64>> {
        if !node.valid || node.duplicate {
            return None;
        }
        self.list
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let value = node.measures.get(self.offset + i).copied()?;
                value.is_finite().then(|| o.oriented(value))
            })
            .collect()
    }
}

/// Whether `a` dominates `b` (oriented values: higher is better).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return false;
        }
        if x > y {
            better = true;
        }
    }
    better
}

/// Non-dominated sorting (NSGA-II's fast sort): the fronts of `points`, first the points
/// nothing dominates, then those only the first front dominates, and so on; each front's
/// positions in increasing order. Equal points share a front.
pub fn non_dominated_sort(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by_count = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in (i + 1)..n {
            if dominates(&points[i], &points[j]) {
                dominates_list[i].push(j);
                dominated_by_count[j] += 1;
            } else if dominates(&points[j], &points[i]) {
                dominates_list[j].push(i);
                dominated_by_count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by_count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominates_list[i] {
                dominated_by_count[j] -= 1;
                if dominated_by_count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::replace(&mut current, next));
    }
    fronts
}

/// The non-dominated nodes seen so far, kept as nodes arrive: a new node is compared with
/// the front's members only. A node equal to a member on every objective stays out (the
/// member represents the point: the older node when nodes are offered in order, as they
/// arrive).
#[derive(Clone, Debug, Default)]
pub struct ParetoFront {
    /// Members in node order, with their oriented values.
    members: Vec<(NodeIndex, Vec<f64>)>,
}

impl ParetoFront {
    /// Offers `index` with its oriented values; whether it joined the front (members it
    /// dominates leave).
    pub fn offer(&mut self, index: NodeIndex, point: Vec<f64>) -> bool {
        if self
            .members
            .iter()
            .any(|(_, m)| m == &point || dominates(m, &point))
        {
            return false;
        }
        self.members.retain(|(_, m)| !dominates(&point, m));
        let at = self.members.partition_point(|(i, _)| *i < index);
        self.members.insert(at, (index, point));
        true
    }

    /// Offers the node at `index` of `tree` (nothing when it takes no part).
    pub fn offer_node(&mut self, objectives: &Objectives, tree: &SearchTree, index: NodeIndex) {
        if let Some(point) = objectives.point(tree.node(index)) {
            self.offer(index, point);
        }
    }

    pub fn members(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.members.iter().map(|(i, _)| *i)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn clear(&mut self) {
        self.members.clear();
    }

    /// A member `eligible` accepts, uniformly at random; `None` when there is none.
    pub fn pick(
        &self,
        rng: &mut ChaCha12Rng,
        eligible: impl Fn(NodeIndex) -> bool,
    ) -> Option<NodeIndex> {
        let candidates: Vec<NodeIndex> = self.members().filter(|&i| eligible(i)).collect();
        if candidates.is_empty() {
            return None;
        }
        Some(candidates[rng.random_range(0..candidates.len())])
    }
}

/// A node of a run's Pareto front: its id and its value per objective (as measured, not
/// oriented).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrontEntry {
    pub node: i64,
    pub values: Vec<f64>,
}

/// The Pareto front of a run's stored nodes over `objectives` (`hone best --pareto`, the
/// report): the first front of a non-dominated sort of its valid, non-duplicate nodes with
/// every value, in node order (nodes equal on every objective all listed); and how many
/// nodes took part.
pub fn front_of_records(
    records: &[hone_store::NodeRecord],
    objectives: &[Objective],
) -> (Vec<FrontEntry>, usize) {
    if objectives.is_empty() {
        return (Vec::new(), 0);
    }
    let mut taking_part = Vec::new();
    let mut points = Vec::new();
    for record in records {
        if !record.evaluation.valid || record.duplicate_of.is_some() {
            continue;
        }
        let values: Vec<f64> = objectives.iter().map(|o| o.measure.value(record)).collect();
        if values.iter().all(|v| v.is_finite()) {
            points.push(
                objectives
                    .iter()
                    .zip(&values)
                    .map(|(o, &v)| o.oriented(v))
                    .collect(),
            );
            taking_part.push((record.id.0, values));
        }
    }
    let count = taking_part.len();
    let front = non_dominated_sort(&points)
        .into_iter()
        .next()
        .unwrap_or_default()
        .into_iter()
        .map(|i| FrontEntry {
            node: taking_part[i].0,
            values: taking_part[i].1.clone(),
        })
        .collect();
    (front, count)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn p(values: &[f64]) -> Vec<f64> {
        values.to_vec()
    }

    #[test]
    fn dominance_needs_one_strict_gain_and_no_loss() {
        assert!(dominates(&[2.0, 1.0], &[1.0, 1.0]));
        assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0]), "equal points");
        assert!(!dominates(&[2.0, 0.0], &[1.0, 1.0]), "a trade-off");
    }

    #[test]
    fn non_dominated_sorting_layers_the_points() {
        // Maximize both: (3,1) (1,3) (2,2) are the first front; (1,1) and (2,1) below.
        let points = vec![
            p(&[1.0, 1.0]),
            p(&[3.0, 1.0]),
            p(&[2.0, 1.0]),
            p(&[1.0, 3.0]),
            p(&[2.0, 2.0]),
            p(&[2.0, 2.0]),
            p(&[0.0, 0.0]),
        ];
        let fronts = non_dominated_sort(&points);
        assert_eq!(
            fronts,
            vec![vec![1, 3, 4, 5], vec![2], vec![0], vec![6]],
            "equal points share a front"
        );
        assert!(non_dominated_sort(&[]).is_empty());
        // Every point is in exactly one front.
        let total: usize = fronts.iter().map(Vec::len).sum();
        assert_eq!(total, points.len());
    }

    #[test]
    fn the_incremental_front_matches_the_first_front_of_a_sort() {
        let mut rng = ChaCha12Rng::seed_from_u64(5);
        let mut points = Vec::new();
        let mut front = ParetoFront::default();
        for i in 0..150 {
            let point = p(&[
                f64::from(rng.random_range(0..30u32)),
                f64::from(rng.random_range(0..30u32)),
                f64::from(rng.random_range(0..5u32)),
            ]);
            front.offer(i, point.clone());
            points.push(point);
            // The sort's first front, without repeats of an equal point (the oldest stays).
            let first = &non_dominated_sort(&points)[0];
            let expected: Vec<usize> = first
                .iter()
                .copied()
                .filter(|&j| !first.iter().any(|&k| k < j && points[k] == points[j]))
                .collect();
            assert_eq!(front.members().collect::<Vec<_>>(), expected, "after {i}");
        }
    }

    #[test]
    fn islands_with_objectives_draw_parents_from_the_island_front() {
        use crate::search::measures::Objective;
        use crate::search::tree::tests::node;
        use crate::search::{Islands, Strategy};
        let objectives = Objectives {
            list: vec![
                Objective::parse("score").unwrap(),
                Objective::parse("fuel").unwrap(),
            ],
            offset: 0,
        };
        let mut tree = SearchTree::new();
        let mut islands = Islands::new(1, 0.2, 0.0, 1000, 1000).with_pareto(objectives);
        let root = tree.push(node(1, None, true, 1.0));
        islands.observe(&tree, root);
        let mut add = |tree: &mut SearchTree, id, score: f64, fuel: f64| {
            let mut n = node(id, Some(root), true, score);
            n.island = Some(0);
            n.measures = vec![score, fuel];
            let index = tree.push(n);
            islands.observe(tree, index);
            index
        };
        let best = add(&mut tree, 2, 9.0, 80.0);
        let lean = add(&mut tree, 3, 3.0, 10.0);
        let _dominated = add(&mut tree, 4, 8.0, 90.0);
        let _also = add(&mut tree, 5, 2.0, 20.0);
        let mut rng = ChaCha12Rng::seed_from_u64(6);
        let mut parents = std::collections::BTreeSet::new();
        for _ in 0..200 {
            parents.insert(islands.next(&tree, &mut rng).unwrap().parent.unwrap());
        }
        assert_eq!(parents.into_iter().collect::<Vec<_>>(), vec![best, lean]);
    }

    #[test]
    fn picks_are_uniform_over_eligible_members_and_follow_the_rng() {
        let mut front = ParetoFront::default();
        front.offer(0, p(&[3.0, 1.0]));
        front.offer(1, p(&[1.0, 3.0]));
        front.offer(2, p(&[2.0, 2.0]));
        let mut counts = [0usize; 3];
        let mut rng = ChaCha12Rng::seed_from_u64(1);
        for _ in 0..3000 {
            counts[front.pick(&mut rng, |_| true).unwrap()] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(front.pick(&mut rng, |i| i == 1), Some(1));
        assert_eq!(front.pick(&mut rng, |_| false), None);
        let (mut a, mut b) = (ChaCha12Rng::seed_from_u64(9), ChaCha12Rng::seed_from_u64(9));
        assert_eq!(front.pick(&mut a, |_| true), front.pick(&mut b, |_| true));
    }
}
