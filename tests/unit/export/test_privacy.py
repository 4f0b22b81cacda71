"""Pseudonymous exports: salted hashes, no addresses, --identify keeps identifiers."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from breathform.errors import InputError
from breathform.export import write_data
from breathform.export.privacy import SALT_FILE, Privacy, load_salt
from breathform.export.streams import SessionData


def test_salt_is_created_once_owner_only(tmp_path: Path) -> None:
    s1 = load_salt(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / SALT_FILE).st_mode)
    assert mode == 0o600
    assert len(s1) == 32
    assert load_salt(tmp_path) == s1
    assert load_salt(tmp_path / "other") != s1


def test_salt_under_breathform_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREATHFORM_HOME", str(tmp_path))
    Privacy.create(False)
    assert (tmp_path / SALT_FILE).is_file()


def test_bad_salt_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / SALT_FILE).write_text("not hex\n")
    with pytest.raises(InputError, match=SALT_FILE):
        load_salt(tmp_path)
    (tmp_path / SALT_FILE).write_text("abcd\n")
    with pytest.raises(InputError, match="expected 32"):
        load_salt(tmp_path)


def test_pseudonyms_are_stable_per_installation(tmp_path: Path) -> None:
    a, b = Privacy.create(False, tmp_path / "a"), Privacy.create(False, tmp_path / "b")
    assert a.pseudonym("runner", "Jane Doe") == a.pseudonym("runner", "Jane Doe")
    assert a.pseudonym("runner", "Jane Doe") != b.pseudonym("runner", "Jane Doe")
    assert a.pseudonym("runner", "Jane Doe") != a.pseudonym("serial", "Jane Doe")
    assert len(a.pseudonym("serial", "C0680226")) == 16
    assert a.subject_label("runner-01").isalnum()
    assert Privacy.create(True).pseudonym("runner", "runner-01") == "runner-01"


def test_scrub_drops_addresses_and_hashes_ids(tmp_path: Path) -> None:
    p = Privacy.create(False, tmp_path)
    cfg = {"runner": {"id": "Jane Doe", "resting_rate_bpm": 12.0},
           "sensors": {"chest": {"kind": "polar_h10", "address": "A0:9E:1A:12:34:56",
                                 "serial": "C0680226"}}}
    out = p.scrub(cfg)
    assert "address" not in out["sensors"]["chest"]
    assert out["sensors"]["chest"]["serial"] == p.pseudonym("serial", "C0680226")
    assert out["runner"]["id"] == p.pseudonym("runner", "Jane Doe")
    assert out["runner"]["resting_rate_bpm"] == 12.0
    assert Privacy.create(True).scrub(cfg) == cfg


def _all_text(folder: Path) -> str:
    return "\n".join(f.read_text(errors="replace") for f in folder.rglob("*") if f.is_file())


@pytest.mark.parametrize("fmt", ["csv", "bids"])
def test_export_has_no_runner_id_unless_identify(alert_data: SessionData, privacy: Privacy,
                                                 tmp_path: Path, fmt: str) -> None:
    runner = alert_data.meta["runner_id"]
    res = write_data(alert_data, fmt, tmp_path / "p", privacy)
    text = _all_text(tmp_path / "p")
    assert runner not in text
    assert res.metadata["subject"]["id"] == privacy.pseudonym("runner", runner)
    assert res.metadata["privacy"]["pseudonymised"] is True
    assert "address" not in json.dumps(res.metadata["config"])
    res = write_data(alert_data, fmt, tmp_path / "i", Privacy.create(True))
    assert runner in _all_text(tmp_path / "i") or runner.replace("-", "") in _all_text(
        tmp_path / "i")
    assert res.metadata["subject"]["id"] == runner


def test_scrub_text_hides_addresses_and_polar_ids(tmp_path: Path) -> None:
    p = Privacy.create(False, tmp_path)
    text = ("chest: polar_h10 A0:9E:1A:12:34:56 streaming; sacrum: Movesense 2133 link lost; "
            "found Polar H10 1A2B3C4D for runner Jane")
    out = p.scrub_text(text, ["Movesense 2133", "Jane", ""])
    assert "A0:9E" not in out and "1A2B3C4D" not in out and "2133" not in out
    assert "Jane" not in out and out.count("<hidden>") == 4
    assert Privacy.create(True).scrub_text(text, ["Jane"]) == text


def test_event_details_are_scrubbed_in_metadata(alert_data: SessionData, privacy: Privacy,
                                                tmp_path: Path) -> None:
    import dataclasses
    ev = [(5.0, "link_up", "chest: polar_h10 A0:9E:1A:12:34:56 streaming")]
    data = dataclasses.replace(alert_data, events=ev)
    res = write_data(data, "csv", tmp_path, privacy)
    assert res.metadata["events"][0]["detail"] == "chest: polar_h10 <hidden> streaming"
