#include <stdio.h>

/* A starting generator: 1000 pseudo-random values, k in the middle. */
int main(void) {
    int n = 1000;
    unsigned x = 12345;
    printf("%d %d\n", n, n / 2);
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        printf(i ? " %u" : "%u", 1 + (x >> 8) % 1000000000u);
    }
    printf("\n");
    return 0;
}
