// Longest common subsequence: the classic DP over the full (|A|+1) x (|B|+1) table.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char a[5002], b[5002];

int main(void) {
    if (scanf("%5001s %5001s", a, b) != 2) return 1;
    int n = (int)strlen(a), m = (int)strlen(b);
    int *dp = calloc((size_t)(n + 1) * (size_t)(m + 1), sizeof(int));
    if (!dp) return 1;
    for (int i = 1; i <= n; i++) {
        for (int j = 1; j <= m; j++) {
            int *cell = &dp[i * (m + 1) + j];
            if (a[i - 1] == b[j - 1]) {
                *cell = dp[(i - 1) * (m + 1) + (j - 1)] + 1;
            } else {
                int up = dp[(i - 1) * (m + 1) + j], left = dp[i * (m + 1) + (j - 1)];
                *cell = up > left ? up : left;
            }
        }
    }
    printf("%d\n", dp[n * (m + 1) + m]);
    free(dp);
    return 0;
}
