"""Pure parts of the HTML report: climbs from the climb context, SVG plots, gait."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.dashboard.report import (
    Climb,
    climbs_from_mask,
    gait_series,
    gait_summary,
    svg_plot,
)
from breathform.errors import InputError
from breathform.signal.gait import Stride


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


def _strides(step_l_s: float, step_r_s: float, n: int, t0_s: float = 0.0) -> list[Stride]:
    """Alternating contacts R, L, R, ...: left steps last step_l_s, right steps step_r_s."""
    t, ics, sides = t0_s, [], []
    for k in range(n + 2):
        side = "R" if k % 2 == 0 else "L"
        t += step_l_s if side == "L" else step_r_s
        ics.append(t)
        sides.append(side)
    return [Stride(ics[k - 2], ics[k], sides[k], ics[k] - ics[k - 2], ics[k] - ics[k - 1],
                   120.0 / (ics[k] - ics[k - 2]), 7.0 + (k % 2)) for k in range(2, n + 2)]


def test_gait_summary_of_a_known_limp():
    g = gait_summary(_strides(0.33, 0.30, 40))
    assert g.n_strides == 40
    assert g.stride_s == pytest.approx(0.63) and g.cadence_spm == pytest.approx(120 / 0.63)
    assert g.step_asym_pct == pytest.approx(100 * 0.03 / 0.315)   # left steps longer
    assert g.stride_cv_pct == pytest.approx(0.0, abs=1e-9)        # every stride 0.63 s
    assert g.vertical_osc_cm == pytest.approx(7.5)
    one_side = [s for s in _strides(0.3, 0.3, 10) if s.side == "L"]
    assert np.isnan(gait_summary(one_side).step_asym_pct)
    empty = gait_summary([])
    assert empty.n_strides == 0 and np.isnan(empty.cadence_spm) and np.isnan(empty.stride_s)


def test_gait_series_breaks_at_pauses_and_rolls_the_variability():
    a = _strides(0.3, 0.3, 30)
    b = _strides(0.3, 0.4, 30, t0_s=a[-1].t_end_s + 10.0)   # a pause, then a limp
    series = gait_series(a + b, n_roll=10)
    t, asym = series["step_asym_pct"]
    assert t.shape == (61,) and np.isnan(asym[30])           # one break row
    assert np.all(np.isfinite(asym[1:30])) and np.allclose(asym[1:30], 0.0)
    assert asym[-1] == pytest.approx(100 * -0.1 / 0.35)      # right steps longer
    _, cad = series["cadence_spm"]
    assert cad[0] == pytest.approx(200.0) and cad[-1] == pytest.approx(120 / 0.7)
    with pytest.raises(InputError, match="n_roll"):
        gait_series(a, n_roll=2)
