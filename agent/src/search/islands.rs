//! `islands`: several populations evolve apart (FunSearch, OpenEvolve): fitness-weighted
//! parents per island, crossover within an island, periodic migration of each island's best
//! to the next, and reset of the worse half of the islands.

use rand::Rng;
use rand_chacha::ChaCha12Rng;

use super::pareto::{Objectives, ParetoFront};
use super::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};
use crate::prompt::Operator;

/// Island model (see the module docs). Migration and resets happen in `observe` when the
/// node count crosses their intervals, so replaying the stored nodes rebuilds them.
///
/// Each island's population is kept as it changes (`Pool`): its members with their
/// sampling weights in a sum tree over node indices (a draw walks the tree in O(log n),
/// visiting members in index order as a scan would) and its best member. Fitness is
/// normalized over the tree's stepped range ([`SearchTree::stepped_range`]), not its score
/// range: the stepped range moves a logarithmic number of times as scores spread, and
/// only then is every pool reweighed.
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
    pools: Vec<Pool>,
    /// Nodes taken into the pools so far.
    seen: usize,
    /// The stepped range the pools' weights were computed with.
    weighed_with: Option<(f64, f64)>,
    /// `--objectives`: each island's Pareto front (see [`Islands::with_pareto`]).
    pareto: Option<(Objectives, Vec<ParetoFront>)>,
}

/// One island's population: members by node index, their weights, its best member.
#[derive(Clone, Debug, Default)]
struct Pool {
    member: Vec<bool>,
    /// The members, in the order they joined (to clear the pool without a full scan).
    members: Vec<NodeIndex>,
    count: usize,
    valid_count: usize,
    best: Option<NodeIndex>,
    /// Every member's weight.
    all: SumTree,
    /// Valid members' weights (crossover's second parent).
    valid: SumTree,
}

/// Sums of non-negative weights over positions `0..capacity`, a complete binary tree in one
/// vector (leaves at `capacity..2·capacity`); each inner sum is recomputed from its two
/// children, so setting a weight back restores every sum exactly.
#[derive(Clone, Debug, Default)]
struct SumTree {
    sums: Vec<f64>,
}

impl SumTree {
    fn capacity(&self) -> usize {
        self.sums.len() / 2
    }

    fn total(&self) -> f64 {
        self.sums.get(1).copied().unwrap_or(0.0)
    }

    fn get(&self, index: NodeIndex) -> f64 {
        self.sums[self.capacity() + index]
    }

    fn set(&mut self, index: NodeIndex, weight: f64) {
        let mut i = self.capacity() + index;
        self.sums[i] = weight;
        while i > 1 {
            i /= 2;
            self.sums[i] = self.sums[2 * i] + self.sums[2 * i + 1];
        }
    }

    /// Sets every leaf (`leaves` long, capacity a power of two) and recomputes the sums.
    fn rebuild(&mut self, leaves: impl Iterator<Item = f64>, capacity: usize) {
        self.sums.clear();
        self.sums.resize(2 * capacity, 0.0);
        for (i, w) in leaves.enumerate() {
            self.sums[capacity + i] = w;
        }
        for i in (1..capacity).rev() {
            self.sums[i] = self.sums[2 * i] + self.sums[2 * i + 1];
        }
    }

    /// The position where a walk through the weights in order, subtracting each, first
    /// finds `pick` below a weight.
    fn find(&self, mut pick: f64) -> NodeIndex {
        let capacity = self.capacity();
        let mut i = 1;
        while i < capacity {
            let left = self.sums[2 * i];
            if pick < left {
                i *= 2;
            } else {
                pick -= left;
                i = 2 * i + 1;
            }
        }
        i - capacity
    }
}

impl Pool {
    fn contains(&self, index: NodeIndex) -> bool {
        self.member.get(index).copied().unwrap_or(false)
    }

    /// Removes every member: O(members · log n), not a pass over the whole tree.
    fn clear(&mut self) {
        for index in std::mem::take(&mut self.members) {
            self.member[index] = false;
            self.all.set(index, 0.0);
            self.valid.set(index, 0.0);
        }
        self.count = 0;
        self.valid_count = 0;
        self.best = None;
    }
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
            pools: vec![Pool::default(); islands],
            seen: 0,
            weighed_with: None,
            pareto: None,
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
            if best.is_none_or(|b| beats(tree, m, b)) {
                best = Some(m);
            }
        }
        best
    }

    /// An island's best member ([`Islands::best_of`] its population), from its pool.
    fn best_of_island(&self, tree: &SearchTree, island: usize) -> Option<NodeIndex> {
        let pool = &self.pools[island];
        if pool.count == 0 {
            let roots: Vec<NodeIndex> = tree.roots().filter(|&r| !tree.node(r).duplicate).collect();
            return Self::best_of(tree, &roots);
        }
        pool.best
    }

    fn weight(&self, tree: &SearchTree, index: NodeIndex) -> f64 {
        let fitness = tree.stepped_normalized(index);
        ((fitness - 1.0) / self.temperature).exp() / (1.0 + tree.node(index).children.len() as f64)
    }

    /// Adds `index` to `island`'s pool (nothing if it is a member already).
    fn admit(&mut self, tree: &SearchTree, island: usize, index: NodeIndex) {
        if self.pools[island].contains(index) {
            return;
        }
        let weight = self.weight(tree, index);
        let valid = tree.node(index).valid;
        self.pareto_admit(tree, island, index);
        let pool = &mut self.pools[island];
        pool.member[index] = true;
        pool.members.push(index);
        pool.count += 1;
        pool.all.set(index, weight);
        if valid {
            pool.valid_count += 1;
            pool.valid.set(index, weight);
        }
        // Ties go to the older member, as in a scan of the population in index order.
        if pool
            .best
            .is_none_or(|b| beats(tree, index, b) || (!beats(tree, b, index) && index < b))
        {
            pool.best = Some(index);
        }
    }

    /// Takes in the nodes pushed since the last call; reweighs the pools when the stepped
    /// range moved (normalized fitness changed for every node).
    fn sync(&mut self, tree: &SearchTree) {
        if tree.len() > self.pools[0].member.len() {
            let capacity = tree.len().next_power_of_two().max(64);
            for pool in &mut self.pools {
                pool.member.resize(capacity, false);
            }
            self.reweigh(tree);
        }
        while self.seen < tree.len() {
            let index = self.seen;
            self.seen += 1;
            let node = tree.node(index);
            if let Some(parent) = node.parent {
                // One more child: a lower weight wherever the parent is a member.
                let weight = self.weight(tree, parent);
                let valid = tree.node(parent).valid;
                for pool in &mut self.pools {
                    if pool.contains(parent) {
                        pool.all.set(parent, weight);
                        if valid {
                            pool.valid.set(parent, weight);
                        }
                    }
                }
            }
            if let Some(island) = node.island.and_then(|i| usize::try_from(i).ok())
                && island < self.islands
                && !node.duplicate
                && index >= self.epoch_start[island]
            {
                self.admit(tree, island, index);
            }
        }
        if tree.stepped_range() != self.weighed_with {
            self.reweigh(tree);
        }
    }

    /// Recomputes every member's weight (the stepped range moved, or the pools grew).
    fn reweigh(&mut self, tree: &SearchTree) {
        self.weighed_with = tree.stepped_range();
        for island in 0..self.islands {
            let capacity = self.pools[island].member.len();
            let weights: Vec<f64> = (0..capacity)
                .map(|i| {
                    if self.pools[island].member[i] {
                        self.weight(tree, i)
                    } else {
                        0.0
                    }
                })
                .collect();
            let pool = &mut self.pools[island];
            pool.all.rebuild(weights.iter().copied(), capacity);
            pool.valid.rebuild(
                weights.iter().enumerate().map(|(i, &w)| {
                    if i < tree.len() && tree.node(i).valid {
                        w
                    } else {
                        0.0
                    }
                }),
                capacity,
            );
        }
    }

    /// Fitness-weighted choice: softmax of normalized scores (over the stepped range) at the
    /// temperature, divided by (1 + children) to spread effort.
    fn sample(
        &self,
        tree: &SearchTree,
        members: &[NodeIndex],
        rng: &mut ChaCha12Rng,
    ) -> Option<NodeIndex> {
        if members.is_empty() {
            return None;
        }
        let weights: Vec<f64> = members.iter().map(|&m| self.weight(tree, m)).collect();
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

    /// [`Islands::sample`] over a pool's members (`valid_only`: its valid members but
    /// `except`), by its sum tree.
    fn sample_pool(
        &mut self,
        tree: &SearchTree,
        island: usize,
        valid_only: bool,
        except: Option<NodeIndex>,
        rng: &mut ChaCha12Rng,
    ) -> NodeIndex {
        let pool = &mut self.pools[island];
        let sums = if valid_only {
            &mut pool.valid
        } else {
            &mut pool.all
        };
        let held = except.map(|e| (e, sums.get(e)));
        if let Some((e, _)) = held {
            sums.set(e, 0.0);
        }
        let total = sums.total();
        let pick = rng.random::<f64>() * total;
        let found = sums.find(pick);
        let chosen = if pick < total && pool.member[found] && sums.get(found) > 0.0 {
            found
        } else {
            // The pick fell past every weight (rounding, or every weight zero): the
            // scan's last member.
            (0..pool.member.len())
                .rev()
                .find(|&i| {
                    pool.member[i] && Some(i) != except && (!valid_only || tree.node(i).valid)
                })
                .unwrap_or(found)
        };
        if let Some((e, w)) = held {
            sums.set(e, w);
        }
        chosen
    }
}

/// Whether `a` ranks above `b`: valid first, then score.
fn beats(tree: &SearchTree, a: NodeIndex, b: NodeIndex) -> bool {
    let (x, y) = (tree.node(a), tree.node(b));
    (x.valid, x.score) > (y.valid, y.score)
}

impl Strategy for Islands {
    fn name(&self) -> &'static str {
        "islands"
    }

    fn next(&mut self, tree: &SearchTree, rng: &mut ChaCha12Rng) -> Option<Plan> {
        if tree.is_empty() {
            return Some(Plan::new(Operator::Draft, None));
        }
        self.sync(tree);
        let island = self.planned % self.islands;
        self.planned += 1;
        let (count, valid_count) = (self.pools[island].count, self.pools[island].valid_count);
        if count == 0 {
            // An empty island borrows the roots.
            let members: Vec<NodeIndex> =
                tree.roots().filter(|&r| !tree.node(r).duplicate).collect();
            return self.plan_among(tree, island, &members, rng);
        }
        let parent = match self.pareto_pick(island, rng) {
            Some(parent) => parent,
            None => self.sample_pool(tree, island, false, None, rng),
        };
        let mut plan =
            if tree.node(parent).valid && count > 1 && rng.random::<f64>() < self.crossover {
                // Valid members other than the parent (the parent is valid).
                if valid_count > 1 {
                    let second = self.sample_pool(tree, island, true, Some(parent), rng);
                    let mut plan = Plan::new(Operator::Crossover, Some(parent));
                    plan.second_parent = Some(second);
                    plan
                } else {
                    Plan::new(refine_operator(tree.node(parent)), Some(parent))
                }
            } else {
                Plan::new(refine_operator(tree.node(parent)), Some(parent))
            };
        plan.island = Some(island as i64);
        Some(plan)
    }

    fn observe(&mut self, tree: &SearchTree, _node: NodeIndex) {
        self.sync(tree);
        self.observed += 1;
        if self.observed.is_multiple_of(self.migration_interval) {
            let bests: Vec<Option<NodeIndex>> = (0..self.islands)
                .map(|i| self.best_of_island(tree, i))
                .collect();
            for (i, best) in bests.into_iter().enumerate() {
                if let Some(best) = best {
                    let to = (i + 1) % self.islands;
                    self.migrants[to].push(best);
                    self.admit(tree, to, best);
                }
            }
        }
        if self.observed.is_multiple_of(self.reset_interval) && self.islands > 1 {
            let mut ranked: Vec<(usize, Option<NodeIndex>)> = (0..self.islands)
                .map(|i| (i, self.best_of_island(tree, i)))
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
                self.pools[island].clear();
                self.pareto_clear(island);
                if let Some(founder) = founder {
                    self.admit(tree, island, founder);
                }
            }
        }
    }
}

impl Islands {
    /// A plan for `island` among `members` by a scan (an empty island borrowing the roots).
    fn plan_among(
        &self,
        tree: &SearchTree,
        island: usize,
        members: &[NodeIndex],
        rng: &mut ChaCha12Rng,
    ) -> Option<Plan> {
        let parent = self.sample(tree, members, rng)?;
        let mut plan =
            if tree.node(parent).valid && members.len() > 1 && rng.random::<f64>() < self.crossover
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
}

/// Pareto selection (`--objectives`), apart from the score-weighted pools.
impl Islands {
    /// Parents are drawn uniformly from the island's Pareto front over `objectives` (its
    /// members that no other member dominates; migrants and a reset's founder included);
    /// an island whose front is empty samples by score as without objectives. Crossover's
    /// second parent is sampled by score.
    pub fn with_pareto(mut self, objectives: Objectives) -> Islands {
        self.pareto = Some((objectives, vec![ParetoFront::default(); self.islands]));
        self
    }

    fn pareto_admit(&mut self, tree: &SearchTree, island: usize, index: NodeIndex) {
        if let Some((objectives, fronts)) = &mut self.pareto {
            fronts[island].offer_node(objectives, tree, index);
        }
    }

    fn pareto_clear(&mut self, island: usize) {
        if let Some((_, fronts)) = &mut self.pareto {
            fronts[island].clear();
        }
    }

    fn pareto_pick(&self, island: usize, rng: &mut ChaCha12Rng) -> Option<NodeIndex> {
        let (_, fronts) = self.pareto.as_ref()?;
        fronts[island].pick(rng, |_| true)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::search::tree::tests::node;

    #[test]
    fn islands_rotate_migrate_and_reset() {
        let mut rng = ChaCha12Rng::seed_from_u64(3);
        let mut tree = SearchTree::new();
        let mut islands = Islands::new(2, 0.2, 0.0, 2, 4);
        let root = tree.push(node(1, None, true, 1.0));
        islands.observe(&tree, root);
        let p0 = islands.next(&tree, &mut rng).unwrap();
        let p1 = islands.next(&tree, &mut rng).unwrap();
        assert_eq!((p0.island, p1.island), (Some(0), Some(1)));
        let mut a = node(2, Some(root), true, 5.0);
        a.island = Some(0);
        let a = tree.push(a);
        islands.observe(&tree, a); // observed = 2: migration
        assert!(
            islands.population(&tree, 1).contains(&a),
            "island 0's best migrated to island 1"
        );
        let mut b = node(3, Some(root), false, 0.0);
        b.island = Some(1);
        let b = tree.push(b);
        islands.observe(&tree, b);
        let mut c = node(4, Some(a), true, 6.0);
        c.island = Some(0);
        let c = tree.push(c);
        islands.observe(&tree, c); // observed = 4: reset of the worse half (island 1)
        let pop1 = islands.population(&tree, 1);
        assert_eq!(
            pop1,
            vec![c],
            "island 1 restarts from the best island's best"
        );
    }

    #[test]
    fn sampling_prefers_fitter_parents() {
        let mut rng = ChaCha12Rng::seed_from_u64(1);
        let mut tree = SearchTree::new();
        let islands = Islands::new(1, 0.1, 0.0, 100, 100);
        let weak = tree.push(node(1, None, true, 1.0));
        let strong = tree.push(node(2, None, true, 10.0));
        let mut strong_count = 0;
        for _ in 0..200 {
            if islands.sample(&tree, &[weak, strong], &mut rng) == Some(strong) {
                strong_count += 1;
            }
        }
        assert!(strong_count > 150, "{strong_count}");
    }
}
