"""Every example in ``examples/`` runs to the end (headless, one thread).

Marked ``slow``: together they take about 1.5 minutes on one core (each under a minute).
Deselect them with ``-m "not slow"``. An example that imports torch or skorch is also
marked ``torch``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


def _needs_torch(script: Path) -> bool:
    return any(
        line.startswith(("import torch", "from torch", "import skorch", "from skorch"))
        for line in script.read_text().splitlines()
    )


def test_examples_found():
    assert len(EXAMPLES) >= 5, [p.name for p in EXAMPLES]


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    [
        pytest.param(p, id=p.stem, marks=[pytest.mark.torch] if _needs_torch(p) else [])
        for p in EXAMPLES
    ],
)
def test_example_runs(script, tmp_path):
    env = dict(os.environ)
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # the package of this checkout, whether or not (and wherever) it is installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,  # an example that writes files writes them here
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"{script.name} exited with {proc.returncode}:\n{proc.stderr[-6000:]}"
        + (
            '\n(the examples need the plot and skorch extras: pip install -e ".[dev]")'
            if "ModuleNotFoundError" in proc.stderr
            else ""
        )
    )
    assert proc.stdout.strip(), f"{script.name} printed nothing"
