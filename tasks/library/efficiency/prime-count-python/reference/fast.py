# Prime count with one sieve of Eratosthenes up to the largest query, then a running count.
import sys
from itertools import accumulate


def main():
    data = sys.stdin.buffer.read().split()
    q = int(data[0])
    queries = [int(v) for v in data[1 : 1 + q]]
    top = max(queries)
    sieve = bytearray([1]) * (top + 1)
    sieve[0] = 0
    if top >= 1:
        sieve[1] = 0
    p = 2
    while p * p <= top:
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, top + 1, p)))
        p += 1
    pi = list(accumulate(sieve))
    sys.stdout.write("".join(f"{pi[n]}\n" for n in queries))


main()
