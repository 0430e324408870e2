// Known faster solution: prefix sums, O(n + q), with hand-rolled buffered input and output.
#include <stdio.h>
#include <stdlib.h>

static long long prefix[200001];
static char in[1 << 23], out[1 << 23];

int main(void) {
    size_t len = fread(in, 1, sizeof in - 1, stdin);
    in[len] = 0;
    char *p = in;
    int n = (int)strtoll(p, &p, 10), q = (int)strtoll(p, &p, 10);
    for (int i = 1; i <= n; i++) prefix[i] = prefix[i - 1] + strtoll(p, &p, 10);
    char *o = out;
    for (int k = 0; k < q; k++) {
        int l = (int)strtoll(p, &p, 10), r = (int)strtoll(p, &p, 10);
        long long s = prefix[r] - prefix[l - 1];
        unsigned long long u = s < 0 ? 0ULL - (unsigned long long)s : (unsigned long long)s;
        if (s < 0) *o++ = '-';
        char digits[24];
        int d = 0;
        do {
            digits[d++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        while (d) *o++ = digits[--d];
        *o++ = '\n';
    }
    fwrite(out, 1, (size_t)(o - out), stdout);
    return 0;
}
