// Generator for shortest-paths. Reads "SEED N M MAXW"; the source is vertex 1.
#include <stdio.h>

static unsigned long long state;

static unsigned long long next(void) {
    unsigned long long z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int main(void) {
    unsigned long long seed, maxw;
    int n, m;
    if (scanf("%llu %d %d %llu", &seed, &n, &m, &maxw) != 4) return 1;
    state = seed;
    printf("%d %d 1\n", n, m);
    for (int i = 0; i < m; i++) {
        int u = 1 + (int)(next() % (unsigned)n), v = 1 + (int)(next() % (unsigned)n);
        printf("%d %d %llu\n", u, v, next() % (maxw + 1));
    }
    return 0;
}
