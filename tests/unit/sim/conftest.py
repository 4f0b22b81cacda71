"""Shared simulated runs (module-scoped: each costs about a second)."""

from __future__ import annotations

import pytest

from breathform.sim import SimParams, SimRun, simulate_run


@pytest.fixture(scope="session")
def clean_run() -> SimRun:
    """Hilly default run, identity mounts, no sensor noise: for physics checks."""
    return simulate_run(SimParams(seed=3, mount="identity", acc_noise_g=0.0,
                                  gyr_noise_dps=0.0, gyr_bias_dps=0.0))


@pytest.fixture(scope="session")
def hilly_run() -> SimRun:
    """Default hilly run with random mounts and noise."""
    return simulate_run(SimParams.hilly(seed=11))


@pytest.fixture(scope="session")
def flat_run() -> SimRun:
    """The flat variant."""
    return simulate_run(SimParams.flat(seed=11))
