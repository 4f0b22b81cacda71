"""Every decoder, fed mutated and random frames, raises only DecodeError (hypothesis fuzz).

The same targets and mutator as ``benchmarks/decoder_fuzz.py`` (a million frames); here a
few hundred per run, with warnings turned into errors by the suite's settings.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breathform.errors import DecodeError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import diy_profile, movesense, polar_h10, witmotion
from breathform.firmware_bridge.fuzz import mutate, targets
from breathform.model import RawPacket

TARGETS = {t.name: t for t in targets()}
CHARS = {"chest": (("polar_h10", 200.0, (polar_h10.PMD_DATA_UUID, polar_h10.PMD_CP_UUID,
                                          polar_h10.HR_MEASUREMENT_UUID)),),
         "sacrum": (("movesense", 104.0, (movesense.NOTIFY_UUID,)),
                    ("witmotion", 100.0, (witmotion.NOTIFY_UUID,)),
                    ("diy", 104.0, (diy_profile.DATA_UUID, diy_profile.CONFIG_UUID)))}


def test_the_seeds_are_valid_frames() -> None:
    for t in TARGETS.values():
        for s in t.seeds:
            t.decode(s)  # must not raise


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(max_examples=200)
@given(r=st.randoms(use_true_random=False), k=st.integers(0, 7))
def test_mutated_frames_raise_only_decode_error(name: str, r: random.Random, k: int) -> None:
    t = TARGETS[name]
    frame = mutate(r, t.seeds[k % len(t.seeds)])
    try:
        t.decode(frame)
    except DecodeError:
        pass


@given(payloads=st.lists(st.tuples(st.integers(0, 5), st.binary(max_size=120)), max_size=30),
       which=st.integers(0, 3))
def test_sensor_decoder_never_raises(payloads: list[tuple[int, bytes]], which: int) -> None:
    role = "chest" if which == 0 else "sacrum"
    kind, fs, chars = CHARS[role][0 if which == 0 else which - 1]
    dec = SensorDecoder(role, kind, fs)
    for k, (c, data) in enumerate(payloads):
        dec.feed(RawPacket(0.01 * k, role, chars[c % len(chars)], data))
    assert dec.n_packets == len(payloads)
