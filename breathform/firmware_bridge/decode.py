"""Raw BLE notifications of one sensor -> timed IMU blocks and heart-rate readings.

The pure glue the runtime (live, simulated or replayed) runs every packet through: device
decoders, per-sample device times, gap detection, and device time -> session time through
:mod:`breathform.firmware_bridge.clock`. The same packet sequence always gives bit-identical
output. Malformed packets are counted and skipped; :meth:`SensorDecoder.feed` never raises
for anything a sensor (or random bytes) can send.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from breathform import units
from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge import clock
from breathform.firmware_bridge.devices import diy_profile, movesense, polar_h10, witmotion
from breathform.model import DEVICE_KINDS, SENSOR_ROLES, HeartRate, ImuBlock, RawPacket

_U32 = 2**32
_U16 = 2**16
_WIT_GAP_MIN_S = 0.5
"""WitMotion (no device clock): a receive-time step this much longer than the samples
explain (and at least two notifications' worth) is taken as lost notifications."""
_CHAR = operator.attrgetter("char")
_PAYLOAD = operator.attrgetter("payload")
_T_RX = operator.attrgetter("t_rx_s")


@functools.lru_cache(maxsize=32)
def _last_offset_s(n: int, fs_hz: float) -> float:
    """The last sample offset (n - 1) / fs_hz as a float (as numpy computes it)."""
    return float(_sample_offsets_s(n, fs_hz)[-1])


@functools.lru_cache(maxsize=32)
def _sample_offsets_s(n: int, fs_hz: float) -> NDArray[np.float64]:
    """Sample offsets i / fs_hz, i = 0..n-1, in s (read-only: shared between packets)."""
    off = np.arange(n, dtype=np.float64) / fs_hz
    off.setflags(write=False)
    return off


_Imu6 = tuple[int, int, NDArray[np.float64], NDArray[np.float64]]


def _movesense_imu6_many(pkts: Sequence[RawPacket]) -> dict[int, _Imu6]:
    """Decode the plain IMU6 data notifications of a run of packets in one pass.

    What ``decode_notification`` + ``decode_imu6`` + ``mps2_to_g`` give for each packet
    (elementwise the same operations, so bit-identical), for data notifications of a length
    shared by at least two packets and holding only finite floats; everything else is left
    to the per-packet path.

    Returns:
        Position in ``pkts`` -> (timestamp ms, n, acc in g (n, 3), gyro in deg/s (n, 3)).
    """
    by_len: dict[int, list[int]] = {}
    for i, pkt in enumerate(pkts):
        d = pkt.payload
        size = len(d)
        if (size > 6 and d[0] == movesense.NOTIFY_DATA and not (size - 6) % 24
                and pkt.char.lower() == movesense.NOTIFY_UUID):
            by_len.setdefault(size, []).append(i)
    out: dict[int, _Imu6] = {}
    for size, idx in by_len.items():
        if len(idx) < 2:
            continue
        n = (size - 6) // 24
        rec = np.frombuffer(b"".join([pkts[i].payload for i in idx]), dtype=np.dtype(
            [("head", "u1", (2,)), ("ts", "<u4"), ("f", "<f4", (6 * n,))]))
        f32 = rec["f"]
        ts = rec["ts"]
        # check before casting: casting a signalling NaN warns (an error under -W error)
        finite = np.isfinite(f32).all(axis=1)
        if not bool(finite.all()):
            idx = [i for i, ok in zip(idx, finite.tolist(), strict=True) if ok]
            f32, ts = f32[finite], ts[finite]
        vals = f32.astype(np.float64)
        acc_g = units.mps2_to_g(vals[:, :3 * n])
        for k, (i, t) in enumerate(zip(idx, ts.tolist(), strict=True)):
            out[i] = (t, n, acc_g[k].reshape(n, 3), vals[k, 3 * n:].reshape(n, 3))
    return out


def _movesense_imu6_uniform(pkts: Sequence[RawPacket]
                            ) -> tuple[list[int], int, NDArray[np.float64],
                                       NDArray[np.float64]] | None:
    """:func:`_movesense_imu6_many` for a run whose packets are all alike, as arrays.

    When every packet is a plain IMU6 data notification of the same length holding only
    finite floats (a steady stream): the same values, bit for bit, as arrays over the run.

    Returns:
        (u32 timestamps in ms, samples per packet n, acc in g (m, n, 3), gyro in deg/s
        (m, n, 3)), or None if the run is not like that.
    """
    payloads = list(map(_PAYLOAD, pkts))
    size = len(payloads[0])
    if not (size > 6 and not (size - 6) % 24) or set(map(len, payloads)) != {size}:
        return None
    if any(c.lower() != movesense.NOTIFY_UUID for c in set(map(_CHAR, pkts))):
        return None
    n = (size - 6) // 24
    rec = np.frombuffer(b"".join(payloads), dtype=np.dtype(
        [("head", "u1", (2,)), ("ts", "<u4"), ("f", "<f4", (6 * n,))]))
    if not bool((rec["head"][:, 0] == movesense.NOTIFY_DATA).all()):
        return None
    f32 = rec["f"]
    if not bool(np.isfinite(f32).all()):  # before casting (see _movesense_imu6_many)
        return None
    vals = f32.astype(np.float64)
    m = len(pkts)
    acc_g = units.mps2_to_g(vals[:, :3 * n]).reshape(m, n, 3)
    return rec["ts"].tolist(), n, acc_g, vals[:, 3 * n:].reshape(m, n, 3)


@dataclass(slots=True)
class _Pending:
    """A decoded IMU frame waiting for its session times (see SensorDecoder._flush)."""

    box: list[ImuBlock | HeartRate]
    t_rx_s: float
    t_dev_s: NDArray[np.float64]
    t_obs_s: float
    gap: bool
    force_reset: bool
    lost: int
    n: int
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    base_s: float | None
    polar: _PolarRaw | None = None


@dataclass(slots=True)
class _PolarRaw:
    """A Polar ACC frame's integer data, converted with the other frames of its batch.

    t_dev_s = (times_ns - ref_ns) as float64 * 1e-9 and acc_g = samples_mg as float64 /
    1000 (* factor when it is not 1): elementwise, so the same over a batch at once.
    """

    times_ns: NDArray[np.int64]
    ref_ns: int
    samples_mg: NDArray[np.int64]
    factor: float


_NO_FLOATS: NDArray[np.float64] = np.zeros(0)
_HR_UUIDS = (polar_h10.HR_MEASUREMENT_UUID, polar_h10.HR_MEASUREMENT_UUID_LEGACY)


def _heart_rate(pkt: RawPacket) -> HeartRate:
    """A Heart Rate Measurement notification, decoded and timed by its receive time."""
    m = polar_h10.decode_hr_measurement(pkt.payload)
    return HeartRate(t_s=pkt.t_rx_s, hr_bpm=float(m.hr_bpm), rr_ms=m.rr_ms)


def _polar_floats(pend: list[_Pending]) -> NDArray[np.float64] | None:
    """Fill in the Polar frames' device times and g values, converted all at once.

    Returns:
        The frames' device times concatenated, when every pending frame is a Polar one
        (else None, the times stay in each frame).
    """
    pol = [q for q in pend if q.polar is not None]
    raw = [q.polar for q in pol if q.polar is not None]
    counts = [q.n for q in pol]
    acc = units.mg_to_g(np.concatenate([r.samples_mg for r in raw]).astype(np.float64))
    factors = [r.factor for r in raw]
    if factors.count(1.0) != len(factors):  # x * 1.0 == x: the others are unchanged
        acc *= np.repeat(np.array(factors, dtype=np.float64), counts)[:, None]
    refs = np.repeat(np.array([r.ref_ns for r in raw], dtype=np.int64), counts)
    t_dev = (np.concatenate([r.times_ns for r in raw]) - refs).astype(np.float64) * 1e-9
    ends = list(itertools.accumulate(counts))
    for q, e, n in zip(pol, ends, counts, strict=True):
        q.acc_g, q.t_dev_s, q.polar = acc[e - n:e], t_dev[e - n:e], None
    return t_dev if len(pol) == len(pend) else None


class SensorDecoder:
    """Decoder for one sensor's stream of notifications.

    Attributes:
        role: "chest" or "sacrum".
        kind: "polar_h10", "movesense", "witmotion" or "diy".
        fs_hz: Nominal IMU sample rate.
        n_packets: Packets fed.
        n_decode_errors: Malformed packets skipped.
        last_error: The most recent decode error, or None.
        n_unknown_char: Packets on characteristics this device kind does not use.
        n_ignored: Well-formed packets that carry nothing decoded here (ECG frames,
            Movesense continuations).
        n_samples: Samples in the blocks returned so far.
        n_gaps: Blocks flagged with ``gap``.
        n_samples_lost: Samples estimated lost in gaps.
        clock_state: State of the device clock fit.
        last_cp_response: Last PMD control point message (Polar only).
        last_result: Last Movesense command result.
        acc_factor: Factor applied to Polar ACC samples (from the sensor's start response;
            1.0 until one says otherwise).
        reassembler: WitMotion packet reassembly (its counters say what was skipped).
        diy_config: The DIY board's config characteristic, once the driver stored it.
        n_seq_lost: DIY packets missing according to their sequence numbers.
        batch_errors: Decode errors of the last :meth:`feed_many` call, with each packet's
            position in its argument.
        last_t_dev_s: Device times of the last block's samples in seconds as the sensor
            counts them (DIY: its microsecond clock, unwrapped; WitMotion, which has no
            clock: samples since the first / fs_hz); None for the other kinds.
    """

    def __init__(self, role: str, kind: str, fs_hz: float, *,
                 clock_params: clock.ClockParams | None = None,
                 polar_resolution_bits: int = 16, gap_frames: float = 1.5) -> None:
        """Create a decoder.

        Args:
            role: "chest" or "sacrum".
            kind: "polar_h10", "movesense", "witmotion" or "diy".
            fs_hz: Nominal IMU sample rate the stream was started with, in (0, 1e5].
            clock_params: Device clock fit settings (default :class:`clock.ClockParams`).
            polar_resolution_bits: ACC resolution (reference size of delta frames).
            gap_frames: A Polar timestamp step longer than this many frame durations is a
                gap.

        Raises:
            InputError: If an argument is out of range.
        """
        if role not in SENSOR_ROLES:
            raise InputError(f"role must be one of {SENSOR_ROLES}, got {role!r}")
        if kind not in DEVICE_KINDS:
            raise InputError(f"kind must be one of {DEVICE_KINDS}, got {kind!r}")
        if not (math.isfinite(fs_hz) and 0 < fs_hz <= 1e5):
            raise InputError(f"fs_hz must be in (0, 1e5], got {fs_hz}")
        if not gap_frames > 1.0:
            raise InputError(f"gap_frames must be > 1, got {gap_frames}")
        self.role, self.kind, self.fs_hz = role, kind, float(fs_hz)
        self.clock_params = clock_params if clock_params is not None else clock.ClockParams()
        self.clock_state = clock.init_state(self.clock_params)
        self._res_bits = polar_resolution_bits
        self._gap_frames = gap_frames
        self.n_packets = 0
        self.n_decode_errors = 0
        self.last_error: DecodeError | None = None
        self.n_unknown_char = 0
        self.n_ignored = 0
        self.n_samples = 0
        self.n_gaps = 0
        self.n_samples_lost = 0
        self.last_cp_response: polar_h10.CpResponse | polar_h10.CpStreamsStopped | None = None
        self.last_result: movesense.MovesenseResult | None = None
        self.acc_factor = 1.0
        self.reassembler = witmotion.Reassembler()
        self.diy_config: diy_profile.DiyConfig | None = None
        self.n_seq_lost = 0
        self.last_t_dev_s: NDArray[np.float64] | None = None
        self._prev_seq = 0
        self._wit_next = 0  # WitMotion: index of the next sample on the virtual clock
        self._next_seq = 0
        self._prev_ts: int | None = None  # Polar ns / Movesense unwrapped ms, last frame
        self._prev_raw_ms = 0  # Movesense ms / DIY us: raw u32 timestamp of the last frame
        self._prev_n = 0
        self._ref_dev: int = 0  # device time origin (ns or ms) for the clock's float seconds
        self._last_t_rx_s: float | None = None
        self._pending: list[_Pending] = []
        self.batch_errors: list[tuple[int, DecodeError]] = []

    # ------------------------------------------------------------------ public

    def feed(self, pkt: RawPacket) -> list[ImuBlock | HeartRate]:
        """Decode one packet of this sensor.

        Args:
            pkt: A notification as received.

        Returns:
            Zero or more decoded items: an :class:`ImuBlock` per IMU frame, a
            :class:`HeartRate` per Heart Rate Measurement.
        """
        return self.feed_many((pkt,))[0]

    def feed_many(self, pkts: Sequence[RawPacket]) -> list[list[ImuBlock | HeartRate]]:
        """Decode a run of this sensor's packets, in order: :meth:`feed` for each, at once.

        The IMU frames' device times are mapped to session time in one pass
        (:func:`clock.step_many`), which gives bit for bit what feeding them one by one does.

        Args:
            pkts: Notifications as received, in receive order.

        Returns:
            What :meth:`feed` returns for each packet. The decode errors met are in
            :attr:`batch_errors` (position in ``pkts``, error) until the next call.
        """
        self.batch_errors = []
        out: list[list[ImuBlock | HeartRate]] = []
        if self.kind == "polar_h10" and len(pkts) > 1 and self._polar_run(pkts, out):
            return out
        if self.kind == "movesense" and len(pkts) > 1:
            run = _movesense_imu6_uniform(pkts)
            if run is not None and self._movesense_run(pkts, *run, out):
                return out
        pre = (_movesense_imu6_many(pkts) if self.kind == "movesense" and len(pkts) > 1
               else {})
        for i, pkt in enumerate(pkts):
            self.n_packets += 1
            try:
                imu = pre.get(i)
                items = (self._movesense_imu(pkt, *imu) if imu is not None
                         else self._feed_one(pkt))
            except DecodeError as exc:
                self.n_decode_errors += 1
                self.last_error = DecodeError(self.n_packets - 1, exc.reason)
                self.batch_errors.append((len(out), self.last_error))
                items = []
            out.append(items)
        if self._pending:
            self._flush()
        return out

    def _feed_one(self, pkt: RawPacket) -> list[ImuBlock | HeartRate]:
        char = pkt.char.lower()
        if self.kind == "polar_h10":
            if char == polar_h10.PMD_DATA_UUID:
                return self._polar_data(pkt)
            if char in _HR_UUIDS:
                return [_heart_rate(pkt)]
            if char == polar_h10.PMD_CP_UUID:
                self._polar_cp(pkt.payload)
                return []
        elif self.kind == "movesense":
            if char == movesense.NOTIFY_UUID:
                return self._movesense(pkt)
        elif self.kind == "witmotion":
            if char == witmotion.NOTIFY_UUID:
                out = self._witmotion(pkt)
                self._flush()  # its next packet reads the receive time _flush records
                return out
        elif char == diy_profile.DATA_UUID:
            out = self._diy(pkt)
            self._flush()
            return out
        elif char == diy_profile.CONFIG_UUID:
            self.diy_config = diy_profile.decode_config(pkt.payload)
            return []
        self.n_unknown_char += 1
        return []

    # ------------------------------------------------------------------ internals

    def _polar_cp(self, payload: bytes) -> None:
        msg = polar_h10.parse_cp_response(payload)
        self.last_cp_response = msg
        if (isinstance(msg, polar_h10.CpResponse) and msg.ok
                and msg.opcode == polar_h10.CpOpcode.START
                and msg.measurement_type == polar_h10.MeasurementType.ACC):
            # the strap may scale its ACC stream; what it says holds until the next start
            factor = polar_h10.start_response_factor(msg.params)
            self.acc_factor = 1.0 if factor is None else factor

    def _polar_data(self, pkt: RawPacket) -> list[ImuBlock | HeartRate]:
        if polar_h10.pmd_measurement_type(pkt.payload) != polar_h10.MeasurementType.ACC:
            self.n_ignored += 1  # ECG etc. share the data characteristic
            return []
        frame = polar_h10.decode_pmd_frame(pkt.payload, resolution_bits=self._res_bits)
        ts, n = frame.timestamp_ns, frame.n
        gap = force_reset = False
        lost = 0
        frame_ns = n * 1e9 / self.fs_hz
        prev = self._prev_ts
        if prev is None:
            self._ref_dev = ts
            times = polar_h10.sample_times_ns(ts, n, self.fs_hz, None)
        else:
            dt = ts - prev
            if dt < 0.5 * frame_ns:
                # clock went backwards or stepped implausibly little: a device clock reset
                gap = force_reset = True
                self._ref_dev = ts
                times = polar_h10.sample_times_ns(ts, n, self.fs_hz, None)
            elif dt > self._gap_frames * frame_ns:
                gap = True
                lost = max(0, round(dt * self.fs_hz / 1e9) - n)
                times = polar_h10.sample_times_ns(ts, n, self.fs_hz, None)
            else:
                times = polar_h10.sample_times_ns(ts, n, self.fs_hz, prev)
        self._prev_ts, self._prev_n = ts, n
        t_obs_s = float(ts - self._ref_dev) * 1e-9
        # device times and g are formed in _flush, for all the batch's frames at once
        box: list[ImuBlock | HeartRate] = []
        self._pending.append(_Pending(box, pkt.t_rx_s, _NO_FLOATS, t_obs_s, gap, force_reset,
                                      lost, n, _NO_FLOATS, None, None, _PolarRaw(
                                          times, self._ref_dev, frame.samples,
                                          self.acc_factor)))
        return box

    def _polar_run(self, pkts: Sequence[RawPacket],
                   out: list[list[ImuBlock | HeartRate]]) -> bool:
        """:meth:`_feed_one` for a run of a steady Polar stream, the ACC frames all at once.

        Only when every packet is a well-formed heart-rate measurement or a raw ACC frame
        (:func:`polar_h10.decode_raw_acc_frames`: all alike), a frame came before the run
        and no frame resets the device clock (else False, nothing consumed). Then each
        frame's sample times are ``sample_times_ns(ts, n, fs_hz, prev)``
        (:func:`polar_h10.sample_times_ns_many`), or ``prev`` None after a gap, and its
        device times and g what :func:`_polar_floats` forms; the frames go straight to
        :meth:`_blocks` (nothing may be pending).
        """
        prev_ts = self._prev_ts
        if prev_ts is None:
            return False
        chars = list(map(_CHAR, pkts))
        lower = {c: c.lower() for c in set(chars)}
        if not set(lower.values()) <= {polar_h10.PMD_DATA_UUID, *_HR_UUIDS}:
            return False
        is_data = list(map(operator.eq, map(lower.__getitem__, chars),
                           itertools.repeat(polar_h10.PMD_DATA_UUID)))
        data = list(itertools.compress(pkts, is_data))
        run = polar_h10.decode_raw_acc_frames(list(map(_PAYLOAD, data)))
        if run is None:
            return False
        ts, samples_mg = run
        m, n = samples_mg.shape[:2]
        prev = np.empty(m, dtype=np.int64)
        prev[0] = prev_ts
        prev[1:] = ts[:-1]
        dt = ts - prev
        frame_ns = n * 1e9 / self.fs_hz
        # _polar_data's tests for a reset (dt < 0.5 frame) and a gap (dt > gap_frames
        # frames), on Python ints; the same here while dt converts to float64 exactly
        if not bool(((np.abs(dt) < 2**53) & (dt >= 0.5 * frame_ns)).all()):
            return False
        try:
            hr = [_heart_rate(pkt) for pkt in itertools.compress(
                pkts, map(operator.not_, is_data))]
        except DecodeError:
            return False
        times = polar_h10.sample_times_ns_many(ts, n, prev)
        gaps = (dt > self._gap_frames * frame_ns).tolist()
        lost = [0] * m
        if True in gaps:
            for k in itertools.compress(range(m), gaps):
                lost[k] = max(0, round(int(dt[k]) * self.fs_hz / 1e9) - n)
                times[k] = polar_h10.sample_times_ns(int(ts[k]), n, self.fs_hz, None)
        ref = self._ref_dev
        # as _polar_floats: (times - ref) as float64 * 1e-9, samples as float64 / 1000
        # (* factor when it is not 1); the observation time float(ts - ref) * 1e-9
        t_dev = (times.reshape(-1) - ref).astype(np.float64) * 1e-9
        t_obs = ((ts - ref).astype(np.float64) * 1e-9).tolist()
        acc = units.mg_to_g(samples_mg.astype(np.float64))
        if self.acc_factor != 1.0:
            acc *= self.acc_factor
        self.n_packets += len(pkts)
        blocks = iter(self._blocks(list(map(_T_RX, data)), t_dev, [n] * m, t_obs, gaps,
                                   [False] * m, lost, list(acc), [None] * m))
        hrs = iter(hr)
        out += [[next(blocks) if d else next(hrs)] for d in is_data]
        self._prev_ts, self._prev_n = int(ts[-1]), n
        return True

    def _movesense(self, pkt: RawPacket) -> list[ImuBlock | HeartRate]:
        note = movesense.decode_notification(pkt.payload)
        if isinstance(note, movesense.MovesenseResult):
            self.last_result = note
            return []
        if note.continuation:
            self.n_ignored += 1  # IMU6 packets fit one notification at the MTUs we use
            return []
        imu = movesense.decode_imu6(note.payload)
        return self._movesense_imu(pkt, imu.timestamp_ms, imu.n, units.mps2_to_g(imu.acc_mps2),
                                   imu.gyr_dps)

    def _movesense_imu(self, pkt: RawPacket, timestamp_ms: int, n: int,
                       acc_g: NDArray[np.float64], gyr_dps: NDArray[np.float64]
                       ) -> list[ImuBlock | HeartRate]:
        ts, lost, force_reset = self._u32_clock(timestamp_ms, n, 1000.0)
        gap = force_reset or lost > 0
        base_s = (ts - self._ref_dev) / 1000.0
        off = _sample_offsets_s(n, self.fs_hz)
        # the samples' device times base_s + off are formed in _flush, for all frames at once
        t_obs_s = base_s + _last_offset_s(n, self.fs_hz)
        return self._emit(pkt, off, t_obs_s, gap, force_reset, lost, n, acc_g, gyr_dps,
                          base_s)

    def _movesense_run(self, pkts: Sequence[RawPacket], raw_ms: list[int], n: int,
                       acc_g: NDArray[np.float64], gyr_dps: NDArray[np.float64],
                       out: list[list[ImuBlock | HeartRate]]) -> bool:
        """:meth:`_movesense_imu` for a run of alike IMU6 packets, all at once.

        Only when no packet resets the device clock (else False, nothing consumed): then
        each timestamp is the previous plus the u32 step, as :meth:`_u32_clock` gives.
        The steps are rounded as Python's round() does (half to even, like np.rint). The
        frames go straight to :meth:`_blocks` (nothing may be pending).
        """
        m = len(pkts)
        raw = np.array(raw_ms, dtype=np.int64)
        first = self._prev_ts is None
        prev_raw = np.concatenate(([self._prev_raw_ms], raw[:-1]))
        prev_n = np.full(m, n, dtype=np.int64)
        prev_n[0] = self._prev_n
        d = (raw - prev_raw) % _U32
        steps = np.rint(d * self.fs_hz / 1000.0)
        reset = (d >= _U32 // 2) | (steps < prev_n)
        if first:
            reset[0] = False
            d[0] = 0
            steps[0] = prev_n[0] = 0  # lost = 0
        if bool(reset.any()):
            return False
        if first:
            self._ref_dev = int(raw[0])
            ts = np.cumsum(d) + raw[0]
        else:
            ts = np.cumsum(d) + int(self._prev_ts or 0)
        lost_a = (steps - prev_n).astype(np.int64)
        base = (ts - self._ref_dev) / 1000.0
        fs = self.fs_hz
        # each sample's device time base + offset (elementwise, as _flush forms it), and
        # each frame's observation time base + last offset (as on Python floats)
        t_dev = (_sample_offsets_s(n, fs)[None, :] + base[:, None]).reshape(-1)
        t_obs = (base + _last_offset_s(n, fs)).tolist()
        lost = lost_a.tolist()
        self.n_packets += m
        blocks = self._blocks(list(map(_T_RX, pkts)), t_dev, [n] * m, t_obs,
                              (lost_a > 0).tolist(), [False] * m, lost, list(acc_g),
                              list(gyr_dps))
        out += [[b] for b in blocks]
        self._prev_ts, self._prev_raw_ms, self._prev_n = int(ts[-1]), int(raw[-1]), n
        return True

    def _witmotion(self, pkt: RawPacket) -> list[ImuBlock | HeartRate]:
        data = self.reassembler.feed(pkt.payload)
        if not data:
            self.n_ignored += 1  # a split packet: its samples come with the next part
            return []
        wit = witmotion.decode_packets(data)
        n = wit.n
        gap = False
        lost = 0
        if self._last_t_rx_s is not None:
            # no device clock: the samples are counted on a virtual clock at the nominal
            # rate; a receive-time step far beyond what the samples explain is a loss
            lost = round((pkt.t_rx_s - self._last_t_rx_s) * self.fs_hz) - n
            gap = lost > max(_WIT_GAP_MIN_S * self.fs_hz, 2 * n)
            lost = lost if gap else 0
        first = self._wit_next + lost
        self._wit_next = first + n
        t_dev_s = (first + np.arange(n, dtype=np.float64)) / self.fs_hz
        self.last_t_dev_s = t_dev_s
        return self._emit(pkt, t_dev_s, float(t_dev_s[-1]), gap, False, lost, n, wit.acc_g,
                          wit.gyr_dps)

    def _diy(self, pkt: RawPacket) -> list[ImuBlock | HeartRate]:
        p = diy_profile.decode_data(pkt.payload)
        n = p.n
        d_seq = (p.seq - self._prev_seq) % _U16
        first = self._prev_ts is None
        # a repeated or backwards packet counter: the board rebooted
        reboot = not first and (d_seq == 0 or d_seq >= _U16 // 2)
        ts, lost, force_reset = self._u32_clock(p.t_us, n, 1e6, reboot=reboot)
        self._prev_seq = p.seq
        gap = force_reset or lost > 0
        if not first and not force_reset and d_seq > 1:
            self.n_seq_lost += d_seq - 1
            gap = True
        t_dev_s = (ts - self._ref_dev) / 1e6 + _sample_offsets_s(n, self.fs_hz)
        self.last_t_dev_s = ts / 1e6 + _sample_offsets_s(n, self.fs_hz)
        return self._emit(pkt, t_dev_s, float(t_dev_s[-1]), gap, force_reset, lost, n,
                          p.acc_g, p.gyr_dps)

    def _u32_clock(self, raw: int, n: int, ticks_per_s: float, *, reboot: bool = False
                   ) -> tuple[int, int, bool]:
        """Unwrap a u32 first-sample timestamp (Movesense ms, DIY us) of an n-sample packet.

        Returns:
            The unwrapped device time in ticks, the samples lost before the packet, and
            whether the device clock was reset (went backwards, overlaps, or ``reboot``).
        """
        lost = 0
        reset = False
        if self._prev_ts is None:
            ts = self._ref_dev = raw
        else:
            d = (raw - self._prev_raw_ms) % _U32  # wraps: ms after 49.7 days, us after 71.6 min
            steps = round(d * self.fs_hz / ticks_per_s)
            if reboot or d >= _U32 // 2 or steps < self._prev_n:
                reset = True
                ts = self._ref_dev = raw
            else:
                ts = self._prev_ts + d
                lost = steps - self._prev_n
        self._prev_ts, self._prev_raw_ms, self._prev_n = ts, raw, n
        return ts, lost, reset

    def _emit(self, pkt: RawPacket, t_dev_s: NDArray[np.float64], t_obs_s: float, gap: bool,
              force_reset: bool, lost: int, n: int, acc_g: NDArray[np.float64],
              gyr_dps: NDArray[np.float64] | None, base_s: float | None = None
              ) -> list[ImuBlock | HeartRate]:
        """Queue a frame for :meth:`_flush`, which fills the returned list with its block.

        The frame's device times are ``t_dev_s``, or ``base_s + t_dev_s`` if base_s is given.
        """
        box: list[ImuBlock | HeartRate] = []
        self._pending.append(_Pending(box, pkt.t_rx_s, t_dev_s, t_obs_s, gap, force_reset,
                                      lost, n, acc_g, gyr_dps, base_s))
        return box

    def _flush(self) -> None:
        """Map the queued frames' device times to session time, assign seq, build blocks."""
        pend, self._pending = self._pending, []
        if not pend:
            return
        bases = [q.base_s for q in pend]
        t_dev = _polar_floats(pend) if self.kind == "polar_h10" else None
        if t_dev is not None:
            pass  # formed for all frames at once
        elif None not in bases:
            # elementwise base + offset, as adding each frame's base to its offsets would
            t_dev = (np.concatenate([q.t_dev_s for q in pend])
                     + np.repeat(np.array(bases, dtype=np.float64), [q.n for q in pend]))
        else:
            t_dev = np.concatenate([q.t_dev_s if q.base_s is None else q.base_s + q.t_dev_s
                                    for q in pend])
        blocks = self._blocks([q.t_rx_s for q in pend], t_dev, [q.n for q in pend],
                              [q.t_obs_s for q in pend], [q.gap for q in pend],
                              [q.force_reset for q in pend], [q.lost for q in pend],
                              [q.acc_g for q in pend], [q.gyr_dps for q in pend])
        for q, b in zip(pend, blocks, strict=True):
            q.box.append(b)

    def _blocks(self, t_rx: list[float], t_dev: NDArray[np.float64], counts: list[int],
                t_obs: list[float], gaps: list[bool], force_reset: list[bool],
                lost: list[int], acc_g: Sequence[NDArray[np.float64]],
                gyr_dps: Sequence[NDArray[np.float64] | None]) -> list[ImuBlock]:
        """Map frames' device times (concatenated) to session time; assign seq; build blocks.

        One entry per frame in each list; returns the frames' blocks, in order.
        """
        resets = self.clock_state.n_resets
        self.n_samples += sum(counts)
        t_all, self.clock_state, n_resets = clock.step_many(
            self.clock_params, self.clock_state, t_dev, counts, t_obs, t_rx, force_reset)
        m = len(counts)
        n0 = counts[0]
        if m == 1:
            t_rows: Sequence[NDArray[np.float64]] = (t_all,)
        elif counts.count(n0) == m:
            t_rows = list(t_all.reshape(m, n0))  # row views: t_all's slices, as below
        else:
            ends = list(itertools.accumulate(counts))
            t_rows = [t_all[e - n:e] for e, n in zip(ends, counts, strict=True)]
        first = self._last_t_rx_s is None
        if n_resets[-1] == resets:  # no re-anchoring (n_resets never decreases)
            flags = gaps
            if first and gaps[0]:
                flags = [False, *gaps[1:]]
            if True in flags:
                self.n_gaps += flags.count(True)
                self.n_samples_lost += sum(itertools.compress(lost, flags))
            # seq of frame k: the samples before it, counting each frame's lost ones
            nxt = list(itertools.accumulate(map(operator.add, lost, counts),
                                            initial=self._next_seq))
            seqs = list(map(operator.add, nxt, lost))
            self._next_seq = nxt[-1]
            self._last_t_rx_s = t_rx[-1]
        else:
            seqs, flags = [], []
            for k in range(m):
                n = counts[k]
                gap, lo = gaps[k], lost[k]
                now = n_resets[k]
                first = self._last_t_rx_s is None
                if now > resets and self._last_t_rx_s is not None:
                    # the device clock cannot be trusted across a reset: estimate the loss
                    # from host receive times instead
                    gap = True
                    lo = max(0, round((t_rx[k] - self._last_t_rx_s) * self.fs_hz) - n)
                resets = now
                if gap and not first:
                    self.n_gaps += 1
                    self.n_samples_lost += lo
                seq = self._next_seq + lo
                seqs.append(seq)
                flags.append(gap and not first)
                self._next_seq = seq + n
                self._last_t_rx_s = t_rx[k]
        # every field is valid by construction (the clock map keeps t_s strictly
        # increasing; the device decoders return (n, 3) arrays): skip ImuBlock's checks
        return ImuBlock.unchecked_many(self.role, self.fs_hz, seqs, t_rows, acc_g, gyr_dps,
                                       flags)
