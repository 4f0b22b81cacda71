"""The generated Grafana dashboard: structure and layout (the queries run in integration)."""

from __future__ import annotations

import json

import pytest

from breathform.dashboard.grafana import (
    DATASOURCE_UID,
    dashboard,
    datasource_yaml,
    iter_queries,
    provider_yaml,
)
from breathform.errors import InputError
from breathform.sinks.influx import FIELDS


def test_every_field_has_a_panel_and_every_query_is_scoped_to_runner_and_session():
    d = dashboard()
    titles = [p["title"] for p in d["panels"]]
    for f in FIELDS:
        assert f.title in titles
    for q in iter_queries(d):
        if q.kind == "variable":
            continue
        assert '"runner" =~ /^$runner$/' in q.query and '"session" =~ /^$session$/' in q.query
        assert "$timeFilter" in q.query
        assert "SELECT" in q.query and "FROM" in q.query
    assert [v["name"] for v in d["templating"]["list"]] == ["runner", "session"]
    assert "$runner" in d["templating"]["list"][1]["query"]   # sessions of the chosen runner


def test_ids_unique_and_panels_do_not_overlap():
    d = dashboard()
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in d["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, p["title"]
                cells.add((x, y))


def test_every_datasource_reference_is_the_provisioned_one():
    d = dashboard()
    refs = [p["datasource"] for p in d["panels"] if "datasource" in p]
    refs += [t["datasource"] for p in d["panels"] for t in p.get("targets", [])]
    refs += [v["datasource"] for v in d["templating"]["list"]]
    assert refs and all(r == {"type": "influxdb", "uid": DATASOURCE_UID} for r in refs)
    assert f"uid: {DATASOURCE_UID}" in datasource_yaml()
    json.dumps(d)   # serialisable


def test_alert_annotation_uses_the_text_column():
    anns = dashboard()["annotations"]["list"]
    (influx,) = [a for a in anns if a["datasource"]["type"] == "influxdb"]
    assert influx["textColumn"] == influx["target"]["textColumn"] == "text"
    assert influx["query"] == influx["target"]["query"]
    assert 'FROM "alerts"' in influx["query"]


def test_provider_and_datasource_yaml_carry_their_settings():
    assert "path: /var/lib/grafana/dashboards" in provider_yaml()
    ds = datasource_yaml("http://x:8086", "db1")
    assert "url: http://x:8086" in ds and "dbName: db1" in ds and "$INFLUX_TOKEN" in ds
    with pytest.raises(InputError, match="title"):
        dashboard(" ")
