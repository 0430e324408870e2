/* A sandboxed objective program: reads {"x": .., "y": .., "n": ..} on stdin, prints the value
 * of a rotated, ill-conditioned quadratic (lower is better) and a line of feedback. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void) {
    static char input[1 << 16];
    size_t len = fread(input, 1, sizeof input - 1, stdin);
    input[len] = 0;
    double x, y, n;
    if (!json_number(input, "x", &x) || !json_number(input, "y", &y) || !json_number(input, "n", &n)) {
        fprintf(stderr, "expected a JSON object with x, y and n\n");
        return 2;
    }
    double u = (x + y) / sqrt(2.0), v = (y - x) / sqrt(2.0);
    double q = 25.0 * (u - 1.5) * (u - 1.5) + (v + 2.0) * (v + 2.0) + 0.5 * (n - 7.0) * (n - 7.0);
    printf("%.17g\n", q);
    printf("q(x=%g, y=%g, n=%g) = %.6g\n", x, y, n, q);
    return 0;
}
