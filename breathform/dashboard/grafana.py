"""Grafana dashboards as code: dashboard JSON, datasource and provider YAML.

The dashboard is built here as plain JSON (grafana-foundation-sdk has no InfluxDB query
builder) with raw InfluxQL queries, which run on InfluxDB 1.8+, 2.x (through a DBRP mapping)
and 3.x. Panels follow the schema of ``breathform.sinks.influx``: one time series per field,
the per-stride stride time and vertical oscillation as points with one series per foot,
alerts as annotations and in a table, and variables for the runner and the session.

``write_provisioning(folder)`` writes the layout Grafana's file provisioning expects::

    folder/provisioning/datasources/breathform.yaml
    folder/provisioning/dashboards/breathform.yaml   (provider: where the JSON lives)
    folder/dashboards/breathform.json

``deploy/docker-compose.yml`` mounts ``deploy/grafana/provisioning`` at
``/etc/grafana/provisioning`` and ``deploy/grafana/dashboards`` at
``/var/lib/grafana/dashboards``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breathform.errors import InputError
from breathform.sinks.influx import FIELDS, STRIDE_FIELDS, FieldSpec

DATASOURCE_UID = "breathform-influx"
DASHBOARD_UID = "breathform-run"
SCHEMA_VERSION = 39
"""Grafana dashboard schemaVersion written (Grafana 10.4/11)."""

_DS = {"type": "influxdb", "uid": DATASOURCE_UID}
_WHERE = "\"runner\" =~ /^$runner$/ AND \"session\" =~ /^$session$/ AND $timeFilter"

_UNITS = {"rate_bpm": "breaths/min", "hr_bpm": "bpm", "cadence_spm": "steps/min",
          "depth_rel": "x resting", "strides_per_breath": "strides", "breath_quality": "",
          "vertical_osc_cm": "cm"}


@dataclass(frozen=True, slots=True)
class PanelQuery:
    """One query of the dashboard, as Grafana will run it.

    Attributes:
        panel: Panel (or annotation) title.
        kind: "timeseries", "table", "stat", "annotation" or "variable".
        query: InfluxQL with Grafana macros ($timeFilter, $__interval, $runner, $session).
        columns: Columns the result must have (besides time, for time-based queries).
    """

    panel: str
    kind: str
    query: str
    columns: tuple[str, ...]


def _field_query(f: FieldSpec) -> str:
    by = ', "side"' if f.measurement == "strides" else ""  # one series per foot
    return (f'SELECT mean("{f.name}") AS "{f.name}" FROM "{f.measurement}" WHERE {_WHERE} '
            f"GROUP BY time($__interval){by} fill(none)")


ALERTS_TABLE_QUERY = (f'SELECT "severity", "climb", "text" FROM "alerts" WHERE {_WHERE}')
ALERTS_COUNT_QUERY = (f'SELECT count("severity") AS "alerts" FROM "alerts" WHERE {_WHERE}')
ANNOTATION_QUERY = (f'SELECT "text", "kind", "severity" FROM "alerts" WHERE {_WHERE}')
RUNNER_VAR_QUERY = 'SHOW TAG VALUES FROM "breathing" WITH KEY = "runner"'
SESSION_VAR_QUERY = ('SHOW TAG VALUES FROM "breathing" WITH KEY = "session" '
                     'WHERE "runner" =~ /^$runner$/')

_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Breathing", ("rate_bpm", "depth_rel", "strides_per_breath", "hr_bpm", "breath_quality")),
    ("Posture", ("pelvic_tilt_deg", "trunk_lean_deg", "lumbar_deg", "pelvic_drop_range_deg",
                 "pelvic_rotation_range_deg", "trunk_twist_range_deg")),
    ("Gait", ("cadence_spm",)),
)

_STRIDE_PANELS: tuple[str, ...] = ("stride_s", "vertical_osc_cm")
"""Per-stride fields drawn in the "Strides" row, one series per foot (left/right asymmetry)."""


def iter_queries(d: dict[str, Any]) -> list[PanelQuery]:
    """Every query a dashboard makes: panel targets, annotations and variables.

    Args:
        d: A dashboard model (e.g. ``dashboard()`` or a loaded JSON file).

    Returns:
        The queries, in dashboard order; ``columns`` is empty (the caller knows what it
        expects of each panel).
    """
    out: list[PanelQuery] = []
    for p in d.get("panels", []):
        for t in p.get("targets", []):
            out.append(PanelQuery(str(p.get("title", "")), str(p["type"]), str(t["query"]), ()))
    for a in d.get("annotations", {}).get("list", []):
        q = a.get("target", {}).get("query") or a.get("query")
        if q:
            out.append(PanelQuery(str(a["name"]), "annotation", str(q), ()))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            out.append(PanelQuery(str(v["name"]), "variable", str(v["query"]), ()))
    return out


def _target(query: str, fmt: str = "time_series") -> dict[str, Any]:
    return {"refId": "A", "datasource": dict(_DS), "query": query, "rawQuery": True,
            "resultFormat": fmt}


def _timeseries(pid: int, f: FieldSpec, x: int, y: int, w: int) -> dict[str, Any]:
    unit = f.unit if f.unit != "none" else "none"
    label = _UNITS.get(f.name, "")
    # per-stride series are grouped by foot: name each after its side tag
    shown = f"{f.title}, ${{__field.labels.side}}" if f.measurement == "strides" else f.title
    draw = ({"drawStyle": "points", "showPoints": "always", "pointSize": 3}
            if f.measurement == "strides" else {"drawStyle": "line", "showPoints": "never"})
    return {
        "id": pid, "type": "timeseries", "title": f.title,
        "description": f"{f.measurement}.{f.name} (sensor={f.sensor})",
        "datasource": dict(_DS),
        "gridPos": {"x": x, "y": y, "w": w, "h": 8},
        "targets": [_target(_field_query(f))],
        "fieldConfig": {
            "defaults": {"unit": unit, "displayName": shown,
                         "custom": {"axisLabel": label, "lineWidth": 2, "spanNulls": False,
                                    **draw}},
            "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "single", "sort": "none"}},
    }


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": dict(_DS),
            "query": query, "refresh": 2, "sort": 1, "multi": False, "includeAll": False,
            "hide": 0, "regex": "", "current": {"text": "", "value": ""}, "options": []}


def dashboard(title: str = "breathform: run review") -> dict[str, Any]:
    """The run-review dashboard as Grafana JSON.

    Args:
        title: Dashboard title.

    Returns:
        The dashboard model (JSON-serialisable).

    Raises:
        InputError: If ``title`` is empty.
    """
    if not title.strip():
        raise InputError("dashboard title must not be empty")
    by_name = {f.name: f for f in FIELDS}
    panels: list[dict[str, Any]] = []
    pid = 1
    y = 0
    panels.append({"id": pid, "type": "stat", "title": "Alerts", "datasource": dict(_DS),
                   "gridPos": {"x": 0, "y": y, "w": 6, "h": 4},
                   "targets": [_target(ALERTS_COUNT_QUERY, "table")],
                   "fieldConfig": {"defaults": {"unit": "none", "color": {"mode": "thresholds"},
                                                "thresholds": {"mode": "absolute", "steps": [
                                                    {"color": "green", "value": None},
                                                    {"color": "orange", "value": 1}]}},
                                   "overrides": []},
                   "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                                 "values": False},
                               "colorMode": "background", "graphMode": "none"}})
    pid += 1
    panels.append({"id": pid, "type": "table", "title": "Alert log", "datasource": dict(_DS),
                   "gridPos": {"x": 6, "y": y, "w": 18, "h": 4},
                   "targets": [_target(ALERTS_TABLE_QUERY, "table")],
                   "fieldConfig": {"defaults": {}, "overrides": []},
                   "options": {"showHeader": True}})
    y += 4
    for row_title, names in _ROWS:
        pid += 1
        panels.append({"id": pid, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
        y += 1
        for i, name in enumerate(names):
            pid += 1
            panels.append(_timeseries(pid, by_name[name], x=(i % 2) * 12, y=y + (i // 2) * 8,
                                      w=12))
        y += ((len(names) + 1) // 2) * 8
    pid += 1
    panels.append({"id": pid, "type": "row", "title": "Strides (per foot)", "collapsed": False,
                   "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
    y += 1
    by_stride = {f.name: f for f in STRIDE_FIELDS}
    for i, name in enumerate(_STRIDE_PANELS):
        pid += 1
        panels.append(_timeseries(pid, by_stride[name], x=(i % 2) * 12, y=y + (i // 2) * 8,
                                  w=12))
    return {
        "uid": DASHBOARD_UID,
        "title": title,
        "description": "Breathing, posture and gait of one run, with the coaching alerts. "
                       "Generated by `breathform dashboard`; edit the Python, not the JSON.",
        "tags": ["breathform"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "timezone": "browser",
        "refresh": "",
        # sessions recorded faster than real time (demo, replay) reach into the future
        "time": {"from": "now-24h", "to": "now+1h"},
        "templating": {"list": [_variable("runner", "Runner", RUNNER_VAR_QUERY),
                                _variable("session", "Session", SESSION_VAR_QUERY)]},
        "annotations": {"list": [
            {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
             "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
             "name": "Annotations & Alerts", "type": "dashboard",
             "target": {"limit": 100, "matchAny": False, "tags": [], "type": "dashboard"}},
            # InfluxQL annotation: Grafana's influxdb plugin reads query/textColumn/
            # tagsColumn at the top level (older versions) or in target (newer ones).
            {"datasource": dict(_DS), "enable": True, "iconColor": "red",
             "name": "breathform alerts",
             "query": ANNOTATION_QUERY, "textColumn": "text", "tagsColumn": "kind",
             "target": {"limit": 100, "matchAny": False, "tags": [], "type": "tags",
                        "refId": "Anno", "query": ANNOTATION_QUERY, "rawQuery": True,
                        "fromAnnotations": True, "textColumn": "text",
                        "tagsColumn": "kind"}},
        ]},
        "panels": panels,
    }


def datasource_yaml(url: str = "http://influxdb:8086", database: str = "breathform") -> str:
    """Grafana datasource provisioning: InfluxQL over the DBRP mapping of InfluxDB 2.

    The token comes from the environment of the Grafana container (``INFLUX_TOKEN``), which
    Grafana expands in provisioning files.
    """
    return f"""# Generated by `breathform dashboard`. InfluxQL datasource: works with InfluxDB 1.8+,
# 2.x (through the DBRP mapping that deploy/influxdb/init-dbrp.sh creates) and 3.x.
apiVersion: 1
datasources:
  - name: breathform InfluxDB
    uid: {DATASOURCE_UID}
    type: influxdb
    access: proxy
    url: {url}
    isDefault: true
    jsonData:
      dbName: {database}
      httpMode: POST
      httpHeaderName1: Authorization
    secureJsonData:
      httpHeaderValue1: "Token $INFLUX_TOKEN"
"""


def provider_yaml(path: str = "/var/lib/grafana/dashboards") -> str:
    """Grafana dashboard provider provisioning: load the JSON files in ``path``."""
    return f"""# Generated by `breathform dashboard`.
apiVersion: 1
providers:
  - name: breathform
    folder: breathform
    type: file
    disableDeletion: false
    allowUiUpdates: false
    updateIntervalSeconds: 30
    options:
      path: {path}
      foldersFromFilesStructure: false
"""


def write_provisioning(folder: str | Path, *, influx_url: str = "http://influxdb:8086",
                       database: str = "breathform") -> list[Path]:
    """Write the datasource YAML, the provider YAML and the dashboard JSON.

    Args:
        folder: Output folder (created when needed).
        influx_url: InfluxDB URL as Grafana reaches it.
        database: InfluxQL database (the DBRP mapping's database on InfluxDB 2).

    Returns:
        The files written.

    Raises:
        InputError: If the folder cannot be written.
    """
    root = Path(folder)
    files = {
        root / "provisioning" / "datasources" / "breathform.yaml":
            datasource_yaml(influx_url, database),
        root / "provisioning" / "dashboards" / "breathform.yaml": provider_yaml(),
        root / "dashboards" / "breathform.json": json.dumps(dashboard(), indent=2) + "\n",
    }
    try:
        for p, text in files.items():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the Grafana files in {str(root)!r}: "
                         f"{exc.strerror}") from exc
    return list(files)
