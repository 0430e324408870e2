//! The in-memory search tree: every node of the run with its evaluation summary.

use std::collections::HashMap;

use hone_tasks::EvalStatus;
use serde::{Deserialize, Serialize};

use crate::prompt::Operator;

/// Position of a node in the [`SearchTree`] (insertion order).
pub type NodeIndex = usize;

/// A node as strategies see it: what they rank and walk by, not its code or feedback
/// (those stay in the store, read when a prompt shows the node), so a long run's tree
/// holds a few hundred bytes a node.
#[derive(Clone, Debug)]
pub struct TreeNode {
    /// The store's node id.
    pub id: i64,
    pub parent: Option<NodeIndex>,
    pub children: Vec<NodeIndex>,
    /// How the node was made: seed, draft, improve, debug or crossover.
    pub operator: Operator,
    pub depth: u32,
    pub tree: Option<i64>,
    pub island: Option<i64>,
    pub status: EvalStatus,
    pub valid: bool,
    pub score: f64,
    /// The node reused the evaluation of an earlier identical candidate.
    pub duplicate: bool,
    /// Forest: the direction this node implemented.
    pub direction: Option<String>,
    /// The run's measures of this node (map-elites descriptors, then `--objectives`), as
    /// [`StrategyConfig::measures`](super::StrategyConfig::measures) lists them; NaN where
    /// the evaluation has no value. Empty when the run asks for none.
    pub measures: Vec<f64>,
}

/// Every node of a run, in the order they were stored.
#[derive(Clone, Debug, Default)]
pub struct SearchTree {
    nodes: Vec<TreeNode>,
    by_id: HashMap<i64, NodeIndex>,
    best: Option<NodeIndex>,
    /// Nodes without a parent, in order.
    roots: Vec<NodeIndex>,
    /// Lowest and highest finite score of a valid node (kept on push: normalization reads
    /// it on every call).
    range: Option<(f64, f64)>,
    /// The stepped range (see [`SearchTree::stepped_range`]).
    stepped: Option<(f64, f64)>,
}

/// How far past a score the stepped range moves when the score falls outside it, as a
/// fraction of the range's new width.
const STEP_MARGIN: f64 = 0.25;

/// A comparable rank: valid nodes above invalid ones, then by score.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Rank {
    pub valid: bool,
    pub score: f64,
}

impl SearchTree {
    pub fn new() -> SearchTree {
        SearchTree::default()
    }

    /// Adds a node (its parent, if any, must already be in the tree) and returns its index.
    pub fn push(&mut self, mut node: TreeNode) -> NodeIndex {
        let index = self.nodes.len();
        node.children.clear();
        if let Some(parent) = node.parent
            && let Some(p) = self.nodes.get_mut(parent)
        {
            p.children.push(index);
        }
        self.by_id.insert(node.id, index);
        if node.parent.is_none() {
            self.roots.push(index);
        }
        if node.valid && node.score.is_finite() {
            self.range = Some(match self.range {
                None => (node.score, node.score),
                Some((lo, hi)) => (lo.min(node.score), hi.max(node.score)),
            });
            self.stepped = Some(step(self.stepped, node.score));
        }
        let better = match self.best {
            None => true,
            Some(best) => self.rank(index_rank(&node)) > self.rank(self.nodes[best].rank()),
        };
        self.nodes.push(node);
        if better {
            self.best = Some(index);
        }
        index
    }

    fn rank(&self, rank: Rank) -> (bool, f64) {
        (
            rank.valid,
            if rank.score.is_finite() {
                rank.score
            } else {
                f64::NEG_INFINITY
            },
        )
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, index: NodeIndex) -> &TreeNode {
        &self.nodes[index]
    }

    pub fn nodes(&self) -> &[TreeNode] {
        &self.nodes
    }

    pub fn index_of(&self, id: i64) -> Option<NodeIndex> {
        self.by_id.get(&id).copied()
    }

    /// The best node: valid first, then highest score; ties go to the older node.
    pub fn best(&self) -> Option<NodeIndex> {
        self.best
    }

    /// The best valid node, if any.
    pub fn best_valid(&self) -> Option<NodeIndex> {
        self.best.filter(|&b| self.nodes[b].valid)
    }

    /// Roots (nodes without a parent), in order.
    pub fn roots(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.roots.iter().copied()
    }

    /// Score range over valid nodes, for normalization.
    pub fn score_range(&self) -> Option<(f64, f64)> {
        self.range
    }

    /// A node's score mapped to [0, 1] over the valid scores seen; invalid nodes get 0.
    pub fn normalized(&self, index: NodeIndex) -> f64 {
        let node = &self.nodes[index];
        self.normalize(node.valid.then_some(node.score))
    }

    /// What [`SearchTree::normalized`] gives a node of this score (`None`: invalid).
    /// Monotone: a higher score never normalizes lower, so the best normalized score of a
    /// set of nodes is the normalized best score.
    pub fn normalize(&self, score: Option<f64>) -> f64 {
        let Some(score) = score.filter(|s| s.is_finite()) else {
            return 0.0;
        };
        match self.range {
            Some((lo, hi)) if hi > lo => 0.1 + 0.9 * (score - lo) / (hi - lo),
            _ => 1.0,
        }
    }

    /// A range that holds every valid finite score and moves only when a score falls
    /// outside it: it then reaches past that score by a quarter of its new width. Each move
    /// widens it by at least that quarter, so it moves a logarithmic number of times while
    /// the score range grows, and values derived from it (islands' sampling weights) stay
    /// valid between moves instead of changing with every new best score.
    pub fn stepped_range(&self) -> Option<(f64, f64)> {
        self.stepped
    }

    /// A node's score mapped to [0.1, 1] over [`SearchTree::stepped_range`] (1 while that
    /// range is a single score); invalid nodes and non-finite scores get 0.
    pub fn stepped_normalized(&self, index: NodeIndex) -> f64 {
        let node = &self.nodes[index];
        if !node.valid || !node.score.is_finite() {
            return 0.0;
        }
        match self.stepped {
            Some((lo, hi)) if hi > lo => 0.1 + 0.9 * (node.score - lo) / (hi - lo),
            _ => 1.0,
        }
    }

    /// `index` and its ancestors, up to its root (by parent links, nothing allocated).
    pub fn lineage(&self, index: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        std::iter::successors(Some(index), |&i| self.nodes[i].parent)
    }

    /// The indices on the path from the root to `index`, root first.
    pub fn path(&self, index: NodeIndex) -> Vec<NodeIndex> {
        let mut path = vec![index];
        let mut current = index;
        while let Some(parent) = self.nodes[current].parent {
            path.push(parent);
            current = parent;
        }
        path.reverse();
        path
    }
}

/// The stepped range after a valid finite `score` arrives.
fn step(range: Option<(f64, f64)>, score: f64) -> (f64, f64) {
    let (lo, hi) = match range {
        None => return (score, score),
        Some(range) => range,
    };
    let beyond = |edge: f64, width: f64| {
        let moved = edge + STEP_MARGIN * width;
        if moved.is_finite() { moved } else { edge }
    };
    if score > hi {
        (lo, beyond(score, score - lo))
    } else if score < lo {
        (-beyond(-score, hi - score), hi)
    } else {
        (lo, hi)
    }
}

impl TreeNode {
    pub fn rank(&self) -> Rank {
        index_rank(self)
    }
}

fn index_rank(node: &TreeNode) -> Rank {
    Rank {
        valid: node.valid,
        score: node.score,
    }
}

/// The best valid score in each node's subtree (the node included), kept as nodes arrive:
/// a new node's score goes up its path while it beats what an ancestor holds, so values
/// (max-backup) are read in O(1) instead of walking the subtree.
#[derive(Clone, Debug, Default)]
pub(crate) struct SubtreeBest {
    /// `NEG_INFINITY`: no valid node with a finite score below.
    best: Vec<f64>,
}

impl SubtreeBest {
    /// Takes in the nodes pushed since the last call.
    pub(crate) fn sync(&mut self, tree: &SearchTree) {
        while self.best.len() < tree.len() {
            let index = self.best.len();
            let node = tree.node(index);
            let score = if node.valid && node.score.is_finite() {
                node.score
            } else {
                f64::NEG_INFINITY
            };
            self.best.push(score);
            let mut current = node.parent;
            while let Some(i) = current {
                if self.best[i] >= score {
                    break;
                }
                self.best[i] = score;
                current = tree.node(i).parent;
            }
        }
    }

    /// The max-backup value of `index`'s subtree: its best normalized score.
    pub(crate) fn value(&self, tree: &SearchTree, index: NodeIndex) -> f64 {
        let best = self.best[index];
        tree.normalize(best.is_finite().then_some(best))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A node for strategy tests.
    pub(crate) fn node(id: i64, parent: Option<NodeIndex>, valid: bool, score: f64) -> TreeNode {
        TreeNode {
            id,
            parent,
            children: Vec::new(),
            operator: if parent.is_some() {
                Operator::Improve
            } else {
                Operator::Seed
            },
            depth: 0,
            tree: None,
            island: None,
            status: if valid {
                EvalStatus::Ok
            } else {
                EvalStatus::WrongAnswer
            },
            valid,
            score,
            duplicate: false,
            direction: None,
            measures: Vec::new(),
        }
    }

    #[test]
    fn best_prefers_valid_then_score_then_age() {
        let mut tree = SearchTree::new();
        let a = tree.push(node(1, None, false, 5.0));
        assert_eq!(tree.best(), Some(a));
        assert_eq!(tree.best_valid(), None);
        let b = tree.push(node(2, Some(a), true, 1.0));
        assert_eq!(tree.best(), Some(b));
        tree.push(node(3, Some(b), true, 1.0));
        assert_eq!(tree.best(), Some(b), "ties go to the older node");
        let d = tree.push(node(4, Some(b), true, 2.0));
        assert_eq!(tree.best(), Some(d));
        assert_eq!(tree.path(d), vec![a, b, d]);
        assert_eq!(tree.node(b).children, vec![2, 3]);
    }

    #[test]
    fn normalization_maps_valid_scores_into_unit_interval() {
        let mut tree = SearchTree::new();
        let a = tree.push(node(1, None, true, 1.0));
        let b = tree.push(node(2, Some(a), true, 3.0));
        let c = tree.push(node(3, Some(a), false, 9.0));
        assert!((tree.normalized(a) - 0.1).abs() < 1e-12);
        assert!((tree.normalized(b) - 1.0).abs() < 1e-12);
        assert_eq!(tree.normalized(c), 0.0);
    }

    #[test]
    fn the_stepped_range_moves_only_past_its_edges_and_then_beyond_the_score() {
        let mut tree = SearchTree::new();
        let a = tree.push(node(1, None, true, 1.0));
        assert_eq!(tree.stepped_range(), Some((1.0, 1.0)));
        assert_eq!(tree.stepped_normalized(a), 1.0);
        tree.push(node(2, Some(a), true, 5.0));
        assert_eq!(tree.stepped_range(), Some((1.0, 6.0)), "5 + 0.25 · (5 - 1)");
        tree.push(node(3, Some(a), true, 5.5));
        tree.push(node(4, Some(a), false, 100.0));
        tree.push(node(5, Some(a), true, f64::INFINITY));
        assert_eq!(
            tree.stepped_range(),
            Some((1.0, 6.0)),
            "inside, invalid, infinite"
        );
        let low = tree.push(node(6, Some(a), true, -1.0));
        assert_eq!(
            tree.stepped_range(),
            Some((-2.75, 6.0)),
            "-1 - 0.25 · (6 + 1)"
        );
        assert!((tree.stepped_normalized(low) - (0.1 + 0.9 * 1.75 / 8.75)).abs() < 1e-12);
        assert_eq!(tree.score_range(), Some((-1.0, 5.5)));
        // Moves are geometric: a steadily rising best moves the range a few times only.
        let mut moves = 0;
        for i in 0..10_000 {
            let before = tree.stepped_range();
            tree.push(node(
                10 + i,
                Some(a),
                true,
                6.0 + f64::from(i as i32) * 0.01,
            ));
            moves += usize::from(tree.stepped_range() != before);
        }
        assert!(moves < 30, "{moves} moves");
    }
}
