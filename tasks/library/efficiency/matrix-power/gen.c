// Generator for matrix-power. Reads "SEED N K".
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
    int n, k;
    if (scanf("%llu %d %d", &seed, &n, &k) != 3) return 1;
    state = seed;
    printf("%d %d\n", n, k);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) printf(j ? " %llu" : "%llu", next() % 1000000007ULL);
        printf("\n");
    }
    return 0;
}
