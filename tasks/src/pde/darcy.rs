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

/// The task reference for `−∇·(a∇u) = 1`: solved on `n·r` cells (each task cell split into
/// `r × r` with its coefficient), then restricted to the task's cell centres by averaging
/// the fine cells around each centre (`r` even: the four cells touching it; `r` odd: the
/// middle cell). Returns `n × n` values, row-major.
pub fn darcy_reference(
    n: usize,
    refine: usize,
    coefficient: &[f64],
) -> Result<Vec<f64>, DarcyError> {
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
    Ok(out)
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
        let u = darcy_reference(16, 2, &a).unwrap();
        assert!(u.iter().all(|&v| v > 0.0));
        for i in 0..16 {
            for j in 0..16 {
                assert!((u[i * 16 + j] - u[j * 16 + i]).abs() < 1e-12);
                assert!((u[i * 16 + j] - u[(15 - i) * 16 + j]).abs() < 1e-12);
            }
        }
    }
}
