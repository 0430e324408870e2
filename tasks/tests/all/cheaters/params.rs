//! Params cheaters: proposals of NaN, ±Inf, huge values, values far outside the declared
//! box, the wrong number of values, and values with extra tokens, on a native objective
//! with a private score (heavy-ball) and a sandboxed objective program
//! (sandboxed-quadratic). None raises a score: each is scored exactly as the honest
//! in-box proposal the evaluator turned it into (a bad value takes its variable's initial
//! value, an out-of-box one its bound), publicly and privately, and the feedback names
//! the bad value and what was used instead.

use hone_tasks::{Candidate, EvalStatus, Task, VariableSpec};
use serde_json::json;

use crate::support::{bundled, values};

/// The in-box values the evaluator used, from its trace, as a candidate.
fn honest_twin(task: &Task, evaluation: &hone_tasks::Evaluation) -> Candidate {
    let used = evaluation.trace["values"].clone();
    for VariableSpec {
        name, lower, upper, ..
    } in &task.prompt.variables
    {
        let value = used[name]
            .as_f64()
            .unwrap_or_else(|| panic!("no value of {name} in {used}"));
        assert!(
            value.is_finite() && *lower <= value && value <= *upper,
            "{name}={value} is outside [{lower}, {upper}]"
        );
    }
    values(used)
}

/// Every cheat is valid and scores exactly its honest twin, publicly and privately, and
/// the feedback carries each expected note.
fn cheats_gain_nothing(name: &str, cheats: &[(serde_json::Value, &[&str])]) {
    let task = bundled("params", name);
    let seed = task.evaluate(&task.seeds[0]);
    assert!(seed.valid, "{name}: {}", seed.feedback);
    for (proposal, notes) in cheats {
        let cheat = values(proposal.clone());
        let public = task.evaluate(&cheat);
        assert!(
            public.valid && public.status == EvalStatus::Ok,
            "{name}, {proposal}: {}",
            public.feedback
        );
        assert!(public.score.is_finite(), "{name}, {proposal}");
        for note in *notes {
            assert!(
                public.feedback.contains(note),
                "{name}, {proposal}: the feedback does not say `{note}`:\n{}",
                public.feedback
            );
        }
        let twin = honest_twin(task, &public);
        assert_eq!(
            public.score,
            task.evaluate(&twin).score,
            "{name}, {proposal}: public score differs from the in-box proposal's"
        );
        if let Some(private) = task.evaluate_private(&cheat) {
            let twin_private = task.evaluate_private(&twin).expect("private");
            assert!(private.valid, "{name}, {proposal}: {}", private.feedback);
            assert_eq!(
                private.score, twin_private.score,
                "{name}, {proposal}: private score differs from the in-box proposal's"
            );
        }
    }
}

#[test]
fn heavy_ball_proposals_out_of_the_box_gain_nothing() {
    let initial = "its initial value 0.001 was used";
    cheats_gain_nothing(
        "heavy-ball",
        &[
            (
                json!({"alpha": "NaN", "beta": 0.5}),
                &["alpha=\"NaN\" is not a number", initial],
            ),
            (
                json!({"alpha": "nan", "beta": 0.5}),
                &["alpha=\"nan\" is not a number", initial],
            ),
            (
                json!({"alpha": "inf", "beta": 0.5}),
                &["alpha=\"inf\" is not a number", initial],
            ),
            (
                json!({"alpha": "-Infinity", "beta": 0.5}),
                &["alpha=\"-Infinity\" is not a number"],
            ),
            (
                json!({"alpha": "1e400", "beta": 0.5}),
                &["alpha=\"1e400\" is not a number"],
            ),
            // JSON has no NaN: serde_json writes a NaN as null.
            (
                json!({"alpha": f64::NAN, "beta": 0.5}),
                &["alpha must be a number, not null", initial],
            ),
            (
                json!({"alpha": 1e308, "beta": -1e308}),
                &[
                    "alpha=1e308 was above its upper bound 0.01 and was clamped to 0.01",
                    "beta=-1e308 was below its lower bound 0 and was clamped to 0",
                ],
            ),
            (
                json!({"alpha": f64::MAX, "beta": f64::MIN_POSITIVE}),
                &["was above its upper bound 0.01"],
            ),
            (
                json!({"alpha": u64::MAX, "beta": i64::MIN}),
                &["alpha=1.8446744073709552e19 was above its upper bound 0.01"],
            ),
            (
                json!({"alpha": 1000.0, "beta": 0.999}),
                &["alpha=1000 was above its upper bound 0.01"],
            ),
            (
                json!({"alpha": -5.0, "beta": 2.0}),
                &["alpha=-5 was below its lower bound 1e-5 and was clamped to 1e-5"],
            ),
            // The wrong number of values: none, one, and an extra one.
            (json!({}), &["alpha was missing", "beta was missing"]),
            (
                json!({"beta": 0.9}),
                &["alpha was missing; its initial value 0.001 was used"],
            ),
            (
                json!({"alpha": 0.002, "beta": 0.9, "gamma": 1e308}),
                &["gamma is not a variable of this task and was ignored (variables: alpha, beta)"],
            ),
            // Extra tokens.
            (
                json!({"alpha": "0.002 0.009", "beta": 0.5}),
                &["alpha=\"0.002 0.009\" is not a number"],
            ),
            (
                json!({"alpha": "0.002, beta=0.99", "beta": 0.5}),
                &["is not a number"],
            ),
            (
                json!({"alpha": "0.002x", "beta": 0.5}),
                &["alpha=\"0.002x\" is not a number"],
            ),
            (
                json!({"alpha": [0.002, 0.009], "beta": 0.5}),
                &["alpha must be a number, not an array"],
            ),
            (
                json!({"alpha": {"value": 0.002}, "beta": 0.5}),
                &["alpha must be a number, not an object"],
            ),
            (
                json!({"alpha": true, "beta": 0.5}),
                &["alpha must be a number, not a boolean"],
            ),
        ],
    );
}

#[test]
fn sandboxed_objective_proposals_out_of_the_box_gain_nothing() {
    cheats_gain_nothing(
        "sandboxed-quadratic",
        &[
            (
                json!({"x": "NaN", "y": "inf", "n": "-inf"}),
                &[
                    "x=\"NaN\" is not a number",
                    "y=\"inf\" is not a number",
                    "n=\"-inf\" is not a number",
                ],
            ),
            (
                json!({"x": 1e308, "y": -1e308, "n": 1e300}),
                &[
                    "x=1e308 was above its upper bound 10 and was clamped to 10",
                    "y=-1e308 was below its lower bound -10 and was clamped to -10",
                    "n=1e300 was above its upper bound 20 and was clamped to 20",
                ],
            ),
            (
                json!({"x": 1.0, "y": -1.0, "n": 7.4}),
                &["n=7.4 is not an integer and was rounded to 7"],
            ),
            (
                json!({"x": 1.0, "y": -1.0, "n": "7 8"}),
                &["n=\"7 8\" is not a number"],
            ),
            (json!({"x": 1.0}), &["y was missing", "n was missing"]),
            (
                json!({"x": 1.0, "y": -1.0, "n": 7, "\"x\": -100, \"z": 0}),
                &["is not a variable of this task and was ignored"],
            ),
        ],
    );
}
