"""Put one sensor's ImuBlocks on its nominal sample grid, by sequence number.

The one place where sample gaps are handled. A short gap (up to ``max_fill_s``) is filled
by holding the last sample; the filled samples are flagged so that quality drops for the
seconds they fall in. A longer gap is not filled: the first sample after it carries a
``reset`` flag and every downstream processor restarts its filters (calibration is kept).
Duplicated or overlapping samples (sequence going backwards) are dropped and counted.
Nothing is ever interpolated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
from numpy.typing import NDArray

from breathform.errors import InputError
from breathform.model import ImuBlock


@dataclass(frozen=True, slots=True)
class Samples:
    """Samples of one sensor on its nominal grid.

    Attributes:
        t_s: Session time of each sample, shape (n,), strictly increasing.
        acc_g: Specific force in g, sensor frame, shape (n, 3).
        gyr_dps: Angular rate in deg/s, shape (n, 3), or None without a gyroscope.
        idx: Absolute sample index in the sensor's stream (the ImuBlock ``seq``), (n,).
        filled: True for samples that fill a short gap (held last value), (n,).
        reset: True on the first sample after a long gap, (n,).
    """

    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    idx: NDArray[np.int64]
    filled: NDArray[np.bool_]
    reset: NDArray[np.bool_]

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])


def empty_samples(has_gyro: bool) -> Samples:
    """Return a Samples with no rows."""
    return Samples(
        t_s=np.zeros(0), acc_g=np.zeros((0, 3)),
        gyr_dps=np.zeros((0, 3)) if has_gyro else None,
        idx=np.zeros(0, np.int64), filled=np.zeros(0, bool), reset=np.zeros(0, bool),
    )


def samples_from_arrays(
    t_s: NDArray[np.float64], acc_g: NDArray[np.float64], gyr_dps: NDArray[np.float64] | None
) -> Samples:
    """Wrap gap-free arrays (e.g. a CSV) as Samples with idx 0..n-1.

    Raises:
        InputError: If the shapes disagree or t_s is not strictly increasing.
    """
    t = np.asarray(t_s, dtype=np.float64)
    a = np.asarray(acc_g, dtype=np.float64)
    n = t.shape[0]
    if t.ndim != 1 or a.shape != (n, 3):
        raise InputError(f"need t_s (n,) and acc_g (n, 3); got {t.shape} and {a.shape}")
    g = None if gyr_dps is None else np.asarray(gyr_dps, dtype=np.float64)
    if g is not None and g.shape != (n, 3):
        raise InputError(f"gyr_dps must have shape ({n}, 3), got {g.shape}")
    if n > 1 and not bool(np.all(np.diff(t) > 0)):
        raise InputError("t_s must be strictly increasing")
    return Samples(t, a, g, np.arange(n, dtype=np.int64), np.zeros(n, bool), np.zeros(n, bool))


def concat_samples(parts: Sequence[Samples], has_gyro: bool) -> Samples:
    """Concatenate Samples in order."""
    parts = [p for p in parts if p.n]
    if not parts:
        return empty_samples(has_gyro)
    if len(parts) == 1:
        return parts[0]
    gyr = None
    if has_gyro:
        gyr = np.concatenate([
            p.gyr_dps if p.gyr_dps is not None else np.zeros((p.n, 3)) for p in parts
        ])
    return Samples(
        t_s=np.concatenate([p.t_s for p in parts]),
        acc_g=np.concatenate([p.acc_g for p in parts]),
        gyr_dps=gyr,
        idx=np.concatenate([p.idx for p in parts]),
        filled=np.concatenate([p.filled for p in parts]),
        reset=np.concatenate([p.reset for p in parts]),
    )


@dataclass(frozen=True, slots=True)
class RegridParams:
    """Parameters of the gap handler.

    Attributes:
        fs_hz: Nominal sample rate of the stream.
        has_gyro: Whether the stream has a gyroscope (its output then always carries one).
        max_fill_s: Longest gap filled by holding the last sample; longer gaps reset.
    """

    fs_hz: float
    has_gyro: bool = False
    max_fill_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.fs_hz > 0:
            raise InputError(f"fs_hz must be > 0, got {self.fs_hz}")
        if not 0 < self.max_fill_s <= 5:
            raise InputError(f"max_fill_s must be in (0, 5], got {self.max_fill_s}")


@dataclass(frozen=True, slots=True)
class RegridState:
    """Carry-over of the gap handler.

    Attributes:
        started: Whether any sample has been seen.
        next_seq: Sequence number expected next.
        last_t_s: Time of the last sample.
        last_acc_g: Last accelerometer sample, (3,).
        last_gyr_dps: Last gyroscope sample, (3,) (zeros without a gyroscope).
        n_filled: Samples filled so far.
        n_long_gaps: Long gaps (resets) so far.
        n_dropped: Duplicate / out-of-order samples dropped so far.
    """

    started: bool
    next_seq: int
    last_t_s: float
    last_acc_g: NDArray[np.float64]
    last_gyr_dps: NDArray[np.float64]
    n_filled: int = 0
    n_long_gaps: int = 0
    n_dropped: int = 0


def init_state(p: RegridParams) -> RegridState:
    """Return the state before any block."""
    return RegridState(False, 0, -np.inf, np.zeros(3), np.zeros(3))


def step(p: RegridParams, s: RegridState, blocks: Sequence[ImuBlock]
         ) -> tuple[Samples, RegridState]:
    """Put blocks on the grid.

    Args:
        p: Parameters.
        s: State.
        blocks: Consecutive blocks of one sensor, in stream order.

    Returns:
        The samples (filled gaps flagged, long gaps marked by ``reset``) and the new state.
    """
    fast = _step_ordered(p, s, blocks)
    if fast is not None:
        return fast
    if len(blocks) > 2:
        parts = _split_runs(s, blocks)
        if len(parts) > 1:
            # (a block repeats samples, is empty, lacks its gyroscope ...) the blocks that do
            # not continue the one before alone through the general path, the contiguous
            # runs between them through the fast one: a step is a stream operation, so the
            # pieces' samples, concatenated, are the whole call's (test_regrid_runs checks it)
            outs = []
            for part in parts:
                x, s = (_step_ordered(p, s, part) if len(part) > 1 else None) or \
                    _step_general(p, s, part)
                outs.append(x)
            return concat_samples(outs, p.has_gyro), s
    return _step_general(p, s, blocks)


def _split_runs(s: RegridState, blocks: Sequence[ImuBlock]) -> list[Sequence[ImuBlock]]:
    """Cut blocks into runs that continue each other by sequence number.

    A block that does not continue the one before (or the state) starts a part of its own.
    """
    parts: list[Sequence[ImuBlock]] = []
    expect = s.next_seq if s.started else None
    start = 0
    for i, b in enumerate(blocks):
        if b.seq != expect:
            if i > start:
                parts.append(blocks[start:i])
            parts.append(blocks[i:i + 1])
            start = i + 1
        expect = b.seq + b.t_s.shape[0]
    if start < len(blocks):
        parts.append(blocks[start:])
    return parts


def _step_general(p: RegridParams, s: RegridState, blocks: Sequence[ImuBlock]
                  ) -> tuple[Samples, RegridState]:
    """:func:`step` for any blocks: gaps filled or reset, duplicates dropped."""
    # Per block only Python scalars are touched (a block is often 8 samples); the arrays
    # are gathered and concatenated once at the end. Filled runs and resets are recorded
    # as (position, length) and written into the flag arrays in one go.
    ts: list[NDArray[np.float64]] = []
    accs: list[NDArray[np.float64]] = []
    gyrs: list[NDArray[np.float64]] = []
    # sample indices: a (first index, length) run per piece, or the kept indices
    idxs: list[tuple[int, int] | NDArray[np.int64]] = []
    fills: list[tuple[int, int]] = []  # (start row, length) of filled runs
    resets: list[int] = []  # rows flagged reset
    total = 0
    has_gyro = p.has_gyro
    started, next_seq, last_t = s.started, s.next_seq, s.last_t_s
    last_acc, last_gyr = s.last_acc_g, s.last_gyr_dps
    last_block: tuple[NDArray[np.float64], NDArray[np.float64] | None] | None = None
    n_filled, n_long, n_drop = s.n_filled, s.n_long_gaps, s.n_dropped
    for b in blocks:
        t = np.asarray(b.t_s, dtype=np.float64)
        n = t.shape[0]
        if n == 0:
            continue
        acc = np.asarray(b.acc_g, dtype=np.float64)
        gyr: NDArray[np.float64] | None = None
        if has_gyro:
            gyr = (np.zeros((n, 3)) if b.gyr_dps is None
                   else np.asarray(b.gyr_dps, dtype=np.float64))
        seq0 = int(b.seq)
        idx: NDArray[np.int64] | None = None
        # a block's idx and t_s both increase, so it is kept whole when its first sample is
        if started and not (seq0 >= next_seq and float(t[0]) > last_t):
            idx = np.arange(seq0, seq0 + n, dtype=np.int64)
            keep = (idx >= next_seq) & (t > last_t)
            n_drop += int(n - keep.sum())
            t, acc, idx = t[keep], acc[keep], idx[keep]
            if gyr is not None:
                gyr = gyr[keep]
            n = t.shape[0]
            if n == 0:
                continue
            seq0 = int(idx[0])
        if started:
            missing = seq0 - next_seq
            if missing > 0:
                if missing / p.fs_hz <= p.max_fill_s:
                    if last_block is not None:  # the held sample is the previous block's last
                        last_acc = last_block[0][-1].copy()
                        if has_gyro and last_block[1] is not None:
                            last_gyr = last_block[1][-1].copy()
                        last_block = None
                    frac = np.arange(1, missing + 1) / (missing + 1)
                    ts.append(last_t + (float(t[0]) - last_t) * frac)
                    accs.append(np.broadcast_to(last_acc, (missing, 3)).copy())
                    if has_gyro:
                        gyrs.append(np.broadcast_to(last_gyr, (missing, 3)).copy())
                    idxs.append((next_seq, missing))
                    fills.append((total, missing))
                    total += missing
                    n_filled += missing
                else:
                    resets.append(total)
                    n_long += 1
        ts.append(t)
        accs.append(acc)
        if gyr is not None:
            gyrs.append(gyr)
        idxs.append((seq0, n) if idx is None else idx)
        total += n
        started = True
        next_seq = seq0 + n
        last_t = float(t[-1])
        last_block = (acc, gyr)
    if last_block is not None:
        last_acc = last_block[0][-1].copy()
        if has_gyro and last_block[1] is not None:
            last_gyr = last_block[1][-1].copy()
    new = replace(s, started=started, next_seq=next_seq, last_t_s=last_t,
                  last_acc_g=last_acc, last_gyr_dps=last_gyr, n_filled=n_filled,
                  n_long_gaps=n_long, n_dropped=n_drop)
    if total == 0:
        return empty_samples(has_gyro), new
    filled, reset = _flags(total, fills, resets)
    if len(ts) == 1:
        out = Samples(ts[0], accs[0], gyrs[0] if has_gyro else None, _indices(idxs, total),
                      filled, reset)
    else:
        out = Samples(np.concatenate(ts), np.concatenate(accs),
                      np.concatenate(gyrs) if has_gyro else None, _indices(idxs, total),
                      filled, reset)
    return out, new


def _step_ordered(p: RegridParams, s: RegridState, blocks: Sequence[ImuBlock]
                  ) -> tuple[Samples, RegridState] | None:
    """:func:`step` when samples are only ever missing (the usual batch), in one pass.

    That is: every block non-empty, float64, with a gyroscope if the stream has one; each
    block's first sample at or after the one expected next (by sequence number) and every
    sample later than the one before. Blocks are then kept whole, so the call's samples
    are the blocks' arrays with the fills of the gaps between them (each computed as
    :func:`_step_general` computes it) spliced in, concatenated once. Returns None
    otherwise (the general path handles it).
    """
    if not blocks:
        return None
    has_gyro = p.has_gyro
    start = s.next_seq if s.started else int(blocks[0].seq)  # index of the first row out
    expect = start
    lost = 0  # samples missing so far
    # (block, its first row without the fills, samples missing before it, its seq)
    gaps: list[tuple[int, int, int, int]] = []
    for j, b in enumerate(blocks):
        seq = b.seq
        if seq != expect:
            if seq < expect:
                return None
            gaps.append((j, expect - start - lost, seq - expect, int(seq)))
            lost += seq - expect
        n = b.t_s.shape[0]
        if n == 0 or b.gyr_dps is None and has_gyro:
            return None
        expect = seq + n
    ts = [b.t_s for b in blocks]
    accs = [b.acc_g for b in blocks]
    gyrs = [b.gyr_dps for b in blocks if b.gyr_dps is not None] if has_gyro else []
    idxs: list[tuple[int, int] | NDArray[np.int64]] = []
    fills: list[tuple[int, int]] = []
    resets: list[int] = []
    if gaps:
        idxs, fills, resets = _splice_gaps(p, s, ts, accs, gyrs, start, gaps,
                                           expect - start - lost)
    t = np.concatenate(ts) if len(ts) > 1 else ts[0]
    # strictly increasing with the fills (which lie between their neighbours, unless
    # rounding says otherwise: then the general path decides) <=> without them
    if t.dtype != np.float64 or not (t[0] > s.last_t_s and bool((t[1:] > t[:-1]).all())):
        return None
    acc = np.concatenate(accs) if len(accs) > 1 else accs[0]
    gyr = None
    if has_gyro:
        gyr = np.concatenate(gyrs) if len(gyrs) > 1 else gyrs[0]
        if gyr.dtype != np.float64:
            return None
    if acc.dtype != np.float64:
        return None
    total = t.shape[0]
    idx = _indices(idxs, total) if idxs else np.arange(start, start + total, dtype=np.int64)
    filled, reset = _flags(total, fills, resets)
    n_filled = sum(m for _, m in fills)
    new = replace(s, started=True, next_seq=int(expect), last_t_s=float(t[-1]),
                  last_acc_g=acc[-1].copy(),
                  last_gyr_dps=gyr[-1].copy() if gyr is not None else s.last_gyr_dps,
                  n_filled=s.n_filled + n_filled, n_long_gaps=s.n_long_gaps + len(resets))
    return Samples(t, acc, gyr, idx, filled, reset), new


def _splice_gaps(p: RegridParams, s: RegridState, ts: list[NDArray[np.float64]],
                 accs: list[NDArray[np.float64]], gyrs: list[NDArray[np.float64]],
                 start: int, gaps: list[tuple[int, int, int, int]], rows: int
                 ) -> tuple[list[tuple[int, int] | NDArray[np.int64]], list[tuple[int, int]],
                            list[int]]:
    """Insert the fills of the short ``gaps`` (see :func:`_step_ordered`) into the lists.

    ``start`` is the index of the first row out, ``rows`` the number of rows in ``ts``.

    Returns:
        The output's index runs (first, length), its filled runs (start row, length) and
        its reset rows.
    """
    idxs: list[tuple[int, int] | NDArray[np.int64]] = []
    fills: list[tuple[int, int]] = []
    resets: list[int] = []
    inserts: list[tuple[int, NDArray[np.float64], NDArray[np.float64],
                        NDArray[np.float64] | None]] = []
    run0, run_len = start, 0  # the current run of consecutive indices
    done = 0  # rows before the current block, without the fills
    filled_rows = 0
    for j, r, m, seq in gaps:
        run_len += r - done
        done = r
        if m / p.fs_hz <= p.max_fill_s:
            # hold the sample before the gap (the state's before the call's first block)
            last_t = float(ts[j - 1][-1]) if j else s.last_t_s
            frac = np.arange(1, m + 1) / (m + 1)
            fill_t = last_t + (float(ts[j][0]) - last_t) * frac
            fill_acc = np.broadcast_to(accs[j - 1][-1] if j else s.last_acc_g, (m, 3)).copy()
            fill_gyr = None
            if gyrs:
                fill_gyr = np.broadcast_to(gyrs[j - 1][-1] if j else s.last_gyr_dps,
                                           (m, 3)).copy()
            inserts.append((j, fill_t, fill_acc, fill_gyr))
            fills.append((r + filled_rows, m))
            filled_rows += m
            run_len += m
        else:
            resets.append(r + filled_rows)
            if run_len:
                idxs.append((run0, run_len))
            run0, run_len = seq, 0
    idxs.append((run0, run_len + rows - done))
    for j, fill_t, fill_acc, fill_gyr in reversed(inserts):
        ts.insert(j, fill_t)
        accs.insert(j, fill_acc)
        if fill_gyr is not None:
            gyrs.insert(j, fill_gyr)
    return idxs, fills, resets


def _flags(total: int, fills: list[tuple[int, int]], resets: list[int]
           ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The ``filled`` and ``reset`` flags of ``total`` rows.

    ``fills`` are the filled runs (start row, length), ``resets`` the reset rows.
    """
    filled = np.zeros(total, bool)
    for a, m in fills:
        filled[a:a + m] = True
    reset = np.zeros(total, bool)
    if resets:
        reset[resets] = True
    return filled, reset


def _indices(pieces: list[tuple[int, int] | NDArray[np.int64]], total: int
             ) -> NDArray[np.int64]:
    """The sample indices of the pieces, concatenated: one arange plus a per-run offset."""
    if all(isinstance(q, tuple) for q in pieces):
        runs = cast(list[tuple[int, int]], pieces)
        pos = 0
        offs = []
        for first, n in runs:
            offs.append(first - pos)
            pos += n
        out = np.arange(total, dtype=np.int64)
        out += np.repeat(np.array(offs, dtype=np.int64), [n for _, n in runs])
        return out
    return np.concatenate([np.arange(q[0], q[0] + q[1], dtype=np.int64) if isinstance(q, tuple)
                           else q for q in pieces])


def run_batch(p: RegridParams, blocks: Sequence[ImuBlock]) -> Samples:
    """Regrid a whole recording in one call."""
    return step(p, init_state(p), blocks)[0]


def periodic_fill(x: NDArray[np.float64], filled: NDArray[np.bool_],
                  hist: NDArray[np.float64], period: int
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Replace gap-filled samples by the samples one stride earlier.

    While running, the signal is nearly stride-periodic, so ``x[n - period]`` is a far
    better stand-in than the held last sample (whose step change would ring through the
    breathing filters for seconds). The samples stay flagged as filled.

    Args:
        x: Samples of one second, (n, m).
        filled: Which of them fill a gap, (n,).
        hist: The preceding samples (already substituted), (h, m), h >= period.
        period: Stride period in samples; 0 leaves ``x`` unchanged.

    Returns:
        The substituted samples (n, m) and the new history (h, m).
    """
    h = hist.shape[0]
    if 0 < period <= h and bool(filled.any()):
        xx = np.concatenate((hist, x))
        for j in np.flatnonzero(filled).tolist():
            xx[h + j] = xx[h + j - period]
        x = xx[h:]
        return x, xx[-h:]
    if x.shape[0] >= h:
        return x, x[x.shape[0] - h:].copy()
    return x, np.concatenate((hist[x.shape[0]:], x))
