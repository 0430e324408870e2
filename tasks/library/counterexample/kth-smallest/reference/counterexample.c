#include <stdio.h>

/* Sorted input with k = 1: the last-element pivot is always the maximum, so each partition
   removes one element and quickselect does about n^2 / 2 comparisons (n = 50000 is plenty). */
int main(void) {
    int n = 50000;
    printf("%d 1\n", n);
    for (int i = 1; i <= n; i++) printf(i > 1 ? " %d" : "%d", i);
    printf("\n");
    return 0;
}
