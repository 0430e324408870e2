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
    /// Failing leaves still within the debug depth, by index (AIDE debugs one at random).
    buggy: IndexSet,
    /// Nodes taken into `buggy` so far.
    seen: usize,
}

impl Aide {
    pub fn new(drafts: usize, debug_probability: f64, max_debug_depth: usize) -> Aide {
        Aide {
            drafts,
            debug_probability: debug_probability.clamp(0.0, 1.0),
            max_debug_depth,
            drafts_planned: 0,
            buggy: IndexSet::default(),
            seen: 0,
        }
    }

    /// Takes in the nodes pushed since the last call: a failing node within the debug depth
    /// joins the debuggable leaves, and its parent, no longer a leaf, leaves them.
    fn sync(&mut self, tree: &SearchTree) {
        while self.seen < tree.len() {
            let index = self.seen;
            self.seen += 1;
            let node = tree.node(index);
            if let Some(parent) = node.parent {
                self.buggy.set(parent, false);
            }
            let debuggable = !node.valid
                && !node.duplicate
                && node.children.is_empty()
                && Self::debug_depth(tree, index, self.max_debug_depth) < self.max_debug_depth;
            self.buggy.set(index, debuggable);
        }
    }

    /// Consecutive debug steps that led to this node, counted up to `limit`.
    fn debug_depth(tree: &SearchTree, mut index: NodeIndex, limit: usize) -> usize {
        let mut depth = 0;
        while depth < limit && tree.node(index).operator == Operator::Debug {
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
        self.sync(tree);
        let buggy = self.buggy.len();
        if buggy > 0 && rng.random::<f64>() < self.debug_probability {
            let pick = self.buggy.nth(rng.random_range(0..buggy));
            return Some(Plan::new(Operator::Debug, Some(pick)));
        }
        match tree.best_valid() {
            Some(best) => Some(Plan::new(Operator::Improve, Some(best))),
            None => Some(Plan::new(Operator::Draft, None)),
        }
    }

    fn observe(&mut self, tree: &SearchTree, node: NodeIndex) {
        self.sync(tree);
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

/// A set of node indices that counts its members and finds the n-th smallest in
/// O(log n) (a Fenwick tree of 0/1 counts; it doubles its capacity as indices grow).
#[derive(Clone, Debug, Default)]
pub(crate) struct IndexSet {
    member: Vec<bool>,
    /// 1-based Fenwick sums over `member`, as long as `member`.
    sums: Vec<u32>,
    len: usize,
}

impl IndexSet {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn set(&mut self, index: NodeIndex, present: bool) {
        if index >= self.member.len() {
            if !present {
                return;
            }
            self.grow(index + 1);
        }
        if self.member[index] == present {
            return;
        }
        self.member[index] = present;
        if present {
            self.len += 1;
        } else {
            self.len -= 1;
        }
        let mut i = index + 1;
        while i <= self.sums.len() {
            if present {
                self.sums[i - 1] += 1;
            } else {
                self.sums[i - 1] -= 1;
            }
            i += i & i.wrapping_neg();
        }
    }

    /// The `n`-th smallest member (0-based); `n` must be below [`IndexSet::len`].
    pub(crate) fn nth(&self, n: usize) -> NodeIndex {
        let size = self.sums.len();
        let mut position = 0;
        let mut remaining = n as u32;
        let mut step = if size == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - size.leading_zeros())
        };
        while step > 0 {
            let next = position + step;
            if next <= size && self.sums[next - 1] <= remaining {
                position = next;
                remaining -= self.sums[next - 1];
            }
            step >>= 1;
        }
        position
    }

    /// Doubles the capacity until `needed` fits and rebuilds the sums in O(capacity).
    fn grow(&mut self, needed: usize) {
        let capacity = needed.next_power_of_two().max(64);
        self.member.resize(capacity, false);
        self.sums = self.member.iter().map(|&m| u32::from(m)).collect();
        for i in 1..=capacity {
            let parent = i + (i & i.wrapping_neg());
            if parent <= capacity {
                self.sums[parent - 1] += self.sums[i - 1];
            }
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
