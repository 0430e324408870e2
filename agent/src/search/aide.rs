//! `aide`: n drafts, then debug a failing leaf with probability p (up to depth d), else
//! improve the best (AIDE).

use rand::Rng;
use rand_chacha::ChaCha12Rng;

use super::{NodeIndex, Plan, SearchTree, Strategy};
use crate::prompt::Operator;

/// AIDE's greedy tree policy (see the module docs).
#[derive(Debug)]
pub struct Aide {
    drafts: usize,
    debug_probability: f64,
    max_debug_depth: usize,
    drafts_planned: usize,
}

impl Aide {
    pub fn new(drafts: usize, debug_probability: f64, max_debug_depth: usize) -> Aide {
        Aide {
            drafts,
            debug_probability: debug_probability.clamp(0.0, 1.0),
            max_debug_depth,
            drafts_planned: 0,
        }
    }

    /// Consecutive debug steps that led to this node.
    fn debug_depth(tree: &SearchTree, mut index: NodeIndex) -> usize {
        let mut depth = 0;
        while tree.node(index).operator == Operator::Debug {
            depth += 1;
            match tree.node(index).parent {
                Some(p) => index = p,
                None => break,
            }
        }
        depth
    }
}

impl Strategy for Aide {
    fn name(&self) -> &'static str {
        "aide"
    }

    fn next(&mut self, tree: &SearchTree, rng: &mut ChaCha12Rng) -> Option<Plan> {
        if self.drafts_planned < self.drafts {
            let mut plan = Plan::new(Operator::Draft, None);
            plan.draft_variant = Some(self.drafts_planned);
            self.drafts_planned += 1;
            return Some(plan);
        }
        let buggy: Vec<NodeIndex> = (0..tree.len())
            .filter(|&i| {
                let n = tree.node(i);
                !n.valid
                    && !n.duplicate
                    && n.children.is_empty()
                    && Self::debug_depth(tree, i) < self.max_debug_depth
            })
            .collect();
        if !buggy.is_empty() && rng.random::<f64>() < self.debug_probability {
            let pick = buggy[rng.random_range(0..buggy.len())];
            return Some(Plan::new(Operator::Debug, Some(pick)));
        }
        match tree.best_valid() {
            Some(best) => Some(Plan::new(Operator::Improve, Some(best))),
            None => Some(Plan::new(Operator::Draft, None)),
        }
    }

    fn observe(&mut self, tree: &SearchTree, node: NodeIndex) {
        // On resume, stored drafts count as planned.
        if tree.node(node).operator == Operator::Draft && self.drafts_planned < self.drafts {
            let stored = tree
                .nodes()
                .iter()
                .filter(|n| n.operator == Operator::Draft)
                .count();
            self.drafts_planned = self.drafts_planned.max(stored.min(self.drafts));
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::search::tree::tests::node;

    #[test]
    fn drafts_first_then_debug_or_improve() {
        let mut rng = ChaCha12Rng::seed_from_u64(5);
        let mut tree = SearchTree::new();
        let mut aide = Aide::new(2, 1.0, 2);
        assert_eq!(
            aide.next(&tree, &mut rng).unwrap().operator,
            Operator::Draft
        );
        assert_eq!(
            aide.next(&tree, &mut rng).unwrap().operator,
            Operator::Draft
        );
        let good = tree.push(node(1, None, true, 2.0));
        let bad = tree.push(node(2, None, false, 0.0));
        let plan = aide.next(&tree, &mut rng).unwrap();
        assert_eq!((plan.operator, plan.parent), (Operator::Debug, Some(bad)));
        // A debug chain at its depth limit is no longer debugged.
        let mut d1 = node(3, Some(bad), false, 0.0);
        d1.operator = Operator::Debug;
        let d1 = tree.push(d1);
        let mut d2 = node(4, Some(d1), false, 0.0);
        d2.operator = Operator::Debug;
        tree.push(d2);
        let plan = aide.next(&tree, &mut rng).unwrap();
        assert_eq!(
            (plan.operator, plan.parent),
            (Operator::Improve, Some(good))
        );
    }
}
