"""Lab Streaming Layer outlets (pylsl): live metrics and alerts, and per-sensor IMU streams.

``--lsl`` on ``demo``/``replay`` (and ``run``) publishes, on the local network:

- ``<prefix>-metrics`` (type ``Metrics``, 1 Hz nominal, float64): ``t_s`` followed by the
  numeric metrics of :data:`breathform.model.METRIC_FIELDS` (``warming_up`` as 0/1), NaN
  where there is no estimate;
- ``<prefix>-alerts`` (type ``Markers``, irregular, one string channel): each alert as JSON;
- ``<prefix>-strides`` (type ``Gait``, irregular, float64; with a sacrum sensor): one sample
  per stride, stamped at its end (the next contact of the same foot), channels
  :data:`STRIDE_CHANNELS` (``side_right`` 1 = right foot, 0 = left, NaN = not told).

Each stream's ``desc`` carries ``channels/channel`` entries with ``label``, ``unit`` and
``type`` (the XDF/LSL meta-data conventions) and an ``acquisition`` entry naming breathform,
its version and the session id. Timestamps are ``local_clock()`` at the sink's start plus the
row's session time ``t_s``, so they line up with the sensors in real-time runs.

:class:`SensorOutlets` publishes one stream per sensor (``<prefix>-chest``,
``<prefix>-sacrum``; type ``IMU``, nominal rate = the sensor's, channels ``acc_x..z`` in g
and ``gyr_x..z`` in deg/s when present), fed with decoded :class:`ImuBlock` s. The ``--lsl``
sink publishes them live: it asks the runtime for the decoded blocks (``wants_blocks``).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from breathform import __version__
from breathform.errors import SinkError
from breathform.model import METRIC_FIELDS, Alert, ImuBlock, Metrics, SensorInfo, SessionInfo
from breathform.queues import DropOldestQueue
from breathform.signal.gait import Stride

if TYPE_CHECKING:  # base.py registers this module's factory: no runtime import back
    from breathform.sinks.base import Sink, SinkContext, SinkItem

METRIC_UNITS: dict[str, str] = {
    "t_s": "s", "rate_bpm": "breaths/min", "depth_rel": "1", "breath_quality": "1",
    "strides_per_breath": "strides/breath", "cadence_spm": "steps/min",
    "pelvic_tilt_deg": "degrees", "trunk_lean_deg": "degrees", "lumbar_deg": "degrees",
    "hr_bpm": "beats/min", "warming_up": "bool", "pelvic_drop_range_deg": "degrees",
    "pelvic_rotation_range_deg": "degrees", "trunk_twist_range_deg": "degrees",
}
"""Unit of each metrics channel, in LSL's spelled-out style."""

DEVICE_MODELS: dict[str, str] = {"polar_h10": "Polar H10", "movesense": "Movesense"}


def _pylsl() -> Any:
    try:
        import pylsl
    except ImportError as exc:  # pragma: no cover - the research extra installs it
        raise SinkError("--lsl needs pylsl: pip install 'breathform[research]'") from exc
    return pylsl


def _describe(info: Any, channels: list[tuple[str, str, str]],
              session: SessionInfo) -> None:
    desc = info.desc()
    chans = desc.append_child("channels")
    for label, unit, typ in channels:
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", typ)
    acq = desc.append_child("acquisition")
    acq.append_child_value("manufacturer", "breathform")
    acq.append_child_value("software_version", __version__)
    acq.append_child_value("session_id", session.session_id)


def metric_channels() -> list[tuple[str, str, str]]:
    """(label, unit, type) of the metrics outlet's channels."""
    return [(f, METRIC_UNITS[f], "Metric") for f in METRIC_FIELDS]


STRIDE_CHANNELS: tuple[tuple[str, str, str], ...] = (
    ("t_start_s", "s", "Time"), ("stride_s", "s", "StrideTime"), ("step_s", "s", "StepTime"),
    ("cadence_spm", "steps/min", "Cadence"), ("vertical_osc_cm", "cm", "VerticalOscillation"),
    ("side_right", "bool", "Side"),
)
"""(label, unit, type) of the strides outlet's channels."""


def stride_sample(st: Stride) -> list[float]:
    """A stride as the strides outlet's sample (see :data:`STRIDE_CHANNELS`)."""
    side = {"R": 1.0, "L": 0.0}.get(st.side, math.nan)
    return [st.t_start_s, st.stride_s, st.step_s, st.cadence_spm, st.vertical_osc_cm, side]


def metrics_sample(m: Metrics) -> list[float]:
    """A metrics row as the outlet's sample (NaN = no estimate)."""
    return [float(getattr(m, f)) for f in METRIC_FIELDS]


def alert_marker(a: Alert) -> str:
    """An alert as the marker string (JSON; NaN as null)."""
    d = asdict(a)
    d["causes"] = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in c.items()} for c in d["causes"]]
    return json.dumps(d)


class LslSink:
    """Publishes the metrics and alerts of a session as LSL streams.

    Args:
        session: The session (its id goes into the stream metadata and source ids).
        prefix: Stream name prefix.

    Raises:
        SinkError: If pylsl (liblsl) is missing or an outlet cannot be created.
    """

    name = "lsl"
    queue_size = 4096  # ~30 s of two sensors' blocks plus the metrics
    wants_blocks = True
    wants_strides = True

    def __init__(self, session: SessionInfo, prefix: str = "breathform") -> None:
        pylsl = _pylsl()
        self._pylsl = pylsl
        chans = metric_channels()
        try:
            mi = pylsl.StreamInfo(f"{prefix}-metrics", "Metrics", len(chans), 1.0,
                                  pylsl.cf_double64, f"{prefix}-{session.session_id}-metrics")
            _describe(mi, chans, session)
            ai = pylsl.StreamInfo(f"{prefix}-alerts", "Markers", 1, pylsl.IRREGULAR_RATE,
                                  pylsl.cf_string, f"{prefix}-{session.session_id}-alerts")
            _describe(ai, [("alert", "json", "Marker")], session)
            self.metrics_outlet = pylsl.StreamOutlet(mi)
            self.alerts_outlet = pylsl.StreamOutlet(ai)
            self.strides_outlet: Any = None
            if any(s.role == "sacrum" for s in session.sensors):
                si = pylsl.StreamInfo(f"{prefix}-strides", "Gait", len(STRIDE_CHANNELS),
                                      pylsl.IRREGULAR_RATE, pylsl.cf_double64,
                                      f"{prefix}-{session.session_id}-strides")
                _describe(si, list(STRIDE_CHANNELS), session)
                self.strides_outlet = pylsl.StreamOutlet(si)
        except (RuntimeError, ValueError) as exc:
            raise SinkError(f"cannot create LSL outlets: {exc}") from exc
        self.t0_lsl_s = float(pylsl.local_clock())
        self.sensors = SensorOutlets(session, session.sensors, prefix, self.t0_lsl_s)
        self.n_metrics = 0
        self.n_alerts = 0
        self.n_strides = 0

    def push(self, item: Metrics | Alert | ImuBlock | Stride) -> None:
        """Publish one metrics row, alert, stride or block of sensor samples."""
        if isinstance(item, ImuBlock):
            self.sensors.push_block(item)
        elif isinstance(item, Stride):
            if self.strides_outlet is not None:
                self.strides_outlet.push_sample(stride_sample(item), self.t0_lsl_s + item.t_end_s)
                self.n_strides += 1
        elif isinstance(item, Metrics):
            self.metrics_outlet.push_sample(metrics_sample(item), self.t0_lsl_s + item.t_s)
            self.n_metrics += 1
        else:
            self.alerts_outlet.push_sample([alert_marker(item)], self.t0_lsl_s + item.t_s)
            self.n_alerts += 1

    async def run(self, q: DropOldestQueue[SinkItem]) -> None:
        """Drain the queue until None (pushing to an outlet never blocks)."""
        while True:
            item = await q.get()
            if item is None:
                return
            self.push(cast("Metrics | Alert | ImuBlock | Stride", item))


class SensorOutlets:
    """One LSL stream per sensor, fed with decoded IMU blocks.

    Args:
        session: The session.
        sensors: The sensors to publish.
        prefix: Stream name prefix.
        t0_lsl_s: LSL time of session time 0 (default: now).

    Raises:
        SinkError: If pylsl (liblsl) is missing or an outlet cannot be created.
    """

    def __init__(self, session: SessionInfo, sensors: tuple[SensorInfo, ...],
                 prefix: str = "breathform", t0_lsl_s: float | None = None) -> None:
        pylsl = _pylsl()
        self.outlets: dict[str, Any] = {}
        for s in sensors:
            chans = [(f"acc_{a}", "g", "Accelerometer") for a in "xyz"]
            if s.has_gyro:
                chans += [(f"gyr_{a}", "degrees/s", "Gyroscope") for a in "xyz"]
            try:
                info = pylsl.StreamInfo(f"{prefix}-{s.role}", "IMU", len(chans), s.fs_hz,
                                        pylsl.cf_float32,
                                        f"{prefix}-{session.session_id}-{s.role}")
                _describe(info, chans, session)
                hw = info.desc().append_child("hardware")
                hw.append_child_value("model", DEVICE_MODELS.get(s.kind, s.kind))
                hw.append_child_value("placement", s.role)
                hw.append_child_value("acc_range_g", f"{s.acc_range_g:g}")
                self.outlets[s.role] = pylsl.StreamOutlet(info)
            except (RuntimeError, ValueError) as exc:
                raise SinkError(f"cannot create the LSL outlet of {s.role}: {exc}") from exc
        self.t0_lsl_s = float(pylsl.local_clock()) if t0_lsl_s is None else t0_lsl_s

    def push_block(self, block: ImuBlock) -> None:
        """Publish a block's samples, stamped with their session times."""
        outlet = self.outlets.get(block.sensor)
        if outlet is None or block.n == 0:
            return
        cols = [block.acc_g] if block.gyr_dps is None else [block.acc_g, block.gyr_dps]
        data = np.hstack(cols).astype(np.float32)
        stamps = (self.t0_lsl_s + block.t_s).tolist()
        outlet.push_chunk(data.tolist(), stamps)


class LslSinkFactory:
    """Adds ``--lsl`` to the run-like commands and builds the sink."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the LSL options."""
        g = parser.add_argument_group("Lab Streaming Layer")
        g.add_argument("--lsl", action="store_true",
                       help="publish the sensors' samples, the 1 Hz metrics and the alerts as "
                       "LSL streams (<prefix>-chest, <prefix>-sacrum, <prefix>-metrics, "
                       "<prefix>-alerts)")
        g.add_argument("--lsl-prefix", default="breathform", metavar="NAME",
                       help="LSL stream name prefix (default breathform)")

    def create(self, args: argparse.Namespace, ctx: SinkContext) -> Sink | None:
        """The sink, or None without ``--lsl``."""
        if not getattr(args, "lsl", False):
            return None
        prefix = str(getattr(args, "lsl_prefix", "breathform"))
        if not prefix or any(c.isspace() for c in prefix):
            raise SinkError(f"--lsl-prefix must be a non-empty name without spaces, got "
                            f"{prefix!r}")
        return LslSink(ctx.info, prefix)
