#include <stdint.h>
#include <stdio.h>

/* The seed arrives on stdin as a decimal number; splitmix64 turns it into a stream. */
static uint64_t rng_state;

static uint64_t next_u64(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static long long uniform(long long lo, long long hi) {
    return lo + (long long)(next_u64() % (uint64_t)(hi - lo + 1));
}

static void seed_from_stdin(void) {
    unsigned long long seed = 0;
    if (scanf("%llu", &seed) != 1) seed = 0;
    rng_state = seed;
}

/* Small random tests: 1 <= n <= 10, values uniform in [-10^9, 10^9]. */
int main(void) {
    seed_from_stdin();
    int n = (int)uniform(1, 10);
    printf("%d\n", n);
    for (int i = 0; i < n; i++) printf(i ? " %lld" : "%lld", uniform(-1000000000, 1000000000));
    printf("\n");
    return 0;
}
