//! AtCoder Heuristic Contest 001 (AtCoder Inc. Programming Contest 2021 (A)): advertisement
//! rectangles in a 10000 x 10000 square.
//!
//! Generator, as the contest's `gen` (AtCoder's tools for AHC001, built on the rand 0.7.3
//! and rand_chacha 0.2.2 crates): a ChaCha20 generator seeded with the seed;
//! n = round(50 · 4^u) with u uniform in [0, 1); n distinct points with x and y uniform in
//! [0, 9999] (a repeated point is redrawn); the desired areas split 10^8 at n − 1 distinct
//! cut points drawn from [1, 10^8 − 1] (sorted, differences taken with 0 and 10^8). The
//! sampling algorithms of rand 0.7.3 are rewritten below, so seed k gives the contest
//! tools' input for seed k byte for byte (their `in/0000.txt` ... `in/0049.txt` are seeds
//! 0 to 49).
//!
//! Scorer, as the contest's `vis` by default ([`OutputReading::Vis`]): the output is read
//! as `vis` reads it (a line at a time, tokens split at Unicode whitespace, 4n integers as
//! Rust's `i64` parses them; what follows them is never read), then for each rectangle i in
//! order: a corner outside [0, 10000] or a non-positive width or height scores 0; a
//! rectangle that does not contain (x_i + 0.5, y_i + 0.5) earns nothing and is not checked
//! for overlap against the rectangles before it; one that contains it scores 0 if it
//! overlaps an earlier rectangle with positive area, else earns
//! p_i = 1 − (1 − min(r_i, s_i)/max(r_i, s_i))². Score = round(10^9 · Σ p_i / n).
//! [`OutputReading::Strict`] (task.toml `strict_output = true`) also rejects anything after
//! the 4n integers, invalid UTF-8 anywhere, and every overlapping pair.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::{Objective, Problem, Rejection};

/// Side of the square.
pub const SIDE: i64 = 10_000;

/// How strictly an output is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputReading {
    /// Exactly as the contest's `vis`: trailing text ignored, overlaps checked only for
    /// rectangles that contain their own point.
    #[default]
    Vis,
    /// Exactly 4n integers and whitespace, valid UTF-8, and no two rectangles overlapping.
    Strict,
}

/// The advertisement-rectangle problem.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ahc001 {
    pub reading: OutputReading,
}

/// One company: its point and desired area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Company {
    pub x: i64,
    pub y: i64,
    pub r: i64,
}

/// One rectangle `a b c d`: [a, c] x [b, d].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rect {
    a: i64,
    b: i64,
    c: i64,
    d: i64,
}

impl Rect {
    fn overlaps(&self, other: &Rect) -> bool {
        self.c.min(other.c) > self.a.max(other.a) && self.d.min(other.d) > self.b.max(other.b)
    }

    fn contains(&self, company: &Company) -> bool {
        self.a <= company.x && company.x < self.c && self.b <= company.y && company.y < self.d
    }

    fn area(&self) -> i64 {
        (self.c - self.a) * (self.d - self.b)
    }
}

/// Parses an input this problem generated.
pub fn parse_input(input: &str) -> Result<Vec<Company>, Rejection> {
    let mut tokens = input.split_whitespace();
    let mut int = |name: &dyn Fn() -> String| -> Result<i64, Rejection> {
        let token = tokens
            .next()
            .ok_or_else(|| Rejection::malformed(format!("the input ends before {}", name())))?;
        token.parse().map_err(|_| {
            Rejection::malformed(format!("input: {}: `{token}` is not an integer", name()))
        })
    };
    let n = int(&|| "n".into())?;
    let n = usize::try_from(n).map_err(|_| Rejection::malformed(format!("n = {n} is negative")))?;
    let mut companies = Vec::with_capacity(n.min(10_000));
    for i in 0..n {
        let x = int(&|| format!("x of company {i}"))?;
        let y = int(&|| format!("y of company {i}"))?;
        let r = int(&|| format!("r of company {i}"))?;
        companies.push(Company { x, y, r });
    }
    Ok(companies)
}

/// Reads the 4n integers of an output a line at a time, as `vis` does: a line is decoded
/// (and must be UTF-8) only when a token is still needed.
fn read_rects(output: &[u8], n: usize, reading: OutputReading) -> Result<Vec<Rect>, Rejection> {
    let names = ["a", "b", "c", "d"];
    let mut values = Vec::with_capacity(4 * n);
    let mut rest = output;
    let mut line_number = 0;
    while values.len() < 4 * n {
        if rest.is_empty() {
            let i = values.len() / 4;
            return Err(Rejection::malformed(format!(
                "the output ends before {} of rectangle {i} (line {} of {n}: `a b c d`)",
                names[values.len() % 4],
                i + 1
            )));
        }
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        line_number += 1;
        let line = std::str::from_utf8(line).map_err(|_| {
            Rejection::malformed(format!("output line {line_number} is not valid UTF-8"))
        })?;
        let mut tokens = line.split_whitespace();
        while values.len() < 4 * n {
            let Some(token) = tokens.next() else { break };
            let value: i64 = token.parse().map_err(|_| {
                let i = values.len() / 4;
                Rejection::malformed(format!(
                    "{} of rectangle {i} (line {} of {n}: `a b c d`): `{}` is not an integer (64-bit)",
                    names[values.len() % 4],
                    i + 1,
                    crate::checker::trim_for_feedback(token, 40)
                ))
            })?;
            values.push(value);
        }
        if reading == OutputReading::Strict
            && let Some(token) = tokens.next()
        {
            return Err(extra(token));
        }
    }
    if reading == OutputReading::Strict {
        let tail = std::str::from_utf8(rest).map_err(|_| {
            Rejection::malformed("the output after the last rectangle is not valid UTF-8")
        })?;
        if let Some(token) = tail.split_whitespace().next() {
            return Err(extra(token));
        }
    }
    Ok(values
        .chunks_exact(4)
        .map(|v| Rect {
            a: v[0],
            b: v[1],
            c: v[2],
            d: v[3],
        })
        .collect())
}

fn extra(token: &str) -> Rejection {
    Rejection::malformed(format!(
        "the output has extra tokens after the expected ones, starting with `{}` (this task reads strictly)",
        crate::checker::trim_for_feedback(token, 40)
    ))
}

impl Problem for Ahc001 {
    fn objective(&self) -> Objective {
        Objective::Maximize
    }

    fn generate(&self, seed: u64) -> String {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let n = (50.0 * 4f64.powf(rand07::f64_unit(&mut rng))).round() as usize;
        let mut used = std::collections::BTreeSet::new();
        let mut points = Vec::with_capacity(n);
        while points.len() < n {
            let x = rand07::below(&mut rng, SIDE as u32);
            let y = rand07::below(&mut rng, SIDE as u32);
            if used.insert((x, y)) {
                points.push((x, y));
            }
        }
        let total = (SIDE * SIDE) as u32;
        let mut cuts: Vec<u32> = rand07::sample_indices(&mut rng, total - 1, n as u32 - 1)
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
        self.score_stdout(input, output.as_bytes())
    }

    fn score_stdout(&self, input: &str, stdout: &[u8]) -> Result<i64, Rejection> {
        let companies = parse_input(input)?;
        let n = companies.len();
        let rects = read_rects(stdout, n, self.reading)?;
        let mut sum = 0.0;
        for (i, (company, rect)) in companies.iter().zip(&rects).enumerate() {
            let Rect { a, b, c, d } = *rect;
            if a < 0 || c > SIDE || b < 0 || d > SIDE {
                return Err(Rejection::illegal(format!(
                    "rectangle {i} = ({a}, {b}, {c}, {d}) is out of range: 0 <= a, b and c, d <= {SIDE}"
                )));
            }
            if a >= c || b >= d {
                return Err(Rejection::illegal(format!(
                    "rectangle {i} = ({a}, {b}, {c}, {d}) does not have positive area: a < c and b < d"
                )));
            }
            let contains = rect.contains(company);
            // vis checks overlaps only for a rectangle that contains its point.
            let checked = contains || self.reading == OutputReading::Strict;
            if checked && let Some(j) = rects[..i].iter().position(|other| rect.overlaps(other)) {
                let p = rects[j];
                return Err(Rejection::illegal(format!(
                    "rectangles {j} ({} {} {} {}) and {i} ({a} {b} {c} {d}) overlap",
                    p.a, p.b, p.c, p.d
                )));
            }
            if contains {
                let s = rect.area();
                let ratio = s.min(company.r) as f64 / s.max(company.r) as f64;
                sum += 1.0 - (1.0 - ratio) * (1.0 - ratio);
            }
        }
        Ok((1e9 * sum / n.max(1) as f64).round() as i64)
    }
}

/// The sampling algorithms of the rand 0.7.3 crate that the contest's generator calls,
/// rewritten so that the same ChaCha20 stream gives the same input (rand 0.9 samples
/// ranges and index sets differently).
mod rand07 {
    use std::collections::HashSet;

    use rand::RngCore;

    /// `rng.gen::<f64>()`: the top 53 bits of a `u64`, scaled to [0, 1).
    pub(super) fn f64_unit(rng: &mut impl RngCore) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `rng.gen_range(0, range)` for a 32-bit integer (`UniformInt::sample_single`): the
    /// high half of a `u32` draw times `range`, redrawn while the low half is above the
    /// zone `(range << leading_zeros(range)) − 1`.
    pub(super) fn below(rng: &mut impl RngCore, range: u32) -> u32 {
        let zone = (range << range.leading_zeros()).wrapping_sub(1);
        widening_draw(rng, range, zone)
    }

    /// A draw from `Uniform::new(0, range)` for `u32` (`UniformInt::sample`): as `below`,
    /// with the exact zone `u32::MAX − (2^32 mod range)`.
    fn uniform(rng: &mut impl RngCore, range: u32) -> u32 {
        let rejected = (u32::MAX - range + 1) % range;
        widening_draw(rng, range, u32::MAX - rejected)
    }

    fn widening_draw(rng: &mut impl RngCore, range: u32, zone: u32) -> u32 {
        loop {
            let product = u64::from(rng.next_u32()) * u64::from(range);
            if product as u32 <= zone {
                return (product >> 32) as u32;
            }
        }
    }

    /// The set `rand::seq::index::sample(rng, length, amount)` returns, for a `length` so
    /// large against `amount` that the crate never picks its in-place algorithm (as here:
    /// 10^8 − 1 and at most 199): Floyd's algorithm below 163, rejection sampling from
    /// 163. The order is not the crate's (the caller sorts), and the shuffle Floyd's
    /// algorithm ends with from 50 on is left out (it draws after the set is fixed, and the
    /// generator draws nothing after it).
    pub(super) fn sample_indices(rng: &mut impl RngCore, length: u32, amount: u32) -> Vec<u32> {
        debug_assert!(length >= 500_000 && u64::from(amount) * 37 < u64::from(length));
        let mut indices = Vec::with_capacity(amount as usize);
        if amount < 163 {
            for j in length - amount..length {
                let t = below(rng, j + 1);
                indices.push(if indices.contains(&t) { j } else { t });
            }
        } else {
            let mut seen = HashSet::with_capacity(amount as usize);
            for _ in 0..amount {
                let mut pos = uniform(rng, length);
                while !seen.insert(pos) {
                    pos = uniform(rng, length);
                }
                indices.push(pos);
            }
        }
        indices
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIS: Ahc001 = Ahc001 {
        reading: OutputReading::Vis,
    };
    const STRICT: Ahc001 = Ahc001 {
        reading: OutputReading::Strict,
    };

    #[test]
    fn generator_follows_the_contest_distribution() {
        for seed in 0..30 {
            let input = VIS.generate(seed);
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
            assert_eq!(input, VIS.generate(seed), "deterministic");
        }
        assert_ne!(VIS.generate(1), VIS.generate(2));
    }

    #[test]
    fn scores_the_rule_exactly() {
        let input = "2\n0 0 4\n5 5 100\n";
        for problem in [VIS, STRICT] {
            // Company 0: area 4 exactly -> 1. Company 1: area 25 of 100 -> 1 - 0.75^2.
            let score = problem.score(input, "0 0 2 2\n5 5 10 10\n").expect("valid");
            assert_eq!(score, (1e9 * (1.0 + 0.4375) / 2.0_f64).round() as i64);
            // A rectangle that misses its point earns nothing.
            let score = problem.score(input, "1 1 3 3\n5 5 10 10\n").expect("valid");
            assert_eq!(score, (1e9 * 0.4375 / 2.0_f64).round() as i64);
            let overlap = problem.score(input, "0 0 6 6\n5 5 10 10\n").unwrap_err();
            assert!(
                !overlap.malformed && overlap.message.contains("overlap"),
                "{overlap:?}"
            );
            // Touching edges do not overlap.
            assert!(problem.score(input, "0 0 5 5\n5 5 10 10\n").is_ok());
            let outside = problem.score(input, "0 0 2 2\n5 5 10001 10\n").unwrap_err();
            assert!(
                !outside.malformed && outside.message.contains("rectangle 1"),
                "{outside:?}"
            );
            let flat = problem.score(input, "0 0 2 2\n5 5 5 10\n").unwrap_err();
            assert!(flat.message.contains("positive area"), "{flat:?}");
            let short = problem.score(input, "0 0 2 2\n").unwrap_err();
            assert!(short.malformed, "{short:?}");
            let word = problem.score(input, "0 0 2 x\n5 5 10 10\n").unwrap_err();
            assert!(word.malformed && word.message.contains("`x`"), "{word:?}");
            // Rust's integer syntax: a sign and leading zeros are read.
            assert!(problem.score(input, "+0 -0 02 2\n5 5 10 10\n").is_ok());
        }
    }

    #[test]
    fn the_vis_reading_ignores_what_vis_never_reads_and_the_strict_one_rejects_it() {
        let input = "2\n0 0 4\n5 5 100\n";
        let full = (1e9 * (1.0 + 0.4375) / 2.0_f64).round() as i64;
        let trailing: [&[u8]; 3] = [
            b"0 0 2 2\n5 5 10 10\n7\n",
            b"0 0 2 2\n5 5 10 10 junk\n",
            b"0 0 2 2\n5 5 10 10\n\xff\n",
        ];
        for output in trailing {
            assert_eq!(VIS.score_stdout(input, output), Ok(full));
            let extra = STRICT.score_stdout(input, output).unwrap_err();
            assert!(extra.malformed, "{extra:?}");
        }
        // An invalid byte on a line vis must read fails both readings.
        let bad = VIS
            .score_stdout(input, b"0 0 2 2\n5 5 10 10 \xff\n")
            .unwrap_err();
        assert!(bad.malformed && bad.message.contains("line 2"), "{bad:?}");
        // Separators are Unicode whitespace, as `str::split_whitespace`.
        for output in [
            "0\t0 2 2\r\n5 5 10 10",
            "0 0 2 2 5 5 10 10",
            "0\u{b}0\u{a0}2 2\n5 5 10 10",
        ] {
            assert_eq!(VIS.score(input, output), Ok(full), "{output:?}");
            assert_eq!(STRICT.score(input, output), Ok(full), "{output:?}");
        }
        // Rectangle 1 misses its point and overlaps rectangle 0: vis never checks the pair.
        let missing = "0 0 6 6\n1 1 5 5\n";
        let score = VIS
            .score(input, missing)
            .expect("vis does not check this pair");
        assert_eq!(
            score,
            (1e9 * (1.0 - (1.0 - 4.0 / 36.0_f64).powi(2)) / 2.0).round() as i64
        );
        let overlap = STRICT.score(input, missing).unwrap_err();
        assert!(overlap.message.contains("overlap"), "{overlap:?}");
        // The later rectangle contains its point: vis checks it against the earlier ones,
        // whether or not they contain theirs.
        let checked = VIS.score(input, "1 1 7 7\n5 5 10 10\n").unwrap_err();
        assert!(checked.message.contains("overlap"), "{checked:?}");
    }
}
