# Range sums: adds up each range element by element, unless there are at least
# PREFIX_SUMS_FROM queries, when it builds prefix sums first.
import sys

PREFIX_SUMS_FROM = 100000  # hone:tune 1..100000 log int


def main():
    data = sys.stdin.buffer.read().split()
    n, q = int(data[0]), int(data[1])
    a = [0] + [int(x) for x in data[2 : 2 + n]]
    prefix = None
    if q >= PREFIX_SUMS_FROM:
        prefix = [0] * (n + 1)
        for i in range(1, n + 1):
            prefix[i] = prefix[i - 1] + a[i]
    out = []
    at = 2 + n
    for _ in range(q):
        l, r = int(data[at]), int(data[at + 1])
        at += 2
        if prefix is not None:
            out.append(prefix[r] - prefix[l - 1])
            continue
        total = 0
        for i in range(l, r + 1):
            total += a[i]
        out.append(total)
    sys.stdout.write("".join(f"{s}\n" for s in out))


main()
