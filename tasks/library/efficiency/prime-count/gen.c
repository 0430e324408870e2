// Generator for prime-count. Reads "SEED Q MAXN": Q queries uniform in [1, MAXN], the last = MAXN.
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
    int q;
    if (scanf("%llu %d %llu", &seed, &q, &maxn) != 3) return 1;
    state = seed;
    printf("%d\n", q);
    for (int i = 0; i < q; i++) {
        unsigned long long n = i == q - 1 ? maxn : 1 + next() % maxn;
        printf(i ? " %llu" : "%llu", n);
    }
    printf("\n");
    return 0;
}
