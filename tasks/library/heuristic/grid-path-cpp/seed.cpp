// A simple start: a greedy walk that steps to the free neighbour with the best
// value^VALUE_POWER + DEGREE_WEIGHT * (its free neighbours) + a random nudge, restarted
// with new nudges until the time limit; the best walk is printed. The limit reads
// gettimeofday(), which in hone's sandbox advances with the instructions executed, so the
// search stops at the same place on every run.
#include <bits/stdc++.h>
#include <sys/time.h>
using namespace std;

constexpr double TIME_LIMIT = 0.2;    // seconds of virtual time for the restarts
constexpr double VALUE_POWER = 1.0;   // hone:tune 0.2..3.0
constexpr double DEGREE_WEIGHT = 0.2; // hone:tune 0.0..20.0
constexpr double NOISE = 1.5;         // hone:tune 0.0..5.0

static double now_seconds() {
    timeval tv;
    gettimeofday(&tv, nullptr);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}

int main() {
    double start = now_seconds();
    int n, k;
    if (!(cin >> n >> k)) return 1;
    vector<string> grid(n);
    for (auto& row : grid) cin >> row;
    const int dr[4] = {-1, 1, 0, 0}, dc[4] = {0, 0, -1, 1};
    const char name[4] = {'U', 'D', 'L', 'R'};
    vector<char> visited(n * n);
    auto free_cell = [&](int r, int c) {
        return r >= 0 && c >= 0 && r < n && c < n && grid[r][c] != '#' && !visited[r * n + c];
    };

    mt19937 rng(7);
    uniform_real_distribution<double> unit(0.0, 1.0);
    string best_path;
    long long best_total = -1;
    for (int attempt = 0; attempt == 0 || now_seconds() - start < TIME_LIMIT; attempt++) {
        fill(visited.begin(), visited.end(), 0);
        visited[0] = 1;
        int r = 0, c = 0;
        long long total = grid[0][0] - '0';
        string path;
        // The first walk is the plain greedy one; later ones add noise.
        double noise = attempt == 0 ? 0.0 : NOISE;
        while ((int)path.size() < k) {
            int best = -1;
            double best_key = 0;
            for (int m = 0; m < 4; m++) {
                int nr = r + dr[m], nc = c + dc[m];
                if (!free_cell(nr, nc)) continue;
                int degree = 0;
                for (int e = 0; e < 4; e++) {
                    int er = nr + dr[e], ec = nc + dc[e];
                    if ((er != r || ec != c) && free_cell(er, ec)) degree++;
                }
                double key = pow(grid[nr][nc] - '0', VALUE_POWER) + DEGREE_WEIGHT * degree +
                             noise * unit(rng);
                if (best < 0 || key > best_key) best = m, best_key = key;
            }
            if (best < 0) break;
            r += dr[best];
            c += dc[best];
            visited[r * n + c] = 1;
            total += grid[r][c] - '0';
            path += name[best];
        }
        if (total > best_total) best_total = total, best_path = path;
    }
    puts(best_path.c_str());
    return 0;
}
