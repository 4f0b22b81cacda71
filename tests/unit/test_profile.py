"""The runner profile (breathform.profile): round trip, validation, which sessions use it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from breathform import profile as prof
from breathform.errors import ConfigError, InputError
from breathform.model import SensorInfo

CAL = prof.StoredCalibration(
    runner_id="runner-07", calibrated_utc="2026-11-25T16:00:00Z", source="ble",
    chest=prof.SensorCalibration("polar_h10", (0.6, 0.0, 0.8)),
    sacrum=prof.SensorCalibration("movesense", (0.0, -1.0, 0.0)),
    resting_rate_bpm=13.5, rest_amp_g=0.0021)
SENSORS = (SensorInfo("chest", "polar_h10", 200.0, 8.0, False),
           SensorInfo("sacrum", "movesense", 104.0, 16.0, True))


def test_save_and_load_round_trip(tmp_path):
    path = prof.save(CAL, tmp_path / "sub" / "profile.toml")
    back = prof.load(path)
    assert back is not None
    assert back == prof.StoredCalibration(**{**{f: getattr(CAL, f) for f in (
        "runner_id", "calibrated_utc", "source", "chest", "sacrum", "resting_rate_bpm",
        "rest_amp_g")}, "path": str(path)})
    assert prof.from_record(back.to_record()) == back
    assert not list(path.parent.glob("*.tmp"))


def test_missing_file_is_none_and_partial_profile_is_fine(tmp_path):
    assert prof.load(tmp_path / "none.toml") is None
    p = tmp_path / "p.toml"
    p.write_text('[profile]\nversion = 1\nrunner_id = "r"\ncalibrated_utc = "x"\n'
                 'source = "ble"\n[calibration.chest]\nkind = "polar_h10"\n'
                 "vertical = [0, 0, 1]\n")
    c = prof.load(p)
    assert c is not None and c.sacrum is None and c.rest_amp_g is None
    assert math.isnan(c.resting_rate_bpm)


@pytest.mark.parametrize(("text", "key", "expected"), [
    ("[calibration.chest]\nkind = \"polar_h10\"\nvertical = [0, 0, 2]\n",
     "calibration.chest.vertical", "unit vector"),
    ("[calibration.chest]\nkind = \"polar_h10\"\nvertical = [0, 0]\n",
     "calibration.chest.vertical", "unit vector"),
    ("[calibration.chest]\nkind = \"polar_h10\"\nvertical = [0, 0, 1]\ncolour = 1\n",
     "calibration.chest.colour", "no such key"),
    ("[calibration.knee]\nkind = \"x\"\nvertical = [0, 0, 1]\n", "calibration.knee",
     "no such key"),
    ("[calibration.chest]\nkind = \"polar_h10\"\nvertical = [0, 0, 1]\n[breathing]\n"
     "resting_rate_bpm = 200\n", "breathing.resting_rate_bpm", "a number in (2, 60)"),
    ("[calibration.chest]\nvertical = [0, 0, 1]\n", "calibration.chest.kind", "required"),
    ("", "calibration", "at least one"),
])
def test_bad_profile_names_the_key_the_value_and_what_was_expected(tmp_path, text, key,
                                                                    expected):
    p = tmp_path / "profile.toml"
    p.write_text('[profile]\nversion = 1\nrunner_id = "r"\ncalibrated_utc = "x"\n'
                 'source = "ble"\n' + text)
    with pytest.raises(ConfigError) as e:
        prof.load(p)
    assert key in str(e.value) and expected in str(e.value) and str(p) in str(e.value)


def test_bad_version_and_bad_toml(tmp_path):
    p = tmp_path / "profile.toml"
    p.write_text('[profile]\nversion = 9\nrunner_id = "r"\ncalibrated_utc = "x"\n'
                 'source = "ble"\n')
    with pytest.raises(ConfigError, match="profile.version"):
        prof.load(p)
    p.write_text("[profile\n")
    with pytest.raises(InputError, match="not valid TOML"):
        prof.load(p)


def test_default_path_and_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("BREATHFORM_HOME", str(tmp_path))
    assert prof.default_path() == tmp_path / "profile.toml"
    monkeypatch.delenv("BREATHFORM_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert prof.default_path() == tmp_path / "xdg" / "breathform" / "profile.toml"
    assert prof.resolve_path("a.toml", "b.toml") == Path("a.toml")
    assert prof.resolve_path(None, "b.toml") == Path("b.toml")
    assert prof.resolve_path(None, "") == prof.default_path()


def test_a_calibration_is_used_only_for_its_own_source_and_sensor_kinds():
    assert prof.usable_for(CAL, SENSORS, "ble") is None
    why = prof.usable_for(CAL, SENSORS, "sim:seed=1")
    assert why is not None and "'ble'" in why and "'sim:seed=1'" in why
    other = (SensorInfo("chest", "movesense", 104.0, 16.0, True),)
    why = prof.usable_for(CAL, other, "ble")
    assert why is not None and "polar_h10" in why and "movesense" in why


def test_describe_says_what_is_stored():
    text = CAL.describe()
    assert "chest and sacrum" in text and "13.5 bpm" in text and "forward axis" in text


def test_sessions_store_the_profile_path_without_the_account_name(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "jane"))
    path = prof.save(CAL, tmp_path / "jane" / ".config" / "breathform" / "profile.toml")
    c = prof.load(path)
    assert c is not None and c.path == "~/.config/breathform/profile.toml"
    assert "jane" not in c.describe() and "jane" not in str(c.to_record())
    assert prof.display_path(tmp_path / "elsewhere.toml") == str(tmp_path / "elsewhere.toml")


def test_mount_check_needs_a_still_stretch_and_gives_up_after_within_s():
    import numpy as np

    chk = prof.MountCheck("sacrum", (0.0, 0.0, 1.0), 50.0, within_s=60.0)
    t = np.arange(0, 130, 0.02)
    moving = np.column_stack((0.3 * np.sin(9 * t), np.zeros_like(t), np.ones_like(t)))
    assert all(chk.feed(t[i:i + 50], moving[i:i + 50]) is None for i in range(0, t.size, 50))
    assert chk.done
    # a still stretch at the stored angle passes; one 30 deg off is reported, once
    ok = prof.MountCheck("sacrum", (0.0, 0.0, 1.0), 50.0)
    assert ok.feed(t[:200], np.tile([0.0, 0.0, 1.0], (200, 1))) is None and ok.done
    off = prof.MountCheck("sacrum", (0.0, 0.0, 1.0), 50.0)
    tilt = np.tile([0.5, 0.0, 0.8660254], (200, 1))
    msg = off.feed(t[:200], tilt)
    assert msg is not None and "sits 30 deg" in msg
    assert off.feed(t[:200], tilt) is None
