"""Hermite expansions of activations: exact coefficients and identities.

The paper's Definition 4 uses probabilists' Hermite polynomials ``He_k``
and ``c_k = E[phi(g) He_k(g)]`` for ``g ~ N(0, 1)``; with weights
``W0 ~ N(0, omega^2)`` the relevant coefficients are those of
``x -> phi(omega x)``, ``c_k(omega) = E[phi(omega g) He_k(g)]``, which
Stein's lemma rewrites as ``omega^k E[phi^(k)(omega g)]``.

This module computes

* exact ``c_k`` of polynomial activations from Gaussian moments;
* closed forms by symbolic Gaussian integration of ``phi^(k)`` (GELU:
  ``c0 = 1/(2 sqrt(pi))``, ``c1 = 1/2``, ``c2 = 3/(4 sqrt(pi))``, odd
  ``k >= 3`` vanish; the general-``omega`` forms too);
* which coefficients vanish by parity (tanh: even ``k``);
* the dual-kernel identity ``E[phi(u) phi(v)] = sum_k c_k^2/k! rho^k``
  for polynomials, both sides computed independently;
* reference values by mpmath quadrature, for cross-checks.

Notes
-----
``paper.md`` section 4 (Definition 4 [EXACT], expansion [RECON], caveat
on ``c_k(omega)`` [DERIVED]).

Examples
--------
>>> from derivations.hermite import gelu_coefficient
>>> gelu_coefficient(2)
3/(4*sqrt(pi))
"""

from functools import lru_cache

import mpmath
from sympy import (Poly, Rational, diff, erf, exp, expand, factorial, factorial2,
                   hermite_prob, integrate, oo, pi, sqrt, symbols, tanh)

from . import symbols as S
from .steps import Step, is_zero

__all__ = [
    "gelu_expr", "tanh_expr", "gaussian_moment", "gaussian_expectation_polynomial",
    "hermite_coefficient_polynomial", "stein_coefficient", "gelu_coefficient",
    "parity_vanishing", "dual_kernel_polynomial", "stein_identity_polynomial",
    "hermite_coefficients_mpmath", "closed_form_coefficients",
]


def gelu_expr(var=S.x):
    """Return GELU ``x Phi(x) = x (1 + erf(x/sqrt(2))) / 2`` as SymPy.

    Parameters
    ----------
    var : sympy.Symbol
        The variable of the activation / polynomial.

    Returns
    -------
    sympy.Expr
        GELU.

    Examples
    --------
    >>> gelu_expr()
    x*(erf(sqrt(2)*x/2) + 1)/2
    """
    return var * (1 + erf(var / sqrt(2))) / 2


def tanh_expr(var=S.x):
    """Return ``tanh(x)`` as a SymPy expression.

    Parameters
    ----------
    var : sympy.Symbol
        The variable of the activation / polynomial.

    Returns
    -------
    sympy.Expr
        The hyperbolic tangent.

    Examples
    --------
    >>> tanh_expr()
    tanh(x)
    """
    return tanh(var)


def gaussian_moment(m):
    """``E[g^m]`` for ``g ~ N(0, 1)``: ``(m - 1)!!`` for even ``m``, else 0.

    Parameters
    ----------
    m : int
        Order of the moment (non-negative).

    Returns
    -------
    sympy.Integer
        The exact moment.

    Examples
    --------
    >>> [gaussian_moment(m) for m in range(7)]
    [1, 0, 1, 0, 3, 0, 15]
    """
    if m % 2:
        return Rational(0)
    return factorial2(m - 1) if m > 0 else Rational(1)


def gaussian_expectation_polynomial(expr, var=S.g):
    """Exact ``E[p(g)]`` of a polynomial ``p`` in ``var``, ``g ~ N(0, 1)``.

    Parameters
    ----------
    expr : sympy.Expr
        Polynomial in ``var`` (other symbols are coefficients).
    var : sympy.Symbol
        The variable of the activation / polynomial.

    Returns
    -------
    sympy.Expr
        The expectation, exact.

    Examples
    --------
    >>> from derivations.symbols import g
    >>> gaussian_expectation_polynomial(g**4 + 2 * g + 1, g)
    4
    """
    p = Poly(expand(expr), var)
    return sum((c * gaussian_moment(m[0]) for m, c in p.terms()), Rational(0))


def hermite_coefficient_polynomial(poly, kk, var=S.x, omega=1):
    """``c_k(omega) = E[p(omega g) He_k(g)]`` of a polynomial activation.

    Parameters
    ----------
    poly : sympy.Expr
        Polynomial in ``var``.
    kk : int
        Index ``k``.
    var : sympy.Symbol
        The variable of the activation / polynomial.
    omega : sympy.Expr, default 1
        Scale of the weights, ``W ~ N(0, omega^2)``.

    Returns
    -------
    sympy.Expr
        The coefficient, exact.

    Notes
    -----
    [EXACT] Definition 4 (probabilists' convention).

    Examples
    --------
    >>> from derivations.symbols import x
    >>> [hermite_coefficient_polynomial(x**2, k) for k in range(4)]
    [1, 0, 2, 0]
    """
    return gaussian_expectation_polynomial(poly.subs(var, omega * S.g)
                                           * hermite_prob(kk, S.g), S.g)


@lru_cache(maxsize=None)
def _gaussian_integral(expr):
    return integrate(expand(expr * exp(-S.g**2 / 2) / sqrt(2 * pi)), (S.g, -oo, oo))


def stein_coefficient(phi, kk, var=S.x, omega=S.omega):
    """``c_k(omega) = omega^k E[phi^(k)(omega g)]`` by symbolic integration.

    Parameters
    ----------
    phi : sympy.Expr
        Activation in ``var``.
    kk : int
        Hermite index ``k``.
    var : sympy.Symbol
        The variable of the activation / polynomial.
    omega : sympy.Expr, default ``omega`` (positive symbol)
        Scale of the weights, ``W ~ N(0, omega^2)``.

    Returns
    -------
    sympy.Expr
        Closed form, when SymPy can integrate ``phi^(k)`` against the
        Gaussian (GELU: yes; tanh: no, an unevaluated integral).

    Notes
    -----
    [DERIVED] (``paper.md`` section 4, caveat): Stein's lemma
    ``E[f(g) He_k(g)] = E[f^(k)(g)]`` with ``f(x) = phi(omega x)``.

    Examples
    --------
    >>> from sympy import Integer
    >>> stein_coefficient(gelu_expr(), 1, omega=Integer(1))
    1/2
    """
    dk = diff(phi, var, kk).subs(var, omega * S.g)
    return omega**kk * _gaussian_integral(dk)


def gelu_coefficient(kk, omega=1):
    """Closed-form GELU Hermite coefficient ``c_k(omega)``.

    Parameters
    ----------
    kk : int
        Hermite index ``k``.
    omega : sympy.Expr, default 1
        Scale of the weights, ``W ~ N(0, omega^2)``.

    Returns
    -------
    sympy.Expr
        E.g. ``c0 = omega^2 / (sqrt(2 pi) sqrt(1 + omega^2))``,
        ``c1 = omega/2``; at ``omega = 1``: ``1/(2 sqrt(pi))``, ``1/2``,
        ``3/(4 sqrt(pi))``, ``0``, ``-5/(8 sqrt(pi))``.

    Notes
    -----
    [DERIVED] from Stein's lemma; the digest's quadrature values
    (``paper.md`` section 4) are .2821, .5, .4231, 0, -.3526.

    Examples
    --------
    >>> gelu_coefficient(0)
    1/(2*sqrt(pi))
    """
    return stein_coefficient(gelu_expr(S.x), kk, S.x, S.omega).subs(S.omega, omega)


def parity_vanishing(phi, var=S.x):
    """Which Hermite coefficients vanish by parity.

    Parameters
    ----------
    phi : sympy.Expr
        Activation as an expression in ``var``.
    var : sympy.Symbol
        The variable of the activation / polynomial.

    Returns
    -------
    dict
        ``{"odd_part": expr, "even_part": expr, "even_k_vanish": bool,
        "odd_k_vanish_from": int or None}``.  Even ``k`` vanish when the
        even part is 0 (odd ``phi``, e.g. tanh).  If the odd part is a
        polynomial of degree ``D``, odd ``k > D`` vanish (GELU: odd part
        ``x/2``, so odd ``k >= 3``).

    Notes
    -----
    [DERIVED].  ``He_k`` has the parity of ``k`` and ``E[q(g) He_k(g)] = 0``
    for a polynomial ``q`` of degree ``< k``; the odd part of ``phi``
    pairs only with odd ``k`` and the even part only with even ``k``.

    Examples
    --------
    >>> parity_vanishing(gelu_expr())["odd_k_vanish_from"]
    3
    >>> parity_vanishing(tanh_expr())["even_k_vanish"]
    True
    """
    odd = expand((phi - phi.subs(var, -var)) / 2)
    even = expand((phi + phi.subs(var, -var)) / 2)
    res = {"odd_part": odd, "even_part": even, "even_k_vanish": is_zero(even),
           "odd_k_vanish_from": None}
    if odd.is_polynomial(var):
        deg = Poly(odd, var).degree() if odd != 0 else -1
        res["odd_k_vanish_from"] = deg + 1 if deg % 2 == 0 else deg + 2
    return res


def dual_kernel_polynomial(poly, var=S.x, rho=S.rho):
    """Both sides of ``E[phi(u) phi(v)] = sum_k c_k^2 / k! rho^k``, polynomial phi.

    Parameters
    ----------
    poly : sympy.Expr
        Polynomial activation in ``var``.
    var : sympy.Symbol
        The variable of the activation / polynomial.
    rho : sympy.Symbol
        Correlation of the unit-variance Gaussians ``u, v`` (``x_a . x_b``
        for unit inputs and ``w ~ N(0, I)``).

    Returns
    -------
    tuple of sympy.Expr
        ``(lhs, rhs)``: ``lhs`` by writing ``u = g1``,
        ``v = rho g1 + sqrt(1 - rho^2) g2`` and taking exact Gaussian
        moments; ``rhs`` from :func:`hermite_coefficient_polynomial`.

    Notes
    -----
    [RECON] (``paper.md`` section 4, expansion).

    Examples
    --------
    >>> from derivations.symbols import x
    >>> lhs, rhs = dual_kernel_polynomial(x**3 + x)
    >>> is_zero(lhs - rhs)
    True
    """
    g1, g2 = symbols("g1 g2", real=True)
    u, v = g1, rho * g1 + sqrt(1 - rho**2) * g2
    prod = expand(poly.subs(var, u) * poly.subs(var, v))
    inner = gaussian_expectation_polynomial(prod, g2)
    lhs = expand(gaussian_expectation_polynomial(inner, g1))
    deg = Poly(poly, var).degree()
    rhs = sum((hermite_coefficient_polynomial(poly, kk, var) ** 2 / factorial(kk) * rho**kk
               for kk in range(deg + 1)), Rational(0))
    return lhs, expand(rhs)


def stein_identity_polynomial(degree=6, omega=S.omega):
    """Prove Stein's lemma ``E[p(omega g) He_k(g)] = omega^k E[p^(k)(omega g)]``.

    Parameters
    ----------
    degree : int, default 6
        Degree of a generic polynomial ``p`` with symbolic coefficients.
    omega : sympy.Expr
        Scale of the weights, ``W ~ N(0, omega^2)``.

    Returns
    -------
    list of Step
        One identity per ``k = 0..degree``, proved by expansion.

    Notes
    -----
    [DERIVED] (``paper.md`` section 4, caveat).

    Examples
    --------
    >>> all(s.verify() for s in stein_identity_polynomial(3))
    True
    """
    coeffs = symbols(f"a0:{degree + 1}", real=True)
    p = sum(c * S.x**i for i, c in enumerate(coeffs))
    steps = []
    for kk in range(degree + 1):
        lhs = hermite_coefficient_polynomial(p, kk, S.x, omega)
        rhs = omega**kk * gaussian_expectation_polynomial(
            diff(p, S.x, kk).subs(S.x, omega * S.g), S.g)
        steps.append(Step(f"stein_k{kk}", lhs, "==", rhs, tag="[DERIVED]", source="Sec. 4"))
    return steps


def hermite_coefficients_mpmath(phi, k_max, omega=1.0, dps=30):
    """Reference ``c_0..c_k_max`` of ``phi(omega .)`` by mpmath quadrature.

    Parameters
    ----------
    phi : callable
        An mpmath-compatible scalar function.
    k_max : int
        Largest index computed.
    omega : float, default 1.0
        Scale of the weights, ``W ~ N(0, omega^2)``.
    dps : int, default 30
        Working decimal digits.

    Returns
    -------
    list of mpmath.mpf
        ``c_0, ..., c_k_max``.

    Notes
    -----
    ``c_k = (1/sqrt(2 pi)) int phi(omega x) He_k(x) exp(-x^2/2) dx``
    [EXACT] Definition 4, split at 0 for accuracy.

    Examples
    --------
    >>> import mpmath
    >>> c = hermite_coefficients_mpmath(lambda z: z * mpmath.ncdf(z), 2)
    >>> [round(float(v), 6) for v in c]
    [0.282095, 0.5, 0.423142]
    """
    with mpmath.workdps(dps):
        om = mpmath.mpf(omega)
        out = []
        for kk in range(k_max + 1):
            f = lambda z: (phi(om * z) * mpmath.hermite(kk, z / mpmath.sqrt(2))  # noqa: E731
                           * mpmath.power(2, -mpmath.mpf(kk) / 2) * mpmath.npdf(z))
            out.append(mpmath.quad(f, [-mpmath.inf, 0, mpmath.inf]))
        return out


def closed_form_coefficients(name, k_max, omega=1):
    """Closed-form ``c_k(omega)`` where they exist, None where they do not.

    Parameters
    ----------
    name : {'gelu', 'tanh', 'quadratic', 'identity'}
        Activation.
    k_max : int
        Largest index computed.
    omega : sympy.Expr, default 1
        Scale of the weights, ``W ~ N(0, omega^2)``.

    Returns
    -------
    list
        SymPy expressions; ``None`` marks a coefficient with no closed
        form here (tanh's odd ones).

    Raises
    ------
    ValueError
        If ``name`` is not one of the four above.

    Examples
    --------
    >>> closed_form_coefficients("tanh", 3)
    [0, None, 0, None]
    """
    if name == "gelu":
        return [gelu_coefficient(kk, omega) for kk in range(k_max + 1)]
    if name == "tanh":
        return [Rational(0) if kk % 2 == 0 else None for kk in range(k_max + 1)]
    if name in ("quadratic", "identity"):
        p = S.x**2 if name == "quadratic" else S.x
        return [hermite_coefficient_polynomial(p, kk, S.x, omega) for kk in range(k_max + 1)]
    raise ValueError(f"name must be gelu, tanh, quadratic or identity, got {name!r}")
