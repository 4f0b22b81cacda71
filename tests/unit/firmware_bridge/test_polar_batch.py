"""Polar ACC frames converted per batch (device times, g, start-response factor) decode as
feed() does: raw and delta frames of varying length, lost frames, a clock reset, start
responses changing the factor mid-batch, ECG frames and heart rate on the way."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from batch_equal import feed_both_ways, polar_ecg_frame, polar_start_response

from breathform.firmware_bridge.devices import polar_h10 as P
from breathform.model import RawPacket

FS = 200.0


def _stream(seed: int) -> list[RawPacket]:
    rng = np.random.default_rng(seed)
    out = []
    ts = 7 * 10**17
    t_rx = 0.0
    for k in range(700):
        n = int(rng.choice([36, 36, 36, 20, 71]))
        ts += round(n * 1e9 / FS)
        t_rx += n / FS
        if k == 350:
            ts = 10**17  # the strap restarted its clock
        r = rng.random()
        if r < 0.01:
            out.append(polar_start_response(t_rx, float(rng.choice([0.25, 1.0, 2.0]))))
        elif r < 0.02:
            out.append(polar_ecg_frame(t_rx, ts))
        if rng.random() < 0.02:
            continue  # lost
        mg = rng.integers(-2000, 2000, (n, 3))
        frame = (P.encode_delta_acc_frame(ts, mg) if rng.random() < 0.3
                 else P.encode_acc_frame(ts, mg))
        out.append(RawPacket(t_rx + rng.uniform(0.005, 0.05), "chest", P.PMD_DATA_UUID, frame))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_polar_batches_equal_single_packets(seed: int) -> None:
    pkts = _stream(seed)
    one, many, _ = feed_both_ways("chest", "polar_h10", FS, pkts, seed, 150, has_gyro=False)
    factors = set()
    for p in pkts:
        if p.char == P.PMD_CP_UUID:
            factors.add(struct.unpack("<f", p.payload[-4:])[0])
    assert len(factors) >= 2
    assert one.acc_factor == many.acc_factor
    assert one.n_gaps > 0 and one.clock_state.n_resets >= 1 and one.n_ignored > 0
