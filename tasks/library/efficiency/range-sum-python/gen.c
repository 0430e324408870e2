// Generator for range-sum. Reads "SEED N Q R".
#include <stdio.h>

static unsigned long long state;

static unsigned long long next(void) {
    unsigned long long z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int main(void) {
    unsigned long long seed;
    int n, q;
    long long r;
    if (scanf("%llu %d %d %lld", &seed, &n, &q, &r) != 4) return 1;
    state = seed;
    printf("%d %d\n", n, q);
    for (int i = 0; i < n; i++) printf(i ? " %lld" : "%lld", (long long)(next() % (unsigned long long)(2 * r + 1)) - r);
    printf("\n");
    for (int k = 0; k < q; k++) {
        int x = 1 + (int)(next() % (unsigned)n), y = 1 + (int)(next() % (unsigned)n);
        printf("%d %d\n", x < y ? x : y, x < y ? y : x);
    }
    return 0;
}
