r"""A flat binary file of raw packets: the raw export format, used by golden replays.

Layout: the magic line ``BFRAW1\\n``, one line of JSON (``{"sensors": [SensorInfo as
dict, ...], "chars": [uuid, ...]}``), then one record per packet:
``<f8 t_rx_s><u1 sensor index><u1 char index><u2 payload length><payload>`` (little endian).
Sensor index is into ``sensors`` (by role), char index into ``chars``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from breathform.errors import InputError
from breathform.model import RawPacket, SensorInfo

MAGIC = b"BFRAW1\n"
_REC = struct.Struct("<dBBH")


def write_raw(path: str | Path, sensors: Iterable[SensorInfo],
              packets: Iterable[RawPacket]) -> int:
    """Write packets; returns how many were written."""
    sens = list(sensors)
    roles = [s.role for s in sens]
    pk = list(packets)
    chars = sorted({p.char for p in pk})
    head = json.dumps({"sensors": [asdict(s) for s in sens], "chars": chars})
    with Path(path).open("wb") as fh:
        fh.write(MAGIC)
        fh.write(head.encode() + b"\n")
        for p in pk:
            fh.write(_REC.pack(p.t_rx_s, roles.index(p.sensor), chars.index(p.char),
                               len(p.payload)))
            fh.write(p.payload)
    return len(pk)


def read_raw(path: str | Path) -> tuple[tuple[SensorInfo, ...], list[RawPacket]]:
    """Read a raw packet file.

    Raises:
        InputError: If the file is not in this format or is truncated.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read raw packet file {str(p)!r}: {exc.strerror}") from exc
    if not data.startswith(MAGIC):
        raise InputError(f"{str(p)!r} is not a breathform raw packet file (expected magic "
                         f"{MAGIC!r}, got {data[:7]!r})")
    nl = data.index(b"\n", len(MAGIC))
    head = json.loads(data[len(MAGIC):nl])
    sensors = tuple(SensorInfo(**s) for s in head["sensors"])
    chars: list[str] = head["chars"]
    out: list[RawPacket] = []
    i = nl + 1
    while i < len(data):
        if i + _REC.size > len(data):
            raise InputError(f"{str(p)!r}: truncated record at byte {i}")
        t, si, ci, n = _REC.unpack_from(data, i)
        i += _REC.size
        if i + n > len(data):
            raise InputError(f"{str(p)!r}: truncated payload at byte {i}")
        out.append(RawPacket(t, sensors[si].role, chars[ci], data[i:i + n]))
        i += n
    return sensors, out
