//! `forest`: Scattered Forest Search — diversified seed drafts under a virtual root, UCT
//! (c = √2, max-backup) to choose a node, `scatter` k improvement directions per node and
//! implement each as a child, `scout` the run's global insights after each expansion.

use std::collections::{BTreeSet, HashMap};

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
    /// Visits of each node, but those of the nodes on `path` since they joined it (see
    /// [`Forest::visits`]).
    visits: Vec<f64>,
    /// Each subtree's best score, for values without walking the subtree.
    best: SubtreeBest,
    /// The last descent, kept for the next one.
    path: Path,
    /// Each node's level on `path` plus one (0: not on it).
    level_of: Vec<u32>,
    /// Evaluations observed below the end of `path` (each a visit of every node on it).
    passes: u64,
    /// Changes that may turn a UCT choice: each adds at most one visit to a chosen child
    /// and one to its parent (an evaluation observed, a step sent to a node).
    events: u64,
    /// Nodes whose steps were abandoned, seen at the next call that has the tree.
    released: Vec<NodeIndex>,
}

/// The path of the last descent, root first, with how long each choice on it is certain.
///
/// Consecutive descents share all but the last few levels of a path that grows 100+
/// levels deep, so a descent starts from the last one: a level's choice (UCT among the
/// node's siblings) is replayed only once enough events have passed to possibly turn it,
/// and a node on the path whose own state changes (a child observed or abandoned,
/// directions arriving) becomes the path's end, where the descent resumes with
/// `act_at`. The nodes above the end are known to have nothing to do: every event that
/// could give them something cuts the path there.
#[derive(Debug, Default)]
struct Path {
    nodes: Vec<NodeIndex>,
    /// `passes` when each level's node joined.
    joined: Vec<u64>,
    /// Each level's choice is certain while `events` stays below this.
    expiry: Vec<u64>,
    /// `(expiry, level)` of every level.
    by_expiry: BTreeSet<(u64, usize)>,
    /// The score range the choices were made under (a move changes every value).
    range: Option<(f64, f64)>,
}

/// How close two keys may be (relative) before a choice is certain only at the event
/// count it was made at: far above rounding error, far below what a score changes.
const NEAR: f64 = 1e-9;

/// More events than a run has: a choice certain this long is certain for the run.
const FOREVER: u64 = 1 << 50;

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
            path: Path::default(),
            level_of: Vec::new(),
            passes: 0,
            events: 0,
            released: Vec::new(),
        }
    }

    /// Takes in the nodes pushed since the last call, and the abandoned steps.
    fn sync(&mut self, tree: &SearchTree) {
        while self.visits.len() < tree.len() {
            self.visits.push(0.0);
            self.level_of.push(0);
        }
        self.best.sync(tree);
        // A step abandoned at a node gave back the visit it held there: the choice among
        // the node and its siblings is to be made again.
        for node in std::mem::take(&mut self.released) {
            match tree.node(node).parent {
                Some(parent) => {
                    if let Some(level) = self.level(parent) {
                        self.cut(level + 1);
                    }
                }
                None => self.cut(0),
            }
        }
    }

    /// A node's visits: evaluations observed in its subtree plus steps in flight on it.
    fn visits(&self, index: NodeIndex) -> f64 {
        let on_path = match self.level(index) {
            Some(level) => (self.passes - self.path.joined[level]) as f64,
            None => 0.0,
        };
        self.visits.get(index).copied().unwrap_or(0.0)
            + on_path
            + self.children_in_flight.get(&index).copied().unwrap_or(0) as f64
    }

    /// `node`'s level on the path.
    fn level(&self, node: NodeIndex) -> Option<usize> {
        match self.level_of.get(node) {
            Some(&level) if level > 0 => Some(level as usize - 1),
            _ => None,
        }
    }

    /// Keeps the path's first `len` levels; the visits of the nodes leaving it are stored.
    fn cut(&mut self, len: usize) {
        while self.path.nodes.len() > len {
            let level = self.path.nodes.len() - 1;
            let node = self.path.nodes[level];
            self.visits[node] += (self.passes - self.path.joined[level]) as f64;
            self.level_of[node] = 0;
            self.path
                .by_expiry
                .remove(&(self.path.expiry[level], level));
            self.path.nodes.pop();
            self.path.joined.pop();
            self.path.expiry.pop();
        }
    }

    /// Adds the next level: `node`, chosen now and certain until `expiry`.
    fn extend(&mut self, node: NodeIndex, expiry: u64) {
        let level = self.path.nodes.len();
        self.path.nodes.push(node);
        self.path.joined.push(self.passes);
        self.path.expiry.push(expiry);
        self.path.by_expiry.insert((expiry, level));
        self.level_of[node] = level as u32 + 1;
    }

    /// A node's own state changed (a child or directions arrived, a step was sent or
    /// given back): if it is on the path, the path ends there, so the next descent asks
    /// it again what to do.
    fn end_at(&mut self, node: NodeIndex) {
        if let Some(level) = self.level(node) {
            self.cut(level + 1);
        }
    }

    /// UCT's choice among the roots (`parent` `None`) or `parent`'s children, and the
    /// event count until which it is certain: the choice the descent makes (ties to the
    /// first), and the most events after which the chosen key, one visit more per event,
    /// still beats every other, whose parent gains a visit per event, by more than
    /// rounding can blur (0 when the keys are that close now: certain only until the
    /// next event).
    fn choose(&self, tree: &SearchTree, parent: Option<NodeIndex>) -> Option<(NodeIndex, u64)> {
        let distinct = |&c: &NodeIndex| !tree.node(c).duplicate;
        let (options, parent_visits): (Vec<NodeIndex>, f64) = match parent {
            None => {
                let roots: Vec<NodeIndex> = tree.roots().filter(distinct).collect();
                let visits = roots.iter().map(|&r| self.visits(r) + 1.0).sum();
                (roots, visits)
            }
            Some(p) => (
                tree.node(p)
                    .children
                    .iter()
                    .copied()
                    .filter(distinct)
                    .collect(),
                self.visits(p) + 1.0,
            ),
        };
        let chosen = self.uct_pick(tree, parent_visits, options.iter().copied())?;
        let c = self.exploration;
        let value = |o: NodeIndex| self.best.value(tree, o);
        let n_chosen = self.visits(chosen).max(1.0);
        let v_chosen = value(chosen);
        let others: Vec<(f64, f64)> = options
            .iter()
            .filter(|&&o| o != chosen)
            .map(|&o| (value(o), self.visits(o).max(1.0)))
            .collect();
        // Whether the choice still holds after `j` events, in real arithmetic with a
        // margin (the gap only shrinks as `j` grows).
        let holds = |j: f64| {
            let mine = v_chosen + c * (parent_visits.max(1.0).ln() / (n_chosen + j)).sqrt();
            let ln_later = (parent_visits + j).max(1.0).ln();
            let theirs = others
                .iter()
                .map(|&(v, n)| v + c * (ln_later / n).sqrt())
                .fold(f64::NEG_INFINITY, f64::max);
            mine - theirs > NEAR * (1.0 + mine.abs() + theirs.abs())
        };
        let certain_for = if !holds(0.0) {
            0
        } else if holds(FOREVER as f64) {
            FOREVER
        } else {
            // The largest `j` that holds: grow, then halve.
            let mut good = 0u64;
            let mut step = 1u64;
            while holds((good + step) as f64) {
                good += step;
                step *= 2;
            }
            while step > 1 {
                step /= 2;
                if holds((good + step) as f64) {
                    good += step;
                }
            }
            good
        };
        Some((chosen, self.events + certain_for + 1))
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
            self.events += 1;
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
            self.events += 1;
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
        if self.path.range != tree.score_range() {
            self.cut(0);
            self.path.range = tree.score_range();
        }
        // Choices that may have turned since the last descent, top down: one that still
        // holds is certain for longer; one that turned ends the path above it.
        let now = self.events;
        let mut expired: Vec<usize> = self
            .path
            .by_expiry
            .range(..=(now, usize::MAX))
            .map(|&(_, level)| level)
            .collect();
        expired.sort_unstable();
        for level in expired {
            let parent = level.checked_sub(1).map(|l| self.path.nodes[l]);
            match self.choose(tree, parent) {
                Some((node, expiry)) if node == self.path.nodes[level] => {
                    self.path
                        .by_expiry
                        .remove(&(self.path.expiry[level], level));
                    self.path.expiry[level] = expiry;
                    self.path.by_expiry.insert((expiry, level));
                }
                _ => {
                    self.cut(level);
                    break;
                }
            }
        }
        let mut current = match self.path.nodes.last() {
            Some(&end) => end,
            None => {
                let (root, expiry) = self.choose(tree, None)?;
                self.extend(root, expiry);
                root
            }
        };
        // Descend by UCT from the path's end until a node has something to do.
        for _ in 0..=tree.len() {
            if let Some(plan) = self.act_at(tree, current) {
                return Some(plan);
            }
            // None: no distinct child: scattered, every direction taken, its children still
            // in flight: wait.
            let (child, expiry) = self.choose(tree, Some(current))?;
            self.extend(child, expiry);
            current = child;
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
        } else {
            // A new root competes at the first level.
            self.cut(0);
        }
        // A visit for the node and each ancestor: stored for those off the path; the
        // path, cut to end at the first ancestor on it (whose children changed, or whose
        // side branch's visits and best did), takes it as one more pass. A node in
        // another tree may have raised that tree's root: the first choice is made again.
        self.events += 1;
        let mut at = Some(node);
        while let Some(i) = at {
            if let Some(level) = self.level(i) {
                self.cut(level + 1);
                self.passes += 1;
                return;
            }
            self.visits[i] += 1.0;
            at = tree.node(i).parent;
        }
        self.cut(0);
    }

    fn abandon(&mut self, plan: &Plan) {
        let Some(parent) = plan.parent else { return };
        match plan.operator {
            Operator::Scatter => {
                release(&mut self.scatter_in_flight, parent);
                self.end_at(parent);
            }
            Operator::Scout => {}
            _ => {
                release(&mut self.children_in_flight, parent);
                // The direction stays taken: a failed model call is not retried forever.
                self.end_at(parent);
                self.released.push(parent);
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
                self.events += 1;
            }
            // A scout holds nothing; its improve is a child in flight of the scouted node.
            Operator::Scout => {
                *self.children_in_flight.entry(node).or_default() += 1;
                self.events += 1;
                self.end_at(node);
            }
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
        self.end_at(node);
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
