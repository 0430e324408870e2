// A simple valid start: every company gets the 1x1 square at its point, then a
// time-limited hill climb grows one side of one rectangle at a time, keeping a move when
// the rectangle stays inside the square, overlaps no other rectangle and its company's
// satisfaction does not drop. (Rectangles that never overlap and each hold their own point
// never cover another company's point.) The time limit reads std::chrono::steady_clock,
// which in hone's sandbox advances with the instructions executed, so the loop stops at
// the same place on every run.
#include <bits/stdc++.h>
using namespace std;

constexpr int SIDE = 10000;
constexpr double TIME_LIMIT = 0.25;  // seconds of virtual time for the improvement loop
constexpr double MAX_STEP = 0.5;     // hone:tune 0.05..1.0
constexpr double OVERSHOOT = 1.0;    // hone:tune 1.0..1.3

struct Rect {
    int a, b, c, d;
    long long area() const { return (long long)(c - a) * (d - b); }
};

static bool overlaps(const Rect& p, const Rect& q) {
    return max(p.a, q.a) < min(p.c, q.c) && max(p.b, q.b) < min(p.d, q.d);
}

static double satisfaction(long long r, long long s) {
    double t = 1.0 - (double)min(r, s) / (double)max(r, s);
    return 1.0 - t * t;
}

int main() {
    auto start = chrono::steady_clock::now();
    int n;
    if (!(cin >> n)) return 1;
    vector<int> x(n), y(n);
    vector<long long> r(n);
    for (int i = 0; i < n; i++) cin >> x[i] >> y[i] >> r[i];

    vector<Rect> rects(n);
    for (int i = 0; i < n; i++) rects[i] = {x[i], y[i], x[i] + 1, y[i] + 1};

    mt19937 rng(20210307);
    auto elapsed = [&] {
        return chrono::duration<double>(chrono::steady_clock::now() - start).count();
    };
    for (long long iter = 0;; iter++) {
        if ((iter & 63) == 0 && elapsed() > TIME_LIMIT) break;
        int i = (int)(rng() % n);
        Rect cur = rects[i];
        long long missing = (long long)(r[i] * OVERSHOOT) - cur.area();
        if (missing <= 0) continue;
        int side = (int)(rng() % 4);
        // The longest step that keeps the area within the target, then a random part of it.
        int across = side < 2 ? cur.d - cur.b : cur.c - cur.a;
        long long longest = max(1LL, (long long)(missing / across * MAX_STEP));
        int step = 1 + (int)(rng() % (unsigned long long)longest);
        Rect next = cur;
        switch (side) {
            case 0: next.a = max(0, cur.a - step); break;
            case 1: next.c = min(SIDE, cur.c + step); break;
            case 2: next.b = max(0, cur.b - step); break;
            default: next.d = min(SIDE, cur.d + step); break;
        }
        if (next.area() == cur.area()) continue;
        if (satisfaction(r[i], next.area()) < satisfaction(r[i], cur.area())) continue;
        bool free = true;
        for (int j = 0; j < n && free; j++) {
            if (j != i && overlaps(next, rects[j])) free = false;
        }
        if (free) rects[i] = next;
    }

    string out;
    for (const Rect& q : rects) {
        out += to_string(q.a) + ' ' + to_string(q.b) + ' ' + to_string(q.c) + ' ' + to_string(q.d) + '\n';
    }
    fputs(out.c_str(), stdout);
    return 0;
}
