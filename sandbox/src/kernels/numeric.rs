//! Numeric host kernels for solver candidates: FFTs, tridiagonal / banded / dense LU solves,
//! sparse Cholesky and LU on CSR input (faer), and `axpy`.
//!
//! Conventions (all imported from module `hone`; pointers are guest addresses, lengths are
//! element counts, everything f64 little-endian as wasm stores it):
//! - Status results: 0 = solved, 1 = singular / not positive definite (the guest decides).
//! - A pointer or length outside guest memory, a negative size or a malformed CSR matrix
//!   ends the run as a runtime error (a kernel fault); it never touches host memory.
//! - Fuel is charged before the work, so a guest cannot make the host work for free:
//!   | kernel | fuel |
//!   |---|---|
//!   | `fft_c2c(data, n, inverse)` | CALL_FUEL + 5·n·⌈log2 n⌉ |
//!   | `rfft(input, n, output)`, `irfft(input, n, output)` | CALL_FUEL + 3·n·⌈log2 n⌉ |
//!   | `tridiag_solve(lower, diag, upper, rhs, n)` | CALL_FUEL + 8·n |
//!   | `cyclic_tridiag_solve(lower, diag, upper, rhs, n)` | CALL_FUEL + 16·n |
//!   | `banded_solve(band, n, kl, ku, rhs, nrhs)` | CALL_FUEL + 2·n·(kl+1)·(kl+ku+1) + 2·n·(2kl+ku+1)·nrhs |
//!   | `dense_lu_solve(a, n, rhs, nrhs)` | CALL_FUEL + ⌈2n³/3⌉ + 2·n²·nrhs |
//!   | `sparse_cholesky_solve(n, row_ptr, col_idx, values, rhs, nrhs)` | CALL_FUEL + 4·nnz(A) + 10·nnz(L) + 4·nnz(L)·nrhs |
//!   | `sparse_lu_solve(n, row_ptr, col_idx, values, rhs, nrhs)` | CALL_FUEL + 4·nnz(A) + Σ_rows nnz(row)² + 20·B + 8·B·nrhs, B = nnz of the Cholesky factor of AᵀA (George–Ng bound on L and U) |
//!   | `axpy(alpha, x, y, n)` | CALL_FUEL + 2·n |
//! - Factors larger than 2^25 entries are refused (runtime error), so a hostile
//!   matrix cannot exhaust host memory.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt::factor::LltRegularization;
use faer::sparse::linalg::cholesky::{LltRef, factorize_symbolic_cholesky};
use faer::sparse::linalg::lu::{NumericLu, factorize_symbolic_lu};
use faer::sparse::{SparseColMat, SymbolicSparseColMat, Triplet};
use faer::{Conj, MatMut, Par, Side};
use realfft::num_complex::Complex64;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use wasmtime::{Caller, Linker};

use super::{CALL_FUEL, MODULE, charge, checked_range, fault, guest_memory, read_f64s, write_f64s};
use crate::run::RunState;

/// The C declarations of every kernel (`sandbox/guest/hone.h`), for prompts.
pub const C_HEADER: &str = include_str!("../../guest/hone.h");
/// The Rust module with the imports and safe wrappers (`sandbox/guest/hone.rs`), for prompts.
pub const RUST_MODULE: &str = include_str!("../../guest/hone.rs");

/// Largest factor (entries of L, or the bound on L and U) a sparse kernel builds: 2^25
/// entries, 256 MiB of values.
pub(crate) const FACTOR_LIMIT: usize = 1 << 25;

/// Plans kept per thread before the cache is cleared (sizes are guest-chosen).
const PLAN_CACHE: usize = 64;

struct Plans {
    complex: FftPlanner<f64>,
    real: RealFftPlanner<f64>,
    forward: HashMap<(usize, bool), Arc<dyn Fft<f64>>>,
    real_forward: HashMap<usize, Arc<dyn RealToComplex<f64>>>,
    real_inverse: HashMap<usize, Arc<dyn ComplexToReal<f64>>>,
}

thread_local! {
    static PLANS: RefCell<Option<Plans>> = const { RefCell::new(None) };
}

fn with_plans<T>(f: impl FnOnce(&mut Plans) -> T) -> T {
    PLANS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let plans = slot.get_or_insert_with(|| Plans {
            complex: FftPlanner::new(),
            real: RealFftPlanner::new(),
            forward: HashMap::new(),
            real_forward: HashMap::new(),
            real_inverse: HashMap::new(),
        });
        if plans.forward.len() + plans.real_forward.len() + plans.real_inverse.len() > PLAN_CACHE {
            *plans = Plans {
                complex: FftPlanner::new(),
                real: RealFftPlanner::new(),
                forward: HashMap::new(),
                real_forward: HashMap::new(),
                real_inverse: HashMap::new(),
            };
        }
        f(plans)
    })
}

fn log2_ceil(n: u64) -> u64 {
    if n <= 1 {
        1
    } else {
        u64::from(64 - (n - 1).leading_zeros())
    }
}

fn count(n: i32) -> u64 {
    n.max(0) as u64
}

fn non_negative(kernel: &'static str, what: &str, v: i32) -> wasmtime::Result<usize> {
    if v < 0 {
        Err(fault(
            kernel,
            format!("{what} must not be negative, got {v}"),
        ))
    } else {
        Ok(v as usize)
    }
}

fn read_i32s(
    memory: &[u8],
    kernel: &'static str,
    what: &str,
    ptr: i32,
    n: i32,
) -> wasmtime::Result<Vec<i32>> {
    let r = checked_range(memory.len(), kernel, what, ptr, n, 4)?;
    Ok(memory[r]
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn to_i32(kernel: &'static str, what: &str, v: usize) -> wasmtime::Result<i32> {
    i32::try_from(v).map_err(|_| fault(kernel, format!("{what}: {v} elements is too many")))
}

/// `fft_c2c`: in-place complex FFT of `n` interleaved (re, im) pairs; the inverse is scaled
/// by 1/n (numpy's convention).
fn fft_c2c(
    mut caller: Caller<'_, RunState>,
    data: i32,
    n: i32,
    inverse: i32,
) -> wasmtime::Result<i32> {
    const K: &str = "fft_c2c";
    let len = non_negative(K, "n", n)?;
    charge(&mut caller, CALL_FUEL + 5 * count(n) * log2_ceil(count(n)))?;
    if len == 0 {
        return Ok(0);
    }
    let memory = guest_memory(&mut caller, K)?;
    let values = read_f64s(memory, K, "data", data, to_i32(K, "data", 2 * len)?)?;
    let mut buffer: Vec<Complex64> = values
        .chunks_exact(2)
        .map(|c| Complex64::new(c[0], c[1]))
        .collect();
    let inverse = inverse != 0;
    let plan = with_plans(|p| {
        let planner = &mut p.complex;
        p.forward
            .entry((len, inverse))
            .or_insert_with(|| {
                if inverse {
                    planner.plan_fft_inverse(len)
                } else {
                    planner.plan_fft_forward(len)
                }
            })
            .clone()
    });
    plan.process(&mut buffer);
    let scale = if inverse { 1.0 / len as f64 } else { 1.0 };
    let out: Vec<f64> = buffer
        .iter()
        .flat_map(|c| [c.re * scale, c.im * scale])
        .collect();
    write_f64s(memory, K, "data", data, &out)?;
    Ok(0)
}

/// `rfft`: `n` reals at `input` -> `n/2 + 1` interleaved complex values at `output`.
fn rfft(
    mut caller: Caller<'_, RunState>,
    input: i32,
    n: i32,
    output: i32,
) -> wasmtime::Result<i32> {
    const K: &str = "rfft";
    let len = non_negative(K, "n", n)?;
    charge(&mut caller, CALL_FUEL + 3 * count(n) * log2_ceil(count(n)))?;
    if len == 0 {
        return Ok(0);
    }
    let memory = guest_memory(&mut caller, K)?;
    let mut values = read_f64s(memory, K, "input", input, n)?;
    checked_range(
        memory.len(),
        K,
        "output",
        output,
        to_i32(K, "output", 2 * (len / 2 + 1))?,
        8,
    )?;
    let plan = with_plans(|p| {
        let planner = &mut p.real;
        p.real_forward
            .entry(len)
            .or_insert_with(|| planner.plan_fft_forward(len))
            .clone()
    });
    let mut spectrum = plan.make_output_vec();
    plan.process(&mut values, &mut spectrum)
        .map_err(|e| fault(K, e.to_string()))?;
    let out: Vec<f64> = spectrum.iter().flat_map(|c| [c.re, c.im]).collect();
    write_f64s(memory, K, "output", output, &out)?;
    Ok(0)
}

/// `irfft`: `n/2 + 1` interleaved complex values at `input` -> `n` reals at `output`, scaled
/// by 1/n; the imaginary parts of the zero (and, n even, Nyquist) modes are ignored.
fn irfft(
    mut caller: Caller<'_, RunState>,
    input: i32,
    n: i32,
    output: i32,
) -> wasmtime::Result<i32> {
    const K: &str = "irfft";
    let len = non_negative(K, "n", n)?;
    charge(&mut caller, CALL_FUEL + 3 * count(n) * log2_ceil(count(n)))?;
    if len == 0 {
        return Ok(0);
    }
    let memory = guest_memory(&mut caller, K)?;
    let half = len / 2 + 1;
    let values = read_f64s(memory, K, "input", input, to_i32(K, "input", 2 * half)?)?;
    checked_range(memory.len(), K, "output", output, n, 8)?;
    let mut spectrum: Vec<Complex64> = values
        .chunks_exact(2)
        .map(|c| Complex64::new(c[0], c[1]))
        .collect();
    spectrum[0].im = 0.0;
    if len % 2 == 0 {
        spectrum[half - 1].im = 0.0;
    }
    let plan = with_plans(|p| {
        let planner = &mut p.real;
        p.real_inverse
            .entry(len)
            .or_insert_with(|| planner.plan_fft_inverse(len))
            .clone()
    });
    let mut out = plan.make_output_vec();
    plan.process(&mut spectrum, &mut out)
        .map_err(|e| fault(K, e.to_string()))?;
    let scale = 1.0 / len as f64;
    out.iter_mut().for_each(|v| *v *= scale);
    write_f64s(memory, K, "output", output, &out)?;
    Ok(0)
}

/// The Thomas algorithm: `lower[i]` multiplies `x[i-1]` (`lower[0]` unused), `upper[i]`
/// multiplies `x[i+1]` (`upper[n-1]` unused). `None` on a zero pivot.
pub(crate) fn thomas(lower: &[f64], diag: &[f64], upper: &[f64], rhs: &[f64]) -> Option<Vec<f64>> {
    let n = diag.len();
    if n == 0 {
        return Some(Vec::new());
    }
    let mut c = vec![0.0; n];
    let mut d = vec![0.0; n];
    let mut pivot = diag[0];
    if pivot == 0.0 || !pivot.is_finite() {
        return None;
    }
    c[0] = upper[0] / pivot;
    d[0] = rhs[0] / pivot;
    for i in 1..n {
        pivot = diag[i] - lower[i] * c[i - 1];
        if pivot == 0.0 || !pivot.is_finite() {
            return None;
        }
        c[i] = if i + 1 < n { upper[i] / pivot } else { 0.0 };
        d[i] = (rhs[i] - lower[i] * d[i - 1]) / pivot;
    }
    for i in (0..n - 1).rev() {
        d[i] -= c[i] * d[i + 1];
    }
    Some(d)
}

/// Cyclic tridiagonal solve (Sherman–Morrison): like [`thomas`], with `lower[0]` coupling
/// row 0 to `x[n-1]` and `upper[n-1]` coupling row n-1 to `x[0]`. Needs n ≥ 3.
pub(crate) fn cyclic_thomas(
    lower: &[f64],
    diag: &[f64],
    upper: &[f64],
    rhs: &[f64],
) -> Option<Vec<f64>> {
    let n = diag.len();
    if n < 3 {
        return None;
    }
    let (alpha, beta) = (upper[n - 1], lower[0]);
    let gamma = if diag[0] != 0.0 { -diag[0] } else { 1.0 };
    let mut modified = diag.to_vec();
    modified[0] -= gamma;
    modified[n - 1] -= alpha * beta / gamma;
    let x = thomas(lower, &modified, upper, rhs)?;
    let mut u = vec![0.0; n];
    u[0] = gamma;
    u[n - 1] = alpha;
    let z = thomas(lower, &modified, upper, &u)?;
    let denominator = 1.0 + z[0] + beta * z[n - 1] / gamma;
    if denominator == 0.0 || !denominator.is_finite() {
        return None;
    }
    let factor = (x[0] + beta * x[n - 1] / gamma) / denominator;
    Some(x.iter().zip(&z).map(|(xi, zi)| xi - factor * zi).collect())
}

fn tridiag(
    mut caller: Caller<'_, RunState>,
    kernel: &'static str,
    cyclic: bool,
    (lower, diag, upper, rhs, n): (i32, i32, i32, i32, i32),
) -> wasmtime::Result<i32> {
    non_negative(kernel, "n", n)?;
    charge(
        &mut caller,
        CALL_FUEL + if cyclic { 16 } else { 8 } * count(n),
    )?;
    let memory = guest_memory(&mut caller, kernel)?;
    let l = read_f64s(memory, kernel, "lower", lower, n)?;
    let d = read_f64s(memory, kernel, "diag", diag, n)?;
    let u = read_f64s(memory, kernel, "upper", upper, n)?;
    let b = read_f64s(memory, kernel, "rhs", rhs, n)?;
    let solved = if cyclic {
        cyclic_thomas(&l, &d, &u, &b)
    } else {
        thomas(&l, &d, &u, &b)
    };
    match solved {
        Some(x) => {
            write_f64s(memory, kernel, "rhs", rhs, &x)?;
            Ok(0)
        }
        None => Ok(1),
    }
}

/// Banded LU with partial pivoting. `band` is row-major `[n][kl+ku+1]` with
/// `band[i][j - i + kl] = A[i][j]`; `rhs` holds `nrhs` right-hand sides of length n one after
/// another and is overwritten with the solutions. `None` if singular.
pub(crate) fn banded_lu_solve(
    band: &[f64],
    n: usize,
    kl: usize,
    ku: usize,
    rhs: &mut [f64],
    nrhs: usize,
) -> Option<()> {
    // Working rows with room for the fill of pivoting: columns i-kl ..= i+kl+ku.
    let width = 2 * kl + ku + 1;
    let source = kl + ku + 1;
    let mut w = vec![0.0; n * width];
    for i in 0..n {
        for k in 0..source {
            // Column j = i + k - kl lives at offset j - i + kl = k in the working row too.
            w[i * width + k] = band[i * source + k];
        }
    }
    // Offset of column j in row i: j + kl - i.
    let at = |i: usize, j: usize| i * width + j + kl - i;
    for col in 0..n {
        let last = (col + kl).min(n - 1);
        let mut pivot_row = col;
        let mut best = w[at(col, col)].abs();
        for r in col + 1..=last {
            let v = w[at(r, col)].abs();
            if v > best {
                best = v;
                pivot_row = r;
            }
        }
        if best == 0.0 || !best.is_finite() {
            return None;
        }
        let right = (col + kl + ku).min(n - 1);
        if pivot_row != col {
            for j in col..=right {
                let (a, b) = (at(col, j), at(pivot_row, j));
                w.swap(a, b);
            }
            for s in 0..nrhs {
                rhs.swap(s * n + col, s * n + pivot_row);
            }
        }
        let pivot = w[at(col, col)];
        for r in col + 1..=last {
            let factor = w[at(r, col)] / pivot;
            if factor == 0.0 {
                continue;
            }
            w[at(r, col)] = 0.0;
            for j in col + 1..=right {
                w[at(r, j)] -= factor * w[at(col, j)];
            }
            for s in 0..nrhs {
                rhs[s * n + r] -= factor * rhs[s * n + col];
            }
        }
    }
    for s in 0..nrhs {
        let x = &mut rhs[s * n..(s + 1) * n];
        for i in (0..n).rev() {
            let right = (i + kl + ku).min(n - 1);
            let mut sum = x[i];
            for j in i + 1..=right {
                sum -= w[at(i, j)] * x[j];
            }
            x[i] = sum / w[at(i, i)];
        }
    }
    Some(())
}

fn banded_solve(
    mut caller: Caller<'_, RunState>,
    band: i32,
    n: i32,
    kl: i32,
    ku: i32,
    rhs: i32,
    nrhs: i32,
) -> wasmtime::Result<i32> {
    const K: &str = "banded_solve";
    let (nn, l, u, s) = (
        non_negative(K, "n", n)?,
        non_negative(K, "kl", kl)?,
        non_negative(K, "ku", ku)?,
        non_negative(K, "nrhs", nrhs)?,
    );
    let (n64, l64, u64_, s64) = (nn as u64, l as u64, u as u64, s as u64);
    let fuel = CALL_FUEL
        .saturating_add(
            2u64.saturating_mul(n64)
                .saturating_mul(l64 + 1)
                .saturating_mul(l64 + u64_ + 1),
        )
        .saturating_add(
            2u64.saturating_mul(n64)
                .saturating_mul(2 * l64 + u64_ + 1)
                .saturating_mul(s64),
        );
    charge(&mut caller, fuel)?;
    if nn == 0 {
        return Ok(0);
    }
    if l >= nn.max(1) || u >= nn.max(1) {
        return Err(fault(
            K,
            format!("kl = {l} and ku = {u} must be below n = {nn}"),
        ));
    }
    let memory = guest_memory(&mut caller, K)?;
    let band_values = read_f64s(
        memory,
        K,
        "band",
        band,
        to_i32(K, "band", nn * (l + u + 1))?,
    )?;
    let mut b = read_f64s(memory, K, "rhs", rhs, to_i32(K, "rhs", nn * s)?)?;
    match banded_lu_solve(&band_values, nn, l, u, &mut b, s) {
        Some(()) => {
            write_f64s(memory, K, "rhs", rhs, &b)?;
            Ok(0)
        }
        None => Ok(1),
    }
}

/// Dense LU with partial pivoting of a row-major `n × n` matrix; solves in place for
/// `nrhs` right-hand sides stored one after another. `None` if singular.
pub(crate) fn dense_lu(a: &mut [f64], n: usize, rhs: &mut [f64], nrhs: usize) -> Option<()> {
    let mut perm: Vec<usize> = (0..n).collect();
    for col in 0..n {
        let (mut pivot_row, mut best) = (col, a[col * n + col].abs());
        for r in col + 1..n {
            let v = a[r * n + col].abs();
            if v > best {
                best = v;
                pivot_row = r;
            }
        }
        if best == 0.0 || !best.is_finite() {
            return None;
        }
        if pivot_row != col {
            for j in 0..n {
                a.swap(col * n + j, pivot_row * n + j);
            }
            perm.swap(col, pivot_row);
        }
        let pivot = a[col * n + col];
        let (top, bottom) = a.split_at_mut((col + 1) * n);
        let pivot_tail = &top[col * n + col + 1..col * n + n];
        for row in bottom.chunks_exact_mut(n) {
            let factor = row[col] / pivot;
            row[col] = factor;
            if factor != 0.0 {
                for (x, p) in row[col + 1..].iter_mut().zip(pivot_tail) {
                    *x -= factor * p;
                }
            }
        }
    }
    for s in 0..nrhs {
        let b = &mut rhs[s * n..(s + 1) * n];
        let permuted: Vec<f64> = perm.iter().map(|&p| b[p]).collect();
        b.copy_from_slice(&permuted);
        for i in 0..n {
            let sum: f64 = (0..i).map(|j| a[i * n + j] * b[j]).sum();
            b[i] -= sum;
        }
        for i in (0..n).rev() {
            let sum: f64 = (i + 1..n).map(|j| a[i * n + j] * b[j]).sum();
            b[i] = (b[i] - sum) / a[i * n + i];
        }
    }
    Some(())
}

fn dense_lu_solve(
    mut caller: Caller<'_, RunState>,
    a: i32,
    n: i32,
    rhs: i32,
    nrhs: i32,
) -> wasmtime::Result<i32> {
    const K: &str = "dense_lu_solve";
    let (nn, s) = (non_negative(K, "n", n)?, non_negative(K, "nrhs", nrhs)?);
    let n64 = nn as u64;
    let fuel = CALL_FUEL
        .saturating_add(
            (2 * n64)
                .saturating_mul(n64)
                .saturating_mul(n64)
                .div_ceil(3),
        )
        .saturating_add(
            2u64.saturating_mul(n64)
                .saturating_mul(n64)
                .saturating_mul(s as u64),
        );
    charge(&mut caller, fuel)?;
    if nn == 0 {
        return Ok(0);
    }
    let memory = guest_memory(&mut caller, K)?;
    let count_a = nn
        .checked_mul(nn)
        .ok_or_else(|| fault(K, "n × n overflows"))?;
    let mut matrix = read_f64s(memory, K, "a", a, to_i32(K, "a", count_a)?)?;
    let mut b = read_f64s(memory, K, "rhs", rhs, to_i32(K, "rhs", nn * s)?)?;
    match dense_lu(&mut matrix, nn, &mut b, s) {
        Some(()) => {
            write_f64s(memory, K, "rhs", rhs, &b)?;
            Ok(0)
        }
        None => Ok(1),
    }
}

/// A CSR matrix read from the guest and checked.
struct Csr {
    n: usize,
    row_ptr: Vec<usize>,
    col_idx: Vec<usize>,
    values: Vec<f64>,
}

fn read_csr(
    memory: &[u8],
    kernel: &'static str,
    n: i32,
    row_ptr: i32,
    col_idx: i32,
    values: i32,
) -> wasmtime::Result<Csr> {
    let nn = non_negative(kernel, "n", n)?;
    let ptr = read_i32s(
        memory,
        kernel,
        "row_ptr",
        row_ptr,
        to_i32(kernel, "row_ptr", nn + 1)?,
    )?;
    if ptr[0] != 0 || ptr.windows(2).any(|w| w[1] < w[0]) {
        return Err(fault(kernel, "row_ptr must start at 0 and never decrease"));
    }
    let nnz = ptr[nn];
    let cols = read_i32s(memory, kernel, "col_idx", col_idx, nnz)?;
    if let Some((k, c)) = cols
        .iter()
        .enumerate()
        .find(|(_, c)| **c < 0 || **c as usize >= nn)
    {
        return Err(fault(
            kernel,
            format!("col_idx[{k}] = {c} is outside 0..{nn}"),
        ));
    }
    let vals = read_f64s(memory, kernel, "values", values, nnz)?;
    Ok(Csr {
        n: nn,
        row_ptr: ptr.iter().map(|&p| p as usize).collect(),
        col_idx: cols.iter().map(|&c| c as usize).collect(),
        values: vals,
    })
}

impl Csr {
    fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The matrix as column-major triplets, keeping entries for which `keep(row, col)`.
    fn to_csc(&self, keep: impl Fn(usize, usize) -> bool) -> Option<SparseColMat<usize, f64>> {
        let mut triplets = Vec::with_capacity(self.nnz());
        for row in 0..self.n {
            for k in self.row_ptr[row]..self.row_ptr[row + 1] {
                let col = self.col_idx[k];
                if keep(row, col) {
                    triplets.push(Triplet::new(row, col, self.values[k]));
                }
            }
        }
        SparseColMat::try_new_from_triplets(self.n, self.n, &triplets).ok()
    }
}

#[allow(clippy::too_many_arguments)]
fn sparse_cholesky_solve(
    mut caller: Caller<'_, RunState>,
    n: i32,
    row_ptr: i32,
    col_idx: i32,
    values: i32,
    rhs: i32,
    nrhs: i32,
) -> wasmtime::Result<i32> {
    const K: &str = "sparse_cholesky_solve";
    let s = non_negative(K, "nrhs", nrhs)?;
    let memory = guest_memory(&mut caller, K)?;
    let csr = read_csr(memory, K, n, row_ptr, col_idx, values)?;
    let mut b = read_f64s(memory, K, "rhs", rhs, to_i32(K, "rhs", csr.n * s)?)?;
    charge(&mut caller, CALL_FUEL + 4 * csr.nnz() as u64)?;
    if csr.n == 0 {
        return Ok(0);
    }
    let Some(matrix) = csr.to_csc(|row, col| col <= row) else {
        return Err(fault(K, "could not build the matrix"));
    };
    let symbolic = factorize_symbolic_cholesky(
        matrix.symbolic(),
        Side::Lower,
        Default::default(),
        Default::default(),
    )
    .map_err(|e| fault(K, format!("symbolic factorization failed: {e:?}")))?;
    let factor_len = symbolic.len_val();
    if factor_len > FACTOR_LIMIT {
        return Err(fault(
            K,
            format!(
                "the factor would hold {factor_len} entries, above the limit of {FACTOR_LIMIT}"
            ),
        ));
    }
    charge(
        &mut caller,
        (10 + 4 * s as u64).saturating_mul(factor_len as u64),
    )?;
    let mut factor_values = vec![0.0f64; factor_len];
    let par = Par::Seq;
    let mut buffer = MemBuffer::try_new(StackReq::any_of(&[
        symbolic.factorize_numeric_llt_scratch::<f64>(par, Default::default()),
        symbolic.solve_in_place_scratch::<f64>(s.max(1), par),
    ]))
    .map_err(|e| fault(K, format!("out of memory: {e:?}")))?;
    let stack = MemStack::new(&mut buffer);
    if symbolic
        .factorize_numeric_llt::<f64>(
            &mut factor_values,
            matrix.as_ref(),
            Side::Lower,
            LltRegularization::default(),
            par,
            stack,
            Default::default(),
        )
        .is_err()
    {
        return Ok(1);
    }
    if s > 0 {
        let factor = LltRef::new(&symbolic, &factor_values);
        factor.solve_in_place_with_conj(
            Conj::No,
            MatMut::from_column_major_slice_mut(&mut b, csr.n, s),
            par,
            stack,
        );
    }
    let memory = guest_memory(&mut caller, K)?;
    write_f64s(memory, K, "rhs", rhs, &b)?;
    Ok(0)
}

/// nnz of the Cholesky factor of the pattern of AᵀA: with partial pivoting, L and U each fit
/// in it (George & Ng). `Err` with the pattern size when it is too large to build.
fn lu_fill_bound(csr: &Csr) -> Result<usize, String> {
    let pairs: usize = (0..csr.n)
        .map(|r| (csr.row_ptr[r + 1] - csr.row_ptr[r]).pow(2))
        .sum();
    if pairs > FACTOR_LIMIT {
        return Err(format!(
            "AᵀA would have up to {pairs} entries, above the limit of {FACTOR_LIMIT}"
        ));
    }
    let mut indices = Vec::with_capacity(pairs / 2 + csr.n);
    for i in 0..csr.n {
        indices.push(faer::sparse::Pair::new(i, i));
    }
    for r in 0..csr.n {
        let cols = &csr.col_idx[csr.row_ptr[r]..csr.row_ptr[r + 1]];
        for &a in cols {
            for &b in cols {
                if b < a {
                    indices.push(faer::sparse::Pair::new(a, b));
                }
            }
        }
    }
    let (pattern, _) = SymbolicSparseColMat::<usize>::try_new_from_indices(csr.n, csr.n, &indices)
        .map_err(|e| format!("{e:?}"))?;
    let symbolic = factorize_symbolic_cholesky(
        pattern.as_ref(),
        Side::Lower,
        Default::default(),
        Default::default(),
    )
    .map_err(|e| format!("{e:?}"))?;
    Ok(symbolic.len_val())
}

#[allow(clippy::too_many_arguments)]
fn sparse_lu_solve(
    mut caller: Caller<'_, RunState>,
    n: i32,
    row_ptr: i32,
    col_idx: i32,
    values: i32,
    rhs: i32,
    nrhs: i32,
) -> wasmtime::Result<i32> {
    const K: &str = "sparse_lu_solve";
    let s = non_negative(K, "nrhs", nrhs)?;
    let memory = guest_memory(&mut caller, K)?;
    let csr = read_csr(memory, K, n, row_ptr, col_idx, values)?;
    let mut b = read_f64s(memory, K, "rhs", rhs, to_i32(K, "rhs", csr.n * s)?)?;
    let pairs: u64 = (0..csr.n)
        .map(|r| ((csr.row_ptr[r + 1] - csr.row_ptr[r]) as u64).pow(2))
        .sum();
    charge(&mut caller, CALL_FUEL + 4 * csr.nnz() as u64 + pairs)?;
    if csr.n == 0 {
        return Ok(0);
    }
    let bound = lu_fill_bound(&csr).map_err(|m| fault(K, m))?;
    if 2 * bound > FACTOR_LIMIT {
        return Err(fault(
            K,
            format!(
                "the LU factors may hold {} entries, above the limit of {FACTOR_LIMIT}",
                2 * bound
            ),
        ));
    }
    charge(
        &mut caller,
        (20 + 8 * s as u64).saturating_mul(bound as u64),
    )?;
    let Some(matrix) = csr.to_csc(|_, _| true) else {
        return Err(fault(K, "could not build the matrix"));
    };
    let symbolic = factorize_symbolic_lu(matrix.symbolic(), Default::default())
        .map_err(|e| fault(K, format!("symbolic factorization failed: {e:?}")))?;
    let par = Par::Seq;
    let mut numeric = NumericLu::<usize, f64>::new();
    let mut buffer = MemBuffer::try_new(StackReq::any_of(&[
        symbolic.factorize_numeric_lu_scratch::<f64>(par, Default::default()),
        symbolic.solve_in_place_scratch::<f64>(s.max(1), par),
    ]))
    .map_err(|e| fault(K, format!("out of memory: {e:?}")))?;
    let stack = MemStack::new(&mut buffer);
    let lu = match symbolic.factorize_numeric_lu(
        &mut numeric,
        matrix.as_ref(),
        par,
        stack,
        Default::default(),
    ) {
        Ok(lu) => lu,
        Err(_) => return Ok(1),
    };
    if s > 0 {
        lu.solve_in_place_with_conj(
            Conj::No,
            MatMut::from_column_major_slice_mut(&mut b, csr.n, s),
            par,
            stack,
        );
    }
    if b.iter().any(|v| !v.is_finite()) {
        return Ok(1);
    }
    let memory = guest_memory(&mut caller, K)?;
    write_f64s(memory, K, "rhs", rhs, &b)?;
    Ok(0)
}

fn axpy(
    mut caller: Caller<'_, RunState>,
    alpha: f64,
    x: i32,
    y: i32,
    n: i32,
) -> wasmtime::Result<()> {
    const K: &str = "axpy";
    non_negative(K, "n", n)?;
    charge(&mut caller, CALL_FUEL + 2 * count(n))?;
    let memory = guest_memory(&mut caller, K)?;
    let xs = read_f64s(memory, K, "x", x, n)?;
    let mut ys = read_f64s(memory, K, "y", y, n)?;
    for (yi, xi) in ys.iter_mut().zip(&xs) {
        *yi += alpha * xi;
    }
    write_f64s(memory, K, "y", y, &ys)
}

/// Registers the numeric kernels.
pub(crate) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "fft_c2c", fft_c2c)?;
    linker.func_wrap(MODULE, "rfft", rfft)?;
    linker.func_wrap(MODULE, "irfft", irfft)?;
    linker.func_wrap(
        MODULE,
        "tridiag_solve",
        |c: Caller<'_, RunState>, l: i32, d: i32, u: i32, b: i32, n: i32| {
            tridiag(c, "tridiag_solve", false, (l, d, u, b, n))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "cyclic_tridiag_solve",
        |c: Caller<'_, RunState>, l: i32, d: i32, u: i32, b: i32, n: i32| {
            tridiag(c, "cyclic_tridiag_solve", true, (l, d, u, b, n))
        },
    )?;
    linker.func_wrap(MODULE, "banded_solve", banded_solve)?;
    linker.func_wrap(MODULE, "dense_lu_solve", dense_lu_solve)?;
    linker.func_wrap(MODULE, "sparse_cholesky_solve", sparse_cholesky_solve)?;
    linker.func_wrap(MODULE, "sparse_lu_solve", sparse_lu_solve)?;
    linker.func_wrap(MODULE, "axpy", axpy)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thomas_solves_a_diffusion_system() {
        let n = 50;
        let (l, d, u) = (vec![-1.0; n], vec![2.5; n], vec![-1.0; n]);
        let x_true: Vec<f64> = (0..n).map(|i| (i as f64 * 0.3).sin()).collect();
        let b: Vec<f64> = (0..n)
            .map(|i| {
                2.5 * x_true[i]
                    - if i > 0 { x_true[i - 1] } else { 0.0 }
                    - if i + 1 < n { x_true[i + 1] } else { 0.0 }
            })
            .collect();
        let x = thomas(&l, &d, &u, &b).unwrap();
        assert!(x.iter().zip(&x_true).all(|(a, b)| (a - b).abs() < 1e-12));
        let cb: Vec<f64> = (0..n)
            .map(|i| 2.5 * x_true[i] - x_true[(i + n - 1) % n] - x_true[(i + 1) % n])
            .collect();
        let cx = cyclic_thomas(&l, &d, &u, &cb).unwrap();
        assert!(cx.iter().zip(&x_true).all(|(a, b)| (a - b).abs() < 1e-12));
        assert!(thomas(&[0.0, 1.0], &[0.0, 1.0], &[1.0, 0.0], &[1.0, 1.0]).is_none());
    }

    #[test]
    fn banded_and_dense_agree() {
        let n = 12;
        let (kl, ku) = (2, 1);
        let mut dense = vec![0.0; n * n];
        let mut band = vec![0.0; n * (kl + ku + 1)];
        for i in 0..n {
            for j in i.saturating_sub(kl)..=(i + ku).min(n - 1) {
                // Small diagonal: pivoting is needed.
                let v = if i == j {
                    0.1 + i as f64 * 0.01
                } else {
                    1.0 + (i * 7 + j * 3) as f64 % 5.0
                };
                dense[i * n + j] = v;
                band[i * (kl + ku + 1) + j + kl - i] = v;
            }
        }
        let b: Vec<f64> = (0..2 * n).map(|i| (i as f64).cos()).collect();
        let (mut x1, mut x2) = (b.clone(), b.clone());
        banded_lu_solve(&band, n, kl, ku, &mut x1, 2).unwrap();
        dense_lu(&mut dense.clone(), n, &mut x2, 2).unwrap();
        assert!(
            x1.iter().zip(&x2).all(|(a, b)| (a - b).abs() < 1e-10),
            "{x1:?} {x2:?}"
        );
        for s in 0..2 {
            for i in 0..n {
                let ax: f64 = (0..n).map(|j| dense[i * n + j] * x1[s * n + j]).sum();
                assert!((ax - b[s * n + i]).abs() < 1e-10);
            }
        }
    }
}
