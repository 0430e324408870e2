//! A closed tour through random cities (Euclidean travelling salesman), minimize its length.
//!
//! Generator: a ChaCha20 generator seeded with the seed; n uniform in [200, 400]; half the
//! cities uniform in [0, 1000]², the other half in 3 to 8 Gaussian clusters (σ uniform in
//! [20, 80]) clamped to the square; coordinates are integers. Input: `n`, then n lines
//! `x y`. Output: the n city indices (0-based), each once, in visiting order; the tour
//! returns to its first city. Raw score: the tour's Euclidean length, rounded.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};

use super::{Objective, Problem, Rejection, Tokens};

/// Side of the square the cities lie in.
pub const SIDE: i64 = 1000;

/// The tour problem.
pub struct Tour;

/// Parses an input this problem generated: the cities.
pub fn parse_input(input: &str) -> Result<Vec<(i64, i64)>, Rejection> {
    let mut tokens = Tokens::new(input, "input");
    let n = tokens.int(&|| "n".into())?;
    let n = usize::try_from(n).map_err(|_| Rejection::malformed(format!("n = {n} is negative")))?;
    let mut cities = Vec::with_capacity(n);
    for i in 0..n {
        let x = tokens.int(&|| format!("x of city {i}"))?;
        let y = tokens.int(&|| format!("y of city {i}"))?;
        cities.push((x, y));
    }
    Ok(cities)
}

impl Problem for Tour {
    fn objective(&self) -> Objective {
        Objective::Minimize
    }

    fn generate(&self, seed: u64) -> String {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let n: usize = rng.random_range(200..=400);
        let clusters: usize = rng.random_range(3..=8);
        let centres: Vec<(f64, f64, f64)> = (0..clusters)
            .map(|_| {
                (
                    rng.random_range(100.0..900.0),
                    rng.random_range(100.0..900.0),
                    rng.random_range(20.0..80.0),
                )
            })
            .collect();
        let mut out = format!("{n}\n");
        for i in 0..n {
            let (x, y) = if i % 2 == 0 {
                (rng.random_range(0..=SIDE), rng.random_range(0..=SIDE))
            } else {
                let (cx, cy, sigma) = centres[rng.random_range(0..clusters)];
                let normal = Normal::new(0.0, sigma).unwrap_or_else(|_| unreachable_normal());
                let x = (cx + normal.sample(&mut rng))
                    .round()
                    .clamp(0.0, SIDE as f64) as i64;
                let y = (cy + normal.sample(&mut rng))
                    .round()
                    .clamp(0.0, SIDE as f64) as i64;
                (x, y)
            };
            out += &format!("{x} {y}\n");
        }
        out
    }

    fn score(&self, input: &str, output: &str) -> Result<i64, Rejection> {
        let cities = parse_input(input)?;
        let n = cities.len();
        let mut tokens = Tokens::new(output, "output");
        let mut seen = vec![false; n];
        let mut order = Vec::with_capacity(n);
        for k in 0..n {
            let city = tokens.int(&|| format!("city number {} of {n}", k + 1))?;
            let index = usize::try_from(city)
                .ok()
                .filter(|&c| c < n)
                .ok_or_else(|| {
                    Rejection::illegal(format!("city {city} (position {k}) is not in 0..{n}"))
                })?;
            if seen[index] {
                return Err(Rejection::illegal(format!(
                    "city {index} is visited twice (again at position {k})"
                )));
            }
            seen[index] = true;
            order.push(index);
        }
        tokens.end()?;
        let mut length = 0.0;
        for k in 0..n {
            let (x0, y0) = cities[order[k]];
            let (x1, y1) = cities[order[(k + 1) % n]];
            length += (((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)) as f64).sqrt();
        }
        Ok(length.round() as i64)
    }
}

/// `Normal::new` fails only for a negative or NaN deviation, which the ranges above exclude;
/// a standard normal keeps generation total anyway.
fn unreachable_normal() -> Normal<f64> {
    Normal::new(0.0, 1.0).unwrap_or_else(|_| unreachable!("a standard normal is valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_valid_inputs_deterministically() {
        for seed in 0..10 {
            let input = Tour.generate(seed);
            let cities = parse_input(&input).expect("parses");
            assert!((200..=400).contains(&cities.len()));
            assert!(
                cities
                    .iter()
                    .all(|&(x, y)| (0..=SIDE).contains(&x) && (0..=SIDE).contains(&y))
            );
            assert_eq!(input, Tour.generate(seed));
        }
    }

    #[test]
    fn scores_a_square_tour_and_rejects_bad_ones() {
        let input = "4\n0 0\n0 10\n10 10\n10 0\n";
        assert_eq!(Tour.score(input, "0 1 2 3").expect("valid"), 40);
        // The crossing order is longer: 10 + 10·√2 + 10 + 10·√2.
        assert_eq!(Tour.score(input, "0 2 1 3").expect("valid"), 48);
        let twice = Tour.score(input, "0 1 1 3").unwrap_err();
        assert!(
            !twice.malformed && twice.message.contains("twice"),
            "{twice:?}"
        );
        let range = Tour.score(input, "0 1 2 4").unwrap_err();
        assert!(
            !range.malformed && range.message.contains("city 4"),
            "{range:?}"
        );
        assert!(Tour.score(input, "0 1 2").unwrap_err().malformed);
        assert!(Tour.score(input, "0 1 2 3 0").unwrap_err().malformed);
    }
}
