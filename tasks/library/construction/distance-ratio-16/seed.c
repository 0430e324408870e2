// A weak but valid start: the 16 points of the lattice spanned by (1, 0) and (SKEW, HEIGHT)
// nearest to the centre (CX, CY). A triangular lattice (SKEW = 0.5, HEIGHT = 0.866) packs
// points most evenly; the centre decides the cluster's shape.
#include <stdio.h>

#define N 16
#define SPAN 8

static const double SKEW = 0.4;    // hone:tune 0.0..0.5
static const double HEIGHT = 0.95; // hone:tune 0.6..1.2
static const double CX = 0.3;      // hone:tune 0.0..1.0
static const double CY = 0.2;      // hone:tune 0.0..1.0

int main(void) {
    double px[(2 * SPAN + 1) * (2 * SPAN + 1)], py[(2 * SPAN + 1) * (2 * SPAN + 1)];
    double d2[(2 * SPAN + 1) * (2 * SPAN + 1)];
    int count = 0;
    for (int a = -SPAN; a <= SPAN; a++) {
        for (int b = -SPAN; b <= SPAN; b++) {
            px[count] = a + b * SKEW;
            py[count] = b * HEIGHT;
            double dx = px[count] - CX * (1.0 + SKEW), dy = py[count] - CY * HEIGHT;
            d2[count] = dx * dx + dy * dy;
            count++;
        }
    }
    // The N nearest, by selection (ties: the first listed).
    for (int k = 0; k < N; k++) {
        int best = k;
        for (int i = k + 1; i < count; i++) {
            if (d2[i] < d2[best]) best = i;
        }
        double t;
        t = px[k]; px[k] = px[best]; px[best] = t;
        t = py[k]; py[k] = py[best]; py[best] = t;
        t = d2[k]; d2[k] = d2[best]; d2[best] = t;
        printf("%.17g %.17g\n", px[k], py[k]);
    }
    return 0;
}
