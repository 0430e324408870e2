# Seed: explicit Euler in time, second-order central differences in space (FTCS), with the
# step at 0.4 of the stability limit dx^2 / (2 nu), vectorised over the batch with NumPy.
# Valid; limited by its time step.
import sys

import numpy as np

# The time step as a fraction of the stability limit dx^2 / (2 nu).
STEP_FRACTION = 0.4  # hone:tune 0.05..0.5


def main():
    data = sys.stdin.buffer.read()
    if data[:8] != b"HONEPDE1":
        sys.exit("bad magic")
    _equation, batch, nx, nt = (int(v) for v in np.frombuffer(data, "<u4", 4, 8))
    at = 24
    times = np.frombuffer(data, "<f8", nt, at)
    at += 8 * nt
    count = int(np.frombuffer(data, "<u4", 1, at)[0])
    at += 4
    params = np.frombuffer(data, "<f8", count, at)
    at += 8 * count
    u = np.frombuffer(data, "<f8", batch * nx, at).reshape(batch, nx).copy()
    nu, dx = params[0], 1.0 / nx
    dt_max = STEP_FRACTION * dx * dx / (2 * nu)
    out = np.empty((batch, nt, nx))
    out[:, 0] = u
    for k in range(1, nt):
        span = times[k] - times[k - 1]
        steps = int(np.ceil(span / dt_max))
        r = nu * (span / steps) / (dx * dx)
        for _ in range(steps):
            u = u + r * (np.roll(u, 1, axis=1) - 2 * u + np.roll(u, -1, axis=1))
        out[:, k] = u
    sys.stdout.buffer.write(out.astype("<f8").tobytes())


main()
