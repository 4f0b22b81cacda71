"""The runtime's fault bookkeeping: silent sensors (the BLE fault tests run it end to end)."""

from __future__ import annotations

from breathform.runtime import SilenceWatch


def test_silence_is_reported_once_and_its_end_too():
    w = SilenceWatch(["chest", "sacrum"], after_s=5.0)
    assert w.update(1.0, {"chest": 100, "sacrum": 50}) == []
    assert w.update(4.0, {"chest": 400, "sacrum": 50}) == []
    [(t, kind, detail)] = w.update(6.0, {"chest": 600, "sacrum": 50})
    assert (t, kind) == (6.0, "sensor_silent") and detail.startswith("sacrum: no data for 5 s")
    assert w.update(9.0, {"chest": 900, "sacrum": 50}) == []  # said once
    [(t, kind, detail)] = w.update(9.5, {"chest": 950, "sacrum": 58})
    assert (t, kind, detail) == (9.5, "sensor_resumed", "sacrum: data again after 8.5 s")
    assert w.silent == set()


def test_a_sensor_that_never_sends_is_silent_from_the_start():
    w = SilenceWatch(["chest", "sacrum"], after_s=5.0)
    events = w.update(5.0, {"chest": 1000})
    assert [(k, d.split(":")[0]) for _, k, d in events] == [("sensor_silent", "sacrum")]
