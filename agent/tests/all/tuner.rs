//! The builtin tuner beats random search at equal evaluations (5-D Rosenbrock, Rastrigin).

use hone_agent::tuner::{Algorithm, BuiltinProposer, TunerConfig};
use hone_tasks::{Candidate, Scale, VariableSpec, VariableType};
use rand::{Rng, SeedableRng};

const DIMENSIONS: usize = 5;
const EVALUATIONS: usize = 400;
const SEEDS: u64 = 10;

fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos())
            .sum::<f64>()
}

fn specs(bound: f64, initial: f64) -> Vec<VariableSpec> {
    (0..DIMENSIONS)
        .map(|i| VariableSpec {
            name: format!("x{i}"),
            kind: VariableType::Float,
            lower: -bound,
            upper: bound,
            scale: Scale::Linear,
            initial,
            description: String::new(),
        })
        .collect()
}

fn point(candidate: &Candidate) -> Vec<f64> {
    (0..DIMENSIONS)
        .map(|i| {
            candidate
                .values
                .get(&format!("x{i}"))
                .and_then(|v| v.as_f64())
                .unwrap_or(f64::NAN)
        })
        .collect()
}

/// Best (lowest) objective found by the builtin proposer in `EVALUATIONS` evaluations.
fn tuned(f: fn(&[f64]) -> f64, specs: &[VariableSpec], algorithm: Algorithm, seed: u64) -> f64 {
    let config = TunerConfig {
        algorithm,
        ..TunerConfig::default()
    };
    let mut proposer = BuiltinProposer::for_variables(specs, Candidate::default(), &config, seed)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut best = f64::INFINITY;
    for _ in 0..EVALUATIONS {
        let candidate = proposer.propose();
        let x = point(&candidate);
        assert!(
            x.iter()
                .zip(specs)
                .all(|(v, s)| (s.lower..=s.upper).contains(v)),
            "{x:?}"
        );
        let value = f(&x);
        best = best.min(value);
        proposer.observe(&candidate, -value);
    }
    best
}

fn random_search(f: fn(&[f64]) -> f64, bound: f64, seed: u64) -> f64 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    (0..EVALUATIONS)
        .map(|_| {
            f(&(0..DIMENSIONS)
                .map(|_| rng.random_range(-bound..=bound))
                .collect::<Vec<_>>())
        })
        .fold(f64::INFINITY, f64::min)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

fn compare(
    name: &str,
    f: fn(&[f64]) -> f64,
    bound: f64,
    initial: f64,
    algorithm: Algorithm,
) -> (f64, f64) {
    let specs = specs(bound, initial);
    let tuned = median(
        (0..SEEDS)
            .map(|seed| tuned(f, &specs, algorithm, seed))
            .collect(),
    );
    let random = median(
        (0..SEEDS)
            .map(|seed| random_search(f, bound, seed))
            .collect(),
    );
    eprintln!(
        "{name} {algorithm:?}: median best {tuned:.4} vs random search {random:.4} ({EVALUATIONS} evaluations, {SEEDS} seeds)"
    );
    (tuned, random)
}

#[test]
fn cma_es_beats_random_search_on_rosenbrock() {
    let (tuned, random) = compare("rosenbrock", rosenbrock, 2.048, -1.5, Algorithm::CmaEs);
    assert!(tuned < random / 10.0, "{tuned} vs {random}");
}

#[test]
fn cma_es_beats_random_search_on_rastrigin() {
    let (tuned, random) = compare("rastrigin", rastrigin, 5.12, 3.0, Algorithm::CmaEs);
    assert!(tuned < random, "{tuned} vs {random}");
}

#[test]
fn nelder_mead_beats_random_search_on_rosenbrock() {
    let (tuned, random) = compare("rosenbrock", rosenbrock, 2.048, -1.5, Algorithm::NelderMead);
    assert!(tuned < random, "{tuned} vs {random}");
}
