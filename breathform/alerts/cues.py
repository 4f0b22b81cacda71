"""Coaching cues chosen from an alert's causes. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence

from breathform.model import Cause

CUE_HILL = "Breathe low into the belly and shorten your stride on the hill."
CUE_PELVIS = "Stand tall: bring the pelvis back to neutral."
CUE_PELVIS_SHALLOW = "Breathe deep into the belly and bring the pelvis back to neutral."
CUE_PELVIS_RHYTHM = "Bring the pelvis back to neutral and breathe in time with your steps."
CUE_TRUNK = "Lift the chest, don't fold at the hips."
CUE_TRUNK_SHALLOW = "Lift the chest and let each breath drop low into the belly."
CUE_TRUNK_RHYTHM = "Lift the chest and breathe in time with your steps."
CUE_DROP = "Keep the hips level: land softly under your hips."
CUE_DROP_SHALLOW = "Breathe deep into the belly and keep the hips level."
CUE_DROP_RHYTHM = "Keep the hips level and breathe in time with your steps."
CUE_ROTATION = "Keep the hips facing forward: shorter, quicker steps."
CUE_ROTATION_SHALLOW = "Breathe deep into the belly and keep the hips facing forward."
CUE_ROTATION_RHYTHM = "Keep the hips facing forward and breathe in time with your steps."
CUE_TWIST = "Stop the shoulders twisting: swing the arms forward, not across."
CUE_TWIST_SHALLOW = "Breathe deep into the belly and stop the shoulders twisting."
CUE_TWIST_RHYTHM = "Stop the shoulders twisting and breathe in time with your steps."
CUE_GENERIC = "Ease the pace, breathe low and stand tall."

FORM_CUE_ORDER: tuple[str, ...] = ("pelvic_tilt_anterior", "trunk_flexion", "pelvic_drop",
                                   "pelvic_rotation", "trunk_twist")
"""Form causes that pick a cue, in order of preference when their excesses tie."""

# (primary form cause, breathing variant) -> cue; the variant is "shallow" when the
# breathing is rapid-shallow, else "rhythm" when the breath-stride coupling is lost.
_CUES: dict[tuple[str, str], str] = {
    ("pelvic_tilt_anterior", ""): CUE_PELVIS,
    ("pelvic_tilt_anterior", "shallow"): CUE_PELVIS_SHALLOW,
    ("pelvic_tilt_anterior", "rhythm"): CUE_PELVIS_RHYTHM,
    ("trunk_flexion", ""): CUE_TRUNK,
    ("trunk_flexion", "shallow"): CUE_TRUNK_SHALLOW,
    ("trunk_flexion", "rhythm"): CUE_TRUNK_RHYTHM,
    ("pelvic_drop", ""): CUE_DROP,
    ("pelvic_drop", "shallow"): CUE_DROP_SHALLOW,
    ("pelvic_drop", "rhythm"): CUE_DROP_RHYTHM,
    ("pelvic_rotation", ""): CUE_ROTATION,
    ("pelvic_rotation", "shallow"): CUE_ROTATION_SHALLOW,
    ("pelvic_rotation", "rhythm"): CUE_ROTATION_RHYTHM,
    ("trunk_twist", ""): CUE_TWIST,
    ("trunk_twist", "shallow"): CUE_TWIST_SHALLOW,
    ("trunk_twist", "rhythm"): CUE_TWIST_RHYTHM,
}


def excess(c: Cause) -> float:
    """How far beyond its threshold a cause is, in units of the threshold's distance.

    ``(value - baseline) / (threshold - baseline)``: 0 at the baseline, 1.0 at the
    threshold, 2.0 twice as far from the baseline as the threshold. Works for criteria
    below their baseline too (shallow breathing, lost coupling), where both differences
    are negative.

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
    the cue (pelvis, trunk, hips level, hips forward or shoulders; on a tie the earlier in
    ``FORM_CUE_ORDER``, the pelvis first, the design's headline), in a variant that also
    mentions breathing deep when a ``breath_shallow`` cause is present, or breathing in
    time with the steps when a ``coupling_lost`` cause is (and no ``breath_shallow``).

    Args:
        causes: The alert's causes.
        climb: Whether the climb context holds.

    Returns:
        One sentence for the runner.
    """
    if climb:
        return CUE_HILL
    form = [c for c in causes if c.name in FORM_CUE_ORDER]
    if not form:
        return CUE_GENERIC
    # max() keeps the first of equal keys: sort by preference so the pelvis wins ties.
    form.sort(key=lambda c: FORM_CUE_ORDER.index(c.name))
    primary = max(form, key=excess)
    names = {c.name for c in causes}
    variant = ("shallow" if "breath_shallow" in names
               else "rhythm" if "coupling_lost" in names else "")
    return _CUES[(primary.name, variant)]
