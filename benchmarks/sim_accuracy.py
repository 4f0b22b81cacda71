"""Accuracy (and speed) of breathform.signal on the simulator's flat run.

Runs ``breathform.sim`` (flat variant, random sensor mountings) for a few seeds through
the fused pipeline and compares with the simulator's ground truth over steady running
(from one minute after running starts). By default the honest path is used: simulated BLE
packets (loss, latency, clock drift) -> SensorDecoder -> pipeline, fed in 1-s batches of
receive time; ``--path samples`` feeds the true samples directly instead.

    .venv/bin/python benchmarks/sim_accuracy.py --seeds 1 2 3 --duration 900

Reference values: rate and cadence are compared with rates from the simulated event times
(breath onsets, foot strikes) over a trailing window (10 s for breathing, 6 s for steps),
since the per-second truth counts (events in the second x 60) are quantised. Tilt and lean
"change" errors remove each series' mean over the first 60 s of the evaluated stretch, i.e.
they measure changes relative to the runner's own early-run baseline, which is what alerts
use; the absolute errors (bias included) are printed too.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from breathform.model import HeartRate, ImuBlock, Metrics
from breathform.signal import pipeline as pl
from breathform.sim import PHASE_RUN, SimParams, SimRun, simulate_run


def _blocks_from_samples(run: SimRun, batch_s: float = 1.0
                         ) -> list[tuple[list[ImuBlock], list[HeartRate]]]:
    out = []
    n_batches = int(np.ceil(run.params.duration_s / batch_s))
    hrs = run.heart_rates()
    hr_t = np.array([h.t_s for h in hrs])
    for sensor, imu in (("chest", run.chest), ("sacrum", run.sacrum)):
        bounds = np.searchsorted(imu.t_s, np.arange(n_batches + 1) * batch_s, side="right")
        for i in range(n_batches):
            a, b = int(bounds[i]), int(bounds[i + 1])
            if len(out) <= i:
                hb = np.flatnonzero((hr_t > i * batch_s) & (hr_t <= (i + 1) * batch_s))
                out.append(([], [hrs[j] for j in hb]))
            if b > a:
                out[i][0].append(ImuBlock(
                    sensor, imu.fs_hz, a, imu.t_s[a:b], imu.acc_g[a:b],
                    None if sensor == "chest" else imu.gyr_dps[a:b]))
    return out


def _blocks_from_packets(run: SimRun, seed: int, batch_s: float = 1.0
                         ) -> list[tuple[list[ImuBlock], list[HeartRate]]]:
    from breathform.firmware_bridge.decode import SensorDecoder
    from breathform.sim.emit import EmitParams, emit_packets

    c, s = run.chest, run.sacrum
    pkts = emit_packets(EmitParams(seed=seed, chest_fs_hz=c.fs_hz, sacrum_fs_hz=s.fs_hz),
                        c.t_s, c.acc_g, s.t_s, s.acc_g, s.gyr_dps,
                        run.hr_t_s, run.hr_bpm, run.rr_ms)
    dec = {"chest": SensorDecoder("chest", "polar_h10", c.fs_hz),
           "sacrum": SensorDecoder("sacrum", "movesense", s.fs_hz)}
    out: list[tuple[list[ImuBlock], list[HeartRate]]] = []
    cur: tuple[list[ImuBlock], list[HeartRate]] = ([], [])
    edge = batch_s
    for pk in pkts:
        while pk.t_rx_s > edge:
            out.append(cur)
            cur = ([], [])
            edge += batch_s
        for item in dec[pk.sensor].feed(pk):
            if isinstance(item, ImuBlock):
                if pk.sensor == "chest" and item.gyr_dps is not None:
                    item = ImuBlock(item.sensor, item.fs_hz, item.seq, item.t_s, item.acc_g,
                                    None, item.gap)
                cur[0].append(item)
            else:
                cur[1].append(item)
    out.append(cur)
    return out


def _event_rate(ev_t: np.ndarray, k: np.ndarray, win_s: float) -> np.ndarray:
    out = np.full(k.shape, np.nan)
    for i, kk in enumerate(k):
        e = ev_t[(ev_t > kk - win_s) & (ev_t <= kk)]
        if e.size >= 3:
            out[i] = 60.0 * (e.size - 1) / (e[-1] - e[0])
    return out


def evaluate(run: SimRun, metrics: list[Metrics]) -> dict[str, float]:
    tr = run.truth
    by_k = {int(m.t_s): m for m in metrics}
    run_start = float(np.argmax(tr.phase == PHASE_RUN))
    ks = np.array([k for k in range(int(run_start) + 60, tr.n + 1)
                   if tr.phase[k - 1] == PHASE_RUN])

    def col(name: str) -> np.ndarray:
        return np.array([getattr(by_k[k], name) if k in by_k else np.nan for k in ks])

    rate = col("rate_bpm")
    ref_rate = _event_rate(run.breath_t_s, ks, 10.0)
    cad = col("cadence_spm")
    ref_cad = _event_rate(run.step_t_s, ks, 6.0)
    res: dict[str, float] = {"n_s": float(ks.size)}
    e_rate = np.abs(rate - ref_rate)
    res["rate_within2"] = float(np.mean(np.nan_to_num(e_rate, nan=np.inf) <= 2.0))
    # Also against the simulator's per-second instantaneous rate (60 / current breath
    # duration): stricter, since single breaths vary.
    e_inst = np.abs(rate - tr.rate_bpm[ks - 1])
    res["rate_within2_inst"] = float(np.mean(np.nan_to_num(e_inst, nan=np.inf) <= 2.0))
    res["rate_abstain"] = float(np.mean(np.isnan(rate)))
    res["rate_mae"] = float(np.nanmean(e_rate))
    e_cad = np.abs(cad - ref_cad)
    res["cad_within2"] = float(np.mean(np.nan_to_num(e_cad, nan=np.inf) <= 2.0))
    res["cad_mae"] = float(np.nanmean(e_cad))
    for name, key in (("pelvic_tilt_deg", "tilt"), ("trunk_lean_deg", "lean")):
        est = col(name)
        truth = tr.__getattribute__(name)[ks - 1]
        base = slice(0, 60)
        d = (est - np.nanmean(est[base])) - (truth - np.nanmean(truth[base]))
        res[f"{key}_bias"] = float(np.nanmean(est - truth))
        res[f"{key}_chg_p95"] = float(np.nanpercentile(np.abs(d), 95))
        res[f"{key}_chg_within1.5"] = float(np.mean(np.nan_to_num(np.abs(d), nan=np.inf)
                                                    <= 1.5))
    depth = col("depth_rel")
    dtruth = np.convolve(tr.depth_rel, np.ones(10) / 10, mode="full")[: tr.n][ks - 1]
    rel = depth / dtruth - 1.0
    res["depth_med_relerr"] = float(np.nanmedian(np.abs(rel)))
    res["depth_bias"] = float(np.nanmedian(rel))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--duration", type=int, default=900, help="session length, s")
    ap.add_argument("--path", choices=("packets", "samples"), default="packets")
    ap.add_argument("--hilly", action="store_true",
                    help="score the hilly route instead (climbs included; not a target)")
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        make = SimParams.hilly if args.hilly else SimParams.flat
        run = simulate_run(make(seed=seed, duration_s=args.duration, mount="random"))
        batches = (_blocks_from_packets(run, seed) if args.path == "packets"
                   else _blocks_from_samples(run))
        p = pl.PipelineParams(chest_fs_hz=run.chest.fs_hz, sacrum_fs_hz=run.sacrum.fs_hz)
        s = pl.init_state(p)
        out: list[Metrics] = []
        t0 = time.perf_counter()
        for blocks, hr in batches:
            m, s = pl.step(p, s, blocks, hr)
            out.extend(m)
        m, s = pl.finish(p, s)
        out.extend(m)
        dt = time.perf_counter() - t0
        res = evaluate(run, out)
        res["x_realtime"] = args.duration / dt
        rows.append((seed, res))

    cols = [("rate_within2", "rate<=2bpm", "{:.1%}"),
            ("rate_within2_inst", "(vs 1-s truth)", "{:.1%}"),
            ("rate_abstain", "abstain", "{:.1%}"),
            ("rate_mae", "rate MAE", "{:.2f}"), ("cad_within2", "cad<=2spm", "{:.1%}"),
            ("cad_mae", "cad MAE", "{:.2f}"), ("tilt_chg_within1.5", "tilt chg<=1.5", "{:.1%}"),
            ("tilt_chg_p95", "tilt chg p95", "{:.2f}"), ("tilt_bias", "tilt bias", "{:+.2f}"),
            ("lean_chg_within1.5", "lean chg<=1.5", "{:.1%}"),
            ("lean_chg_p95", "lean chg p95", "{:.2f}"), ("lean_bias", "lean bias", "{:+.2f}"),
            ("depth_med_relerr", "depth |rel err|", "{:.1%}"),
            ("depth_bias", "depth bias", "{:+.1%}"), ("x_realtime", "x realtime", "{:.0f}")]
    route = "hilly" if args.hilly else "flat"
    print(f"{route} sim, {args.duration} s, path={args.path}, steady running from 60 s after "
          f"run start (n = seconds evaluated)")
    head = ["seed", "n"] + [c[1] for c in cols]
    widths = [max(len(h), 8) for h in head]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for seed, res in rows:
        vals = [str(seed), f"{res['n_s']:.0f}"] + [f.format(res[k]) for k, _, f in cols]
        print("  ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True)))
    agg = {k: float(np.mean([r[k] for _, r in rows])) for k, _, _ in cols}
    vals = ["mean", f"{sum(r['n_s'] for _, r in rows):.0f}"] + [
        f.format(agg[k]) for k, _, f in cols]
    print("  ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True)))
    print("targets: rate<=2bpm >= 90%, tilt change within 1.5 deg, cadence within 2 spm")


if __name__ == "__main__":
    main()
