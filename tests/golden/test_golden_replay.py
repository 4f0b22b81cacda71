"""Golden replays: stored raw packets through the replay path give the stored results.

A change in decoders, DSP or alert rules that moves any number fails here. If the change
is intended, run `scripts/regen_golden.py` and review the diff of the expected files.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from breathform.errors import InputError
from breathform.firmware_bridge.rawfile import read_raw, write_raw

HERE = Path(__file__).parent
CASES = sorted(p.stem for p in (HERE / "inputs").glob("*.bin"))
_spec = importlib.util.spec_from_file_location(
    "regen_golden", HERE.parents[1] / "scripts" / "regen_golden.py")
assert _spec and _spec.loader
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)


def test_there_are_golden_cases():
    assert CASES


@pytest.mark.parametrize("name", CASES)
def test_golden_replay(name):
    got = regen.replay(HERE / "inputs" / f"{name}.bin")
    want = dict(np.load(HERE / "expected" / f"{name}.npz"))
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert want["alert_t_s"].size >= 1, "the golden case should exercise an alert"


def test_raw_file_round_trip_and_errors(tmp_path):
    sensors, packets = read_raw(HERE / "inputs" / f"{CASES[0]}.bin")
    out = tmp_path / "x.bin"
    assert write_raw(out, sensors, packets[:100]) == 100
    s2, p2 = read_raw(out)
    assert s2 == sensors and p2 == packets[:100]
    out.write_bytes(out.read_bytes()[:-3])
    with pytest.raises(InputError, match="truncated"):
        read_raw(out)
    out.write_bytes(b"hello")
    with pytest.raises(InputError, match="not a breathform raw packet file"):
        read_raw(out)
