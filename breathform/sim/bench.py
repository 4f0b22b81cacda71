"""Speed benchmark of the simulator: ``python -m breathform.sim.bench [duration_s ...]``.

Prints wall time and peak resident memory per simulated duration. A benchmark, not a
test: timings depend on the machine (the target is a 1-hour run well under 30 s).
"""

from __future__ import annotations

import resource
import sys
import time

from breathform.sim.params import SimParams
from breathform.sim.run import simulate_run


def bench(duration_s: int, seed: int = 0) -> float:
    """Simulate one hilly run of the given length.

    Args:
        duration_s: Session length in seconds.
        seed: Seed of the run.

    Returns:
        Wall time of simulate_run in seconds.
    """
    n_climbs = max(0, min(4, (duration_s - 290) // 450))
    p = SimParams.hilly(seed=seed, duration_s=duration_s, n_climbs=n_climbs)
    t0 = time.perf_counter()
    simulate_run(p)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for each duration given (default 1800 and 3600 s).

    Args:
        argv: Durations in seconds; sys.argv[1:] when None.

    Returns:
        Process exit code.
    """
    args = sys.argv[1:] if argv is None else argv
    durations = [int(a) for a in args] or [1800, 3600]
    for d in durations:
        wall_s = bench(d)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(f"simulate_run duration_s={d}: {wall_s:.2f} s wall, peak RSS {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
