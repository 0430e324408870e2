//! The OPTO loop: strategy -> prompt -> proposer -> parse (one re-ask) -> sandboxed
//! evaluation -> node + evaluation in one transaction -> lineage commit -> strategy told.
//!
//! Up to `concurrency` steps are in flight: model calls are async, evaluations run on the
//! blocking pool under a semaphore (never on a tokio worker). Budgets are counted from the
//! store so a resumed run continues with what is left. Ctrl-C stops planning, lets the
//! steps in flight finish (a second Ctrl-C abandons them; nothing acknowledged is lost).

mod budget;
pub mod events;
mod lease;
mod lineage;
mod private;
mod proposer;
mod settings;
mod step;
mod stopping;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hone_store::{
    NewEvaluation, NewRun, NodeId, NodeRecord, RunId, RunStatus, ScoreBasis, Store, Timestamp,
    TreeColumns,
};
use hone_tasks::{Candidate, EvalStatus, Evaluation, Task, TaskLoader};
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use tokio::task::JoinSet;

pub use budget::{BudgetCounters, StopReason};
pub use lease::{DEFAULT_RENEWAL, LeaseSettings, STALE_PERIODS};
pub use private::{PRIVATE_TOP_K, held_out_numbers, private_evaluation};
pub use proposer::{NodeText, OFFLINE_SPECS, Proposer};
pub use settings::{LlmSettings, RunSettings, SettingsError};
pub use step::StepReport;
pub use stopping::StopRules;

use crate::llm::LlmError;
use crate::prompt::{MemoryEntry, Operator};
use crate::search::measures::{Measure, MissingMeasure};
use crate::search::{NodeIndex, Plan, SearchTree, Strategy, TreeNode};
use crate::worker::{Evaluations, RemoteEvaluations};
use events::RunEvent;
use lease::{LeaseWatch, RunLease};
use step::{DedupeMap, Proposal, StepContext, StepOutput, Target};

/// Why a run could not start or continue (a step's own failures are data, not errors).
#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error(transparent)]
    Store(#[from] hone_store::Error),
    #[error(transparent)]
    Task(#[from] hone_tasks::TaskError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Prompt(#[from] crate::prompt::PromptError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The run's evaluations cannot go to (or through) the workers' queue.
    #[error(transparent)]
    Workers(crate::worker::WorkerError),
    #[error("a step could not be stored")]
    Step(#[from] step::StepError),
    /// `--novelty`: the run's nodes could not be indexed on resume.
    #[error("--novelty: {0}")]
    Novelty(#[from] crate::novelty::NoveltyError),
    #[error("run {run}: node {node} has operator `{operator}`, which this hone does not know")]
    UnknownOperator {
        run: i64,
        node: i64,
        operator: String,
    },
    #[error(transparent)]
    Event(#[from] events::EventError),
    /// A descriptor or objective the task's evaluations do not have.
    #[error(transparent)]
    Measure(MissingMeasure),
    /// Another live process drives the run.
    #[error("{}", lease::refusal(*run, driver))]
    RunDriven {
        run: i64,
        driver: hone_store::RunDriver,
    },
    /// Another process took the run over while this one drove it.
    #[error("{}", lease::lost(*run, taken_by))]
    LeaseLost {
        run: i64,
        taken_by: Option<hone_store::RunDriver>,
    },
}

/// Why a planned step could not be launched (the step counts as failed; the run goes on).
#[derive(Debug, thiserror::Error)]
enum LaunchError {
    #[error("the proposer has no candidate")]
    NoCandidate,
    #[error(transparent)]
    Task(#[from] hone_tasks::TaskError),
    #[error(transparent)]
    Prompt(#[from] crate::prompt::PromptError),
    /// A parent's code could not be read for its prompt.
    #[error(transparent)]
    Store(#[from] hone_store::Error),
}

/// What a launched step holds against the budgets until it ends.
#[derive(Clone, Copy, Debug)]
struct Reservation {
    evaluation: bool,
    call: bool,
}

/// A step in flight: its plan and what it reserved.
struct StepInFlight {
    plan: Plan,
    reservation: Reservation,
    /// A meta-recommendation (`--meta-every`): the orchestrator's step, not the strategy's,
    /// so the strategy is not told of it.
    meta: bool,
}

/// What a new or resumed run is assembled from.
struct Parts {
    store: Store,
    task: Task,
    settings: RunSettings,
    run: RunId,
    proposer: Proposer,
    evaluations: Evaluations,
    /// The run's stored nodes and events (none for a new run).
    nodes: Vec<NodeRecord>,
    events: Vec<hone_store::EventRecord>,
}

/// What a finished (or stopped) run reports. Its best is ranked by private score.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunOutcome {
    pub run: i64,
    pub status: RunStatus,
    pub stop_reason: String,
    pub evaluations: i64,
    pub duplicates: i64,
    /// Candidates not evaluated for being too similar to a valid node (`--novelty`).
    pub rejected: i64,
    pub llm_calls: i64,
    pub tokens: i64,
    pub dollars: f64,
    /// The first valid seed's private score (its public one if it has none).
    pub seed_score: Option<f64>,
    pub best_node: Option<i64>,
    /// The score the run reports: the best node's private score (see `best_basis`).
    pub best_score: Option<f64>,
    /// The best node's public score.
    pub best_public_score: Option<f64>,
    /// How `best_score` was measured.
    pub best_basis: Option<ScoreBasis>,
    pub best_valid: bool,
    /// The best node's public score is far above its private one (special-cased public
    /// cases, or overfitting).
    pub large_drop: bool,
    /// Nodes of the run with a private evaluation.
    pub private_evaluations: usize,
    pub replayed: bool,
}

/// Everything one run holds while it runs.
pub struct Orchestrator {
    store: Store,
    task: Task,
    settings: RunSettings,
    run: RunId,
    tree: SearchTree,
    strategy: Box<dyn Strategy>,
    proposer: Proposer,
    insights: String,
    /// The latest nodes as #Memory shows them, at most `memory_len` (the prompts' budget).
    memory: VecDeque<MemoryEntry>,
    memory_len: usize,
    /// Code and feedback of nodes prompts showed or will likely show (the latest ones),
    /// so that a parent is not read from the store every step.
    texts: TextCache,
    counters: BudgetCounters,
    /// The best public score and the evaluations since it rose (early stopping).
    progress_rule: stopping::Progress,
    step_number: u64,
    consecutive_failures: u32,
    /// Steps in a row whose candidate was a duplicate.
    consecutive_duplicates: u32,
    /// Plans to launch before asking the strategy again: plain improves standing in for
    /// auxiliary steps whose reply could not be used.
    fallbacks: VecDeque<Plan>,
    /// `--meta-every K`: the tree size at which the next meta-recommendation is due.
    meta_due_at: Option<usize>,
    /// A meta-recommendation step is in flight.
    meta_in_flight: bool,
    context: Arc<StepContext>,
    progress: Option<indicatif::ProgressBar>,
    /// This process's lease on the run, held from creation or resume to the end of
    /// [`Orchestrator::drive`].
    lease: Option<RunLease>,
    /// The measures each node carries (map-elites descriptors, `--objectives`).
    measures: RunMeasures,
}

/// The measures a run reads from each node into [`TreeNode::measures`], and whether the
/// task's evaluations have them (checked on the first valid node evaluated).
struct RunMeasures {
    list: Vec<(Measure, &'static str)>,
    checked: bool,
}

impl RunMeasures {
    fn of(settings: &RunSettings) -> RunMeasures {
        let descriptors = match &settings.strategy {
            crate::search::StrategyConfig::MapElites { descriptors } => descriptors.len(),
            _ => 0,
        };
        let list = settings
            .strategy
            .measures(&settings.objectives)
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let role = if i < descriptors {
                    "descriptor"
                } else {
                    "objective"
                };
                (m, role)
            })
            .collect();
        RunMeasures {
            list,
            checked: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn values(&self, record: &NodeRecord) -> Vec<f64> {
        self.list.iter().map(|(m, _)| m.value(record)).collect()
    }

    /// On the first valid, evaluated node: a measure it lacks is one the task's
    /// evaluations do not have (a misspelt metric, memory where nothing measures it).
    fn check(&mut self, record: &NodeRecord, values: &[f64]) -> Option<MissingMeasure> {
        if self.checked || !record.evaluation.valid || record.duplicate_of.is_some() {
            return None;
        }
        self.checked = true;
        let (i, _) = values.iter().enumerate().find(|(_, v)| v.is_nan())?;
        let (measure, role) = &self.list[i];
        Some(MissingMeasure {
            role,
            measure: measure.to_string(),
            node: record.id.0,
            available: crate::search::measures::numeric_metrics(record),
        })
    }
}

impl Orchestrator {
    /// Creates a new run of `settings` in `store`, evaluating in this process.
    pub async fn create(
        store: Store,
        tasks: &TaskLoader,
        settings: RunSettings,
    ) -> Result<Orchestrator, OrchestratorError> {
        Orchestrator::create_with(store, tasks, settings, Evaluations::InProcess).await
    }

    /// Creates a new run whose evaluations happen where `evaluations` says (recorded in the
    /// run's config, so `hone resume` keeps it). Workers need a PostgreSQL store.
    pub async fn create_with(
        store: Store,
        tasks: &TaskLoader,
        settings: RunSettings,
        evaluations: Evaluations,
    ) -> Result<Orchestrator, OrchestratorError> {
        let lease = LeaseSettings::default();
        Orchestrator::create_with_lease(store, tasks, settings, evaluations, &lease).await
    }

    /// [`Orchestrator::create_with`], holding the new run's lease as `lease` says.
    pub async fn create_with_lease(
        store: Store,
        tasks: &TaskLoader,
        mut settings: RunSettings,
        evaluations: Evaluations,
        lease: &LeaseSettings,
    ) -> Result<Orchestrator, OrchestratorError> {
        evaluations
            .check(&store)
            .map_err(OrchestratorError::Workers)?;
        let task = tasks.load(&settings.task_dir)?;
        settings.resolve(&task)?;
        settings.check(&task)?;
        // The proposer first: a run that cannot propose is never stored.
        let proposer = Proposer::build(&settings, &task)?;
        let run = store
            .create_run(&NewRun {
                task_name: task.name.clone(),
                task_dir: settings.task_dir.display().to_string(),
                task_hash: task.content_hash.clone(),
                kind: task.kind.name().to_string(),
                config: evaluations.tag(settings.to_json()),
                seed: settings.seed,
                strategy: settings.strategy.name().to_string(),
                budgets: settings.budgets.clone(),
                started_at: Timestamp::now(),
            })
            .await?;
        let lease = RunLease::acquire(&store, run, lease).await?;
        let assembled = Orchestrator::assemble(Parts {
            store,
            task,
            settings,
            run,
            proposer,
            evaluations,
            nodes: Vec::new(),
            events: Vec::new(),
        })
        .await;
        holding(assembled, lease).await
    }

    /// Reopens a stored run to continue it.
    /// `api_key` resolves the key from the environment variable named in the settings.
    pub async fn resume(
        store: Store,
        tasks: &TaskLoader,
        run: RunId,
        api_key: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Orchestrator, OrchestratorError> {
        let lease = LeaseSettings::default();
        Orchestrator::resume_with_lease(store, tasks, run, api_key, &lease).await
    }

    /// [`Orchestrator::resume`], taking the run's lease as `lease` says before anything
    /// is written: refused while another live process drives the run.
    pub async fn resume_with_lease(
        store: Store,
        tasks: &TaskLoader,
        run: RunId,
        api_key: &dyn Fn(&str) -> Option<String>,
        lease: &LeaseSettings,
    ) -> Result<Orchestrator, OrchestratorError> {
        store.get_run(run).await?;
        let lease = RunLease::acquire(&store, run, lease).await?;
        holding(
            Orchestrator::resume_held(store, tasks, run, api_key).await,
            lease,
        )
        .await
    }

    /// Reopens a run whose lease this process holds.
    async fn resume_held(
        store: Store,
        tasks: &TaskLoader,
        run: RunId,
        api_key: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Orchestrator, OrchestratorError> {
        let record = store.get_run(run).await?;
        let mut settings = RunSettings::from_json(&record.config)
            .map_err(|source| SettingsError::Stored { run: run.0, source })?;
        settings.api_key = api_key(&settings.llm.api_key_env);
        let task = tasks.load(&settings.task_dir)?;
        if task.content_hash != record.task_hash {
            tracing::warn!(
                task = %settings.task_dir.display(),
                "the task folder changed since the run started; resuming with the current files"
            );
        }
        let proposer = Proposer::build(&settings, &task)?;
        // What the search needs of each node: scores and parents always; the code only for
        // a proposer that learns from candidates, a novelty filter or a measure that reads
        // it; metrics only for measures. Feedback and traces never (the prompt memory's few
        // nodes are read whole in `assemble`).
        let measured = !RunMeasures::of(&settings).is_empty();
        let columns = TreeColumns {
            files: proposer.observes_candidates() || settings.novelty.is_some() || measured,
            metrics: measured,
            feedback_and_trace: false,
        };
        let nodes = store.load_tree_with(run, columns).await?;
        let events = events::for_resume(&store, run).await?;
        events::record(&store, run, &RunEvent::Resume { nodes: nodes.len() }).await?;
        store
            .set_run_status(run, RunStatus::Running, None, Timestamp::now())
            .await?;
        let evaluations = Evaluations::from_config(&record.config);
        evaluations
            .check(&store)
            .map_err(OrchestratorError::Workers)?;
        let mut orchestrator = Orchestrator::assemble(Parts {
            store,
            task,
            settings,
            run,
            proposer,
            evaluations,
            nodes,
            events,
        })
        .await?;
        // What the run's predecessor left without a private result (stopped before its end).
        orchestrator.settle_private().await?;
        Ok(orchestrator)
    }

    async fn assemble(parts: Parts) -> Result<Orchestrator, OrchestratorError> {
        let Parts {
            store,
            task,
            settings,
            run,
            mut proposer,
            evaluations,
            nodes,
            events,
        } = parts;
        let mut strategy = settings.strategy.build_with(&settings.objectives);
        let mut measures = RunMeasures::of(&settings);
        let mut tree = SearchTree::new();
        let mut insights = String::new();
        let mut directions_of: HashMap<i64, Vec<String>> = HashMap::new();
        let mut direction_of_node: HashMap<i64, String> = HashMap::new();
        for record in events {
            match events::decode_owned(record)? {
                RunEvent::Insights { text } => insights = text,
                RunEvent::Directions { node, directions } => {
                    directions_of.insert(node, directions);
                }
                RunEvent::NodeDirection { node, direction } => {
                    direction_of_node.insert(node, direction);
                }
                // A scatter that fell back left its node with no directions (not scattered
                // again).
                RunEvent::Fallback {
                    node,
                    operator: Operator::Scatter,
                    ..
                } => {
                    directions_of.entry(node).or_default();
                }
                RunEvent::Resume { .. } | RunEvent::Stop { .. } | RunEvent::Fallback { .. } => {}
            }
        }
        let dedupe: DedupeMap = Arc::new(Mutex::new(HashMap::new()));
        let mut leaders = private::PublicLeaders::default();
        let mut progress_rule = stopping::Progress::default();
        for record in &nodes {
            if record.is_evaluated()
                && let Some(score) = record.rank_score()
            {
                leaders.admit(score);
            }
            let mut node = tree_node(&tree, record, direction_of_node.get(&record.id.0).cloned())?;
            node.measures = measures.values(record);
            if let Some(missing) = measures.check(record, &node.measures) {
                return Err(OrchestratorError::Measure(missing));
            }
            if record.is_evaluated() {
                progress_rule.observe(record.rank_score());
            }
            let index = tree.push(node);
            if let Some(list) = directions_of.remove(&record.id.0) {
                strategy.observe_directions(index, list);
            }
            // Every node, seeds included, as the live loop observes them.
            strategy.observe(&tree, index);
            proposer.observe(tree.node(index), &candidate_of(record));
            if record.duplicate_of.is_none()
                && let Ok(mut map) = dedupe.lock()
            {
                map.entry(record.content_hash.clone())
                    .or_insert_with(|| step::settled(record.id.0));
            }
        }
        if !nodes.is_empty() {
            strategy.resumed();
        }
        let memory_len = match &proposer {
            Proposer::Model(model) => model.memory_entries(),
            _ => 0,
        };
        // The prompt memory's nodes read whole (resume loads the tree without feedback).
        let recent: Vec<NodeId> = nodes[nodes.len().saturating_sub(memory_len)..]
            .iter()
            .map(|n| n.id)
            .collect();
        let memory: VecDeque<MemoryEntry> = store
            .get_nodes(&recent)
            .await?
            .iter()
            .map(memory_entry)
            .collect();
        let resumed = !nodes.is_empty();
        let novelty = crate::novelty::filter(&settings, &store)?;
        if let Some(novelty) = &novelty {
            novelty.rebuild(run, &nodes).await?;
        }
        // The records held every node's code: only the tree and the strategy stay.
        drop(nodes);
        let spend = store.spend(run).await?;
        let counters = BudgetCounters::from_spend(&spend);
        if resumed {
            // Commits a crash left unwritten (the node was acknowledged, its commit not yet).
            if let Err(e) = store.sync_lineage(run).await {
                tracing::warn!(error = %e, run = run.0, "could not write the missing lineage commits");
            }
        }
        let remote = match evaluations {
            Evaluations::InProcess => None,
            Evaluations::Workers => Some(Arc::new(
                RemoteEvaluations::start(store.clone(), run, &task.dir, &task.content_hash)
                    .await
                    .map_err(OrchestratorError::Workers)?,
            )),
        };
        let context = Arc::new(
            StepContext::new(
                store.clone(),
                task.clone(),
                run,
                dedupe,
                settings.eval_threads,
                lineage::LineageQueue::start(store.clone()),
                leaders,
            )
            .with_remote(remote)
            .with_novelty(novelty),
        );
        // A resumed run's latest insights come back from its events: the next summary is
        // due K nodes on.
        let meta_due_at = settings.meta_every.map(|k| tree.len() + k);
        Ok(Orchestrator {
            store,
            task,
            step_number: tree.len() as u64 + spend.llm_calls as u64,
            settings,
            run,
            tree,
            strategy,
            proposer,
            insights,
            memory,
            memory_len,
            texts: TextCache::default(),
            counters,
            progress_rule,
            consecutive_failures: 0,
            consecutive_duplicates: 0,
            fallbacks: VecDeque::new(),
            meta_due_at,
            meta_in_flight: false,
            context,
            progress: None,
            lease: None,
            measures,
        })
    }

    pub fn run_id(&self) -> RunId {
        self.run
    }

    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Shows a progress bar on stderr while driving.
    pub fn with_progress(mut self, show: bool) -> Orchestrator {
        if show {
            let bar = match self.settings.budgets.evaluations {
                Some(n) => indicatif::ProgressBar::new(n.max(0) as u64),
                None => indicatif::ProgressBar::new_spinner(),
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} evals  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_position(self.counters.evaluations.max(0) as u64);
            self.progress = Some(bar);
        }
        self
    }

    /// Runs until a budget is spent, the strategy is done, or Ctrl-C; then releases the
    /// run's lease. Ends with [`OrchestratorError::LeaseLost`], having abandoned its steps
    /// in flight and written nothing more, if another process takes the run over.
    pub async fn drive(mut self) -> Result<RunOutcome, OrchestratorError> {
        let lease = self.lease.take();
        let outcome = self.drive_leased(lease.as_ref().map(RunLease::watch)).await;
        if let Some(lease) = lease {
            lease.release().await;
        }
        outcome
    }

    async fn drive_leased(
        mut self,
        lease: Option<LeaseWatch>,
    ) -> Result<RunOutcome, OrchestratorError> {
        let started = Instant::now();
        let mut last_heartbeat = Instant::now();
        let mut in_flight: JoinSet<StepOutput> = JoinSet::new();
        // Steps in flight: their plan and what they reserved (an evaluation, a model call).
        let mut plans: HashMap<tokio::task::Id, StepInFlight> = HashMap::new();
        // Sticky reasons (Ctrl-C, failures, done); a budget is checked afresh each round,
        // since a reservation of a step in flight may be released without spending.
        let mut stop: Option<StopReason> = None;
        let mut budget_stop: Option<StopReason>;
        let mut interrupts = 0u32;
        let (signal_tx, mut signal_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let signal_task = tokio::spawn(async move {
            loop {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                if signal_tx.send(()).is_err() {
                    return;
                }
            }
        });

        // The task's seeds come first, once.
        if self.tree.is_empty() {
            for (i, seed) in self.task.seeds.clone().into_iter().enumerate() {
                let mut plan = Plan::new(Operator::Draft, None);
                plan.draft_variant = Some(i);
                let proposal = Proposal {
                    candidate: seed,
                    operator: Operator::Seed,
                    target: Target::default(),
                    calls: Vec::new(),
                };
                let job = self
                    .context
                    .clone()
                    .evaluate_and_store(plan.clone(), proposal);
                let handle = in_flight.spawn(job);
                let reservation = Reservation {
                    evaluation: true,
                    call: false,
                };
                self.counters
                    .reserve(reservation.evaluation, reservation.call);
                plans.insert(
                    handle.id(),
                    StepInFlight {
                        plan,
                        reservation,
                        meta: false,
                    },
                );
            }
        }

        loop {
            if let Some(watch) = lease.as_ref().filter(|w| w.is_lost()) {
                // Another driver owns the run now: no step of ours may be stored.
                in_flight.abort_all();
                signal_task.abort();
                if let Some(bar) = &self.progress {
                    bar.finish_and_clear();
                }
                return Err(watch.error());
            }
            // Plan while there is room.
            budget_stop = None;
            while stop.is_none() && in_flight.len() < self.settings.concurrency {
                let elapsed = self.counters.active_seconds + started.elapsed().as_secs_f64();
                if let Some(reason) = self.counters.exhausted(&self.settings.budgets, elapsed) {
                    budget_stop = Some(reason);
                    break;
                }
                if let Some(reason) = self.progress_rule.check(&self.settings.stop) {
                    stop = Some(reason);
                    break;
                }
                if self.consecutive_failures >= self.settings.max_consecutive_failures {
                    stop = Some(StopReason::TooManyFailures(self.consecutive_failures));
                    break;
                }
                if self.consecutive_duplicates >= self.settings.max_consecutive_failures {
                    stop = Some(StopReason::NoProgress(self.consecutive_duplicates));
                    break;
                }
                let mut rng = step_rng(self.settings.seed, self.step_number);
                let meta = self.meta_plan();
                let is_meta = meta.is_some();
                let planned = match meta {
                    Some(plan) => Some(plan),
                    None => match self.fallbacks.pop_front() {
                        Some(plan) => Some(plan),
                        None => self.strategy.next(&self.tree, &mut rng),
                    },
                };
                let Some(plan) = planned else {
                    if in_flight.is_empty() {
                        stop = Some(StopReason::StrategyDone);
                    }
                    break;
                };
                self.step_number += 1;
                let uses_model = self.proposer.uses_model();
                match self.launch(&plan, &mut rng, &mut in_flight).await {
                    Ok(id) => {
                        let reservation = Reservation {
                            evaluation: reserves_evaluation(&plan),
                            call: uses_model,
                        };
                        self.counters
                            .reserve(reservation.evaluation, reservation.call);
                        if is_meta {
                            self.meta_launched(true);
                        }
                        plans.insert(
                            id,
                            StepInFlight {
                                plan,
                                reservation,
                                meta: is_meta,
                            },
                        );
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not launch a step");
                        if is_meta {
                            self.meta_launched(false);
                        } else {
                            self.strategy.abandon(&plan);
                        }
                        self.consecutive_failures += 1;
                    }
                }
            }
            if in_flight.is_empty() {
                break;
            }
            tokio::select! {
                joined = in_flight.join_next_with_id() => {
                    let Some(joined) = joined else { break };
                    match joined {
                        Ok((id, output)) => {
                            let plan = plans.remove(&id).and_then(|step| {
                                let r = step.reservation;
                                self.counters.release(r.evaluation, r.call);
                                if step.meta {
                                    // Not the strategy's plan: only its insights count.
                                    self.meta_in_flight = false;
                                    return None;
                                }
                                Some(step.plan)
                            });
                            if let Some(reason) = self.absorb(plan, output).await? {
                                stop.get_or_insert(reason);
                            }
                        }
                        Err(error) => {
                            if let Some(step) = plans.remove(&error.id()) {
                                let r = step.reservation;
                                self.counters.release(r.evaluation, r.call);
                                if step.meta {
                                    self.meta_in_flight = false;
                                } else {
                                    self.strategy.abandon(&step.plan);
                                }
                            }
                            if !error.is_cancelled() {
                                tracing::error!(%error, "a step panicked");
                                self.consecutive_failures += 1;
                            }
                        }
                    }
                }
                // Wakes the loop for the heartbeat (and the time budget) during long steps.
                _ = tokio::time::sleep_until((last_heartbeat + HEARTBEAT).into()) => {}
                () = lease_lost(&lease) => {}
                Some(()) = signal_rx.recv() => {
                    interrupts += 1;
                    stop = Some(StopReason::Interrupted);
                    if interrupts == 1 {
                        eprintln!("hone: stopping after the {} step(s) in flight (Ctrl-C again to abandon them)", in_flight.len());
                    } else {
                        in_flight.abort_all();
                    }
                }
            }
            if last_heartbeat.elapsed() >= HEARTBEAT {
                let seconds = last_heartbeat.elapsed().as_secs_f64();
                last_heartbeat = Instant::now();
                self.store
                    .add_active_time(self.run, seconds, Timestamp::now())
                    .await?;
            }
        }
        signal_task.abort();
        if let Some(watch) = lease.as_ref().filter(|w| w.is_lost()) {
            return Err(watch.error());
        }
        self.store
            .add_active_time(
                self.run,
                last_heartbeat.elapsed().as_secs_f64(),
                Timestamp::now(),
            )
            .await?;
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
        let stop = stop.or(budget_stop).unwrap_or(StopReason::StrategyDone);
        self.finish(stop).await
    }

    /// A meta-recommendation (`--meta-every K`), when one is due and none is in flight: a
    /// scout step about the best public node (the latest node while none is valid) that
    /// rewrites the run's insights from the recent attempts; later prompts show them.
    fn meta_plan(&self) -> Option<Plan> {
        let due = self.meta_due_at?;
        if self.meta_in_flight || self.tree.len() < due || !self.proposer.uses_model() {
            return None;
        }
        let node = self
            .tree
            .best_valid()
            .or_else(|| self.tree.len().checked_sub(1))?;
        Some(Plan::new(Operator::Scout, Some(node)))
    }

    /// A meta-recommendation was launched (`in_flight`) or could not be: the next is due
    /// K nodes on.
    fn meta_launched(&mut self, in_flight: bool) {
        if let Some(k) = self.settings.meta_every {
            self.meta_due_at = Some(self.tree.len() + k);
            self.meta_in_flight = in_flight;
        }
    }

    /// Renders and launches one step.
    async fn launch(
        &mut self,
        plan: &Plan,
        rng: &mut ChaCha12Rng,
        in_flight: &mut JoinSet<StepOutput>,
    ) -> Result<tokio::task::Id, LaunchError> {
        let target = Target {
            parent: plan.parent.map(|p| self.tree.node(p).id),
            depth: plan
                .parent
                .map(|p| self.tree.node(p).depth + 1)
                .unwrap_or(0),
        };
        let parents = if self.proposer.uses_model() {
            [
                self.node_text(plan.parent).await?,
                self.node_text(plan.second_parent).await?,
            ]
        } else {
            [None, None]
        };
        let candidate = match &mut self.proposer {
            Proposer::Builtin(_) | Proposer::Grid(_) | Proposer::Tsallis(_) => self
                .proposer
                .propose_offline()
                .ok_or(LaunchError::NoCandidate)?,
            Proposer::Random(generator) => generator.candidate(rng)?,
            Proposer::Model(model) => {
                let memory: Vec<MemoryEntry> = self.memory.iter().cloned().collect();
                let [parent, second] = &parents;
                let request = model.render(
                    &self.task,
                    plan,
                    [parent.as_deref(), second.as_deref()],
                    &memory,
                    &self.insights,
                    rng,
                )?;
                let job =
                    self.context
                        .clone()
                        .model_step(model.backend(), request, plan.clone(), target);
                return Ok(in_flight.spawn(job).id());
            }
        };
        let proposal = Proposal {
            candidate,
            operator: plan.operator,
            target,
            calls: Vec::new(),
        };
        let job = self
            .context
            .clone()
            .evaluate_and_store(plan.clone(), proposal);
        Ok(in_flight.spawn(job).id())
    }

    /// Takes a finished step into the tree, the strategy, the proposer and the counters;
    /// returns why the run must stop, if the step says so.
    async fn absorb(
        &mut self,
        plan: Option<Plan>,
        output: StepOutput,
    ) -> Result<Option<StopReason>, OrchestratorError> {
        self.counters.add_calls(&output.calls);
        match output.result {
            step::StepResult::Node(record) => {
                self.consecutive_failures = 0;
                // A duplicate or a candidate rejected as too similar is no evaluation.
                if record.is_evaluated() {
                    self.counters.evaluations += 1;
                    self.consecutive_duplicates = 0;
                    self.progress_rule.observe(record.rank_score());
                } else {
                    self.consecutive_duplicates += 1;
                }
                let direction = plan.as_ref().and_then(|p| p.direction.clone());
                let mut node = tree_node(&self.tree, &record, direction)?;
                node.measures = self.measures.values(&record);
                let missing = self.measures.check(&record, &node.measures);
                let index = self.tree.push(node);
                self.strategy.observe(&self.tree, index);
                let candidate = candidate_of(&record);
                self.proposer.observe(self.tree.node(index), &candidate);
                self.remember(index, &record, candidate);
                if let (Proposer::Model(model), Some(plan)) = (&mut self.proposer, &plan) {
                    let gain = plan
                        .parent
                        .map(|p| (self.tree.node(index).score - self.tree.node(p).score).max(0.0))
                        .filter(|_| self.tree.node(index).valid)
                        .unwrap_or(0.0);
                    model.observe_gain(&output.calls, gain);
                }
                if let Some(bar) = &self.progress {
                    bar.set_position(self.counters.evaluations.max(0) as u64);
                    bar.set_message(self.progress_message());
                }
                if let Some(missing) = missing {
                    return Ok(Some(StopReason::MissingMeasure(missing.to_string())));
                }
            }
            step::StepResult::Directions { node, directions } => {
                self.consecutive_failures = 0;
                if let Some(index) = self.tree.index_of(node) {
                    self.strategy.observe_directions(index, directions);
                }
            }
            step::StepResult::Insights(text) => {
                self.consecutive_failures = 0;
                self.insights = text;
                if let Some(plan) = &plan {
                    self.strategy.abandon(plan);
                }
            }
            step::StepResult::Fatal(error) => return Err(OrchestratorError::Step(error)),
            step::StepResult::NoChange { reason } => {
                self.consecutive_failures = 0;
                self.no_node(plan.as_ref(), &reason);
            }
            step::StepResult::ModelFailed(error) => {
                self.no_node(plan.as_ref(), &format!("model call failed: {error}"));
                if let LlmError::Unavailable { .. } = error {
                    return Ok(Some(StopReason::ModelUnavailable {
                        run: self.run.0,
                        message: error.to_string(),
                    }));
                }
                if error.is_permanent() {
                    return Ok(Some(StopReason::ModelRefused {
                        hint: error.hint().map(str::to_string),
                        message: error.to_string(),
                    }));
                }
                self.consecutive_failures += 1;
            }
            step::StepResult::Unusable { reason, model } => {
                let fallback = plan
                    .as_ref()
                    .and_then(|p| Some((p, self.strategy.fallback(p)?)));
                match fallback {
                    Some((plan, improve)) => self.fall_back(plan, improve, model, reason).await?,
                    None => {
                        self.consecutive_failures += 1;
                        self.no_node(plan.as_ref(), &reason);
                    }
                }
            }
        }
        Ok(None)
    }

    /// An auxiliary step's reply could not be used: a plain improve of its node runs next
    /// instead, and the run's events say so. Not a failure: the run fails for unusable
    /// replies only when the improves fail too.
    async fn fall_back(
        &mut self,
        plan: &Plan,
        improve: Plan,
        model: String,
        reason: String,
    ) -> Result<(), OrchestratorError> {
        let node = improve.parent.map(|p| self.tree.node(p).id).unwrap_or(0);
        tracing::info!(operator = %plan.operator, node, %model, %reason, "falling back to a plain improve");
        let event = RunEvent::Fallback {
            node,
            operator: plan.operator,
            model,
            reason,
        };
        events::record(&self.store, self.run, &event).await?;
        self.fallbacks.push_back(improve);
        Ok(())
    }

    /// A step ended without a node: the strategy releases what its plan held.
    fn no_node(&mut self, plan: Option<&Plan>, reason: &str) {
        tracing::info!(%reason, "step produced no node");
        if let Some(plan) = plan {
            self.strategy.abandon(plan);
        }
    }

    fn progress_message(&self) -> String {
        let best = self
            .tree
            .best_valid()
            .map(|b| format!("{:.4}", self.tree.node(b).score))
            .unwrap_or("-".into());
        format!(
            "public best {best}  calls {}  ${:.4}",
            self.counters.llm_calls, self.counters.dollars
        )
    }

    async fn finish(mut self, stop: StopReason) -> Result<RunOutcome, OrchestratorError> {
        if let Some(remote) = self.context.remote() {
            remote.shutdown().await;
        }
        self.context.flush_lineage().await;
        let status = run_status(&stop);
        let reason = stop.to_string();
        events::record(&self.store, self.run, &RunEvent::Stop { reason }).await?;
        if stop != StopReason::Interrupted {
            self.settle_private().await?;
        }
        let spend = self.store.spend(self.run).await?;
        let privates = self.store.private_evaluations(self.run).await?;
        let seed_score = self
            .tree
            .nodes()
            .iter()
            .find(|n| n.operator == Operator::Seed && n.valid)
            .map(|n| {
                privates
                    .iter()
                    .find(|p| p.node.0 == n.id)
                    .map(|p| {
                        p.evaluation
                            .score
                            .filter(|_| p.evaluation.valid)
                            .unwrap_or(0.0)
                    })
                    .unwrap_or(n.score)
            });
        let best = self.store.best_node(self.run).await?;
        let detail = stop.to_string();
        if status == RunStatus::Interrupted {
            self.store
                .set_run_status(self.run, status, Some(&detail), Timestamp::now())
                .await?;
        } else {
            self.store
                .finish_run(self.run, status, Some(&detail), Timestamp::now())
                .await?;
        }
        Ok(RunOutcome {
            run: self.run.0,
            status,
            stop_reason: detail,
            evaluations: spend.evaluations,
            duplicates: spend.duplicates,
            rejected: spend.rejected,
            llm_calls: spend.llm_calls,
            tokens: spend.tokens(),
            dollars: spend.dollars,
            seed_score,
            best_node: best.map(|b| b.node.0),
            best_score: best.map(|b| b.score),
            best_public_score: best.map(|b| b.public_score),
            best_basis: best.map(|b| b.basis),
            best_valid: best.is_some(),
            large_drop: best.is_some_and(|b| large_drop(b.public_score, b.score)),
            private_evaluations: privates.len(),
            replayed: self.proposer.is_replay(),
        })
    }
}

impl Orchestrator {
    /// Evaluates privately the best [`PRIVATE_TOP_K`] public nodes that have no private
    /// result yet (a step evaluates a node that enters them at once; this catches what a
    /// stop or a crash left), then points the lineage's best ref at the run's best.
    async fn settle_private(&mut self) -> Result<(), OrchestratorError> {
        let done: std::collections::HashSet<i64> = self
            .store
            .private_evaluations(self.run)
            .await?
            .iter()
            .map(|p| p.node.0)
            .collect();
        let mut ranked: Vec<&TreeNode> = self
            .tree
            .nodes()
            .iter()
            .filter(|n| n.valid && !n.duplicate && n.score.is_finite())
            .collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        let missing: Vec<i64> = ranked
            .into_iter()
            .take(PRIVATE_TOP_K)
            .filter(|n| !done.contains(&n.id))
            .map(|n| n.id)
            .collect();
        let evaluated = missing.len();
        for id in missing {
            let record = self.store.get_node(NodeId(id)).await?;
            let public = evaluation_of(&record);
            let candidate = candidate_of(&record);
            let private = self.context.evaluate_private(candidate, &public).await?;
            self.store
                .record_private_evaluation(self.run, NodeId(id), &private, Timestamp::now())
                .await?;
        }
        if evaluated > 0
            && let Err(e) = self.store.refresh_best_ref(self.run).await
        {
            tracing::warn!(error = %e, run = self.run.0, "could not move the lineage's best ref");
        }
        Ok(())
    }
}

/// Resolves when the lease is lost; never without a lease.
async fn lease_lost(lease: &Option<LeaseWatch>) {
    match lease {
        Some(watch) => watch.lost().await,
        None => std::future::pending().await,
    }
}

/// Gives the lease to the assembled orchestrator, or releases it if assembly failed.
async fn holding(
    assembled: Result<Orchestrator, OrchestratorError>,
    lease: RunLease,
) -> Result<Orchestrator, OrchestratorError> {
    match assembled {
        Ok(mut orchestrator) => {
            orchestrator.lease = Some(lease);
            Ok(orchestrator)
        }
        Err(error) => {
            lease.release().await;
            Err(error)
        }
    }
}

/// How often the active time is written to the store: a killed run loses at most this much
/// of its time budget's count (the store is the only checkpoint of a long run).
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The status a run stopped for `stop` is left in.
fn run_status(stop: &StopReason) -> RunStatus {
    match stop {
        StopReason::Interrupted | StopReason::ModelUnavailable { .. } => RunStatus::Interrupted,
        StopReason::TooManyFailures(_)
        | StopReason::ModelRefused { .. }
        | StopReason::MissingMeasure(_) => RunStatus::Failed,
        StopReason::Evaluations(_)
        | StopReason::LlmCalls(_)
        | StopReason::Tokens(_)
        | StopReason::Dollars(_)
        | StopReason::WallTime(_)
        | StopReason::StrategyDone
        | StopReason::Stale(_)
        | StopReason::TargetReached { .. }
        | StopReason::NoProgress(_) => RunStatus::Finished,
    }
}

/// Whether a step of this plan may produce a node (and so holds an evaluation).
fn reserves_evaluation(plan: &Plan) -> bool {
    !matches!(plan.operator, Operator::Scatter | Operator::Scout)
}

/// The RNG of step `n`: derived from the run seed and the step number only, so a run is
/// reproducible at `--concurrency 1`. A resumed run numbers its steps past every stored node
/// and model call (more than the steps planned before), so it never reuses a stream but
/// does not repeat the exact choices an uninterrupted run would have made.
fn step_rng(seed: u64, step: u64) -> ChaCha12Rng {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    rng.set_stream(step);
    rng
}

/// A stored node as a #Memory entry.
fn memory_entry(record: &NodeRecord) -> MemoryEntry {
    MemoryEntry {
        values: candidate_of(record).values,
        status: EvalStatus::parse(&record.evaluation.status).unwrap_or(EvalStatus::RuntimeError),
        score: record
            .evaluation
            .valid
            .then_some(record.evaluation.score.unwrap_or(f64::NEG_INFINITY)),
        feedback: record.evaluation.feedback.clone(),
    }
}

/// A stored node's candidate: its files and values.
pub(crate) fn candidate_of(record: &NodeRecord) -> Candidate {
    let values = match &record.values {
        serde_json::Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Default::default(),
    };
    Candidate {
        files: record.files.clone(),
        values,
    }
}

/// What a prompt shows of a stored node.
fn node_text(record: &NodeRecord, candidate: Candidate) -> NodeText {
    NodeText {
        candidate,
        status: EvalStatus::parse(&record.evaluation.status).unwrap_or(EvalStatus::RuntimeError),
        score: record
            .evaluation
            .valid
            .then_some(record.evaluation.score.unwrap_or(f64::NEG_INFINITY)),
        feedback: record.evaluation.feedback.clone(),
    }
}

/// The code and feedback of the last [`TextCache::CAPACITY`] nodes added (the newest, and
/// the parents prompts read from the store), oldest dropped first.
#[derive(Default)]
struct TextCache {
    texts: HashMap<NodeIndex, Arc<NodeText>>,
    order: VecDeque<NodeIndex>,
}

impl TextCache {
    const CAPACITY: usize = 32;

    fn get(&self, index: NodeIndex) -> Option<Arc<NodeText>> {
        self.texts.get(&index).cloned()
    }

    fn insert(&mut self, index: NodeIndex, text: Arc<NodeText>) {
        if self.texts.insert(index, text).is_none() {
            self.order.push_back(index);
        }
        while self.order.len() > TextCache::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.texts.remove(&old);
            }
        }
    }
}

impl Orchestrator {
    /// What a prompt shows of node `index`: from the cache, else read from the store.
    async fn node_text(
        &mut self,
        index: Option<NodeIndex>,
    ) -> Result<Option<Arc<NodeText>>, hone_store::Error> {
        let Some(index) = index else { return Ok(None) };
        if let Some(text) = self.texts.get(index) {
            return Ok(Some(text));
        }
        let record = self
            .store
            .get_node(NodeId(self.tree.node(index).id))
            .await?;
        let text = Arc::new(node_text(&record, candidate_of(&record)));
        self.texts.insert(index, text.clone());
        Ok(Some(text))
    }

    /// Keeps a new node's #Memory entry, and its text for the prompts that may show it.
    fn remember(&mut self, index: NodeIndex, record: &NodeRecord, candidate: Candidate) {
        if !self.proposer.uses_model() {
            return;
        }
        self.memory.push_back(memory_entry(record));
        while self.memory.len() > self.memory_len {
            self.memory.pop_front();
        }
        self.texts
            .insert(index, Arc::new(node_text(record, candidate)));
    }
}

fn tree_node(
    tree: &SearchTree,
    record: &NodeRecord,
    direction: Option<String>,
) -> Result<TreeNode, OrchestratorError> {
    let operator =
        Operator::parse(&record.operator).ok_or_else(|| OrchestratorError::UnknownOperator {
            run: record.run.0,
            node: record.id.0,
            operator: record.operator.clone(),
        })?;
    let parent: Option<NodeIndex> = record.parent.and_then(|p| tree.index_of(p.0));
    Ok(TreeNode {
        id: record.id.0,
        parent,
        children: Vec::new(),
        operator,
        depth: record.depth.max(0) as u32,
        tree: record.tree,
        island: record.island,
        status: EvalStatus::parse(&record.evaluation.status).unwrap_or(EvalStatus::RuntimeError),
        valid: record.evaluation.valid,
        score: record.evaluation.score.unwrap_or(f64::NEG_INFINITY),
        // A rejected candidate is, like a duplicate, not expanded.
        duplicate: !record.is_evaluated(),
        direction,
        measures: Vec::new(),
    })
}

fn evaluation_of(record: &NodeRecord) -> Evaluation {
    let e = &record.evaluation;
    Evaluation {
        status: EvalStatus::parse(&e.status).unwrap_or(EvalStatus::RuntimeError),
        valid: e.valid,
        score: e.score.unwrap_or(f64::NEG_INFINITY),
        metrics: match &e.metrics {
            serde_json::Value::Object(map) => {
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }
            _ => Default::default(),
        },
        feedback: e.feedback.clone(),
        trace: e.trace.clone(),
        fuel: e.fuel.map(|f| f.max(0) as u64),
        wall_ms: e.wall_ms.unwrap_or(0.0),
    }
}

pub(crate) fn new_evaluation(evaluation: &Evaluation) -> NewEvaluation {
    NewEvaluation {
        status: evaluation.status.to_string(),
        valid: evaluation.valid,
        score: evaluation.score,
        metrics: serde_json::to_value(&evaluation.metrics).unwrap_or(serde_json::Value::Null),
        feedback: evaluation.feedback.clone(),
        trace: evaluation.trace.clone(),
        fuel: evaluation.fuel.map(|f| f.min(i64::MAX as u64) as i64),
        wall_ms: Some(evaluation.wall_ms),
    }
}

/// Whether a private score fell more than 20% of the public score's magnitude below it
/// (scores are higher-is-better and may be negative, as costs are).
fn large_drop(public: f64, private: f64) -> bool {
    private < public - 0.2 * public.abs()
}

/// Where `hone run` writes the best candidate's files: `.hone/runs/<run>/best/`.
pub fn best_dir(work_dir: &std::path::Path, run: i64) -> PathBuf {
    work_dir
        .join(".hone")
        .join("runs")
        .join(run.to_string())
        .join("best")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_drops_hold_for_negative_scores() {
        assert!(!large_drop(10.0, 9.0));
        assert!(large_drop(10.0, 7.0));
        // Costs: -100 -> -110 is 10% worse, -100 -> -130 is 30% worse.
        assert!(!large_drop(-100.0, -110.0));
        assert!(large_drop(-100.0, -130.0));
        assert!(!large_drop(-100.0, -50.0), "better is never a drop");
        assert!(!large_drop(0.0, 0.0));
        assert!(large_drop(0.0, -1.0));
    }
}
