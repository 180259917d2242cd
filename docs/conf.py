"""Sphinx configuration of the pl_toolkit documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``;
the tutorials' code runs during the build (matplotlib's plot directive and
the ``runblock`` directive of ``_ext/runblock.py``, which shows what the code
prints), so a broken example fails the build.  The API pages under
``generated/`` are written by autosummary at every build and are not kept in
version control.  Math is rendered by MathJax served from the built site
(``_ext/offline_mathjax.py``), so the pages read the same offline.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import pl_toolkit  # noqa: E402

project = "pl_toolkit"
author = "pl_toolkit developers"
copyright = "2026, pl_toolkit developers"
version = release = pl_toolkit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    "sphinxarg.ext",
    "offline_mathjax",
    "runblock",
]

autosummary_generate = True
autodoc_default_options = {}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 90)]
plot_rcparams = {"figure.figsize": (6.0, 3.6)}

doctest_global_setup = "import numpy as np\nimport pl_toolkit as pl\n"

templates_path = ["_ext/templates"]
exclude_patterns = ["_build", "generated/*.tmp"]
html_theme = "alabaster"
html_static_path = []
nitpicky = True
# Objects of other libraries named in docstrings: the build is offline, so
# there is no intersphinx inventory to resolve them against.
nitpick_ignore = [
    ("py:class", "numpy.ndarray"),
    ("py:func", "numpy.kron"),
    ("py:func", "numpy.savez"),
    ("py:func", "sympy.lambdify"),
]
suppress_warnings = ["autosummary.import_cycle"]
