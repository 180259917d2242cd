"""Serve MathJax from the built site, so the formulas render offline.

MathJax 3 comes from the ``sphinx-mathjax-offline`` package (the ``docs``
extra); only the files the ``tex-chtml`` component loads are copied: the
component, the TeX extensions it may autoload, the CommonHTML fonts and the
menu's accessibility modules.
"""

import importlib.util
import os

from sphinx.errors import ExtensionError
from sphinx.util.fileutil import copy_asset

PACKAGE = "sphinx-mathjax-offline"
COMPONENT = "tex-chtml.js"
SUBFOLDERS = ("input/tex/extensions", "output/chtml", "a11y", "ui")


def _mathjax_dir():
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            f"the docs need the {PACKAGE!r} package: pip install -e '.[docs]'")
    return os.path.join(list(spec.submodule_search_locations)[0], "static", "mathjax")


def _copy(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    src = _mathjax_dir()
    dest = os.path.join(app.outdir, "_static", "mathjax")
    os.makedirs(dest, exist_ok=True)
    copy_asset(os.path.join(src, COMPONENT), dest)
    for sub in SUBFOLDERS:
        if os.path.isdir(os.path.join(src, sub)):
            copy_asset(os.path.join(src, sub), os.path.join(dest, sub))


def _set_path(app, config):
    config.mathjax_path = "mathjax/" + COMPONENT


def setup(app):
    _mathjax_dir()
    app.connect("config-inited", _set_path)
    app.connect("build-finished", _copy)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
