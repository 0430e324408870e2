//! `--strategy map-elites` and `--objectives` end to end: runs on the mock model and on the
//! bundled pair-count task with the builtin tuner, the settings kept by `hone resume`,
//! `hone best --pareto`, the report's grid and front, and specs refused with what is wrong.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hone_agent::testing::MockResponse;
use hone_store::{NodeRecord, RunId};

use super::{Ask, FIXTURE, MockModel, Work, assert_success, int, scheduled_reply, stderr, stdout};

/// The fixture seed's public fuel (`hone eval --json`).
fn seed_fuel(work: &Work) -> f64 {
    let seed = format!("{FIXTURE}/seed.c");
    let output = work.hone(&["eval", FIXTURE, &seed, "--json"]);
    assert_success(&output, "hone eval");
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("eval JSON: {e}"));
    value["public"]["fuel"]
        .as_f64()
        .unwrap_or_else(|| panic!("no public fuel in {value:#}"))
}

/// A grid over fuel (up to the seed's: the improvements spread over its bins) and code
/// length.
fn descriptors(work: &Work) -> String {
    format!("fuel:0..{}:8,code_len:0..4000:4", seed_fuel(work))
}

fn run_outcome(output: &std::process::Output, what: &str) -> serde_json::Value {
    assert_success(output, what);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{what}: no JSON outcome ({e}): {}", stdout(output)))
}

fn stored_config(work: &Work, run: i64) -> serde_json::Value {
    work.read(async |store| {
        store
            .get_run(RunId(run))
            .await
            .unwrap_or_else(|e| panic!("run {run}: {e}"))
            .config
    })
}

fn nodes(work: &Work, run: i64) -> Vec<NodeRecord> {
    work.read(async |store| {
        store
            .load_tree(RunId(run))
            .await
            .unwrap_or_else(|e| panic!("run {run}: {e}"))
    })
}

fn run_args(model: &MockModel, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into(), FIXTURE.into(), "--json".into()];
    args.extend(model.flags());
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

#[test]
fn map_elites_completes_a_run_and_the_report_shows_its_grid() {
    let model = MockModel::start(std::time::Duration::ZERO);
    let work = Work::new();
    let grid = descriptors(&work);
    let output = work.hone(&run_args(
        &model,
        &[
            "--strategy",
            "map-elites",
            "--descriptors",
            &grid,
            "--budget-evals",
            "10",
            "--seed",
            "3",
        ],
    ));
    let outcome = run_outcome(&output, "hone run --strategy map-elites");
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert_eq!(int(&outcome, "evaluations"), 10, "{outcome:#}");
    let run = int(&outcome, "run");
    let config = stored_config(&work, run);
    assert_eq!(config["strategy"]["name"], "map-elites", "{config:#}");
    let stored = &config["strategy"]["descriptors"];
    assert_eq!(stored[0]["measure"], "fuel", "{config:#}");
    assert_eq!(stored[0]["bins"], 8, "{config:#}");
    assert_eq!(stored[1]["measure"], "code_len", "{config:#}");
    // Every improve's parent was a cell's elite when it was planned: valid, and never a
    // duplicate.
    let stored_nodes = nodes(&work, run);
    let by_id: std::collections::HashMap<i64, &NodeRecord> =
        stored_nodes.iter().map(|n| (n.id.0, n)).collect();
    let improves: Vec<&NodeRecord> = stored_nodes
        .iter()
        .filter(|n| n.operator == "improve")
        .collect();
    assert!(improves.len() >= 5, "{} improves", improves.len());
    for node in improves {
        let parent = by_id[&node
            .parent
            .unwrap_or_else(|| panic!("an improve without parent"))
            .0];
        assert!(parent.evaluation.valid && parent.duplicate_of.is_none());
    }

    let report = work.path().join("report.html");
    let report_arg = report.display().to_string();
    let output = work.hone(&["report", &run.to_string(), "-o", &report_arg]);
    assert_success(&output, "hone report");
    let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("report: {e}"));
    assert!(
        html.contains("<h2>MAP-Elites grid</h2>"),
        "no grid in the report"
    );
    assert!(
        html.contains("cells occupied"),
        "no occupancy in the report"
    );
    assert!(html.contains("code_len ↓ / fuel →"), "the grid's axes");
    // The seed is valid: its cell shows it.
    assert!(html.contains(&format!("node {}", stored_nodes[0].id.0)));
}

#[test]
fn objectives_select_on_the_front_and_best_pareto_lists_it() {
    let model = MockModel::start(std::time::Duration::ZERO);
    let work = Work::new();
    let output = work.hone(&run_args(
        &model,
        &[
            "--strategy",
            "best-first",
            "--objectives",
            "score,fuel,code_len",
            "--budget-evals",
            "8",
        ],
    ));
    let outcome = run_outcome(&output, "hone run --objectives");
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert_eq!(int(&outcome, "evaluations"), 8, "{outcome:#}");
    let run = int(&outcome, "run");
    let config = stored_config(&work, run);
    let names: Vec<&str> = config["objectives"]
        .as_array()
        .unwrap_or_else(|| panic!("no objectives stored: {config:#}"))
        .iter()
        .filter_map(|o| o["measure"].as_str())
        .collect();
    assert_eq!(names, ["score", "fuel", "code_len"]);

    // The text listing names each objective's direction.
    let output = work.hone(&["best", &run.to_string(), "--pareto"]);
    assert_success(&output, "hone best --pareto");
    let text = stdout(&output);
    assert!(text.contains("Pareto front of"), "{text}");
    assert!(text.contains("score        higher is better"), "{text}");
    assert!(text.contains("fuel         lower is better"), "{text}");
    assert!(text.contains("code_len     lower is better"), "{text}");

    // The JSON front: every member valid, none dominated by a valid node, and every valid
    // node not on it dominated by a member (or equal to one).
    let output = work.hone(&["best", &run.to_string(), "--pareto", "--json"]);
    assert_success(&output, "hone best --pareto --json");
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("JSON: {e}"));
    assert_eq!(value["objectives"][1]["direction"], "min", "{value:#}");
    let stored = nodes(&work, run);
    let point = |n: &NodeRecord| {
        let code: usize = n.files.values().map(String::len).sum();
        [
            n.evaluation.score.unwrap_or(f64::NAN),
            -(n.evaluation.fuel.unwrap_or(i64::MAX) as f64),
            -(code as f64),
        ]
    };
    let valid: Vec<&NodeRecord> = stored
        .iter()
        .filter(|n| n.evaluation.valid && n.duplicate_of.is_none())
        .collect();
    let dominates = |a: &[f64; 3], b: &[f64; 3]| {
        a.iter().zip(b).all(|(x, y)| x >= y) && a.iter().zip(b).any(|(x, y)| x > y)
    };
    let front: Vec<i64> = value["front"]
        .as_array()
        .unwrap_or_else(|| panic!("{value:#}"))
        .iter()
        .map(|e| e["node"].as_i64().unwrap_or(-1))
        .collect();
    assert!(!front.is_empty(), "{value:#}");
    assert_eq!(int(&value, "nodes_compared"), valid.len() as i64);
    for n in &valid {
        let on_front = front.contains(&n.id.0);
        let beaten = valid.iter().any(|m| dominates(&point(m), &point(n)));
        assert_eq!(on_front, !beaten, "node {}: {value:#}", n.id.0);
    }
    let first = &value["front"][0]["values"];
    let member = valid
        .iter()
        .find(|n| n.id.0 == front[0])
        .unwrap_or_else(|| panic!("front member {} not valid", front[0]));
    assert_eq!(
        first["fuel"].as_f64(),
        member.evaluation.fuel.map(|f| f as f64)
    );

    // The report shows the front.
    let report = work.path().join("report.html");
    let report_arg = report.display().to_string();
    let output = work.hone(&["report", &run.to_string(), "-o", &report_arg]);
    assert_success(&output, "hone report");
    let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("report: {e}"));
    assert!(
        html.contains("<h2>Pareto front</h2>"),
        "no front in the report"
    );
    assert!(html.contains("fuel <small>(lower is better)</small>"));
}

#[test]
fn resume_keeps_the_grid_and_the_objectives() {
    // Three candidates, then the model goes down (the run is interrupted), then it answers
    // again.
    let down = Arc::new(AtomicBool::new(true));
    let served = Arc::new(AtomicUsize::new(0));
    let (switch, count) = (down.clone(), served.clone());
    let model = MockModel::with_replies(move |ask, n| {
        if matches!(ask, Ask::Candidate | Ask::Reask)
            && count.load(Ordering::SeqCst) >= 3
            && switch.load(Ordering::SeqCst)
        {
            return MockResponse::error(503, "the model is down");
        }
        count.fetch_add(1, Ordering::SeqCst);
        MockResponse::completion(&scheduled_reply(ask, n))
    });
    let work = Work::new();
    let grid = descriptors(&work);
    let output = work.hone(&run_args(
        &model,
        &[
            "--strategy",
            "map-elites",
            "--descriptors",
            &grid,
            "--objectives",
            "score,fuel",
            "--budget-evals",
            "9",
            "--model-patience",
            "1s",
        ],
    ));
    let first = run_outcome(&output, "hone run");
    assert_eq!(first["status"], "interrupted", "{first:#}");
    let run = int(&first, "run");
    let before = stored_config(&work, run);

    down.store(false, Ordering::SeqCst);
    let output = work.hone(&["resume", &run.to_string(), "--json"]);
    let resumed = run_outcome(&output, "hone resume");
    assert_eq!(resumed["status"], "finished", "{resumed:#}");
    assert_eq!(int(&resumed, "evaluations"), 9, "{resumed:#}");
    let after = stored_config(&work, run);
    assert_eq!(after["strategy"], before["strategy"]);
    assert_eq!(after["objectives"], before["objectives"]);
    assert_eq!(after["objectives"][1]["measure"], "fuel", "{after:#}");
    // The resumed segment planned from the rebuilt archive: its improves' parents are
    // valid nodes.
    for node in nodes(&work, run).iter().filter(|n| n.operator == "improve") {
        let parent = node.parent.unwrap_or_else(|| panic!("no parent"));
        let parent = nodes(&work, run)
            .into_iter()
            .find(|n| n.id == parent)
            .unwrap_or_else(|| panic!("parent missing"));
        assert!(
            parent.evaluation.valid,
            "node {} improved an invalid node",
            node.id.0
        );
    }
}

#[test]
fn map_elites_and_pareto_runs_complete_on_pair_count_with_the_builtin_tuner() {
    let work = Work::new();
    for extra in [
        &[
            "--strategy",
            "map-elites",
            "--descriptors",
            "fuel:0..8e8:6,code_len:0..4000:4",
        ][..],
        &["--strategy", "islands", "--objectives", "score,fuel"][..],
    ] {
        let mut args = vec![
            "run",
            "pair-count",
            "--llm",
            "builtin",
            "--budget-evals",
            "6",
            "--json",
        ];
        args.extend_from_slice(extra);
        let outcome = run_outcome(&work.hone(&args), &args.join(" "));
        assert_eq!(outcome["status"], "finished", "{outcome:#}");
        assert_eq!(int(&outcome, "evaluations"), 6, "{outcome:#}");
        assert_eq!(outcome["best_valid"], true, "{outcome:#}");
    }
    let output = work.hone(&["best", "2", "--pareto"]);
    assert_success(&output, "hone best 2 --pareto");
    assert!(stdout(&output).contains("Pareto front of"));
    // Run 1 had no objectives: --pareto says how to give some.
    let output = work.hone(&["best", "1", "--pareto"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("hone best 1 --pareto --objectives score,fuel"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn descriptors_from_task_toml_are_used_and_stored() {
    let work = Work::new();
    let task = work.path().join("task");
    std::fs::create_dir_all(task.join("tests")).unwrap_or_else(|e| panic!("{e}"));
    for entry in ["seed.c", "statement.md"] {
        std::fs::copy(format!("{FIXTURE}/{entry}"), task.join(entry))
            .unwrap_or_else(|e| panic!("{entry}: {e}"));
    }
    for set in ["visible", "hidden"] {
        let from = std::path::Path::new(FIXTURE).join("tests").join(set);
        let to = task.join("tests").join(set);
        std::fs::create_dir_all(&to).unwrap_or_else(|e| panic!("{e}"));
        for file in std::fs::read_dir(&from).unwrap_or_else(|e| panic!("{e}")) {
            let file = file.unwrap_or_else(|e| panic!("{e}")).path();
            std::fs::copy(&file, to.join(file.file_name().unwrap_or_default()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let manifest =
        std::fs::read_to_string(format!("{FIXTURE}/task.toml")).unwrap_or_else(|e| panic!("{e}"));
    let write = |extra: &str| {
        std::fs::write(task.join("task.toml"), format!("{manifest}\n{extra}"))
            .unwrap_or_else(|e| panic!("{e}"));
    };
    let task_arg = task.display().to_string();
    let model = MockModel::start(std::time::Duration::ZERO);
    let flags = model.flags();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            task_arg.as_str(),
            "--budget-evals",
            "2",
            "--strategy",
            "map-elites",
            "--json",
        ];
        args.extend(flags.iter().map(String::as_str));
        args.extend_from_slice(extra);
        work.hone(&args)
    };
    // No descriptors anywhere: refused, saying where to give them.
    write("");
    let output = run(&[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("map-elites needs at least one descriptor"));

    write("[search.map_elites]\ndescriptors = [\"code_len:0..5000:5\", \"fuel:0..1e9:3\"]\n");
    let outcome = run_outcome(&run(&[]), "hone run with task.toml descriptors");
    let config = stored_config(&work, int(&outcome, "run"));
    let stored = &config["strategy"]["descriptors"];
    assert_eq!(stored[0]["measure"], "code_len", "{config:#}");
    assert_eq!(stored[1]["bins"], 3, "{config:#}");

    // The command line wins over task.toml.
    let outcome = run_outcome(
        &run(&["--descriptors", "memory:0..1e8:4"]),
        "hone run --descriptors",
    );
    let config = stored_config(&work, int(&outcome, "run"));
    assert_eq!(config["strategy"]["descriptors"][0]["measure"], "memory");
    assert_eq!(
        config["strategy"]["descriptors"].as_array().map(Vec::len),
        Some(1)
    );

    // A bad spec in task.toml names the task, the table and what is wrong.
    write("[search.map_elites]\ndescriptors = [\"fuel:0..1e9:0\"]\n");
    let output = run(&[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("[search.map_elites] descriptors"), "{err}");
    assert!(err.contains("zero bins"), "{err}");
}

#[test]
fn bad_specs_are_refused_naming_what_is_wrong() {
    let work = Work::new();
    let refused = |extra: &[&str], expected: &str| {
        let mut args = vec!["run", FIXTURE, "--llm", "builtin", "--budget-evals", "3"];
        args.extend_from_slice(extra);
        let output = work.hone(&args);
        assert!(!output.status.success(), "{extra:?} was accepted");
        let err = stderr(&output);
        assert!(err.contains(expected), "{extra:?}: {err}");
    };
    refused(
        &["--strategy", "map-elites", "--descriptors", "fuel:0..1e9:0"],
        "zero bins",
    );
    refused(
        &["--strategy", "map-elites", "--descriptors", "fuel:5..5:3"],
        "range is empty",
    );
    refused(
        &[
            "--strategy",
            "map-elites",
            "--descriptors",
            "fuel:0..lots:3",
        ],
        "maximum `lots` is not a finite number",
    );
    refused(
        &["--strategy", "greedy", "--descriptors", "fuel:0..1e9:3"],
        "descriptors are the grid of --strategy map-elites",
    );
    refused(
        &["--strategy", "best-first", "--objectives", "score,speedup"],
        "`speedup:min` or `speedup:max`",
    );
    refused(
        &["--strategy", "mcts", "--objectives", "score,fuel"],
        "strategy `mcts` picks by score",
    );
    refused(
        &["--strategy", "best-first", "--objectives", "score"],
        "at least two objectives",
    );
    assert!(
        !work.store().exists() || runs_in_store(&work) == 0,
        "a refused run was stored"
    );

    // A metric the task's evaluations lack: the run fails at the seed, listing those it has.
    let model = MockModel::start(std::time::Duration::ZERO);
    let output = work.hone(&run_args(
        &model,
        &[
            "--budget-evals",
            "3",
            "--strategy",
            "map-elites",
            "--descriptors",
            "no_such_metric:0..1:2",
        ],
    ));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no outcome ({e}): {}", stderr(&output)));
    assert_eq!(value["status"], "failed", "{value:#}");
    let reason = value["stop_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("descriptor `no_such_metric`: the evaluation of node"),
        "{reason}"
    );
    assert!(
        reason.contains("speedup"),
        "lists the metrics it has: {reason}"
    );
    assert_eq!(int(&value, "evaluations"), 1, "{value:#}");
}

fn runs_in_store(work: &Work) -> usize {
    work.read(async |store| store.list_runs().await.map(|r| r.len()).unwrap_or(0))
}

#[test]
fn a_bench_suite_compares_pareto_and_map_elites_rows() {
    let work = Work::new();
    let pair_count = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tasks/library/efficiency/pair-count")
        .display()
        .to_string();
    let suite = work.path().join("suite.toml");
    std::fs::write(
        &suite,
        format!(
            r#"
[suite]
name = "qd"
budget_evals = 3
seeds = [1]
strategies = [
    "best-first",
    {{ name = "best-first", label = "bf-pareto", objectives = "score,fuel" }},
    {{ name = "map-elites", descriptors = "fuel:0..8e8:4,code_len:0..4000:2" }},
]

[[tasks]]
path = "{pair_count}"
"#
        ),
    )
    .unwrap_or_else(|e| panic!("write suite: {e}"));
    let out = work.path().join("out");
    let (suite_arg, out_arg) = (suite.display().to_string(), out.display().to_string());
    let output = work.hone(&["bench", &suite_arg, "-o", &out_arg]);
    assert_success(&output, "hone bench");
    let csv = std::fs::read_to_string(out.join("results.csv"))
        .unwrap_or_else(|e| panic!("results.csv: {e}"));
    for key in [
        "/best-first/builtin/1,",
        "/bf-pareto/builtin/1,",
        "/map-elites/builtin/1,",
    ] {
        let line = csv
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no row {key} in {csv}"));
        assert!(line.contains(",finished,"), "{line}");
    }
    // Each row's run holds its options.
    let configs: Vec<serde_json::Value> = work.read(async |store| {
        store
            .list_runs()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|r| r.config)
            .collect()
    });
    let pareto = configs
        .iter()
        .find(|c| {
            c["label"]
                .as_str()
                .is_some_and(|l| l.contains("/bf-pareto/"))
        })
        .unwrap_or_else(|| panic!("no bf-pareto run: {configs:#?}"));
    assert_eq!(pareto["objectives"][1]["measure"], "fuel");
    let grid = configs
        .iter()
        .find(|c| c["strategy"]["name"] == "map-elites")
        .unwrap_or_else(|| panic!("no map-elites run"));
    assert_eq!(grid["strategy"]["descriptors"][1]["measure"], "code_len");
}

#[test]
fn hone_toml_gives_objectives_and_descriptors() {
    let model = MockModel::start(std::time::Duration::ZERO);
    let work = Work::new();
    std::fs::write(
        work.path().join("hone.toml"),
        "[run]\nstrategy = \"map-elites\"\ndescriptors = \"code_len:0..4000:4\"\nobjectives = \"score,code_len\"\n",
    )
    .unwrap_or_else(|e| panic!("hone.toml: {e}"));
    let output = work.hone(&run_args(&model, &["--budget-evals", "3"]));
    let outcome = run_outcome(&output, "hone run with hone.toml");
    let config = stored_config(&work, int(&outcome, "run"));
    assert_eq!(config["strategy"]["name"], "map-elites", "{config:#}");
    assert_eq!(config["strategy"]["descriptors"][0]["measure"], "code_len");
    assert_eq!(config["objectives"][1]["measure"], "code_len", "{config:#}");
    assert_eq!(config["objectives"][1]["direction"], "min", "{config:#}");
}
