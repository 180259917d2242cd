"""The one bridge from SymPy expressions to numbers.

Every numeric evaluation of a derivation goes through
:func:`make_function`, which lambdifies with a fixed argument order: the
expression's free symbols sorted by their position in
:data:`derivations.symbols.ALL_SYMBOLS` (symbols not in that tuple come
after, sorted by name).  The returned callable takes keyword arguments
named by the symbols, so callers never depend on positional order.

Backends: ``"numpy"`` (vectorised float64) and ``"mpmath"`` (arbitrary
precision, for reference values).

Examples
--------
>>> from derivations.numeric import evaluate
>>> from derivations.symbols import mu_Phi, beta_Phi
>>> evaluate(mu_Phi / (2 * beta_Phi), mu_Phi=3.0, beta_Phi=2.0)
0.75
"""

from functools import lru_cache

import numpy as np
from sympy import lambdify

from .symbols import ALL_SYMBOLS

__all__ = ["argument_order", "make_function", "evaluate"]

_POSITION = {s: i for i, s in enumerate(ALL_SYMBOLS)}


def argument_order(expr):
    """The fixed argument order of ``expr``'s free symbols.

    Parameters
    ----------
    expr : sympy.Expr
        The expression.

    Returns
    -------
    tuple of sympy.Symbol
        Free symbols of ``expr`` in the fixed order.

    Examples
    --------
    >>> from derivations.symbols import n, d0
    >>> argument_order(d0 * n)
    (n, d0)
    """
    free = expr.free_symbols
    known = sorted((s for s in free if s in _POSITION), key=_POSITION.__getitem__)
    other = sorted((s for s in free if s not in _POSITION), key=lambda s: s.name)
    return tuple(known + other)


class _Function:
    """Lambdified expression called with keyword arguments named by symbol."""

    def __init__(self, expr, backend):
        self.expr = expr
        self.backend = backend
        self.args = argument_order(expr)
        self.names = tuple(s.name for s in self.args)
        modules = ["numpy"] if backend == "numpy" else ["mpmath"]
        self._f = lambdify(self.args, expr, modules=modules)

    def __call__(self, **values):
        missing = [nm for nm in self.names if nm not in values]
        if missing:
            raise ValueError(f"values missing for {missing} (expression {self.expr})")
        vals = [values[nm] for nm in self.names]
        out = self._f(*vals)
        if self.backend == "numpy":
            out = np.asarray(out, dtype=float)
            return float(out) if out.ndim == 0 else out
        return out

    def __repr__(self):
        return f"<{self.backend} function of {', '.join(self.names)}: {self.expr}>"


@lru_cache(maxsize=512)
def make_function(expr, backend="numpy"):
    """Lambdify ``expr`` with the fixed argument order.

    Parameters
    ----------
    expr : sympy.Expr
        The expression.
    backend : {'numpy', 'mpmath'}, default 'numpy'
        Numeric backend of :func:`sympy.lambdify`.

    Returns
    -------
    callable
        ``f(**values)`` with one keyword per free symbol (its name);
        attribute ``args`` is the fixed order.

    Raises
    ------
    ValueError
        If ``backend`` is unknown.

    Examples
    --------
    >>> from derivations.symbols import n, d0
    >>> f = make_function(n ** 1.5 / d0)
    >>> f.names, f(n=100.0, d0=10.0)
    (('n', 'd0'), 100.0)
    """
    if backend not in ("numpy", "mpmath"):
        raise ValueError(f"backend must be 'numpy' or 'mpmath', got {backend!r}")
    return _Function(expr, backend)


def evaluate(expr, backend="numpy", **values):
    """Evaluate ``expr`` at keyword values (extra keywords are ignored).

    Parameters
    ----------
    expr : sympy.Expr
        The expression.
    backend : {'numpy', 'mpmath'}, default 'numpy'
        Numeric backend of :func:`sympy.lambdify`.
    **values
        Symbol name to value.

    Returns
    -------
    float or ndarray or mpmath.mpf
        The value (an array for array inputs).

    Examples
    --------
    >>> from sympy import sqrt
    >>> from derivations.symbols import n
    >>> print(evaluate(sqrt(n), backend="mpmath", n=2))
    1.4142135623731
    """
    f = make_function(expr, backend)
    return f(**{nm: values[nm] for nm in f.names if nm in values}) if f.names else \
        f()
