"""Polar Sensor Logger (Android app) ACC, HR and RR text exports.

The app writes one ``;``-separated file per stream, e.g. ``Polar_H10_1A2B3C4D_<date>_ACC.txt``::

    Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]
    2024-05-04T09:12:01.123;768049921123456789;-9;-1;999

The sensor timestamp is the Polar SDK's per-sample time in NANOSECONDS SINCE 2000-01-01 on
the sensor's own clock (not Unix time: the usual trap; an H10 whose battery ran out
restarts at 2019-01-01). The phone timestamp is the phone's local wall-clock time when the
batch arrived; breathform takes the first one as the session's start (there is no time
zone in the file, so it is read as UTC).

Heart rate comes in ``..._HR.txt`` (``Phone timestamp;HR [bpm];HRV [ms];Breathing interval
[rpm];``, HR only) or ``..._RR.txt`` (``Phone timestamp;RR-interval [ms]``, one row per beat).
Those rows carry only the phone's time, so they are placed on the session's time line by
their phone timestamp relative to the ACC file's first one.
"""

from __future__ import annotations

import datetime as dt
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from breathform import units
from breathform.errors import InputError
from breathform.importers._table import ProgressCallback, open_rows
from breathform.importers.generic_csv import Recording, estimate_rate_hz

HEADER = ("phone timestamp", "sensor timestamp [ns]", "x [mg]", "y [mg]", "z [mg]")
"""The ACC file's columns (compared without case)."""
ACC_HEADER = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]"

_H10_RATES_HZ = (25.0, 50.0, 100.0, 200.0)
_MIN_PLAUSIBLE_NS = 19 * 365 * 86_400 * 10**9  # ~2019: earlier "dates" are a reset clock


def _phone_utc_ns(text: str) -> int | None:
    try:
        t = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1e9)


def read(path: str | Path, *, progress: ProgressCallback | None = None) -> Recording:
    """Read a Polar Sensor Logger ACC export.

    Args:
        path: The ``..._ACC.txt`` file.
        progress: Called with (bytes read, bytes total) while reading.

    Returns:
        The recording, with the file's device timestamps and integer mG values kept.

    Raises:
        InputError: Naming the file and line of the first problem (wrong header, a field
            that is not an integer, timestamps that go backwards).
    """
    p, lineno, header, it = open_rows(path, ";", f"the Polar Sensor Logger ACC header "
                                      f"{ACC_HEADER!r}", progress)
    got = tuple(h.lower() for h in header if h)
    if got != HEADER:
        raise InputError(f"{p}:{lineno}: header {';'.join(header)!r} is not a Polar Sensor "
                         f"Logger ACC export; expected {ACC_HEADER!r}")
    ts = array("q")  # flat arrays: hour-long files stay small in memory
    mg = array("q")
    phone0: str | None = None
    prev = -1
    for lineno, fields in it:
        vals = fields[:-1] if fields[-1] == "" else fields  # some versions end rows with ;
        if len(vals) != 5:
            raise InputError(f"{p}:{lineno}: {len(vals)} fields, expected 5 (phone time; "
                             "sensor ns; X; Y; Z)")
        try:
            t = int(vals[1])
            xyz = (int(vals[2]), int(vals[3]), int(vals[4]))
        except ValueError:
            raise InputError(f"{p}:{lineno}: {';'.join(vals[1:])!r}: expected whole numbers "
                             "(sensor ns; X mg; Y mg; Z mg)") from None
        if t <= prev:
            raise InputError(f"{p}:{lineno}: sensor timestamp {t} ns does not increase "
                             f"(previous {prev}); expected one row per sample in time order")
        if t >= 2**63 or max(abs(v) for v in xyz) > 32767:
            raise InputError(f"{p}:{lineno}: values out of range (sensor ns < 2**63, |mG| <= "
                             f"32767), got {t}; {xyz}")
        if phone0 is None:
            phone0 = vals[0]
        prev = t
        ts.append(t)
        mg.extend(xyz)
    if len(ts) < 2:
        raise InputError(f"{p}: {len(ts)} samples; expected at least 2")
    dev = np.frombuffer(ts, dtype=np.int64)
    ints = np.frombuffer(mg, dtype=np.int64).reshape(-1, 3)
    t_s = (dev - dev[0]).astype(np.float64) * 1e-9
    fs = estimate_rate_hz(t_s, p)
    near = min(_H10_RATES_HZ, key=lambda r: abs(r - fs))
    if abs(near - fs) <= 0.05 * near:
        fs = near  # the nominal rate the strap was started with
    start = _phone_utc_ns(phone0) if phone0 is not None else None
    if start is None and int(dev[0]) >= _MIN_PLAUSIBLE_NS:
        start = int(dev[0]) + units.POLAR_EPOCH_UNIX_S * 10**9
    return Recording(t_s=t_s, acc_g=units.mg_to_g(ints.astype(np.float64)), gyr_dps=None,
                     fs_hz=fs, device_t_ns=dev, acc_mg_int=ints, start_utc_ns=start)


@dataclass(frozen=True, slots=True)
class HrRecording:
    """Heart-rate rows of a Polar Sensor Logger HR or RR export.

    Attributes:
        phone_utc_ns: Phone time of each notification (as UTC), ns, increasing.
        hr_bpm: Heart rate of each notification.
        rr_ms: RR intervals of each notification, ms (empty for an HR file).
    """

    phone_utc_ns: tuple[int, ...]
    hr_bpm: tuple[int, ...]
    rr_ms: tuple[tuple[float, ...], ...]


def _positive(text: str, p: Path, lineno: int, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 < v < 65536:
        raise InputError(f"{p}:{lineno}: {what} is {text!r}, expected a number in (0, 65536)")
    return v


def read_hr(path: str | Path, *, progress: ProgressCallback | None = None) -> HrRecording:
    """Read a Polar Sensor Logger HR (``_HR.txt``) or RR (``_RR.txt``) export.

    RR rows with the same phone timestamp arrived in one notification and stay together; the
    heart rate of an RR notification is 60000 / its last interval.

    Args:
        path: The file.
        progress: Called with (bytes read, bytes total) while reading.

    Returns:
        One entry per notification.

    Raises:
        InputError: Naming the file and line of the first problem.
    """
    p, lineno, header, it = open_rows(path, ";", "a Polar Sensor Logger HR or RR export",
                                      progress)
    cols = [h.lower() for h in header if h]
    is_rr = cols[:2] == ["phone timestamp", "rr-interval [ms]"]
    if not is_rr and cols[:2] != ["phone timestamp", "hr [bpm]"]:
        raise InputError(f"{p}:{lineno}: header {';'.join(header)!r} is not a Polar Sensor "
                         "Logger HR or RR export; expected 'Phone timestamp;HR [bpm];...' or "
                         "'Phone timestamp;RR-interval [ms]'")
    times: list[int] = []
    hrs: list[int] = []
    rrs: list[tuple[float, ...]] = []
    for lineno, fields in it:
        if len(fields) < 2 or not fields[1]:
            raise InputError(f"{p}:{lineno}: expected a phone timestamp and a value, got "
                             f"{';'.join(fields)!r}")
        t = _phone_utc_ns(fields[0])
        if t is None:
            raise InputError(f"{p}:{lineno}: phone timestamp {fields[0]!r} is not an ISO "
                             "date-time such as 2024-05-04T09:12:01.123")
        if times and t < times[-1]:
            raise InputError(f"{p}:{lineno}: phone timestamp {fields[0]} goes backwards")
        v = _positive(fields[1], p, lineno, "RR interval" if is_rr else "HR")
        if is_rr and times and t == times[-1]:
            rrs[-1] = (*rrs[-1], v)
            hrs[-1] = round(60000.0 / v)
            continue
        times.append(t)
        hrs.append(round(60000.0 / v) if is_rr else round(v))
        rrs.append((v,) if is_rr else ())
    if not times:
        raise InputError(f"{p}: no rows after the header")
    return HrRecording(tuple(times), tuple(hrs), tuple(rrs))
