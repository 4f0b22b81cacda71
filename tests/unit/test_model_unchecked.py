"""The model's unchecked bulk constructors build what the checked constructors build."""

from __future__ import annotations

import numpy as np

from breathform.model import ImuBlock


def test_imu_block_unchecked_many_builds_what_the_constructor_builds() -> None:
    rng = np.random.default_rng(3)
    counts = [1, 8, 8, 3]
    t = [np.cumsum(rng.uniform(0.001, 0.01, n)) for n in counts]
    acc = [rng.normal(size=(n, 3)) for n in counts]
    gyr = [rng.normal(size=(n, 3)) if k % 2 else None for k, n in enumerate(counts)]
    seq = [0, 1, 12, 20]
    gap = [False, False, True, False]
    want = [ImuBlock("sacrum", 208.0, s, ti, a, g, gp)
            for s, ti, a, g, gp in zip(seq, t, acc, gyr, gap, strict=True)]
    got = ImuBlock.unchecked_many("sacrum", 208.0, seq, t, acc, gyr, gap)
    assert [type(b) for b in got] == [ImuBlock] * len(want)
    for g, w in zip(got, want, strict=True):
        assert (g.sensor, g.fs_hz, g.seq, g.gap) == (w.sensor, w.fs_hz, w.seq, w.gap)
        assert g.t_s is w.t_s and g.acc_g is w.acc_g and g.gyr_dps is w.gyr_dps
    assert repr(got) == repr(want)
    assert ImuBlock.unchecked_many("chest", 200.0, [], [], [], [], []) == []
