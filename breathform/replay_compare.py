"""Compare a replay's metrics, alerts and strides with what the live run stored."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
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


def compare(stored_m: Iterable[Metrics], stored_a: Sequence[Alert],
            new_m: Sequence[Metrics], new_a: Sequence[Alert],
            stored_fields: Collection[str] | None = None,
            stored_s: Iterable[Stride] | None = None,
            new_s: Sequence[Stride] = ()) -> ReplayReport:
    """Compare stored and recomputed results, NaN equal to NaN.

    A live run interrupted mid-second may have stored fewer seconds than the replay
    recomputes from the same packets; only the stored seconds are compared, and every one
    of them must be present and equal. ``stored_fields`` (the Metrics fields the session
    file has; None = all) leaves out metrics added after an older file was recorded.
    ``stored_s`` (None: a file without a strides table) are the stored strides; each must
    be in ``new_s`` (by end time) with every field equal. The stored metrics and strides
    are taken one at a time, in time order (a reader's iterators: a long session's need
    not be held at once).
    """
    by_t = {m.t_s: m for m in new_m}
    diffs: list[str] = []
    n_stored = 0
    last_t = -math.inf
    for m in stored_m:
        n_stored += 1
        last_t = m.t_s
        r = by_t.get(m.t_s)
        d = (f"t_s={m.t_s}: missing from replay" if r is None
             else _metrics_equal(m, r, stored_fields))
        if d:
            diffs.append(d)
    n_m_diffs = len(diffs)
    alerts_same = list(stored_a) == [a for a in new_a if a.t_s <= last_t]
    new_by_end = {st.t_end_s: st for st in new_s}
    n_strides = 0
    s_diffs: list[str] = []
    for st in stored_s or ():
        n_strides += 1
        if not _stride_equal(st, new_by_end.get(st.t_end_s)):
            s_diffs.append(f"stride ending {st.t_end_s}: stored {st}, replayed "
                           f"{new_by_end.get(st.t_end_s)}")
    diffs += s_diffs
    identical = not diffs and alerts_same and n_stored > 0
    if identical:
        text = (f"identical: {n_stored} s of metrics and {len(stored_a)} alerts match "
                "the live run")
        if stored_s is not None:
            text += f" ({n_strides} strides too)"
    elif not n_stored:
        text = "the session has no stored metrics to compare with"
    else:
        parts = []
        if n_m_diffs:
            parts.append(f"{n_m_diffs} of {n_stored} stored seconds differ (first: "
                         f"{diffs[0]})")
        if s_diffs:
            parts.append(f"{len(s_diffs)} of {n_strides} stored strides differ "
                         f"(first: {s_diffs[0]})")
        if not alerts_same:
            parts.append(f"alerts differ: stored {len(stored_a)}, replayed {len(new_a)}")
        text = "DIFFERENT from the live run: " + "; ".join(parts)
    return ReplayReport(identical, n_stored, len(new_m), n_m_diffs, alerts_same,
                        diffs[0] if diffs else "", text, n_strides, len(s_diffs))


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
