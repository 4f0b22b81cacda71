"""Reading raw packets back: chunks checked as a whole, built as RawPacket builds them.

A chunk with a damaged row is built row by row (RawPacket's own checks), so a damaged file
still gives a StoreError naming the problem, never another exception.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from breathform.errors import InputError, StoreError
from breathform.model import RawPacket, SessionInfo
from breathform.store import SessionReader, SessionWriter


def _pkts(n: int) -> list[RawPacket]:
    return [RawPacket(0.01 * i, ("chest", "sacrum")[i % 3 == 0], f"c{i % 4}",
                      i.to_bytes(3, "little") * (i % 5)) for i in range(n)]


def _write(path: Path, pkts: list[RawPacket]) -> Path:
    w = SessionWriter(path, SessionInfo("s", 0, "sim", "t"), "")
    w.add_raw(pkts)
    w.close()
    return path


def test_packets_read_back_equal_across_chunk_boundaries(tmp_path: Path) -> None:
    pkts = _pkts(1000)
    path = _write(tmp_path / "s.bfsession", pkts)
    with SessionReader(path) as r:
        assert list(r.iter_raw()) == pkts
        chunks = list(r.iter_raw_batches(300))
        assert [len(c) for c in chunks] == [300, 300, 300, 100]
        # a batch larger than the rows read at a time is joined from several reads
        assert [len(c) for c in r.iter_raw_batches(700)] == [700, 300]
        assert [p for c in r.iter_raw_batches(700) for p in c] == pkts
        assert [len(c) for c in r.iter_raw_batches(7)][:3] == [7, 7, 7]
        got = [p for c in chunks for p in c]
        assert got == pkts
        assert [hash(p) for p in got] == [hash(p) for p in pkts]
        assert repr(got) == repr(pkts)
        assert all(type(p) is RawPacket and type(p.payload) is bytes for p in got)
        with pytest.raises(InputError, match="batch must be >= 1"):
            next(r.iter_raw_batches(0))


def test_unchecked_many_builds_what_the_constructor_builds() -> None:
    pkts = _pkts(50)
    got = RawPacket.unchecked_many([p.t_rx_s for p in pkts], [p.sensor for p in pkts],
                                   [p.char for p in pkts], [p.payload for p in pkts])
    assert got == pkts and RawPacket.unchecked_many([], [], [], []) == []


@pytest.mark.parametrize(("stmt", "message"), [
    ("UPDATE raw SET t_rx_s='abc' WHERE id=620", "must be real number, not str"),
    ("UPDATE raw SET t_rx_s=9e999 WHERE id=620", "t_rx_s must be finite, got inf"),
    ("UPDATE raw SET t_rx_s=-9e999 WHERE id=620", "t_rx_s must be finite, got -inf"),
    ("UPDATE raw SET sensor='knee' WHERE id=620", "sensor must be one of"),
    ("UPDATE raw SET sensor=X'6368657374' WHERE id=620", "sensor must be one of"),
    ("UPDATE raw SET payload='abc' WHERE id=620", "string argument without an encoding"),
    ("UPDATE raw SET payload=1.5 WHERE id=620", "cannot convert 'float' object to bytes"),
])
def test_a_damaged_row_is_a_store_error_after_the_good_chunks(tmp_path: Path, stmt: str,
                                                               message: str) -> None:
    path = _write(tmp_path / "s.bfsession", _pkts(1000))
    with sqlite3.connect(path) as con:
        con.execute(stmt)
    con.close()
    with SessionReader(path) as r:
        got: list[RawPacket] = []
        with pytest.raises(StoreError, match=rf"is damaged: cannot read its raw packets: "
                                             rf".*{message}"):
            for chunk in r.iter_raw_batches(256):
                got += chunk
        assert len(got) == 512  # the chunks before the damaged one
        with pytest.raises(StoreError, match=message):
            list(r.iter_raw())


def test_huge_finite_times_still_read(tmp_path: Path) -> None:
    """A chunk whose times are finite but sum to inf is built row by row: as before."""
    pkts = [RawPacket(1e308, "chest", "c", b"x"), RawPacket(1e308, "sacrum", "c", b"")]
    path = _write(tmp_path / "s.bfsession", pkts)
    with SessionReader(path) as r:
        assert list(r.iter_raw()) == pkts
