"""Stride segmentation from the sacrum IMU: initial contacts, side, per-stride table.

Initial contacts (IC): the vertical acceleration of the lower back rises steeply when a
foot lands (loading response). The vertical is the low-passed specific force (any
mounting); the vertical acceleration is smoothed and differentiated with a derivative of
a Gaussian (a linear-phase FIR, so its delay is known and removed exactly), and an IC is a
positive peak of that jerk that is the largest within ``+-peak_window_s`` and comes at
least ``min_step_frac`` of the shorter of the last two steps after the previous contact (a
refractory time that follows the runner's cadence: it drops the second bump of one
loading response at slow walking cadences, which the fixed window lets through). This is the
integrate-then-Gaussian-derivative idea of McCamley et al. 2012 (Gait Posture 36:316)
and its Mobilise-D variant (Paraschiv-Ionescu et al. 2020), made causal: each IC is
decided ``delay_s`` after it happened, with its time exact to a fraction of a sample.

Side: a foot lands at the end of its swing, when the pelvis has rotated that hip forward;
the mean yaw rate about the vertical over ``side_window_s`` before the IC is positive
(counter-clockwise seen from above) before a right contact. Consecutive contacts
alternate, so the evidence of the last ``side_n`` contacts is pooled with alternating
signs. Needs a gyroscope; without one the side is ``"?"``.

Per stride (from one contact to the next contact of the same foot): stride time, cadence
(120 / stride time) and the sacrum's vertical oscillation, the peak-to-peak vertical
displacement from the vertical acceleration integrated twice over the stride with its
mean and linear drift removed (the stride is taken as periodic: same height and vertical
speed at both ends).

Streaming = batch: the state holds the filters and a lookback buffer; events carry
session times, never chunk-relative indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from breathform.errors import InputError
from breathform.signal._filters import butter_sos, filt, unit_zi
from breathform.signal.regrid import Samples, concat_samples, samples_from_arrays

_G_MPS2 = 9.80665


@dataclass(frozen=True, slots=True)
class GaitParams:
    """Parameters of the stride segmentation.

    Attributes:
        fs_hz: Nominal sample rate.
        has_gyro: Whether samples carry a gyroscope (needed for the side).
        grav_lp_hz: Gravity (vertical) low-pass cutoff.
        jerk_sigma_s: Width (sigma) of the Gaussian derivative applied to the vertical
            acceleration.
        peak_window_s: A contact is the largest jerk peak within +- this; it also bounds
            the highest cadence (60 / peak_window_s steps/min).
        min_jerk_g_s: Jerk peaks below this are not contacts (standing, shuffling).
        min_step_frac: A contact closer to the previous one than this fraction of the
            shorter of the two steps before is skipped (0 turns the check off).
        max_step_s: A longer step breaks the chain of contacts (a pause).
        side_window_s: Yaw rate is averaged over this before each contact.
        side_n: Contacts pooled (alternating signs) for the side decision.
        yaw_hp_hz: High-pass on the yaw rate (removes turning).
    """

    fs_hz: float
    has_gyro: bool = True
    grav_lp_hz: float = 0.4
    jerk_sigma_s: float = 0.04
    peak_window_s: float = 0.25
    min_jerk_g_s: float = 0.3
    min_step_frac: float = 0.4
    max_step_s: float = 1.5
    side_window_s: float = 0.3
    side_n: int = 4
    yaw_hp_hz: float = 0.3

    def __post_init__(self) -> None:
        if not self.fs_hz >= 20:
            raise InputError(f"fs_hz must be >= 20 for gait, got {self.fs_hz}")
        if not 0 < self.grav_lp_hz < self.fs_hz / 2:
            raise InputError(f"need 0 < grav_lp_hz < fs_hz/2, got {self.grav_lp_hz}")
        if not 1.0 / self.fs_hz <= self.jerk_sigma_s <= 0.2:
            raise InputError(f"jerk_sigma_s must be in [1/fs_hz, 0.2], got {self.jerk_sigma_s}")
        if not 0.1 <= self.peak_window_s < self.max_step_s:
            raise InputError(f"need 0.1 <= peak_window_s < max_step_s, got "
                             f"{self.peak_window_s}, {self.max_step_s}")
        if not 0.0 <= self.min_step_frac < 1.0:
            raise InputError(f"min_step_frac must be in [0, 1), got {self.min_step_frac}")
        if self.side_n < 1:
            raise InputError(f"side_n must be >= 1, got {self.side_n}")
        if not 0 < self.side_window_s <= self.max_step_s:
            raise InputError(f"need 0 < side_window_s <= max_step_s, got "
                             f"{self.side_window_s}")

    @property
    def delay_s(self) -> float:
        """How long after it happens a contact is decided (filter delay + peak window)."""
        n = int(_kernel(self.fs_hz, self.jerk_sigma_s).shape[0]) // 2 + _nwin(self)
        return n / self.fs_hz


@dataclass(frozen=True, slots=True)
class Contact:
    """One initial contact.

    Attributes:
        t_s: Session time of the contact.
        side: "L", "R", or "?" when it cannot be told.
        jerk_g_s: Height of the vertical-jerk peak, g/s (a strength figure).
    """

    t_s: float
    side: str
    jerk_g_s: float


@dataclass(frozen=True, slots=True)
class Stride:
    """One stride: from a contact to the next contact of the same foot.

    Attributes:
        t_start_s: The stride's first contact.
        t_end_s: The next contact of the same foot.
        side: The foot ("L", "R" or "?").
        stride_s: Stride time.
        step_s: Time from the middle contact (other foot) to ``t_end_s``.
        cadence_spm: Steps per minute over the stride (120 / stride_s).
        vertical_osc_cm: Peak-to-peak vertical displacement of the sacrum, cm (NaN if
            the stride holds gap-filled samples).
    """

    t_start_s: float
    t_end_s: float
    side: str
    stride_s: float
    step_s: float
    cadence_spm: float
    vertical_osc_cm: float


@dataclass(frozen=True, slots=True)
class GaitState:
    """Carry-over of the stride segmentation.

    Attributes:
        n_seen: Samples seen since the start or the last reset.
        primed: Whether the gravity low-pass has been initialised.
        zi_grav: Gravity low-pass state, (n_sections, 2, 3).
        zi_yaw: Yaw high-pass state, (n_sections, 2).
        zi_jerk: The last n_taps - 1 vertical accelerations (the FIR's memory).
        t_s: Lookback of sample times, aligned with sample count ``n_seen - len``.
        av_g: Lookback of vertical acceleration (g, gravity removed).
        yaw_dps: Lookback of high-passed yaw rate.
        filled: Lookback of gap-filled flags.
        jerk: Lookback of delay-compensated jerk (g/s), one per sample up to
            ``n_seen - 1 - delay``.
        next_cand: Sample count of the next sample to decide on.
        last_ic: Sample count of the last contact, -1 if none.
        ic_t_s: Times of the last (up to 3) contacts of the current chain.
        ic_side: Their sides.
        ic_n: Their sample counts.
        side_ev: Side evidence of the chain's last ``side_n`` contacts.
    """

    n_seen: int
    primed: bool
    zi_grav: NDArray[np.float64]
    zi_yaw: NDArray[np.float64]
    zi_jerk: NDArray[np.float64]
    t_s: NDArray[np.float64]
    av_g: NDArray[np.float64]
    yaw_dps: NDArray[np.float64]
    filled: NDArray[np.bool_]
    jerk: NDArray[np.float64]
    next_cand: int
    last_ic: int
    ic_t_s: tuple[float, ...]
    ic_side: tuple[str, ...]
    ic_n: tuple[int, ...]
    side_ev: tuple[float, ...]


@lru_cache(maxsize=16)
def _kernel(fs_hz: float, sigma_s: float) -> NDArray[np.float64]:
    """Causal FIR: derivative of a unit-area Gaussian, delay = len // 2 samples."""
    half = int(np.ceil(4 * sigma_s * fs_hz))
    tau = np.arange(-half, half + 1) / fs_hz
    g = np.exp(-0.5 * (tau / sigma_s) ** 2)
    g = g / g.sum()                        # unit area (per sample)
    dg = -tau / sigma_s**2 * g             # d/dt of the smoothing, 1/s
    # y[n] = sum_m h[m] a[n - m] = (a * G')(sample n - half): the smoothed derivative
    return np.asarray(dg)


def _nwin(p: GaitParams) -> int:
    return max(1, round(p.peak_window_s * p.fs_hz))


_PIECE_S = 1.0
"""Samples are processed in pieces of at most this long, so the lookback stays bounded."""


def _nbuf(p: GaitParams) -> int:
    # a stride (two steps) back from the newest decidable candidate, plus the filter delay,
    # the peak window and one piece
    span_s = 2 * p.max_step_s + 2 * p.peak_window_s + 4 * p.jerk_sigma_s + _PIECE_S
    return round(span_s * p.fs_hz) + 2


def init_state(p: GaitParams) -> GaitState:
    """Return the state before any sample."""
    ng = butter_sos(2, p.grav_lp_hz, "lowpass", p.fs_hz).shape[0]
    ny = butter_sos(2, p.yaw_hp_hz, "highpass", p.fs_hz).shape[0]
    nk = _kernel(p.fs_hz, p.jerk_sigma_s).shape[0]
    return GaitState(
        n_seen=0, primed=False, zi_grav=np.zeros((ng, 2, 3)), zi_yaw=np.zeros((ny, 2)),
        zi_jerk=np.zeros(nk - 1), t_s=np.zeros(0), av_g=np.zeros(0), yaw_dps=np.zeros(0),
        filled=np.zeros(0, bool), jerk=np.zeros(0), next_cand=0, last_ic=-1,
        ic_t_s=(), ic_side=(), ic_n=(), side_ev=())


def step(p: GaitParams, s: GaitState, x: Samples
         ) -> tuple[list[Contact], list[Stride], GaitState]:
    """Feed samples; return the contacts and strides decided by them.

    Args:
        p: Parameters.
        s: State.
        x: Gridded samples of the sacrum sensor (a long gap's ``reset`` restarts the
            segmentation; nothing carries across it).

    Returns:
        New contacts and strides (in time order) and the new state.

    Raises:
        InputError: If ``has_gyro`` is set and the samples carry no gyroscope.
    """
    _check_gyro(p, x)
    out, s = _pieces_step(p, s, x, _pieces(p, x, 0))
    return [c for cs, _ in out for c in cs], [st for _, sts in out for st in sts], s


def frames_step(p: GaitParams, s: GaitState, xs: Sequence[Samples]
                ) -> tuple[list[tuple[list[Contact], list[Stride]]], GaitState]:
    """:func:`step` for consecutive chunks (e.g. seconds) at once (bit-identical).

    The filters and the jerk run once over all the samples, the lookback is a view of
    one array; contacts are decided at the end of each piece of each chunk as
    :func:`step` decides them chunk by chunk.

    Returns:
        The contacts and strides decided by each chunk, and the new state.
    """
    if not xs:
        return [], s
    if len(xs) == 1:  # one chunk (live: a second at a time)
        _check_gyro(p, xs[0])
        out, s = _pieces_step(p, s, xs[0], _pieces(p, xs[0], 0))
        if len(out) == 1:
            return out, s
        return [([c for cs, _ in out for c in cs], [st for _, sts in out for st in sts])], s
    for x in xs:
        _check_gyro(p, x)
    pieces: list[tuple[int, int, bool]] = []
    owner: list[int] = []
    off = 0
    for j, x in enumerate(xs):
        pcs = _pieces(p, x, off)
        pieces += pcs
        owner += [j] * len(pcs)
        off += x.n
    res: list[tuple[list[Contact], list[Stride]]] = [([], []) for _ in xs]
    if not pieces:
        return res, s
    allx = xs[0] if len(xs) == 1 else concat_samples(
        xs, any(x.gyr_dps is not None for x in xs))
    out, s = _pieces_step(p, s, allx, pieces)
    for j, (c, st) in zip(owner, out, strict=True):
        res[j][0].extend(c)
        res[j][1].extend(st)
    return res, s


def _check_gyro(p: GaitParams, x: Samples) -> None:
    if p.has_gyro and x.gyr_dps is None and x.n:
        raise InputError("has_gyro is True but the samples carry no gyr_dps")


def _pieces(p: GaitParams, x: Samples, off: int) -> list[tuple[int, int, bool]]:
    """The pieces ``(a, b, reset)`` of ``x``, offset by ``off``.

    The samples are cut at resets, then into pieces of ``_PIECE_S``; ``reset`` = the
    segmentation restarts at the piece.
    """
    n = x.n
    piece = max(1, round(_PIECE_S * p.fs_hz))
    if n == 0:
        return []
    if n <= piece and (n == 1 or not np.count_nonzero(x.reset[1:])):
        return [(off, off + n, bool(x.reset[0]))]
    cuts = [0, n]
    if n > 1 and bool(x.reset[1:].any()):
        cuts = [0, *(int(i) for i in np.flatnonzero(x.reset) if i > 0), n]
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        r = a < b and bool(x.reset[a])
        for a2 in range(a, b, piece):
            out.append((off + a2, off + min(b, a2 + piece), r and a2 == a))
    return out


def _pieces_step(p: GaitParams, s: GaitState, x: Samples,
                 pieces: Sequence[tuple[int, int, bool]]
                 ) -> tuple[list[tuple[list[Contact], list[Stride]]], GaitState]:
    """Consecutive pieces of ``x``: the contacts and strides decided by each."""
    out: list[tuple[list[Contact], list[Stride]]] = []
    if len(pieces) == 1:
        if pieces[0][2]:
            s = init_state(p)
        return out, _segments(p, s, x, pieces, out)
    i = 0
    while i < len(pieces):
        j = i + 1
        while j < len(pieces) and not pieces[j][2]:
            j += 1
        if pieces[i][2]:
            s = init_state(p)
        s = _segments(p, s, x, pieces[i:j], out)
        i = j
    return out, s


def run_batch(p: GaitParams, x: Samples) -> tuple[list[Contact], list[Stride]]:
    """Process a whole recording in one call."""
    c, st, _ = step(p, init_state(p), x)
    return c, st


def analyze(t_s: NDArray[np.float64], acc_g: NDArray[np.float64],
            gyr_dps: NDArray[np.float64] | None, fs_hz: float
            ) -> tuple[list[Contact], list[Stride]]:
    """Contacts and strides of a gap-free recording (arrays in seconds, g, deg/s).

    Raises:
        InputError: If the shapes disagree or t_s is not strictly increasing.
    """
    p = GaitParams(fs_hz, has_gyro=gyr_dps is not None)
    return run_batch(p, samples_from_arrays(t_s, acc_g, gyr_dps))


class _Chain(NamedTuple):
    """The contact chain carried from one contact to the next (plain Python values)."""

    last_ic: int
    ic_t_s: tuple[float, ...]
    ic_side: tuple[str, ...]
    ic_n: tuple[int, ...]
    side_ev: tuple[float, ...]


def _segments(p: GaitParams, s: GaitState, x: Samples, pieces: Sequence[tuple[int, int, bool]],
              out: list[tuple[list[Contact], list[Stride]]]) -> GaitState:
    """Consecutive pieces without a reset between them; appends each one's decisions.

    The filters are sequential and the jerk is a direct convolution (each output the same
    dot product), so running them over all the pieces at once changes no bit; each piece
    sees only the last ``_nbuf`` samples at its end (its lookback), as piece by piece.
    """
    a0, b1 = pieces[0][0], pieces[-1][1]
    acc = x.acc_g[a0:b1]
    zi = s.zi_grav
    if not s.primed:
        zi = unit_zi(2, p.grav_lp_hz, "lowpass", p.fs_hz)[:, :, None] * acc[0]
    grav, zi = filt(butter_sos(2, p.grav_lp_hz, "lowpass", p.fs_hz), acc, zi)
    # element-wise products, not einsum/norm: their SIMD paths round differently for a
    # one-row and a many-row array, and the output must not depend on the chunking
    up = grav / np.sqrt(grav[:, 0] ** 2 + grav[:, 1] ** 2 + grav[:, 2] ** 2)[:, None]
    av = _dot3(acc, up) - 1.0
    zi_yaw = s.zi_yaw
    if x.gyr_dps is not None:
        yaw = _dot3(x.gyr_dps[a0:b1], up)
        yaw, zi_yaw = filt(butter_sos(2, p.yaw_hp_hz, "highpass", p.fs_hz), yaw, zi_yaw)
    else:
        yaw = np.zeros(b1 - a0)
    h = _kernel(p.fs_hz, p.jerk_sigma_s)
    # direct convolution over (previous taps-1 samples, new samples): each output is the
    # same dot product whatever the chunking (lfilter's state split is not bit-exact)
    hist = np.concatenate((s.zi_jerk, av))
    jk = np.convolve(hist, h, mode="valid")
    zi_jerk = hist[hist.shape[0] - (h.shape[0] - 1):]
    delay = h.shape[0] // 2
    # output m (count) is the jerk at sample m - delay; drop the first `delay` outputs
    first_valid = max(0, delay - s.n_seen)
    nb = _nbuf(p)
    n0, j0 = s.t_s.shape[0], s.jerk.shape[0]
    big_t = np.concatenate((s.t_s, x.t_s[a0:b1]))
    big_av = np.concatenate((s.av_g, av))
    big_yaw = np.concatenate((s.yaw_dps, yaw))
    big_filled = np.concatenate((s.filled, x.filled[a0:b1]))
    big_jerk = np.concatenate((s.jerk, jk[first_valid:]))
    chain = _Chain(s.last_ic, s.ic_t_s, s.ic_side, s.ic_n, s.side_ev)
    next_cand = s.next_cand
    # the peaks of all the candidates the pieces decide, found at once (a candidate's test
    # looks at the jerk within +-w of it, whichever piece decides it); each piece then
    # takes its own in order, with the lookback it has at its end
    w = _nwin(p)
    n_jerk = s.n_seen + b1 - a0 - delay
    peaks = (_peaks(p, big_jerk, n_jerk - big_jerk.shape[0], next_cand, n_jerk - 1 - w)
             if n_jerk - 1 - w >= next_cand else [])
    ip = 0
    decide: list[_Piece] = []
    for _, b, _ in pieces:
        last_dec = s.n_seen + b - a0 - delay - 1 - w
        if last_dec < next_cand:
            out.append(([], []))
            continue
        ip0 = ip
        while ip < len(peaks) and peaks[ip] <= last_dec:
            ip += 1
        next_cand = last_dec + 1
        out.append(([], []))
        if ip > ip0:
            decide.append(_Piece(ip0, ip, s.n_seen + b - a0, n0 + b - a0,
                                 j0 + max(0, b - a0 - first_valid), *out[-1]))
    if decide:
        chain = _chain_peaks(p, chain, peaks, decide, s.n_seen - n0, delay,
                             _Joined(big_t, big_av, big_yaw, big_filled, big_jerk))
    buf = _piece_buffers(s.n_seen + b1 - a0, n0 + b1 - a0, big_jerk.shape[0], nb, big_t,
                         big_av, big_yaw, big_filled, big_jerk)
    return GaitState(
        buf.n_seen, True, zi, zi_yaw, np.asarray(zi_jerk), buf.t_s, buf.av_g, buf.yaw_dps,
        buf.filled, buf.jerk, next_cand, *chain)


def _piece_buffers(n_seen: int, e: int, ej: int, nb: int, t_s: NDArray[np.float64],
                   av_g: NDArray[np.float64], yaw_dps: NDArray[np.float64],
                   filled: NDArray[np.bool_], jerk: NDArray[np.float64]) -> _Buffers:
    """The lookback at the end of a piece.

    The last ``nb`` samples up to ``e`` (jerk: up to ``ej``) of the joined arrays.
    """
    lo, loj = max(0, e - nb), max(0, ej - nb)
    return _Buffers(n_seen, t_s[lo:e], av_g[lo:e], yaw_dps[lo:e], filled[lo:e], jerk[loj:ej])


class _Buffers(NamedTuple):
    """The lookback of one piece (see :class:`GaitState`)."""

    n_seen: int
    t_s: NDArray[np.float64]
    av_g: NDArray[np.float64]
    yaw_dps: NDArray[np.float64]
    filled: NDArray[np.bool_]
    jerk: NDArray[np.float64]


def _peaks(p: GaitParams, jerk: NDArray[np.float64], j0: int, next_cand: int,
           last_dec: int) -> list[int]:
    """The contact candidates among the counts ``next_cand..last_dec``, in order.

    ``jerk[0]`` is count ``j0``; it holds ``w`` samples past ``last_dec``.
    """
    w = _nwin(p)
    n_jerk = last_dec + 1 + w
    lo = max(0, next_cand - w)
    y = jerk[lo - j0: n_jerk - j0]
    c0 = next_cand - lo                     # index in y of the first candidate
    c1 = last_dec - lo + 1                  # y holds w samples past the last candidate
    yc = y[c0:c1]
    before = y[c0 - 1: c1 - 1] if c0 else np.concatenate(((-np.inf,), y[: c1 - 1]))
    # above the threshold and a local maximum (implied by the window test below, and
    # much rarer: the window test then looks at a few candidates only)
    above = np.flatnonzero((yc > p.min_jerk_g_s) & (yc > before) & (yc >= y[c0 + 1: c1 + 1])
                           ) + c0
    if not above.shape[0]:
        return []
    # a contact is the largest (first largest on ties) within +-w; the window is cut at
    # the start (one gather for all candidates)
    npad = max(0, w - c0)
    pad = np.concatenate((np.full(npad, -np.inf), y)) if npad else y
    win = pad[above[:, None] + (npad - w + np.arange(2 * w + 1))]
    out: list[int] = (above[win.argmax(axis=1) == w] + lo).tolist()
    return out


class _Piece(NamedTuple):
    """A piece that decides candidates, and where its decisions go."""

    ip0: int  # its candidates: peaks[ip0:ip1]
    ip1: int
    n_seen: int  # sample count at its end
    e: int  # its lookback: the _nbuf samples before e (jerk: before ej) of _Joined's arrays
    ej: int
    contacts: list[Contact]
    strides: list[Stride]


class _Joined(NamedTuple):
    """The lookback before the pieces joined with their samples (see :class:`GaitState`)."""

    t_s: NDArray[np.float64]
    av_g: NDArray[np.float64]
    yaw_dps: NDArray[np.float64]
    filled: NDArray[np.bool_]
    jerk: NDArray[np.float64]


def _chain_peaks(p: GaitParams, chain: _Chain, peaks: Sequence[int], decide: Sequence[_Piece],
                 base: int, delay: int, x: _Joined) -> _Chain:
    """The contacts and strides of the candidates of each piece, in order, on the chain.

    Appends each piece's contacts and strides to its lists. ``x.t_s[i]`` is sample count
    ``base + i``; each piece sees only its lookback, as piece by piece with the lookback
    buffers. The chain is sequential; what only depends on a candidate (its time, jerk
    peak and yaw evidence) is gathered for all candidates at once before, and the
    vertical oscillations of all strides after (the same arithmetic on each, see
    :func:`_window_means` and :func:`_vertical_osc_cms`).
    """
    nb = _nbuf(p)
    n_dec = [d.ip1 - d.ip0 for d in decide]
    # per candidate: index i in x, its jerk index, the first index of its piece's lookback
    pk = np.asarray(peaks[decide[0].ip0: decide[-1].ip1], dtype=np.int64)
    i_all = pk - base
    lo_all = np.repeat([max(0, d.e - nb) for d in decide], n_dec)
    # jerk index: y = x.jerk[loj:ej] holds counts up to n_seen - delay - 1
    ij_all = pk + np.repeat([d.ej + delay - d.n_seen for d in decide], n_dec)
    nj = x.jerk.shape[0]
    # sub-sample refinement needs both neighbours inside the piece's jerk lookback
    refine = ((ij_all > np.repeat([max(0, d.ej - nb) for d in decide], n_dec))
              & (ij_all < np.repeat([d.ej - 1 for d in decide], n_dec))).tolist()
    t_pk = x.t_s[i_all].tolist()
    y_pk = x.jerk[ij_all].tolist()
    y_m = x.jerk[np.maximum(ij_all - 1, 0)].tolist()
    y_p = x.jerk[np.minimum(ij_all + 1, nj - 1)].tolist()
    # filled samples in x[a:b] = n_filled[b] - n_filled[a] (integers: exact)
    n_filled = np.concatenate(((0,), np.cumsum(x.filled))).tolist()
    side_n = p.side_n
    yaw_ev: list[float] = []
    if p.has_gyro:
        nw = round(p.side_window_s * p.fs_hz)
        yaw_ev = _window_means(x.yaw_dps, np.maximum(lo_all, i_all - nw), i_all + 1)
    w = _nwin(p)
    fs = p.fs_hz
    frac = p.min_step_frac
    max_step_s = p.max_step_s
    last_ic, ic_t, ic_side, ic_n, ev = chain
    # strides waiting for their oscillation: (list, t0, t, side, step_s, i0, i1); the
    # oscillation is that of x.av_g[i0:i1], NaN if i0 < 0
    pending: list[tuple[list[Stride], float, float, str, float, int, int]] = []
    q = -1
    for d in decide:
        n_buf0 = d.n_seen - min(d.e, nb)  # count of the lookback's first sample
        for j in peaks[d.ip0: d.ip1]:
            q += 1
            if last_ic >= 0 and j - last_ic <= w:
                continue
            if frac > 0 and len(ic_n) >= 2:
                # the shorter of the last two steps (one if only one; ic_n holds <= 3);
                # integer sample counts: exact
                shortest = min(ic_n[1] - ic_n[0], ic_n[-1] - ic_n[-2])
                if j - ic_n[-1] < frac * shortest:
                    continue
            i = j - base
            nf = n_filled[i + 1]
            if nf != n_filled[i]:  # a gap-filled sample: no contact
                last_ic = j
                continue
            off = 0.0
            jerk = y_pk[q]
            if refine[q]:
                ym, yp = y_m[q], y_p[q]
                den = ym - 2 * jerk + yp
                if den < 0:
                    off = min(max(0.5 * (ym - yp) / den, -0.5), 0.5)
            t = t_pk[q] + off / fs
            # chain of consecutive contacts; a step over gap-filled samples may hide a lost
            # contact, so the chain restarts after it (no stride, step or side spans a gap)
            keep = bool(ic_t) and t - ic_t[-1] <= max_step_s
            if keep:
                keep = ic_n[-1] >= n_buf0 and n_filled[ic_n[-1] - base] == nf
            if not keep:
                ic_t, ic_n, ic_side, ev = (), (), (), ()
            side = "?"
            if p.has_gyro:
                ev = (*ev, yaw_ev[q])[-side_n:]
                # alternating signs, + for the newest; summed as numpy's reduction does (the
                # first term, then the rest in order)
                m = len(ev)
                rest = 0.0
                for k in range(1, m):
                    rest += ev[k] if (m - 1 - k) % 2 == 0 else -ev[k]
                tot = (ev[0] if (m - 1) % 2 == 0 else -ev[0]) + rest
                side = "R" if tot > 0 else "L" if tot < 0 else "?"
            d.contacts.append(Contact(t, side, jerk))
            if len(ic_t) >= 2:
                n0 = ic_n[-2]
                i0 = n0 - base if n0 >= n_buf0 and n_filled[n0 - base] == nf else -1
                pending.append((d.strides, ic_t[-2], t, side, t - ic_t[-1], i0, i + 1))
            last_ic = j
            ic_t, ic_side, ic_n = (*ic_t, t)[-3:], (*ic_side, side)[-3:], (*ic_n, j)[-3:]
    if pending:
        todo = [k for k, st in enumerate(pending) if st[5] >= 0]
        osc = [np.nan] * len(pending)
        for k, v in zip(todo, _vertical_osc_cms(x.av_g, [pending[k][5] for k in todo],
                                                [pending[k][6] for k in todo], fs),
                        strict=True):
            osc[k] = v
        for (lst, t0, t, side, step_s, _, _), v in zip(pending, osc, strict=True):
            stride_s = t - t0
            lst.append(Stride(t0, t, side, stride_s, step_s, 120.0 / stride_s, v))
    return _Chain(last_ic, ic_t, ic_side, ic_n, ev)


def _window_means(x: NDArray[np.float64], a: NDArray[np.int64], b: NDArray[np.int64]
                  ) -> list[float]:
    """The mean of each window ``x[a[k]:b[k]]`` (non-empty), all at once.

    Each mean is a sequential sum over the window, ``float(w.cumsum()[-1]) / w.shape[0]``
    (numpy's pairwise sum depends on the memory alignment of the data, which depends on how
    the stream was chunked). The windows are gathered right-aligned into one array, the
    missing samples on the left as -0.0 (adding -0.0 changes no sum, not even the sign of a
    zero), and summed along each row by ``cumsum``, which adds in order.
    """
    if not a.shape[0]:
        return []
    width = int((b - a).max())
    idx = b[:, np.newaxis] - width + np.arange(width)
    win = np.where(idx >= a[:, np.newaxis], x[np.maximum(idx, 0)], -0.0)
    out: list[float] = (win.cumsum(axis=1)[:, -1] / (b - a)).tolist()
    return out


_OSC_ROWS = 256
"""Strides per array in :func:`_vertical_osc_cms` (bounds the memory of a long batch)."""


def _vertical_osc_cms(av_g: NDArray[np.float64], a: Sequence[int], b: Sequence[int],
                      fs_hz: float) -> list[float]:
    """:func:`vertical_osc_cm` of each stride ``av_g[a[k]:b[k]]``, all at once."""
    lo = np.asarray(a, dtype=np.int64)
    n = np.asarray(b, dtype=np.int64) - lo
    out = np.full(n.shape[0], np.nan)  # NaN for fewer than 3 samples
    ok = np.flatnonzero(n >= 3)
    if ok.shape[0]:  # room after every stride for the longest one's row
        av_g = np.concatenate((av_g, np.zeros(int(n[ok].max()))))
    for r0 in range(0, ok.shape[0], _OSC_ROWS):
        r = ok[r0: r0 + _OSC_ROWS]
        out[r] = _osc_rows(av_g, lo[r], n[r], fs_hz)
    res: list[float] = out.tolist()
    return res


def _osc_rows(av_g: NDArray[np.float64], lo: NDArray[np.int64], n: NDArray[np.int64],
              fs_hz: float) -> NDArray[np.float64]:
    """Peak-to-peak of each stride ``av_g[lo[k]:lo[k] + n[k]]`` (n >= 3), one per row.

    ``av_g`` holds at least ``max(n)`` samples from each ``lo[k]`` on. Each stride is a
    row of one array, padded with zeros after its end. The means are
    sequential sums (``cumsum``, which adds in order, along the row: the padding comes
    after the stride's last sample and changes none of its sums; numpy's pairwise sum
    would depend on the memory alignment of the data, which depends on how the stream was
    chunked) and everything else is element-wise, so each row gets the bits of its stride
    taken alone.
    """
    width = int(n.max())
    col = np.arange(width)
    rows = np.arange(n.shape[0])
    last = n - 1
    valid = col < n[:, np.newaxis]
    a = sliding_window_view(av_g, width)[lo]  # a copy of each stride's row
    np.copyto(a, 0.0, where=~valid)
    acc = a - (a.cumsum(axis=1)[rows, last] / n)[:, np.newaxis]
    acc *= _G_MPS2
    v = acc.cumsum(axis=1)
    v /= fs_hz
    v -= (v.cumsum(axis=1)[rows, last] / n)[:, np.newaxis]
    z = v.cumsum(axis=1)
    z /= fs_hz
    # z - np.linspace(z[0], z[-1], n), as linspace computes it
    z0, z1 = z[:, 0], z[rows, last]
    line = col * ((z1 - z0) / last)[:, np.newaxis] + z0[:, np.newaxis]
    line[rows, last] = z1
    z -= line
    return np.asarray((np.where(valid, z, -np.inf).max(axis=1)
                       - np.where(valid, z, np.inf).min(axis=1)) * 100.0)


def _dot3(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2])


def vertical_osc_cm(av_g: NDArray[np.float64], fs_hz: float) -> float:
    """Peak-to-peak vertical displacement over one stride.

    Args:
        av_g: Vertical acceleration (gravity removed) in g over one stride, (n,).
        fs_hz: Sample rate.

    Returns:
        Displacement range in cm; the stride is taken as periodic (mean acceleration and
        mean velocity removed, linear drift of the position removed).
    """
    av = np.asarray(av_g, dtype=np.float64)
    return _vertical_osc_cms(av, [0], [av.shape[0]], fs_hz)[0]


def match_events(det_s: Sequence[float], ref_s: Sequence[float], tol_s: float
                 ) -> list[tuple[int, int]]:
    """One-to-one matching of detected to reference event times (for validation).

    Args:
        det_s: Detected times.
        ref_s: Reference times.
        tol_s: Largest time difference of a match.

    Returns:
        (detected index, reference index) pairs, closest pairs matched first.
    """
    pairs = sorted((abs(float(d) - float(r)), i, j) for i, d in enumerate(det_s)
                   for j, r in enumerate(ref_s) if abs(float(d) - float(r)) <= tol_s)
    used_d: set[int] = set()
    used_r: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_d and j not in used_r:
            used_d.add(i)
            used_r.add(j)
            out.append((i, j))
    return out


__all__: Sequence[str] = [
    "Contact", "GaitParams", "GaitState", "Stride", "analyze", "frames_step", "init_state",
    "match_events", "run_batch", "step", "vertical_osc_cm",
]
