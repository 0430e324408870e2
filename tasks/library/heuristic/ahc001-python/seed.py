# A weak but valid start: for each company in input order, a square around its point of
# side SCALE * sqrt(r), shrunk by SHRINK until it overlaps no placed rectangle and covers no
# other company's point (so a 1x1 square always fits as a last resort).
import math
import sys

SIDE = 10000
SCALE = 0.3  # hone:tune 0.05..1.5
SHRINK = 0.8  # hone:tune 0.3..0.95


def fits(rect, i, placed, points):
    a, b, c, d = rect
    for p, q, r, s in placed:
        if max(a, p) < min(c, r) and max(b, q) < min(d, s):
            return False
    for k, (x, y) in enumerate(points):
        if k != i and a <= x < c and b <= y < d:
            return False
    return True


def main():
    data = sys.stdin.read().split()
    n = int(data[0])
    points = []
    areas = []
    for i in range(n):
        x, y, r = (int(v) for v in data[1 + 3 * i : 4 + 3 * i])
        points.append((x, y))
        areas.append(r)
    placed = []
    for i in range(n):
        x, y = points[i]
        chosen = (x, y, x + 1, y + 1)
        side = math.sqrt(areas[i]) * SCALE
        while side >= 1.0:
            s = int(side)
            a = max(x - (s - 1) // 2, 0)
            c = min(a + s, SIDE)
            b = max(y - (s - 1) // 2, 0)
            d = min(b + s, SIDE)
            if fits((a, b, c, d), i, placed, points):
                chosen = (a, b, c, d)
                break
            side *= SHRINK
        placed.append(chosen)
    sys.stdout.write("".join(f"{a} {b} {c} {d}\n" for a, b, c, d in placed))


main()
