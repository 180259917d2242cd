"""Check the theorems' hypotheses and conclusions against measured constants.

:func:`check_theorems` takes what was measured on one run (Lemma-3
constants at initialization, ``h0``, a trajectory summary) and returns
one :class:`CheckRecord` per hypothesis or conclusion of Theorems 1-3,
Lemmas 1-2 and the PL-ball argument.  Statements that hide a universal
constant in ``O(.)`` are never reported as verified: the record gives
the *implied constant*, the value of that constant at which the measured
inequality is tight.  Exact (non-O) inequalities are reported as
``"holds"`` or ``"violated"`` with their slack.

Every right-hand side is a SymPy expression from :mod:`derivations`
evaluated through :mod:`derivations.numeric`.  The input is a plain
record (:class:`MeasuredConstants`, or a dict via
:func:`from_measurements`) that does not depend on ``pl_toolkit``
internals.

Notes
-----
Implied constants, by kind of statement:

* ``lhs <= C * rhs`` (e.g. (9), (13), Lemma 2): holds iff
  ``C >= lhs / rhs``; the implied constant is the smallest such ``C``.
* ``lhs >= C * rhs`` (width requirements (20), (21), the order
  estimates of section 5.3): holds iff ``C <= lhs / rhs``; the implied
  constant is the largest such ``C``.
* (14) ``q <= 1 - C eta alpha_f mu^2``: the run realizes every
  ``C <= (1 - q) / (eta alpha_f mu^2)``; that value is reported.

For exact rows ``implied_constant`` is ``lhs / rhs`` (the slack ratio).

Examples
--------
>>> m = MeasuredConstants(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, nu_Phi=10.0,
...     beta_Phi=3.0, beta_Phi_followup=4.0, sigma_max_X=1.5,
...     sigma_min_khatri_rao=0.5, t=2, h0=1.0, eta=0.01, observed_rate=0.99,
...     max_distance=0.05, path_length=0.08, min_lambda_min=0.3,
...     converged=True, steps=100)
>>> recs = {r.name: r for r in check_theorems(m)}
>>> recs["eq9_hypothesis"].status, round(recs["eq9_hypothesis"].implied_constant, 1)
('implied-constant', 450.0)
"""

import json
import math
from dataclasses import asdict, dataclass, fields

from sympy import Abs, cancel, factorial, sqrt

from . import symbols as S
from .framework import (lemma2_bound, pl_ball_contraction_general,
                        pl_ball_radius_general, theorem1_condition, theorem2_rate,
                        theorem2_step_size)
from .numeric import evaluate
from .shallow import eq20_derivation, eq21_derivation

__all__ = ["MeasuredConstants", "CheckRecord", "from_measurements", "check_theorems",
           "records_to_markdown", "records_to_json"]

KINDS = ("O-hypothesis", "O-conclusion", "exact")
STATUSES = ("implied-constant", "holds", "violated", "not-applicable")


@dataclass(frozen=True)
class MeasuredConstants:
    """What was measured on one run, in the paper's quantities.

    Attributes
    ----------
    n, d0, d1, d2 : int
        Samples, input dimension, width, output dimension.
    mu_Phi : float
        ``sigma_min(phi(W0 X))`` (Lemma 3).
    nu_Phi : float
        ``phi_dot_max sigma_max(X) sigma_max(V0) + sigma_max(phi(W0X))``.
    beta_Phi : float
        Paper form ``sqrt(2) sigma_max(X)(phi_dot_max + phi_ddot_max
        chi_max)`` (with ``chi_max`` measured, e.g. the largest
        ``sigma_max(V)`` along the run).
    beta_Phi_followup : float
        The follow-up's ``beta_Phi``.
    sigma_max_X : float
        Largest singular value of the data matrix.
    sigma_min_khatri_rao : float
        ``s_t = sigma_min(X^{*t})``.
    t : int
        The Khatri-Rao power used.
    h0 : float
        Initial loss ``||V0 phi(W0 X) - Y||^2``.
    eta : float
        Step size used.
    observed_rate : float
        Mean per-step contraction ``(h_T / h_0)^{1/T}``.
    max_distance : float
        ``max_i ||w_i - w_0||``.
    path_length : float
        ``sum_i ||w_{i+1} - w_i||``.
    min_lambda_min : float
        ``min_i lambda_min(K(w_i))`` (empirical NTK).
    converged : bool
        Whether GD reached the run's convergence criterion.
    steps : int
        Number of GD steps.
    rho_Phi : float, optional
        ``mu_Phi / (2 beta_Phi_followup)`` if not given.
    alpha_f, beta_f : float, default 2
        Constants of ``f = ||z - Y||^2``.
    grad_norm0 : float, optional
        ``||grad f(Phi(w0))||``; ``2 sqrt(h0)`` if not given.
    lambda_min0 : float, optional
        ``lambda_min(K(w0))``.
    min_pl_ratio : float, optional
        ``min_i ||grad h(w_i)||^2 / h(w_i)``.
    smoothness_h : float, optional
        Upper bound on the smoothness of ``h`` along the run.
    phi_dot_max, phi_ddot_max : float, optional
        ``sup|phi'|`` and ``sup|phi''|`` of the activation.
    c_t, c0 : float, optional
        Hermite coefficients ``c_t(omega1)``, ``c_0(omega1)``.
    sigma_max_phi : float, optional
        ``sigma_max(phi(W0 X))``.
    min_ntk_ck_ratio : float, optional
        ``min_i lambda_min(K(w_i)) / sigma_min(phi(W_i X))^2`` over the run
        (the deterministic bound says ``>= 1`` when ``d1 >= n``).
    lemma1_min_sigma_min, lemma1_max_sigma_max : float, optional
        Extremes of ``sigma(grad Phi*(w))`` at points sampled in
        ``B(w0, rho_Phi)``.
    final_loss : float, optional
        Loss at the last step.

    Examples
    --------
    Optional fields are filled from the others:

    >>> m = MeasuredConstants(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, nu_Phi=10.0,
    ...     beta_Phi=3.0, beta_Phi_followup=4.0, sigma_max_X=1.5,
    ...     sigma_min_khatri_rao=0.5, t=2, h0=0.25, eta=0.01, observed_rate=0.99,
    ...     max_distance=0.05, path_length=0.08, min_lambda_min=0.3,
    ...     converged=True, steps=100)
    >>> m.rho_Phi, m.grad_norm0        # mu / (2 beta_followup), 2 sqrt(h0)
    (0.125, 1.0)
    >>> import dataclasses
    >>> try:
    ...     dataclasses.replace(m, mu_Phi=-1.0)
    ... except ValueError as exc:
    ...     print(exc)
    mu_Phi must be positive, got -1.0
    """

    n: int
    d0: int
    d1: int
    d2: int
    mu_Phi: float
    nu_Phi: float
    beta_Phi: float
    beta_Phi_followup: float
    sigma_max_X: float
    sigma_min_khatri_rao: float
    t: int
    h0: float
    eta: float
    observed_rate: float
    max_distance: float
    path_length: float
    min_lambda_min: float
    converged: bool
    steps: int
    rho_Phi: float = None
    alpha_f: float = 2.0
    beta_f: float = 2.0
    grad_norm0: float = None
    lambda_min0: float = None
    min_pl_ratio: float = None
    smoothness_h: float = None
    phi_dot_max: float = None
    phi_ddot_max: float = None
    c_t: float = None
    c0: float = None
    sigma_max_phi: float = None
    min_ntk_ck_ratio: float = None
    lemma1_min_sigma_min: float = None
    lemma1_max_sigma_max: float = None
    final_loss: float = None

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None or f.name == "converged":
                continue
            if not math.isfinite(float(v)):
                raise ValueError(f"{f.name} must be finite, got {v}")
        for name in ("n", "d0", "d1", "d2", "mu_Phi", "nu_Phi", "beta_Phi",
                     "beta_Phi_followup", "sigma_max_X", "sigma_min_khatri_rao", "h0", "eta"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.rho_Phi is None:
            object.__setattr__(self, "rho_Phi", self.mu_Phi / (2 * self.beta_Phi_followup))
        if self.grad_norm0 is None:
            object.__setattr__(self, "grad_norm0", 2 * math.sqrt(self.h0))


def from_measurements(d):
    """Build :class:`MeasuredConstants` from a dict with the documented keys.

    Parameters
    ----------
    d : mapping
        Keys as the fields of :class:`MeasuredConstants`; the alias
        ``s_t`` is accepted for ``sigma_min_khatri_rao``.  Unknown keys
        raise.

    Returns
    -------
    MeasuredConstants
        The validated record (missing optional values derived).

    Raises
    ------
    ValueError
        On unknown or missing keys, or non-finite values.

    Examples
    --------
    >>> m = from_measurements(dict(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0,
    ...     nu_Phi=10.0, beta_Phi=3.0, beta_Phi_followup=4.0, sigma_max_X=1.5,
    ...     s_t=0.5, t=2, h0=1.0, eta=0.01, observed_rate=0.99,
    ...     max_distance=0.05, path_length=0.08, min_lambda_min=0.3,
    ...     converged=True, steps=100))
    >>> m.rho_Phi
    0.125
    """
    d = dict(d)
    if "s_t" in d:
        d["sigma_min_khatri_rao"] = d.pop("s_t")
    names = {f.name for f in fields(MeasuredConstants)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"d has unknown keys {unknown}")
    try:
        return MeasuredConstants(**d)
    except TypeError as exc:
        raise ValueError(f"d is missing required keys: {exc}") from None


@dataclass(frozen=True)
class CheckRecord:
    """One hypothesis or conclusion evaluated on measured constants.

    Attributes
    ----------
    name : str
        Identifier of the row.
    statement : str
        The inequality with the paper's equation number.
    kind : {'O-hypothesis', 'O-conclusion', 'exact'}
        Whether the statement hides a universal constant (O) and is a
        hypothesis or a conclusion, or is exact.
    lhs, rhs : float
        The two sides (for O-rows, the right side without its constant).
    implied_constant : float
        See the module notes; for exact rows ``lhs / rhs``.
    status : {'implied-constant', 'holds', 'violated', 'not-applicable'}
        Outcome; O-rows are never more than "implied-constant".
    feeds : str
        The conclusion this statement feeds.
    observed : bool or None
        Whether that conclusion was observed on the run.
    note : str
        Remarks (slack of exact rows, caveats).

    Examples
    --------
    >>> m = MeasuredConstants(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, nu_Phi=10.0,
    ...     beta_Phi=3.0, beta_Phi_followup=4.0, sigma_max_X=1.5,
    ...     sigma_min_khatri_rao=0.5, t=2, h0=0.25, eta=0.01, observed_rate=0.99,
    ...     max_distance=0.05, path_length=0.08, min_lambda_min=0.3,
    ...     converged=True, steps=100)
    >>> rec = {r.name: r for r in check_theorems(m)}["near_isometry_at_init"]
    >>> rec.kind, rec.status, rec.lhs, rec.rhs     # mu_Phi <= nu_Phi
    ('exact', 'holds', 1.0, 10.0)
    >>> rec.implied_constant == rec.lhs / rec.rhs
    True
    """

    name: str
    statement: str
    kind: str
    lhs: float
    rhs: float
    implied_constant: float
    status: str
    feeds: str
    observed: object
    note: str = ""


def _num(expr, m):
    vals = {
        "n": m.n, "d0": m.d0, "d1": m.d1, "d2": m.d2, "mu_Phi": m.mu_Phi,
        "nu_Phi": m.nu_Phi, "beta_Phi": m.beta_Phi, "alpha_f": m.alpha_f,
        "beta_f": m.beta_f, "eta": m.eta, "h0": m.h0, "grad_f0": m.grad_norm0,
        "sigma_max_X": m.sigma_max_X, "s_t": m.sigma_min_khatri_rao, "t": m.t,
        "c_t": m.c_t, "c_0": m.c0,
    }
    return float(evaluate(expr, **{k: (v if isinstance(v, int) else float(v))
                                   for k, v in vals.items() if v is not None}))


def _o_le(name, statement, kind, lhs, rhs, feeds, observed, note=""):
    """Record for ``lhs <= C rhs``: implied C = lhs / rhs (smallest)."""
    return CheckRecord(name, statement, kind, lhs, rhs, lhs / rhs, "implied-constant", feeds,
                       observed, note)


def _o_ge(name, statement, kind, lhs, rhs, feeds, observed, note=""):
    """Record for ``lhs >= C rhs``: implied C = lhs / rhs (largest)."""
    return CheckRecord(name, statement, kind, lhs, rhs, lhs / rhs, "implied-constant", feeds,
                       observed, note)


def _exact(name, statement, lhs, rel, rhs, feeds, observed, applicable=True, note=""):
    ok = lhs <= rhs if rel == "<=" else lhs >= rhs
    if not applicable:
        status = "not-applicable"
    else:
        status = "holds" if ok else "violated"
    slack = (rhs - lhs) if rel == "<=" else (lhs - rhs)
    note = (note + "; " if note else "") + f"slack = {slack:.6g}"
    return CheckRecord(name, statement, "exact", lhs, rhs, lhs / rhs, status, feeds,
                       observed, note)


def _na(name, statement, kind, feeds, why):
    nan = float("nan")
    return CheckRecord(name, statement, kind, nan, nan, nan, "not-applicable", feeds, None,
                       f"not measured: {why}")


def check_theorems(measured):
    """Evaluate every hypothesis and conclusion on measured constants.

    Parameters
    ----------
    measured : MeasuredConstants or dict
        A dict goes through :func:`from_measurements`.

    Returns
    -------
    list of CheckRecord
        In the order: hypotheses of Theorems 1-3, their conclusions,
        Lemma 1 and the PL/NTK facts, the PL-ball argument.

    Raises
    ------
    ValueError
        From :func:`from_measurements` on bad input.

    Notes
    -----
    Equations (9), (13), (14), (20), (21), Lemma 1, Lemma 2 and section
    5.3 of the paper; the PL-ball rows are [DERIVED] (see
    :func:`derivations.framework.pl_ball_general_steps`).  Lemma 2 and
    Theorem 1 are about gradient flow; their rows use the GD iterates.
    O-rows always get status ``"implied-constant"``: an O-statement is
    never verified by one run.

    Examples
    --------
    >>> m = MeasuredConstants(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, nu_Phi=10.0,
    ...     beta_Phi=3.0, beta_Phi_followup=4.0, sigma_max_X=1.5,
    ...     sigma_min_khatri_rao=0.5, t=2, h0=1.0, eta=0.01, observed_rate=0.99,
    ...     max_distance=0.05, path_length=0.08, min_lambda_min=0.3,
    ...     converged=True, steps=100)
    >>> len(check_theorems(m)) > 15
    True
    """
    m = measured if isinstance(measured, MeasuredConstants) else from_measurements(measured)
    conv = bool(m.converged)
    rho = m.rho_Phi
    in_ball = m.max_distance <= rho
    recs = []
    add = recs.append

    # ------------------------------------------------------------ hypotheses
    add(_exact("near_isometry_at_init", "Def. 1 / Lemma 3: mu_Phi <= nu_Phi at w0",
               m.mu_Phi, "<=", m.nu_Phi, "Lemma 1", None))
    cond9 = theorem1_condition(C=1)
    for label, beta in (("", m.beta_Phi), ("_followup", m.beta_Phi_followup)):
        rhs = _num(cond9.rhs.subs(S.beta_Phi, beta), m)
        add(_o_le(f"eq9_hypothesis{label}",
                  "eq. (9): h(w0) <= C alpha_f mu_Phi^6 / (beta_Phi^2 nu_Phi^2)"
                  + (" [beta_Phi: follow-up]" if label else " [beta_Phi: Lemma 3]"),
                  "O-hypothesis", m.h0, rhs, "Thms 1-2: iterates stay in B(w0, rho_Phi), "
                  "linear convergence", conv and in_ball,
                  note="smallest C for which (9) holds on this run; the paper's proof "
                       "(Lemma 2 + rho_Phi) gives C = 1/(4 C_L2^2)"))
    eta_max = _num(theorem2_step_size(C=1), m)
    add(_o_le("eq13_step_size", "eq. (13): eta <= C mu^2 / (beta_Phi ||grad f(Phi(w0))|| "
              "+ beta_Phi mu^2 + beta_f nu^2)", "O-hypothesis", m.eta, eta_max,
              "Thm 2: rate (14)", conv))
    d20 = eq20_derivation()
    add(_o_ge("eq20_width", "eq. (20): d1 >= C sigma_max(X)^2 sqrt(n) / sigma_min(X^{*t})^3",
              "O-hypothesis", float(m.d1), _num(d20["scaling"], m),
              "Thm 3: GD converges linearly", conv,
              note="largest C that the measured width satisfies (xi and logs inside C)"))
    d21 = eq21_derivation()
    add(_o_ge("eq21_width", "eq. (21): d1 >= C n^{3/2} / d0 (heuristic sigma estimates)",
              "O-hypothesis", float(m.d1), _num(cancel(d21["d1_min"] / d21["xi"]), m),
              "Thm 3: GD converges linearly", conv,
              note="largest C that the measured width satisfies"))
    add(_o_le("h0_scaling", "Sec. 4 [DERIVED]: h(w0) <= k sigma_max(X)^2 (input to (20))",
              "O-hypothesis", m.h0, m.sigma_max_X**2, "eq. (20)", None))
    if m.c_t is not None and m.c_t != 0:
        rhs = _num(sqrt(S.c_t**2 * S.d1 / factorial(S.t)) * S.s_t, m)
        add(_o_ge("order_mu", "Sec. 5.3: sigma_min(phi(W0X)) >~ sqrt(c_t^2 d1 / t!) "
                  "sigma_min(X^{*t})", "O-hypothesis", m.mu_Phi, rhs, "eq. (20) (mu = a sqrt(d1) "
                  "s_t)", None, note="largest a; the follow-up has a = sqrt(1 - delta1)"))
    else:
        add(_na("order_mu", "Sec. 5.3: sigma_min(phi(W0X)) >~ sqrt(c_t^2 d1/t!) s_t",
                "O-hypothesis", "eq. (20)", "c_t"))
    if m.c0 is not None and m.c0 != 0 and m.sigma_max_phi is not None:
        rhs = _num(Abs(S.c0) * sqrt(S.d1 * S.n), m)
        add(_o_le("order_nu", "Sec. 5.3: sigma_max(phi(W0X)) <~ |c_0| sqrt(d1 n)",
                  "O-hypothesis", m.sigma_max_phi, rhs, "eq. (20) (nu = b sqrt(d1 n))", None))
    else:
        add(_na("order_nu", "Sec. 5.3: sigma_max(phi(W0X)) <~ |c_0| sqrt(d1 n)",
                "O-hypothesis", "eq. (20)", "c0 or sigma_max_phi"))

    # ----------------------------------------------------------- conclusions
    contraction = 1 - m.observed_rate
    unit = _num(1 - theorem2_rate(C=1), m)  # eta alpha_f mu^2
    add(CheckRecord("eq14_rate", "eq. (14): h(w_i) <= (1 - C eta alpha_f mu_Phi^2)^i h(w0)",
                    "O-conclusion", m.observed_rate, 1 - unit, contraction / unit,
                    "implied-constant", "Thm 2 / Thm 3 conclusion", conv,
                    "largest C consistent with the observed mean contraction "
                    "(1 - q) / (eta alpha_f mu^2); the PL-ball argument gives C = 1/4 when "
                    "eta <= 1/beta_h and the run stays in B(w0, rho_Phi) [DERIVED]"))
    add(_o_le("lemma2_path_length", "Lemma 2: length <= C nu_Phi sqrt(h0) / (mu_Phi^2 "
              "sqrt(alpha_f))", "O-conclusion", m.path_length, _num(lemma2_bound(C=1), m),
              "Thm 1: iterates stay in B(w0, rho_Phi)", in_ball,
              note="measured on GD iterates (Lemma 2 is for the flow); the [DERIVED] "
                   "flow bound gives C = 2 sqrt(2) = 2.83"))
    add(_o_le("locality_rho", "Thms 1-2: max_i ||w_i - w0|| <= rho_Phi = mu_Phi / (2 "
              "beta_Phi) [follow-up beta]", "O-conclusion", m.max_distance, rho,
              "Lemma 1 applies along the run", in_ball,
              note="ratio > 1 means the run left the ball in which the theory holds"))

    # ---------------------------------------------- Lemma 1, PL/NTK (exact)
    if m.lambda_min0 is not None:
        add(_exact("ntk_ge_conjugate_kernel", "PL/NTK [DERIVED]: lambda_min(K(w0)) >= "
                   "sigma_min(phi(W0X))^2 when d1 >= n", m.lambda_min0, ">=", m.mu_Phi**2,
                   "PL at init", None, applicable=m.d1 >= m.n))
    else:
        add(_na("ntk_ge_conjugate_kernel", "lambda_min(K(w0)) >= mu_Phi^2", "exact",
                "PL at init", "lambda_min0"))
    add(_exact("lemma1_pl_along_run", "Lemma 1: lambda_min(K(w_i)) >= mu_Phi^2 / 4 while "
               "||w_i - w0|| <= rho_Phi", m.min_lambda_min, ">=", m.mu_Phi**2 / 4,
               "PL constant alpha_f mu^2/4 along the run", conv, applicable=in_ball,
               note="not-applicable when the run leaves B(w0, rho_Phi)"))
    if m.min_ntk_ck_ratio is not None:
        add(_exact("ntk_ge_conjugate_kernel_along_run", "PL/NTK [DERIVED]: lambda_min(K(w_i)) / "
                   "sigma_min(phi(W_i X))^2 >= 1 at every step when d1 >= n",
                   m.min_ntk_ck_ratio, ">=", 1.0, "PL along the run", conv,
                   applicable=m.d1 >= m.n))
    else:
        add(_na("ntk_ge_conjugate_kernel_along_run", "lambda_min(K(w_i)) >= "
                "sigma_min(phi(W_i X))^2", "exact", "PL along the run", "min_ntk_ck_ratio"))
    if m.min_pl_ratio is not None:
        add(_exact("pl_ratio_ge_4_lambda_min", "PL/NTK [DERIVED]: ||grad h||^2 / h >= 4 "
                   "lambda_min(K) (min over the run)", m.min_pl_ratio, ">=",
                   4 * m.min_lambda_min, "linear convergence", conv))
    else:
        add(_na("pl_ratio_ge_4_lambda_min", "||grad h||^2/h >= 4 lambda_min(K)", "exact",
                "linear convergence", "min_pl_ratio"))
    if m.lemma1_min_sigma_min is not None and m.lemma1_max_sigma_max is not None:
        add(_exact("lemma1_sampled_lower", "Lemma 1: sigma_min(grad Phi*(w)) >= mu_Phi/2 at "
                   "points sampled in B(w0, rho_Phi)", m.lemma1_min_sigma_min, ">=",
                   m.mu_Phi / 2, "Lemma 1", None))
        add(_exact("lemma1_sampled_upper", "Lemma 1: sigma_max(grad Phi*(w)) <= 3 nu_Phi/2 at "
                   "points sampled in B(w0, rho_Phi)", m.lemma1_max_sigma_max, "<=",
                   1.5 * m.nu_Phi, "Lemma 1", None))
    else:
        for nm in ("lemma1_sampled_lower", "lemma1_sampled_upper"):
            add(_na(nm, "Lemma 1 at sampled points", "exact", "Lemma 1",
                    "lemma1_min_sigma_min / lemma1_max_sigma_max"))
    if m.phi_dot_max is not None and m.phi_ddot_max is not None and m.phi_ddot_max > 0:
        add(_exact("rho_le_phi_ratio", "follow-up [DERIVED]: rho_Phi <= phi_dot_max / "
                   "phi_ddot_max", rho, "<=", m.phi_dot_max / m.phi_ddot_max, "locality", None))
    else:
        add(_na("rho_le_phi_ratio", "rho_Phi <= phi_dot_max/phi_ddot_max", "exact",
                "locality", "phi_dot_max, phi_ddot_max"))

    # ---------------------------------------------------- PL-ball (exact)
    if m.smoothness_h is not None:
        mu_pl = 2 * m.min_lambda_min  # ||grad h||^2 >= 4 lambda h = 2 (2 lambda) h
        ok_step = m.eta * m.smoothness_h < 2
        vals = {S.beta_pl.name: m.smoothness_h, S.mu_pl.name: mu_pl, S.eta.name: m.eta,
                S.L0.name: m.h0}
        scale_note = ""
        if not ok_step:
            # the argument does not cover this step; show its guarantee at eta = 1/beta_h
            vals[S.eta.name] = 1.0 / m.smoothness_h
            scale_note = ("; eta * beta_h >= 2, so the argument does not cover the run's step: "
                          "rhs evaluated at eta = 1/beta_h for scale")
        q_pred = float(evaluate(pl_ball_contraction_general(), **vals))
        add(_exact("pl_ball_contraction", "PL ball [DERIVED]: per-step contraction <= 1 - 2 mu "
                   "eta (1 - beta_h eta/2), mu = 2 min lambda_min", m.observed_rate, "<=",
                   q_pred, "linear convergence", conv, applicable=ok_step,
                   note="beta_h = smoothness_h (a bound along the run)" + scale_note))
        R = float(evaluate(pl_ball_radius_general(), **vals))
        add(_exact("pl_ball_radius", "PL ball [DERIVED]: sum ||w_{i+1} - w_i|| <= R(eta) = "
                   "sqrt(h0/eta) / (mu (1 - beta_h eta/2)^{3/2})", m.path_length, "<=", R,
                   "iterates stay in B(w0, R)", True, applicable=ok_step,
                   note="R(1/beta) = 2 sqrt(2 beta h0)/mu" + scale_note))
    else:
        for nm in ("pl_ball_contraction", "pl_ball_radius"):
            add(_na(nm, "PL ball", "exact", "linear convergence", "smoothness_h"))
    return recs


def records_to_markdown(records):
    """Render check records as a Markdown table.

    Parameters
    ----------
    records : list of CheckRecord
        Output of :func:`check_theorems`.

    Returns
    -------
    str
        The rendered text.

    Examples
    --------
    >>> print(records_to_markdown([]).splitlines()[0][:18])
    | name | statement
    """
    lines = ["| name | statement | kind | lhs | rhs | implied constant | status | feeds "
             "| observed |", "|---|---|---|---:|---:|---:|---|---|---|"]
    for r in records:
        lines.append(f"| {r.name} | {r.statement} | {r.kind} | {r.lhs:.4g} | {r.rhs:.4g} | "
                     f"{r.implied_constant:.4g} | {r.status} | {r.feeds} | {r.observed} |")
    return "\n".join(lines)


def records_to_json(records, indent=2):
    """Serialize check records to JSON (NaN becomes null).

    Parameters
    ----------
    records : list of CheckRecord
        Output of :func:`check_theorems`.
    indent : int, default 2
        JSON indentation.

    Returns
    -------
    str
        The rendered text.

    Examples
    --------
    >>> records_to_json([])
    '[]'
    """
    def clean(d):
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in d.items()}
    return json.dumps([clean(asdict(r)) for r in records], indent=indent)
