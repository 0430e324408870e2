//! What a run leaves: the printed summary, the best candidate's files, `hone best`, `hone
//! tree`, `hone status`, the self-contained HTML report and the three export formats.

use std::time::Duration;

use hone_store::RunId;

use super::{FIXTURE, MockModel, Work, assert_success, stdout};

fn jsonl(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn report_best_tree_status_and_exports() {
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    let mut args = vec!["run".to_string(), FIXTURE.to_string()];
    args.extend(model.flags());
    args.extend(["--budget-evals", "8"].map(String::from));
    let output = work.hone(&args);
    assert_success(&output, "hone run");
    let printed = stdout(&output);
    for line in [
        "run 1 finished: evaluation budget spent (8)",
        "seed score   1.0000",
        "(private, public ",
        "private      ",
        "report       hone report 1 -o report.html",
    ] {
        assert!(printed.contains(line), "`{line}` missing from:\n{printed}");
    }
    let best = work.read(async |store| {
        let best = store
            .best_node(RunId(1))
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no best node"));
        store
            .get_node(best.node)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let best_source = best
        .files
        .get("main.c")
        .cloned()
        .unwrap_or_else(|| panic!("the best node has no main.c"));
    assert!(
        !best_source.contains("#define REPS 64"),
        "the best is the seed"
    );

    // Lineage (written in the background, flushed before the run ends): every node has its
    // commit, each parented on its parent's, and `refs/runs/1/best` is the best node's.
    let (tree, best_commit) = work.read(async |store| {
        let tree = store
            .load_tree(RunId(1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let best = store
            .best_lineage_commit(RunId(1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (tree, best)
    });
    assert_eq!(best_commit, best.lineage_commit, "refs/runs/1/best");
    let repo = git2::Repository::open_bare(work.path().join("lineage.git"))
        .unwrap_or_else(|e| panic!("lineage repository: {e}"));
    let commit_of = |id: hone_store::NodeId| {
        tree.iter()
            .find(|n| n.id == id)
            .and_then(|n| n.lineage_commit.clone())
    };
    for node in &tree {
        let commit = node
            .lineage_commit
            .as_deref()
            .unwrap_or_else(|| panic!("node {} has no lineage commit", node.id.0));
        let commit = git2::Oid::from_str(commit)
            .and_then(|oid| repo.find_commit(oid))
            .unwrap_or_else(|e| panic!("node {}: {e}", node.id.0));
        assert_eq!(
            commit.parent_id(0).ok().map(|o| o.to_string()),
            node.parent.and_then(commit_of),
            "node {}",
            node.id.0
        );
    }

    // `hone run` wrote the best candidate's files, and says where.
    let written = work.path().join(".hone/runs/1/best/main.c");
    assert!(
        printed.contains("best files   ./.hone/runs/1/best/main.c"),
        "{printed}"
    );
    assert_eq!(
        std::fs::read_to_string(&written).unwrap_or_default(),
        best_source
    );

    // `hone best`: printed, or written to a file.
    let output = work.hone(&["best", "1"]);
    assert_success(&output, "hone best");
    assert_eq!(stdout(&output), best_source);
    let file = work.path().join("best.c");
    let output = work.hone(&["best", "1", "-o", &file.display().to_string()]);
    assert_success(&output, "hone best -o");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_default(),
        best_source
    );

    // `hone tree`: every node, the best path starred.
    let output = work.hone(&["tree", "1"]);
    assert_success(&output, "hone tree");
    let tree = stdout(&output);
    let nodes = work.nodes(1);
    assert_eq!(tree.lines().count(), nodes.len(), "{tree}");
    assert!(tree.contains("* #1 seed ok score 1.0000"), "{tree}");
    assert!(
        tree.contains(&format!("* #{} ", best.id.0)),
        "the best node is not starred:\n{tree}"
    );
    assert!(tree.contains("compile_error") && tree.contains("wrong_answer"));
    // `--limit` cuts the tree but keeps the best path.
    let output = work.hone(&["tree", "1", "--limit", "2"]);
    assert_success(&output, "hone tree --limit");
    let cut = stdout(&output);
    assert!(cut.contains("more nodes not shown"), "{cut}");
    assert!(cut.contains(&format!("* #{} ", best.id.0)), "{cut}");

    // `hone status`: the table of runs, and one run.
    let output = work.hone(&["status"]);
    assert_success(&output, "hone status");
    assert!(stdout(&output).contains("sum-numbers"));
    let output = work.hone(&["status", "1"]);
    assert_success(&output, "hone status 1");
    let status = stdout(&output);
    for field in [
        "run          1 (finished)",
        "evaluations  8 of 8",
        "(node ",
        "; private, public ",
        "private      ",
    ] {
        assert!(status.contains(field), "`{field}` missing:\n{status}");
    }

    // The report: one self-contained file with the chart, the counts and the tree.
    let report = work.path().join("report.html");
    let output = work.hone(&["report", "1", "-o", &report.display().to_string()]);
    assert_success(&output, "hone report");
    let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    for part in [
        "<svg",
        "Public scores over evaluations",
        "Counts by status",
        "compile_error",
        "Spend by model",
        super::MODEL,
        "<h2>Tree</h2>",
        "#1 seed",
    ] {
        assert!(html.contains(part), "`{part}` missing from the report");
    }
    // Every node's code and its diff against its parent, collapsible; the best path open.
    assert!(html.contains("<h2>Nodes</h2>"), "no node section");
    for node in &nodes {
        assert!(
            html.contains(&format!("<details id=\"node-{}\"", node.id.0)),
            "node {} has no section",
            node.id.0
        );
    }
    assert!(html.contains(&format!("<details id=\"node-{}\" open>", best.id.0)));
    assert!(
        html.contains("<details id=\"node-1\" open>"),
        "the seed is on the best path"
    );
    assert!(html.contains("A root: no parent to diff against."));
    assert!(
        html.contains("<span class=\"del\">-#define REPS 64</span>"),
        "no diff removes the seed's REPS line"
    );
    let best_first_line = best_source.lines().next().unwrap_or_default();
    assert!(
        html.contains(&format!("<span class=\"ins\">+{best_first_line}</span>")),
        "the best node's diff does not add `{best_first_line}`"
    );
    for external in ["<script src", "<link", "@import", "https://"] {
        assert!(
            !html.contains(external),
            "the report loads `{external}`: not self-contained"
        );
    }

    // The three export formats.
    let path = |name: &str| work.path().join(name);
    for format in ["sft", "dpo", "trajectories"] {
        let output = work.hone(&[
            "export",
            "1",
            "--format",
            format,
            "-o",
            &path(format).display().to_string(),
        ]);
        assert_success(&output, &format!("hone export {format}"));
    }
    let sft = jsonl(&path("sft"));
    assert!(!sft.is_empty(), "no improving reply exported for SFT");
    for line in &sft {
        let messages = line["messages"].as_array().cloned().unwrap_or_default();
        let roles: Vec<&str> = messages.iter().filter_map(|m| m["role"].as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant"], "{line}");
        let reply = messages[2]["content"].as_str().unwrap_or("");
        assert!(
            reply.contains("```c"),
            "an SFT reply holds no program: {reply}"
        );
    }
    let dpo = jsonl(&path("dpo"));
    assert!(!dpo.is_empty(), "no DPO pair exported");
    for line in &dpo {
        assert_ne!(line["chosen"], line["rejected"]);
        assert!(line["prompt"].is_array(), "{line}");
    }
    let trajectories = jsonl(&path("trajectories"));
    assert_eq!(trajectories.len(), nodes.len());
}
