#include <stdio.h>

int t, n;
char seen[1000001];

int main() {
    scanf("%d", &t);
    while (t--) {
        scanf("%d", &n);
        int ans = 0;
        for (int i = 0; i < n; i++) {
            int x;
            scanf("%d", &x);
            if (!seen[x]) {
                seen[x] = 1;
                ans++;
            }
        }
        printf("%d\n", ans);
    }
    return 0;
}
