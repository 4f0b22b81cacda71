"""The runner profile: the stored calibration that ``breathform calibrate`` writes.

A TOML file, by default ``$BREATHFORM_HOME/profile.toml`` or
``$XDG_CONFIG_HOME/breathform/profile.toml`` (``~/.config/breathform/profile.toml``);
``runner.profile`` in the config or ``--profile FILE`` choose another one. It holds, per
sensor, the segment's vertical in the sensor frame (from a 10-s standing capture) and the
resting breath (rate and the amplitude that ``depth_rel`` is relative to, from a 30-s
quiet-breathing capture). The forward axis is not stored: it comes from the first steady
running of each session, since it needs motion.

A calibration holds only for the sensors it was made with, worn the same way: the profile
records the sensor kinds and where the data came from ("sim:seed=N" for the simulator,
"ble" for real sensors), and :func:`usable_for` says whether a session may use it.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from breathform.errors import ConfigError, InputError
from breathform.model import SensorInfo

PROFILE_VERSION = 1


@dataclass(frozen=True, slots=True)
class SensorCalibration:
    """One sensor's stored calibration.

    Attributes:
        kind: Device kind it was made with (e.g. "polar_h10").
        vertical: The segment's up axis in sensor coordinates (unit vector).
    """

    kind: str
    vertical: tuple[float, float, float]

    def __post_init__(self) -> None:
        v = self.vertical
        if len(v) != 3 or not all(math.isfinite(x) for x in v) or \
                abs(math.sqrt(sum(x * x for x in v)) - 1.0) > 1e-3:
            raise InputError(f"vertical must be a unit 3-vector, got {v}")


@dataclass(frozen=True, slots=True)
class StoredCalibration:
    """What a session takes from the runner profile.

    Attributes:
        runner_id: Whose it is.
        calibrated_utc: When it was made (ISO 8601, UTC).
        source: Where the captures came from: "ble" or "sim:seed=N".
        chest: The chest sensor's calibration, or None.
        sacrum: The sacrum sensor's calibration, or None.
        resting_rate_bpm: Resting breathing rate (NaN if unknown).
        rest_amp_g: Resting breath amplitude (rms, g) that depth_rel is relative to, or
            None if unknown.
        path: The file it was read from, home folder as ``~`` ("" when not read from a
            file).
    """

    runner_id: str
    calibrated_utc: str
    source: str
    chest: SensorCalibration | None
    sacrum: SensorCalibration | None
    resting_rate_bpm: float = math.nan
    rest_amp_g: float | None = None
    path: str = ""

    def describe(self) -> str:
        """One line for the console and the session's events."""
        parts = [f"vertical of {' and '.join(r for r in ('chest', 'sacrum') if getattr(self, r))}"]
        if math.isfinite(self.resting_rate_bpm):
            parts.append(f"resting breath {self.resting_rate_bpm:.1f} bpm")
        if self.rest_amp_g is not None:
            parts.append("resting depth")
        where = f" from {self.path}" if self.path else ""
        return (f"stored calibration{where} (made {self.calibrated_utc}, {self.source}): "
                f"{', '.join(parts)}; forward axis from the first steady running")

    def to_record(self) -> dict[str, object]:
        """Plain data for the session store (read back by :func:`from_record`)."""
        return {"runner_id": self.runner_id, "calibrated_utc": self.calibrated_utc,
                "source": self.source, "path": self.path,
                "chest": None if self.chest is None else
                {"kind": self.chest.kind, "vertical": list(self.chest.vertical)},
                "sacrum": None if self.sacrum is None else
                {"kind": self.sacrum.kind, "vertical": list(self.sacrum.vertical)},
                "resting_rate_bpm": None if math.isnan(self.resting_rate_bpm)
                else self.resting_rate_bpm,
                "rest_amp_g": self.rest_amp_g}


def from_record(rec: dict[str, Any]) -> StoredCalibration:
    """Rebuild a StoredCalibration from :meth:`StoredCalibration.to_record`.

    Raises:
        InputError: If the record is malformed.
    """
    try:
        def sensor(d: Any) -> SensorCalibration | None:
            if d is None:
                return None
            v = [float(x) for x in d["vertical"]]
            return SensorCalibration(str(d["kind"]), (v[0], v[1], v[2]))

        rate = rec.get("resting_rate_bpm")
        amp = rec.get("rest_amp_g")
        return StoredCalibration(
            runner_id=str(rec["runner_id"]), calibrated_utc=str(rec["calibrated_utc"]),
            source=str(rec["source"]), chest=sensor(rec.get("chest")),
            sacrum=sensor(rec.get("sacrum")),
            resting_rate_bpm=math.nan if rate is None else float(rate),
            rest_amp_g=None if amp is None else float(amp), path=str(rec.get("path", "")))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"stored calibration record is malformed ({exc}): {rec!r}") from exc


def default_path() -> Path:
    """Where the profile lives when nothing else is configured."""
    home = os.environ.get("BREATHFORM_HOME")
    if home:
        return Path(home) / "profile.toml"
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "breathform" / "profile.toml"


def resolve_path(flag: str | None, configured: str = "") -> Path:
    """The profile path: ``--profile``, else ``runner.profile``, else the default."""
    if flag:
        return Path(flag).expanduser()
    if configured:
        return Path(configured).expanduser()
    return default_path()


def display_path(path: Path) -> str:
    """The path as shown and stored in sessions, with the home folder as ``~``.

    Sessions and their exports should not carry the user's account name.
    """
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except (ValueError, RuntimeError):
        return str(path)


def _fmt(v: float) -> str:
    return repr(float(v))


def to_toml(c: StoredCalibration) -> str:
    """The profile file's text."""
    lines = ["# breathform runner profile, written by `breathform calibrate`",
             "[profile]", f"version = {PROFILE_VERSION}",
             f'runner_id = "{_esc(c.runner_id)}"', f'calibrated_utc = "{c.calibrated_utc}"',
             f'source = "{_esc(c.source)}"', ""]
    for role in ("chest", "sacrum"):
        s: SensorCalibration | None = getattr(c, role)
        if s is None:
            continue
        lines += [f"[calibration.{role}]", f'kind = "{_esc(s.kind)}"',
                  "vertical = [" + ", ".join(_fmt(x) for x in s.vertical) + "]", ""]
    lines.append("[breathing]")
    if math.isfinite(c.resting_rate_bpm):
        lines.append(f"resting_rate_bpm = {_fmt(c.resting_rate_bpm)}")
    if c.rest_amp_g is not None:
        lines.append(f"rest_amp_g = {_fmt(c.rest_amp_g)}")
    return "\n".join(lines) + "\n"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def save(c: StoredCalibration, path: Path) -> Path:
    """Write the profile (atomically: a crash never leaves half a file).

    Raises:
        InputError: When the file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(to_toml(c), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"cannot write the profile {str(path)!r}: {exc.strerror}") from exc
    return path


def _get(d: dict[str, Any], key: str, prefix: str) -> Any:
    if key not in d:
        raise ConfigError(f"{prefix}{key}", None, "a value (this key is required)")
    return d[key]


def _check_keys(d: Any, known: Sequence[str], prefix: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ConfigError(prefix.rstrip(".") or "<root>", d, "a table")
    for k in d:
        if k not in known:
            raise ConfigError(f"{prefix}{k}", d[k], f"no such key; known keys here: "
                              f"{sorted(known)}")
    return d


def _number(d: dict[str, Any], key: str, prefix: str, lo: float, hi: float) -> float:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < float(v) < hi:
        raise ConfigError(f"{prefix}{key}", v, f"a number in ({lo:g}, {hi:g})")
    return float(v)


def parse(data: dict[str, Any], path: str = "") -> StoredCalibration:
    """Validate a parsed profile document.

    Raises:
        ConfigError: Naming the bad key (e.g. ``calibration.chest.vertical``), its value
            and what was expected.
    """
    _check_keys(data, ("profile", "calibration", "breathing"), "")
    prof = _check_keys(_get(data, "profile", ""), ("version", "runner_id", "calibrated_utc",
                                                    "source"), "profile.")
    if _get(prof, "version", "profile.") != PROFILE_VERSION:
        raise ConfigError("profile.version", prof["version"], f"{PROFILE_VERSION}")
    for k in ("runner_id", "calibrated_utc", "source"):
        if not isinstance(_get(prof, k, "profile."), str) or not prof[k]:
            raise ConfigError(f"profile.{k}", prof[k], "a non-empty string")
    cal = _check_keys(data.get("calibration", {}), ("chest", "sacrum"), "calibration.")
    sensors: dict[str, SensorCalibration] = {}
    for role, d in cal.items():
        pre = f"calibration.{role}."
        d = _check_keys(d, ("kind", "vertical"), pre)
        kind = _get(d, "kind", pre)
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"{pre}kind", kind, "a device kind, e.g. \"polar_h10\"")
        v = _get(d, "vertical", pre)
        ok = (isinstance(v, list) and len(v) == 3
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v))
        norm = math.sqrt(sum(float(x) ** 2 for x in v)) if ok else 0.0
        if not ok or abs(norm - 1.0) > 1e-3:
            raise ConfigError(f"{pre}vertical", v, "a unit vector [x, y, z] (norm 1)")
        sensors[role] = SensorCalibration(kind, (float(v[0]), float(v[1]), float(v[2])))
    br = _check_keys(data.get("breathing", {}), ("resting_rate_bpm", "rest_amp_g"),
                     "breathing.")
    rate = math.nan
    if "resting_rate_bpm" in br:
        rate = _number(br, "resting_rate_bpm", "breathing.", 2.0, 60.0)
    amp = None
    if "rest_amp_g" in br:
        amp = _number(br, "rest_amp_g", "breathing.", 0.0, 1.0)
    if not sensors:
        raise ConfigError("calibration", {}, "at least one of [calibration.chest] or "
                          "[calibration.sacrum]")
    return StoredCalibration(prof["runner_id"], prof["calibrated_utc"], prof["source"],
                             sensors.get("chest"), sensors.get("sacrum"), rate, amp, path)


def load(path: Path) -> StoredCalibration | None:
    """Read the profile; None when the file does not exist.

    Raises:
        InputError: When it exists but cannot be read or is not valid TOML.
        ConfigError: When a key or value is wrong (names the key, the value and what was
            expected; the message starts with the file's path).
    """
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the profile {str(path)!r}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"profile {str(path)!r} is not valid TOML: {exc}") from exc
    try:
        return parse(data, display_path(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.key}", exc.value, exc.expected) from None


def usable_for(c: StoredCalibration, sensors: Sequence[SensorInfo], source: str
               ) -> str | None:
    """Why a stored calibration cannot be used for a session, or None if it can.

    Args:
        c: The stored calibration.
        sensors: The session's sensors.
        source: The session's data source: "ble" or "sim:seed=N".
    """
    if c.source != source:
        return (f"it was made with {c.source!r} and this session is {source!r} (a "
                "calibration holds only for the sensors and mounting it was made with)")
    for s in sensors:
        sc: SensorCalibration | None = getattr(c, s.role, None)
        if sc is not None and sc.kind != s.kind:
            return f"its {s.role} sensor is a {sc.kind}, this session's is a {s.kind}"
    return None


class MountCheck:
    """Warns when a sensor is not worn as it was when the profile was made.

    A stored vertical holds only while the sensor sits at the same angle. The first still
    stretch of a session (``still_s`` of samples, every axis' std below ``still_std_g``,
    |acc| within 0.05 g of 1) gives the sensor's current vertical; more than ``max_deg``
    from the stored one means it was re-clipped (or the runner was not upright), and the
    session says so. Checks only the first ``within_s`` seconds of samples.

    Args:
        role: "chest" or "sacrum".
        vertical: The stored vertical.
        fs_hz: The sensor's sample rate.
        max_deg: Largest angle that passes.
        still_s: Length of the still stretch looked for.
        still_std_g: Largest per-axis std of a still stretch.
        within_s: Session seconds during which a still stretch is looked for.
    """

    def __init__(self, role: str, vertical: tuple[float, float, float], fs_hz: float,
                 max_deg: float = 25.0, still_s: float = 3.0, still_std_g: float = 0.03,
                 within_s: float = 120.0) -> None:
        self.role = role
        self.vertical = np.asarray(vertical, dtype=np.float64)
        self.n = max(2, round(still_s * fs_hz))
        self.max_deg = max_deg
        self.still_std_g = still_std_g
        self.within_s = within_s
        self.buf = np.zeros((0, 3))
        self.done = False

    def feed(self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64]) -> str | None:
        """Add a block of samples; return the warning once, when there is one."""
        if self.done or t_s.shape[0] == 0:
            return None
        if float(t_s[0]) > self.within_s:
            self.done = True
            return None
        self.buf = np.concatenate((self.buf, acc_g))[-self.n:]
        if self.buf.shape[0] < self.n or float(self.buf.std(axis=0).max()) >= self.still_std_g:
            return None
        m = self.buf.mean(axis=0)
        norm = float(np.linalg.norm(m))
        if abs(norm - 1.0) >= 0.05:
            return None
        self.done = True
        ang = math.degrees(math.acos(max(-1.0, min(1.0, float(m @ self.vertical) / norm))))
        if ang <= self.max_deg:
            return None
        return (f"the {self.role} sensor sits {ang:.0f} deg from its stored calibration "
                f"(standing still at t={float(t_s[-1]):.0f} s): re-clipped at another angle? "
                "Angles measured with this calibration will be wrong; run `breathform "
                "calibrate` again")


__all__: Sequence[str] = [
    "PROFILE_VERSION", "MountCheck", "SensorCalibration", "StoredCalibration", "default_path",
    "display_path", "from_record", "load", "parse", "resolve_path", "save", "to_toml", "usable_for",
]
