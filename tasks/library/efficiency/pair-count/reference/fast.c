// Known faster solution: radix sort, then two pointers. O(n) after reading.
#include <stdio.h>
#include <stdlib.h>

static unsigned long long a[200000], tmp[200000];
static char buf[1 << 22];

int main(void) {
    size_t len = fread(buf, 1, sizeof buf - 1, stdin);
    buf[len] = 0;
    char *p = buf;
    long long vals[2];
    for (int t = 0; t < 2; t++) vals[t] = strtoll(p, &p, 10);
    int n = (int)vals[0];
    long long k = vals[1];
    for (int i = 0; i < n; i++) a[i] = (unsigned long long)strtoll(p, &p, 10) ^ (1ULL << 63);
    for (int shift = 0; shift < 64; shift += 16) {
        static int cnt[65537];
        for (int i = 0; i <= 65536; i++) cnt[i] = 0;
        for (int i = 0; i < n; i++) cnt[((a[i] >> shift) & 65535) + 1]++;
        for (int i = 0; i < 65536; i++) cnt[i + 1] += cnt[i];
        for (int i = 0; i < n; i++) tmp[cnt[(a[i] >> shift) & 65535]++] = a[i];
        for (int i = 0; i < n; i++) a[i] = tmp[i];
    }
    long long count = 0;
    int i = 0, j = n - 1;
    while (i < j) {
        long long x = (long long)(a[i] ^ (1ULL << 63)), y = (long long)(a[j] ^ (1ULL << 63));
        if (x + y < k) {
            i++;
        } else if (x + y > k) {
            j--;
        } else if (x == y) {
            long long m = j - i + 1;
            count += m * (m - 1) / 2;
            break;
        } else {
            long long ci = 1, cj = 1;
            while (i + ci < j && a[i + ci] == a[i]) ci++;
            while (j - cj > i && a[j - cj] == a[j]) cj++;
            count += ci * cj;
            i += ci;
            j -= cj;
        }
    }
    printf("%lld\n", count);
    return 0;
}
