#include <stdio.h>
#include <stdlib.h>

/* Bottom-up merge sort: O(n log n) on every input. */
int main(void) {
    int n, k;
    if (scanf("%d %d", &n, &k) != 2) return 1;
    int *a = malloc(sizeof(int) * (size_t)n), *b = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) if (scanf("%d", &a[i]) != 1) return 1;
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n;
            int hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, t = lo;
            while (i < mid && j < hi) b[t++] = a[j] < a[i] ? a[j++] : a[i++];
            while (i < mid) b[t++] = a[i++];
            while (j < hi) b[t++] = a[j++];
        }
        int *swap = a; a = b; b = swap;
    }
    printf("%d\n", a[k - 1]);
    return 0;
}
