// Subtly wrong: prefix sums stored as `long`, which is 32 bits on wasm32, so sums past
// 2^31 wrap around (the same code is right on a 64-bit host).
#include <stdio.h>

static long prefix[200001];

int main(void) {
    int n, q;
    if (scanf("%d %d", &n, &q) != 2) return 1;
    for (int i = 1; i <= n; i++) {
        long long v;
        if (scanf("%lld", &v) != 1) return 1;
        prefix[i] = prefix[i - 1] + (long)v;
    }
    for (int k = 0; k < q; k++) {
        int l, r;
        if (scanf("%d %d", &l, &r) != 2) return 1;
        printf("%ld\n", prefix[r] - prefix[l - 1]);
    }
    return 0;
}
