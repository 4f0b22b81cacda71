"""Pure parts of the HTML report: climbs from the climb context, SVG plots."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.dashboard.report import Climb, climbs_from_mask, svg_plot
from breathform.errors import InputError


def test_climbs_are_merged_across_short_gaps_and_short_runs_dropped():
    t = np.arange(200, dtype=float)
    m = np.zeros(200, bool)
    m[10:40] = True       # 30 s
    m[45:70] = True       # 5-s gap: same climb
    m[100:110] = True     # 10 s: too short
    m[150:200] = True     # runs to the end
    assert climbs_from_mask(t, m) == [Climb(10.0, 70.0), Climb(150.0, 199.0)]
    assert climbs_from_mask(t, np.zeros(200, bool)) == []
    with pytest.raises(InputError, match="same shape"):
        climbs_from_mask(t, m[:5])


def test_svg_breaks_the_line_at_nan_and_marks_climbs_and_alerts():
    t = np.arange(10, dtype=float) * 60
    y = np.array([1, 2, 3, np.nan, 5, 6, np.nan, np.nan, 9, 10], float)
    svg = svg_plot(t, y, title="Rate <bpm>", unit="bpm", color="#123456",
                   climbs=[Climb(60, 180)], alert_t_s=[120.0, 300.0])
    assert svg.count("<polyline") == 3     # [0..2], [4..5], [8..9]
    assert svg.count('class="climb"') == 1 and svg.count('class="alert"') == 2
    assert "Rate &lt;bpm&gt;" in svg and "<bpm>" not in svg
    assert "no estimate" not in svg


def test_svg_of_an_all_nan_series_says_so():
    t = np.arange(5, dtype=float)
    svg = svg_plot(t, np.full(5, np.nan), title="Depth", unit="x", color="#000")
    assert "no estimate in this session" in svg and "<polyline" not in svg
    with pytest.raises(InputError, match="same shape"):
        svg_plot(t, np.zeros(3), title="x", unit="x", color="#000")
