# Range sums with prefix sums, but the right end is left out (off by one).
import sys
from itertools import accumulate


def main():
    data = sys.stdin.buffer.read().split()
    n, q = int(data[0]), int(data[1])
    prefix = [0, *accumulate(map(int, data[2 : 2 + n]))]
    bounds = list(map(int, data[2 + n : 2 + n + 2 * q]))
    sys.stdout.write(
        "".join(f"{prefix[r - 1] - prefix[l - 1]}\n" for l, r in zip(bounds[::2], bounds[1::2]))
    )


main()
