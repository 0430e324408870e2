//! Host kernels imported from wasm module `hone` (native speed, charged fuel), with safe
//! wrappers. Paste this file as `mod hone { ... }` into a candidate (candidates are one file).
//! Solvers return `Err(Singular)` for a singular / not positive definite matrix; a slice
//! that is too short panics in the wrapper (checked before the call).

#![allow(dead_code)]

mod raw {
    #[link(wasm_import_module = "hone")]
    extern "C" {
        pub fn dot(x: *const f64, y: *const f64, n: i32) -> f64;
        pub fn axpy(alpha: f64, x: *const f64, y: *mut f64, n: i32);
        pub fn fft_c2c(data: *mut f64, n: i32, inverse: i32) -> i32;
        pub fn rfft(input: *const f64, n: i32, output: *mut f64) -> i32;
        pub fn irfft(input: *const f64, n: i32, output: *mut f64) -> i32;
        pub fn tridiag_solve(lower: *const f64, diag: *const f64, upper: *const f64, rhs: *mut f64, n: i32) -> i32;
        pub fn cyclic_tridiag_solve(lower: *const f64, diag: *const f64, upper: *const f64, rhs: *mut f64, n: i32) -> i32;
        pub fn banded_solve(band: *const f64, n: i32, kl: i32, ku: i32, rhs: *mut f64, nrhs: i32) -> i32;
        pub fn dense_lu_solve(a: *const f64, n: i32, rhs: *mut f64, nrhs: i32) -> i32;
        pub fn sparse_cholesky_solve(n: i32, row_ptr: *const i32, col_idx: *const i32, values: *const f64, rhs: *mut f64, nrhs: i32) -> i32;
        pub fn sparse_lu_solve(n: i32, row_ptr: *const i32, col_idx: *const i32, values: *const f64, rhs: *mut f64, nrhs: i32) -> i32;
    }
}

/// The matrix was singular (or, for Cholesky, not positive definite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Singular;

fn status(code: i32) -> Result<(), Singular> {
    if code == 0 { Ok(()) } else { Err(Singular) }
}

/// Sum of x[i]*y[i]. Fuel 10 + 2n.
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    unsafe { raw::dot(x.as_ptr(), y.as_ptr(), n as i32) }
}

/// y += alpha * x. Fuel 10 + 2n.
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    let n = x.len().min(y.len());
    unsafe { raw::axpy(alpha, x.as_ptr(), y.as_mut_ptr(), n as i32) }
}

/// In-place complex FFT of `data.len() / 2` interleaved (re, im) values; the inverse is
/// divided by n. Fuel 10 + 5 n ceil(log2 n).
pub fn fft_c2c(data: &mut [f64], inverse: bool) {
    unsafe { raw::fft_c2c(data.as_mut_ptr(), (data.len() / 2) as i32, inverse as i32) };
}

/// Real FFT: `input.len() = n` reals -> `output` of n/2+1 interleaved complex values
/// (length 2*(n/2+1)). Fuel 10 + 3 n ceil(log2 n).
pub fn rfft(input: &[f64], output: &mut [f64]) {
    let n = input.len();
    assert!(output.len() >= 2 * (n / 2 + 1), "rfft: output needs 2*(n/2+1) values");
    unsafe { raw::rfft(input.as_ptr(), n as i32, output.as_mut_ptr()) };
}

/// Inverse real FFT: n/2+1 interleaved complex values -> `output.len() = n` reals, divided by n.
pub fn irfft(input: &[f64], output: &mut [f64]) {
    let n = output.len();
    assert!(input.len() >= 2 * (n / 2 + 1), "irfft: input needs 2*(n/2+1) values");
    unsafe { raw::irfft(input.as_ptr(), n as i32, output.as_mut_ptr()) };
}

/// Tridiagonal solve: row i is lower[i] x[i-1] + diag[i] x[i] + upper[i] x[i+1] = rhs[i];
/// `rhs` becomes x. Fuel 10 + 8n.
pub fn tridiag_solve(lower: &[f64], diag: &[f64], upper: &[f64], rhs: &mut [f64]) -> Result<(), Singular> {
    let n = rhs.len();
    assert!(lower.len() >= n && diag.len() >= n && upper.len() >= n, "tridiag_solve: short band");
    status(unsafe { raw::tridiag_solve(lower.as_ptr(), diag.as_ptr(), upper.as_ptr(), rhs.as_mut_ptr(), n as i32) })
}

/// Periodic tridiagonal solve (n >= 3): lower[0] multiplies x[n-1], upper[n-1] multiplies x[0].
/// Fuel 10 + 16n.
pub fn cyclic_tridiag_solve(lower: &[f64], diag: &[f64], upper: &[f64], rhs: &mut [f64]) -> Result<(), Singular> {
    let n = rhs.len();
    assert!(lower.len() >= n && diag.len() >= n && upper.len() >= n, "cyclic_tridiag_solve: short band");
    status(unsafe { raw::cyclic_tridiag_solve(lower.as_ptr(), diag.as_ptr(), upper.as_ptr(), rhs.as_mut_ptr(), n as i32) })
}

/// Banded solve with partial pivoting; `band` is row-major [n][kl+ku+1] with
/// band[i*(kl+ku+1) + j-i+kl] = A[i][j]; `rhs` holds nrhs vectors of length n, becomes x.
pub fn banded_solve(band: &[f64], n: usize, kl: usize, ku: usize, rhs: &mut [f64]) -> Result<(), Singular> {
    assert!(band.len() >= n * (kl + ku + 1), "banded_solve: short band");
    let nrhs = if n == 0 { 0 } else { rhs.len() / n };
    status(unsafe { raw::banded_solve(band.as_ptr(), n as i32, kl as i32, ku as i32, rhs.as_mut_ptr(), nrhs as i32) })
}

/// Dense LU solve; `a` is row-major n×n; `rhs` holds nrhs vectors of length n, becomes x.
pub fn dense_lu_solve(a: &[f64], n: usize, rhs: &mut [f64]) -> Result<(), Singular> {
    assert!(a.len() >= n * n, "dense_lu_solve: a needs n*n values");
    let nrhs = if n == 0 { 0 } else { rhs.len() / n };
    status(unsafe { raw::dense_lu_solve(a.as_ptr(), n as i32, rhs.as_mut_ptr(), nrhs as i32) })
}

/// A CSR matrix: `row_ptr` has n+1 entries, `col_idx` and `values` nnz.
pub struct Csr<'a> {
    pub n: usize,
    pub row_ptr: &'a [i32],
    pub col_idx: &'a [i32],
    pub values: &'a [f64],
}

/// Sparse Cholesky solve of a symmetric positive definite CSR matrix (entries with
/// col <= row are read); `rhs` holds nrhs vectors of length n, becomes x.
pub fn sparse_cholesky_solve(a: &Csr<'_>, rhs: &mut [f64]) -> Result<(), Singular> {
    assert!(a.row_ptr.len() > a.n, "sparse_cholesky_solve: row_ptr needs n+1 entries");
    let nrhs = if a.n == 0 { 0 } else { rhs.len() / a.n };
    status(unsafe {
        raw::sparse_cholesky_solve(a.n as i32, a.row_ptr.as_ptr(), a.col_idx.as_ptr(), a.values.as_ptr(), rhs.as_mut_ptr(), nrhs as i32)
    })
}

/// Sparse LU solve (partial pivoting) of a general CSR matrix; `rhs` becomes x.
pub fn sparse_lu_solve(a: &Csr<'_>, rhs: &mut [f64]) -> Result<(), Singular> {
    assert!(a.row_ptr.len() > a.n, "sparse_lu_solve: row_ptr needs n+1 entries");
    let nrhs = if a.n == 0 { 0 } else { rhs.len() / a.n };
    status(unsafe {
        raw::sparse_lu_solve(a.n as i32, a.row_ptr.as_ptr(), a.col_idx.as_ptr(), a.values.as_ptr(), rhs.as_mut_ptr(), nrhs as i32)
    })
}
