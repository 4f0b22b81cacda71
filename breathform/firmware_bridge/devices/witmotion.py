"""WitMotion BWT901BLE5.0 / WT901BLE: 0x61 data packets, reassembly, register commands.

Pure encode and decode, no I/O. Protocol facts (SENSORS.md, from WitMotion's public SDK):

- service ``0000ffe5-...``, notify ``0000ffe4-...``, write ``0000ffe9-...`` (write without
  response);
- a data packet is 20 bytes: ``55 61`` then nine int16 LE: acceleration x, y, z
  (``/32768*16`` g), angular rate x, y, z (``/32768*2000`` deg/s), angles roll, pitch, yaw
  (``/32768*180`` deg). No checksum, no device timestamp;
- notifications may split a packet or join several (and ``55 71`` register answers share
  the characteristic): :class:`Reassembler` keeps a buffer, resynchronises on the header
  and counts what it had to skip;
- commands: write register ``FF AA <reg> <lo> <hi>``; unlock ``FF AA 69 88 B5``; save
  ``FF AA 00 00 00``; output rate register 0x03 (10 Hz 0x06, 50 Hz 0x08, 100 Hz 0x09,
  200 Hz 0x0B).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from breathform.errors import DecodeError, InputError

SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
"""WitMotion BLE service (note the vendor's 9a34fb base, not the SIG's 9b34fb)."""
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
"""Data characteristic (notify)."""
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"
"""Command characteristic (write without response)."""

HEADER = b"\x55\x61"
"""Start of a data packet."""
REG_HEADER = b"\x55\x71"
"""Start of a register read answer (same length, skipped here)."""
PACKET_LEN = 20

ACC_G_PER_LSB = 16.0 / 32768.0
GYR_DPS_PER_LSB = 2000.0 / 32768.0
ANGLE_DEG_PER_LSB = 180.0 / 32768.0
ACC_RANGE_G = 16.0
GYR_RANGE_DPS = 2000.0

RATE_CODES: dict[int, int] = {10: 0x06, 50: 0x08, 100: 0x09, 200: 0x0B}
"""Output rate (Hz) -> value of register 0x03."""
REG_RATE = 0x03

UNLOCK = bytes.fromhex("FFAA6988B5")
SAVE = bytes.fromhex("FFAA000000")


def write_register_command(reg: int, value: int) -> bytes:
    """Build a register write (``FF AA <reg> <lo> <hi>``).

    Args:
        reg: Register address, 0..255.
        value: 16-bit value, 0..65535.

    Returns:
        The bytes to write to the command characteristic.

    Raises:
        InputError: If reg or value is out of range.
    """
    if not 0 <= reg <= 0xFF or not 0 <= value <= 0xFFFF:
        raise InputError(f"reg must be in 0..255 and value in 0..65535, got {reg}, {value}")
    return bytes([0xFF, 0xAA, reg, value & 0xFF, value >> 8])


def rate_command(rate_hz: int) -> bytes:
    """Build the "set output rate" register write.

    Args:
        rate_hz: 10, 50, 100 or 200.

    Returns:
        ``FF AA 03 <code> 00``.

    Raises:
        InputError: If the rate is not offered.
    """
    if rate_hz not in RATE_CODES:
        raise InputError(f"rate_hz must be one of {tuple(RATE_CODES)}, got {rate_hz}")
    return write_register_command(REG_RATE, RATE_CODES[rate_hz])


@dataclass(frozen=True, slots=True)
class WitSamples:
    """Samples decoded from whole 0x61 packets.

    Attributes:
        acc_g: Acceleration in g, shape (n, 3).
        gyr_dps: Angular rate in deg/s, shape (n, 3).
        angles_deg: Roll, pitch, yaw in degrees, shape (n, 3).
    """

    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64]
    angles_deg: NDArray[np.float64]

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.acc_g.shape[0])


def decode_packets(data: bytes) -> WitSamples:
    """Decode a run of whole, aligned 0x61 packets.

    Args:
        data: k x 20 bytes, each packet starting with ``55 61``.

    Returns:
        The k samples.

    Raises:
        DecodeError: If the length is not a multiple of 20 or a packet does not start
            with ``55 61``.
    """
    if len(data) % PACKET_LEN:
        raise DecodeError(None, f"WitMotion data is {len(data)} bytes, expected a multiple "
                                f"of {PACKET_LEN} (whole 0x61 packets)")
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, PACKET_LEN)
    if raw.size and not bool(((raw[:, 0] == 0x55) & (raw[:, 1] == 0x61)).all()):
        raise DecodeError(None, "WitMotion packet does not start with 55 61")
    vals = np.frombuffer(data, dtype="<i2").reshape(-1, PACKET_LEN // 2)[:, 1:]
    v = vals.astype(np.float64)
    return WitSamples(acc_g=v[:, 0:3] * ACC_G_PER_LSB, gyr_dps=v[:, 3:6] * GYR_DPS_PER_LSB,
                      angles_deg=v[:, 6:9] * ANGLE_DEG_PER_LSB)


def encode_packets(acc_g: NDArray[np.float64], gyr_dps: NDArray[np.float64],
                   angles_deg: NDArray[np.float64] | None = None) -> bytes:
    """Encode samples as consecutive 0x61 packets (what the sensor's stream holds).

    Values are rounded to the nearest LSB and saturate at the int16 limits.

    Args:
        acc_g: Acceleration in g, shape (n, 3).
        gyr_dps: Angular rate in deg/s, shape (n, 3).
        angles_deg: Roll, pitch, yaw in degrees, shape (n, 3) (default zeros).

    Returns:
        n x 20 bytes.

    Raises:
        InputError: If the arrays are not finite (n, 3) of the same n.
    """
    acc = _xyz(acc_g, "acc_g")
    n = acc.shape[0]
    parts = [acc / ACC_G_PER_LSB, _xyz(gyr_dps, "gyr_dps", n) / GYR_DPS_PER_LSB,
             (np.zeros((n, 3)) if angles_deg is None else _xyz(angles_deg, "angles_deg", n))
             / ANGLE_DEG_PER_LSB]
    ints = np.clip(np.rint(np.concatenate(parts, axis=1)), -32768, 32767).astype("<i2")
    head = np.frombuffer(HEADER, dtype="<i2")
    return np.concatenate([np.repeat(head[None, :], n, axis=0), ints], axis=1).tobytes()


def _xyz(a: NDArray[np.float64], name: str, n: int | None = None) -> NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3 or (n is not None and arr.shape[0] != n):
        want = "(n, 3)" if n is None else f"({n}, 3)"
        raise InputError(f"{name} must have shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite")
    return arr


@dataclass(slots=True)
class Reassembler:
    """Streaming reassembly of 0x61 packets from notifications that split or join them.

    Feed each notification's bytes in order; whole data packets come out as soon as their
    last byte arrived. Bytes that cannot start a packet (garbage, a packet cut by a lost
    notification) are skipped up to the next ``55 61`` / ``55 71`` and counted; ``55 71``
    register answers are skipped whole and counted apart. Output is the same for any
    split of the same byte stream.

    Attributes:
        n_packets: Data packets returned.
        n_skipped_bytes: Bytes dropped while resynchronising.
        n_resyncs: Times the stream had to resynchronise.
        n_register_packets: ``55 71`` answers skipped.
    """

    n_packets: int = 0
    n_skipped_bytes: int = 0
    n_resyncs: int = 0
    n_register_packets: int = 0
    _buf: bytearray = field(default_factory=bytearray)
    _skipping: bool = False  # inside a run of skipped bytes (kept across notifications)

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a packet."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partial packet (e.g. after a link drop: its rest never comes)."""
        if self._buf:
            self.n_skipped_bytes += len(self._buf)
            self.n_resyncs += 1
        self._buf.clear()
        self._skipping = False

    def feed(self, data: bytes) -> bytes:
        """Take one notification; return the whole data packets it completed.

        Args:
            data: The notification bytes.

        Returns:
            k x 20 bytes of aligned 0x61 packets (possibly empty); decode them with
            :func:`decode_packets`.
        """
        buf = self._buf
        buf += data
        out = bytearray()
        pos = 0
        end = len(buf)
        while pos < end:
            if buf[pos] != 0x55:
                nxt = buf.find(0x55, pos + 1)
                pos = self._skip(pos, end if nxt < 0 else nxt)
                continue
            if pos + 1 >= end:
                break  # a lone 55 at the end: wait for the next byte
            kind = buf[pos + 1]
            if kind not in (0x61, 0x71):
                pos = self._skip(pos, pos + 1)
                continue
            if pos + PACKET_LEN > end:
                break  # wait for the rest
            if kind == 0x61:
                out += buf[pos:pos + PACKET_LEN]
                self.n_packets += 1
            else:
                self.n_register_packets += 1
            pos += PACKET_LEN
            self._skipping = False
        del buf[:pos]
        return bytes(out)

    def _skip(self, start: int, stop: int) -> int:
        self.n_skipped_bytes += stop - start
        if not self._skipping:
            self.n_resyncs += 1
            self._skipping = True
        return stop
