"""Row blocks of in-memory and dask arrays, and sums over them that run where the data is.

The adapters reduce over their training rows (the Hessian, its products and diagonal,
a regressor's noise level) with :func:`row_sum`: in-memory rows (numpy arrays, CSR
matrices) in blocks of a bounded number of rows, taken as views; a dask array block
by block on its scheduler (a ``dask.distributed`` cluster when a client is active),
the partial sums added pairwise there, so that only the result travels. dask is
imported only when a dask array is passed.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

__all__ = ["as_rows", "dask_row_blocks", "is_dask_array", "row_blocks", "row_sum"]


def is_dask_array(X) -> bool:
    """Whether ``X`` is a dask array (checked without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "to_delayed")


def as_rows(X):
    """``X`` in the layout the row computations take: float64 CSR or float64 ndarray.

    A sparse matrix of another format (CSC, COO, ...) is converted to CSR once, with
    duplicate entries summed; a CSR matrix in canonical form is kept as is. Dask
    arrays are returned unchanged. The caller's object is never modified.
    """
    if is_dask_array(X):
        return X
    if sp.issparse(X):
        X = X.tocsr() if X.format != "csr" else X
        if X.dtype != np.float64:
            X = X.astype(np.float64)
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        return X
    return np.asarray(X, dtype=np.float64)


def _csr_view(X: sp.csr_matrix, start: int, stop: int) -> sp.csr_matrix:
    """Rows ``start:stop`` of a CSR matrix sharing its data and index arrays."""
    a, b = X.indptr[start], X.indptr[stop]
    view = sp.csr_matrix(
        (X.data[a:b], X.indices[a:b], X.indptr[start : stop + 1] - a),
        shape=(stop - start, X.shape[1]),
        copy=False,
    )
    view.has_canonical_format = True
    return view


def row_blocks(X, size: int) -> Iterator[tuple[slice, object]]:
    """Yield ``(rows, X[rows])`` over blocks of ``size`` rows (views where possible)."""
    n = X.shape[0]
    csr = sp.issparse(X) and X.format == "csr"
    for start in range(0, n, max(int(size), 1)):
        stop = min(start + size, n)
        yield slice(start, stop), (_csr_view(X, start, stop) if csr else X[start:stop])


def _take(a, rows):
    return None if a is None else a[rows]


def row_sum(fn, X, *aligned, size: int, remote=None):
    """``Σ_blocks fn(X_block, *aligned_blocks)``.

    Parameters
    ----------
    fn : callable
        ``fn(X_block, *blocks) -> ndarray`` (or a tuple of them), the same shape for
        every block.
    X : {ndarray, sparse matrix, dask array} of shape (n, p)
        Rows.
    *aligned : ndarray, dask array or None
        Arrays of ``n`` rows cut like ``X`` (``None`` is passed as ``None``).
    size : int
        Rows per block for in-memory ``X``; ``fn`` also gets blocks of at most this
        many rows from a dask array (each dask chunk is cut again).
    remote : callable, default=None
        The function to run on the dask workers when ``X`` is a dask array
        (``fn`` of an object without the training rows, so that the rows do not
        travel with every task); ``None``: ``fn`` itself.

    Returns
    -------
    ndarray (or tuple of ndarrays)
    """
    if is_dask_array(X):
        return _dask_row_sum(remote or fn, X, aligned, size)
    total = None
    for rows, block in row_blocks(X, size):
        part = fn(block, *(_take(a, rows) for a in aligned))
        total = part if total is None else _add(total, part)
    return total


def _add(a, b):
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b))
    if np.isscalar(a) or np.ndim(a) == 0:
        return a + b
    a += b
    return a


def _blockwise(fn, X, *aligned, size):
    """``row_sum`` of one in-memory block (run on a dask worker)."""
    X = as_rows(np.asarray(X) if not sp.issparse(X) else X)
    return row_sum(fn, X, *aligned, size=size)


def dask_row_blocks(X, *aligned):
    """The delayed row blocks of a dask array and of the arrays aligned with it.

    ``X`` is rechunked to one block of columns; a dask ``aligned`` array to ``X``'s
    row chunks, a numpy one is sliced at the same offsets, ``None`` stays ``None``.

    Returns
    -------
    blocks : list of Delayed
    aligned_blocks : list of list
        One list per aligned array, of delayed blocks, slices or ``None``.
    offsets : ndarray of int
        Row offsets of the blocks (``len(blocks) + 1`` entries).
    """
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "the dask array has unknown chunk sizes; call X.compute_chunk_sizes() first."
        )
    if X.ndim == 2 and X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    blocks = list(X.to_delayed().ravel())
    offsets = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(int)
    aligned_blocks = []
    for a in aligned:
        if a is None:
            aligned_blocks.append([None] * len(blocks))
        elif is_dask_array(a):
            aligned_blocks.append(list(a.rechunk((X.chunks[0],)).to_delayed().ravel()))
        else:
            a = np.asarray(a)
            aligned_blocks.append([a[offsets[i] : offsets[i + 1]] for i in range(len(blocks))])
    return blocks, aligned_blocks, offsets


def _dask_row_sum(fn, X, aligned, size):
    import dask

    blocks, aligned_blocks, _ = dask_row_blocks(X, *aligned)
    task = dask.delayed(_blockwise, pure=True)
    fn = dask.delayed(fn, pure=True)  # one key: shipped once to each worker
    parts = [
        task(fn, block, *(ab[i] for ab in aligned_blocks), size=size)
        for i, block in enumerate(blocks)
    ]
    add = dask.delayed(_sum_pair, pure=True)
    while len(parts) > 1:  # pairwise on the workers: only the total comes back
        parts = [
            add(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0].compute()


def _sum_pair(a, b):
    if isinstance(a, tuple):
        return tuple(map(operator.add, a, b))
    return a + b
