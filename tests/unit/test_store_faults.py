"""SessionWriter when writes fail: keep in memory, retry, save in order, bound, report."""

from __future__ import annotations

import pytest

from breathform.errors import StoreError
from breathform.model import RawPacket, SessionInfo
from breathform.store import SessionReader, SessionWriter


def _pkts(i0: int, n: int) -> list[RawPacket]:
    return [RawPacket(float(i), "chest", "c", i.to_bytes(4, "little"))
            for i in range(i0, i0 + n)]


def test_failed_writes_are_kept_retried_and_saved_in_order(tmp_path):
    path = tmp_path / "s.bfsession"
    w = SessionWriter(path, SessionInfo("s", 0, "sim", "t"), "", retry_every_s=0.0)
    w.add_raw(_pkts(0, 10))
    w.commit()
    w._con.execute("PRAGMA query_only=1")  # every write fails from here on
    w.add_raw(_pkts(10, 10))
    assert w.error is not None and "readonly" in str(w.error)
    w.add_raw(_pkts(20, 10))
    w.add_event(20.0, "gap", "x")
    w.maybe_commit()  # a retry that fails again
    assert w.error is not None and w.n_write_failures >= 2 and w.pending_bytes > 0
    assert w.saved_t_rx_s == 9.0
    w._con.execute("PRAGMA query_only=0")  # the disk has room again
    w.maybe_commit()
    assert w.error is None and w.n_recoveries == 1 and w.pending_bytes == 0
    assert w.saved_t_rx_s == 29.0
    w.add_raw(_pkts(30, 5))
    w.close()
    with SessionReader(path) as r:
        raw = list(r.iter_raw())
        assert r.events() == [(20.0, "gap", "x")]
        assert r.meta["status"] == "complete"
    assert [int.from_bytes(p.payload, "little") for p in raw] == list(range(35))


def test_memory_bound_counts_what_was_not_kept_and_close_says_so(tmp_path):
    path = tmp_path / "s.bfsession"
    w = SessionWriter(path, SessionInfo("s", 0, "sim", "t"), "", retry_every_s=0.0,
                      max_pending_bytes=500)
    w.add_raw(_pkts(0, 2))
    w.commit()
    w._con.execute("PRAGMA query_only=1")
    for i in range(2, 40, 2):
        w.add_raw(_pkts(i, 2))
    assert w.unsaved_packets > 0
    kept = 40 - 2 - w.unsaved_packets
    w._con.execute("PRAGMA query_only=0")
    with pytest.raises(StoreError, match=rf"{w.unsaved_packets} of 40 packets received were "
                                         r"not saved"):
        w.close()
    with SessionReader(path) as r:
        assert r.n_raw() == 2 + kept


def test_a_writer_that_cannot_start_raises_at_once(tmp_path):
    (tmp_path / "f").write_text("a file, not a folder")
    with pytest.raises(StoreError, match="cannot create session folder"):
        SessionWriter(tmp_path / "f" / "x" / "s.bfsession", SessionInfo("s", 0, "sim", "t"),
                      "")
