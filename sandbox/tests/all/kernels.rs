//! The numeric host kernels: a C guest (using guest/hone.h) and a Rust guest (using
//! guest/hone.rs) call every kernel on the same data; their results are checked against
//! the mathematics (naive DFT, residuals of the solved systems) and against each other.
//! Pointers or lengths outside guest memory end the run as a runtime error, and kernels
//! charge fuel for their work.

use hone_sandbox::{Language, Limits, RunStatus};

use crate::support::{kernel_limits, program, sandbox};

const C_HEADER: &str = include_str!("../../guest/hone.h");
const RUST_MODULE: &str = include_str!("../../guest/hone.rs");

/// Inputs are small rationals, identical in both languages bit for bit.
const C_GUEST: &str = r#"
#include <stdio.h>
static double out[1024];
static int count = 0;
static void emit(const double *v, int n) { for (int i = 0; i < n; i++) out[count++] = v[i]; }
static void emit1(double v) { out[count++] = v; }
static double input(int j) { return (double)((j * 7) % 11) / 4.0 - 1.0; }

int main(void) {
    double z[24], back[24];
    for (int j = 0; j < 24; j++) z[j] = input(j);
    hone_fft_c2c(z, 12, 0);
    emit(z, 24);
    for (int j = 0; j < 24; j++) back[j] = z[j];
    hone_fft_c2c(back, 12, 1);
    emit(back, 24);

    double x[16], hat[18], y[16];
    for (int j = 0; j < 16; j++) x[j] = input(j + 3);
    hone_rfft(x, 16, hat);
    emit(hat, 18);
    hone_irfft(hat, 16, y);
    emit(y, 16);

    double lower[10], diag[10], upper[10], b[10], c[10];
    for (int j = 0; j < 10; j++) { lower[j] = -1.0; diag[j] = 4.0 + j / 8.0; upper[j] = -0.5; b[j] = input(j); c[j] = b[j]; }
    emit1(hone_tridiag_solve(lower, diag, upper, b, 10));
    emit(b, 10);
    emit1(hone_cyclic_tridiag_solve(lower, diag, upper, c, 10));
    emit(c, 10);

    /* n = 8, kl = 2, ku = 1, small diagonal: pivoting needed. */
    double band[8 * 4], rb[16];
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 4; k++) band[i * 4 + k] = (k == 2) ? 0.125 : 1.0 + ((i * 3 + k) % 5) / 2.0;
    for (int j = 0; j < 16; j++) rb[j] = input(j);
    emit1(hone_banded_solve(band, 8, 2, 1, rb, 2));
    emit(rb, 16);

    double a[25], rd[5], singular[4] = {1, 2, 2, 4}, rs[2] = {1, 1};
    for (int i = 0; i < 25; i++) a[i] = input(i) + (i % 6 == 0 ? 3.0 : 0.0);
    for (int j = 0; j < 5; j++) rd[j] = input(j + 1);
    emit1(hone_dense_lu_solve(a, 5, rd, 1));
    emit(rd, 5);
    emit1(hone_dense_lu_solve(singular, 2, rs, 1));

    /* 4 x 4 grid Laplacian (n = 16) plus 0.5 on the diagonal, full CSR. */
    int row_ptr[17], col_idx[80], nnz = 0;
    double values[80], rl[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int p = i * 4 + j;
            row_ptr[p] = nnz;
            if (i > 0) { col_idx[nnz] = p - 4; values[nnz++] = -1; }
            if (j > 0) { col_idx[nnz] = p - 1; values[nnz++] = -1; }
            col_idx[nnz] = p; values[nnz++] = 4.5;
            if (j < 3) { col_idx[nnz] = p + 1; values[nnz++] = -1; }
            if (i < 3) { col_idx[nnz] = p + 4; values[nnz++] = -1; }
        }
    row_ptr[16] = nnz;
    for (int j = 0; j < 16; j++) rl[j] = input(j);
    emit1(hone_sparse_cholesky_solve(16, row_ptr, col_idx, values, rl, 1));
    emit(rl, 16);
    int np_ptr[3] = {0, 1, 2}, np_col[2] = {0, 1};
    double np_val[2] = {1.0, -1.0}, np_rhs[2] = {1, 1};
    emit1(hone_sparse_cholesky_solve(2, np_ptr, np_col, np_val, np_rhs, 1));

    /* Nonsymmetric 6 x 6 with a zero diagonal entry (pivoting needed). */
    int lu_ptr[7] = {0, 2, 5, 7, 10, 12, 14}, lu_col[14] = {1, 3, 0, 1, 2, 2, 5, 0, 3, 4, 1, 4, 0, 5};
    double lu_val[14], rlu[6];
    for (int k = 0; k < 14; k++) lu_val[k] = 1.0 + input(k);
    for (int j = 0; j < 6; j++) rlu[j] = input(j + 2);
    emit1(hone_sparse_lu_solve(6, lu_ptr, lu_col, lu_val, rlu, 1));
    emit(rlu, 6);

    double p[7], q[7];
    for (int j = 0; j < 7; j++) { p[j] = input(j); q[j] = input(j + 5); }
    emit1(hone_dot(p, q, 7));
    hone_axpy(0.5, p, q, 7);
    emit(q, 7);

    fwrite(out, sizeof(double), count, stdout);
    return 0;
}
"#;

const RUST_GUEST: &str = r#"
use std::io::Write;

fn input(j: usize) -> f64 { ((j * 7) % 11) as f64 / 4.0 - 1.0 }

fn main() {
    let mut out: Vec<f64> = Vec::new();
    let mut z: Vec<f64> = (0..24).map(input).collect();
    hone::fft_c2c(&mut z, false);
    out.extend(&z);
    hone::fft_c2c(&mut z, true);
    out.extend(&z);

    let x: Vec<f64> = (0..16).map(|j| input(j + 3)).collect();
    let mut hat = vec![0.0; 18];
    hone::rfft(&x, &mut hat);
    out.extend(&hat);
    let mut y = vec![0.0; 16];
    hone::irfft(&hat, &mut y);
    out.extend(&y);

    let lower = vec![-1.0; 10];
    let diag: Vec<f64> = (0..10).map(|j| 4.0 + j as f64 / 8.0).collect();
    let upper = vec![-0.5; 10];
    let mut b: Vec<f64> = (0..10).map(input).collect();
    let mut c = b.clone();
    out.push(if hone::tridiag_solve(&lower, &diag, &upper, &mut b).is_ok() { 0.0 } else { 1.0 });
    out.extend(&b);
    out.push(if hone::cyclic_tridiag_solve(&lower, &diag, &upper, &mut c).is_ok() { 0.0 } else { 1.0 });
    out.extend(&c);

    let mut band = vec![0.0; 32];
    for i in 0..8 {
        for k in 0..4 {
            band[i * 4 + k] = if k == 2 { 0.125 } else { 1.0 + ((i * 3 + k) % 5) as f64 / 2.0 };
        }
    }
    let mut rb: Vec<f64> = (0..16).map(input).collect();
    out.push(if hone::banded_solve(&band, 8, 2, 1, &mut rb).is_ok() { 0.0 } else { 1.0 });
    out.extend(&rb);

    let a: Vec<f64> = (0..25).map(|i| input(i) + if i % 6 == 0 { 3.0 } else { 0.0 }).collect();
    let mut rd: Vec<f64> = (0..5).map(|j| input(j + 1)).collect();
    out.push(if hone::dense_lu_solve(&a, 5, &mut rd).is_ok() { 0.0 } else { 1.0 });
    out.extend(&rd);
    let mut rs = vec![1.0, 1.0];
    out.push(if hone::dense_lu_solve(&[1.0, 2.0, 2.0, 4.0], 2, &mut rs).is_ok() { 0.0 } else { 1.0 });

    let (mut row_ptr, mut col_idx, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..4i32 {
        for j in 0..4i32 {
            let p = i * 4 + j;
            row_ptr.push(col_idx.len() as i32);
            if i > 0 { col_idx.push(p - 4); values.push(-1.0); }
            if j > 0 { col_idx.push(p - 1); values.push(-1.0); }
            col_idx.push(p); values.push(4.5);
            if j < 3 { col_idx.push(p + 1); values.push(-1.0); }
            if i < 3 { col_idx.push(p + 4); values.push(-1.0); }
        }
    }
    row_ptr.push(col_idx.len() as i32);
    let mut rl: Vec<f64> = (0..16).map(input).collect();
    let laplacian = hone::Csr { n: 16, row_ptr: &row_ptr, col_idx: &col_idx, values: &values };
    out.push(if hone::sparse_cholesky_solve(&laplacian, &mut rl).is_ok() { 0.0 } else { 1.0 });
    out.extend(&rl);
    let indefinite = hone::Csr { n: 2, row_ptr: &[0, 1, 2], col_idx: &[0, 1], values: &[1.0, -1.0] };
    out.push(if hone::sparse_cholesky_solve(&indefinite, &mut [1.0, 1.0]).is_ok() { 0.0 } else { 1.0 });

    let lu_ptr = [0, 2, 5, 7, 10, 12, 14];
    let lu_col = [1, 3, 0, 1, 2, 2, 5, 0, 3, 4, 1, 4, 0, 5];
    let lu_val: Vec<f64> = (0..14).map(|k| 1.0 + input(k)).collect();
    let mut rlu: Vec<f64> = (0..6).map(|j| input(j + 2)).collect();
    let general = hone::Csr { n: 6, row_ptr: &lu_ptr, col_idx: &lu_col, values: &lu_val };
    out.push(if hone::sparse_lu_solve(&general, &mut rlu).is_ok() { 0.0 } else { 1.0 });
    out.extend(&rlu);

    let p: Vec<f64> = (0..7).map(input).collect();
    let mut q: Vec<f64> = (0..7).map(|j| input(j + 5)).collect();
    out.push(hone::dot(&p, &q));
    hone::axpy(0.5, &p, &mut q);
    out.extend(&q);

    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::io::stdout().write_all(&bytes).unwrap();
}
"#;

fn input(j: usize) -> f64 {
    ((j * 7) % 11) as f64 / 4.0 - 1.0
}

fn run(language: Language, source: &str) -> (Vec<f64>, u64) {
    let p = program(language, source);
    let outcome = sandbox().run(&p, b"", &kernel_limits()).unwrap();
    assert_eq!(
        outcome.status,
        RunStatus::Ok,
        "{language}: {}",
        outcome.stderr
    );
    let values = outcome
        .stdout
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (values, outcome.fuel_used)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * (1.0 + b.abs())
}

/// Takes the next `n` values.
fn take<'a>(values: &mut &'a [f64], n: usize) -> &'a [f64] {
    let (head, tail) = values.split_at(n);
    *values = tail;
    head
}

fn check_results(values: &[f64]) {
    let mut v = values;
    // Complex FFT against the naive DFT, and the inverse round trip.
    let z: Vec<f64> = (0..24).map(input).collect();
    let fft = take(&mut v, 24);
    for k in 0..12 {
        let (mut re, mut im) = (0.0, 0.0);
        for j in 0..12 {
            let angle = -std::f64::consts::TAU * (j * k) as f64 / 12.0;
            re += z[2 * j] * angle.cos() - z[2 * j + 1] * angle.sin();
            im += z[2 * j] * angle.sin() + z[2 * j + 1] * angle.cos();
        }
        assert!(
            close(fft[2 * k], re) && close(fft[2 * k + 1], im),
            "fft mode {k}"
        );
    }
    assert!(
        take(&mut v, 24).iter().zip(&z).all(|(a, b)| close(*a, *b)),
        "inverse fft"
    );
    // Real FFT and its inverse.
    let x: Vec<f64> = (0..16).map(|j| input(j + 3)).collect();
    let hat = take(&mut v, 18);
    for k in 0..9 {
        let re: f64 = (0..16)
            .map(|j| x[j] * (std::f64::consts::TAU * (j * k) as f64 / 16.0).cos())
            .sum();
        let im: f64 = (0..16)
            .map(|j| -x[j] * (std::f64::consts::TAU * (j * k) as f64 / 16.0).sin())
            .sum();
        assert!(
            close(hat[2 * k], re) && close(hat[2 * k + 1], im),
            "rfft mode {k}"
        );
    }
    assert!(
        take(&mut v, 16).iter().zip(&x).all(|(a, b)| close(*a, *b)),
        "irfft"
    );
    // Tridiagonal and cyclic tridiagonal: residuals.
    let diag: Vec<f64> = (0..10).map(|j| 4.0 + j as f64 / 8.0).collect();
    for cyclic in [false, true] {
        assert_eq!(take(&mut v, 1)[0], 0.0);
        let sol = take(&mut v, 10);
        for i in 0..10 {
            let mut ax = diag[i] * sol[i];
            if i > 0 || cyclic {
                ax -= sol[(i + 9) % 10];
            }
            if i < 9 || cyclic {
                ax -= 0.5 * sol[(i + 1) % 10];
            }
            assert!(close(ax, input(i)), "tridiagonal (cyclic {cyclic}) row {i}");
        }
    }
    // Banded: residual of both right-hand sides.
    assert_eq!(take(&mut v, 1)[0], 0.0);
    let sol = take(&mut v, 16);
    for s in 0..2 {
        for i in 0..8usize {
            let mut ax = 0.0;
            for k in 0..4usize {
                let j = i as i64 + k as i64 - 2;
                if (0..8).contains(&j) {
                    let a = if k == 2 {
                        0.125
                    } else {
                        1.0 + ((i * 3 + k) % 5) as f64 / 2.0
                    };
                    ax += a * sol[s * 8 + j as usize];
                }
            }
            assert!(close(ax, input(s * 8 + i)), "banded rhs {s} row {i}");
        }
    }
    // Dense LU, then the singular case.
    assert_eq!(take(&mut v, 1)[0], 0.0);
    let sol = take(&mut v, 5);
    for i in 0..5 {
        let ax: f64 = (0..5)
            .map(|j| (input(i * 5 + j) + if (i * 5 + j) % 6 == 0 { 3.0 } else { 0.0 }) * sol[j])
            .sum();
        assert!(close(ax, input(i + 1)), "dense row {i}");
    }
    assert_eq!(take(&mut v, 1)[0], 1.0, "a singular dense matrix reports 1");
    // Sparse Cholesky on the shifted Laplacian, then an indefinite matrix.
    assert_eq!(take(&mut v, 1)[0], 0.0);
    let sol = take(&mut v, 16);
    for p in 0..16usize {
        let (i, j) = (p / 4, p % 4);
        let mut ax = 4.5 * sol[p];
        if i > 0 {
            ax -= sol[p - 4];
        }
        if j > 0 {
            ax -= sol[p - 1];
        }
        if j < 3 {
            ax -= sol[p + 1];
        }
        if i < 3 {
            ax -= sol[p + 4];
        }
        assert!(close(ax, input(p)), "cholesky row {p}");
    }
    assert_eq!(take(&mut v, 1)[0], 1.0, "an indefinite matrix reports 1");
    // Sparse LU.
    assert_eq!(take(&mut v, 1)[0], 0.0);
    let sol = take(&mut v, 6);
    let ptr = [0, 2, 5, 7, 10, 12, 14];
    let col = [1, 3, 0, 1, 2, 2, 5, 0, 3, 4, 1, 4, 0, 5];
    for r in 0..6 {
        let ax: f64 = (ptr[r]..ptr[r + 1])
            .map(|k| (1.0 + input(k)) * sol[col[k]])
            .sum();
        assert!(close(ax, input(r + 2)), "sparse lu row {r}");
    }
    // dot and axpy.
    let dot: f64 = (0..7).map(|j| input(j) * input(j + 5)).sum();
    assert!(close(take(&mut v, 1)[0], dot));
    let axpy = take(&mut v, 7);
    assert!((0..7).all(|j| close(axpy[j], input(j + 5) + 0.5 * input(j))));
    assert!(v.is_empty(), "{} values left over", v.len());
}

#[test]
fn c_and_rust_guests_get_the_native_results() {
    let (c_values, c_fuel) = run(Language::C, &format!("{C_HEADER}\n{C_GUEST}"));
    check_results(&c_values);
    let (rust_values, _) = run(
        Language::Rust,
        &format!("mod hone {{\n{RUST_MODULE}\n}}\n{RUST_GUEST}"),
    );
    assert_eq!(c_values.len(), rust_values.len());
    for (i, (a, b)) in c_values.iter().zip(&rust_values).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "value {i}: C {a} vs Rust {b}");
    }
    assert!(c_fuel > 0);
}

/// A wat guest calling `kernel` with the given i32 arguments (a leading f64 for axpy).
fn wat_call(import: &str, params: &str, results: &str, args: &str) -> String {
    format!(
        r#"(module
  (import "hone" "{import}" (func $k (param {params}) {results}))
  (memory (export "memory") 1)
  (func (export "_start") {args} call $k {drop}))"#,
        drop = if results.is_empty() { "" } else { "drop" }
    )
}

fn status_of(source: &str) -> (RunStatus, u64) {
    let p = program(Language::Wat, source);
    let outcome = sandbox().run(&p, b"", &kernel_limits()).unwrap();
    (outcome.status, outcome.fuel_used)
}

#[test]
fn out_of_memory_arguments_are_clean_runtime_errors() {
    let far = "i32.const 0x7ffffff0";
    let cases = [
        (
            "fft_c2c",
            "i32 i32 i32",
            "(result i32)",
            format!("{far} i32.const 16 i32.const 0"),
        ),
        (
            "fft_c2c",
            "i32 i32 i32",
            "(result i32)",
            "i32.const 0 i32.const -4 i32.const 0".to_string(),
        ),
        (
            "rfft",
            "i32 i32 i32",
            "(result i32)",
            format!("i32.const 0 i32.const 16 {far}"),
        ),
        (
            "irfft",
            "i32 i32 i32",
            "(result i32)",
            "i32.const 0 i32.const 100000 i32.const 0".to_string(),
        ),
        (
            "tridiag_solve",
            "i32 i32 i32 i32 i32",
            "(result i32)",
            format!("i32.const 0 i32.const 0 i32.const 0 {far} i32.const 4"),
        ),
        (
            "cyclic_tridiag_solve",
            "i32 i32 i32 i32 i32",
            "(result i32)",
            format!("{far} i32.const 0 i32.const 0 i32.const 0 i32.const 4"),
        ),
        (
            "banded_solve",
            "i32 i32 i32 i32 i32 i32",
            "(result i32)",
            format!("{far} i32.const 8 i32.const 1 i32.const 1 i32.const 0 i32.const 1"),
        ),
        (
            "banded_solve",
            "i32 i32 i32 i32 i32 i32",
            "(result i32)",
            "i32.const 0 i32.const 8 i32.const 9 i32.const 1 i32.const 0 i32.const 1".to_string(),
        ),
        (
            "dense_lu_solve",
            "i32 i32 i32 i32",
            "(result i32)",
            "i32.const 0 i32.const 200 i32.const 0 i32.const 1".to_string(),
        ),
        (
            "sparse_cholesky_solve",
            "i32 i32 i32 i32 i32 i32",
            "(result i32)",
            format!("i32.const 4 {far} i32.const 0 i32.const 0 i32.const 0 i32.const 1"),
        ),
        // row_ptr = [0,0,0,0,0] but rhs far away.
        (
            "sparse_lu_solve",
            "i32 i32 i32 i32 i32 i32",
            "(result i32)",
            format!("i32.const 4 i32.const 0 i32.const 0 i32.const 0 {far} i32.const 1"),
        ),
        (
            "axpy",
            "f64 i32 i32 i32",
            "",
            format!("f64.const 2 i32.const 0 {far} i32.const 8"),
        ),
        (
            "dot",
            "i32 i32 i32",
            "(result f64)",
            format!("i32.const 0 {far} i32.const 8"),
        ),
    ];
    for (kernel, params, results, args) in cases {
        let (status, _) = status_of(&wat_call(kernel, params, results, &args));
        match status {
            RunStatus::RuntimeError { message, .. } => assert!(
                message.contains(&format!("hone.{kernel}")),
                "{kernel}: {message}"
            ),
            other => panic!("{kernel} {args}: expected a runtime error, got {other}"),
        }
    }
}

#[test]
fn malformed_csr_is_a_runtime_error() {
    // row_ptr = [0, 2, 1] decreases; then a column index out of range.
    let data = r#"(data (i32.const 0) "\00\00\00\00\02\00\00\00\01\00\00\00")"#;
    let source = |data: &str| {
        format!(
            r#"(module
  (import "hone" "sparse_lu_solve" (func $k (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  {data}
  (func (export "_start") i32.const 2 i32.const 0 i32.const 64 i32.const 128 i32.const 256 i32.const 1 call $k drop))"#
        )
    };
    let (status, _) = status_of(&source(data));
    assert!(
        matches!(&status, RunStatus::RuntimeError { message, .. } if message.contains("row_ptr")),
        "{status}"
    );
    let data = r#"(data (i32.const 0) "\00\00\00\00\01\00\00\00\02\00\00\00") (data (i32.const 64) "\00\00\00\00\07\00\00\00")"#;
    let (status, _) = status_of(&source(data));
    assert!(
        matches!(&status, RunStatus::RuntimeError { message, .. } if message.contains("col_idx")),
        "{status}"
    );
}

#[test]
fn kernels_charge_fuel_for_their_work() {
    let small = status_of(&wat_call(
        "fft_c2c",
        "i32 i32 i32",
        "(result i32)",
        "i32.const 0 i32.const 16 i32.const 0",
    ));
    let large = status_of(&wat_call(
        "fft_c2c",
        "i32 i32 i32",
        "(result i32)",
        "i32.const 0 i32.const 4096 i32.const 0",
    ));
    assert_eq!(small.0, RunStatus::Ok);
    assert_eq!(large.0, RunStatus::Ok);
    // 5 n log2 n: 5·4096·12 more than 5·16·4.
    assert!(
        large.1 - small.1 >= 5 * 4096 * 12 - 5 * 16 * 4,
        "{} vs {}",
        large.1,
        small.1
    );
    // Too little fuel for the work: the call is refused before it runs.
    let p = program(
        Language::Wat,
        &wat_call(
            "dense_lu_solve",
            "i32 i32 i32 i32",
            "(result i32)",
            "i32.const 0 i32.const 100 i32.const 0 i32.const 1",
        ),
    );
    let outcome = sandbox()
        .run(
            &p,
            b"",
            &Limits {
                fuel: Some(100_000),
                ..kernel_limits()
            },
        )
        .unwrap();
    assert_eq!(outcome.status, RunStatus::FuelExhausted);
}
