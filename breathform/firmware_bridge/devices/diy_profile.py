"""breathform's open GATT profile for DIY IMU boards (nRF52840, ESP32 + a 6-axis IMU).

Pure encode and decode, no I/O. The byte tables, UUIDs, example packets and a suggested
firmware loop are in ``hardware/README.md`` ("DIY board profile"); this module is the
reference implementation of that text.

- Service ``bf010001-5b3a-4c1e-9d57-627265617468``; data ``bf010002-...`` (notify);
  config ``bf010003-...`` (read only). The 128-bit base ends in ASCII "breath".
- Data notification (little endian), 10-byte header then the samples::

      0  u8   version (1)
      1  u8   flags: bit 0 = gyroscope present; other bits 0
      2  u8   ranges: bits 0-3 acc range code, bits 4-7 gyro range code
      3  u8   n, samples in this packet (>= 1)
      4  u16  seq: packet counter, +1 per packet, wraps 65535 -> 0
      6  u32  t_us: device time of the FIRST sample, microseconds, free running (wraps)
     10  n x (ax ay az [gx gy gz]) int16

  acc in g = raw * ACC_RANGE_G[code] / 32768; gyro in deg/s = raw * GYR_RANGE_DPS[code] /
  32768. Each packet carries its range codes, so it decodes on its own.
- Config (read, 16 bytes)::

      0  u8   version (1)
      1  u8   flags: bit 0 = gyroscope present
      2  u16  sample rate, Hz
      4  u8   acc range code      5  u8  gyro range code
      6  f32  acc g per LSB      10  f32  gyro deg/s per LSB (range / 32768)
     14  u8   samples per packet (maximum)
     15  u8   battery percent (0..100, 255 = unknown)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from breathform.errors import DecodeError, InputError

SERVICE_UUID = "bf010001-5b3a-4c1e-9d57-627265617468"
"""breathform DIY IMU service."""
DATA_UUID = "bf010002-5b3a-4c1e-9d57-627265617468"
"""Data characteristic (notify)."""
CONFIG_UUID = "bf010003-5b3a-4c1e-9d57-627265617468"
"""Config characteristic (read only)."""
NAME_PREFIX = "BF-DIY"
"""Advertised names start with this (e.g. ``BF-DIY 3F2A``)."""

VERSION = 1
FLAG_GYRO = 0x01
HEADER = struct.Struct("<BBBBHI")
HEADER_LEN = HEADER.size  # 10
CONFIG = struct.Struct("<BBHBBffBB")
CONFIG_LEN = CONFIG.size  # 16

ACC_RANGE_G: tuple[float, ...] = (2.0, 4.0, 8.0, 16.0)
"""Accelerometer full scale by range code."""
GYR_RANGE_DPS: tuple[float, ...] = (125.0, 250.0, 500.0, 1000.0, 2000.0)
"""Gyroscope full scale by range code."""
MAX_RATE_HZ = 2000


@dataclass(frozen=True, slots=True)
class DiyConfig:
    """The board's read-only configuration.

    Attributes:
        rate_hz: Sample rate, Hz.
        acc_range_g: Accelerometer full scale, g.
        gyr_range_dps: Gyroscope full scale, deg/s (ignored without a gyroscope).
        has_gyro: Whether packets carry the gyroscope.
        samples_per_packet: Most samples a packet holds.
        battery_pct: Battery charge in percent, None when unknown.
        version: Profile version.
    """

    rate_hz: int
    acc_range_g: float
    gyr_range_dps: float = 2000.0
    has_gyro: bool = True
    samples_per_packet: int = 19
    battery_pct: int | None = None
    version: int = VERSION

    def __post_init__(self) -> None:
        if not 1 <= self.rate_hz <= MAX_RATE_HZ:
            raise InputError(f"rate_hz must be in 1..{MAX_RATE_HZ}, got {self.rate_hz}")
        if self.acc_range_g not in ACC_RANGE_G:
            raise InputError(f"acc_range_g must be one of {ACC_RANGE_G}, got "
                             f"{self.acc_range_g}")
        if self.gyr_range_dps not in GYR_RANGE_DPS:
            raise InputError(f"gyr_range_dps must be one of {GYR_RANGE_DPS}, got "
                             f"{self.gyr_range_dps}")
        if not 1 <= self.samples_per_packet <= 255:
            raise InputError(f"samples_per_packet must be in 1..255, got "
                             f"{self.samples_per_packet}")
        if self.battery_pct is not None and not 0 <= self.battery_pct <= 100:
            raise InputError(f"battery_pct must be in 0..100 or None, got {self.battery_pct}")

    @property
    def acc_code(self) -> int:
        """Range code of the accelerometer."""
        return ACC_RANGE_G.index(self.acc_range_g)

    @property
    def gyr_code(self) -> int:
        """Range code of the gyroscope."""
        return GYR_RANGE_DPS.index(self.gyr_range_dps)


def encode_config(c: DiyConfig) -> bytes:
    """The 16 bytes of the config characteristic.

    Args:
        c: The configuration.

    Returns:
        The characteristic value.
    """
    return CONFIG.pack(c.version, FLAG_GYRO if c.has_gyro else 0, c.rate_hz, c.acc_code,
                       c.gyr_code, c.acc_range_g / 32768.0, c.gyr_range_dps / 32768.0,
                       c.samples_per_packet, 255 if c.battery_pct is None else c.battery_pct)


def decode_config(data: bytes) -> DiyConfig:
    """Decode the config characteristic.

    Args:
        data: The value read (16 bytes; longer values from later versions are accepted,
            the extra bytes ignored).

    Returns:
        The configuration.

    Raises:
        DecodeError: If the value is short, of another version, or inconsistent (range
            codes unknown, scales that do not match the ranges, rate out of range).
    """
    if len(data) < CONFIG_LEN:
        raise DecodeError(None, f"DIY config is {len(data)} bytes, expected >= {CONFIG_LEN}")
    ver, flags, rate, acc_c, gyr_c, acc_s, gyr_s, spp, batt = CONFIG.unpack_from(data)
    if ver != VERSION:
        raise DecodeError(None, f"DIY profile version {ver}, expected {VERSION}")
    if acc_c >= len(ACC_RANGE_G) or gyr_c >= len(GYR_RANGE_DPS):
        raise DecodeError(None, f"DIY config range codes acc={acc_c} gyro={gyr_c}, expected "
                                f"acc 0..{len(ACC_RANGE_G) - 1}, gyro "
                                f"0..{len(GYR_RANGE_DPS) - 1}")
    acc_g, gyr_dps = ACC_RANGE_G[acc_c], GYR_RANGE_DPS[gyr_c]
    for name, got, want in (("acc g per LSB", acc_s, acc_g / 32768.0),
                            ("gyro deg/s per LSB", gyr_s, gyr_dps / 32768.0)):
        if not abs(got - want) <= 1e-6 * want:
            raise DecodeError(None, f"DIY config {name} is {got!r}, expected {want!r} "
                                    "(full scale / 32768)")
    if not 1 <= rate <= MAX_RATE_HZ or not 1 <= spp:
        raise DecodeError(None, f"DIY config rate {rate} Hz / {spp} samples per packet, "
                                f"expected 1..{MAX_RATE_HZ} Hz and >= 1 sample")
    if batt > 100 and batt != 255:
        raise DecodeError(None, f"DIY config battery {batt} %, expected 0..100 or 255")
    return DiyConfig(rate_hz=rate, acc_range_g=acc_g, gyr_range_dps=gyr_dps,
                     has_gyro=bool(flags & FLAG_GYRO), samples_per_packet=spp,
                     battery_pct=None if batt == 255 else batt, version=ver)


@dataclass(frozen=True, slots=True)
class DiyPacket:
    """A decoded data notification.

    Attributes:
        seq: Packet counter (u16, wraps).
        t_us: Device time of the first sample, microseconds (u32, wraps).
        acc_g: Acceleration in g, shape (n, 3).
        gyr_dps: Angular rate in deg/s, shape (n, 3), or None without a gyroscope.
        acc_range_g: Accelerometer full scale the samples were scaled with.
        gyr_range_dps: Gyroscope full scale.
    """

    seq: int
    t_us: int
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    acc_range_g: float
    gyr_range_dps: float

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.acc_g.shape[0])


def decode_data(data: bytes) -> DiyPacket:
    """Decode one data notification.

    Args:
        data: The notification bytes.

    Returns:
        The packet, samples scaled to g and deg/s.

    Raises:
        DecodeError: If the header is short, of another version, has unknown flags or
            range codes, n = 0, or the length does not match n.
    """
    if len(data) < HEADER_LEN:
        raise DecodeError(None, f"DIY data packet is {len(data)} bytes, expected at least "
                                f"{HEADER_LEN} (header)")
    ver, flags, ranges, n, seq, t_us = HEADER.unpack_from(data)
    if ver != VERSION:
        raise DecodeError(seq, f"DIY profile version {ver}, expected {VERSION}")
    if flags & ~FLAG_GYRO:
        raise DecodeError(seq, f"DIY flags 0x{flags:02x} set reserved bits, expected 0x00 "
                               "or 0x01")
    acc_c, gyr_c = ranges & 0x0F, ranges >> 4
    if acc_c >= len(ACC_RANGE_G) or gyr_c >= len(GYR_RANGE_DPS):
        raise DecodeError(seq, f"DIY range codes acc={acc_c} gyro={gyr_c}, expected acc "
                               f"0..{len(ACC_RANGE_G) - 1}, gyro 0..{len(GYR_RANGE_DPS) - 1}")
    gyro = bool(flags & FLAG_GYRO)
    ch = 6 if gyro else 3
    want = HEADER_LEN + 2 * ch * n
    if n == 0 or len(data) != want:
        raise DecodeError(seq, f"DIY data packet is {len(data)} bytes for n={n} samples of "
                               f"{ch} int16, expected {want} with n >= 1")
    raw = np.frombuffer(data, dtype="<i2", offset=HEADER_LEN).reshape(n, ch)
    acc_r, gyr_r = ACC_RANGE_G[acc_c], GYR_RANGE_DPS[gyr_c]
    v = raw.astype(np.float64)
    acc = v[:, :3] * (acc_r / 32768.0)
    gyr = v[:, 3:] * (gyr_r / 32768.0) if gyro else None
    return DiyPacket(seq=seq, t_us=t_us, acc_g=acc, gyr_dps=gyr, acc_range_g=acc_r,
                     gyr_range_dps=gyr_r)


def quantize(values: NDArray[np.float64], full_scale: float) -> NDArray[np.int16]:
    """Physical values -> int16 LSBs (rounded, saturating), as a board's IMU reports them.

    Args:
        values: Values in the unit of ``full_scale``.
        full_scale: Range, e.g. 8.0 g.

    Returns:
        int16 array of the same shape.
    """
    return np.clip(np.rint(np.asarray(values, dtype=np.float64) * (32768.0 / full_scale)),
                   -32768, 32767).astype(np.int16)


def encode_data(seq: int, t_us: int, acc_lsb: NDArray[np.integer],
                gyr_lsb: NDArray[np.integer] | None, *, acc_code: int,
                gyr_code: int = 4) -> bytes:
    """Encode a data notification from raw int16 samples (what firmware sends).

    Args:
        seq: Packet counter, taken modulo 65536.
        t_us: Device time of the first sample in microseconds, taken modulo 2**32.
        acc_lsb: Accelerometer samples, int16 LSBs, shape (n, 3), 1 <= n <= 255.
        gyr_lsb: Gyroscope samples, int16 LSBs, shape (n, 3), or None.
        acc_code: Accelerometer range code (index into ``ACC_RANGE_G``).
        gyr_code: Gyroscope range code (index into ``GYR_RANGE_DPS``).

    Returns:
        The notification bytes.

    Raises:
        InputError: If shapes, codes or values do not fit.
    """
    acc = _lsb(acc_lsb, "acc_lsb")
    n = acc.shape[0]
    if not 1 <= n <= 255:
        raise InputError(f"a packet holds 1..255 samples, got {n}")
    if not 0 <= acc_code < len(ACC_RANGE_G) or not 0 <= gyr_code < len(GYR_RANGE_DPS):
        raise InputError(f"acc_code must be in 0..{len(ACC_RANGE_G) - 1} and gyr_code in "
                         f"0..{len(GYR_RANGE_DPS) - 1}, got {acc_code}, {gyr_code}")
    if t_us < 0 or seq < 0:
        raise InputError(f"seq and t_us must be >= 0, got {seq}, {t_us}")
    body = acc
    flags = 0
    if gyr_lsb is not None:
        gyr = _lsb(gyr_lsb, "gyr_lsb")
        if gyr.shape != acc.shape:
            raise InputError(f"gyr_lsb must have shape {acc.shape}, got {gyr.shape}")
        body = np.concatenate([acc, gyr], axis=1)
        flags = FLAG_GYRO
    head = HEADER.pack(VERSION, flags, acc_code | (gyr_code << 4), n, seq % 65536,
                       t_us % 2**32)
    return head + body.astype("<i2").tobytes()


def _lsb(a: NDArray[np.integer], name: str) -> NDArray[np.int64]:
    arr = np.asarray(a)
    if arr.ndim != 2 or arr.shape[1] != 3 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must be an integer array of shape (n, 3), got "
                         f"{arr.dtype} {arr.shape}")
    if arr.size and (arr.min() < -32768 or arr.max() > 32767):
        raise InputError(f"{name} must fit int16, got range [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)
