"""Import recordings made with other tools as breathform sessions.

A recording becomes the raw packets its sensor would have sent, and those run through the
same decoders, DSP and alert rules as a live session, into a session file: ``replay``,
``report`` and ``export`` then treat it like any other.

- ``polar-sensor-logger``: the ACC export of the Polar Sensor Logger app becomes Polar H10
  PMD ACC frames (int16 mG, the file's own device timestamps): nothing is lost.
- ``generic-csv``: time + acceleration (+ angular rate) becomes packets of breathform's DIY
  profile (kind ``diy``): int16 at the smallest full scale that holds the data (e.g. 0.12 mg
  and 0.06 deg/s steps at 4 g / 2000 deg/s), one device time per packet of 19 samples.

A step between samples longer than 1.5 periods starts a new packet, so the decoders see
(and the session records) a gap; nothing is interpolated.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from breathform.errors import InputError
from breathform.firmware_bridge.devices import diy_profile, polar_h10
from breathform.importers.generic_csv import Recording
from breathform.importers.polar_sensor_logger import HrRecording
from breathform.model import RawPacket, SensorInfo

FORMATS = ("generic-csv", "polar-sensor-logger")
"""Formats ``breathform import`` reads."""

H10_SAMPLES_PER_FRAME = 36
DIY_SAMPLES_PER_PACKET = 19
_MAX_GAP_S = 1800.0  # DIY device time is u32 microseconds: packets must be < 35 min apart


@dataclass(frozen=True, slots=True)
class ImportedStream:
    """One sensor of an imported session.

    Attributes:
        info: What the session records about the sensor.
        packets: Its raw packets, in time order.
    """

    info: SensorInfo
    packets: tuple[RawPacket, ...]


def _runs(t_s: NDArray[np.float64], fs_hz: float, per: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of packets of up to ``per`` samples, never across a gap."""
    breaks = np.flatnonzero(np.diff(t_s) > 1.5 / fs_hz) + 1
    edges = [0, *breaks.tolist(), t_s.shape[0]]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        for i in range(a, b, per):
            yield i, min(i + per, b)


def _full_scale(values: NDArray[np.float64], ranges: tuple[float, ...], what: str,
                unit: str) -> int:
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    for code, r in enumerate(ranges):
        if peak < r * (32767 / 32768):
            return code
    raise InputError(f"{what} reaches {peak:g} {unit}, beyond the largest full scale "
                     f"({ranges[-1]:g} {unit}); check the unit flags")


def polar_stream(rec: Recording, role: str) -> ImportedStream:
    """Polar H10 PMD ACC frames from a Polar Sensor Logger recording.

    Raises:
        InputError: If the recording has no device timestamps and integer mG values.
    """
    if rec.device_t_ns is None or rec.acc_mg_int is None:
        raise InputError("a Polar stream needs the file's device timestamps and mG values")
    out = []
    for a, b in _runs(rec.t_s, rec.fs_hz, H10_SAMPLES_PER_FRAME):
        frame = polar_h10.encode_acc_frame(int(rec.device_t_ns[b - 1]), rec.acc_mg_int[a:b])
        out.append(RawPacket(float(rec.t_s[b - 1]), role, polar_h10.PMD_DATA_UUID, frame))
    info = SensorInfo(role, "polar_h10", rec.fs_hz, 8.0, False)
    return ImportedStream(info, tuple(out))


def diy_stream(rec: Recording, role: str) -> ImportedStream:
    """Breathform DIY-profile packets from any recording.

    Raises:
        InputError: If values exceed the profile's largest full scale, or two samples are
            more than 30 min apart.
    """
    gaps = np.diff(rec.t_s)
    if gaps.size and float(gaps.max()) > _MAX_GAP_S:
        i = int(np.argmax(gaps))
        raise InputError(f"a {gaps[i]:.0f}-s gap after t = {rec.t_s[i]:.3f} s; gaps longer "
                         f"than {_MAX_GAP_S:.0f} s are not supported: split the file there")
    acc_code = _full_scale(rec.acc_g, diy_profile.ACC_RANGE_G, "acceleration", "g")
    acc = diy_profile.quantize(rec.acc_g, diy_profile.ACC_RANGE_G[acc_code])
    gyr_code = 4
    gyr = None
    if rec.gyr_dps is not None:
        gyr_code = _full_scale(rec.gyr_dps, diy_profile.GYR_RANGE_DPS, "angular rate",
                               "deg/s")
        gyr = diy_profile.quantize(rec.gyr_dps, diy_profile.GYR_RANGE_DPS[gyr_code])
    t_us = np.rint(rec.t_s * 1e6).astype(np.int64)
    out = []
    for k, (a, b) in enumerate(_runs(rec.t_s, rec.fs_hz, DIY_SAMPLES_PER_PACKET)):
        payload = diy_profile.encode_data(k, int(t_us[a]), acc[a:b],
                                          None if gyr is None else gyr[a:b],
                                          acc_code=acc_code, gyr_code=gyr_code)
        out.append(RawPacket(float(rec.t_s[b - 1]), role, diy_profile.DATA_UUID, payload))
    info = SensorInfo(role, "diy", rec.fs_hz, diy_profile.ACC_RANGE_G[acc_code],
                      rec.gyr_dps is not None)
    return ImportedStream(info, tuple(out))


def hr_packets(hr: HrRecording, start_utc_ns: int, role: str = "chest"
               ) -> tuple[RawPacket, ...]:
    """Heart Rate Measurement notifications placed by phone time on the session's time line.

    Args:
        hr: The rows of an HR or RR export.
        start_utc_ns: Phone time of session time 0 (the ACC file's first row).
        role: The sensor they belong to.

    Returns:
        The notifications at or after session time 0 (earlier ones are left out).
    """
    out = []
    for t, bpm, rr in zip(hr.phone_utc_ns, hr.hr_bpm, hr.rr_ms, strict=True):
        t_s = (t - start_utc_ns) * 1e-9
        if t_s < 0:
            continue
        m = polar_h10.HrMeasurement(hr_bpm=min(bpm, 0xFFFF),
                                    rr_1024=tuple(min(round(v * 1.024), 0xFFFF) for v in rr))
        out.append(RawPacket(t_s, role, polar_h10.HR_MEASUREMENT_UUID,
                             polar_h10.encode_hr_measurement(m)))
    return tuple(out)


def to_stream(rec: Recording, fmt: str, role: str) -> ImportedStream:
    """The packets of a recording read in format ``fmt``.

    Raises:
        InputError: If the format is unknown or the recording does not fit it.
    """
    if fmt == "polar-sensor-logger":
        return polar_stream(rec, role)
    if fmt == "generic-csv":
        return diy_stream(rec, role)
    raise InputError(f"format must be one of {FORMATS}, got {fmt!r}")


def merge(streams: Sequence[ImportedStream]) -> list[RawPacket]:
    """All streams' packets in receive order (stable: ties keep the stream order)."""
    pk = [p for s in streams for p in s.packets]
    order = sorted(range(len(pk)), key=lambda i: pk[i].t_rx_s)
    return [pk[i] for i in order]


__all__ = ["FORMATS", "HrRecording", "ImportedStream", "Recording", "diy_stream", "hr_packets",
           "merge", "polar_stream", "to_stream"]
