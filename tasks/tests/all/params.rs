//! params tasks: the native objectives against known facts, the bundled tasks, the
//! sandboxed objective programs, and bad input.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use hone_tasks::objectives::sor::{SorConfig, SorSequence};
use hone_tasks::objectives::ssor_cg::{HeatProblem, SsorCgConfig};
use hone_tasks::objectives::test_function::{Function, TestFunction, TestFunctionConfig};
use hone_tasks::{Candidate, EvalStatus, Task, TaskError};
use serde_json::json;

use crate::support::{folder, library, sandbox, values};

/// The SOR sequence of the bundled `sor` task (200 systems, seed 7), generated once.
fn sor_sequence() -> &'static SorSequence {
    static SEQUENCE: OnceLock<SorSequence> = OnceLock::new();
    SEQUENCE.get_or_init(|| SorSequence::generate(&SorConfig::default(), 7))
}

/// The omegas of "Learning to Relax": linspace(1, 1.95, 20).
fn relax_omegas() -> Vec<f64> {
    (0..20).map(|i| 1.0 + 0.05 * f64::from(i)).collect()
}

/// Total iterations of the SOR sequence at each of [`relax_omegas`].
fn sor_arm_costs() -> &'static [u64] {
    static COSTS: OnceLock<Vec<u64>> = OnceLock::new();
    COSTS.get_or_init(|| {
        relax_omegas()
            .iter()
            .map(|&w| sor_sequence().total_iterations(w))
            .collect()
    })
}

// ---- (a) SOR: the Learning to Relax facts ----

#[test]
fn sor_best_fixed_omega_lies_between_1_5_and_1_9_and_beats_gauss_seidel_widely() {
    let grid = relax_omegas();
    let costs = sor_arm_costs();
    let (best_index, best_cost) = costs
        .iter()
        .enumerate()
        .min_by_key(|(_, c)| **c)
        .map(|(i, c)| (i, *c))
        .unwrap();
    let best_omega = grid[best_index];
    assert!(
        (1.5..=1.9).contains(&best_omega),
        "best omega {best_omega}, costs {costs:?}"
    );
    let gauss_seidel = costs[0];
    assert!(
        gauss_seidel > 3 * best_cost,
        "omega = 1 costs {gauss_seidel}, the best {best_cost}"
    );
    // The landscape is unimodal along the grid: decreasing up to the best, then increasing.
    assert!(
        costs[..=best_index].windows(2).all(|w| w[0] >= w[1]),
        "{costs:?}"
    );
    assert!(
        costs[best_index..].windows(2).all(|w| w[0] <= w[1]),
        "{costs:?}"
    );
}

// ---- (b) SSOR-PCG on the heat equation ----

#[test]
fn ssor_cg_converges_and_some_omega_in_1_2_beats_symmetric_gauss_seidel() {
    let problem = HeatProblem::generate(&SsorCgConfig::default(), 11);
    let solves = problem.run(1.0, None);
    assert!(solves.iter().all(|s| s.converged), "{solves:?}");
    let sgs: u64 = solves.iter().map(|s| u64::from(s.iterations)).sum();
    let (best_omega, best) = [1.2, 1.4, 1.5, 1.6, 1.8]
        .into_iter()
        .map(|w| (w, problem.total_iterations(w)))
        .min_by_key(|(_, c)| *c)
        .unwrap();
    assert!(
        best * 10 < sgs * 9,
        "best omega {best_omega}: {best} iterations vs {sgs} at omega = 1"
    );
    // Far from 1 on the low side the preconditioner is worse.
    assert!(problem.total_iterations(0.3) > sgs);
}

// ---- (d) test functions ----

#[test]
fn test_functions_attain_their_minimum_at_the_known_minimizer() {
    for function in [Function::Rosenbrock, Function::Quadratic] {
        let config = TestFunctionConfig {
            function,
            ..TestFunctionConfig::default()
        };
        let f = TestFunction::new(&config, 4);
        let s = f.minimizer().to_vec();
        assert_eq!(f.value(&s), 0.0, "{function:?}");
        // Every nearby point is worse.
        for i in 0..4 {
            for delta in [-1e-3, 1e-3, 0.5] {
                let mut x = s.clone();
                x[i] += delta;
                assert!(f.value(&x) > 0.0, "{function:?} at {x:?}");
            }
        }
    }
}

#[test]
fn trace_numeric_task_reports_only_the_value() {
    let task =
        Task::load(&library("params", "trace-numeric"), sandbox()).expect("trace-numeric loads");
    let seed = task.evaluate(&task.seeds[0]);
    assert_eq!(seed.status, EvalStatus::Ok);
    assert!(seed.score < 0.0);
    assert!(
        seed.feedback.contains("f(x0=0, x1=0, x2=0, x3=0) = "),
        "{}",
        seed.feedback
    );
    assert!(!seed.feedback.to_lowercase().contains("gradient"));
    // The minimizer (recomputed from the task's settings) scores 0, the best possible.
    let f = TestFunction::new(
        &TestFunctionConfig {
            seed: 3,
            shift: 2.0,
            ..TestFunctionConfig::default()
        },
        4,
    );
    let s = f.minimizer();
    let best = task.evaluate(&values(
        json!({"x0": s[0], "x1": s[1], "x2": s[2], "x3": s[3]}),
    ));
    assert_eq!(best.score, 0.0);
    assert!(best.score > seed.score);
}

// ---- the bundled tasks ----

#[test]
fn bundled_native_tasks_load_seed_and_score_deterministically() {
    for (name, better) in [
        ("sor", json!({"omega": 1.8})),
        ("ssor-cg", json!({"omega": 1.5})),
        ("heavy-ball", json!({"alpha": 0.0037585, "beta": 0.88114})),
    ] {
        let task = Task::load(&library("params", name), sandbox())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(task.seeds.len(), 1, "{name}");
        assert!(
            !task.prompt.variables.is_empty() && !task.prompt.documentation.is_empty(),
            "{name}"
        );
        assert!(task.prompt.constraints.contains("clamped"), "{name}");
        let seed = task.evaluate(&task.seeds[0]);
        assert_eq!(seed.status, EvalStatus::Ok, "{name}: {}", seed.feedback);
        assert!(seed.valid);
        assert_eq!(
            seed.score,
            -seed.metrics["cost"].as_f64().unwrap(),
            "{name}"
        );
        assert!(
            seed.feedback.contains("cost: ") && seed.feedback.contains("iterations per"),
            "{name}: {}",
            seed.feedback
        );
        let improved = task.evaluate(&values(better.clone()));
        assert!(
            improved.score > seed.score,
            "{name}: {} vs {}",
            improved.score,
            seed.score
        );
        let better_again = better.clone();
        let again = task.evaluate(&values(better));
        assert_eq!(
            (again.score, &again.feedback),
            (improved.score, &improved.feedback),
            "{name}"
        );
        let held_out = task
            .evaluate_private(&values(better_again))
            .expect("a final check");
        assert!(
            held_out.valid && held_out.score != improved.score,
            "{name}: the final check uses other instances"
        );
    }
}

#[test]
fn sor_feedback_carries_a_trace_an_llm_can_reason_from() {
    let task = Task::load(&library("params", "sor"), sandbox()).expect("sor loads");
    let evaluation = task.evaluate(&values(json!({"omega": 1.7})));
    let f = &evaluation.feedback;
    assert!(
        f.contains(
            " SOR iterations summed over 200 linear systems (lower is better; score = -cost)"
        ),
        "{f}"
    );
    assert!(f.contains("iterations per system: min "), "{f}");
    assert!(f.contains("hardest system t="), "{f}");
    assert!(
        f.contains("relative residual after iteration k: 1: "),
        "{f}"
    );
    assert!(f.contains("contraction per sweep"), "{f}");
    assert_eq!(
        evaluation.metrics["iterations"],
        json!(sor_sequence().total_iterations(1.7))
    );
    let instances = evaluation.trace["objective"]["instances"]
        .as_array()
        .expect("per-instance trace");
    assert_eq!(instances.len(), 200);
}

#[test]
fn out_of_bounds_values_are_clamped_with_a_visible_note() {
    let task = Task::load(&library("params", "sor"), sandbox()).expect("sor loads");
    let clamped = task.evaluate(&values(json!({"omega": 2.5})));
    assert_eq!(clamped.status, EvalStatus::Ok);
    assert!(
        clamped
            .feedback
            .contains("note: omega=2.5 was above its upper bound 1.99 and was clamped to 1.99"),
        "{}",
        clamped.feedback
    );
    let at_bound = task.evaluate(&values(json!({"omega": 1.99})));
    assert_eq!(clamped.score, at_bound.score);
    let wrong_type = task.evaluate(&values(json!({"omega": "fast"})));
    assert!(
        wrong_type
            .feedback
            .contains("is not a number; its initial value 1 was used"),
        "{}",
        wrong_type.feedback
    );
    assert_eq!(wrong_type.score, task.evaluate(&task.seeds[0]).score);
}

// ---- sandboxed objective programs ----

#[test]
fn sandboxed_sor_program_agrees_with_the_native_objective() {
    let task =
        Task::load(&library("params", "sor-sandboxed"), sandbox()).expect("sor-sandboxed loads");
    for omega in [1.7, 1.9] {
        let evaluation = task.evaluate(&values(json!({ "omega": omega })));
        assert_eq!(evaluation.status, EvalStatus::Ok, "{}", evaluation.feedback);
        let native = sor_sequence().total_iterations(omega);
        assert_eq!(
            evaluation.metrics["value"],
            json!(native as f64),
            "omega {omega}"
        );
        assert_eq!(evaluation.score, -(native as f64));
        assert!(evaluation.fuel.is_some_and(|f| f > 0));
    }
}

#[test]
fn sandboxed_quadratic_scores_minus_its_value() {
    let task = Task::load(&library("params", "sandboxed-quadratic"), sandbox())
        .expect("sandboxed-quadratic loads");
    assert_eq!(task.seeds[0].values["n"], json!(10));
    let seed = task.evaluate(&task.seeds[0]);
    assert_eq!(seed.status, EvalStatus::Ok, "{}", seed.feedback);
    // q(0, 0, 10) = 25 * 1.5² + 2² + 0.5 * 3² = 56.25 + 4 + 4.5.
    assert!((seed.score + 64.75).abs() < 1e-9, "{}", seed.score);
    assert!(
        seed.feedback.contains("q(x=0, y=0, n=10)"),
        "{}",
        seed.feedback
    );
    // The minimizer: u = 1.5, v = -2 -> x = (u - v)/sqrt 2, y = (u + v)/sqrt 2; n = 7.
    let r = std::f64::consts::SQRT_2;
    let best = task.evaluate(&values(json!({"x": 3.5 / r, "y": -0.5 / r, "n": 7.4})));
    assert!(
        best.score.abs() < 1e-12 && best.score > seed.score,
        "{}",
        best.score
    );
    assert!(
        best.feedback
            .contains("n=7.4 is not an integer and was rounded to 7"),
        "{}",
        best.feedback
    );
}

/// A temporary task folder with the given task.toml (and extra files).
fn temp_task(toml: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut all = vec![("task.toml", toml), ("statement.md", "A test task.\n")];
    all.extend_from_slice(files);
    folder(&all)
}

const ONE_VARIABLE: &str = "[[params.variables]]\nname = \"x\"\ntype = \"float\"\nlower = 0.0\nupper = 1.0\ninitial = 0.5\n";

#[test]
fn objective_programs_that_crash_or_print_no_number_get_a_clear_status() {
    let trap = r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#;
    let prints = |text: &str| {
        format!(
            r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{text}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
            len = text.len() - text.matches("\\0a").count() * 2
        )
    };
    let cases = [
        (
            trap.to_string(),
            EvalStatus::RuntimeError,
            "did not finish normally",
        ),
        (
            prints("hello\\0aworld\\0a"),
            EvalStatus::InvalidOutput,
            "it printed `hello`",
        ),
        (prints(""), EvalStatus::InvalidOutput, "it printed nothing"),
        (
            prints("nan\\0a"),
            EvalStatus::InvalidOutput,
            "must be a finite number",
        ),
        (
            prints("4.5\\0aclose\\0a"),
            EvalStatus::Ok,
            "objective value: 4.5",
        ),
    ];
    for (source, status, needle) in cases {
        let dir = temp_task(
            &format!(
                "[task]\nkind = \"params\"\n\n[params]\nprogram = \"objective.wat\"\n\n{ONE_VARIABLE}"
            ),
            &[("objective.wat", &source)],
        );
        let task = Task::load(dir.path(), sandbox()).expect("loads");
        let evaluation = task.evaluate(&task.seeds[0]);
        assert_eq!(evaluation.status, status, "{}", evaluation.feedback);
        assert!(
            evaluation.feedback.contains(needle),
            "{needle}: {}",
            evaluation.feedback
        );
        if status == EvalStatus::Ok {
            assert_eq!(evaluation.score, 4.5);
            assert!(evaluation.feedback.contains("close"));
        } else {
            assert!(!evaluation.valid);
        }
    }
}

// ---- bad task.toml ----

fn load_error(params: &str) -> String {
    let dir = temp_task(&format!("[task]\nkind = \"params\"\n\n{params}"), &[]);
    match Task::load(dir.path(), sandbox()) {
        Ok(_) => panic!("loaded, but should fail:\n{params}"),
        Err(e) => {
            assert!(matches!(e, TaskError::Field { .. }), "{e:?}");
            let message = e.to_string();
            assert!(message.contains("task.toml"), "{message}");
            message
        }
    }
}

#[test]
fn bad_task_toml_is_a_clear_error_naming_the_field() {
    let sor = "[params]\nobjective = \"sor\"\ninstances = 5\n\n";
    let variable = |body: &str| format!("{sor}[[params.variables]]\nname = \"omega\"\n{body}");
    let cases: Vec<(String, &str, &str)> = vec![
        (variable("type = \"float\"\nlower = 1.0\ninitial = 1.0\n"), "params.variables[0].upper", "missing"),
        (variable("type = \"float\"\nlower = \"one\"\nupper = 1.9\ninitial = 1.0\n"), "params.variables[0].lower", "must be a number"),
        (variable("type = \"float\"\nlower = 1.0\nupper = 1.9\ninitial = 1.0\nstep = 0.1\n"), "params.variables[0].step", "unknown key"),
        (variable("type = \"float\"\nlower = 1.9\nupper = 1.0\ninitial = 1.0\n"), "params.variables[0].lower", "above the upper bound"),
        (variable("type = \"float\"\nlower = 1.0\nupper = 1.9\ninitial = 2.0\n"), "params.variables[0].initial", "outside the bounds"),
        (variable("type = \"complex\"\nlower = 1.0\nupper = 1.9\ninitial = 1.0\n"), "params.variables[0].type", "accepted: float, int"),
        (variable("type = \"int\"\nlower = 1.0\nupper = 1.5\ninitial = 1.0\n"), "params.variables[0].upper", "not an integer"),
        (variable("type = \"float\"\nlower = 0.0\nupper = 1.9\ninitial = 1.0\nscale = \"log\"\n"), "params.variables[0].lower", "positive lower bound"),
        (format!("[params]\nobjective = \"sorr\"\n\n{ONE_VARIABLE}"), "params.objective", "unknown objective `sorr`; accepted: sor, ssor_cg"),
        (format!("[params]\nobjective = \"sor\"\ninstancez = 3\n\n{ONE_VARIABLE}"), "params.instancez", "unknown field"),
        (format!("[params]\nobjective = \"sor\"\ninstances = \"many\"\n\n{ONE_VARIABLE}"), "params.instances", "invalid type"),
        (format!("[params]\nobjective = \"sor\"\ninstances = 0\n\n{ONE_VARIABLE}"), "params.instances", "out of range"),
        (format!("[params]\nobjective = \"sor\"\n\n{ONE_VARIABLE}"), "params.variables", "reads the variables omega; the task declares x"),
        (format!("[params]\n\n{ONE_VARIABLE}"), "params.objective", "missing"),
        (format!("[params]\nobjective = \"sor\"\nprogram = \"a.c\"\n\n{ONE_VARIABLE}"), "params", "not both"),
        ("[params]\nobjective = \"sor\"\n".to_string(), "params.variables", "missing"),
        (format!("[params]\nprogram = \"missing.c\"\n\n{ONE_VARIABLE}"), "params.program", "does not exist"),
        (format!("[params]\nprogram = \"missing.c\"\ndirection = \"down\"\n\n{ONE_VARIABLE}"), "params.direction", "unknown variant"),
        (
            "[params]\nobjective = \"test_function\"\n\n[[params.variables]]\nname = \"x\"\ntype = \"float\"\nlower = 10.0\nupper = 11.0\ninitial = 10.0\n".to_string(),
            "params.shift",
            "outside the variable's bounds",
        ),
    ];
    for (params, field, needle) in cases {
        let message = load_error(&params);
        assert!(
            message.contains(&format!("field `{field}`")),
            "expected field {field}: {message}"
        );
        assert!(message.contains(needle), "expected `{needle}`: {message}");
    }
}

#[test]
fn values_of_the_wrong_kind_in_a_candidate_never_crash() {
    let task = Task::load(&library("params", "heavy-ball"), sandbox()).expect("heavy-ball loads");
    let mut odd = BTreeMap::new();
    odd.insert("alpha".to_string(), json!(null));
    odd.insert("beta".to_string(), json!({"nested": 1}));
    odd.insert("gamma".to_string(), json!(3));
    let evaluation = task.evaluate(&Candidate::from_values(odd));
    assert_eq!(evaluation.status, EvalStatus::Ok);
    assert_eq!(evaluation.score, task.evaluate(&task.seeds[0]).score);
    assert!(
        evaluation
            .feedback
            .contains("gamma is not a variable of this task"),
        "{}",
        evaluation.feedback
    );
    // A step size that diverges costs the cap and says so.
    let diverging = task.evaluate(&values(json!({"alpha": 0.01, "beta": 0.0})));
    assert!(
        diverging.feedback.contains("diverged"),
        "{}",
        diverging.feedback
    );
    assert_eq!(diverging.metrics["cost"], json!(4.0 * 20000.0));
}
