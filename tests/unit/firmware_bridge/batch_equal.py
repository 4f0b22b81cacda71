"""Shared check of the decoders' batch path: feed_many in random chunks = feed per packet."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
from numpy.testing import assert_array_equal

from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import polar_h10 as P
from breathform.model import HeartRate, ImuBlock, RawPacket

COUNTERS = ("n_gaps", "n_samples_lost", "n_packets", "n_decode_errors", "n_ignored",
            "n_samples")


def feed_both_ways(role: str, kind: str, fs_hz: float, pkts: Sequence[RawPacket], seed: int,
                   max_chunk: int, *, has_gyro: bool
                   ) -> tuple[SensorDecoder, SensorDecoder, list[list[object]]]:
    """Decode ``pkts`` one by one and in random chunks; assert the outputs are identical.

    Returns:
        The two decoders (one by one, in chunks) and the per-packet outputs, for the
        caller's own checks.
    """
    one = SensorDecoder(role, kind, fs_hz)
    many = SensorDecoder(role, kind, fs_hz)
    ref: list[list[object]] = [list(one.feed(p)) for p in pkts]
    rng = np.random.default_rng(seed)
    got = []
    i = 0
    while i < len(pkts):
        chunk = pkts[i:i + int(rng.integers(1, max_chunk))]
        got += many.feed_many(chunk)
        i += len(chunk)
    assert len(got) == len(ref)
    for a, b in zip(ref, got, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            if isinstance(x, HeartRate):
                assert x == y
                continue
            assert isinstance(x, ImuBlock) and isinstance(y, ImuBlock)
            assert (x.seq, x.gap, x.n) == (y.seq, y.gap, y.n)
            assert_array_equal(x.t_s, y.t_s)
            assert_array_equal(x.acc_g, y.acc_g)
            assert x.acc_g.dtype == y.acc_g.dtype == np.float64
            if has_gyro:
                assert_array_equal(x.gyr_dps, y.gyr_dps)
            else:
                assert x.gyr_dps is None and y.gyr_dps is None
    assert repr(one.clock_state) == repr(many.clock_state)
    for attr in COUNTERS:
        assert getattr(one, attr) == getattr(many, attr), attr
    assert one.n_samples == sum(x.n for a in ref for x in a if isinstance(x, ImuBlock))
    return one, many, ref


def polar_start_response(t_rx: float, factor: float) -> RawPacket:
    """A Polar "start ACC" response whose settings carry ``factor``."""
    return RawPacket(t_rx, "chest", P.PMD_CP_UUID, bytes.fromhex("f002020000")
                     + bytes([5, 1]) + struct.pack("<f", factor))


def polar_ecg_frame(t_rx: float, ts: int) -> RawPacket:
    """A short Polar ECG frame (the decoder counts it as ignored)."""
    return RawPacket(t_rx, "chest", P.PMD_DATA_UUID,
                     bytes([0]) + ts.to_bytes(8, "little") + bytes([0, 1, 2, 3]))
