//! Efficiency cheaters. One that special-cases the visible tests (prints their known
//! answers, runs the honest fast program on anything else) must gain nothing on the private
//! score, which a run reports, for every bundled task; and the private tests it is measured
//! on are generated, fresh, and big enough to measure. Outputs that try to confuse the
//! checker (extra tokens, an early exit with code 0, a flood) are wrong answers with the
//! reason named, and a probe sees the same surroundings in the public and private runs.

use hone_sandbox::Language;
use hone_tasks::testing::{
    compile, efficiency_cheater, efficiency_reference, efficiency_tests, trusted_limits,
};
use hone_tasks::{Candidate, EvalStatus};

use super::{PROBE_EXIT, host_paths, observed, probe};
use crate::support::{bundled, bundled_names, c, library, sandbox};

/// The cheater's public score beats the honest program's (so it did recognise the visible
/// tests), and its private score does not: it stays valid there (it falls back to the real
/// algorithm) and pays at least the honest program's fuel.
fn special_casing_gains_nothing(name: &str) {
    let dir = library("efficiency", name);
    let task = bundled("efficiency", name);
    let honest = efficiency_reference(&dir).unwrap_or_else(|e| panic!("{e}"));
    let cheater = efficiency_cheater(&dir, sandbox()).unwrap_or_else(|e| panic!("{e}"));

    let honest_public = task.evaluate(&honest);
    let cheater_public = task.evaluate(&cheater);
    assert!(
        honest_public.valid && cheater_public.valid,
        "{name}: honest {} / cheater {}",
        honest_public.feedback,
        cheater_public.feedback
    );
    // Compiled: the lookup must pay off on the visible tests (proof that it recognised
    // them). Python: the interpreter's start-up (about 75M fuel) is most of any program's
    // fuel on these tests, so the lookup's gain cannot show in the score; its private
    // score is still checked below.
    if !dir.join("seed.py").exists() {
        assert!(
            cheater_public.score > 1.5 * honest_public.score,
            "{name}: the cheater did not recognise the visible tests: public {} vs honest {}",
            cheater_public.score,
            honest_public.score
        );
    }

    let honest_private = task.evaluate_private(&honest).expect("held-out tests");
    let cheater_private = task.evaluate_private(&cheater).expect("held-out tests");
    assert!(
        honest_private.valid,
        "{name}: honest private: {}",
        honest_private.feedback
    );
    assert!(
        cheater_private.score <= honest_private.score,
        "{name}: the cheater's private score {} beats the honest {}",
        cheater_private.score,
        honest_private.score
    );
    eprintln!(
        "cheater/{name}: public {:.1} (honest {:.1}), private {:.2} (honest {:.2})",
        cheater_public.score, honest_public.score, cheater_private.score, honest_private.score
    );
}

/// Reads the whole input and adds up the digits' numbers: about the least a program that
/// reads its input spends.
const READ_ONLY: &str = r#"#include <stdio.h>
static char buf[1 << 24];
int main(void) {
    size_t n = fread(buf, 1, sizeof buf, stdin);
    long long sum = 0, value = 0;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c >= '0' && c <= '9') value = value * 10 + (c - '0');
        else { sum += value; value = 0; }
    }
    printf("%lld\n", sum + value);
    return 0;
}
"#;

/// The private tests include generated ones, from generator seeds the visible tests do not
/// use, and on each the seed spends at least 10x what reading the input costs: the fuel
/// measures the algorithm, not the I/O.
fn hidden_tests_are_fresh_and_big(name: &str) {
    let dir = library("efficiency", name);
    let tests = |set| efficiency_tests(&dir, sandbox(), set).unwrap_or_else(|e| panic!("{e}"));
    let (visible, hidden) = (tests("visible"), tests("hidden"));
    let seed_of = |line: &str| line.split_whitespace().next().map(str::to_string);
    let visible_seeds: Vec<_> = visible
        .iter()
        .filter(|t| t.generated)
        .filter_map(|t| seed_of(&t.name))
        .collect();
    let generated: Vec<_> = hidden.iter().filter(|t| t.generated).collect();
    assert!(!generated.is_empty(), "{name}: no generated hidden test");
    let seed_path = ["seed.c", "seed.rs", "seed.cpp", "seed.py"]
        .map(|f| dir.join(f))
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name}: no seed"));
    let language = Language::from_path(&seed_path).unwrap_or_else(|| panic!("{name}: seed"));
    let seed_source = std::fs::read_to_string(&seed_path).unwrap_or_else(|e| panic!("{e}"));
    let seed = compile(sandbox(), language, &seed_source, "seed").unwrap_or_else(|e| panic!("{e}"));
    let reader =
        compile(sandbox(), Language::C, READ_ONLY, "reader").unwrap_or_else(|e| panic!("{e}"));
    for test in generated {
        let line_seed = seed_of(&test.name).unwrap_or_default();
        assert!(
            !visible_seeds.contains(&line_seed),
            "{name}: hidden line `{}` reuses a visible generator seed",
            test.name
        );
        let fuel = |program: &hone_sandbox::Program| {
            let outcome = sandbox()
                .run(program, &test.input, &trusted_limits(0))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(outcome.status.is_ok(), "{name}: {}", outcome.status);
            outcome.fuel_used
        };
        let (seed_fuel, read_fuel) = (fuel(&seed), fuel(&reader));
        eprintln!(
            "hidden/{name} `{}`: {} bytes, seed {seed_fuel} fuel, reading {read_fuel} ({:.0}x)",
            test.name,
            test.input.len(),
            seed_fuel as f64 / read_fuel as f64
        );
        assert!(
            seed_fuel >= 10 * read_fuel,
            "{name}: on hidden `{}` the seed spends {seed_fuel} fuel, reading alone {read_fuel}",
            test.name
        );
    }
}

macro_rules! cheaters {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                hidden_tests_are_fresh_and_big($name);
                special_casing_gains_nothing($name);
            }
        )*

        #[test]
        fn every_bundled_efficiency_task_has_a_cheater_test() {
            let found = bundled_names("efficiency");
            let mut listed = vec![$($name.to_string()),*];
            listed.sort();
            assert_eq!(found, listed);
        }
    };
}

cheaters! {
    visible_lookup_pair_count => "pair-count",
    visible_lookup_pair_count_python => "pair-count-python",
    visible_lookup_prime_count => "prime-count",
    visible_lookup_prime_count_python => "prime-count-python",
    visible_lookup_lcs => "lcs",
    visible_lookup_matrix_power => "matrix-power",
    visible_lookup_inversions => "inversions",
    visible_lookup_sorting => "sorting",
    visible_lookup_sorting_cpp => "sorting-cpp",
    visible_lookup_fib_mod => "fib-mod",
    visible_lookup_substring_search => "substring-search",
    visible_lookup_range_sum => "range-sum",
    visible_lookup_range_sum_python => "range-sum-python",
    visible_lookup_shortest_paths => "shortest-paths",
}

fn pair_count_fast() -> String {
    std::fs::read_to_string(library("efficiency", "pair-count/reference/fast.c"))
        .expect("reference/fast.c")
}

/// pair-count's honest fast program with its `main` renamed `honest_main` and `main` =
/// `body`: a candidate that answers correctly and then does something more.
fn around_the_honest(body: &str) -> Candidate {
    let fast = pair_count_fast();
    c(&format!(
        "#define main honest_main\n{fast}\n#undef main\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\nint main(void) {{ {body} }}\n"
    ))
}

#[test]
fn output_that_tries_to_confuse_the_checker_is_a_wrong_answer() {
    let task = bundled("efficiency", "pair-count");
    let dir = library("efficiency", "pair-count");
    let honest = efficiency_reference(&dir).unwrap_or_else(|e| panic!("{e}"));
    let honest_public = task.evaluate(&honest);
    let honest_private = task.evaluate_private(&honest).expect("hidden tests");
    assert!(honest_public.valid && honest_private.valid);
    let cases: Vec<(&str, Candidate, EvalStatus, &str)> = vec![
        (
            "a verdict word after the answer",
            around_the_honest("int r = honest_main(); puts(\"Accepted\"); return r;"),
            EvalStatus::WrongAnswer,
            "extra output: token 2 is `Accepted`",
        ),
        (
            "the answer twice",
            around_the_honest("honest_main(); return honest_main();"),
            EvalStatus::WrongAnswer,
            "extra output",
        ),
        (
            "an early exit with code 0, nothing printed",
            c("int main(void) { return 0; }"),
            EvalStatus::WrongAnswer,
            "output ended early: token 1",
        ),
        (
            "half the input read, a guess, then _Exit(0)",
            c(
                "#include <stdio.h>\n#include <stdlib.h>\nint main(void) { char line[64]; if (fgets(line, sizeof line, stdin)) printf(\"0\\n\"); fflush(stdout); _Exit(0); }",
            ),
            EvalStatus::WrongAnswer,
            "token 1: expected",
        ),
        (
            "the answer on stderr only",
            c(&pair_count_fast().replace("printf(", "fprintf(stderr, ")),
            EvalStatus::WrongAnswer,
            "output ended early",
        ),
        (
            "a NaN where the count goes",
            c("#include <stdio.h>\nint main(void) { printf(\"%f\\n\", 0.0 / 0.0); return 0; }"),
            EvalStatus::WrongAnswer,
            "expected",
        ),
        (
            "the answer, then a flood of whitespace",
            around_the_honest(
                "int r = honest_main(); static char spaces[1 << 20]; memset(spaces, ' ', sizeof spaces); for (int i = 0; i < 64; i++) fwrite(spaces, 1, sizeof spaces, stdout); return r;",
            ),
            EvalStatus::OutputExceeded,
            "printed too much on stdout",
        ),
    ];
    // The answer, then an immediate _Exit(0): hone's stdout is line-buffered, so the
    // answer is out and complete; the candidate is the honest one minus libc's exit
    // handlers, scored as such (within 0.1%).
    let exits = around_the_honest("honest_main(); _Exit(0);");
    for (evaluation, honest) in [
        (task.evaluate(&exits), &honest_public),
        (
            task.evaluate_private(&exits).expect("hidden tests"),
            &honest_private,
        ),
    ] {
        assert!(evaluation.valid, "{}", evaluation.feedback);
        assert!(
            (evaluation.score / honest.score - 1.0).abs() < 1e-3,
            "_Exit(0) after the answer: {} vs honest {}",
            evaluation.score,
            honest.score
        );
    }
    for (what, candidate, status, reason) in cases {
        for (set, evaluation) in [
            ("public", task.evaluate(&candidate)),
            (
                "private",
                task.evaluate_private(&candidate).expect("hidden tests"),
            ),
        ] {
            assert!(
                !evaluation.valid && evaluation.score == 0.0,
                "{what} ({set}): valid, score {}",
                evaluation.score
            );
            assert_eq!(evaluation.status, status, "{what} ({set})");
            assert!(
                evaluation.feedback.contains(reason),
                "{what} ({set}): the feedback does not say `{reason}`:\n{}",
                evaluation.feedback
            );
        }
    }
}

#[test]
fn a_probe_sees_the_same_in_public_and_private_runs() {
    let dir = library("efficiency", "pair-count");
    let task = bundled("efficiency", "pair-count");
    let candidate = probe(&host_paths(
        &dir,
        &[
            "task.toml",
            "statement.md",
            "tests/visible/example.in",
            "tests/hidden/mixed.out",
        ],
    ));
    let public = task.evaluate(&candidate);
    let private = task.evaluate_private(&candidate).expect("hidden tests");
    for evaluation in [&public, &private] {
        assert_eq!(evaluation.status, EvalStatus::RuntimeError);
        assert!(
            evaluation
                .feedback
                .contains(&format!("exited with code {PROBE_EXIT}")),
            "{}",
            evaluation.feedback
        );
    }
    let seen = observed("efficiency public", &public);
    assert_eq!(seen, observed("efficiency private", &private));
    assert_eq!(
        seen,
        observed("efficiency again", &task.evaluate(&candidate))
    );
}
