#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Greedy: always write the lexicographically largest remaining number next. */
static char s[100000][12];
static char *p[100000];

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)b, *(char *const *)a);
}

int main(void) {
    int n;
    scanf("%d", &n);
    for (int i = 0; i < n; i++) {
        scanf("%s", s[i]);
        p[i] = s[i];
    }
    qsort(p, n, sizeof(char *), cmp);
    for (int i = 0; i < n; i++) printf("%s", p[i]);
    printf("\n");
    return 0;
}
