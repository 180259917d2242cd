"""The ``runblock`` directive: run Python code while the docs are built and
show it together with what it printed.

The code runs in the namespace of matplotlib's plot directive
(``plot_context``), so a page can mix figures (``.. plot::`` with
``:context:``) and printed results in one running session.  ``:reset:``
starts a fresh namespace, like ``:context: reset``.  Warnings raised by the
code are shown in the output the way Python prints them; an exception fails
the build (a warning, an error under ``-W``) with its traceback.
"""

import contextlib
import io
import traceback
import warnings

from docutils import nodes
from docutils.parsers.rst import directives
from matplotlib.sphinxext import plot_directive
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


def run_code(code, namespace):
    """Execute ``code`` in ``namespace`` and return what it printed.

    Parameters
    ----------
    code : str
        Python source.
    namespace : dict
        Globals of the execution, updated in place.

    Returns
    -------
    str
        Standard output, followed by any warnings raised, one line each.
    """
    buffer = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, "<runblock>", "exec"), namespace)
    out = buffer.getvalue()
    for w in caught:
        out += f"{w.category.__name__}: {w.message}\n"
    return out.rstrip("\n")


class RunBlock(SphinxDirective):
    """Show a block of Python code and the output it printed."""

    has_content = True
    option_spec = {"reset": directives.flag, "hide-code": directives.flag}

    def run(self):
        code = "\n".join(self.content)
        if "reset" in self.options:
            plot_directive.plot_context.clear()
        namespace = plot_directive.plot_context
        namespace.setdefault("__name__", "__main__")
        result = []
        if "hide-code" not in self.options:
            source = nodes.literal_block(code, code, language="python")
            result.append(source)
        try:
            out = run_code(code, namespace)
        except Exception:
            logger.warning("runblock code raised:\n%s", traceback.format_exc(),
                           location=self.get_location())
            return result
        if out:
            shown = nodes.literal_block(out, out, language="none",
                                        classes=["runblock-output"])
            result.append(shown)
        return result


def setup(app):
    app.add_directive("runblock", RunBlock)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
