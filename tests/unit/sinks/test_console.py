"""The console view renders the expected text (rich Console(record=True, width=120))."""

from __future__ import annotations

import math

import pytest
from rich.console import Console, RenderableType

from breathform.errors import InputError
from breathform.model import Alert, Cause, Metrics
from breathform.sinks.console import (
    DASH,
    MAX_SUMMARY_ALERTS,
    ConsoleView,
    fmt_cause,
    fmt_clock,
    fmt_value,
)


def text_of(r: RenderableType) -> str:
    c = Console(record=True, width=120, color_system=None)
    c.print(r)
    return c.export_text()


def row(t_s: float = 307.4, **kw: object) -> Metrics:
    base: dict[str, object] = dict(
        rate_bpm=32.44, depth_rel=0.82, breath_quality=0.85, strides_per_breath=2.0,
        cadence_spm=172.3, pelvic_tilt_deg=6.34, trunk_lean_deg=-1.04, lumbar_deg=2.1,
        hr_bpm=151.2, warming_up=False, pelvic_drop_range_deg=7.21,
        pelvic_rotation_range_deg=8.44, trunk_twist_range_deg=12.96)
    base.update(kw)
    return Metrics(t_s=t_s, **base)  # type: ignore[arg-type]


def alert(t_s: float = 75.0, severity: int = 2, climb: bool = False,
          cue: str = "Stand tall: bring the pelvis back to neutral.") -> Alert:
    return Alert(t_s=t_s, kind="breathless_form", severity=severity, climb=climb, cue=cue,
                 causes=(Cause("rate_high", "rate_bpm", 42.0, 30.0, 37.5, "bpm"),
                         Cause("pelvic_tilt_anterior", "pelvic_tilt_deg", 10.0, 5.0, 8.0,
                               "deg")))


@pytest.mark.parametrize(("args", "kw", "want"), [
    ((32.44,), {}, "32.4"),
    ((math.nan,), {}, DASH),
    ((math.inf,), {}, DASH),
    ((6.34,), dict(signed=True, unit="°"), "+6.3°"),
    ((-1.04,), dict(signed=True, unit="°"), "-1.0°"),
    ((172.3, 0), dict(unit="spm"), "172 spm"),
    ((math.nan, 0), dict(unit="spm"), DASH),
])
def test_fmt_value(args: tuple[float, ...], kw: dict[str, object], want: str) -> None:
    assert fmt_value(*args, **kw) == want  # type: ignore[arg-type]


@pytest.mark.parametrize(("t_s", "want"), [
    (0.0, "00:00"), (59.9, "00:59"), (307.4, "05:07"), (4503.0, "75:03"), (math.nan, DASH),
    (-3.0, "00:00"),
])
def test_fmt_clock(t_s: float, want: str) -> None:
    assert fmt_clock(t_s) == want


def test_fmt_cause() -> None:
    assert (fmt_cause(Cause("breath_shallow", "depth_rel", 0.5, 1.0, 0.7, "rel"))
            == "breath shallow 0.50 ×rest (base 1.00, limit 0.70)")
    assert (fmt_cause(Cause("trunk_flexion", "trunk_lean_deg", math.nan, 8.0, 12.0, "deg"))
            == "trunk flexion —° (base 8.0, limit 12.0)")


def test_render_before_any_data_shows_dashes() -> None:
    out = text_of(ConsoleView("breathform demo", None).render())
    assert "breathform demo" in out
    assert "time 00:00" in out
    assert "Breathing" in out and "Pelvic tilt (+ anterior)" in out
    assert out.count(DASH) >= 9
    assert "Alerts (last 6): none yet" in out
    assert "session" not in out


def test_render_values_context_counters_and_alerts() -> None:
    v = ConsoleView("breathform demo", "/data/sessions/s1.sqlite")
    v.update(row(), {"sim truth": "climb 8 %", "speed": "×60"}, climb=True)
    v.set_counters(packets=1234, decode_errors=3, gaps=1, dropped=0)
    v.add_alert(alert())
    out = text_of(v.render())
    for want in ("time 05:07", "session /data/sessions/s1.sqlite",
                 "32.4 bpm", "q 0.85", "0.82 ×rest", "2.0", "+6.3°", "-1.0°", "+2.1°",
                 "172 spm", "151 bpm", "yes", "Pelvic drop (range)", "7.2°",
                 "Pelvic rotation (range)", "8.4°", "Trunk twist (range)", "13.0°",
                 "sim truth: climb 8 %", "speed: ×60",
                 "packets 1234 · decode errors 3 · gaps 1 · dropped 0",
                 "01:15", "rate high 42.0 bpm (base 30.0, limit 37.5)",
                 "pelvic tilt anterior 10.0° (base 5.0, limit 8.0)",
                 "Stand tall: bring the pelvis back to"):
        assert want in out, want
    assert DASH not in out


def test_render_nan_values_as_dash() -> None:
    v = ConsoleView("t", None)
    v.update(row(rate_bpm=math.nan, depth_rel=math.nan, breath_quality=0.1,
                  pelvic_tilt_deg=math.nan, hr_bpm=math.nan, lumbar_deg=math.nan))
    out = text_of(v.render())
    lines = out.splitlines()
    breath_line = next(ln for ln in lines if "q 0.10" in ln)
    assert breath_line.split()[1] == DASH  # "│ —  q 0.10 low ..."
    assert "q 0.10 low" in out
    values_line = lines[lines.index(next(ln for ln in lines if "Pelvic tilt" in ln)) + 1]
    assert values_line.split()[1:4] == [DASH, "-1.0°", DASH]
    assert "172 spm" in out
    assert "Climb" in out
    assert "no counters yet" in out


def test_context_none_keeps_previous_and_empty_clears() -> None:
    v = ConsoleView("t", None)
    v.update(row(1.0), {"speed": "×60"})
    v.update(row(2.0))
    assert "speed: ×60" in text_of(v.render())
    v.update(row(3.0), {})
    assert "speed" not in text_of(v.render())


def test_warming_up_flag_and_climb_unknown() -> None:
    v = ConsoleView("t", None)
    v.update(row(12.0, warming_up=True))
    out = text_of(v.render())
    assert "time 00:12  warming up" in out
    climb_line = out.splitlines()[[i for i, ln in enumerate(out.splitlines())
                                   if "Climb" in ln][0] + 1]
    assert climb_line.split()[-2] == DASH


def test_alert_log_keeps_the_last_six() -> None:
    v = ConsoleView("t", None)
    for i in range(8):
        v.add_alert(alert(t_s=100.0 + 60 * i, severity=1 + i % 3, climb=i == 7,
                          cue=f"cue number {i}"))
    out = text_of(v.render())
    assert "cue number 0" not in out and "cue number 1" not in out
    for i in range(2, 8):
        assert f"cue number {i}" in out
    assert "08:40" in out  # t = 520
    assert "2 climb" in out  # the last alert: severity 1 + 7 % 3 = 2, climbing


def test_summary() -> None:
    v = ConsoleView("breathform demo", "/data/s1.sqlite")
    v.update(row(1.0, rate_bpm=30.0, pelvic_tilt_deg=4.0))
    v.update(row(2.0, rate_bpm=40.0, pelvic_tilt_deg=math.nan))
    v.update(row(3.0, rate_bpm=math.nan, pelvic_tilt_deg=6.0, lumbar_deg=math.nan))
    v.add_alert(alert(severity=3))
    v.add_alert(alert(t_s=200.0, severity=1))
    out = text_of(v.summary(duration_s=3723.0, counters={"packets": 99, "gaps": 2}))
    for want in ("run summary", "Duration  62:03", "Rows      3",
                 "Alerts    2  (severity 1: 1, 2: 0, 3: 1)", "Session   /data/s1.sqlite",
                 "35.0 bpm",  # mean of 30 and 40, NaN skipped
                 "+5.0°",  # mean of 4 and 6
                 "+2.1°", "packets 99 · gaps 2", "All alerts", "01:15", "03:20"):
        assert want in out, want
    assert v.means()["rate_bpm"] == 35.0


def test_summary_of_empty_run() -> None:
    out = text_of(ConsoleView("t", None).summary())
    assert "Duration  00:00" in out
    assert "Alerts    0" in out
    assert "Session   —" in out
    assert "All alerts: none yet" in out


def test_summary_alert_list_is_bounded() -> None:
    v = ConsoleView("t", None)
    for i in range(MAX_SUMMARY_ALERTS + 5):
        v.add_alert(alert(t_s=float(i)))
    assert len(v.all_alerts) == MAX_SUMMARY_ALERTS and v.n_alerts == MAX_SUMMARY_ALERTS + 5
    assert f"First {MAX_SUMMARY_ALERTS} of {MAX_SUMMARY_ALERTS + 5} alerts" in text_of(
        v.summary())


@pytest.mark.parametrize(("call", "match"), [
    (lambda v: v.update({"t_s": 1.0}), "m must be a Metrics, got dict"),
    (lambda v: v.update(row(), {"speed": 60}), r"context must map str to str; .*\['speed'\]"),
    (lambda v: v.add_alert("boom"), "a must be an Alert, got str"),
    (lambda v: v.set_counters(packets=-1), "counter 'packets' must be an int >= 0, got -1"),
    (lambda v: v.set_counters(gaps=1.5), "counter 'gaps' must be an int >= 0, got 1.5"),
])
def test_bad_input(call: object, match: str) -> None:
    v = ConsoleView("t", None)
    with pytest.raises(InputError, match=match):
        call(v)  # type: ignore[operator]


def test_bad_constructor_args() -> None:
    with pytest.raises(InputError, match="title must be a str, got int"):
        ConsoleView(3, None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="max_alerts must be an int >= 1, got 0"):
        ConsoleView("t", None, max_alerts=0)
