//! The efficiency task kind: loading (strictly), scoring, feedback, and the ten bundled problems.

use std::path::Path;
use std::sync::OnceLock;

use hone_sandbox::Language;
use hone_tasks::kinds::efficiency::afterburner_reward;
use hone_tasks::{Candidate, EvalStatus, Task, TaskError};

use crate::support::{folder, library, sandbox};

fn candidate_from(path: &Path) -> Candidate {
    let text = std::fs::read_to_string(path).expect("candidate file");
    let language = Language::from_path(path).expect("a source file");
    Candidate::from_file(language.file_name(), text)
}

fn reference(dir: &Path, stem: &str) -> Candidate {
    let path = ["rs", "c", "py"]
        .iter()
        .map(|ext| dir.join(format!("reference/{stem}.{ext}")))
        .find(|p| p.exists());
    candidate_from(
        &path.unwrap_or_else(|| panic!("{} has no reference/{stem}.rs, .c or .py", dir.display())),
    )
}

/// Seed scores exactly 1.0 on visible and hidden tests; the known fast solution is valid
/// on both and at least 1.5x cheaper; the subtly wrong one is rejected.
fn check_library_problem(name: &str) {
    let dir = library("efficiency", name);
    let task = Task::load(&dir, sandbox()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(task.seeds.len(), 1);
    assert!(!task.prompt.statement.is_empty() && !task.prompt.constraints.is_empty());
    let shown = format!(
        "{} {} {} {}",
        task.prompt.statement,
        task.prompt.inputs,
        task.prompt.documentation,
        task.prompt.constraints
    );
    assert!(
        !shown.contains("reference/"),
        "{name}: the prompt mentions the hidden reference folder"
    );

    let seed = task.evaluate(&task.seeds[0]);
    assert!(seed.valid, "{name}: seed invalid: {}", seed.feedback);
    assert_eq!(seed.score, 1.0, "{name}: seed score");
    let seed_fuel = seed.fuel.expect("fuel");
    assert!(
        seed_fuel < 2_000_000_000,
        "{name}: the seed costs {seed_fuel} fuel on the visible tests"
    );

    let fast = task.evaluate(&reference(&dir, "fast"));
    assert!(
        fast.valid,
        "{name}: fast solution invalid: {}",
        fast.feedback
    );
    assert!(
        fast.score >= 1.5,
        "{name}: fast solution scores only {}",
        fast.score
    );
    let fast_final = task
        .evaluate_private(&reference(&dir, "fast"))
        .expect("hidden tests");
    assert!(
        fast_final.valid,
        "{name}: fast solution fails hidden tests: {}",
        fast_final.feedback
    );
    assert!(
        fast_final.score >= 1.5,
        "{name}: fast solution on hidden tests scores {}",
        fast_final.score
    );

    let wrong = task.evaluate(&reference(&dir, "wrong"));
    assert!(!wrong.valid, "{name}: the wrong solution was accepted");
    assert_eq!(wrong.score, 0.0);
    assert_ne!(
        wrong.status,
        EvalStatus::Ok,
        "{name}: wrong solution status"
    );
    assert_eq!(wrong.metrics["grpo_reward"], serde_json::json!(-1.0));

    let seed_final = task.evaluate_private(&task.seeds[0]).expect("hidden tests");
    assert!(
        seed_final.valid && seed_final.score == 1.0,
        "{name}: seed on hidden tests: {}",
        seed_final.feedback
    );
    eprintln!(
        "efficiency/{name}: seed fuel {seed_fuel}, fast fuel {}, speedup {:.2}x (hidden {:.2}x)",
        fast.fuel.unwrap_or(0),
        fast.score,
        fast_final.score
    );
}

macro_rules! library_problems {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check_library_problem($name);
            }
        )*

        const LIBRARY: &[&str] = &[$($name),*];
    };
}

library_problems! {
    library_pair_count => "pair-count",
    library_pair_count_python => "pair-count-python",
    library_prime_count => "prime-count",
    library_prime_count_python => "prime-count-python",
    library_lcs => "lcs",
    library_matrix_power => "matrix-power",
    library_inversions => "inversions",
    library_sorting => "sorting",
    library_sorting_cpp => "sorting-cpp",
    library_fib_mod => "fib-mod",
    library_substring_search => "substring-search",
    library_range_sum => "range-sum",
    library_range_sum_python => "range-sum-python",
    library_shortest_paths => "shortest-paths",
}

#[test]
fn library_holds_ten_problems_mixing_c_and_rust_seeds_and_a_cpp_variant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("library/efficiency");
    let mut found: Vec<String> = std::fs::read_dir(&root)
        .expect("library folder")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("task.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = LIBRARY.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "every bundled problem is tested");
    let c_seeds = LIBRARY
        .iter()
        .filter(|n| library("efficiency", n).join("seed.c").exists())
        .count();
    let rust_seeds = LIBRARY
        .iter()
        .filter(|n| library("efficiency", n).join("seed.rs").exists())
        .count();
    let cpp_seeds: Vec<&&str> = LIBRARY
        .iter()
        .filter(|n| library("efficiency", n).join("seed.cpp").exists())
        .collect();
    let python_seeds: Vec<&&str> = LIBRARY
        .iter()
        .filter(|n| library("efficiency", n).join("seed.py").exists())
        .collect();
    assert_eq!((c_seeds, rust_seeds), (5, 5));
    assert_eq!(cpp_seeds, [&"sorting-cpp"]);
    assert_eq!(
        python_seeds,
        [
            &"pair-count-python",
            &"prime-count-python",
            &"range-sum-python"
        ]
    );
    for name in LIBRARY {
        let statement = std::fs::read_to_string(library("efficiency", name).join("statement.md"))
            .expect("statement");
        for section in ["## Input", "## Output", "## Constraints"] {
            assert!(
                statement.contains(section),
                "{name}: statement lacks {section}"
            );
        }
    }
}

/// The pair-count seed is the offline tuning demo: its marked constants change the fuel
/// while the program stays correct.
#[test]
fn pair_count_tunable_constants_change_the_fuel() {
    let task = Task::load(&library("efficiency", "pair-count"), sandbox()).expect("pair-count");
    let seed = &task.seeds[0].files["main.c"];
    let marked: Vec<&str> = seed
        .lines()
        .filter(|l| l.contains("// hone:tune"))
        .collect();
    assert_eq!(marked.len(), 2, "two tunable constants");
    let with = |brute: &str, cutoff: &str| {
        let source = seed
            .replace(
                "#define BRUTE_FORCE_MAX_N 20000 //",
                &format!("#define BRUTE_FORCE_MAX_N {brute} //"),
            )
            .replace(
                "#define INSERTION_CUTOFF 1 //",
                &format!("#define INSERTION_CUTOFF {cutoff} //"),
            );
        assert_ne!(&source, seed);
        task.evaluate(&Candidate::from_file("main.c", source))
    };
    let sorted = with("1", "1");
    assert!(sorted.valid, "{}", sorted.feedback);
    assert!(
        sorted.score > 5.0,
        "switching to the sort should pay: {}",
        sorted.score
    );
    let tuned = with("1", "16");
    assert!(tuned.valid, "{}", tuned.feedback);
    assert_ne!(
        tuned.fuel, sorted.fuel,
        "the insertion cutoff changes the fuel"
    );
    let middle = with("40", "16");
    assert!(middle.valid);
    assert_ne!(
        middle.fuel, tuned.fuel,
        "the brute-force threshold matters on small tests too"
    );
}

#[test]
fn evaluations_are_deterministic_and_traced() {
    let dir = library("efficiency", "pair-count");
    let task = Task::load(&dir, sandbox()).expect("pair-count");
    let fast = reference(&dir, "fast");
    let a = task.evaluate(&fast);
    let b = task.evaluate(&fast);
    assert_eq!(a.fuel, b.fuel);
    assert_eq!(a.score, b.score);
    assert_eq!(a.trace, b.trace);
    let trace = a.trace.as_array().expect("trace is an array");
    assert_eq!(
        trace.len(),
        a.metrics["tests"].as_u64().expect("tests") as usize
    );
    let total: u64 = trace
        .iter()
        .map(|t| t["fuel"].as_u64().expect("fuel"))
        .sum();
    assert_eq!(Some(total), a.fuel);
    for case in trace {
        assert_eq!(case["passed"], serde_json::json!(true));
        assert_eq!(case["status"], serde_json::json!("ok"));
        assert!(case["name"].is_string() && case["peak_memory_bytes"].as_u64().is_some());
    }
    let summary = &a.metrics["afterburner"];
    assert_eq!(summary["passed"], serde_json::json!(true));
    assert_eq!(summary["speedup"].as_f64(), Some(a.score));
    let seed_fuel = a.metrics["seed_fuel"].as_u64().expect("seed fuel");
    assert_eq!(
        a.metrics["grpo_reward"].as_f64(),
        Some(afterburner_reward(Some(seed_fuel), a.fuel))
    );
    assert!(a.metrics["grpo_reward"].as_f64().unwrap_or(0.0) > 0.3);
    assert!(
        a.feedback.contains("Speedup") && a.feedback.contains("Costliest tests"),
        "{}",
        a.feedback
    );
}

// ---- a tiny task written to a temporary folder, for bad inputs ----

const SUM_SEED: &str = r#"#include <stdio.h>
int main(void) {
    long long a, b;
    if (scanf("%lld %lld", &a, &b) != 2) return 1;
    for (volatile int i = 0; i < 20000; i++) {}
    printf("%lld\n", a + b);
    return 0;
}
"#;

const SUM_FAST: &str = r#"#include <stdio.h>
int main(void) {
    long long a, b;
    if (scanf("%lld %lld", &a, &b) != 2) return 1;
    printf("%lld\n", a + b);
    return 0;
}
"#;

const SUM_GEN: &str = r#"#include <stdio.h>
int main(void) {
    unsigned long long seed;
    if (scanf("%llu", &seed) != 1) return 1;
    printf("%llu %llu\n", seed * 7, seed * 13);
    return 0;
}
"#;

const SUM_TOML: &str = r#"[task]
kind = "efficiency"
languages = ["c"]

[efficiency]
seed = "seed.c"
checker = { type = "tokens" }
generator = "gen.c"
fuel_factor = 10
fuel_floor = 1000000
memory_mb = 16
timeout_ms = 5000
visible = { files = "tests/visible", generate = ["3", "5 extra"] }
hidden = { generate = ["11"] }
"#;

/// Writes a task folder: the sum task with `toml` as task.toml, plus `extra` files.
fn sum_task(toml: &str, extra: &[(&str, &str)]) -> tempfile::TempDir {
    let files: &[(&str, &str)] = &[
        ("task.toml", toml),
        (
            "statement.md",
            "# Sum\nPrint a + b.\n## Input\na b\n## Output\na + b\n## Constraints\n|a|, |b| <= 10^18\n",
        ),
        ("seed.c", SUM_SEED),
        ("gen.c", SUM_GEN),
        ("tests/visible/a.in", "1 2\n"),
        ("tests/visible/a.out", "3\n"),
        ("tests/visible/b.in", "-5 5\n"),
        ("tests/visible/b.out", "0\n"),
    ];
    let all: Vec<(&str, &str)> = files.iter().chain(extra).copied().collect();
    folder(&all)
}

fn load_error(toml: &str, extra: &[(&str, &str)]) -> String {
    let dir = sum_task(toml, extra);
    match Task::load(dir.path(), sandbox()) {
        Ok(_) => panic!("the task loaded, but should not have:\n{toml}"),
        Err(error) => error.to_string(),
    }
}

fn sum_loaded() -> (tempfile::TempDir, Task) {
    let dir = sum_task(SUM_TOML, &[]);
    let task = Task::load(dir.path(), sandbox()).expect("sum task");
    (dir, task)
}

#[test]
fn a_good_small_task_loads_and_scores() {
    let (_dir, task) = sum_loaded();
    assert_eq!(task.seeds[0].files.keys().collect::<Vec<_>>(), ["main.c"]);
    let seed = task.evaluate(&task.seeds[0]);
    assert!(seed.valid && seed.score == 1.0, "{}", seed.feedback);
    // Files first (a, b), then generated tests named after their lines.
    let names: Vec<&str> = seed
        .trace
        .as_array()
        .expect("trace")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b", "gen-3", "gen-5-extra"]);
    let fast = task.evaluate(&Candidate::from_file("main.c", SUM_FAST));
    assert!(
        fast.valid && fast.score > 1.5,
        "{} {}",
        fast.score,
        fast.feedback
    );
    let hidden = task
        .evaluate_private(&Candidate::from_file("main.c", SUM_FAST))
        .expect("hidden");
    assert!(hidden.valid);
    assert_eq!(hidden.metrics["tests"], serde_json::json!(1));
    assert!(task.prompt.inputs.contains("gen-5-extra") && task.prompt.constraints.contains("10x"));
}

#[test]
fn missing_field_is_named() {
    let error = load_error(&SUM_TOML.replace("memory_mb = 16\n", ""), &[]);
    assert!(
        error.contains("task.toml")
            && error.contains("efficiency.memory_mb")
            && error.contains("missing"),
        "{error}"
    );
    assert!(error.contains("positive integer"), "{error}");
    let error = load_error(
        &SUM_TOML.replace("checker = { type = \"tokens\" }\n", ""),
        &[],
    );
    assert!(
        error.contains("efficiency.checker") && error.contains("float"),
        "{error}"
    );
    let error = load_error(
        &SUM_TOML.replace("hidden = { generate = [\"11\"] }\n", ""),
        &[],
    );
    assert!(
        error.contains("efficiency.hidden") && error.contains("missing"),
        "{error}"
    );
}

#[test]
fn wrong_type_is_named() {
    let error = load_error(
        &SUM_TOML.replace("fuel_factor = 10", "fuel_factor = \"ten\""),
        &[],
    );
    assert!(
        error.contains("task.toml") && error.contains("efficiency.fuel_factor"),
        "{error}"
    );
    assert!(
        error.contains("number >= 1") && error.contains("string"),
        "{error}"
    );
    let error = load_error(
        &SUM_TOML.replace("timeout_ms = 5000", "timeout_ms = 2.5"),
        &[],
    );
    assert!(
        error.contains("efficiency.timeout_ms") && error.contains("positive integer"),
        "{error}"
    );
    let error = load_error(
        &SUM_TOML.replace("fuel_factor = 10", "fuel_factor = 0.5"),
        &[],
    );
    assert!(
        error.contains("efficiency.fuel_factor") && error.contains(">= 1"),
        "{error}"
    );
}

#[test]
fn unknown_key_is_named() {
    let error = load_error(
        &SUM_TOML.replace("memory_mb = 16", "memory_mb = 16\nturbo = true"),
        &[],
    );
    assert!(
        error.contains("efficiency.turbo") && error.contains("unknown key"),
        "{error}"
    );
    assert!(
        error.contains("fuel_factor") && error.contains("timeout_ms"),
        "{error}"
    );
    let error = load_error(
        &SUM_TOML.replace("hidden = { generate", "hidden = { seeds = [1], generate"),
        &[],
    );
    assert!(
        error.contains("efficiency.hidden.seeds") && error.contains("files"),
        "{error}"
    );
}

#[test]
fn a_search_section_is_kept_for_the_agent_and_other_sections_are_refused() {
    let toml = format!("{SUM_TOML}\n[search.map_elites]\ndescriptors = [\"fuel:0..1e9:10\"]\n");
    let dir = sum_task(&toml, &[]);
    let task = Task::load(dir.path(), sandbox()).expect("a task with [search]");
    let descriptors = task
        .search
        .get("map_elites")
        .and_then(|t| t.get("descriptors"))
        .and_then(|d| d.as_array())
        .map(|d| d.len());
    assert_eq!(descriptors, Some(1), "{:?}", task.search);
    let (_dir, plain) = sum_loaded();
    assert!(plain.search.is_empty());
    let error = load_error(&format!("{SUM_TOML}\n[turbo]\nx = 1\n"), &[]);
    assert!(
        error.contains("turbo") && error.contains("accepted: [task], [efficiency], [search]"),
        "{error}"
    );
}

#[test]
fn missing_files_are_named() {
    let error = load_error(
        &SUM_TOML.replace("seed = \"seed.c\"", "seed = \"nope.c\""),
        &[],
    );
    assert!(
        error.contains("efficiency.seed")
            && error.contains("nope.c")
            && error.contains("does not exist"),
        "{error}"
    );
    let error = load_error(
        &SUM_TOML.replace("generator = \"gen.c\"", "generator = \"gen2.c\""),
        &[],
    );
    assert!(
        error.contains("efficiency.generator") && error.contains("gen2.c"),
        "{error}"
    );
    let error = load_error(
        &SUM_TOML.replace("files = \"tests/visible\"", "files = \"tests/none\""),
        &[],
    );
    assert!(
        error.contains("efficiency.visible.files") && error.contains("tests/none"),
        "{error}"
    );
    let error = load_error(SUM_TOML, &[("tests/visible/c.in", "1 1\n")]);
    assert!(
        error.contains("efficiency.visible.files")
            && error.contains("c.in")
            && error.contains("c.out"),
        "{error}"
    );
    let error = load_error(
        &SUM_TOML.replace(
            "{ type = \"tokens\" }",
            "{ type = \"program\", path = \"check.c\" }",
        ),
        &[],
    );
    assert!(
        error.contains("efficiency.checker.path") && error.contains("check.c"),
        "{error}"
    );
}

#[test]
fn a_seed_failing_its_own_tests_is_named() {
    let error = load_error(SUM_TOML, &[("tests/visible/b.out", "1\n")]);
    assert!(
        error.contains("seed.c") && error.contains("fails its own task"),
        "{error}"
    );
    assert!(
        error.contains("test `b`") && error.contains("tests/visible/b.in"),
        "{error}"
    );
    assert!(
        error.contains("efficiency.seed") && error.contains("expected `1`, got `0`"),
        "{error}"
    );
    // A seed that crashes on a generated test.
    let crashing = SUM_SEED.replace(
        "printf(\"%lld\\n\", a + b);",
        "if (a == 77) __builtin_trap(); printf(\"%lld\\n\", a + b);",
    );
    let error = load_error(SUM_TOML, &[("seed.c", crashing.as_str())]);
    assert!(
        error.contains("gen-11") && error.contains("runtime_error"),
        "{error}"
    );
}

#[test]
fn other_bad_sections_are_named() {
    let error = load_error(
        &SUM_TOML.replace("languages = [\"c\"]", "languages = []"),
        &[],
    );
    assert!(error.contains("task.languages"), "{error}");
    let error = load_error(
        &SUM_TOML.replace("languages = [\"c\"]", "languages = [\"rust\"]"),
        &[],
    );
    assert!(
        error.contains("efficiency.seed") && error.contains("does not allow"),
        "{error}"
    );
    let error = load_error(&SUM_TOML.replace("\"5 extra\"", "\"five\""), &[]);
    assert!(
        error.contains("efficiency.visible.generate[1]") && error.contains("SEED"),
        "{error}"
    );
    let broken_gen = "int main(void) { return 3; }\n";
    let error = load_error(SUM_TOML, &[("gen.c", broken_gen)]);
    assert!(
        error.contains("efficiency.generator") && error.contains("exit(3)"),
        "{error}"
    );
    assert!(matches!(
        Task::load(
            sum_task(SUM_TOML, &[("seed.c", "int main( {")]).path(),
            sandbox()
        ),
        Err(TaskError::TaskProgram { .. })
    ));
}

#[test]
fn a_checker_program_and_a_reference_are_used() {
    let checker = r#"#include <stdio.h>
#include <stdlib.h>
static char buf[1 << 16];
int main(void) {
    long i, e, g;
    if (scanf("%ld %ld %ld", &i, &e, &g) != 3) return 2;
    getchar();
    size_t n = fread(buf, 1, sizeof buf - 1, stdin);
    buf[n] = 0;
    char *p = buf + i;
    long long expected = strtoll(p, NULL, 10);
    long long got = strtoll(p + e, NULL, 10);
    if (expected != got) { printf("numbers differ: %lld vs %lld", expected, got); return 1; }
    return 0;
}
"#;
    let toml = SUM_TOML
        .replace(
            "{ type = \"tokens\" }",
            "{ type = \"program\", path = \"check.c\" }",
        )
        .replace(
            "generator = \"gen.c\"",
            "generator = \"gen.c\"\nreference = \"ref.c\"",
        );
    let dir = sum_task(&toml, &[("check.c", checker), ("ref.c", SUM_FAST)]);
    let task = Task::load(dir.path(), sandbox()).expect("checker task");
    // "+3" is the number 3 for the checker program, though not the same token.
    let plus = SUM_FAST.replace(
        "printf(\"%lld\\n\", a + b);",
        "printf(\"%+lld\\n\", a + b);",
    );
    let evaluation = task.evaluate(&Candidate::from_file("main.c", plus));
    assert!(evaluation.valid, "{}", evaluation.feedback);
    let off = SUM_FAST.replace("a + b);", "a + b + 1);");
    let evaluation = task.evaluate(&Candidate::from_file("main.c", off));
    assert_eq!(evaluation.status, EvalStatus::WrongAnswer);
    assert!(
        evaluation.feedback.contains("numbers differ: 3 vs 4"),
        "{}",
        evaluation.feedback
    );
}

fn evaluate_sum(candidate: Candidate) -> hone_tasks::Evaluation {
    static TASK: OnceLock<(tempfile::TempDir, Task)> = OnceLock::new();
    TASK.get_or_init(sum_loaded).1.evaluate(&candidate)
}

#[test]
fn a_language_the_task_does_not_allow_is_a_clear_status() {
    let evaluation = evaluate_sum(Candidate::from_file(
        "main.rs",
        "fn main() { println!(\"3\"); }",
    ));
    assert_eq!(evaluation.status, EvalStatus::CompileError);
    assert!(!evaluation.valid && evaluation.score == 0.0);
    assert!(
        evaluation.feedback.contains("language rust") && evaluation.feedback.contains("allowed: c"),
        "{}",
        evaluation.feedback
    );
    let evaluation = evaluate_sum(Candidate::from_file("notes.txt", "faster please"));
    assert_eq!(evaluation.status, EvalStatus::CompileError);
    assert!(
        evaluation.feedback.contains("no code file") && evaluation.feedback.contains("main.c"),
        "{}",
        evaluation.feedback
    );
}

#[test]
fn a_candidate_that_does_not_compile() {
    let evaluation = evaluate_sum(Candidate::from_file(
        "main.c",
        "int main(void) { return undefined_name; }",
    ));
    assert_eq!(evaluation.status, EvalStatus::CompileError);
    assert!(
        evaluation.feedback.contains("does not compile")
            && evaluation.feedback.contains("undefined_name"),
        "{}",
        evaluation.feedback
    );
    assert_eq!(evaluation.metrics["grpo_reward"], serde_json::json!(-1.0));
    assert_eq!(
        evaluation.metrics["afterburner"]["passed"],
        serde_json::json!(false)
    );
    assert_eq!(evaluation.metrics["tests"], serde_json::json!(4));
}

#[test]
fn a_candidate_that_traps() {
    let evaluation = evaluate_sum(Candidate::from_file(
        "main.c",
        "int main(void) { __builtin_trap(); }",
    ));
    assert_eq!(evaluation.status, EvalStatus::RuntimeError);
    assert!(!evaluation.valid);
    assert!(
        evaluation.feedback.contains("trapped") && evaluation.feedback.contains("Test `a`"),
        "{}",
        evaluation.feedback
    );
    // After three failures the last test is skipped.
    let trace = evaluation.trace.as_array().expect("trace");
    assert_eq!(trace.len(), 4);
    assert_eq!(trace[3]["status"], serde_json::json!("skipped"));
    assert_eq!(evaluation.metrics["skipped"], serde_json::json!(1));
}

#[test]
fn a_candidate_that_exhausts_its_fuel() {
    let spin = "int main(void) { for (volatile unsigned i = 0;; i++) {} }";
    let evaluation = evaluate_sum(Candidate::from_file("main.c", spin));
    assert_eq!(evaluation.status, EvalStatus::FuelExhausted);
    let first = &evaluation.trace[0];
    let limit = first["fuel_limit"].as_u64().expect("fuel limit");
    assert_eq!(
        limit,
        (first["seed_fuel"].as_u64().expect("seed fuel") * 10).max(1_000_000),
        "fuel_factor 10, floor 1e6"
    );
    assert!(
        evaluation
            .feedback
            .contains(&format!("fuel limit of {limit} (10.00x the seed's")),
        "{}",
        evaluation.feedback
    );
    // Three tests ran to their limits, then the fourth was skipped.
    let fuel = evaluation.fuel.expect("fuel");
    assert!(
        fuel >= 3 * limit && fuel <= 3 * limit + 3_000,
        "{fuel} vs 3 x {limit}"
    );
    assert_eq!(evaluation.metrics["skipped"], serde_json::json!(1));
}

#[test]
fn a_candidate_that_prints_garbage() {
    let garbage =
        "#include <stdio.h>\nint main(void) { printf(\"hello \\x01\\xff world\\n\"); return 0; }";
    let evaluation = evaluate_sum(Candidate::from_file("main.c", garbage));
    assert_eq!(evaluation.status, EvalStatus::WrongAnswer);
    assert!(
        evaluation.feedback.contains("expected:\n3") && evaluation.feedback.contains("got:\nhello"),
        "{}",
        evaluation.feedback
    );
    assert!(
        evaluation.feedback.contains("input (4 bytes):\n1 2"),
        "{}",
        evaluation.feedback
    );
    let flood = "#include <stdio.h>\nint main(void) { for (;;) putchar('9'); }";
    let evaluation = evaluate_sum(Candidate::from_file("main.c", flood));
    assert_eq!(evaluation.status, EvalStatus::OutputExceeded);
}

#[test]
fn a_candidate_wrong_on_one_test_only() {
    let partial = SUM_FAST.replace(
        "printf(\"%lld\\n\", a + b);",
        "printf(\"%lld\\n\", a == -5 ? 1 : a + b);",
    );
    let evaluation = evaluate_sum(Candidate::from_file("main.c", partial));
    assert_eq!(evaluation.status, EvalStatus::WrongAnswer);
    assert_eq!(evaluation.metrics["passed"], serde_json::json!(3));
    assert_eq!(evaluation.metrics["failed"], serde_json::json!(1));
    assert_eq!(
        evaluation.metrics["afterburner"]["passed"],
        serde_json::json!(false)
    );
    assert!(
        evaluation.feedback.contains("1 of 4 visible tests fail"),
        "{}",
        evaluation.feedback
    );
}

/// The visible tests run on several threads at once, yet an evaluation reads as one run
/// in order would: the tests after the third failure are skipped (run or not), and two
/// evaluations agree to the byte.
#[test]
fn tests_run_in_parallel_but_stop_as_in_order() {
    let toml = SUM_TOML.replace(
        r#"generate = ["3", "5 extra"]"#,
        r#"generate = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]"#,
    );
    let dir = sum_task(&toml, &[]);
    let task = Task::load(dir.path(), sandbox()).expect("sum task with twelve tests");
    // Wrong where a is a nonzero multiple of 14 (generated from seeds 2, 4, 6, 8, 10: every
    // other generated test), so the failures are interleaved with passes.
    let partial = SUM_SEED.replace(
        "printf(\"%lld\\n\", a + b);",
        "printf(\"%lld\\n\", a % 14 == 0 && a != 0 ? 1 : a + b);",
    );
    assert_ne!(partial, SUM_SEED);
    let candidate = Candidate::from_file("main.c", partial);
    let evaluation = task.evaluate(&candidate);
    assert_eq!(evaluation.status, EvalStatus::WrongAnswer);
    let statuses: Vec<&str> = evaluation
        .trace
        .as_array()
        .expect("a per-test trace")
        .iter()
        .map(|t| t["status"].as_str().expect("a status"))
        .collect();
    let failed: Vec<usize> = statuses
        .iter()
        .enumerate()
        .filter(|(_, s)| !matches!(**s, "ok" | "skipped"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed.len(), 3, "{statuses:?}");
    let third = failed[2];
    assert!(
        statuses[..third].iter().all(|s| *s != "skipped"),
        "{statuses:?}"
    );
    assert!(
        statuses[third + 1..].iter().all(|s| *s == "skipped"),
        "{statuses:?}"
    );
    assert!(third + 1 < statuses.len(), "{statuses:?}");
    assert_eq!(evaluation.metrics["failed"], serde_json::json!(3));
    let again = task.evaluate(&candidate);
    assert_eq!(again.trace, evaluation.trace);
    assert_eq!(again.feedback, evaluation.feedback);
    let without_wall = |metrics: &std::collections::BTreeMap<String, serde_json::Value>| {
        let mut metrics = metrics.clone();
        metrics.remove("wall_ms");
        metrics
    };
    assert_eq!(
        without_wall(&again.metrics),
        without_wall(&evaluation.metrics)
    );
}

// ---- cascades: cheap tests first, hopeless candidates stop early ----

/// The sum task with a two-stage cascade over its four visible tests.
const SUM_CASCADE_TOML: &str = r#"
cascade = [{ cases = 1 }, { cases = 2, min_score = 0.5 }]
"#;

fn sum_cascade_loaded() -> (tempfile::TempDir, Task) {
    let dir = sum_task(&format!("{SUM_TOML}{SUM_CASCADE_TOML}"), &[]);
    let task = Task::load(dir.path(), sandbox()).expect("sum task with a cascade");
    (dir, task)
}

/// The seed with its busy loop three times as long: about a third of the seed's speed.
fn sum_slow() -> String {
    SUM_SEED.replace("i < 20000", "i < 60000")
}

#[test]
fn a_cascade_stops_a_slow_candidate_after_its_stage_and_keeps_good_scores_exact() {
    let (_plain_dir, plain) = sum_loaded();
    let (_dir, task) = sum_cascade_loaded();

    // A candidate that passes every stage: exactly the evaluation without the cascade.
    for source in [SUM_SEED, SUM_FAST] {
        let candidate = Candidate::from_file("main.c", source);
        let with = task.evaluate(&candidate);
        let without = plain.evaluate(&candidate);
        assert!(with.valid, "{}", with.feedback);
        assert_eq!(
            (
                with.status,
                with.score,
                with.fuel,
                &with.trace,
                &with.feedback
            ),
            (
                without.status,
                without.score,
                without.fuel,
                &without.trace,
                &without.feedback
            )
        );
        assert_eq!(
            with.metrics["cascade"],
            serde_json::json!({ "stages": 2, "passed": 2, "stopped": false })
        );
        assert!(!without.metrics.contains_key("cascade"));
    }

    // Slower than the threshold on stage 2: stopped there, two tests never run.
    let slow = Candidate::from_file("main.c", sum_slow());
    let evaluation = task.evaluate(&slow);
    assert_eq!(evaluation.status, EvalStatus::CascadeStopped);
    assert!(!evaluation.valid && evaluation.score == 0.0);
    let cascade = &evaluation.metrics["cascade"];
    assert_eq!(cascade["stopped_at"], serde_json::json!(2), "{cascade}");
    assert_eq!(cascade["passed"], serde_json::json!(1), "{cascade}");
    assert_eq!(cascade["cases_run"], serde_json::json!(2), "{cascade}");
    let stage_score = cascade["stage_score"].as_f64().expect("stage score");
    assert!(stage_score > 0.2 && stage_score < 0.5, "{cascade}");
    assert_eq!(evaluation.metrics["skipped"], serde_json::json!(2));
    let statuses: Vec<&str> = evaluation
        .trace
        .as_array()
        .expect("trace")
        .iter()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(statuses, ["ok", "ok", "skipped", "skipped"]);
    assert!(
        evaluation
            .feedback
            .contains("Stopped by the cascade at stage 2 of 2")
            && evaluation
                .feedback
                .contains("below the stage's threshold 0.5"),
        "{}",
        evaluation.feedback
    );
    // Without the cascade the same candidate is valid (slower than the seed): the cascade
    // only saves the two remaining tests.
    let full = plain.evaluate(&slow);
    assert!(full.valid && full.score < 0.5, "{}", full.feedback);
    // The private evaluation runs every hidden test, cascade or not.
    let private = task.evaluate_private(&slow).expect("hidden tests");
    assert!(private.valid && !private.metrics.contains_key("cascade"));

    // A wrong answer on stage 1: invalid with its own status, the rest not run.
    let wrong = task.evaluate(&Candidate::from_file(
        "main.c",
        SUM_FAST.replace("a + b", "a - b"),
    ));
    assert_eq!(wrong.status, EvalStatus::WrongAnswer);
    assert_eq!(wrong.metrics["skipped"], serde_json::json!(3));
    assert_eq!(wrong.metrics["cascade"]["stopped_at"], serde_json::json!(1));
    assert_eq!(
        wrong.metrics["cascade"]["failed_case"],
        serde_json::json!(true)
    );
    assert!(
        wrong
            .feedback
            .contains("the cascade stopped at a failing stage"),
        "{}",
        wrong.feedback
    );
}

#[test]
fn a_bad_cascade_is_named() {
    let error = |cascade: &str| load_error(&format!("{SUM_TOML}cascade = {cascade}\n"), &[]);
    let too_many = error("[{ cases = 4 }]");
    assert!(
        too_many.contains("efficiency.cascade[0].cases")
            && too_many.contains("not below the task's 4 public cases"),
        "{too_many}"
    );
    let order = error("[{ cases = 2 }, { cases = 2 }]");
    assert!(
        order.contains("efficiency.cascade[1].cases") && order.contains("does not exceed"),
        "{order}"
    );
    let zero = error("[{ cases = 0 }]");
    assert!(
        zero.contains("efficiency.cascade[0].cases") && zero.contains("positive integer"),
        "{zero}"
    );
    let above = error("[{ cases = 1, min_score = 1.5 }]");
    assert!(
        above.contains("efficiency.cascade[0].min_score")
            && above.contains("seed itself would stop"),
        "{above}"
    );
    let unknown = error("[{ cases = 1, threshold = 0.5 }]");
    assert!(
        unknown.contains("efficiency.cascade") && unknown.contains("threshold"),
        "{unknown}"
    );
    let typed = error("3");
    assert!(
        typed.contains("efficiency.cascade") && typed.contains("list of stages"),
        "{typed}"
    );
}
