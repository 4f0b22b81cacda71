"""Discrete events: foot strikes, breaths (with breath-stride coupling) and heart beats."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from breathform.sim._signals import CTRL_FS_HZ, F64, crossing_times
from breathform.sim.params import RunnerTraits
from breathform.sim.physiology import Physiology
from breathform.sim.route import Route

COUPLING_STRIDES: tuple[float, ...] = (3.0, 2.5, 2.0, 1.5)
"""Strides per breath of the coupled patterns 3:3, 3:2, 2:2 and 2:1 (steps in:out)."""
COUPLING_KEEP_REL = 0.15
"""Keep the current pattern while the wanted strides/breath is within this fraction."""
COUPLED_MAX_BREATHLESS = 0.5
"""Breathless above this level loses the breath-stride coupling."""


@dataclass(frozen=True, slots=True)
class Steps:
    """Foot strikes.

    Attributes:
        t_s: Strike times, shape (k,).
        foot: 0 = left, 1 = right, shape (k,).
    """

    t_s: F64
    foot: np.ndarray


@dataclass(frozen=True, slots=True)
class Breaths:
    """Breaths, each from its inspiration onset to the next one's.

    The arrays hold one extra onset before t = 0 and one after the session end, so every
    session time lies inside a breath.

    Attributes:
        onset_t_s: Inspiration onsets, shape (b + 1,).
        depth_rel: Depth of each breath relative to resting, shape (b,).
        insp_frac: Inspiration fraction of each breath, shape (b,).
        coupled: Whether each breath is phase-locked to the strides, shape (b,).
        strides: Strides taken during each breath, shape (b,) (0 while standing).
    """

    onset_t_s: F64
    depth_rel: F64
    insp_frac: F64
    coupled: np.ndarray
    strides: F64


def build_steps(route: Route, phys: Physiology) -> Steps:
    """Foot strikes where the cumulative step count passes an integer.

    Args:
        route: The route (for its time grid).
        phys: Physiology holding the step count.

    Returns:
        The foot strikes; step number k (1-based) lands on foot (k - 1) % 2.
    """
    t = crossing_times(route.t_s, phys.step_count)
    foot = (np.arange(t.size) % 2).astype(np.int8)
    return Steps(t_s=t, foot=foot)


def build_breaths(route: Route, phys: Physiology, steps: Steps,
                  rng: np.random.Generator) -> Breaths:
    """Generate breaths one by one, phase-locked to foot strikes when coupled.

    Running and not breathless, the runner picks the coupling pattern (strides per
    breath) closest to the wanted rate and keeps it with hysteresis; each breath then
    starts at a foot strike (+-20 ms) and lasts exactly that many steps. Otherwise breath
    durations follow the wanted rate with ~7 % breath-to-breath variability.

    Args:
        route: The route (time grid).
        phys: Physiology (wanted rate, depth, breathlessness, cadence).
        steps: Foot strikes.
        rng: Generator dedicated to the breaths.

    Returns:
        The breaths covering the whole session.
    """
    t_end = float(route.t_s[-1])
    n_ctrl = route.t_s.size
    rate = phys.rate_target_bpm
    strike = steps.t_s

    def idx(t: float) -> int:
        return min(max(int(t * CTRL_FS_HZ), 0), n_ctrl - 1)

    onsets: list[float] = []
    coupled: list[bool] = []
    t = -float(rng.uniform(0.2, 1.0)) * 60.0 / float(rate[0])
    m_cur = 0.0
    while True:
        onsets.append(t)
        if t > t_end:
            break
        i = idx(t)
        running = phys.run_mix[i] > 0.9 and phys.cadence_spm[i] > 120.0
        locked = False
        if running and phys.breathless_level[i] < COUPLED_MAX_BREATHLESS:
            m_want = phys.cadence_spm[i] / (2.0 * rate[i])
            if m_cur == 0.0 or abs(m_want - m_cur) / m_cur > COUPLING_KEEP_REL:
                m_cur = min(COUPLING_STRIDES, key=lambda m: abs(m - m_want))
            n_steps = int(round(2.0 * m_cur))
            j = int(np.searchsorted(strike, t - 0.12))
            if j + n_steps < strike.size:
                onsets[-1] = float(strike[j]) + 0.02 * float(rng.standard_normal())
                t_next = float(strike[j + n_steps])
                locked = True
        if not locked:
            m_cur = 0.0
            dur = 60.0 / float(rate[i]) * float(np.exp(0.07 * rng.standard_normal()))
            t_next = onsets[-1] + max(dur, 0.6)
        coupled.append(locked)
        t = max(t_next, onsets[-1] + 0.6)

    on = np.asarray(onsets, dtype=np.float64)
    # Jittered onsets must stay increasing.
    on = np.maximum.accumulate(on)
    nb = on.size - 1
    mid_idx = np.clip((on[:-1] * CTRL_FS_HZ).astype(np.int64), 0, n_ctrl - 1)
    depth = phys.depth_target_rel[mid_idx] * np.exp(0.08 * rng.standard_normal(nb))
    insp = np.clip(phys.insp_frac[mid_idx] + 0.03 * rng.standard_normal(nb), 0.3, 0.6)
    steps_at = np.interp(on, route.t_s, phys.step_count)
    strides = np.diff(steps_at) / 2.0
    return Breaths(onset_t_s=on, depth_rel=depth, insp_frac=insp,
                   coupled=np.asarray(coupled, dtype=bool), strides=strides)


def breath_phase(breaths: Breaths, t_s: F64) -> tuple[np.ndarray, F64]:
    """Breath index and phase in [0, 1) at given times.

    Args:
        breaths: The breaths.
        t_s: Query times, shape (n,), inside the session.

    Returns:
        (index of the breath, shape (n,), int64; phase within it, shape (n,)).
    """
    on = breaths.onset_t_s
    i = np.clip(np.searchsorted(on, t_s, side="right") - 1, 0, on.size - 2)
    psi = (t_s - on[i]) / (on[i + 1] - on[i])
    return i, np.asarray(np.clip(psi, 0.0, 1.0), dtype=np.float64)


def breath_count(breaths: Breaths, t_s: F64) -> F64:
    """Continuous cumulative breath count (breath index + phase) at given times."""
    i, psi = breath_phase(breaths, t_s)
    return np.asarray(i + psi, dtype=np.float64)


def build_heartbeats(route: Route, phys: Physiology, breaths: Breaths,
                     traits: RunnerTraits, rng: np.random.Generator) -> F64:
    """Heart beat times, with respiratory sinus arrhythmia and beat-to-beat variability.

    Args:
        route: The route (time grid).
        phys: Physiology (heart rate).
        breaths: Breaths (RSA follows the breath phase).
        traits: The runner (unused; reserved for personal HRV).
        rng: Generator dedicated to the heart.

    Returns:
        Beat times in session seconds, shape (k,).
    """
    del traits
    _, psi = breath_phase(breaths, route.t_s)
    # RSA: heart rate rises during inspiration, less so at high rates.
    rsa = 0.04 * np.sin(2.0 * np.pi * psi) * np.clip(1.6 - phys.hr_bpm / 120.0, 0.1, 1.0)
    freq_hz = phys.hr_bpm / 60.0 * (1.0 + rsa + 0.01 * rng.standard_normal(psi.size))
    dt_s = 1.0 / CTRL_FS_HZ
    count = float(rng.uniform()) + np.concatenate(([0.0], np.cumsum(freq_hz[1:] * dt_s)))
    return crossing_times(route.t_s, count)
