"""SessionProcessor: any batching of the packets gives the same output, events included.

The stream carries what makes feed() report per packet (lost packets -> gap events,
garbage -> decode errors, a wrong mount -> a calibration warning, packets of a sensor
the session does not have) and long clean stretches (the batch fast path).
"""

from __future__ import annotations

import numpy as np
import pytest

from breathform import profile as prof
from breathform.config import Config
from breathform.model import RawPacket
from breathform.processing import SessionProcessor
from breathform.sim.source import SimSource


def _stream(seed: int) -> tuple[SimSource, list[RawPacket]]:
    src = SimSource.create(Config(), duration_s=90.0, seed=seed)
    rng = np.random.default_rng(seed)
    out: list[RawPacket] = []
    m = len(src.packets)
    for k, p in enumerate(src.packets):
        r = rng.random()
        if 0.2 * m < k < 0.4 * m and r < 0.02:
            continue  # lost: a gap
        if 0.6 * m < k < 0.7 * m and r < 0.1:  # truncated: a decode error
            out.append(RawPacket(p.t_rx_s, p.sensor, p.char,
                                 p.payload[:int(rng.integers(0, 6))]))
        out.append(p)
    return src, out


def _run(src: SimSource, pkts: list[RawPacket], sizes: list[int],
         cal: prof.StoredCalibration | None) -> tuple[object, ...]:
    proc = SessionProcessor(Config(), src.sensors, calibration=cal)
    metrics, alerts, events, strides = [], [], [], []
    blocks = []
    i = 0
    for n in sizes:
        out = proc.feed(pkts[i:i + n])
        i += n
        metrics += out.metrics
        alerts += out.alerts
        events += out.events
        strides += out.strides
        blocks += [(b.sensor, b.seq, b.gap, b.t_s.tobytes(), b.acc_g.tobytes(),
                    None if b.gyr_dps is None else b.gyr_dps.tobytes()) for b in out.blocks]
    assert i >= len(pkts)
    c = proc.counters
    return (repr(metrics), repr(alerts), events, repr(strides), blocks,
            (c.packets, c.decode_errors, c.gaps, sorted(c.samples.items())))


@pytest.mark.parametrize(("seed", "with_cal"), [(0, False), (1, True)])
def test_any_batching_same_output(seed: int, with_cal: bool) -> None:
    src, pkts = _stream(seed)
    # a calibration whose chest vertical is wrong: the mount check warns early on
    cal = (prof.StoredCalibration("r", "x", "sim", prof.SensorCalibration(
        "polar_h10", (1.0, 0.0, 0.0)), prof.SensorCalibration("movesense", (1.0, 0.0, 0.0)))
        if with_cal else None)
    rng = np.random.default_rng(seed)
    ref = _run(src, pkts, [1] * len(pkts), cal)
    events = ref[2]
    assert isinstance(events, list)
    kinds = {k for _, k, _ in events}
    assert {"gap", "decode_error"} <= kinds
    if with_cal:
        assert "calibration_warning" in kinds
    for sizes in ([512] * (len(pkts) // 512 + 1),
                  rng.integers(1, 700, len(pkts)).tolist()):
        got = _run(src, pkts, sizes, cal)
        for a, b in zip(ref, got, strict=True):
            assert a == b
