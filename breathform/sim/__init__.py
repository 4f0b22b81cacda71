"""Synthetic runner: route, physiology, IMU kinematics, ground truth, device packets.

``simulate_run(SimParams.hilly(seed=1))`` gives a seeded, deterministic ~30 min hilly run
with chest and sacrum IMU streams in true session time and per-second ground truth;
``SimParams.flat()`` a steady run without climbs. Frames and signs: docs/conventions.md.
"""

from breathform.sim.imu import SimImu
from breathform.sim.params import (
    PHASE_NAMES,
    PHASE_RUN,
    PHASE_STAND,
    PHASE_WALK,
    RunnerTraits,
    SimParams,
)
from breathform.sim.route import Climb
from breathform.sim.run import SimRun, simulate_run
from breathform.sim.truth import GroundTruth

__all__ = [
    "PHASE_NAMES", "PHASE_RUN", "PHASE_STAND", "PHASE_WALK", "Climb", "GroundTruth",
    "RunnerTraits", "SimImu", "SimParams", "SimRun", "simulate_run",
]
