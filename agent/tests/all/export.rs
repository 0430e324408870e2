//! `hone export`'s JSON lines, byte for byte: a small run with siblings, a failed compile, a
//! reply that did not parse, a duplicate, a call without a system prompt and text that needs
//! escaping, exported in every format and compared with the files in
//! `tests/fixtures/export/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hone_agent::export::{ExportFormat, ExportOptions};
use hone_store::{
    Budgets, LineageLocation, LlmCallId, NewEvaluation, NewLlmCall, NewNode, NewRun, NodeId, RunId,
    Store, StoreConfig, Timestamp,
};

fn t(ms: i64) -> Timestamp {
    Timestamp(1_700_000_000_000 + ms)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/export")
        .join(name)
}

fn evaluation(score: f64, valid: bool) -> NewEvaluation {
    NewEvaluation {
        status: if valid { "ok" } else { "wrong_answer" }.into(),
        valid,
        score,
        metrics: serde_json::json!({"fuel": 1234, "cases": 3}),
        feedback: format!("score {score}"),
        trace: serde_json::json!([{"case": 1, "ok": valid}]),
        fuel: Some(1234),
        wall_ms: Some(1.5),
    }
}

/// Writes a model call (with `system` as its system prompt) and the node its reply became.
struct Writer {
    store: Store,
    run: RunId,
    clock: i64,
}

impl Writer {
    async fn call(
        &mut self,
        parent: Option<NodeId>,
        system: &str,
        prompt: &str,
        reply: &str,
    ) -> LlmCallId {
        self.clock += 10;
        let call = NewLlmCall {
            run: self.run,
            parent,
            operator: if parent.is_some() { "improve" } else { "draft" }.into(),
            model: "test-model".into(),
            system: system.into(),
            prompt: prompt.into(),
            reply: Some(reply.into()),
            tokens_in: 100,
            tokens_out: 20,
            tokens_estimated: false,
            cost_dollars: 0.01,
            latency_ms: 250.0,
            error: None,
            replayed: false,
            attempt: 1,
            created_at: t(self.clock),
        };
        self.store
            .record_llm_call(&call)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn node(
        &mut self,
        parent: Option<NodeId>,
        prompt: &str,
        reply: &str,
        evaluation: NewEvaluation,
        duplicate_of: Option<NodeId>,
    ) -> NodeId {
        let call = self
            .call(parent, "You optimize programs.", prompt, reply)
            .await;
        self.clock += 10;
        let node = NewNode {
            run: self.run,
            parent,
            operator: if parent.is_some() { "improve" } else { "draft" }.into(),
            tree: Some(0),
            island: None,
            depth: if parent.is_some() { 1 } else { 0 },
            files: BTreeMap::from([("main.rs".to_string(), reply.to_string())]),
            values: serde_json::json!({"alpha": 0.5}),
            content_hash: format!("hash-{reply}"),
            duplicate_of,
            llm_call: Some(call),
            created_at: t(self.clock),
        };
        self.store
            .insert_node(&node, &evaluation)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

async fn sample_run(dir: &Path) -> (Store, RunId) {
    let mut config = StoreConfig::new(dir.join("hone.db").display().to_string());
    config.lineage = LineageLocation::Disabled;
    let store = Store::open_with(config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let run = store
        .create_run(&NewRun {
            task_name: "sum".into(),
            task_dir: "tasks/library/efficiency/sum".into(),
            task_hash: "taskhash".into(),
            kind: "efficiency".into(),
            config: serde_json::json!({"strategy": {"name": "greedy"}}),
            seed: 1,
            strategy: "greedy".into(),
            budgets: Budgets::default(),
            started_at: t(0),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut w = Writer {
        store: store.clone(),
        run,
        clock: 0,
    };
    let seed = w
        .node(None, "draft it", "SEED", evaluation(1.0, true), None)
        .await;
    let a = w
        .node(
            Some(seed),
            "improve seed",
            "A: \"quoted\"\n\ttabbed — ünïcödé",
            evaluation(2.0, true),
            None,
        )
        .await;
    w.node(Some(seed), "improve seed", "B", evaluation(1.5, true), None)
        .await;
    let mut compile = evaluation(f64::NAN, false);
    compile.status = "compile_error".into();
    w.node(Some(seed), "improve seed", "C", compile, None).await;
    w.node(Some(a), "improve a", "D", evaluation(1.9, true), None)
        .await;
    // A duplicate of B: left out of SFT and of sibling pairs.
    w.node(
        Some(seed),
        "improve seed",
        "B again",
        evaluation(1.5, true),
        Some(a),
    )
    .await;
    // A reply to the same prompt as A that did not parse.
    let garbage = w
        .call(
            Some(seed),
            "You optimize programs.",
            "improve seed",
            "GARBAGE",
        )
        .await;
    store
        .set_llm_call_parse_error(garbage, "no code block")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A call with no system prompt whose node beat its parent.
    let bare = w.call(Some(a), "", "improve a, briefly", "E").await;
    w.clock += 10;
    let node = NewNode {
        run,
        parent: Some(a),
        operator: "improve".into(),
        tree: Some(0),
        island: None,
        depth: 2,
        files: BTreeMap::from([("main.rs".to_string(), "E".to_string())]),
        values: serde_json::json!({}),
        content_hash: "hash-E".into(),
        duplicate_of: None,
        llm_call: Some(bare),
        created_at: t(w.clock),
    };
    store
        .insert_node(&node, &evaluation(3.0, true))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (store, run)
}

async fn export(
    store: &Store,
    run: RunId,
    format: ExportFormat,
    options: &ExportOptions,
) -> String {
    let mut out = Vec::new();
    let stats = hone_agent::export::export(store, run, format, options, &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.records, text.lines().count());
    text
}

/// Compares `actual` with the fixture `name`; on a difference, names a file holding the
/// actual text.
fn assert_fixture(name: &str, actual: &str) {
    let expected = std::fs::read_to_string(fixture(name)).unwrap_or_default();
    if expected != actual {
        let path = std::env::temp_dir().join(format!("hone-export-actual-{name}"));
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{e}"));
        panic!(
            "export `{name}` differs from tests/fixtures/export/{name}; the actual output is in {}",
            path.display()
        );
    }
}

#[tokio::test]
async fn exports_are_byte_for_byte_the_recorded_lines() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (store, run) = sample_run(dir.path()).await;
    let default = ExportOptions::default();
    let sft = export(&store, run, ExportFormat::Sft, &default).await;
    assert_fixture("sft.jsonl", &sft);
    let strict = ExportOptions {
        min_gain: 0.75,
        min_gap: 1.0,
        max_pairs_per_group: 2,
    };
    let sft_strict = export(&store, run, ExportFormat::Sft, &strict).await;
    assert_fixture("sft-strict.jsonl", &sft_strict);
    let dpo = export(&store, run, ExportFormat::Dpo, &default).await;
    assert_fixture("dpo.jsonl", &dpo);
    let dpo_strict = export(&store, run, ExportFormat::Dpo, &strict).await;
    assert_fixture("dpo-strict.jsonl", &dpo_strict);
    let trajectories = export(&store, run, ExportFormat::Trajectories, &default).await;
    assert_fixture("trajectories.jsonl", &trajectories);
    // SFT: the replies whose node beat its parent (not the duplicate, not the failures).
    let replies: Vec<String> = sft
        .lines()
        .map(|l| {
            let line: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}"));
            let messages = line["messages"].as_array().cloned().unwrap_or_default();
            messages
                .last()
                .map(|m| m["content"].to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert!(
        replies[1] == "\"B\"" && replies[2] == "\"E\"",
        "{replies:?}"
    );
    // The fixtures are not trivially empty.
    for text in [&sft, &sft_strict, &dpo, &dpo_strict, &trajectories] {
        assert!(!text.is_empty());
    }
    assert!(sft_strict.lines().count() < sft.lines().count());
    assert!(dpo_strict.lines().count() < dpo.lines().count());
    store.close().await;
}
