"""Give freed upload and image buffers back to the operating system (glibc only; elsewhere nothing changes).

glibc serves a large allocation from its heap once a freed one of that size raised its dynamic mmap
threshold (up to 32 MB): megabyte-sized uploads and decoded images then stay in the process after use, and
each worker thread's arena keeps its own. A fixed threshold keeps every buffer over it in its own mapping,
returned on free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger("bonefrac.serve")
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 1024 * 1024


def return_large_buffers_to_the_os(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes; False when the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, threshold))
    logger.debug("malloc mmap threshold fixed at %d bytes: %s", threshold, done)
    return done
