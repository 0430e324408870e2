//! One step of the loop, run as a tokio task: model call(s), parse, evaluation on the
//! blocking pool, and the node stored in one transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hone_store::{
    LlmCallId, NewEvaluation, NewLlmCall, NewNode, NodeId, NodeRecord, PrivateEvaluation, RunId,
    Store, Timestamp,
};
use hone_tasks::{Candidate, Evaluation, Task};
use tokio::sync::{OnceCell, Semaphore};

use super::budget::CallCost;
use super::events::{self, RunEvent};
use super::lineage::LineageQueue;
use super::new_evaluation;
use super::private::{PublicLeaders, private_evaluation};
use super::proposer::PreparedRequest;
use crate::llm::{ChatBackend, ChatRequest, Completion, LlmError, reask_request};
use crate::prompt::Operator;
use crate::reply::{ParsedReply, ReplyContext, parse_reply};
use crate::search::Plan;

/// Content hash -> the first node with that content. The first step to claim a hash
/// evaluates it; concurrent and later identical candidates reuse its result, read back from
/// the store (the map keeps ids only, so a long run's map stays small).
pub(super) type DedupeMap = Arc<Mutex<HashMap<String, Arc<OnceCell<i64>>>>>;

/// A settled entry of the dedupe map (for nodes loaded on resume).
pub(super) fn settled(id: i64) -> Arc<OnceCell<i64>> {
    Arc::new(OnceCell::new_with(Some(id)))
}

/// What a step produced.
pub(super) enum StepResult {
    Node(Box<NodeRecord>),
    Directions {
        node: i64,
        directions: Vec<String>,
    },
    Insights(String),
    /// No node, and no failure: the model proposed no change.
    NoChange {
        reason: String,
    },
    /// The model call failed (the client already retried what was worth retrying).
    ModelFailed(LlmError),
    /// The reply could not be used, even after the re-ask (`model` answered it).
    Unusable {
        reason: String,
        model: String,
    },
    /// The store failed: the run cannot go on safely.
    Fatal(StepError),
}

/// Why a step cannot go on, so that the run stops (a model's failure or an unusable reply
/// is data in [`StepResult`], not this).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Store(#[from] hone_store::Error),
    #[error("the dedupe table is poisoned (a step panicked while holding it)")]
    DedupePoisoned,
    #[error("the evaluation pool is closed")]
    EvaluationPoolClosed,
    #[error("the evaluation thread failed: {0}")]
    EvaluationThread(#[from] tokio::task::JoinError),
    /// An evaluation through the workers' queue failed.
    #[error(transparent)]
    Remote(crate::worker::WorkerError),
    /// `--novelty`: the candidate's embedding could not be had (the step fails as a failed
    /// model call does).
    #[error(transparent)]
    Novelty(crate::novelty::NoveltyError),
}

impl StepError {
    /// What a step that failed with this ends with: a failed embedding is a failed model
    /// call (retried already; the run stops if it is permanent or the endpoint stays down),
    /// anything else stops the run.
    pub(super) fn into_result(self) -> StepResult {
        match self {
            StepError::Novelty(crate::novelty::NoveltyError::Embedding(error)) => {
                StepResult::ModelFailed(error)
            }
            StepError::Novelty(crate::novelty::NoveltyError::Store(error)) => {
                StepResult::Fatal(StepError::Store(error))
            }
            other => StepResult::Fatal(other),
        }
    }
}

/// A finished step: its result and the model calls it made.
pub(super) struct StepOutput {
    pub calls: Vec<CallCost>,
    pub result: StepResult,
}

/// Where a step's node goes in the stored tree.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Target {
    /// The parent node's id (none for a seed or a draft).
    pub parent: Option<i64>,
    pub depth: u32,
}

/// A candidate to evaluate and store as a node.
pub(super) struct Proposal {
    pub candidate: Candidate,
    pub operator: Operator,
    pub target: Target,
    /// The model calls that produced it, oldest first (the last one is the node's own).
    pub calls: Vec<LlmCallId>,
}

/// A short account of one step, for logs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepReport {
    pub operator: String,
    pub node: Option<i64>,
    pub status: Option<String>,
    pub score: Option<f64>,
}

/// What every step shares.
pub(super) struct StepContext {
    store: Store,
    task: Task,
    run: RunId,
    dedupe: DedupeMap,
    evaluations: Arc<Semaphore>,
    /// The evaluation backend: `None` runs evaluations on this process's blocking pool
    /// (under `evaluations`), `Some` sends them to `hone worker` processes via the queue.
    remote: Option<Arc<crate::worker::RemoteEvaluations>>,
    lineage: LineageQueue,
    /// The run's best public scores: a node that enters them is evaluated privately too.
    leaders: Mutex<PublicLeaders>,
    /// `--novelty`: candidates too similar to a valid node are not evaluated.
    novelty: Option<Arc<crate::novelty::Novelty>>,
}

impl StepContext {
    /// Sends evaluations to workers through the queue instead of the blocking pool.
    pub(super) fn with_remote(
        mut self,
        remote: Option<Arc<crate::worker::RemoteEvaluations>>,
    ) -> StepContext {
        self.remote = remote;
        self
    }

    /// Rejects candidates too similar to a valid node before evaluation (`--novelty`).
    pub(super) fn with_novelty(
        mut self,
        novelty: Option<Arc<crate::novelty::Novelty>>,
    ) -> StepContext {
        self.novelty = novelty;
        self
    }

    /// The queue backend, if evaluations are remote.
    pub(super) fn remote(&self) -> Option<&Arc<crate::worker::RemoteEvaluations>> {
        self.remote.as_ref()
    }

    pub(super) fn new(
        store: Store,
        task: Task,
        run: RunId,
        dedupe: DedupeMap,
        eval_threads: usize,
        lineage: LineageQueue,
        leaders: PublicLeaders,
    ) -> StepContext {
        StepContext {
            store,
            task,
            run,
            dedupe,
            evaluations: Arc::new(Semaphore::new(eval_threads.max(1))),
            remote: None,
            lineage,
            leaders: Mutex::new(leaders),
            novelty: None,
        }
    }

    /// Waits for the lineage commits of every node stored so far.
    pub(super) async fn flush_lineage(&self) {
        self.lineage.flush(self.run).await;
    }

    /// Evaluates the proposed candidate (or reuses the evaluation of an identical one) and
    /// stores the node.
    pub(super) async fn evaluate_and_store(
        self: Arc<Self>,
        plan: Plan,
        proposal: Proposal,
    ) -> StepOutput {
        let result = self
            .store_candidate(&plan, proposal)
            .await
            .unwrap_or_else(StepError::into_result);
        StepOutput {
            calls: Vec::new(),
            result,
        }
    }

    async fn store_candidate(
        &self,
        plan: &Plan,
        proposal: Proposal,
    ) -> Result<StepResult, StepError> {
        let Proposal {
            candidate,
            operator,
            target,
            calls,
        } = proposal;
        let hash = candidate.content_hash();
        let cell = {
            let mut map = self.dedupe.lock().map_err(|_| StepError::DedupePoisoned)?;
            map.entry(hash.clone()).or_default().clone()
        };
        let new_node = |duplicate_of: Option<i64>| NewNode {
            run: self.run,
            parent: target.parent.map(NodeId),
            operator: operator.name().to_string(),
            tree: plan.tree,
            island: plan.island,
            depth: target.depth as i64,
            files: candidate.files.clone(),
            values: serde_json::to_value(&candidate.values).unwrap_or(serde_json::Value::Null),
            content_hash: hash.clone(),
            duplicate_of: duplicate_of.map(NodeId),
            llm_call: calls.last().copied(),
            created_at: Timestamp::now(),
        };
        let mut inserted: Option<(NodeId, NewNode, NewEvaluation)> = None;
        let settled = cell
            .get_or_try_init(|| async {
                // `--novelty`: a candidate too similar to a valid node is stored unevaluated.
                let probe = match &self.novelty {
                    Some(novelty) => Some(
                        novelty
                            .probe(&candidate, &hash)
                            .await
                            .map_err(StepError::Novelty)?,
                    ),
                    None => None,
                };
                let rejection = self
                    .novelty
                    .as_ref()
                    .zip(probe.as_ref())
                    .and_then(|(novelty, probe)| novelty.check(probe));
                if let Some(rejection) = rejection {
                    let (node, stored) = (new_node(None), rejection.evaluation());
                    let id = self.store.insert_node(&node, &stored).await?;
                    inserted = Some((id, node, stored));
                    return Ok::<_, StepError>(id.0);
                }
                let evaluation = self.evaluate(candidate.clone()).await?;
                // A node whose public score enters the run's best is scored privately in
                // the same step (on a worker, with workers).
                let private = if self.enters_leaders(&evaluation) {
                    Some(
                        self.evaluate_private(candidate.clone(), &evaluation)
                            .await?,
                    )
                } else {
                    None
                };
                let (node, stored) = (new_node(None), new_evaluation(&evaluation));
                let id = self.store.insert_node(&node, &stored).await?;
                if let (Some(novelty), Some(probe)) = (&self.novelty, probe) {
                    novelty.admit(id.0, &evaluation, probe);
                }
                if let Some(private) = private {
                    self.store
                        .record_private_evaluation(self.run, id, &private, Timestamp::now())
                        .await?;
                }
                inserted = Some((id, node, stored));
                Ok::<_, StepError>(id.0)
            })
            .await?;
        let (node_id, node, stored) = match inserted {
            Some(inserted) => inserted,
            None => {
                let original = *settled;
                let evaluation =
                    super::evaluation_of(&self.store.get_node(NodeId(original)).await?);
                let (node, stored) = (new_node(Some(original)), new_evaluation(&evaluation));
                (self.store.insert_node(&node, &stored).await?, node, stored)
            }
        };
        // The last call is attached by `insert_node` (it is the node's `llm_call`); the
        // earlier ones (an ask before its re-ask) are attached here.
        for call in &calls[..calls.len().saturating_sub(1)] {
            self.store.attach_llm_call(*call, node_id).await?;
        }
        if let Some(direction) = &plan.direction {
            let event = RunEvent::NodeDirection {
                node: node_id.0,
                direction: direction.clone(),
            };
            events::record(&self.store, self.run, &event).await?;
        }
        self.lineage.record(node_id);
        // What the store now holds, without reading it back.
        Ok(StepResult::Node(Box::new(NodeRecord::from_new(
            node_id, &node, &stored,
        ))))
    }

    /// Runs the task's evaluator on the blocking pool, at most `eval_threads` at once.
    async fn evaluate(&self, candidate: Candidate) -> Result<Evaluation, StepError> {
        if let Some(remote) = &self.remote {
            return remote.evaluate(&candidate).await.map_err(StepError::Remote);
        }
        let _permit = self
            .evaluations
            .acquire()
            .await
            .map_err(|_| StepError::EvaluationPoolClosed)?;
        let evaluator = self.task.evaluator();
        Ok(tokio::task::spawn_blocking(move || evaluator.evaluate(&candidate)).await?)
    }

    /// Whether a public evaluation enters the run's best public scores (and takes its place).
    fn enters_leaders(&self, evaluation: &Evaluation) -> bool {
        evaluation.valid
            && self
                .leaders
                .lock()
                .is_ok_and(|mut leaders| leaders.admit(evaluation.score))
    }

    /// The private evaluation of a candidate whose public evaluation is `public`: on a
    /// worker through the queue, or on this process's blocking pool under the same limit
    /// as the public ones. A task without held-out cases gives the public result back
    /// (`held_out` false) without running.
    pub(super) async fn evaluate_private(
        &self,
        candidate: Candidate,
        public: &Evaluation,
    ) -> Result<PrivateEvaluation, StepError> {
        if !self.task.has_held_out_cases() {
            return Ok(private_evaluation(None, public));
        }
        if let Some(remote) = &self.remote {
            let numbers = remote
                .evaluate_private(&candidate)
                .await
                .map_err(StepError::Remote)?;
            return Ok(numbers.unwrap_or_else(|| private_evaluation(None, public)));
        }
        let _permit = self
            .evaluations
            .acquire()
            .await
            .map_err(|_| StepError::EvaluationPoolClosed)?;
        let evaluator = self.task.evaluator();
        let private =
            tokio::task::spawn_blocking(move || evaluator.evaluate_private(&candidate)).await?;
        Ok(private_evaluation(private.as_ref(), public))
    }

    /// A model step: ask, record the call, parse (re-ask once on failure), then evaluate.
    pub(super) async fn model_step(
        self: Arc<Self>,
        backend: Arc<dyn ChatBackend>,
        prepared: PreparedRequest,
        plan: Plan,
        target: Target,
    ) -> StepOutput {
        let mut calls = Calls::default();
        let result = self
            .ask_and_store(&*backend, &prepared, &plan, target, &mut calls)
            .await
            .unwrap_or_else(StepError::into_result);
        StepOutput {
            calls: calls.costs,
            result,
        }
    }

    async fn ask_and_store(
        &self,
        backend: &dyn ChatBackend,
        prepared: &PreparedRequest,
        plan: &Plan,
        target: Target,
        calls: &mut Calls,
    ) -> Result<StepResult, StepError> {
        let (reply, model) = match self.ask(backend, prepared, plan, target, calls).await? {
            Answer::Parsed { reply, model } => (reply, model),
            Answer::Failed(result) => return Ok(result),
        };
        Ok(match reply {
            ParsedReply::Candidate(update) => {
                let mut candidate = update.candidate;
                if candidate.files.is_empty() && candidate.values.is_empty() {
                    return Ok(StepResult::Unusable {
                        reason: "the reply held no candidate".into(),
                        model,
                    });
                }
                // Params tasks keep code files of the parent untouched; code tasks keep values.
                if let Some(parent) = &prepared.parent_candidate {
                    for (k, v) in &parent.values {
                        candidate
                            .values
                            .entry(k.clone())
                            .or_insert_with(|| v.clone());
                    }
                }
                let proposal = Proposal {
                    candidate,
                    operator: prepared.operator,
                    target,
                    calls: calls.ids.clone(),
                };
                self.store_candidate(plan, proposal).await?
            }
            ParsedReply::NoChange { reasoning } => StepResult::NoChange {
                reason: format!("the model proposed no change: {reasoning}"),
            },
            ParsedReply::Directions(directions) => match target.parent {
                Some(node) => {
                    let event = RunEvent::Directions {
                        node,
                        directions: directions.clone(),
                    };
                    events::record(&self.store, self.run, &event).await?;
                    StepResult::Directions { node, directions }
                }
                None => StepResult::Unusable {
                    reason: "directions without a node".into(),
                    model,
                },
            },
            ParsedReply::Insights(text) => {
                let event = RunEvent::Insights { text: text.clone() };
                events::record(&self.store, self.run, &event).await?;
                StepResult::Insights(text)
            }
        })
    }

    /// Asks the model, recording each call; re-asks once if the reply cannot be parsed.
    async fn ask(
        &self,
        backend: &dyn ChatBackend,
        prepared: &PreparedRequest,
        plan: &Plan,
        target: Target,
        calls: &mut Calls,
    ) -> Result<Answer, StepError> {
        let reply_context = ReplyContext {
            kind: prepared.kind,
            languages: &prepared.languages,
            parent: prepared.parent_candidate.as_ref(),
            variables: &prepared.variables,
            allow_input_file: prepared.allow_input_file,
        };
        let mut request: ChatRequest = prepared.request.clone();
        for attempt in 1..=2 {
            let completion = backend.complete(&request).await;
            let call = self
                .record_call(prepared, &request, &completion, target, plan, attempt)
                .await?;
            calls.ids.push(call);
            let completion = match completion {
                Ok(completion) => completion,
                Err(error) => {
                    // A failed call counts against the call budget like any other.
                    calls.costs.push(CallCost {
                        model: request.model.clone(),
                        tokens: 0,
                        cost_dollars: 0.0,
                    });
                    return Ok(Answer::Failed(StepResult::ModelFailed(error)));
                }
            };
            calls.costs.push(CallCost {
                model: completion.model.clone(),
                tokens: (completion.usage.prompt_tokens + completion.usage.completion_tokens)
                    as i64,
                cost_dollars: completion.cost_usd,
            });
            match parse_reply(&completion.text, prepared.format, &reply_context) {
                Ok(reply) => {
                    return Ok(Answer::Parsed {
                        reply,
                        model: completion.model,
                    });
                }
                Err(error) => {
                    let message = error.to_string();
                    self.store.set_llm_call_parse_error(call, &message).await?;
                    if attempt == 1 {
                        request = reask_request(&request, &completion.text, &message);
                    } else {
                        return Ok(Answer::Failed(StepResult::Unusable {
                            reason: format!("unusable reply after a re-ask: {message}"),
                            model: completion.model,
                        }));
                    }
                }
            }
        }
        Ok(Answer::Failed(StepResult::Unusable {
            reason: "no reply".into(),
            model: request.model,
        }))
    }

    async fn record_call(
        &self,
        prepared: &PreparedRequest,
        request: &ChatRequest,
        completion: &Result<Completion, LlmError>,
        target: Target,
        plan: &Plan,
        attempt: i64,
    ) -> Result<LlmCallId, StepError> {
        let prompt = request
            .messages
            .iter()
            .skip(1)
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n\n---\n\n");
        let call = match completion {
            Ok(c) => NewLlmCall {
                run: self.run,
                parent: target.parent.map(NodeId),
                operator: plan.operator.name().to_string(),
                model: c.model.clone(),
                system: prepared.system.clone(),
                prompt,
                reply: Some(c.text.clone()),
                tokens_in: c.usage.prompt_tokens as i64,
                tokens_out: c.usage.completion_tokens as i64,
                tokens_estimated: c.usage.estimated,
                cost_dollars: c.cost_usd,
                latency_ms: c.latency_ms as f64,
                error: None,
                replayed: c.replayed,
                attempt,
                created_at: Timestamp::now(),
            },
            Err(error) => NewLlmCall {
                run: self.run,
                parent: target.parent.map(NodeId),
                operator: plan.operator.name().to_string(),
                model: request.model.clone(),
                system: prepared.system.clone(),
                prompt,
                reply: None,
                tokens_in: 0,
                tokens_out: 0,
                tokens_estimated: false,
                cost_dollars: 0.0,
                latency_ms: 0.0,
                error: Some(error.to_string()),
                replayed: false,
                attempt,
                created_at: Timestamp::now(),
            },
        };
        Ok(self.store.record_llm_call(&call).await?)
    }
}

/// The model calls of a step so far: their ids and what they cost.
#[derive(Default)]
struct Calls {
    ids: Vec<LlmCallId>,
    costs: Vec<CallCost>,
}

/// What asking the model ended with.
enum Answer {
    Parsed {
        reply: ParsedReply,
        model: String,
    },
    /// No usable reply: the step ends with this.
    Failed(StepResult),
}
