//! `best-first`: a priority queue by score, with optional depth normalization (BFS-Prover).

use std::collections::HashMap;

use rand_chacha::ChaCha12Rng;

use super::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};
use crate::prompt::Operator;

/// Expands the node of highest priority that still has expansions left.
/// Priority = normalized score (valid nodes in [0.1, 1], invalid 0) + `depth_bonus`·ln(1+depth).
#[derive(Debug)]
pub struct BestFirst {
    depth_bonus: f64,
    expansions_per_node: usize,
    in_flight: HashMap<NodeIndex, usize>,
}

impl BestFirst {
    pub fn new(depth_bonus: f64, expansions_per_node: usize) -> BestFirst {
        BestFirst {
            depth_bonus,
            expansions_per_node: expansions_per_node.max(1),
            in_flight: HashMap::new(),
        }
    }

    fn priority(&self, tree: &SearchTree, index: NodeIndex) -> f64 {
        let node = tree.node(index);
        tree.normalized(index) + self.depth_bonus * (1.0 + node.depth as f64).ln()
    }
}

impl Strategy for BestFirst {
    fn name(&self) -> &'static str {
        "best-first"
    }

    fn next(&mut self, tree: &SearchTree, _rng: &mut ChaCha12Rng) -> Option<Plan> {
        if tree.is_empty() {
            return Some(Plan::new(Operator::Draft, None));
        }
        let mut best: Option<(f64, NodeIndex)> = None;
        for index in 0..tree.len() {
            let node = tree.node(index);
            if node.duplicate {
                continue;
            }
            let used = node.children.len() + self.in_flight.get(&index).copied().unwrap_or(0);
            if used >= self.expansions_per_node {
                continue;
            }
            let priority = self.priority(tree, index);
            if best.is_none_or(|(p, _)| priority > p) {
                best = Some((priority, index));
            }
        }
        let (_, index) = best?;
        *self.in_flight.entry(index).or_default() += 1;
        Some(Plan::new(refine_operator(tree.node(index)), Some(index)))
    }

    fn observe(&mut self, tree: &SearchTree, node: NodeIndex) {
        if let Some(parent) = tree.node(node).parent {
            release(&mut self.in_flight, parent);
        }
    }

    fn abandon(&mut self, plan: &Plan) {
        if let Some(parent) = plan.parent {
            release(&mut self.in_flight, parent);
        }
    }
}

pub(crate) fn release(in_flight: &mut HashMap<NodeIndex, usize>, index: NodeIndex) {
    if let Some(count) = in_flight.get_mut(&index) {
        *count -= 1;
        if *count == 0 {
            in_flight.remove(&index);
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::search::tree::tests::node;

    #[test]
    fn expands_by_priority_and_respects_the_expansion_cap() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mut tree = SearchTree::new();
        let a = tree.push(node(1, None, true, 1.0));
        let b = tree.push(node(2, Some(a), true, 5.0));
        let mut bf = BestFirst::new(0.0, 2);
        assert_eq!(bf.next(&tree, &mut rng).unwrap().parent, Some(b));
        assert_eq!(
            bf.next(&tree, &mut rng).unwrap().parent,
            Some(b),
            "second expansion in flight"
        );
        assert_eq!(
            bf.next(&tree, &mut rng).unwrap().parent,
            Some(a),
            "b is full, a has one left"
        );
        let c = tree.push(node(3, Some(b), false, 0.0));
        bf.observe(&tree, c);
        let d = tree.push(node(4, Some(b), true, 2.0));
        bf.observe(&tree, d);
        // b has two children now; d (2.0) is the best open node.
        assert_eq!(bf.next(&tree, &mut rng).unwrap().parent, Some(d));
    }

    #[test]
    fn depth_bonus_prefers_deeper_nodes() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mut tree = SearchTree::new();
        let a = tree.push(node(1, None, true, 1.0));
        let mut deep = node(2, Some(a), true, 0.9);
        deep.depth = 6;
        let b = tree.push(deep);
        tree.push(node(3, None, true, 1.0));
        let mut bf = BestFirst::new(0.5, 5);
        assert_eq!(bf.next(&tree, &mut rng).unwrap().parent, Some(b));
    }
}
