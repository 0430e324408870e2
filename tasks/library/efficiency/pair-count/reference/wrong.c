// Subtly wrong: sorts and scans with two pointers, but counts a run of equal values
// summing to K as m*(m+1)/2 pairs instead of m*(m-1)/2.
#include <stdio.h>
#include <stdlib.h>

static long long a[200000];

static int cmp(const void *x, const void *y) {
    long long u = *(const long long *)x, v = *(const long long *)y;
    return (u > v) - (u < v);
}

int main(void) {
    int n;
    long long k;
    if (scanf("%d %lld", &n, &k) != 2) return 1;
    for (int i = 0; i < n; i++) scanf("%lld", &a[i]);
    qsort(a, n, sizeof a[0], cmp);
    long long count = 0;
    int i = 0, j = n - 1;
    while (i < j) {
        long long s = a[i] + a[j];
        if (s < k) {
            i++;
        } else if (s > k) {
            j--;
        } else if (a[i] == a[j]) {
            long long m = j - i + 1;
            count += m * (m + 1) / 2;
            break;
        } else {
            long long ci = 1, cj = 1;
            while (i + ci < j && a[i + ci] == a[i]) ci++;
            while (j - cj > i && a[j - cj] == a[j]) cj++;
            count += ci * cj;
            i += ci;
            j -= cj;
        }
    }
    printf("%lld\n", count);
    return 0;
}
