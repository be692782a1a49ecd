"""Shared utilities (the bottom layer)."""

from ._chunks import iter_chunks
from ._validation import (
    check_target,
    check_two_classes,
    check_validation_set,
    check_xy,
    n_to_drop,
)

__all__ = [
    "check_target",
    "check_two_classes",
    "iter_chunks",
    "check_validation_set",
    "check_xy",
    "n_to_drop",
]
