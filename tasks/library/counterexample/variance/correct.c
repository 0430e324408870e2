#include <stdio.h>

/* Exact: n^2 * variance = n * sum(x^2) - (sum x)^2, at most 10^5 * 10^5 * 10^18 = 10^28,
   which a 128-bit integer holds; one rounding happens at the final division. */
int main(void) {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    __int128 sum = 0, squares = 0;
    for (int i = 0; i < n; i++) {
        long long x;
        if (scanf("%lld", &x) != 1) return 1;
        sum += x;
        squares += (__int128)x * x;
    }
    __int128 numerator = (__int128)n * squares - sum * sum;
    double variance = (double)numerator / ((double)n * (double)n);
    printf("%.6f\n", variance);
    return 0;
}
