#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input: see the statement (binary, little-endian, magic HONEPDE1). */
static void read_exact(void *buffer, size_t bytes) {
    if (fread(buffer, 1, bytes, stdin) != bytes) {
        fprintf(stderr, "input ended early\n");
        exit(1);
    }
}

static uint32_t read_u32(void) {
    uint32_t v;
    read_exact(&v, 4);
    return v;
}

typedef struct {
    uint32_t equation, batch, nx, nt, np;
    double *times, params[8], *data;
} Input;

static Input read_input(int darcy) {
    Input in;
    char magic[8];
    read_exact(magic, 8);
    if (memcmp(magic, "HONEPDE1", 8) != 0) {
        fprintf(stderr, "bad magic\n");
        exit(1);
    }
    in.equation = read_u32();
    in.batch = read_u32();
    in.nx = read_u32();
    in.nt = read_u32();
    in.times = malloc((in.nt + 1) * sizeof(double));
    read_exact(in.times, in.nt * sizeof(double));
    in.np = read_u32();
    if (in.np > 8) exit(1);
    read_exact(in.params, in.np * sizeof(double));
    size_t values = (size_t)in.batch * in.nx * (darcy ? in.nx : 1);
    in.data = malloc(values * sizeof(double));
    read_exact(in.data, values * sizeof(double));
    return in;
}

/* Solves T x = d in place for the tridiagonal T with sub-diagonal a, super-diagonal c and
 * diagonal b, except b0 at row 0 and bn at row n-1 (Thomas algorithm; cp is scratch). */
static void thomas(int n, double a, double b, double c, double b0, double bn, double *d,
                   double *cp) {
    double beta = b0;
    cp[0] = c / beta;
    d[0] /= beta;
    for (int i = 1; i < n; i++) {
        beta = (i == n - 1 ? bn : b) - a * cp[i - 1];
        cp[i] = c / beta;
        d[i] = (d[i] - a * d[i - 1]) / beta;
    }
    for (int i = n - 2; i >= 0; i--) d[i] -= cp[i] * d[i + 1];
}

/* Seed: first-order splitting. Each step moves (u^2/2)_x explicitly with the first-order
 * Rusanov (local Lax-Friedrichs) flux at a CFL number of 0.8, then the diffusion term by
 * backward Euler (a periodic tridiagonal solve, Sherman-Morrison). The header's parameter
 * is the diffusion coefficient itself (nu / pi in the statement's notation). Valid but first
 * order. */
int main(void) {
    Input in = read_input(0);
    int nx = in.nx, nt = in.nt;
    double nu = in.params[0], dx = 1.0 / nx; /* the coefficient of u_xx: nu / pi */
    double *out = malloc((size_t)in.batch * nt * nx * sizeof(double));
    double *u = malloc(nx * sizeof(double)), *next = malloc(nx * sizeof(double));
    double *flux = malloc(nx * sizeof(double)), *z = malloc(nx * sizeof(double));
    double *cp = malloc(nx * sizeof(double));
    for (uint32_t b = 0; b < in.batch; b++) {
        memcpy(u, in.data + (size_t)b * nx, nx * sizeof(double));
        memcpy(out + (size_t)b * nt * nx, u, nx * sizeof(double));
        double peak = 1e-6;
        for (int j = 0; j < nx; j++) peak = fmax(peak, fabs(u[j]));
        double dt_max = 0.8 * dx / peak;
        for (int k = 1; k < nt; k++) {
            double span = in.times[k] - in.times[k - 1];
            int steps = (int)ceil(span / dt_max);
            double dt = span / steps;
            /* (1 + 2r) u_j - r (u_{j-1} + u_{j+1}) = u*_j, periodic: corners -r. */
            double r = nu * dt / (dx * dx), diag = 1 + 2 * r, off = -r, gamma = -diag;
            double b0 = diag - gamma, bn = diag - off * off / gamma;
            for (int j = 0; j < nx; j++) z[j] = 0;
            z[0] = gamma;
            z[nx - 1] = off;
            thomas(nx, off, diag, off, b0, bn, z, cp);
            for (int s = 0; s < steps; s++) {
                /* flux[j] is the numerical flux at the face between j and j+1. */
                for (int j = 0; j < nx; j++) {
                    double a = u[j], c = u[(j + 1) % nx];
                    double speed = fmax(fabs(a), fabs(c));
                    flux[j] = 0.25 * (a * a + c * c) - 0.5 * speed * (c - a);
                }
                for (int j = 0; j < nx; j++)
                    next[j] = u[j] - dt / dx * (flux[j] - flux[(j + nx - 1) % nx]);
                thomas(nx, off, diag, off, b0, bn, next, cp);
                double fact = (next[0] + off * next[nx - 1] / gamma) /
                              (1 + z[0] + off * z[nx - 1] / gamma);
                for (int j = 0; j < nx; j++) next[j] -= fact * z[j];
                double *t = u; u = next; next = t;
            }
            memcpy(out + ((size_t)b * nt + k) * nx, u, nx * sizeof(double));
        }
    }
    fwrite(out, sizeof(double), (size_t)in.batch * nt * nx, stdout);
    return 0;
}
