"""Keep freed memory for reuse instead of returning it to the kernel.

Decoding allocates and frees buffers of a few MB for every chunk. glibc serves blocks that
large with fresh mmap()s, and mimalloc (Arrow's default pool) returns them eagerly, so
every chunk paid ~1,000 page faults per MB on first touch: a third of a worker's time
went to the kernel. Raising glibc's mmap and trim thresholds and using the system pool
for Arrow makes the process recycle its own heap; memory stays bounded by the largest
chunk in flight. Linux/glibc only: elsewhere this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow as pa

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 30  # glibc's maximum for the mmap threshold on 64-bit is 32 MiB


def reuse_freed_memory() -> bool:
    """Tune this process's allocators (call before the work starts); True if applied."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(
            _M_TRIM_THRESHOLD, _THRESHOLD
        )
    except (OSError, AttributeError):
        return False
    if ok:
        pa.set_memory_pool(pa.system_memory_pool())
    return bool(ok)
