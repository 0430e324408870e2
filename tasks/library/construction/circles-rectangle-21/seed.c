// A weak but valid start: a W x (2 - W) rectangle (perimeter 4), centres in ROWS staggered
// rows, then each radius grown as far as the rectangle's sides and the other circles
// allow (coordinate ascent, which keeps every constraint satisfied), less a tiny margin so
// the printed decimals stay valid exactly.
#include <math.h>
#include <stdio.h>

#define N 21
#define ROWS 4 // hone:tune 2..7 int

static const double WIDTH = 1.0;     // hone:tune 0.6..1.4
static const double STAGGER = 0.25;  // hone:tune -0.5..0.5
static const double EDGE = 0.02;     // hone:tune 0.0..0.2
static const double ROW_EDGE = 0.02; // hone:tune 0.0..0.2

static double x[N], y[N], r[N];

int main(void) {
    double w = WIDTH, h = 2.0 - WIDTH;
    int placed = 0;
    for (int k = 0; k < ROWS; k++) {
        int count = N / ROWS + (k < N % ROWS ? 1 : 0);
        double shift = (k % 2) ? STAGGER : 0.0;
        for (int j = 0; j < count; j++, placed++) {
            double t = (j + 0.5 + shift) / count;
            if (t < 0.0) t = 0.0;
            if (t > 1.0) t = 1.0;
            x[placed] = w * (EDGE + (1.0 - 2.0 * EDGE) * t);
            y[placed] = h * (ROW_EDGE + (1.0 - 2.0 * ROW_EDGE) * (k + 0.5) / ROWS);
        }
    }
    for (int pass = 0; pass < 200; pass++) {
        for (int i = 0; i < N; i++) {
            double best = fmin(fmin(x[i], w - x[i]), fmin(y[i], h - y[i]));
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
