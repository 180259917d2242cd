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
* reference values by mpmath quadrature, for cross-checks;
* the small-``omega`` expansion ``c_k(omega) = omega^k [phi^(k)(0) +
  omega^2 phi^(k+2)(0)/2 + ...]`` from the Taylor coefficients of
  ``phi`` at 0, and its leading order, which sets how ``mu_Phi`` and
  ``nu_Phi`` scale with ``d0`` at LeCun or He initialization
  (:mod:`derivations.width`).

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
from sympy import (Dummy, Integer, Poly, Rational, cancel, diff, exp, expand, factorial,
                   factorial2, hermite_prob, integrate, lambdify, oo, pi, sqrt, symbols,
                   sympify, together)
from sympy.core.function import AppliedUndef

from pl_toolkit.activations import BUILTIN_FORMS, forms_of

from . import symbols as S
from .steps import Step, is_zero

__all__ = [
    "gelu_expr", "tanh_expr", "gaussian_moment", "gaussian_expectation_polynomial",
    "hermite_coefficient_polynomial", "stein_coefficient", "gelu_coefficient",
    "parity_vanishing", "dual_kernel_polynomial", "stein_identity_polynomial",
    "hermite_coefficients_mpmath", "closed_form_coefficients",
    "shifted_softplus_expr", "activation_expr", "activation_mpmath", "derivative_at_zero",
    "gaussian_expectation_expansion", "small_omega_expansion", "variance_expansion",
    "leading_order", "gelu_expansion_steps", "hermite_coefficient_mpmath",
    "gaussian_expectation_mpmath",
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
        GELU: ``activation_expr("gelu", var)``, from the activation table.

    Examples
    --------
    >>> gelu_expr()
    x*(erf(sqrt(2)*x/2) + 1)/2
    """
    return activation_expr("gelu", var)


def tanh_expr(var=S.x):
    """Return ``tanh(x)`` as a SymPy expression.

    Parameters
    ----------
    var : sympy.Symbol
        The variable of the activation / polynomial.

    Returns
    -------
    sympy.Expr
        The hyperbolic tangent: ``activation_expr("tanh", var)``, from the
        activation table.

    Examples
    --------
    >>> tanh_expr()
    tanh(x)
    """
    return activation_expr("tanh", var)


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
    >>> parity_vanishing(shifted_softplus_expr())["odd_k_vanish_from"]
    3
    """
    odd = expand((phi - phi.subs(var, -var)) / 2)
    even = expand((phi + phi.subs(var, -var)) / 2)
    res = {"odd_part": odd, "even_part": even, "even_k_vanish": _vanishes(even, var),
           "odd_k_vanish_from": None}
    if odd.is_polynomial(var):
        deg = Poly(odd, var).degree() if odd != 0 else -1
        res["odd_k_vanish_from"] = deg + 1 if deg % 2 == 0 else deg + 2
        return res
    # not visibly a polynomial (softplus: (log(1 + e^x) - log(1 + e^-x))/2 = x/2):
    # degree <= D iff the (D + 1)-th derivative vanishes identically
    for deg in range(6):
        if _vanishes(diff(odd, var, deg + 1), var):
            res["odd_k_vanish_from"] = deg + 1 if deg % 2 == 0 else deg + 2
            break
    return res


def _vanishes(expr, var):
    """True if ``expr`` is identically 0.

    A targeted normal form: exponentials as a rational function of ``y = e^var``
    when that removes ``var``.
    """
    if is_zero(expr):
        return True
    y = Dummy("y", positive=True)
    rational = expr.rewrite(exp).subs(exp(var), y)
    if var in rational.free_symbols:
        return False
    return cancel(together(rational)) == 0


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
    return [hermite_coefficient_mpmath(phi, kk, omega, dps) for kk in range(k_max + 1)]


def hermite_coefficient_mpmath(phi, kk, omega=1.0, dps=30):
    """Reference ``c_k(omega)`` of ``phi(omega .)`` by mpmath quadrature.

    Parameters
    ----------
    phi : callable
        An mpmath-compatible scalar function.
    kk : int
        Hermite index ``k`` (non-negative).
    omega : float or mpmath.mpf, default 1.0
        Scale of the weights, ``W ~ N(0, omega^2)``.
    dps : int, default 30
        Working decimal digits.

    Returns
    -------
    mpmath.mpf
        ``c_k = (1/sqrt(2 pi)) int phi(omega x) He_k(x) exp(-x^2/2) dx``.

    Notes
    -----
    [EXACT] Definition 4; ``He_k(x) = 2^{-k/2} H_k(x / sqrt 2)`` with the
    physicists' ``H_k`` of mpmath.  The integral is split at 0.

    Examples
    --------
    >>> import mpmath
    >>> round(float(hermite_coefficient_mpmath(mpmath.tanh, 1)), 6)
    0.605706
    """
    with mpmath.workdps(dps):
        om = mpmath.mpf(omega)
        scale = mpmath.power(2, -mpmath.mpf(kk) / 2)

        def f(z):
            return phi(om * z) * mpmath.hermite(kk, z / mpmath.sqrt(2)) * scale * mpmath.npdf(z)

        return mpmath.quad(f, [-mpmath.inf, 0, mpmath.inf])


def gaussian_expectation_mpmath(f, omega=1.0, dps=30):
    """Reference ``E[f(omega g)]``, ``g ~ N(0, 1)``, by mpmath quadrature.

    Parameters
    ----------
    f : callable
        An mpmath-compatible scalar function.
    omega : float or mpmath.mpf, default 1.0
        Scale of the weights, ``W ~ N(0, omega^2)``.
    dps : int, default 30
        Working decimal digits.

    Returns
    -------
    mpmath.mpf
        The expectation (split at 0).

    Notes
    -----
    ``E[phi(omega g)^2] = sum_k c_k(omega)^2 / k!`` (Parseval for the
    probabilists' basis) enters ``h0`` and ``Var[phi(omega g)]`` enters
    ``nu_Phi`` (``paper.md`` section 4, initial output).

    Examples
    --------
    >>> import mpmath
    >>> print(mpmath.nstr(gaussian_expectation_mpmath(lambda z: z**2, omega=3), 10))
    9.0
    """
    with mpmath.workdps(dps):
        om = mpmath.mpf(omega)
        return mpmath.quad(lambda z: f(om * z) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])


#: Activations with closed-form Hermite coefficients here (see :func:`closed_form_coefficients`).
_CLOSED_FORM_NAMES = ("gelu", "tanh", "quadratic", "identity")


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

    Notes
    -----
    From the activation's SymPy form (``activation_expr``): exact
    Gaussian moments for the polynomials, Stein's lemma for GELU
    (``gelu_coefficient``), and for tanh the vanishing of the even
    coefficients by parity (:func:`parity_vanishing`).

    Examples
    --------
    >>> closed_form_coefficients("tanh", 3)
    [0, None, 0, None]
    """
    if name not in _CLOSED_FORM_NAMES:
        raise ValueError(f"name must be gelu, tanh, quadratic or identity, got {name!r}")
    if name == "gelu":
        return [gelu_coefficient(kk, omega) for kk in range(k_max + 1)]
    phi = activation_expr(name, S.x)
    if phi.is_polynomial(S.x):
        return [hermite_coefficient_polynomial(phi, kk, S.x, omega) for kk in range(k_max + 1)]
    even_zero = parity_vanishing(phi, S.x)["even_k_vanish"]
    return [Rational(0) if kk % 2 == 0 and even_zero else None for kk in range(k_max + 1)]


# ------------------------------------------------------- small-omega expansion
def shifted_softplus_expr(var=S.x):
    """Return ``log(1 + e^x) - log 2`` (softplus shifted to ``phi(0) = 0``).

    Parameters
    ----------
    var : sympy.Symbol
        The variable of the activation.

    Returns
    -------
    sympy.Expr
        The shifted softplus: ``activation_expr("shifted_softplus", var)``,
        from the activation table.

    Notes
    -----
    Assumption 2 needs ``phi(0) = 0``; plain softplus has ``log 2``
    (``paper.md`` section 1).  ``log(1 + e^x) = x/2 + log(2 cosh(x/2))``,
    so the odd part is ``x/2`` and, as for GELU, odd ``c_k`` with
    ``k >= 3`` vanish.

    Examples
    --------
    >>> shifted_softplus_expr()
    log(exp(x) + 1) - log(2)
    """
    return activation_expr("shifted_softplus", var)


def _row(name, what):
    """The activation table's row of ``name``; a ValueError saying there is no ``what`` form."""
    builtins = ", ".join(BUILTIN_FORMS)
    try:
        row = forms_of(name)
    except ValueError:
        raise ValueError(f"name: no {what} form for activation {name!r}: it is not a built-in "
                         f"activation ({builtins})") from None
    if row is None:
        raise ValueError(f"name: no {what} form for activation {name!r}: it is user-registered "
                         f"(only the built-in activations have one: {builtins})")
    return row


def activation_expr(name, var=S.x):
    """The SymPy expression of a built-in activation, from the activation table.

    Parameters
    ----------
    name : str
        A built-in activation (one of :func:`pl_toolkit.available_activations`
        that is not user-registered; case and ``-``/``_`` as there).
    var : sympy.Expr
        The variable (or expression) the activation is applied to.

    Returns
    -------
    sympy.Expr
        ``phi(var)``: the definition written in the activation table
        (``pl_toolkit.activations.BUILTIN_FORMS``), parsed with ``x`` bound
        to ``var`` and float literals made exact rationals; ``Piecewise``
        for relu and leaky_relu.

    Raises
    ------
    ValueError
        If ``name`` is not a built-in activation (a user-registered one has
        no SymPy form), or the table's string names a symbol or function
        SymPy does not know.

    Notes
    -----
    The numeric core never imports SymPy, so the table holds each
    definition as a string and this is the one place that parses it.

    Examples
    --------
    >>> activation_expr("tanh")
    tanh(x)
    >>> activation_expr("leaky_relu")
    Piecewise((x, x > 0), (x/100, True))
    """
    row = _row(name, "SymPy")
    expr = sympify(row.sympy, locals={"x": var}, rational=True)
    stray = expr.free_symbols - getattr(var, "free_symbols", set())
    unknown = expr.atoms(AppliedUndef)
    if stray or unknown:
        raise ValueError(f"name: the SymPy form {row.sympy!r} of activation {row.name!r} uses "
                         f"{sorted(map(str, stray | unknown))} besides x")
    return expr


@lru_cache(maxsize=None)
def _lambdified_mpmath(name):
    return lambdify(S.x, activation_expr(name, S.x), "mpmath")


def activation_mpmath(name):
    """The mpmath function of a built-in activation (for reference quadrature).

    Parameters
    ----------
    name : str
        A built-in activation, as in :func:`activation_expr`.

    Returns
    -------
    callable
        ``z -> phi(z)`` on mpmath numbers: :func:`activation_expr`
        lambdified to mpmath (constants evaluated at the working
        precision of each call).

    Raises
    ------
    ValueError
        If ``name`` is not a built-in activation.

    Examples
    --------
    >>> import mpmath
    >>> f = activation_mpmath("gelu")
    >>> print(mpmath.nstr(f(mpmath.mpf(1)), 8))
    0.84134475
    """
    return _lambdified_mpmath(_row(name, "mpmath").name)


@lru_cache(maxsize=None)
def derivative_at_zero(phi, m, var=S.x):
    """Exact ``phi^(m)(0)``.

    Parameters
    ----------
    phi : sympy.Expr
        Activation in ``var``, smooth at 0.
    m : int
        Order of the derivative (non-negative).
    var : sympy.Symbol
        The variable of the activation.

    Returns
    -------
    sympy.Expr
        The derivative at 0, exact.

    Examples
    --------
    >>> derivative_at_zero(gelu_expr(), 2)
    sqrt(2)/sqrt(pi)
    """
    return diff(phi, var, m).subs(var, 0) if m else phi.subs(var, 0)


def gaussian_expectation_expansion(f, terms, var=S.x, omega=S.omega):
    """Small-``omega`` expansion of ``E[f(omega g)]``, ``g ~ N(0, 1)``.

    Parameters
    ----------
    f : sympy.Expr
        Function of ``var``, smooth at 0.
    terms : int
        Number of terms ``J`` (positive).
    var : sympy.Symbol
        The variable of ``f``.
    omega : sympy.Expr
        The scale.

    Returns
    -------
    sympy.Expr
        ``sum_{j < J} f^(2j)(0) omega^(2j) / (2^j j!)``, a polynomial in
        ``omega``; the remainder is ``O(omega^(2J))``.

    Notes
    -----
    [DERIVED].  Taylor's theorem at 0 and the Gaussian moments
    ``E[g^(2j)] = (2j)! / (2^j j!)``; odd moments vanish.  For entire
    activations of at most Gaussian growth this is an asymptotic
    expansion as ``omega -> 0`` (convergent for GELU and softplus at
    small ``omega``; for tanh, whose Taylor series has radius ``pi/2``,
    only asymptotic).

    Examples
    --------
    >>> from derivations.symbols import x, omega
    >>> gaussian_expectation_expansion(x**4 + x**2, 3)
    3*omega**4 + omega**2
    """
    if terms < 1:
        raise ValueError(f"terms must be positive, got {terms}")
    return sum((derivative_at_zero(f, 2 * j, var) * omega**(2 * j) / (2**j * factorial(j))
                for j in range(terms)), Integer(0))


def small_omega_expansion(phi, kk, terms=2, var=S.x, omega=S.omega):
    """Small-``omega`` expansion of the Hermite coefficient ``c_k(omega)``.

    Parameters
    ----------
    phi : sympy.Expr
        Activation in ``var``, smooth at 0.
    kk : int
        Hermite index ``k``.
    terms : int, default 2
        Number of terms ``J``.
    var : sympy.Symbol
        The variable of the activation.
    omega : sympy.Expr
        Scale of the weights, ``W ~ N(0, omega^2)``.

    Returns
    -------
    sympy.Expr
        ``omega^k sum_{j < J} phi^(k+2j)(0) omega^(2j) / (2^j j!)``;
        the remainder is ``O(omega^(k+2J))``.

    Notes
    -----
    [DERIVED] (``paper.md`` section 4, caveat; section 8).  Stein's
    lemma ``c_k(omega) = omega^k E[phi^(k)(omega g)]`` and
    :func:`gaussian_expectation_expansion` give
    ``c_k(omega) = omega^k [phi^(k)(0) + omega^2 phi^(k+2)(0)/2 + ...]``.
    With ``phi(0) = 0``: ``c_0(omega) = omega^2 phi''(0)/2 + O(omega^4)``,
    so at LeCun initialization (``omega^2 = 1/d0``) ``c_0`` and ``c_2``
    shrink like ``1/d0``.

    Examples
    --------
    >>> small_omega_expansion(gelu_expr(), 0)
    sqrt(2)*omega**2/(2*sqrt(pi))
    >>> small_omega_expansion(gelu_expr(), 2, terms=2)
    omega**2*(-sqrt(2)*omega**2/sqrt(pi) + sqrt(2)/sqrt(pi))
    """
    return omega**kk * gaussian_expectation_expansion(diff(phi, var, kk), terms, var, omega)


def variance_expansion(phi, terms=2, var=S.x, omega=S.omega):
    """Small-``omega`` expansion of ``Var[phi(omega g)] = sum_{k>=1} c_k^2/k!``.

    Parameters
    ----------
    phi : sympy.Expr
        Activation in ``var``, smooth at 0.
    terms : int, default 2
        ``J``: the result is exact through ``omega^(2J - 2)``.
    var : sympy.Symbol
        The variable of the activation.
    omega : sympy.Expr
        Scale of the weights.

    Returns
    -------
    sympy.Expr
        ``E[phi(omega g)^2] - c_0(omega)^2``, expanded and truncated at
        degree ``2J - 2`` in ``omega``.

    Notes
    -----
    [DERIVED].  Parseval in the probabilists' basis, ``E[phi(omega g)^2]
    = sum_k c_k(omega)^2 / k!``, so the variance is ``c_1^2 + c_inf^2``
    with the follow-up's ``c_inf^2 = sum_{i>=2} c_i^2 / i!``.  It is the
    factor of the linear part of ``sigma_max(phi(W0 X))`` in ``nu_Phi``.

    Examples
    --------
    >>> variance_expansion(gelu_expr(), 2)
    omega**2/4
    """
    full = expand(gaussian_expectation_expansion(phi**2, terms, var, omega)
                  - small_omega_expansion(phi, 0, terms, var, omega) ** 2)
    return sum((full.coeff(omega, m) * omega**m for m in range(2 * terms - 1)), Integer(0))


def leading_order(phi, kk=None, var=S.x, omega=S.omega, quantity="coefficient", max_terms=8):
    """Leading term ``gamma omega^p`` of ``c_k(omega)``, ``E[phi(omega g)^2]`` or the variance.

    Parameters
    ----------
    phi : sympy.Expr
        Activation in ``var``, smooth at 0.
    kk : int, optional
        Hermite index (``quantity="coefficient"`` only).
    var : sympy.Symbol
        The variable of the activation.
    omega : sympy.Expr
        The scale symbol.
    quantity : {'coefficient', 'square', 'variance'}, default 'coefficient'
        ``c_k(omega)``, ``E[phi(omega g)^2]`` or ``Var[phi(omega g)]``.
    max_terms : int, default 8
        Largest number of expansion terms tried.

    Returns
    -------
    tuple
        ``(gamma, p)`` with ``gamma`` exact and ``p`` an integer, or
        ``(0, None)`` when the coefficient vanishes identically by parity
        (:func:`parity_vanishing`).

    Raises
    ------
    ValueError
        If ``quantity`` is unknown, ``kk`` is missing for a coefficient,
        or every term up to ``max_terms`` vanishes without a parity reason.

    Notes
    -----
    [DERIVED].  The lowest-degree term of a truncated expansion is exact
    (every term of :func:`small_omega_expansion` is), so the first
    non-zero truncation gives the leading order.

    Examples
    --------
    >>> leading_order(gelu_expr(), 2)
    (sqrt(2)/sqrt(pi), 2)
    >>> leading_order(tanh_expr(), 0)
    (0, None)
    >>> leading_order(gelu_expr(), quantity="square")
    (1/4, 2)
    """
    if quantity not in ("coefficient", "square", "variance"):
        raise ValueError(f"quantity must be coefficient, square or variance, got {quantity!r}")
    if quantity == "coefficient":
        if kk is None:
            raise ValueError("kk is required for quantity='coefficient'")
        pv = parity_vanishing(phi, var)
        if (kk % 2 == 0 and pv["even_k_vanish"]) or (
                kk % 2 == 1 and pv["odd_k_vanish_from"] is not None
                and kk >= pv["odd_k_vanish_from"]):
            return Integer(0), None
    for J in range(1, max_terms + 1):
        if quantity == "coefficient":
            e = small_omega_expansion(phi, kk, J, var, omega)
        elif quantity == "square":
            e = gaussian_expectation_expansion(phi**2, J, var, omega)
        else:
            e = variance_expansion(phi, J + 1, var, omega)
        e = expand(e)
        if e != 0:
            gamma, p = e.leadterm(omega)
            return gamma, Integer(p)
    raise ValueError(f"every term up to {max_terms} of the {quantity} expansion vanishes")


def gelu_expansion_steps(k_max=2, terms=3, omega=S.omega):
    """Prove the small-``omega`` expansion against GELU's closed forms.

    Parameters
    ----------
    k_max : int, default 2
        Largest Hermite index.
    terms : int, default 3
        Terms of :func:`small_omega_expansion` compared.
    omega : sympy.Symbol
        The scale symbol (positive).

    Returns
    -------
    list of Step
        One identity per ``k``: the Taylor series in ``omega`` of the
        closed form :func:`gelu_coefficient` through ``omega^(k+2J-2)``
        equals :func:`small_omega_expansion`.

    Notes
    -----
    [DERIVED] (``paper.md`` section 4, caveat).  Two routes: symbolic
    Gaussian integration of ``phi^(k)`` (closed form, then its series)
    against the Taylor coefficients of ``phi`` at 0.

    Examples
    --------
    >>> [s.verify() for s in gelu_expansion_steps(k_max=1, terms=2)]
    [True, True]
    """
    phi = gelu_expr(S.x)
    steps = []
    for kk in range(k_max + 1):
        closed = gelu_coefficient(kk, omega)
        order = kk + 2 * terms - 1
        lhs = closed.series(omega, 0, order).removeO()
        rhs = small_omega_expansion(phi, kk, terms, S.x, omega)
        steps.append(Step(f"gelu_c{kk}_expansion", lhs, "==", rhs, tag="[DERIVED]",
                          source="Sec. 4",
                          lhs_label=f"series of the closed-form c_{kk}(omega) through "
                                    f"omega^{order - 1}",
                          note="c_k(omega) = omega^k [phi^(k)(0) + omega^2 phi^(k+2)(0)/2 "
                               "+ ...]"))
    return steps
