//! Bundled tasks by name, from a folder that holds nothing of hone's: `hone tasks`, `hone
//! run NAME`, `hone eval NAME FILE`, `hone resume` from another folder, `hone tasks
//! --export`.

use super::{Work, assert_success, stderr, stdout};

#[test]
fn a_bundled_task_runs_by_name_from_an_empty_folder() {
    let work = Work::new();
    let listed = work.hone(&["tasks"]);
    assert_success(&listed, "hone tasks");
    let listing = stdout(&listed);
    for line in ["efficiency", "pair-count", "pde-burgers", "ahc001"] {
        assert!(listing.contains(line), "`{line}` missing from:\n{listing}");
    }

    let output = work.hone(&[
        "run",
        "pair-count",
        "--llm",
        "builtin",
        "--budget-evals",
        "5",
    ]);
    assert_success(&output, "hone run pair-count");
    assert!(
        stdout(&output).contains("run 1 finished: evaluation budget spent (5)"),
        "{}",
        stdout(&output)
    );
    // The run keeps the absolute path of the copy it ran, inside the working folder.
    let status = work.status(1);
    let task_dir = status["run"]["task_dir"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let copy = std::path::Path::new(&task_dir);
    assert!(copy.is_absolute(), "{task_dir}");
    assert!(
        copy.starts_with(work.path().join(".hone").join("tasks").join("efficiency")),
        "{task_dir}"
    );
    assert!(copy.join("task.toml").is_file());

    // `hone eval` takes the name too, and a kind/folder path.
    let seed = copy.join("seed.c");
    for name in ["pair-count", "efficiency/pair-count"] {
        let eval = work.hone(&["eval", name, seed.to_str().unwrap_or_default(), "--json"]);
        assert_success(&eval, "hone eval NAME");
        let json: serde_json::Value =
            serde_json::from_str(&stdout(&eval)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json["valid"], true, "{json:#}");
        assert_eq!(json["task"], "pair-count");
    }

    // Exported: a folder that `hone eval` takes as it stands; an existing one is refused.
    let export = work.hone(&["tasks", "--export", "pair-count", "mytask"]);
    assert_success(&export, "hone tasks --export");
    let eval = work.hone(&["eval", "mytask", "mytask/seed.c", "--json"]);
    assert_success(&eval, "hone eval mytask");
    let again = work.hone(&["tasks", "--export", "pair-count", "mytask"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("mytask already exists"),
        "{}",
        stderr(&again)
    );

    // A name that is neither a folder nor a bundled task is named in the error.
    let unknown = work.hone(&[
        "run",
        "pair-cont",
        "--llm",
        "builtin",
        "--budget-evals",
        "5",
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown)
            .contains("no task folder `pair-cont`, and no bundled task is called `pair-cont`"),
        "{}",
        stderr(&unknown)
    );
}

/// `hone init KIND DIR` for every kind: a folder `hone eval` accepts as it stands, whose
/// seed (or example candidate) is valid; a second init into it is refused, as is a kind
/// hone does not know.
#[test]
fn hone_init_writes_a_working_task_of_every_kind() {
    let work = Work::new();
    for template in hone_tasks::library::templates() {
        let dir = format!("my-{}", template.kind);
        let init = work.hone(&["init", template.kind.name(), &dir]);
        assert_success(&init, &format!("hone init {}", template.kind));
        let manifest = std::fs::read_to_string(work.path().join(&dir).join("task.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(manifest.starts_with("# "), "{manifest}");
        let seed = format!("{dir}/{}", template.seed);
        let eval = work.hone(&["eval", &dir, &seed, "--json"]);
        assert_success(&eval, &format!("hone eval {dir} {seed}"));
        let json: serde_json::Value =
            serde_json::from_str(&stdout(&eval)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json["valid"], true, "{dir}: {json:#}");
        // The task is named after its folder.
        assert_eq!(json["task"], dir.as_str());

        let again = work.hone(&["init", template.kind.name(), &dir]);
        assert_eq!(again.status.code(), Some(1), "a second init into {dir}");
        assert!(
            stderr(&again).contains("already exists"),
            "{}",
            stderr(&again)
        );
    }
    let unknown = work.hone(&["init", "sorting", "x"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("unknown task kind `sorting`; accepted: efficiency"),
        "{}",
        stderr(&unknown)
    );
}
