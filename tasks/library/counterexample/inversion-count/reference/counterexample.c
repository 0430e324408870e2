#include <stdio.h>

/* A strictly decreasing sequence of length 100000: n(n-1)/2 = 4999950000
   inversions, more than a 32-bit int holds. */
int main(void) {
    int n = 100000;
    printf("%d\n", n);
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", n - i);
    printf("\n");
    return 0;
}
