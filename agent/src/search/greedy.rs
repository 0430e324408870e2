//! `greedy`: always refine the current best node (Afterburner's closed loop).

use rand_chacha::ChaCha12Rng;

use super::{Plan, SearchTree, Strategy, refine_operator};
use crate::prompt::Operator;

/// Refines the best node: improve it when valid, debug it when nothing valid exists yet.
#[derive(Debug, Default)]
pub struct Greedy;

impl Strategy for Greedy {
    fn name(&self) -> &'static str {
        "greedy"
    }

    fn next(&mut self, tree: &SearchTree, _rng: &mut ChaCha12Rng) -> Option<Plan> {
        match tree.best() {
            None => Some(Plan::new(Operator::Draft, None)),
            Some(best) => Some(Plan::new(refine_operator(tree.node(best)), Some(best))),
        }
    }

    fn observe(&mut self, _tree: &SearchTree, _node: usize) {}
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::search::tree::tests::node;

    #[test]
    fn refines_the_best() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mut tree = SearchTree::new();
        let mut greedy = Greedy;
        assert_eq!(
            greedy.next(&tree, &mut rng).unwrap().operator,
            Operator::Draft
        );
        let a = tree.push(node(1, None, false, 0.0));
        let plan = greedy.next(&tree, &mut rng).unwrap();
        assert_eq!((plan.operator, plan.parent), (Operator::Debug, Some(a)));
        tree.push(node(2, Some(a), true, 1.0));
        let c = tree.push(node(3, Some(a), true, 2.0));
        let plan = greedy.next(&tree, &mut rng).unwrap();
        assert_eq!((plan.operator, plan.parent), (Operator::Improve, Some(c)));
    }
}
