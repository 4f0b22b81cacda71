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
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
import operator
from collections.abc import Sequence
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
    # Every operation is elementwise, so an element's value does not depend on the array it
    # sits in; step() relies on this to reuse one mapping for its checks.
    # Computes out_ref + (t + (a + r t)) - latency_floor + e0 exp(-max(t - t0, 0) / tau)
    # in that order (so bit-identical to writing it out), in place on two fresh arrays:
    # this runs for every packet, often on 8 samples, where each temporary costs more
    # than the arithmetic.
    out = t_rel * s.fit_drift
    out += s.fit_a_s
    out += t_rel
    out += s.out_ref_s
    if p.latency_floor_s != 0.0:  # x - 0.0 == x for every x
        out -= p.latency_floor_s
    if s.res_e0_s != 0.0:
        res = t_rel - s.res_t0_s
        np.maximum(res, 0.0, out=res)
        res /= -s.res_tau_s  # == -res / tau: division rounds symmetrically in sign
        np.exp(res, out=res)
        res *= s.res_e0_s
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


_recent_hulls: collections.deque[tuple[tuple[float, ...], tuple[float, ...], tuple[int, ...]]]
_recent_hulls = collections.deque(maxlen=8)
"""The last hulls :func:`_lower_hull` returned (points and indices), across clocks: when a
new bin starts, the bins before it are the previous fit's bins less the ones that left the
window, and their hull is derived from that fit's hull."""


@functools.lru_cache(maxsize=16)
def _hull_indices(ts: tuple[float, ...], ys: tuple[float, ...]) -> tuple[int, ...]:
    m = len(ts)
    if m == 0:
        return ()
    for pts, pys, phull in reversed(tuple(_recent_hulls)):  # a snapshot: thread-safe
        k = len(pts) - m
        if k < 0 or pts[k] != ts[0] or pts[k:] != ts or pys[k:] != ys:
            continue
        # (ts, ys) = an earlier point set less its first k points. Every vertex of the
        # earlier hull at or after point k is still a vertex (dropping points only raises
        # the lower hull), so past the first such vertex h0 the chain over (ts, ys) makes
        # the earlier chain's decisions: only points 0..h0 are chained again (the window
        # slides by one bin every bin_s; tests check this against a full recomputation).
        kept = [i - k for i in phull if i >= k]
        h0 = kept[0]
        return tuple(_chain(ts, ys, h0 + 1) + kept[1:])
    return tuple(_chain(ts, ys, m))


def _lower_hull(ts: tuple[float, ...], ys: tuple[float, ...]) -> list[int]:
    """Indices of the lower convex hull of points sorted by ts."""
    # The chain is sequential, so the hull of all bins is the hull of all but the last one
    # plus one step; between new bins only the last bin changes, so that prefix hull is
    # cached (and at a new bin derived from the last hull returned here). Indices, not
    # coordinates, are cached: equal keys give the same decisions.
    hull = list(_hull_indices(ts[:-1], ys[:-1]))
    _push(hull, ts, ys, len(ts) - 1)
    _recent_hulls.append((ts, ys, tuple(hull)))
    return hull


def _fit(p: ClockParams, ts: tuple[float, ...], ys: tuple[float, ...], prev_r: float
         ) -> tuple[float, float]:
    r = prev_r
    if len(ts) >= 2 and ts[-1] - ts[0] >= p.min_baseline_s:
        hull = _lower_hull(ts, ys)
        if len(hull) >= 2:
            tm = sum(ts) / len(ts)
            i = 0
            while i < len(hull) - 2 and ts[hull[i + 1]] < tm:
                i += 1
            i1, i2 = hull[i], hull[i + 1]
            r = (ys[i2] - ys[i1]) / (ts[i2] - ts[i1])
    rmax = p.max_drift_ppm * _PPM
    r = min(max(r, -rmax), rmax)
    a = min(map(operator.sub, ys, map(operator.mul, itertools.repeat(r), ts)))
    return a, r


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


def _observe(p: ClockParams, s: ClockState, t_rel: float, t_rx_s: float,
             last_sample_s: float, last_out_s: float, mapped_obs: float | None) -> ClockState:
    """Add an observation to the envelope, refit and build the next state.

    Args:
        p: Clock settings.
        s: State the packet's samples were mapped with.
        t_rel: Rel device time of the observation.
        t_rx_s: Its receive time.
        last_sample_s: ``last_sample_s`` of the next state.
        last_out_s: ``last_out_s`` of the next state.
        mapped_obs: ``_map_rel`` of ``t_rel`` under ``s`` if the caller has it, else None.
    """
    y = (t_rx_s - s.out_ref_s) - t_rel
    bid = math.floor(t_rel / p.bin_s)
    ids, bt, by = s.bin_ids, s.bin_t_s, s.bin_y_s
    a, r = s.fit_a_s, s.fit_drift
    t0, e0, tau = s.res_t0_s, s.res_e0_s, s.res_tau_s
    changed = True
    if ids and ids[-1] == bid:
        if y < by[-1]:
            bt, by = bt[:-1] + (t_rel,), by[:-1] + (y,)
        else:
            changed = False
    else:
        ids, bt, by = ids + (bid,), bt + (t_rel,), by + (y,)
        keep_from = bid - math.ceil(p.window_s / p.bin_s)
        k = 0
        while ids[k] <= keep_from:
            k += 1
        if k:
            ids, bt, by = ids[k:], bt[k:], by[k:]
    if changed:
        a, r = _fit(p, bt, by, r)
        if mapped_obs is None:
            mapped_obs = float(_map_rel(p, s, np.array([t_rel]))[0])
        target = s.out_ref_s + (t_rel + (a + r * t_rel)) - p.latency_floor_s
        e0 = mapped_obs - target
        tau = max(p.slew_time_s, abs(e0) / (p.max_slew_ppm * _PPM))
        t0 = t_rel
    # one constructor call instead of a chain of dataclasses.replace: this runs per packet
    return ClockState(anchored=s.anchored, t_ref_dev_s=s.t_ref_dev_s, out_ref_s=s.out_ref_s,
                      bin_ids=ids, bin_t_s=bt, bin_y_s=by, fit_a_s=a, fit_drift=r,
                      res_t0_s=t0, res_e0_s=e0, res_tau_s=tau, last_obs_s=t_rel,
                      last_sample_s=last_sample_s, last_out_s=last_out_s, n_obs=s.n_obs + 1,
                      n_resets=s.n_resets)


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
    if not (math.isfinite(t_obs_dev_s) and math.isfinite(t_rx_s)):
        raise InputError(f"t_obs_dev_s and t_rx_s must be finite, got {t_obs_dev_s}, {t_rx_s}")
    n = t.shape[0]
    t_first = t_last = 0.0
    if n:
        t_first, t_last = float(t[0]), float(t[-1])
        # strictly increasing (NaN compares False) between finite ends => all finite; on
        # failure, _check_times raises the specific error
        if not (math.isfinite(t_first) and math.isfinite(t_last)
                and (n == 1 or bool((t[1:] > t[:-1]).all()))):
            _check_times(t)
    first_rel_obs = (t_first - t_obs_dev_s) if n else 0.0
    out: NDArray[np.float64] | None = None
    if not s.anchored:
        s = _anchor(p, s, first_rel_obs, t_obs_dev_s, t_rx_s, is_reset=False)
    else:
        t_rel = t_obs_dev_s - s.t_ref_dev_s
        y = (t_rx_s - s.out_ref_s) - t_rel
        y_pred = s.fit_a_s + s.fit_drift * t_rel
        first_rel = (t_first - s.t_ref_dev_s) if n else t_rel
        reset = (force_reset or t_rel <= s.last_obs_s or first_rel <= s.last_sample_s
                 or abs(y - y_pred) > p.reset_thresh_s)
        if not reset and n:
            # guard against float rounding putting the first output at/below the last one;
            # out[0] is the map of first_rel under s
            out = _map_rel(p, s, t - s.t_ref_dev_s)
            reset = float(out[0]) <= s.last_out_s
        if reset:
            out = None
            s = _anchor(p, s, first_rel_obs, t_obs_dev_s, t_rx_s, is_reset=True)
    if out is None:
        out = _map_rel(p, s, t - s.t_ref_dev_s)
    last_sample_s, last_out_s = s.last_sample_s, s.last_out_s
    mapped_obs: float | None = None
    if n:
        last_sample_s, last_out_s = t_last - s.t_ref_dev_s, float(out[-1])
        if t_last == t_obs_dev_s:
            mapped_obs = last_out_s  # the observation is the last sample: already mapped
    s = _observe(p, s, t_obs_dev_s - s.t_ref_dev_s, t_rx_s, last_sample_s, last_out_s,
                 mapped_obs)
    return out, s


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
