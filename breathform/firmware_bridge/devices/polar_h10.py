"""Polar H10 chest strap: PMD data frames, Heart Rate Measurement and PMD control point.

Pure encode and decode, no I/O. Byte-level facts come from the official Polar BLE SDK
(polarofficial/polar-ble-sdk: ``PmdTimeStampUtils.kt``, ``AccData.kt`` and their unit tests)
and the Bluetooth SIG Heart Rate Service specification; see the project's SENSORS.md.

Every malformed packet raises :class:`~breathform.errors.DecodeError`; bad arguments given
by the caller (an impossible sample rate, samples that do not fit the frame type) raise
:class:`~breathform.errors.InputError`.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from breathform.errors import DecodeError, InputError

# --------------------------------------------------------------------------- UUIDs

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
"""Polar Measurement Data service."""
PMD_CP_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
"""PMD control point: read (feature bitmap), write with response, indicate (responses)."""
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
"""PMD data: notify (ECG, ACC ... frames, split on byte 0)."""
HR_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
"""Standard Heart Rate service (0x180D on the Bluetooth base UUID)."""
HR_MEASUREMENT_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
"""Standard Heart Rate Measurement characteristic (notify)."""
HR_MEASUREMENT_UUID_LEGACY = "00002a37-0000-1000-8000-00805f9a34fb"
"""A misspelt base UUID that sessions recorded before the fix carry; decoded as heart rate."""
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
"""Standard Battery Level characteristic."""

# --------------------------------------------------------------------------- PMD data


class MeasurementType(IntEnum):
    """PMD measurement types (low 6 bits of byte 0 of a data frame)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6


FRAME_INT8 = 0x00
FRAME_INT16 = 0x01
FRAME_INT24 = 0x02
FRAME_DELTA = 0x80
"""Bit 7 of the frame type: the payload is delta compressed."""

_RAW_BYTES: dict[int, int] = {FRAME_INT8: 1, FRAME_INT16: 2, FRAME_INT24: 3}
_DELTA_TYPES = (0x80, 0x81)
_HEADER_LEN = 10
_MAX_DELTA_BITS = 32


@dataclass(frozen=True, slots=True)
class PmdFrame:
    """One decoded PMD data frame.

    Attributes:
        measurement_type: Low 6 bits of byte 0 (2 = ACC, see :class:`MeasurementType`).
        timestamp_ns: Sensor time of the LAST sample, ns since 2000-01-01 in sensor time.
        frame_type: Byte 9 as sent (bit 7 set = delta compressed).
        samples: Integer samples in device units (mG for H10 ACC) before any factor,
            shape (n, channels), dtype int64.
    """

    measurement_type: int
    timestamp_ns: int
    frame_type: int
    samples: NDArray[np.int64]

    @property
    def n(self) -> int:
        """Number of samples in the frame."""
        return int(self.samples.shape[0])


def pmd_measurement_type(data: bytes) -> int:
    """Measurement type of a PMD data frame, without decoding the rest.

    Args:
        data: A notification from the PMD data characteristic.

    Returns:
        The low 6 bits of byte 0.

    Raises:
        DecodeError: If data is empty.
    """
    if len(data) == 0:
        raise DecodeError(None, "PMD data frame is empty, expected at least 10 bytes")
    return data[0] & 0x3F


def _default_channels(mtype: int, channels: int | None) -> int:
    if channels is not None:
        if not 1 <= channels <= 16:
            raise InputError(f"channels must be in 1..16, got {channels}")
        return channels
    if mtype in (MeasurementType.ACC, MeasurementType.GYRO, MeasurementType.MAG):
        return 3
    raise DecodeError(None, f"PMD measurement type {mtype} needs an explicit channel count; "
                            "only ACC, GYRO and MAG default to 3 channels")


def _sign_extend(v: NDArray[np.int64], bits: int) -> NDArray[np.int64]:
    """Interpret the low ``bits`` bits of non-negative v as two's complement."""
    half = np.int64(1) << np.int64(bits - 1)
    return (v ^ half) - half


def _decode_raw(payload: bytes, width: int, ch: int) -> NDArray[np.int64]:
    stride = width * ch
    if len(payload) == 0:
        raise DecodeError(None, "PMD frame has no samples (payload is empty)")
    if len(payload) % stride:
        raise DecodeError(None, f"PMD raw payload length {len(payload)} is not a multiple of "
                                f"{stride} ({ch} channels x {width} bytes)")
    if width == 1:
        flat = np.frombuffer(payload, dtype="<i1").astype(np.int64)
    elif width == 2:
        flat = np.frombuffer(payload, dtype="<i2").astype(np.int64)
    else:
        b = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3).astype(np.int64)
        flat = _sign_extend(b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16), 24)
    return flat.reshape(-1, ch)


def _unpack_deltas(packed: bytes, w: int, count: int) -> NDArray[np.int64]:
    """Read ``count`` w-bit two's complement values from one LSB-first bitstream."""
    raw_bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), bitorder="little")
    bits = raw_bits[: count * w].reshape(count, w).astype(np.int64)
    vals: NDArray[np.int64] = bits @ (np.int64(1) << np.arange(w, dtype=np.int64))
    return _sign_extend(vals, w)


def _decode_delta(payload: bytes, ch: int, resolution_bits: int) -> NDArray[np.int64]:
    ref_bytes = (resolution_bits + 7) // 8
    ref_len = ch * ref_bytes
    if len(payload) < ref_len:
        raise DecodeError(None, f"PMD delta frame too short for its reference sample: "
                                f"payload {len(payload)} bytes, need {ref_len} "
                                f"({ch} channels x {ref_bytes} bytes)")
    rb = np.frombuffer(payload[:ref_len], dtype=np.uint8).reshape(ch, ref_bytes)
    ref = np.zeros(ch, dtype=np.int64)
    for k in range(ref_bytes):
        ref |= rb[:, k].astype(np.int64) << np.int64(8 * k)
    ref &= (np.int64(1) << np.int64(resolution_bits)) - 1
    ref = _sign_extend(ref, resolution_bits)
    parts: list[NDArray[np.int64]] = [ref[None, :]]
    pos = ref_len
    while pos < len(payload):
        if pos + 2 > len(payload):
            raise DecodeError(None, f"PMD delta block header truncated at byte {pos}: need "
                                    "2 bytes (bit width, sample count), 1 left")
        w, n = payload[pos], payload[pos + 1]
        pos += 2
        nbytes = (w * n * ch + 7) // 8
        if pos + nbytes > len(payload):
            raise DecodeError(None, f"PMD delta block truncated: width {w} bits x {n} samples "
                                    f"x {ch} channels needs {nbytes} bytes, "
                                    f"{len(payload) - pos} left")
        if w > _MAX_DELTA_BITS:
            raise DecodeError(None, f"PMD delta block bit width {w} exceeds "
                                    f"{_MAX_DELTA_BITS}")
        if w == 0 or n == 0:
            pos += nbytes  # an empty block carries no samples (SENSORS.md: skipped)
            continue
        deltas = _unpack_deltas(payload[pos:pos + nbytes], w, n * ch).reshape(n, ch)
        pos += nbytes
        block = parts[-1][-1] + np.cumsum(deltas, axis=0)
        parts.append(block)
    return np.concatenate(parts, axis=0)


def decode_pmd_frame(data: bytes, *, resolution_bits: int = 16,
                     channels: int | None = None) -> PmdFrame:
    """Decode one notification from the PMD data characteristic.

    Supports raw frame types 0x00 (int8), 0x01 (int16, what the H10 sends for ACC) and 0x02
    (int24), and delta-compressed 0x80/0x81: a reference sample (channels x
    ceil(resolution_bits/8) bytes) followed by blocks ``[w u8][n u8][ceil(w*n*ch/8) bytes]``
    whose bytes are one little-endian bitstream of w-bit two's complement deltas, sample-major
    then channel. Blocks with w = 0 are skipped.

    Args:
        data: The notification bytes.
        resolution_bits: Sample resolution from the stream settings; sets the size of the
            reference sample of a delta frame. Ignored for raw frames.
        channels: Channels per sample; defaults to 3 for ACC, GYRO and MAG.

    Returns:
        The decoded frame, samples in device units (int64, shape (n, channels)).

    Raises:
        DecodeError: If the frame is short, has an unknown frame type, a payload length that
            does not fit, or a truncated delta block.
        InputError: If resolution_bits or channels are out of range.
    """
    if not 1 <= resolution_bits <= 32:
        raise InputError(f"resolution_bits must be in 1..32, got {resolution_bits}")
    if len(data) < _HEADER_LEN:
        raise DecodeError(None, f"PMD data frame too short: {len(data)} bytes, expected at "
                                f"least {_HEADER_LEN} (type, u64 timestamp, frame type)")
    mtype = data[0] & 0x3F
    ts = int.from_bytes(data[1:9], "little")
    if ts >= 2**63:
        raise DecodeError(None, f"PMD timestamp {ts} ns does not fit int64 (year > 2292); "
                                "expected ns since 2000-01-01")
    ftype = data[9]
    ch = _default_channels(mtype, channels)
    payload = bytes(data[_HEADER_LEN:])
    if ftype in _RAW_BYTES:
        samples = _decode_raw(payload, _RAW_BYTES[ftype], ch)
    elif ftype in _DELTA_TYPES:
        samples = _decode_delta(payload, ch, resolution_bits)
    else:
        raise DecodeError(None, f"unknown PMD frame type 0x{ftype:02x}, expected one of "
                                "0x00, 0x01, 0x02, 0x80, 0x81")
    return PmdFrame(measurement_type=mtype, timestamp_ns=ts, frame_type=ftype, samples=samples)


def decode_raw_acc_frames(frames: Sequence[bytes]
                          ) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """Decode a run of alike raw ACC frames at once: what :func:`decode_pmd_frame` gives.

    For a steady stream: frames of one length, each an ACC measurement (3 channels) of
    one raw frame type, 0x00 (int8) or 0x01 (int16, what the H10 sends), carrying at
    least one sample and a timestamp that fits int64.

    Args:
        frames: Notifications from the PMD data characteristic.

    Returns:
        (timestamp of each frame's last sample in ns, shape (m,); samples in device
        units, shape (m, n, 3)), both int64, the values ``decode_pmd_frame`` gives for
        each frame; or None if the frames are not all like that (decode them one by one).
    """
    if not frames:
        return None
    size = len(frames[0])
    if size <= _HEADER_LEN:
        return None
    ftype = frames[0][9]
    width = _RAW_BYTES[ftype] if ftype in (FRAME_INT8, FRAME_INT16) else 0
    if not width or (size - _HEADER_LEN) % (3 * width) or set(map(len, frames)) != {size}:
        return None
    n = (size - _HEADER_LEN) // (3 * width)
    rec = np.frombuffer(b"".join(frames), dtype=np.dtype([
        ("type", "u1"), ("ts", "<u8"), ("ftype", "u1"), ("samples", f"<i{width}", (n, 3))]))
    ts = rec["ts"]
    if not (bool(((rec["type"] & 0x3F) == MeasurementType.ACC).all())
            and bool((rec["ftype"] == ftype).all()) and not bool((ts >> np.uint64(63)).any())):
        return None
    return ts.astype(np.int64), rec["samples"].astype(np.int64)


def _check_samples(samples: NDArray[np.integer] | NDArray[np.floating], name: str
                   ) -> NDArray[np.int64]:
    arr = np.asarray(samples)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1:
        raise InputError(f"{name} must have shape (n, 3) with n >= 1, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
            raise InputError(f"{name} must hold integers, got dtype {arr.dtype} with "
                             "non-integer values")
    return arr.astype(np.int64)


def _header(mtype: int, timestamp_ns: int, frame_type: int) -> bytes:
    if not 0 <= timestamp_ns < 2**64:
        raise InputError(f"timestamp_ns must fit in u64, got {timestamp_ns}")
    return bytes([mtype]) + timestamp_ns.to_bytes(8, "little") + bytes([frame_type])


def encode_acc_frame(timestamp_ns: int, samples_mg: NDArray[np.integer],
                     frame_type: int = FRAME_INT16) -> bytes:
    """Encode a raw (not delta-compressed) ACC data frame as an H10 sends it.

    Args:
        timestamp_ns: Sensor time of the last sample, ns since 2000-01-01.
        samples_mg: Integer samples in mG, shape (n, 3), n >= 1.
        frame_type: 0x00 (int8), 0x01 (int16) or 0x02 (int24).

    Returns:
        The notification bytes.

    Raises:
        InputError: If frame_type is not raw, the samples are not (n, 3) integers or do
            not fit the frame type's width, or the timestamp does not fit in u64.
    """
    if frame_type not in _RAW_BYTES:
        raise InputError(f"frame_type must be 0x00, 0x01 or 0x02, got 0x{frame_type:02x}")
    arr = _check_samples(samples_mg, "samples_mg")
    width = _RAW_BYTES[frame_type]
    lim = 1 << (8 * width - 1)
    if arr.min() < -lim or arr.max() >= lim:
        raise InputError(f"samples_mg must fit in int{8 * width} for frame type "
                         f"0x{frame_type:02x}, got range [{arr.min()}, {arr.max()}]")
    if width == 3:
        body = (arr.reshape(-1).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]).tobytes()
    else:
        body = arr.astype(f"<i{width}").tobytes()
    return _header(MeasurementType.ACC, timestamp_ns, frame_type) + body


def _bits_needed(d: NDArray[np.int64]) -> int:
    """Smallest two's complement width holding every value of d (at least 1)."""
    def width(v: int) -> int:
        return (v if v >= 0 else -v - 1).bit_length() + 1
    return max(1, width(int(d.min())), width(int(d.max()))) if d.size else 1


def _pack_deltas(vals: NDArray[np.int64], w: int) -> bytes:
    masked = vals & ((np.int64(1) << np.int64(w)) - 1)
    bits = ((masked[:, None] >> np.arange(w, dtype=np.int64)) & 1).astype(np.uint8)
    return np.packbits(bits.reshape(-1), bitorder="little").tobytes()


def encode_delta_acc_frame(timestamp_ns: int, samples: NDArray[np.integer], *,
                           frame_type: int = 0x81, resolution_bits: int = 16,
                           block_lengths: Sequence[int] | None = None) -> bytes:
    """Encode a delta-compressed ACC frame (0x80/0x81), the inverse of the decoder.

    The first sample is the reference; the remaining n-1 samples are split into blocks
    (``block_lengths``, default: blocks of up to 255 samples), each packed with the
    smallest bit width that holds its deltas.

    Args:
        timestamp_ns: Sensor time of the last sample, ns since 2000-01-01.
        samples: Integer samples in device units, shape (n, 3), n >= 1.
        frame_type: 0x80 or 0x81.
        resolution_bits: Resolution of the reference sample (1..32 bits).
        block_lengths: Samples per block, positive, each <= 255, summing to n - 1.

    Returns:
        The notification bytes.

    Raises:
        InputError: If an argument is out of range, the reference sample does not fit in
            resolution_bits or a delta needs more than 32 bits.
    """
    if frame_type not in _DELTA_TYPES:
        raise InputError(f"frame_type must be 0x80 or 0x81, got 0x{frame_type:02x}")
    if not 1 <= resolution_bits <= 32:
        raise InputError(f"resolution_bits must be in 1..32, got {resolution_bits}")
    arr = _check_samples(samples, "samples")
    lim = 1 << (resolution_bits - 1)
    if arr[0].min() < -lim or arr[0].max() >= lim:
        raise InputError(f"reference sample {arr[0].tolist()} does not fit in "
                         f"{resolution_bits} signed bits")
    n_d = arr.shape[0] - 1
    if block_lengths is None:
        block_lengths = [min(255, n_d - i) for i in range(0, n_d, 255)]
    lens = [int(b) for b in block_lengths]
    if any(not 1 <= b <= 255 for b in lens) or sum(lens) != n_d:
        raise InputError(f"block_lengths must be in 1..255 and sum to n - 1 = {n_d}, "
                         f"got {lens}")
    ref_bytes = (resolution_bits + 7) // 8
    ref_u = arr[0] & ((np.int64(1) << np.int64(8 * ref_bytes)) - 1)
    out = bytearray(_header(MeasurementType.ACC, timestamp_ns, frame_type))
    for v in ref_u.tolist():
        out += int(v).to_bytes(ref_bytes, "little")
    deltas = np.diff(arr, axis=0)
    pos = 0
    for b in lens:
        d = deltas[pos:pos + b]
        pos += b
        w = _bits_needed(d)
        if w > _MAX_DELTA_BITS:
            raise InputError(f"deltas need {w} bits, more than {_MAX_DELTA_BITS}")
        out += bytes([w, b]) + _pack_deltas(d.reshape(-1), w)
    return bytes(out)


@functools.lru_cache(maxsize=64)
def _first_frame_offsets(n: int, fs_hz: float) -> tuple[int, ...]:
    """round((n-1-i) * 1e9 / fs_hz) for i = 0..n-1, exactly, half to even."""
    delta = Fraction(10**9) / Fraction(fs_hz)
    # t_i = ts - (n-1-i)Δ exactly; round(Fraction) rounds half to even.
    return tuple(round(k * delta) for k in range(n - 1, -1, -1))


@functools.lru_cache(maxsize=64)
def _one_to(n: int) -> NDArray[np.int64]:
    k = np.arange(1, n + 1, dtype=np.int64)
    k.setflags(write=False)
    return k


@functools.lru_cache(maxsize=1024)
def _rounded_fractions(n: int, rem: int, q_odd: int) -> NDArray[np.int64]:
    """c_k = round(k Q + k rem / n) - k Q for k = 1..n (half to even), given Q's parity.

    Args:
        n: Samples in the frame, >= 1.
        rem: Remainder of the frame span divided by n, in [0, n).
        q_odd: Parity of the quotient Q (0 or 1); it decides ties.

    Returns:
        Read-only int64 array, shape (n,).
    """
    k = _one_to(n)
    fl, r = np.divmod(k * rem, n)
    # a tie (2 r == n) goes to the even one of k Q + fl and k Q + fl + 1
    odd = (fl + k * q_odd) & 1
    c: NDArray[np.int64] = fl + (2 * r + odd > n)
    c.setflags(write=False)
    return c


def sample_times_ns(timestamp_ns: int, n: int, fs_hz: float,
                    prev_timestamp_ns: int | None) -> NDArray[np.int64]:
    """Per-sample sensor times of a frame, as the Polar SDK computes them.

    First frame (no previous timestamp): Δ = 1e9/fs, t0 = ts - Δ(n-1). Later frames:
    Δ = (ts - prev)/n, t0 = prev + Δ. Then t_i = round(t0 + iΔ), half to even, and the last
    sample is ts exactly (``PmdTimeStampUtils.getTimeStamps`` in the Polar BLE SDK). The SDK
    marks "no previous frame" with prev = 0; here that is ``None``. Unlike the SDK (which
    rounds float64 values of ~6e17 ns to ~128 ns), this computes with exact rationals.

    Args:
        timestamp_ns: Sensor time of the frame's last sample, ns.
        n: Number of samples in the frame, >= 1.
        fs_hz: Nominal sample rate, used only for a first frame.
        prev_timestamp_ns: Timestamp of the previous frame of the same stream, or None for
            a first frame (or the first frame after a gap).

    Returns:
        Sample times in ns, shape (n,), int64, the last equal to timestamp_ns.

    Raises:
        InputError: If n < 1, fs_hz <= 0, a timestamp is outside [0, 2**63), or
            prev_timestamp_ns >= timestamp_ns.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    if not 0 <= timestamp_ns < 2**63:
        raise InputError(f"timestamp_ns must be in [0, 2**63), got {timestamp_ns}")
    if prev_timestamp_ns is None:
        if not (math.isfinite(fs_hz) and fs_hz > 0):
            raise InputError(f"fs_hz must be finite and > 0, got {fs_hz}")
        offs = _first_frame_offsets(n, fs_hz)
        return np.array([timestamp_ns - o for o in offs], dtype=np.int64)
    span = timestamp_ns - prev_timestamp_ns
    if prev_timestamp_ns < 0 or span <= 0:
        raise InputError(f"prev_timestamp_ns ({prev_timestamp_ns}) must be in "
                         f"[0, timestamp_ns={timestamp_ns})")
    if span < 2**62 // max(n, 1):
        # span = n Q + rem gives k span / n = k Q + k rem / n: the rounded part depends only
        # on (n, rem, parity of Q), so it is cached; everything stays exact in int64
        q, rem = divmod(span, n)
        out: NDArray[np.int64] = _one_to(n) * q
        out += _rounded_fractions(n, rem, q & 1)
        out += prev_timestamp_ns
        return out
    vals = [prev_timestamp_ns + round(Fraction(i * span, n)) for i in range(1, n + 1)]
    return np.array(vals, dtype=np.int64)


def sample_times_ns_many(timestamps_ns: NDArray[np.int64], n: int,
                         prev_timestamps_ns: NDArray[np.int64]) -> NDArray[np.int64]:
    """:func:`sample_times_ns` of frames that each have a previous frame, all at once.

    Args:
        timestamps_ns: Sensor time of each frame's last sample, ns, shape (m,).
        n: Samples in every frame, >= 1.
        prev_timestamps_ns: Timestamp of the frame before each, shape (m,).

    Returns:
        Sample times in ns, shape (m, n), int64: row k is
        ``sample_times_ns(timestamps_ns[k], n, fs_hz, prev_timestamps_ns[k])``.

    Raises:
        InputError: If n < 1, the shapes differ, or a previous timestamp is not in
            [0, its frame's timestamp).
    """
    ts = np.asarray(timestamps_ns, dtype=np.int64)
    prev = np.asarray(prev_timestamps_ns, dtype=np.int64)
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    if ts.ndim != 1 or prev.shape != ts.shape:
        raise InputError(f"timestamps_ns and prev_timestamps_ns must have the same shape "
                         f"(m,), got {ts.shape} and {prev.shape}")
    span = ts - prev
    if bool((prev < 0).any()) or bool((span <= 0).any()):
        raise InputError("every prev_timestamps_ns must be in [0, its timestamps_ns)")
    # as sample_times_ns: span = n Q + rem, and the rounded part c_k of k span / n
    # (_rounded_fractions, here for every frame's rem and parity of Q at once)
    big = span >= 2**62 // n
    q, rem = np.divmod(np.where(big, 0, span), n)
    k = _one_to(n)[None, :]
    fl, r = np.divmod(k * rem[:, None], n)
    odd = (fl + k * (q & 1)[:, None]) & 1
    out: NDArray[np.int64] = k * q[:, None]
    out += fl + (2 * r + odd > n)
    out += prev[:, None]
    for j in np.flatnonzero(big).tolist():  # spans beyond int64's exact path: one by one
        out[j] = sample_times_ns(int(ts[j]), n, 1.0, int(prev[j]))
    return out


# --------------------------------------------------------------------------- heart rate


@dataclass(frozen=True, slots=True)
class HrMeasurement:
    """A decoded Heart Rate Measurement (0x2A37) notification.

    Attributes:
        hr_bpm: Heart rate, beats per minute.
        rr_1024: RR intervals in 1/1024 s, oldest first (may be empty).
        contact_supported: The sensor reports skin contact.
        contact_detected: Skin contact detected (meaningful only if supported).
        energy_expended_kj: Energy expended field, kJ, or None when absent.
    """

    hr_bpm: int
    rr_1024: tuple[int, ...] = ()
    contact_supported: bool = False
    contact_detected: bool = False
    energy_expended_kj: int | None = None

    @property
    def rr_ms(self) -> tuple[float, ...]:
        """RR intervals converted to milliseconds."""
        return tuple(v * 1000.0 / 1024.0 for v in self.rr_1024)


def decode_hr_measurement(data: bytes) -> HrMeasurement:
    """Decode a Heart Rate Measurement notification (Bluetooth SIG 0x2A37).

    Args:
        data: The notification bytes: flags, HR (u8 or u16), optional energy (u16),
            optional RR intervals (u16 each, 1/1024 s).

    Returns:
        The decoded measurement.

    Raises:
        DecodeError: If the notification is shorter than its flags require or the RR
            field has an odd number of bytes.
    """
    if len(data) < 2:
        raise DecodeError(None, f"HR measurement too short: {len(data)} bytes, expected >= 2")
    flags = data[0]
    pos = 1
    if flags & 0x01:
        if len(data) < 3:
            raise DecodeError(None, "HR measurement flags say uint16 HR but only "
                                    f"{len(data)} bytes arrived, expected >= 3")
        hr = data[1] | (data[2] << 8)
        pos = 3
    else:
        hr = data[1]
        pos = 2
    energy: int | None = None
    if flags & 0x08:
        if len(data) < pos + 2:
            raise DecodeError(None, "HR measurement flags say energy expended is present "
                                    f"but it is truncated ({len(data)} bytes)")
        energy = data[pos] | (data[pos + 1] << 8)
        pos += 2
    rr: tuple[int, ...] = ()
    if flags & 0x10:
        rest = len(data) - pos
        if rest % 2:
            raise DecodeError(None, f"HR measurement RR field has {rest} bytes, expected an "
                                    "even number (u16 values)")
        rr = tuple(struct.unpack(f"<{rest // 2}H", bytes(data[pos:])))
    return HrMeasurement(hr_bpm=hr, rr_1024=rr, contact_supported=bool(flags & 0x04),
                         contact_detected=bool(flags & 0x02), energy_expended_kj=energy)


def encode_hr_measurement(m: HrMeasurement, *, hr_uint16: bool | None = None) -> bytes:
    """Encode a Heart Rate Measurement notification.

    Args:
        m: What to encode.
        hr_uint16: Force the uint16 HR format (default: only when hr_bpm > 255).

    Returns:
        The notification bytes.

    Raises:
        InputError: If a field does not fit its wire format.
    """
    if not 0 <= m.hr_bpm <= 0xFFFF:
        raise InputError(f"hr_bpm must be in 0..65535, got {m.hr_bpm}")
    wide = m.hr_bpm > 255 if hr_uint16 is None else hr_uint16
    if not wide and m.hr_bpm > 255:
        raise InputError(f"hr_bpm {m.hr_bpm} does not fit uint8; use hr_uint16=True")
    if any(not 0 <= v <= 0xFFFF for v in m.rr_1024):
        raise InputError(f"rr_1024 values must be in 0..65535, got {m.rr_1024}")
    flags = ((0x01 if wide else 0) | (0x02 if m.contact_detected else 0)
             | (0x04 if m.contact_supported else 0)
             | (0x08 if m.energy_expended_kj is not None else 0)
             | (0x10 if m.rr_1024 else 0))
    out = bytearray([flags])
    out += m.hr_bpm.to_bytes(2 if wide else 1, "little")
    if m.energy_expended_kj is not None:
        if not 0 <= m.energy_expended_kj <= 0xFFFF:
            raise InputError(f"energy_expended_kj must be in 0..65535, "
                             f"got {m.energy_expended_kj}")
        out += m.energy_expended_kj.to_bytes(2, "little")
    out += struct.pack(f"<{len(m.rr_1024)}H", *m.rr_1024)
    return bytes(out)


# --------------------------------------------------------------------------- control point


class CpOpcode(IntEnum):
    """PMD control point opcodes."""

    GET_SETTINGS = 0x01
    START = 0x02
    STOP = 0x03
    GET_STATUS = 0x05


class CpStatus(IntEnum):
    """Status codes of a PMD control point response."""

    SUCCESS = 0
    INVALID_OPCODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


class SettingType(IntEnum):
    """PMD setting TLV types."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5


_SETTING_FMT: dict[int, str] = {0: "<H", 1: "<H", 2: "<H", 3: "<I", 4: "<B", 5: "<f"}

H10_ACC_RATES_HZ = (25, 50, 100, 200)
H10_ACC_RANGES_G = (2, 4, 8)


class PmdControlPointError(DecodeError):
    """The sensor answered a control point command with a non-zero status."""

    def __init__(self, opcode: int, measurement_type: int, status: int) -> None:
        try:
            name = CpStatus(status).name
        except ValueError:
            name = "UNKNOWN"
        super().__init__(None, f"PMD control point opcode {opcode} type {measurement_type} "
                               f"failed: status {status} ({name}), expected 0 (SUCCESS)")
        self.opcode, self.measurement_type, self.status = opcode, measurement_type, status


@dataclass(frozen=True, slots=True)
class CpResponse:
    """A PMD control point response (``F0 op type status more params...``).

    Attributes:
        opcode: The command it answers.
        measurement_type: Measurement type of the command.
        status: 0 on success, see :class:`CpStatus`.
        more: More response frames follow.
        params: The bytes after the 5-byte header.
    """

    opcode: int
    measurement_type: int
    status: int
    more: bool
    params: bytes

    @property
    def ok(self) -> bool:
        """True when status is SUCCESS."""
        return self.status == CpStatus.SUCCESS

    @property
    def status_name(self) -> str:
        """Name of the status code, "UNKNOWN" for codes outside the table."""
        try:
            return CpStatus(self.status).name
        except ValueError:
            return "UNKNOWN"

    def raise_for_status(self) -> None:
        """Raise if the sensor reported an error.

        Raises:
            PmdControlPointError: If status is not SUCCESS.
        """
        if not self.ok:
            raise PmdControlPointError(self.opcode, self.measurement_type, self.status)


@dataclass(frozen=True, slots=True)
class CpStreamsStopped:
    """Unsolicited control point message ``01 <types...>``: the sensor stopped streams.

    Attributes:
        measurement_types: The measurement types it stopped.
    """

    measurement_types: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PmdSetting:
    """One setting TLV: its type and its values (the choices offered, or the one chosen).

    Attributes:
        setting_type: See :class:`SettingType`.
        values: The values, ints (FACTOR: floats).
    """

    setting_type: int
    values: tuple[float, ...]


def _tlv(setting: int, value: int) -> bytes:
    return bytes([setting, 1]) + struct.pack(_SETTING_FMT[setting], value)


def get_settings_command(measurement_type: int = MeasurementType.ACC) -> bytes:
    """Build "get measurement settings" (``01 <type>``).

    Args:
        measurement_type: PMD measurement type (default ACC).

    Returns:
        The bytes to write to the control point.
    """
    return bytes([CpOpcode.GET_SETTINGS, measurement_type & 0x3F])


def start_acc_command(rate_hz: int, range_g: int, resolution: int = 16) -> bytes:
    """Build the H10 "start ACC stream" command.

    Args:
        rate_hz: Sample rate, one of 25, 50, 100, 200.
        range_g: Full scale, one of 2, 4, 8 g.
        resolution: Sample resolution in bits (the H10 offers 16).

    Returns:
        The bytes to write to the control point, e.g. ``02 02 00 01 C8 00 01 01 10 00
        02 01 08 00`` for 200 Hz, 16 bit, 8 g.

    Raises:
        InputError: If a value is not one the H10 offers.
    """
    if rate_hz not in H10_ACC_RATES_HZ:
        raise InputError(f"rate_hz must be one of {H10_ACC_RATES_HZ}, got {rate_hz}")
    if range_g not in H10_ACC_RANGES_G:
        raise InputError(f"range_g must be one of {H10_ACC_RANGES_G}, got {range_g}")
    if not 1 <= resolution <= 32:
        raise InputError(f"resolution must be in 1..32 bits, got {resolution}")
    return (bytes([CpOpcode.START, MeasurementType.ACC]) + _tlv(SettingType.SAMPLE_RATE, rate_hz)
            + _tlv(SettingType.RESOLUTION, resolution) + _tlv(SettingType.RANGE, range_g))


def stop_acc_command() -> bytes:
    """Build the "stop ACC stream" command (``03 02``).

    Returns:
        The bytes to write to the control point.
    """
    return bytes([CpOpcode.STOP, MeasurementType.ACC])


def parse_cp_response(data: bytes) -> CpResponse | CpStreamsStopped:
    """Parse a PMD control point indication.

    Args:
        data: The indication bytes.

    Returns:
        A :class:`CpResponse` for ``F0 ...`` frames, or :class:`CpStreamsStopped` for the
        unsolicited ``01 <types...>`` message. Call ``raise_for_status`` on a response to
        turn a failure into an error.

    Raises:
        DecodeError: If the message is empty, truncated or of an unknown kind.
    """
    if len(data) == 0:
        raise DecodeError(None, "PMD control point message is empty")
    if data[0] == 0xF0:
        if len(data) < 5:
            raise DecodeError(None, f"PMD control point response too short: {len(data)} "
                                    "bytes, expected >= 5 (F0 op type status more)")
        return CpResponse(opcode=data[1], measurement_type=data[2] & 0x3F, status=data[3],
                          more=bool(data[4]), params=bytes(data[5:]))
    if data[0] == 0x01:
        return CpStreamsStopped(measurement_types=tuple(b & 0x3F for b in data[1:]))
    raise DecodeError(None, f"unknown PMD control point message 0x{data[0]:02x}, expected "
                            "0xF0 (response) or 0x01 (streams stopped)")


def parse_settings(params: bytes) -> tuple[PmdSetting, ...]:
    """Parse setting TLVs, e.g. the params of a "get settings" response.

    Args:
        params: ``[setting u8][count u8][value LE x count]...``.

    Returns:
        One :class:`PmdSetting` per TLV, in order.

    Raises:
        DecodeError: If a TLV is truncated or of an unknown setting type.
    """
    out: list[PmdSetting] = []
    pos = 0
    while pos < len(params):
        if pos + 2 > len(params):
            raise DecodeError(None, f"PMD setting TLV header truncated at byte {pos}")
        st, count = params[pos], params[pos + 1]
        pos += 2
        fmt = _SETTING_FMT.get(st)
        if fmt is None:
            raise DecodeError(None, f"unknown PMD setting type {st}, expected one of "
                                    f"{sorted(_SETTING_FMT)}")
        size = struct.calcsize(fmt)
        if pos + size * count > len(params):
            raise DecodeError(None, f"PMD setting {st} truncated: {count} values of {size} "
                                    f"bytes, {len(params) - pos} bytes left")
        vals = tuple(struct.unpack_from(fmt, params, pos + i * size)[0] for i in range(count))
        pos += size * count
        out.append(PmdSetting(setting_type=st, values=vals))
    return tuple(out)


def start_response_factor(params: bytes) -> float | None:
    """The ACC factor a "start measurement" response carries, if any.

    The strap answers a start with the settings in force, which may include a factor TLV
    ``05 01 <f32>`` to multiply decoded samples by (SENSORS.md). Some firmware puts one
    byte before the TLVs; both layouts are read.

    Args:
        params: The response bytes after the 5-byte header.

    Returns:
        The factor, or None when the response carries none (or no valid one: it must be
        finite and > 0).
    """
    for body in (params, params[1:]):
        try:
            settings = parse_settings(body)
        except DecodeError:
            continue
        for s in settings:
            if s.setting_type == SettingType.FACTOR and s.values:
                f = float(s.values[0])
                return f if math.isfinite(f) and f > 0 else None
        return None
    return None


def parse_features(data: bytes) -> frozenset[int]:
    """Parse the feature bitmap read from the control point (``0F b1 b2 ...``).

    Args:
        data: The bytes read from the control point.

    Returns:
        The measurement types the sensor offers (a real H10 gives {ECG, ACC}).

    Raises:
        DecodeError: If the first byte is not 0x0F.
    """
    if len(data) < 2 or data[0] != 0x0F:
        raise DecodeError(None, f"PMD feature read must start with 0x0F and have >= 2 bytes, "
                                f"got {bytes(data[:4]).hex()}")
    return frozenset(i * 8 + b for i, byte in enumerate(data[1:]) for b in range(8)
                     if byte >> b & 1)
