"""Alerts against the simulator's truth: on the climbs where form fails, never on the flat.

The seeded simulated runs go through the real packet path (device packets with loss and
clock drift -> decoders -> DSP -> rule engine with the default config), as in
``breathform demo``.
"""

from __future__ import annotations

import numpy as np
import pytest

from breathform.alerts import baseline_of
from breathform.config import Config
from breathform.model import Alert
from breathform.processing import SessionProcessor
from breathform.sim.source import SimSource
from breathform.sim.truth import GroundTruth


def _run(seed: int, minutes: float, flat: bool) -> tuple[list[Alert], GroundTruth,
                                                          SessionProcessor]:
    cfg = Config()
    src = SimSource.create(cfg, duration_s=minutes * 60.0, seed=seed, flat=flat, batch_s=1.0)
    proc = SessionProcessor(cfg, src.sensors)
    alerts: list[Alert] = []
    for batch in src.batches():
        alerts += proc.feed(batch).alerts
    return alerts, src.run.truth, proc


def _stretches(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index ranges where mask is True."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@pytest.mark.parametrize("seed", [2, 3])
def test_hilly_alerts_fall_inside_truths_degraded_climbs(seed: int) -> None:
    alerts, tr, _ = _run(seed, 20.0, flat=False)
    assert alerts
    for a in alerts:  # precision: each alert where the runner is breathless with bad form
        k = int(a.t_s) - 1
        assert tr.breathless[k] and tr.form_degraded[k], a
        assert a.climb  # the rule's own climb context agrees
    # recall: every climb on which form failed for at least a minute got an alert
    bad = tr.form_degraded & tr.breathless
    for a0, a1 in _stretches(tr.climbing):
        if bad[a0:a1].sum() >= 60:
            assert any(a0 <= a.t_s - 1 < a1 for a in alerts), (a0, a1)


def test_flat_easy_run_never_alerts() -> None:
    alerts, tr, proc = _run(2, 20.0, flat=True)
    assert not tr.breathless.any() and not tr.form_degraded.any()
    assert alerts == []
    base = baseline_of(proc.alert_state)  # quiet with the rules armed, not for lack of data
    assert base is not None and base.coupling_pct > 90.0
