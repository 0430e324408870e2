#include <stdio.h>

/* seen[v] holds the number of the last test case that contained v, so nothing needs
   clearing between test cases. */
static int seen[1000001];

int main(void) {
    int t;
    if (scanf("%d", &t) != 1) return 1;
    for (int c = 1; c <= t; c++) {
        int n, distinct = 0;
        if (scanf("%d", &n) != 1) return 1;
        for (int i = 0; i < n; i++) {
            int v;
            if (scanf("%d", &v) != 1) return 1;
            if (seen[v] != c) { seen[v] = c; distinct++; }
        }
        printf("%d\n", distinct);
    }
    return 0;
}
