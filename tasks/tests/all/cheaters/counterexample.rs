//! Counterexample cheaters: a generator that prints extra output around a real
//! counterexample (to slip past the validator), numbers the statement does not allow, or
//! exits early with code 0 is an invalid input, scored 0 with the validator's reason, where
//! the honest counterexample refutes. A probe generator sees the same surroundings on every
//! run. (Counterexample tasks have no private score: a refutation is checked in full.)

use hone_tasks::kinds::counterexample::SCORE_REFUTED;
use hone_tasks::{Candidate, EvalStatus};

use super::{PROBE_EXIT, host_paths, observed, probe};
use crate::support::{bundled, c, library};

/// A C generator that prints `text` and exits with `code`.
fn generator(text: &str, code: i32) -> Candidate {
    c(&format!(
        "#include <stdio.h>\nint main(void) {{ fputs({text:?}, stdout); return {code}; }}\n"
    ))
}

#[test]
fn generators_that_pad_or_cut_a_counterexample_are_invalid_inputs() {
    let task = bundled("counterexample", "longest-run");
    let known = std::fs::read_to_string(library(
        "counterexample",
        "longest-run/reference/counterexample.txt",
    ))
    .expect("the known counterexample");
    let honest = task.evaluate(&generator(&known, 0));
    assert!(
        honest.valid && honest.score == SCORE_REFUTED,
        "{}",
        honest.feedback
    );
    assert!(task.evaluate_private(&generator(&known, 0)).is_none());
    let validator = "the validator rejected it";
    let cases: Vec<(&str, Candidate, &str)> = vec![
        (
            "a verdict after the counterexample",
            generator(&format!("{known}Accepted\n"), 0),
            validator,
        ),
        (
            "the counterexample twice",
            generator(&format!("{known}{known}"), 0),
            validator,
        ),
        (
            "a carriage return in it",
            generator(&known.replace('\n', "\r\n"), 0),
            validator,
        ),
        ("NaN in the sequence", generator("2\nnan 1\n", 0), validator),
        ("Inf in the sequence", generator("2\ninf 1\n", 0), validator),
        ("a huge number", generator("2\n1e308 1\n", 0), validator),
        (
            "a number beyond 64 bits",
            generator("2\n99999999999999999999 1\n", 0),
            validator,
        ),
        (
            "half an input, then exit code 0",
            generator("7\n2 2 1", 0),
            validator,
        ),
        (
            "nothing, exit code 0",
            generator("", 0),
            "the generator printed nothing but whitespace",
        ),
        (
            "the counterexample, then a failing exit code",
            generator(&known, 1),
            "exited with code 1",
        ),
    ];
    for (what, candidate, reason) in cases {
        let evaluation = task.evaluate(&candidate);
        assert!(
            !evaluation.valid && evaluation.score == 0.0,
            "{what}: valid with score {}",
            evaluation.score
        );
        assert_ne!(evaluation.status, EvalStatus::Ok, "{what}");
        assert!(
            evaluation.feedback.contains(reason),
            "{what}: the feedback does not say `{reason}`:\n{}",
            evaluation.feedback
        );
    }
}

#[test]
fn a_probe_generator_sees_the_same_on_every_run() {
    let task = bundled("counterexample", "longest-run");
    let candidate = probe(&host_paths(
        &library("counterexample", "longest-run"),
        &[
            "task.toml",
            "statement.md",
            "reference/counterexample.txt",
            "correct.rs",
        ],
    ));
    let first = task.evaluate(&candidate);
    assert!(!first.valid);
    assert!(
        first
            .feedback
            .contains(&format!("exited with code {PROBE_EXIT}")),
        "{}",
        first.feedback
    );
    let seen = observed("counterexample", &first);
    assert_eq!(
        seen,
        observed("counterexample again", &task.evaluate(&candidate))
    );
}
