// A weak but valid start: 11 points on a closed convex curve around the centroid of the
// triangle (0,0), (1,0), (1/2, √3/2), blended between its incircle (BLEND = 0) and the
// triangle's own sides (BLEND = 1), at angles spaced evenly from PHASE. No three points
// of a strictly convex curve are collinear, so every triangle has positive area. Points
// are pulled towards the centroid by a relative 1e-9 so the printed decimals lie inside
// the triangle exactly.
#include <math.h>
#include <stdio.h>

#define N 11

static const double BLEND = 0.5;  // hone:tune 0.0..0.95
static const double PHASE = 0.3;  // hone:tune 0.0..2.1
static const double SCALE = 1.0;  // hone:tune 0.5..1.0
static const double WARP = 0.0;   // hone:tune -0.3..0.3

int main(void) {
    const double s3 = sqrt(3.0);
    const double cx = 0.5, cy = s3 / 6.0;
    const double inradius = s3 / 6.0;
    const double pi = acos(-1.0);
    // The triangle's sides as inward normals n and offsets c: n . p >= c.
    const double nx[3] = {0.0, s3 / 2.0, -s3 / 2.0};
    const double ny[3] = {1.0, -0.5, -0.5};
    const double c[3] = {0.0, 0.0, -s3 / 2.0};
    for (int i = 0; i < N; i++) {
        double t = (double)i / N;
        double angle = PHASE + 2.0 * pi * (t + WARP * sin(2.0 * pi * t) / (2.0 * pi));
        double dx = cos(angle), dy = sin(angle);
        // Distance from the centroid to the triangle's boundary along (dx, dy).
        double reach = 1e9;
        for (int k = 0; k < 3; k++) {
            double towards = nx[k] * dx + ny[k] * dy;
            if (towards < 0.0) {
                double d = (c[k] - (nx[k] * cx + ny[k] * cy)) / towards;
                if (d < reach) reach = d;
            }
        }
        double radius = SCALE * ((1.0 - BLEND) * inradius + BLEND * reach);
        double px = cx + radius * dx * (1.0 - 1e-9);
        double py = cy + radius * dy * (1.0 - 1e-9);
        printf("%.17g %.17g\n", px, py);
    }
    return 0;
}
