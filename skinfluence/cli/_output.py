"""Where the commands write, and what they print about the input."""

from __future__ import annotations

from pathlib import Path

from ._input import InputError, Table

__all__ = ["check_outputs", "output_path", "print_notes", "summary_line", "write_csv"]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".bz2", ".xz", ".zip", ".zst"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".csv")


def output_path(path: Path, given: str | None, kind: str) -> Path:
    """The path of an output file: ``given``, or ``<input stem>.<kind>.csv`` beside it."""
    out = Path(given) if given else path.with_name(f"{_stem(path)}.{kind}.csv")
    return out


def check_outputs(source: Path, outputs: dict[str, Path]) -> None:
    """Refuse outputs that would overwrite the input or each other."""
    seen: dict[Path, str] = {}
    src = source.resolve()
    for option, out in outputs.items():
        target = out.resolve()
        if target == src or (out.exists() and src.exists() and out.samefile(src)):
            raise InputError(
                f"{option} {out} is the input file; skinfluence never overwrites its "
                "input. Choose another path."
            )
        if target in seen:
            raise InputError(f"{option} and {seen[target]} are the same file {out}.")
        if out.is_dir():
            raise InputError(f"{option} {out} is a directory; pass a file path.")
        if not out.parent.exists():
            raise InputError(f"{option} {out}: the folder {out.parent} does not exist.")
        seen[target] = option


def write_csv(frame, path: Path) -> None:
    """``frame.to_csv(path)`` without the index; a failure is an :class:`InputError`."""
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def summary_line(table: Table) -> str:
    """The first line every command prints: rows, columns, target rows, task."""
    n_lab = int(table.has_target.sum())
    kind = (
        f"classification, {len(table.classes)} classes"
        if table.task == "classification"
        else "regression"
    )
    return (
        f"read {len(table.raw)} rows x {table.X.shape[1]} feature columns from "
        f"{table.path.name}; {n_lab} with a target ({kind})"
    )


def print_notes(table: Table) -> None:
    """The notes of the reading (columns left out of the features), one line each."""
    for note in table.notes:
        print(f"note: {note}")
