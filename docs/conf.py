"""Sphinx configuration of the skinfluence documentation.

Build: ``make -C docs html`` (or ``sphinx-build -W --keep-going -b html docs docs/_build/html``).
The examples gallery is built from ``examples/plot_*.py``; they are executed only when
``SKINFLUENCE_DOCS_RUN_EXAMPLES=1`` is set (or ``-D plot_gallery=1`` is passed), so a plain
build takes well under a minute. The gallery's thumbnails are committed PNGs drawn by the
examples themselves (``images/gallery/``, named by each example's
``sphinx_gallery_thumbnail_path``; ``make thumbnails`` remakes them), so they show real
figures without running anything.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# the package is normally installed (``pip install -e ".[dev]"``); a source tree works too
if (ROOT / "skinfluence" / "__init__.py").is_file():
    sys.path.insert(0, str(ROOT))

import skinfluence  # noqa: E402

project = "skinfluence"
author = "the skinfluence developers"
copyright = "the skinfluence developers"  # noqa: A001 - Sphinx's name
release = skinfluence.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]

# -- API reference: autosummary over ``skinfluence.__all__`` ----------------------------
autosummary_generate = True
autosummary_ignore_module_all = False  # document exactly what ``__all__`` lists
autosummary_imported_members = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
numpydoc_show_class_members = False  # the class template lists the methods itself
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- Markdown pages (MyST) ------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- examples gallery ----------------------------------------------------------------------
_run_examples = os.environ.get("SKINFLUENCE_DOCS_RUN_EXAMPLES", "0") == "1"
plot_gallery = "True" if _run_examples else "False"  # ``-D plot_gallery=1`` overrides
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
    "write_computation_times": False,
}

# -- cross-references -----------------------------------------------------------------------
intersphinx_mapping = {}  # no network in CI: keep the build self-contained

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skinfluence {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []
# The guide pages have no sub-pages, so their "Section navigation" sidebar would be an
# empty column: drop it there (names without wildcards, so no page matches two
# patterns); the API reference and the gallery keep theirs.
html_sidebars = {page.stem: [] for page in DOCS.glob("*.md")} | {"index": []}
