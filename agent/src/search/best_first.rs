//! `best-first`: a priority queue by score, with optional depth normalization (BFS-Prover).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use rand_chacha::ChaCha12Rng;

use super::pareto::{Objectives, ParetoFront};
use super::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};
use crate::prompt::Operator;

/// Expands the node of highest priority that still has expansions left.
/// Priority = normalized score (valid nodes in [0.1, 1], invalid 0) + `depth_bonus`·ln(1+depth).
///
/// Open nodes wait in max-heaps ordered by (valid with a finite score, score, older first):
/// normalization is monotone, so within one depth bonus that is the priority's order
/// whatever the score range becomes. Without a depth bonus there is one heap; with one, a
/// heap per depth, and a step compares the heads (one per depth with open nodes). A node
/// that filled up is dropped when it reaches a head (lazy invalidation) and queued again
/// if an abandoned step frees one of its slots.
#[derive(Debug)]
pub struct BestFirst {
    depth_bonus: f64,
    expansions_per_node: usize,
    in_flight: HashMap<NodeIndex, usize>,
    /// Open (or lately filled) nodes per depth group.
    queues: BTreeMap<u32, BinaryHeap<Queued>>,
    /// Whether each node is in a queue.
    queued: Vec<bool>,
    /// Nodes whose slot an abandoned step freed: queued again at the next step.
    reopened: Vec<NodeIndex>,
    /// `--objectives`: the Pareto front of the nodes seen; a step expands a front member
    /// with expansions left (uniformly drawn) before any other node.
    pareto: Option<(Objectives, ParetoFront)>,
}

/// A node in a queue, ordered as its priority orders it within its depth group.
#[derive(Clone, Copy, Debug)]
struct Queued {
    /// Valid with a finite score (above every other node).
    ranked: bool,
    /// The score when `ranked`, else 0.
    score: f64,
    index: NodeIndex,
}

impl Ord for Queued {
    fn cmp(&self, other: &Queued) -> Ordering {
        self.ranked
            .cmp(&other.ranked)
            .then(self.score.total_cmp(&other.score))
            // Ties go to the older node.
            .then(other.index.cmp(&self.index))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Queued) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Queued) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Queued {}

impl BestFirst {
    pub fn new(depth_bonus: f64, expansions_per_node: usize) -> BestFirst {
        BestFirst {
            depth_bonus,
            expansions_per_node: expansions_per_node.max(1),
            in_flight: HashMap::new(),
            queues: BTreeMap::new(),
            queued: Vec::new(),
            reopened: Vec::new(),
            pareto: None,
        }
    }

    /// Pareto selection: the parent is drawn uniformly among the members of the front over
    /// `objectives` that have expansions left; when none has, the priority queue decides.
    pub fn with_pareto(mut self, objectives: Objectives) -> BestFirst {
        self.pareto = Some((objectives, ParetoFront::default()));
        self
    }

    /// Queues the nodes pushed since the last call.
    fn sync(&mut self, tree: &SearchTree) {
        while self.queued.len() < tree.len() {
            let index = self.queued.len();
            self.queued.push(false);
            self.enqueue(tree, index);
            if let Some((objectives, front)) = &mut self.pareto {
                front.offer_node(objectives, tree, index);
            }
        }
    }

    /// Queues again the nodes abandoned steps reopened (checked when planning, once every
    /// release before it has happened).
    fn requeue(&mut self, tree: &SearchTree) {
        for index in std::mem::take(&mut self.reopened) {
            if is_open(tree, &self.in_flight, self.expansions_per_node, index) {
                self.enqueue(tree, index);
            }
        }
    }

    fn enqueue(&mut self, tree: &SearchTree, index: NodeIndex) {
        let node = tree.node(index);
        if node.duplicate || self.queued[index] {
            return;
        }
        let ranked = node.valid && node.score.is_finite();
        let group = if self.depth_bonus == 0.0 {
            0
        } else {
            node.depth
        };
        self.queues.entry(group).or_default().push(Queued {
            ranked,
            score: if ranked { node.score } else { 0.0 },
            index,
        });
        self.queued[index] = true;
    }
}

/// Normalized score + `depth_bonus`·ln(1+depth).
fn priority(tree: &SearchTree, depth_bonus: f64, index: NodeIndex) -> f64 {
    let node = tree.node(index);
    tree.normalized(index) + depth_bonus * (1.0 + node.depth as f64).ln()
}

/// Whether `index` may get another child.
fn is_open(
    tree: &SearchTree,
    in_flight: &HashMap<NodeIndex, usize>,
    cap: usize,
    index: NodeIndex,
) -> bool {
    let used = tree.node(index).children.len() + in_flight.get(&index).copied().unwrap_or(0);
    used < cap
}

impl Strategy for BestFirst {
    fn name(&self) -> &'static str {
        "best-first"
    }

    fn next(&mut self, tree: &SearchTree, rng: &mut ChaCha12Rng) -> Option<Plan> {
        if tree.is_empty() {
            return Some(Plan::new(Operator::Draft, None));
        }
        self.sync(tree);
        self.requeue(tree);
        if let Some((_, front)) = &self.pareto {
            let (in_flight, cap) = (&self.in_flight, self.expansions_per_node);
            if let Some(index) = front.pick(rng, |i| is_open(tree, in_flight, cap, i)) {
                // Its queue entry, if it filled up, is dropped when it reaches a head.
                *self.in_flight.entry(index).or_default() += 1;
                return Some(Plan::new(refine_operator(tree.node(index)), Some(index)));
            }
        }
        // The head of each group, filled nodes dropped on the way; the best head wins
        // (ties to the older node, as a scan in insertion order would give).
        let mut best: Option<(f64, NodeIndex, u32)> = None;
        let mut emptied = Vec::new();
        for (&group, heap) in &mut self.queues {
            while let Some(head) = heap.peek() {
                if is_open(tree, &self.in_flight, self.expansions_per_node, head.index) {
                    break;
                }
                self.queued[head.index] = false;
                heap.pop();
            }
            let Some(head) = heap.peek() else {
                emptied.push(group);
                continue;
            };
            let priority = priority(tree, self.depth_bonus, head.index);
            if best.is_none_or(|(p, i, _)| priority > p || (priority == p && head.index < i)) {
                best = Some((priority, head.index, group));
            }
        }
        for group in emptied {
            self.queues.remove(&group);
        }
        let (_, index, group) = best?;
        *self.in_flight.entry(index).or_default() += 1;
        if !is_open(tree, &self.in_flight, self.expansions_per_node, index)
            && let Some(heap) = self.queues.get_mut(&group)
        {
            heap.pop();
            self.queued[index] = false;
        }
        Some(Plan::new(refine_operator(tree.node(index)), Some(index)))
    }

    fn observe(&mut self, tree: &SearchTree, node: NodeIndex) {
        self.sync(tree);
        if let Some(parent) = tree.node(node).parent {
            release(&mut self.in_flight, parent);
        }
    }

    fn abandon(&mut self, plan: &Plan) {
        if let Some(parent) = plan.parent {
            release(&mut self.in_flight, parent);
            self.reopened.push(parent);
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
    fn pareto_selection_expands_the_front_first() {
        use crate::search::measures::Objective;
        let objectives = Objectives {
            list: vec![
                Objective::parse("score").unwrap(),
                Objective::parse("fuel").unwrap(),
            ],
            offset: 0,
        };
        let mut rng = ChaCha12Rng::seed_from_u64(4);
        let mut tree = SearchTree::new();
        let measured = |id, score: f64, fuel: f64| {
            let mut n = node(id, None, true, score);
            n.measures = vec![score, fuel];
            n
        };
        // best (score 5, fuel 50) and lean (score 2, fuel 10) are the front; slow is
        // dominated by best, and wins no expansion while the front has room.
        let best = tree.push(measured(1, 5.0, 50.0));
        let lean = tree.push(measured(2, 2.0, 10.0));
        let slow = tree.push(measured(3, 4.0, 90.0));
        let mut bf = BestFirst::new(0.0, 1).with_pareto(objectives);
        let mut first: Vec<usize> = (0..2)
            .map(|_| bf.next(&tree, &mut rng).unwrap().parent.unwrap())
            .collect();
        first.sort_unstable();
        assert_eq!(first, vec![best, lean]);
        assert_eq!(
            bf.next(&tree, &mut rng).unwrap().parent,
            Some(slow),
            "the front is full: the queue decides"
        );
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
