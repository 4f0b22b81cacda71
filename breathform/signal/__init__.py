"""DSP: pure numpy/scipy processors (Params, State, step). No I/O, no asyncio.

Entry points: :mod:`breathform.signal.pipeline` (fused 1 Hz Metrics from both sensors) and
:mod:`breathform.signal.sensors` (per-sensor processors, ``analyze_chest``,
``analyze_sacrum``). Building blocks: regrid (gaps), frames (whole seconds), orientation
(VQF / accelerometer-only inclination), posture (calibration, pitch, per-stride ranges),
cadence, breathing.
"""

from breathform.signal.pipeline import PipelineParams, PipelineState, finish, init_state, step
from breathform.signal.posture import SegmentCalibration
from breathform.signal.sensors import analyze_chest, analyze_sacrum

__all__ = [
    "PipelineParams", "PipelineState", "SegmentCalibration", "analyze_chest",
    "analyze_sacrum", "finish", "init_state", "step",
]
