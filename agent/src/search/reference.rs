//! The strategies as they were before their incremental structures: each step scanned the
//! whole tree. Kept for tests only: the incremental strategies must plan exactly what these
//! plan on the same trees (`equivalence` below).

#![allow(dead_code, unreachable_pub)]

pub(crate) mod best_first {

    use std::collections::HashMap;

    use rand_chacha::ChaCha12Rng;

    use crate::prompt::Operator;
    use crate::search::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};

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

    pub(super) fn release(in_flight: &mut HashMap<NodeIndex, usize>, index: NodeIndex) {
        if let Some(count) = in_flight.get_mut(&index) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&index);
            }
        }
    }
}

pub(crate) mod mcts {

    use rand_chacha::ChaCha12Rng;

    use crate::prompt::Operator;
    use crate::search::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};

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
        /// Steps in flight: the expanded node and the path that got a virtual visit.
        in_flight: Vec<(NodeIndex, Vec<NodeIndex>)>,
    }

    impl Mcts {
        pub fn new(exploration: f64, widening: f64) -> Mcts {
            Mcts {
                exploration,
                widening,
                visits: Vec::new(),
                virtual_visits: Vec::new(),
                pending_children: Vec::new(),
                in_flight: Vec::new(),
            }
        }

        fn sync(&mut self, tree: &SearchTree) {
            while self.visits.len() < tree.len() {
                self.visits.push(0.0);
                self.virtual_visits.push(0.0);
                self.pending_children.push(0);
            }
        }

        /// Max-backup value of a subtree, recomputed from the tree (normalization shifts as
        /// scores arrive, so values are not cached).
        fn value(&self, tree: &SearchTree, index: NodeIndex) -> f64 {
            let mut best = tree.normalized(index);
            let mut stack: Vec<NodeIndex> = tree.node(index).children.clone();
            while let Some(i) = stack.pop() {
                best = best.max(tree.normalized(i));
                stack.extend_from_slice(&tree.node(i).children);
            }
            best
        }

        fn total_visits(&self, index: NodeIndex) -> f64 {
            self.visits[index] + self.virtual_visits[index]
        }

        fn uct(&self, tree: &SearchTree, parent_visits: f64, child: NodeIndex) -> f64 {
            let n = self.total_visits(child).max(1.0);
            self.value(tree, child) + self.exploration * (parent_visits.max(1.0).ln() / n).sqrt()
        }

        fn can_expand(&self, tree: &SearchTree, index: NodeIndex) -> bool {
            let allowed = (self.widening * (self.total_visits(index) + 1.0).sqrt()).ceil() as usize;
            tree.node(index).children.len() + self.pending_children[index] < allowed.max(1)
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
            let mut current = pick(&roots, |&r| self.uct(tree, root_visits, r))?;
            loop {
                if self.can_expand(tree, current) {
                    break;
                }
                let children: Vec<NodeIndex> = tree
                    .node(current)
                    .children
                    .iter()
                    .copied()
                    .filter(|&c| !tree.node(c).duplicate)
                    .collect();
                if children.is_empty() {
                    break;
                }
                let parent_visits = self.total_visits(current) + 1.0;
                match pick(&children, |&c| self.uct(tree, parent_visits, c)) {
                    Some(child) => current = child,
                    None => break,
                }
            }
            // Virtual loss along the path.
            let path = tree.path(current);
            for &i in &path {
                self.virtual_visits[i] += 1.0;
            }
            self.pending_children[current] += 1;
            self.in_flight.push((current, path));
            Some(Plan::new(
                refine_operator(tree.node(current)),
                Some(current),
            ))
        }

        fn observe(&mut self, tree: &SearchTree, node: NodeIndex) {
            self.sync(tree);
            if let Some(parent) = tree.node(node).parent {
                self.release(parent);
            }
            for i in tree.path(node) {
                self.visits[i] += 1.0;
            }
        }

        fn abandon(&mut self, plan: &Plan) {
            if let Some(parent) = plan.parent {
                self.release(parent);
            }
        }
    }

    impl Mcts {
        /// Ends the oldest in-flight step that expanded `parent`: its virtual visits go.
        fn release(&mut self, parent: NodeIndex) {
            let Some(position) = self.in_flight.iter().position(|(p, _)| *p == parent) else {
                return;
            };
            let (_, path) = self.in_flight.remove(position);
            self.pending_children[parent] = self.pending_children[parent].saturating_sub(1);
            for i in path {
                self.virtual_visits[i] = (self.virtual_visits[i] - 1.0).max(0.0);
            }
        }
    }

    /// The item with the highest key; ties go to the first.
    fn pick<T: Copy>(items: &[T], key: impl Fn(&T) -> f64) -> Option<T> {
        let mut best: Option<(f64, T)> = None;
        for item in items {
            let k = key(item);
            if best.is_none_or(|(b, _)| k > b) {
                best = Some((k, *item));
            }
        }
        best.map(|(_, item)| item)
    }
}

pub(crate) mod forest {

    use std::collections::HashMap;

    use rand_chacha::ChaCha12Rng;

    use super::best_first::release;
    use crate::prompt::Operator;
    use crate::search::{NodeIndex, Plan, SearchTree, Strategy, improve_instead, refine_operator};

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
            }
        }

        fn value(tree: &SearchTree, index: NodeIndex) -> f64 {
            let mut best = tree.normalized(index);
            let mut stack = tree.node(index).children.clone();
            while let Some(i) = stack.pop() {
                best = best.max(tree.normalized(i));
                stack.extend_from_slice(&tree.node(i).children);
            }
            best
        }

        fn visits(&self, index: NodeIndex) -> f64 {
            self.visits.get(index).copied().unwrap_or(0.0)
                + self.children_in_flight.get(&index).copied().unwrap_or(0) as f64
        }

        fn uct_pick(
            &self,
            tree: &SearchTree,
            parent_visits: f64,
            options: &[NodeIndex],
        ) -> Option<NodeIndex> {
            let mut best: Option<(f64, NodeIndex)> = None;
            for &c in options {
                let u = Self::value(tree, c)
                    + self.exploration
                        * (parent_visits.max(1.0).ln() / self.visits(c).max(1.0)).sqrt();
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
            while self.visits.len() < tree.len() {
                self.visits.push(0.0);
            }
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
            let mut current = self.uct_pick(tree, root_visits, &roots)?;
            // Descend by UCT until a node has something to do.
            for _ in 0..=tree.len() {
                if let Some(plan) = self.act_at(tree, current) {
                    return Some(plan);
                }
                let children: Vec<NodeIndex> = tree
                    .node(current)
                    .children
                    .iter()
                    .copied()
                    .filter(|&c| !tree.node(c).duplicate)
                    .collect();
                if children.is_empty() {
                    // Scattered, every direction taken, its children still in flight: wait.
                    return None;
                }
                let parent_visits = self.visits(current) + 1.0;
                current = self.uct_pick(tree, parent_visits, &children)?;
            }
            None
        }

        fn observe(&mut self, tree: &SearchTree, node: NodeIndex) {
            while self.visits.len() < tree.len() {
                self.visits.push(0.0);
            }
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
            for i in tree.path(node) {
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
}

pub(crate) mod islands {

    use rand::Rng;
    use rand_chacha::ChaCha12Rng;

    use crate::prompt::Operator;
    use crate::search::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};

    /// Island model (see the module docs). Migration and resets happen in `observe` when the
    /// node count crosses their intervals, so replaying the stored nodes rebuilds them.
    #[derive(Debug)]
    pub struct Islands {
        islands: usize,
        temperature: f64,
        crossover: f64,
        migration_interval: usize,
        reset_interval: usize,
        /// Nodes of each island created before this tree length are forgotten (after a reset).
        epoch_start: Vec<usize>,
        /// Migrants each island received (and, after a reset, its new founder).
        migrants: Vec<Vec<NodeIndex>>,
        planned: usize,
        observed: usize,
    }

    impl Islands {
        pub fn new(
            islands: usize,
            temperature: f64,
            crossover: f64,
            migration_interval: usize,
            reset_interval: usize,
        ) -> Islands {
            let islands = islands.max(1);
            Islands {
                islands,
                temperature: temperature.max(1e-6),
                crossover: crossover.clamp(0.0, 1.0),
                migration_interval: migration_interval.max(1),
                reset_interval: reset_interval.max(1),
                epoch_start: vec![0; islands],
                migrants: vec![Vec::new(); islands],
                planned: 0,
                observed: 0,
            }
        }

        /// The island's current population: its own nodes since its last reset, and migrants.
        /// An empty island borrows the roots (the task's seeds).
        pub fn population(&self, tree: &SearchTree, island: usize) -> Vec<NodeIndex> {
            let mut members: Vec<NodeIndex> = (self.epoch_start[island]..tree.len())
                .filter(|&i| tree.node(i).island == Some(island as i64) && !tree.node(i).duplicate)
                .collect();
            members.extend(self.migrants[island].iter().copied());
            if members.is_empty() {
                members.extend(tree.roots().filter(|&r| !tree.node(r).duplicate));
            }
            members.sort_unstable();
            members.dedup();
            members
        }

        fn best_of(tree: &SearchTree, members: &[NodeIndex]) -> Option<NodeIndex> {
            let mut best: Option<NodeIndex> = None;
            for &m in members {
                let better = match best {
                    None => true,
                    Some(b) => {
                        let (x, y) = (tree.node(m), tree.node(b));
                        (x.valid, x.score) > (y.valid, y.score)
                    }
                };
                if better {
                    best = Some(m);
                }
            }
            best
        }

        /// Fitness-weighted choice: softmax of normalized scores over the temperature, divided
        /// by (1 + children) to spread effort.
        fn sample(
            &self,
            tree: &SearchTree,
            members: &[NodeIndex],
            rng: &mut ChaCha12Rng,
        ) -> Option<NodeIndex> {
            if members.is_empty() {
                return None;
            }
            let weights: Vec<f64> = members
                .iter()
                .map(|&m| {
                    let fitness = tree.stepped_normalized(m);
                    ((fitness - 1.0) / self.temperature).exp()
                        / (1.0 + tree.node(m).children.len() as f64)
                })
                .collect();
            let total: f64 = weights.iter().sum();
            let mut pick = rng.random::<f64>() * total;
            for (m, w) in members.iter().zip(&weights) {
                if pick < *w {
                    return Some(*m);
                }
                pick -= w;
            }
            members.last().copied()
        }
    }

    impl Strategy for Islands {
        fn name(&self) -> &'static str {
            "islands"
        }

        fn next(&mut self, tree: &SearchTree, rng: &mut ChaCha12Rng) -> Option<Plan> {
            if tree.is_empty() {
                return Some(Plan::new(Operator::Draft, None));
            }
            let island = self.planned % self.islands;
            self.planned += 1;
            let members = self.population(tree, island);
            let parent = self.sample(tree, &members, rng)?;
            let mut plan = if tree.node(parent).valid
                && members.len() > 1
                && rng.random::<f64>() < self.crossover
            {
                let others: Vec<NodeIndex> = members
                    .iter()
                    .copied()
                    .filter(|&m| m != parent && tree.node(m).valid)
                    .collect();
                match self.sample(tree, &others, rng) {
                    Some(second) => {
                        let mut plan = Plan::new(Operator::Crossover, Some(parent));
                        plan.second_parent = Some(second);
                        plan
                    }
                    None => Plan::new(refine_operator(tree.node(parent)), Some(parent)),
                }
            } else {
                Plan::new(refine_operator(tree.node(parent)), Some(parent))
            };
            plan.island = Some(island as i64);
            Some(plan)
        }

        fn observe(&mut self, tree: &SearchTree, _node: NodeIndex) {
            self.observed += 1;
            if self.observed.is_multiple_of(self.migration_interval) {
                let bests: Vec<Option<NodeIndex>> = (0..self.islands)
                    .map(|i| Self::best_of(tree, &self.population(tree, i)))
                    .collect();
                for (i, best) in bests.into_iter().enumerate() {
                    if let Some(best) = best {
                        self.migrants[(i + 1) % self.islands].push(best);
                    }
                }
            }
            if self.observed.is_multiple_of(self.reset_interval) && self.islands > 1 {
                let mut ranked: Vec<(usize, Option<NodeIndex>)> = (0..self.islands)
                    .map(|i| (i, Self::best_of(tree, &self.population(tree, i))))
                    .collect();
                ranked.sort_by(|a, b| {
                    let key =
                        |x: &Option<NodeIndex>| x.map(|n| (tree.node(n).valid, tree.node(n).score));
                    key(&b.1)
                        .partial_cmp(&key(&a.1))
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then(a.0.cmp(&b.0))
                });
                let keep = self.islands.div_ceil(2);
                let founder = ranked.first().and_then(|(_, best)| *best);
                for &(island, _) in &ranked[keep..] {
                    self.epoch_start[island] = tree.len();
                    self.migrants[island] = founder.into_iter().collect();
                }
            }
        }
    }
}

pub(crate) mod aide {

    use rand::Rng;
    use rand_chacha::ChaCha12Rng;

    use crate::prompt::Operator;
    use crate::search::{NodeIndex, Plan, SearchTree, Strategy};

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
}

pub(crate) mod best_first_pareto {

    use std::collections::HashMap;

    use rand::Rng;
    use rand_chacha::ChaCha12Rng;

    use crate::prompt::Operator;
    use crate::search::pareto::{Objectives, non_dominated_sort};
    use crate::search::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};

    /// Best-first with Pareto selection by a scan: each step sorts every node with its
    /// objectives, takes the first front (equal points kept once, the oldest), and draws
    /// uniformly among its members with expansions left; with none, the highest priority
    /// open node as the scalar best-first.
    #[derive(Debug)]
    pub struct BestFirst {
        depth_bonus: f64,
        expansions_per_node: usize,
        objectives: Objectives,
        in_flight: HashMap<NodeIndex, usize>,
    }

    impl BestFirst {
        pub fn new(
            depth_bonus: f64,
            expansions_per_node: usize,
            objectives: Objectives,
        ) -> BestFirst {
            BestFirst {
                depth_bonus,
                expansions_per_node: expansions_per_node.max(1),
                objectives,
                in_flight: HashMap::new(),
            }
        }

        fn open(&self, tree: &SearchTree, index: NodeIndex) -> bool {
            let used =
                tree.node(index).children.len() + self.in_flight.get(&index).copied().unwrap_or(0);
            used < self.expansions_per_node
        }
    }

    impl Strategy for BestFirst {
        fn name(&self) -> &'static str {
            "best-first"
        }

        fn next(&mut self, tree: &SearchTree, rng: &mut ChaCha12Rng) -> Option<Plan> {
            if tree.is_empty() {
                return Some(Plan::new(Operator::Draft, None));
            }
            let with_points: Vec<(NodeIndex, Vec<f64>)> = (0..tree.len())
                .filter_map(|i| Some((i, self.objectives.point(tree.node(i))?)))
                .collect();
            let points: Vec<Vec<f64>> = with_points.iter().map(|(_, p)| p.clone()).collect();
            let first = non_dominated_sort(&points)
                .into_iter()
                .next()
                .unwrap_or_default();
            let open_front: Vec<NodeIndex> = first
                .iter()
                .copied()
                .filter(|&j| !first.iter().any(|&k| k < j && points[k] == points[j]))
                .map(|j| with_points[j].0)
                .filter(|&i| self.open(tree, i))
                .collect();
            let index = if open_front.is_empty() {
                let mut best: Option<(f64, NodeIndex)> = None;
                for index in 0..tree.len() {
                    if tree.node(index).duplicate || !self.open(tree, index) {
                        continue;
                    }
                    let priority = tree.normalized(index)
                        + self.depth_bonus * (1.0 + tree.node(index).depth as f64).ln();
                    if best.is_none_or(|(p, _)| priority > p) {
                        best = Some((priority, index));
                    }
                }
                best?.1
            } else {
                open_front[rng.random_range(0..open_front.len())]
            };
            *self.in_flight.entry(index).or_default() += 1;
            Some(Plan::new(refine_operator(tree.node(index)), Some(index)))
        }

        fn observe(&mut self, tree: &SearchTree, node: NodeIndex) {
            if let Some(parent) = tree.node(node).parent {
                super::best_first::release(&mut self.in_flight, parent);
            }
        }

        fn abandon(&mut self, plan: &Plan) {
            if let Some(parent) = plan.parent {
                super::best_first::release(&mut self.in_flight, parent);
            }
        }
    }
}

pub(crate) mod map_elites {

    use rand::Rng;
    use rand_chacha::ChaCha12Rng;

    use crate::prompt::Operator;
    use crate::search::measures::Descriptor;
    use crate::search::pareto::{Objectives, non_dominated_sort};
    use crate::search::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};

    /// MAP-Elites by a scan: each step bins every node again, keeps each cell's best
    /// (older on ties), orders the cells by the first node that landed in them and draws
    /// uniformly (with objectives: among cells whose elite is in the first front of a
    /// non-dominated sort of the elites, equal points kept once, the older).
    #[derive(Debug)]
    pub struct MapElites {
        descriptors: Vec<Descriptor>,
        objectives: Option<Objectives>,
    }

    impl MapElites {
        pub fn new(descriptors: Vec<Descriptor>, objectives: Option<Objectives>) -> MapElites {
            MapElites {
                descriptors,
                objectives,
            }
        }

        fn cell(&self, values: &[f64]) -> Option<Vec<usize>> {
            if values.len() < self.descriptors.len() {
                return None;
            }
            self.descriptors
                .iter()
                .zip(values)
                .map(|(d, &v)| d.bin(v))
                .collect()
        }
    }

    impl Strategy for MapElites {
        fn name(&self) -> &'static str {
            "map-elites"
        }

        fn next(&mut self, tree: &SearchTree, rng: &mut ChaCha12Rng) -> Option<Plan> {
            let Some(best) = tree.best() else {
                return Some(Plan::new(Operator::Draft, None));
            };
            let mut cells: Vec<(Vec<usize>, NodeIndex)> = Vec::new();
            for index in 0..tree.len() {
                let node = tree.node(index);
                if !node.valid || node.duplicate || !node.score.is_finite() {
                    continue;
                }
                let Some(cell) = self.cell(&node.measures) else {
                    continue;
                };
                match cells.iter_mut().find(|(c, _)| *c == cell) {
                    Some((_, elite)) => {
                        if node.score > tree.node(*elite).score {
                            *elite = index;
                        }
                    }
                    None => cells.push((cell, index)),
                }
            }
            if cells.is_empty() {
                return Some(Plan::new(refine_operator(tree.node(best)), Some(best)));
            }
            let mut eligible: Vec<usize> = (0..cells.len()).collect();
            if let Some(objectives) = &self.objectives {
                let with_points: Vec<(usize, Vec<f64>)> = (0..cells.len())
                    .filter_map(|i| Some((i, objectives.point(tree.node(cells[i].1))?)))
                    .collect();
                let points: Vec<Vec<f64>> = with_points.iter().map(|(_, p)| p.clone()).collect();
                let first = non_dominated_sort(&points)
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                let front: Vec<usize> = first
                    .iter()
                    .copied()
                    .filter(|&j| {
                        // An equal point of an older elite represents it.
                        !first.iter().any(|&k| {
                            points[k] == points[j]
                                && cells[with_points[k].0].1 < cells[with_points[j].0].1
                        })
                    })
                    .map(|j| with_points[j].0)
                    .collect();
                if !front.is_empty() {
                    eligible = front;
                }
            }
            let parent = cells[eligible[rng.random_range(0..eligible.len())]].1;
            Some(Plan::new(Operator::Improve, Some(parent)))
        }

        fn observe(&mut self, _tree: &SearchTree, _node: NodeIndex) {}
    }
}

mod equivalence {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha12Rng;

    use crate::prompt::Operator;
    use crate::search::measures::{Descriptor, Objective, parse_descriptors};
    use crate::search::tree::tests::node;
    use crate::search::{
        Aide, BestFirst, Forest, Islands, MapElites, Mcts, Objectives, Plan, SearchTree, Strategy,
        TreeNode,
    };

    /// A random result for a step of `plan`: scores from a small set (ties), some invalid
    /// nodes, some duplicates, now and then a valid node without a finite score.
    fn result(world: &mut ChaCha12Rng, tree: &SearchTree, id: i64, plan: &Plan) -> TreeNode {
        let valid = world.random_bool(0.7);
        let score = if world.random_bool(0.02) {
            f64::NEG_INFINITY
        } else {
            f64::from(world.random_range(0..20u32))
        };
        let mut n = node(id, plan.parent, valid, score);
        n.operator = if plan.parent.is_none() {
            Operator::Draft
        } else {
            plan.operator
        };
        n.depth = plan.parent.map(|p| tree.node(p).depth + 1).unwrap_or(0);
        n.tree = plan.tree;
        n.island = plan.island;
        n.direction = plan.direction.clone();
        n.duplicate = world.random_bool(0.05);
        // Map-elites descriptors and objectives: few distinct values (shared cells, ties,
        // dominated points), now and then one missing.
        n.measures = (0..4)
            .map(|_| {
                if world.random_bool(0.03) {
                    f64::NAN
                } else {
                    f64::from(world.random_range(0..12u32))
                }
            })
            .collect();
        n
    }

    /// Drives both strategies through the same random run (up to three steps in flight,
    /// completed in random order, some abandoned) and asks them for the same plans.
    fn agree(mut new: Box<dyn Strategy>, mut old: Box<dyn Strategy>, seed: u64, steps: u64) {
        let mut world = ChaCha12Rng::seed_from_u64(seed);
        let mut tree = SearchTree::new();
        let mut in_flight: Vec<Plan> = Vec::new();
        let mut id = 0;
        for _ in 0..2 {
            id += 1;
            let seed_node = result(&mut world, &tree, id, &Plan::new(Operator::Seed, None));
            let index = tree.push(seed_node);
            new.observe(&tree, index);
            old.observe(&tree, index);
        }
        let mut planned = 0;
        for step in 0..steps {
            if in_flight.len() < 3 && world.random_bool(0.6) {
                let mut a = ChaCha12Rng::seed_from_u64(seed ^ step);
                let mut b = a.clone();
                let plan = new.next(&tree, &mut a);
                let expected = old.next(&tree, &mut b);
                if plan != expected {
                    for p in [&plan, &expected]
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.parent)
                    {
                        let n = tree.node(p);
                        eprintln!(
                            "{p}: valid {} score {} dup {} children {:?} depth {} norm {}",
                            n.valid,
                            n.score,
                            n.duplicate,
                            n.children,
                            n.depth,
                            tree.normalized(p)
                        );
                    }
                    eprintln!("in flight {in_flight:?}");
                }
                assert_eq!(plan, expected, "step {step}, {} nodes", tree.len());
                if let Some(plan) = plan {
                    planned += 1;
                    in_flight.push(plan);
                }
                continue;
            }
            if in_flight.is_empty() {
                continue;
            }
            let plan = in_flight.remove(world.random_range(0..in_flight.len()));
            match (plan.operator, plan.parent) {
                (Operator::Scatter, Some(parent)) => {
                    let directions: Vec<String> = (0..world.random_range(0..3))
                        .map(|d| format!("direction {d}"))
                        .collect();
                    new.observe_directions(parent, directions.clone());
                    old.observe_directions(parent, directions);
                }
                (Operator::Scout, _) => {
                    new.abandon(&plan);
                    old.abandon(&plan);
                }
                _ if world.random_bool(0.1) => {
                    new.abandon(&plan);
                    old.abandon(&plan);
                }
                _ => {
                    id += 1;
                    let n = result(&mut world, &tree, id, &plan);
                    let index = tree.push(n);
                    new.observe(&tree, index);
                    old.observe(&tree, index);
                }
            }
        }
        assert!(planned > 20, "only {planned} plans in {steps} steps");
    }

    const STEPS: u64 = 2_500;

    #[test]
    fn best_first_agrees_with_the_full_scan() {
        for (seed, bonus, cap) in [(1, 0.0, 2), (2, 0.3, 3), (3, -0.2, 1)] {
            agree(
                Box::new(BestFirst::new(bonus, cap)),
                Box::new(super::best_first::BestFirst::new(bonus, cap)),
                seed,
                STEPS,
            );
        }
    }

    #[test]
    fn mcts_agrees_with_the_full_scan() {
        // Wide nodes (widening 3) have their children indexed; a tiny exploration constant
        // makes the index read every visit group, a large one only the first.
        for (seed, c, widening) in [
            (4, std::f64::consts::SQRT_2, 1.0),
            (5, 0.5, 0.5),
            (8, 0.01, 3.0),
            (9, 4.0, 3.0),
        ] {
            agree(
                Box::new(Mcts::new(c, widening)),
                Box::new(super::mcts::Mcts::new(c, widening)),
                seed,
                STEPS,
            );
        }
    }

    #[test]
    fn forest_agrees_with_the_full_scan() {
        // Forest keeps its last descent's path: small and large exploration constants
        // turn its choices often and seldom.
        for (seed, trees, directions, c) in [
            (6, 3, 2, std::f64::consts::SQRT_2),
            (7, 2, 3, std::f64::consts::SQRT_2),
            (10, 1, 2, 0.05),
            (11, 3, 2, 4.0),
            (12, 2, 1, 0.0),
        ] {
            agree(
                Box::new(Forest::new(trees, directions, c)),
                Box::new(super::forest::Forest::new(trees, directions, c)),
                seed,
                STEPS,
            );
        }
    }

    #[test]
    fn islands_agree_with_the_full_scan() {
        for (seed, islands, t, crossover, migration, reset) in [
            (8, 4, 0.2, 0.2, 20, 60),
            (9, 3, 0.5, 0.6, 7, 13),
            (10, 1, 0.1, 0.3, 5, 9),
        ] {
            agree(
                Box::new(Islands::new(islands, t, crossover, migration, reset)),
                Box::new(super::islands::Islands::new(
                    islands, t, crossover, migration, reset,
                )),
                seed,
                STEPS,
            );
        }
    }

    #[test]
    fn aide_agrees_with_the_full_scan() {
        for (seed, drafts, p, depth) in [(11, 3, 0.5, 3), (12, 1, 0.9, 1)] {
            agree(
                Box::new(Aide::new(drafts, p, depth)),
                Box::new(super::aide::Aide::new(drafts, p, depth)),
                seed,
                STEPS,
            );
        }
    }

    fn grid(spec: &str) -> Vec<Descriptor> {
        parse_descriptors(spec).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn best_first_with_objectives_agrees_with_the_full_scan() {
        let objectives = Objectives {
            list: vec![
                Objective::parse("a:max").unwrap_or_else(|e| panic!("{e}")),
                Objective::parse("b:min").unwrap_or_else(|e| panic!("{e}")),
                Objective::parse("c:max").unwrap_or_else(|e| panic!("{e}")),
            ],
            offset: 0,
        };
        for (seed, bonus, cap) in [(16, 0.0, 2), (17, 0.3, 1)] {
            agree(
                Box::new(BestFirst::new(bonus, cap).with_pareto(objectives.clone())),
                Box::new(super::best_first_pareto::BestFirst::new(
                    bonus,
                    cap,
                    objectives.clone(),
                )),
                seed,
                // The reference sorts every node each step: fewer steps keep it quick.
                1_000,
            );
        }
    }

    #[test]
    fn map_elites_agrees_with_the_full_scan() {
        // Measures hold 0..12: a grid over the first two (values past 10 clamp).
        for (seed, spec) in [(13, "a:0..10:4,b:0..10:3"), (14, "a:2..8:1")] {
            agree(
                Box::new(MapElites::new(grid(spec), None)),
                Box::new(super::map_elites::MapElites::new(grid(spec), None)),
                seed,
                STEPS,
            );
        }
        // With objectives over the measures after the descriptors.
        let objectives = Objectives {
            list: vec![
                Objective::parse("score").unwrap_or_else(|e| panic!("{e}")),
                Objective::parse("c:min").unwrap_or_else(|e| panic!("{e}")),
            ],
            offset: 2,
        };
        agree(
            Box::new(MapElites::new(
                grid("a:0..12:6,b:0..12:6"),
                Some(objectives.clone()),
            )),
            Box::new(super::map_elites::MapElites::new(
                grid("a:0..12:6,b:0..12:6"),
                Some(objectives),
            )),
            15,
            STEPS,
        );
    }
}
