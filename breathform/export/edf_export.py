"""EDF+ export (pyedflib): one file per sensor plus one for the 1 Hz metrics.

Layout of the output folder: ``chest.edf``, ``sacrum.edf``, ``metrics.edf`` and
``metadata.json`` (the full metadata, which EDF's 80-character header fields cannot hold).
The per-stride table is not written here (an annotation per contact would swamp the alerts);
the CSV and Parquet exports carry it.

- Physical range = the sensor's full scale (acceleration +-``acc_range_g`` g, angular rate
  +-``gyr_range_dps`` deg/s), digital range -32767..32767; values are rounded to the nearest
  step (2 * full scale / 65534). The digital value -32768 means "no data": it fills the
  samples lost in a gap and the padding of the last data record.
- The file starts on the whole second before the stream's first sample; the fraction is
  filled with "no data". Sample k of a signal sits at ``file start + k / fs``; the samples
  of the stream are placed by their stream index ``seq`` (so lost samples keep their
  place). The sensor clock's drift against session time is in ``metadata.json``
  (``clock_alignment``).
- Annotations: every alert (``alert <kind> sev<N>``), every gap (``gap: N lost``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from breathform.errors import InputError
from breathform.export.streams import SensorStream, SessionData
from breathform.export.tables import metrics_columns, stream_offset_s
from breathform.export.writer import Step
from breathform.model import Alert

DIGITAL_MIN = -32767
DIGITAL_MAX = 32767
NO_DATA = -32768
"""Digital value of a sample that does not exist (gap, padding)."""
MAX_ANNOTATION_CHARS = 40
"""edflib writes at most this many characters of an annotation."""

METRIC_RANGES: dict[str, tuple[float, float, str]] = {
    "rate_bpm": (0.0, 120.0, "/min"),
    "depth_rel": (0.0, 10.0, "1"),
    "breath_quality": (0.0, 1.0, "1"),
    "strides_per_breath": (0.0, 10.0, "1"),
    "cadence_spm": (0.0, 300.0, "/min"),
    "pelvic_tilt_deg": (-90.0, 90.0, "deg"),
    "trunk_lean_deg": (-90.0, 90.0, "deg"),
    "lumbar_deg": (-90.0, 90.0, "deg"),
    "hr_bpm": (0.0, 250.0, "/min"),
    "warming_up": (0.0, 1.0, "1"),
    "pelvic_drop_range_deg": (0.0, 90.0, "deg"),
    "pelvic_rotation_range_deg": (0.0, 90.0, "deg"),
    "trunk_twist_range_deg": (0.0, 90.0, "deg"),
}
"""Physical range and EDF dimension of each metric (values outside are clipped)."""


def metric_label(name: str) -> str:
    """The EDF label (at most 16 characters) of a metric."""
    return {"strides_per_breath": "strides_breath", "pelvic_drop_range_deg": "pelvic_drop_rng",
            "pelvic_rotation_range_deg": "pelvic_rot_rng",
            "trunk_twist_range_deg": "trunk_twist_rng"}.get(name, name)[:16]


@dataclass(frozen=True, slots=True)
class EdfSignal:
    """One EDF signal before quantisation.

    Attributes:
        label: Signal label (<= 16 characters).
        dimension: Physical unit (<= 8 characters).
        phys_min: Physical value of DIGITAL_MIN.
        phys_max: Physical value of DIGITAL_MAX.
        fs_hz: Sample rate.
        values: Physical values, NaN where there is no data, shape (n,).
        transducer: Transducer text (<= 80 characters).
    """

    label: str
    dimension: str
    phys_min: float
    phys_max: float
    fs_hz: float
    values: NDArray[np.float64]
    transducer: str = ""


def quantise(values: NDArray[np.float64], phys_min: float, phys_max: float
             ) -> NDArray[np.int32]:
    """Physical values -> EDF digital values (NaN -> NO_DATA, out of range clipped)."""
    scale = (DIGITAL_MAX - DIGITAL_MIN) / (phys_max - phys_min)
    d = np.rint((np.clip(values, phys_min, phys_max) - phys_min) * scale + DIGITAL_MIN)
    d = np.where(np.isnan(values), NO_DATA, d)
    return d.astype(np.int32)


def to_physical(digital: NDArray[np.integer[Any]], phys_min: float, phys_max: float
                ) -> NDArray[np.float64]:
    """EDF digital values -> physical values (NO_DATA -> NaN); the inverse of quantise."""
    scale = (phys_max - phys_min) / (DIGITAL_MAX - DIGITAL_MIN)
    out = (digital.astype(np.float64) - DIGITAL_MIN) * scale + phys_min
    return np.where(digital == NO_DATA, np.nan, out)


def _record_s(rates: list[float]) -> int:
    for dur in (1, 2, 4, 5, 10, 20, 25, 50):
        if all(abs(r * dur - round(r * dur)) < 1e-9 for r in rates):
            return dur
    raise InputError(f"sample rates {rates} Hz cannot share an EDF data record of at most "
                     "50 s (each needs a whole number of samples per record)")


def _pyedflib() -> Any:
    try:
        import pyedflib
    except ImportError as exc:  # pragma: no cover - the research extra installs it
        raise InputError("EDF+ export needs pyedflib: pip install 'breathform[research]'"
                         ) from exc
    return pyedflib


def write_edf_file(path: Path, signals: list[EdfSignal], start_utc: dt.datetime,
                   annotations: list[tuple[float, float, str]], *, patient_code: str,
                   equipment: str, recording: str) -> None:
    """Write one EDF+ file.

    Args:
        path: Output file.
        signals: The signals (same duration).
        start_utc: Wall-clock time (UTC) of the first sample of every signal.
        annotations: (onset s from the first sample, duration s or -1, text).
        patient_code: Pseudonymous patient code.
        equipment: Equipment text.
        recording: Additional recording text.

    Raises:
        InputError: If the signals cannot share a data record.
    """
    pyedflib = _pyedflib()
    rec_s = _record_s([s.fs_hz for s in signals])
    per_rec = [round(s.fs_hz * rec_s) for s in signals]
    # The file starts on the whole second (pyedflib 0.1.42 loses sub-second start times);
    # each signal is led by NO_DATA samples for the fraction, so a sample sits within half a
    # sample period of its true time.
    frac_s = start_utc.microsecond / 1e6
    start_utc = start_utc.replace(microsecond=0)
    lead = [round(frac_s * s.fs_hz) for s in signals]
    n_rec = max(1, max(-(-(s.values.size + m) // k)
                       for s, k, m in zip(signals, per_rec, lead, strict=True)))
    headers, data = [], []
    for s, k, m in zip(signals, per_rec, lead, strict=True):
        d = np.full(n_rec * k, NO_DATA, dtype=np.int32)
        d[m:m + s.values.size] = quantise(s.values, s.phys_min, s.phys_max)
        data.append(d)
        headers.append({"label": s.label[:16], "dimension": s.dimension[:8],
                        "sample_frequency": s.fs_hz, "physical_min": s.phys_min,
                        "physical_max": s.phys_max, "digital_min": NO_DATA,
                        "digital_max": DIGITAL_MAX, "transducer": s.transducer[:80],
                        "prefilter": ""})
    w = pyedflib.EdfWriter(str(path), len(signals), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        if rec_s != 1:
            with warnings.catch_warnings():
                # pyedflib warns that a forced record length may change the computed rates:
                # _record_s chose one that holds a whole number of samples of every rate
                warnings.filterwarnings("ignore", "Forcing a specific record_duration")
                w.setDatarecordDuration(rec_s)
        w.setSignalHeaders(headers)
        w.setStartdatetime(start_utc.replace(tzinfo=None))
        # EDF+ header subfields: ASCII, no spaces, equipment + recording <= 80 chars together
        w.setPatientCode(_field(patient_code, 40))
        w.setEquipment(_field(equipment, 30))
        w.setRecordingAdditional(_field(recording, 40))
        w.writeSamples(data, digital=True)
        for onset, dur, text in annotations:
            w.writeAnnotation(max(0.0, onset + frac_s), dur, text[:MAX_ANNOTATION_CHARS])
    finally:
        w.close()


def _field(text: str, n: int) -> str:
    return re.sub(r"[^\x21-\x7e]", "_", text)[:n]


def _alert_annotation(a: Alert) -> str:
    return f"alert {a.kind} sev{a.severity}{' climb' if a.climb else ''}"


def _utc(started_utc_ns: int, t_s: float) -> dt.datetime:
    us = started_utc_ns // 1000 + round(t_s * 1e6)
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)


def sensor_signals(s: SensorStream) -> list[EdfSignal]:
    """The EDF signals of a sensor stream, laid out by stream index (gaps = NaN)."""
    n = int(s.seq[-1] - s.seq[0] + 1) if s.n else 0
    idx = (s.seq - s.seq[0]) if s.n else s.seq
    model = {"polar_h10": "Polar H10", "movesense": "Movesense"}.get(s.info.kind, s.info.kind)
    out = []
    r = s.info.acc_range_g
    for i, a in enumerate("xyz"):
        v = np.full(n, np.nan)
        v[idx] = s.acc_g[:, i]
        out.append(EdfSignal(f"{s.info.role} acc {a}", "g", -r, r, s.info.fs_hz, v,
                             f"{model} accelerometer, +-{r:g} g"))
    if s.gyr_dps is not None:
        from breathform.export.metadata import GYRO_RANGE_DPS
        g = GYRO_RANGE_DPS.get(s.info.kind, 2000.0)
        for i, a in enumerate("xyz"):
            v = np.full(n, np.nan)
            v[idx] = s.gyr_dps[:, i]
            out.append(EdfSignal(f"{s.info.role} gyr {a}", "deg/s", -g, g, s.info.fs_hz, v,
                                 f"{model} gyroscope, +-{g:g} deg/s"))
    return out


def write_edf(data: SessionData, metadata: dict[str, Any], out: Path,
              step: Step) -> list[Path]:
    """Write the EDF+ export into the folder ``out``.

    Args:
        data: The decoded session.
        metadata: From :func:`breathform.export.metadata.build_metadata`.
        out: Output folder (created).
        step: Progress callback, called with the number of samples written.

    Returns:
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    subject = str(metadata["subject"]["id"])
    version = metadata["software"]["export_version"]
    for role, s in data.streams.items():
        if not s.n:
            continue
        t0 = float(s.t_s[0])
        ann = [(stream_offset_s(s, a.t_s), -1.0, _alert_annotation(a)) for a in data.alerts]
        gaps = np.flatnonzero(s.gap)
        for i in gaps:
            lost = int(s.seq[i] - s.seq[i - 1] - 1) if i > 0 else 0
            ann.append(((s.seq[i] - s.seq[0] - lost) / s.info.fs_hz, lost / s.info.fs_hz,
                        f"gap: {lost} lost"))
        path = out / f"{role}.edf"
        model = metadata["sensors"][role]["model"] or s.info.kind
        write_edf_file(path, sensor_signals(s), _utc(data.started_utc_ns, t0), ann,
                       patient_code=subject, equipment=f"{model}_{role}",
                       recording=f"breathform_{version}")
        step(s.n)
        files.append(path)
    if data.metrics:
        cols = metrics_columns(data.metrics)
        t = cols["t_s"]
        idx = np.rint(t - t[0]).astype(np.int64)
        n = int(idx[-1]) + 1
        sigs = []
        for name, (lo, hi, dim) in METRIC_RANGES.items():
            v = np.full(n, np.nan)
            v[idx] = cols[name].astype(np.float64)
            sigs.append(EdfSignal(metric_label(name), dim, lo, hi, 1.0, v,
                                  "breathform 1 Hz metric"))
        ann = [(a.t_s - float(t[0]), -1.0, _alert_annotation(a)) for a in data.alerts]
        path = out / "metrics.edf"
        write_edf_file(path, sigs, _utc(data.started_utc_ns, float(t[0])), ann,
                       patient_code=subject, equipment="breathform_metrics",
                       recording=f"breathform_{version}")
        files.append(path)
    meta_path = out / "metadata.json"
    meta_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    files.append(meta_path)
    return files
