// Generator for fib-mod. Reads "SEED T MAXN".
#include <stdio.h>

static unsigned long long state;

static unsigned long long next(void) {
    unsigned long long z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int main(void) {
    unsigned long long seed, maxn;
    int t;
    if (scanf("%llu %d %llu", &seed, &t, &maxn) != 3) return 1;
    state = seed;
    printf("%d\n", t);
    for (int i = 0; i < t; i++) {
        unsigned long long n = next() % (maxn + 1), m = 1 + next() % 2000000000ULL;
        printf("%llu %llu\n", n, m);
    }
    return 0;
}
