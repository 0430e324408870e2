//! The grid and Tsallis-INF baselines on the native objectives: the grid finds the heavy-ball
//! optimum, and Tsallis-INF learns online over a SOR sequence ("Learning to Relax").

use std::sync::OnceLock;

use hone_agent::tuner::grid::grid_search;
use hone_agent::tuner::tsallis::{relax_arms, tsallis_on_sor};
use hone_tasks::objectives::heavy_ball::{HeavyBallConfig, Quadratics};
use hone_tasks::objectives::sor::{SorConfig, SorSequence};
use hone_tasks::{Scale, VariableSpec, VariableType};

/// The SOR sequence of the bundled `sor` task (200 systems, seed 7), generated once.
fn sor_sequence() -> &'static SorSequence {
    static SEQUENCE: OnceLock<SorSequence> = OnceLock::new();
    SEQUENCE.get_or_init(|| SorSequence::generate(&SorConfig::default(), 7))
}

/// Total iterations of the SOR sequence at each of the 20 bandit arms, linspace(1, 1.95, 20).
fn sor_arm_costs() -> &'static [u64] {
    static COSTS: OnceLock<Vec<u64>> = OnceLock::new();
    COSTS.get_or_init(|| {
        relax_arms()
            .iter()
            .map(|&w| sor_sequence().total_iterations(w))
            .collect()
    })
}

fn float(name: &str, lower: f64, upper: f64, scale: Scale) -> VariableSpec {
    VariableSpec {
        name: name.into(),
        kind: VariableType::Float,
        lower,
        upper,
        scale,
        initial: lower,
        description: String::new(),
    }
}

#[test]
fn tsallis_inf_learns_online_between_gauss_seidel_and_the_best_fixed_omega() {
    let seq = sor_sequence();
    let arms = relax_arms();
    assert_eq!(arms.len(), 20);
    assert!((arms[0] - 1.0).abs() < 1e-12 && (arms[19] - 1.95).abs() < 1e-12);
    let best_fixed = *sor_arm_costs().iter().min().unwrap();
    let gauss_seidel = sor_arm_costs()[0];
    let run = tsallis_on_sor(seq, arms.clone(), 1);
    assert_eq!(run.chosen.len(), seq.len());
    assert_eq!(
        run.total_iterations,
        run.iterations.iter().map(|&k| u64::from(k)).sum::<u64>()
    );
    assert!(
        run.total_iterations < gauss_seidel / 2,
        "bandit {} vs omega=1 {gauss_seidel}",
        run.total_iterations
    );
    assert!(
        run.total_iterations >= best_fixed,
        "bandit {} vs best fixed {best_fixed}",
        run.total_iterations
    );
    // It learns: the omegas played in the second half are larger on average (closer to the
    // best, about 1.8) than in the first half.
    let half = seq.len() / 2;
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    assert!(
        mean(&run.chosen[half..]) > mean(&run.chosen[..half]),
        "{:?}",
        run.chosen
    );
    // Deterministic given the seed.
    assert_eq!(tsallis_on_sor(seq, arms, 1), run);
}

#[test]
fn heavy_ball_grid_minimum_matches_the_theoretical_optimum() {
    let config = HeavyBallConfig::default();
    let quadratics = Quadratics::generate(&config, 5);
    let (alpha_star, beta_star) = config.optimum();
    let (sl, sm) = (config.lipschitz.sqrt(), config.mu.sqrt());
    assert!((alpha_star - 4.0 / (sl + sm).powi(2)).abs() < 1e-15);
    // A 21 x 21 grid search (the baseline) over a box around the optimum.
    let specs = [
        float("alpha", 0.5 * alpha_star, 1.5 * alpha_star, Scale::Log),
        float(
            "beta",
            beta_star - 0.1,
            (beta_star + 0.1).min(0.999),
            Scale::Linear,
        ),
    ];
    let result = grid_search(&specs, 441, |p| {
        -(quadratics.total_iterations(p["alpha"], p["beta"]) as f64)
    })
    .unwrap();
    assert_eq!(result.evaluations, 441);
    let (alpha, beta) = (result.best["alpha"], result.best["beta"]);
    assert!(
        (alpha / alpha_star - 1.0).abs() < 0.15,
        "alpha {alpha} vs {alpha_star}"
    );
    assert!(
        (beta - beta_star).abs() < 0.02,
        "beta {beta} vs {beta_star}"
    );
    // And the optimum is far better than plain gradient descent with its best step.
    let gradient_descent = quadratics.total_iterations(2.0 / (config.mu + config.lipschitz), 0.0);
    assert!(
        gradient_descent > 5 * (-result.best_score) as u64,
        "{gradient_descent} vs {}",
        -result.best_score
    );
}
