# Prime count: answers each query by testing every number up to N with trial division.
import sys


def is_prime(k):
    if k < 2:
        return False
    d = 2
    while d * d <= k:
        if k % d == 0:
            return False
        d += 1
    return True


def main():
    data = sys.stdin.buffer.read().split()
    q = int(data[0])
    out = []
    for n in data[1 : 1 + q]:
        out.append(sum(1 for k in range(1, int(n) + 1) if is_prime(k)))
    sys.stdout.write("".join(f"{c}\n" for c in out))


main()
