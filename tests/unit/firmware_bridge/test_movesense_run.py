"""Clean Movesense IMU6 runs (the batch path of SensorDecoder.feed_many) decode as feed does.

Covers the u32 millisecond clock wrapping, lost packets, a reboot (clock reset, which sends
the batch back to the per-packet path) and the first packet of a stream.
"""

from __future__ import annotations

import numpy as np
import pytest
from batch_equal import feed_both_ways

from breathform.firmware_bridge.devices import movesense as M
from breathform.model import RawPacket

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
    one, _, ref = feed_both_ways("sacrum", "movesense", FS, pkts, seed, 200, has_gyro=True)
    assert all(len(a) == 1 for a in ref)
    assert one.clock_state.n_resets >= 1
    assert one.n_gaps > 0
