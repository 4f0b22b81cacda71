"""Regrid: the one-pass path for blocks that only ever miss samples (short gaps filled,
long gaps reset, in any chunking) equals the general per-block path bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_regrid_runs import assert_same_samples

from breathform.model import ImuBlock
from breathform.signal import regrid

FS = 50.0
MAX_FILL_S = 0.2  # gaps of up to 10 samples are filled

# samples missing before a block: none (mostly), filled, the longest filled, the shortest
# reset, long
_GAP = st.sampled_from([0, 0, 0, 0, 1, 3, 10, 11, 200])


@st.composite
def _stream(draw: st.DrawFn) -> tuple[list[ImuBlock], list[int], bool]:
    has_gyro = draw(st.booleans())
    sizes = draw(st.lists(st.integers(1, 9), min_size=1, max_size=40))
    gaps = draw(st.lists(_GAP, min_size=len(sizes), max_size=len(sizes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    seq = draw(st.integers(0, 10_000))
    blocks = []
    for n, gap in zip(sizes, gaps, strict=True):
        seq += gap
        t = (seq + np.arange(n)) / FS + 0.003
        gyr = rng.normal(0, 50, (n, 3)) if has_gyro else None
        blocks.append(ImuBlock("sacrum", FS, seq, t, rng.normal(0, 1, (n, 3)), gyr))
        seq += n
    cuts = sorted(draw(st.lists(st.integers(1, len(blocks)), max_size=6)))
    return blocks, cuts, has_gyro


@settings(max_examples=300, deadline=None)
@given(_stream())
def test_ordered_equals_general(case: tuple[list[ImuBlock], list[int], bool]) -> None:
    blocks, cuts, has_gyro = case
    p = regrid.RegridParams(FS, has_gyro=has_gyro, max_fill_s=MAX_FILL_S)
    s_ref = s_got = regrid.init_state(p)
    for a, b in zip([0, *cuts], [*cuts, len(blocks)], strict=True):
        chunk = blocks[a:b]
        want, s_ref = regrid._step_general(p, s_ref, chunk)
        fast = regrid._step_ordered(p, s_got, chunk)
        assert (fast is None) == (not chunk)  # the fast path takes every such call
        got, s_got = regrid.step(p, s_got, chunk)
        assert_same_samples(want, got)
        assert repr(s_ref) == repr(s_got)


def test_ordered_declines_repeats_and_time_disorder() -> None:
    """Repeated samples, a missing gyroscope, empty blocks or time going backwards: the
    general path decides."""
    p = regrid.RegridParams(FS, has_gyro=True)
    s = regrid.init_state(p)

    def blk(seq: int, n: int, t0: float | None = None, gyro: bool = True) -> ImuBlock:
        t = (seq + np.arange(n)) / FS if t0 is None else t0 + np.arange(n) / FS
        return ImuBlock("sacrum", FS, seq, t, np.ones((n, 3)), np.ones((n, 3)) if gyro else None)

    assert regrid._step_ordered(p, s, [blk(0, 4), blk(4, 4)]) is not None
    assert regrid._step_ordered(p, s, [blk(0, 4), blk(2, 4)]) is None  # overlap
    assert regrid._step_ordered(p, s, [blk(0, 4), blk(4, 4, gyro=False)]) is None
    assert regrid._step_ordered(p, s, [blk(0, 4), blk(4, 0)]) is None
    assert regrid._step_ordered(p, s, [blk(0, 4), blk(6, 4, t0=0.0)]) is None  # time back
    _, s1 = regrid.step(p, s, [blk(0, 4)])
    assert regrid._step_ordered(p, s1, [blk(2, 4)]) is None  # repeats the state's samples
    assert regrid._step_ordered(p, s1, [blk(4, 4, t0=0.0)]) is None
