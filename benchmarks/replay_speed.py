"""How many times faster than real time a two-sensor session replays, next to neurokit2.

Simulates a run (default 60 min, Polar H10 chest ACC 200 Hz + Movesense sacrum IMU6
208 Hz), encodes it into the device packets, writes them to a session file, then times
`breathform replay`'s path: stored packets -> decoders -> DSP -> alert rules (the same
SessionProcessor the live run uses). In the same run it times neurokit2's `rsp_process`
(breathing only: clean, peaks, rate, amplitude) on a signal of the same length and rate
(the simulated chest accelerometer's vertical axis), so the two figures share the
machine's load. Prints seconds, x real time and the ratio, then where the time goes: one
more pass through the decoders alone, and one replay with the main stages timed.

    .venv/bin/python benchmarks/replay_speed.py [--minutes 60] [--seed 1] [--repeat 3]
        [--sacrum-hz 208] [--no-neurokit] [--no-tune] [--batch PACKETS] [--profile N]

Both are timed twice: first with Python's and the C library's default memory settings,
then with the ones the ``breathform`` command sets at start-up (:mod:`breathform.allocator`:
per-batch arrays reuse heap memory instead of fresh pages, and the cycle collector stays
out of each batch), neurokit2 included. Each replay's minor page faults and cycle-collector
passes are printed.

``--profile N`` also runs cProfile over one replay and prints the N functions with the
most own time (what issue 9's "profile and fix" looks at).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import resource
import statistics
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from breathform import __version__
from breathform.allocator import tune_for_batches
from breathform.config import Config, SensorConfig, SensorsConfig, to_toml
from breathform.firmware_bridge.replay import FAST_BATCH, ReplaySource
from breathform.model import RawPacket, SessionInfo
from breathform.processing import SessionProcessor
from breathform.sim.source import SimSource
from breathform.store import SessionReader, SessionWriter


def _replay_once(path: Path, cfg: Config) -> tuple[float, int, int]:
    gc.collect()  # every timed pass starts from the same heap (no collection left over)
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    passes0 = _gc_passes()
    with SessionReader(path) as r:
        source = ReplaySource(r, _BATCH[0])
        t0 = time.perf_counter()
        proc = SessionProcessor(cfg, source.sensors)
        n_metrics = n_alerts = 0
        for batch in source.batches():
            out = proc.feed(batch)
            n_metrics += len(out.metrics)
            n_alerts += len(out.alerts)
        t = time.perf_counter() - t0
    _FAULTS.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0)
    _PASSES.append(_gc_passes() - passes0)
    return t, n_metrics, n_alerts


_BATCH: list[int | None] = [None]
"""Packets per replay batch (None: the command's, replay.FAST_BATCH); set by --batch."""

_FAULTS: list[int] = []
"""Minor page faults of each replay timed so far (the memory touched afresh)."""

_PASSES: list[int] = []
"""Cycle-collector passes (all generations) of each replay timed so far."""


def _gc_passes() -> int:
    return sum(g["collections"] for g in gc.get_stats())


def _decode_once(path: Path) -> tuple[float, float]:
    """Read the store, then the same packets through the device decoders alone.

    Returns:
        Seconds reading the store, seconds decoding (decoders + clock alignment).
    """
    from breathform.firmware_bridge.decode import SensorDecoder

    gc.collect()
    with SessionReader(path) as r:
        t0 = time.perf_counter()
        packets = list(r.iter_raw())
        t1 = time.perf_counter()
        decs = {s.role: SensorDecoder(s.role, s.kind, s.fs_hz) for s in r.info.sensors}
        for i in range(0, len(packets), 512):  # as SessionProcessor decodes a replay batch
            by_sensor: dict[str, list[RawPacket]] = {}
            for p in packets[i:i + 512]:
                by_sensor.setdefault(p.sensor, []).append(p)
            for sensor, pkts in by_sensor.items():
                decs[sensor].feed_many(pkts)
        return t1 - t0, time.perf_counter() - t1


_STAGES = (
    # (label, module, attribute): callables timed (inclusive) in the per-stage pass
    ("decoders + clock alignment", "breathform.firmware_bridge.decode", "SensorDecoder.feed_many"),
    ("regrid", "breathform.signal.regrid", "step"),
    ("gap fill + cadence", "breathform.signal.sensors", "_fill_cadence"),
    ("posture + orientation", "breathform.signal.posture", "frames_step"),
    ("breathing tracker", "breathform.signal.breathing", "frames_step"),
    ("gait detector", "breathform.signal.gait", "frames_step"),
    ("alert rules", "breathform.alerts.engine", "step"),
)


def _stages_once(path: Path, cfg: Config) -> tuple[float, dict[str, float]]:
    """One more replay with the main stages timed (each wrapped: a little overhead).

    Returns:
        The replay's seconds and the seconds inside each stage of ``_STAGES``.
    """
    import importlib

    spent = dict.fromkeys([label for label, _, _ in _STAGES], 0.0)
    undo = []
    for label, mod_name, attr in _STAGES:
        owner: object = importlib.import_module(mod_name)
        *path_, name = attr.split(".")
        for part in path_:
            owner = getattr(owner, part)
        fn = getattr(owner, name)

        def timed(*a: object, _fn: object = fn, _label: str = label, **k: object) -> object:
            t0 = time.perf_counter()
            try:
                return _fn(*a, **k)  # type: ignore[operator]
            finally:
                spent[_label] += time.perf_counter() - t0

        setattr(owner, name, timed)
        undo.append((owner, name, fn))
    try:
        t, _, _ = _replay_once(path, cfg)
    finally:
        for owner, name, fn in undo:
            setattr(owner, name, fn)
    return t, spent


def _neurokit_once(signal: np.ndarray, fs_hz: float) -> float:
    import neurokit2 as nk

    gc.collect()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nk.rsp_process(signal, sampling_rate=int(fs_hz))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each (median)")
    ap.add_argument("--sacrum-hz", type=float, default=208.0, choices=(52.0, 104.0, 208.0))
    ap.add_argument("--no-neurokit", action="store_true", help="skip the neurokit2 row")
    ap.add_argument("--no-tune", action="store_true",
                    help="time only with the default memory settings (skip the second phase)")
    ap.add_argument("--batch", type=int, default=None, metavar="PACKETS",
                    help=f"packets per replay batch (default: the command's, {FAST_BATCH})")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also cProfile one replay and print the top N functions")
    args = ap.parse_args()
    if args.batch is not None and args.batch < 1:
        ap.error(f"--batch must be >= 1, got {args.batch}")
    _BATCH[0] = args.batch
    base = Config()
    cfg = replace(base, sensors=SensorsConfig(
        chest=base.sensors.chest,
        sacrum=SensorConfig(kind="movesense", rate_hz=args.sacrum_hz, range_g=8.0)))
    t0 = time.perf_counter()
    src = SimSource.create(cfg, duration_s=args.minutes * 60, seed=args.seed)
    t_sim = time.perf_counter() - t0
    chest_fs = cfg.sensors.chest.rate_hz
    rsp_signal = np.ascontiguousarray(src.run.chest.acc_g[:, 2], dtype=np.float64)
    dur_s = args.minutes * 60
    print(f"session: {args.minutes:g} min simulated, chest {chest_fs:g} Hz ACC (Polar H10 "
          f"PMD frames) + sacrum {args.sacrum_hz:g} Hz IMU6 (Movesense), "
          f"{len(src.packets)} packets (simulation + encoding took {t_sim:.1f} s)")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.bfsession"
        w = SessionWriter(path, SessionInfo("bench", 0, "sim", __version__, src.sensors),
                          to_toml(cfg))
        w.add_raw(src.packets)
        w.close()
        del src
        # first as a plain Python process allocates, then with the memory settings the
        # breathform command applies (breathform.allocator): neurokit2 runs in the same
        # process, so it gets them too
        phases = [("default memory settings", False)]
        if not args.no_tune:
            phases.append(("memory settings as `breathform` sets them", True))
        for label, tune in phases:
            if tune and not tune_for_batches():
                print("(no glibc mallopt here: only the collector's setting applies)")
            _timed_phase(args, label, path, cfg, rsp_signal, chest_fs, dur_s)
        t_read, t_dec = _decode_once(path)
        print(f"breakdown (one more pass): reading the store {t_read:.2f} s, decoders + "
              f"clock alignment {t_dec:.2f} s")
        t_all, spent = _stages_once(path, cfg)
        print(f"per stage (one more pass, {t_all:.2f} s with timers): " + ", ".join(
            f"{label} {v:.2f} s ({100 * v / t_all:.0f} %)" for label, v in spent.items())
            + f"; the rest {t_all - sum(spent.values()):.2f} s")
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            _replay_once(path, cfg)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(args.profile)
            print(buf.getvalue())


def _timed_phase(args: argparse.Namespace, label: str, path: Path, cfg: Config,
                 rsp_signal: np.ndarray, chest_fs: float, dur_s: float) -> None:
    """Time the replay and neurokit2, interleaved, and print both and their ratio."""
    ours: list[float] = []
    nk: list[float] = []
    n_metrics = n_alerts = 0
    _FAULTS.clear()
    _PASSES.clear()
    for _ in range(args.repeat):  # interleaved: both see the same machine load
        t, n_metrics, n_alerts = _replay_once(path, cfg)
        ours.append(t)
        if not args.no_neurokit:
            nk.append(_neurokit_once(rsp_signal, chest_fs))
    med = statistics.median(ours)
    print(f"[{label}]")
    print(f"  replay (read store + decode + DSP + alerts): median of {args.repeat}: "
          f"{med:.2f} s for {dur_s:.0f} s of data = {dur_s / med:.0f}x real time "
          f"[runs: {', '.join(f'{t:.2f}' for t in ours)} s]; output: {n_metrics} s of "
          f"metrics, {n_alerts} alerts; minor page faults per replay: "
          f"{', '.join(str(n) for n in _FAULTS)}; cycle-collector passes per replay: "
          f"{', '.join(str(n) for n in _PASSES)}")
    if nk:
        nk_med = statistics.median(nk)
        print(f"  neurokit2 {_nk_version()} rsp_process (breathing only) on {dur_s:.0f} s "
              f"of a {chest_fs:g} Hz signal ({rsp_signal.size} samples): median of "
              f"{args.repeat}: {nk_med:.2f} s = {dur_s / nk_med:.0f}x real time "
              f"[runs: {', '.join(f'{t:.2f}' for t in nk)} s]")
        print(f"  ratio: the whole breathform pipeline (2 sensors) takes "
              f"{med / nk_med:.2f}x the time neurokit2 takes for breathing alone "
              f"({'faster' if med < nk_med else 'slower'})")


def _nk_version() -> str:
    import neurokit2 as nk

    return str(nk.__version__)


if __name__ == "__main__":
    main()
