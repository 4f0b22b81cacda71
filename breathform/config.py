"""The TOML configuration: runner profile, sensors, thresholds, sinks.

Validation names the bad key (dotted path), the value found and what was expected.
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from breathform.alerts.engine import AlertThresholds
from breathform.errors import ConfigError, InputError
from breathform.model import DEVICE_KINDS


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """The runner's profile.

    Attributes:
        id: Pseudonymous runner id (no names: health data).
        resting_rate_bpm: Calibrated resting breathing rate, NaN until calibrated.
        resting_depth: Calibrated resting breath amplitude (chest-wall rotation, deg),
            NaN until calibrated.
        profile: Runner profile file written by ``breathform calibrate`` ("" = the
            default, see breathform.profile).
    """

    id: str = "runner-01"
    resting_rate_bpm: float = math.nan
    resting_depth: float = math.nan
    profile: str = ""


@dataclass(frozen=True, slots=True)
class SensorConfig:
    """One sensor.

    Attributes:
        kind: Device kind: "polar_h10", "movesense", "witmotion" or "diy".
        address: BLE address or name to connect to ("" = scan for the first of its kind).
        rate_hz: IMU sample rate to request.
        range_g: Accelerometer full scale to request.
    """

    kind: str
    address: str = ""
    rate_hz: float = 0.0
    range_g: float = 8.0


@dataclass(frozen=True, slots=True)
class SensorsConfig:
    """Both sensors of a run."""

    chest: SensorConfig = SensorConfig(kind="polar_h10", rate_hz=200.0, range_g=8.0)
    sacrum: SensorConfig = SensorConfig(kind="movesense", rate_hz=104.0, range_g=8.0)


@dataclass(frozen=True, slots=True)
class AlertsConfig(AlertThresholds):
    """Thresholds of the alert rules: the ``[alerts]`` table.

    Its keys, defaults and their meaning are those of
    ``breathform.alerts.engine.AlertThresholds`` (one definition for the rule and the
    config file); ranges are checked here key by key, with a ``ConfigError``.
    """


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Where sessions are written.

    Attributes:
        dir: Folder of the session files ("" = $BREATHFORM_HOME/sessions or
            ~/.local/share/breathform/sessions).
    """

    dir: str = ""


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """The live console view.

    Attributes:
        enabled: Show the live view.
        refresh_hz: Redraws per second.
    """

    enabled: bool = True
    refresh_hz: float = 4.0


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """The MQTT sink (``breathform.sinks.mqtt``; on with ``--mqtt``).

    The password is never a config value (the config is stored in every session file):
    it comes from the environment variable named by ``password_env`` or from
    ``password_file``.

    Attributes:
        url: Broker, ``mqtt://`` (TCP), ``mqtts://`` (TLS), ``ws://`` or ``wss://``, with
            an optional ``user@`` and port; ``--mqtt URL`` overrides it.
        topic_prefix: Topics are ``<topic_prefix>/<runner id>/{alerts,metrics,status}``.
        username: User name ("" = none, unless the URL has one).
        password_env: Environment variable holding the password.
        password_file: File holding the password ("" = none); used when the variable is
            unset.
        ca_file: PEM file of the CA to trust for TLS ("" = the system's CAs).
        metrics: Publish the 1 Hz metrics (QoS 0) as well as the alerts.
        alert_expiry_s: MQTT message expiry of an alert, counted from when it was raised.
        alert_buffer: Alerts kept while the broker is away (oldest dropped beyond).
        keepalive_s: MQTT keep-alive.
        reconnect_min_s: First wait before reconnecting; doubles up to ``reconnect_max_s``.
        reconnect_max_s: Longest wait between reconnection attempts.
        drain_timeout_s: At the end of a run, how long to keep trying to deliver
            pending alerts.
    """

    url: str = "mqtt://127.0.0.1:1883"
    topic_prefix: str = "breathform"
    username: str = ""
    password_env: str = "BREATHFORM_MQTT_PASSWORD"
    password_file: str = ""
    ca_file: str = ""
    metrics: bool = True
    alert_expiry_s: float = 120.0
    alert_buffer: float = 64.0
    keepalive_s: float = 15.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0
    drain_timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class InfluxConfig:
    """The InfluxDB sink and ``breathform push`` (``breathform.sinks.influx``).

    The token is never a config value (the config is stored in every session file): it
    comes from the environment variable named by ``token_env`` or from ``token_file``.
    Command-line options override these values.

    Attributes:
        bucket: Bucket, or ``database/retention-policy`` (InfluxDB 1.x).
        org: Organisation (InfluxDB 2).
        api: "v2" (``/api/v2/write`` via influxdb-client) or "v1" (``/write``, < 1.8).
        token_env: Environment variable holding the token.
        token_file: File holding the token ("" = none); used when the variable is unset.
        batch_size: Points per write request.
        flush_s: Longest time a point waits before it is sent (live).
        spool_dir: Folder of the disk spool ("" = ``influx-spool`` in the session folder).
        spool_max_mb: Bound of the spool; the oldest batches are dropped beyond it.
    """

    bucket: str = "breathform"
    org: str = "breathform"
    api: str = "v2"
    token_env: str = "BREATHFORM_INFLUX_TOKEN"
    token_file: str = ""
    batch_size: float = 1000.0
    flush_s: float = 1.0
    spool_dir: str = ""
    spool_max_mb: float = 64.0


@dataclass(frozen=True, slots=True)
class SinksConfig:
    """Live outputs."""

    console: ConsoleConfig = ConsoleConfig()
    mqtt: MqttConfig = MqttConfig()
    influx: InfluxConfig = InfluxConfig()


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    runner: RunnerConfig = RunnerConfig()
    sensors: SensorsConfig = SensorsConfig()
    alerts: AlertsConfig = AlertsConfig()
    store: StoreConfig = StoreConfig()
    sinks: SinksConfig = SinksConfig()


# Range checks: dotted key -> (predicate, what was expected).
_CHECKS: dict[str, tuple[Any, str]] = {
    "runner.id": (lambda v: 0 < len(v) <= 64 and v.isprintable() and not set(v) & set("/+#"),
                  "a non-empty printable string of at most 64 characters without / + #"),
    "sensors.chest.kind": (lambda v: v in DEVICE_KINDS, f"one of {list(DEVICE_KINDS)}"),
    "sensors.sacrum.kind": (lambda v: v in DEVICE_KINDS, f"one of {list(DEVICE_KINDS)}"),
    "sensors.chest.range_g": (lambda v: v in (2, 4, 8), "2, 4 or 8"),
    "sensors.sacrum.range_g": (lambda v: v in (2, 4, 8, 16), "2, 4, 8 or 16"),
    "alerts.baseline_start_s": (lambda v: v >= 0, "a number >= 0"),
    "alerts.baseline_len_s": (lambda v: 10 <= v <= 1800, "a number in [10, 1800]"),
    "alerts.rate_margin_rel": (lambda v: 0 < v < 2, "a number in (0, 2)"),
    "alerts.depth_drop_rel": (lambda v: 0 < v < 1, "a number in (0, 1)"),
    "alerts.pelvic_tilt_margin_deg": (lambda v: 0 < v < 45, "a number in (0, 45)"),
    "alerts.trunk_lean_margin_deg": (lambda v: 0 < v < 45, "a number in (0, 45)"),
    "alerts.hold_s": (lambda v: 1 <= v <= 600, "a number in [1, 600]"),
    "alerts.cooldown_s": (lambda v: 0 <= v <= 3600, "a number in [0, 3600]"),
    "alerts.min_quality": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "alerts.pelvic_drop_margin_deg": (lambda v: 0 < v < 45, "a number in (0, 45)"),
    "alerts.pelvic_rotation_margin_deg": (lambda v: 0 < v < 45, "a number in (0, 45)"),
    "alerts.trunk_twist_margin_deg": (lambda v: 0 < v < 45, "a number in (0, 45)"),
    "alerts.coupling_tol_strides": (lambda v: 0 < v < 0.25, "a number in (0, 0.25)"),
    "alerts.coupling_min_baseline_pct": (lambda v: 0 < v <= 100, "a number in (0, 100]"),
    "alerts.coupling_drop_pct": (lambda v: 0 < v < 100, "a number in (0, 100)"),
    "alerts.hysteresis_frac": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "alerts.climb_lean_deg": (lambda v: 0 < v < 45, "a number in (0, 45)"),
    "alerts.climb_cadence_tol_spm": (lambda v: 0 <= v <= 60, "a number in [0, 60]"),
    "alerts.severity2_excess": (lambda v: 1 <= v <= 10, "a number in [1, 10]"),
    "alerts.severity3_excess": (lambda v: 1 <= v <= 10, "a number in [1, 10]"),
    "sinks.console.refresh_hz": (lambda v: 0.1 <= v <= 30, "a number in [0.1, 30]"),
    "sinks.mqtt.url": (lambda v: v.split("://", 1)[0] in ("mqtt", "mqtts", "ws", "wss")
                       and "://" in v, "a URL mqtt://, mqtts://, ws:// or wss://HOST[:PORT]"),
    "sinks.mqtt.topic_prefix": (lambda v: 0 < len(v) <= 128 and not set(v) & set("+#\0")
                                and not v.startswith("/") and not v.endswith("/"),
                                "a non-empty MQTT topic without + # or a leading/trailing /"),
    "sinks.mqtt.alert_expiry_s": (lambda v: 1 <= v <= 86400, "a number in [1, 86400]"),
    "sinks.mqtt.alert_buffer": (lambda v: v == int(v) and 1 <= v <= 10000,
                                "a whole number in [1, 10000]"),
    "sinks.mqtt.keepalive_s": (lambda v: 5 <= v <= 3600, "a number in [5, 3600]"),
    "sinks.mqtt.reconnect_min_s": (lambda v: 0.05 <= v <= 60, "a number in [0.05, 60]"),
    "sinks.mqtt.reconnect_max_s": (lambda v: 0.05 <= v <= 600, "a number in [0.05, 600]"),
    "sinks.mqtt.drain_timeout_s": (lambda v: 0 <= v <= 600, "a number in [0, 600]"),
    "sinks.influx.bucket": (lambda v: 0 < len(v) <= 255, "a non-empty bucket name"),
    "sinks.influx.api": (lambda v: v in ("v2", "v1"), "'v2' or 'v1'"),
    "sinks.influx.batch_size": (lambda v: v == int(v) and 1 <= v <= 100000,
                                "a whole number in [1, 100000]"),
    "sinks.influx.flush_s": (lambda v: 0.05 <= v <= 60, "a number in [0.05, 60]"),
    "sinks.influx.spool_max_mb": (lambda v: 0.001 <= v <= 100000, "a number in [0.001, 100000]"),
}


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(prefix or "<root>", data, "a table")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{prefix}{key}", data[key],
                              f"no such key; known keys here: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        key = f"{prefix}{name}"
        default = (f.default if f.default is not dataclasses.MISSING
                   else f.default_factory() if f.default_factory is not dataclasses.MISSING
                   else dataclasses.MISSING)
        if name not in data:
            if default is dataclasses.MISSING:
                raise ConfigError(key, None, "a value (this key is required)")
            continue
        typ, value = hints[name], data[name]
        if dataclasses.is_dataclass(typ):
            sub = value
            if isinstance(default, SensorConfig) and isinstance(value, dict):
                sub = {**dataclasses.asdict(default), **value}
            kwargs[name] = _build(typ, sub, f"{key}.")  # type: ignore[arg-type]
            continue
        if typ is bool:
            if not isinstance(value, bool):
                raise ConfigError(key, value, "true or false")
        elif typ is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(key, value, "a number")
            value = float(value)
            if math.isinf(value):
                raise ConfigError(key, value, "a finite number")
        elif typ is str:
            if not isinstance(value, str):
                raise ConfigError(key, value, "a string")
        check = _CHECKS.get(key)
        if check is not None:
            try:
                ok = bool(check[0](value))
            except (ValueError, OverflowError):  # int(nan): not a whole number either
                ok = False
            if not ok:
                raise ConfigError(key, value, check[1])
        kwargs[name] = value
    return cls(**kwargs)


KIND_RATES_HZ: dict[str, tuple[int, ...]] = {
    "polar_h10": (25, 50, 100, 200), "movesense": (52, 104, 208),
    "witmotion": (10, 50, 100, 200), "diy": tuple(range(1, 2001))}
"""Sample rates each sensor kind offers (a DIY board: any whole number of Hz up to 2000)."""


def _check_sensor_rates(cfg: Config) -> None:
    """The rate of each sensor must be one its kind offers."""
    for role in ("chest", "sacrum"):
        sc: SensorConfig = getattr(cfg.sensors, role)
        rates = KIND_RATES_HZ.get(sc.kind, ())
        if sc.rate_hz not in rates:
            what = ("a whole number in 1..2000" if sc.kind == "diy"
                    else ", ".join(str(r) for r in rates))
            raise ConfigError(f"sensors.{role}.rate_hz", sc.rate_hz, f"{what} ({sc.kind})")


def _check_alerts(cfg: Config) -> None:
    """Alert thresholds that depend on each other."""
    a = cfg.alerts
    if not a.coupling_drop_pct < a.coupling_min_baseline_pct:
        raise ConfigError("alerts.coupling_drop_pct", a.coupling_drop_pct,
                          f"a number below alerts.coupling_min_baseline_pct "
                          f"({a.coupling_min_baseline_pct:g})")
    if not a.severity3_excess >= a.severity2_excess:
        raise ConfigError("alerts.severity3_excess", a.severity3_excess,
                          f"a number >= alerts.severity2_excess ({a.severity2_excess:g})")


def from_dict(data: dict[str, Any]) -> Config:
    """Build and validate a Config from plain data (a parsed TOML document).

    Raises:
        ConfigError: Naming the first bad key, its value and what was expected.
    """
    cfg: Config = _build(Config, data, "")
    _check_sensor_rates(cfg)
    _check_alerts(cfg)
    return cfg


def load(path: str | Path | None) -> Config:
    """Read a TOML config file; None gives the defaults.

    Raises:
        ConfigError: For a bad key or value.
        InputError: When the file is missing or is not valid TOML.
    """
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read config file {str(p)!r}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"config file {str(p)!r} is not UTF-8 text (TOML): byte "
                         f"{exc.start} is {exc.object[exc.start:exc.start + 1]!r}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {str(p)!r} is not valid TOML: {exc}") from exc
    return from_dict(data)


def to_dict(cfg: Config) -> dict[str, Any]:
    """The config as plain data (NaN kept as float NaN)."""
    return dataclasses.asdict(cfg)


def _toml_string(v: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped."""
    out = []
    for ch in v:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\t" or not (ord(ch) < 0x20 or ord(ch) == 0x7F):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}")
    return '"' + "".join(out) + '"'


def to_toml(cfg: Config) -> str:
    """The config as a TOML document that ``load`` reads back to an equal Config."""
    lines: list[str] = []

    def emit(obj: Any, prefix: str) -> None:
        scalars = [(f.name, getattr(obj, f.name)) for f in fields(obj)
                   if not dataclasses.is_dataclass(getattr(obj, f.name))]
        if scalars and prefix:
            lines.append(f"[{prefix}]")
        for name, v in scalars:
            if isinstance(v, bool):
                s = "true" if v else "false"
            elif isinstance(v, float):
                s = "nan" if math.isnan(v) else repr(v)
            elif isinstance(v, str):
                s = _toml_string(v)
            else:
                s = repr(v)
            lines.append(f"{name} = {s}")
        if scalars and prefix:
            lines.append("")
        for f in fields(obj):
            v = getattr(obj, f.name)
            if dataclasses.is_dataclass(v):
                emit(v, f"{prefix}.{f.name}" if prefix else f.name)

    emit(cfg, "")
    return "\n".join(lines) + "\n"


__all__ = ["Config", "RunnerConfig", "SensorConfig", "SensorsConfig", "AlertsConfig",
           "StoreConfig", "SinksConfig", "ConsoleConfig", "MqttConfig", "InfluxConfig", "load",
           "from_dict", "to_dict", "to_toml", "field", "InputError"]
