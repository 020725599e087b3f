"""The driver's native heap: how much glibc malloc has handed out, and giving its free pages back.

glibc keeps memory freed by a program in its arenas (one per thread that allocated, up to 8 per
core) for reuse instead of returning it to the OS, so a process's RSS after a burst of threads
(a batch's scene threads) stays near its peak although nothing leaked. `release_free_heap()`
returns those free pages (`malloc_trim(0)`): a mitigation of the allocator's caching, not the
cure of any leak. Hand-rolled with ctypes because no maintained package exposes these two calls.
Both do nothing off glibc (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        libc.malloc_trim  # noqa: B018 - glibc only; checked here so both are there or neither
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def release_free_heap() -> bool:
    """Give glibc's free heap pages back to the OS; False where the C library is not glibc."""
    if _LIBC is None:
        return False
    _LIBC.malloc_trim(0)
    return True


def heap_in_use_mb() -> float | None:
    """Bytes glibc malloc has handed out (small blocks + mmapped ones) and Arrow's pool holds."""
    if _LIBC is None:
        return None
    info = _LIBC.mallinfo2()
    pyarrow = sys.modules.get("pyarrow")  # Arrow's own pool (jemalloc/mimalloc), if Arrow is in use
    arrow = pyarrow.total_allocated_bytes() if pyarrow is not None else 0
    return (info.uordblks + info.hblkhd + arrow) / 2**20
