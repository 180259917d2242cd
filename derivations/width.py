"""The width condition (20) -> (21) with its true ``d0`` dependence.

The paper's chain (:func:`derivations.shallow.eq21_derivation`) puts
``mu_Phi = a sqrt(d1) s_t``, ``nu_Phi = b sqrt(d1 n)``, ``beta_Phi = c
sigma_max(X)`` and ``h0 = k sigma_max(X)^2`` into Theorem 1's condition
(9) with ``a, b, c, k`` constants, and reads off ``d1 >~ n^{3/2}/d0``.
With ``W0 ~ N(0, omega1^2)`` the Hermite coefficients that set ``a`` and
``b`` are those of ``x -> phi(omega1 x)``, ``c_k(omega1) = omega1^k
[phi^(k)(0) + omega1^2 phi^(k+2)(0)/2 + ...]``, and LeCun or He
initialization ties ``omega1`` to ``d0``.  This module redoes the chain
with

* both terms of Lemma 3's ``nu_Phi = phi_dot_max sigma_max(X)
  sigma_max(V0) + sigma_max(phi(W0X))``, each a *regime* (``"v0"`` and
  ``"features"``) of the width condition; ``sigma_max(phi(W0X))`` keeps
  its mean part ``|c_0| sqrt(d1 n)`` and its linear part ``sqrt(Var d1)
  sigma_max(X)``;
* ``sigma_max(V0) = omega2 (sqrt(d1) + sqrt(d2))`` (``= 1`` at LeCun for
  ``d1 >> d2``: the ``d1`` of ``omega2`` cancels) and ``chi_max =
  sigma_max(V0)`` in ``beta_Phi``;
* ``h0`` from the initial output, ``E||V0 phi(W0X)||^2 = omega2^2 d1 d2
  n E[phi(omega1 g)^2]`` (``||Y||^2 <= 1`` is of lower order when ``n >>
  d0``);

for the settings ``"paper"`` (the paper's constants ``a, b, c, k``),
``"lecun"`` (``omega1^2 = 1/d0, omega2^2 = 1/d1``), ``"he"`` (``2/d0,
2/d1``) and ``"unit_omega1"`` (``omega1 = 1, omega2^2 = 1/(d0 d1)``,
an initialization of the family (19) with constant coefficients), under
the heuristics ``sigma_max(X)^2 = n/d0`` and ``s_t = 1``.  The constant
of (9) is the one the derivations determine, ``C_9 = 1/32``
(:func:`derivations.framework.eq9_constant`).

Results for GELU (``t = 2``): the paper's setting gives ``d1 >~
n^{3/2}/d0`` unchanged; LeCun and He give ``d1 >~ d0 n^{3/2}`` (the
``features`` regime leads for every ``n >= 1``; the ``v0`` regime would
give ``d0 n``); the parameter count is ``d0^2 n^{3/2}``, and along the
paper's ``n = d0^2`` the width is ``n^2``.

Notes
-----
``paper.md`` sections 3 (Lemma 3, (9), (20), (21)), 4 (Hermite
caveat, random-matrix estimates, initial output) and 8 (the ``d0`` law
of (21)).  Every threshold is solved from (9) by SymPy; exponents are
log-derivatives of the solved thresholds; no result is typed in.

Examples
--------
>>> from derivations.width import width_conditions
>>> wc = width_conditions("gelu")
>>> [(s, wc[s]["n"], wc[s]["d0"]) for s in ("paper", "lecun", "he")]
[('paper', '3/2', '-1'), ('lecun', '3/2', '1'), ('he', '3/2', '1')]
"""

import copy
import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath
from sympy import (Abs, Integer, Max, Rational, Symbol, cancel, expand, factor, limit, oo,
                   powdenest, sqrt, sstr)

from . import symbols as S
from .framework import (eq9_constant, quadratic_loss_constants, theorem1_condition,
                        theorem1_condition_steps)
from .hermite import (activation_expr, activation_mpmath, gaussian_expectation_expansion,
                      gaussian_expectation_mpmath, gelu_coefficient, hermite_coefficient_mpmath,
                      leading_order, small_omega_expansion, variance_expansion)
from .numeric import evaluate, make_function
from .shallow import eq21_derivation, exponent, lemma3_init_estimates
from .steps import Step, is_zero

__all__ = ["SETTINGS", "ACTIVATIONS", "Regime", "WidthSetting", "default_t", "width_setting",
           "width_conditions", "width_threshold", "d0_dependence", "format_width_conditions"]

#: the settings of :func:`~derivations.width.width_conditions`
SETTINGS = ("paper", "lecun", "he", "unit_omega1")
#: activations with symbolic and mpmath forms (phi(0) = 0, smooth)
ACTIVATIONS = ("gelu", "shifted_softplus", "tanh")

#: (omega1, omega2) of each initialization, as functions of d0 and d1
_INITS = {
    "lecun": (sqrt(Integer(1) / S.d0), sqrt(Integer(1) / S.d1)),
    "he": (sqrt(Integer(2) / S.d0), sqrt(Integer(2) / S.d1)),
    "unit_omega1": (Integer(1), 1 / sqrt(S.d0 * S.d1)),
}
_INIT_TEXT = {
    "lecun": ("1/d0", "1/d1"), "he": ("2/d0", "2/d1"), "unit_omega1": ("1", "1/(d0*d1)"),
}
_NU_TERMS = {"features": "sigma_max(phi(W0 X))",
             "v0": "phi_dot_max sigma_max(X) sigma_max(V0)"}
_HEURISTICS = {S.sigma_max_X: sqrt(S.n / S.d0), S.s_t: Integer(1)}


@dataclass(frozen=True)
class Regime:
    """One regime of the width condition: (9) solved with one term of ``nu_Phi``.

    Attributes
    ----------
    name : str
        ``"features"`` (``sigma_max(phi(W0X))`` dominates ``nu_Phi``),
        ``"v0"`` (``phi_dot_max sigma_max(X) sigma_max(V0)`` dominates) or
        ``"sharp"`` (the sharp flow length, no ``nu_Phi``).
    nu_term : str
        The term of ``nu_Phi`` in words.
    nu : sympy.Expr or None
        That term at leading order, after the heuristics.
    d1_min : sympy.Expr
        The threshold: (9) holds iff ``d1 >= d1_min`` (solved by SymPy).
    n_exponent, d0_exponent : sympy.Rational
        Exponents of ``n`` and ``d0`` in ``d1_min``.
    constant : sympy.Expr
        ``d1_min / (n^p d0^q)``, free of ``n, d0, d1``.
    part : str
        For ``"features"``: which part of ``sigma_max(phi(W0X))`` is
        larger, ``"mean"`` (``|c_0| sqrt(d1 n)``), ``"linear"``
        (``sqrt(Var d1) sigma_max(X)``), ``"mean = linear"`` or
        ``"max"`` (undecided, symbolic constants).
    steps : tuple of Step
        The derivation of ``d1_min``.

    Examples
    --------
    >>> r = width_setting("lecun").regimes["features"]
    >>> r.n_exponent, r.d0_exponent, r.part
    (3/2, 1, 'linear')
    """

    name: str
    nu_term: str
    nu: object
    d1_min: object
    n_exponent: object
    d0_exponent: object
    constant: object
    part: str = ""
    steps: tuple = ()


@dataclass(frozen=True)
class WidthSetting:
    """The width condition of one initialization setting, every regime solved.

    Attributes
    ----------
    name : str
        One of :data:`SETTINGS`.
    activation : str
        One of ``ACTIVATIONS``.
    t : int
        Khatri-Rao power (``c_t`` sets ``mu_Phi``).
    init : tuple or None
        ``(omega1, omega2)`` as SymPy expressions of ``d0, d1``; None for
        ``"paper"``.
    quantities : dict
        ``mu``, ``nu_v0``, ``nu_features``, ``nu_mean``, ``nu_linear``,
        ``beta``, ``h0`` at leading order, after the heuristics.
    regimes : dict
        ``"features"`` and ``"v0"`` :class:`Regime` objects.
    leading : str
        The regime that sets the width for large ``n`` (largest exponent
        of ``n``, then of ``d0``, then the constant).
    threshold : sympy.Expr
        ``Max`` of the regime thresholds: with ``nu_Phi`` replaced by the
        larger of its two terms, (9) holds iff ``d1 >= threshold``
        (Lemma 3's sum is at most twice that, which changes constants by
        at most 2).
    crossover : dict
        ``n`` (the ``n`` at which the two regime thresholds are equal, as
        an expression in ``d0``, or None), ``leading_when`` (text),
        ``d1`` (the width at which the two terms of ``nu_Phi`` are equal).
    sharp : Regime
        The width from the sharp flow length ``h0 <= alpha mu^4 / (32
        beta^2)`` of :func:`derivations.framework.theorem1_condition_steps`,
        which needs no ``nu_Phi``.
    steps : tuple of Step
        The whole derivation, in order.

    Examples
    --------
    >>> ws = width_setting("paper")
    >>> ws.leading, ws.regimes["features"].d0_exponent
    ('features', -1)
    """

    name: str
    activation: str
    t: int
    init: object
    quantities: dict
    regimes: dict
    leading: str
    threshold: object
    crossover: dict
    sharp: object
    steps: tuple


# ------------------------------------------------------------------ building blocks
def _check_names(setting, activation):
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def default_t(activation="gelu"):
    """Smallest Khatri-Rao power ``t >= 2`` whose ``c_t`` is not zero by parity.

    Parameters
    ----------
    activation : str, default 'gelu'
        One of ``ACTIVATIONS``.

    Returns
    -------
    int
        ``t`` (GELU and shifted softplus: 2; tanh: 3).

    Raises
    ------
    ValueError
        If the activation is unknown.

    Notes
    -----
    The paper's regime is ``n ~ d0^t``, ``t >= 2`` (``paper.md``
    section 2); ``mu_Phi`` rests on ``c_t != 0``.

    Examples
    --------
    >>> default_t("gelu"), default_t("tanh")
    (2, 3)
    """
    _check_names("paper", activation)
    phi = activation_expr(activation)
    for tt in range(2, 8):
        if leading_order(phi, tt)[0] != 0:
            return tt
    raise ValueError(f"no c_t with 2 <= t < 8 is non-zero for {activation}")  # pragma: no cover


@lru_cache(maxsize=None)
def _sharp_h0():
    """``alpha mu^4 / (32 beta^2)``: the sharp flow-length condition, solved once."""
    return theorem1_condition_steps()["h0_max_sharp"]


def _same(a, b):
    """True if ``a == b`` after a targeted normal form (difference, else ratio)."""
    if is_zero(a - b):
        return True
    if b == 0:
        return False
    ratio = factor(cancel(a / b))
    if ratio == 1:
        return True
    # every symbol positive: denesting powers is then valid
    if all(sym.is_positive for sym in ratio.free_symbols):
        return factor(powdenest(ratio, force=True)) == 1
    return False


def _monomial_threshold(lhs, rhs, d1=S.d1):
    """``d1_min`` with ``lhs <= rhs`` iff ``d1 >= d1_min``, for ``rhs = K d1^p``, ``p > 0``."""
    p = exponent(rhs, d1)
    K = cancel(rhs / d1**p)
    if d1 in K.free_symbols or d1 in lhs.free_symbols:
        raise ValueError(f"(9) is not a monomial inequality in d1: {lhs} <= {rhs}")
    if not p.is_positive:
        raise ValueError(f"the right side of (9) does not grow with d1 (exponent {p})")
    return (lhs / K) ** (1 / p), p, K


def _dominant_terms(expr, var):
    """The terms of ``expr`` (a sum of monomials in ``var``) that dominate as ``var -> oo``."""
    terms = expand(expr).as_ordered_terms()
    if len(terms) == 1:
        return expr
    exps = [exponent(term, var) for term in terms]
    top = max(exps)
    return sum((term for term, e in zip(terms, exps) if e == top), Integer(0))


def _dominant_max(mean, linear):
    """Leading order of ``Max(mean, linear)`` for two monomials in ``n, d0, d1``."""
    if mean == 0:
        return linear, "linear"
    if linear == 0:  # pragma: no cover - Var vanishes only for phi = const
        return mean, "mean"
    for v in (S.n, S.d1):
        if exponent(mean, v) != exponent(linear, v):
            raise ValueError(f"the parts of sigma_max(phi(W0X)) scale differently in {v}")
    e_mean, e_lin = exponent(mean, S.d0), exponent(linear, S.d0)
    if e_mean != e_lin:  # d0 >> 1 decides
        return (mean, "mean") if e_mean > e_lin else (linear, "linear")
    ratio = cancel(mean / linear)
    bigger = (ratio - 1).is_positive
    if bigger is True:
        return mean, "mean"
    if bigger is False:
        return (linear, "linear") if (ratio - 1).is_negative else (mean, "mean = linear")
    return Max(ratio, 1) * linear, "max"  # pragma: no cover - symbolic constants


@lru_cache(maxsize=None)
def _leading_coefficients(activation, tt):
    """Leading terms in ``omega1`` of ``c_t, c_0, Var, E[phi^2]``, with their steps."""
    phi = activation_expr(activation)
    subs, steps = {}, []
    specs = ((S.c_t, "c_t", dict(kk=tt)), (S.c0, "c_0", dict(kk=0)),
             (S.var_phi, "Var[phi(omega1 g)]", dict(quantity="variance")),
             (S.E_phi_sq, "E[phi(omega1 g)^2]", dict(quantity="square")))
    for sym, label, kw in specs:
        gamma, p = leading_order(phi, var=S.x, omega=S.omega1, **kw)
        value = Integer(0) if p is None else gamma * S.omega1**p
        if sym is S.c_t and value == 0:
            raise ValueError(f"c_{tt} of {activation} vanishes by parity: mu_Phi = 0; "
                             f"choose t = {default_t(activation)}")
        subs[sym] = value
        kk = kw.get("kk")
        if p is None:
            steps.append(Step(f"{sym.name}_parity", sym, "==", 0, how="assumption",
                              tag="[DERIVED]", source="Sec. 4",
                              given=f"parity of {activation} (parity_vanishing)"))
        elif activation == "gelu" and kk is not None:
            closed = gelu_coefficient(kk, S.omega1)
            steps.append(Step(f"{sym.name}_leading", limit(closed / value, S.omega1, 0), "==", 1,
                              tag="[DERIVED]", source="Sec. 4 / 8",
                              lhs_label=f"lim_(omega1 -> 0) {label}(omega1) / ({sstr(value)})",
                              note=f"{label} = {sstr(value)} (1 + O(omega1^2)), from the closed "
                                   "form"))
        else:
            steps.append(Step(f"{sym.name}_leading", sym, "==", value, how="assumption",
                              tag="[DERIVED]", source="Sec. 4 / 8",
                              given="leading term of the small-omega1 expansion (Taylor of phi "
                                    "at 0 and Gaussian moments); relative error O(omega1^2)"))
    return subs, tuple(steps)


def _paper_quantities():
    q = {"mu": S.a_mu * sqrt(S.d1) * S.s_t, "nu_features": S.b_nu * sqrt(S.d1 * S.n),
         "nu_v0": S.phi_dot_max * S.sigma_max_X * S.sigma_max_V0,
         "beta": S.c_beta * S.sigma_max_X, "h0": S.k_h0 * S.sigma_max_X**2}
    steps = [
        Step("paper_scalings", S.mu_Phi, "==", q["mu"], how="assumption", tag="[DERIVED]",
             source="Sec. 5.3", given="the paper's chain: a, b, c, k constants; nu = b "
                                      "sqrt(d1 n), beta = c sigma_max(X), h0 = k sigma_max(X)^2"),
        Step("paper_v0_term", S.nu_Phi, "==", q["nu_v0"], how="assumption", tag="[EXACT]",
             source="eq. (18)", given="the first term of Lemma 3's nu_Phi, sigma_max(V0) "
                                      "constant (the paper's chi_max = O(1))"),
    ]
    q = {key: v.subs(_HEURISTICS) for key, v in q.items()}
    q["part"] = ""
    return q, steps


def _init_quantities(setting, activation, tt, exact, part=None):
    """Lemma 3 at initialization, leading order in ``omega1`` unless ``exact``.

    With ``exact``, the coefficients stay symbols (``abs_c_t``, ...) and the
    features term is ``Max`` of its parts, or the one named by ``part``.
    """
    om1, om2 = _INITS[setting]
    est = lemma3_init_estimates(tt=tt, delta1=1 - S.slack_mu, delta2=S.slack_nu - 1,
                                sigma_max_V0=S.omega2 * sqrt(S.d1))
    exact_v0 = S.omega2 * (sqrt(S.d1) + sqrt(S.d2))
    steps = list(est["steps"])
    steps += [
        Step("init", S.omega1**2, "==", om1**2, how="assumption", tag="[EXACT]",
             source="eq. (17)", given=f"{setting}: omega2^2 = {sstr(om2**2)} (eq. 19 holds: "
                                      f"omega1^2 omega2^2 = {sstr(om1**2 * om2**2)})"),
        Step("d1_much_larger_than_d2", limit(exact_v0 / (S.omega2 * sqrt(S.d1)), S.d1, oo), "==",
             1, tag="[DERIVED]", source="Sec. 4",
             lhs_label="lim_(d1 -> oo) omega2 (sqrt(d1) + sqrt(d2)) / (omega2 sqrt(d1))",
             note="sigma_max(V0) = omega2 sqrt(d1) at leading order; at LeCun = 1"),
        Step("labels_lower_order", S.h0, "==", est["h0"].subs(S.y_sq, 0), how="assumption",
             tag="[DERIVED]", source="Sec. 4",
             given="||Y||^2 <= 1 while omega2^2 d1 d2 n E[phi(omega1 g)^2] ~ k n/d0 >> 1"),
        Step("heuristics", S.sigma_max_X**2, "==", S.n / S.d0, how="assumption", tag="[EXACT]",
             source="Sec. 2 / 5.3", given="sigma_max(X)^2 = n/d0 and s_t = 1 (Oymak-"
                                          "Soltanolkotabi heuristics)"),
    ]
    if not exact and setting != "unit_omega1":
        coef, csteps = _leading_coefficients(activation, tt)
        steps += list(csteps)
    else:
        # constant coefficients: only |c_t| and |c_0| enter mu_Phi and nu_Phi
        zero_c0 = leading_order(activation_expr(activation), 0)[1] is None
        coef = {S.c_t: S.abs_c_t, S.c0: Integer(0) if zero_c0 else S.abs_c0}
        steps.append(Step("moduli", Abs(S.c_t), "==", S.abs_c_t, how="definition",
                          tag="[DERIVED]", source="eq. (18)",
                          given="c_t, c_0 enter only through |c_t|, |c_0|"
                                + ("; c_0 = 0 by parity" if zero_c0 else "")))
    subs_init = {S.omega1: om1, S.omega2: om2}
    raw = {"mu": est["mu_Phi"], "nu_v0": est["nu_v0"], "nu_mean": est["nu_mean"],
           "nu_linear": est["nu_linear"], "beta": est["beta_Phi"],
           "h0": est["h0"].subs(S.y_sq, 0)}
    q = {key: v.subs(coef).subs(subs_init).subs(_HEURISTICS) for key, v in raw.items()}
    beta_full = q["beta"]
    q["beta"] = _dominant_terms(q["beta"], S.d0)
    if not is_zero(q["beta"] - beta_full):
        steps.append(Step("beta_d0_large", q["beta"], "==", q["beta"], how="assumption",
                          tag="[DERIVED]", source="Lemma 3",
                          given=f"d0 >> 1: beta_Phi = {sstr(beta_full)} at leading order"))
    if exact and part is not None:
        q["nu_features"], q["part"] = q["nu_" + part], part
    elif exact:
        common = sqrt(S.slack_nu * S.d1 * S.n)
        q["nu_features"] = common * Max(cancel(q["nu_mean"] / common),
                                        cancel(q["nu_linear"] / common))
        q["part"] = "max"
    else:
        q["nu_features"], q["part"] = _dominant_max(q["nu_mean"], q["nu_linear"])
        steps.append(Step("features_part", S.sigma_max_phi, "==", q["nu_features"],
                          how="assumption", tag="[DERIVED]", source="follow-up Lemma 2",
                          given=f"the {q['part']} part of sigma_max(phi(W0X)) is the larger at "
                                f"leading order: mean {sstr(q['nu_mean'])}, linear "
                                f"{sstr(q['nu_linear'])}"))
    return q, steps


def _solve_regime(name, q, alpha=S.alpha_f, C=S.C_9):
    nu = q["nu_features"] if name == "features" else q["nu_v0"]
    cond = theorem1_condition(q["h0"], alpha, q["mu"], nu, q["beta"], C)
    d1_min, p, K = _monomial_threshold(cond.lhs, cond.rhs)
    u = Symbol("u", positive=True)
    steps = [
        Step(f"{name}_eq9", cond.lhs, "<=", cond.rhs, how="assumption", tag="[EXACT]",
             source="eq. (9)", given=f"Theorem 1 with nu_Phi = {_NU_TERMS[name]} (the larger "
                                     "term) and the leading-order constants above"),
        Step(f"{name}_rhs_grows", cond.rhs, "==", K * S.d1**p, tag="[DERIVED]",
             source="eq. (20)", note=f"right side of (9) = K d1^{p}, K > 0: (9) holds iff "
                                     "d1 >= d1_min"),
        Step(f"{name}_tight", cond.rhs.subs(S.d1, d1_min), "==", cond.lhs, tag="[DERIVED]",
             source="eq. (20)", lhs_label="right side of (9) at d1 = d1_min",
             note=f"d1_min = {sstr(d1_min)}",
             proof=lambda: _same(cond.rhs.subs(S.d1, d1_min), cond.lhs)),
    ]
    pn, pd = exponent(d1_min, S.n), exponent(d1_min, S.d0)
    const = factor(cancel(d1_min / (S.n**pn * S.d0**pd)))
    if {S.n, S.d0, S.d1} & const.free_symbols:  # pragma: no cover - guarded by exponent()
        raise RuntimeError(f"threshold {d1_min} is not a monomial in n, d0")
    mono = const * S.n**pn * S.d0**pd
    steps.append(Step(f"{name}_exponents", d1_min, "==", mono,
                      tag="[DERIVED]", source="eq. (21)", lhs_label="d1_min",
                      note=f"d1 >~ n^({pn}) d0^({pd})", proof=lambda: _same(d1_min, mono)))
    # a second check of "K > 0" independent of the monomial split: d(rhs)/d(d1) > 0
    grows = cond.rhs.diff(S.d1).subs(S.d1, u)
    steps.append(Step(f"{name}_monotone", grows, ">", 0, tag="[DERIVED]", source="eq. (20)",
                      lhs_label="d/d(d1) of the right side of (9)",
                      proof=lambda: grows.is_positive is True))
    return Regime(name, _NU_TERMS[name], nu, d1_min, pn, pd, const,
                  q["part"] if name == "features" else "", tuple(steps))


def _solve_sharp(q):
    rhs = _sharp_h0().subs({S.mu_Phi: q["mu"], S.beta_Phi: q["beta"]})
    d1_min, p, K = _monomial_threshold(q["h0"], rhs)
    pn, pd = exponent(d1_min, S.n), exponent(d1_min, S.d0)
    const = factor(cancel(d1_min / (S.n**pn * S.d0**pd)))
    steps = (Step("sharp_condition", q["h0"], "<=", rhs, how="assumption", tag="[DERIVED]",
                  source="eq. (9)", given="flow length 2 sqrt(2 h0/alpha)/mu <= rho_Phi "
                                          "(theorem1_condition_steps, h0_max_sharp)"),
             Step("sharp_tight", rhs.subs(S.d1, d1_min), "==", q["h0"], tag="[DERIVED]",
                  source="eq. (9)", lhs_label="alpha mu^4/(32 beta^2) at d1 = d1_min",
                  proof=lambda: _same(rhs.subs(S.d1, d1_min), q["h0"])))
    return Regime("sharp", "none (the sharp flow length needs no nu_Phi)", None, d1_min, pn,
                  pd, const, "", steps)


def _crossover(regimes, q):
    dF, dV = regimes["features"].d1_min, regimes["v0"].d1_min
    ratio = cancel(dF / dV)
    pn, pd = exponent(ratio, S.n), exponent(ratio, S.d0)
    K = cancel(ratio / (S.n**pn * S.d0**pd))
    steps = []
    if pn != 0:
        n_x = factor((1 / K) ** (1 / pn)) * S.d0 ** (-pd / pn)
        at_x = ratio.subs(S.n, n_x)
        steps.append(Step("crossover", at_x, "==", 1, tag="[DERIVED]", source="eq. (21)",
                          lhs_label="(features threshold) / (v0 threshold) at n = n_x(d0)",
                          note=f"n_x = {sstr(n_x)}", proof=lambda: _same(at_x, 1)))
        side = ">" if pn > 0 else "<"
        leading_when = f"features leads iff n {side} n_x(d0) = {sstr(n_x)}"
    else:
        n_x = None
        leading_when = (f"the thresholds differ by the factor {sstr(ratio)} at every n "
                        "(no crossover in n)")
    d1_x, _, _ = _monomial_threshold(q["nu_v0"], q["nu_features"])
    d1_x = factor(d1_x)
    steps.append(Step("nu_terms_equal", q["nu_features"].subs(S.d1, d1_x), "==", q["nu_v0"],
                      tag="[DERIVED]", source="eq. (18)",
                      lhs_label="sigma_max(phi(W0X)) at d1 = d1_x",
                      note=f"sigma_max(phi(W0X)) dominates nu_Phi iff d1 > d1_x = {sstr(d1_x)}",
                      proof=lambda: _same(q["nu_features"].subs(S.d1, d1_x), q["nu_v0"])))
    return {"n": n_x, "n_exponent_of_d0": None if n_x is None else -pd / pn,
            "ratio": ratio, "leading_when": leading_when, "d1": d1_x}, steps


@lru_cache(maxsize=None)
def width_setting(setting="lecun", activation="gelu", t=None):
    """Solve (9) for the width in one setting, per regime of ``nu_Phi``.

    Parameters
    ----------
    setting : {'paper', 'lecun', 'he', 'unit_omega1'}, default 'lecun'
        Initialization (see the module docstring).
    activation : {'gelu', 'shifted_softplus', 'tanh'}, default 'gelu'
        Activation (its Taylor coefficients at 0 set the leading orders).
    t : int, optional
        Khatri-Rao power; default :func:`default_t`.

    Returns
    -------
    WidthSetting
        Regimes, leading regime, crossover, the sharp variant and the
        derivation steps (SymPy objects).

    Raises
    ------
    ValueError
        If the setting or activation is unknown, or ``c_t`` vanishes.

    Notes
    -----
    [DERIVED] from eq. (9) (:func:`derivations.framework.theorem1_condition`)
    with Lemma 3 (eq. 18) at initialization
    (:func:`derivations.shallow.lemma3_init_estimates`), the leading
    orders of :func:`derivations.hermite.leading_order` and the
    heuristics of eq. (21).  Because the right side of (9) decreases in
    ``nu_Phi`` and grows in ``d1`` in each regime, (9) with ``nu_Phi``
    replaced by the larger of its terms holds iff ``d1`` exceeds both
    regime thresholds.

    Examples
    --------
    >>> ws = width_setting("lecun", "gelu")
    >>> ws.leading, ws.regimes["v0"].n_exponent, ws.regimes["v0"].d0_exponent
    ('features', 1, 1)
    >>> ws.crossover["n_exponent_of_d0"]
    0
    """
    _check_names(setting, activation)
    tt = default_t(activation) if t is None else int(t)
    if tt < 1:
        raise ValueError(f"t must be a positive integer, got {t!r}")
    if setting == "paper":
        q, steps = _paper_quantities()
        init = None
    else:
        q, steps = _init_quantities(setting, activation, tt, exact=False)
        init = _INITS[setting]
    regimes = {name: _solve_regime(name, q) for name in ("features", "v0")}
    for r in regimes.values():
        steps += list(r.steps)
    if setting == "paper":
        out21 = eq21_derivation()
        steps.append(Step("paper_unchanged", regimes["features"].d1_min, "==",
                          out21["d1_min"], tag="[EXACT]", source="eq. (21)",
                          lhs_label="features threshold of the paper's setting",
                          note="equals eq21_derivation()['d1_min']: d1 >~ n^{3/2}/d0"))
    crossover, xsteps = _crossover(regimes, q)
    steps += xsteps
    sharp = _solve_sharp(q)
    steps += list(sharp.steps)

    def key(name):
        r = regimes[name]
        return (r.n_exponent, r.d0_exponent)

    ranked = sorted(regimes, key=key, reverse=True)
    leading = ranked[0]
    if key(ranked[0]) == key(ranked[1]):  # same exponents: the constant decides
        diff = cancel(regimes[ranked[0]].constant - regimes[ranked[1]].constant)
        if diff.is_negative is True:
            leading = ranked[1]
    threshold = Max(regimes["features"].d1_min, regimes["v0"].d1_min)
    return WidthSetting(setting, activation, tt, init, q, regimes, leading, threshold,
                        crossover, sharp, tuple(steps))


# ------------------------------------------------------------ numeric values
def _mp(v):
    if isinstance(v, Rational):
        return mpmath.mpf(v.p) / v.q
    return mpmath.mpf(v)


@lru_cache(maxsize=None)
def _derived_constants():
    return {"C_9": eq9_constant(), "alpha_f": quadratic_loss_constants()["alpha_f"]}


def _activation_constants(activation):
    from pl_toolkit import get_activation

    act = get_activation(activation)
    return act.phi_dot_max, act.phi_ddot_max


@lru_cache(maxsize=None)
def _exact_coefficients(activation, tt, omega1, dps):
    """The mpmath ``c_0, c_t, E[phi^2], Var`` of ``x -> phi(omega1 x)`` (omega1 as a string)."""
    phi = activation_mpmath(activation)
    with mpmath.workdps(dps):
        om = mpmath.mpf(omega1)
        c0 = hermite_coefficient_mpmath(phi, 0, om, dps)
        ct = hermite_coefficient_mpmath(phi, tt, om, dps)
        e2 = gaussian_expectation_mpmath(lambda z: phi(z) ** 2, om, dps)
        return {"c_0": c0, "c_t": ct, "E_phi_sq": e2, "Var_phi": e2 - c0**2}


def _default_values(activation, d2=1, delta1=0, delta2=0):
    dot, ddot = _activation_constants(activation)
    dc = _derived_constants()
    return {"C_9": _mp(dc["C_9"]), "alpha_f": _mp(dc["alpha_f"]),
            "slack_mu": 1 - _mp(delta1), "slack_nu": 1 + _mp(delta2), "d2": _mp(d2),
            "phi_dot_max": _mp(dot), "phi_ddot_max": _mp(ddot)}


def _constant_value(expr, values):
    free = {s.name for s in expr.free_symbols}
    if not free <= set(values):
        return None
    return float(evaluate(expr, backend="mpmath", **values))


def _ex(r):
    return sstr(r)


def _monomial_text(const, pn, pd):
    """``"15.17*n**(3/2)*d0"``; ``"K*..."`` when the constant is symbolic (None)."""
    parts = ["K"] if const is None else [f"{const:.4g}"]
    if pn != 0:
        parts.append("n" if pn == 1 else f"n**({pn})")
    if pd != 0:
        parts.append("d0" if pd == 1 else f"d0**({pd})")
    return "*".join(parts) if parts else "1"


def _regime_json(r, values):
    const = _constant_value(r.constant, values)
    return {"nu_term": r.nu_term, "n": _ex(r.n_exponent), "d0": _ex(r.d0_exponent),
            "d1_min": _monomial_text(const, r.n_exponent, r.d0_exponent),
            "d1_min_symbolic": sstr(r.constant * S.n**r.n_exponent * S.d0**r.d0_exponent),
            "constant": const,
            "constant_symbolic": sstr(r.constant), "part": r.part or None}


def _values_for(setting, activation, tt, dps=30):
    values = _default_values(activation)
    if setting == "unit_omega1":
        ex = _exact_coefficients(activation, tt, "1", dps)
        values.update({"abs_c_t": abs(ex["c_t"]), "abs_c_0": abs(ex["c_0"]),
                       "E_phi_sq": ex["E_phi_sq"], "Var_phi": ex["Var_phi"]})
    return values


@lru_cache(maxsize=None)
def _width_conditions_cached(activation, t, settings):
    out = {}
    for setting in settings:
        ws = width_setting(setting, activation, t)
        values = _values_for(setting, activation, ws.t)
        lead = ws.regimes[ws.leading]
        lead_json = _regime_json(lead, values)
        cx = ws.crossover
        n_x_const = None
        if cx["n"] is not None:
            n_x_const = _constant_value(cancel(cx["n"] / S.d0 ** cx["n_exponent_of_d0"]), values)
        d1x_pd = exponent(cx["d1"], S.d0)
        d1x_pn = exponent(cx["d1"], S.n)
        d1x_const = _constant_value(cancel(cx["d1"] / (S.n**d1x_pn * S.d0**d1x_pd)), values)
        params_n, params_d0 = lead.n_exponent, lead.d0_exponent + 1
        along = lead.n_exponent + lead.d0_exponent / ws.t
        out[setting] = {
            "setting": setting, "activation": activation, "t": ws.t,
            "init": None if ws.init is None else {"omega1_sq": _INIT_TEXT[setting][0],
                                                  "omega2_sq": _INIT_TEXT[setting][1]},
            "n": lead_json["n"], "d0": lead_json["d0"],
            "leading_regime": ws.leading,
            "d1_min": lead_json["d1_min"], "constant": lead_json["constant"],
            "d1_min_symbolic": lead_json["d1_min_symbolic"],
            "parameter_count": {"n": _ex(params_n), "d0": _ex(params_d0)},
            "along_n_eq_d0_t": {"width_n": _ex(along),
                                "parameters_n": _ex(along + Rational(1, ws.t))},
            "regimes": {name: _regime_json(r, values) for name, r in ws.regimes.items()},
            "crossover": {
                "between": ["features", "v0"],
                "n": None if cx["n"] is None else sstr(cx["n"]),
                "n_exponent_of_d0": None if cx["n"] is None else _ex(cx["n_exponent_of_d0"]),
                "n_constant": n_x_const,
                "leading_when": cx["leading_when"],
                "d1": sstr(cx["d1"]),
                "d1_text": _monomial_text(d1x_const, d1x_pn, d1x_pd),
                "d1_constant": d1x_const,
            },
            "sharp_flow_length": _regime_json(ws.sharp, values),
            "paper_21": {"n": "3/2", "d0": "-1"},
            "constants": {"C_9": _ex(_derived_constants()["C_9"]),
                          "alpha_f": _ex(_derived_constants()["alpha_f"]),
                          "delta_1": "0", "delta_2": "0", "d2": "1",
                          "phi_dot_max": float(values["phi_dot_max"]),
                          "phi_ddot_max": float(values["phi_ddot_max"])},
            "assumptions": [
                "sigma_max(X)^2 = n/d0, s_t = 1 (heuristics of eq. 21)",
                "d1 >> d2: sigma_max(V0) = omega2 sqrt(d1); chi_max = sigma_max(V0)",
                "h0 = E||V0 phi(W0 X)||^2 = omega2^2 d1 d2 n E[phi(omega1 g)^2] "
                "(= k sigma_max(X)^2 under the heuristic; ||Y||^2 <= 1 of lower order for "
                "n >> d0)" if setting != "paper" else "h0 = k sigma_max(X)^2 (the paper's chain)",
                "Hermite coefficients at leading order in omega1 (relative error O(1/d0))"
                if setting in ("lecun", "he") else
                "Hermite coefficients constant (omega1 fixed)" if setting == "unit_omega1"
                else "a, b, c, k constants (the paper's chain)",
                "nu_Phi replaced by its larger term (Lemma 3's sum is at most twice that)",
            ],
            "derivation_failed_steps": [s.name for s in ws.steps if s.verify() is False],
        }
    return out


def width_conditions(activation="gelu", t=None, settings=SETTINGS):
    """The width condition (20) -> (21) per setting, as plain Python data.

    Parameters
    ----------
    activation : {'gelu', 'shifted_softplus', 'tanh'}, default 'gelu'
        Activation.
    t : int, optional
        Khatri-Rao power; default :func:`default_t`.
    settings : sequence of str, default :data:`SETTINGS`
        Which settings to include.

    Returns
    -------
    dict
        ``{setting: entry}``, JSON-serialisable.  Each ``entry`` has

        * ``"n"``, ``"d0"``: exponents of ``n`` and ``d0`` in ``d1 >~
          n^n d0^d0`` of the leading regime, exact strings (``"3/2"``);
        * ``"leading_regime"``: ``"features"`` or ``"v0"``;
        * ``"d1_min"`` (text, e.g. ``"15.17*n**(3/2)*d0"``; ``"K*..."``
          when the constant is symbolic),
          ``"constant"`` (float, or None for ``"paper"``),
          ``"d1_min_symbolic"`` (SymPy text);
        * ``"setting"``, ``"activation"``, ``"t"``, ``"init"`` (``{"omega1_sq",
          "omega2_sq"}`` texts, None for ``"paper"``);
        * ``"parameter_count"``: ``{"n", "d0"}`` exponents of ``d0 d1``;
        * ``"along_n_eq_d0_t"``: ``{"width_n", "parameters_n"}``, exponents
          of ``n`` in ``d1`` and ``d0 d1`` when ``n = d0^t``;
        * ``"regimes"``: ``{"features": r, "v0": r}`` with ``r`` =
          ``{"nu_term", "n", "d0", "d1_min", "d1_min_symbolic",
          "constant", "constant_symbolic", "part"}``;
        * ``"crossover"``: ``{"between", "n", "n_exponent_of_d0",
          "n_constant", "leading_when", "d1", "d1_text",
          "d1_constant"}``: the regime thresholds are equal at ``n =
          n_constant d0^n_exponent_of_d0``; the two terms of ``nu_Phi``
          are equal at ``d1 = d1_text``;
        * ``"sharp_flow_length"``: a regime entry for the sharp condition
          ``h0 <= alpha mu^4 / (32 beta^2)``;
        * ``"paper_21"``: ``{"n": "3/2", "d0": "-1"}``, for comparison;
        * ``"constants"``: ``C_9``, ``alpha_f`` (derived), ``delta_1``,
          ``delta_2``, ``d2`` (texts), ``phi_dot_max``, ``phi_ddot_max``
          (floats) behind every ``constant``;
        * ``"assumptions"``: list of texts;
        * ``"derivation_failed_steps"``: names of algebra steps SymPy
          could not prove (empty).

    Raises
    ------
    ValueError
        If the activation or a setting is unknown.

    Notes
    -----
    [DERIVED] eqs. (9), (18), (20), (21); see :func:`width_setting`.
    Constants are leading order in ``1/d0`` with ``C_9 = 1/32``,
    ``alpha_f = 2``, ``delta_1 = delta_2 = 0``, ``d2 = 1``; the exact
    (mpmath) threshold at given ``n, d0`` is :func:`width_threshold`.

    Examples
    --------
    >>> wc = width_conditions()
    >>> wc["lecun"]["d1_min"], wc["lecun"]["parameter_count"]
    ('15.17*n**(3/2)*d0', {'n': '3/2', 'd0': '2'})
    >>> wc["lecun"]["along_n_eq_d0_t"]
    {'width_n': '2', 'parameters_n': '5/2'}
    """
    for s in settings:
        _check_names(s, activation)
    return copy.deepcopy(_width_conditions_cached(activation, t, tuple(settings)))


# ------------------------------------------------------ numeric thresholds
_NUMERIC_INITS = ("lecun", "he", "unit_omega1")


@lru_cache(maxsize=None)
def _omega_sq_functions(init):
    """The mpmath ``(d0, d1) -> omega1^2``, ``omega2^2`` of an initialization, from ``_INITS``."""
    om1, om2 = _INITS[init]
    f1, f2 = make_function(om1**2, "mpmath"), make_function(om2**2, "mpmath")

    def call(f, d0, d1):
        vals = {"d0": _mp(d0), "d1": _mp(d1)}
        return _mp(f(**{nm: vals[nm] for nm in f.names})) if f.names else _mp(f.expr)

    return (lambda d0, d1: call(f1, d0, d1)), (lambda d0, d1: call(f2, d0, d1))


@lru_cache(maxsize=None)
def _numeric_functions(tt):
    """The mpmath functions of Lemma 3 at initialization and of (9) (exact estimates)."""
    est = lemma3_init_estimates(tt=tt, delta1=1 - S.slack_mu, delta2=S.slack_nu - 1)
    cond = theorem1_condition(est["h0"], S.alpha_f, est["mu_Phi"], est["nu_Phi"],
                              est["beta_Phi"], S.C_9)
    sharp = _sharp_h0().subs(
        {S.mu_Phi: est["mu_Phi"], S.beta_Phi: est["beta_Phi"]})
    exprs = {"rhs9": cond.rhs, "sharp": sharp, "h0": est["h0"], "mu": est["mu_Phi"],
             "beta": est["beta_Phi"], "nu": est["nu_Phi"], "nu_v0": est["nu_v0"],
             "nu_mean": est["nu_mean"], "nu_linear": est["nu_linear"]}
    return {key: make_function(e, "mpmath") for key, e in exprs.items()}


def _positive_number(name, value, integer=False, allow_zero=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} "
                         f"and finite, got {value!r}")
    if integer and v != int(v):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(v) if integer else v


def _bisect_log(f, lo=1e-9, hi=1e60, rtol=1e-13):
    """Root of an increasing ``f`` on ``[lo, hi]`` by bisection in ``log``."""
    flo, fhi = f(lo), f(hi)
    if flo >= 0:
        return lo
    if fhi < 0:
        raise RuntimeError(f"(9) fails up to d1 = {hi:g}; the estimates are out of range")
    a, b = math.log(lo), math.log(hi)
    while b - a > rtol:
        m = 0.5 * (a + b)
        if f(math.exp(m)) < 0:
            a = m
        else:
            b = m
    return math.exp(0.5 * (a + b))


def width_threshold(n, d0, activation="gelu", init="lecun", *, t=None, d2=1,
                    sigma_max_X=None, s_t=None, h0=None, y_norm_sq=1.0, C_9=None,
                    alpha_f=None, delta1=0.0, delta2=0.0, d1=None, dps=30):
    """The width needed by (20) at the derived constant, with exact coefficients.

    Parameters
    ----------
    n, d0 : int
        Samples and input dimension (positive).
    activation : {'gelu', 'shifted_softplus', 'tanh'}, default 'gelu'
        Activation.
    init : {'lecun', 'he', 'unit_omega1'}, default 'lecun'
        Initialization (``omega1``, ``omega2`` as in :data:`SETTINGS`).
    t : int, optional
        Khatri-Rao power; default :func:`default_t`.
    d2 : int, default 1
        Output dimension.
    sigma_max_X : float, optional
        ``sigma_max(X)``; default the heuristic ``sqrt(n/d0)``.
    s_t : float, optional
        ``sigma_min(X^{*t})``; default the heuristic 1.
    h0 : float, optional
        ``h(w0)``; default its expectation ``omega2^2 d1 d2 n
        E[phi(omega1 g)^2] + y_norm_sq``.
    y_norm_sq : float, default 1.0
        ``||Y||_F^2`` in the default ``h0`` (the paper's ``||Y|| <= 1``).
    C_9 : float, optional
        Constant of (9); default the derived ``1/32``
        (:func:`derivations.framework.eq9_constant`).
    alpha_f : float, optional
        PL constant of ``f``; default the derived 2.
    delta1, delta2 : float, default 0.0
        Concentration slacks of ``mu_Phi`` (``0 <= delta1 < 1``) and
        ``nu_Phi`` (``>= 0``).
    d1 : float, optional
        A width at which to evaluate (9): adds ``at_d1``.
    dps : int, default 30
        mpmath digits of the Hermite quadratures (at least 15).

    Returns
    -------
    dict
        * ``d1_min``: smallest ``d1`` with (9) at the estimates of
          :func:`derivations.shallow.lemma3_init_estimates` (Lemma 3's
          sum ``nu_Phi``, ``sigma_max(V0) = omega2 (sqrt(d1) + sqrt(d2))``);
        * ``d1_min_sharp``: the same for ``h0 <= alpha mu^4/(32 beta^2)``;
        * ``regime``: ``"features"`` or ``"v0"``, the larger term of
          ``nu_Phi`` at ``d1_min``; ``features_part``: ``"mean"`` or
          ``"linear"``; ``nu_terms``: both terms at ``d1_min``;
        * ``leading_order``: ``{"d1_min", "n", "d0", "ratio",
          "heuristics"}``, the regime's formula of :func:`width_setting`
          at the same constants, and ``d1_min`` over it (meaningful when
          ``heuristics`` is True);
        * ``paper_21``: ``n^{3/2}/d0`` (the paper's (21) without its
          constant);
        * ``constants``: every number used (``C_9``, ``alpha_f``,
          ``delta1``, ``delta2``, ``d2``, ``sigma_max_X``, ``s_t``,
          ``h0``, ``h0_source``, ``phi_dot_max``, ``phi_ddot_max``,
          ``omega1``, ``c_0``, ``c_t``, ``E_phi_sq``, ``Var_phi``);
        * ``at_d1`` (when ``d1`` is given): ``{"d1", "implied_C9",
          "shortfall", "holds"}``: the constant (9) needs at ``d1``, its
          ratio to ``C_9``, and whether (9) holds there.

    Raises
    ------
    ValueError
        If an argument is out of range (the message names it).

    Notes
    -----
    [DERIVED] eqs. (9), (18), (20) at initialization.  The right side of
    (9) grows with ``d1`` (``mu^6 ~ d1^3`` against ``nu^2 <~ d1``,
    ``beta`` non-increasing), so ``d1_min`` is found by bisection in
    ``log d1``.  Hermite coefficients of ``x -> phi(omega1 x)`` by mpmath
    quadrature.

    Examples
    --------
    >>> out = width_threshold(256, 64)
    >>> out["regime"], round(out["d1_min"] / (64 * 256**1.5), 2)
    ('features', 23.03)

    Without the labels' ``||Y||^2 = 1`` in ``h0`` the exact threshold is
    the leading-order ``15.17 d0 n^{3/2}`` up to ``1 + O(1/d0)``:

    >>> round(width_threshold(256, 64, y_norm_sq=0)["leading_order"]["ratio"], 3)
    1.082
    """
    if init not in _NUMERIC_INITS:
        raise ValueError(f"init must be one of {_NUMERIC_INITS} (the paper's setting has no "
                         f"numeric constants), got {init!r}")
    _check_names(init, activation)
    n = _positive_number("n", n, integer=True)
    d0 = _positive_number("d0", d0, integer=True)
    d2 = _positive_number("d2", d2, integer=True)
    sigma = math.sqrt(n / d0) if sigma_max_X is None else _positive_number("sigma_max_X",
                                                                            sigma_max_X)
    st = 1.0 if s_t is None else _positive_number("s_t", s_t)
    y_sq = _positive_number("y_norm_sq", y_norm_sq, allow_zero=True)
    delta1 = _positive_number("delta1", delta1, allow_zero=True)
    delta2 = _positive_number("delta2", delta2, allow_zero=True)
    if delta1 >= 1:
        raise ValueError(f"delta1 must be < 1, got {delta1!r}")
    dps = _positive_number("dps", dps, integer=True)
    if dps < 15:
        raise ValueError(f"dps must be at least 15, got {dps}")
    tt = default_t(activation) if t is None else _positive_number("t", t, integer=True)
    values = _default_values(activation, d2, delta1, delta2)
    if C_9 is not None:
        values["C_9"] = _mp(_positive_number("C_9", C_9))
    if alpha_f is not None:
        values["alpha_f"] = _mp(_positive_number("alpha_f", alpha_f))
    if d1 is not None:
        d1 = _positive_number("d1", d1)
    om1_sq, om2_sq = _omega_sq_functions(init)
    with mpmath.workdps(dps):
        om1_mp = mpmath.sqrt(om1_sq(d0, 1))
        coeffs = _exact_coefficients(activation, tt, mpmath.nstr(om1_mp, dps), dps)
    if coeffs["c_t"] == 0:  # pragma: no cover - parity is caught by default_t
        raise ValueError(f"c_{tt} of {activation} vanishes; mu_Phi = 0")
    values.update(coeffs)
    values.update({"n": _mp(n), "sigma_max_X": _mp(sigma), "s_t": _mp(st), "Y_sq": _mp(y_sq)})
    fns = _numeric_functions(tt)

    def at(width):
        v = dict(values)
        v["d1"] = _mp(width)
        v["omega2"] = mpmath.sqrt(om2_sq(d0, width))
        return v

    if h0 is None:
        h0_of = lambda width: fns["h0"](**at(width))  # noqa: E731
        h0_source = "expectation omega2^2 d1 d2 n E[phi(omega1 g)^2] + ||Y||^2"
    else:
        h0_val = _mp(_positive_number("h0", h0))
        h0_of = lambda width: h0_val  # noqa: E731
        h0_source = "given"
    d1_min = _bisect_log(lambda w: float(fns["rhs9"](**at(w)) - h0_of(w)))
    d1_sharp = _bisect_log(lambda w: float(fns["sharp"](**at(w)) - h0_of(w)))
    v = at(d1_min)
    nu_v0, nu_mean, nu_lin = (float(fns[k](**v)) for k in ("nu_v0", "nu_mean", "nu_linear"))
    regime = "features" if max(nu_mean, nu_lin) >= nu_v0 else "v0"
    ws = width_setting(init, activation, tt)
    reg = ws.regimes[regime]
    lead_values = dict(values)
    lead_values.update({"abs_c_t": abs(coeffs["c_t"]), "abs_c_0": abs(coeffs["c_0"])})
    const = _constant_value(reg.constant, lead_values)
    lead = const * n ** float(reg.n_exponent) * d0 ** float(reg.d0_exponent)
    out = {
        "d1_min": d1_min, "d1_min_sharp": d1_sharp, "regime": regime,
        "features_part": "mean" if nu_mean >= nu_lin else "linear",
        "nu_terms": {"v0": nu_v0, "features": max(nu_mean, nu_lin)},
        "leading_order": {"d1_min": lead, "n": _ex(reg.n_exponent), "d0": _ex(reg.d0_exponent),
                          "ratio": d1_min / lead,
                          "heuristics": sigma_max_X is None and s_t is None},
        "paper_21": n**1.5 / d0,
        "constants": {"C_9": float(values["C_9"]), "alpha_f": float(values["alpha_f"]),
                      "delta1": delta1, "delta2": delta2, "d2": d2, "sigma_max_X": sigma,
                      "s_t": st, "h0": float(h0_of(d1_min)), "h0_source": h0_source,
                      "phi_dot_max": float(values["phi_dot_max"]),
                      "phi_ddot_max": float(values["phi_ddot_max"]), "omega1": float(om1_mp),
                      **{k: float(coeffs[k]) for k in ("c_0", "c_t", "E_phi_sq", "Var_phi")}},
    }
    if d1 is not None:
        v = at(d1)
        implied = float(h0_of(d1) * values["C_9"] / fns["rhs9"](**v))
        out["at_d1"] = {"d1": d1, "implied_C9": implied,
                        "shortfall": implied / float(values["C_9"]),
                        "holds": implied <= float(values["C_9"])}
    return out


@lru_cache(maxsize=None)
def _exact_features_xi(init, activation, tt, part=None):
    """Features-regime threshold over ``n^{3/2}`` with symbolic coefficients (exact mode)."""
    q, _ = _init_quantities(init, activation, tt, exact=True, part=part)
    cond = theorem1_condition(q["h0"], S.alpha_f, q["mu"], q["nu_features"], q["beta"], S.C_9)
    d1_min, _, _ = _monomial_threshold(cond.lhs, cond.rhs)
    xi = cancel(d1_min / S.n ** Rational(3, 2))
    if S.n in xi.free_symbols:  # pragma: no cover
        raise RuntimeError(f"the features threshold is not ~ n^(3/2): {d1_min}")
    return xi


@lru_cache(maxsize=None)
def _next_order(init, activation, tt):
    """Coefficient ``g`` of ``xi_exact / xi_leading = 1 + g / d0 + O(d0^-2)``, and the 1."""
    ws = width_setting(init, activation, tt)
    reg = ws.regimes["features"]
    xi = _exact_features_xi(init, activation, tt, reg.part if reg.part in ("mean", "linear")
                            else None)
    phi = activation_expr(activation)
    om = S.omega1
    # four terms: exact through two orders beyond every leading term (phi(0) = 0 makes
    # the first term of c_0 and of E[phi^2] vanish), enough for the 1/d0 coefficient
    c_t2 = small_omega_expansion(phi, tt, 4, omega=om)
    c_02 = small_omega_expansion(phi, 0, 4, omega=om)
    sign_t = 1 if leading_order(phi, tt, omega=om)[0].is_positive else -1
    g0 = leading_order(phi, 0, omega=om)[0]
    sign_0 = 1 if g0.is_positive else -1
    subs = {S.abs_c_t: sign_t * c_t2, S.abs_c0: sign_0 * c_02,
            S.var_phi: variance_expansion(phi, 4, omega=om),
            S.E_phi_sq: gaussian_expectation_expansion(phi**2, 4, omega=om)}
    u = Symbol("u", positive=True)
    lead = reg.constant * S.d0 ** reg.d0_exponent
    ratio = (xi.subs(subs).subs(om, _INITS[init][0]) / lead).subs(S.d0, 1 / u)
    ser = ratio.series(u, 0, 2).removeO()
    return factor(cancel(ser.coeff(u, 0))), factor(cancel(ser.coeff(u, 1)))


def d0_dependence(activation="gelu", init="lecun", d0_values=(16, 64, 256, 1024), dps=30):
    """Check the ``d0`` exponent of the features regime against mpmath.

    Parameters
    ----------
    activation : {'gelu', 'shifted_softplus', 'tanh'}, default 'gelu'
        Activation.
    init : {'lecun', 'he'}, default 'lecun'
        Initialization with ``omega1^2 = kappa1/d0``.
    d0_values : sequence of int, default (16, 64, 256, 1024)
        Input dimensions (at least two, increasing).
    dps : int, default 30
        mpmath digits.

    Returns
    -------
    dict
        * ``d0``: the list of ``d0``;
        * ``xi``: exact ``xi(d0) = d1_min / n^{3/2}`` of the features
          regime (mpmath Hermite coefficients at ``omega1(d0)``, the
          heuristics, ``d1 >> d2``, constants as in :func:`~derivations.width.width_conditions`);
        * ``xi_leading``: the leading-order ``K d0^q`` of
          :func:`width_setting`; ``ratio``: ``xi / xi_leading``;
        * ``scaled_deviation``: ``d0 (ratio - 1)``, which tends to
          ``next_order``;
        * ``next_order``: float and ``next_order_exact`` (text) of ``g`` in
          ``ratio = 1 + g/d0 + O(d0^-2)``, from the two-term small-``omega1``
          expansions; ``leading_check``: the ``O(1)`` term of that series
          (``"1"``);
        * ``local_slopes``: ``log(xi_{i+1}/xi_i) / log(d0_{i+1}/d0_i)``;
          ``fitted_slope``: least-squares slope of ``log xi`` on ``log d0``;
          ``exponent``: the symbolic exponent ``q`` (text);
        * ``b_over_a3_c0``: the chain's ``|c_0| (t!)^{3/2} / |c_t|^3`` over
          ``d0^(b_over_a3_exponent)``, with ``b_over_a3_leading`` its limit.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    [DERIVED] ``paper.md`` section 8: for GELU at LeCun ``b/a^3 =
    2^(5/2) pi (1 + 1/d0)^4 / (2 + 1/d0)^3 d0^2``, i.e. 2.58, 2.31,
    2.24, 2.23 ``d0^2`` at ``d0 = 16 ... 1024``, tending to ``pi/sqrt(2)
    d0^2``.

    Examples
    --------
    >>> out = d0_dependence(d0_values=(256, 1024))
    >>> out["exponent"], round(out["local_slopes"][0], 4)
    ('1', 0.9904)
    >>> [round(v, 2) for v in out["b_over_a3_c0"]], round(out["b_over_a3_leading"], 4)
    ([2.24, 2.23], 2.2214)
    """
    _check_names(init, activation)
    if init not in ("lecun", "he"):
        raise ValueError(f"init must be 'lecun' or 'he' (omega1 tied to d0), got {init!r}")
    d0s = [_positive_number("d0_values", v, integer=True) for v in d0_values]
    if len(d0s) < 2 or any(b <= a for a, b in zip(d0s, d0s[1:])):
        raise ValueError(f"d0_values must hold at least two increasing values, got {d0_values!r}")
    dps = _positive_number("dps", dps, integer=True)
    tt = default_t(activation)
    ws = width_setting(init, activation, tt)
    reg = ws.regimes["features"]
    xi_expr = _exact_features_xi(init, activation, tt)
    values = _default_values(activation)
    K = _constant_value(reg.constant, values)
    lead_sub, _ = _leading_coefficients(activation, tt)
    om1 = _INITS[init][0]
    fact = math.factorial(tt)
    ba3_lead_expr = cancel((Abs(lead_sub[S.c0]) * Rational(fact) ** Rational(3, 2)
                            / Abs(lead_sub[S.c_t]) ** 3).subs(S.omega1, om1))
    ba3_exp = exponent(ba3_lead_expr, S.d0) if ba3_lead_expr != 0 else Integer(0)
    ba3_lead = float(cancel(ba3_lead_expr / S.d0**ba3_exp))
    xi, ba3 = [], []
    for d0 in d0s:
        with mpmath.workdps(dps):
            om = mpmath.sqrt(_mp(om1.subs(S.d0, d0) ** 2))
            c = _exact_coefficients(activation, tt, mpmath.nstr(om, dps), dps)
            v = dict(values)
            v.update({"d0": _mp(d0), "abs_c_t": abs(c["c_t"]), "abs_c_0": abs(c["c_0"]),
                      "E_phi_sq": c["E_phi_sq"], "Var_phi": c["Var_phi"]})
            xi.append(float(evaluate(xi_expr, backend="mpmath", **v)))
            ba3.append(float(abs(c["c_0"]) * mpmath.mpf(fact) ** 1.5 / abs(c["c_t"]) ** 3
                             / mpmath.mpf(d0) ** float(ba3_exp)))
    lead = [K * d0 ** float(reg.d0_exponent) for d0 in d0s]
    ratio = [a / b for a, b in zip(xi, lead)]
    logs = [(math.log(d), math.log(x)) for d, x in zip(d0s, xi)]
    slopes = [(y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in zip(logs, logs[1:])]
    mx = sum(x for x, _ in logs) / len(logs)
    my = sum(y for _, y in logs) / len(logs)
    fitted = (sum((x - mx) * (y - my) for x, y in logs)
              / sum((x - mx) ** 2 for x, _ in logs))
    one, g = _next_order(init, activation, tt)
    return {"d0": d0s, "xi": xi, "xi_leading": lead, "ratio": ratio,
            "scaled_deviation": [d0 * (r - 1) for d0, r in zip(d0s, ratio)],
            "next_order": float(evaluate(g, backend="mpmath", **values)) if g.free_symbols
            else float(g), "next_order_exact": sstr(g), "leading_check": sstr(one),
            "local_slopes": slopes, "fitted_slope": fitted, "exponent": _ex(reg.d0_exponent),
            "b_over_a3_c0": ba3, "b_over_a3_exponent": _ex(ba3_exp),
            "b_over_a3_leading": ba3_lead}


def format_width_conditions(wc):
    """Render :func:`~derivations.width.width_conditions` output as plain text.

    Parameters
    ----------
    wc : dict
        The output of :func:`~derivations.width.width_conditions`.

    Returns
    -------
    str
        One block per setting: the leading regime's ``d1 >~ ...``, both
        regimes, the crossover and the sharp flow-length variant, beside
        the paper's (21).

    Examples
    --------
    >>> text = format_width_conditions(width_conditions(settings=("paper", "lecun")))
    >>> print(text.splitlines()[0])
    Width condition (9) -> (20) -> (21), corrected d0 dependence
    """
    lines = ["Width condition (9) -> (20) -> (21), corrected d0 dependence"]
    first = next(iter(wc.values()), None)
    if first is not None:
        c = first["constants"]
        lines.append(f"activation {first['activation']}, t = {first['t']}; heuristics "
                     f"sigma_max(X)^2 = n/d0, s_t = 1; C_9 = {c['C_9']}, alpha_f = "
                     f"{c['alpha_f']}, delta = 0, d2 = 1")
        lines.append("paper's (21): d1 >~ n^(3/2)/d0")
    for name, e in wc.items():
        init = ("a, b, c, k constants" if e["init"] is None else
                f"omega1^2 = {e['init']['omega1_sq']}, omega2^2 = {e['init']['omega2_sq']}")
        lines.append("")
        lines.append(f"[{name}] {init}")
        lines.append(f"  d1 >~ {e['d1_min']}   (n^{e['n']} d0^{e['d0']}, regime "
                     f"{e['leading_regime']}; parameters n^{e['parameter_count']['n']} "
                     f"d0^{e['parameter_count']['d0']}; along n = d0^{e['t']}: d1 ~ "
                     f"n^{e['along_n_eq_d0_t']['width_n']})")
        for rname, r in e["regimes"].items():
            part = f", {r['part']} part" if r["part"] else ""
            lines.append(f"  regime {rname:<8} ({r['nu_term']}{part}): d1 >~ {r['d1_min']}")
        cx = e["crossover"]
        lines.append(f"  crossover: {cx['leading_when']}" if cx["n_constant"] is None else
                     f"  crossover: features leads for n > {cx['n_constant']:.3g}"
                     + (f" d0^({cx['n_exponent_of_d0']})" if cx["n_exponent_of_d0"] != "0"
                        else ""))
        lines.append(f"  sigma_max(phi(W0X)) dominates nu_Phi for d1 > {cx['d1_text']}")
        lines.append(f"  sharp flow length (no nu_Phi): d1 >~ "
                     f"{e['sharp_flow_length']['d1_min']}")
        if e["derivation_failed_steps"]:
            lines.append(f"  FAILED steps: {e['derivation_failed_steps']}")
    return "\n".join(lines)
