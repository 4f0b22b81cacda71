"""Values that cross module boundaries: frozen, slotted, validated dataclasses.

Units are in every name. ``t_s`` is session time: monotonic seconds since the session
started. Wall-clock time appears only at the sinks (``*_utc_ns``).
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from breathform.errors import InputError

SensorRole = Literal["chest", "sacrum"]
SENSOR_ROLES: tuple[SensorRole, ...] = ("chest", "sacrum")

_T = TypeVar("_T")

DeviceKind = Literal["polar_h10", "movesense", "witmotion", "diy"]
DEVICE_KINDS: tuple[DeviceKind, ...] = ("polar_h10", "movesense", "witmotion", "diy")


@dataclass(frozen=True, slots=True)
class RawPacket:
    """One BLE notification exactly as received, stored before anything decodes it.

    Attributes:
        t_rx_s: Receive time in session seconds (host monotonic clock).
        sensor: Which sensor sent it ("chest" or "sacrum").
        char: Characteristic UUID it arrived on, lowercase, 128-bit form.
        payload: The notification's bytes.
    """

    t_rx_s: float
    sensor: str
    char: str
    payload: bytes

    def __post_init__(self) -> None:
        if not math.isfinite(self.t_rx_s):
            raise InputError(f"t_rx_s must be finite, got {self.t_rx_s}")
        if self.sensor not in SENSOR_ROLES:
            raise InputError(f"sensor must be one of {SENSOR_ROLES}, got {self.sensor!r}")
        if not isinstance(self.payload, bytes):
            raise InputError(f"payload must be bytes, got {type(self.payload).__name__}")

    @classmethod
    def unchecked_many(cls, t_rx_s: Sequence[float], sensor: Sequence[str],
                       char: Sequence[str], payload: Sequence[bytes]) -> list[RawPacket]:
        """Build packets from columns already known to be valid, skipping the checks.

        For the session store, which checks a whole chunk of stored rows at once (every
        ``t_rx_s`` a finite float, every ``sensor`` a role, every ``payload`` bytes);
        building a replay's packets one by one through ``__init__`` costs more than
        reading them.

        Args:
            t_rx_s: Receive times, one per packet.
            sensor: Roles, one per packet.
            char: Characteristic UUIDs, one per packet.
            payload: Notification bytes, one per packet.

        Returns:
            The packets, in order.
        """
        return _build(cls, len(t_rx_s), _RAW_PACKET_SLOTS, (t_rx_s, sensor, char, payload))


def _build(cls: type[_T], n: int, slots: tuple[Callable[[Any, Any], None], ...],
           columns: tuple[Iterable[Any], ...]) -> list[_T]:
    """Instances of a frozen slotted class (n of them), each slot set from its column.

    Each slot's own descriptor is mapped over the instances: a field per pass, no
    Python-level call per instance (what object.__setattr__ does, without the lookups).
    """
    out: list[_T] = list(map(object.__new__, itertools.repeat(cls, n)))
    sink: collections.deque[None] = collections.deque(maxlen=0)
    for set_slot, column in zip(slots, columns, strict=True):
        sink.extend(map(set_slot, out, column))
    return out


_RAW_PACKET_SLOTS = tuple(RawPacket.__dict__[name].__set__ for name in (
    "t_rx_s", "sensor", "char", "payload"))


@dataclass(frozen=True, slots=True)
class ImuBlock:
    """A block of IMU samples from one sensor, timed in session seconds.

    Attributes:
        sensor: "chest" or "sacrum".
        fs_hz: Nominal sample rate of the stream.
        seq: Absolute index of the first sample in this sensor's stream (counts
            samples lost in gaps too, so ``seq`` jumps across a gap).
        t_s: Sample times in session seconds, shape (n,), strictly increasing.
        acc_g: Specific force in g, sensor frame, shape (n, 3).
        gyr_dps: Angular rate in deg/s, sensor frame, shape (n, 3), or None when the
            sensor has no gyroscope (Polar H10).
        gap: True when samples were lost just before this block.
    """

    sensor: str
    fs_hz: float
    seq: int
    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    gap: bool = False

    def __post_init__(self) -> None:
        if self.sensor not in SENSOR_ROLES:
            raise InputError(f"sensor must be one of {SENSOR_ROLES}, got {self.sensor!r}")
        if not self.fs_hz > 0:
            raise InputError(f"fs_hz must be > 0, got {self.fs_hz}")
        n = self.t_s.shape[0] if self.t_s.ndim == 1 else -1
        if n < 0:
            raise InputError(f"t_s must have shape (n,), got {self.t_s.shape}")
        if self.acc_g.shape != (n, 3):
            raise InputError(f"acc_g must have shape ({n}, 3), got {self.acc_g.shape}")
        if self.gyr_dps is not None and self.gyr_dps.shape != (n, 3):
            raise InputError(f"gyr_dps must have shape ({n}, 3), got {self.gyr_dps.shape}")
        # t[i+1] > t[i] holds exactly when t[i+1] - t[i] > 0 (gradual underflow; NaN fails
        # both), without np.diff's overhead: this runs for every block
        if n > 1 and not bool((self.t_s[1:] > self.t_s[:-1]).all()):
            raise InputError("t_s must be strictly increasing")

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])

    @classmethod
    def unchecked_many(cls, sensor: str, fs_hz: float, seq: Sequence[int],
                       t_s: Sequence[NDArray[np.float64]], acc_g: Sequence[NDArray[np.float64]],
                       gyr_dps: Sequence[NDArray[np.float64] | None], gap: Sequence[bool]
                       ) -> list[ImuBlock]:
        """Build blocks whose fields are already known to be valid, skipping the checks.

        For the device decoders only, which build every field to the shapes above, with
        ``t_s`` strictly increasing by construction (the device clock map); this runs for
        every packet, where the checks cost more than the rest of building the block.

        Args:
            sensor: The blocks' sensor.
            fs_hz: Their nominal sample rate.
            seq: Each block's first sample index.
            t_s: Each block's sample times.
            acc_g: Each block's acceleration.
            gyr_dps: Each block's angular rate (or None).
            gap: Each block's gap flag.

        Returns:
            The blocks, in order.
        """
        n = len(seq)
        return _build(cls, n, _IMU_BLOCK_SLOTS, (
            itertools.repeat(sensor, n), itertools.repeat(fs_hz, n), seq, t_s, acc_g, gyr_dps,
            gap))


_IMU_BLOCK_SLOTS = tuple(ImuBlock.__dict__[name].__set__ for name in (
    "sensor", "fs_hz", "seq", "t_s", "acc_g", "gyr_dps", "gap"))


@dataclass(frozen=True, slots=True)
class HeartRate:
    """One Heart Rate Measurement notification, decoded.

    Attributes:
        t_s: Receive time in session seconds.
        hr_bpm: Heart rate in beats per minute.
        rr_ms: RR intervals in milliseconds, oldest first (may be empty).
    """

    t_s: float
    hr_bpm: float
    rr_ms: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Metrics:
    """The 1 Hz summary of the runner's breathing and form, for second ``t_s``.

    Every estimate is NaN when there is none (warming up, gap, low quality).

    Attributes:
        t_s: End of the 1-s interval this row describes (session seconds).
        rate_bpm: Breathing rate, breaths per minute.
        depth_rel: Breath depth relative to the calibrated resting breath (1.0 = resting).
        breath_quality: 0..1, how far to trust rate_bpm and depth_rel.
        strides_per_breath: Strides (two steps) per breath.
        cadence_spm: Steps per minute.
        pelvic_tilt_deg: Sagittal pelvic tilt relative to calibrated neutral, + anterior.
        pelvic_drop_range_deg: Frontal pelvic roll, peak-to-peak over the last stride
            (NaN without a sacrum gyroscope).
        pelvic_rotation_range_deg: Transverse pelvic yaw, peak-to-peak over the last stride
            (NaN without a sacrum gyroscope).
        trunk_lean_deg: Sagittal trunk lean relative to calibrated neutral, + forward.
        trunk_twist_range_deg: Transverse trunk yaw, peak-to-peak over the last stride (NaN
            without a chest gyroscope, e.g. from a Polar H10).
        lumbar_deg: Chest pitch minus pelvis pitch, relative to neutral (+ = more flexed
            trunk relative to the pelvis).
        hr_bpm: Heart rate from the chest strap, NaN when there is none.
        warming_up: True until the filters and calibration have settled.
    """

    t_s: float
    rate_bpm: float = math.nan
    depth_rel: float = math.nan
    breath_quality: float = 0.0
    strides_per_breath: float = math.nan
    cadence_spm: float = math.nan
    pelvic_tilt_deg: float = math.nan
    trunk_lean_deg: float = math.nan
    lumbar_deg: float = math.nan
    hr_bpm: float = math.nan
    warming_up: bool = True
    pelvic_drop_range_deg: float = math.nan
    pelvic_rotation_range_deg: float = math.nan
    trunk_twist_range_deg: float = math.nan

    def __post_init__(self) -> None:
        if not math.isfinite(self.t_s):
            raise InputError(f"Metrics.t_s must be finite, got {self.t_s}")
        if not 0.0 <= self.breath_quality <= 1.0:
            raise InputError(f"breath_quality must be in [0, 1], got {self.breath_quality}")


METRIC_FIELDS: tuple[str, ...] = (
    "t_s", "rate_bpm", "depth_rel", "breath_quality", "strides_per_breath",
    "cadence_spm", "pelvic_tilt_deg", "trunk_lean_deg", "lumbar_deg", "hr_bpm",
    "warming_up", "pelvic_drop_range_deg", "pelvic_rotation_range_deg",
    "trunk_twist_range_deg",
)
"""Every Metrics field, in the order of the session store's columns and the exports.

Fields added after the first release come last, so older readers' columns keep their place.
"""


@dataclass(frozen=True, slots=True)
class Cause:
    """One reason an alert fired, with the numbers behind it.

    Attributes:
        name: Machine name, e.g. "rate_high", "pelvic_tilt_anterior".
        metric: The Metrics field it is about, e.g. "rate_bpm".
        value: The runner's current value (mean over the hold window).
        baseline: The runner's own baseline for it.
        threshold: The value it had to cross.
        unit: Unit of value/baseline/threshold, e.g. "bpm", "deg".
    """

    name: str
    metric: str
    value: float
    baseline: float
    threshold: float
    unit: str


@dataclass(frozen=True, slots=True)
class Alert:
    """A coaching alert: breathless AND form degraded, sustained.

    Attributes:
        t_s: Session time the alert fired.
        kind: Rule name, e.g. "breathless_form".
        severity: 1 (notice) .. 3 (urgent).
        causes: Why it fired, each with its numbers.
        cue: A short coaching cue for the runner.
        climb: True when the context suggests the runner is climbing.
    """

    t_s: float
    kind: str
    severity: int
    causes: tuple[Cause, ...]
    cue: str
    climb: bool = False

    def __post_init__(self) -> None:
        if self.severity not in (1, 2, 3):
            raise InputError(f"severity must be 1, 2 or 3, got {self.severity}")
        if not self.causes:
            raise InputError("an alert needs at least one cause")


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """What the session knows about one sensor.

    Attributes:
        role: "chest" or "sacrum".
        kind: Device kind, e.g. "polar_h10".
        fs_hz: Nominal IMU sample rate.
        acc_range_g: Accelerometer full scale, in g.
        has_gyro: Whether the stream carries a gyroscope.
    """

    role: str
    kind: str
    fs_hz: float
    acc_range_g: float
    has_gyro: bool


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """Identity and provenance of one recorded session.

    Attributes:
        session_id: Unique id, also the file stem.
        started_utc_ns: Wall-clock start, Unix nanoseconds (for the sinks only).
        source: "sim", "ble" or "replay:<id>".
        software_version: breathform version that recorded it.
        sensors: The sensors of the session.
        runner_id: Pseudonymous runner id.
    """

    session_id: str
    started_utc_ns: int
    source: str
    software_version: str
    sensors: tuple[SensorInfo, ...] = field(default_factory=tuple)
    runner_id: str = "runner"
