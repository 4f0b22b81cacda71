"""The replay comparison: stored results taken one at a time, as the reader yields them."""

from __future__ import annotations

import math
from dataclasses import fields, replace

from breathform.model import Alert, Cause, Metrics
from breathform.replay_compare import compare
from breathform.signal.gait import Stride


def _metrics(n: int) -> list[Metrics]:
    kw = {f.name: (False if f.name == "warming_up" else 0.5) for f in fields(Metrics)}
    return [replace(Metrics(**kw), t_s=float(t), rate_bpm=30.0 + t, hr_bpm=math.nan)
            for t in range(n)]


def _strides(n: int) -> list[Stride]:
    return [Stride(t_start_s=t, t_end_s=t + 0.7, side="LR"[t % 2], stride_s=0.7,
                   step_s=0.35, cadence_spm=171.4, vertical_osc_cm=8.0) for t in range(n)]


def test_iterators_give_the_report_lists_give():
    m, s = _metrics(20), _strides(15)
    cause = Cause("rate_high", "rate_bpm", 40.0, 30.0, 36.0, "bpm")
    a = [Alert(t_s=5.0, kind="breathless_form", severity=2, causes=(cause,), cue="x",
               climb=True)]
    as_lists = compare(m, a, m, a, None, s, s)
    as_iters = compare(iter(m), a, m, a, None, iter(s), s)
    assert as_lists == as_iters
    assert as_iters.identical and as_iters.n_metrics_stored == 20
    assert as_iters.n_strides_stored == 15
    assert as_iters.text == "identical: 20 s of metrics and 1 alerts match the live run " \
        "(15 strides too)"


def test_differences_are_counted_and_the_first_named():
    m, s = _metrics(10), _strides(6)
    new_m = [replace(x, rate_bpm=99.0) if x.t_s in (3.0, 7.0) else x for x in m[:-1]]
    new_s = [replace(x, cadence_spm=1.0) if i == 2 else x for i, x in enumerate(s)]
    rep = compare(iter(m), [], new_m, [], None, iter(s), new_s)
    assert not rep.identical
    assert (rep.n_metrics_stored, rep.n_metric_diffs) == (10, 3)  # 2 differ, 1 missing
    assert (rep.n_strides_stored, rep.n_stride_diffs) == (6, 1)
    assert rep.first_diff == "t_s=3.0: rate_bpm stored 33.0, replayed 99.0"
    assert "3 of 10 stored seconds differ" in rep.text
    assert "1 of 6 stored strides differ" in rep.text
    assert "t_s=9.0: missing from replay" not in rep.text  # only the first is named


def test_nothing_stored():
    rep = compare(iter(()), [], _metrics(3), [], None, None, ())
    assert not rep.identical
    assert rep.text == "the session has no stored metrics to compare with"
