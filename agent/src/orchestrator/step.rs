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
use super::lineage::LineageQueue;
use super::new_evaluation;
use super::private::{PublicLeaders, private_evaluation};
use super::proposer::PreparedRequest;
use crate::llm::{ChatBackend, ChatRequest, Completion, reask_request};
use crate::reply::{ParsedReply, ReplyContext, parse_reply};
use crate::search::Plan;

/// Content hash -> the first node with that content and its evaluation. The first step to
/// claim a hash evaluates it; concurrent and later identical candidates reuse its result.
pub type DedupeMap = Arc<Mutex<HashMap<String, Arc<OnceCell<(i64, Evaluation)>>>>>;

/// A settled entry of the dedupe map (for nodes loaded on resume).
pub fn settled(id: i64, evaluation: Evaluation) -> Arc<OnceCell<(i64, Evaluation)>> {
    Arc::new(OnceCell::new_with(Some((id, evaluation))))
}

/// What a step produced.
pub enum StepResult {
    Node(Box<NodeRecord>),
    Directions {
        node: i64,
        directions: Vec<String>,
    },
    Insights(String),
    /// No node: a model failure, an unusable reply, or the model proposed no change.
    NoNode {
        reason: String,
        failure: bool,
    },
    /// The store failed: the run cannot go on safely.
    Fatal(String),
}

/// A finished step: its result and the model calls it made.
pub struct StepOutput {
    pub calls: Vec<CallCost>,
    pub result: StepResult,
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
pub struct StepContext {
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
}

impl StepContext {
    /// Sends evaluations to workers through the queue instead of the blocking pool.
    pub fn with_remote(
        mut self,
        remote: Option<Arc<crate::worker::RemoteEvaluations>>,
    ) -> StepContext {
        self.remote = remote;
        self
    }

    /// The queue backend, if evaluations are remote.
    pub fn remote(&self) -> Option<&Arc<crate::worker::RemoteEvaluations>> {
        self.remote.as_ref()
    }

    pub fn new(
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
        }
    }

    /// Waits for the lineage commits of every node stored so far.
    pub async fn flush_lineage(&self) {
        self.lineage.flush(self.run).await;
    }

    /// Evaluates `candidate` (or reuses the evaluation of an identical one) and stores the node.
    pub async fn evaluate_and_store(
        self: Arc<Self>,
        plan: Plan,
        candidate: Candidate,
        operator: String,
        calls: Vec<LlmCallId>,
        parent: Option<i64>,
        depth: u32,
    ) -> StepOutput {
        let result = self
            .store_candidate(&plan, candidate, &operator, &calls, parent, depth)
            .await;
        StepOutput {
            calls: Vec::new(),
            result,
        }
    }

    async fn store_candidate(
        &self,
        plan: &Plan,
        candidate: Candidate,
        operator: &str,
        calls: &[LlmCallId],
        parent: Option<i64>,
        depth: u32,
    ) -> StepResult {
        let hash = candidate.content_hash();
        let cell = {
            let Ok(mut map) = self.dedupe.lock() else {
                return StepResult::Fatal("the dedupe table is poisoned".into());
            };
            map.entry(hash.clone()).or_default().clone()
        };
        let new_node = |duplicate_of: Option<i64>| NewNode {
            run: self.run,
            parent: parent.map(NodeId),
            operator: operator.to_string(),
            tree: plan.tree,
            island: plan.island,
            depth: depth as i64,
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
                let evaluation = self.evaluate(candidate.clone()).await?;
                // A node whose public score enters the run's best is scored privately in
                // the same step (in this process, even with workers).
                let private = if self.enters_leaders(&evaluation) {
                    Some(
                        self.evaluate_private(candidate.clone(), &evaluation)
                            .await?,
                    )
                } else {
                    None
                };
                let (node, stored) = (new_node(None), new_evaluation(&evaluation));
                let id = self
                    .store
                    .insert_node(&node, &stored)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(private) = private {
                    self.store
                        .record_private_evaluation(self.run, id, &private, Timestamp::now())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                inserted = Some((id, node, stored));
                Ok::<_, String>((id.0, evaluation))
            })
            .await;
        let (node_id, node, stored) = match (settled, inserted) {
            (Err(message), _) => return StepResult::Fatal(message),
            (Ok(_), Some(inserted)) => inserted,
            (Ok((original, evaluation)), None) => {
                let (node, stored) = (new_node(Some(*original)), new_evaluation(evaluation));
                match self.store.insert_node(&node, &stored).await {
                    Ok(id) => (id, node, stored),
                    Err(e) => return StepResult::Fatal(e.to_string()),
                }
            }
        };
        // The last call is attached by `insert_node` (it is the node's `llm_call`); the
        // earlier ones (an ask before its re-ask) are attached here.
        let earlier = &calls[..calls.len().saturating_sub(1)];
        for call in earlier {
            if let Err(e) = self.store.attach_llm_call(*call, node_id).await {
                return StepResult::Fatal(e.to_string());
            }
        }
        if let Some(direction) = &plan.direction {
            let payload = serde_json::json!({ "node": node_id.0, "direction": direction });
            if let Err(e) = self
                .store
                .record_event(self.run, Timestamp::now(), "node_direction", &payload)
                .await
            {
                return StepResult::Fatal(e.to_string());
            }
        }
        self.lineage.record(node_id);
        // What the store now holds, without reading it back.
        StepResult::Node(Box::new(NodeRecord::from_new(node_id, &node, &stored)))
    }

    /// Runs the task's evaluator on the blocking pool, at most `eval_threads` at once.
    async fn evaluate(&self, candidate: Candidate) -> Result<Evaluation, String> {
        if let Some(remote) = &self.remote {
            return remote.evaluate(&candidate).await;
        }
        let _permit = self
            .evaluations
            .acquire()
            .await
            .map_err(|e| e.to_string())?;
        let evaluator = self.task.evaluator();
        tokio::task::spawn_blocking(move || evaluator.evaluate(&candidate))
            .await
            .map_err(|e| format!("the evaluation thread failed: {e}"))
    }

    /// Whether a public evaluation enters the run's best public scores (and takes its place).
    fn enters_leaders(&self, evaluation: &Evaluation) -> bool {
        evaluation.valid
            && self
                .leaders
                .lock()
                .is_ok_and(|mut leaders| leaders.admit(evaluation.score))
    }

    /// The private evaluation of a candidate whose public evaluation is `public`: on this
    /// process's blocking pool, under the same limit as the public ones. A task without
    /// held-out cases gives the public result back (`held_out` false) without running.
    pub async fn evaluate_private(
        &self,
        candidate: Candidate,
        public: &Evaluation,
    ) -> Result<PrivateEvaluation, String> {
        let _permit = self
            .evaluations
            .acquire()
            .await
            .map_err(|e| e.to_string())?;
        let evaluator = self.task.evaluator();
        let private = tokio::task::spawn_blocking(move || evaluator.evaluate_private(&candidate))
            .await
            .map_err(|e| format!("the private evaluation thread failed: {e}"))?;
        Ok(private_evaluation(private.as_ref(), public))
    }

    /// A model step: ask, record the call, parse (re-ask once on failure), then evaluate.
    pub async fn model_step(
        self: Arc<Self>,
        backend: Arc<dyn ChatBackend>,
        prepared: PreparedRequest,
        plan: Plan,
        parent: Option<i64>,
        depth: u32,
    ) -> StepOutput {
        let mut costs = Vec::new();
        let mut call_ids = Vec::new();
        let reply_context = ReplyContext {
            kind: prepared.kind,
            languages: &prepared.languages,
            parent: prepared.parent_candidate.as_ref(),
            variables: &prepared.variables,
            allow_input_file: prepared.allow_input_file,
        };
        let mut request: ChatRequest = prepared.request.clone();
        let mut parsed = None;
        for attempt in 1..=2 {
            let completion = backend.complete(&request).await;
            let recorded = self
                .record_call(&prepared, &request, &completion, parent, &plan, attempt)
                .await;
            let call_id = match recorded {
                Ok(id) => id,
                Err(message) => {
                    return StepOutput {
                        calls: costs,
                        result: StepResult::Fatal(message),
                    };
                }
            };
            call_ids.push(call_id);
            let completion = match completion {
                Ok(c) => c,
                Err(error) => {
                    // A failed call counts against the call budget like any other.
                    costs.push(CallCost {
                        model: request.model.clone(),
                        tokens: 0,
                        cost_dollars: 0.0,
                    });
                    return StepOutput {
                        calls: costs,
                        result: StepResult::NoNode {
                            reason: format!("model call failed: {error}"),
                            failure: true,
                        },
                    };
                }
            };
            costs.push(CallCost {
                model: completion.model.clone(),
                tokens: (completion.usage.prompt_tokens + completion.usage.completion_tokens)
                    as i64,
                cost_dollars: completion.cost_usd,
            });
            match parse_reply(&completion.text, prepared.format, &reply_context) {
                Ok(reply) => {
                    parsed = Some(reply);
                    break;
                }
                Err(error) => {
                    let message = error.to_string();
                    if let Err(e) = self.store.set_llm_call_parse_error(call_id, &message).await {
                        return StepOutput {
                            calls: costs,
                            result: StepResult::Fatal(e.to_string()),
                        };
                    }
                    if attempt == 1 {
                        request = reask_request(&request, &completion.text, &message);
                    } else {
                        return StepOutput {
                            calls: costs,
                            result: StepResult::NoNode {
                                reason: format!("unusable reply after a re-ask: {message}"),
                                failure: true,
                            },
                        };
                    }
                }
            }
        }
        let Some(parsed) = parsed else {
            return StepOutput {
                calls: costs,
                result: StepResult::NoNode {
                    reason: "no reply".into(),
                    failure: true,
                },
            };
        };
        let result = match parsed {
            ParsedReply::Candidate(update) => {
                let mut candidate = update.candidate;
                if candidate.files.is_empty() && candidate.values.is_empty() {
                    return StepOutput {
                        calls: costs,
                        result: StepResult::NoNode {
                            reason: "the reply held no candidate".into(),
                            failure: true,
                        },
                    };
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
                self.store_candidate(
                    &plan,
                    candidate,
                    prepared.operator.name(),
                    &call_ids,
                    parent,
                    depth,
                )
                .await
            }
            ParsedReply::NoChange { reasoning } => StepResult::NoNode {
                reason: format!("the model proposed no change: {reasoning}"),
                failure: false,
            },
            ParsedReply::Directions(directions) => match parent {
                Some(node) => {
                    let payload = serde_json::json!({ "node": node, "directions": directions });
                    match self
                        .store
                        .record_event(self.run, Timestamp::now(), "directions", &payload)
                        .await
                    {
                        Ok(_) => StepResult::Directions { node, directions },
                        Err(e) => StepResult::Fatal(e.to_string()),
                    }
                }
                None => StepResult::NoNode {
                    reason: "directions without a node".into(),
                    failure: true,
                },
            },
            ParsedReply::Insights(text) => {
                let payload = serde_json::json!({ "text": text });
                match self
                    .store
                    .record_event(self.run, Timestamp::now(), "insights", &payload)
                    .await
                {
                    Ok(_) => StepResult::Insights(text),
                    Err(e) => StepResult::Fatal(e.to_string()),
                }
            }
        };
        StepOutput {
            calls: costs,
            result,
        }
    }

    async fn record_call(
        &self,
        prepared: &PreparedRequest,
        request: &ChatRequest,
        completion: &Result<Completion, crate::llm::LlmError>,
        parent: Option<i64>,
        plan: &Plan,
        attempt: i64,
    ) -> Result<LlmCallId, String> {
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
                parent: parent.map(NodeId),
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
                parent: parent.map(NodeId),
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
        self.store
            .record_llm_call(&call)
            .await
            .map_err(|e| e.to_string())
    }
}
