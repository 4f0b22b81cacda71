"""Movesense batches of alike IMU6 packets (one array pass) decode as feed() does.

Batches mix steady runs with what sends them back to the per-packet path: a change of
packet length, a non-finite sample, a command result, a continuation, a clock reset.
"""

from __future__ import annotations

import numpy as np
import pytest
from batch_equal import feed_both_ways

from breathform.firmware_bridge.devices import movesense as M
from breathform.model import RawPacket

FS = 104.0


def _stream(seed: int) -> list[RawPacket]:
    rng = np.random.default_rng(seed)
    out = []
    t_ms = int(rng.integers(0, 2**32))
    n = 8
    for k in range(1200):
        if rng.random() < 0.01:
            n = int(rng.choice([4, 8, 16]))
        if rng.random() < 0.003:
            t_ms = int(rng.integers(0, 2**32))  # reboot
        t_rx = k * 8 / FS + rng.uniform(0.005, 0.05)
        acc, gyr = rng.normal(0, 5, (n, 3)), rng.normal(0, 50, (n, 3))
        r = rng.random()
        if r > 0.996:
            out.append(RawPacket(t_rx, "sacrum", M.NOTIFY_UUID, M.encode_result(1, 200)))
        elif r > 0.992:
            out.append(RawPacket(t_rx, "sacrum", M.NOTIFY_UUID, bytes([3, 1, 0, 0])))
        if rng.random() > 0.01:  # 1 % lost
            data = M.encode_imu6_data(1, t_ms % 2**32, acc, gyr)
            if r < 0.004:  # a non-finite sample (the encoder refuses to write one)
                data = data[:10] + np.float32(np.nan).tobytes() + data[14:]
            out.append(RawPacket(t_rx, "sacrum", M.NOTIFY_UUID, data))
            if rng.random() < 0.003:  # a continuation as long as a data notification
                out.append(RawPacket(t_rx, "sacrum", M.NOTIFY_UUID, bytes([3]) + data[1:]))
        t_ms += round(n * 1000 / FS)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_uniform_batches_equal_single_packets(seed: int) -> None:
    pkts = _stream(seed)
    one, _, _ = feed_both_ways("sacrum", "movesense", FS, pkts, seed, 100, has_gyro=True)
    assert one.n_decode_errors > 0 and one.n_gaps > 0
