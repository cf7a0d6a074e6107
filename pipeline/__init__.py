"""pipeline: the posemoe application (command line, video in, poses out). Depends on posemoe.

Importing it before torch sets ``OMP_WAIT_POLICY=PASSIVE`` (unless already set): torch's OpenMP
threads then sleep while they wait instead of spinning. On a 2-core machine that lets lifting use
both cores (1.7x the frames/s of one thread when idle) without collapsing when other work wants
the CPU (spinning threads fell to 0.3x of one thread; sleeping ones stay at 1.0x).

On Linux with glibc, importing it also keeps freed blocks of up to 64 MB in the process's heap
(``mallopt``: mmap threshold 64 MB, trim threshold 256 MB) unless the environment already tunes
glibc's allocator (``GLIBC_TUNABLES``, ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``).
Video frames and the lifter's activations are blocks of several to tens of megabytes, made and
freed for every frame or window; by default glibc hands blocks over 32 MB straight back to the
kernel, which must then map and zero fresh pages for the next one. Measured on 2 cores: the
lifter (`pipeline.bench.bench_lifter`, 1,000 frames, one thread, 4 runs) took 2-7x fewer page
faults and ran at 207-235 frames/s against 156-219; a whole `posemoe video two_people.mp4` spent
1.2 instead of 1.5 s in the kernel (3 runs each; its wall time, 5.9 against 6.1 s, moved less than
runs vary); peak memory 1-2 % higher.
"""

import os as _os
import sys as _sys

if "torch" not in _sys.modules:
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

MMAP_THRESHOLD = 64 << 20  # bytes: larger blocks still get their own mapping
TRIM_THRESHOLD = 256 << 20  # bytes of free heap kept before any is returned to the kernel


def _keep_freed_blocks() -> bool:
    """Apply the allocator settings above; False where not applicable (not glibc, or tuned by the user)."""
    if not _sys.platform.startswith("linux") or any(
            k in _os.environ for k in ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD))


ALLOCATOR_TUNED = _keep_freed_blocks()
