"""Alert rules: breathlessness x form degradation against personal baselines. Pure.

The engine follows the Params/State/step pattern: ``AlertParams.from_config``,
``init_state``, ``step``. See ``breathform.alerts.engine`` for the rules as implemented.
"""

from __future__ import annotations

from breathform.alerts.cues import choose_cue, excess
from breathform.alerts.engine import (
    ALERT_KIND,
    AlertParams,
    AlertState,
    AlertThresholds,
    Baseline,
    baseline_of,
    init_state,
    is_climbing,
    run_batch,
    severity_of,
    step,
)

__all__ = [
    "ALERT_KIND", "AlertParams", "AlertState", "AlertThresholds", "Baseline", "baseline_of",
    "choose_cue", "excess", "init_state", "is_climbing", "run_batch", "severity_of", "step",
]
