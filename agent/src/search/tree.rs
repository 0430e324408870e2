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
}

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
}
