"""Simulated IMU samples -> the BLE notifications real devices send.

The demo and the tests run simulated sessions through the same decoders as live data: the
chest sensor is a Polar H10 (PMD ACC frames of int16 mG, u64 ns timestamps on its own drifting
clock, plus Heart Rate Measurement notifications), the sacrum sensor a Movesense (IMU6
float32 m/s^2 and deg/s, u32 ms since boot). Each packet arrives at the true time of its last
sample plus a random BLE latency (in order per sensor, as BLE delivers); lost packets are not
emitted. Everything is drawn from ``EmitParams.seed`` (``np.random.default_rng``, no global
seeding), so the same inputs give the same packets.

The first packet of each IMU stream is never dropped, so a decoder's ``seq`` equals the index
of the sample in the simulator's arrays.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from breathform import units
from breathform.errors import InputError
from breathform.firmware_bridge.devices import movesense, polar_h10
from breathform.model import RawPacket

_S_2019_SINCE_2000 = 599_616_000  # 2019-01-01, where an H10 clock restarts
_S_2023_SINCE_2000 = 725_846_400
_S_2026_SINCE_2000 = 820_540_800

_CHEST, _SACRUM = 0, 1
_KIND_PMD, _KIND_HR, _KIND_IMU6 = 0, 1, 2


@dataclass(frozen=True, slots=True)
class EmitParams:
    """How the simulated sensors packetise, lose and delay their data.

    Attributes:
        seed: Seed of every random draw here.
        chest_fs_hz: Polar H10 ACC sample rate.
        sacrum_fs_hz: Movesense IMU6 sample rate.
        polar_samples_per_frame: ACC samples per PMD frame (36 at 200 Hz on an H10).
        movesense_samples_per_packet: IMU6 samples per notification.
        movesense_ref: Subscription reference byte of the IMU6 stream.
        polar_range_g: H10 ACC full scale; samples saturate there.
        loss_prob: Probability that a notification is lost.
        latency_min_s: Smallest BLE latency.
        latency_max_s: Largest usual BLE latency (uniform between min and max).
        latency_spike_prob: Probability of an extra delay (retransmissions).
        latency_spike_mean_s: Mean of that extra delay (exponential).
        max_drift_ppm: Device clock drifts are drawn uniformly in +-this.
        polar_drift_ppm: Fixed Polar clock drift instead of a drawn one.
        movesense_drift_ppm: Fixed Movesense clock drift instead of a drawn one.
        polar_start_ns: Polar device time at session time 0 (ns since 2000-01-01),
            instead of a drawn one.
        movesense_start_ms: Movesense device time at session time 0 (ms since boot),
            instead of a drawn one.
        chunk_packets: Packets encoded at a time by :func:`iter_packets`.
    """

    seed: int
    chest_fs_hz: float = 200.0
    sacrum_fs_hz: float = 104.0
    polar_samples_per_frame: int = 36
    movesense_samples_per_packet: int = 8
    movesense_ref: int = 99
    polar_range_g: float = 8.0
    loss_prob: float = 0.002
    latency_min_s: float = 0.005
    latency_max_s: float = 0.06
    latency_spike_prob: float = 0.005
    latency_spike_mean_s: float = 0.15
    max_drift_ppm: float = 100.0
    polar_drift_ppm: float | None = None
    movesense_drift_ppm: float | None = None
    polar_start_ns: int | None = None
    movesense_start_ms: int | None = None
    chunk_packets: int = 4096

    def __post_init__(self) -> None:
        for name in ("chest_fs_hz", "sacrum_fs_hz", "polar_range_g"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"{name} must be finite and > 0, got {v}")
        if not 1 <= self.polar_samples_per_frame <= 255:
            raise InputError(f"polar_samples_per_frame must be in 1..255, got "
                             f"{self.polar_samples_per_frame}")
        if not 1 <= self.movesense_samples_per_packet <= 40:
            raise InputError(f"movesense_samples_per_packet must be in 1..40, got "
                             f"{self.movesense_samples_per_packet}")
        if not 1 <= self.movesense_ref <= 255:
            raise InputError(f"movesense_ref must be in 1..255, got {self.movesense_ref}")
        if not 0 <= self.loss_prob < 1:
            raise InputError(f"loss_prob must be in [0, 1), got {self.loss_prob}")
        if not 0 <= self.latency_min_s <= self.latency_max_s:
            raise InputError(f"need 0 <= latency_min_s <= latency_max_s, got "
                             f"{self.latency_min_s}, {self.latency_max_s}")
        if not 0 <= self.latency_spike_prob <= 1 or not self.latency_spike_mean_s >= 0:
            raise InputError(f"latency_spike_prob must be in [0, 1] and latency_spike_mean_s "
                             f">= 0, got {self.latency_spike_prob}, "
                             f"{self.latency_spike_mean_s}")
        for name in ("max_drift_ppm", "polar_drift_ppm", "movesense_drift_ppm"):
            v = getattr(self, name)
            if v is not None and not abs(v) <= 1000:
                raise InputError(f"{name} must be within +-1000 ppm, got {v}")
        if self.polar_start_ns is not None and not 0 <= self.polar_start_ns < 2**62:
            raise InputError(f"polar_start_ns must be in [0, 2**62), got {self.polar_start_ns}")
        if self.movesense_start_ms is not None and not 0 <= self.movesense_start_ms:
            raise InputError(f"movesense_start_ms must be >= 0, got {self.movesense_start_ms}")
        if self.chunk_packets < 1:
            raise InputError(f"chunk_packets must be >= 1, got {self.chunk_packets}")


@dataclass(frozen=True, slots=True)
class DeviceClocks:
    """The simulated sensors' own clocks: device time = start + t_s * (1 + drift).

    Attributes:
        polar_start_ns: Polar device time at session time 0, ns since 2000-01-01.
        polar_drift_ppm: Polar clock rate error, ppm.
        movesense_start_ms: Movesense device time at session time 0, ms since boot.
        movesense_drift_ppm: Movesense clock rate error, ppm.
    """

    polar_start_ns: int
    polar_drift_ppm: float
    movesense_start_ms: int
    movesense_drift_ppm: float

    def polar_ns(self, t_s: NDArray[np.float64]) -> NDArray[np.int64]:
        """Polar device time (ns since 2000-01-01) at session times t_s."""
        rel = np.rint(np.asarray(t_s) * (1e9 * (1.0 + self.polar_drift_ppm * 1e-6)))
        return rel.astype(np.int64) + np.int64(self.polar_start_ns)

    def movesense_ms(self, t_s: NDArray[np.float64]) -> NDArray[np.int64]:
        """Movesense timestamp (u32 ms since boot, wrapped) at session times t_s."""
        rel = np.rint(np.asarray(t_s) * (1e3 * (1.0 + self.movesense_drift_ppm * 1e-6)))
        return (rel.astype(np.int64) + np.int64(self.movesense_start_ms)) % np.int64(2**32)


def _rng(p: EmitParams, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([p.seed, stream]))


def device_clocks(p: EmitParams) -> DeviceClocks:
    """The device clocks of a simulated session, drawn from the seed unless fixed in p.

    The Polar clock starts either at a date in 2023-2025 or, one time in four, shortly
    after 2019-01-01 (an H10 restarts there after a shutdown). The Movesense clock counts
    from a boot 10 s to 3 days before the session.

    Args:
        p: Emit settings.

    Returns:
        The clocks.
    """
    rng = _rng(p, 0)
    if rng.random() < 0.25:
        lo_s, hi_s = _S_2019_SINCE_2000, _S_2019_SINCE_2000 + 30 * 86_400
    else:
        lo_s, hi_s = _S_2023_SINCE_2000, _S_2026_SINCE_2000
    start_ns = int(rng.integers(lo_s * 10**9, hi_s * 10**9))
    drifts = rng.uniform(-p.max_drift_ppm, p.max_drift_ppm, size=2)
    boot_ms = int(rng.integers(10_000, 3 * 86_400_000))
    return DeviceClocks(
        polar_start_ns=start_ns if p.polar_start_ns is None else p.polar_start_ns,
        polar_drift_ppm=float(drifts[0]) if p.polar_drift_ppm is None else p.polar_drift_ppm,
        movesense_start_ms=boot_ms if p.movesense_start_ms is None else p.movesense_start_ms,
        movesense_drift_ppm=(float(drifts[1]) if p.movesense_drift_ppm is None
                             else p.movesense_drift_ppm),
    )


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """Packets of one stream: which samples each holds, whether it arrives, and when.

    Attributes:
        start: Index of the first sample of each packet, shape (k,).
        count: Samples in each packet, shape (k,).
        t_send_s: True time the packet is sent (its last sample), shape (k,).
        kept: False for lost packets, shape (k,).
        t_rx_s: Receive time, NaN for lost packets, shape (k,).
    """

    start: NDArray[np.int64]
    count: NDArray[np.int64]
    t_send_s: NDArray[np.float64]
    kept: NDArray[np.bool_]
    t_rx_s: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PacketPlan:
    """Timing and loss of every packet of a session, before any bytes are made.

    Attributes:
        clocks: The device clocks.
        chest: Polar ACC frames.
        hr: Polar Heart Rate notifications (one per HR sample; start = its index).
        sacrum: Movesense IMU6 notifications.
        order_sensor: Sensor code (0 chest, 1 sacrum) of each delivered packet, t_rx order.
        order_kind: Kind (0 PMD, 1 HR, 2 IMU6) of each delivered packet.
        order_index: Index of the packet within its stream plan.
    """

    clocks: DeviceClocks
    chest: StreamPlan
    hr: StreamPlan
    sacrum: StreamPlan
    order_sensor: NDArray[np.int64]
    order_kind: NDArray[np.int64]
    order_index: NDArray[np.int64]


def _packetise(t_s: NDArray[np.float64], per: int
               ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    n = t_s.shape[0]
    start = np.arange(0, n, per, dtype=np.int64)
    count = np.minimum(start + per, n) - start
    return start, count, t_s[start + count - 1].astype(np.float64)


def _deliver(p: EmitParams, rng: np.random.Generator, t_send: NDArray[np.float64],
             protect: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Loss and latency for packets in send order; t_rx non-decreasing over kept ones."""
    k = t_send.shape[0]
    kept = (rng.random(k) >= p.loss_prob) | protect
    lat = np.asarray(rng.uniform(p.latency_min_s, p.latency_max_s, size=k), dtype=np.float64)
    spike = rng.random(k) < p.latency_spike_prob
    lat = lat + np.where(spike, rng.exponential(max(p.latency_spike_mean_s, 1e-12), size=k), 0.0)
    t_rx = np.full(k, np.nan)
    if kept.any():
        t_rx[kept] = np.maximum.accumulate(t_send[kept] + lat[kept])
    return kept, t_rx


def _check_t(t: NDArray[np.float64] | None, name: str) -> NDArray[np.float64]:
    if t is None:
        return np.zeros(0)
    arr = np.asarray(t, dtype=np.float64)
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be a finite array of shape (n,), got shape {arr.shape}")
    if arr.size > 1 and not bool(np.all(np.diff(arr) > 0)):
        raise InputError(f"{name} must be strictly increasing")
    return arr


def _check_xyz(a: NDArray[np.float64] | None, n: int, name: str) -> NDArray[np.float64]:
    if a is None:
        if n:
            raise InputError(f"{name} is required when its time array has {n} samples")
        return np.zeros((0, 3))
    arr = np.asarray(a, dtype=np.float64)
    if arr.shape != (n, 3) or not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite with shape ({n}, 3), got {arr.shape}")
    return arr


def plan_packets(p: EmitParams, chest_t_s: NDArray[np.float64] | None,
                 sacrum_t_s: NDArray[np.float64] | None,
                 hr_t_s: NDArray[np.float64] | None = None) -> PacketPlan:
    """Decide packetisation, loss and receive times of a session's packets.

    Args:
        p: Emit settings.
        chest_t_s: True times of the chest samples, session seconds, shape (n,), or None.
        sacrum_t_s: True times of the sacrum samples, shape (m,), or None.
        hr_t_s: Times of the Heart Rate notifications (about 1 Hz), shape (h,), or None.

    Returns:
        The plan (see :class:`PacketPlan`).

    Raises:
        InputError: If a time array is not finite, 1-D and strictly increasing.
    """
    ct = _check_t(chest_t_s, "chest_t_s")
    st = _check_t(sacrum_t_s, "sacrum_t_s")
    ht = _check_t(hr_t_s, "hr_t_s")
    clocks = device_clocks(p)

    c_start, c_count, c_send = _packetise(ct, p.polar_samples_per_frame)
    h_start = np.arange(ht.size, dtype=np.int64)
    # chest PMD frames and HR notifications share one link: in order across both
    n_c = c_start.size
    send = np.concatenate([c_send, ht])
    kind = np.concatenate([np.full(n_c, _KIND_PMD), np.full(ht.size, _KIND_HR)])
    idx = np.concatenate([np.arange(n_c), h_start])
    o = np.lexsort((idx, kind, send))
    protect = np.zeros(o.size, dtype=bool)
    if n_c:
        protect[np.flatnonzero(kind[o] == _KIND_PMD)[0]] = True
    kept_o, rx_o = _deliver(p, _rng(p, 1), send[o], protect)
    kept = np.empty_like(kept_o)
    rx = np.empty_like(rx_o)
    kept[o], rx[o] = kept_o, rx_o
    chest = StreamPlan(c_start, c_count, c_send, kept[:n_c], rx[:n_c])
    hr = StreamPlan(h_start, np.ones(ht.size, dtype=np.int64), ht, kept[n_c:], rx[n_c:])
    chest_rank = np.empty(o.size, dtype=np.int64)
    chest_rank[o] = np.arange(o.size)

    s_start, s_count, s_send = _packetise(st, p.movesense_samples_per_packet)
    s_protect = np.zeros(s_start.size, dtype=bool)
    s_protect[:1] = True
    s_kept, s_rx = _deliver(p, _rng(p, 2), s_send, s_protect)
    sacrum = StreamPlan(s_start, s_count, s_send, s_kept, s_rx)

    sensor = np.concatenate([np.full(o.size, _CHEST), np.full(s_start.size, _SACRUM)])
    kinds = np.concatenate([kind, np.full(s_start.size, _KIND_IMU6)])
    index = np.concatenate([idx, np.arange(s_start.size)])
    rank = np.concatenate([chest_rank, np.arange(s_start.size)])
    t_rx = np.concatenate([rx, s_rx])
    ok = np.concatenate([kept, s_kept])
    sensor, kinds, index, rank, t_rx = sensor[ok], kinds[ok], index[ok], rank[ok], t_rx[ok]
    g = np.lexsort((rank, sensor, t_rx))  # stable, ties: chest first, then send order
    return PacketPlan(clocks=clocks, chest=chest, hr=hr, sacrum=sacrum,
                      order_sensor=sensor[g].astype(np.int64),
                      order_kind=kinds[g].astype(np.int64), order_index=index[g].astype(np.int64))


def _polar_payloads(p: EmitParams, plan: PacketPlan, mg: NDArray[np.int16],
                    ts_ns: NDArray[np.int64], frames: NDArray[np.int64]) -> list[bytes]:
    spf = p.polar_samples_per_frame
    out: list[bytes] = [b""] * frames.size
    count = plan.chest.count[frames]
    full = np.flatnonzero(count == spf)
    if full.size:
        dt = np.dtype([("mt", "u1"), ("ts", "<u8"), ("ft", "u1"), ("d", "<i2", (spf, 3))])
        rec = np.zeros(full.size, dtype=dt)
        f = frames[full]
        rec["mt"] = polar_h10.MeasurementType.ACC
        rec["ts"] = ts_ns[f]
        rec["ft"] = polar_h10.FRAME_INT16
        rec["d"] = mg[plan.chest.start[f][:, None] + np.arange(spf)]
        buf = rec.tobytes()
        sz = dt.itemsize
        for j, i in enumerate(full.tolist()):
            out[i] = buf[j * sz:(j + 1) * sz]
    for i in np.flatnonzero(count != spf).tolist():
        f0 = int(frames[i])
        a = int(plan.chest.start[f0])
        out[i] = polar_h10.encode_acc_frame(int(ts_ns[f0]), mg[a:a + int(plan.chest.count[f0])])
    return out


def _movesense_payloads(p: EmitParams, plan: PacketPlan, acc: NDArray[np.float32],
                        gyr: NDArray[np.float32], ts_ms: NDArray[np.int64],
                        pkts: NDArray[np.int64]) -> list[bytes]:
    per = p.movesense_samples_per_packet
    out: list[bytes] = [b""] * pkts.size
    count = plan.sacrum.count[pkts]
    full = np.flatnonzero(count == per)
    if full.size:
        dt = np.dtype([("typ", "u1"), ("ref", "u1"), ("ts", "<u4"), ("acc", "<f4", (per, 3)),
                       ("gyr", "<f4", (per, 3))])
        rec = np.zeros(full.size, dtype=dt)
        f = pkts[full]
        rows = plan.sacrum.start[f][:, None] + np.arange(per)
        rec["typ"] = movesense.NOTIFY_DATA
        rec["ref"] = p.movesense_ref
        rec["ts"] = ts_ms[f]
        rec["acc"] = acc[rows]
        rec["gyr"] = gyr[rows]
        buf = rec.tobytes()
        sz = dt.itemsize
        for j, i in enumerate(full.tolist()):
            out[i] = buf[j * sz:(j + 1) * sz]
    for i in np.flatnonzero(count != per).tolist():
        f0 = int(pkts[i])
        a, c = int(plan.sacrum.start[f0]), int(plan.sacrum.count[f0])
        out[i] = movesense.encode_imu6_data(p.movesense_ref, int(ts_ms[f0]),
                                            acc[a:a + c].astype(np.float64),
                                            gyr[a:a + c].astype(np.float64))
    return out


def iter_packets(p: EmitParams, chest_t_s: NDArray[np.float64] | None,
                 chest_acc_g: NDArray[np.float64] | None,
                 sacrum_t_s: NDArray[np.float64] | None,
                 sacrum_acc_g: NDArray[np.float64] | None,
                 sacrum_gyr_dps: NDArray[np.float64] | None,
                 hr_t_s: NDArray[np.float64] | None = None,
                 hr_bpm: NDArray[np.float64] | None = None,
                 rr_ms: Sequence[Sequence[float]] | None = None,
                 *, plan: PacketPlan | None = None) -> Iterator[RawPacket]:
    """A session's packets in receive order, encoded ``p.chunk_packets`` at a time.

    The arguments are checked at once; the packets are made lazily, so memory holds one
    chunk of packets plus the (small) plan.

    Args:
        p: Emit settings.
        chest_t_s: True chest sample times, session seconds, shape (n,), or None.
        chest_acc_g: Chest specific force in g, shape (n, 3).
        sacrum_t_s: True sacrum sample times, shape (m,), or None.
        sacrum_acc_g: Sacrum specific force in g, shape (m, 3).
        sacrum_gyr_dps: Sacrum angular rate in deg/s, shape (m, 3).
        hr_t_s: Times of Heart Rate notifications (about 1 Hz), shape (h,), or None.
        hr_bpm: Heart rate at those times, shape (h,).
        rr_ms: RR intervals (ms, oldest first) carried by each HR notification, h
            sequences, or None.
        plan: A plan from :func:`plan_packets` with the same p and times (computed if None).

    Returns:
        An iterator of packets sorted by ``t_rx_s``, ties broken by sensor (chest first),
        then by send order.

    Raises:
        InputError: If the arrays do not have matching, valid shapes.
    """
    ct = _check_t(chest_t_s, "chest_t_s")
    st = _check_t(sacrum_t_s, "sacrum_t_s")
    ht = _check_t(hr_t_s, "hr_t_s")
    cacc = _check_xyz(chest_acc_g, ct.size, "chest_acc_g")
    sacc = _check_xyz(sacrum_acc_g, st.size, "sacrum_acc_g")
    sgyr = _check_xyz(sacrum_gyr_dps, st.size, "sacrum_gyr_dps")
    hrv = np.zeros(0) if hr_bpm is None else np.asarray(hr_bpm, dtype=np.float64)
    if hrv.shape != ht.shape or not np.all(np.isfinite(hrv)) or np.any(hrv < 0):
        raise InputError(f"hr_bpm must be finite, >= 0, with shape {ht.shape}, "
                         f"got {hrv.shape}")
    if rr_ms is not None and len(rr_ms) != ht.size:
        raise InputError(f"rr_ms must hold one sequence per HR notification ({ht.size}), "
                         f"got {len(rr_ms)}")
    if plan is None:
        plan = plan_packets(p, ct, st, ht)

    return _generate(p, plan, cacc, st, sacc, sgyr, hrv, rr_ms)


def _generate(p: EmitParams, plan: PacketPlan, cacc: NDArray[np.float64],
              st: NDArray[np.float64], sacc: NDArray[np.float64],
              sgyr: NDArray[np.float64], hrv: NDArray[np.float64],
              rr_ms: Sequence[Sequence[float]] | None) -> Iterator[RawPacket]:
    lim = round(units.g_to_mg(p.polar_range_g))
    mg = np.clip(np.rint(units.g_to_mg(cacc)), -lim, lim).astype(np.int16)
    c_ts = plan.clocks.polar_ns(plan.chest.t_send_s)
    acc32 = units.g_to_mps2(sacc).astype(np.float32)
    gyr32 = sgyr.astype(np.float32)
    first_t = st[plan.sacrum.start] if st.size else np.zeros(0)
    s_ts = plan.clocks.movesense_ms(first_t)

    n_tot = plan.order_kind.size
    for c0 in range(0, n_tot, p.chunk_packets):
        sl = slice(c0, min(c0 + p.chunk_packets, n_tot))
        kinds, idx = plan.order_kind[sl], plan.order_index[sl]
        payloads: list[bytes] = [b""] * kinds.size
        sel = np.flatnonzero(kinds == _KIND_PMD)
        for j, pay in zip(sel.tolist(), _polar_payloads(p, plan, mg, c_ts, idx[sel]),
                          strict=True):
            payloads[j] = pay
        sel = np.flatnonzero(kinds == _KIND_IMU6)
        for j, pay in zip(sel.tolist(), _movesense_payloads(p, plan, acc32, gyr32, s_ts,
                                                            idx[sel]), strict=True):
            payloads[j] = pay
        for j in np.flatnonzero(kinds == _KIND_HR).tolist():
            h = int(idx[j])
            rr = () if rr_ms is None else tuple(round(v * 1.024) for v in rr_ms[h])
            m = polar_h10.HrMeasurement(hr_bpm=min(round(float(hrv[h])), 0xFFFF),
                                        rr_1024=tuple(min(max(v, 0), 0xFFFF) for v in rr),
                                        contact_supported=True, contact_detected=True)
            payloads[j] = polar_h10.encode_hr_measurement(m)
        for j in range(kinds.size):
            k = int(kinds[j])
            i = int(idx[j])
            if k == _KIND_PMD:
                yield RawPacket(float(plan.chest.t_rx_s[i]), "chest", polar_h10.PMD_DATA_UUID,
                                payloads[j])
            elif k == _KIND_HR:
                yield RawPacket(float(plan.hr.t_rx_s[i]), "chest",
                                polar_h10.HR_MEASUREMENT_UUID, payloads[j])
            else:
                yield RawPacket(float(plan.sacrum.t_rx_s[i]), "sacrum", movesense.NOTIFY_UUID,
                                payloads[j])


def emit_packets(p: EmitParams, chest_t_s: NDArray[np.float64] | None,
                 chest_acc_g: NDArray[np.float64] | None,
                 sacrum_t_s: NDArray[np.float64] | None,
                 sacrum_acc_g: NDArray[np.float64] | None,
                 sacrum_gyr_dps: NDArray[np.float64] | None,
                 hr_t_s: NDArray[np.float64] | None = None,
                 hr_bpm: NDArray[np.float64] | None = None,
                 rr_ms: Sequence[Sequence[float]] | None = None) -> list[RawPacket]:
    """All of a session's packets, sorted by receive time (see :func:`iter_packets`).

    Args:
        p: Emit settings.
        chest_t_s: True chest sample times, session seconds, shape (n,), or None.
        chest_acc_g: Chest specific force in g, shape (n, 3).
        sacrum_t_s: True sacrum sample times, shape (m,), or None.
        sacrum_acc_g: Sacrum specific force in g, shape (m, 3).
        sacrum_gyr_dps: Sacrum angular rate in deg/s, shape (m, 3).
        hr_t_s: Times of Heart Rate notifications (about 1 Hz), shape (h,), or None.
        hr_bpm: Heart rate at those times, shape (h,).
        rr_ms: RR intervals (ms) carried by each HR notification, or None.

    Returns:
        The packets, sorted by ``t_rx_s`` (stable; ties: chest first, then send order).

    Raises:
        InputError: If the arrays do not have matching, valid shapes.
    """
    return list(iter_packets(p, chest_t_s, chest_acc_g, sacrum_t_s, sacrum_acc_g,
                             sacrum_gyr_dps, hr_t_s, hr_bpm, rr_ms))
