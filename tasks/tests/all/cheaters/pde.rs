//! PDE cheaters: NaN, Inf, huge or overflowing values, too few or too many numbers, text
//! after the output, early exits with code 0: each is invalid with its reason, or scores
//! below the honest seed, on the visible and the held-out batch. A probe sees the same
//! surroundings in the public and private runs.

use hone_tasks::{Candidate, EvalStatus};

use super::{PROBE_EXIT, host_paths, observed, probe};
use crate::pde::{c_candidate, frames_candidate};
use crate::support::{bundled, library};

#[test]
fn cheaters_end_invalid_or_below_the_honest_seed() {
    let task = bundled("pde", "heat");
    let honest = task.evaluate(&task.seeds[0]);
    let honest_private = task
        .evaluate_private(&task.seeds[0])
        .expect("held-out batch");
    assert!(honest.valid && honest_private.valid, "{}", honest.feedback);
    let write = "fwrite(out, 8, count, stdout); return 0;";
    let cases: Vec<(&str, Candidate)> = vec![
        ("NaN", frames_candidate("k == 3 ? NAN : u0", write)),
        ("Inf", frames_candidate("k == 5 ? -INFINITY : u0", write)),
        ("overflowing values", frames_candidate("1e300", write)),
        ("huge values", frames_candidate("1e100", write)),
        ("zeros", frames_candidate("0.0", write)),
        (
            "too few numbers",
            frames_candidate("u0", "fwrite(out, 8, count - 1, stdout); return 0;"),
        ),
        (
            "too many numbers",
            frames_candidate(
                "u0",
                "fwrite(out, 8, count, stdout); fwrite(out, 8, 1, stdout); return 0;",
            ),
        ),
        (
            "a text line after the output",
            frames_candidate(
                "u0",
                "fwrite(out, 8, count, stdout); printf(\"done\\n\"); return 0;",
            ),
        ),
        (
            "early exit with success",
            c_candidate("int main(void) { read_input(0); exit(0); }"),
        ),
        (
            "half the output, then success",
            frames_candidate("u0", "fwrite(out, 8, count / 2, stdout); exit(0);"),
        ),
        (
            "no input read, success",
            c_candidate("int main(void) { return 0; }"),
        ),
    ];
    for (name, candidate) in cases {
        let evaluation = task.evaluate(&candidate);
        assert!(
            !evaluation.valid || evaluation.score < honest.score,
            "{name}: valid with score {} (honest seed {})\n{}",
            evaluation.score,
            honest.score,
            evaluation.feedback
        );
        assert!(
            evaluation.score.is_finite(),
            "{name}: score {}",
            evaluation.score
        );
        let held_out = task.evaluate_private(&candidate).expect("held-out batch");
        assert!(
            !held_out.valid || held_out.score < honest_private.score,
            "{name}: held-out valid with score {} (honest seed {})",
            held_out.score,
            honest_private.score
        );
    }
    // Values whose squares overflow are invalid, with the reason.
    let overflow = task.evaluate(&frames_candidate("1e300", write));
    assert_eq!(overflow.status, EvalStatus::InvalidOutput);
    assert!(
        overflow.feedback.contains("overflows"),
        "{}",
        overflow.feedback
    );
}

#[test]
fn a_probe_sees_the_same_in_public_and_private_runs() {
    let task = bundled("pde", "heat");
    let candidate = probe(&host_paths(
        &library("pde", "heat"),
        &["task.toml", "statement.md", "seed.c"],
    ));
    let public = task.evaluate(&candidate);
    let private = task.evaluate_private(&candidate).expect("held-out batch");
    for evaluation in [&public, &private] {
        assert_eq!(evaluation.status, EvalStatus::RuntimeError);
        assert!(
            evaluation.feedback.contains(&format!("exit({PROBE_EXIT})")),
            "{}",
            evaluation.feedback
        );
    }
    let seen = observed("pde public", &public);
    assert_eq!(seen, observed("pde private", &private));
    assert_eq!(seen, observed("pde again", &task.evaluate(&candidate)));
}
