"""Clean Movesense IMU6 runs (the batch path of SensorDecoder.feed_many) decode as feed does.

Covers the u32 millisecond clock wrapping, lost packets, a reboot (clock reset, which sends
the batch back to the per-packet path) and the first packet of a stream.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import movesense as M
from breathform.model import ImuBlock, RawPacket

FS = 208.0


def _stream(seed: int) -> list[RawPacket]:
    rng = np.random.default_rng(seed)
    out = []
    t_ms = 2**32 - 3_000  # wraps after a few seconds
    for k in range(900):
        n = 8
        if k == 450 or rng.random() < 0.005:
            t_ms = int(rng.integers(0, 2**31))  # reboot
        if rng.random() > 0.02:  # 2 % lost
            out.append(RawPacket(k * n / FS + rng.uniform(0.005, 0.05), "sacrum",
                                 M.NOTIFY_UUID,
                                 M.encode_imu6_data(1, t_ms % 2**32,
                                                    rng.normal(0, 5, (n, 3)),
                                                    rng.normal(0, 50, (n, 3)))))
        t_ms += round(n * 1000 / FS)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_movesense_batches_equal_single_packets(seed: int) -> None:
    pkts = _stream(seed)
    one = SensorDecoder("sacrum", "movesense", FS)
    many = SensorDecoder("sacrum", "movesense", FS)
    ref = [one.feed(p) for p in pkts]
    rng = np.random.default_rng(seed)
    got = []
    i = 0
    while i < len(pkts):
        chunk = pkts[i:i + int(rng.integers(1, 200))]
        got += many.feed_many(chunk)
        i += len(chunk)
    assert len(got) == len(ref)
    for a, b in zip(ref, got, strict=True):
        assert len(a) == len(b) == 1
        x, y = a[0], b[0]
        assert isinstance(x, ImuBlock) and isinstance(y, ImuBlock)
        assert (x.seq, x.gap) == (y.seq, y.gap)
        assert_array_equal(x.t_s, y.t_s)
        assert_array_equal(x.acc_g, y.acc_g)
        assert_array_equal(x.gyr_dps, y.gyr_dps)
    assert repr(one.clock_state) == repr(many.clock_state)
    assert (one.n_gaps, one.n_samples_lost, one.n_packets) == (
        many.n_gaps, many.n_samples_lost, many.n_packets)
    assert one.clock_state.n_resets >= 1
    assert one.n_gaps > 0
