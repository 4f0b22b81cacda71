"""Cut a sample stream into whole session seconds.

Second ``k`` holds the samples with ``k - 1 < t_s <= k`` and is complete as soon as a
later sample arrives. Every processor works on these frames, which is what makes the
output independent of how the input was chunked: the frames are fixed by the samples'
times, not by the call boundaries. Seconds without any sample (inside a long gap) come
out as empty frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from breathform.signal.regrid import Samples, concat_samples


@dataclass(frozen=True, slots=True)
class Frame:
    """The samples of one whole session second ``(k - 1, k]``.

    Attributes:
        k: Second index; the frame ends at ``t_s = k``.
        samples: The samples (possibly none).
        reset: True when a long gap ended inside this second (from ``samples``; set once
            here because every processor asks).
    """

    k: int
    samples: Samples
    reset: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reset", bool(self.samples.reset.any()))

    @property
    def filled_frac(self) -> float:
        """Fraction of the frame's samples that fill a gap (1.0 when empty)."""
        n = self.samples.n
        # == float(filled.mean()): an exact count over n, rounded once
        return 1.0 if n == 0 else int(np.count_nonzero(self.samples.filled)) / n


@dataclass(frozen=True, slots=True)
class FramerState:
    """Samples of the current, incomplete second.

    Attributes:
        started: Whether any sample has been seen.
        k_next: Index of the next second to complete.
        t_s, acc_g, gyr_dps, idx, filled, reset: The pending samples (gyr_dps has zero
            rows without a gyroscope).
    """

    started: bool
    k_next: int
    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64]
    idx: NDArray[np.int64]
    filled: NDArray[np.bool_]
    reset: NDArray[np.bool_]


def init_framer() -> FramerState:
    """Return an empty framer."""
    return FramerState(False, 0, np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)),
                       np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, bool))


def _pending(s: FramerState, has_gyro: bool) -> Samples:
    return Samples(s.t_s, s.acc_g, s.gyr_dps if has_gyro else None, s.idx, s.filled, s.reset)


def push(s: FramerState, x: Samples, has_gyro: bool) -> tuple[list[Frame], FramerState]:
    """Add samples; return the seconds they completed.

    Args:
        s: Framer state.
        x: New samples, later than every sample seen so far.
        has_gyro: Whether the stream carries a gyroscope.

    Returns:
        The completed frames in order, and the new state.
    """
    if x.n == 0:
        return [], s
    allx = concat_samples([_pending(s, has_gyro), x], has_gyro)
    k = np.ceil(allx.t_s).astype(np.int64)
    k_last = int(k[-1])
    k_start = s.k_next if s.started else int(k[0])
    ks = np.arange(k_start, k_last + 1)
    bounds = np.searchsorted(k, ks, side="left")
    frames = []
    for j in range(len(ks) - 1):
        a, b = int(bounds[j]), int(bounds[j + 1])
        frames.append(Frame(int(ks[j]), _slice(allx, a, b)))
    a = int(bounds[-1])
    g = allx.gyr_dps[a:] if allx.gyr_dps is not None else np.zeros((allx.n - a, 3))
    return frames, FramerState(True, k_last, allx.t_s[a:], allx.acc_g[a:], g,
                               allx.idx[a:], allx.filled[a:], allx.reset[a:])


def _slice(x: Samples, a: int, b: int) -> Samples:
    return Samples(x.t_s[a:b], x.acc_g[a:b], None if x.gyr_dps is None else x.gyr_dps[a:b],
                   x.idx[a:b], x.filled[a:b], x.reset[a:b])
