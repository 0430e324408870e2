#include <stdio.h>
#include <string.h>

#define MOD 1000000007LL
#define BASE 131LL

char s[2005];
long long h[2005], pw[2005];

long long get(int l, int r) {
    return (h[r] - h[l - 1] * pw[r - l + 1] % MOD) % MOD;
}

int main() {
    int q;
    scanf("%s %d", s + 1, &q);
    int n = strlen(s + 1);
    pw[0] = 1;
    for (int i = 1; i <= n; i++) {
        h[i] = (h[i - 1] * BASE + s[i]) % MOD;
        pw[i] = pw[i - 1] * BASE % MOD;
    }
    while (q--) {
        int l1, r1, l2, r2;
        scanf("%d %d %d %d", &l1, &r1, &l2, &r2);
        if (get(l1, r1) == get(l2, r2)) printf("YES\n");
        else printf("NO\n");
    }
    return 0;
}
