#include <stdio.h>
#include <stdlib.h>

/* Merge sort counting, for each element taken from the right half, how many elements of
   the left half are larger. The count can reach n(n-1)/2, about 2 * 10^10: 64 bits. */
static int *a, *tmp;

static long long sort_count(int lo, int hi) {
    if (hi - lo < 2) return 0;
    int mid = lo + (hi - lo) / 2;
    long long count = sort_count(lo, mid) + sort_count(mid, hi);
    int i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
        if (a[j] < a[i]) { count += mid - i; tmp[k++] = a[j++]; }
        else tmp[k++] = a[i++];
    }
    while (i < mid) tmp[k++] = a[i++];
    while (j < hi) tmp[k++] = a[j++];
    for (k = lo; k < hi; k++) a[k] = tmp[k];
    return count;
}

int main(void) {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    a = malloc(sizeof(int) * (size_t)n);
    tmp = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) if (scanf("%d", &a[i]) != 1) return 1;
    printf("%lld\n", sort_count(0, n));
    return 0;
}
