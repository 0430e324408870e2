// Generator for pair-count. Reads "SEED N R MODE": N values uniform in [-R, R];
// MODE 0: K is the sum of two random elements; MODE 1: K is twice a random element.
#include <stdio.h>

static unsigned long long state;

static unsigned long long next(void) {
    unsigned long long z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static long long a[200000];

int main(void) {
    unsigned long long seed;
    int n, mode;
    long long r;
    if (scanf("%llu %d %lld %d", &seed, &n, &r, &mode) != 4) return 1;
    state = seed;
    for (int i = 0; i < n; i++) a[i] = (long long)(next() % (unsigned long long)(2 * r + 1)) - r;
    long long x = a[next() % n], y = a[next() % n];
    long long k = mode == 1 ? 2 * x : x + y;
    printf("%d %lld\n", n, k);
    for (int i = 0; i < n; i++) printf(i ? " %lld" : "%lld", a[i]);
    printf("\n");
    return 0;
}
