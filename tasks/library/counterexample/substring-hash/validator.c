#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strict reader for validators: the whole input is read and must be laid out exactly as
   the statement says: the tokens of a line separated by single spaces, every line ended by
   `\n` (the last line's newline is optional), and no other whitespace (no tabs, no `\r`,
   no leading, trailing or repeated spaces, no blank lines). Every failure prints why and
   exits with code 1. */
static char *data;
static size_t len, pos;
static long long line = 1;

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

/* What the byte at `at` is, for messages. */
static const char *describe(size_t at) {
    static char buf[32];
    if (at >= len) return "the end of the input";
    switch (data[at]) {
    case ' ': return "a space";
    case '\n': return "a line break";
    case '\r': return "a carriage return (`\\r`; lines end with `\\n` only)";
    case '\t': return "a tab (tokens are separated by single spaces)";
    }
    snprintf(buf, sizeof buf, "byte 0x%02x", (unsigned char)data[at]);
    return buf;
}

/* The next token: the bytes up to the next space, line break or end of the input. */
static const char *next_token(const char *what, size_t *tlen) {
    if (pos == len) reject("the input ended early: expected %s on line %lld", what, line);
    if (data[pos] == ' ' || data[pos] == '\n')
        reject("line %lld: expected %s, found %s (no leading or repeated spaces, no blank lines)", line, what, describe(pos));
    size_t start = pos;
    while (pos < len && data[pos] != ' ' && data[pos] != '\n') {
        if (data[pos] == '\r' || data[pos] == '\t' || data[pos] == '\v' || data[pos] == '\f')
            reject("line %lld: %s: found %s", line, what, describe(pos));
        pos++;
    }
    *tlen = pos - start;
    return data + start;
}

/* The single space between two tokens of a line. */
static void expect_space(const char *what) {
    if (pos == len || data[pos] != ' ')
        reject("line %lld: expected a single space before %s, found %s", line, what, describe(pos));
    pos++;
}

/* The end of a line: `\n`, or the end of the input (the final newline is optional). */
static void expect_line_end(const char *what) {
    if (pos == len) return;
    if (data[pos] != '\n')
        reject("line %lld: expected the end of the line after %s, found %s (a trailing space, or more tokens than the line holds)", line, what, describe(pos));
    pos++;
    line++;
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

/* A line of `count` integers in [lo, hi], each named `what`. */
__attribute__((unused)) static void read_int_line(const char *what, long long count, long long lo, long long hi) {
    for (long long i = 0; i < count; i++) {
        if (i > 0) expect_space(what);
        read_int(what, lo, hi);
    }
    expect_line_end(what);
}

static void expect_end(void) {
    if (pos != len) reject("extra data after the last line (line %lld: %s)", line, describe(pos));
}

int main(void) {
    load_input();
    size_t n;
    const char *s = next_token("the string s", &n);
    if (n > 2000) reject("|s| = %zu is more than 2000", n);
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'a' || s[i] > 'z') reject("s[%zu] is not a lowercase letter a-z", i + 1);
    expect_line_end("the string s");
    long long q = read_int("q", 1, 2000);
    expect_line_end("q");
    for (long long i = 0; i < q; i++) {
        long long l1 = read_int("l1", 1, (long long)n);
        expect_space("r1");
        long long r1 = read_int("r1", l1, (long long)n);
        expect_space("l2");
        long long l2 = read_int("l2", 1, (long long)n);
        expect_space("r2");
        long long r2 = read_int("r2", l2, (long long)n);
        expect_line_end("r2");
        if (r1 - l1 != r2 - l2) reject("query %lld: the substrings have different lengths", i + 1);
    }
    expect_end();
    return 0;
}
