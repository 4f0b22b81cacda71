"""Checks shared by the BLE end-to-end tests: nothing received is lost."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MAX_IN_FLIGHT = 20
"""Notifications a device may have sent just before a link closed that never reached the
central (characteristics that notify until the link closes, e.g. Heart Rate or a WitMotion
stream; more of them under heavy CPU load), per closing of a link."""


def assert_nothing_received_lost(got: Mapping[str, list[bytes]], devices: Iterable[Any],
                                 stats: Mapping[str, Any], n_stored: Mapping[str, int]) -> None:
    """What the central received is stored, and it is what the devices sent, in order.

    Args:
        got: Stored payloads per characteristic UUID, in store order (data notifications).
        devices: Emulated peripherals (``stats.sent_payloads`` per characteristic).
        stats: The source's per-role link stats (``received`` = notifications handed on).
        n_stored: Stored packets per role (all characteristics, control answers included).
    """
    for role, st in stats.items():
        assert n_stored.get(role, 0) == st.received, (role, n_stored, st.received)
    # every connection or failed attempt ends with the link closing
    closes = sum(st.connects + st.failed_attempts for st in stats.values())
    for dev in devices:
        for char, sent in dev.stats.sent_payloads.items():
            g = got.get(char, [])
            # byte for byte and in the order sent: the stored ones are a subsequence
            it = iter(sent)
            assert all(any(x == y for y in it) for x in g), char
            # only what was still in flight when a link closed may be missing
            assert len(sent) - len(g) <= MAX_IN_FLIGHT * max(closes, 1), (
                char, len(sent), len(g), closes)
