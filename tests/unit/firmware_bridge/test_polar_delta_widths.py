"""Delta-compressed PMD frames: every bit width 1-32, any channel count, several blocks.

The frames are packed here by an independent, deliberately plain bit writer (pure Python,
LSB-first bitstream, as SENSORS.md describes), not by the project's encoder, so the decoder
is checked against the format rather than against its own inverse.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from breathform.firmware_bridge.devices import polar_h10 as P


def _bitstream(values: list[int], width: int) -> bytes:
    acc, nbits, out = 0, 0, bytearray()
    for v in values:
        acc |= (v & ((1 << width) - 1)) << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def _frame(ref: list[int], blocks: list[tuple[int, list[list[int]]]], ts_ns: int,
           ftype: int) -> bytes:
    out = bytearray([0x02]) + ts_ns.to_bytes(8, "little") + bytes([ftype])
    for r in ref:  # resolution 32 bits -> 4 bytes per channel, little endian
        out += (r & 0xFFFFFFFF).to_bytes(4, "little")
    for width, deltas in blocks:
        flat = [d for sample in deltas for d in sample]  # sample-major, then channel
        out += bytes([width, len(deltas)]) + _bitstream(flat, width)
    return bytes(out)


@pytest.mark.parametrize("width", range(1, 33))
@settings(max_examples=8, deadline=None)
@given(data=st.data(), channels=st.integers(1, 4), ftype=st.sampled_from([0x80, 0x81]))
def test_every_width_any_channels_several_blocks(width: int, channels: int, ftype: int,
                                                 data: st.DataObject) -> None:
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    delta = st.integers(lo, hi)
    ref = data.draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=channels,
                             max_size=channels))
    n_blocks = data.draw(st.integers(1, 3))
    blocks: list[tuple[int, list[list[int]]]] = []
    for b in range(n_blocks):
        n = data.draw(st.integers(1, 12))
        rows = data.draw(st.lists(st.lists(delta, min_size=channels, max_size=channels),
                                  min_size=n, max_size=n))
        if b == 0:  # the extremes of the width always appear once
            rows[0] = [lo if c % 2 == 0 else hi for c in range(channels)]
        blocks.append((width, rows))
    f = P.decode_pmd_frame(_frame(ref, blocks, 10**15, ftype), resolution_bits=32,
                           channels=channels)
    all_d = np.array([r for _, rows in blocks for r in rows], dtype=np.int64)
    expect = np.vstack([np.array(ref, dtype=np.int64)[None, :],
                        np.array(ref, dtype=np.int64) + np.cumsum(all_d, axis=0)])
    assert f.frame_type == ftype
    assert f.samples.shape == (1 + all_d.shape[0], channels)
    assert_array_equal(f.samples, expect)


def test_blocks_of_different_widths_chain() -> None:
    ref = [100, -100, 7]
    blocks = [(1, [[0, -1, 0], [-1, 0, -1]]), (32, [[2**31 - 1, -(2**31), 5]]),
              (13, [[4095, -4096, 0]])]
    f = P.decode_pmd_frame(_frame(ref, blocks, 1, 0x80), resolution_bits=32)
    expect = np.array(ref) + np.cumsum([[0, 0, 0], [0, -1, 0], [-1, 0, -1],
                                        [2**31 - 1, -(2**31), 5], [4095, -4096, 0]], axis=0)
    assert_array_equal(f.samples, expect)
