"""Map a sensor's own clock to session time, online, from (device time, receive time) pairs.

Each notification gives a pair (t_dev, t_rx): t_dev is the sensor's timestamp (unknown
offset, drift up to a few hundred ppm) and t_rx the host receive time, which is the true time
plus a positive, random BLE latency. The offset y = t_rx - t_dev is therefore the clock
offset plus latency, and its LOWER ENVELOPE (the packets that had the least latency) is a
straight line a + r t_dev whose slope is the drift. This is the convex-hull estimator used
for one-way clock synchronisation (NTP's and PTP's "minimum filter"; e.g. Moon, Skelly and
Towsley, "Estimation and removal of clock skew from network delay measurements", INFOCOM
1999). The fit here:

1. keeps the minimum y of each ``bin_s`` of device time over the last ``window_s``;
2. fits the lower convex hull of those minima, taking the hull edge that spans their mean
   time (the line that lies below every point and minimises the summed distance to them),
   with the slope clipped to ``max_drift_ppm`` and held until the baseline spans
   ``min_baseline_s``;
3. never jumps: when the fit changes, the difference between the map in use and the new fit
   becomes a residual that decays exponentially (time constant at least ``slew_time_s`` and
   slow enough that the slew stays under ``max_slew_ppm``), so the map stays continuous and
   strictly increasing.

A device clock that runs backwards, or whose offset leaves the envelope by more than
``reset_thresh_s`` (the Polar H10 restarts at 2019-01-01 after a shutdown), re-anchors the
map, keeps the drift estimate (same oscillator) and counts ``n_resets``; session times stay
strictly increasing across the reset.

Session times carry the minimum latency as a bias unless ``latency_floor_s`` is set to it.

Usage: for every packet, ``t_s, s = step(p, s, t_dev_s_of_its_samples, t_obs_dev_s, t_rx_s)``.
The samples are mapped with the fit as it stood BEFORE this packet's observation is added,
so every packet is mapped by the piece of the map that started at the previous packet.
:func:`step_many` does the same for a run of packets in one call (bit-identical; ``step`` is
``step_many`` for one packet), which is how the decoders use it.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from breathform.errors import InputError

_PPM = 1e-6


@dataclass(frozen=True, slots=True)
class ClockParams:
    """Settings of the clock fit.

    Attributes:
        bin_s: Device-time width of a lower-envelope bin.
        window_s: Device-time span of bins kept for the fit.
        min_baseline_s: Span of bins needed before the drift is fitted.
        max_drift_ppm: Largest drift believed, in ppm; the slope is clipped to it.
        slew_time_s: Time constant with which a change of the fit is slewed in.
        max_slew_ppm: Largest rate change used for slewing, ppm.
        reset_thresh_s: Offset change (or backward step) that counts as a clock reset.
        latency_floor_s: Known minimum latency, subtracted from session times.
        min_step_s: Smallest spacing kept between outputs across a reset.
    """

    bin_s: float = 2.0
    window_s: float = 300.0
    min_baseline_s: float = 20.0
    max_drift_ppm: float = 300.0
    slew_time_s: float = 10.0
    max_slew_ppm: float = 5000.0
    reset_thresh_s: float = 2.0
    latency_floor_s: float = 0.0
    min_step_s: float = 1e-6

    def __post_init__(self) -> None:
        for name in ("bin_s", "window_s", "slew_time_s", "max_slew_ppm", "reset_thresh_s",
                     "min_step_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"{name} must be finite and > 0, got {v}")
        if not self.window_s >= 2 * self.bin_s:
            raise InputError(f"window_s must be >= 2 * bin_s, got window_s={self.window_s}, "
                             f"bin_s={self.bin_s}")
        if not 0 <= self.min_baseline_s < self.window_s:
            raise InputError(f"min_baseline_s must be in [0, window_s), got "
                             f"{self.min_baseline_s}")
        if not 0 <= self.max_drift_ppm < 1e5:
            raise InputError(f"max_drift_ppm must be in [0, 1e5), got {self.max_drift_ppm}")
        if not self.max_slew_ppm < 5e5:
            raise InputError(f"max_slew_ppm must be < 5e5, got {self.max_slew_ppm}")
        if not (math.isfinite(self.latency_floor_s) and self.latency_floor_s >= 0):
            raise InputError(f"latency_floor_s must be finite and >= 0, got "
                             f"{self.latency_floor_s}")


@dataclass(frozen=True, slots=True)
class ClockState:
    """Everything the clock fit carries from one packet to the next.

    Device times below are relative to ``t_ref_dev_s`` ("rel").

    Attributes:
        anchored: False until the first observation.
        t_ref_dev_s: Device time of the anchoring observation.
        out_ref_s: Receive time of the anchoring observation (session seconds).
        bin_ids: Index of each kept envelope bin.
        bin_t_s: Rel device time of each bin's minimum offset.
        bin_y_s: That minimum offset, y = t_rx - out_ref - t_rel.
        fit_a_s: Intercept of the envelope line.
        fit_drift: Slope of the envelope line (dimensionless, ~ -drift).
        res_t0_s: Rel device time where the slew residual was set.
        res_e0_s: Slew residual at res_t0_s (map in use minus fit).
        res_tau_s: Decay time constant of the residual.
        last_obs_s: Rel device time of the last observation.
        last_sample_s: Rel device time of the last mapped sample.
        last_out_s: Last session time output.
        n_obs: Observations taken.
        n_resets: Re-anchorings after a device clock reset.
    """

    anchored: bool = False
    t_ref_dev_s: float = 0.0
    out_ref_s: float = 0.0
    bin_ids: tuple[int, ...] = ()
    bin_t_s: tuple[float, ...] = ()
    bin_y_s: tuple[float, ...] = ()
    fit_a_s: float = 0.0
    fit_drift: float = 0.0
    res_t0_s: float = 0.0
    res_e0_s: float = 0.0
    res_tau_s: float = 1.0
    last_obs_s: float = -math.inf
    last_sample_s: float = -math.inf
    last_out_s: float = -math.inf
    n_obs: int = 0
    n_resets: int = 0


def init_state(p: ClockParams) -> ClockState:
    """Fresh state: not anchored.

    Args:
        p: Clock settings (unused; kept for the Params/State/step convention).

    Returns:
        The initial state.
    """
    del p
    return ClockState()


def _map_rel(p: ClockParams, s: ClockState, t_rel: NDArray[np.float64]) -> NDArray[np.float64]:
    return _map_rel_arr(p, s.out_ref_s, s.fit_a_s, s.fit_drift, s.res_t0_s, s.res_e0_s,
                        s.res_tau_s, t_rel)


def _map_rel_arr(p: ClockParams, out_ref: float, a: float, r: float, t0: float, e0: float,
                 tau: float, t_rel: NDArray[np.float64]) -> NDArray[np.float64]:
    # Every operation is elementwise, so an element's value does not depend on the array it
    # sits in; step_many() relies on this to map a run of packets at once.
    # Computes out_ref + (t + (a + r t)) - latency_floor + e0 exp(-max(t - t0, 0) / tau)
    # in that order (so bit-identical to writing it out), in place on two fresh arrays.
    out = t_rel * r
    out += a
    out += t_rel
    out += out_ref
    if p.latency_floor_s != 0.0:  # x - 0.0 == x for every x
        out -= p.latency_floor_s
    if e0 != 0.0:
        res = t_rel - t0
        np.maximum(res, 0.0, out=res)
        res /= -tau  # == -res / tau: division rounds symmetrically in sign
        np.exp(res, out=res)
        res *= e0
        out += res
    else:
        out += 0.0  # as adding a zero residual would (turns -0.0 into 0.0)
    return out


def to_session(p: ClockParams, s: ClockState, t_dev_s: NDArray[np.float64]
               ) -> NDArray[np.float64]:
    """Map device times to session times with the current fit, without updating it.

    Valid for device times after the last observation (the map extrapolates forward).

    Args:
        p: Clock settings.
        s: Clock state; must be anchored.
        t_dev_s: Device times in seconds, shape (n,).

    Returns:
        Session times in seconds, shape (n,).

    Raises:
        InputError: If the clock has not been anchored yet.
    """
    if not s.anchored:
        raise InputError("clock is not anchored: call step() with an observation first")
    t = np.asarray(t_dev_s, dtype=np.float64)
    return _map_rel(p, s, t - s.t_ref_dev_s)


def _push(hull: list[int], ts: tuple[float, ...], ys: tuple[float, ...], j: int) -> None:
    """Add point j to a lower hull of indices (one step of Andrew's monotone chain)."""
    x, y = ts[j], ys[j]
    while len(hull) >= 2:
        i1, i2 = hull[-2], hull[-1]
        x1, y1, x2, y2 = ts[i1], ys[i1], ts[i2], ys[i2]
        # pop the middle point unless it lies strictly below the chord
        if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) <= 0:
            hull.pop()
        else:
            break
    hull.append(j)


def _chain(ts: Sequence[float], ys: Sequence[float], stop: int) -> list[int]:
    """Andrew's monotone chain (lower hull) over points 0..stop-1: their hull's indices."""
    # _push inlined, on coordinate lists
    hull: list[int] = []
    hx: list[float] = []
    hy: list[float] = []
    for j in range(stop):
        x, y = ts[j], ys[j]
        while len(hull) >= 2:
            x1, y1, x2, y2 = hx[-2], hy[-2], hx[-1], hy[-1]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) <= 0:
                hull.pop()
                hx.pop()
                hy.pop()
            else:
                break
        hull.append(j)
        hx.append(x)
        hy.append(y)
    return hull


_recent_hulls: collections.OrderedDict[
    tuple[float, float], tuple[tuple[float, ...], tuple[float, ...], tuple[int, ...]]]
_recent_hulls = collections.OrderedDict()
"""The last hulls the fit built (points and indices), by their last point, across clocks:
when a new bin starts, the bins before it are the previous fit's bins less the ones that
left the window, and their hull is derived from that fit's hull (and a step_many() call
that starts within a bin finds the prefix hull the last call ended with). Keyed by the last
point so that a clock finds its own last hull however many fits other clocks did in
between."""

_N_RECENT_HULLS = 128


def _remember_hull(ts: tuple[float, ...], ys: tuple[float, ...], hull: tuple[int, ...]
                   ) -> None:
    """Keep a fit's hull for :func:`_hull_indices` (the oldest of too many are dropped)."""
    _recent_hulls[(ts[-1], ys[-1])] = (ts, ys, hull)
    if len(_recent_hulls) > _N_RECENT_HULLS:
        try:
            _recent_hulls.popitem(last=False)
        except KeyError:  # another thread emptied it first
            pass


def _derive_hull(ts: tuple[float, ...], ys: tuple[float, ...]) -> tuple[int, ...]:
    """Indices of the lower hull of points sorted by ts, from a remembered hull if one fits."""
    m = len(ts)
    if m == 0:
        return ()
    earlier = _recent_hulls.get((ts[-1], ys[-1]))
    if earlier is not None:
        pts, pys, phull = earlier
        k = len(pts) - m
        if k < 0 or pts[k] != ts[0] or pts[k:] != ts or pys[k:] != ys:
            return tuple(_chain(ts, ys, m))
        # (ts, ys) = an earlier point set less its first k points. Every vertex of the
        # earlier hull at or after point k is still a vertex (dropping points only raises
        # the lower hull), so past the first such vertex h0 the chain over (ts, ys) makes
        # the earlier chain's decisions: only points 0..h0 are chained again (the window
        # slides by one bin every bin_s; tests check this against a full recomputation).
        kept = [i - k for i in phull if i >= k]
        h0 = kept[0]
        return tuple(_chain(ts, ys, h0 + 1) + kept[1:])
    return tuple(_chain(ts, ys, m))


_hull_indices = functools.lru_cache(maxsize=16)(_derive_hull)
""":func:`_derive_hull`, cached by the points (for :func:`_lower_hull`, which asks for the
same prefix at every fit; :func:`_fit_prefix` keeps its own and skips hashing them)."""


def _lower_hull(ts: tuple[float, ...], ys: tuple[float, ...]) -> list[int]:
    """Indices of the lower convex hull of points sorted by ts."""
    # The chain is sequential, so the hull of all bins is the hull of all but the last one
    # plus one step; between new bins only the last bin changes, so that prefix hull is
    # cached (and at a new bin derived from the last hull returned here). Indices, not
    # coordinates, are cached: equal keys give the same decisions.
    hull = list(_hull_indices(ts[:-1], ys[:-1]))
    _push(hull, ts, ys, len(ts) - 1)
    _remember_hull(ts, ys, tuple(hull))
    return hull


def _hull_slope(ts: tuple[float, ...], ys: tuple[float, ...], hull: list[int],
                r: float) -> float:
    """Slope of the lower hull's edge over the bins' mean time (``r`` if the hull is a point)."""
    if len(hull) < 2:
        return r
    tm = sum(ts) / len(ts)
    i = 0
    while i < len(hull) - 2 and ts[hull[i + 1]] < tm:
        i += 1
    i1, i2 = hull[i], hull[i + 1]
    return (ys[i2] - ys[i1]) / (ts[i2] - ts[i1])


def _fit(p: ClockParams, ts: tuple[float, ...], ys: tuple[float, ...], prev_r: float
         ) -> tuple[float, float]:
    r = prev_r
    if len(ts) >= 2 and ts[-1] - ts[0] >= p.min_baseline_s:
        r = _hull_slope(ts, ys, _lower_hull(ts, ys), r)
    rmax = p.max_drift_ppm * _PPM
    r = min(max(r, -rmax), rmax)
    a = min(map(operator.sub, ys, map(operator.mul, itertools.repeat(r), ts)))
    return a, r


class _Prefix:
    """What :func:`_fit_prefix` keeps of the bins before the last one, while they stay the same.

    Between new bins only the last bin's minimum moves (it can only go down), so the hull
    of the other bins and, for a given slope, their lowest offset are reused. Reset (a fresh
    instance) whenever bins are added, dropped or cleared.
    """

    __slots__ = ("hull", "last", "low", "prefix", "r")

    def __init__(self) -> None:
        self.hull: tuple[int, ...] | None = None
        self.prefix: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())  # its points
        self.r = math.nan  # the slope ``low`` was taken with (NaN: none yet)
        self.low = math.inf
        # the last fit's bins and hull, for _remember_hull when the bins are replaced
        self.last: tuple[tuple[float, ...], tuple[float, ...], list[int]] | None = None

    def remember(self) -> None:
        """Keep the hulls :func:`_derive_hull` may be asked for next.

        The last fit's (its bins are the next bin's prefix, less the bins that leave the
        window) and the prefix's (a later :func:`_step_many` call starts with the same
        prefix). :func:`_step_many` calls this when it replaces the instance and when it
        returns, instead of every fit remembering its hull.
        """
        if self.hull is not None:
            _remember_hull(*self.prefix, self.hull)
        if self.last is not None:
            ts, ys, hull = self.last
            _remember_hull(ts, ys, tuple(hull))
            self.last = None


def _fit_prefix(p: ClockParams, ts: tuple[float, ...], ys: tuple[float, ...], prev_r: float,
                pre: _Prefix) -> tuple[float, float]:
    """:func:`_fit` with the prefix (all bins but the last) results cached in ``pre``.

    Bit-identical: the hull is the cached prefix hull plus one chain step, as
    :func:`_lower_hull` builds it, and min() over the offsets keeps the first of equal
    minima whether the prefix's minimum is taken first or not.
    """
    r = prev_r
    m = len(ts)
    if m >= 2 and ts[-1] - ts[0] >= p.min_baseline_s:
        h = pre.hull
        if h is None:
            pre.prefix = ts[:-1], ys[:-1]
            h = pre.hull = _derive_hull(*pre.prefix)
        hull = list(h)
        _push(hull, ts, ys, m - 1)
        pre.last = (ts, ys, hull)  # remembered when the bins change (_Prefix.remember)
        r = _hull_slope(ts, ys, hull, r)
    rmax = p.max_drift_ppm * _PPM
    r = min(max(r, -rmax), rmax)
    if m < 2:
        return min(map(operator.sub, ys, map(operator.mul, itertools.repeat(r), ts))), r
    pr = pre.r
    if not (pr == r and math.copysign(1.0, pr) == math.copysign(1.0, r)):
        # (-0.0 and 0.0 give different signed zeros below)
        pre.r = r
        pre.low = min(map(operator.sub, ys[:-1], map(operator.mul, itertools.repeat(r),
                                                     ts[:-1])))
    last = ys[-1] - r * ts[-1]
    low = pre.low
    return (last if last < low else low), r


def _anchor(p: ClockParams, s: ClockState, first_rel: float, t_obs_dev_s: float,
            t_rx_s: float, is_reset: bool) -> ClockState:
    r = s.fit_drift
    base_first = t_rx_s + first_rel * (1.0 + r) - p.latency_floor_s
    e0 = 0.0
    if math.isfinite(s.last_out_s):
        e0 = max(0.0, s.last_out_s + p.min_step_s - base_first)
    tau = max(p.slew_time_s, e0 / (p.max_slew_ppm * _PPM))
    return replace(s, anchored=True, t_ref_dev_s=t_obs_dev_s, out_ref_s=t_rx_s, bin_ids=(),
                   bin_t_s=(), bin_y_s=(), fit_a_s=0.0, fit_drift=r, res_t0_s=first_rel,
                   res_e0_s=e0, res_tau_s=tau, last_obs_s=-math.inf,
                   last_sample_s=-math.inf, n_resets=s.n_resets + int(is_reset))


def _check_times(t: NDArray[np.float64]) -> None:
    if not bool(np.all(np.isfinite(t))):
        raise InputError("t_dev_s must be finite")
    if t.size > 1 and not bool(np.all(np.diff(t) > 0)):
        raise InputError("t_dev_s must be strictly increasing")


def step(p: ClockParams, s: ClockState, t_dev_s: NDArray[np.float64], t_obs_dev_s: float,
         t_rx_s: float, *, force_reset: bool = False
         ) -> tuple[NDArray[np.float64], ClockState]:
    """Map one packet's sample times to session time, then learn from its arrival.

    Args:
        p: Clock settings.
        s: State from the previous packet (or :func:`init_state`).
        t_dev_s: Device times of the packet's samples, seconds, shape (n,), strictly
            increasing (n may be 0).
        t_obs_dev_s: Device time the packet was sent at (its last sample), seconds.
        t_rx_s: Host receive time of the packet, session seconds.
        force_reset: Re-anchor even if the clock looks continuous (the caller saw a reset).

    Returns:
        Session times of the samples, shape (n,), continuing strictly increasing from the
        previous packet's, and the new state (``n_resets`` counts re-anchorings).

    Raises:
        InputError: If a time is not finite or t_dev_s is not strictly increasing (n,).
    """
    t = np.asarray(t_dev_s, dtype=np.float64)
    if t.ndim != 1:
        raise InputError(f"t_dev_s must have shape (n,), got {t.shape}")
    out, s, _ = step_many(p, s, t, (t.shape[0],), (t_obs_dev_s,), (t_rx_s,),
                          (force_reset,))
    return out, s


_MARGIN_S = 1e-9
"""Decisions on a mapped time taken from a scalar estimate (``math.exp`` instead of numpy's
exp) only when it is this far (times 1 + |time|) from the threshold; closer ones are
recomputed exactly. The estimate differs from the exact map only by e0 times the two
exponentials' difference (an ulp or two), orders of magnitude below this; a looser margin
(it was 1e-6: 3.6 ms at one hour, near a sample period) sends every packet of a long
session to the exact path."""


def _least_slope(p: ClockParams) -> float:
    """A lower bound of every map's slope (session seconds per device second).

    d/dt of t (1 + r) + e0 exp(-(t - t0) / tau) is at least 1 - |r| - |e0| / tau, with
    |r| <= max_drift_ppm and |e0| / tau <= max_slew_ppm: > 0.4 for every valid ClockParams.
    """
    return 1.0 - p.max_drift_ppm * _PPM - p.max_slew_ppm * _PPM


def _map_exact(p: ClockParams, prm: tuple[float, ...], x: float) -> float:
    """The map of rel device time x, bit-identical to mapping it within a packet.

    _map_rel_arr's operations in the same order on Python floats (IEEE doubles, as numpy's
    elementwise +, *, / are), except the exponential, which numpy computes (its ufunc loop
    on the float as a 0-d array: the loop _map_rel_arr runs over an array, element by
    element) since libm's may round differently.
    """
    _t_ref, out_ref, a, r, t0, e0, tau = prm
    out = x * r
    out += a
    out += x
    out += out_ref
    if p.latency_floor_s != 0.0:
        out -= p.latency_floor_s
    if e0 != 0.0:
        res = x - t0
        if res < 0.0:  # np.maximum(res, 0.0); res is finite (a -0.0 gives exp(-0.0) == 1)
            res = 0.0
        res /= -tau
        out += float(np.exp(res)) * e0
    else:
        out += 0.0
    return out


def _check_many(t: NDArray[np.float64], counts: Sequence[int], t_obs: Sequence[float],
                t_rx: Sequence[float]) -> None:
    """Raise step()'s error for the first packet whose times are invalid."""
    i = 0
    for n, to, tr in zip(counts, t_obs, t_rx, strict=True):
        if not (math.isfinite(to) and math.isfinite(tr)):
            raise InputError(f"t_obs_dev_s and t_rx_s must be finite, got {to}, {tr}")
        _check_times(t[i:i + n])
        i += n


def _estimate(p: ClockParams, prm: tuple[float, ...], x: float) -> float:
    """Scalar estimate of the map ``prm`` at rel device time x (``math.exp``: see _MARGIN_S)."""
    _t_ref, out_ref, a, r, t0, e0, tau = prm
    est = x * r + a + x + out_ref - p.latency_floor_s
    if e0 != 0.0:
        est += e0 * math.exp(-max(x - t0, 0.0) / tau)
    return est


def _guard_resets(p: ClockParams, prm: tuple[float, ...], first_rel: float,
                  last_out_est: float, exact_last_out: Callable[[], float]) -> bool:
    """Whether a packet's first sample, mapped by ``prm``, would not come after the last output.

    Guards against float rounding putting the first output at/below the last one: decided
    on the scalar estimates unless they are within ``_MARGIN_S`` of each other, then on the
    exact values.
    """
    o0 = _estimate(p, prm, first_rel)
    if abs(o0 - last_out_est) > _MARGIN_S * (1.0 + abs(last_out_est)):
        return o0 <= last_out_est
    return _map_exact(p, prm, first_rel) <= exact_last_out()


_FAST_MIN_PACKETS = 24
"""step_many() looks for quiet stretches (:func:`_quiet_stretches`) only when at least this
many packets are left: for fewer the numpy set-up costs more than the packets' loop."""

_FAST_MIN_PER_BIN = 24.0
"""... and only when a call's packets come at least this many per envelope bin. A bin's
minimum moves about ln(n) times over n packets (the running minimum of random latencies),
so quiet stretches are long only when bins hold many packets: with 11 packets per bin
(a Polar H10 at 200 Hz) the set-up cost more than it saved, with 52 (a Movesense at
208 Hz) it saved about a quarter of step_many's instructions."""


def _quiet_stretches(k0: int, t_obs: NDArray[np.float64], t_rx: NDArray[np.float64],
                     force: NDArray[np.bool_] | None, counts: NDArray[np.intp],
                     firsts: NDArray[np.float64], lasts: NDArray[np.float64],
                     t_ref: float, out_ref: float, last_obs: float, last_sample: float,
                     last_bin: float, last_y: float, bin_s: float, slope: float
                     ) -> tuple[list[list[int]], list[list[float]]]:
    """The runs of packets from k0 on that step_many() may take in bulk.

    Valid while no packet re-anchors (``t_ref`` and ``out_ref`` stay). A packet is "hard" if
    a check that does not depend on the fit fails: force_reset, its observation not after
    the last one, its first sample not after the last sample (these three always
    re-anchor), or it changes the envelope bins (a new bin, or an offset below the bin's
    minimum; the bins evolve alike whatever the fits, as long as nothing re-anchors). The
    other packets form the stretches; step_many() still checks, per stretch, the offset
    threshold and the first-output guard, which depend on the fit.

    Every per-packet value is computed with the scalar loop's float operations in the same
    order (numpy's elementwise +, -, *, / are IEEE-identical to Python's floats).

    Returns:
        Per stretch, in order: [first packet, end (exclusive), first and last packet with
        samples (-1: none)], and [least offset y, minus the greatest, least guard gap
        (first sample minus the last sample before, times ``slope``) of the packets with
        samples after the first (inf: none)].
    """
    m = t_obs.shape[0] - k0
    tr = t_obs[k0:] - t_ref
    y = np.empty(m + 1)  # the state's last bin minimum, then each packet's offset
    y[0] = last_y
    np.subtract(t_rx[k0:], out_ref, out=y[1:])
    y[1:] -= tr
    n = counts[k0:]
    first_rel = firsts[k0:] - t_ref
    before = np.empty(m)  # the last sample before each packet
    before[0] = last_sample
    has = None if n.all() else n != 0
    if has is None:
        before[1:] = lasts[k0:-1]
        before[1:] -= t_ref
    else:
        first_rel[~has] = tr[~has]
        last = np.where(has, np.arange(m), -1)  # the last packet with samples up to each
        np.maximum.accumulate(last, out=last)
        before[1:] = np.where(last[:-1] >= 0, lasts[k0:][last[:-1]] - t_ref, last_sample)
    hard = first_rel <= before
    prev = np.empty(m)
    prev[0] = last_obs
    prev[1:] = tr[:-1]
    hard |= tr <= prev
    if force is not None:
        hard |= force[k0:]
    # envelope changes: y below the running minimum of its bin (the state's last bin first).
    # Exact segmented running minimum, on ranks (a stable sort: an equal later y ranks
    # higher, so it is not "below") minus the bin's segment number times more than any
    # rank, so each new bin starts below everything before it.
    bins = tr / bin_s
    np.floor(bins, out=bins)
    prev[0] = last_bin  # NaN (no bins yet): a new bin
    prev[1:] = bins[:-1]
    seg = np.cumsum(bins != prev)
    seg *= -(m + 1)
    key = np.empty(m + 1, dtype=np.intp)
    key[np.argsort(y, kind="stable")] = np.arange(m + 1)
    key[1:] += seg
    hard |= key[1:] < np.minimum.accumulate(key)[:-1]
    starts = np.flatnonzero(hard[:-1] & ~hard[1:]) + 1
    if not hard[0]:
        starts = np.concatenate(([0], starts))
    if not starts.size:
        return [], []
    ends = np.flatnonzero(~hard[:-1] & hard[1:]) + 1
    if not hard[-1]:
        ends = np.append(ends, m)
    if slope > 0.0:  # (0 only if a test forces it: then no gap is "clear")
        gap = first_rel - before
        gap *= slope
    else:
        gap = np.full(m, np.nan)
    if has is None:
        first_nz, last_nz = starts, ends - 1
    else:
        gap[~has] = np.inf
        nxt = np.where(has, np.arange(m), m)[::-1]  # the first packet with samples from each
        first_nz = np.minimum.accumulate(nxt)[::-1][starts]
        first_nz[first_nz >= ends] = -1 - k0
        last_nz = last[ends - 1]
        last_nz[last_nz < starts] = -1 - k0
    gap[first_nz[first_nz >= 0]] = np.inf  # its guard is decided on its own
    # reduceat over [start, end) of each stretch: every other result of the interleaved
    # indices (one more column, as an end may be m)
    idx = np.empty(2 * starts.size, dtype=np.intp)
    idx[0::2] = starts
    idx[1::2] = ends
    cols = np.empty((3, m + 1))
    cols[0, :m] = y[1:]
    np.negative(y[1:], out=cols[1, :m])
    cols[2, :m] = gap
    cols[:, m] = 0.0
    ints = np.stack((starts, ends, first_nz, last_nz))
    ints += k0
    return (ints.T.tolist(),
            np.minimum.reduceat(cols, idx, axis=1)[:, 0::2].T.tolist())


def step_many(p: ClockParams, s: ClockState, t_dev_s: NDArray[np.float64],
              counts: Sequence[int], t_obs_dev_s: Sequence[float], t_rx_s: Sequence[float],
              force_reset: Sequence[bool]) -> tuple[NDArray[np.float64], ClockState, list[int]]:
    """:func:`step` for a run of packets at once: the same outputs and state, bit for bit.

    The per-packet bookkeeping (envelope bins, fit, reset checks) runs on Python floats;
    the samples are mapped in one vectorised pass at the end, each with the map its packet
    would have used. Decisions that depend on a mapped time (the guard against a first
    output at or below the last one) use a scalar estimate unless it is within
    ``_MARGIN_S`` of the threshold, and mapped times that enter the state (the slew
    residual, the last output before a re-anchoring) are computed exactly as step() would.
    Most packets change neither the envelope bins nor the fit: runs of them whose reset
    checks all clearly pass are taken in bulk (:func:`_quiet_stretches`).

    Args:
        p: Clock settings.
        s: State before the first packet.
        t_dev_s: Device times of all the packets' samples, concatenated, shape (N,).
        counts: Samples of each packet (sum N), each packet's strictly increasing.
        t_obs_dev_s: Each packet's observation device time, seconds.
        t_rx_s: Each packet's receive time, session seconds.
        force_reset: Each packet's ``force_reset``.

    Returns:
        Session times of all samples, shape (N,); the state after the last packet; and
        ``n_resets`` after each packet.

    Raises:
        InputError: If the arguments do not match or a time is invalid (then no packet
            is consumed).
    """
    return _step_many(p, s, t_dev_s, counts, t_obs_dev_s, t_rx_s, force_reset, fast=True)


def _step_many(p: ClockParams, s: ClockState, t_dev_s: NDArray[np.float64],
               counts: Sequence[int], t_obs_dev_s: Sequence[float], t_rx_s: Sequence[float],
               force_reset: Sequence[bool], *, fast: bool
               ) -> tuple[NDArray[np.float64], ClockState, list[int]]:
    """:func:`step_many`; with ``fast=False`` every packet goes through the scalar loop."""
    t = np.asarray(t_dev_s, dtype=np.float64)
    m = len(counts)
    if t.ndim != 1 or sum(counts) != t.shape[0] or not (
            len(t_obs_dev_s) == len(t_rx_s) == len(force_reset) == m):
        raise InputError(f"t_dev_s must have shape (sum(counts),) and one t_obs_dev_s, t_rx_s "
                         f"and force_reset per packet; got {t.shape}, {m} counts, "
                         f"{len(t_obs_dev_s)}, {len(t_rx_s)}, {len(force_reset)}")
    cnt = np.array(counts, dtype=np.intp).reshape(m)
    ends = np.cumsum(cnt)
    # strictly increasing (NaN compares False) within each packet and finite ends =>
    # all finite
    ok = all(map(math.isfinite, itertools.chain(t_obs_dev_s, t_rx_s)))
    if ok and t.shape[0]:
        inc = t[1:] > t[:-1]
        bounds = ends[:-1][(ends[:-1] > 0) & (ends[:-1] < t.shape[0])] - 1
        if bounds.size:
            inc[bounds] = True
        ok = (math.isfinite(float(t[0])) and math.isfinite(float(t[-1]))
              and bool(inc.all()))
        if ok:
            ok = bool(np.isfinite(t[ends[cnt != 0] - 1]).all())
    if not ok:
        _check_many(t, counts, t_obs_dev_s, t_rx_s)
    if t.shape[0]:
        lasts_a = t[np.where(cnt != 0, ends - 1, 0)]
        firsts_a = t[np.where(cnt != 0, ends - cnt, 0)]
    else:
        lasts_a = firsts_a = np.zeros(m)
    lasts, firsts = lasts_a.tolist(), firsts_a.tolist()
    anchored = s.anchored
    t_ref, out_ref = s.t_ref_dev_s, s.out_ref_s
    ids, bt, by = s.bin_ids, s.bin_t_s, s.bin_y_s
    a, r = s.fit_a_s, s.fit_drift
    t0, e0, tau = s.res_t0_s, s.res_e0_s, s.res_tau_s
    last_obs, last_sample, n_obs, n_resets = s.last_obs_s, s.last_sample_s, s.n_obs, s.n_resets
    # last_out_s: exact value, or (params, x) to compute it from, plus a scalar estimate
    last_out: float | None = s.last_out_s
    last_out_src: tuple[tuple[float, ...], float] = ((0.0,) * 7, 0.0)
    last_out_est = s.last_out_s
    floor, bin_s, thresh = p.latency_floor_s, p.bin_s, p.reset_thresh_s
    n_keep = math.ceil(p.window_s / p.bin_s)
    slope = _least_slope(p)
    guard_gap = 4.0 * _MARGIN_S
    # the map of each run of packets mapped alike, and the samples in each run
    prms: list[tuple[float, ...]] = [(t_ref, out_ref, a, r, t0, e0, tau)]
    runs: list[int] = []
    run_n = 0
    pre = _Prefix()
    resets: list[int] = []
    # quiet stretches (as _quiet_stretches returns them), the next one's index and first
    # packet; found again after every (re-)anchoring
    span_s = t_obs_dev_s[-1] - t_obs_dev_s[0] if m else 0.0
    fast = fast and m >= _FAST_MIN_PACKETS and m * bin_s >= _FAST_MIN_PER_BIN * span_s
    find = fast
    st_int: list[list[int]] = []
    st_float: list[list[float]] = []
    st_at, st_next = 0, m
    if find:
        t_obs_a = np.array(t_obs_dev_s, dtype=np.float64).reshape(m)
        t_rx_a = np.array(t_rx_s, dtype=np.float64).reshape(m)
        force_a = (np.array(force_reset, dtype=np.bool_).reshape(m) if any(force_reset)
                   else None)
        ends_l = ends.tolist()

    def exact_last_out() -> float:
        nonlocal last_out
        if last_out is None:
            last_out = _map_exact(p, *last_out_src)
        return last_out

    k = 0
    while k < m:
        if find and anchored:
            find = False
            if m - k >= _FAST_MIN_PACKETS:
                st_int, st_float = _quiet_stretches(
                    k, t_obs_a, t_rx_a, force_a, cnt, firsts_a, lasts_a, t_ref, out_ref,
                    last_obs, last_sample, ids[-1] if ids else math.nan,
                    by[-1] if by else 0.0, bin_s, slope)
                st_at = 0
                st_next = st_int[0][0] if st_int else m
        if k == st_next:
            # Packets k..end-1 change nothing but bookkeeping, unless one resets on the
            # offset threshold or the first-output guard. Both are checked for the whole
            # stretch with bounds, loose by a factor far above float rounding; if a bound
            # is not clearly met the packets go through the loop below one by one.
            _, end, f, lst = st_int[st_at]
            y_lo, y_hi, gap = st_float[st_at]
            y_hi = -y_hi
            st_at += 1
            st_next = st_int[st_at][0] if st_at < len(st_int) else m
            rt_lo, rt_hi = r * (t_obs_dev_s[k] - t_ref), r * (t_obs_dev_s[end - 1] - t_ref)
            tol = 1e-9 * (1.0 + abs(y_lo) + abs(y_hi) + abs(a) + abs(rt_lo) + abs(rt_hi))
            quiet = (y_hi - a - min(rt_lo, rt_hi) + tol <= thresh
                     and y_lo - a - max(rt_lo, rt_hi) - tol >= -thresh)
            prm = prms[-1]
            if quiet and f >= 0:
                # the first packet with samples: its guard exactly as the loop decides it
                fr = firsts[f] - t_ref
                if not (last_out_src[0] is prm
                        and (fr - last_sample) * slope > guard_gap * (1.0 + abs(last_out_est))):
                    quiet = not _guard_resets(p, prm, fr, last_out_est, exact_last_out)
                # the others' guards are skipped (the last output was mapped by the map in
                # use) if the gap clears a bound of the threshold: |estimate| <= |x| (1 +
                # |r|) + |a| + |out_ref| + floor + |e0|, x the last sample before (the last
                # samples rise through the stretch)
                if quiet and gap != math.inf:
                    x = max(abs(lasts[f] - t_ref), abs(lasts[lst] - t_ref))
                    bound = (x * (1.0 + abs(r)) + abs(a) + abs(out_ref) + floor
                             + abs(e0)) * (1.0 + 1e-9)
                    quiet = gap > guard_gap * (1.0 + bound) * (1.0 + 1e-9)
            if quiet:
                run_n += ends_l[end - 1] - (ends_l[k - 1] if k else 0)
                if lst >= 0:
                    last_sample = lasts[lst] - t_ref
                    last_out, last_out_src = None, (prm, last_sample)
                    last_out_est = _estimate(p, prm, last_sample)
                last_obs = t_obs_dev_s[end - 1] - t_ref
                n_obs += end - k
                resets += itertools.repeat(n_resets, end - k)
                k = end
                continue
        n = counts[k]
        t_first, t_last = firsts[k], lasts[k]
        t_obs, t_rx = t_obs_dev_s[k], t_rx_s[k]
        reset: bool | None = None
        if not anchored:
            reset = False
        else:
            t_rel = t_obs - t_ref
            y = (t_rx - out_ref) - t_rel
            y_pred = a + r * t_rel
            first_rel = (t_first - t_ref) if n else t_rel
            if (force_reset[k] or t_rel <= last_obs or first_rel <= last_sample
                    or abs(y - y_pred) > thresh):
                reset = True
            elif n and not (last_out_src[0] is prms[-1] and (first_rel - last_sample) * slope
                            > guard_gap * (1.0 + abs(last_out_est))):
                # the guard (skipped when the last output was mapped by the map in use,
                # which rises at least ``slope`` per second: then the estimate would be
                # clearly above the last and decide "no reset")
                if _guard_resets(p, prms[-1], first_rel, last_out_est, exact_last_out):
                    reset = True
        if reset is not None:  # anchor (first packet) or re-anchor
            cur = ClockState(anchored, t_ref, out_ref, ids, bt, by, a, r, t0, e0, tau,
                             last_obs, last_sample, exact_last_out(), n_obs, n_resets)
            nxt = _anchor(p, cur, (t_first - t_obs) if n else 0.0, t_obs, t_rx,
                          is_reset=reset)
            anchored, t_ref, out_ref = True, nxt.t_ref_dev_s, nxt.out_ref_s
            ids, bt, by = nxt.bin_ids, nxt.bin_t_s, nxt.bin_y_s
            a, r, t0, e0, tau = (nxt.fit_a_s, nxt.fit_drift, nxt.res_t0_s, nxt.res_e0_s,
                                 nxt.res_tau_s)
            last_obs, last_sample, n_resets = nxt.last_obs_s, nxt.last_sample_s, nxt.n_resets
            pre.remember()
            pre = _Prefix()
            if run_n:
                runs.append(run_n)
                prms.append((t_ref, out_ref, a, r, t0, e0, tau))
            else:  # no sample was mapped with the old map
                prms[-1] = (t_ref, out_ref, a, r, t0, e0, tau)
            run_n = 0
            find, st_next = fast, m
        prm = prms[-1]
        run_n += n
        t_rel = t_obs - t_ref
        if n:
            last_sample = t_last - t_ref
            last_out, last_out_src = None, (prm, last_sample)
            last_out_est = _estimate(p, prm, last_sample)
        # _observe, on locals
        y = (t_rx - out_ref) - t_rel
        bid = math.floor(t_rel / bin_s)
        changed = True
        if ids and ids[-1] == bid:
            if y < by[-1]:
                bt, by = bt[:-1] + (t_rel,), by[:-1] + (y,)
            else:
                changed = False
        else:
            ids, bt, by = ids + (bid,), bt + (t_rel,), by + (y,)
            pre.remember()
            pre = _Prefix()
            keep_from = bid - n_keep
            j = 0
            while ids[j] <= keep_from:
                j += 1
            if j:
                ids, bt, by = ids[j:], bt[j:], by[j:]
        if changed:
            a, r = _fit_prefix(p, bt, by, r, pre)
            mapped_obs = (exact_last_out() if n and t_last == t_obs
                          else _map_exact(p, prm, t_rel))
            target = out_ref + (t_rel + (a + r * t_rel)) - floor
            e0 = mapped_obs - target
            tau = max(p.slew_time_s, abs(e0) / (p.max_slew_ppm * _PPM))
            t0 = t_rel
            if run_n:
                runs.append(run_n)
                prms.append((t_ref, out_ref, a, r, t0, e0, tau))
            else:
                prms[-1] = (t_ref, out_ref, a, r, t0, e0, tau)
            run_n = 0
        last_obs = t_rel
        n_obs += 1
        resets.append(n_resets)
        k += 1
    pre.remember()
    runs.append(run_n)
    out = _map_many(p, t, runs, prms)
    if last_out is None:  # the last packet with samples: its last output, as mapped
        last_out = float(out[ends[np.flatnonzero(cnt)[-1]] - 1])
    state = ClockState(anchored=anchored, t_ref_dev_s=t_ref, out_ref_s=out_ref, bin_ids=ids,
                       bin_t_s=bt, bin_y_s=by, fit_a_s=a, fit_drift=r, res_t0_s=t0,
                       res_e0_s=e0, res_tau_s=tau, last_obs_s=last_obs,
                       last_sample_s=last_sample, last_out_s=last_out, n_obs=n_obs,
                       n_resets=n_resets)
    return out, state, resets


def _map_many(p: ClockParams, t: NDArray[np.float64], counts: Sequence[int],
              prms: list[tuple[float, ...]]) -> NDArray[np.float64]:
    """Map each run of samples with its own map, in one pass; as _map_rel per packet.

    Run j has ``counts[j]`` samples and the map ``prms[j]`` (the operations are elementwise,
    so a run of packets that share a map is mapped as one).
    """
    if len(prms) == 1:
        t_ref, out_ref, a, r, t0, e0, tau = prms[0]
        return _map_rel_arr(p, out_ref, a, r, t0, e0, tau, t - t_ref)
    # a packet without residual adds exp(-0.0) * 0.0 = +0.0, as _map_rel's `out += 0.0`
    cols: NDArray[np.float64] = np.array([(t_ref, out_ref, a, r, t0, e0 if e0 != 0.0 else 0.0,
                      tau if e0 != 0.0 else math.inf)
                     for t_ref, out_ref, a, r, t0, e0, tau in prms]).T
    cnt = np.array(counts, dtype=np.intp)
    # a parameter that is the same float in every run (bit for bit: the same sign of zero)
    # is used as a scalar (elementwise, the same results); only the others are repeated
    # per sample (t_ref, out_ref and r usually change only at a re-anchoring)
    same = ((cols == cols[:, :1]) & (np.signbit(cols) == np.signbit(cols[:, :1]))).all(axis=1)
    t_ref_v, out_ref_v, a_v, r_v, t0_v, e0_v, tau_v = [
        float(c[0]) if k else np.repeat(c, cnt) for c, k in zip(cols, same.tolist(),
                                                                 strict=True)]
    t_rel: NDArray[np.float64] = t - t_ref_v
    out: NDArray[np.float64] = t_rel * r_v
    out += a_v
    out += t_rel
    out += out_ref_v
    if p.latency_floor_s != 0.0:
        out -= p.latency_floor_s
    res = t_rel - t0_v
    np.maximum(res, 0.0, out=res)
    res /= -tau_v
    np.exp(res, out=res)
    res *= e0_v
    out += res
    return out


def run_batch(p: ClockParams, t_obs_dev_s: NDArray[np.float64], t_rx_s: NDArray[np.float64]
              ) -> tuple[NDArray[np.float64], ClockState]:
    """Feed a whole sequence of observations and map each observation time.

    Args:
        p: Clock settings.
        t_obs_dev_s: Device times of the observations, shape (m,).
        t_rx_s: Their receive times, shape (m,).

    Returns:
        Session time of each observation (mapped before it was learnt from), shape (m,),
        and the final state.

    Raises:
        InputError: If the arrays do not match.
    """
    td = np.asarray(t_obs_dev_s, dtype=np.float64)
    tr = np.asarray(t_rx_s, dtype=np.float64)
    if td.shape != tr.shape or td.ndim != 1:
        raise InputError(f"t_obs_dev_s and t_rx_s must both have shape (m,), got {td.shape} "
                         f"and {tr.shape}")
    s = init_state(p)
    out = np.empty(td.shape)
    for i in range(td.size):
        o, s = step(p, s, td[i:i + 1], float(td[i]), float(tr[i]))
        out[i] = o[0]
    return out, s
