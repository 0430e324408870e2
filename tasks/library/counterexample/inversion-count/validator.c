#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Token reader for validators: the whole input is read, tokens are separated by spaces,
   tabs or newlines, and every failure prints why and exits with code 1. */
static char *data;
static size_t len, pos;

static void reject(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
    exit(1);
}

static void load_input(void) {
    size_t cap = 1 << 16;
    data = malloc(cap);
    if (!data) reject("validator: out of memory");
    for (;;) {
        if (len == cap) {
            cap *= 2;
            data = realloc(data, cap);
            if (!data) reject("validator: out of memory");
        }
        size_t got = fread(data + len, 1, cap - len, stdin);
        if (got == 0) break;
        len += got;
    }
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static const char *next_token(const char *what, size_t *tlen) {
    while (pos < len && is_space(data[pos])) pos++;
    if (pos == len) reject("the input ended early: expected %s", what);
    size_t start = pos;
    while (pos < len && !is_space(data[pos])) pos++;
    *tlen = pos - start;
    return data + start;
}

static long long read_int(const char *what, long long lo, long long hi) {
    size_t n;
    const char *t = next_token(what, &n);
    size_t i = 0;
    int negative = 0;
    if (n > 0 && t[0] == '-') { negative = 1; i = 1; }
    if (i == n || n - i > 19) reject("%s: `%.*s` is not an integer", what, (int)(n > 40 ? 40 : n), t);
    if (t[i] == '0' && (n - i > 1 || negative)) reject("%s: `%.*s` has a leading zero", what, (int)(n > 40 ? 40 : n), t);
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (t[i] < '0' || t[i] > '9') reject("%s: `%.*s` is not an integer", what, (int)(n > 40 ? 40 : n), t);
        v = v * 10 + (unsigned long long)(t[i] - '0');
    }
    if (v > 4000000000000000000ULL) reject("%s: `%.*s` is out of range [%lld, %lld]", what, (int)n, t, lo, hi);
    long long x = negative ? -(long long)v : (long long)v;
    if (x < lo || x > hi) reject("%s = %lld is out of range [%lld, %lld]", what, x, lo, hi);
    return x;
}

static void expect_end(void) {
    while (pos < len && is_space(data[pos])) pos++;
    if (pos != len) reject("extra data after the last expected token (at byte %zu)", pos);
}

int main(void) {
    load_input();
    long long n = read_int("n", 1, 200000);
    for (long long i = 0; i < n; i++) read_int("a_i", 1, 1000000000);
    expect_end();
    return 0;
}
