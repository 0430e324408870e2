# Prime count with a sieve, but N itself is left out: primes below N, not up to it.
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
    sys.stdout.write("".join(f"{pi[n - 1]}\n" for n in queries))


main()
