#include <stdio.h>

/* A strictly decreasing sequence of the largest allowed length: n(n-1)/2 = 19999900000
   inversions, more than a 32-bit int holds. */
int main(void) {
    int n = 200000;
    printf("%d\n", n);
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", n - i);
    printf("\n");
    return 0;
}
