"""Movesense batches of alike IMU6 packets (one array pass) decode as feed() does.

Batches mix steady runs with what sends them back to the per-packet path: a change of
packet length, a non-finite sample, a command result, a continuation, a clock reset.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import movesense as M
from breathform.model import ImuBlock, RawPacket

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
        t_ms += round(n * 1000 / FS)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_uniform_batches_equal_single_packets(seed: int) -> None:
    pkts = _stream(seed)
    one = SensorDecoder("sacrum", "movesense", FS)
    many = SensorDecoder("sacrum", "movesense", FS)
    ref = [one.feed(p) for p in pkts]
    rng = np.random.default_rng(seed)
    got = []
    i = 0
    while i < len(pkts):
        chunk = pkts[i:i + int(rng.integers(1, 100))]
        got += many.feed_many(chunk)
        i += len(chunk)
    assert len(got) == len(ref)
    for a, b in zip(ref, got, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert isinstance(x, ImuBlock) and isinstance(y, ImuBlock)
            assert (x.seq, x.gap, x.n) == (y.seq, y.gap, y.n)
            assert_array_equal(x.t_s, y.t_s)
            assert_array_equal(x.acc_g, y.acc_g)
            assert_array_equal(x.gyr_dps, y.gyr_dps)
    assert repr(one.clock_state) == repr(many.clock_state)
    for attr in ("n_gaps", "n_samples_lost", "n_packets", "n_decode_errors", "n_ignored"):
        assert getattr(one, attr) == getattr(many, attr), attr
    assert one.n_decode_errors > 0 and one.n_gaps > 0
