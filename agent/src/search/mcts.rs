//! `mcts`: UCT over the tree with max-backup, progressive widening and virtual loss for
//! steps in flight (APRMCTS).

use std::collections::HashMap;

use rand_chacha::ChaCha12Rng;

use super::tree::SubtreeBest;
use super::uct::{Key, Tournament};
use super::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};
use crate::prompt::Operator;

/// Monte Carlo tree search over candidates. A node's value is the best normalized score in
/// its subtree (max-backup); visits count evaluated descendants plus steps in flight below
/// it (virtual loss: an in-flight step adds a visit with no value, steering parallel
/// steps apart). A node may have at most ceil(widening·√visits) children; while under
/// that it is expanded, otherwise UCT descends to a child.
#[derive(Debug)]
pub struct Mcts {
    exploration: f64,
    widening: f64,
    visits: Vec<f64>,
    virtual_visits: Vec<f64>,
    pending_children: Vec<usize>,
    /// Each subtree's best score, for values without walking the subtree.
    best: SubtreeBest,
    /// Steps in flight: the node each expands (its path from the root got a virtual visit).
    in_flight: Vec<NodeIndex>,
    /// Abandoned steps' nodes, released at the next call that sees the tree (`abandon`
    /// does not: the path is walked by parent links).
    released: Vec<NodeIndex>,
    /// UCT tournaments over the children of nodes with at least [`TOURNAMENT_CHILDREN`]
    /// of them: progressive widening gives a node ⌈√visits⌉ children (hundreds at the
    /// root of a long run), and comparing them all made a step cost O(√n).
    tournaments: HashMap<NodeIndex, Tournament>,
    /// Each node's position among its parent's children (its leaf in their tournament).
    position: Vec<u32>,
}

/// Nodes with at least this many children descend through a [`Tournament`]; fewer are
/// compared directly.
const TOURNAMENT_CHILDREN: usize = 8;

/// UCT's key of a child of `value` and `visits` under a parent whose visits have the
/// logarithm `ln_parent`.
fn uct_key(value: f64, exploration: f64, ln_parent: f64, visits: f64) -> f64 {
    value + exploration * (ln_parent / visits.max(1.0)).sqrt()
}

impl Mcts {
    pub fn new(exploration: f64, widening: f64) -> Mcts {
        Mcts {
            exploration,
            widening,
            visits: Vec::new(),
            virtual_visits: Vec::new(),
            pending_children: Vec::new(),
            best: SubtreeBest::default(),
            in_flight: Vec::new(),
            released: Vec::new(),
            tournaments: HashMap::new(),
            position: Vec::new(),
        }
    }

    fn sync(&mut self, tree: &SearchTree) {
        let known = self.visits.len();
        while self.visits.len() < tree.len() {
            self.visits.push(0.0);
            self.virtual_visits.push(0.0);
            self.pending_children.push(0);
            self.position.push(0);
        }
        self.best.sync(tree);
        for node in known..tree.len() {
            let Some(parent) = tree.node(node).parent else {
                continue;
            };
            let siblings = &tree.node(parent).children;
            // Children are in index order: `node` is among the last ones pushed.
            let position = siblings
                .iter()
                .rposition(|&c| c == node)
                .expect("a node is among its parent's children");
            self.position[node] = position as u32;
            if let Some(tournament) = self.tournaments.get_mut(&parent) {
                tournament.push(!tree.node(node).duplicate);
            } else if position + 1 >= TOURNAMENT_CHILDREN {
                let mut tournament = Tournament::new();
                for &child in &siblings[..=position] {
                    tournament.push(!tree.node(child).duplicate);
                }
                self.tournaments.insert(parent, tournament);
            }
            // The new node's score may have raised its ancestors' bests.
            for i in tree.lineage(node) {
                self.changed(tree, i);
            }
        }
        for parent in std::mem::take(&mut self.released) {
            self.release(tree, parent);
        }
    }

    /// `node`'s UCT inputs (visits, best) changed: its parent's tournament, if any, plays
    /// its matches again.
    fn changed(&mut self, tree: &SearchTree, node: NodeIndex) {
        if let Some(parent) = tree.node(node).parent
            && let Some(tournament) = self.tournaments.get_mut(&parent)
        {
            tournament.changed(self.position[node] as usize);
        }
    }

    /// Max-backup value of a subtree: the normalized best score in it (normalization shifts
    /// as scores arrive, so the best score is kept, not its normalized value).
    fn value(&self, tree: &SearchTree, index: NodeIndex) -> f64 {
        self.best.value(tree, index)
    }

    fn total_visits(&self, index: NodeIndex) -> f64 {
        self.visits[index] + self.virtual_visits[index]
    }

    /// UCT of `child` under a parent whose visits have the logarithm `ln_parent` (computed
    /// once per parent: the same value the formula would compute for each child).
    fn uct(&self, tree: &SearchTree, ln_parent: f64, child: NodeIndex) -> f64 {
        uct_key(
            self.value(tree, child),
            self.exploration,
            ln_parent,
            self.total_visits(child),
        )
    }

    fn can_expand(&self, tree: &SearchTree, index: NodeIndex) -> bool {
        let allowed = (self.widening * (self.total_visits(index) + 1.0).sqrt()).ceil() as usize;
        tree.node(index).children.len() + self.pending_children[index] < allowed.max(1)
    }

    /// The child of highest UCT (ties to the first), duplicates skipped.
    fn descend(&mut self, tree: &SearchTree, index: NodeIndex) -> Option<NodeIndex> {
        let ln_parent = (self.total_visits(index) + 1.0).max(1.0).ln();
        let Mcts {
            tournaments,
            visits,
            virtual_visits,
            best,
            exploration,
            ..
        } = self;
        if let Some(tournament) = tournaments.get_mut(&index) {
            // The same keys as `uct`, from the same inputs.
            let children = &tree.node(index).children;
            let key = |position: usize| {
                let child = children[position];
                let n = visits[child] + virtual_visits[child];
                let value = best.value(tree, child);
                Key {
                    key: uct_key(value, *exploration, ln_parent, n),
                    value,
                    slope: *exploration / n.max(1.0).sqrt(),
                }
            };
            return tournament
                .winner(ln_parent.sqrt(), tree.score_range(), &key)
                .map(|position| children[position]);
        }
        pick(
            tree.node(index)
                .children
                .iter()
                .copied()
                .filter(|&c| !tree.node(c).duplicate),
            |c| self.uct(tree, ln_parent, c),
        )
    }
}

impl Strategy for Mcts {
    fn name(&self) -> &'static str {
        "mcts"
    }

    fn next(&mut self, tree: &SearchTree, _rng: &mut ChaCha12Rng) -> Option<Plan> {
        self.sync(tree);
        let roots: Vec<NodeIndex> = tree.roots().filter(|&r| !tree.node(r).duplicate).collect();
        if roots.is_empty() {
            return Some(Plan::new(Operator::Draft, None));
        }
        let root_visits: f64 = roots.iter().map(|&r| self.total_visits(r) + 1.0).sum();
        let ln_roots = root_visits.max(1.0).ln();
        let mut current = pick(roots.iter().copied(), |r| self.uct(tree, ln_roots, r))?;
        while !self.can_expand(tree, current) {
            match self.descend(tree, current) {
                Some(child) => current = child,
                None => break,
            }
        }
        // Virtual loss along the path.
        for i in tree.lineage(current) {
            self.virtual_visits[i] += 1.0;
            self.changed(tree, i);
        }
        self.pending_children[current] += 1;
        self.in_flight.push(current);
        Some(Plan::new(
            refine_operator(tree.node(current)),
            Some(current),
        ))
    }

    fn observe(&mut self, tree: &SearchTree, node: NodeIndex) {
        self.sync(tree);
        if let Some(parent) = tree.node(node).parent {
            self.release(tree, parent);
        }
        for i in tree.lineage(node) {
            self.visits[i] += 1.0;
            self.changed(tree, i);
        }
    }

    fn abandon(&mut self, plan: &Plan) {
        if let Some(parent) = plan.parent {
            self.released.push(parent);
        }
    }
}

impl Mcts {
    /// Ends the oldest in-flight step that expanded `parent`: its virtual visits go.
    fn release(&mut self, tree: &SearchTree, parent: NodeIndex) {
        let Some(position) = self.in_flight.iter().position(|&p| p == parent) else {
            return;
        };
        self.in_flight.remove(position);
        self.pending_children[parent] = self.pending_children[parent].saturating_sub(1);
        for i in tree.lineage(parent) {
            self.virtual_visits[i] = (self.virtual_visits[i] - 1.0).max(0.0);
            self.changed(tree, i);
        }
    }
}

/// The item with the highest key; ties go to the first.
fn pick<T: Copy>(items: impl Iterator<Item = T>, key: impl Fn(T) -> f64) -> Option<T> {
    let mut best: Option<(f64, T)> = None;
    for item in items {
        let k = key(item);
        if best.is_none_or(|(b, _)| k > b) {
            best = Some((k, item));
        }
    }
    best.map(|(_, item)| item)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::search::tree::tests::node;

    #[test]
    fn expands_then_descends_toward_value() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mut tree = SearchTree::new();
        let mut mcts = Mcts::new(0.5, 1.0);
        let root = tree.push(node(1, None, true, 1.0));
        mcts.observe(&tree, root);
        let plan = mcts.next(&tree, &mut rng).unwrap();
        assert_eq!(plan.parent, Some(root));
        let good = tree.push(node(2, Some(root), true, 10.0));
        mcts.observe(&tree, good);
        let plan = mcts.next(&tree, &mut rng).unwrap();
        let bad = tree.push(node(3, plan.parent, false, 0.0));
        mcts.observe(&tree, bad);
        // The root is at its widening limit now; the search should go to the good child.
        let mut parents = Vec::new();
        for i in 0..4 {
            let plan = mcts.next(&tree, &mut rng).unwrap();
            parents.push(plan.parent);
            let child = tree.push(node(10 + i, plan.parent, true, 1.0));
            mcts.observe(&tree, child);
        }
        assert!(
            parents.iter().filter(|p| **p == Some(good)).count() >= 2,
            "{parents:?}"
        );
    }

    #[test]
    fn a_wide_node_descends_to_the_child_a_full_comparison_picks() {
        use rand::Rng;
        let mut world = ChaCha12Rng::seed_from_u64(7);
        for exploration in [0.0, 0.01, 0.3, std::f64::consts::SQRT_2, 5.0] {
            let mut tree = SearchTree::new();
            let mut mcts = Mcts::new(exploration, 1.0);
            let root = tree.push(node(1, None, true, 0.0));
            mcts.observe(&tree, root);
            // 300 children and grandchildren with tied and untied scores, some invalid,
            // some duplicates; steps in flight below some of them.
            for id in 2..900 {
                let parent = if id < 300 {
                    root
                } else {
                    world.random_range(1..300)
                };
                let mut n = node(
                    id,
                    Some(parent),
                    world.random_bool(0.8),
                    f64::from(world.random_range(0..12u32)) * 0.5,
                );
                n.duplicate = world.random_bool(0.05);
                let index = tree.push(n);
                mcts.observe(&tree, index);
                if world.random_bool(0.1) {
                    mcts.virtual_visits[index] += 1.0;
                    for i in tree.lineage(index) {
                        mcts.changed(&tree, i);
                    }
                }
            }
            assert!(mcts.tournaments.contains_key(&root));
            for index in 0..tree.len() {
                let ln_parent = (mcts.total_visits(index) + 1.0).max(1.0).ln();
                let full = pick(
                    tree.node(index)
                        .children
                        .iter()
                        .copied()
                        .filter(|&c| !tree.node(c).duplicate),
                    |c| mcts.uct(&tree, ln_parent, c),
                );
                assert_eq!(
                    mcts.descend(&tree, index),
                    full,
                    "node {index}, c {exploration}"
                );
            }
        }
    }

    #[test]
    fn virtual_loss_spreads_parallel_steps() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mut tree = SearchTree::new();
        let mut mcts = Mcts::new(1.4, 1.0);
        let r1 = tree.push(node(1, None, true, 1.0));
        let r2 = tree.push(node(2, None, true, 1.0));
        mcts.observe(&tree, r1);
        mcts.observe(&tree, r2);
        let a = mcts.next(&tree, &mut rng).unwrap().parent;
        let b = mcts.next(&tree, &mut rng).unwrap().parent;
        assert_ne!(a, b, "the second in-flight step goes elsewhere");
    }
}
