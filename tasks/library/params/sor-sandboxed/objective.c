/* The SOR objective of tasks/library/params/sor, written as a sandboxed objective program.
 *
 * Reads the variables as a JSON object on stdin ({"omega": 1.7}), solves the same sequence
 * of shifted Laplacian systems as the native objective `sor` (same SplitMix64 stream, same
 * operation order, so the same iteration counts), prints the total iteration count on the
 * first line and feedback on the following lines. task.toml says direction = "minimize". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSTANCES 200
#define SEED 7
#define M 10
#define W (M + 2)
#define TOL 1e-8
#define MAX_ITER 10000

static uint64_t state;

static uint64_t next_u64(void) {
    state += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double uniform(void) { return (double)(next_u64() >> 11) * (1.0 / 9007199254740992.0); }

/* Beta(1/2, 3/2): u² for (u, v) uniform on the quarter disc. */
static double beta_half_three_halves(void) {
    for (;;) {
        double u = uniform();
        double v = uniform();
        if (u * u + v * v <= 1.0) return u * u;
    }
}

/* Finds "name" in the JSON text and parses the number after its colon. */
static int json_number(const char *text, const char *name, double *out) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\"", name);
    const char *p = strstr(text, key);
    if (!p) return 0;
    p = strchr(p + strlen(key), ':');
    if (!p) return 0;
    char *end;
    double v = strtod(p + 1, &end);
    if (end == p + 1) return 0;
    *out = v;
    return 1;
}

static double b[W * W];
static double x[W * W];

int main(void) {
    static char input[1 << 16];
    size_t len = fread(input, 1, sizeof input - 1, stdin);
    input[len] = 0;
    double omega;
    if (!json_number(input, "omega", &omega)) {
        fprintf(stderr, "no \"omega\" in the input\n");
        return 2;
    }
    state = SEED;
    long total = 0;
    int worst = 0, worst_t = 0, unconverged = 0;
    double worst_c = 0.0;
    for (int t = 0; t < INSTANCES; t++) {
        double c = -0.15 + 0.6 * beta_half_three_halves();
        memset(b, 0, sizeof b);
        memset(x, 0, sizeof x);
        for (int row = 0; row < M; row++)
            for (int col = 0; col < M; col++) b[(row + 1) * W + col + 1] = 2.0 * uniform() - 1.0;
        double d = 4.0 + c;
        double bb = 0.0;
        for (int k = 0; k < W * W; k++) bb += b[k] * b[k];
        double norm0 = sqrt(bb);
        int iterations = MAX_ITER, converged = 0;
        double keep = 1.0 - omega;
        double wd = omega / d;
        for (int it = 1; it <= MAX_ITER; it++) {
            for (int row = 1; row <= M; row++)
                for (int k = row * W + 1; k < row * W + M + 1; k++) {
                    double rest = b[k] + x[k + 1] + x[k - W] + x[k + W];
                    x[k] = keep * x[k] + wd * (rest + x[k - 1]);
                }
            double rr = 0.0;
            for (int row = 1; row <= M; row++)
                for (int k = row * W + 1; k < row * W + M + 1; k++) {
                    double r = b[k] + x[k - 1] + x[k + 1] + x[k - W] + x[k + W] - d * x[k];
                    rr += r * r;
                }
            double residual = sqrt(rr) / norm0;
            if (residual < TOL) {
                iterations = it;
                converged = 1;
                break;
            }
            if (!isfinite(residual) || residual > 1e12) break;
        }
        if (!converged) unconverged++;
        total += iterations;
        if (iterations > worst) {
            worst = iterations;
            worst_t = t;
            worst_c = c;
        }
    }
    printf("%ld\n", total);
    printf("SOR iterations summed over %d systems at omega = %g\n", INSTANCES, omega);
    printf("hardest system t=%d (c_t = %+.4f): %d iterations\n", worst_t, worst_c, worst);
    if (unconverged) printf("%d systems did not converge within %d iterations\n", unconverged, MAX_ITER);
    return 0;
}
