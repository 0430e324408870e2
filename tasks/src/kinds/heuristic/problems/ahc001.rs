//! AtCoder Heuristic Contest 001 (AtCoder Inc. Programming Contest 2021 (A)): advertisement
//! rectangles in a 10000 x 10000 square.
//!
//! Generator, as the contest's `gen`: a ChaCha20 generator seeded with the seed;
//! n = round(50 · 4^u) with u uniform in [0, 1) (so 50 ≤ n ≤ 200); n distinct points with
//! x and y uniform in [0, 9999]; the desired areas split 10^8 at n − 1 distinct cut points
//! drawn uniformly from [1, 10^8 − 1] (sorted, differences taken with 0 and 10^8). The
//! distribution is the contest's; the exact random stream is not (the contest used rand 0.7,
//! hone uses rand 0.9, whose range and sampling algorithms differ), so seed k does not give
//! the contest's `in/k.txt`.
//!
//! Scorer, as the contest's `vis`: n lines `a b c d` with 0 ≤ a < c ≤ 10000,
//! 0 ≤ b < d ≤ 10000, no two rectangles overlapping with positive area; company i satisfied
//! to p_i = 1 − (1 − min(r_i, s_i)/max(r_i, s_i))² when its rectangle (area s_i) contains
//! (x_i + 0.5, y_i + 0.5), else 0; score = round(10^9 · Σ p_i / n).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::{Objective, Problem, Rejection, Tokens};

/// Side of the square.
pub const SIDE: i64 = 10_000;

/// The advertisement-rectangle problem.
pub struct Ahc001;

/// One company: its point and desired area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Company {
    pub x: i64,
    pub y: i64,
    pub r: i64,
}

/// Parses an input this problem generated.
pub fn parse_input(input: &str) -> Result<Vec<Company>, Rejection> {
    let mut tokens = Tokens::new(input, "input");
    let n = tokens.int(&|| "n".into())?;
    let n = usize::try_from(n).map_err(|_| Rejection::malformed(format!("n = {n} is negative")))?;
    let mut companies = Vec::with_capacity(n);
    for i in 0..n {
        let x = tokens.int(&|| format!("x of company {i}"))?;
        let y = tokens.int(&|| format!("y of company {i}"))?;
        let r = tokens.int(&|| format!("r of company {i}"))?;
        companies.push(Company { x, y, r });
    }
    Ok(companies)
}

impl Problem for Ahc001 {
    fn objective(&self) -> Objective {
        Objective::Maximize
    }

    fn generate(&self, seed: u64) -> String {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let n = (50.0 * 4f64.powf(rng.random::<f64>())).round() as usize;
        let mut used = std::collections::BTreeSet::new();
        let mut points = Vec::with_capacity(n);
        while points.len() < n {
            let x = rng.random_range(0..SIDE);
            let y = rng.random_range(0..SIDE);
            if used.insert((x, y)) {
                points.push((x, y));
            }
        }
        let total = (SIDE * SIDE) as usize;
        let mut cuts: Vec<usize> = rand::seq::index::sample(&mut rng, total - 1, n - 1)
            .into_iter()
            .map(|a| a + 1)
            .collect();
        cuts.sort_unstable();
        cuts.insert(0, 0);
        cuts.push(total);
        let mut out = format!("{n}\n");
        for (i, (x, y)) in points.iter().enumerate() {
            out += &format!("{x} {y} {}\n", cuts[i + 1] - cuts[i]);
        }
        out
    }

    fn score(&self, input: &str, output: &str) -> Result<i64, Rejection> {
        let companies = parse_input(input)?;
        let n = companies.len();
        let mut tokens = Tokens::new(output, "output");
        let mut rects = Vec::with_capacity(n);
        for i in 0..n {
            let mut corner = [0i64; 4];
            for (k, name) in ["a", "b", "c", "d"].iter().enumerate() {
                corner[k] = tokens.int(&|| {
                    format!("{name} of rectangle {i} (line {} of {n}: `a b c d`)", i + 1)
                })?;
            }
            let [a, b, c, d] = corner;
            if !(0 <= a && a < c && c <= SIDE && 0 <= b && b < d && d <= SIDE) {
                return Err(Rejection::illegal(format!(
                    "rectangle {i} = ({a}, {b}, {c}, {d}) breaks 0 <= a < c <= {SIDE} and 0 <= b < d <= {SIDE}"
                )));
            }
            rects.push(corner);
        }
        tokens.end()?;
        for i in 0..n {
            for j in i + 1..n {
                let (p, q) = (rects[i], rects[j]);
                if p[0].max(q[0]) < p[2].min(q[2]) && p[1].max(q[1]) < p[3].min(q[3]) {
                    return Err(Rejection::illegal(format!(
                        "rectangles {i} ({} {} {} {}) and {j} ({} {} {} {}) overlap",
                        p[0], p[1], p[2], p[3], q[0], q[1], q[2], q[3]
                    )));
                }
            }
        }
        let mut sum = 0.0;
        for (company, [a, b, c, d]) in companies.iter().zip(&rects) {
            if a <= &company.x && company.x < *c && b <= &company.y && company.y < *d {
                let s = ((c - a) * (d - b)) as f64;
                let r = company.r as f64;
                let ratio = s.min(r) / s.max(r);
                sum += 1.0 - (1.0 - ratio) * (1.0 - ratio);
            }
        }
        Ok((1e9 * sum / n.max(1) as f64).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_follows_the_contest_distribution() {
        for seed in 0..30 {
            let input = Ahc001.generate(seed);
            let companies = parse_input(&input).expect("parses");
            let n = companies.len();
            assert!((50..=200).contains(&n), "n = {n}");
            assert_eq!(companies.iter().map(|c| c.r).sum::<i64>(), SIDE * SIDE);
            assert!(companies.iter().all(|c| c.r >= 1));
            assert!(
                companies
                    .iter()
                    .all(|c| (0..SIDE).contains(&c.x) && (0..SIDE).contains(&c.y))
            );
            let mut points: Vec<_> = companies.iter().map(|c| (c.x, c.y)).collect();
            points.sort_unstable();
            points.dedup();
            assert_eq!(points.len(), n);
            assert_eq!(input, Ahc001.generate(seed), "deterministic");
        }
        assert_ne!(Ahc001.generate(1), Ahc001.generate(2));
    }

    #[test]
    fn scores_the_rule_exactly() {
        let input = "2\n0 0 4\n5 5 100\n";
        // Company 0: area 4 exactly -> 1. Company 1: area 25 of 100 -> 1 - 0.75^2 = 0.4375.
        let score = Ahc001.score(input, "0 0 2 2\n5 5 10 10\n").expect("valid");
        assert_eq!(score, (1e9 * (1.0 + 0.4375) / 2.0_f64).round() as i64);
        // A rectangle that misses its point earns nothing.
        let score = Ahc001.score(input, "1 1 3 3\n5 5 10 10\n").expect("valid");
        assert_eq!(score, (1e9 * 0.4375 / 2.0_f64).round() as i64);
        let overlap = Ahc001.score(input, "0 0 6 6\n5 5 10 10\n").unwrap_err();
        assert!(
            !overlap.malformed && overlap.message.contains("overlap"),
            "{overlap:?}"
        );
        // Touching edges do not overlap.
        assert!(Ahc001.score(input, "0 0 5 5\n5 5 10 10\n").is_ok());
        let outside = Ahc001.score(input, "0 0 2 2\n5 5 10001 10\n").unwrap_err();
        assert!(
            !outside.malformed && outside.message.contains("rectangle 1"),
            "{outside:?}"
        );
        let short = Ahc001.score(input, "0 0 2 2\n").unwrap_err();
        assert!(short.malformed, "{short:?}");
        let extra = Ahc001.score(input, "0 0 2 2\n5 5 10 10\n7\n").unwrap_err();
        assert!(
            extra.malformed && extra.message.contains("extra"),
            "{extra:?}"
        );
        let word = Ahc001.score(input, "0 0 2 x\n5 5 10 10\n").unwrap_err();
        assert!(word.malformed && word.message.contains("`x`"), "{word:?}");
    }
}
