from __future__ import annotations

import ast
import dataclasses
import math
import pathlib
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signal_synth import Synth, make_run, random_mount, rot_z

import breathform.signal as bsig
from breathform.model import HeartRate, ImuBlock, Metrics
from breathform.signal import breathing, cadence, pipeline, posture, regrid, sensors
from breathform.signal._state import state_from_dict

FS = 50.0


@lru_cache(maxsize=4)
def synth(seed: int = 3) -> Synth:
    rng = np.random.default_rng(seed)
    return make_run(fs_hz=FS, duration_s=100.0, mount_chest=random_mount(rng),
                    mount_sacrum=random_mount(rng), seed=seed)


def blocks(sensor: str, t, acc, gyr, cuts, fs=FS, seq0=0) -> list[ImuBlock]:
    edges = [0, *sorted(cuts), len(t)]
    return [ImuBlock(sensor, fs, seq0 + a, t[a:b], acc[a:b], None if gyr is None else gyr[a:b])
            for a, b in zip(edges[:-1], edges[1:], strict=True)]


def rows_array(rows) -> np.ndarray:
    out = []
    for r in rows:
        d = dataclasses.asdict(r)
        out.append([float(v) for v in d.values() if isinstance(v, (int, float, bool))])
    return np.array(out)


def onsets(rows) -> list[float]:
    return [o for r in rows for o in r.onsets_s]


cuts_st = st.lists(st.integers(0, 5000), max_size=12)


# ---------------------------------------------------------------- chunk invariance


@given(cuts=cuts_st)
def test_regrid_chunk_invariance(cuts):
    s = synth()
    p = regrid.RegridParams(FS, has_gyro=True)
    ref = regrid.run_batch(p, blocks("sacrum", s.t_s, s.sacrum_acc_g, s.sacrum_gyr_dps, []))
    st_ = regrid.init_state(p)
    parts = []
    for b in blocks("sacrum", s.t_s, s.sacrum_acc_g, s.sacrum_gyr_dps, cuts):
        x, st_ = regrid.step(p, st_, [b])
        parts.append(x)
    got = regrid.concat_samples(parts, True)
    for f in ("t_s", "acc_g", "gyr_dps", "idx", "filled", "reset"):
        np.testing.assert_array_equal(getattr(got, f), getattr(ref, f))


def _samples_chunks(t, acc, gyr, cuts):
    edges = [0, *sorted(cuts), len(t)]
    full = regrid.samples_from_arrays(t, acc, gyr)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        yield regrid.Samples(full.t_s[a:b], full.acc_g[a:b],
                             None if gyr is None else full.gyr_dps[a:b], full.idx[a:b],
                             full.filled[a:b], full.reset[a:b])


@pytest.mark.parametrize("mod,params", [
    (posture, posture.PostureParams(FS)),
    (cadence, cadence.CadenceParams(FS)),
])
@given(cuts=cuts_st)
def test_posture_cadence_chunk_invariance(mod, params, cuts):
    s = synth()
    ref = mod.run_batch(params, regrid.samples_from_arrays(s.t_s, s.chest_acc_g, None))
    state = mod.init_state(params)
    got = []
    for x in _samples_chunks(s.t_s, s.chest_acc_g, None, cuts):
        rows, state = mod.step(params, state, x)
        got += rows
    assert len(ref) == 99
    np.testing.assert_array_equal(rows_array(got), rows_array(ref))


@given(cuts=cuts_st)
def test_chest_chunk_invariance(cuts):
    s = synth()
    p = sensors.ChestParams(FS)
    ref = sensors.run_chest_batch(p, blocks("chest", s.t_s, s.chest_acc_g, None, []))
    state = sensors.init_chest(p)
    got = []
    for b in blocks("chest", s.t_s, s.chest_acc_g, None, cuts):
        rows, state = sensors.chest_step(p, state, [b])
        got += rows
    np.testing.assert_array_equal(rows_array(got), rows_array(ref))
    assert onsets(got) == onsets(ref)
    assert np.isfinite(ref[-1].rate_bpm) and np.isfinite(ref[-1].trunk_lean_deg)


@given(cuts=cuts_st)
def test_sacrum_chunk_invariance(cuts):
    s = synth()
    p = sensors.SacrumParams(FS)
    ref = sensors.run_sacrum_batch(
        p, blocks("sacrum", s.t_s, s.sacrum_acc_g, s.sacrum_gyr_dps, []))
    state = sensors.init_sacrum(p)
    got = []
    for b in blocks("sacrum", s.t_s, s.sacrum_acc_g, s.sacrum_gyr_dps, cuts):
        rows, state = sensors.sacrum_step(p, state, [b])
        got += rows
    np.testing.assert_array_equal(rows_array(got), rows_array(ref))
    assert np.isfinite(ref[-1].pelvic_tilt_deg)


def _breath_frames():
    s = synth()
    p = sensors.ChestParams(FS)
    x = regrid.samples_from_arrays(s.t_s, s.chest_acc_g, None)
    from breathform.signal import frames as fr
    frs, _ = fr.push(fr.init_framer(), x, False)
    return [breathing.BreathFrame(f, np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]),
                                  np.nan, False) for f in frs], p


@given(cut=st.integers(0, 99))
def test_breathing_frames_chunk_invariance(cut):
    frs, _ = _breath_frames()
    bp = breathing.BreathParams(FS)
    ref = breathing.run_batch(bp, frs)
    a, s1 = breathing.step(bp, breathing.init_state(bp), frs[:cut])
    b, _ = breathing.step(bp, s1, frs[cut:])
    np.testing.assert_array_equal(rows_array(a + b), rows_array(ref))


def _pipeline_batches(s: Synth, chest_cuts, sacrum_cuts, stop_sacrum_s=None):
    cb = blocks("chest", s.t_s, s.chest_acc_g, None, chest_cuts)
    sa_t = s.t_s if stop_sacrum_s is None else s.t_s[s.t_s <= stop_sacrum_s]
    n = len(sa_t)
    sb = blocks("sacrum", sa_t, s.sacrum_acc_g[:n], s.sacrum_gyr_dps[:n],
                [c for c in sacrum_cuts if c <= n])
    allb = [b for b in cb + sb if b.n]
    allb.sort(key=lambda b: (float(b.t_s[-1]), b.sensor))
    return allb


@settings(max_examples=15)
@given(chest_cuts=cuts_st, sacrum_cuts=cuts_st,
       call_sizes=st.lists(st.integers(0, 6), min_size=1, max_size=8))
def test_pipeline_chunk_and_interleave_invariance(chest_cuts, sacrum_cuts, call_sizes):
    # Invariance holds while no call leaves one sensor > max_lag_s behind the other:
    # blocks of at most 1 s (like BLE notifications), fed in receive order.
    every_s = list(range(0, 5000, 50))
    chest_cuts = chest_cuts + every_s
    sacrum_cuts = sacrum_cuts + every_s
    s = synth()
    p = pipeline.PipelineParams(chest_fs_hz=FS, sacrum_fs_hz=FS)
    hr = [HeartRate(float(k), 120.0 + k) for k in range(1, 100)]
    ref_blocks = _pipeline_batches(s, [], [])
    ref, rs = pipeline.step(p, pipeline.init_state(p), ref_blocks, hr)
    fin, _ = pipeline.finish(p, rs)
    ref = ref + fin
    allb = _pipeline_batches(s, chest_cuts, sacrum_cuts)
    state = pipeline.init_state(p)
    got: list[Metrics] = []
    i = j = 0
    c = 0
    while i < len(allb):
        n = call_sizes[c % len(call_sizes)]
        if n == 0 and c % len(call_sizes) == len(call_sizes) - 1:
            n = 1  # an empty call per round at most, then progress
        c += 1
        chunk = allb[i:i + n]
        i += n
        t_hi = max((float(b.t_s[-1]) for b in chunk), default=-1.0)
        h = [x for x in hr[j:] if x.t_s <= t_hi]
        j += len(h)
        m, state = pipeline.step(p, state, chunk, h)
        got += m
    m, state = pipeline.step(p, state, [], hr[j:])
    got += m
    m, _ = pipeline.finish(p, state)
    got += m
    assert len(ref) == 99
    np.testing.assert_array_equal(rows_array(got), rows_array(ref))
    assert ref[-1].hr_bpm == 120.0 + 98  # received by k - HR_LAG_S (1 s)
    assert math.isfinite(ref[-1].lumbar_deg)


# ---------------------------------------------------------------- snapshot / resume


@pytest.mark.parametrize("cut", [0, 1, 2345, 4444])
def test_pipeline_snapshot_resume(cut):
    s = synth()
    p = pipeline.PipelineParams(chest_fs_hz=FS, sacrum_fs_hz=FS)
    cb = blocks("chest", s.t_s, s.chest_acc_g, None, [cut])
    sb = blocks("sacrum", s.t_s, s.sacrum_acc_g, s.sacrum_gyr_dps, [cut])
    ref = pipeline.run_batch(p, cb + sb)
    a, st1 = pipeline.step(p, pipeline.init_state(p), [cb[0], sb[0]])
    snap = dataclasses.asdict(st1)
    st2 = state_from_dict(pipeline.PipelineState, snap)
    b, _ = pipeline.step(p, st2, [cb[1], sb[1]])
    np.testing.assert_array_equal(rows_array(a + b), rows_array(ref))


def test_state_asdict_round_trip_every_processor():
    s = synth()
    x = regrid.samples_from_arrays(s.t_s[:3000], s.chest_acc_g[:3000], None)
    for mod, params in ((posture, posture.PostureParams(FS)),
                        (cadence, cadence.CadenceParams(FS))):
        _, state = mod.step(params, mod.init_state(params), x)
        back = state_from_dict(type(state), dataclasses.asdict(state))
        y = regrid.samples_from_arrays(s.t_s[3000:], s.chest_acc_g[3000:], None)
        y = dataclasses.replace(y, idx=y.idx + 3000)
        np.testing.assert_array_equal(rows_array(mod.step(params, state, y)[0]),
                                      rows_array(mod.step(params, back, y)[0]))


# ---------------------------------------------------------------- edge cases


def test_empty_and_one_sample_chunks():
    s = synth()
    p = pipeline.PipelineParams(chest_fs_hz=FS, sacrum_fs_hz=FS)
    state = pipeline.init_state(p)
    out, state = pipeline.step(p, state, [])
    assert out == []
    cb = blocks("chest", s.t_s[:300], s.chest_acc_g[:300], None, list(range(300)))
    sb = blocks("sacrum", s.t_s[:300], s.sacrum_acc_g[:300], s.sacrum_gyr_dps[:300],
                list(range(300)))
    got = []
    for c, b in zip(cb, sb, strict=True):
        m, state = pipeline.step(p, state, [c, b])
        got += m
    ref = pipeline.run_batch(p, blocks("chest", s.t_s[:300], s.chest_acc_g[:300], None, [])
                             + blocks("sacrum", s.t_s[:300], s.sacrum_acc_g[:300],
                                      s.sacrum_gyr_dps[:300], []))
    assert len(got) == 5
    np.testing.assert_array_equal(rows_array(got), rows_array(ref))
    for mod, params in ((posture, posture.PostureParams(FS)),
                        (cadence, cadence.CadenceParams(FS))):
        rows, _ = mod.step(params, mod.init_state(params), regrid.empty_samples(False))
        assert rows == []


def test_regrid_short_gap_filled_and_flagged_long_gap_resets():
    t = np.arange(1, 401) / FS
    acc = np.tile([0.0, 0.0, 1.0], (400, 1))
    p = regrid.RegridParams(FS)
    b1 = ImuBlock("chest", FS, 0, t[:100], acc[:100], None)
    b2 = ImuBlock("chest", FS, 110, t[110:200], acc[110:200], None, gap=True)  # 0.2 s
    b3 = ImuBlock("chest", FS, 300, t[300:], acc[300:], None, gap=True)  # 2 s
    x, s = regrid.step(p, regrid.init_state(p), [b1, b2, b3])
    assert x.n == 300
    assert x.filled.sum() == 10 and x.filled[100:110].all()
    np.testing.assert_array_equal(x.acc_g[100:110], np.tile(acc[99], (10, 1)))
    assert x.reset.sum() == 1 and x.reset[200]
    assert s.n_filled == 10 and s.n_long_gaps == 1
    assert np.all(np.diff(x.t_s) > 0)


def test_dead_sensor_does_not_stall_output():
    s = synth()
    p = pipeline.PipelineParams(chest_fs_hz=FS, sacrum_fs_hz=FS)
    allb = _pipeline_batches(s, list(range(0, 5000, 25)), list(range(0, 5000, 25)),
                             stop_sacrum_s=60.0)
    state = pipeline.init_state(p)
    out = []
    for b in allb:
        m, state = pipeline.step(p, state, [b])
        out += m
    assert out[-1].t_s >= 98 - p.max_lag_s
    assert math.isnan(out[-1].pelvic_tilt_deg)
    assert math.isfinite(out[-1].rate_bpm)


# ---------------------------------------------------------------- accuracy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_accuracy_random_mounting(seed):
    rng = np.random.default_rng(100 + seed)
    syn = make_run(fs_hz=100.0, duration_s=150.0, mount_chest=random_mount(rng),
                   mount_sacrum=random_mount(rng), run_bpm=36.0 + 4 * seed,
                   cadence_spm=160.0 + 8 * seed, pelvic_tilt_deg=3.0 + seed, seed=seed)
    ch = sensors.analyze_chest(syn.t_s, syn.chest_acc_g, None, 100.0)
    sa = sensors.analyze_sacrum(syn.t_s, syn.sacrum_acc_g, syn.sacrum_gyr_dps, 100.0)
    late = slice(110, 149)
    rate = np.array([m.rate_bpm for m in ch])[late]
    assert np.all(np.abs(rate - (36.0 + 4 * seed)) < 1.0)
    cad = np.array([m.cadence_spm for m in sa])[late]
    assert np.all(np.abs(cad - (160.0 + 8 * seed)) < 1.0)
    tilt = np.array([m.pelvic_tilt_deg for m in sa])[late]
    truth = syn.pelvis_pitch_deg.reshape(-1, 100).mean(axis=1)[late]
    assert np.all(np.abs(tilt - truth) < 1.5)
    lean = np.array([m.trunk_lean_deg for m in ch])[late]
    truth = syn.trunk_pitch_deg.reshape(-1, 100).mean(axis=1)[late]
    # acc-only gravity is biased by pitch oscillations correlated with the impacts
    assert abs(float(np.mean(lean - truth))) < 1.5
    assert np.all(np.abs(lean - truth) < 2.0)
    rest = np.array([m.rate_bpm for m in ch])[30:44]
    assert np.all(np.abs(rest - 14.0) < 1.0)
    depth = np.array([m.depth_rel for m in ch])[late]
    assert np.all(np.abs(depth - 2.0) < 0.5)


def test_rate_is_yaw_invariant():
    rng = np.random.default_rng(7)
    mount = random_mount(rng)
    rates = []
    for yaw_deg in (0.0, 70.0, 200.0):
        syn = make_run(fs_hz=100.0, duration_s=130.0,
                       mount_chest=mount @ rot_z(np.radians(yaw_deg)), seed=5)
        ch = sensors.analyze_chest(syn.t_s, syn.chest_acc_g, None, 100.0)
        rates.append(np.array([m.rate_bpm for m in ch])[100:])
    for r in rates[1:]:
        np.testing.assert_allclose(r, rates[0], atol=0.3)
    assert np.all(np.abs(rates[0] - 40.0) < 1.0)


def test_stored_calibration_is_used():
    syn = make_run(fs_hz=100.0, duration_s=60.0, run_start_s=15.0)
    cal = posture.SegmentCalibration((0.0, 0.0, 1.0), (1.0, 0.0, 0.0))
    sa = sensors.analyze_sacrum(syn.t_s, syn.sacrum_acc_g, None, 100.0, calibration=cal)
    assert not sa[20].warming_up
    tilt = np.array([m.pelvic_tilt_deg for m in sa])[25:]
    assert np.all(np.abs(tilt - 4.0) < 1.5)


# ---------------------------------------------------------------- purity


def test_signal_imports_no_io():
    banned = {"asyncio", "sqlite3", "bleak", "aiomqtt", "socket", "influxdb_client",
              "threading", "subprocess", "bumble"}
    root = pathlib.Path(bsig.__file__).parent
    files = list(root.glob("*.py"))
    assert len(files) >= 8
    for f in files:
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in banned, f"{f.name} imports {n}"
                if n.startswith("breathform."):
                    assert n.split(".")[1] in {"signal", "model", "errors", "units"}, n
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
                raise AssertionError(f"{f.name} calls open()")


def test_signal_imports_with_io_modules_blocked():
    import subprocess
    import sys
    code = (
        "import sys\n"
        "for m in ('asyncio', 'sqlite3', 'bleak', 'aiomqtt'):\n"
        "    sys.modules[m] = None\n"
        "import breathform.signal.pipeline, breathform.signal.sensors\n"
        "import breathform.signal.breathing, breathform.signal.posture\n"
        "import breathform.signal.cadence, breathform.signal.regrid\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd="/", timeout=120)
    assert r.returncode == 0, r.stderr
