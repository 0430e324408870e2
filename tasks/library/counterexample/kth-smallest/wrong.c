#include <stdio.h>

/* Quickselect, expected O(n). */
int a[200000];

void swap(int *x, int *y) { int t = *x; *x = *y; *y = t; }

int partition(int lo, int hi) {
    int pivot = a[hi];
    int i = lo;
    for (int j = lo; j < hi; j++) {
        if (a[j] < pivot) {
            swap(&a[i], &a[j]);
            i++;
        }
    }
    swap(&a[i], &a[hi]);
    return i;
}

int main() {
    int n, k;
    scanf("%d %d", &n, &k);
    for (int i = 0; i < n; i++) scanf("%d", &a[i]);
    int lo = 0, hi = n - 1;
    k--;
    while (lo < hi) {
        int p = partition(lo, hi);
        if (p == k) break;
        if (p < k) lo = p + 1;
        else hi = p - 1;
    }
    printf("%d\n", a[k]);
    return 0;
}
