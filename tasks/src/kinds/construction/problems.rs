//! The construction problems and their exact verifiers.
//!
//! Every verifier works on the printed numbers over a common power-of-ten denominator
//! ([`Scaled`]): each constraint is a polynomial inequality with integer coefficients,
//! decided exactly on big integers. Square roots never appear in a decision: a distance
//! is compared through its square (`d >= r1 + r2` with both sides non-negative is
//! `d² >= (r1 + r2)²`), and the triangle's slanted sides `y <= √3·x` through
//! `x >= 0 and y² <= 3x²` (given `y >= 0`). The objective is computed from the printed
//! numbers alone: exactly as a decimal where it is one (a sum of radii, a smallest
//! triangle's area), else as an exact ratio of integers converted to a float for the
//! report; the one irrational step, dividing an area by the triangle's area `√3/4`, is
//! done in floating point on the exact minimum (relative error below 1e-15) and decides
//! nothing.

use std::fmt::Write as _;

use num_bigint::BigInt;
use num_traits::{Signed, Zero};
use serde::Deserialize;

use super::exact::{Scaled, decimal_text, ratio_to_f64};

/// Whether a larger or a smaller objective is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Maximize,
    Minimize,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Maximize => "maximize",
            Direction::Minimize => "minimize",
        }
    }
}

/// A problem family of task.toml's `construction.problem`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// n disjoint circles in the unit square; maximize the sum of radii.
    CirclesInSquare,
    /// n disjoint circles in a rectangle of perimeter 4; maximize the sum of radii.
    CirclesInRectangle,
    /// n points in the unit-area equilateral triangle; maximize the smallest triangle.
    HeilbronnTriangle,
    /// n distinct points in d dimensions; minimize (max distance / min distance)².
    DistanceRatio,
}

impl Family {
    pub const NAMES: [&'static str; 4] = [
        "circles_in_square",
        "circles_in_rectangle",
        "heilbronn_triangle",
        "distance_ratio",
    ];
}

/// One problem: a family and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Problem {
    pub family: Family,
    /// Number of circles or points.
    pub n: usize,
    /// Coordinates per point (distance_ratio; 2 for the planar families).
    pub dimension: usize,
}

/// A construction that is not accepted: malformed output, or a violated constraint.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// The output could not be read (else: it was read and a constraint fails).
    pub malformed: bool,
    pub message: String,
}

impl Rejection {
    fn violated(message: String) -> Rejection {
        Rejection {
            malformed: false,
            message,
        }
    }
}

/// A verified construction's objective.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The objective (sum of radii, normalized smallest area, squared distance ratio).
    pub objective: f64,
    /// The objective's exact value, where it is a decimal or a fraction of the printed
    /// numbers, as text.
    pub exact: Option<String>,
    /// What attains the objective (the smallest triangle, the extreme pairs), for feedback.
    pub detail: String,
}

impl Problem {
    pub fn direction(&self) -> Direction {
        match self.family {
            Family::DistanceRatio => Direction::Minimize,
            _ => Direction::Maximize,
        }
    }

    /// Numbers per item: `x y r` for circles, the coordinates for points.
    pub fn per_item(&self) -> usize {
        match self.family {
            Family::CirclesInSquare | Family::CirclesInRectangle => 3,
            Family::HeilbronnTriangle => 2,
            Family::DistanceRatio => self.dimension,
        }
    }

    /// What one item is, for messages: `circle`, `point`.
    pub fn item(&self) -> &'static str {
        match self.family {
            Family::CirclesInSquare | Family::CirclesInRectangle => "circle",
            _ => "point",
        }
    }

    /// The line format of one item, for messages and prompts.
    pub fn line_format(&self) -> String {
        match self.family {
            Family::CirclesInSquare | Family::CirclesInRectangle => "x y r".into(),
            Family::HeilbronnTriangle => "x y".into(),
            Family::DistanceRatio => ["x", "y", "z", "w"]
                .iter()
                .take(self.dimension)
                .map(|s| s.to_string())
                .chain((4..self.dimension).map(|i| format!("x{}", i + 1)))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// The objective's name, for feedback.
    pub fn objective_name(&self) -> &'static str {
        match self.family {
            Family::CirclesInSquare | Family::CirclesInRectangle => "sum of radii",
            Family::HeilbronnTriangle => "smallest triangle area / the big triangle's area",
            Family::DistanceRatio => "squared ratio of the largest to the smallest distance",
        }
    }

    /// Checks every constraint exactly and computes the objective. The first violated
    /// constraint (items in order, then pairs in order) is named, with how many others fail.
    pub fn verify(&self, numbers: &Scaled) -> Result<Verified, Rejection> {
        match self.family {
            Family::CirclesInSquare => circles(numbers, Container::UnitSquare),
            Family::CirclesInRectangle => circles(numbers, Container::Perimeter4),
            Family::HeilbronnTriangle => heilbronn(numbers),
            Family::DistanceRatio => distance_ratio(numbers, self.dimension),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Container {
    UnitSquare,
    Perimeter4,
}

/// Collects violations: the first is named, the rest counted.
#[derive(Default)]
struct Violations {
    first: Option<String>,
    more: usize,
}

impl Violations {
    fn add(&mut self, message: impl FnOnce() -> String) {
        if self.first.is_none() {
            self.first = Some(message());
        } else {
            self.more += 1;
        }
    }

    fn result(self) -> Result<(), Rejection> {
        match self.first {
            None => Ok(()),
            Some(first) => {
                let mut message = first;
                if self.more > 0 {
                    let _ = write!(message, " (and {} more violated constraints)", self.more);
                }
                Err(Rejection::violated(message))
            }
        }
    }
}

/// A scaled quantity of degree `power` as a short float, for messages.
fn approx(s: &Scaled, value: &BigInt, power: u32) -> String {
    let denominator = num_traits::pow(s.one.clone(), power as usize);
    format!("{:e}", ratio_to_f64(value, &denominator))
}

fn circles(s: &Scaled, container: Container) -> Result<Verified, Rejection> {
    let v = &s.values;
    let n = v.len() / 3;
    let (x, y, r) = (
        |i: usize| &v[3 * i],
        |i: usize| &v[3 * i + 1],
        |i: usize| &v[3 * i + 2],
    );
    let mut violations = Violations::default();
    for i in 0..n {
        let k = i + 1;
        if r(i).is_negative() {
            violations
                .add(|| format!("circle {k}: radius {} is negative", s.decimal_text(r(i), 1)));
        }
        if container == Container::UnitSquare {
            let sides: [(&str, BigInt); 4] = [
                ("left side x = 0 (x - r < 0", x(i) - r(i)),
                ("bottom side y = 0 (y - r < 0", y(i) - r(i)),
                ("right side x = 1 (1 - x - r < 0", &s.one - x(i) - r(i)),
                ("top side y = 1 (1 - y - r < 0", &s.one - y(i) - r(i)),
            ];
            for (side, slack) in sides {
                if slack.is_negative() {
                    violations.add(|| {
                        format!(
                            "circle {k} crosses the square's {side}: it is {})",
                            s.decimal_text(&slack, 1)
                        )
                    });
                }
            }
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let dx = x(i) - x(j);
            let dy = y(i) - y(j);
            let distance2 = &dx * &dx + &dy * &dy;
            let radii = r(i) + r(j);
            let reach2 = &radii * &radii;
            if distance2 < reach2 {
                violations.add(|| {
                    format!(
                        "circles {} and {} overlap: the squared distance between their centres, {}, is less than (r{} + r{})² = {} by {}",
                        i + 1,
                        j + 1,
                        approx(s, &distance2, 2),
                        i + 1,
                        j + 1,
                        approx(s, &reach2, 2),
                        s.decimal_text(&(&reach2 - &distance2), 2)
                    )
                });
            }
        }
    }
    let mut detail = String::new();
    if container == Container::Perimeter4 && n > 0 {
        let min = |f: &dyn Fn(usize) -> BigInt| (0..n).map(f).min().unwrap_or_default();
        let max = |f: &dyn Fn(usize) -> BigInt| (0..n).map(f).max().unwrap_or_default();
        let width = max(&|i| x(i) + r(i)) - min(&|i| x(i) - r(i));
        let height = max(&|i| y(i) + r(i)) - min(&|i| y(i) - r(i));
        let half_perimeter = &width + &height;
        let two = &s.one * 2;
        if half_perimeter > two {
            violations.add(|| {
                format!(
                    "the circles' bounding rectangle is {} x {}: its perimeter exceeds 4 by {}",
                    s.decimal_text(&width, 1),
                    s.decimal_text(&height, 1),
                    s.decimal_text(&((&half_perimeter - &two) * 2), 1)
                )
            });
        }
        detail = format!(
            "Bounding rectangle {} x {} (perimeter {}).",
            approx(s, &width, 1),
            approx(s, &height, 1),
            approx(s, &(half_perimeter * 2), 1)
        );
    }
    violations.result()?;
    let sum: BigInt = (0..n).map(|i| r(i).clone()).sum();
    Ok(Verified {
        objective: ratio_to_f64(&sum, &s.one),
        exact: Some(s.decimal_text(&sum, 1)),
        detail,
    })
}

fn heilbronn(s: &Scaled) -> Result<Verified, Rejection> {
    let v = &s.values;
    let n = v.len() / 2;
    let (x, y) = (|i: usize| &v[2 * i], |i: usize| &v[2 * i + 1]);
    let mut violations = Violations::default();
    for i in 0..n {
        let k = i + 1;
        let (xi, yi) = (x(i), y(i));
        let y2 = yi * yi;
        let right = &s.one - xi;
        let outside = if yi.is_negative() {
            Some("below the side y = 0")
        } else if xi.is_negative() || y2 > xi * xi * 3 {
            Some("left of the side y = √3·x")
        } else if right.is_negative() || y2 > &right * &right * 3 {
            Some("right of the side y = √3·(1 - x)")
        } else {
            None
        };
        if let Some(side) = outside {
            violations.add(|| {
                format!(
                    "point {k} ({}, {}) lies outside the triangle: {side}",
                    s.decimal_text(xi, 1),
                    s.decimal_text(yi, 1)
                )
            });
        }
    }
    violations.result()?;
    // Twice the smallest area, scaled by one²: |det| of the edge vectors.
    let mut smallest: Option<(BigInt, [usize; 3])> = None;
    for i in 0..n {
        for j in i + 1..n {
            for k in j + 1..n {
                let det = (x(j) - x(i)) * (y(k) - y(i)) - (x(k) - x(i)) * (y(j) - y(i));
                let det = det.abs();
                if smallest.as_ref().is_none_or(|(best, _)| det < *best) {
                    smallest = Some((det, [i + 1, j + 1, k + 1]));
                }
            }
        }
    }
    let Some((twice_area, [a, b, c])) = smallest else {
        return Err(Rejection::violated(
            "fewer than 3 points form no triangle".into(),
        ));
    };
    let one2 = &s.one * &s.one;
    // area / (√3/4) = 2·|det| / √3.
    let area = ratio_to_f64(&twice_area, &one2) / 2.0;
    let objective = area * 4.0 / 3f64.sqrt();
    // The area is |det| / 2 = 5·|det| / 10, over one².
    let exact_area = &twice_area * 5;
    let places = 2 * s.places + 1;
    Ok(Verified {
        objective,
        exact: Some(format!(
            "smallest area {}, over the big triangle's √3/4",
            decimal_text(&exact_area, places)
        )),
        detail: format!("The smallest triangle is points {a}, {b}, {c}."),
    })
}

fn distance_ratio(s: &Scaled, dimension: usize) -> Result<Verified, Rejection> {
    let v = &s.values;
    let n = v.len() / dimension;
    let point = |i: usize| &v[dimension * i..dimension * (i + 1)];
    let mut min: Option<(BigInt, usize, usize)> = None;
    let mut max: Option<(BigInt, usize, usize)> = None;
    let mut violations = Violations::default();
    for i in 0..n {
        for j in i + 1..n {
            let d2: BigInt = point(i)
                .iter()
                .zip(point(j))
                .map(|(a, b)| {
                    let d = a - b;
                    &d * &d
                })
                .sum();
            if d2.is_zero() {
                violations.add(|| format!("points {} and {} coincide", i + 1, j + 1));
            }
            if min.as_ref().is_none_or(|(m, _, _)| d2 < *m) {
                min = Some((d2.clone(), i + 1, j + 1));
            }
            if max.as_ref().is_none_or(|(m, _, _)| d2 > *m) {
                max = Some((d2, i + 1, j + 1));
            }
        }
    }
    violations.result()?;
    let (Some((min2, a, b)), Some((max2, c, d))) = (min, max) else {
        return Err(Rejection::violated(
            "fewer than 2 points have no distance".into(),
        ));
    };
    Ok(Verified {
        objective: ratio_to_f64(&max2, &min2),
        exact: Some(format!(
            "{} / {}",
            s.decimal_text(&max2, 2),
            s.decimal_text(&min2, 2)
        )),
        detail: format!(
            "The smallest distance is between points {a} and {b}, the largest between points {c} and {d}."
        ),
    })
}
