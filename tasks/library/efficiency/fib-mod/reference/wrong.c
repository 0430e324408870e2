// Subtly wrong: fast doubling that computes 2 F(k+1) - F(k) without adding m first, so
// the unsigned subtraction wraps around whenever 2 F(k+1) < F(k).
#include <stdio.h>

typedef unsigned long long u64;

static void fib(u64 n, u64 m, u64 *fn, u64 *fn1) {
    if (n == 0) {
        *fn = 0;
        *fn1 = 1 % m;
        return;
    }
    u64 a, b;
    fib(n / 2, m, &a, &b);
    u64 c = a * ((2 * b - a) % m) % m;
    u64 d = (a * a % m + b * b % m) % m;
    if (n % 2 == 0) {
        *fn = c;
        *fn1 = d;
    } else {
        *fn = d;
        *fn1 = (c + d) % m;
    }
}

int main(void) {
    int t;
    if (scanf("%d", &t) != 1) return 1;
    while (t--) {
        u64 n, m, a, b;
        if (scanf("%llu %llu", &n, &m) != 2) return 1;
        fib(n, m, &a, &b);
        printf("%llu\n", a);
    }
    return 0;
}
