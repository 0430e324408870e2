//! Novelty rejection (`--novelty THRESHOLD`): a candidate too similar to a valid node is
//! stored unevaluated as `rejected_novelty`, naming its nearest node; by embeddings from the
//! server's `/v1/embeddings` (cached in the store, recorded in the cassette, so a replay
//! needs no server) or by token shingles without any model.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hone_agent::testing::{MockResponse, MockServer, RecordedRequest, bag_of_tokens_embedding};
use hone_store::{NodeRecord, REJECTED_NOVELTY, RunId};

use super::{FIXTURE, MODEL, Work, assert_success, code_reply, int, stdout};

/// The embedding model the mock server pretends to be.
const EMBEDDINGS: &str = "mock-embed";

/// Dimensions of the mock embeddings.
const DIMENSIONS: usize = 256;

fn seed_source() -> String {
    let path = Path::new(FIXTURE).join("seed.c");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The seed with a comment on top: a near-copy.
fn near_copy() -> String {
    format!(
        "// The same program, summed the same way.\n{}",
        seed_source()
    )
}

/// Another near-copy of the seed (a different comment).
fn other_near_copy() -> String {
    format!("// Still the same program.\n{}", seed_source())
}

/// The schedule of most tests: the near-copy (n even) or the distinct program (n odd).
fn alternate(n: usize) -> MockResponse {
    if n.is_multiple_of(2) {
        MockResponse::completion(&code_reply("Tidier.", &near_copy()))
    } else {
        MockResponse::completion(&code_reply("Sum while reading.", DISTINCT))
    }
}

/// The mock embedding of an embeddings request's input.
fn embed(request: &RecordedRequest) -> MockResponse {
    let input = request.embeddings_input().unwrap_or_default();
    MockResponse::embedding(&bag_of_tokens_embedding(&input, DIMENSIONS))
}

/// A correct program that shares little with the seed: it sums while reading.
const DISTINCT: &str = r#"#include <stdio.h>

int main(void) {
    int count;
    if (scanf("%d", &count) != 1) return 1;
    long long total = 0, x;
    while (count-- > 0 && scanf("%lld", &x) == 1) total += x;
    printf("%lld\n", total);
    return 0;
}
"#;

/// A model server: the n-th chat request gets `chat(n)`, embeddings requests get
/// `embeddings(request)`.
struct Server {
    server: MockServer,
    embedded: Arc<AtomicUsize>,
    // Declared last: dropped after the server.
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start(
        chat: impl Fn(usize) -> MockResponse + Send + Sync + 'static,
        embeddings: impl Fn(&RecordedRequest) -> MockResponse + Send + Sync + 'static,
    ) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let chats = AtomicUsize::new(0);
        let embedded = Arc::new(AtomicUsize::new(0));
        let count = embedded.clone();
        let server = runtime
            .block_on(MockServer::start_with_rule(move |request| {
                if request.is_embeddings() {
                    count.fetch_add(1, Ordering::SeqCst);
                    return embeddings(request);
                }
                chat(chats.fetch_add(1, Ordering::SeqCst))
            }))
            .unwrap_or_else(|e| panic!("mock server: {e}"));
        Server {
            server,
            embedded,
            _runtime: runtime,
        }
    }

    /// The [`alternate`] schedule with [`bag_of_tokens_embedding`]s of the input.
    fn embedding() -> Server {
        Server::start(alternate, embed)
    }

    fn base_url(&self) -> String {
        self.server.base_url()
    }

    fn embeddings_requests(&self) -> usize {
        self.embedded.load(Ordering::SeqCst)
    }
}

fn run_args(llm: &str, base_url: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--llm",
        llm,
        "--base-url",
        base_url,
        "--model",
        MODEL,
        "--budget-evals",
        "2",
        "--concurrency",
        "1",
        "--seed",
        "3",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

const WITH_EMBEDDINGS: [&str; 4] = ["--novelty", "0.95", "--embeddings-model", EMBEDDINGS];

/// What must match between a run and its replay: per node, status and rejection.
fn shape(nodes: &[NodeRecord]) -> Vec<(String, String, serde_json::Value)> {
    nodes
        .iter()
        .map(|n| {
            (
                n.operator.clone(),
                n.evaluation.status.clone(),
                n.evaluation.metrics["novelty"].clone(),
            )
        })
        .collect()
}

/// Checks a run of the schedule: the seed, the near-copy rejected (naming the seed), the
/// distinct program evaluated.
fn check_rejection(work: &Work, outcome: &serde_json::Value) -> Vec<NodeRecord> {
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert_eq!(int(outcome, "evaluations"), 2, "{outcome:#}");
    assert_eq!(int(outcome, "rejected"), 1, "{outcome:#}");
    let nodes = super::assert_tree_integrity(work, int(outcome, "run"));
    assert_eq!(nodes.len(), 3, "{nodes:#?}");
    let (seed, rejected, evaluated) = (&nodes[0], &nodes[1], &nodes[2]);
    assert_eq!(seed.evaluation.status, "ok");
    assert_eq!(rejected.evaluation.status, REJECTED_NOVELTY);
    assert!(!rejected.evaluation.valid);
    assert_eq!(rejected.evaluation.score, None);
    assert_eq!(rejected.evaluation.fuel, None, "the near-copy never ran");
    assert!(
        rejected
            .files
            .values()
            .any(|code| code.contains("The same program")),
        "{rejected:#?}"
    );
    let novelty = &rejected.evaluation.metrics["novelty"];
    assert_eq!(novelty["neighbour"], seed.id.0, "{novelty:#}");
    let similarity = novelty["similarity"].as_f64().unwrap_or_default();
    assert!((0.95..=1.0).contains(&similarity), "{novelty:#}");
    assert!(
        rejected
            .evaluation
            .feedback
            .contains(&format!("similar to node {}", seed.id.0)),
        "{}",
        rejected.evaluation.feedback
    );
    assert_eq!(
        evaluated.evaluation.status, "ok",
        "{:#?}",
        evaluated.evaluation
    );
    assert!(
        evaluated
            .files
            .values()
            .any(|code| code.contains("total += x"))
    );
    nodes
}

#[test]
fn the_mock_embeddings_tell_the_near_copy_from_the_distinct_program() {
    let cosine = |a: &str, b: &str| {
        let (x, y) = (
            bag_of_tokens_embedding(a, DIMENSIONS),
            bag_of_tokens_embedding(b, DIMENSIONS),
        );
        let dot: f32 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        let norm = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>().sqrt();
        dot / (norm(&x) * norm(&y))
    };
    assert!(cosine(&seed_source(), &near_copy()) >= 0.95);
    assert!(cosine(&seed_source(), DISTINCT) < 0.95);
}

#[test]
fn a_near_copy_is_rejected_by_embeddings_and_its_replay_needs_no_server() {
    let server = Server::embedding();
    let work = Work::new();
    let cassette = work.path().join("novelty.jsonl");
    let record = format!("record:{}", cassette.display());
    let outcome = work.run_json(&run_args(&record, &server.base_url(), &WITH_EMBEDDINGS));
    let recorded = check_rejection(&work, &outcome);
    let run = int(&outcome, "run");
    // The seed, the near-copy and the distinct program: each embedded once, and stored.
    assert_eq!(server.embeddings_requests(), 3);
    let stored = work.read(async |store| {
        store
            .run_embeddings(RunId(run), EMBEDDINGS)
            .await
            .unwrap_or_else(|e| panic!("run_embeddings: {e}"))
    });
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|(_, v)| v.len() == DIMENSIONS));
    let config = work.read(async |store| {
        store
            .get_run(RunId(run))
            .await
            .unwrap_or_else(|e| panic!("get_run: {e}"))
            .config
    });
    assert_eq!(config["novelty"]["threshold"], 0.95, "{config:#}");
    assert_eq!(
        config["novelty"]["embeddings"]["model"], EMBEDDINGS,
        "{config:#}"
    );
    let summary = work.hone(&["status", &run.to_string()]);
    assert_success(&summary, "hone status");
    assert!(
        stdout(&summary).contains(REJECTED_NOVELTY),
        "{}",
        stdout(&summary)
    );
    assert!(
        stdout(&summary).contains("rejected     1"),
        "{}",
        stdout(&summary)
    );

    // The same schedule again in the same store: every content was embedded before.
    let again = work.path().join("again.jsonl");
    let outcome = work.run_json(&run_args(
        &format!("record:{}", again.display()),
        &server.base_url(),
        &WITH_EMBEDDINGS,
    ));
    check_rejection(&work, &outcome);
    assert_eq!(
        server.embeddings_requests(),
        3,
        "the same code is never embedded twice"
    );

    // Replays into fresh stores, from either cassette, against no server at all. The second
    // run's prompts name its node ids (not those of a fresh store's run), so its chat
    // replies are replayed in order; its embeddings, all served from the store's cache, are
    // in its cassette too.
    let requests = server.server.request_count();
    for replay in [
        format!("replay:{}", cassette.display()),
        format!("replay-seq:{}", again.display()),
    ] {
        let fresh = Work::new();
        let outcome = fresh.run_json(&run_args(
            &replay,
            "http://127.0.0.1:9/v1",
            &WITH_EMBEDDINGS,
        ));
        assert_eq!(outcome["replayed"], true);
        let replayed = check_rejection(&fresh, &outcome);
        assert_eq!(shape(&replayed), shape(&recorded), "{replay}");
    }
    assert_eq!(
        server.server.request_count(),
        requests,
        "replays asked the server nothing"
    );
}

#[test]
fn without_embeddings_token_shingles_reject_the_near_copy() {
    let server = Server::embedding();
    let work = Work::new();
    let outcome = work.run_json(&run_args(
        "openai",
        &server.base_url(),
        &["--novelty", "0.9"],
    ));
    let nodes = check_rejection(&work, &outcome);
    let method = nodes[1].evaluation.metrics["novelty"]["method"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(method.contains("shingles"), "{method}");
    assert_eq!(server.embeddings_requests(), 0, "shingles need no model");
    // The report says why the node was not evaluated.
    let run = int(&outcome, "run").to_string();
    let report = work.path().join("report.html");
    let output = work.hone(&["report", &run, "-o", &report.display().to_string()]);
    assert_success(&output, "hone report");
    let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{e}"));
    let said = format!("similar to #{})", nodes[0].id.0);
    assert!(
        html.contains(REJECTED_NOVELTY) && html.contains(&said),
        "{said}"
    );
}

#[test]
fn the_builtin_tuner_with_novelty_rejects_its_near_copies_without_a_model() {
    // The tuner changes two constants of pair-count's seed: every candidate is a near-copy.
    let work = Work::new();
    let output = work.hone(&[
        "run",
        "pair-count",
        "--llm",
        "builtin",
        "--json",
        "--budget-evals",
        "10",
        "--novelty",
        "0.8",
    ]);
    assert_success(&output, "hone run pair-count --llm builtin --novelty 0.8");
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON outcome ({e}): {}", stdout(&output)));
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert_eq!(
        int(&outcome, "evaluations"),
        1,
        "only the seed ran: {outcome:#}"
    );
    // 20 steps in a row without an evaluation stop the run (a tuner may also repeat itself).
    let rejected = int(&outcome, "rejected");
    assert!(rejected >= 1, "{outcome:#}");
    assert_eq!(rejected + int(&outcome, "duplicates"), 20, "{outcome:#}");
    let reason = outcome["stop_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("too similar to a valid node"), "{reason}");
    let nodes = work.nodes(int(&outcome, "run"));
    let seed = nodes[0].id.0;
    for node in nodes[1..].iter().filter(|n| n.duplicate_of.is_none()) {
        assert_eq!(node.evaluation.status, REJECTED_NOVELTY, "{node:#?}");
        assert_eq!(node.evaluation.metrics["novelty"]["neighbour"], seed);
        assert!(node.evaluation.fuel.is_none());
    }
}

/// A run whose embeddings endpoint answers `response`: stops before any evaluation, its
/// reason naming the endpoint.
fn failing_embeddings(response: MockResponse, extra: &[&str]) -> (serde_json::Value, String) {
    let server = Server::start(alternate, move |_| response.clone());
    let work = Work::new();
    let mut args: Vec<String> = vec!["run".into(), FIXTURE.into(), "--json".into()];
    args.extend(run_args("openai", &server.base_url(), &WITH_EMBEDDINGS));
    args.extend(extra.iter().map(|a| a.to_string()));
    let output = work.hone(&args);
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON outcome ({e}): {}", super::stderr(&output)));
    assert_eq!(int(&outcome, "evaluations"), 0, "{outcome:#}");
    let reason = outcome["stop_reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let endpoint = format!("embeddings endpoint {}/embeddings", server.base_url());
    assert!(reason.contains(&endpoint), "{reason}");
    (outcome, reason)
}

#[test]
fn an_embeddings_endpoint_that_is_not_there_fails_the_run_naming_it() {
    let (outcome, reason) = failing_embeddings(MockResponse::error(404, "no such route"), &[]);
    assert_eq!(outcome["status"], "failed", "{outcome:#}");
    assert!(
        reason.contains("HTTP 404") && reason.contains("no such route"),
        "{reason}"
    );
    assert!(reason.contains("hint: check --embeddings-url"), "{reason}");
}

#[test]
fn an_embeddings_endpoint_that_answers_garbage_fails_the_run_naming_it() {
    let (outcome, reason) =
        failing_embeddings(MockResponse::raw(200, "<html>not an API</html>"), &[]);
    assert_eq!(outcome["status"], "failed", "{outcome:#}");
    assert!(reason.contains("not an embeddings list"), "{reason}");
}

#[test]
fn an_embeddings_endpoint_that_stays_down_interrupts_the_run_naming_it() {
    let (outcome, reason) = failing_embeddings(
        MockResponse::error(500, "embedder crashed"),
        &["--model-patience", "1s"],
    );
    assert_eq!(outcome["status"], "interrupted", "{outcome:#}");
    assert!(
        reason.contains("HTTP 500") && reason.contains("embedder crashed"),
        "{reason}"
    );
}

#[test]
fn novelty_settings_are_checked() {
    let work = Work::new();
    for (args, expected) in [
        (vec!["--novelty", "1.5"], "--novelty 1.5"),
        (vec!["--novelty", "0"], "--novelty 0"),
        (
            vec!["--embeddings-model", EMBEDDINGS],
            "--embeddings-model and --embeddings-url need --novelty",
        ),
    ] {
        let mut all = vec!["run", FIXTURE, "--llm", "builtin", "--budget-evals", "3"];
        all.extend(args);
        let output = work.hone(&all);
        assert!(!output.status.success(), "{}", stdout(&output));
        let err = super::stderr(&output);
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn resume_keeps_novelty_and_compares_with_the_nodes_of_the_first_segment() {
    // A near-copy, then the model goes down (the run is interrupted), then another
    // near-copy and the distinct program.
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let switch = down.clone();
    let served = AtomicUsize::new(0);
    let server = Server::start(
        move |_| {
            if switch.load(Ordering::SeqCst) && served.load(Ordering::SeqCst) >= 1 {
                return MockResponse::error(503, "the model is down");
            }
            match served.fetch_add(1, Ordering::SeqCst) {
                0 => MockResponse::completion(&code_reply("Tidier.", &near_copy())),
                1 => MockResponse::completion(&code_reply("Tidier.", &other_near_copy())),
                _ => MockResponse::completion(&code_reply("Sum while reading.", DISTINCT)),
            }
        },
        embed,
    );
    let work = Work::new();
    let mut args: Vec<String> = vec!["run".into(), FIXTURE.into(), "--json".into()];
    args.extend(run_args("openai", &server.base_url(), &WITH_EMBEDDINGS));
    args.extend(["--model-patience".to_string(), "1s".to_string()]);
    let output = work.hone(&args);
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON outcome ({e}): {}", super::stderr(&output)));
    assert_eq!(outcome["status"], "interrupted", "{outcome:#}");
    assert_eq!(int(&outcome, "rejected"), 1, "{outcome:#}");
    let run = int(&outcome, "run");
    assert_eq!(server.embeddings_requests(), 2);

    down.store(false, Ordering::SeqCst);
    let output = work.hone(&["resume", &run.to_string(), "--json"]);
    assert_success(&output, "hone resume");
    let resumed: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON outcome ({e}): {}", stdout(&output)));
    assert_eq!(resumed["status"], "finished", "{resumed:#}");
    assert_eq!(int(&resumed, "evaluations"), 2, "{resumed:#}");
    assert_eq!(int(&resumed, "rejected"), 2, "{resumed:#}");
    let nodes = super::assert_tree_integrity(&work, run);
    let statuses: Vec<&str> = nodes.iter().map(|n| n.evaluation.status.as_str()).collect();
    assert_eq!(statuses, ["ok", REJECTED_NOVELTY, REJECTED_NOVELTY, "ok"]);
    // The second near-copy met the seed through the index rebuilt from the store.
    assert_eq!(
        nodes[2].evaluation.metrics["novelty"]["neighbour"],
        nodes[0].id.0
    );
    // The seed's embedding was read back, not asked again.
    assert_eq!(server.embeddings_requests(), 4);
}
