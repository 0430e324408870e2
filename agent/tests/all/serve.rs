//! `hone serve`: the JSON API read with reqwest, and the page driven in headless Chromium,
//! over runs made by the `hone` binary against the scripted model server.

mod cdp;

use std::io::BufRead;
use std::process::Child;
use std::time::Duration;

use hone_store::NodeRecord;
use serde_json::Value;

use crate::orchestrator::{FIXTURE, MockModel, Work, assert_success};

/// Whether the tests run under CI: `CI` set to anything but empty, `false` or `0`.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0"))
}

/// Makes run N of `work`: the fixture task with the scripted model, `evals` evaluations.
fn make_run(work: &Work, model: &MockModel, evals: u32) {
    let mut args = vec!["run".to_string(), FIXTURE.to_string()];
    args.extend(model.flags());
    args.extend(["--budget-evals".to_string(), evals.to_string()]);
    assert_success(&work.hone(&args), "hone run");
}

/// A node of run 1 that a model call improved from its parent, still valid.
fn improved_node(work: &Work) -> NodeRecord {
    work.nodes(1)
        .into_iter()
        .find(|n| n.parent.is_some() && n.llm_call.is_some() && n.evaluation.valid)
        .unwrap_or_else(|| panic!("run 1 has no valid node made by the model"))
}

/// `hone serve --port 0` on the work's store, killed on drop.
struct Server {
    child: Child,
    /// The page's address, as printed.
    url: String,
}

impl Server {
    fn start(work: &Work) -> Server {
        let mut child = work.spawn(&["serve", "--port", "0"]);
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut line = String::new();
        let read = std::io::BufReader::new(stdout).read_line(&mut line);
        if read.map_or(true, |n| n == 0) {
            let _ = child.kill();
            let output = child.wait_with_output().ok();
            panic!(
                "hone serve printed no address; stderr:\n{}",
                output
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .unwrap_or_default()
            );
        }
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in `{line}`"))
            .to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "not on loopback: {line}"
        );
        Server { child, url }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{}{}", self.url, path.trim_start_matches('/')))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        let body = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"));
        (status, body)
    }

    /// GET of a JSON answer that must succeed.
    async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// GET that must fail with `status`, its error naming `needle`.
    async fn fails(&self, path: &str, status: u16, needle: &str) {
        let (got, body) = self.get(path).await;
        assert_eq!(got, status, "GET {path}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(needle),
            "GET {path}: `{error}` lacks `{needle}`"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

#[test]
fn api_serves_runs_nodes_diffs_files_and_clear_404s() {
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    make_run(&work, &model, 6);
    let server = Server::start(&work);
    let node = improved_node(&work);
    let parent = node.parent.unwrap_or_else(|| panic!("no parent"));
    let code = node.files.get("main.c").cloned().unwrap_or_default();
    let node_count = work.nodes(1).len();
    runtime().block_on(async {
        // The runs list, with budgets and spend, and the best scores.
        let runs = server.ok("/api/runs").await;
        let runs = runs.as_array().cloned().unwrap_or_default();
        assert_eq!(runs.len(), 1, "{runs:?}");
        let run = &runs[0];
        assert_eq!(run["run"]["id"], 1);
        assert_eq!(run["run"]["task_name"], "sum-numbers");
        assert_eq!(run["run"]["status"], "finished");
        assert_eq!(run["run"]["budgets"]["evaluations"], 6);
        assert_eq!(run["spend"]["evaluations"], 6);
        assert!(
            run["best"]["score"].as_f64().is_some_and(|s| s > 1.0),
            "{run}"
        );
        assert!(
            run["best_public"].as_f64().is_some_and(|s| s > 1.0),
            "{run}"
        );

        // The run page's data: spend by model, events.
        let detail = server.ok("/api/runs/1").await;
        assert_eq!(detail["by_model"][0]["model"], crate::orchestrator::MODEL);
        assert!(
            detail["by_model"][0]["calls"]
                .as_i64()
                .is_some_and(|c| c > 0)
        );
        assert!(detail["events"].is_array());

        // The tree: every node, the best path from the seed to the best.
        let tree = server.ok("/api/runs/1/tree").await;
        let nodes = tree["nodes"].as_array().cloned().unwrap_or_default();
        assert_eq!(nodes.len(), node_count);
        assert_eq!(tree["best_path"][0], 1, "{tree}");
        assert_eq!(
            tree["best_path"].as_array().and_then(|p| p.last()),
            Some(&tree["best"])
        );
        let listed = nodes
            .iter()
            .find(|n| n["id"] == node.id.0)
            .cloned()
            .unwrap_or_default();
        assert_eq!(listed["model"], crate::orchestrator::MODEL);
        assert_eq!(listed["parent"], parent.0);

        // A node: its code, its diff against its parent, its model call.
        let detail = server.ok(&format!("/api/runs/1/nodes/{}", node.id.0)).await;
        assert_eq!(detail["files"]["main.c"], code.as_str());
        assert_eq!(detail["evaluation"]["status"], "ok");
        assert!(detail["evaluation"]["fuel"].as_i64().is_some());
        assert_eq!(
            detail["lineage_commit"].as_str().map(str::len),
            Some(40),
            "{detail}"
        );
        let diff = &detail["diff"][0];
        assert_eq!(diff["file"], "main.c");
        assert_eq!(diff["change"], "changed");
        let lines = diff["lines"].as_array().cloned().unwrap_or_default();
        let has = |kind: &str, text: &str| {
            lines
                .iter()
                .any(|l| l["kind"] == kind && l["text"].as_str().is_some_and(|t| t.contains(text)))
        };
        assert!(has("delete", "#define REPS 64"), "{diff}");
        assert!(has("insert", "#define REPS"), "{diff}");
        assert!(has("insert", "// variant"), "{diff}");
        let calls = detail["calls"].as_array().cloned().unwrap_or_default();
        let last = calls.last().cloned().unwrap_or_default();
        assert!(
            last["prompt"].as_str().is_some_and(|p| !p.is_empty()),
            "{last}"
        );
        assert!(
            last["reply"].as_str().is_some_and(|r| r.contains("```c")),
            "{last}"
        );
        // The seed is a root: no diff, no model call.
        let seed = server.ok("/api/runs/1/nodes/1").await;
        assert!(
            seed["diff"].is_null() && seed["calls"] == serde_json::json!([]),
            "{seed}"
        );

        // Comparing two nodes is the same diff the other way round.
        let compare = server
            .ok(&format!(
                "/api/runs/1/compare?a={}&b={}",
                node.id.0, parent.0
            ))
            .await;
        let lines = compare["diff"][0]["lines"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            lines
                .iter()
                .any(|l| l["kind"] == "insert" && l["text"] == "#define REPS 64"),
            "{compare}"
        );

        // A file as a download.
        let response = reqwest::get(format!(
            "{}api/runs/1/nodes/{}/files/main.c",
            server.url, node.id.0
        ))
        .await
        .unwrap_or_else(|e| panic!("download: {e}"));
        assert_eq!(response.status().as_u16(), 200);
        let disposition = response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            disposition,
            format!("attachment; filename=\"node{}-main.c\"", node.id.0)
        );
        assert_eq!(response.text().await.unwrap_or_default(), code);

        // All of a node's files, and its record, as one archive.
        let response = reqwest::get(format!(
            "{}api/runs/1/nodes/{}/archive",
            server.url, node.id.0
        ))
        .await
        .unwrap_or_else(|e| panic!("archive: {e}"));
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response
                .headers()
                .get("content-disposition")
                .and_then(|v| v.to_str().ok()),
            Some(format!("attachment; filename=\"node{}.tar.gz\"", node.id.0).as_str())
        );
        let bytes = response.bytes().await.unwrap_or_default();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let mut entries = std::collections::BTreeMap::new();
        for entry in archive.entries().unwrap_or_else(|e| panic!("archive: {e}")) {
            let mut entry = entry.unwrap_or_else(|e| panic!("archive entry: {e}"));
            let path = entry
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            entries.insert(path, text);
        }
        let folder = format!("node{}", node.id.0);
        assert_eq!(
            entries.keys().cloned().collect::<Vec<_>>(),
            [format!("{folder}/main.c"), format!("{folder}/node.json")]
        );
        assert_eq!(entries[&format!("{folder}/main.c")], code);
        let about: Value = serde_json::from_str(&entries[&format!("{folder}/node.json")])
            .unwrap_or_else(|e| panic!("node.json: {e}"));
        assert_eq!(about["node"], node.id.0);
        assert_eq!(about["evaluation"]["status"], "ok", "{about}");
        server
            .fails("/api/runs/1/nodes/9999/archive", 404, "9999")
            .await;

        // What does not exist is a 404 naming it; what is not an id, a 400.
        server.fails("/api/runs/99", 404, "run 99").await;
        server.fails("/api/runs/99/tree", 404, "run 99").await;
        server.fails("/api/runs/1/nodes/9999", 404, "9999").await;
        server
            .fails(
                &format!("/api/runs/1/nodes/{}/files/nope.c", node.id.0),
                404,
                "no file `nope.c`",
            )
            .await;
        server
            .fails("/api/runs/1/nodes/abc", 400, "`abc` is not a node id")
            .await;
        server
            .fails("/api/runs/1/compare?a=1", 400, "two nodes")
            .await;
        server
            .fails("/api/nothing", 404, "no API route /api/nothing")
            .await;
    });

    // A run made by another process while the server runs shows at once; its nodes are not
    // run 1's.
    make_run(&work, &model, 2);
    let other = work.nodes(2)[0].id.0;
    runtime().block_on(async {
        let runs = server.ok("/api/runs").await;
        assert_eq!(runs.as_array().map(Vec::len), Some(2), "{runs}");
        server
            .fails(
                &format!("/api/runs/1/nodes/{other}"),
                404,
                &format!("node {other} is not in run 1"),
            )
            .await;
        // The page and its assets: embedded, nothing remote.
        for path in ["", "app.js", "app.css"] {
            let response = reqwest::get(format!("{}{path}", server.url))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(response.status().as_u16(), 200, "/{path}");
            let text = response.text().await.unwrap_or_default();
            for remote in [
                "src=\"http",
                "href=\"http",
                "url(",
                "@import",
                "fetch(\"http",
            ] {
                assert!(
                    !text.contains(remote),
                    "/{path} loads a remote asset: `{remote}`"
                );
            }
        }
    });
}

#[test]
fn serve_names_a_store_it_cannot_open() {
    let work = Work::with_store("/nonexistent-dir/hone.db".into());
    let output = work.hone(&["serve", "--port", "0"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open the store /nonexistent-dir/hone.db"),
        "{stderr}"
    );
    let work = Work::with_store("postgres://hone@127.0.0.1:1/nothing".into());
    let output = work.hone(&["serve", "--port", "0"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("postgres://hone@127.0.0.1:1/nothing"),
        "{stderr}"
    );
}

/// The page in a real browser: the runs list, a click on the run, a click on a node of the
/// tree, and the node's code and its diff against its parent shown. Screenshots go to the
/// test's temporary folder (and to `HONE_SCREENSHOT_DIR` when set).
#[test]
fn browser_shows_a_node_s_code_and_diff() {
    let Some(chromium) = cdp::find_chromium() else {
        let reason = "no chromium on the PATH (scripts/bootstrap installs Debian's `chromium`; or set HONE_CHROMIUM)";
        assert!(
            !under_ci(),
            "{reason}; CI is set, so this test must run, not skip"
        );
        eprintln!("SKIPPED: {reason} (under CI=true this fails)");
        return;
    };
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    make_run(&work, &model, 8);
    let node = improved_node(&work);
    let server = Server::start(&work);
    let shots = work.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap_or_else(|e| panic!("{e}"));
    let browser = cdp::Browser::launch(&chromium, work.path());
    runtime().block_on(async {
        let mut page = browser.page().await;
        page.navigate(&server.url).await;
        page.wait_for("document.querySelector('#runs tr[data-run=\"1\"]')", &shots.join("failed-runs.png")).await;
        let row = page.eval("document.querySelector('#runs tr[data-run=\"1\"]').innerText").await;
        assert!(row.as_str().is_some_and(|t| t.contains("sum-numbers") && t.contains("finished")), "{row}");
        page.screenshot(&shots.join("runs.png")).await;

        page.click("#runs tr[data-run=\"1\"] td:nth-child(2)").await;
        let selector = format!("#tree-svg [data-node=\"{}\"] circle", node.id.0);
        page.wait_for(&format!("document.querySelector('{selector}')"), &shots.join("failed-tree.png")).await;
        page.click(&selector).await;
        let hash = page.wait_for(&format!("location.hash === '#/run/1/node/{}' && location.hash", node.id.0), &shots.join("failed-hash.png")).await;
        assert_eq!(hash, format!("#/run/1/node/{}", node.id.0));

        // Its code, and the diff against its parent: the lines the model changed.
        let first_line = node.files["main.c"].lines().next().unwrap_or_default().to_string();
        let code = page
            .wait_for(&format!("document.querySelector('#node-code pre') && document.querySelector('#node-code pre').innerText.includes({}) && document.querySelector('#node-code pre').innerText", serde_json::to_string(&first_line).unwrap_or_default()), &shots.join("failed-code.png"))
            .await;
        assert_eq!(code.as_str().map(str::trim_end), Some(node.files["main.c"].trim_end()));
        let inserted = page.eval("[...document.querySelectorAll('#node-diff .ins')].map(e => e.innerText)").await;
        let deleted = page.eval("[...document.querySelectorAll('#node-diff .del')].map(e => e.innerText)").await;
        assert!(inserted.as_array().is_some_and(|l| l.iter().any(|t| t.as_str() == Some(&format!("+{first_line}")))), "{inserted}");
        assert!(deleted.as_array().is_some_and(|l| l.iter().any(|t| t.as_str() == Some("-#define REPS 64"))), "{deleted}");
        let selected = page.eval(&format!("document.querySelector('#tree-svg [data-node=\"{}\"]').classList.contains('selected')", node.id.0)).await;
        assert_eq!(selected, Value::Bool(true));
        let calls = page.eval("document.querySelector('#node-calls').innerText").await;
        assert!(calls.as_str().is_some_and(|t| t.contains(crate::orchestrator::MODEL)), "{calls}");
        page.screenshot(&shots.join("run.png")).await;
    });
    for name in ["runs.png", "run.png"] {
        let path = shots.join(name);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "{}: {size} bytes", path.display());
        if let Some(dir) = std::env::var_os("HONE_SCREENSHOT_DIR") {
            let _ = std::fs::copy(&path, std::path::Path::new(&dir).join(name));
        }
    }
}

/// A map-elites run over code length with Pareto objectives score and fuel.
fn make_quality_run(work: &Work, model: &MockModel) {
    let mut args = vec!["run".to_string(), FIXTURE.to_string()];
    args.extend(model.flags());
    args.extend(
        [
            "--budget-evals",
            "6",
            "--strategy",
            "map-elites",
            "--descriptors",
            "code_len:0..4000:4",
            "--objectives",
            "score,fuel",
        ]
        .map(String::from),
    );
    assert_success(&work.hone(&args), "hone run --strategy map-elites");
}

#[test]
fn api_serves_the_map_elites_grid_and_the_pareto_front() {
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    // Run 1 without descriptors or objectives; run 2 a map-elites run with both.
    make_run(&work, &model, 3);
    make_quality_run(&work, &model);
    let server = Server::start(&work);
    let nodes = work.nodes(2);
    runtime().block_on(async {
        let plain = server.ok("/api/runs/1/quality").await;
        assert_eq!(plain["cells"], serde_json::json!([]), "{plain:#}");
        assert_eq!(plain["front"], serde_json::json!([]), "{plain:#}");

        let quality = server.ok("/api/runs/2/quality").await;
        assert_eq!(
            quality["descriptors"][0], "code_len:0..4000:4",
            "{quality:#}"
        );
        assert_eq!(quality["capacity"], 4, "{quality:#}");
        let cells = quality["cells"].as_array().cloned().unwrap_or_default();
        assert!(!cells.is_empty(), "{quality:#}");
        for cell in &cells {
            // Each elite is a valid node whose code length falls in its cell's bin.
            let id = cell["node"].as_i64().unwrap_or(-1);
            let node = nodes
                .iter()
                .find(|n| n.id.0 == id)
                .unwrap_or_else(|| panic!("cell elite {id} not in run 2"));
            assert!(node.evaluation.valid);
            let len: usize = node.files.values().map(String::len).sum();
            assert_eq!(cell["bins"][0].as_u64(), Some((len / 1000).min(3) as u64));
        }
        assert_eq!(quality["objectives"][1]["direction"], "min", "{quality:#}");
        assert!(
            !quality["front"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .is_empty(),
            "{quality:#}"
        );
        server.fails("/api/runs/99/quality", 404, "run 99").await;
    });
}

/// The run page of a map-elites run with objectives shows its grid and its front, each
/// elite and member linking to its node.
#[test]
fn browser_shows_the_map_elites_grid_and_the_pareto_front() {
    let Some(chromium) = cdp::find_chromium() else {
        let reason = "no chromium on the PATH (scripts/bootstrap installs Debian's `chromium`; or set HONE_CHROMIUM)";
        assert!(
            !under_ci(),
            "{reason}; CI is set, so this test must run, not skip"
        );
        eprintln!("SKIPPED: {reason} (under CI=true this fails)");
        return;
    };
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    make_quality_run(&work, &model);
    let valid: Vec<String> = work
        .nodes(1)
        .iter()
        .filter(|n| n.evaluation.valid)
        .map(|n| format!("#/run/1/node/{}", n.id.0))
        .collect();
    let server = Server::start(&work);
    let shots = work.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap_or_else(|e| panic!("{e}"));
    let browser = cdp::Browser::launch(&chromium, work.path());
    runtime().block_on(async {
        let mut page = browser.page().await;
        page.navigate(&format!("{}#/run/1", server.url)).await;
        let text = page
            .wait_for(
                "document.querySelector('#run-quality table') && document.querySelector('#run-quality').innerText",
                &shots.join("failed-quality.png"),
            )
            .await;
        let text = text.as_str().unwrap_or_default().to_string();
        assert!(text.contains("MAP-Elites grid"), "{text}");
        assert!(text.contains("of 4 cells occupied"), "{text}");
        assert!(text.contains("Pareto front"), "{text}");
        assert!(text.contains("fuel (lower is better)"), "{text}");
        let links = page
            .eval("[...document.querySelectorAll('#run-quality a')].map(a => a.getAttribute('href'))")
            .await;
        // Every elite and front member links a valid node of the run.
        assert!(
            links.as_array().is_some_and(|l| !l.is_empty()
                && l.iter().all(|h| h.as_str().is_some_and(|h| valid.iter().any(|v| v == h)))),
            "{links} not all among {valid:?}"
        );
        page.screenshot(&shots.join("quality.png")).await;
    });
}
