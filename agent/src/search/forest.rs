//! `forest`: Scattered Forest Search — diversified seed drafts under a virtual root, UCT
//! (c = √2, max-backup) to choose a node, `scatter` k improvement directions per node and
//! implement each as a child, `scout` the run's global insights after each expansion.

use std::collections::HashMap;

use rand_chacha::ChaCha12Rng;

use super::best_first::release;
use super::tree::SubtreeBest;
use super::{NodeIndex, Plan, SearchTree, Strategy, improve_instead, refine_operator};
use crate::prompt::Operator;

/// Scattered Forest Search (see the module docs). Directions come back through
/// [`Strategy::observe_directions`]; the orchestrator stores them as events so resume
/// rebuilds them, and marks which direction each child implemented.
#[derive(Debug)]
pub struct Forest {
    trees: usize,
    directions: usize,
    exploration: f64,
    drafts_planned: usize,
    /// Directions per node, with whether each was taken.
    directions_of: HashMap<NodeIndex, Vec<(String, bool)>>,
    scatter_in_flight: HashMap<NodeIndex, usize>,
    children_in_flight: HashMap<NodeIndex, usize>,
    /// Expansions observed and not yet followed by a scout step.
    scouts_due: Vec<NodeIndex>,
    visits: Vec<f64>,
    /// Each subtree's best score, for values without walking the subtree.
    best: SubtreeBest,
}

impl Forest {
    pub fn new(trees: usize, directions: usize, exploration: f64) -> Forest {
        Forest {
            trees: trees.max(1),
            directions: directions.max(1),
            exploration,
            drafts_planned: 0,
            directions_of: HashMap::new(),
            scatter_in_flight: HashMap::new(),
            children_in_flight: HashMap::new(),
            scouts_due: Vec::new(),
            visits: Vec::new(),
            best: SubtreeBest::default(),
        }
    }

    /// Takes in the nodes pushed since the last call.
    fn sync(&mut self, tree: &SearchTree) {
        while self.visits.len() < tree.len() {
            self.visits.push(0.0);
        }
        self.best.sync(tree);
    }

    fn visits(&self, index: NodeIndex) -> f64 {
        self.visits.get(index).copied().unwrap_or(0.0)
            + self.children_in_flight.get(&index).copied().unwrap_or(0) as f64
    }

    /// The option of highest UCT (ties to the first) under a parent of `parent_visits`.
    fn uct_pick(
        &self,
        tree: &SearchTree,
        parent_visits: f64,
        options: impl Iterator<Item = NodeIndex>,
    ) -> Option<NodeIndex> {
        let ln_parent = parent_visits.max(1.0).ln();
        let mut best: Option<(f64, NodeIndex)> = None;
        for c in options {
            let u = self.best.value(tree, c)
                + self.exploration * (ln_parent / self.visits(c).max(1.0)).sqrt();
            if best.is_none_or(|(b, _)| u > b) {
                best = Some((u, c));
            }
        }
        best.map(|(_, c)| c)
    }

    /// What to do at `node`: implement a pending direction, scatter it, or descend.
    fn act_at(&mut self, tree: &SearchTree, node: NodeIndex) -> Option<Plan> {
        if let Some(directions) = self.directions_of.get_mut(&node)
            && let Some(slot) = directions.iter_mut().find(|(_, taken)| !*taken)
        {
            slot.1 = true;
            *self.children_in_flight.entry(node).or_default() += 1;
            let mut plan = Plan::new(
                if tree.node(node).valid {
                    Operator::Improve
                } else {
                    Operator::Debug
                },
                Some(node),
            );
            plan.direction = Some(slot.0.clone());
            plan.tree = tree.node(node).tree;
            return Some(plan);
        }
        // Scattered, and nothing came of it: every direction is spent (or the scatter fell
        // back and left none) and no distinct child exists or is on its way (the steps
        // failed, or produced duplicates). A plain improve expands the node instead; without
        // it the descent would stop here for good and end the run early.
        if self.directions_of.contains_key(&node)
            && self.children_in_flight.get(&node).copied().unwrap_or(0) == 0
            && !tree
                .node(node)
                .children
                .iter()
                .any(|&c| !tree.node(c).duplicate)
        {
            *self.children_in_flight.entry(node).or_default() += 1;
            let mut plan = Plan::new(refine_operator(tree.node(node)), Some(node));
            plan.tree = tree.node(node).tree;
            return Some(plan);
        }
        let scattered = self.directions_of.contains_key(&node);
        if !scattered && self.scatter_in_flight.get(&node).copied().unwrap_or(0) == 0 {
            *self.scatter_in_flight.entry(node).or_default() += 1;
            let mut plan = Plan::new(Operator::Scatter, Some(node));
            plan.tree = tree.node(node).tree;
            return Some(plan);
        }
        None
    }
}

impl Strategy for Forest {
    fn name(&self) -> &'static str {
        "forest"
    }

    fn next(&mut self, tree: &SearchTree, _rng: &mut ChaCha12Rng) -> Option<Plan> {
        self.sync(tree);
        // Scouting follows each expansion.
        if let Some(node) = self.scouts_due.pop() {
            let mut plan = Plan::new(Operator::Scout, Some(node));
            plan.tree = tree.node(node).tree;
            return Some(plan);
        }
        // Scattering: diversified seed drafts, one per tree.
        if self.drafts_planned < self.trees {
            let variant = self.drafts_planned;
            self.drafts_planned += 1;
            let mut plan = Plan::new(Operator::Draft, None);
            plan.tree = Some(variant as i64);
            plan.draft_variant = Some(variant);
            return Some(plan);
        }
        let roots: Vec<NodeIndex> = tree.roots().filter(|&r| !tree.node(r).duplicate).collect();
        if roots.is_empty() {
            return None;
        }
        let root_visits: f64 = roots.iter().map(|&r| self.visits(r) + 1.0).sum();
        let mut current = self.uct_pick(tree, root_visits, roots.iter().copied())?;
        // Descend by UCT until a node has something to do.
        for _ in 0..=tree.len() {
            if let Some(plan) = self.act_at(tree, current) {
                return Some(plan);
            }
            let children = tree
                .node(current)
                .children
                .iter()
                .copied()
                .filter(|&c| !tree.node(c).duplicate);
            // None: no distinct child: scattered, every direction taken, its children still
            // in flight: wait.
            let parent_visits = self.visits(current) + 1.0;
            current = self.uct_pick(tree, parent_visits, children)?;
        }
        None
    }

    fn observe(&mut self, tree: &SearchTree, node: NodeIndex) {
        self.sync(tree);
        let n = tree.node(node);
        if n.operator == Operator::Draft && self.drafts_planned < self.trees {
            // Replayed on resume: drafts stored count as planned.
            self.drafts_planned += 1;
        }
        if let Some(parent) = n.parent {
            release(&mut self.children_in_flight, parent);
            if let Some(direction) = &n.direction
                && let Some(directions) = self.directions_of.get_mut(&parent)
                && let Some(slot) = directions.iter_mut().find(|(d, _)| d == direction)
            {
                slot.1 = true;
            }
            self.scouts_due.push(node);
        }
        for i in tree.lineage(node) {
            self.visits[i] += 1.0;
        }
    }

    fn abandon(&mut self, plan: &Plan) {
        let Some(parent) = plan.parent else { return };
        match plan.operator {
            Operator::Scatter => release(&mut self.scatter_in_flight, parent),
            Operator::Scout => {}
            _ => {
                release(&mut self.children_in_flight, parent);
                // The direction stays taken: a failed model call is not retried forever.
            }
        }
    }

    fn fallback(&mut self, plan: &Plan) -> Option<Plan> {
        let improve = improve_instead(plan)?;
        let node = improve.parent?;
        match plan.operator {
            // Scattered with no directions: the node is not scattered again, and the
            // improve is its child in flight.
            Operator::Scatter => {
                self.observe_directions(node, Vec::new());
                *self.children_in_flight.entry(node).or_default() += 1;
            }
            // A scout holds nothing; its improve is a child in flight of the scouted node.
            Operator::Scout => *self.children_in_flight.entry(node).or_default() += 1,
            // A debug or draft of a direction: the improve takes over its child slot.
            _ => {}
        }
        Some(improve)
    }

    fn resumed(&mut self) {
        // Each stored expansion was scouted before the run stopped (the latest insights are
        // restored from the run's events); scouting them again would only spend calls.
        self.scouts_due.clear();
    }

    fn observe_directions(&mut self, node: NodeIndex, directions: Vec<String>) {
        release(&mut self.scatter_in_flight, node);
        let entry = self.directions_of.entry(node).or_default();
        for d in directions.into_iter().take(self.directions) {
            if !entry.iter().any(|(e, _)| *e == d) {
                entry.push((d, false));
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
    fn drafts_then_scatter_then_implement_each_direction_then_scout() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mut tree = SearchTree::new();
        let mut forest = Forest::new(2, 2, std::f64::consts::SQRT_2);
        let d0 = forest.next(&tree, &mut rng).unwrap();
        let d1 = forest.next(&tree, &mut rng).unwrap();
        assert_eq!((d0.operator, d0.draft_variant), (Operator::Draft, Some(0)));
        assert_eq!((d1.operator, d1.draft_variant), (Operator::Draft, Some(1)));
        let mut a = node(1, None, true, 1.0);
        a.operator = Operator::Draft;
        let a = tree.push(a);
        forest.observe(&tree, a);
        let mut b = node(2, None, true, 3.0);
        b.operator = Operator::Draft;
        let b = tree.push(b);
        forest.observe(&tree, b);
        let scatter = forest.next(&tree, &mut rng).unwrap();
        assert_eq!(scatter.operator, Operator::Scatter);
        let target = scatter.parent.unwrap();
        forest.observe_directions(target, vec!["use a hash map".into(), "sort first".into()]);
        let first = forest.next(&tree, &mut rng).unwrap();
        assert_eq!(first.direction.as_deref(), Some("use a hash map"));
        assert_eq!(first.parent, Some(target));
        let second = forest.next(&tree, &mut rng).unwrap();
        assert_eq!(second.direction.as_deref(), Some("sort first"));
        let mut child = node(3, Some(target), true, 4.0);
        child.direction = Some("use a hash map".into());
        let child = tree.push(child);
        forest.observe(&tree, child);
        let scout = forest.next(&tree, &mut rng).unwrap();
        assert_eq!(
            (scout.operator, scout.parent),
            (Operator::Scout, Some(child))
        );
    }

    #[test]
    fn a_scatter_that_fell_back_is_not_repeated_and_its_node_is_improved() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mut tree = SearchTree::new();
        let mut forest = Forest::new(1, 2, std::f64::consts::SQRT_2);
        let mut root = node(1, None, true, 1.0);
        root.operator = Operator::Draft;
        let root = tree.push(root);
        forest.observe(&tree, root);
        let scatter = forest.next(&tree, &mut rng).unwrap();
        assert_eq!(scatter.operator, Operator::Scatter);
        let improve = forest.fallback(&scatter).unwrap();
        assert_eq!(
            (improve.operator, improve.parent),
            (Operator::Improve, Some(root))
        );
        // The improve is in flight: nothing else to do at the root.
        assert_eq!(forest.next(&tree, &mut rng), None);
        // It failed too: the root is improved again, not scattered again.
        forest.abandon(&improve);
        let again = forest.next(&tree, &mut rng).unwrap();
        assert_eq!(
            (again.operator, again.parent),
            (Operator::Improve, Some(root))
        );
        // Its child is then scattered in turn.
        let child = tree.push(node(2, Some(root), true, 2.0));
        forest.observe(&tree, child);
        let scout = forest.next(&tree, &mut rng).unwrap();
        assert_eq!(scout.operator, Operator::Scout);
        let next = forest.next(&tree, &mut rng).unwrap();
        assert_eq!(
            (next.operator, next.parent),
            (Operator::Scatter, Some(child))
        );
        // A scout that fell back improves the node it was about.
        let improve = forest.fallback(&scout).unwrap();
        assert_eq!(
            (improve.operator, improve.parent),
            (Operator::Improve, Some(child))
        );
    }

    #[test]
    fn a_resumed_forest_does_not_scout_stored_expansions_again() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mut tree = SearchTree::new();
        let mut forest = Forest::new(1, 2, std::f64::consts::SQRT_2);
        let mut root = node(1, None, true, 1.0);
        root.operator = Operator::Draft;
        let root = tree.push(root);
        forest.observe(&tree, root);
        forest.observe_directions(root, vec!["a".into(), "b".into()]);
        let child = tree.push(node(2, Some(root), true, 2.0));
        forest.observe(&tree, child);
        forest.resumed();
        let plan = forest.next(&tree, &mut rng).unwrap();
        assert_ne!(plan.operator, Operator::Scout);
    }

    #[test]
    fn a_node_whose_directions_all_failed_is_improved_not_a_dead_end() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let mut tree = SearchTree::new();
        let mut forest = Forest::new(1, 2, std::f64::consts::SQRT_2);
        let mut root = node(1, None, true, 1.0);
        root.operator = Operator::Draft;
        let root = tree.push(root);
        forest.observe(&tree, root);
        forest.observe_directions(root, vec!["a".into(), "b".into()]);
        let a = forest.next(&tree, &mut rng).unwrap();
        let b = forest.next(&tree, &mut rng).unwrap();
        assert_eq!(
            forest.next(&tree, &mut rng),
            None,
            "both directions in flight"
        );
        // One step failed; the other produced a duplicate of an earlier candidate.
        forest.abandon(&a);
        let mut duplicate = node(2, Some(root), true, 1.0);
        duplicate.duplicate = true;
        duplicate.direction = b.direction.clone();
        let duplicate = tree.push(duplicate);
        forest.observe(&tree, duplicate);
        forest.scouts_due.clear();
        let plan = forest
            .next(&tree, &mut rng)
            .expect("the root still has work");
        assert_eq!(
            (plan.operator, plan.parent, plan.direction),
            (Operator::Improve, Some(root), None)
        );
        // While that improve is in flight the forest waits rather than stacking more.
        assert_eq!(forest.next(&tree, &mut rng), None);
    }
}
