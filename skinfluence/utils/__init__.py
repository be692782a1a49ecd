"""Shared utilities (the bottom layer)."""

from ._chunks import iter_chunks
from ._rows import as_rows, dask_row_blocks, is_dask_array, row_blocks, row_sum
from ._validation import (
    check_dask_xy,
    check_target,
    check_two_classes,
    check_validation_set,
    check_xy,
    n_to_drop,
)

__all__ = [
    "as_rows",
    "check_dask_xy",
    "check_target",
    "check_two_classes",
    "check_validation_set",
    "check_xy",
    "dask_row_blocks",
    "is_dask_array",
    "iter_chunks",
    "n_to_drop",
    "row_blocks",
    "row_sum",
]
