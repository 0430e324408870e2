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

/* Seed: the cell-centred five-point finite-volume scheme (harmonic means of a on faces,
 * half-cell distance to the u = 0 boundary) solved by a fixed number of Jacobi sweeps.
 * Valid but slow, and not fully converged. */
int main(void) {
    Input in = read_input(1);
    int n = in.nx;
    size_t cells = (size_t)n * n;
    double *out = malloc(in.batch * cells * sizeof(double));
    double *u = malloc(cells * sizeof(double)), *next = malloc(cells * sizeof(double));
    double *tw = malloc(cells * sizeof(double)), *te = malloc(cells * sizeof(double));
    double *ts = malloc(cells * sizeof(double)), *tn = malloc(cells * sizeof(double));
    double h2 = 1.0 / ((double)n * n);
    for (uint32_t b = 0; b < in.batch; b++) {
        const double *a = in.data + b * cells;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                size_t p = (size_t)i * n + j;
                double ap = a[p];
                tw[p] = j > 0 ? 2 * ap * a[p - 1] / (ap + a[p - 1]) : 2 * ap;
                te[p] = j + 1 < n ? 2 * ap * a[p + 1] / (ap + a[p + 1]) : 2 * ap;
                ts[p] = i > 0 ? 2 * ap * a[p - n] / (ap + a[p - n]) : 2 * ap;
                tn[p] = i + 1 < n ? 2 * ap * a[p + n] / (ap + a[p + n]) : 2 * ap;
                u[p] = 0;
            }
        }
        for (int sweep = 0; sweep < 2000; sweep++) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    size_t p = (size_t)i * n + j;
                    double sum = h2;
                    if (j > 0) sum += tw[p] * u[p - 1];
                    if (j + 1 < n) sum += te[p] * u[p + 1];
                    if (i > 0) sum += ts[p] * u[p - n];
                    if (i + 1 < n) sum += tn[p] * u[p + n];
                    next[p] = sum / (tw[p] + te[p] + ts[p] + tn[p]);
                }
            }
            double *t = u; u = next; next = t;
        }
        memcpy(out + b * cells, u, cells * sizeof(double));
    }
    fwrite(out, sizeof(double), in.batch * cells, stdout);
    return 0;
}
