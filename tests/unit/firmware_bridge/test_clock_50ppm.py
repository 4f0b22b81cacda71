"""Issue 3's clock target: 50 ppm drift and jittered delivery, within 5 ms after 60 s.

Tests only (clock.py belongs to the reliability work). The stream is a Polar H10 at 200 Hz
(36-sample frames, stamped with the last sample) decoded by SensorDecoder, so the whole
path runs: SDK per-sample times, then the clock fit. Delivery latency is 7.5 ms plus
jitter of up to 5 ms, with occasional retransmission spikes; the known minimum latency is
the only thing compared away (the fit's documented bias).
"""

from __future__ import annotations

import numpy as np
import pytest

from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import polar_h10 as P
from breathform.model import ImuBlock, RawPacket

FS = 200.0
SPF = 36
LAT_MIN_S = 0.0075


def _run(seed: int, drift_ppm: float, dur_s: float, spikes: bool
         ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_frames = int(dur_s * FS) // SPF
    n = n_frames * SPF
    t_true = np.arange(1, n + 1) / FS  # true sample times (session seconds)
    dev0_ns = 780_000_000 * 10**9 + int(rng.integers(0, 10**12))
    dev_ns = dev0_ns + np.rint(t_true * 1e9 * (1 + drift_ppm * 1e-6)).astype(np.int64)
    lat = LAT_MIN_S + rng.uniform(0.0, 0.005, n_frames)  # 5 ms of jitter
    if spikes:
        sp = rng.random(n_frames) < 0.03
        lat[sp] += rng.exponential(0.05, int(sp.sum()))
    mg = rng.integers(-2000, 2000, (n, 3))
    dec = SensorDecoder("chest", "polar_h10", FS)
    t_rx_prev = -np.inf
    out = []
    for k in range(n_frames):
        last = (k + 1) * SPF - 1
        t_rx = max(t_true[last] + lat[k], t_rx_prev)  # BLE delivers in order
        t_rx_prev = t_rx
        frame = P.encode_acc_frame(int(dev_ns[last]), mg[k * SPF:last + 1])
        out += [b for b in dec.feed(RawPacket(t_rx, "chest", P.PMD_DATA_UUID, frame))
                if isinstance(b, ImuBlock)]
    assert dec.n_gaps == 0 and dec.clock_state.n_resets == 0
    return t_true, np.concatenate([b.t_s for b in out])


@pytest.mark.parametrize("drift_ppm", [50.0, -50.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("spikes", [False, True])
def test_50_ppm_drift_with_jitter_is_within_5_ms_after_60_s(drift_ppm, seed, spikes) -> None:
    t_true, t_s = _run(seed, drift_ppm, 90.0, spikes)
    err = t_s - t_true - LAT_MIN_S
    late = t_true >= 60.0
    assert np.max(np.abs(err[late])) < 0.005, (err[late].min(), err[late].max())
    # without a drift fit, 50 ppm alone would be 3 ms off after 60 s and growing: the
    # fit must do better than that by the end
    assert abs(err[-1]) < 0.003, err[-1]
    assert np.all(np.diff(t_s) > 0)
