"""NumPy/SciPy baselines for tasks/benches/pde.rs (same problems, same machine).

- Poisson/Darcy: the 5-point finite-volume matrix on 512 x 512 cells (a = 1, f = 1; the
  boundary faces at half a cell), solved with scipy.sparse.linalg.spsolve (SuperLU).
- Burgers: 100 integrating-factor RK4 steps on 2048 points with 2/3 dealiasing, numpy.fft.

Prints the median time of each, in milliseconds. Run: python3 tasks/benches/pde_baseline.py
"""

import statistics
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def poisson_matrix(n):
    h2 = 1.0 / (n * n)
    one_d_main = np.full(n, 2.0)
    one_d_main[0] = one_d_main[-1] = 3.0  # interior faces 1 each, boundary face 2
    t = sp.diags([-np.ones(n - 1), one_d_main, -np.ones(n - 1)], [-1, 0, 1])
    eye = sp.identity(n)
    return ((sp.kron(eye, t) + sp.kron(t, eye)) / h2).tocsc()


def median_ms(f, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def burgers_steps(m=2048, nu=0.01, steps=100):
    x = np.arange(m) / m
    u0 = np.sin(2 * np.pi * x) + 0.5 * np.sin(6 * np.pi * x + 1.0)
    k = 2 * np.pi * np.arange(m // 2 + 1)
    keep = (3 * np.arange(m // 2 + 1) <= m).astype(float)
    keep[-1] = 0.0
    dt = 0.3 / (m * np.max(np.abs(u0)))
    lin = -nu * k * k
    half = np.exp(lin * dt / 2)
    full = half * half

    def nonlinear(h):
        u = np.fft.irfft(h * keep, m)
        return dt * (-1j * k) * np.fft.rfft(0.5 * u * u) * keep

    def run():
        h = np.fft.rfft(u0) * keep
        for _ in range(steps):
            a = nonlinear(h)
            b = nonlinear(half * (h + a / 2))
            c = nonlinear(half * h + b / 2)
            d = nonlinear(full * h + half * c)
            h = full * h + (full * a + 2 * half * (b + c) + d) / 6
        return np.fft.irfft(h, m)

    return run


def main():
    n = 512
    a = poisson_matrix(n)
    b = np.ones(n * n)
    x = spla.spsolve(a, b)
    residual = np.linalg.norm(a @ x - b) / np.linalg.norm(b)
    print(f"poisson_512 scipy_spsolve_ms {median_ms(lambda: spla.spsolve(a, b), 5):.1f} (residual {residual:.1e})")
    run = burgers_steps()
    print(f"burgers_2048 numpy_if_rk4_100_steps_ms {median_ms(run, 20):.2f}")


if __name__ == "__main__":
    main()
