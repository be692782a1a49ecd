"""Row chunking for bounded memory."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["iter_chunks"]


def iter_chunks(n: int, size: int) -> Iterator[slice]:
    """Yield ``slice`` objects covering ``range(n)`` in blocks of ``size`` rows."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))
