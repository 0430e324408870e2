// Known faster solution: merge sort counting the inversions it undoes, O(n log n).
#include <stdio.h>
#include <stdlib.h>

static int a[200000], tmp[200000];
static char buf[1 << 22];

static long long sort_count(int lo, int hi) {
    if (hi - lo < 2) return 0;
    int mid = lo + (hi - lo) / 2;
    long long count = sort_count(lo, mid) + sort_count(mid, hi);
    int i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
        if (a[j] < a[i]) {
            count += mid - i;
            tmp[k++] = a[j++];
        } else {
            tmp[k++] = a[i++];
        }
    }
    while (i < mid) tmp[k++] = a[i++];
    while (j < hi) tmp[k++] = a[j++];
    for (k = lo; k < hi; k++) a[k] = tmp[k];
    return count;
}

int main(void) {
    size_t len = fread(buf, 1, sizeof buf - 1, stdin);
    buf[len] = 0;
    char *p = buf;
    int n = (int)strtol(p, &p, 10);
    for (int i = 0; i < n; i++) a[i] = (int)strtol(p, &p, 10);
    printf("%lld\n", sort_count(0, n));
    return 0;
}
