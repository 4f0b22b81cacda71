"""Process-wide memory settings for the long-running commands (run, replay, analyze).

The DSP allocates arrays of a few hundred kB to a few MB for every batch and frees them
at the end of it. glibc serves blocks above its mmap threshold (128 kB at start, raised
only as far as the largest block freed so far) with fresh ``mmap`` pages and returns them
with ``munmap``: every batch then pays a page fault per 4 kB touched (~100 000 an hour of
replay) and the kernel zeroes each page. Fixing the threshold above the batch arrays'
sizes keeps them on the heap, where the next batch reuses the same memory.

Python's cycle collector, at its default threshold, scans the young objects every 700
container objects allocated on balance. A replay batch makes a few thousand short-lived
ones at a time (packets, blocks, the lists that hold them), so the collector ran ~580
times an hour of replay (one pass in ten going on into the middle generation, one in a
hundred over every object the imports left), for garbage that reference counting frees
anyway (the DSP makes no cycles). A threshold above a batch's transient objects lets it
run only when objects really accumulate.

Only the command-line entry point calls :func:`tune_for_batches` (a library import never
changes process-wide settings); the allocator part does nothing where the C library is
not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc

MMAP_THRESHOLD_BYTES = 32 << 20
"""Blocks up to this size come from the heap (glibc's own ceiling for its dynamic
threshold on 64-bit systems; one batch's largest arrays are a few MB)."""

TRIM_THRESHOLD_BYTES = 16 << 20
"""Free memory kept at the top of the heap before it is returned to the system: more than
one replay batch's arrays (a few MB), and a bound on what the setting adds to resident
memory (the 6-hour replay's peak stays where it was: benchmarks/memory_replay.py)."""

GC_YOUNG_THRESHOLD = 20_000
"""Container objects allocated on balance before the cycle collector scans the young
ones (Python's default: 700). Over a 1-h replay: ~580 passes at 700, none at 20 000
(benchmarks/replay_speed.py prints them per replay)."""

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3


@functools.cache
def tune_for_batches() -> bool:
    """Keep per-batch arrays on the heap (glibc) and the cycle collector out of each batch.

    Idempotent: the settings are applied once per process.

    Returns:
        True if the allocator settings were applied; False where there is no glibc
        ``mallopt`` (musl, macOS, Windows), which changes nothing but speed. The
        collector's threshold is set everywhere.
    """
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - glibc's own: the numbers below are glibc's
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok_mmap: int = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    ok_trim: int = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return ok_mmap == 1 and ok_trim == 1
