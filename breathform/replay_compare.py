"""Compare a replay's metrics, alerts and strides with what the live run stored."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields

from breathform.model import Alert, Metrics
from breathform.signal.gait import Stride


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """Outcome of a comparison."""

    identical: bool
    n_metrics_stored: int
    n_metrics_replayed: int
    n_metric_diffs: int
    alerts_identical: bool
    first_diff: str
    text: str
    n_strides_stored: int = 0
    n_stride_diffs: int = 0


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _metrics_equal(a: Metrics, b: Metrics, only: Collection[str] | None = None) -> str:
    for f in fields(Metrics):
        if only is not None and f.name not in only:
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, float) and isinstance(y, float):
            if not _same(x, y):
                return f"t_s={a.t_s}: {f.name} stored {x!r}, replayed {y!r}"
        elif x != y:
            return f"t_s={a.t_s}: {f.name} stored {x!r}, replayed {y!r}"
    return ""


def compare(stored_m: Sequence[Metrics], stored_a: Sequence[Alert],
            new_m: Sequence[Metrics], new_a: Sequence[Alert],
            stored_fields: Collection[str] | None = None,
            stored_s: Sequence[Stride] | None = None,
            new_s: Sequence[Stride] = ()) -> ReplayReport:
    """Compare stored and recomputed results, NaN equal to NaN.

    A live run interrupted mid-second may have stored fewer seconds than the replay
    recomputes from the same packets; only the stored seconds are compared, and every one
    of them must be present and equal. ``stored_fields`` (the Metrics fields the session
    file has; None = all) leaves out metrics added after an older file was recorded.
    ``stored_s`` (None: a file without a strides table) are the stored strides; each must
    be in ``new_s`` (by end time) with every field equal.
    """
    by_t = {m.t_s: m for m in new_m}
    diffs: list[str] = []
    for m in stored_m:
        r = by_t.get(m.t_s)
        d = (f"t_s={m.t_s}: missing from replay" if r is None
             else _metrics_equal(m, r, stored_fields))
        if d:
            diffs.append(d)
    last_t = stored_m[-1].t_s if stored_m else -math.inf
    alerts_same = list(stored_a) == [a for a in new_a if a.t_s <= last_t]
    new_by_end = {st.t_end_s: st for st in new_s}
    s_diffs = [f"stride ending {st.t_end_s}: stored {st}, replayed "
               f"{new_by_end.get(st.t_end_s)}" for st in (stored_s or ())
               if not _stride_equal(st, new_by_end.get(st.t_end_s))]
    diffs += s_diffs
    identical = not diffs and alerts_same and len(stored_m) > 0
    if identical:
        text = (f"identical: {len(stored_m)} s of metrics and {len(stored_a)} alerts match "
                "the live run")
        if stored_s is not None:
            text += f" ({len(stored_s)} strides too)"
    elif not stored_m:
        text = "the session has no stored metrics to compare with"
    else:
        parts = []
        if len(diffs) > len(s_diffs):
            parts.append(f"{len(diffs) - len(s_diffs)} of {len(stored_m)} stored seconds "
                         f"differ (first: {diffs[0]})")
        if s_diffs:
            parts.append(f"{len(s_diffs)} of {len(stored_s or ())} stored strides differ "
                         f"(first: {s_diffs[0]})")
        if not alerts_same:
            parts.append(f"alerts differ: stored {len(stored_a)}, replayed {len(new_a)}")
        text = "DIFFERENT from the live run: " + "; ".join(parts)
    return ReplayReport(identical, len(stored_m), len(new_m), len(diffs) - len(s_diffs),
                        alerts_same, diffs[0] if diffs else "", text,
                        len(stored_s or ()), len(s_diffs))


def _stride_equal(a: Stride, b: Stride | None) -> bool:
    if b is None:
        return False
    for f in fields(Stride):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, float) and isinstance(y, float):
            if not _same(x, y):
                return False
        elif x != y:
            return False
    return True
