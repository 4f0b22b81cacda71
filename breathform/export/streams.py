"""A stored session, decoded for export: per-sensor sample streams at their native rate.

The raw packets are replayed through the same :class:`SensorDecoder` the live run used, so
the exported samples and session times are exactly what the DSP saw. The decoder does not
hand out device times, so they are re-derived here from the same packets with the public
device functions (Polar: :func:`polar_h10.sample_times_ns`, as the Polar SDK computes them;
Movesense: the unwrapped millisecond counter plus ``i / fs``), following the decoder's own
rule for where a stream restarts (first frame, gap, clock reset).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import movesense, polar_h10
from breathform.model import Alert, HeartRate, ImuBlock, Metrics, RawPacket, SensorInfo
from breathform.signal.gait import Stride
from breathform.store import SessionReader

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with raw packets decoded so far."""

_U32 = 2**32


@dataclass(frozen=True, slots=True)
class SensorStream:
    """All IMU samples of one sensor, in stream order.

    Attributes:
        info: The sensor as the session recorded it.
        seq: Absolute sample index in the stream, shape (n,), int64; it jumps across a gap
            by the number of samples lost.
        t_device_s: Sample time on the sensor's own clock, seconds, shape (n,) (Polar:
            since 2000-01-01 on the sensor's clock; Movesense: since the sensor booted).
        t_s: Sample time in session seconds (clock-aligned), shape (n,).
        acc_g: Acceleration in g, sensor frame, shape (n, 3).
        gyr_dps: Angular rate in deg/s, sensor frame, shape (n, 3), or None.
        gap: True on the first sample after lost samples, shape (n,).
        clock: Clock alignment of this stream (settings and final fit).
        n_packets: Packets of this sensor.
        n_decode_errors: Malformed packets skipped.
        n_samples_lost: Samples estimated lost in gaps.
    """

    info: SensorInfo
    seq: NDArray[np.int64]
    t_device_s: NDArray[np.float64]
    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    gap: NDArray[np.bool_]
    clock: dict[str, Any]
    n_packets: int
    n_decode_errors: int
    n_samples_lost: int

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])


@dataclass(frozen=True, slots=True)
class HrStream:
    """Heart Rate Measurement notifications of the chest strap.

    Attributes:
        t_s: Receive time in session seconds, shape (n,).
        hr_bpm: Heart rate, shape (n,).
        rr_ms: RR intervals of each notification, oldest first.
    """

    t_s: NDArray[np.float64]
    hr_bpm: NDArray[np.float64]
    rr_ms: tuple[tuple[float, ...], ...]


@dataclass(frozen=True, slots=True)
class SessionData:
    """Everything an exporter writes, read from one session file.

    Attributes:
        meta: The session's stored metadata (key -> text).
        sensors: The sensors, in the session's order.
        streams: Sample streams by sensor role.
        hr: Heart-rate stream, or None when the session has none.
        metrics: The stored 1 Hz metrics.
        alerts: The stored alerts.
        calibration: Stored calibration values.
        events: Session events (t_s, kind, detail).
        strides: The stored per-stride table (empty for a file older than version 3).
    """

    meta: dict[str, str]
    sensors: tuple[SensorInfo, ...]
    streams: dict[str, SensorStream]
    hr: HrStream | None
    metrics: list[Metrics]
    alerts: list[Alert]
    calibration: dict[str, Any]
    events: list[tuple[float, str, str]] = field(default_factory=list)
    strides: list[Stride] = field(default_factory=list)

    @property
    def started_utc_ns(self) -> int:
        """Wall-clock start of the session, Unix ns."""
        return int(self.meta["started_utc_ns"])


class _DeviceClock:
    """Re-derives per-sample device times of one sensor's IMU packets."""

    def __init__(self, kind: str, fs_hz: float) -> None:
        self.kind, self.fs_hz = kind, fs_hz
        self._prev_ts: int | None = None  # Polar ns / Movesense unwrapped ms
        self._prev_raw_ms = 0
        self._prev_n = 0

    def times_s(self, pkt: RawPacket, block: ImuBlock) -> NDArray[np.float64]:
        """Device times of the samples of ``block``, decoded from ``pkt``."""
        if self.kind == "polar_h10":
            frame = polar_h10.decode_pmd_frame(pkt.payload)
            ts = frame.timestamp_ns
            # the decoder restarts the SDK's interpolation on the first frame and after a
            # gap or clock reset, i.e. exactly when it flags the block (or has no previous)
            prev = None if (self._prev_ts is None or block.gap) else self._prev_ts
            if prev is not None and prev >= ts:
                prev = None
            ns = polar_h10.sample_times_ns(ts, block.n, self.fs_hz, prev)
            self._prev_ts = ts
            return ns.astype(np.float64) * 1e-9
        note = movesense.decode_notification(pkt.payload)
        if not isinstance(note, movesense.MovesenseData):
            raise DecodeError(None, "expected Movesense data for a decoded block")
        raw = movesense.decode_imu6(note.payload).timestamp_ms
        if self._prev_ts is None:
            ts_ms = raw
        else:
            d = (raw - self._prev_raw_ms) % _U32  # the u32 ms counter wraps after 49.7 days
            steps = round(d * self.fs_hz / 1000.0)
            ts_ms = raw if (d >= _U32 // 2 or steps < self._prev_n) else self._prev_ts + d
        self._prev_ts, self._prev_raw_ms, self._prev_n = ts_ms, raw, block.n
        return ts_ms / 1000.0 + np.arange(block.n, dtype=np.float64) / self.fs_hz


class _Column:
    """A growing column of arrays, merged every ``merge_every`` parts to bound overhead."""

    def __init__(self, tail: tuple[int, ...], dtype: type, merge_every: int = 4096) -> None:
        self.tail, self.dtype, self.merge_every = tail, dtype, merge_every
        self.parts: list[NDArray[Any]] = []
        self.chunks: list[NDArray[Any]] = []

    def add(self, a: NDArray[Any]) -> None:
        self.parts.append(a)
        if len(self.parts) >= self.merge_every:
            self.chunks.append(np.concatenate(self.parts))
            self.parts.clear()

    def take(self) -> NDArray[Any]:
        """The whole column (the builder lets go of its pieces)."""
        if self.parts:
            self.chunks.append(np.concatenate(self.parts))
            self.parts.clear()
        out = (np.concatenate(self.chunks) if self.chunks
               else np.zeros((0, *self.tail), dtype=self.dtype))
        self.chunks.clear()
        return out


class _StreamBuilder:
    """Collects the blocks of one sensor, with bounded overhead per sample."""

    def __init__(self, info: SensorInfo) -> None:
        self.info = info
        self.decoder = SensorDecoder(info.role, info.kind, info.fs_hz)
        self.dev = _DeviceClock(info.kind, info.fs_hz)
        self.t_dev = _Column((), np.float64)
        self.t = _Column((), np.float64)
        self.acc = _Column((3,), np.float64)
        self.gyr = _Column((3,), np.float64)
        self.block_seq: list[int] = []
        self.block_n: list[int] = []
        self.block_gap: list[bool] = []
        self.hr: list[HeartRate] = []

    def feed(self, pkt: RawPacket) -> None:
        for item in self.decoder.feed(pkt):
            if isinstance(item, HeartRate):
                self.hr.append(item)
                continue
            own = self.decoder.last_t_dev_s  # kinds whose decoder keeps device times
            self.t_dev.add(self.dev.times_s(pkt, item) if own is None else own)
            self.t.add(item.t_s)
            self.acc.add(item.acc_g)
            if item.gyr_dps is not None:
                self.gyr.add(item.gyr_dps)
            self.block_seq.append(item.seq)
            self.block_n.append(item.n)
            self.block_gap.append(item.gap)

    def build(self) -> SensorStream:
        dec = self.decoder
        cs = dec.clock_state
        n = np.array(self.block_n, dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(n)[:-1]]) if n.size else n
        total = int(n.sum())
        # sample index = the block's seq + the sample's place in its block
        seq = np.repeat(np.array(self.block_seq, dtype=np.int64) - first, n) + np.arange(
            total, dtype=np.int64)
        gap = np.zeros(total, dtype=np.bool_)
        gap[first[np.array(self.block_gap, dtype=np.bool_)]] = True
        t_dev, t = self.t_dev.take(), self.t.take()
        clock: dict[str, Any] = {
            "method": "online lower-envelope (convex hull) fit of receive time minus device "
                      "time, breathform.firmware_bridge.clock",
            "params": asdict(dec.clock_params),
            "online_drift_ppm": cs.fit_drift * 1e6,
            "n_observations": cs.n_obs,
            "n_resets": cs.n_resets,
        }
        clock.update(_linear_summary(t_dev, t))
        gyr = self.gyr.take() if self.info.has_gyro else None
        if gyr is not None and gyr.shape[0] != total:
            gyr = None  # a stream that did not carry the gyroscope after all
        return SensorStream(
            info=self.info, seq=seq, t_device_s=t_dev, t_s=t, acc_g=self.acc.take(),
            gyr_dps=gyr, gap=gap, clock=clock, n_packets=dec.n_packets,
            n_decode_errors=dec.n_decode_errors, n_samples_lost=dec.n_samples_lost)


def _linear_summary(t_dev: NDArray[np.float64], t: NDArray[np.float64]) -> dict[str, Any]:
    """Least-squares line t_s = t_s0 + (1 + drift) (t_device_s - t_device0_s), as a summary."""
    if t.size < 2:
        return {}
    x = t_dev - t_dev[0]
    y = t - x  # fit the small residual, not the 1:1 slope, for accuracy
    c1, c0 = np.polyfit(x, y, 1)
    res = y - (c0 + c1 * x)
    return {"t_device0_s": float(t_dev[0]), "t_s0": float(c0), "drift_ppm": float(c1 * 1e6),
            "rms_residual_s": float(np.sqrt(np.mean(res * res))),
            "max_abs_residual_s": float(np.max(np.abs(res)))}


def load_session(reader: SessionReader, progress: ProgressFn | None = None,
                 *, progress_every: int = 2000) -> SessionData:
    """Decode a stored session's raw packets into per-sensor streams.

    Args:
        reader: An open session.
        progress: Called with (packets done, packets total) now and then, or None.
        progress_every: Packets between two progress calls.

    Returns:
        The decoded streams plus the stored metrics, alerts, calibration and metadata.

    Raises:
        InputError: If the session lists no sensors.
    """
    info = reader.info
    if not info.sensors:
        raise InputError(f"session {info.session_id!r} lists no sensors: nothing to export")
    builders = {s.role: _StreamBuilder(s) for s in info.sensors}
    total = reader.n_raw()
    done = 0
    if progress is not None:
        progress(0, total)
    for pkt in reader.iter_raw():
        b = builders.get(pkt.sensor)
        if b is not None:
            b.feed(pkt)
        done += 1
        if progress is not None and done % progress_every == 0:
            progress(done, total)
    if progress is not None:
        progress(total, total)
    streams = {role: b.build() for role, b in builders.items()}
    hr_items = [h for b in builders.values() for h in b.hr]
    hr = None
    if hr_items:
        hr = HrStream(t_s=np.array([h.t_s for h in hr_items], dtype=np.float64),
                      hr_bpm=np.array([h.hr_bpm for h in hr_items], dtype=np.float64),
                      rr_ms=tuple(h.rr_ms for h in hr_items))
    return SessionData(meta=dict(reader.meta), sensors=info.sensors, streams=streams, hr=hr,
                       metrics=reader.metrics(), alerts=reader.alerts(),
                       calibration=reader.calibration(), events=reader.events(),
                       strides=reader.strides())


def session_duration_s(data: SessionData) -> float:
    """Last session time with data (samples or metrics), seconds."""
    ends = [float(s.t_s[-1]) for s in data.streams.values() if s.n]
    if data.metrics:
        ends.append(data.metrics[-1].t_s)
    return max(ends) if ends else 0.0


def finite_or_none(x: float) -> float | None:
    """``x``, or None when it is NaN or infinite (for JSON)."""
    return x if math.isfinite(x) else None
