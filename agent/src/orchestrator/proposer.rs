//! Where proposals come from: a chat model (live, recorded or replayed), the builtin
//! tuner, the grid and Tsallis-INF baselines (params tasks), or random valid inputs
//! (counterexample tasks).

use std::sync::Arc;

use hone_sandbox::Language;
use hone_tasks::{Candidate, Task, TaskKind, VariableSpec};
use rand::Rng;
use rand_chacha::ChaCha12Rng;

use super::OrchestratorError;
use super::settings::{RunSettings, SettingsError};
use crate::llm::{
    ApiKey, ChatBackend, ChatRequest, LlmSpec, ModelSelector, OpenAiConfig, PriceTable,
    RetryPolicy, SelectionRule,
};
use crate::prompt::{NodeView, Operator, PromptContext, Prompts};
use crate::reply::ReplyFormat;
use crate::search::{Plan, TreeNode};
use crate::tuner::{Algorithm, BuiltinProposer, GridProposer, TsallisProposer, TunerConfig};

/// Instruction preambles that diversify drafts (Scattered Forest Search's scattering; AIDE's drafts).
pub(super) const DRAFT_PREAMBLES: [&str; 6] = [
    "Start from the simplest correct approach, then make it fast.",
    "Aim for the best asymptotic complexity you can find.",
    "Take a different algorithmic approach from the obvious one.",
    "Focus on constant factors: memory layout, branch-free inner loops, fewer allocations.",
    "Work out the edge cases first, then write a robust solution.",
    "Use precomputation or caching where it pays off.",
];

/// The proposer of a run.
pub enum Proposer {
    Model(ModelProposer),
    Builtin(BuiltinProposer),
    Grid(GridProposer),
    Tsallis(Box<TsallisProposer>),
    Random(RandomInputs),
}

/// The `--llm` values that need no model.
pub const OFFLINE_SPECS: [&str; 8] = [
    "builtin",
    "builtin:cma-es",
    "builtin:cma_es",
    "builtin:nelder-mead",
    "builtin:nelder_mead",
    "grid",
    "tsallis",
    "random",
];

/// What `--llm` accepts, for error messages.
const ACCEPTED: &str = "openai, record:FILE, replay:FILE, replay-seq:FILE, builtin, builtin:cma-es, builtin:nelder-mead, grid, tsallis, random";

impl Proposer {
    pub fn build(settings: &RunSettings, task: &Task) -> Result<Proposer, OrchestratorError> {
        let seed_candidate = || task.seeds.first().cloned().unwrap_or_default();
        // The evaluations a baseline gets: the budget less the task's seeds.
        let points = settings
            .budgets
            .evaluations
            .map(|n| (n.max(1) as usize).saturating_sub(task.seeds.len()).max(1))
            .unwrap_or(crate::tuner::baselines::DEFAULT_POINTS);
        let baseline_error = |flag: &'static str, source| SettingsError::Baseline {
            flag,
            task: task.name.clone(),
            kind: task.kind,
            source,
        };
        match settings.llm.spec.as_str() {
            "grid" => Ok(Proposer::Grid(
                GridProposer::new(&task.prompt.variables, seed_candidate(), points)
                    .map_err(|e| baseline_error("grid", e))?,
            )),
            "tsallis" => Ok(Proposer::Tsallis(Box::new(
                TsallisProposer::new(
                    &task.prompt.variables,
                    seed_candidate(),
                    points,
                    settings.seed,
                )
                .map_err(|e| baseline_error("tsallis", e))?,
            ))),
            spec @ ("builtin"
            | "builtin:cma-es"
            | "builtin:cma_es"
            | "builtin:nelder-mead"
            | "builtin:nelder_mead") => {
                let seed = seed_candidate();
                let config = TunerConfig {
                    algorithm: if spec.contains("nelder") {
                        Algorithm::NelderMead
                    } else {
                        Algorithm::CmaEs
                    },
                    ..TunerConfig::default()
                };
                let tuner = BuiltinProposer::for_task(&task.prompt, &seed, &config, settings.seed)
                    .map_err(|source| SettingsError::Builtin {
                        task: task.name.clone(),
                        source,
                    })?;
                Ok(Proposer::Builtin(tuner))
            }
            "random" => Ok(Proposer::Random(RandomInputs::new(task)?)),
            spec => {
                if spec != "openai" && !spec.contains(':') {
                    return Err(SettingsError::UnknownLlm {
                        spec: spec.to_string(),
                        accepted: ACCEPTED,
                    }
                    .into());
                }
                let spec = LlmSpec::parse(spec)?;
                let mut prices = PriceTable::defaults();
                if let Some(overrides) = &settings.price_overrides {
                    prices = prices.with_toml_overrides(overrides)?;
                }
                let config = OpenAiConfig {
                    base_url: settings.llm.base_url.clone(),
                    api_key: settings.api_key.clone().map(ApiKey::new),
                    timeout: std::time::Duration::from_secs_f64(
                        settings.llm.request_timeout_seconds.max(0.1),
                    ),
                    retry: RetryPolicy {
                        patience: std::time::Duration::from_secs_f64(
                            settings.llm.model_patience_seconds.max(0.0),
                        ),
                        jitter_seed: settings.seed,
                        ..RetryPolicy::default()
                    },
                    concurrency: settings.llm.concurrency.max(1),
                    prices,
                };
                let replayed = matches!(spec, LlmSpec::Replay(_) | LlmSpec::ReplaySequential(_));
                let backend = spec.backend(&config)?.ok_or(SettingsError::NoChatBackend)?;
                let rule = match settings.llm.selection.as_str() {
                    "fixed" => SelectionRule::Fixed,
                    "ucb" => SelectionRule::CostAwareUcb {
                        exploration: 1.0,
                        min_cost: 1e-6,
                    },
                    other => {
                        return Err(SettingsError::UnknownSelection(other.to_string()).into());
                    }
                };
                let selector = ModelSelector::new(settings.llm.models.clone(), rule)?;
                let prompts = match &settings.prompts_dir {
                    Some(dir) => Prompts::with_overrides(dir)?,
                    None => Prompts::embedded()?,
                };
                Ok(Proposer::Model(ModelProposer {
                    backend,
                    selector,
                    prompts,
                    temperature: settings.llm.temperature,
                    max_tokens: settings.llm.max_tokens,
                    replayed,
                    directions: match settings.strategy {
                        crate::search::StrategyConfig::Forest { directions, .. } => directions,
                        _ => 3,
                    },
                }))
            }
        }
    }

    /// Whether steps call a model.
    pub fn uses_model(&self) -> bool {
        matches!(self, Proposer::Model(_))
    }

    /// Whether replies come from a cassette (reports label them as replayed, not live).
    pub fn is_replay(&self) -> bool {
        matches!(self, Proposer::Model(m) if m.replayed)
    }

    /// Tells the proposer a node's result (the builtin tuner and the baselines learn from it).
    /// Whether [`Proposer::observe`] uses the candidates (the builtin tuner, the grid and
    /// Tsallis-INF learn from them; a model or random inputs do not).
    pub fn observes_candidates(&self) -> bool {
        match self {
            Proposer::Builtin(_) | Proposer::Grid(_) | Proposer::Tsallis(_) => true,
            Proposer::Model(_) | Proposer::Random(_) => false,
        }
    }

    pub fn observe(&mut self, node: &TreeNode, candidate: &Candidate) {
        match self {
            Proposer::Builtin(tuner) => {
                let score = if node.valid && node.score.is_finite() {
                    node.score
                } else {
                    INVALID_SCORE
                };
                tuner.observe(candidate, score);
            }
            Proposer::Grid(grid) => grid.observe(candidate),
            Proposer::Tsallis(bandit) => bandit.observe(
                candidate,
                (node.valid && node.score.is_finite()).then_some(node.score),
                node.operator == Operator::Seed,
            ),
            Proposer::Model(_) | Proposer::Random(_) => {}
        }
    }

    /// The next candidate of a proposer that needs no model and no randomness of the step
    /// (builtin tuner, grid, Tsallis-INF); `None` for the others.
    pub fn propose_offline(&mut self) -> Option<Candidate> {
        match self {
            Proposer::Builtin(tuner) => Some(tuner.propose()),
            Proposer::Grid(grid) => Some(grid.propose()),
            Proposer::Tsallis(bandit) => Some(bandit.propose()),
            Proposer::Model(_) | Proposer::Random(_) => None,
        }
    }
}

/// What the tuner is told for an invalid candidate: worse than any valid score.
const INVALID_SCORE: f64 = -1e12;

/// A chat model behind the prompts.
pub struct ModelProposer {
    backend: Arc<dyn ChatBackend>,
    selector: ModelSelector,
    prompts: Prompts,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    replayed: bool,
    directions: usize,
}

/// What a prompt shows of a node: its code and result, read from the store (the search tree
/// does not keep them).
#[derive(Clone, Debug)]
pub struct NodeText {
    pub candidate: Candidate,
    pub status: hone_tasks::EvalStatus,
    /// `None` for an invalid node.
    pub score: Option<f64>,
    pub feedback: String,
}

impl NodeText {
    pub fn view(&self) -> NodeView<'_> {
        NodeView {
            candidate: &self.candidate,
            status: self.status,
            score: self.score,
            feedback: &self.feedback,
        }
    }
}

/// A rendered request, with what is needed to parse its reply.
pub struct PreparedRequest {
    pub request: ChatRequest,
    pub system: String,
    pub user: String,
    pub operator: Operator,
    pub format: ReplyFormat,
    pub kind: TaskKind,
    pub languages: Vec<Language>,
    pub variables: Vec<VariableSpec>,
    pub parent_candidate: Option<Candidate>,
    pub allow_input_file: bool,
}

impl ModelProposer {
    pub fn backend(&self) -> Arc<dyn ChatBackend> {
        self.backend.clone()
    }

    pub fn memory_entries(&self) -> usize {
        self.prompts.budget().memory_entries
    }

    /// Renders the prompt of `plan` and picks a model. `parents` are the plan's parent and
    /// second parent as read from the store.
    #[allow(clippy::too_many_arguments)]
    pub fn render(
        &mut self,
        task: &Task,
        plan: &Plan,
        parents: [Option<&NodeText>; 2],
        memory: &[crate::prompt::MemoryEntry],
        insights: &str,
        rng: &mut ChaCha12Rng,
    ) -> Result<PreparedRequest, crate::prompt::PromptError> {
        let [parent, second_parent] = parents;
        let mut context =
            PromptContext::new(plan.operator, task.kind, &task.prompt, &task.languages);
        context.parent = parent.map(NodeText::view);
        context.second_parent = second_parent.map(NodeText::view);
        context.memory = memory;
        context.insights = insights;
        context.k = self.directions;
        let preamble;
        context.direction = match (&plan.direction, plan.draft_variant) {
            (Some(direction), _) => Some(direction.as_str()),
            (None, Some(variant)) if plan.operator == Operator::Draft => {
                preamble = DRAFT_PREAMBLES[variant % DRAFT_PREAMBLES.len()];
                Some(preamble)
            }
            _ => None,
        };
        context.reply_format = ReplyFormat::for_operator(plan.operator, task.kind, self.directions);
        let rendered = self.prompts.render(&context)?;
        let model = self.selector.choose(rng);
        let mut request = rendered.request(&model);
        request.temperature = self.temperature;
        request.max_tokens = self.max_tokens;
        Ok(PreparedRequest {
            request,
            system: rendered.system,
            user: rendered.user,
            operator: plan.operator,
            format: context.reply_format,
            kind: task.kind,
            languages: task.languages.clone(),
            variables: task.prompt.variables.clone(),
            parent_candidate: parent.map(|p| p.candidate.clone()),
            allow_input_file: context.allow_input_file,
        })
    }

    /// Feeds the model selector: the score gain a call's child achieved, per dollar.
    pub fn observe_gain(&mut self, calls: &[super::budget::CallCost], gain: f64) {
        if let Some(last) = calls.last() {
            let dollars: f64 = calls.iter().map(|c| c.cost_dollars).sum();
            self.selector.observe(&last.model, gain, dollars);
        }
    }
}

/// REFUTE's random-search baseline: random valid inputs from the task's generator.
pub struct RandomInputs {
    task: Task,
}

impl RandomInputs {
    /// The baseline of `task`; an error when the task has no random inputs.
    pub fn new(task: &Task) -> Result<RandomInputs, OrchestratorError> {
        if task.random_candidates().is_none() {
            return Err(SettingsError::RandomNeedsInputs {
                task: task.name.clone(),
                kind: task.kind,
            }
            .into());
        }
        Ok(RandomInputs { task: task.clone() })
    }

    /// A random valid input for a fresh seed drawn from `rng`.
    pub fn candidate(&mut self, rng: &mut ChaCha12Rng) -> Result<Candidate, hone_tasks::TaskError> {
        let seed: u64 = rng.random();
        match self.task.random_candidates() {
            Some(random) => random.random_candidate(seed),
            None => Err(hone_tasks::TaskError::Parse {
                path: self.task.dir.clone(),
                message: format!("task `{}` has no random inputs", self.task.name),
            }),
        }
    }
}
