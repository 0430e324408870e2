#include <stdio.h>
#include <string.h>

/* Direct comparison: at most 2000 queries of at most 2000 characters. */
static char s[2001];

int main(void) {
    int q;
    if (scanf("%2000s %d", s, &q) != 2) return 1;
    while (q--) {
        int l1, r1, l2, r2;
        if (scanf("%d %d %d %d", &l1, &r1, &l2, &r2) != 4) return 1;
        puts(memcmp(s + l1 - 1, s + l2 - 1, (size_t)(r1 - l1 + 1)) == 0 ? "YES" : "NO");
    }
    return 0;
}
