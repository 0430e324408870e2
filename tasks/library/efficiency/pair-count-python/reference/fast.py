# Pair count by counting values: O(n).
import sys
from collections import Counter


def main():
    data = sys.stdin.buffer.read().split()
    n, k = int(data[0]), int(data[1])
    counts = Counter(map(int, data[2 : 2 + n]))
    total = 0
    for v, m in counts.items():
        w = k - v
        if w == v:
            total += m * (m - 1) // 2
        elif v < w:
            total += m * counts.get(w, 0)
    print(total)


main()
