//! `islands`: several populations evolve apart (FunSearch, OpenEvolve): fitness-weighted
//! parents per island, crossover within an island, periodic migration of each island's best
//! to the next, and reset of the worse half of the islands.

use rand::Rng;
use rand_chacha::ChaCha12Rng;

use super::{NodeIndex, Plan, SearchTree, Strategy, refine_operator};
use crate::prompt::Operator;

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
                let fitness = tree.normalized(m);
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
