# Pair count: pairs i < j with a[i] + a[j] == K.
# Small arrays are checked pair by pair; large ones are sorted and scanned with two pointers.
import sys

BRUTE_FORCE_MAX_N = 20000  # hone:tune 1..200000 log int


def main():
    data = sys.stdin.buffer.read().split()
    n, k = int(data[0]), int(data[1])
    a = [int(x) for x in data[2 : 2 + n]]
    count = 0
    if n <= BRUTE_FORCE_MAX_N:
        for i in range(n):
            for j in range(i + 1, n):
                if a[i] + a[j] == k:
                    count += 1
    else:
        a.sort()
        i, j = 0, n - 1
        while i < j:
            s = a[i] + a[j]
            if s < k:
                i += 1
            elif s > k:
                j -= 1
            elif a[i] == a[j]:
                m = j - i + 1
                count += m * (m - 1) // 2
                break
            else:
                ci = cj = 1
                while i + ci < j and a[i + ci] == a[i]:
                    ci += 1
                while j - cj > i and a[j - cj] == a[j]:
                    cj += 1
                count += ci * cj
                i += ci
                j -= cj
    print(count)


main()
