"""Breathing-rate accuracy of ``breathform analyze --sensor chest`` on real Hexoskin recordings.

For every session folder in the data directory (default ``../shared/data/hexoskin`` relative
to the repository), the 64 Hz chest accelerometer (``acceleration_{X,Y,Z}.wav``, int16 in
units of 1/256 g) is written to a temporary CSV (``t_s,ax_g,ay_g,az_g``) and the ECG RR
intervals (``RR_interval.csv``, units of 1/256 s) to another (``t_s,rr_ms``); both run through
exactly the code path of ``breathform analyze --sensor chest --rr RR.csv``
(:func:`analyze_csv`). Its 1 Hz columns give three rows: ``rate_acc_bpm`` (accelerometer
only: the ``rate_bpm`` of ``analyze`` without ``--rr``), ``rate_rr_bpm`` (RR intervals only)
and ``rate_bpm`` (the two fused). Each is scored against the shirt's respiration-band breath
events:

    .venv/bin/python benchmarks/breathing_accuracy.py [--data DIR] [--no-neurokit] [--loso]

Reference (as in ``shared/data/README.md``): for each whole second ``t``, the rate is
``60 (k - 1) / (t_k - t_1)`` over the ``k >= 3`` inspirations in ``[t - 30, t]``. Seconds
are scored from 60 s on (band transient), and not where the reference shows its known fault
of firing on steps (two or more breath intervals under 0.8 s in the window). Activity per
second from the shirt's cadence: >= 140 jog, 60-140 walk, else still.

Per activity and pooled: MAE over the seconds the method reports, median absolute error, %
of reported seconds within +-2 bpm, coverage (reported / scored seconds), bias (mean
estimate - reference) and r, the correlation of estimate and reference over the reported
seconds (near 0: the method does not follow the reference, whatever its MAE). Beside
breathform: the constant guess (the pooled mean of the reference, an oracle constant),
neurokit2's respiration pipeline (``rsp_process``, acausal) on the first principal component
of the band-passed accelerometer when neurokit2 is installed (``pip install neurokit2``),
and the shirt's own rate from its respiration bands (``breathing_rate.wav``, not from the
accelerometer) for scale. "DSP fed the bands" is breathform's breathing tracker fed the
thoracic band instead of the accelerometer (:func:`band_rate`): what the rate extraction
reaches on a clean breathing waveform, i.e. the part of the error that is not the
accelerometer's.

``--loso`` checks that the defaults were not tuned to single sessions: for each session, the
best of a small grid of tracker parameters (:data:`LOSO_GRID`) is chosen on the other
sessions (pooled MAE, penalised below 75 % coverage) and scored on the held-out one; the
table pools the held-out scores (accelerometer only).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.io import wavfile

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "hexoskin"
ACTIVITIES = ("still", "walk", "jog")
WINDOW_S = 30.0
SKIP_S = 60.0


@dataclass
class Session:
    """One recording and its per-second reference."""

    name: str
    fs_hz: float
    acc_g: NDArray[np.float64]
    t_ref_s: NDArray[np.float64]   # scored whole seconds
    ref_bpm: NDArray[np.float64]
    activity: NDArray[np.int_]     # index into ACTIVITIES
    shirt_bpm: NDArray[np.float64]
    rr_t_s: NDArray[np.float64]
    rr_ms: NDArray[np.float64]
    data_dir: Path


def _col0(path: Path) -> NDArray[np.float64]:
    a = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return np.asarray(a[:, 0], dtype=np.float64) if a.size else np.zeros(0)


def reference_rate(insp_s: NDArray[np.float64], t_s: NDArray[np.float64]
                   ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Reference rate per second and the "fires on steps" flag."""
    ref = np.full(t_s.shape, np.nan)
    bad = np.zeros(t_s.shape, bool)
    lo = np.searchsorted(insp_s, t_s - WINDOW_S, side="left")
    hi = np.searchsorted(insp_s, t_s, side="right")
    for i, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        k = b - a
        if k >= 3:
            ev = insp_s[a:b]
            ref[i] = 60.0 * (k - 1) / (ev[-1] - ev[0])
            bad[i] = int((np.diff(ev) < 0.8).sum()) >= 2
    return ref, bad


def load_session(d: Path) -> Session:
    """Read one session folder."""
    axes = []
    fs = 0
    for ax in "XYZ":
        fs, x = wavfile.read(d / f"acceleration_{ax}.wav")
        axes.append(np.asarray(x, dtype=np.float64) / 256.0)
    n = min(len(a) for a in axes)
    acc = np.stack([a[:n] for a in axes], axis=1)
    dur = n / fs
    t = np.arange(math.ceil(SKIP_S), math.floor(dur) + 1, dtype=np.float64)
    ref, bad = reference_rate(np.sort(_col0(d / "inspiration.csv")), t)
    fc, cad = wavfile.read(d / "cadence.wav")
    cad = np.asarray(cad, dtype=np.float64)
    ci = np.clip((t * fc).astype(int), 0, len(cad) - 1)
    act = np.digitize(cad[ci], [60.0, 140.0])
    fb, br = wavfile.read(d / "breathing_rate.wav")
    br = np.asarray(br, dtype=np.float64)
    shirt = br[np.clip((t * fb).astype(int), 0, len(br) - 1)]
    shirt[shirt <= 0] = np.nan
    keep = np.isfinite(ref) & ~bad
    rr = np.loadtxt(d / "RR_interval.csv", delimiter=",", skiprows=1, ndmin=2)
    rr_ok = rr[:, 1] > 0
    return Session(d.name, float(fs), acc, t[keep], ref[keep], act[keep], shirt[keep],
                   rr[rr_ok, 0], rr[rr_ok, 1] * 1000.0 / 256.0, d)


def breathform_rates(s: Session) -> dict[str, NDArray[np.float64]]:
    """Run ``breathform analyze --sensor chest --rr RR.csv``; rates at the scored seconds.

    Returns:
        ``fused`` (the ``rate_bpm`` column), ``acc`` (``rate_acc_bpm``: exactly the output of
        ``analyze --sensor chest`` without ``--rr``) and ``rr`` (``rate_rr_bpm``).
    """
    from breathform.analyze import analyze_csv
    from breathform.config import Config

    t = np.arange(s.acc_g.shape[0]) / s.fs_hz
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{s.name}.csv"
        with path.open("w", encoding="utf-8") as fh:
            fh.write("t_s,ax_g,ay_g,az_g\n")
            np.savetxt(fh, np.column_stack((t, s.acc_g)), delimiter=",",
                       fmt=("%.6f", "%.6g", "%.6g", "%.6g"))
        rr_path = Path(tmp) / f"{s.name}_rr.csv"
        with rr_path.open("w", encoding="utf-8") as fh:
            fh.write("t_s,rr_ms\n")
            np.savetxt(fh, np.column_stack((s.rr_t_s, s.rr_ms)), delimiter=",",
                       fmt=("%.8f", "%.5f"))  # exact for 1/256-s units
        out = io.StringIO()
        analyze_csv(path, sensor="chest", out=out, cfg=Config(), rr_path=rr_path)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    tt = np.array([float(r["t_s"]) for r in rows])
    return {k: _at(tt, np.array([float(r[c]) for r in rows]), s.t_ref_s)
            for k, c in (("fused", "rate_bpm"), ("acc", "rate_acc_bpm"),
                         ("rr", "rate_rr_bpm"))}


def _at(tt: NDArray[np.float64], v: NDArray[np.float64], t: NDArray[np.float64]
        ) -> NDArray[np.float64]:
    idx = np.searchsorted(tt, t)
    ok = (idx < len(tt)) & (tt[np.minimum(idx, len(tt) - 1)] == t)
    out = np.full(t.shape, np.nan)
    out[ok] = v[idx[ok]]
    return out


LOSO_GRID: tuple[dict[str, float], ...] = tuple(
    {"walk_sigma_bpm": ws, "evidence_temp": et, "whiten_knee_bpm": kn}
    for ws in (0.3, 0.5, 1.0) for et in (0.1, 0.2) for kn in (25.0, 30.0, 40.0))


def breathform_rate_with(s: Session, overrides: dict[str, float]) -> NDArray[np.float64]:
    """The same chest DSP as ``analyze`` with some breathing (or tracker) parameters changed."""
    from breathform.signal import breathing, regrid, sensors

    names = {f.name for f in dataclasses.fields(breathing.RateTracker)}
    tracker = breathing.RateTracker(**{k: v for k, v in overrides.items() if k in names})
    rest = {k: v for k, v in overrides.items() if k not in names}
    bp = breathing.BreathParams(s.fs_hz, tracker=tracker, **rest)  # type: ignore[arg-type]
    p = sensors.ChestParams(s.fs_hz, breath=bp)
    t = np.arange(s.acc_g.shape[0]) / s.fs_hz
    rows, _ = sensors.chest_samples_step(p, sensors.init_chest(p),
                                         regrid.samples_from_arrays(t, s.acc_g, None))
    return _at(np.array([r.t_s for r in rows]), np.array([r.rate_bpm for r in rows]),
               s.t_ref_s)


def loso_rate(sessions: list[Session]) -> list[NDArray[np.float64]]:
    """Leave-one-session-out: per held-out session, the grid point best on the others."""
    res = [[breathform_rate_with(s, g) for s in sessions] for g in LOSO_GRID]

    def objective(gi: int, idx: list[int]) -> float:
        r = score(np.concatenate([res[gi][i] for i in idx]),
                  np.concatenate([sessions[i].ref_bpm for i in idx]))
        return r["mae"] + 0.1 * max(0.0, 75.0 - r["cov"])

    out = []
    for k, s in enumerate(sessions):
        train = [i for i in range(len(sessions)) if i != k]
        best = min(range(len(LOSO_GRID)), key=lambda gi: objective(gi, train))
        print(f"LOSO: held-out {s.name} <- {LOSO_GRID[best]}")
        out.append(res[best][k])
    return out


def band_rate(s: Session) -> NDArray[np.float64]:
    """The breathing tracker fed the shirt's thoracic band instead of the accelerometer.

    Not an accelerometer method: it bounds what the rate extraction (tracker, abstention)
    reaches on a clean breathing waveform, apart from what the accelerometer senses. The
    band (128 Hz) is resampled to the accelerometer's rate, scaled to a 0.01 g rms tilt
    along a fixed forward axis and fed as a still, non-striding chest.
    """
    from scipy.signal import resample_poly

    from breathform.signal import breathing, frames, regrid

    fb, band = wavfile.read(s.data_dir / "respiration_thoracic.wav")
    x = resample_poly(np.asarray(band, dtype=np.float64), round(s.fs_hz), int(fb))
    x = 0.01 * (x - np.median(x)) / np.std(x)
    acc = np.zeros((x.size, 3))
    acc[:, 2] = 1.0
    acc[:, 0] += x
    t = np.arange(x.size) / s.fs_hz
    fr, _ = frames.push(frames.init_framer(), regrid.samples_from_arrays(t, acc, None), False)
    up, fwd = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    rows = breathing.run_batch(breathing.BreathParams(s.fs_hz),
                               [breathing.BreathFrame(f, up, fwd, math.nan, True) for f in fr])
    return _at(np.array([r.t_s for r in rows]), np.array([r.rate_bpm for r in rows]),
               s.t_ref_s)


def _activity_segments(s: Session, n: int, min_s: float) -> list[tuple[int, int, int]]:
    """Contiguous stretches (start, stop sample, activity) of at least ``min_s`` seconds."""
    fc, cad = wavfile.read(s.data_dir / "cadence.wav")
    cad = np.asarray(cad, dtype=np.float64)
    sec = np.clip((np.arange(n) / s.fs_hz * fc).astype(int), 0, len(cad) - 1)
    act = np.digitize(cad[sec], [60.0, 140.0])
    edges = np.flatnonzero(np.diff(act)) + 1
    bounds = np.concatenate(([0], edges, [n]))
    return [(int(a), int(b), int(act[a])) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            if b - a >= min_s * s.fs_hz]


def evidence(sessions: list[Session], win_s: float = 30.0, null_shift_s: float = 60.0
             ) -> None:
    """How much of the breathing the accelerometer carries, per activity (diagnostic).

    In 30-s windows (half overlap) inside one activity, the thoracic band and the three
    accelerometer axes band-passed to 0.1-0.8 Hz (breathing; below the stride frequency):
    R^2 of the band's best least-squares fit by the three axes, i.e. the share of the
    breathing waveform that an oracle projection of the accelerometer (chosen per window
    with hindsight) explains. Beside it the same R^2 against the band 60 s later: the
    chance level of a 3-parameter fit to an unrelated breathing waveform. Last, the MAE of
    an oracle constant per session and activity (the reference's own mean there): what a
    method that gets each session's level right but cannot follow the rate within it
    reaches.
    """
    from scipy.signal import butter, resample_poly, sosfiltfilt

    r2: dict[int, list[tuple[float, float]]] = {i: [] for i in range(len(ACTIVITIES))}
    oracle: dict[int, list[NDArray[np.float64]]] = {i: [] for i in range(len(ACTIVITIES))}
    for s in sessions:
        fb, band = wavfile.read(s.data_dir / "respiration_thoracic.wav")
        b = resample_poly(np.asarray(band, dtype=np.float64), round(s.fs_hz), int(fb))
        n = min(b.size, s.acc_g.shape[0])
        sos = butter(2, (0.1, 0.8), btype="bandpass", fs=s.fs_hz, output="sos")
        x = sosfiltfilt(sos, np.column_stack((s.acc_g[:n], b[:n])), axis=0)
        w, sh = round(win_s * s.fs_hz), round(null_shift_s * s.fs_hz)
        for lo, hi, a in _activity_segments(s, n, win_s):
            for i0 in range(lo, hi - w + 1, w // 2):
                acc = x[i0:i0 + w, :3]
                fits = []
                for j0 in (i0, (i0 + sh) % (n - w)):
                    y = x[j0:j0 + w, 3]
                    coef = np.linalg.lstsq(acc, y, rcond=None)[0]
                    fits.append(1.0 - float(np.sum((y - acc @ coef) ** 2) / np.sum(y**2)))
                r2[a].append((fits[0], fits[1]))
        for a in range(len(ACTIVITIES)):
            sel = s.activity == a
            if sel.any():
                oracle[a].append(np.abs(s.ref_bpm[sel] - s.ref_bpm[sel].mean()))
    print(f"evidence: R^2 of the thoracic band's best fit by the 3 accelerometer axes "
          f"(0.1-0.8 Hz, {win_s:.0f}-s windows; oracle projection per window) vs the same "
          f"fit to the band {null_shift_s:.0f} s later (chance); MAE of an oracle constant "
          f"per session+activity")
    for a, name in enumerate(ACTIVITIES):
        v = np.asarray(r2[a]).reshape(-1, 2)
        fit = f"R^2 {np.median(v[:, 0]):.2f} (chance {np.median(v[:, 1]):.2f}; median of " \
              f"{len(v)} windows)" if len(v) else "R^2 n/a"
        mae = float(np.mean(np.concatenate(oracle[a]))) if oracle[a] else math.nan
        print(f"  {name:6} {fit}; oracle constant per session MAE {mae:.2f}")
    allo = np.concatenate([np.concatenate(v) for v in oracle.values() if v])
    print(f"  all    oracle constant per session+activity MAE {float(np.mean(allo)):.2f}")


def neurokit_rate(s: Session) -> NDArray[np.float64]:
    """neurokit2 ``rsp_process`` on the first principal component (acausal)."""
    import neurokit2 as nk
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, (0.1, 1.0), btype="bandpass", fs=s.fs_hz, output="sos")
    x = sosfiltfilt(sos, s.acc_g - s.acc_g.mean(axis=0), axis=0)
    _, _, vt = np.linalg.svd(x[:: 8], full_matrices=False)
    pc = x @ vt[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sig, _ = nk.rsp_process(pc, sampling_rate=int(s.fs_hz))
    rate = np.asarray(sig["RSP_Rate"], dtype=np.float64)
    idx = np.clip((s.t_ref_s * s.fs_hz).astype(int) - 1, 0, len(rate) - 1)
    return rate[idx]


def score(est: NDArray[np.float64], ref: NDArray[np.float64]) -> dict[str, float]:
    """MAE, median error, % within 2 bpm, coverage, bias and correlation (reported seconds)."""
    ok = np.isfinite(est)
    n = len(ref)
    if not ok.any():
        return {"mae": math.nan, "med": math.nan, "w2": math.nan,
                "cov": 0.0 if n else math.nan, "bias": math.nan, "r": math.nan, "n": n}
    e = est[ok] - ref[ok]
    r = math.nan
    if ok.sum() > 2 and np.ptp(est[ok]) > 1e-9 and np.ptp(ref[ok]) > 1e-9:
        r = float(np.corrcoef(est[ok], ref[ok])[0, 1])
    return {"mae": float(np.mean(np.abs(e))), "med": float(np.median(np.abs(e))),
            "w2": 100.0 * float(np.mean(np.abs(e) <= 2.0)),
            "cov": 100.0 * ok.sum() / n, "bias": float(np.mean(e)), "r": r, "n": n}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="folder with one sub-folder per Hexoskin session")
    ap.add_argument("--no-neurokit", action="store_true", help="skip neurokit2")
    ap.add_argument("--per-session", action="store_true",
                    help="also print breathform's pooled MAE/coverage per session")
    ap.add_argument("--loso", action="store_true",
                    help="add a leave-one-session-out row (parameters chosen on the others)")
    ap.add_argument("--evidence", action="store_true",
                    help="also print how much breathing the accelerometer carries (coherence "
                         "with the band) and the oracle per-session constant")
    args = ap.parse_args(argv)
    dirs = sorted(p for p in args.data.iterdir() if (p / "inspiration.csv").exists()) \
        if args.data.is_dir() else []
    if not dirs:
        print(f"no sessions (folders with inspiration.csv) in {args.data}", file=sys.stderr)
        return 2
    methods: dict[str, Callable[[Session], NDArray[np.float64]]] = {}
    if not args.no_neurokit:
        try:
            import neurokit2  # noqa: F401
            methods["neurokit2 (acausal)"] = neurokit_rate
        except ImportError:
            print("neurokit2 not installed: pip install neurokit2 (row left out)")
    sessions = [load_session(d) for d in dirs]
    bf_rows = {"acc": "breathform acc only", "rr": "breathform RR only",
               "fused": "breathform fused acc+RR"}
    est: dict[str, list[NDArray[np.float64]]] = {m: [] for m in (*bf_rows.values(), *methods)}
    secs: dict[str, float] = {"breathform analyze --rr": 0.0, **{m: 0.0 for m in methods}}
    for s in sessions:
        t0 = time.perf_counter()
        for k, v in breathform_rates(s).items():
            est[bf_rows[k]].append(v)
        secs["breathform analyze --rr"] += time.perf_counter() - t0
        for m, fn in methods.items():
            t0 = time.perf_counter()
            est[m].append(fn(s))
            secs[m] += time.perf_counter() - t0
    ref = np.concatenate([s.ref_bpm for s in sessions])
    act = np.concatenate([s.activity for s in sessions])
    const = float(np.mean(ref))
    rows: dict[str, NDArray[np.float64]] = {
        f"constant {const:.1f}": np.full(ref.shape, const)}
    rows.update({m: np.concatenate(v) for m, v in est.items()})
    if args.loso:
        rows["breathform LOSO-tuned"] = np.concatenate(loso_rate(sessions))
    rows["DSP fed the bands"] = np.concatenate([band_rate(s) for s in sessions])
    rows["shirt bands (ref. scale)"] = np.concatenate([s.shirt_bpm for s in sessions])
    rec_s = sum(s.acc_g.shape[0] / s.fs_hz for s in sessions)
    print(f"sessions: {', '.join(s.name for s in sessions)} from {args.data}")
    print("scored seconds: " + ", ".join(
        f"{a} {int((act == i).sum())}" for i, a in enumerate(ACTIVITIES))
        + f", all {len(ref)}")
    for m, sec in secs.items():
        print(f"{m}: {sec:.1f} s for {rec_s / 60:.0f} min of recording")
    hdr = f"{'activity':8} {'method':27} {'MAE':>6} {'median':>6} {'<=2bpm%':>7} " \
          f"{'cover%':>6} {'bias':>6} {'r':>5}"
    print(hdr)
    print("-" * len(hdr))
    groups = [(a, act == i) for i, a in enumerate(ACTIVITIES)] + [("all", act >= 0)]
    for a, sel in groups:
        for m, e in rows.items():
            r = score(e[sel], ref[sel])
            print(f"{a:8} {m:27} {r['mae']:6.2f} {r['med']:6.2f} {r['w2']:7.1f} "
                  f"{r['cov']:6.1f} {r['bias']:+6.2f} {r['r']:5.2f}")
    if args.evidence:
        evidence(sessions)
    if args.per_session:
        print("per session (breathform, all activities):")
        for s, e in zip(sessions, est[bf_rows["acc"]], strict=True):
            r = score(e, s.ref_bpm)
            print(f"  {s.name}: MAE {r['mae']:.2f} cover {r['cov']:.1f}% n {r['n']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
