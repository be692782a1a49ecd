"""The documentation builds with warnings as errors (as in CI).

The build runs on a copy of ``docs/`` and ``examples/`` in a temporary folder, because
autosummary and sphinx-gallery write generated sources next to the pages; the examples
are not executed here (``plot_gallery=0``; ``tests/test_examples.py`` runs them).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# module imported by the build -> the distribution that provides it (all in the ``docs``
# and ``dev`` extras of pyproject.toml)
DOCS_REQUIREMENTS = {
    "sphinx": "sphinx",
    "numpydoc": "numpydoc",
    "myst_parser": "myst-parser",
    "sphinx_gallery": "sphinx-gallery",
    "pydata_sphinx_theme": "pydata-sphinx-theme",
    "matplotlib": "matplotlib",
}
GENERATED = ("_build", "api/generated", "auto_examples", "sg_execution_times.rst")


def _missing_requirements() -> list[str]:
    return [dist for mod, dist in DOCS_REQUIREMENTS.items() if not importlib.util.find_spec(mod)]


def _copy_sources(dest: Path) -> Path:
    docs = dest / "docs"
    shutil.copytree(
        ROOT / "docs",
        docs,
        ignore=lambda folder, names: [
            n for n in names if os.path.relpath(Path(folder, n), ROOT / "docs") in GENERATED
        ],
    )
    shutil.copytree(ROOT / "examples", dest / "examples")
    return docs


def test_docs_build_without_warnings(tmp_path):
    missing = _missing_requirements()
    if missing:
        pytest.fail(
            "building the docs needs "
            + ", ".join(missing)
            + ': install the docs extra, pip install -e ".[docs]" (it is part of ".[dev]")'
        )
    docs = _copy_sources(tmp_path)
    env = dict(os.environ)
    # the package of this checkout, whether or not (and wherever) it is installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("SKINFLUENCE_DOCS_RUN_EXAMPLES", None)
    env.setdefault("MPLBACKEND", "Agg")
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "-D",
        "plot_gallery=0",
        "-q",
        str(docs),
        str(tmp_path / "html"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, (
        f"sphinx-build failed (exit {proc.returncode}):\n"
        f"{proc.stderr[-8000:]}\n{proc.stdout[-2000:]}"
    )
    html = tmp_path / "html"
    # every public name has its API page, every example its gallery page
    import inspect

    import skinfluence

    for name in skinfluence.__all__:
        obj = getattr(skinfluence, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # __version__
        assert (html / "api" / "generated" / f"skinfluence.{name}.html").is_file(), name
    for example in sorted((ROOT / "examples").glob("plot_*.py")):
        assert (html / "auto_examples" / f"{example.stem}.html").is_file(), example.name
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert (html / f"{page.stem}.html").is_file(), page.name
