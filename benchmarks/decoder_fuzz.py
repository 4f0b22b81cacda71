"""Throw random and mutated frames at every sensor decoder; report speed and what they raised.

For each decoder (Polar H10 PMD data, Heart Rate Measurement, PMD control point, Movesense,
WitMotion, DIY profile data and config) it decodes an equal share of ``--frames`` frames:
valid frames from the device encoders, mutated (bit flips, cuts, insertions, new header
bytes) or replaced by noise. Then the same frames go through SensorDecoder.feed, which must
never raise at all. Prints frames/s and the count of each outcome; exits 1 if anything but
DecodeError (the project's own error) was raised.

    .venv/bin/python benchmarks/decoder_fuzz.py [--frames 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter

from breathform.errors import DecodeError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import diy_profile, movesense, polar_h10, witmotion
from breathform.firmware_bridge.fuzz import mutate, targets
from breathform.model import RawPacket

FEED_CHARS = {
    "polar_pmd": ("chest", "polar_h10", 200.0, polar_h10.PMD_DATA_UUID),
    "polar_hr": ("chest", "polar_h10", 200.0, polar_h10.HR_MEASUREMENT_UUID),
    "polar_cp": ("chest", "polar_h10", 200.0, polar_h10.PMD_CP_UUID),
    "movesense": ("sacrum", "movesense", 104.0, movesense.NOTIFY_UUID),
    "witmotion": ("sacrum", "witmotion", 100.0, witmotion.NOTIFY_UUID),
    "diy_data": ("sacrum", "diy", 104.0, diy_profile.DATA_UUID),
    "diy_config": ("sacrum", "diy", 104.0, diy_profile.CONFIG_UUID),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1_000_000, help="frames in all")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    tg = targets(args.seed)
    per = -(-args.frames // len(tg))  # at least --frames in all
    bad = 0
    total_n, total_s = 0, 0.0
    print(f"{per} frames per decoder, seed {args.seed}")
    print(f"{'decoder':<11} {'frames/s':>10} {'decoded':>9} {'DecodeError':>11} {'other':>6}"
          f" {'feed frames/s':>13} {'feed raised':>11}")
    for t in tg:
        frames = []
        for i in range(per):
            s = t.seeds[i % len(t.seeds)]
            frames.append(s if i % 50 == 0 else mutate(rnd, s))
        outcome: Counter[str] = Counter()
        others: list[str] = []
        t0 = time.perf_counter()
        for f in frames:
            try:
                t.decode(f)
                outcome["ok"] += 1
            except DecodeError:
                outcome["decode_error"] += 1
            except Exception as exc:  # noqa: BLE001  what this script is looking for
                outcome["other"] += 1
                if len(others) < 5:
                    others.append(f"{type(exc).__name__}: {exc} <- {f.hex()}")
        dt = time.perf_counter() - t0
        role, kind, fs, char = FEED_CHARS[t.name]
        dec = SensorDecoder(role, kind, fs)
        raised = 0
        t1 = time.perf_counter()
        for k, f in enumerate(frames):
            try:
                dec.feed(RawPacket(k * 0.01, role, char, f))
            except Exception as exc:  # noqa: BLE001
                raised += 1
                if len(others) < 10:
                    others.append(f"feed {type(exc).__name__}: {exc} <- {f.hex()}")
        dt_feed = time.perf_counter() - t1
        total_n += per
        total_s += dt
        bad += outcome["other"] + raised
        print(f"{t.name:<11} {per / dt:>10,.0f} {outcome['ok']:>9} {outcome['decode_error']:>11}"
              f" {outcome['other']:>6} {per / dt_feed:>13,.0f} {raised:>11}")
        for o in others:
            print(f"    {o}")
    print(f"all decoders: {total_n} frames in {total_s:.1f} s = {total_n / total_s:,.0f} "
          f"frames/s; raised other than DecodeError: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
