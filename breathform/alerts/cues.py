"""Coaching cues chosen from an alert's causes. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence

from breathform.model import Cause

CUE_HILL = "Breathe low into the belly and shorten your stride on the hill."
CUE_PELVIS = "Stand tall: bring the pelvis back to neutral."
CUE_PELVIS_SHALLOW = "Breathe deep into the belly and bring the pelvis back to neutral."
CUE_TRUNK = "Lift the chest, don't fold at the hips."
CUE_TRUNK_SHALLOW = "Lift the chest and let each breath drop low into the belly."
CUE_GENERIC = "Ease the pace, breathe low and stand tall."

# (primary form cause, breathing pattern is rapid-shallow) -> cue
_CUES: dict[tuple[str, bool], str] = {
    ("pelvic_tilt_anterior", False): CUE_PELVIS,
    ("pelvic_tilt_anterior", True): CUE_PELVIS_SHALLOW,
    ("trunk_flexion", False): CUE_TRUNK,
    ("trunk_flexion", True): CUE_TRUNK_SHALLOW,
}


def excess(c: Cause) -> float:
    """How far beyond its threshold a cause is, in units of the threshold's distance.

    ``(value - baseline) / (threshold - baseline)``: 0 at the baseline, 1.0 at the
    threshold, 2.0 twice as far from the baseline as the threshold. Works for criteria
    below their baseline too (shallow breathing), where both differences are negative.

    Args:
        c: The cause.

    Returns:
        The excess; 1.0 when it cannot be computed (NaN value, zero span).
    """
    span = c.threshold - c.baseline
    if not (math.isfinite(c.value) and math.isfinite(span)) or span == 0:
        return 1.0
    return (c.value - c.baseline) / span


def choose_cue(causes: Sequence[Cause], climb: bool) -> str:
    """Pick the short coaching cue for an alert.

    Climbing gives the hill cue. Otherwise the form cause with the largest excess picks
    the cue (pelvis or trunk; on a tie the pelvis, the design's headline), in a variant
    that also mentions breathing deep when a ``breath_shallow`` cause is present.

    Args:
        causes: The alert's causes.
        climb: Whether the climb context holds.

    Returns:
        One sentence for the runner.
    """
    if climb:
        return CUE_HILL
    form = [c for c in causes if c.name in ("pelvic_tilt_anterior", "trunk_flexion")]
    if not form:
        return CUE_GENERIC
    # max() keeps the first of equal keys; list the pelvis first so it wins ties.
    form.sort(key=lambda c: c.name != "pelvic_tilt_anterior")
    primary = max(form, key=excess)
    shallow = any(c.name == "breath_shallow" for c in causes)
    return _CUES[(primary.name, shallow)]
