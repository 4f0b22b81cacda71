"""The metadata every export carries: devices, rates, ranges, placement, units, clocks.

One JSON-serialisable dict, written as ``metadata.json`` (CSV, EDF+), into the Parquet
schemas, and spread over the BIDS sidecars.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from typing import Any

from breathform import __version__
from breathform.export.privacy import Privacy
from breathform.export.streams import SensorStream, SessionData, finite_or_none
from breathform.model import METRIC_FIELDS

FORMAT_VERSION = 1

DEVICES: dict[str, dict[str, str]] = {
    "polar_h10": {"manufacturer": "Polar Electro", "model": "Polar H10",
                  "device_time": "sensor clock, seconds since 2000-01-01T00:00:00 as the "
                                 "sensor counts them (PMD frame timestamps, ns)"},
    "movesense": {"manufacturer": "Movesense (Amer Sports)", "model": "Movesense",
                  "device_time": "sensor clock, seconds since the sensor started (IMU6 "
                                 "millisecond counter, unwrapped)"},
    "witmotion": {"manufacturer": "WitMotion", "model": "BWT901BLE5.0",
                  "device_time": "none on the sensor: samples counted since the first, "
                                 "divided by the nominal rate"},
    "diy": {"manufacturer": "", "model": "breathform DIY profile (or an imported file)",
            "device_time": "board clock, seconds (microsecond counter, unwrapped)"},
}
"""What is known of each device kind."""

GYRO_RANGE_DPS: dict[str, float] = {"movesense": 2000.0, "witmotion": 2000.0, "diy": 2000.0}
"""Gyroscope full scale used for ranges (the session does not record the configured gyro
range, so this is the widest range of the sensor's LSM6DS3 IMU: nothing it sends exceeds it).
"""

PLACEMENT: dict[str, str] = {
    "chest": "chest, on the sternum (chest strap)",
    "sacrum": "lower back, over the sacrum (clip on the waistband)",
}

METRIC_UNITS: dict[str, str] = {
    "t_s": "s", "rate_bpm": "breaths/min", "depth_rel": "1 (resting breath = 1)",
    "breath_quality": "1 (0..1)", "strides_per_breath": "strides/breath",
    "cadence_spm": "steps/min", "pelvic_tilt_deg": "deg", "trunk_lean_deg": "deg",
    "lumbar_deg": "deg", "hr_bpm": "beats/min", "warming_up": "bool",
    "pelvic_drop_range_deg": "deg", "pelvic_rotation_range_deg": "deg",
    "trunk_twist_range_deg": "deg",
}
if set(METRIC_UNITS) != set(METRIC_FIELDS):  # pragma: no cover - caught by the tests
    raise RuntimeError("METRIC_UNITS is out of date with model.METRIC_FIELDS")


def sensor_channels(s: SensorStream) -> list[dict[str, str]]:
    """The sample columns of a sensor stream, with units."""
    ch = [{"name": "seq", "unit": "1", "description": "sample index in the stream "
                                                     "(jumps across lost samples)"},
          {"name": "t_device_s", "unit": "s", "description": "sample time on the sensor "
                                                            "clock"},
          {"name": "t_s", "unit": "s", "description": "sample time in session seconds "
                                                     "(clock-aligned)"}]
    ch += [{"name": f"a{a}_g", "unit": "g", "description": f"acceleration, sensor {a} axis"}
           for a in "xyz"]
    if s.gyr_dps is not None:
        ch += [{"name": f"g{a}_dps", "unit": "deg/s",
                "description": f"angular rate, sensor {a} axis"} for a in "xyz"]
    ch.append({"name": "gap", "unit": "bool", "description": "1 on the first sample after "
                                                            "lost samples"})
    return ch


def _sensor_meta(s: SensorStream, privacy: Privacy) -> dict[str, Any]:
    dev = DEVICES.get(s.info.kind, {})
    return {
        "role": s.info.role,
        "device_kind": s.info.kind,
        "manufacturer": dev.get("manufacturer"),
        "model": dev.get("model"),
        "firmware": None,  # not recorded by this version of the session store
        "serial": None,
        "placement": PLACEMENT.get(s.info.role, s.info.role),
        "sample_rate_hz": s.info.fs_hz,
        "acc_range_g": s.info.acc_range_g,
        "gyr_range_dps": GYRO_RANGE_DPS.get(s.info.kind) if s.info.has_gyro else None,
        "has_gyro": s.info.has_gyro,
        "frame": "sensor axes as the device reports them (see calibration for the body "
                 "axes)",
        "device_time": dev.get("device_time"),
        "channels": sensor_channels(s),
        "n_samples": s.n,
        "n_packets": s.n_packets,
        "n_decode_errors": s.n_decode_errors,
        "n_gaps": int(s.gap.sum()),
        "n_samples_lost": s.n_samples_lost,
        "first_t_s": float(s.t_s[0]) if s.n else None,
        "last_t_s": float(s.t_s[-1]) if s.n else None,
        "clock_alignment": {k: (finite_or_none(v) if isinstance(v, float) else v)
                            for k, v in s.clock.items()},
        "pseudonymised": not privacy.identify,
    }


def utc_iso(ns: int) -> str:
    """Unix ns as an ISO 8601 UTC string with microseconds."""
    t = dt.datetime.fromtimestamp(ns // 1000 / 1e6, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_metadata(data: SessionData, privacy: Privacy, fmt: str) -> dict[str, Any]:
    """The export's metadata.

    Args:
        data: The decoded session.
        privacy: How identifiers are written.
        fmt: The export format ("csv", "parquet", "edf", "bids").

    Returns:
        A JSON-serialisable dict.
    """
    meta = data.meta
    runner = meta.get("runner_id", "runner")
    try:
        config = tomllib.loads(meta.get("config_toml", ""))
    except tomllib.TOMLDecodeError:
        config = {}
    hidden = [runner, *_addresses(config)]
    config = _json_safe(privacy.scrub(config))
    return {
        "format": f"breathform-export/{fmt}",
        "format_version": FORMAT_VERSION,
        "software": {"name": "breathform", "export_version": __version__,
                     "recorded_with_version": meta.get("software_version")},
        "session": {
            "id": meta.get("session_id"),
            "source": meta.get("source"),
            "status": meta.get("status"),
            "started_utc": utc_iso(data.started_utc_ns),
            "started_utc_ns": data.started_utc_ns,
            "counters": meta.get("counters"),
            "time": "t_s = session seconds since started_utc (host monotonic clock); "
                    "t_device_s = the sensor's own clock",
        },
        "subject": {"id": privacy.pseudonym("runner", runner)},
        "privacy": privacy.describe(),
        "sensors": {role: _sensor_meta(s, privacy) for role, s in data.streams.items()},
        "metrics": {"rate_hz": 1.0, "columns": METRIC_UNITS,
                    "note": "t_s is the end of the 1-s interval; empty/NaN = no estimate"},
        "alerts": {"columns": {"t_s": "s", "kind": "", "severity": "1..3", "climb": "bool",
                               "cue": "", "causes": "JSON list of {name, metric, value, "
                                                    "baseline, threshold, unit}"}},
        "heart_rate": None if data.hr is None else {
            "sensor": "chest", "n": int(data.hr.t_s.size),
            "columns": {"t_s": "s", "hr_bpm": "beats/min", "rr_ms": "ms"}},
        "calibration": _json_safe(data.calibration),
        "config": config,
        "events": [{"t_s": t, "kind": k, "detail": privacy.scrub_text(d, hidden)}
                   for t, k, d in data.events],
    }


def _addresses(config: dict[str, Any]) -> list[str]:
    """The configured sensor addresses / device names."""
    sensors = config.get("sensors", {})
    return [str(v.get("address", "")) for v in sensors.values() if isinstance(v, dict)]


def _json_safe(v: Any) -> Any:
    """Replace NaN/inf floats by None, recursively (JSON has no NaN)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    return v
