// Generator for lcs. Reads "SEED LEN_A LEN_B ALPHABET".
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
    int la, lb, sigma;
    if (scanf("%llu %d %d %d", &seed, &la, &lb, &sigma) != 4) return 1;
    state = seed;
    for (int i = 0; i < la; i++) putchar('a' + (int)(next() % (unsigned)sigma));
    putchar('\n');
    for (int i = 0; i < lb; i++) putchar('a' + (int)(next() % (unsigned)sigma));
    putchar('\n');
    return 0;
}
