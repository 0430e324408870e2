/* hone.h: host kernels imported from wasm module "hone" (native speed, charged fuel).
 * Paste the declarations you need into your source file (candidates are one file).
 * Pointers are into your own memory; lengths count elements (double = 8 bytes).
 * Functions returning int give 0 on success and 1 for a singular / not positive definite
 * matrix. A pointer or length outside memory ends the run with a runtime error.
 * Fuel per call (CALL = 10): see each declaration. */
#ifndef HONE_H
#define HONE_H

#define HONE_IMPORT(name) __attribute__((import_module("hone"), import_name(#name)))

/* sum x[i]*y[i]. Fuel CALL + 2n. */
HONE_IMPORT(dot) double hone_dot(const double *x, const double *y, int n);

/* y[i] += alpha*x[i]. Fuel CALL + 2n. */
HONE_IMPORT(axpy) void hone_axpy(double alpha, const double *x, double *y, int n);

/* In-place complex FFT of n complex values stored interleaved (re0, im0, re1, im1, ...),
 * any n. Forward: X_k = sum_j x_j exp(-2 pi i jk/n). inverse != 0: exp(+...) and divided by n.
 * Fuel CALL + 5 n ceil(log2 n). */
HONE_IMPORT(fft_c2c) int hone_fft_c2c(double *data, int n, int inverse);

/* Real FFT: n reals -> n/2+1 complex values interleaved in out (2*(n/2+1) doubles).
 * Fuel CALL + 3 n ceil(log2 n). */
HONE_IMPORT(rfft) int hone_rfft(const double *in, int n, double *out);

/* Inverse real FFT: n/2+1 interleaved complex values -> n reals, divided by n (so
 * irfft(rfft(x)) == x). Imaginary parts of mode 0 (and n/2 for even n) are ignored.
 * Fuel CALL + 3 n ceil(log2 n). */
HONE_IMPORT(irfft) int hone_irfft(const double *in, int n, double *out);

/* Tridiagonal solve (Thomas, no pivoting): row i is
 * lower[i]*x[i-1] + diag[i]*x[i] + upper[i]*x[i+1] = rhs[i]; lower[0], upper[n-1] unused.
 * rhs is overwritten with x. Fuel CALL + 8n. */
HONE_IMPORT(tridiag_solve) int hone_tridiag_solve(const double *lower, const double *diag, const double *upper, double *rhs, int n);

/* Periodic (cyclic) tridiagonal solve, n >= 3: as above with lower[0] multiplying x[n-1]
 * and upper[n-1] multiplying x[0]. rhs is overwritten with x. Fuel CALL + 16n. */
HONE_IMPORT(cyclic_tridiag_solve) int hone_cyclic_tridiag_solve(const double *lower, const double *diag, const double *upper, double *rhs, int n);

/* Banded solve with partial pivoting. band is row-major [n][kl+ku+1] with
 * band[i*(kl+ku+1) + (j-i+kl)] = A[i][j] for i-kl <= j <= i+ku (not modified).
 * rhs holds nrhs right-hand sides of length n one after another; overwritten with x.
 * Fuel CALL + 2n(kl+1)(kl+ku+1) + 2n(2kl+ku+1)nrhs. */
HONE_IMPORT(banded_solve) int hone_banded_solve(const double *band, int n, int kl, int ku, double *rhs, int nrhs);

/* Dense LU solve with partial pivoting: a is row-major n x n (not modified); rhs holds nrhs
 * right-hand sides of length n one after another; overwritten with x.
 * Fuel CALL + ceil(2n^3/3) + 2n^2 nrhs. */
HONE_IMPORT(dense_lu_solve) int hone_dense_lu_solve(const double *a, int n, double *rhs, int nrhs);

/* Sparse Cholesky solve (faer, AMD ordering) of a symmetric positive definite matrix in CSR
 * form: row_ptr[n+1], col_idx[nnz], values[nnz]. Only entries with col <= row are read
 * (pass the full matrix or its lower triangle); duplicates are summed. rhs holds nrhs
 * right-hand sides of length n one after another; overwritten with x.
 * Fuel CALL + 4 nnz(A) + 10 nnz(L) + 4 nnz(L) nrhs. */
HONE_IMPORT(sparse_cholesky_solve) int hone_sparse_cholesky_solve(int n, const int *row_ptr, const int *col_idx, const double *values, double *rhs, int nrhs);

/* Sparse LU solve (faer, COLAMD ordering, partial pivoting) of a general matrix in CSR form,
 * same layout as above (all entries read). Fuel CALL + 4 nnz(A) + sum over rows of nnz(row)^2
 * + (20 + 8 nrhs) B, where B = nnz of the Cholesky factor of A^T A (a bound on L and U). */
HONE_IMPORT(sparse_lu_solve) int hone_sparse_lu_solve(int n, const int *row_ptr, const int *col_idx, const double *values, double *rhs, int nrhs);

#endif
