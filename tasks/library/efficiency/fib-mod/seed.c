// Fibonacci modulo m: iterates the recurrence n times per query.
#include <stdio.h>

int main(void) {
    int t;
    if (scanf("%d", &t) != 1) return 1;
    while (t--) {
        unsigned long long n, m;
        if (scanf("%llu %llu", &n, &m) != 2) return 1;
        unsigned long long a = 0, b = 1 % m;
        for (unsigned long long i = 0; i < n; i++) {
            unsigned long long c = (a + b) % m;
            a = b;
            b = c;
        }
        printf("%llu\n", a);
    }
    return 0;
}
