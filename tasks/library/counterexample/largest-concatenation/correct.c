#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* x goes before y iff xy > yx as strings of equal length; this order is transitive. */
static char words[100000][12];
static char *order[100000];

static int before(const void *pa, const void *pb) {
    const char *x = *(char *const *)pa, *y = *(char *const *)pb;
    char xy[24], yx[24];
    strcpy(xy, x); strcat(xy, y);
    strcpy(yx, y); strcat(yx, x);
    return -strcmp(xy, yx);
}

int main(void) {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    for (int i = 0; i < n; i++) {
        if (scanf("%11s", words[i]) != 1) return 1;
        order[i] = words[i];
    }
    qsort(order, (size_t)n, sizeof order[0], before);
    for (int i = 0; i < n; i++) fputs(order[i], stdout);
    putchar('\n');
    return 0;
}
