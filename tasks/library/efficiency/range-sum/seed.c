// Range sums: adds up each range element by element.
#include <stdio.h>

static long long a[200001];

int main(void) {
    int n, q;
    if (scanf("%d %d", &n, &q) != 2) return 1;
    for (int i = 1; i <= n; i++) {
        if (scanf("%lld", &a[i]) != 1) return 1;
    }
    for (int k = 0; k < q; k++) {
        int l, r;
        if (scanf("%d %d", &l, &r) != 2) return 1;
        long long sum = 0;
        for (int i = l; i <= r; i++) sum += a[i];
        printf("%lld\n", sum);
    }
    return 0;
}
