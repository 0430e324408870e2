//! Grid search over a params task's box: the points of `--llm grid` and the arms of
//! `--llm tsallis` (see [`super::baselines`]).

use std::collections::BTreeMap;

use hone_tasks::{Scale, VariableSpec, VariableType};

/// The points of a grid search over the variables' box with at most `budget` points:
/// `k = ⌊budget^(1/d)⌋` levels per variable (linear or log spaced as the variable's scale
/// says; ints rounded and deduplicated), in lexicographic order (the first variable varies
/// slowest). With `k = 1` the single level is the box's centre.
pub fn grid_points(specs: &[VariableSpec], budget: usize) -> Vec<BTreeMap<String, f64>> {
    if specs.is_empty() || budget == 0 {
        return Vec::new();
    }
    let d = specs.len() as i32;
    let mut k = (budget as f64).powf(1.0 / f64::from(d)).floor().max(1.0) as usize;
    while k > 1 && k.checked_pow(d as u32).is_none_or(|n| n > budget) {
        k -= 1;
    }
    let levels: Vec<Vec<f64>> = specs.iter().map(|spec| levels(spec, k)).collect();
    let mut points = Vec::new();
    let mut index = vec![0usize; specs.len()];
    loop {
        points.push(
            specs
                .iter()
                .zip(&index)
                .zip(&levels)
                .map(|((s, &i), l)| (s.name.clone(), l[i]))
                .collect(),
        );
        // Odometer increment, last variable fastest.
        let mut position = specs.len();
        loop {
            if position == 0 {
                return points;
            }
            position -= 1;
            index[position] += 1;
            if index[position] < levels[position].len() {
                break;
            }
            index[position] = 0;
        }
    }
}

/// `k` levels of one variable over its bounds.
fn levels(spec: &VariableSpec, k: usize) -> Vec<f64> {
    let (lo, hi) = (spec.lower, spec.upper);
    let log = spec.scale == Scale::Log && lo > 0.0;
    let mut out: Vec<f64> = (0..k)
        .map(|i| {
            let u = if k == 1 {
                0.5
            } else {
                i as f64 / (k - 1) as f64
            };
            let v = if log {
                (lo.ln() + u * (hi.ln() - lo.ln())).exp()
            } else {
                lo + u * (hi - lo)
            };
            let v = v.clamp(lo, hi);
            if spec.kind == VariableType::Int {
                v.round().clamp(lo.ceil(), hi.floor())
            } else {
                v
            }
        })
        .collect();
    out.dedup();
    out
}

/// The best point of a grid search and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct GridResult {
    pub best: BTreeMap<String, f64>,
    pub best_score: f64,
    pub evaluations: usize,
}

/// Evaluates `score` (higher is better) at every grid point (see [`grid_points`]) and keeps
/// the best; ties keep the earlier point. `None` when the grid is empty.
pub fn grid_search(
    specs: &[VariableSpec],
    budget: usize,
    mut score: impl FnMut(&BTreeMap<String, f64>) -> f64,
) -> Option<GridResult> {
    let points = grid_points(specs, budget);
    let evaluations = points.len();
    let mut best: Option<(BTreeMap<String, f64>, f64)> = None;
    for point in points {
        let s = score(&point);
        if best.as_ref().is_none_or(|(_, b)| s > *b) {
            best = Some((point, s));
        }
    }
    best.map(|(best, best_score)| GridResult {
        best,
        best_score,
        evaluations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: VariableType, lower: f64, upper: f64, scale: Scale) -> VariableSpec {
        VariableSpec {
            name: name.into(),
            kind,
            lower,
            upper,
            scale,
            initial: lower,
            description: String::new(),
        }
    }

    #[test]
    fn grid_respects_budget_scale_and_ints() {
        let specs = [
            spec("a", VariableType::Float, 1e-3, 1e1, Scale::Log),
            spec("b", VariableType::Int, 0.0, 3.0, Scale::Linear),
        ];
        let points = grid_points(&specs, 20);
        // k = 4 levels each: 16 points.
        assert_eq!(points.len(), 16);
        let a: Vec<f64> = points.iter().step_by(4).map(|p| p["a"]).collect();
        assert!((a[1] / a[0] - 10f64.powf(4.0 / 3.0)).abs() < 1e-9, "{a:?}");
        let b: Vec<f64> = points[..4].iter().map(|p| p["b"]).collect();
        assert_eq!(b, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(grid_points(&specs, 3).len(), 1);
    }

    #[test]
    fn grid_search_finds_the_best_point() {
        let specs = [spec("x", VariableType::Float, -1.0, 1.0, Scale::Linear)];
        let result = grid_search(&specs, 21, |p| -(p["x"] - 0.3).powi(2)).unwrap();
        assert_eq!(result.evaluations, 21);
        assert!((result.best["x"] - 0.3).abs() < 1e-9);
    }
}
