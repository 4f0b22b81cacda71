"""BIDS-motion export (BIDS 1.9): one tracking system per sensor.

Layout (``<sub>`` is the pseudonymous runner, ``<ses>`` the session id without separators)::

    dataset_description.json  README  CHANGES  participants.tsv  participants.json
    task-run_events.json  breathform_metadata.json (full metadata)  .bidsignore
    sub-<sub>/ses-<ses>/sub-<sub>_ses-<ses>_scans.tsv          filename, acq_time
    sub-<sub>/ses-<ses>/motion/
        sub-<sub>_ses-<ses>_task-run_tracksys-chest_motion.tsv   no header, tab-separated
        sub-<sub>_ses-<ses>_task-run_tracksys-chest_motion.json
        sub-<sub>_ses-<ses>_task-run_tracksys-chest_channels.tsv
        sub-<sub>_ses-<ses>_task-run_tracksys-chest_events.tsv   alerts and gaps
        ... the same for tracksys-sacrum

The per-stride table is left out (BIDS-motion has no per-stride file; the CSV and Parquet
exports carry it).

Each ``_motion.tsv`` row is one sample at the sensor's nominal rate, placed by its stream
index, so rows of lost samples are ``n/a``. Channels: ``latency`` (LATENCY: session time of
the sample minus the session time of the file's first sample, s), ``device_time`` (MISC: the
sensor's own clock, s), ``acc_x..z`` (ACCEL, m/s^2), and for the sacrum ``gyr_x..z`` (GYRO,
rad/s). ``acq_time`` in ``_scans.tsv`` is the wall-clock time of each file's first sample, so
``acq_time + latency`` puts both tracking systems on one clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from breathform import units
from breathform.export.metadata import GYRO_RANGE_DPS
from breathform.export.privacy import Privacy
from breathform.export.streams import SensorStream, SessionData
from breathform.export.tables import alert_text, stream_offset_s
from breathform.export.writer import Step

BIDS_VERSION = "1.9.0"
TASK = "run"
_CHUNK = 100_000
EXTRA_METADATA = "breathform_metadata.json"
"""Full export metadata at the dataset root (listed in .bidsignore)."""


def _label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text) or "1"


def _acq_time(started_utc_ns: int, t_s: float) -> str:
    us = started_utc_ns // 1000 + round(t_s * 1e6)
    t = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=us)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _write_tsv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def _write_json(path: Path, obj: dict[str, Any]) -> Path:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    return path


def _channels(s: SensorStream) -> list[dict[str, str]]:
    tp = s.info.role
    acc_fs = f"full scale +-{s.info.acc_range_g:g} g"
    gyr_fs = f"full scale +-{GYRO_RANGE_DPS.get(s.info.kind, 2000.0):g} deg/s"
    ch = [{"name": "latency", "component": "n/a", "type": "LATENCY", "tracked_point": tp,
           "units": "s", "description": "session time of the sample minus session time of "
                                        "the first sample of this file (clock-aligned)"},
          {"name": "device_time", "component": "n/a", "type": "MISC", "tracked_point": tp,
           "units": "s", "description": "sample time on the sensor's own clock"}]
    ch += [{"name": f"acc_{a}", "component": a, "type": "ACCEL", "tracked_point": tp,
            "units": "m/s^2", "description": f"specific force, sensor {a} axis ({acc_fs})"}
           for a in "xyz"]
    if s.gyr_dps is not None:
        ch += [{"name": f"gyr_{a}", "component": a, "type": "GYRO", "tracked_point": tp,
                "units": "rad/s", "description": f"angular rate, sensor {a} axis ({gyr_fs})"}
               for a in "xyz"]
    return ch


def _motion_rows(s: SensorStream, start: int, stop: int) -> NDArray[np.float64]:
    """Rows ``start:stop`` of the uniform grid (stream index from the first sample)."""
    idx = s.seq - s.seq[0]
    lo, hi = np.searchsorted(idx, [start, stop])
    n_ch = 5 + (3 if s.gyr_dps is not None else 0)
    block = np.full((stop - start, n_ch), np.nan)
    r = idx[lo:hi] - start
    block[r, 0] = s.t_s[lo:hi] - s.t_s[0]
    block[r, 1] = s.t_device_s[lo:hi]
    block[r, 2:5] = units.g_to_mps2(s.acc_g[lo:hi])
    if s.gyr_dps is not None:
        block[r, 5:8] = units.deg_to_rad(s.gyr_dps[lo:hi])
    return block


def _write_motion_tsv(path: Path, s: SensorStream, step: Step) -> int:
    n_rows = int(s.seq[-1] - s.seq[0] + 1) if s.n else 0
    fmt = ["%.6f", "%.7f"] + ["%.8g"] * (3 + (3 if s.gyr_dps is not None else 0))
    with path.open("w", encoding="utf-8", newline="") as f:
        for i in range(0, n_rows, _CHUNK):
            block = _motion_rows(s, i, min(i + _CHUNK, n_rows))
            lines = "\n".join("\t".join(fmt) % tuple(r) for r in block.tolist())
            f.write(lines.replace("nan", "n/a") + "\n")
            step(int(np.count_nonzero(~np.isnan(block[:, 2]))))
    return n_rows


def _motion_json(data: SessionData, s: SensorStream, metadata: dict[str, Any],
                 n_rows: int) -> dict[str, Any]:
    sm = metadata["sensors"][s.info.role]
    counts = {"ACCEL": 3, "GYRO": 3 if s.gyr_dps is not None else 0, "LATENCY": 1, "MISC": 1}
    dur = float(s.t_s[-1] - s.t_s[0]) if s.n > 1 else 0.0
    # samples per second of session time, lost samples included: the sensor's true rate
    eff = float(s.seq[-1] - s.seq[0]) / dur if dur > 0 else s.info.fs_hz
    out: dict[str, Any] = {
        "TaskName": TASK,
        "TaskDescription": "Running with a chest and a sacrum IMU (breathform session, "
                           f"source {metadata['session']['source']}).",
        "Instructions": "Run as usual; sensors worn on the sternum (chest strap) and over "
                        "the sacrum (waistband clip).",
        "SamplingFrequency": s.info.fs_hz,
        "SamplingFrequencyEffective": round(eff, 6),
        "RecordingDuration": round(n_rows / s.info.fs_hz, 6),
        "RecordingType": "continuous",
        "TrackingSystemName": f"{sm['model']} on the {s.info.role}",
        "Manufacturer": sm["manufacturer"] or "n/a",
        "ManufacturersModelName": sm["model"] or "n/a",
        "SoftwareVersions": f"breathform {metadata['software']['export_version']} (recorded "
                            f"with {metadata['software']['recorded_with_version']})",
        "MotionChannelCount": sum(counts.values()),
        "ACCELChannelCount": counts["ACCEL"],
        "ANGACCELChannelCount": 0, "GYROChannelCount": counts["GYRO"],
        "JNTANGChannelCount": 0, "LATENCYChannelCount": counts["LATENCY"],
        "MAGNChannelCount": 0, "MISCChannelCount": counts["MISC"], "ORNTChannelCount": 0,
        "POSChannelCount": 0, "VELChannelCount": 0,
        "TrackedPointsCount": 1,
        "MissingValues": "n/a (samples lost over Bluetooth; every channel of the row)",
        "SubjectArtefactDescription": "n/a",
        "SoftwareFilters": "n/a",  # raw samples as the sensor sent them
    }
    if sm.get("serial"):
        out["DeviceSerialNumber"] = sm["serial"]
    return out


def write_bids(data: SessionData, metadata: dict[str, Any], out: Path, privacy: Privacy,
               step: Step) -> list[Path]:
    """Write the BIDS-motion dataset into the folder ``out``.

    Args:
        data: The decoded session.
        metadata: From :func:`breathform.export.metadata.build_metadata`.
        out: Dataset root (created).
        privacy: How identifiers are written (subject label).
        step: Progress callback, called with the number of samples written.

    Returns:
        The files written.
    """
    sub = privacy.subject_label(data.meta.get("runner_id", "runner"))
    ses = _label(str(metadata["session"]["id"]))
    root = out
    mdir = root / f"sub-{sub}" / f"ses-{ses}" / "motion"
    mdir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    version = metadata["software"]["export_version"]
    files.append(_write_json(root / "dataset_description.json", {
        "Name": f"breathform running session {metadata['session']['id']}",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "GeneratedBy": [{"Name": "breathform", "Version": version,
                         "Description": "breathform export --format bids"}],
    }))
    readme = root / "README"
    readme.write_text(
        "Running session recorded with breathform (chest and sacrum IMUs).\n\n"
        "One tracking system per sensor: tracksys-chest, tracksys-sacrum. Synchronise them "
        "with acq_time in the scans file plus the latency channel. Rows of lost samples are "
        "n/a. Alerts (breathless AND form degraded) and gaps are in the events files.\n"
        f"{'Pseudonymised: the subject label is a salted hash.' if not privacy.identify else ''}"
        "\n", encoding="utf-8")
    files.append(readme)
    changes = root / "CHANGES"
    changes.write_text(f"1.0.0 {dt.date.today().isoformat()}\n  - exported by breathform "
                       f"{version}\n", encoding="utf-8")
    files.append(changes)
    # Everything BIDS has no field for (ranges, clock alignment, calibration, config) goes
    # into one file that .bidsignore keeps out of validation.
    files.append(_write_json(root / EXTRA_METADATA, metadata))
    ignore = root / ".bidsignore"
    ignore.write_text(EXTRA_METADATA + "\n", encoding="utf-8")
    files.append(ignore)
    files.append(_write_tsv(root / "participants.tsv", ["participant_id"], [[f"sub-{sub}"]]))
    files.append(_write_json(root / "participants.json", {
        "participant_id": {"Description": "pseudonymous runner id" if not privacy.identify
                           else "runner id as recorded"}}))
    files.append(_write_json(root / f"task-{TASK}_events.json", {
        "trial_type": {"Description": "alert (breathless AND form degraded) or gap (samples "
                                      "lost)"},
        "severity": {"Description": "alert severity, 1 (notice) to 3 (urgent); n/a for gaps"},
        "description": {"Description": "alert causes with their values, or samples lost"},
    }))
    scans: list[list[Any]] = []
    for role, s in data.streams.items():
        if not s.n:
            continue
        stem = f"sub-{sub}_ses-{ses}_task-{TASK}_tracksys-{role}"
        mpath = mdir / f"{stem}_motion.tsv"
        n_rows = _write_motion_tsv(mpath, s, step)
        files.append(mpath)
        files.append(_write_json(mdir / f"{stem}_motion.json",
                                 _motion_json(data, s, metadata, n_rows)))
        chans = _channels(s)
        cols = ["name", "component", "type", "tracked_point", "units", "sampling_frequency",
                "placement", "description"]
        rows = [[c["name"], c["component"], c["type"], c["tracked_point"], c["units"],
                 s.info.fs_hz, metadata["sensors"][role]["placement"], c["description"]]
                for c in chans]
        files.append(_write_tsv(mdir / f"{stem}_channels.tsv", cols, rows))
        t0 = float(s.t_s[0])
        ev: list[list[Any]] = [[round(max(stream_offset_s(s, a.t_s), 0.0), 6), "n/a",
                                "alert", a.severity, alert_text(a)] for a in data.alerts]
        for i in np.flatnonzero(s.gap):
            lost = int(s.seq[i] - s.seq[i - 1] - 1) if i > 0 else 0
            onset = (s.seq[i] - s.seq[0] - lost) / s.info.fs_hz
            ev.append([round(float(onset), 6), round(lost / s.info.fs_hz, 6), "gap", "n/a",
                       f"{lost} samples lost"])
        ev.sort(key=lambda r: float(r[0]))
        files.append(_write_tsv(mdir / f"{stem}_events.tsv",
                                ["onset", "duration", "trial_type", "severity", "description"],
                                ev))
        scans.append([f"motion/{mpath.name}", _acq_time(data.started_utc_ns, t0)])
    files.append(_write_tsv(root / f"sub-{sub}" / f"ses-{ses}" / f"sub-{sub}_ses-{ses}_scans.tsv",
                            ["filename", "acq_time"], scans))
    return files
