"""Gait accuracy on real recordings: initial contacts (lower back) and chest cadence.

    .venv/bin/python benchmarks/gait_accuracy.py [--data DIR] [--grid]

``DIR`` defaults to ``../shared/data`` relative to the repository.

(a) Initial contacts, ``mobgap/HA/001`` (Mobilise-D example data): the lower-back IMU
(``SU/LowerBack``: ``Acc`` in g, ``Gyr`` in deg/s, ``Fs``) of every test and trial goes
through :mod:`breathform.signal.gait` (causal, the whole trial in one call). Reference: the
INDIP system's ``MicroWB`` walking bouts, ``InitialContact_Event`` in seconds from the
recording start, with ``InitialContact_LeftRight``. Detections are scored only inside the
bouts (from the first reference contact - 100 ms to the last + 100 ms): a detection within
+-100 ms of a reference contact, matched one to one (closest first), is a true positive.
Cadence per bout: the mean of our stride cadences (120 / stride time) inside the bout vs
the reference bout ``Cadence`` (the mean of its own per-stride cadences, strides that span a
reference gap included, which lowers it). A second figure leaves the reference gaps out on
both sides: the reference's strides (same foot, two steps) that span no gap against our
strides that overlap no gap, per bout.
The reference skips some steps (consecutive reference contacts of the same foot, or more
than 1.5x the bout's median step time apart, e.g. in turns). The "strict" rows count every
detection in those stretches as a false positive; the "reference gaps excluded" rows leave
the stretches out of the scoring (both are printed; the target applies to strict).
Side: share of matched contacts whose side (L/R) agrees with the reference.
``--grid`` also scores a parameter grid and a leave-one-trial-out choice of its point (the
point with the best pooled strict F1 on the other trials, ties to the defaults' side).
A reference contact 10 ms after another (Test11, 76.42/76.43 s) stays in: it counts as a
miss. Timing: the median of detection minus reference over pairs within +-300 ms.
Comparison row: mobgap's IC detectors (``IcdShinImproved``, ``IcdIonescu``,
``IcdHKLeeImproved``; mobgap 1.2.0, the ``bench`` extra; skipped with a note when it is not
installed) run offline with their defaults on each whole trial (the lower-back data as
mobgap's loader hands them over: body frame x -> is, y -> ml, z -> pa, m/s^2), scored by
the same scorer; a second figure removes each detector's median lag, estimated on the other
two trials (leave one trial out).

(b) Cadence from the chest accelerometer, Hexoskin sessions: the 64 Hz accelerometer
(int16, 1/256 g) through the code path of ``breathform analyze --sensor chest``
(:func:`breathform.signal.sensors.analyze_chest`, ``cadence_spm``). Reference per whole
second ``t``: ``60 (k - 1) / (t_k - t_1)`` over the ``k >= 3`` step events of ``step.csv`` in
``[t - 6, t]``. Activity per second from the shirt's cadence (>= 140 jog, 60-140 walk, else
still), seconds from 60 s on. Per activity: MAE over the seconds both report, % within
+-2 steps/min, and coverage (seconds we report / seconds the reference reports).
The reference skips steps and adds events: intervals of 1.6-2.5x, or under 0.6x, the
reference's own median interval within +-30 s (:func:`ref_faults`). The chest acceleration
is checked at those places (:func:`template_check`), and the table is printed twice: strict
(every second; the figures) and without the seconds whose trailing 6 s hold such an
interval. Then the walk+jog error split by cause (octave, reference faults, starts/stops,
the rest) and the share of still seconds we report. ``--grid`` adds (b'): the cadence's
abstention gates over :data:`CAD_GRID` and their leave-one-session-out choice.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.io import loadmat, wavfile

from breathform.signal import gait
from breathform.signal.sensors import analyze_chest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from breathing_accuracy import load_session as load_hexoskin  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
TOL_S = 0.1
STEP_WINDOW_S = 6.0


@dataclass
class Bout:
    """One reference walking bout."""

    start_s: float
    end_s: float
    ic_s: NDArray[np.float64]
    side: list[str]
    cadence_spm: float


@dataclass
class Trial:
    """One test/trial of the lower-back recording."""

    name: str
    fs_hz: float
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64]
    bouts: list[Bout]


def load_mobgap(path: Path) -> list[Trial]:
    """Every test/trial of a mobgap ``data.mat`` with its INDIP walking bouts."""
    data = loadmat(path, simplify_cells=True)["data"]
    out = []
    for tm, tests in data.items():
        for tn, trials in tests.items():
            for tr, v in trials.items():
                su = v["SU"]["LowerBack"]
                wbs = v["Standards"]["INDIP"]["MicroWB"]
                wbs = wbs if isinstance(wbs, list) else [wbs]
                bouts = []
                for w in wbs:
                    ic = np.atleast_1d(np.asarray(w["InitialContact_Event"], float))
                    side = [str(x) for x in np.atleast_1d(w["InitialContact_LeftRight"])]
                    ok = np.isfinite(ic)
                    bouts.append(Bout(float(w["Start"]), float(w["End"]), ic[ok],
                                      [s for s, k in zip(side, ok, strict=True) if k],
                                      float(w["Cadence"])))
                fs = float(su["Fs"]["Acc"])
                if float(su["Fs"]["Gyr"]) != fs:
                    raise SystemExit(f"{tn}/{tr}: acc and gyr rates differ")
                out.append(Trial(f"{tm}/{tn}/{tr}", fs, np.asarray(su["Acc"], float),
                                 np.asarray(su["Gyr"], float), bouts))
    return out


def match(det: NDArray[np.float64], ref: NDArray[np.float64], tol_s: float = TOL_S
          ) -> list[tuple[int, int]]:
    """One-to-one matches (det index, ref index) within tol, closest pairs first."""
    return gait.match_events(det.tolist(), ref.tolist(), tol_s)


def ref_gaps(b: Bout) -> list[tuple[float, float]]:
    """Stretches where the reference skipped steps (open intervals, shrunk by tol)."""
    if b.ic_s.shape[0] < 3:
        return []
    d = np.diff(b.ic_s)
    med = float(np.median(d))
    out = []
    for k, dk in enumerate(d):
        same = b.side[k] == b.side[k + 1]
        if dk > 1.5 * med or same:
            out.append((float(b.ic_s[k]) + TOL_S, float(b.ic_s[k + 1]) - TOL_S))
    return out


def skipped_steps(b: Bout) -> int:
    """Steps the reference skipped in its gaps: round(gap / median step) - 1, at least 1."""
    if b.ic_s.shape[0] < 3:
        return 0
    d = np.diff(b.ic_s)
    med = float(np.median(d))
    return sum(max(1, round(float(dk) / med) - 1) for k, dk in enumerate(d)
               if dk > 1.5 * med or b.side[k] == b.side[k + 1])


@dataclass
class Score:
    """Counts of one bout or pool."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    side_ok: int = 0
    side_n: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, o: Score) -> None:
        self.tp += o.tp
        self.fp += o.fp
        self.fn += o.fn
        self.side_ok += o.side_ok
        self.side_n += o.side_n
        self.misses += o.misses

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else math.nan


def score_bout(b: Bout, c_t: NDArray[np.float64], c_side: list[str],
               exclude_gaps: bool) -> Score:
    """Score the contacts against one bout."""
    lo, hi = float(b.ic_s[0]) - TOL_S, float(b.ic_s[-1]) + TOL_S
    sel = np.flatnonzero((c_t >= lo) & (c_t <= hi))
    ref = b.ic_s
    if exclude_gaps:
        gaps = ref_gaps(b)
        sel = np.array([i for i in sel if not any(a < c_t[i] < z for a, z in gaps)], int)
    m = match(c_t[sel], ref)
    side_n = sum(1 for i, _ in m if c_side[sel[i]] in ("L", "R"))
    side_ok = sum(1 for i, j in m if c_side[sel[i]] == b.side[j][:1])
    misses = []
    for j in sorted(set(range(ref.shape[0])) - {j for _, j in m}):
        near = c_t[sel] - ref[j] if len(sel) else np.array([np.inf])
        k = int(np.argmin(np.abs(near)))
        misses.append(f"{ref[j]:.2f} s (nearest detection {1000 * near[k]:+.0f} ms)")
    return Score(len(m), len(sel) - len(m), ref.shape[0] - len(m), side_ok, side_n, misses)


def run_mobgap(data: Path) -> bool:
    """Part (a); returns whether the targets were met."""
    path = data / "mobgap" / "HA" / "001" / "data.mat"
    if not path.exists():
        print(f"(a) skipped: {path} not found")
        return False
    trials = load_mobgap(path)
    print(f"(a) initial contacts vs INDIP, {path.relative_to(data)} "
          f"(+-{TOL_S * 1000:.0f} ms; scored inside the reference walking bouts)\n")
    hdr = (f"{'test/trial':<26} {'bouts':>5} {'ref IC':>6} {'TP':>4} {'FP':>4} {'FN':>4} "
           f"{'F1':>6} {'F1 gaps excl.':>13} {'side agree':>10} {'cad err spm':>11}")
    print(hdr)
    print("-" * len(hdr))
    pool, pool_x = Score(), Score()
    cad_err: list[float] = []
    cad_err_x: list[float] = []
    t0 = time.perf_counter()
    n_samples = 0
    ours: list[tuple[Trial, NDArray[np.float64]]] = []
    for tr in trials:
        n = tr.acc_g.shape[0]
        n_samples += n
        t = np.arange(n) / tr.fs_hz
        contacts, strides = gait.analyze(t, tr.acc_g, tr.gyr_dps, tr.fs_hz)
        c_t = np.array([c.t_s for c in contacts])
        c_side = [c.side for c in contacts]
        ours.append((tr, c_t))
        sc, sx = Score(), Score()
        errs = []
        for b in tr.bouts:
            sc.add(score_bout(b, c_t, c_side, exclude_gaps=False))
            sx.add(score_bout(b, c_t, c_side, exclude_gaps=True))
            cads = [s.cadence_spm for s in strides
                    if b.ic_s[0] - TOL_S <= s.t_start_s and s.t_end_s <= b.ic_s[-1] + TOL_S]
            if cads:  # the reference's Cadence is the mean of its per-stride 120/stride_s
                errs.append(float(np.mean(cads)) - b.cadence_spm)
            ex = cadence_gaps_excluded(b, strides)
            if ex is not None:
                cad_err_x.append(ex)
        pool.add(sc)
        pool_x.add(sx)
        cad_err += errs
        side = f"{100 * sc.side_ok / sc.side_n:.0f} %" if sc.side_n else "-"
        mae = f"{np.mean(np.abs(errs)):.2f}" if errs else "-"
        print(f"{tr.name:<26} {len(tr.bouts):>5} {sc.tp + sc.fn:>6} {sc.tp:>4} {sc.fp:>4} "
              f"{sc.fn:>4} {sc.f1:>6.3f} {sx.f1:>13.3f} {side:>10} {mae:>11}")
    wall = time.perf_counter() - t0
    side = f"{100 * pool.side_ok / pool.side_n:.0f} %" if pool.side_n else "-"
    cad_mae = float(np.mean(np.abs(cad_err))) if cad_err else math.nan
    print("-" * len(hdr))
    print(f"{'pooled':<26} {sum(len(t.bouts) for t in trials):>5} {pool.tp + pool.fn:>6} "
          f"{pool.tp:>4} {pool.fp:>4} {pool.fn:>4} {pool.f1:>6.3f} {pool_x.f1:>13.3f} "
          f"{side:>10} {cad_mae:>11.2f}")
    print(f"\nmissed reference contacts outside the reference gaps: {'; '.join(pool_x.misses)}")
    print(f"cadence error per bout (ours - reference, spm): "
          f"{', '.join(f'{e:+.1f}' for e in cad_err)}")
    print(f"cadence error per bout, reference gaps excluded on both sides: "
          f"{', '.join(f'{e:+.1f}' for e in cad_err_x)} (MAE "
          f"{float(np.mean(np.abs(cad_err_x))):.2f} spm)")
    n_ref = pool.tp + pool.fn
    n_skip = sum(skipped_steps(b) for tr in trials for b in tr.bouts)
    print(f"the reference skips about {n_skip} steps in its gaps (gap / bout median step - 1, "
          f"at least 1; we detect {pool.fp - pool_x.fp} there): a detector that finds every "
          f"reference contact and these steps scores strict F1 "
          f"{2 * n_ref / (2 * n_ref + n_skip):.3f}")
    print(f"timing: median detection - reference {1000 * _lag_s(ours):+.0f} ms (matched "
          f"within +-300 ms)")
    print(f"{n_samples} samples in {wall:.2f} s")
    ok = pool.f1 >= 0.95 and cad_mae <= 2.0
    print(f"targets F1 >= 0.95 and cadence error <= 2 spm (strict): "
          f"{'met' if ok else 'NOT met'} (F1 {pool.f1:.3f}, cadence MAE {cad_mae:.2f} spm)\n")
    run_mobgap_icd(trials)
    return ok


MOBGAP_ICD = ("IcdShinImproved", "IcdIonescu", "IcdHKLeeImproved")
"""mobgap's initial-contact detectors compared in (a) (mobgap 1.2.0, the ``bench`` extra)."""


def mobgap_contacts(name: str, tr: Trial) -> NDArray[np.float64]:
    """Contact times (s) of one mobgap IC detector over a whole trial (defaults, offline).

    The lower-back data go in as mobgap's own loader hands them over: sensor frame renamed
    to the body frame (x -> is, y -> ml, z -> pa), acceleration in m/s^2.
    """
    import pandas as pd
    from mobgap import initial_contacts as icd
    from mobgap.consts import GRAV_MS2

    cols = ["acc_is", "acc_ml", "acc_pa", "gyr_is", "gyr_ml", "gyr_pa"]
    df = pd.DataFrame(np.hstack((tr.acc_g * GRAV_MS2, tr.gyr_dps)), columns=cols)
    det = getattr(icd, name)().detect(df, sampling_rate_hz=tr.fs_hz)
    return np.asarray(det.ic_list_["ic"].to_numpy(), dtype=np.float64) / tr.fs_hz


def _lag_s(per_trial: list[tuple[Trial, NDArray[np.float64]]]) -> float:
    """Median time of the detections minus the reference, pairs within +-300 ms."""
    d: list[float] = []
    for tr, c_t in per_trial:
        for b in tr.bouts:
            d += [float(c_t[i] - b.ic_s[j]) for i, j in match(c_t, b.ic_s, 0.3)]
    return float(np.median(d)) if d else 0.0


def run_mobgap_icd(trials: list[Trial]) -> None:
    """mobgap's IC detectors on the same trials, scored by the same scorer (a reference row).

    Each detector runs offline on the whole trial with its defaults. A second figure removes
    its median lag against the reference, estimated leave-one-trial-out (on the other two
    trials, applied to the held-out one).
    """
    try:
        import mobgap
    except ImportError:
        print("mobgap comparison skipped: mobgap is not installed (pip install -e '.[bench]')\n")
        return
    print(f"mobgap {mobgap.__version__} IC detectors on the same trials and scorer (offline, "
          "whole trial, defaults; no side):")
    hdr = (f"  {'detector':<18} {'TP':>4} {'FP':>4} {'FN':>4} {'F1':>6} {'F1 gaps excl.':>13}"
           f" {'lag':>7}   {'F1 lag removed (LOTO)':>21}")
    print(hdr)
    for name in MOBGAP_ICD:
        res = [(tr, mobgap_contacts(name, tr)) for tr in trials]
        pool, pool_x, pool_s, pool_sx = Score(), Score(), Score(), Score()
        for k, (tr, c_t) in enumerate(res):
            lag = _lag_s([r for i, r in enumerate(res) if i != k])
            for b in tr.bouts:
                pool.add(score_bout(b, c_t, ["?"] * len(c_t), exclude_gaps=False))
                pool_x.add(score_bout(b, c_t, ["?"] * len(c_t), exclude_gaps=True))
                pool_s.add(score_bout(b, c_t - lag, ["?"] * len(c_t), exclude_gaps=False))
                pool_sx.add(score_bout(b, c_t - lag, ["?"] * len(c_t), exclude_gaps=True))
        print(f"  {name:<18} {pool.tp:>4} {pool.fp:>4} {pool.fn:>4} {pool.f1:>6.3f} "
              f"{pool_x.f1:>13.3f} {1000 * _lag_s(res):>+4.0f} ms   "
              f"{pool_s.f1:.3f} / {pool_sx.f1:.3f} gaps excl.")
    print()


def cadence_gaps_excluded(b: Bout, strides: list[gait.Stride]) -> float | None:
    """Our minus the reference's mean stride cadence in a bout, strides over gaps left out."""
    gaps = ref_gaps(b)

    def clear(a: float, z: float) -> bool:
        return not any(a < g1 + TOL_S and g0 - TOL_S < z for g0, g1 in gaps)

    ref = [120.0 / (b.ic_s[k + 2] - b.ic_s[k]) for k in range(b.ic_s.shape[0] - 2)
           if b.side[k] == b.side[k + 2] and clear(b.ic_s[k], b.ic_s[k + 2])]
    ours = [s.cadence_spm for s in strides
            if b.ic_s[0] - TOL_S <= s.t_start_s and s.t_end_s <= b.ic_s[-1] + TOL_S
            and clear(s.t_start_s, s.t_end_s)]
    if not ref or not ours:
        return None
    return float(np.mean(ours) - np.mean(ref))


GRID = {"jerk_sigma_s": (0.03, 0.04, 0.05), "peak_window_s": (0.25, 0.3),
        "min_jerk_g_s": (0.1, 0.3, 0.6), "min_step_frac": (0.0, 0.3, 0.4, 0.5, 0.6)}
"""The parameter grid of ``--grid`` (defaults: 0.04, 0.25, 0.3, 0.4)."""


def run_grid(data: Path) -> None:
    """Pooled F1 over :data:`GRID`: how much the defaults depend on this one recording."""
    import itertools

    from breathform.signal.regrid import samples_from_arrays

    trials = load_mobgap(data / "mobgap" / "HA" / "001" / "data.mat")
    f1s, f1x = [], []
    points = list(itertools.product(*GRID.values()))
    # per point and trial: (strict score, gaps-excluded score)
    per: dict[tuple[float, ...], list[tuple[Score, Score]]] = {}
    print("\n(a') pooled F1 over a parameter grid (strict / reference gaps excluded)")
    for pt in points:
        sig, win, mj, frac = pt
        pool, pool_x = Score(), Score()
        per[pt] = []
        for tr in trials:
            t = np.arange(tr.acc_g.shape[0]) / tr.fs_hz
            p = gait.GaitParams(tr.fs_hz, True, jerk_sigma_s=sig, peak_window_s=win,
                                min_jerk_g_s=mj, min_step_frac=frac)
            c, _ = gait.run_batch(p, samples_from_arrays(t, tr.acc_g, tr.gyr_dps))
            c_t = np.array([x.t_s for x in c])
            sc, sx = Score(), Score()
            for b in tr.bouts:
                sc.add(score_bout(b, c_t, [x.side for x in c], exclude_gaps=False))
                sx.add(score_bout(b, c_t, [x.side for x in c], exclude_gaps=True))
            per[pt].append((sc, sx))
            pool.add(sc)
            pool_x.add(sx)
        f1s.append(pool.f1)
        f1x.append(pool_x.f1)
        print(f"  sigma {sig:.2f} s, window {win:.2f} s, min jerk {mj:.1f} g/s, min step "
              f"{frac:.1f}: {pool.f1:.3f} / {pool_x.f1:.3f}")
    print(f"  range over {len(f1s)} points: strict {min(f1s):.3f}-{max(f1s):.3f}, gaps "
          f"excluded {min(f1x):.3f}-{max(f1x):.3f}")
    default = (0.04, 0.25, 0.3, 0.4)
    held, held_x = Score(), Score()
    print("  leave one trial out (point chosen on the other trials, scored on the held-out):")
    for k, tr in enumerate(trials):
        def f1_without(pt: tuple[float, ...], k: int = k) -> float:
            s = Score()
            for i, (sc, _) in enumerate(per[pt]):
                if i != k:
                    s.add(sc)
            return s.f1
        best = max(points, key=lambda pt: (f1_without(pt),
                                           -sum(abs(a - b) for a, b in zip(pt, default,
                                                                           strict=True))))
        sc, sx = per[best][k]
        held.add(sc)
        held_x.add(sx)
        print(f"    {tr.name}: chose {best}, held-out F1 {sc.f1:.3f} / {sx.f1:.3f}")
    print(f"  pooled held-out F1 {held.f1:.3f} / {held_x.f1:.3f} (defaults: "
          f"{_pool_f1(per[default])})\n")


def _pool_f1(rows: list[tuple[Score, Score]]) -> str:
    a, b = Score(), Score()
    for sc, sx in rows:
        a.add(sc)
        b.add(sx)
    return f"{a.f1:.3f} / {b.f1:.3f}"


def _col0(path: Path) -> NDArray[np.float64]:
    a = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return np.asarray(a[:, 0], dtype=np.float64) if a.size else np.zeros(0)


def step_reference(steps_s: NDArray[np.float64], t_s: NDArray[np.float64]
                   ) -> NDArray[np.float64]:
    """Reference cadence per second from step events in the trailing window."""
    ref = np.full(t_s.shape, np.nan)
    lo = np.searchsorted(steps_s, t_s - STEP_WINDOW_S, side="left")
    hi = np.searchsorted(steps_s, t_s, side="right")
    for i, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        if b - a >= 3:
            ev = steps_s[a:b]
            ref[i] = 60.0 * (b - a - 1) / (ev[-1] - ev[0])
    return ref


def run_sim(seeds: tuple[int, ...] = (1, 2), duration_s: int = 300) -> None:
    """Part (c): contacts on the simulated runner (foot strikes known exactly)."""
    from breathform.sim import SimParams, simulate_run

    print("\n(c) initial contacts on the simulator (5-min flat runs, random mounting, true "
          "samples; scored from 60 s after running starts)\n")
    pool = Score()
    osc: list[float] = []
    for seed in seeds:
        run = simulate_run(SimParams.flat(seed=seed, duration_s=duration_s))
        imu = run.sacrum
        contacts, strides = gait.analyze(imu.t_s, imu.acc_g, imu.gyr_dps, imu.fs_hz)
        c_t = np.array([c.t_s for c in contacts])
        lo = run.params.run_start_s + 60.0
        ref = run.step_t_s[(run.step_t_s >= lo) & (run.step_t_s <= duration_s - 1)]
        side = ["Left" if f == 0 else "Right" for f in run.step_foot[
            (run.step_t_s >= lo) & (run.step_t_s <= duration_s - 1)]]
        b = Bout(float(ref[0]), float(ref[-1]), ref, side, math.nan)
        sc = score_bout(b, c_t, [c.side for c in contacts], exclude_gaps=False)
        pool.add(sc)
        osc += [s.vertical_osc_cm for s in strides if s.t_start_s >= lo]
        m = match(c_t, ref)
        off = np.array([c_t[i] - ref[j] for i, j in m])
        print(f"seed {seed}: {ref.shape[0]} strikes, F1 {sc.f1:.3f}, timing error median "
              f"{1000 * np.median(off):+.0f} ms, side agree "
              f"{100 * sc.side_ok / max(1, sc.side_n):.0f} %")
    print(f"pooled F1 {pool.f1:.3f}; vertical oscillation per stride median "
          f"{np.nanmedian(osc):.1f} cm (p5-p95 {np.nanpercentile(osc, 5):.1f}-"
          f"{np.nanpercentile(osc, 95):.1f})")


@dataclass
class ChestSession:
    """One Hexoskin session scored in part (b), per whole second from 60 s on."""

    name: str
    acc_g: NDArray[np.float64]
    fs_hz: float
    steps_s: NDArray[np.float64]
    t_s: NDArray[np.float64]
    cad: NDArray[np.float64]
    ref: NDArray[np.float64]
    act: NDArray[np.int64]
    missed: NDArray[np.bool_]
    extra: NDArray[np.bool_]
    ic_cad: NDArray[np.float64]


ACTS = ("still", "walk", "jog")
CTX_S = 30.0
"""Half-width of the context in which the reference's own median step interval is taken."""


def ref_faults(steps_s: NDArray[np.float64], t_s: NDArray[np.float64]
               ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Seconds whose trailing window holds a reference interval that skips or adds a step.

    From the reference alone: an interval of 1.6-2.5x the median of the reference's own
    intervals (< 2 s) within +-30 s is a skipped step, one under 0.6x an added event
    (at least 10 intervals in the context).
    """
    iv = np.diff(steps_s)
    te = steps_s[1:]
    missed = np.zeros(t_s.shape, bool)
    extra = np.zeros(t_s.shape, bool)
    for i, t in enumerate(t_s.tolist()):
        c = iv[(te > t - CTX_S) & (te <= t + CTX_S) & (iv < 2.0)]
        w = iv[(te > t - STEP_WINDOW_S) & (te <= t)]
        if c.shape[0] < 10 or not w.shape[0]:
            continue
        med = float(np.median(c))
        missed[i] = bool(np.any((w > 1.6 * med) & (w < 2.5 * med)))
        extra[i] = bool(np.any(w < 0.6 * med))
    return missed, extra


def _hp_norm(acc_g: NDArray[np.float64], fs_hz: float) -> NDArray[np.float64]:
    from breathform.signal._filters import butter_sos, filt

    sos = butter_sos(2, 0.5, "highpass", fs_hz)
    y, _ = filt(sos, np.linalg.norm(acc_g, axis=1) - 1.0, np.zeros((sos.shape[0], 2)))
    return np.asarray(y, dtype=np.float64)


def template_check(sessions: list[ChestSession]) -> dict[str, list[float]]:
    """Does the chest see a step where the reference puts none, or none where it puts one?

    Correlation of the high-passed |acc| over +-0.2 s around a reference event with the
    same span around another instant: the next event of a normal interval (0.85-1.15x the
    context median), the midpoint of a normal interval (half a step later), the midpoint
    of a long (1.6-2.5x) interval, and the event that ends a short (< 0.6x) interval.
    """
    out: dict[str, list[float]] = {"normal: next event": [], "normal: midpoint": [],
                                   "long: midpoint": [], "short: its end event": []}
    for s in sessions:
        y = _hp_norm(s.acc_g, s.fs_hz)
        h = round(0.2 * s.fs_hz)

        def snip(t: float, y: NDArray[np.float64] = y, h: int = h, fs: float = s.fs_hz
                 ) -> NDArray[np.float64] | None:
            i = round(t * fs)
            return y[i - h: i + h + 1] - np.mean(y[i - h: i + h + 1]) \
                if h <= i < y.shape[0] - h - 1 else None

        def corr(a: NDArray[np.float64] | None, b: NDArray[np.float64] | None) -> float:
            if a is None or b is None:
                return math.nan
            return float(a @ b / math.sqrt(float(a @ a) * float(b @ b) + 1e-12))

        st = s.steps_s
        iv = np.diff(st)
        for k in range(10, iv.shape[0] - 10):
            c = iv[k - 10: k + 10]
            c = c[c < 2.0]
            if c.shape[0] < 10 or st[k] < 60.0:
                continue
            med = float(np.median(c))
            a = snip(float(st[k]))
            if 0.85 * med < iv[k] < 1.15 * med:
                out["normal: next event"].append(corr(a, snip(float(st[k + 1]))))
                out["normal: midpoint"].append(corr(a, snip(float(st[k] + iv[k] / 2))))
            elif 1.6 * med < iv[k] < 2.5 * med:
                out["long: midpoint"].append(corr(a, snip(float(st[k] + iv[k] / 2))))
            elif iv[k] < 0.6 * med:
                out["short: its end event"].append(corr(a, snip(float(st[k + 1]))))
    return out


def load_chest_sessions(data: Path) -> list[ChestSession]:
    """Every Hexoskin session with our chest cadence, the reference and its faults."""
    root = data / "hexoskin"
    dirs = sorted(d for d in root.glob("*") if d.is_dir()) if root.exists() else []
    out = []
    for d in dirs:
        sess = load_hexoskin(d)  # the accelerometer, read as the breathing benchmark does
        t = np.arange(sess.acc_g.shape[0]) / sess.fs_hz
        ms = analyze_chest(t, sess.acc_g, None, sess.fs_hz)
        tt = np.array([m.t_s for m in ms])
        cad = np.array([m.cadence_spm for m in ms])
        keep = tt >= 60.0
        tt, cad = tt[keep], cad[keep]
        steps = np.sort(_col0(d / "step.csv"))
        ref = step_reference(steps, tt)
        # the contact detector on the chest, for comparison (not the live path)
        contacts, _ = gait.analyze(t, sess.acc_g, None, sess.fs_hz)
        ic_cad = step_reference(np.array([c.t_s for c in contacts]), tt)
        fc, sc = wavfile.read(d / "cadence.wav")
        sc = np.asarray(sc, dtype=np.float64)
        act = np.digitize(sc[np.clip((tt * fc).astype(int), 0, len(sc) - 1)], [60.0, 140.0])
        missed, extra = ref_faults(steps, tt)
        out.append(ChestSession(d.name, sess.acc_g, sess.fs_hz, steps, tt, cad, ref, act,
                                missed, extra, ic_cad))
    return out


def _cadence_table(sessions: list[ChestSession], faults_out: bool) -> None:
    hdr = (f"{'activity':<10} {'seconds':>7} {'ref reports':>11} {'we report':>9} "
           f"{'MAE spm':>8} {'within 2 spm':>12} {'bias':>6}")
    print(hdr)
    print("-" * len(hdr))

    def cat(attr: str, acts: tuple[int, ...]) -> tuple[NDArray[np.float64],
                                                         NDArray[np.float64]]:
        e, r = [], []
        for s in sessions:
            sel = np.isin(s.act, acts)
            if faults_out:
                sel &= ~s.missed & ~s.extra
            e.append(getattr(s, attr)[sel])
            r.append(s.ref[sel])
        return np.concatenate(e), np.concatenate(r)

    rows = [(a, *cat("cad", (k,))) for k, a in enumerate(ACTS)]
    rows.append(("walk+jog", *cat("cad", (1, 2))))
    rows += [(f"{a} (IC)", *cat("ic_cad", (k,))) for k, a in enumerate(ACTS) if k]
    for a, e, r in rows:
        both = np.isfinite(e) & np.isfinite(r)
        nr = int(np.isfinite(r).sum())
        err = e[both] - r[both]
        mae = f"{np.mean(np.abs(err)):.2f}" if err.size else "-"
        within = f"{100 * np.mean(np.abs(err) <= 2):.1f} %" if err.size else "-"
        bias = f"{np.mean(err):+.2f}" if err.size else "-"
        cov = f"{100 * both.sum() / nr:.0f} %" if nr else "-"
        print(f"{a:<10} {e.shape[0]:>7} {nr:>11} {cov:>9} {mae:>8} {within:>12} {bias:>6}")


def _breakdown(sessions: list[ChestSession]) -> None:
    """Walk+jog seconds both report, split by the likely cause of their error."""
    names = ("octave (ours/ref 0.4-0.6 or 1.7-2.3)", "reference skips a step",
             "reference adds an event", "start/stop (activity changes within 8 s)", "rest")
    n_all, sums, counts, over2 = 0, [0.0] * 5, [0] * 5, [0] * 5
    for s in sessions:
        both = (s.act > 0) & np.isfinite(s.cad) & np.isfinite(s.ref)
        r = s.cad / s.ref
        e = np.abs(s.cad - s.ref)
        octave = ((r > 0.4) & (r < 0.6)) | ((r > 1.7) & (r < 2.3))
        act = s.act.tolist()
        trans = np.array([len(set(act[max(0, i - 8): i + 9])) > 1 for i in range(len(act))],
                         bool)
        left = both.copy()
        for k, m in enumerate((octave, s.missed, s.extra, trans, np.ones_like(both))):
            sel = left & m
            left &= ~m
            sums[k] += float(e[sel].sum())
            counts[k] += int(sel.sum())
            over2[k] += int((e[sel] > 2).sum())
        n_all += int(both.sum())
    print(f"\nwhere the walk+jog error comes from ({n_all} seconds both report; each second in "
          f"the first class that fits):")
    for k, nm in enumerate(names):
        within = sums[k] / max(1, counts[k])
        print(f"  {nm:<42} {counts[k]:>5} s ({100 * counts[k] / n_all:4.1f} %), "
              f"{sums[k] / n_all:5.2f} spm of the MAE, MAE within {within:5.2f}, "
              f"{over2[k]} off by > 2 spm")
    st = [(s.act == 0, np.isfinite(s.cad), ~np.isfinite(s.ref)) for s in sessions]
    n_st = sum(int(a.sum()) for a, _, _ in st)
    n_rep = sum(int((a & c).sum()) for a, c, _ in st)
    n_no = sum(int((a & r).sum()) for a, _, r in st)
    n_no_rep = sum(int((a & c & r).sum()) for a, c, r in st)
    print(f"still seconds (shirt's cadence < 60): we report a cadence on {n_rep} of {n_st} "
          f"({100 * n_rep / n_st:.1f} %); on those where the reference has under 3 steps in "
          f"the trailing 6 s: {n_no_rep} of {n_no} ({100 * n_no_rep / max(1, n_no):.1f} %)")


def run_hexoskin(data: Path) -> list[ChestSession]:
    """Part (b): chest cadence per activity; returns the sessions (for the grid)."""
    sessions = load_chest_sessions(data)
    if not sessions:
        print(f"(b) skipped: no sessions in {data / 'hexoskin'}")
        return sessions
    print("(b) cadence from the chest accelerometer (breathform analyze --sensor chest) vs "
          "the shirt's step events, trailing 6 s\n")
    print("strict (every second):")
    _cadence_table(sessions, faults_out=False)
    print("(still: the shirt's cadence < 60; 'we report' there is the share of the reference's "
          "seconds where we also report a cadence. (IC): the contact detector run on the chest "
          "instead, cadence from its contacts over the same trailing 6 s; not the live path)")
    tc = template_check(sessions)
    print("\nthe reference's faults, checked on the chest acceleration (correlation of the "
          "high-passed |acc| +-0.2 s around a reference event with the same span around):")
    for k, v in tc.items():
        a = np.array(v)
        a = a[np.isfinite(a)]
        print(f"  {k:<22} n = {a.shape[0]:>5}: median {np.median(a):+.2f}, "
              f"{100 * np.mean(a > 0.5):.0f} % above 0.5")
    print("(a long interval's midpoint looks like a step and a short interval's end event "
          "does not: the reference skipped a step / added an event there)\n")
    print("reference faults excluded (seconds whose trailing 6 s hold a reference interval of "
          "1.6-2.5x or under 0.6x the reference's median interval within +-30 s):")
    _cadence_table(sessions, faults_out=True)
    _breakdown(sessions)
    return sessions


CAD_GRID = {"min_acf": (0.25, 0.3, 0.35, 0.4), "min_recent_frac": (0.0, 0.3, 0.5, 0.7),
            "recent_s": (1.0, 2.0, 3.0)}
"""The cadence grid of ``--grid`` (part b'; defaults 0.3, 0.7, 2.0)."""


def run_cadence_grid(sessions: list[ChestSession]) -> None:
    """Leave-one-session-out choice of the cadence gates on the Hexoskin sessions.

    Score of a point on a set of sessions: the share of the walk+jog seconds where the
    reference reports (its faults excluded) that we report within +-2 spm, minus the share
    of still seconds with under 3 reference steps in the window that we report.
    """
    import itertools

    from breathform.signal import cadence
    from breathform.signal.regrid import samples_from_arrays

    points = list(itertools.product(*CAD_GRID.values()))
    per: dict[tuple[float, ...], list[tuple[int, int, int, int]]] = {}
    for pt in points:
        a, f, r = pt
        per[pt] = []
        for s in sessions:
            t = np.arange(s.acc_g.shape[0]) / s.fs_hz
            p = cadence.CadenceParams(s.fs_hz, min_acf=a, min_recent_frac=f, recent_s=r)
            rows = cadence.run_batch(p, samples_from_arrays(t, s.acc_g, None))
            c = np.array([x.cadence_spm for x in rows if x.t_s >= 60.0])
            if pt == (0.3, 0.7, 2.0):  # the defaults: what analyze --sensor chest reports
                np.testing.assert_array_equal(c, s.cad)
            mv = (s.act > 0) & np.isfinite(s.ref) & ~s.missed & ~s.extra
            ok = mv & (np.abs(c - s.ref) <= 2)
            still = (s.act == 0) & ~np.isfinite(s.ref)
            per[pt].append((int(ok.sum()), int(mv.sum()), int((still & np.isfinite(c)).sum()),
                            int(still.sum())))

    def score(pt: tuple[float, ...], keep: list[int]) -> float:
        v = [per[pt][i] for i in keep]
        return (sum(x[0] for x in v) / sum(x[1] for x in v)
                - sum(x[2] for x in v) / sum(x[3] for x in v))

    every = list(range(len(sessions)))
    print("\n(b') cadence gates over a grid (min_acf, min_recent_frac, recent_s); score = share "
          "of walk+jog reference seconds (faults excluded) within +-2 spm - share of still "
          "seconds reported")
    for pt in sorted(points, key=lambda q: -score(q, every))[:6]:
        print(f"  {pt}: {score(pt, every):.3f}")
    print(f"  defaults (0.3, 0.7, 2.0): {score((0.3, 0.7, 2.0), every):.3f}; range "
          f"{min(score(q, every) for q in points):.3f}-{max(score(q, every) for q in points):.3f}")
    for sub, label in ((points, "whole grid"),
                       ([q for q in points if q[0] == 0.3], "min_acf fixed at 0.3")):
        print(f"  leave one session out ({label}):")
        held: list[float] = []
        dflt: list[float] = []
        for i, s in enumerate(sessions):
            rest = [j for j in every if j != i]
            best = max(sub, key=lambda q: score(q, rest))
            held.append(score(best, [i]))
            dflt.append(score((0.3, 0.7, 2.0), [i]))
            print(f"    {s.name}: chose {best}, held-out {held[-1]:.3f} (defaults "
                  f"{dflt[-1]:.3f})")
        print(f"    mean held-out {np.mean(held):.3f} (defaults {np.mean(dflt):.3f})")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="folder holding mobgap/ and hexoskin/ (default ../shared/data)")
    ap.add_argument("--grid", action="store_true",
                    help="also score the contact detector (a) and the chest cadence's "
                    "gates (b) over parameter grids")
    args = ap.parse_args(argv)
    run_mobgap(args.data)
    if args.grid:
        run_grid(args.data)
    sessions = run_hexoskin(args.data)
    if args.grid and sessions:
        run_cadence_grid(sessions)
    run_sim()
    return 0


if __name__ == "__main__":
    sys.exit(main())
