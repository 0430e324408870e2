//! `hone bench` and the grid and Tsallis-INF proposers, through the binary: results tables
//! read back and checked (mean rank recomputed here), reruns skip finished rows, a SIGKILLed
//! bench resumes each row exactly once, bad suites are refused with the file and field named,
//! and the baselines find a good SOR factor and resume to the run an uninterrupted one makes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hone_store::{RunId, RunRecord, RunStatus};

use crate::orchestrator::{MockModel, Work, assert_success, assert_tree_integrity, int, stderr};
use hone_agent::testing::MockResponse;

fn params_task(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tasks/library/params")
        .join(name)
}

/// Writes `suite.toml` into the work folder; `{sor}` and `{trace}` name the bundled tasks.
fn write_suite(work: &Work, text: &str) -> PathBuf {
    let text = text
        .replace("{sor}", &params_task("sor").display().to_string())
        .replace(
            "{trace}",
            &params_task("trace-numeric").display().to_string(),
        );
    let path = work.path().join("suite.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write suite: {e}"));
    path
}

fn runs(work: &Work) -> Vec<RunRecord> {
    if !work.store().exists() {
        return Vec::new();
    }
    work.read(async |store| {
        store
            .list_runs()
            .await
            .unwrap_or_else(|e| panic!("list_runs: {e}"))
    })
}

/// Runs `hone bench SUITE -o WORK/out`, which must succeed; the runs it stored.
fn bench_runs(work: &Work, suite: &Path) -> Vec<RunRecord> {
    let suite_arg = suite.display().to_string();
    let out_arg = work.path().join("out").display().to_string();
    let output = work.hone(&["bench", &suite_arg, "-o", &out_arg]);
    assert_success(&output, "hone bench");
    runs(work)
}

fn label(run: &RunRecord) -> String {
    run.config["label"].as_str().unwrap_or_default().to_string()
}

const SMALL: &str = r#"
[suite]
name = "small"
description = "two params tasks, two proposers, two seeds"
budget_evals = 4
seeds = [1, 2]

[[tasks]]
path = "{sor}"

[[tasks]]
path = "{trace}"
budget_evals = 3

[[proposers]]
name = "nm"
kind = "builtin"
method = "nelder_mead"

[[proposers]]
name = "grid"
kind = "grid"

[[proposers]]
name = "model"
kind = "llm"
optional = true
"#;

/// Splits a CSV line without quoted fields (none of the small suite's fields need quotes).
fn fields(line: &str) -> Vec<String> {
    line.split(',').map(String::from).collect()
}

#[test]
fn a_small_suite_writes_its_tables_and_a_rerun_skips_every_row() {
    let work = Work::new();
    let suite = write_suite(&work, SMALL);
    let out = work.path().join("out");
    let suite_arg = suite.display().to_string();
    let out_arg = out.display().to_string();
    let output = work.hone(&["bench", &suite_arg, "-o", &out_arg]);
    assert_success(&output, "hone bench");
    let log = stderr(&output);
    // The optional model proposer is skipped with a note (no model configured).
    assert!(log.contains("proposer `model` skipped"), "{log}");

    // CSV: one line per row, every row a finished run of its own.
    let csv = std::fs::read_to_string(out.join("results.csv"))
        .unwrap_or_else(|e| panic!("results.csv: {e}"));
    let mut lines = csv.lines();
    let header = fields(lines.next().unwrap_or_default());
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let rows: Vec<Vec<String>> = lines.map(fields).collect();
    assert_eq!(rows.len(), 2 * 2 * 2, "{csv}");
    let stored = runs(&work);
    assert_eq!(stored.len(), rows.len());
    for row in &rows {
        let run: i64 = row[col("run")].parse().unwrap_or(-1);
        let record = stored
            .iter()
            .find(|r| r.id.0 == run)
            .unwrap_or_else(|| panic!("run {run} not in the store"));
        assert_eq!(record.status, RunStatus::Finished);
        assert_eq!(
            label(record),
            format!("bench:small:{}", row[col("key")]),
            "the run is labelled with its row"
        );
        let task = &row[col("task")];
        let evals: i64 = row[col("evaluations")].parse().unwrap_or(-1);
        assert_eq!(evals, if task == "sor" { 4 } else { 3 }, "{row:?}");
        assert_eq!(row[col("llm_calls")], "0");
        // sor has held-out data, trace-numeric has none (its public score stands in).
        assert_eq!(
            row[col("score_basis")],
            if task == "sor" {
                "private"
            } else {
                "no_held_out_cases"
            },
            "{row:?}"
        );
        let private: f64 = row[col("private_score")].parse().unwrap_or(f64::NAN);
        let public: f64 = row[col("public_score")].parse().unwrap_or(f64::NAN);
        if task != "sor" {
            assert_eq!(private, public, "{row:?}");
        }
        let summary = work.summary(run);
        assert_eq!(
            Some((private, public)),
            summary.best.as_ref().map(|b| (b.score, b.public_score))
        );
    }

    // Mean rank, recomputed: within each (task, seed), rank by private score (ties averaged).
    let mut groups: BTreeMap<(String, String), Vec<(String, f64)>> = BTreeMap::new();
    for row in &rows {
        groups
            .entry((row[col("task")].clone(), row[col("seed")].clone()))
            .or_default()
            .push((
                row[col("proposer")].clone(),
                row[col("private_score")]
                    .parse()
                    .unwrap_or(f64::NEG_INFINITY),
            ));
    }
    let mut ranks: HashMap<String, Vec<f64>> = HashMap::new();
    for members in groups.values() {
        for (name, score) in members {
            let better = members.iter().filter(|(_, s)| s > score).count() as f64;
            let ties = members.iter().filter(|(_, s)| s == score).count() as f64;
            ranks
                .entry(name.clone())
                .or_default()
                .push(better + (ties + 1.0) / 2.0);
        }
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results.json"))
            .unwrap_or_else(|e| panic!("results.json: {e}")),
    )
    .unwrap_or_else(|e| panic!("results.json: {e}"));
    assert_eq!(json["rows"].as_array().map(|r| r.len()), Some(rows.len()));
    let aggregates = json["aggregates"].as_array().cloned().unwrap_or_default();
    assert_eq!(aggregates.len(), 2, "{json:#}");
    for a in &aggregates {
        let name = a["proposer"].as_str().unwrap_or_default();
        let mine = &ranks[name];
        let expected = mine.iter().sum::<f64>() / mine.len() as f64;
        let got = a["mean_rank"].as_f64().unwrap_or(f64::NAN);
        assert!((got - expected).abs() < 1e-9, "{name}: {got} vs {expected}");
        // Mean private and public score per task over the seeds.
        for task in ["sor", "trace-numeric"] {
            for (column, field) in [
                ("private_score", "mean_private"),
                ("public_score", "mean_public"),
            ] {
                let scores: Vec<f64> = rows
                    .iter()
                    .filter(|r| r[col("proposer")] == name && r[col("task")] == task)
                    .map(|r| r[col(column)].parse().unwrap_or(f64::NAN))
                    .collect();
                let mean = scores.iter().sum::<f64>() / scores.len() as f64;
                let got = a[field][task].as_f64().unwrap_or(f64::NAN);
                assert!(
                    (got - mean).abs() < 1e-9 * mean.abs().max(1.0),
                    "{task} {field}"
                );
            }
        }
    }
    // The markdown on stdout is the file's, with the aggregates table.
    let md = std::fs::read_to_string(out.join("results.md"))
        .unwrap_or_else(|e| panic!("results.md: {e}"));
    assert_eq!(String::from_utf8_lossy(&output.stdout), md);
    assert!(md.contains("| task | strategy | proposer | seed | private | public |"));
    assert!(md.contains("mean rank"));
    assert_eq!(md.matches("| trace-numeric | greedy |").count(), 4, "{md}");

    // A rerun runs nothing: every row is found finished in the store.
    let again = work.hone(&["bench", &suite_arg, "-o", &out_arg, "--json"]);
    assert_success(&again, "hone bench (rerun)");
    assert_eq!(runs(&work).len(), rows.len(), "a rerun created runs");
    let report: serde_json::Value =
        serde_json::from_slice(&again.stdout).unwrap_or_else(|e| panic!("--json: {e}"));
    assert_eq!(int(&report, "skipped"), 8, "{report:#}");
    assert_eq!(int(&report, "created"), 0);
    assert_eq!(report["aggregates"], json["aggregates"]);
}

const LONGER: &str = r#"
[suite]
name = "longer"
budget_evals = 40
seeds = [1, 2]

[[tasks]]
path = "{sor}"

[[proposers]]
name = "grid"
kind = "grid"

[[proposers]]
name = "tsallis"
kind = "tsallis"
"#;

#[test]
fn a_killed_bench_resumes_and_runs_each_row_once() {
    let work = Work::new();
    let suite = write_suite(&work, LONGER);
    let suite_arg = suite.display().to_string();
    let args = ["bench", suite_arg.as_str(), "--concurrency", "2"];
    let mut child = work.spawn(&args);
    // Kill once the second pair of rows has started (two rows done, two in flight).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the bench ended ({status}) before it could be killed");
        }
        let stored = runs(&work);
        let started_late = stored.iter().any(|r| r.id.0 >= 3)
            && stored
                .iter()
                .filter(|r| r.id.0 >= 3)
                .all(|r| r.status == RunStatus::Running);
        if started_late && !work.nodes(3).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the bench did not progress");
        std::thread::sleep(Duration::from_millis(30));
    }
    child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
    let _ = child.wait();
    let before = runs(&work);
    let unfinished: Vec<i64> = before
        .iter()
        .filter(|r| r.status != RunStatus::Finished)
        .map(|r| r.id.0)
        .collect();
    assert!(!unfinished.is_empty(), "every row finished before the kill");
    let nodes_before: HashMap<i64, usize> = unfinished
        .iter()
        .map(|&r| (r, work.nodes(r).len()))
        .collect();

    let output = work.hone(&args);
    assert_success(&output, "hone bench (resumed)");
    let log = stderr(&output);
    for run in &unfinished {
        assert!(log.contains(&format!("resuming run {run}")), "{log}");
    }
    let after = runs(&work);
    assert_eq!(after.len(), 4, "each row has exactly one run");
    let mut labels: Vec<String> = after.iter().map(label).collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), 4, "{labels:?}");
    for run in &after {
        assert_eq!(run.status, RunStatus::Finished, "run {}", run.id.0);
        let summary = work.summary(run.id.0);
        assert_eq!(summary.spend.evaluations, 40, "run {}", run.id.0);
        // Rows ran side by side, so node ids interleave across runs: check what matters.
        let nodes = work.nodes(run.id.0);
        let ids: Vec<i64> = nodes.iter().map(|n| n.id.0).collect();
        let mut hashes = std::collections::HashSet::new();
        for node in &nodes {
            if node.duplicate_of.is_none() {
                assert!(hashes.insert(node.content_hash.clone()), "evaluated twice");
            }
            if let Some(parent) = node.parent {
                assert!(ids.contains(&parent.0) && parent.0 < node.id.0);
            }
        }
        assert_eq!(nodes.iter().filter(|n| n.operator == "seed").count(), 1);
        if let Some(&count) = nodes_before.get(&run.id.0) {
            assert!(nodes.len() >= count);
        }
    }
}

/// Runs `hone run sor --llm LLM` with `evals` evaluations; returns the outcome.
fn run_sor(work: &Work, llm: &str, evals: u32, seed: u32) -> serde_json::Value {
    let task = params_task("sor").display().to_string();
    let args: Vec<String> = [
        "run",
        task.as_str(),
        "--llm",
        llm,
        "--budget-evals",
        &evals.to_string(),
        "--seed",
        &seed.to_string(),
        "--json",
    ]
    .map(String::from)
    .to_vec();
    let output = work.hone(&args);
    assert_success(&output, &args.join(" "));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"))
}

fn omegas(work: &Work, run: i64) -> Vec<f64> {
    work.nodes(run)
        .iter()
        .map(|n| n.values["omega"].as_f64().unwrap_or(f64::NAN))
        .collect()
}

#[test]
fn grid_and_tsallis_find_a_good_relaxation_factor() {
    for llm in ["grid", "tsallis"] {
        let work = Work::new();
        let outcome = run_sor(&work, llm, 12, 4);
        assert_eq!(int(&outcome, "evaluations"), 12, "{llm}: {outcome:#}");
        let run = int(&outcome, "run");
        let seed_score = outcome["seed_score"].as_f64().unwrap_or(f64::NAN);
        let best = outcome["best_score"].as_f64().unwrap_or(f64::NAN);
        // The seed is omega = 1 (Gauss-Seidel): the best beats it by a wide margin.
        assert!(
            best > 0.5 * seed_score,
            "{llm}: {best} vs seed {seed_score}"
        );
        let best_node = int(&outcome, "best_node");
        let omega = work
            .nodes(run)
            .iter()
            .find(|n| n.id.0 == best_node)
            .and_then(|n| n.values["omega"].as_f64())
            .unwrap_or(f64::NAN);
        assert!((1.5..=1.9).contains(&omega), "{llm}: best omega {omega}");
        // Every evaluation is a distinct omega within the bounds.
        let all = omegas(&work, run);
        assert!(all.iter().all(|w| (1.0..=1.99).contains(w)), "{all:?}");
    }
    // Deterministic from the seed: the same run twice visits the same omegas.
    let (a, b) = (Work::new(), Work::new());
    run_sor(&a, "tsallis", 8, 9);
    run_sor(&b, "tsallis", 8, 9);
    assert_eq!(omegas(&a, 1), omegas(&b, 1));
}

#[test]
fn grid_and_tsallis_resume_to_the_uninterrupted_run() {
    for llm in ["grid", "tsallis"] {
        let whole = Work::new();
        run_sor(&whole, llm, 40, 3);
        let reference = omegas(&whole, 1);

        let work = Work::new();
        let task = params_task("sor").display().to_string();
        let mut child = work.spawn(&[
            "run",
            task.as_str(),
            "--llm",
            llm,
            "--budget-evals",
            "40",
            "--seed",
            "3",
        ]);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{llm}: the run ended ({status}) before it could be killed");
            }
            if work.store().exists() && runs(&work).len() == 1 && work.nodes(1).len() >= 10 {
                break;
            }
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
        let _ = child.wait();
        let killed_at = work.nodes(1).len();
        assert!(killed_at < 40, "{llm}: killed after the end");
        let output = work.hone(&["resume", "1", "--json"]);
        assert_success(&output, "hone resume");
        assert_tree_integrity(&work, 1);
        assert_eq!(
            omegas(&work, 1),
            reference,
            "{llm}: killed after {killed_at} nodes, the resumed run differs"
        );
    }
}

#[test]
fn bad_suites_are_refused_naming_the_file_and_field() {
    let cases = [
        (
            SMALL.replace("budget_evals = 4", "budget_evals = 4\ncolour = \"red\""),
            "colour",
        ),
        (SMALL.replace("{trace}", "no-such-task"), "tasks[1].path"),
        (
            SMALL.replace("kind = \"grid\"", "kind = \"annealing\""),
            "annealing",
        ),
        (SMALL.replace("seeds = [1, 2]", "seeds = []"), "suite.seeds"),
        (
            SMALL.replace("optional = true", ""),
            "no model is configured",
        ),
        (
            SMALL.replace("method = \"nelder_mead\"", "method = \"simplex\""),
            "simplex",
        ),
    ];
    for (text, needle) in cases {
        let work = Work::new();
        let suite = write_suite(&work, &text);
        let output = work.hone(&["bench", &suite.display().to_string()]);
        assert!(!output.status.success(), "accepted: {needle}");
        let log = stderr(&output);
        assert!(log.contains(needle), "{needle}: {log}");
        assert!(log.contains("suite.toml"), "{needle}: {log}");
        assert!(runs(&work).is_empty(), "{needle}: a run started");
    }
    // A suite whose grid proposer meets a task without variables: refused before any run.
    let work = Work::new();
    let suite = write_suite(
        &work,
        &SMALL.replace(
            "{trace}",
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tasks/library/efficiency/range-sum")
                .display()
                .to_string(),
        ),
    );
    let output = work.hone(&["bench", &suite.display().to_string()]);
    assert!(!output.status.success());
    let log = stderr(&output);
    assert!(
        log.contains("range-sum") && log.contains("error: row"),
        "{log}"
    );
    assert!(runs(&work).is_empty(), "a run started: {log}");
    // A grid proposer on a task without variables: a clear error naming the task.
    let work = Work::new();
    let efficiency = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tasks/library/efficiency/range-sum")
        .display()
        .to_string();
    let output = work.hone(&["run", &efficiency, "--llm", "grid", "--budget-evals", "3"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no value variables"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn llm_rows_run_against_a_model_server() {
    // The mock answers each OPTO prompt with a new omega.
    let model = MockModel::with_replies(|_, n| {
        let omega = 1.5 + 0.01 * n as f64;
        MockResponse::completion(&format!(
            "{{\"reasoning\": \"try {omega}\", \"suggestion\": {{\"omega\": {omega}}}}}"
        ))
    });
    let work = Work::new();
    let text = format!(
        "[suite]\nname = \"m\"\nbudget_evals = 3\nseeds = [1]\nllm = \"openai\"\nbase_url = \"{}\"\n\n[[tasks]]\npath = \"{{sor}}\"\n\n[[proposers]]\nname = \"mock\"\nkind = \"llm\"\nmodel = \"mock-model\"\n",
        model.base_url()
    );
    let suite = write_suite(&work, &text);
    let output = work.hone(&["bench", &suite.display().to_string(), "--json"]);
    assert_success(&output, "hone bench (llm)");
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"));
    let row = &report["rows"][0];
    assert_eq!(int(row, "evaluations"), 3, "{report:#}");
    assert_eq!(int(row, "llm_calls"), 2, "{report:#}");
    assert!(int(row, "tokens") > 0);
    assert_eq!(row["llm"], "openai (mock-model)");
    assert!(!model.requests().is_empty());
    let run = work.read(async |store| store.get_run(RunId(1)).await.ok());
    assert!(run.is_some_and(|r| r.config["llm"]["base_url"] == model.base_url()));
}

#[test]
fn ctrl_c_stops_a_bench_cleanly_and_the_next_one_resumes() {
    let work = Work::new();
    let suite = write_suite(&work, LONGER);
    let suite_arg = suite.display().to_string();
    let args = ["bench", suite_arg.as_str()];
    let child = work.spawn(&args);
    let deadline = Instant::now() + Duration::from_secs(120);
    // Interrupt during the second row.
    while runs(&work).len() < 2 || work.nodes(2).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the bench did not reach its second row"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill -INT: {e}"));
    assert!(sent.success());
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("run `hone bench"),
        "{}",
        stderr(&output)
    );
    let stopped = runs(&work);
    assert_eq!(stopped.len(), 2, "no row starts after Ctrl-C");
    assert_eq!(stopped[0].status, RunStatus::Finished);
    assert_eq!(stopped[1].status, RunStatus::Interrupted);

    let again = work.hone(&args);
    assert_success(&again, "hone bench (after Ctrl-C)");
    assert!(
        stderr(&again).contains("resuming run 2"),
        "{}",
        stderr(&again)
    );
    let after = runs(&work);
    assert_eq!(after.len(), 4);
    for run in &after {
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!(work.summary(run.id.0).spend.evaluations, 40);
    }
}

#[test]
fn a_proposer_with_novelty_runs_its_rows_with_it() {
    let work = Work::new();
    let suite = write_suite(
        &work,
        r#"
[suite]
name = "novelty"
budget_evals = 3
seeds = [1]

[[tasks]]
path = "{sor}"

[[proposers]]
name = "nm"
kind = "builtin"
method = "nelder_mead"

[[proposers]]
name = "nm-novelty"
kind = "builtin"
method = "nelder_mead"
novelty = 0.9
"#,
    );
    let stored = bench_runs(&work, &suite);
    assert_eq!(stored.len(), 2);
    for run in &stored {
        let novelty = &run.config["novelty"];
        if label(run).contains("/nm-novelty/") {
            assert_eq!(novelty["threshold"], 0.9, "{:#}", run.config);
        } else {
            assert!(novelty.is_null(), "{:#}", run.config);
        }
        assert_eq!(run.status, RunStatus::Finished);
    }
}

#[test]
fn a_strategy_with_stop_rules_runs_its_rows_with_them() {
    let work = Work::new();
    let suite = write_suite(
        &work,
        r#"
[suite]
name = "stopping"
budget_evals = 4
seeds = [1]
strategies = ["greedy", { name = "greedy", label = "greedy-stop", stop_at = -1e9, stop_after_stale = 3 }]

[[tasks]]
path = "{sor}"

[[proposers]]
name = "nm"
kind = "builtin"
method = "nelder_mead"
"#,
    );
    let stored = bench_runs(&work, &suite);
    assert_eq!(stored.len(), 2);
    for run in &stored {
        assert_eq!(run.status, RunStatus::Finished);
        let nodes = work.read(async |store| {
            store
                .load_tree(run.id)
                .await
                .unwrap_or_else(|e| panic!("load_tree: {e}"))
        });
        if label(run).contains("/greedy-stop/") {
            assert_eq!(run.config["stop"]["target_score"], -1e9, "{:#}", run.config);
            assert_eq!(
                run.config["stop"]["stale_evaluations"], 3,
                "{:#}",
                run.config
            );
            // Any valid score reaches the target: the run ends after its seed.
            assert_eq!(nodes.len(), 1, "{:#}", run.config);
        } else {
            assert!(
                run.config["stop"].as_object().is_none_or(|o| o.is_empty()),
                "{:#}",
                run.config
            );
            // Four evaluations (and any duplicates beside them).
            assert!(nodes.len() >= 4, "{} nodes: {:#}", nodes.len(), run.config);
        }
    }
    // meta_every needs a model: with a builtin proposer the suite is refused.
    let refused = write_suite(
        &work,
        r#"
[suite]
name = "meta"
budget_evals = 4
seeds = [1]
strategies = [{ name = "greedy", meta_every = 5 }]

[[tasks]]
path = "{sor}"
"#,
    );
    let out_arg = work.path().join("out").display().to_string();
    let output = work.hone(&["bench", &refused.display().to_string(), "-o", &out_arg]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("meta_every") && message.contains("needs a model"),
        "{message}"
    );
}
