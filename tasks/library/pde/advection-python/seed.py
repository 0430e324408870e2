# Seed: first-order upwind differences, explicit Euler, at CFL_NUMBER of the stability
# limit, vectorised over the batch with NumPy. Valid but diffusive.
import sys

import numpy as np

# The time step as a fraction of the CFL limit dx / |beta|.
CFL_NUMBER = 0.5  # hone:tune 0.05..1.0


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
    beta, dx = params[0], 1.0 / nx
    dt_max = CFL_NUMBER * dx / abs(beta)
    out = np.empty((batch, nt, nx))
    out[:, 0] = u
    for k in range(1, nt):
        span = times[k] - times[k - 1]
        steps = int(np.ceil(span / dt_max))
        c = beta * (span / steps) / dx
        for _ in range(steps):
            if c > 0:
                u = u - c * (u - np.roll(u, 1, axis=1))
            else:
                u = u - c * (np.roll(u, -1, axis=1) - u)
        out[:, k] = u
    sys.stdout.buffer.write(out.astype("<f8").tobytes())


main()
