// Subtly wrong: bit-parallel LCS that drops the carry between 64-bit words, so it is
// right only while |A| <= 64.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static char a[5002], b[5002];
static uint64_t match[26][80], row[80];

int main(void) {
    if (scanf("%5001s %5001s", a, b) != 2) return 1;
    int n = (int)strlen(a), m = (int)strlen(b);
    int words = (n + 63) / 64;
    for (int i = 0; i < n; i++) match[a[i] - 'a'][i / 64] |= 1ULL << (i % 64);
    for (int w = 0; w < words; w++) row[w] = ~0ULL;
    for (int j = 0; j < m; j++) {
        const uint64_t *mask = match[b[j] - 'a'];
        for (int w = 0; w < words; w++) {
            uint64_t v = row[w], u = v & mask[w];
            row[w] = (v + u) | (v - u);
        }
    }
    int zeros = 0;
    for (int i = 0; i < n; i++) zeros += !((row[i / 64] >> (i % 64)) & 1);
    printf("%d\n", zeros);
    return 0;
}
