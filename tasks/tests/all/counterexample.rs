//! The counterexample task kind: the REFUTE verdict, the eight bundled problems (a known
//! counterexample refutes, random search mostly does not), bad candidates, and task.toml errors.

use std::path::Path;
use std::sync::OnceLock;

use hone_tasks::kinds::counterexample::{SCORE_NOT_REFUTED, SCORE_REFUTED};
use hone_tasks::{Candidate, EvalStatus, Evaluation, RandomCandidates, Task, TaskError};

use crate::support::{folder, library, sandbox};

/// The hidden known counterexample of a bundled problem: `reference/counterexample.txt`
/// (a literal input) or `reference/counterexample.c` (a generator).
fn known_counterexample(dir: &Path) -> Candidate {
    let literal = dir.join("reference/counterexample.txt");
    if literal.exists() {
        return Candidate::from_file(
            "input.txt",
            std::fs::read_to_string(literal).expect("reference input"),
        );
    }
    let generator = std::fs::read_to_string(dir.join("reference/counterexample.c"))
        .expect("reference generator");
    Candidate::from_file("main.c", generator)
}

fn metric<'a>(evaluation: &'a Evaluation, name: &str) -> &'a serde_json::Value {
    evaluation
        .metrics
        .get(name)
        .unwrap_or_else(|| panic!("no metric `{name}` in {:?}", evaluation.metrics))
}

/// Random inputs evaluated per bundled problem, and how many of them may refute.
const RANDOM_INPUTS: u64 = 50;
const MAX_RANDOM_REFUTATIONS: usize = 5;

/// A bundled problem: loads; its seeds are valid inputs; the known counterexample refutes
/// (with the expected kind of failure), and a repeat gives the same verdict; of 50 random
/// valid inputs from the task's generator at most 5 refute.
fn check_bundled(name: &str, expected_outcome: &str) -> (Task, Evaluation) {
    let dir = library("counterexample", name);
    let task = Task::load(&dir, sandbox()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(!task.seeds.is_empty());
    assert!(
        task.prompt.documentation.contains("wrong solution"),
        "{name}: the prompt must show the wrong code"
    );
    let shown = format!(
        "{} {} {}",
        task.prompt.statement, task.prompt.documentation, task.prompt.constraints
    );
    assert!(
        !shown.contains("reference/"),
        "{name}: the prompt mentions the hidden reference folder"
    );
    let correct_file = if dir.join("correct.c").exists() {
        "correct.c"
    } else {
        "correct.rs"
    };
    let correct_source = std::fs::read_to_string(dir.join(correct_file)).expect("correct source");
    assert!(
        !shown.contains(correct_source.trim()),
        "{name}: the prompt shows the correct solution"
    );

    for seed in &task.seeds {
        let evaluation = task.evaluate(seed);
        assert_eq!(
            evaluation.status,
            EvalStatus::WrongAnswer,
            "{name}: a seed must be valid and not refute: {}",
            evaluation.feedback
        );
    }

    let known = known_counterexample(&dir);
    let verdict = task.evaluate(&known);
    assert_eq!(
        verdict.status,
        EvalStatus::Ok,
        "{name}: known counterexample: {}",
        verdict.feedback
    );
    assert!(verdict.valid);
    assert_eq!(verdict.score, SCORE_REFUTED);
    assert_eq!(
        metric(&verdict, "outcome"),
        expected_outcome,
        "{name}: {}",
        verdict.feedback
    );
    assert!(
        verdict.feedback.starts_with("Refuted") || verdict.feedback.contains("\nRefuted"),
        "{}",
        verdict.feedback
    );
    let repeat = task.evaluate(&known);
    assert_eq!(
        (
            repeat.status,
            repeat.score,
            &repeat.feedback,
            &repeat.metrics,
            repeat.fuel
        ),
        (
            verdict.status,
            verdict.score,
            &verdict.feedback,
            &verdict.metrics,
            verdict.fuel
        ),
        "{name}: a repeat gave another verdict"
    );

    let random = random_inputs(&task);
    let mut refuted = 0;
    for seed in 1..=RANDOM_INPUTS {
        let candidate = random
            .random_candidate(seed)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let evaluation = task.evaluate(&candidate);
        match evaluation.status {
            EvalStatus::Ok => refuted += 1,
            EvalStatus::WrongAnswer => assert_eq!(evaluation.score, SCORE_NOT_REFUTED),
            other => panic!(
                "{name}: random input {seed} is not a valid input ({other}): {}",
                evaluation.feedback
            ),
        }
    }
    println!(
        "figures {name}: known counterexample {} ({expected_outcome}, input {} bytes, correct fuel {}, wrong fuel {} of {}); \
         random inputs refuting: {refuted}/{RANDOM_INPUTS}",
        verdict.status,
        metric(&verdict, "input_bytes"),
        metric(&verdict, "correct_fuel"),
        metric(&verdict, "wrong_fuel"),
        metric(&verdict, "wrong_fuel_limit"),
    );
    assert!(
        refuted <= MAX_RANDOM_REFUTATIONS,
        "{name}: {refuted} of {RANDOM_INPUTS} random inputs refute: the bug is not subtle enough"
    );
    (task, verdict)
}

#[test]
fn inversion_count_overflow() {
    check_bundled("inversion-count", "refuted_wrong_answer");
}

#[test]
fn time_budget_off_by_one() {
    check_bundled("time-budget", "refuted_wrong_answer");
}

#[test]
fn largest_concatenation_greedy() {
    check_bundled("largest-concatenation", "refuted_wrong_answer");
}

#[test]
fn substring_hash_negative_modulo() {
    check_bundled("substring-hash", "refuted_wrong_answer");
}

#[test]
fn longest_run_single_element() {
    check_bundled("longest-run", "refuted_wrong_answer");
}

#[test]
fn variance_precision() {
    check_bundled("variance", "refuted_wrong_answer");
}

#[test]
fn kth_smallest_quadratic_only_on_adversarial_input() {
    let (task, known) = check_bundled("kth-smallest", "refuted_limit");
    // The wrong solution is correct: on a sorted input too small to be slow it agrees.
    let small = (1..=300)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let evaluation = task.evaluate(&Candidate::from_file(
        "input.txt",
        format!("300 1\n{small}\n"),
    ));
    assert_eq!(
        evaluation.status,
        EvalStatus::WrongAnswer,
        "{}",
        evaluation.feedback
    );
    // Relative fuel: the wrong solution's limit is max(floor, 10 x the correct solution's fuel).
    let correct_fuel = metric(&known, "correct_fuel")
        .as_u64()
        .expect("correct_fuel");
    let limit = metric(&known, "wrong_fuel_limit")
        .as_u64()
        .expect("wrong_fuel_limit");
    assert_eq!(limit, (10 * correct_fuel).max(20_000_000));
    assert!(
        known.feedback.contains("ran out of fuel"),
        "{}",
        known.feedback
    );
}

#[test]
fn distinct_per_test_state_carried_over() {
    check_bundled("distinct-per-test", "refuted_wrong_answer");
}

/// The random-search baseline's refutation rate on each bundled problem over many seeds
/// (a measurement, not a check): `cargo test -p hone-tasks --test all random_search_figures
/// -- --ignored --nocapture`.
#[test]
#[ignore]
fn random_search_figures() {
    const SEEDS: u64 = 1000;
    for name in [
        "inversion-count",
        "time-budget",
        "largest-concatenation",
        "substring-hash",
        "longest-run",
        "variance",
        "kth-smallest",
        "distinct-per-test",
    ] {
        let task = Task::load(&library("counterexample", name), sandbox()).expect("task");
        let random = random_inputs(&task);
        let refuted = (0..SEEDS)
            .filter(|&seed| {
                let candidate = random.random_candidate(seed).expect("random input");
                task.evaluate(&candidate).status == EvalStatus::Ok
            })
            .count();
        println!("random search {name}: {refuted}/{SEEDS} random inputs refute");
    }
}

#[test]
fn random_inputs_are_reproducible_per_seed() {
    let task = Task::load(&library("counterexample", "longest-run"), sandbox()).expect("task");
    let random = random_inputs(&task);
    let a = random.random_candidate(7).expect("input");
    assert_eq!(a, random.random_candidate(7).expect("input"));
    assert_ne!(a, random.random_candidate(8).expect("input"));
    assert!(a.files.contains_key("input.txt"));
    // The same task loaded again draws the same inputs.
    let again = Task::load(&library("counterexample", "longest-run"), sandbox()).expect("task");
    assert_eq!(a, random_inputs(&again).random_candidate(7).expect("input"));
}

/// The random valid inputs of a counterexample task.
fn random_inputs(task: &Task) -> &dyn RandomCandidates {
    task.random_candidates()
        .unwrap_or_else(|| panic!("{}: a counterexample task has random inputs", task.name))
}

// ---------------------------------------------------------------------------------------
// A small task written on the fly: double a number; the wrong solution fails on 37.

const VALIDATOR: &str = r#"
#include <stdio.h>
#include <string.h>
int main(void) {
    char text[64] = {0};
    size_t n = fread(text, 1, sizeof text - 1, stdin);
    if (n >= 5 && memcmp(text, "crash", 5) == 0) __builtin_trap();
    int x, end;
    if (sscanf(text, "%d%n", &x, &end) != 1) { printf("expected one integer x"); return 1; }
    for (int i = end; text[i]; i++)
        if (text[i] != ' ' && text[i] != '\n') { printf("extra data after x"); return 1; }
    if (x < 0 || x > 100) { printf("x = %d is out of range [0, 100]", x); return 1; }
    return 0;
}
"#;

const CORRECT: &str = r#"
#include <stdio.h>
int main(void) { int x; if (scanf("%d", &x) != 1) return 1; printf("%d\n", 2 * x); return 0; }
"#;

const WRONG: &str = r#"
#include <stdio.h>
int main(void) {
    int x; scanf("%d", &x);
    if (x == 37) printf("%d\n", 2 * x + 1);
    else if (x == 41) __builtin_trap();
    else if (x == 43) for (;;) {}
    else printf("%d\n", 2 * x);
    return 0;
}
"#;

const RANDOM_GENERATOR: &str = r#"
#include <stdio.h>
int main(void) { unsigned long long seed = 0; scanf("%llu", &seed); printf("%llu\n", (seed * 7919) % 101); return 0; }
"#;

/// Writes a task folder: the base files, overridden or extended by `files`, and a task.toml
/// made of `[task]` and the given `[counterexample]` body.
fn temp_task(section: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut all: Vec<(&str, &str)> = vec![
        ("statement.md", "Read x (0 <= x <= 100); print 2x."),
        ("validator.c", VALIDATOR),
        ("correct.c", CORRECT),
        ("wrong.c", WRONG),
        ("random_generator.c", RANDOM_GENERATOR),
    ];
    all.extend_from_slice(files);
    let manifest = format!(
        "[task]\nname = \"double\"\nkind = \"counterexample\"\nlanguages = [\"c\", \"wat\"]\n\n[counterexample]\n{section}"
    );
    all.push(("task.toml", &manifest));
    folder(&all)
}

const BASE: &str = "validator = \"validator.c\"\ncorrect = \"correct.c\"\nwrong = \"wrong.c\"\nrandom_generator = \"random_generator.c\"\n\
[counterexample.generator_limits]\nfuel = 50_000_000\ntimeout_ms = 5_000\n[counterexample.solution_limits]\nfuel = 50_000_000\ntimeout_ms = 5_000\n";

fn base_task() -> &'static (tempfile::TempDir, Task) {
    static TASK: OnceLock<(tempfile::TempDir, Task)> = OnceLock::new();
    TASK.get_or_init(|| {
        let dir = temp_task(&format!("max_input_bytes = 64\n{BASE}"), &[]);
        let task = Task::load(dir.path(), sandbox()).expect("base task");
        (dir, task)
    })
}

fn literal(text: &str) -> Candidate {
    Candidate::from_file("input.txt", text)
}

fn c_generator(body: &str) -> Candidate {
    Candidate::from_file(
        "main.c",
        format!("#include <stdio.h>\nint main(void) {{ {body} return 0; }}\n"),
    )
}

#[test]
fn verdicts_of_the_base_task() {
    let task = &base_task().1;
    let agree = task.evaluate(&literal("5\n"));
    assert_eq!(
        (agree.status, agree.valid, agree.score),
        (EvalStatus::WrongAnswer, false, SCORE_NOT_REFUTED)
    );
    assert!(
        agree.feedback.contains("Not refuted") && agree.feedback.contains("`10`"),
        "{}",
        agree.feedback
    );

    let differ = task.evaluate(&literal("37\n"));
    assert_eq!(
        (differ.status, differ.valid, differ.score),
        (EvalStatus::Ok, true, SCORE_REFUTED)
    );
    assert!(
        differ.feedback.contains("correct output: `74`")
            && differ.feedback.contains("wrong output: `75`"),
        "{}",
        differ.feedback
    );

    let crash = task.evaluate(&literal("41"));
    assert_eq!(crash.status, EvalStatus::Ok);
    assert_eq!(metric(&crash, "outcome"), "refuted_crash");
    assert!(
        crash.feedback.contains("crashed (unreachable"),
        "{}",
        crash.feedback
    );

    let slow = task.evaluate(&literal("43"));
    assert_eq!(slow.status, EvalStatus::Ok);
    assert_eq!(metric(&slow, "outcome"), "refuted_limit");
    assert!(
        slow.feedback.contains("ran out of fuel (limit 50000000)"),
        "{}",
        slow.feedback
    );

    let invalid = task.evaluate(&literal("101\n"));
    assert_eq!(
        (invalid.status, invalid.score),
        (EvalStatus::InvalidOutput, 0.0)
    );
    assert!(
        invalid
            .feedback
            .contains("x = 101 is out of range [0, 100]"),
        "{}",
        invalid.feedback
    );
    assert_eq!(metric(&invalid, "outcome"), "invalid_input");

    // Success is strictly the highest score.
    assert!(differ.score > agree.score && agree.score > invalid.score);
}

#[test]
fn generator_candidates_in_c_and_wat() {
    let task = &base_task().1;
    let c = task.evaluate(&c_generator("printf(\"%d\\n\", 30 + 7);"));
    assert_eq!(c.status, EvalStatus::Ok, "{}", c.feedback);
    assert_eq!(metric(&c, "source"), "generator");
    assert!(c.fuel.is_some_and(|f| f > 0));
    assert!(
        c.feedback.contains("The generator printed 3 bytes: `37`"),
        "{}",
        c.feedback
    );

    let wat = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "37\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 3))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;
    let wat = task.evaluate(&Candidate::from_file("main.wat", wat));
    assert_eq!(wat.status, EvalStatus::Ok, "{}", wat.feedback);
}

#[test]
fn bad_candidates_get_clear_statuses() {
    let task = &base_task().1;
    let cases: Vec<(&str, Candidate, EvalStatus, &str)> = vec![
        (
            "prints nothing",
            c_generator(""),
            EvalStatus::InvalidOutput,
            "printed nothing",
        ),
        (
            "prints gigabytes",
            c_generator("for (;;) fputs(\"37 37 37 37 37 37 37 37\\n\", stdout);"),
            EvalStatus::OutputExceeded,
            "more than the largest allowed input (64 bytes)",
        ),
        (
            "traps",
            c_generator("__builtin_trap();"),
            EvalStatus::RuntimeError,
            "crashed (unreachable",
        ),
        (
            "loops",
            c_generator("for (;;) {}"),
            EvalStatus::FuelExhausted,
            "ran out of fuel",
        ),
        (
            "does not compile",
            c_generator("this is not C"),
            EvalStatus::CompileError,
            "does not compile",
        ),
        (
            "language not allowed",
            Candidate::from_file("main.rs", "fn main() { println!(\"37\"); }"),
            EvalStatus::CompileError,
            "language rust is not allowed; allowed: c, wat",
        ),
        (
            "no file",
            Candidate::default(),
            EvalStatus::CompileError,
            "has no input",
        ),
        (
            "wrong file name",
            Candidate::from_file("input.md", "37"),
            EvalStatus::CompileError,
            "files given: input.md",
        ),
        (
            "input and generator",
            Candidate {
                files: [
                    ("input.txt".to_string(), "37".to_string()),
                    ("main.c".to_string(), "int main(){}".to_string()),
                ]
                .into(),
                values: Default::default(),
            },
            EvalStatus::CompileError,
            "both an input file",
        ),
        (
            "empty literal",
            literal(" \n"),
            EvalStatus::InvalidOutput,
            "the input file is empty",
        ),
        (
            "too large literal",
            literal(&format!("37{}", " ".repeat(100))),
            EvalStatus::InvalidOutput,
            "more than the largest allowed input (64 bytes)",
        ),
        (
            "not a number",
            literal("thirty-seven"),
            EvalStatus::InvalidOutput,
            "expected one integer x",
        ),
    ];
    for (what, candidate, status, feedback) in cases {
        let evaluation = task.evaluate(&candidate);
        assert_eq!(evaluation.status, status, "{what}: {}", evaluation.feedback);
        assert!(
            !evaluation.valid && evaluation.score == 0.0,
            "{what}: a failure must score 0"
        );
        assert!(
            evaluation.feedback.contains(feedback),
            "{what}: feedback lacks `{feedback}`: {}",
            evaluation.feedback
        );
    }
}

#[test]
fn a_crashing_validator_is_a_task_problem_not_a_success() {
    let task = &base_task().1;
    let evaluation = task.evaluate(&literal("crash"));
    assert_eq!(
        evaluation.status,
        EvalStatus::InvalidOutput,
        "{}",
        evaluation.feedback
    );
    assert!(!evaluation.valid);
    assert_eq!(metric(&evaluation, "task_problem"), true);
    assert!(
        evaluation.feedback.contains("the validator crashed"),
        "{}",
        evaluation.feedback
    );
}

#[test]
fn a_correct_solution_that_disagrees_with_itself_is_never_a_success() {
    // On x = 37 it prints 2x and a random number: its runs with random seeds 0 and 1 differ.
    let randomized = r#"
#include <stdio.h>
#include <unistd.h>
int main(void) {
    int x; unsigned long long r = 0;
    if (scanf("%d", &x) != 1) return 1;
    if (x == 37 && getentropy(&r, sizeof r) != 0) return 1;
    printf("%d %llu\n", 2 * x, r);
    return 0;
}
"#;
    let section = BASE.replace("correct.c", "randomized.c");
    let dir = temp_task(&section, &[("randomized.c", randomized)]);
    let task = Task::load(dir.path(), sandbox()).expect("task (its seed input, 0, is consistent)");
    let evaluation = task.evaluate(&literal("37"));
    assert_eq!(
        evaluation.status,
        EvalStatus::InvalidOutput,
        "{}",
        evaluation.feedback
    );
    assert!(!evaluation.valid && evaluation.score == 0.0);
    assert_eq!(metric(&evaluation, "task_problem"), true);
    assert!(
        evaluation.feedback.contains("disagrees with itself")
            && evaluation.feedback.contains("random seeds 0 and 1"),
        "{}",
        evaluation.feedback
    );

    // A seed on which it disagrees stops the task at load, naming the seed file.
    let dir = temp_task(
        &format!("seeds = [\"seed.txt\"]\n{section}"),
        &[("randomized.c", randomized), ("seed.txt", "37\n")],
    );
    match Task::load(dir.path(), sandbox()) {
        Err(TaskError::SeedFails { path, message }) => {
            assert!(path.ends_with("seed.txt"), "{}", path.display());
            assert!(message.contains("disagrees with itself"), "{message}");
        }
        other => panic!("expected SeedFails, got {other:?}"),
    }
}

#[test]
fn a_correct_solution_that_fails_is_a_task_problem() {
    let failing = "#include <stdio.h>\nint main(void) { int x; scanf(\"%d\", &x); if (x == 37) __builtin_trap(); printf(\"%d\\n\", 2 * x); return 0; }\n";
    let dir = temp_task(
        &BASE.replace("correct.c", "failing.c"),
        &[("failing.c", failing)],
    );
    let task = Task::load(dir.path(), sandbox()).expect("task (its random seed-0 input is fine)");
    let evaluation = task.evaluate(&literal("37"));
    assert_eq!(evaluation.status, EvalStatus::InvalidOutput);
    assert!(!evaluation.valid);
    assert_eq!(metric(&evaluation, "task_problem"), true);
    assert!(
        evaluation.feedback.contains("the correct solution crashed"),
        "{}",
        evaluation.feedback
    );
}

#[test]
fn a_checker_program_decides() {
    // Accepts answers within 1 of the expected one: 75 for 37 passes, a crash still refutes.
    let checker = r#"
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    long i, e, g;
    if (scanf("%ld %ld %ld", &i, &e, &g) != 3) return 2;
    getchar();
    static char data[4096];
    size_t n = fread(data, 1, sizeof data - 1, stdin);
    data[n] = 0;
    if ((long)n != i + e + g) { printf("bad header"); return 2; }
    long expected = strtol(data + i, 0, 10), got = strtol(data + i + e, 0, 10);
    if (labs(expected - got) <= 1) return 0;
    printf("off by %ld", got - expected);
    return 1;
}
"#;
    let dir = temp_task(
        &format!("checker = {{ type = \"program\", path = \"checker.c\" }}\n{BASE}"),
        &[("checker.c", checker)],
    );
    let task = Task::load(dir.path(), sandbox()).expect("task");
    assert_eq!(
        task.evaluate(&literal("37")).status,
        EvalStatus::WrongAnswer
    );
    assert_eq!(task.evaluate(&literal("41")).status, EvalStatus::Ok);
    assert!(task.prompt.documentation.contains("checker program"));
}

fn load_error(section: &str, files: &[(&str, &str)]) -> String {
    let dir = temp_task(section, files);
    match Task::load(dir.path(), sandbox()) {
        Ok(_) => panic!("the task loaded: {section}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn task_toml_errors_name_file_and_field() {
    let missing = load_error(&BASE.replace("wrong = \"wrong.c\"\n", ""), &[]);
    assert!(
        missing.contains("task.toml")
            && missing.contains("counterexample")
            && missing.contains("`wrong`"),
        "{missing}"
    );

    let unknown = load_error(&format!("wrnog = \"wrong.c\"\n{BASE}"), &[]);
    assert!(
        unknown.contains("task.toml") && unknown.contains("wrnog"),
        "{unknown}"
    );

    let unknown_limit = load_error(&format!("{BASE}fuel_facter = 3.0\n"), &[]);
    assert!(unknown_limit.contains("fuel_facter"), "{unknown_limit}");

    let no_file = load_error(&BASE.replace("wrong.c", "nope.c"), &[]);
    assert!(
        no_file.contains("task.toml")
            && no_file.contains("counterexample.wrong")
            && no_file.contains("nope.c"),
        "{no_file}"
    );

    let factor = load_error(&format!("{BASE}fuel_factor = 0.5\n"), &[]);
    assert!(
        factor.contains("counterexample.solution_limits.fuel_factor"),
        "{factor}"
    );

    let broken = load_error(BASE, &[("validator.c", "int main(void) { return x; }")]);
    assert!(
        broken.contains("validator.c") && broken.contains("does not compile"),
        "{broken}"
    );

    let bad_seed = load_error(
        &format!("seeds = [\"seeds/big.txt\"]\n{BASE}"),
        &[("seeds/big.txt", "1000\n")],
    );
    assert!(
        bad_seed.contains("big.txt") && bad_seed.contains("x = 1000 is out of range"),
        "{bad_seed}"
    );

    let seed_language = load_error(
        &format!("seeds = [\"seed.rs\"]\n{BASE}"),
        &[("seed.rs", "fn main() {}")],
    );
    assert!(
        seed_language.contains("counterexample.seeds[0]") && seed_language.contains("rust"),
        "{seed_language}"
    );

    let empty = load_error("", &[]);
    assert!(empty.contains("missing field `validator`"), "{empty}");
}

#[test]
fn only_counterexample_tasks_have_random_candidates() {
    let counterexample =
        Task::load(&library("counterexample", "longest-run"), sandbox()).expect("task");
    assert!(counterexample.random_candidates().is_some());
    let efficiency = Task::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("library/efficiency/pair-count"),
        sandbox(),
    )
    .expect("task");
    assert!(efficiency.random_candidates().is_none());
}

/// Every bundled validator reads the layout exactly as its statement says: a valid input
/// (from the task's random generator) passes with or without its final newline, and each
/// kind of looser whitespace is rejected with a message naming it.
#[test]
fn bundled_validators_are_as_strict_as_their_statements() {
    const BUNDLED: [&str; 8] = [
        "distinct-per-test",
        "inversion-count",
        "kth-smallest",
        "largest-concatenation",
        "longest-run",
        "substring-hash",
        "time-budget",
        "variance",
    ];
    for name in BUNDLED {
        let dir = library("counterexample", name);
        let statement = std::fs::read_to_string(dir.join("statement.md")).expect("statement");
        assert!(
            statement.contains("single spaces") && statement.contains("no tabs, no `\\r`"),
            "{name}: the statement must say what the validator accepts"
        );
        let task = Task::load(&dir, sandbox()).unwrap_or_else(|e| panic!("{name}: {e}"));
        // A random input with a space in it (a line of two tokens or more).
        let valid = (1..=20)
            .map(|seed| {
                let input = random_inputs(&task)
                    .random_candidate(seed)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                input.files.get("input.txt").expect("input.txt").clone()
            })
            .find(|text| text.contains(' '))
            .unwrap_or_else(|| panic!("{name}: no random input with a space"));
        assert!(valid.ends_with('\n'), "{name}: {valid:?}");
        let verdict = |text: &str| task.evaluate(&Candidate::from_file("input.txt", text));
        for accepted in [valid.clone(), valid.trim_end_matches('\n').to_string()] {
            let evaluation = verdict(&accepted);
            assert!(
                matches!(evaluation.status, EvalStatus::Ok | EvalStatus::WrongAnswer),
                "{name}: a valid input was rejected: {}",
                evaluation.feedback
            );
        }
        let first_line_end = valid.find('\n').expect("a line break");
        let loose = [
            (
                "CRLF line ends",
                valid.replace('\n', "\r\n"),
                "carriage return",
            ),
            ("a tab", valid.replacen(' ', "\t", 1), "tab"),
            ("a repeated space", valid.replacen(' ', "  ", 1), "repeated"),
            ("a leading space", format!(" {valid}"), "leading"),
            (
                "a trailing space",
                format!("{} {}", &valid[..first_line_end], &valid[first_line_end..]),
                "trailing",
            ),
            (
                "a blank line at the end",
                format!("{valid}\n"),
                "extra data",
            ),
            (
                "a blank line inside",
                format!("{}\n{}", &valid[..first_line_end], &valid[first_line_end..]),
                "blank line",
            ),
            ("a line break for a space", valid.replacen(' ', "\n", 1), ""),
            ("a vertical tab", valid.replacen(' ', "\u{b}", 1), "0x0b"),
        ];
        for (what, text, says) in loose {
            let evaluation = verdict(&text);
            assert_eq!(
                evaluation.status,
                EvalStatus::InvalidOutput,
                "{name}: an input with {what} was accepted: {}",
                evaluation.feedback
            );
            assert!(
                evaluation.feedback.contains("the validator rejected it")
                    && evaluation.feedback.contains(says),
                "{name}, {what}: {}",
                evaluation.feedback
            );
        }
    }
}
