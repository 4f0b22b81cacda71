"""The synchronous core shared by live runs, the simulator, replay and benchmarks.

Raw packets in, 1 Hz metrics and alerts out: device decoders -> DSP pipeline -> alert
rules. No asyncio and no I/O here, so a stored session re-analysed with the same config
gives exactly the metrics and alerts the live run produced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from breathform.alerts import engine as alert_engine
from breathform.config import Config
from breathform.errors import InputError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.model import Alert, HeartRate, ImuBlock, Metrics, RawPacket, SensorInfo
from breathform.signal import pipeline as dsp


@dataclass(slots=True)
class Counters:
    """Running counts a user should see (live view, summary, session store)."""

    packets: int = 0
    decode_errors: int = 0
    gaps: int = 0
    samples: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepOutput:
    """What one batch of packets produced."""

    metrics: list[Metrics]
    alerts: list[Alert]
    events: list[tuple[float, str, str]]
    blocks: list[ImuBlock] = field(default_factory=list)


class SessionProcessor:
    """Decode + DSP + alerts for one session, fed batches of raw packets in receive order."""

    def __init__(self, cfg: Config, sensors: Sequence[SensorInfo]) -> None:
        self.sensors = tuple(sensors)
        self.decoders = {s.role: SensorDecoder(s.role, s.kind, s.fs_hz) for s in sensors}
        by_role = {s.role: s for s in sensors}
        chest, sacrum = by_role.get("chest"), by_role.get("sacrum")
        if chest is None:
            raise InputError("a session needs a chest sensor (breathing); got sensors "
                             f"{[s.role for s in sensors]}")
        self.dsp_params = dsp.PipelineParams(
            chest_fs_hz=chest.fs_hz,
            sacrum_fs_hz=None if sacrum is None else sacrum.fs_hz,
            chest_has_gyro=chest.has_gyro,
            sacrum_has_gyro=False if sacrum is None else sacrum.has_gyro,
        )
        self.dsp_state = dsp.init_state(self.dsp_params)
        self.alert_params = alert_engine.AlertParams.from_config(cfg.alerts)
        self.alert_state = alert_engine.init_state(self.alert_params)
        self.counters = Counters(samples={s.role: 0 for s in sensors})

    def feed(self, packets: Sequence[RawPacket]) -> StepOutput:
        """Process a batch of packets (any batching gives the same total output)."""
        blocks: list[ImuBlock] = []
        hr: list[HeartRate] = []
        events: list[tuple[float, str, str]] = []
        for pkt in packets:
            dec = self.decoders.get(pkt.sensor)
            self.counters.packets += 1
            if dec is None:
                continue
            n_err = dec.n_decode_errors
            for item in dec.feed(pkt):
                if isinstance(item, ImuBlock):
                    blocks.append(item)
                    self.counters.samples[item.sensor] += item.n
                    if item.gap:
                        self.counters.gaps += 1
                        events.append((pkt.t_rx_s, "gap", f"{item.sensor}: samples lost "
                                       f"before seq {item.seq}"))
                else:
                    hr.append(item)
            if dec.n_decode_errors > n_err:
                self.counters.decode_errors += dec.n_decode_errors - n_err
                events.append((pkt.t_rx_s, "decode_error", f"{pkt.sensor}: {dec.last_error}"))
        metrics, self.dsp_state = dsp.step(self.dsp_params, self.dsp_state, blocks, hr)
        alerts: list[Alert] = []
        if metrics:
            alerts, self.alert_state = alert_engine.step(self.alert_params, self.alert_state,
                                                         metrics)
        return StepOutput(metrics, alerts, events, blocks)

    @property
    def climb(self) -> bool:
        """Whether the alert rules currently see a climb."""
        return alert_engine.is_climbing(self.alert_params, self.alert_state)

    def calibration(self) -> dict[str, object]:
        """The calibration the DSP has settled on so far (JSON-serialisable)."""
        out: dict[str, object] = {}
        st = self.dsp_state
        for role, sub in (("chest", st.chest), ("sacrum", st.sacrum)):
            if sub is None:
                continue
            for axis in ("vertical", "forward"):
                v = getattr(sub.posture, axis)
                out[f"{role}_{axis}"] = None if bool(np.any(np.isnan(v))) else [
                    float(x) for x in v]
        return out
