//! A self-avoiding walk on a grid of values with walls, maximize what it collects.
//!
//! Generator: a ChaCha20 generator seeded with the seed; N uniform in [20, 30]; the value
//! field is a sum of 4 to 10 Gaussian bumps (height uniform in [0.3, 1], width uniform in
//! [1.5, N/3] cells) scaled to [0, 1] and mapped to digits 1..9; each cell except the start
//! (0, 0) is a wall `#` with probability 0.12; the walk may make at most K = ⌊N²/3⌋ moves.
//! Input: `N K`, then N rows of N characters (`1`..`9` or `#`), row 0 first. Output: one
//! string of moves `U` (row − 1), `D` (row + 1), `L` (column − 1), `R` (column + 1), at
//! most K of them, starting at row 0, column 0 (whitespace is ignored). The walk must stay
//! on the grid, avoid walls and never enter a cell twice. Raw score: the sum of the values
//! of the cells visited, start included.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::{Objective, Problem, Rejection};

/// The grid-walk problem.
pub struct GridPath;

/// A parsed input: side, move cap, and the cells (`None` for a wall).
#[derive(Clone, Debug)]
pub struct Grid {
    pub n: usize,
    pub max_moves: usize,
    pub cells: Vec<Vec<Option<u8>>>,
}

/// Parses an input this problem generated.
pub fn parse_input(input: &str) -> Result<Grid, Rejection> {
    let mut lines = input.lines();
    let header = lines.next().unwrap_or("");
    let mut numbers = header.split_ascii_whitespace().map(|t| t.parse::<usize>());
    let (Some(Ok(n)), Some(Ok(max_moves))) = (numbers.next(), numbers.next()) else {
        return Err(Rejection::malformed(format!(
            "the input header `{header}` is not `N K`"
        )));
    };
    let mut cells = Vec::with_capacity(n);
    for row in 0..n {
        let line = lines.next().unwrap_or("").trim();
        let parsed: Option<Vec<Option<u8>>> = line
            .bytes()
            .map(|b| match b {
                b'#' => Some(None),
                b'1'..=b'9' => Some(Some(b - b'0')),
                _ => None,
            })
            .collect();
        match parsed {
            Some(row_cells) if row_cells.len() == n => cells.push(row_cells),
            _ => {
                return Err(Rejection::malformed(format!(
                    "input row {row} is not {n} cells"
                )));
            }
        }
    }
    Ok(Grid {
        n,
        max_moves,
        cells,
    })
}

impl Problem for GridPath {
    fn objective(&self) -> Objective {
        Objective::Maximize
    }

    fn generate(&self, seed: u64) -> String {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let n: usize = rng.random_range(20..=30);
        let bumps: Vec<(f64, f64, f64, f64)> = (0..rng.random_range(4..=10))
            .map(|_| {
                (
                    rng.random_range(0.0..n as f64),
                    rng.random_range(0.0..n as f64),
                    rng.random_range(0.3..1.0),
                    rng.random_range(1.5..n as f64 / 3.0),
                )
            })
            .collect();
        let field: Vec<f64> = (0..n * n)
            .map(|k| {
                let (r, c) = ((k / n) as f64, (k % n) as f64);
                bumps
                    .iter()
                    .map(|&(br, bc, h, w)| {
                        h * (-((r - br).powi(2) + (c - bc).powi(2)) / (2.0 * w * w)).exp()
                    })
                    .sum()
            })
            .collect();
        let max = field.iter().cloned().fold(f64::MIN_POSITIVE, f64::max);
        let mut out = format!("{n} {}\n", n * n / 3);
        for r in 0..n {
            for c in 0..n {
                let wall = (r, c) != (0, 0) && rng.random_bool(0.12);
                if wall {
                    out.push('#');
                } else {
                    let digit = 1 + (8.0 * field[r * n + c] / max).round().clamp(0.0, 8.0) as u8;
                    out.push((b'0' + digit) as char);
                }
            }
            out.push('\n');
        }
        out
    }

    fn score(&self, input: &str, output: &str) -> Result<i64, Rejection> {
        let grid = parse_input(input)?;
        let n = grid.n;
        let mut visited = vec![vec![false; n]; n];
        let (mut r, mut c) = (0usize, 0usize);
        visited[0][0] = true;
        let mut total = i64::from(grid.cells[0][0].unwrap_or(0));
        let mut moves = 0usize;
        for ch in output.chars().filter(|ch| !ch.is_whitespace()) {
            let (dr, dc): (isize, isize) = match ch {
                'U' => (-1, 0),
                'D' => (1, 0),
                'L' => (0, -1),
                'R' => (0, 1),
                other => {
                    let shown: String = other.escape_default().collect();
                    return Err(Rejection::malformed(format!(
                        "move {} is `{shown}`; moves are U, D, L, R",
                        moves + 1
                    )));
                }
            };
            moves += 1;
            if moves > grid.max_moves {
                return Err(Rejection::illegal(format!(
                    "more than K = {} moves",
                    grid.max_moves
                )));
            }
            let (nr, nc) = (r as isize + dr, c as isize + dc);
            if nr < 0 || nc < 0 || nr >= n as isize || nc >= n as isize {
                return Err(Rejection::illegal(format!(
                    "move {moves} ({ch}) leaves the grid from row {r}, column {c}"
                )));
            }
            (r, c) = (nr as usize, nc as usize);
            let Some(value) = grid.cells[r][c] else {
                return Err(Rejection::illegal(format!(
                    "move {moves} ({ch}) enters the wall at row {r}, column {c}"
                )));
            };
            if visited[r][c] {
                return Err(Rejection::illegal(format!(
                    "move {moves} ({ch}) enters row {r}, column {c} a second time"
                )));
            }
            visited[r][c] = true;
            total += i64::from(value);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_valid_inputs_deterministically() {
        for seed in 0..10 {
            let input = GridPath.generate(seed);
            let grid = parse_input(&input).expect("parses");
            assert!((20..=30).contains(&grid.n));
            assert_eq!(grid.max_moves, grid.n * grid.n / 3);
            assert!(grid.cells[0][0].is_some());
            assert_eq!(input, GridPath.generate(seed));
        }
    }

    #[test]
    fn scores_walks_and_rejects_bad_ones() {
        let input = "3 4\n12#\n345\n678\n";
        assert_eq!(GridPath.score(input, "").expect("valid"), 1);
        assert_eq!(
            GridPath.score(input, "DRR\n").expect("valid"),
            1 + 3 + 4 + 5
        );
        assert!(
            GridPath
                .score(input, "RR")
                .unwrap_err()
                .message
                .contains("wall")
        );
        assert!(
            GridPath
                .score(input, "U")
                .unwrap_err()
                .message
                .contains("leaves")
        );
        assert!(
            GridPath
                .score(input, "DU")
                .unwrap_err()
                .message
                .contains("second time")
        );
        assert!(
            GridPath
                .score(input, "DRRDL")
                .unwrap_err()
                .message
                .contains("more than K")
        );
        let bad = GridPath.score(input, "DX").unwrap_err();
        assert!(bad.malformed && bad.message.contains("`X`"), "{bad:?}");
    }
}
