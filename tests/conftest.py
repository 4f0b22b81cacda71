"""Shared test set-up."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _collector_threshold_per_test() -> Iterator[None]:
    """Each test starts with the cycle collector's threshold the suite started with.

    Tests that call the command in-process (``breathform.cli.main``) get its process-wide
    memory settings (breathform.allocator), which would otherwise carry over to every later
    test: with the collector's passes that rare, a reference cycle left by one test (an
    unclosed socket) is collected, and warns, in an unrelated test much later.
    """
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
