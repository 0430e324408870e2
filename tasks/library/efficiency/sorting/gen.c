// Generator for sorting. Reads "SEED N BITS".
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
    int n, bits;
    if (scanf("%llu %d %d", &seed, &n, &bits) != 3) return 1;
    state = seed;
    unsigned long long span = (2ULL << bits) + 1;
    printf("%d\n", n);
    for (int i = 0; i < n; i++) printf(i ? " %lld" : "%lld", (long long)(next() % span) - (1LL << bits));
    printf("\n");
    return 0;
}
