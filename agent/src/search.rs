//! Search strategies: which node to refine next, and how (the operator of a [`Plan`]).
//!
//! A [`Strategy`] sees the [`SearchTree`] (every evaluated node of the run) and returns a
//! [`Plan`]: the operator and its parent(s). It is told each result with
//! [`Strategy::observe`]. Strategies keep no state that cannot be rebuilt by observing the
//! stored nodes again in order, so `hone resume` reconstructs them exactly.

mod aide;
mod best_first;
mod forest;
mod greedy;
mod islands;
mod map_elites;
mod mcts;
pub mod measures;
pub mod pareto;
#[cfg(test)]
mod reference;
mod tree;
mod uct;

use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

pub use aide::Aide;
pub use best_first::BestFirst;
pub use forest::Forest;
pub use greedy::Greedy;
pub use islands::Islands;
pub use map_elites::{Archive, Cell, MapElites, archive_of_records};
pub use mcts::Mcts;
pub use pareto::{Objectives, ParetoFront};
pub use tree::{NodeIndex, SearchTree, TreeNode};

use crate::prompt::Operator;

/// One step a strategy asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub operator: Operator,
    pub parent: Option<NodeIndex>,
    /// The second parent of a crossover.
    pub second_parent: Option<NodeIndex>,
    /// Forest: which tree the child belongs to.
    pub tree: Option<i64>,
    /// Islands: which island the child belongs to.
    pub island: Option<i64>,
    /// Forest: the improvement direction this child implements.
    pub direction: Option<String>,
    /// Forest / AIDE drafts: which instruction preamble to use (diversified seeds).
    pub draft_variant: Option<usize>,
}

impl Plan {
    pub fn new(operator: Operator, parent: Option<NodeIndex>) -> Plan {
        Plan {
            operator,
            parent,
            second_parent: None,
            tree: None,
            island: None,
            direction: None,
            draft_variant: None,
        }
    }
}

/// A search strategy. `next` may return `None` when nothing can be planned until a step in
/// flight finishes (or ever, when the strategy is done).
pub trait Strategy: Send {
    fn name(&self) -> &'static str;

    /// The next step. `rng` is derived from the run seed and the step number.
    fn next(&mut self, tree: &SearchTree, rng: &mut ChaCha12Rng) -> Option<Plan>;

    /// A planned step produced `node` (already in `tree`).
    fn observe(&mut self, tree: &SearchTree, node: NodeIndex);

    /// A planned step ended without a node (model failure, cancelled): release what it held.
    fn abandon(&mut self, _plan: &Plan) {}

    /// An auxiliary step of `plan` (scatter, scout, crossover, debug, a draft) got no usable
    /// reply: the plan to run instead, a plain improve of the same node, which takes over
    /// what `plan` held. `None` (and `plan` is abandoned) when there is no node to improve
    /// or `plan` already was an improve.
    fn fallback(&mut self, plan: &Plan) -> Option<Plan> {
        improve_instead(plan)
    }

    /// Forest: the model proposed these directions for `node`.
    fn observe_directions(&mut self, _node: NodeIndex, _directions: Vec<String>) {}

    /// A resumed run's stored nodes have all been observed again: drop follow-up work that
    /// observing scheduled but the first segment of the run already did.
    fn resumed(&mut self) {}
}

/// Which strategy, with its parameters (stored in the run's config, so resume rebuilds it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum StrategyConfig {
    Greedy,
    BestFirst {
        /// Priority = normalized score + depth_bonus · ln(1 + depth) (BFS-Prover's length
        /// normalization encourages depth; 0 turns it off).
        depth_bonus: f64,
        /// How many children a node may get before it leaves the queue.
        expansions_per_node: usize,
    },
    Mcts {
        /// UCT exploration constant.
        exploration: f64,
        /// Progressive widening: a node may have at most ceil(widening · visits^0.5) children.
        widening: f64,
    },
    Forest {
        /// Diversified seed drafts under the virtual root (the paper uses 5).
        trees: usize,
        /// Directions proposed per scatter (the paper uses 2).
        directions: usize,
        /// UCT constant (the paper uses √2).
        exploration: f64,
    },
    Islands {
        islands: usize,
        /// Softmax temperature of fitness-weighted parent sampling (on normalized scores).
        temperature: f64,
        /// Probability of a crossover instead of an improve.
        crossover: f64,
        /// Every this many nodes, each island's best migrates to the next island.
        migration_interval: usize,
        /// Every this many nodes, the worse half of the islands is reset.
        reset_interval: usize,
    },
    Aide {
        /// Initial drafts.
        drafts: usize,
        /// Probability of debugging a failing leaf instead of improving the best.
        debug_probability: f64,
        /// Longest chain of debug steps on one lineage.
        max_debug_depth: usize,
    },
    /// A grid over behaviour descriptors keeping the best node per cell; parents drawn
    /// uniformly over occupied cells.
    MapElites {
        /// Empty: the task's `[search.map_elites]` descriptors, filled in when the run
        /// starts (so the stored settings always hold the grid).
        descriptors: Vec<measures::Descriptor>,
    },
}

impl StrategyConfig {
    pub const NAMES: [&'static str; 7] = [
        "greedy",
        "best-first",
        "mcts",
        "forest",
        "islands",
        "aide",
        "map-elites",
    ];

    /// The strategy with its default parameters.
    pub fn default_for(name: &str) -> Option<StrategyConfig> {
        Some(match name {
            "greedy" => StrategyConfig::Greedy,
            "best-first" => StrategyConfig::BestFirst {
                depth_bonus: 0.0,
                expansions_per_node: 2,
            },
            "mcts" => StrategyConfig::Mcts {
                exploration: std::f64::consts::SQRT_2,
                widening: 1.0,
            },
            "forest" => StrategyConfig::Forest {
                trees: 3,
                directions: 2,
                exploration: std::f64::consts::SQRT_2,
            },
            "islands" => StrategyConfig::Islands {
                islands: 4,
                temperature: 0.2,
                crossover: 0.2,
                migration_interval: 20,
                reset_interval: 60,
            },
            "aide" => StrategyConfig::Aide {
                drafts: 3,
                debug_probability: 0.5,
                max_debug_depth: 3,
            },
            "map-elites" => StrategyConfig::MapElites {
                descriptors: Vec::new(),
            },
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::Greedy => "greedy",
            StrategyConfig::BestFirst { .. } => "best-first",
            StrategyConfig::Mcts { .. } => "mcts",
            StrategyConfig::Forest { .. } => "forest",
            StrategyConfig::Islands { .. } => "islands",
            StrategyConfig::Aide { .. } => "aide",
            StrategyConfig::MapElites { .. } => "map-elites",
        }
    }

    /// Whether the strategy needs a model for meta operators (scatter, scout).
    pub fn needs_model(&self) -> bool {
        matches!(self, StrategyConfig::Forest { .. })
    }

    /// Whether the strategy can select parents by Pareto dominance (`--objectives`).
    pub fn takes_objectives(&self) -> bool {
        matches!(
            self,
            StrategyConfig::BestFirst { .. }
                | StrategyConfig::Islands { .. }
                | StrategyConfig::MapElites { .. }
        )
    }

    /// The measures a node of a run of this strategy carries in
    /// [`TreeNode::measures`]: its descriptors, then the objectives.
    pub fn measures(&self, objectives: &[measures::Objective]) -> Vec<measures::Measure> {
        let mut list: Vec<measures::Measure> = match self {
            StrategyConfig::MapElites { descriptors } => {
                descriptors.iter().map(|d| d.measure.clone()).collect()
            }
            _ => Vec::new(),
        };
        list.extend(objectives.iter().map(|o| o.measure.clone()));
        list
    }

    /// The strategy, selecting by Pareto dominance over `objectives` when there are any
    /// (for the strategies that [take them](StrategyConfig::takes_objectives)).
    pub fn build_with(&self, objectives: &[measures::Objective]) -> Box<dyn Strategy> {
        let offset = match self {
            StrategyConfig::MapElites { descriptors } => descriptors.len(),
            _ => 0,
        };
        let pareto = (!objectives.is_empty()).then(|| Objectives {
            list: objectives.to_vec(),
            offset,
        });
        match (self, pareto) {
            (StrategyConfig::MapElites { descriptors }, pareto) => {
                Box::new(MapElites::new(descriptors.clone(), pareto))
            }
            (
                &StrategyConfig::BestFirst {
                    depth_bonus,
                    expansions_per_node,
                },
                Some(pareto),
            ) => Box::new(BestFirst::new(depth_bonus, expansions_per_node).with_pareto(pareto)),
            (
                &StrategyConfig::Islands {
                    islands,
                    temperature,
                    crossover,
                    migration_interval,
                    reset_interval,
                },
                Some(pareto),
            ) => Box::new(
                Islands::new(
                    islands,
                    temperature,
                    crossover,
                    migration_interval,
                    reset_interval,
                )
                .with_pareto(pareto),
            ),
            _ => self.build(),
        }
    }

    pub fn build(&self) -> Box<dyn Strategy> {
        match *self {
            StrategyConfig::Greedy => Box::new(Greedy),
            StrategyConfig::BestFirst {
                depth_bonus,
                expansions_per_node,
            } => Box::new(BestFirst::new(depth_bonus, expansions_per_node)),
            StrategyConfig::Mcts {
                exploration,
                widening,
            } => Box::new(Mcts::new(exploration, widening)),
            StrategyConfig::Forest {
                trees,
                directions,
                exploration,
            } => Box::new(Forest::new(trees, directions, exploration)),
            StrategyConfig::Islands {
                islands,
                temperature,
                crossover,
                migration_interval,
                reset_interval,
            } => Box::new(Islands::new(
                islands,
                temperature,
                crossover,
                migration_interval,
                reset_interval,
            )),
            StrategyConfig::Aide {
                drafts,
                debug_probability,
                max_debug_depth,
            } => Box::new(Aide::new(drafts, debug_probability, max_debug_depth)),
            StrategyConfig::MapElites { ref descriptors } => {
                Box::new(MapElites::new(descriptors.clone(), None))
            }
        }
    }
}

/// A plain improve of `plan`'s node, keeping its tree, island and direction; `None` for an
/// improve or a plan without a node.
pub(crate) fn improve_instead(plan: &Plan) -> Option<Plan> {
    if plan.operator == Operator::Improve {
        return None;
    }
    let mut improve = plan.clone();
    improve.parent = Some(plan.parent?);
    improve.operator = Operator::Improve;
    improve.second_parent = None;
    improve.draft_variant = None;
    Some(improve)
}

/// The operator to use on a parent: improve a valid one, debug an invalid one.
pub(crate) fn refine_operator(node: &TreeNode) -> Operator {
    if node.valid {
        Operator::Improve
    } else {
        Operator::Debug
    }
}
