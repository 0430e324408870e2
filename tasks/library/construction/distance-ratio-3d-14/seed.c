// A weak but valid start: the 14 points of the lattice spanned by (1, 0, 0), (A, B, 0)
// and (C, D, E) nearest to the centre (CX, CY, CZ). The face-centred cubic lattice
// (A = C = 0.5, B = 0.866, D = 0.289, E = 0.816) packs points most evenly.
#include <stdio.h>

#define N 14
#define SPAN 4
#define SIDE (2 * SPAN + 1)

static const double A = 0.4;  // hone:tune 0.0..0.5
static const double B = 0.95; // hone:tune 0.6..1.2
static const double C = 0.4;  // hone:tune 0.0..0.5
static const double D = 0.3;  // hone:tune 0.0..0.6
static const double E = 0.9;  // hone:tune 0.5..1.2
static const double CX = 0.3; // hone:tune 0.0..1.0
static const double CY = 0.2; // hone:tune 0.0..1.0
static const double CZ = 0.1; // hone:tune 0.0..1.0

int main(void) {
    static double p[SIDE * SIDE * SIDE][3], d2[SIDE * SIDE * SIDE];
    int count = 0;
    for (int i = -SPAN; i <= SPAN; i++) {
        for (int j = -SPAN; j <= SPAN; j++) {
            for (int k = -SPAN; k <= SPAN; k++) {
                p[count][0] = i + j * A + k * C;
                p[count][1] = j * B + k * D;
                p[count][2] = k * E;
                double dx = p[count][0] - CX, dy = p[count][1] - CY, dz = p[count][2] - CZ;
                d2[count] = dx * dx + dy * dy + dz * dz;
                count++;
            }
        }
    }
    for (int k = 0; k < N; k++) {
        int best = k;
        for (int i = k + 1; i < count; i++) {
            if (d2[i] < d2[best]) best = i;
        }
        for (int c = 0; c < 3; c++) {
            double t = p[k][c]; p[k][c] = p[best][c]; p[best][c] = t;
        }
        double t = d2[k]; d2[k] = d2[best]; d2[best] = t;
        printf("%.17g %.17g %.17g\n", p[k][0], p[k][1], p[k][2]);
    }
    return 0;
}
