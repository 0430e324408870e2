// A weak but valid start: centres in ROWS staggered rows, then each radius grown as far as
// the square's sides and the other circles allow (coordinate ascent, which keeps every
// constraint satisfied), less a tiny margin so the printed decimals stay valid exactly.
#include <math.h>
#include <stdio.h>

#define N 26
#define ROWS 5 // hone:tune 3..8 int

static const double STAGGER = 0.25;  // hone:tune -0.5..0.5
static const double EDGE = 0.02;     // hone:tune 0.0..0.2
static const double ROW_EDGE = 0.02; // hone:tune 0.0..0.2

static double x[N], y[N], r[N];

int main(void) {
    int placed = 0;
    for (int k = 0; k < ROWS; k++) {
        int count = N / ROWS + (k < N % ROWS ? 1 : 0);
        double shift = (k % 2) ? STAGGER : 0.0;
        for (int j = 0; j < count; j++, placed++) {
            double t = (j + 0.5 + shift) / count;
            if (t < 0.0) t = 0.0;
            if (t > 1.0) t = 1.0;
            x[placed] = EDGE + (1.0 - 2.0 * EDGE) * t;
            y[placed] = ROW_EDGE + (1.0 - 2.0 * ROW_EDGE) * (k + 0.5) / ROWS;
        }
    }
    for (int pass = 0; pass < 200; pass++) {
        for (int i = 0; i < N; i++) {
            double best = fmin(fmin(x[i], 1.0 - x[i]), fmin(y[i], 1.0 - y[i]));
            for (int j = 0; j < N; j++) {
                if (j == i) continue;
                double d = hypot(x[i] - x[j], y[i] - y[j]) - r[j];
                if (d < best) best = d;
            }
            r[i] = best > 0.0 ? best : 0.0;
        }
    }
    for (int i = 0; i < N; i++) {
        double radius = r[i] - 1e-12;
        printf("%.17g %.17g %.17g\n", x[i], y[i], radius > 0.0 ? radius : 0.0);
    }
    return 0;
}
