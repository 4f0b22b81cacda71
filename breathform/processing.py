"""The synchronous core shared by live runs, the simulator, replay and benchmarks.

Raw packets in, 1 Hz metrics and alerts out: device decoders -> DSP pipeline -> alert
rules. No asyncio and no I/O here, so a stored session re-analysed with the same config
gives exactly the metrics and alerts the live run produced.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from breathform.alerts import engine as alert_engine
from breathform.config import Config
from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.model import Alert, HeartRate, ImuBlock, Metrics, RawPacket, SensorInfo
from breathform.profile import MountCheck, StoredCalibration
from breathform.signal import pipeline as dsp
from breathform.signal import sensors as sn
from breathform.signal.gait import Stride
from breathform.signal.posture import SegmentCalibration

AUTO_CALIBRATION_NOTE = ("no stored calibration: calibrating automatically (vertical from "
                         "the first still seconds, forward axis from the first steady "
                         "running minute)")


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
    strides: list[Stride] = field(default_factory=list)


class SessionProcessor:
    """Decode + DSP + alerts for one session, fed batches of raw packets in receive order.

    Args:
        cfg: The configuration.
        sensors: The session's sensors.
        calibration: A stored calibration (runner profile) to start from, or None to
            calibrate automatically in the first steady minute.
        calibration_note: Why there is no stored calibration (for the session's events),
            when ``calibration`` is None.
    """

    def __init__(self, cfg: Config, sensors: Sequence[SensorInfo],
                 calibration: StoredCalibration | None = None,
                 calibration_note: str = AUTO_CALIBRATION_NOTE) -> None:
        self.sensors = tuple(sensors)
        self.stored_calibration = calibration
        self.calibration_note = (calibration.describe() if calibration is not None
                                 else calibration_note)
        self._noted = False
        self.decoders = {s.role: SensorDecoder(s.role, s.kind, s.fs_hz) for s in sensors}
        by_role = {s.role: s for s in sensors}
        chest, sacrum = by_role.get("chest"), by_role.get("sacrum")
        if chest is None:
            raise InputError("a session needs a chest sensor (breathing); got sensors "
                             f"{[s.role for s in sensors]}")
        cal = calibration
        chest_cal = sacrum_cal = None
        if cal is not None and cal.chest is not None:
            chest_cal = SegmentCalibration(cal.chest.vertical)
        if cal is not None and cal.sacrum is not None:
            sacrum_cal = SegmentCalibration(cal.sacrum.vertical)
        self.dsp_params = dsp.PipelineParams(
            chest_fs_hz=chest.fs_hz,
            sacrum_fs_hz=None if sacrum is None else sacrum.fs_hz,
            chest_has_gyro=chest.has_gyro,
            sacrum_has_gyro=False if sacrum is None else sacrum.has_gyro,
            chest=None if cal is None else sn.ChestParams(
                chest.fs_hz, chest.has_gyro, calibration=chest_cal,
                rest_amp_g=cal.rest_amp_g),
            sacrum=None if cal is None or sacrum is None else sn.SacrumParams(
                sacrum.fs_hz, sacrum.has_gyro, calibration=sacrum_cal),
        )
        self.dsp_state = dsp.init_state(self.dsp_params)
        self.mount_checks = {
            s.role: MountCheck(s.role, sc.vertical, s.fs_hz) for s in sensors
            if cal is not None and (sc := getattr(cal, s.role, None)) is not None}
        self.alert_params = alert_engine.AlertParams.from_config(cfg.alerts)
        self.alert_state = alert_engine.init_state(self.alert_params)
        self.counters = Counters(samples={s.role: 0 for s in sensors})

    def feed(self, packets: Sequence[RawPacket]) -> StepOutput:
        """Process a batch of packets (any batching gives the same total output)."""
        blocks: list[ImuBlock] = []
        hr: list[HeartRate] = []
        events: list[tuple[float, str, str]] = []
        if not self._noted and packets:
            # the session says which calibration it used, first thing
            self._noted = True
            events.append((packets[0].t_rx_s, "calibration", self.calibration_note))
        # each sensor's packets are decoded in one call (its decoder sees them in the same
        # order), then the results are taken in receive order as before
        by_sensor: dict[str, list[RawPacket]] = {}
        for pkt in packets:
            by_sensor.setdefault(pkt.sensor, []).append(pkt)
        results: dict[str, list[list[ImuBlock | HeartRate]]] = {}
        errors: dict[str, Iterator[tuple[int, DecodeError]]] = {}
        next_err: dict[str, tuple[int, DecodeError] | None] = {}
        counters = self.counters
        samples = counters.samples
        for sensor, pkts in by_sensor.items():
            dec = self.decoders.get(sensor)
            if dec is not None:
                n_before = dec.n_samples
                results[sensor] = dec.feed_many(pkts)
                samples[sensor] += dec.n_samples - n_before  # the samples of its blocks
                errors[sensor] = iter(dec.batch_errors)
                next_err[sensor] = next(errors[sensor], None)
        checks = self.mount_checks
        counters.packets += len(packets)
        if (len(results) == len(by_sensor) and not any(next_err.values())
                and not (checks and not all(c.done for c in checks.values()))):
            # nothing per packet to report unless a block has a gap: take the items in
            # receive order in one pass
            its = {sensor: iter(res) for sensor, res in results.items()}
            items = list(itertools.chain.from_iterable(
                [next(its[pkt.sensor]) for pkt in packets]))
            blocks = [x for x in items if isinstance(x, ImuBlock)]
            if not any(b.gap for b in blocks):
                if len(blocks) != len(items):
                    hr = [x for x in items if isinstance(x, HeartRate)]
                return self._step(blocks, hr, events)
            blocks = []
        decoded = {sensor: iter(res) for sensor, res in results.items()}
        pos = dict.fromkeys(by_sensor, 0)
        for pkt in packets:
            sensor = pkt.sensor
            it = decoded.get(sensor)
            if it is None:
                continue
            for item in next(it):
                if isinstance(item, ImuBlock):
                    blocks.append(item)
                    if checks:
                        check = checks.get(item.sensor)
                        warn = None if check is None else check.feed(item.t_s, item.acc_g)
                        if warn is not None:
                            events.append((pkt.t_rx_s, "calibration_warning", warn))
                    if item.gap:
                        counters.gaps += 1
                        events.append((pkt.t_rx_s, "gap", f"{item.sensor}: samples lost "
                                       f"before seq {item.seq}"))
                else:
                    hr.append(item)
            err = next_err[sensor]
            if err is not None and err[0] == pos[sensor]:
                counters.decode_errors += 1
                events.append((pkt.t_rx_s, "decode_error", f"{sensor}: {err[1]}"))
                next_err[sensor] = next(errors[sensor], None)
            pos[sensor] += 1
        return self._step(blocks, hr, events)

    def _step(self, blocks: list[ImuBlock], hr: list[HeartRate],
              events: list[tuple[float, str, str]]) -> StepOutput:
        """DSP and alert rules on a batch's decoded items."""
        metrics, self.dsp_state = dsp.step(self.dsp_params, self.dsp_state, blocks, hr)
        strides, self.dsp_state = dsp.take_strides(self.dsp_state)
        alerts: list[Alert] = []
        if metrics:
            alerts, self.alert_state = alert_engine.step(self.alert_params, self.alert_state,
                                                         metrics)
        return StepOutput(metrics, alerts, events, blocks, strides)

    @property
    def climb(self) -> bool:
        """Whether the alert rules currently see a climb."""
        return alert_engine.is_climbing(self.alert_params, self.alert_state)

    def calibration(self) -> dict[str, object]:
        """The calibration the DSP has settled on so far (JSON-serialisable).

        ``source`` is "profile" (with the stored calibration under ``profile``) or "auto".
        """
        out: dict[str, object] = {}
        sc = self.stored_calibration
        out["source"] = "auto" if sc is None else "profile"
        out["note"] = self.calibration_note
        if sc is not None:
            out["profile"] = sc.to_record()
        st = self.dsp_state
        for role, sub in (("chest", st.chest), ("sacrum", st.sacrum)):
            if sub is None:
                continue
            for axis in ("vertical", "forward"):
                v = getattr(sub.posture, axis)
                out[f"{role}_{axis}"] = None if bool(np.any(np.isnan(v))) else [
                    float(x) for x in v]
        return out
