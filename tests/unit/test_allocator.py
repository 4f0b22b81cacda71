"""The allocator setting the command applies: per-batch arrays reuse heap memory."""

from __future__ import annotations

import subprocess
import sys

import pytest

from breathform.allocator import tune_for_batches

# In a fresh interpreter (the setting is process-wide and one-way): batches of arrays of
# 0.5-3 MB of varying sizes, each batch's freed at its end, as the DSP's are; prints the
# page faults of 40 batches after 10 of warm-up.
_CHILD = """
import resource, sys
import numpy as np
from breathform.allocator import tune_for_batches
if sys.argv[1] == "tuned":
    assert tune_for_batches()
rng = np.random.default_rng(0)
def batch():
    arrays = [np.ones(int(n)) for n in rng.integers(1 << 16, 3 << 17, size=4)]
    return sum(float(x[-1]) for x in arrays)
for _ in range(10):
    batch()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    batch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""


def _batch_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True,
                         check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_process_reuses_freed_batch_arrays_instead_of_faulting_in_new_pages():
    # default: blocks above glibc's (moving) mmap threshold are mapped afresh and the heap
    # top is trimmed, so most batches fault their pages in again (~60 000 here); tuned:
    # the freed blocks come back from the heap, already mapped
    default = _batch_faults("default")
    tuned = _batch_faults("tuned")
    assert default > 10_000
    assert tuned < default / 10


def test_tune_is_idempotent_and_says_whether_it_applied():
    first = tune_for_batches()
    assert tune_for_batches() is first
    assert first is sys.platform.startswith("linux")  # glibc here; nothing elsewhere


# In a fresh interpreter: batches of short-lived container objects as a replay batch makes
# them (packets, blocks and the lists that hold them), freed at the batch's end, plus a
# few reference cycles; prints the collector's passes over 40 batches and whether the
# cycles were collected in the end.
_GC_CHILD = """
import gc, sys, weakref
from breathform.allocator import tune_for_batches
if sys.argv[1] == "tuned":
    tune_for_batches()
class Node:
    pass
def batch():
    items = [[Node(), (i, i)] for i in range(4000)]
    return len(items)
passes0 = sum(g["collections"] for g in gc.get_stats())
for _ in range(40):
    batch()
passes = sum(g["collections"] for g in gc.get_stats()) - passes0
refs = []
for _ in range(30_000):
    a = Node(); b = Node(); a.b = b; b.a = a  # a cycle: only the collector frees it
    refs.append(weakref.ref(a))
print(passes, sum(r() is None for r in refs))
"""


def _gc_child(mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", _GC_CHILD, mode], capture_output=True,
                         text=True, check=True)
    passes, freed = out.stdout.split()
    return int(passes), int(freed)


def test_tuned_collector_stays_out_of_batches_and_still_frees_cycles():
    default_passes, _ = _gc_child("default")
    tuned_passes, tuned_freed = _gc_child("tuned")
    assert default_passes > 100  # a pass every 700 objects on balance
    assert tuned_passes == 0  # a batch's transient objects stay under the threshold
    # cycles accumulate past the threshold and are collected then
    assert tuned_freed > 10_000
