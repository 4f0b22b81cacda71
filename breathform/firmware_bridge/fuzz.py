"""Every sensor decoder with valid example frames and a frame mutator, for fuzzing.

Used by ``benchmarks/decoder_fuzz.py`` (a million frames) and the hypothesis fuzz tests:
whatever bytes arrive, a decoder returns or raises :class:`~breathform.errors.DecodeError`,
nothing else.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from breathform.firmware_bridge.devices import diy_profile, movesense, polar_h10, witmotion


@dataclass(frozen=True, slots=True)
class FuzzTarget:
    """One decoder under fuzz.

    Attributes:
        name: Short name for reports.
        decode: Takes the bytes of one notification (or value read).
        seeds: Valid frames that mutations start from.
    """

    name: str
    decode: Callable[[bytes], object]
    seeds: tuple[bytes, ...]


def _movesense(data: bytes) -> object:
    note = movesense.decode_notification(data)
    if isinstance(note, movesense.MovesenseData) and not note.continuation:
        return movesense.decode_imu6(note.payload)
    return note


def _witmotion(data: bytes) -> object:
    r = witmotion.Reassembler()
    return witmotion.decode_packets(r.feed(data))


def _pmd_cp(data: bytes) -> object:
    msg = polar_h10.parse_cp_response(data)
    if isinstance(msg, polar_h10.CpResponse):
        return polar_h10.parse_settings(msg.params)
    return msg


def targets(seed: int = 0) -> tuple[FuzzTarget, ...]:
    """The decoders, each with a few valid frames built by the device encoders."""
    rng = np.random.default_rng(seed)
    mg = rng.integers(-8000, 8000, (36, 3))
    acc = rng.uniform(-15, 15, (8, 3))
    gyr = rng.uniform(-1500, 1500, (8, 3))
    i16 = rng.integers(-32768, 32767, (19, 3)).astype(np.int16)
    return (
        FuzzTarget("polar_pmd", polar_h10.decode_pmd_frame, (
            polar_h10.encode_acc_frame(7 * 10**17, mg),
            polar_h10.encode_acc_frame(7 * 10**17, mg[:5], frame_type=polar_h10.FRAME_INT24),
            polar_h10.encode_delta_acc_frame(7 * 10**17, mg[:20] // 50,
                                             block_lengths=[7, 12]))),
        FuzzTarget("polar_hr", polar_h10.decode_hr_measurement, (
            polar_h10.encode_hr_measurement(polar_h10.HrMeasurement(150, (700, 702))),
            bytes.fromhex("1100 00FF FF7F 80".replace(" ", "")))),
        FuzzTarget("polar_cp", _pmd_cp, (
            bytes.fromhex("F00102000000041900320064" "00C800010110000203020004000800"),
            bytes.fromhex("F0020200000501" "0000803F"), bytes.fromhex("0102"))),
        FuzzTarget("movesense", _movesense, (
            movesense.encode_imu6_data(99, 123456, acc, gyr),
            movesense.encode_result(99, 200))),
        FuzzTarget("witmotion", _witmotion, (
            witmotion.encode_packets(acc / 2, gyr),
            witmotion.encode_packets(acc[:1] / 2, gyr[:1])[7:] + witmotion.encode_packets(
                acc[:2] / 2, gyr[:2]))),
        FuzzTarget("diy_data", diy_profile.decode_data, (
            diy_profile.encode_data(65535, 2**32 - 1, i16, i16, acc_code=2),
            diy_profile.encode_data(3, 1000, i16[:5], None, acc_code=3))),
        FuzzTarget("diy_config", diy_profile.decode_config, (
            diy_profile.encode_config(diy_profile.DiyConfig(rate_hz=104, acc_range_g=8.0)),)),
    )


def mutate(rnd: random.Random, seed: bytes) -> bytes:
    """A random variation of a valid frame: flips, cuts, insertions, new headers or noise."""
    b = bytearray(seed)
    kind = rnd.randrange(7)
    if kind == 0:  # pure noise of a similar length
        return rnd.randbytes(rnd.randrange(0, len(seed) + 8))
    if kind == 1 and b:  # truncate
        return bytes(b[:rnd.randrange(len(b))])
    if kind == 2:  # extend
        return bytes(b) + rnd.randbytes(rnd.randrange(1, 12))
    for _ in range(rnd.randrange(1, 6)):
        if not b:
            break
        i = rnd.randrange(len(b))
        op = kind if kind >= 3 else rnd.randrange(3, 7)
        if op == 3:  # flip a bit
            b[i] ^= 1 << rnd.randrange(8)
        elif op == 4:  # replace a byte (headers: types, counts, widths)
            b[min(i, rnd.randrange(12))] = rnd.randrange(256)
        elif op == 5:  # delete a byte
            del b[i]
        else:  # insert a byte
            b.insert(i, rnd.randrange(256))
    return bytes(b)
