"""Parquet export (pyarrow): one file per table, metadata in every schema.

Layout of the output folder: ``chest.parquet``, ``sacrum.parquet`` (one row per sample),
``heart_rate.parquet``, ``metrics.parquet``, ``alerts.parquet``, ``strides.parquet`` (one
row per sacrum stride). Each schema carries the whole export metadata as JSON under the key
``breathform`` and, under ``breathform.table``, the table's name; each field carries its
``unit`` (and ``description`` where useful) in its field metadata. Read with
``pyarrow.parquet.read_table(path)`` or ``pandas.read_parquet``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from breathform.errors import InputError
from breathform.export.metadata import METRIC_UNITS, sensor_channels
from breathform.export.streams import SessionData
from breathform.export.tables import (
    STRIDE_UNITS,
    alerts_columns,
    hr_columns,
    metrics_columns,
    sensor_columns,
    strides_columns,
)
from breathform.export.writer import Step

META_KEY = b"breathform"
TABLE_KEY = b"breathform.table"
_ROW_GROUP = 200_000


def _pa() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - the research extra installs it
        raise InputError("Parquet export needs pyarrow: pip install 'breathform[research]'"
                         ) from exc
    return pa, pq


def _schema(pa: Any, fields: list[tuple[str, Any, dict[str, str]]], metadata: dict[str, Any],
            table: str) -> Any:
    return pa.schema(
        [pa.field(n, t, metadata={k.encode(): v.encode() for k, v in fm.items()})
         for n, t, fm in fields],
        metadata={META_KEY: json.dumps(metadata).encode(), TABLE_KEY: table.encode()})


def write_parquet(data: SessionData, metadata: dict[str, Any], out: Path,
                  step: Step) -> list[Path]:
    """Write the Parquet export into the folder ``out``.

    Args:
        data: The decoded session.
        metadata: From :func:`breathform.export.metadata.build_metadata`.
        out: Output folder (created).
        step: Progress callback, called with the number of samples written.

    Returns:
        The files written.
    """
    pa, pq = _pa()
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for role, s in data.streams.items():
        units = {c["name"]: c for c in sensor_channels(s)}
        names = list(sensor_columns(s, 0, 0))
        types = {"seq": pa.int64(), "gap": pa.bool_()}
        fields = [(n, types.get(n, pa.float64()),
                   {"unit": units[n]["unit"], "description": units[n]["description"]})
                  for n in names]
        schema = _schema(pa, fields, metadata, role)
        path = out / f"{role}.parquet"
        with pq.ParquetWriter(path, schema, compression="zstd") as w:
            for i in range(0, max(s.n, 1), _ROW_GROUP):
                cols = sensor_columns(s, i, i + _ROW_GROUP)
                w.write_table(pa.table(list(cols.values()), schema=schema))
                step(int(cols["t_s"].shape[0]))
        files.append(path)
    if data.hr is not None:
        cols = hr_columns(data.hr)
        fields = [("t_s", pa.float64(), {"unit": "s"}), ("hr_bpm", pa.float64(),
                                                          {"unit": "beats/min"}),
                  ("rr_ms", pa.list_(pa.float64()), {"unit": "ms"})]
        schema = _schema(pa, fields, metadata, "heart_rate")
        tbl = pa.table([cols["t_s"], cols["hr_bpm"], [list(r) for r in data.hr.rr_ms]],
                       schema=schema)
        files.append(_write(pq, tbl, out / "heart_rate.parquet"))
    mcols = metrics_columns(data.metrics)
    fields = [(n, pa.bool_() if n == "warming_up" else pa.float64(), {"unit": METRIC_UNITS[n]})
              for n in mcols]
    schema = _schema(pa, fields, metadata, "metrics")
    # NaN (no estimate) becomes null, which every Parquet reader understands
    arrays = [pa.array(v, from_pandas=True) if v.dtype == np.float64 else pa.array(v)
              for v in mcols.values()]
    files.append(_write(pq, pa.table(arrays, schema=schema), out / "metrics.parquet"))
    acols = alerts_columns(data.alerts)
    fields = [("t_s", pa.float64(), {"unit": "s"}), ("kind", pa.string(), {}),
              ("severity", pa.int8(), {"unit": "1..3"}), ("climb", pa.bool_(), {}),
              ("cue", pa.string(), {}), ("causes", pa.string(), {"unit": "JSON"})]
    schema = _schema(pa, fields, metadata, "alerts")
    files.append(_write(pq, pa.table(list(acols.values()), schema=schema),
                        out / "alerts.parquet"))
    scols = strides_columns(data.strides)
    fields = [(n, pa.string() if n == "side" else pa.float64(), {"unit": STRIDE_UNITS[n]})
              for n in scols]
    schema = _schema(pa, fields, metadata, "strides")
    arrays = [pa.array(v, type=pa.string()) if n == "side" else
              pa.array(np.array(v, dtype=np.float64), from_pandas=True)
              for n, v in scols.items()]
    files.append(_write(pq, pa.table(arrays, schema=schema), out / "strides.parquet"))
    return files


def _write(pq: Any, table: Any, path: Path) -> Path:
    pq.write_table(table, path, compression="zstd")
    return path


def read_metadata(path: Path) -> dict[str, Any]:
    """The export metadata stored in a Parquet file's schema."""
    _, pq = _pa()
    md = pq.read_schema(path).metadata or {}
    if META_KEY not in md:
        raise InputError(f"{str(path)!r} is not a breathform Parquet export (no "
                         f"{META_KEY.decode()!r} schema metadata)")
    out: dict[str, Any] = json.loads(md[META_KEY])
    return out
