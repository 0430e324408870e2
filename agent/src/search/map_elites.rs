//! `map-elites`: a quality-diversity archive (OpenEvolve's and CodeEvolve's MAP-Elites).
//!
//! A grid over behaviour descriptors (each a measure of the node cut into bins, see
//! [`Descriptor`]) keeps one elite per cell: the valid node of the highest public score
//! that landed there (ties keep the older node). A step improves a parent drawn uniformly
//! over the occupied cells (OpenEvolve's and CodeEvolve's choice: every niche gets the
//! same attention, whatever its score), so lineages that are slower but shorter, or use
//! less memory, keep being refined beside the best one. Until a valid node has a cell, the
//! step refines the run's best node (improve, or debug an invalid seed).
//!
//! With `--objectives`, the draw is uniform over the occupied cells whose elite no other
//! elite dominates on the objectives (see [`super::pareto`]).
//!
//! Incremental: a new node is binned and compared with its cell's elite in O(descriptors);
//! a draw is O(1). With objectives, the elites' front is recomputed when an elite changed,
//! in O(occupied cells × front), bounded by the grid, not by the tree.

use std::collections::HashMap;

use rand::Rng;
use rand_chacha::ChaCha12Rng;

use super::measures::Descriptor;
use super::pareto::{Objectives, ParetoFront};
use super::{NodeIndex, Plan, SearchTree, Strategy, TreeNode, refine_operator};
use crate::prompt::Operator;

/// The grid and its elites.
#[derive(Clone, Debug)]
pub struct Archive {
    descriptors: Vec<Descriptor>,
    /// Cell number → elite and its score.
    elites: HashMap<usize, (NodeIndex, f64)>,
    /// Occupied cells in the order they were first occupied.
    occupied: Vec<usize>,
}

/// One occupied cell: its bin per descriptor and its elite.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub bins: Vec<usize>,
    pub elite: NodeIndex,
    pub score: f64,
}

impl Archive {
    pub fn new(descriptors: Vec<Descriptor>) -> Archive {
        Archive {
            descriptors,
            elites: HashMap::new(),
            occupied: Vec::new(),
        }
    }

    pub fn descriptors(&self) -> &[Descriptor] {
        &self.descriptors
    }

    /// The cell of these descriptor values (mixed radix, the first descriptor's bin least
    /// significant); `None` when a value is missing (NaN).
    pub fn cell_of(&self, values: &[f64]) -> Option<usize> {
        let mut cell = 0;
        let mut scale = 1;
        for (d, &v) in self.descriptors.iter().zip(values) {
            cell += d.bin(v)? * scale;
            scale *= d.bins;
        }
        (values.len() >= self.descriptors.len()).then_some(cell)
    }

    /// A cell number's bins, one per descriptor.
    pub fn bins_of(&self, mut cell: usize) -> Vec<usize> {
        self.descriptors
            .iter()
            .map(|d| {
                let bin = cell % d.bins;
                cell /= d.bins;
                bin
            })
            .collect()
    }

    /// Offers a valid node with a finite score and its descriptor values; whether it became
    /// its cell's elite.
    pub fn offer(&mut self, index: NodeIndex, score: f64, values: &[f64]) -> bool {
        if !score.is_finite() {
            return false;
        }
        let Some(cell) = self.cell_of(values) else {
            return false;
        };
        match self.elites.get_mut(&cell) {
            None => {
                self.elites.insert(cell, (index, score));
                self.occupied.push(cell);
                true
            }
            Some(elite) if score > elite.1 => {
                *elite = (index, score);
                true
            }
            Some(_) => false,
        }
    }

    /// Offers the node at `index` of a run's tree (valid, not a duplicate).
    pub fn offer_node(&mut self, node: &TreeNode, index: NodeIndex) -> bool {
        if !node.valid || node.duplicate {
            return false;
        }
        self.offer(index, node.score, &node.measures)
    }

    pub fn occupied_count(&self) -> usize {
        self.occupied.len()
    }

    /// The elite of the `i`-th occupied cell (in order of first occupation).
    pub fn elite_at(&self, i: usize) -> NodeIndex {
        self.elites[&self.occupied[i]].0
    }

    /// Every occupied cell, in order of first occupation.
    pub fn cells(&self) -> Vec<Cell> {
        self.occupied
            .iter()
            .map(|&c| {
                let (elite, score) = self.elites[&c];
                Cell {
                    bins: self.bins_of(c),
                    elite,
                    score,
                }
            })
            .collect()
    }

    /// Cells the grid has.
    pub fn capacity(&self) -> usize {
        self.descriptors.iter().map(|d| d.bins).product()
    }
}

/// The archive of a run's stored nodes (the report's grid), as the strategy builds it from
/// their public evaluations; cells' elites are positions in `records`.
pub fn archive_of_records(
    records: &[hone_store::NodeRecord],
    descriptors: &[Descriptor],
) -> Archive {
    let mut archive = Archive::new(descriptors.to_vec());
    for (i, record) in records.iter().enumerate() {
        let score = record.evaluation.score.unwrap_or(f64::NAN);
        if record.evaluation.valid && record.duplicate_of.is_none() {
            let values: Vec<f64> = descriptors
                .iter()
                .map(|d| d.measure.value(record))
                .collect();
            archive.offer(i, score, &values);
        }
    }
    archive
}

/// The `map-elites` strategy (see the module docs).
#[derive(Debug)]
pub struct MapElites {
    archive: Archive,
    objectives: Option<Objectives>,
    /// Nodes taken in so far.
    seen: usize,
    /// With objectives: the occupied cells (positions in the archive's order) whose elite
    /// is non-dominated among the elites; recomputed when an elite changed.
    front: Vec<usize>,
    front_stale: bool,
}

impl MapElites {
    pub fn new(descriptors: Vec<Descriptor>, objectives: Option<Objectives>) -> MapElites {
        MapElites {
            archive: Archive::new(descriptors),
            objectives,
            seen: 0,
            front: Vec::new(),
            front_stale: false,
        }
    }

    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    fn sync(&mut self, tree: &SearchTree) {
        while self.seen < tree.len() {
            let index = self.seen;
            self.seen += 1;
            if self.archive.offer_node(tree.node(index), index) {
                self.front_stale = true;
            }
        }
    }

    /// The occupied cells whose elite no other elite dominates (positions in the
    /// archive's order).
    fn refresh_front(&mut self, tree: &SearchTree, objectives: &Objectives) {
        if !self.front_stale {
            return;
        }
        self.front_stale = false;
        // Offered oldest first, so of equal points the older elite stays.
        let mut elites: Vec<(NodeIndex, usize)> = (0..self.archive.occupied_count())
            .map(|i| (self.archive.elite_at(i), i))
            .collect();
        elites.sort_unstable();
        let mut front = ParetoFront::default();
        let mut position_of = HashMap::new();
        for (elite, i) in elites {
            position_of.insert(elite, i);
            if let Some(point) = objectives.point(tree.node(elite)) {
                front.offer(elite, point);
            }
        }
        self.front = front.members().map(|e| position_of[&e]).collect();
        self.front.sort_unstable();
    }
}

impl Strategy for MapElites {
    fn name(&self) -> &'static str {
        "map-elites"
    }

    fn next(&mut self, tree: &SearchTree, rng: &mut ChaCha12Rng) -> Option<Plan> {
        self.sync(tree);
        let Some(best) = tree.best() else {
            return Some(Plan::new(Operator::Draft, None));
        };
        let count = self.archive.occupied_count();
        if count == 0 {
            return Some(Plan::new(refine_operator(tree.node(best)), Some(best)));
        }
        let position = match self.objectives.clone() {
            Some(objectives) => {
                self.refresh_front(tree, &objectives);
                if self.front.is_empty() {
                    rng.random_range(0..count)
                } else {
                    self.front[rng.random_range(0..self.front.len())]
                }
            }
            None => rng.random_range(0..count),
        };
        let parent = self.archive.elite_at(position);
        Some(Plan::new(Operator::Improve, Some(parent)))
    }

    fn observe(&mut self, tree: &SearchTree, _node: NodeIndex) {
        self.sync(tree);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::search::measures::{Measure, Objective};
    use crate::search::tree::tests::node;

    fn grid() -> Vec<Descriptor> {
        vec![
            Descriptor::new(Measure::Fuel, 0.0, 100.0, 4).unwrap(),
            Descriptor::new(Measure::CodeLen, 0.0, 10.0, 2).unwrap(),
        ]
    }

    fn measured(id: i64, parent: Option<usize>, score: f64, measures: &[f64]) -> TreeNode {
        let mut n = node(id, parent, true, score);
        n.measures = measures.to_vec();
        n
    }

    #[test]
    fn cells_keep_their_best_and_number_bins_in_mixed_radix() {
        let mut archive = Archive::new(grid());
        assert_eq!(archive.capacity(), 8);
        assert_eq!(archive.cell_of(&[30.0, 7.0]), Some(1 + 4));
        assert_eq!(archive.bins_of(5), vec![1, 1]);
        assert_eq!(archive.cell_of(&[f64::NAN, 7.0]), None);
        assert_eq!(archive.cell_of(&[1.0]), None, "a value missing");
        assert!(archive.offer(0, 1.0, &[30.0, 7.0]));
        assert!(
            !archive.offer(1, 1.0, &[26.0, 9.0]),
            "a tie keeps the older elite"
        );
        assert!(
            archive.offer(2, 2.0, &[49.0, 5.0]),
            "a better score replaces it"
        );
        assert!(
            archive.offer(3, 0.5, &[-10.0, 100.0]),
            "clamped into cell (0, 1)"
        );
        assert!(!archive.offer(4, f64::NEG_INFINITY, &[90.0, 0.0]));
        assert_eq!(
            archive.cells(),
            vec![
                Cell {
                    bins: vec![1, 1],
                    elite: 2,
                    score: 2.0
                },
                Cell {
                    bins: vec![0, 1],
                    elite: 3,
                    score: 0.5
                },
            ]
        );
    }

    #[test]
    fn parents_are_drawn_uniformly_over_occupied_cells() {
        let mut tree = SearchTree::new();
        let mut me = MapElites::new(grid(), None);
        let mut rng = ChaCha12Rng::seed_from_u64(2);
        assert_eq!(me.next(&tree, &mut rng).unwrap().operator, Operator::Draft);
        let seed = tree.push(node(1, None, false, 0.0));
        me.observe(&tree, seed);
        let plan = me.next(&tree, &mut rng).unwrap();
        assert_eq!(
            (plan.operator, plan.parent),
            (Operator::Debug, Some(seed)),
            "no cell yet: debug the invalid seed"
        );
        // Three nodes in one cell (the best is the elite), one alone in another: each
        // cell is drawn about half the time, whatever the scores.
        let a = tree.push(measured(2, Some(seed), 9.0, &[10.0, 1.0]));
        let b = tree.push(measured(3, Some(seed), 8.0, &[12.0, 1.0]));
        let c = tree.push(measured(4, Some(seed), 7.0, &[11.0, 2.0]));
        let lone = tree.push(measured(5, Some(seed), 1.0, &[90.0, 9.0]));
        let mut dup = measured(6, Some(seed), 50.0, &[90.0, 9.0]);
        dup.duplicate = true;
        tree.push(dup);
        for i in [a, b, c, lone] {
            me.observe(&tree, i);
        }
        let mut counts = HashMap::new();
        for _ in 0..2000 {
            let plan = me.next(&tree, &mut rng).unwrap();
            assert_eq!(plan.operator, Operator::Improve);
            *counts.entry(plan.parent.unwrap()).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 2, "{counts:?}");
        assert!((800..1200).contains(&counts[&a]), "{counts:?}");
        assert!((800..1200).contains(&counts[&lone]), "{counts:?}");
    }

    #[test]
    fn objectives_restrict_draws_to_non_dominated_elites() {
        let objectives = Objectives {
            list: vec![
                Objective::parse("score").unwrap(),
                Objective::parse("fuel").unwrap(),
            ],
            offset: 2,
        };
        let mut tree = SearchTree::new();
        let mut me = MapElites::new(grid(), Some(objectives));
        let mut rng = ChaCha12Rng::seed_from_u64(3);
        // Measures: fuel, code_len (descriptors), then score, fuel (objectives).
        let fast = tree.push(measured(1, None, 5.0, &[10.0, 1.0, 5.0, 10.0]));
        let good = tree.push(measured(2, None, 9.0, &[60.0, 1.0, 9.0, 60.0]));
        let dominated = tree.push(measured(3, None, 4.0, &[80.0, 1.0, 4.0, 80.0]));
        for i in [fast, good, dominated] {
            me.observe(&tree, i);
        }
        assert_eq!(me.archive().occupied_count(), 3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(me.next(&tree, &mut rng).unwrap().parent.unwrap());
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![fast, good]);
    }
}
