//! heuristic tasks: the bundled problems (seeds valid, better solutions score higher, tune
//! constants move the score, bad outputs fail their case), scoring rules (relative,
//! zero_on_failure, minimize against the seed), AHC tools folders, and bad task.toml input.

use std::sync::OnceLock;

use hone_sandbox::Language;
use hone_tasks::{Candidate, EvalStatus, Evaluation, Task, TaskError, TaskLoader};

use crate::support::{bundled, fixture, folder, library, rust, sandbox};

fn fixture_candidate(name: &str) -> Candidate {
    rust(&std::fs::read_to_string(fixture("heuristic", name)).expect("fixture"))
}

fn metric(evaluation: &Evaluation, name: &str) -> i64 {
    evaluation.metrics[name]
        .as_i64()
        .unwrap_or_else(|| panic!("metric {name}"))
}

/// A task folder in a temp dir: task.toml plus files.
fn temp_task(toml: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut all = vec![("task.toml", toml), ("statement.md", "A test problem.\n")];
    all.extend_from_slice(files);
    folder(&all)
}

fn load_error(toml: &str, files: &[(&str, &str)]) -> String {
    let dir = temp_task(toml, files);
    match Task::load(dir.path(), sandbox()) {
        Ok(_) => panic!("loaded:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

const AHC_SEED: &str = include_str!("../../library/heuristic/ahc001/seed.rs");

/// The C++ variants (`*-cpp`: the same problem, a C++ seed whose search stops at a time
/// limit on the virtual clock): valid, above zero, and identical run to run.
#[test]
fn cpp_seeds_are_valid_and_repeatable() {
    for name in ["ahc001-cpp", "tour-cpp", "grid-path-cpp"] {
        let task = Task::load(&library("heuristic", name), sandbox())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(task.languages, [Language::Cpp], "{name}");
        assert!(task.seeds[0].files.contains_key("main.cpp"), "{name}");
        let evaluation = task.evaluate(&task.seeds[0]);
        assert!(evaluation.valid, "{name}: {}", evaluation.feedback);
        assert_eq!(
            metric(&evaluation, "failed"),
            0,
            "{name}: {}",
            evaluation.feedback
        );
        assert!(evaluation.score > 0.0, "{name}");
        let again = task.evaluate(&task.seeds[0]);
        assert_eq!(
            (again.score, again.fuel, &again.trace),
            (evaluation.score, evaluation.fuel, &evaluation.trace),
            "{name}: a second evaluation differs"
        );
        let private = task
            .evaluate_private(&task.seeds[0])
            .expect("private seeds");
        assert!(
            private.valid && private.score > 0.0,
            "{name}: {}",
            private.feedback
        );
        eprintln!(
            "{name}: seed score {} (private {}), fuel {:?}",
            evaluation.score, private.score, evaluation.fuel
        );
    }
    // The C++ AHC001 seed's search beats the Rust seed's one-pass greedy.
    let rust = bundled("heuristic", "ahc001");
    let cpp = Task::load(&library("heuristic", "ahc001-cpp"), sandbox()).expect("ahc001-cpp");
    let (rust_score, cpp_score) = (
        rust.evaluate(&rust.seeds[0]).score,
        cpp.evaluate(&cpp.seeds[0]).score,
    );
    assert!(
        cpp_score > rust_score,
        "C++ {cpp_score} vs Rust {rust_score}"
    );
}

#[test]
fn bundled_seeds_are_valid_and_score_above_zero() {
    for name in ["ahc001", "tour", "grid-path"] {
        let task = bundled("heuristic", name);
        let evaluation = task.evaluate(&task.seeds[0]);
        assert!(evaluation.valid, "{name}: {}", evaluation.feedback);
        assert_eq!(evaluation.status, EvalStatus::Ok);
        assert!(evaluation.score > 0.0, "{name}: {}", evaluation.score);
        assert_eq!(
            metric(&evaluation, "failed"),
            0,
            "{name}: {}",
            evaluation.feedback
        );
        assert_eq!(metric(&evaluation, "passed"), metric(&evaluation, "cases"));
        assert!((10..=20).contains(&metric(&evaluation, "cases")), "{name}");
        assert!(
            evaluation.feedback.contains("Weakest cases:"),
            "{}",
            evaluation.feedback
        );
        let last = evaluation.trace.as_array().expect("trace").len();
        assert_eq!(last as i64, metric(&evaluation, "cases"));
        let final_evaluation = task
            .evaluate_private(&task.seeds[0])
            .expect("private seeds");
        assert!(
            final_evaluation.valid && final_evaluation.score > 0.0,
            "{name}"
        );
        assert!(
            (20..=50).contains(&metric(&final_evaluation, "cases")),
            "{name}"
        );
    }
    // The tour is minimized and scored against the seed: the seed scores exactly 1.
    let tour = bundled("heuristic", "tour");
    assert_eq!(tour.evaluate(&tour.seeds[0]).score, 1.0);
    assert!(
        tour.prompt.objective.contains("minimize")
            && tour.prompt.objective.contains("starting solution")
    );
    let ahc = bundled("heuristic", "ahc001");
    assert!(
        ahc.prompt.objective.contains("maximize")
            && ahc.prompt.objective.contains("total raw score")
    );
    assert!(
        ahc.prompt.inputs.contains("15 public cases")
            && ahc.prompt.inputs.contains("Example input:")
    );
    assert!(ahc.prompt.constraints.contains("fuel 2000000000"));
    assert!(
        ahc.prompt
            .statement
            .contains("AtCoder Heuristic Contest 001")
    );
}

#[test]
fn better_solutions_score_higher() {
    for (name, better) in [
        ("ahc001", "ahc001_better.rs"),
        ("tour", "tour_better.rs"),
        ("grid-path", "grid_better.rs"),
    ] {
        let task = bundled("heuristic", name);
        let seed = task.evaluate(&task.seeds[0]);
        let improved = task.evaluate(&fixture_candidate(better));
        assert!(improved.valid, "{name}: {}", improved.feedback);
        assert!(
            improved.score > seed.score * 1.2,
            "{name}: better {} vs seed {}",
            improved.score,
            seed.score
        );
    }
}

#[test]
fn tune_constants_move_the_score() {
    let task = bundled("heuristic", "ahc001");
    let with = |scale: &str, shrink: &str| {
        let source = AHC_SEED
            .replace(
                "const SCALE: f64 = 0.3;",
                &format!("const SCALE: f64 = {scale};"),
            )
            .replace(
                "const SHRINK: f64 = 0.8;",
                &format!("const SHRINK: f64 = {shrink};"),
            );
        assert_ne!(source, AHC_SEED, "the markers moved");
        let evaluation = task.evaluate(&rust(&source));
        assert!(evaluation.valid, "{}", evaluation.feedback);
        evaluation.score
    };
    let seed = task.evaluate(&task.seeds[0]).score;
    let wider = with("0.9", "0.8");
    let finer = with("0.9", "0.93");
    assert!(wider > seed * 1.5, "SCALE 0.9: {wider} vs {seed}");
    assert_ne!(wider, finer);
    // The tour's strip count matters too (STRIPS 3 -> 12).
    let tour = bundled("heuristic", "tour");
    let source =
        tour.seeds[0].files["main.rs"].replace("const STRIPS: i64 = 3;", "const STRIPS: i64 = 12;");
    let evaluation = tour.evaluate(&rust(&source));
    assert!(evaluation.score > 1.2, "{}", evaluation.feedback);
}

/// Valid 1x1 squares when n is odd; `bad` (per line) when n is even.
fn ahc_mixed(bad: &str) -> Candidate {
    rust(&format!(
        r#"use std::io::Read;
fn main() {{
    let mut t = String::new();
    std::io::stdin().read_to_string(&mut t).unwrap();
    let v: Vec<i64> = t.split_ascii_whitespace().map(|x| x.parse().unwrap()).collect();
    let n = v[0] as usize;
    for i in 0..n {{
        let (x, y) = (v[1 + 3 * i], v[2 + 3 * i]);
        if n % 2 == 1 {{ println!("{{}} {{}} {{}} {{}}", x, y, x + 1, y + 1); }} else {{ println!("{bad}"); }}
    }}
}}
"#
    ))
}

#[test]
fn bad_outputs_fail_their_case_with_the_scorers_message() {
    let task = bundled("heuristic", "ahc001");
    let cases = task.evaluate(&task.seeds[0]).metrics["cases"]
        .as_i64()
        .expect("cases");
    for (bad, status, words) in [
        ("0 0 10000 10000", EvalStatus::WrongAnswer, "overlap"),
        ("0 0 10001 5", EvalStatus::WrongAnswer, "is out of range"),
        (
            "1 2 three 4",
            EvalStatus::InvalidOutput,
            "`three` is not an integer",
        ),
    ] {
        let evaluation = task.evaluate(&ahc_mixed(bad));
        let failed = metric(&evaluation, "failed");
        let passed = metric(&evaluation, "passed");
        assert!(failed > 0 && passed > 0, "{bad}: {}", evaluation.feedback);
        assert_eq!(failed + passed, cases);
        // Some cases failed, others still count: the evaluation is valid.
        assert!(
            evaluation.valid && evaluation.score > 0.0,
            "{}",
            evaluation.feedback
        );
        assert!(
            evaluation.feedback.contains("Failed cases (score 0):"),
            "{}",
            evaluation.feedback
        );
        assert!(
            evaluation.feedback.contains(status.as_str()),
            "{}",
            evaluation.feedback
        );
        assert!(
            evaluation.feedback.contains(words),
            "{}",
            evaluation.feedback
        );
        let trace = evaluation.trace.as_array().expect("trace");
        let bad_case = trace
            .iter()
            .find(|c| c["status"] == status.as_str())
            .expect("a failed case");
        assert_eq!(bad_case["score"], 0.0);
        assert!(
            bad_case["message"]
                .as_str()
                .expect("message")
                .contains(words)
        );
        let seed_case = bad_case["seed"].as_u64().expect("seed");
        assert!(evaluation.feedback.contains(&format!("seed {seed_case}:")));
    }
    // Every case wrong: invalid, with the cases' status.
    let all_bad = task.evaluate(&rust("fn main() { println!(\"hello\"); }"));
    assert!(!all_bad.valid && all_bad.score == 0.0);
    assert_eq!(
        all_bad.status,
        EvalStatus::InvalidOutput,
        "{}",
        all_bad.feedback
    );
    // A program that does not compile.
    let broken = task.evaluate(&rust("fn main() { let x: u32 = \"no\"; }"));
    assert_eq!(broken.status, EvalStatus::CompileError);
    let python = task.evaluate(&Candidate::from_file("main.py", "print(1)"));
    assert_eq!(python.status, EvalStatus::CompileError);
}

const SMALL_AHC: &str = r#"
[task]
kind = "heuristic"
languages = ["rust"]
[heuristic]
builtin = "ahc001"
seed = "seed.rs"
public_seeds = [1, 2, 3, 4, 5, 6]
fuel = 300_000_000
"#;

#[test]
fn relative_scores_zero_on_failure_and_limits() {
    // Relative to best-known: the mean of score / best.
    let best = "1 500000000\n2 500000000\n3 500000000\n4 500000000\n5 500000000\n6 500000000\n";
    let toml = format!("{SMALL_AHC}best_known = \"best.txt\"\n");
    let dir = temp_task(&toml, &[("seed.rs", AHC_SEED), ("best.txt", best)]);
    let task = Task::load(dir.path(), sandbox()).expect("loads");
    let evaluation = task.evaluate(&task.seeds[0]);
    let total = metric(&evaluation, "total") as f64;
    assert!(
        (evaluation.score - total / 5e8 / 6.0).abs() < 1e-9,
        "{}",
        evaluation.feedback
    );
    assert_eq!(evaluation.metrics["relative"], evaluation.score);
    assert!(
        evaluation.feedback.contains("relative"),
        "{}",
        evaluation.feedback
    );

    // zero_on_failure: one failed case zeroes everything.
    let toml = format!("{SMALL_AHC}zero_on_failure = true\n");
    let dir = temp_task(&toml, &[("seed.rs", AHC_SEED)]);
    let task = Task::load(dir.path(), sandbox()).expect("loads");
    let mixed = task.evaluate(&ahc_mixed("0 0 10000 10000"));
    assert!(
        metric(&mixed, "passed") > 0 && metric(&mixed, "failed") > 0,
        "{}",
        mixed.feedback
    );
    assert!(!mixed.valid && mixed.score == 0.0);
    assert_eq!(mixed.status, EvalStatus::WrongAnswer);
    assert!(
        mixed.feedback.contains("zero_on_failure"),
        "{}",
        mixed.feedback
    );
    assert!(task.evaluate(&task.seeds[0]).valid);
    assert!(
        task.evaluate_private(&task.seeds[0]).is_none(),
        "no private seeds"
    );

    // A candidate that never stops runs out of fuel on every case.
    let spin = task.evaluate(&rust(
        "fn main() { let mut x = 1u64; loop { x = x.wrapping_mul(3); if x == 0 { break; } } }",
    ));
    assert_eq!(spin.status, EvalStatus::FuelExhausted, "{}", spin.feedback);
    assert!(spin.feedback.contains("fuel_exhausted"));
}

/// 1x1 squares at every requested point: valid on every case, and scores almost nothing.
fn ahc_tiny() -> Candidate {
    rust(
        r#"use std::io::Read;
fn main() {
    let mut t = String::new();
    std::io::stdin().read_to_string(&mut t).unwrap();
    let v: Vec<i64> = t.split_ascii_whitespace().map(|x| x.parse().unwrap()).collect();
    for i in 0..v[0] as usize {
        let (x, y) = (v[1 + 3 * i], v[2 + 3 * i]);
        println!("{} {} {} {}", x, y, x + 1, y + 1);
    }
}
"#,
    )
}

/// The mean of the first `n` cases' relative scores in an evaluation's trace.
fn stage_mean(evaluation: &Evaluation, n: usize) -> f64 {
    let trace = evaluation.trace.as_array().expect("trace");
    trace[..n]
        .iter()
        .map(|c| c["score"].as_f64().expect("case score"))
        .sum::<f64>()
        / n as f64
}

#[test]
fn a_cascade_stops_weak_candidates_on_the_first_cases_and_keeps_good_scores_exact() {
    let best = "1 500000000\n2 500000000\n3 500000000\n4 500000000\n5 500000000\n6 500000000\n";
    let plain_toml = format!("{SMALL_AHC}best_known = \"best.txt\"\n");
    let files = [("seed.rs", AHC_SEED), ("best.txt", best)];
    let plain_dir = temp_task(&plain_toml, &files);
    let plain = Task::load(plain_dir.path(), sandbox()).expect("loads");
    let seed = plain.evaluate(&plain.seeds[0]);
    let tiny = plain.evaluate(&ahc_tiny());
    assert!(
        seed.valid && tiny.valid,
        "{}\n{}",
        seed.feedback,
        tiny.feedback
    );
    let (strong, weak) = (stage_mean(&seed, 2), stage_mean(&tiny, 2));
    assert!(weak < strong, "1x1 squares {weak} vs the seed's {strong}");
    let threshold = (weak + strong) / 2.0;

    let toml = format!("{plain_toml}cascade = [{{ cases = 2, min_score = {threshold} }}]\n");
    let dir = temp_task(&toml, &files);
    let task = Task::load(dir.path(), sandbox()).expect("loads with a cascade");
    // Above the threshold: every case runs, and the evaluation is the one without cascade.
    let with = task.evaluate(&task.seeds[0]);
    assert_eq!(
        (with.status, with.score, &with.trace, &with.feedback),
        (seed.status, seed.score, &seed.trace, &seed.feedback)
    );
    assert_eq!(with.metrics["cascade"]["stopped"], serde_json::json!(false));
    // Below it: stopped after two cases, invalid, score 0, and the feedback says why.
    let stopped = task.evaluate(&ahc_tiny());
    assert_eq!(
        stopped.status,
        EvalStatus::CascadeStopped,
        "{}",
        stopped.feedback
    );
    assert!(!stopped.valid && stopped.score == 0.0);
    assert_eq!(stopped.trace.as_array().map(Vec::len), Some(2));
    assert_eq!(metric(&stopped, "cases"), 2);
    let cascade = &stopped.metrics["cascade"];
    assert_eq!(cascade["stopped_at"], serde_json::json!(1), "{cascade}");
    assert!(
        (cascade["stage_score"].as_f64().expect("stage score") - weak).abs() < 1e-12,
        "{cascade}"
    );
    assert!(
        stopped.feedback.contains("first 2 of 6 public cases"),
        "{}",
        stopped.feedback
    );
    // A stage every case of which fails stops the candidate with the cases' status.
    let broken = task.evaluate(&rust("fn main() { println!(\"hello\"); }"));
    assert_eq!(
        broken.status,
        EvalStatus::InvalidOutput,
        "{}",
        broken.feedback
    );
    assert_eq!(metric(&broken, "cases"), 2);
    assert_eq!(
        broken.metrics["cascade"]["failed_case"],
        serde_json::json!(true)
    );

    let error = load_error(
        &format!("{plain_toml}cascade = [{{ cases = 6 }}]\n"),
        &files,
    );
    assert!(
        error.contains("heuristic.cascade[0].cases") && error.contains("6 public cases"),
        "{error}"
    );
}

#[test]
fn minimize_scores_relative_to_the_seed_and_needs_a_passing_seed() {
    let toml = r#"
[task]
kind = "heuristic"
languages = ["rust"]
[heuristic]
builtin = "tour"
seed = "seed.rs"
public_seeds = "0..3"
"#;
    let seed = include_str!("../../library/heuristic/tour/seed.rs");
    let dir = temp_task(toml, &[("seed.rs", seed)]);
    let task = Task::load(dir.path(), sandbox()).expect("loads");
    let better = task.evaluate(&fixture_candidate("tour_better.rs"));
    assert!(better.score > 1.2, "{}", better.feedback);
    let message = load_error(toml, &[("seed.rs", "fn main() { println!(\"0\"); }")]);
    assert!(
        message.contains("seed solution fails") && message.contains("seed 0"),
        "{message}"
    );
}

#[test]
fn bad_task_toml_is_a_clear_error() {
    let seed = [("seed.rs", AHC_SEED)];
    let base = |extra: &str| {
        format!(
            "[task]\nkind = \"heuristic\"\nlanguages = [\"rust\"]\n[heuristic]\nseed = \"seed.rs\"\n{extra}"
        )
    };
    let cases: &[(&str, &[&str])] = &[
        (
            "builtin = \"ahc001\"\npublic_seeds = \"0..3\"\ncolour = 1\n",
            &["heuristic", "colour"],
        ),
        (
            "builtin = \"ahc002\"\npublic_seeds = \"0..3\"\n",
            &["heuristic.builtin", "ahc002", "ahc001, tour, grid_path"],
        ),
        (
            "public_seeds = \"0..3\"\n",
            &["heuristic.builtin", "missing"],
        ),
        (
            "builtin = \"ahc001\"\ntools = \"tools\"\npublic_seeds = \"0..3\"\n",
            &["either"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = \"3..3\"\n",
            &["heuristic.public_seeds", "no seed"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = \"a..b\"\n",
            &["heuristic.public_seeds", "not a range"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = [1, -2]\n",
            &["heuristic.public_seeds[1]", "non-negative"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = [1, 1]\n",
            &["seed 1 appears twice"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = 5\n",
            &["must be an array or a string range"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = \"0..3\"\nprivate_seeds = [2, 9]\n",
            &["heuristic.private_seeds", "seed 2 is also public"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = \"0..3\"\nbest_known = { \"0\" = 1, \"1\" = 2 }\n",
            &["heuristic.best_known", "seed 2"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = \"0..1\"\nbest_known = { \"0\" = -1 }\n",
            &["positive"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = \"0..1\"\nbest_known = \"nope.txt\"\n",
            &["heuristic.best_known", "nope.txt"],
        ),
        (
            "builtin = \"ahc001\"\nobjective = \"minimize\"\npublic_seeds = \"0..3\"\n",
            &["heuristic.objective", "contradicts"],
        ),
        (
            "builtin = \"ahc001\"\nobjective = \"most\"\npublic_seeds = \"0..3\"\n",
            &["heuristic", "most"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = \"0..3\"\nfuel = 0\n",
            &["heuristic.fuel", "positive"],
        ),
        (
            "builtin = \"ahc001\"\npublic_seeds = \"0..3\"\ninteractive = true\n",
            &["heuristic.interactive"],
        ),
        (
            "tools = \"no-such-dir\"\nobjective = \"maximize\"\npublic_seeds = \"0..3\"\n",
            &["heuristic.tools", "no-such-dir"],
        ),
        (
            "tools = \".\"\npublic_seeds = \"0..3\"\n",
            &["heuristic.objective", "missing"],
        ),
        (
            "builtin = \"tour\"\npublic_seeds = \"0..3\"\nstrict_output = true\n",
            &["heuristic.strict_output", "ahc001 only"],
        ),
        (
            "tools = \".\"\nobjective = \"maximize\"\npublic_seeds = \"0..3\"\nstrict_output = true\n",
            &["heuristic.strict_output", "builtin"],
        ),
        (
            "tools = \".\"\nobjective = \"maximize\"\npublic_seeds = \"0..3\"\n",
            &["heuristic.tools", "Cargo.toml"],
        ),
    ];
    for (extra, words) in cases {
        let message = load_error(&base(extra), &seed);
        for word in *words {
            assert!(
                message.contains(word),
                "`{extra}`: expected `{word}` in: {message}"
            );
        }
    }
    let bad_file = load_error(
        &base("builtin = \"ahc001\"\npublic_seeds = \"0..1\"\nbest_known = \"best.txt\"\n"),
        &[("seed.rs", AHC_SEED), ("best.txt", "0 12 extra\n")],
    );
    assert!(
        bad_file.contains("best.txt") && bad_file.contains("line 1"),
        "{bad_file}"
    );
    let no_section = load_error(
        "[task]\nkind = \"heuristic\"\nlanguages = [\"rust\"]\n",
        &seed,
    );
    assert!(no_section.contains("[heuristic]"), "{no_section}");
    let c_seed = load_error(
        &base("builtin = \"ahc001\"\npublic_seeds = \"0..1\"\n").replace("seed.rs", "seed.c"),
        &[("seed.c", "int main(){}")],
    );
    assert!(
        c_seed.contains("heuristic.seed") && c_seed.contains("task.languages"),
        "{c_seed}"
    );
}

fn tools_toml(folder: &str, extra: &str) -> String {
    format!(
        "[task]\nkind = \"heuristic\"\nlanguages = [\"rust\"]\n[heuristic]\ntools = \"{}\"\nobjective = \"maximize\"\nseed = \"seed.rs\"\npublic_seeds = [10, 11, 12, 13, 14]\nprivate_seeds = [20, 21]\n{extra}",
        fixture("heuristic", folder).display()
    )
}

/// The batch tools fixture's task, loaded (and so built) once per test binary.
fn batch_task() -> &'static Task {
    static TASK: OnceLock<(tempfile::TempDir, Task)> = OnceLock::new();
    let (_, task) = TASK.get_or_init(|| {
        let seed = std::fs::read_to_string(fixture("heuristic", "subset_seed.rs")).expect("seed");
        let dir = temp_task(&tools_toml("tools-batch", ""), &[("seed.rs", &seed)]);
        let task = Task::load(dir.path(), sandbox()).unwrap_or_else(|e| panic!("{e}"));
        (dir, task)
    });
    task
}

/// When the batch fixture's build finished (its `built` marker in the test cache).
fn batch_build_time() -> std::time::SystemTime {
    let hash = hone_tasks::hash_folder(&fixture("heuristic", "tools-batch")).expect("hash");
    let marker = std::env::temp_dir()
        .join("hone-test-cache/heuristic-tools")
        .join(&hash[..24])
        .join("built");
    marker
        .metadata()
        .and_then(|m| m.modified())
        .expect("the build marker")
}

#[test]
fn tools_folder_builds_generates_and_scores() {
    let task = batch_task();
    let evaluation = task.evaluate(&task.seeds[0]);
    assert!(evaluation.valid, "{}", evaluation.feedback);
    // gen fails on seed 13: that case is skipped and named, the others are scored.
    assert_eq!(metric(&evaluation, "skipped"), 1);
    assert_eq!(metric(&evaluation, "passed"), 4);
    assert!(
        evaluation.feedback.contains("seed 13 skipped")
            && evaluation.feedback.contains("seed 13 is unlucky"),
        "{}",
        evaluation.feedback
    );
    let total = metric(&evaluation, "total");
    assert!(total > 4 && evaluation.score == total as f64);
    // A candidate that takes nothing scores lower than the seed, which aims at half the target.
    let nothing = task.evaluate(&rust(
        "use std::io::Read; fn main() { let mut t = String::new(); std::io::stdin().read_to_string(&mut t).unwrap(); let n: usize = t.split_whitespace().next().unwrap().parse().unwrap(); println!(\"{}\", vec![\"0\"; n].join(\" \")); }",
    ));
    assert!(
        nothing.valid && nothing.score < evaluation.score,
        "{} vs {}",
        nothing.score,
        evaluation.score
    );
    let final_evaluation = task.evaluate_private(&task.seeds[0]).expect("private");
    assert_eq!(metric(&final_evaluation, "cases"), 2);

    // Malformed output: vis prints `Score = 0` and its message.
    let malformed = task.evaluate(&rust("fn main() { println!(\"1 0 1\"); }"));
    assert!(
        !malformed.valid && malformed.status == EvalStatus::WrongAnswer,
        "{}",
        malformed.feedback
    );
    assert!(
        malformed.feedback.contains("expected") && malformed.feedback.contains("tokens, got 3"),
        "{}",
        malformed.feedback
    );
    // A scorer that prints no score.
    let silent = task.evaluate(&rust("fn main() { println!(\"SILENT\"); }"));
    assert_eq!(
        silent.status,
        EvalStatus::InvalidOutput,
        "{}",
        silent.feedback
    );
    assert!(
        silent.feedback.contains("printed no `Score = N` line"),
        "{}",
        silent.feedback
    );
    // A second load of the same folder reuses the build and the generated inputs.
    let seed = std::fs::read_to_string(fixture("heuristic", "subset_seed.rs")).expect("seed");
    let dir = temp_task(
        &tools_toml("tools-batch", "zero_on_failure = true\n"),
        &[("seed.rs", &seed)],
    );
    let built = batch_build_time();
    let again = Task::load(dir.path(), sandbox()).expect("loads");
    assert_eq!(batch_build_time(), built, "no rebuild");
    // A skipped case is not a failure, even under zero_on_failure.
    assert_eq!(again.evaluate(&again.seeds[0]).score, evaluation.score);
    // Minimize without best_known: relative to the seed, the skipped case left out.
    let dir = temp_task(
        &tools_toml("tools-batch", "").replace("maximize", "minimize"),
        &[("seed.rs", &seed)],
    );
    let minimize = Task::load(dir.path(), sandbox()).expect("loads");
    let relative = minimize.evaluate(&minimize.seeds[0]);
    assert_eq!(relative.score, 1.0, "{}", relative.feedback);
    assert_eq!(metric(&relative, "skipped"), 1);
    // A generator that fails on every public seed: the task does not load.
    let dir = temp_task(
        &tools_toml("tools-batch", "").replace("[10, 11, 12, 13, 14]", "[13]"),
        &[("seed.rs", &seed)],
    );
    let message = Task::load(dir.path(), sandbox())
        .expect_err("no inputs")
        .to_string();
    assert!(
        message.contains("heuristic.public_seeds") && message.contains("seed 13 is unlucky"),
        "{message}"
    );
}

#[test]
fn tools_folder_that_does_not_build_is_a_load_error() {
    let dir = temp_task(
        &tools_toml("tools-broken", ""),
        &[("seed.rs", "fn main() {}")],
    );
    let error = Task::load(dir.path(), sandbox()).expect_err("must not load");
    assert!(matches!(error, TaskError::TaskProgram { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("tools-broken") && message.contains("cargo build --release"),
        "{message}"
    );
    assert!(message.contains("to_strin"), "{message}");
}

#[test]
fn interactive_tools_need_the_hone_binary() {
    let seed = std::fs::read_to_string(fixture("heuristic", "subset_seed.rs")).expect("seed");
    let dir = temp_task(&tools_toml("tools-interactive", ""), &[("seed.rs", &seed)]);
    // Loaded without a hone binary: a clear error naming the field and what is missing.
    let message = Task::load(dir.path(), sandbox())
        .expect_err("no hone")
        .to_string();
    assert!(
        message.contains("heuristic.tools") && message.contains("no hone binary was given"),
        "{message}"
    );
    // Given a path that is not a file: the error names it.
    let missing = dir.path().join("no-such-hone");
    let message = TaskLoader::new(sandbox().clone())
        .with_hone_binary(&missing)
        .load(dir.path())
        .expect_err("not a file")
        .to_string();
    assert!(
        message.contains("heuristic.tools")
            && message.contains(&missing.display().to_string())
            && message.contains("is not a file"),
        "{message}"
    );
    // Python with an interactive tester: refused at load, saying why (the tester runs a
    // wasm module in another process; a Python candidate has none).
    let dir = temp_task(
        &tools_toml("tools-interactive", "").replace(
            "languages = [\"rust\"]",
            "languages = [\"rust\", \"python\"]",
        ),
        &[("seed.rs", &seed)],
    );
    let message = TaskLoader::new(sandbox().clone())
        .with_hone_binary(&missing)
        .load(dir.path())
        .expect_err("python with an interactive tester")
        .to_string();
    assert!(
        message.contains("task.languages")
            && message.contains("python is not accepted with an interactive tester"),
        "{message}"
    );
}
