"""Run every example once and write its gallery thumbnail to ``docs/images/gallery/``.

The documentation is built without running the examples (``make -C docs html``; the
tests build it that way too), so sphinx-gallery would show a placeholder for each. Each
example names its committed thumbnail instead (``# sphinx_gallery_thumbnail_path =
"images/gallery/plot_NAME.png"``); this script makes them from the figure the example
draws. Rerun it when an example's figure changes::

    python docs/tools/gallery_thumbnails.py              # every example
    python docs/tools/gallery_thumbnails.py plot_skorch_mlp

Thumbnails are at most 400 × 280 pixels (sphinx-gallery's size), with a 128-colour
palette, so that each stays a few tens of kilobytes.
"""

from __future__ import annotations

import io
import os
import runpy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images" / "gallery"
SIZE = (400, 280)


def _first_figure(script: Path):
    """Run ``script`` headless; return the first figure it shows, as a PIL image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    shown = []

    def show(*args, **kwargs):
        for number in plt.get_fignums():
            buffer = io.BytesIO()
            plt.figure(number).savefig(buffer, format="png", dpi=100, bbox_inches="tight")
            shown.append(Image.open(buffer).convert("RGB"))
        plt.close("all")

    plt.show = show
    runpy.run_path(str(script), run_name="__main__")
    show()
    if not shown:
        raise RuntimeError(f"{script.name} drew no figure")
    return shown[0]


def thumbnail(image):
    """``image`` scaled to fit :data:`SIZE`, centred on white, as a palette PNG's bytes."""
    from PIL import Image

    scale = min(SIZE[0] / image.width, SIZE[1] / image.height, 1.0)
    small = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    canvas = Image.new("RGB", SIZE, "white")
    canvas.paste(small, ((SIZE[0] - small.width) // 2, (SIZE[1] - small.height) // 2))
    buffer = io.BytesIO()
    canvas.quantize(colors=128, dither=Image.Dither.NONE).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def main(names) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(ROOT))  # the package of this checkout
    scripts = sorted((ROOT / "examples").glob("plot_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem in set(names)]
    OUT.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        start = time.perf_counter()
        data = thumbnail(_first_figure(script))
        (OUT / f"{script.stem}.png").write_bytes(data)
        seconds = time.perf_counter() - start
        print(f"{script.stem}: {len(data) // 1024} KiB in {seconds:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
