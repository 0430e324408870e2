//! Darcy flow `−∇·(a∇u) = f` on the unit square with `u = 0` on the boundary: a cell-centred
//! five-point finite-volume discretization (harmonic means of `a` on interior faces, the
//! half-cell distance to boundary faces) solved by sparse Cholesky (faer, AMD ordering).
//!
//! The matrix is symmetric positive definite for any positive `a`. The scheme is second
//! order for smooth `a` and `u`; the task reference solves on a grid refined `r` times
//! (each task cell split into `r × r` cells of the same coefficient) and restricts back.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt::factor::LltRegularization;
use faer::sparse::linalg::cholesky::{LltRef, factorize_symbolic_cholesky};
use faer::sparse::{SparseColMat, Triplet};
use faer::{Conj, MatMut, Par, Side};

/// A Darcy system could not be built or solved.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DarcyError {
    #[error("the coefficient has {got} values, expected {expected} (n × n)")]
    Shape { expected: usize, got: usize },
    #[error("the coefficient must be positive and finite; cell {cell} holds {value}")]
    Coefficient { cell: usize, value: f64 },
    #[error("the sparse factorization failed: {0}")]
    Factorization(String),
}

/// A Darcy problem on `n × n` cells: coefficient and right-hand side at cell centres,
/// row-major with entry `i * n + j` at `x = (j + ½)/n`, `y = (i + ½)/n`.
pub struct DarcyProblem<'a> {
    pub n: usize,
    pub coefficient: &'a [f64],
    pub rhs: &'a [f64],
}

/// Solves the finite-volume system; returns `u` at cell centres (row-major).
pub fn solve_darcy(problem: &DarcyProblem<'_>) -> Result<Vec<f64>, DarcyError> {
    let n = problem.n;
    let cells = n * n;
    for len in [problem.coefficient.len(), problem.rhs.len()] {
        if len != cells {
            return Err(DarcyError::Shape {
                expected: cells,
                got: len,
            });
        }
    }
    if let Some((cell, &value)) = problem
        .coefficient
        .iter()
        .enumerate()
        .find(|(_, a)| !(a.is_finite() && **a > 0.0))
    {
        return Err(DarcyError::Coefficient { cell, value });
    }
    let matrix = darcy_matrix(n, problem.coefficient)?;
    let mut x = problem.rhs.to_vec();
    cholesky_solve_lower(&matrix, &mut x).map_err(DarcyError::Factorization)?;
    Ok(x)
}

/// The finite-volume matrix for `n × n` cells (lower triangle, column-major), scaled so
/// that row `p` reads `Σ_faces T_face (u_p − u_neighbour) = f_p`. The coefficient must be
/// positive (checked by [`solve_darcy`]).
pub fn darcy_matrix(n: usize, a: &[f64]) -> Result<SparseColMat<usize, f64>, DarcyError> {
    let cells = n * n;
    if a.len() != cells {
        return Err(DarcyError::Shape {
            expected: cells,
            got: a.len(),
        });
    }
    let h2 = 1.0 / (n as f64 * n as f64);
    let harmonic = |p: f64, q: f64| 2.0 * p * q / (p + q);
    let mut triplets = Vec::with_capacity(cells * 3);
    for i in 0..n {
        for j in 0..n {
            let p = i * n + j;
            let mut diagonal = 0.0;
            // West, east, south, north neighbours; boundary faces at half a cell.
            let neighbours = [
                (j > 0).then(|| p - 1),
                (j + 1 < n).then(|| p + 1),
                (i > 0).then(|| p - n),
                (i + 1 < n).then(|| p + n),
            ];
            for neighbour in neighbours {
                match neighbour {
                    Some(q) => {
                        let t = harmonic(a[p], a[q]) / h2;
                        diagonal += t;
                        if q < p {
                            // Lower triangle: row p, column q.
                            triplets.push(Triplet::new(p, q, -t));
                        }
                    }
                    None => diagonal += 2.0 * a[p] / h2,
                }
            }
            triplets.push(Triplet::new(p, p, diagonal));
        }
    }
    SparseColMat::<usize, f64>::try_new_from_triplets(cells, cells, &triplets)
        .map_err(|e| DarcyError::Factorization(format!("{e:?}")))
}

/// Solves `A x = b` in place for a symmetric positive definite `A` given by its lower
/// triangle, sequentially (deterministic).
pub fn cholesky_solve_lower(
    matrix: &SparseColMat<usize, f64>,
    rhs: &mut [f64],
) -> Result<(), String> {
    let n = matrix.nrows();
    let symbolic = factorize_symbolic_cholesky(
        matrix.symbolic(),
        Side::Lower,
        Default::default(),
        Default::default(),
    )
    .map_err(|e| format!("{e:?}"))?;
    let mut values = vec![0.0f64; symbolic.len_val()];
    let par = Par::Seq;
    let mut memory = MemBuffer::try_new(StackReq::any_of(&[
        symbolic.factorize_numeric_llt_scratch::<f64>(par, Default::default()),
        symbolic.solve_in_place_scratch::<f64>(1, par),
    ]))
    .map_err(|e| format!("{e:?}"))?;
    let stack = MemStack::new(&mut memory);
    symbolic
        .factorize_numeric_llt::<f64>(
            &mut values,
            matrix.as_ref(),
            Side::Lower,
            LltRegularization::default(),
            par,
            stack,
            Default::default(),
        )
        .map_err(|e| format!("the matrix is not positive definite ({e:?})"))?;
    let factor = LltRef::new(&symbolic, &values);
    factor.solve_in_place_with_conj(
        Conj::No,
        MatMut::from_column_major_slice_mut(rhs, n, 1),
        par,
        stack,
    );
    Ok(())
}

/// The nRMSE floor of Darcy tasks: at least 10× the error of [`darcy_reference`], as measured
/// against finer computations in the tests.
pub const DARCY_NRMSE_FLOOR: f64 = 1e-4;

/// The task reference for `−∇·(a∇u) = 1` at the cell centres of an `n × n` grid: the
/// finite-volume solutions refined 4, 8 and 16 times ([`darcy_refined`]) extrapolated to zero
/// cell size ([`darcy_extrapolated`]).
pub fn darcy_reference(n: usize, coefficient: &[f64]) -> Result<Vec<f64>, DarcyError> {
    darcy_extrapolated(n, 4, coefficient)
}

/// Richardson extrapolation with an observed order: from the solutions `u₁, u₂, u₄` refined
/// `r`, `2r` and `4r` times, the order `p = log2(‖u₂ − u₁‖ / ‖u₄ − u₂‖)` (about 1.5 for
/// two-valued coefficients, whose corners make the solution singular) and the limit
/// `u₄ + (u₄ − u₂) / (2^p − 1)`.
pub fn darcy_extrapolated(n: usize, r: usize, coefficient: &[f64]) -> Result<Vec<f64>, DarcyError> {
    let u1 = darcy_refined(n, r, coefficient)?;
    let u2 = darcy_refined(n, 2 * r, coefficient)?;
    let u4 = darcy_refined(n, 4 * r, coefficient)?;
    let distance = |a: &[f64], b: &[f64]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt()
    };
    let (d1, d2) = (distance(&u1, &u2), distance(&u2, &u4));
    if !(d1 > 0.0 && d2 > 0.0) {
        // Already exact on these grids (a constant coefficient along a whole axis, say).
        return Ok(u4);
    }
    // An order outside [1, 4] means the sequence is not yet asymptotic: extrapolate as first
    // order there (the smallest correction).
    let p = (d1 / d2).log2().clamp(1.0, 4.0);
    let factor = 1.0 / (2f64.powf(p) - 1.0);
    Ok(u4
        .iter()
        .zip(&u2)
        .map(|(fine, coarse)| fine + (fine - coarse) * factor)
        .collect())
}

/// The finite-volume solution of `−∇·(a∇u) = 1` on `n·r` cells (each task cell split into
/// `r × r` with its coefficient), restricted to the task's cell centres (`r` even: the mean
/// of the four fine cells touching each centre; `r` odd: the middle cell). Returns `n × n`
/// values, row-major.
pub fn darcy_refined(n: usize, refine: usize, coefficient: &[f64]) -> Result<Vec<f64>, DarcyError> {
    if coefficient.len() != n * n {
        return Err(DarcyError::Shape {
            expected: n * n,
            got: coefficient.len(),
        });
    }
    let r = refine.max(1);
    let m = n * r;
    let fine: Vec<f64> = (0..m * m)
        .map(|c| coefficient[(c / m / r) * n + (c % m) / r])
        .collect();
    let ones = vec![1.0; m * m];
    let u = solve_darcy(&DarcyProblem {
        n: m,
        coefficient: &fine,
        rhs: &ones,
    })?;
    Ok(restrict_to_centres(&u, m, r))
}

/// Values at the centres of the `m / r × m / r` coarse cells from values on `m × m` cells
/// (row-major; `r` divides `m`): the fine cell at the centre for odd `r`, the mean of the
/// four fine cells touching it for even `r`.
pub fn restrict_to_centres(u: &[f64], m: usize, r: usize) -> Vec<f64> {
    let n = m / r;
    let mut out = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let value = if r.is_multiple_of(2) {
                let (fi, fj) = (i * r + r / 2, j * r + r / 2);
                (u[(fi - 1) * m + fj - 1]
                    + u[(fi - 1) * m + fj]
                    + u[fi * m + fj - 1]
                    + u[fi * m + fj])
                    / 4.0
            } else {
                u[(i * r + r / 2) * m + j * r + r / 2]
            };
            out.push(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_shapes_and_coefficients() {
        let a = vec![1.0; 15];
        let f = vec![1.0; 16];
        assert!(matches!(
            solve_darcy(&DarcyProblem {
                n: 4,
                coefficient: &a,
                rhs: &f
            }),
            Err(DarcyError::Shape { .. })
        ));
        let mut a = vec![1.0; 16];
        a[5] = 0.0;
        assert_eq!(
            solve_darcy(&DarcyProblem {
                n: 4,
                coefficient: &a,
                rhs: &f
            }),
            Err(DarcyError::Coefficient {
                cell: 5,
                value: 0.0
            })
        );
    }

    #[test]
    fn solution_is_symmetric_and_positive() {
        let a = vec![2.0; 16 * 16];
        let u = darcy_refined(16, 2, &a).unwrap();
        assert!(u.iter().all(|&v| v > 0.0));
        for i in 0..16 {
            for j in 0..16 {
                assert!((u[i * 16 + j] - u[j * 16 + i]).abs() < 1e-12);
                assert!((u[i * 16 + j] - u[(15 - i) * 16 + j]).abs() < 1e-12);
            }
        }
    }
}
