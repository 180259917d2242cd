"""Check the theorems' hypotheses and conclusions against measured constants.

:func:`check_theorems` takes what was measured on one run
(:class:`MeasuredConstants`: Lemma-3 constants at initialization, the
Jacobian's extreme singular values, the trajectory's summary) and returns
one :class:`CheckRecord` per hypothesis, conclusion or identity of
Lemmas 1-3, Theorems 1-3 and the PL-ball argument.

The verdict model
-----------------
Every row has a ``role``:

* ``"hypothesis"`` -- a premise of a lemma or theorem (eq. (9), (13),
  (19), (20), the near-isometry at ``w0``, Assumption 2, the data
  premises, ...);
* ``"conclusion"`` -- what a result predicts (convergence, the rate (14),
  locality, Lemma 2's path length, Lemma 1's radius, ...);
* ``"identity"`` -- true by definition or by ``K = J J^T`` (``mu_Phi <=
  nu_Phi``, ``K >= phi(WX)^T phi(WX)``, ``||grad h||^2 / h >= 4
  lambda_min(K)``): a sanity check of the measurement, never counted as
  evidence.

and a ``form``: ``"exact"`` or ``"O"`` (a statement with a universal
constant hidden in ``O(.)``).  ``status`` is one of

* ``"holds"`` / ``"violated"`` -- exact rows (for a conclusion: whether
  it was observed on the run);
* ``"implied-constant"`` -- every O-row: one run never verifies an
  O-statement.  The row gives ``implied_constant``, the value of the
  hidden constant at which the measured inequality is tight; where
  :mod:`derivations` derives that constant (:func:`derived_constants`:
  ``C_9 = 1/32`` from Lemma 2 and ``rho_Phi``, ``C_L2 = 2 sqrt(2)``,
  ``C_14 = 1/4`` from the PL argument), it also carries
  ``derived_constant``, ``status_at_derived`` and ``shortfall``, the factor
  by which the measurement misses the inequality at that constant (1 when
  it holds);
* ``"not-applicable"`` -- a premise of the row itself fails
  (``mu_Phi = 0`` because ``d1 < n``, ``s_t = 0``, Assumption 2 fails, no
  iterate inside the ball, ...); ``premise`` names it;
* ``"unchecked-premise"`` -- the row's premise cannot be checked by the
  measurements at hand (``premise`` names it).

No field is hard-coded: every status is computed from the measurements.
The radius used by every check is the paper's ``rho_Phi = mu_Phi /
(2 beta_Phi)`` with Lemma 3's ``beta_Phi``; the follow-up's radius is
recorded beside it in the notes and never mixed in.

Notes
-----
Implied constants, by kind of statement:

* ``lhs <= C * rhs`` ((9), (13), Lemma 2): holds iff ``C >= lhs / rhs``;
  the implied constant is ``lhs / rhs``, the smallest such ``C``;
  the shortfall at a derived ``C_d`` is ``max(1, lhs / (C_d rhs))``.
* ``lhs >= C * rhs`` (the widths (20), (21) and the order estimates of
  section 5.3): holds iff ``C <= lhs / rhs``; the implied constant is the
  largest such ``C``; the shortfall is ``max(1, C_d rhs / lhs)``.
* (14) ``h_i <= (1 - C eta alpha_f mu^2)^i h0`` for every ``i``: the run
  realizes every ``C <= (1 - q*) / (eta alpha_f mu^2)`` with ``q* =
  max_i (h_i / h0)^{1/i}``.

Examples
--------
>>> m = MeasuredConstants(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, nu_Phi=10.0,
...     beta_Phi=3.0, sigma_max_X=1.5, s_t=0.5, t=2, h0=1.0, eta=0.01,
...     steps=100, status="converged", max_distance=0.05, path_length=0.08)
>>> rec = {r.name: r for r in check_theorems(m)}["eq9_hypothesis"]
>>> rec.role, rec.status, round(rec.implied_constant, 1)
('hypothesis', 'implied-constant', 450.0)
>>> rec.derived_constant, rec.status_at_derived, round(rec.shortfall)
(0.03125, 'violated', 14400)
"""

import json
import math
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache

import numpy as np
from sympy import Abs, cancel, factorial, sqrt

from . import symbols as S
from .framework import (eq9_constant, lemma2_bound, lemma2_constant, lemma2_steps,
                        pl_ball_contraction_general, pl_ball_radius_general, theorem1_condition,
                        theorem2_constant_steps, theorem2_rate, theorem2_step_size)
from .numeric import evaluate
from .shallow import eq20_derivation, eq21_derivation

__all__ = ["MeasuredConstants", "CheckRecord", "from_measurements", "check_theorems",
           "derived_constants", "summarize_checks", "records_to_markdown", "records_to_json",
           "ROLES", "FORMS", "STATUSES"]

ROLES = ("hypothesis", "conclusion", "identity")
FORMS = ("exact", "O")
STATUSES = ("holds", "violated", "not-applicable", "unchecked-premise", "implied-constant")

#: Absolute slack of the data premises ||x_i|| = 1 and ||Y||_F <= 1: unit-normalized
#: rows carry rounding errors of a few ulps; 1e-12 is far above that and far below
#: any deliberate departure.
DATA_ROUNDING = 1e-12


@dataclass(frozen=True)
class MeasuredConstants:
    """What was measured on one run, in the paper's quantities.

    Only the sizes are required; every other field is optional and
    ``None`` means "not measured" (the rows that need it become
    ``not-applicable`` or ``unchecked-premise`` and say so).  Zero is a
    measurement (``mu_Phi = 0`` when ``d1 < n``, ``s_t = 0`` beyond the
    Khatri-Rao limit), never dropped.

    Attributes
    ----------
    n, d0, d1, d2 : int
        Samples, input dimension, width, output dimension.
    sigma_max_X : float, optional
        Largest singular value of the data matrix.
    s_t, s_t_floor : float, optional
        ``sigma_min(X^{*t})`` and the rounding level below which it counts
        as zero.
    t : int, optional
        The Khatri-Rao power (smallest ``t >= 2`` with ``c_t != 0``).
    max_row_norm_error, Y_fro : float, optional
        ``max_i | ||x_i|| - 1 |`` and ``||Y||_F`` (data premises).
    assumption2 : bool, optional
        Whether the activation satisfies Assumption 2;
        ``assumption2_reason`` says why not.
    assumption2_reason : str, optional
        The failing clause of Assumption 2.
    phi_dot_max, phi_ddot_max : float, optional
        ``sup|phi'|`` and ``sup|phi''|``.
    c_t, c0 : float, optional
        Hermite coefficients ``c_t(omega1)``, ``c_0(omega1)`` of
        ``x -> phi(omega1 x)``.
    omega1, omega2 : float, optional
        Initialization scales.
    mu_Phi, nu_Phi, beta_Phi : float, optional
        Lemma 3 (eq. 18) at ``w0``, paper form of ``beta_Phi``.
    beta_Phi_followup, rho_Phi_followup : float, optional
        The follow-up's forms (recorded, never used by a check).
    rho_Phi : float, optional
        ``mu_Phi / (2 beta_Phi)`` (computed when not given).
    sigma_max_phi : float, optional
        ``sigma_max(phi(W0 X))``.
    sigma_min_J0, sigma_max_J0 : float, optional
        Extreme singular values of ``grad Phi*(w0)`` (square roots of the
        extreme eigenvalues of the NTK at ``w0``).
    h0 : float, optional
        Initial loss ``||V0 phi(W0 X) - Y||_F^2``.
    eta : float, optional
        Step size used.
    alpha_f, beta_f : float, default 2
        Constants of ``f(z) = ||z - Y||_F^2``.
    steps : int, optional
        Number of steps taken.
    status : str, optional
        Stop reason (``converged``, ``max_steps``, ``diverged``,
        ``stalled``, ``interrupted``).
    criterion : str, optional
        The convergence criterion, for the report.
    final_loss : float, optional
        Loss at the last accepted iterate.
    diverged_at : int, optional
        The step at which a diverged run's loss or iterate stopped being
        finite (or exceeded the divergence threshold).
    max_root_ratio : float, optional
        ``q* = max_{i >= 1} (h_i / h0)^{1/i}`` over the run.
    worst_contraction : float, optional
        ``max_t h_{t+1} / h_t``.
    max_distance, path_length : float, optional
        ``max_i ||w_i - w0||`` and ``sum_i ||w_{i+1} - w_i||``.
    lambda_min0, lambda_max0 : float, optional
        Extreme eigenvalues of the NTK at ``w0``.
    min_lambda_min : float, optional
        ``min_t lambda_min(K_t)`` over the tracked steps.
    min_lambda_min_inside : float, optional
        The same over tracked steps ``t >= 1`` with ``||w_t - w0|| <=
        rho_Phi``; ``tracked_inside`` counts them.
    tracked_inside : int, optional
        Number of those steps.
    min_pl_over_4lmin : float, optional
        ``min_t (||grad h_t||^2 / h_t) / (4 lambda_min(K_t))`` at the same
        tracked steps.
    min_ntk_ck_ratio : float, optional
        ``min_t lambda_min(K_t) / sigma_min(phi(W_t X))^2``.
    min_pl_ratio : float, optional
        ``min_t ||grad h_t||^2 / h_t`` over every step.
    max_hessian_top : float, optional
        Largest top Hessian eigenvalue of ``h`` over the tracked steps.
    max_smoothness_secant : float, optional
        ``max_t ||grad h_{t+1} - grad h_t|| / ||w_{t+1} - w_t||`` (every
        step).
    max_jacobian_secant : float, optional
        ``max_t ||J_{t+1} - J_t|| / ||w_{t+1} - w_t||`` (tracked steps):
        an empirical ``beta_Phi``.
    lemma1_radius, lemma1_radius_censored : float, bool, optional
        Empirical Lemma-1 radius (smallest over the searched directions
        and the GD path) and whether no violation was found up to it.
    theta0_norm : float, optional
        ``||w0||``, for scale.
    activation, init : str, optional
        Activation and initialization names (``"lecun"``, ``"he"``): they
        select the d0-corrected form of (21) of
        :func:`derivations.width.width_conditions`.

    Examples
    --------
    >>> m = MeasuredConstants(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, beta_Phi=4.0)
    >>> m.rho_Phi
    0.125
    >>> MeasuredConstants(n=4, d0=3, d1=50, d2=1, h0=float("nan"))
    Traceback (most recent call last):
        ...
    ValueError: h0 must be finite or None, got nan
    """

    n: int
    d0: int
    d1: int
    d2: int
    sigma_max_X: float = None
    s_t: float = None
    s_t_floor: float = 0.0
    t: int = None
    max_row_norm_error: float = None
    Y_fro: float = None
    assumption2: bool = None
    assumption2_reason: str = ""
    phi_dot_max: float = None
    phi_ddot_max: float = None
    c_t: float = None
    c0: float = None
    omega1: float = None
    omega2: float = None
    mu_Phi: float = None
    nu_Phi: float = None
    beta_Phi: float = None
    beta_Phi_followup: float = None
    rho_Phi: float = None
    rho_Phi_followup: float = None
    sigma_max_phi: float = None
    sigma_min_J0: float = None
    sigma_max_J0: float = None
    h0: float = None
    eta: float = None
    alpha_f: float = 2.0
    beta_f: float = 2.0
    steps: int = None
    status: str = None
    criterion: str = ""
    final_loss: float = None
    diverged_at: int = None
    max_root_ratio: float = None
    worst_contraction: float = None
    max_distance: float = None
    path_length: float = None
    lambda_min0: float = None
    lambda_max0: float = None
    min_lambda_min: float = None
    min_lambda_min_inside: float = None
    tracked_inside: int = None
    min_pl_over_4lmin: float = None
    min_ntk_ck_ratio: float = None
    min_pl_ratio: float = None
    max_hessian_top: float = None
    max_smoothness_secant: float = None
    max_jacobian_secant: float = None
    lemma1_radius: float = None
    lemma1_radius_censored: bool = None
    theta0_norm: float = None
    activation: str = ""
    init: str = ""

    _INTS = ("n", "d0", "d1", "d2", "t", "steps", "tracked_inside", "diverged_at")
    _BOOLS = ("assumption2", "lemma1_radius_censored")
    _STRS = ("assumption2_reason", "status", "criterion", "activation", "init")
    _NONNEG = ("sigma_max_X", "s_t", "s_t_floor", "max_row_norm_error", "Y_fro", "phi_dot_max",
               "phi_ddot_max", "omega1", "omega2", "mu_Phi", "nu_Phi", "beta_Phi",
               "beta_Phi_followup", "rho_Phi", "rho_Phi_followup", "sigma_max_phi",
               "sigma_min_J0", "sigma_max_J0", "h0", "eta", "alpha_f", "beta_f", "final_loss",
               "max_root_ratio", "worst_contraction", "max_distance", "path_length",
               "min_pl_ratio", "max_hessian_top", "max_smoothness_secant",
               "max_jacobian_secant", "lemma1_radius", "theta0_norm")

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                if f.name in ("n", "d0", "d1", "d2"):
                    raise ValueError(f"{f.name} is required")
                continue
            if f.name in self._STRS:
                if not isinstance(v, str):
                    raise ValueError(f"{f.name} must be a string, got {type(v).__name__}")
                continue
            if f.name in self._BOOLS:
                if not isinstance(v, bool):
                    raise ValueError(f"{f.name} must be True or False, got {v!r}")
                continue
            # a flag or a text in a numeric field is a mix-up, not a number to convert
            if isinstance(v, (bool, np.bool_, str, bytes)):
                raise ValueError(f"{f.name} must be a number, got {v!r}")
            if not isinstance(v, (int, float)):
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    raise ValueError(f"{f.name} must be a number, got {v!r}") from None
            if not math.isfinite(float(v)):
                raise ValueError(f"{f.name} must be finite or None, got {v}")
            if f.name in self._INTS:
                if float(v) != int(v) or int(v) < 0:
                    raise ValueError(f"{f.name} must be a non-negative integer, got {v!r}")
                object.__setattr__(self, f.name, int(v))
                continue
            if f.name in self._NONNEG and float(v) < 0:
                raise ValueError(f"{f.name} must be >= 0, got {v!r}")
            object.__setattr__(self, f.name, float(v))
        for name in ("n", "d0", "d1", "d2"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.rho_Phi is None and self.mu_Phi is not None and self.beta_Phi:
            object.__setattr__(self, "rho_Phi", self.mu_Phi / (2.0 * self.beta_Phi))

    @property
    def converged(self):
        """Whether the run met its convergence criterion (``status == "converged"``)."""
        return self.status == "converged"


def from_measurements(d):
    """Build :class:`MeasuredConstants` from a dict with the documented keys.

    Parameters
    ----------
    d : mapping
        Keys as the fields of :class:`MeasuredConstants`.  Unknown keys
        raise; nothing is dropped silently.

    Returns
    -------
    MeasuredConstants
        The validated record.

    Raises
    ------
    ValueError
        On unknown keys, missing sizes or values it cannot use (non-finite,
        negative, wrong type).

    Examples
    --------
    >>> m = from_measurements(dict(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, beta_Phi=4.0))
    >>> m.rho_Phi
    0.125
    >>> from_measurements(dict(n=4, d0=3, d1=50, d2=1, bogus=1))
    Traceback (most recent call last):
        ...
    ValueError: measured constants have unknown keys ['bogus']
    """
    d = dict(d)
    names = {f.name for f in fields(MeasuredConstants)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"measured constants have unknown keys {unknown}")
    missing = sorted({"n", "d0", "d1", "d2"} - set(d))
    if missing:
        raise ValueError(f"measured constants are missing the sizes {missing}")
    return MeasuredConstants(**d)


@dataclass(frozen=True)
class CheckRecord:
    """One hypothesis, conclusion or identity evaluated on measured constants.

    Attributes
    ----------
    name : str
        Identifier of the row.
    result : str
        The lemma or theorem the row belongs to.
    statement : str
        The inequality with the paper's equation number.
    role : {'hypothesis', 'conclusion', 'identity'}
        See the module notes; identities are never evidence.
    form : {'exact', 'O'}
        Whether the statement hides a universal constant.
    relation : {'<=', '>=', '>'}
        How ``lhs`` compares with ``rhs`` (times the constant for O-rows).
    lhs, rhs : float or None
        The two sides (for O-rows the right side without its constant);
        ``None`` when not applicable.
    status : str
        One of :data:`STATUSES`.
    implied_constant : float or None
        O-rows: the constant at which the measurement is tight; exact
        rows: ``lhs / rhs``.
    derived_constant : float or None
        The constant derived by :mod:`derivations` (O-rows), if any.
    status_at_derived : {'holds', 'violated'} or None
        The O-row's status at ``derived_constant``.
    shortfall : float or None
        Factor ``>= 1`` by which the measurement misses the inequality at
        the derived constant (exact rows: at the statement itself); 1 when
        it holds.
    premise : str
        The failing or unchecked premise (not-applicable and
        unchecked-premise rows), or, for conclusions, the hypotheses they
        rest on.
    observed : bool or None
        Conclusions: whether the predicted behaviour was observed.
    evidence : bool
        False for identities (sanity checks).
    note : str
        Remarks: which radius or constants entered, caveats.

    Examples
    --------
    >>> m = MeasuredConstants(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, nu_Phi=10.0)
    >>> rec = {r.name: r for r in check_theorems(m)}["mu_le_nu"]
    >>> rec.role, rec.status, rec.evidence, rec.lhs, rec.rhs
    ('identity', 'holds', False, 1.0, 10.0)
    """

    name: str
    result: str
    statement: str
    role: str
    form: str
    relation: str
    lhs: object
    rhs: object
    status: str
    implied_constant: object = None
    derived_constant: object = None
    status_at_derived: object = None
    shortfall: object = None
    premise: str = ""
    observed: object = None
    evidence: bool = field(default=True)
    note: str = ""

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        if self.form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {self.form!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.form == "O" and self.status in ("holds", "violated"):
            raise ValueError("an O-row is never 'holds' or 'violated'; use status_at_derived")
        object.__setattr__(self, "evidence", self.role != "identity")


# ---------------------------------------------------------------------------
# constants derived by the derivations (never typed in)
# ---------------------------------------------------------------------------
@lru_cache(maxsize=1)
def derived_constants():
    """The universal constants that :mod:`derivations` derives.

    Returns
    -------
    dict
        ``{"C_L2": 2 sqrt(2), "C_9": 1/32, "C_14": 1/4}`` as SymPy numbers,
        each obtained from the derivation it names:

        * ``C_L2``: Lemma 2's flow-length constant
          (:func:`derivations.framework.lemma2_constant`);
        * ``C_9``: (9)'s constant ``1 / (4 C_L2^2)`` from "flow length <=
          rho_Phi" (:func:`derivations.framework.eq9_constant`);
        * ``C_14``: (14)'s constant from the PL-ball contraction at
          ``eta = 1 / beta_h`` (:func:`derivations.framework.theorem2_constant_steps`).

    Examples
    --------
    >>> c = derived_constants()
    >>> c["C_L2"], c["C_9"], c["C_14"]
    (2*sqrt(2), 1/32, 1/4)
    """
    c_l2 = lemma2_constant()
    c_9 = eq9_constant()
    t2 = {s.name: s for s in theorem2_constant_steps()}
    q = t2["contraction_in_ball"].rhs
    c_14 = cancel((1 - q.subs(S.beta_pl, 1 / S.eta)) / (S.eta * S.alpha_f * S.mu_Phi ** 2))
    for s in list(lemma2_steps()) + list(t2.values()):
        if s.verify() is False:
            raise RuntimeError(f"derivation step {s.name} failed; constants not derived")
    return {"C_L2": c_l2, "C_9": c_9, "C_14": c_14}


# ---------------------------------------------------------------------------
# row builders
# ---------------------------------------------------------------------------
def _f(x):
    return None if x is None else float(x)


def _exact(name, result, statement, role, lhs, rel, rhs, *, premise="", note="",
           observed=None):
    lhs, rhs = float(lhs), float(rhs)
    if rel == "<=":
        ok = lhs <= rhs
        short = lhs / rhs if rhs > 0 else (math.inf if lhs > 0 else 1.0)
    elif rel == ">=":
        ok = lhs >= rhs
        short = rhs / lhs if lhs > 0 else (math.inf if rhs > 0 else 1.0)
    elif rel == "<":
        ok = lhs < rhs
        short = 1.0 if ok else (lhs / rhs if rhs > 0 else math.inf)
    else:  # ">"
        ok = lhs > rhs
        short = 1.0 if ok else math.inf
    ratio = lhs / rhs if rhs != 0 else None
    if role == "conclusion":
        observed = ok
    return CheckRecord(name, result, statement, role, "exact", rel, lhs, rhs,
                       "holds" if ok else "violated", implied_constant=ratio,
                       shortfall=max(1.0, short), premise=premise, observed=observed,
                       note=note)


def _o_row(name, result, statement, role, lhs, rel, rhs, *, derived=None, premise="",
           note="", implied=None):
    lhs, rhs = float(lhs), float(rhs)
    implied = (lhs / rhs if rhs != 0 else math.inf) if implied is None else float(implied)
    at, short, obs = None, None, None
    if derived is not None:
        c = float(derived)
        if rel == "<=":
            ok = implied <= c
            short = implied / c
        else:
            ok = implied >= c
            short = c / implied if implied > 0 else math.inf
        at, short = ("holds" if ok else "violated"), max(1.0, short)
        if role == "conclusion":
            obs = ok
    return CheckRecord(name, result, statement, role, "O", rel, lhs, rhs, "implied-constant",
                       implied_constant=implied, derived_constant=_f(derived),
                       status_at_derived=at, shortfall=short, premise=premise,
                       observed=obs, note=note)


def _na(name, result, statement, role, form, rel, premise, note=""):
    return CheckRecord(name, result, statement, role, form, rel, None, None, "not-applicable",
                       premise=premise, note=note)


def _unchecked(name, result, statement, role, form, rel, premise, note="", lhs=None, rhs=None):
    return CheckRecord(name, result, statement, role, form, rel, lhs, rhs, "unchecked-premise",
                       premise=premise, note=note)


def _diverged(name, result, statement, form, rel, m, premise=""):
    """A conclusion the run contradicts by diverging (its later iterates are not finite)."""
    note = f"the run diverged at step {m.diverged_at}; the iterates after it are not finite"
    if form == "O":
        return CheckRecord(name, result, statement, "conclusion", "O", rel, None, None,
                           "implied-constant", status_at_derived="violated", premise=premise,
                           observed=False, note=note)
    return CheckRecord(name, result, statement, "conclusion", "exact", rel, None, None,
                       "violated", premise=premise, observed=False, note=note)


def _corrected_21(activation, init):
    """``(n exponent, d0 exponent, constant)`` of (21) at ``init``, or None when not derived."""
    from sympy import Rational

    from .width import ACTIVATIONS, width_conditions

    if activation not in ACTIVATIONS or init not in ("lecun", "he"):
        return None
    e = width_conditions(activation=activation, settings=(init,))[init]
    if e.get("constant") is None:
        return None
    return Rational(e["n"]), Rational(e["d0"]), float(e["constant"])


def _num(expr, m, **extra):
    vals = {
        "n": m.n, "d0": m.d0, "d1": m.d1, "d2": m.d2, "mu_Phi": m.mu_Phi,
        "nu_Phi": m.nu_Phi, "beta_Phi": m.beta_Phi, "alpha_f": m.alpha_f,
        "beta_f": m.beta_f, "eta": m.eta, "h0": m.h0,
        "grad_f0": None if m.h0 is None else 2.0 * math.sqrt(m.h0),
        "sigma_max_X": m.sigma_max_X, "s_t": m.s_t, "t": m.t, "c_t": m.c_t, "c_0": m.c0,
    }
    vals.update(extra)
    return float(evaluate(expr, **{k: (v if isinstance(v, int) else float(v))
                                   for k, v in vals.items() if v is not None}))


def _missing(m, *names):
    """The first of ``names`` that was not measured, or None."""
    for nm in names:
        if getattr(m, nm) is None:
            return nm
    return None


# ---------------------------------------------------------------------------
def check_theorems(measured):
    """Evaluate every hypothesis, conclusion and identity on measured constants.

    Parameters
    ----------
    measured : MeasuredConstants or dict
        A dict goes through ``MeasuredConstants.from_measurements``.

    Returns
    -------
    list of CheckRecord
        Hypotheses first (data, activation, initialization, Lemma 1's
        near-isometry and smoothness, (9), (13), (20), (21), section 5.3),
        then conclusions (convergence, (14), locality, Lemma 2, Lemma 1),
        the PL-ball argument, and the identities last.

    Raises
    ------
    ValueError
        From ``MeasuredConstants.from_measurements`` on bad input.

    Notes
    -----
    Equations (9), (13), (14), (18)-(21), Lemmas 1-3, section 5.3 of the
    paper; the PL-ball rows are [DERIVED] (see
    :func:`derivations.framework.pl_ball_general_steps`).  Lemma 2 and
    Theorem 1 are about gradient flow; their rows use the GD iterates and
    say so.  The radius is always the paper's ``rho_Phi = mu_Phi / (2
    beta_Phi)``.

    Examples
    --------
    >>> m = MeasuredConstants(n=4, d0=3, d1=2, d2=1, mu_Phi=0.0, nu_Phi=10.0,
    ...     beta_Phi=3.0, sigma_max_X=1.5, s_t=0.5, t=2, h0=1.0)
    >>> rec = {r.name: r for r in check_theorems(m)}["eq9_hypothesis"]
    >>> rec.status, rec.premise
    ('not-applicable', 'mu_Phi > 0 (needs d1 >= n; here d1 = 2 < n = 4)')
    """
    m = measured if isinstance(measured, MeasuredConstants) else from_measurements(measured)
    C = derived_constants()
    recs = []
    add = recs.append

    # premises shared by many rows
    if m.mu_Phi is None:
        mu_premise = "mu_Phi measured"
    elif m.mu_Phi <= 0:
        mu_premise = ("mu_Phi > 0 (needs d1 >= n; here d1 = %d < n = %d)" % (m.d1, m.n)
                      if m.d1 < m.n else "mu_Phi > 0 (phi(W0 X) is rank deficient)")
    else:
        mu_premise = None
    if m.beta_Phi is None:
        beta_premise = "beta_Phi measured"
    elif m.assumption2 is False or not m.beta_Phi > 0:
        beta_premise = "Assumption 2 (beta_Phi finite and positive)" + (
            f": {m.assumption2_reason}" if m.assumption2_reason else "")
    else:
        beta_premise = None
    st_zero = m.s_t is not None and m.s_t <= m.s_t_floor
    st_premise = ("s_t = sigma_min(X^{*t}) measured" if m.s_t is None else
                  f"s_t = sigma_min(X^{{*{m.t}}}) > 0 (measured {m.s_t:.3g}, rounding level "
                  f"{m.s_t_floor:.2g})" if st_zero else None)
    rho = m.rho_Phi
    rho_note = (f"rho_Phi = mu_Phi/(2 beta_Phi) = {rho:.4g} with Lemma 3's beta_Phi"
                + (f" (follow-up radius {m.rho_Phi_followup:.4g} recorded, not used)"
                   if m.rho_Phi_followup is not None else "")) if rho is not None else ""
    lemma1_premise = mu_premise or beta_premise

    # ------------------------------------------------------------ hypotheses
    res3 = "Thm 3"
    if m.max_row_norm_error is not None:
        add(_exact("data_unit_rows", res3, "Sec. 2: ||x_i|| = 1 for every sample",
                   "hypothesis", m.max_row_norm_error, "<=", DATA_ROUNDING,
                   note="lhs = max_i | ||x_i|| - 1 |; rhs is the rounding allowance"))
    if m.Y_fro is not None:
        add(_exact("data_label_norm", res3, "Sec. 2: ||Y||_F <= 1", "hypothesis", m.Y_fro, "<=",
                   1.0 + DATA_ROUNDING))
    if m.assumption2 is not None:
        ok = bool(m.assumption2)
        add(CheckRecord("assumption2", res3, "Assumption 2: phi in C^2, phi(0) = 0, sup|phi'|, "
                        "sup|phi''| finite", "hypothesis", "exact", "==", None, None,
                        "holds" if ok else "violated", shortfall=1.0 if ok else math.inf,
                        note=m.assumption2_reason or ""))
    if m.omega1 is not None and m.omega2 is not None:
        add(_o_row("init_eq19", res3, "eq. (19): omega1 omega2 <= C / sqrt(d0 d1)", "hypothesis",
                   m.omega1 * m.omega2, "<=", 1.0 / math.sqrt(m.d0 * m.d1),
                   note="LeCun initialization gives C = 1 exactly, He C = 2"))
    if m.s_t is not None:
        add(_exact("khatri_rao_positive", res3, f"eq. (20): s_t = sigma_min(X^{{*{m.t}}}) > 0",
                   "hypothesis", m.s_t, ">", m.s_t_floor,
                   note="rhs is the rounding level of the computed s_t; s_t = 0 whenever "
                        f"n > C(d0 + t - 1, t) = {math.comb(m.d0 + (m.t or 2) - 1, m.t or 2)}"))
    res1 = "Lemma 1 (Thms 1-2)"
    st_lo = "Lemma 1: sigma_min(grad Phi*(w0)) >= mu_Phi > 0 (near-isometry, Def. 1)"
    st_hi = "Lemma 1: sigma_max(grad Phi*(w0)) <= nu_Phi (near-isometry, Def. 1)"
    if mu_premise:
        add(_na("near_isometry_lower", res1, st_lo, "hypothesis", "exact", ">=", mu_premise))
    elif m.sigma_min_J0 is None:
        add(_unchecked("near_isometry_lower", res1, st_lo, "hypothesis", "exact", ">=",
                       "sigma_min(grad Phi*(w0)) not measured"))
    else:
        add(_exact("near_isometry_lower", res1, st_lo, "hypothesis", m.sigma_min_J0, ">=",
                   m.mu_Phi, note="lhs = sqrt(lambda_min(K(w0))); Lemma 3 guarantees it when "
                                  "d1 >= n (K >= phi(W0X)^T phi(W0X))"))
    if m.sigma_max_J0 is None or m.nu_Phi is None:
        add(_unchecked("near_isometry_upper", res1, st_hi, "hypothesis", "exact", "<=",
                       "sigma_max(grad Phi*(w0)) and nu_Phi measured"))
    else:
        add(_exact("near_isometry_upper", res1, st_hi, "hypothesis", m.sigma_max_J0, "<=",
                   m.nu_Phi, note="lhs = sqrt(lambda_max(K(w0)))"))
    st_b = ("Lemma 1 / Def. 2: ||J(w_{t+1}) - J(w_t)|| <= beta_Phi ||w_{t+1} - w_t|| "
            "(checked along the GD path)")
    if beta_premise:
        add(_na("smoothness_beta_Phi", res1, st_b, "hypothesis", "exact", "<=", beta_premise))
    elif m.max_jacobian_secant is None:
        add(_unchecked("smoothness_beta_Phi", res1, st_b, "hypothesis", "exact", "<=",
                       "Jacobian secants along the path not tracked"))
    else:
        add(_exact("smoothness_beta_Phi", res1, st_b, "hypothesis", m.max_jacobian_secant,
                   "<=", m.beta_Phi, note="lhs = largest Jacobian secant at the tracked steps; "
                   "Def. 2 asks it on the whole ball, only the path is checked"))

    st9 = "eq. (9): h(w0) <= C alpha_f mu_Phi^6 / (beta_Phi^2 nu_Phi^2)"
    res12 = "Thms 1-3"
    miss = _missing(m, "h0", "nu_Phi")
    if mu_premise or beta_premise or miss:
        add(_na("eq9_hypothesis", res12, st9, "hypothesis", "O", "<=",
                mu_premise or beta_premise or f"{miss} measured"))
    else:
        rhs9 = _num(theorem1_condition(C=1).rhs, m)
        add(_o_row("eq9_hypothesis", res12, st9, "hypothesis", m.h0, "<=", rhs9,
                   derived=C["C_9"], note="C_9 = 1/(4 C_L2^2) = 1/32 from Lemma 2's flow length "
                   "and rho_Phi (theorem1_condition_steps); Lemma 3's beta_Phi"))
    st13 = ("eq. (13): eta <= C mu^2 / (beta_Phi ||grad f(Phi(w0))|| + beta_Phi mu^2 + "
            "beta_f nu^2)")
    miss = _missing(m, "eta", "h0", "nu_Phi")
    if mu_premise or beta_premise or miss:
        add(_na("eq13_step_size", "Thm 2", st13, "hypothesis", "O", "<=",
                mu_premise or beta_premise or f"{miss} measured"))
    else:
        add(_o_row("eq13_step_size", "Thm 2", st13, "hypothesis", m.eta, "<=",
                   _num(theorem2_step_size(C=1), m),
                   note="no constant derived: (13) is not homogeneous in the scale of w, so "
                        "its C carries units; ||grad f(Phi(w0))|| = 2 sqrt(h0)"))
    d20 = eq20_derivation()
    st20 = "eq. (20): d1 >= C sigma_max(X)^2 sqrt(n) / sigma_min(X^{*t})^3"
    miss = _missing(m, "sigma_max_X", "s_t")
    xi20 = None
    if miss or st_premise:
        add(_na("eq20_width", res3, st20, "hypothesis", "O", ">=", f"{miss} measured"
                if miss else st_premise))
    else:
        scal = _num(d20["scaling"], m)
        derived20, note20 = None, "xi and logs inside C"
        if not (mu_premise or beta_premise or _missing(m, "h0", "nu_Phi")):
            # xi at C_9 and the measured scalings a, b, c, k of section 5.3: the width
            # that (9) needs at the derived constant, expressed as (20)
            xi = float(evaluate(d20["xi"], a=m.mu_Phi / (math.sqrt(m.d1) * m.s_t),
                                b=m.nu_Phi / math.sqrt(m.d1 * m.n), c=m.beta_Phi / m.sigma_max_X,
                                k_h0=m.h0 / m.sigma_max_X ** 2, C_9=float(C["C_9"]),
                                alpha_f=m.alpha_f))
            derived20 = xi20 = xi
            note20 = (f"derived constant: xi at C_9 = 1/32 with the measured a, b, c, k "
                      f"(width needed {xi * scal:.4g}); equivalent to (9) at C_9, since a, b, "
                      f"c, k are measured at this width")
        add(_o_row("eq20_width", res3, st20, "hypothesis", m.d1, ">=", scal, derived=derived20,
                   note=note20))
    d21 = eq21_derivation()
    st21 = "eq. (21): d1 >= C n^{3/2} / d0 (heuristics sigma_max(X)^2 = n/d0, s_t = 1)"
    add(_o_row("eq21_width", res3, st21, "hypothesis", m.d1, ">=",
               _num(cancel(d21["d1_min"] / d21["xi"]), m), derived=xi20,
               note=("derived constant: the same xi as (20) (C_9 = 1/32, measured a, b, c, k); "
                     if xi20 is not None else "") + "the paper's heuristic form, which treats "
               "a = |c_t|/sqrt(t!) and b = |c_0| as constants; see derivations.width for the "
               "d0 dependence at LeCun/He initialization"))
    st21c = "eq. (21) at the run's initialization [DERIVED]: d1 >= C n^p d0^q"
    wc = _corrected_21(m.activation, m.init)
    if wc is None:
        add(_na("eq21_init_corrected", res3, st21c, "hypothesis", "O", ">=",
                "derivations.width covers gelu, shifted_softplus and tanh at LeCun or He "
                f"initialization (here {m.activation or '?'}, {m.init or '?'})"))
    else:
        p_n, p_d0, const = wc
        add(_o_row("eq21_init_corrected", res3, st21c.replace("n^p d0^q",
                   f"n^({p_n}) d0^({p_d0})"), "hypothesis", m.d1, ">=",
                   float(m.n) ** float(p_n) * float(m.d0) ** float(p_d0), derived=const,
                   note=f"c_k(omega1) kept at {m.init} initialization (derivations.width, "
                        f"leading order in 1/d0, C_9 = 1/32): the paper's (21) treats "
                        f"c_t, c_0 as constants and reads n^(3/2)/d0"))
    if m.h0 is not None and m.sigma_max_X:
        add(_o_row("h0_scaling", "Sec. 4-5.3", "Sec. 4 [DERIVED]: h(w0) <= k sigma_max(X)^2 "
                   "(input to (20))", "hypothesis", m.h0, "<=", m.sigma_max_X ** 2))
    st_mu = "Sec. 5.3: sigma_min(phi(W0X)) >~ sqrt(c_t^2 d1 / t!) sigma_min(X^{*t})"
    if m.c_t is None or m.c_t == 0 or m.mu_Phi is None or st_premise or m.s_t is None:
        add(_na("order_mu", "Sec. 5.3", st_mu, "hypothesis", "O", ">=",
                st_premise or ("c_t != 0" if m.c_t == 0 else "c_t, mu_Phi, s_t measured")))
    else:
        add(_o_row("order_mu", "Sec. 5.3", st_mu, "hypothesis", m.mu_Phi, ">=",
                   _num(sqrt(S.c_t ** 2 * S.d1 / factorial(S.t)) * S.s_t, m),
                   note="largest a; the follow-up has a = sqrt(1 - delta1)"))
    st_nu = "Sec. 5.3: sigma_max(phi(W0X)) <~ |c_0| sqrt(d1 n)"
    if m.c0 is None or m.c0 == 0 or m.sigma_max_phi is None:
        add(_na("order_nu", "Sec. 5.3", st_nu, "hypothesis", "O", "<=",
                "c_0 != 0" if m.c0 == 0 else "c_0 and sigma_max(phi(W0X)) measured"))
    else:
        add(_o_row("order_nu", "Sec. 5.3", st_nu, "hypothesis", m.sigma_max_phi, "<=",
                   _num(Abs(S.c0) * sqrt(S.d1 * S.n), m)))

    # ----------------------------------------------------------- conclusions
    hyp = "(9), (13) and Lemma 1's near-isometry"
    if m.status is not None:
        add(CheckRecord("convergence", res12, "Thms 1-3: GD converges to a global minimum ("
                        + (m.criterion or "the run's criterion") + ")", "conclusion", "exact",
                        "==", None, None, "holds" if m.converged else "violated",
                        shortfall=None, premise=hyp, observed=m.converged,
                        note=f"stop reason: {m.status} after {m.steps} steps"))
    st14 = "eq. (14): h(w_i) <= (1 - C eta alpha_f mu_Phi^2)^i h(w0) for every i"
    miss = _missing(m, "max_root_ratio", "eta")
    diverged = m.status == "diverged"
    if diverged and not mu_premise:
        add(_diverged("eq14_rate", "Thm 2", st14, "O", ">=", m, premise=hyp))
    elif mu_premise or miss:
        add(_na("eq14_rate", "Thm 2", st14, "conclusion", "O", ">=", mu_premise
                or f"{miss} measured"))
    else:
        unit = _num(1 - theorem2_rate(C=1), m)  # eta alpha_f mu^2
        add(_o_row("eq14_rate", "Thm 2", st14, "conclusion", 1.0 - m.max_root_ratio, ">=", unit,
                   derived=C["C_14"], premise=hyp,
                   note="implied C = (1 - q*)/(eta alpha_f mu^2), q* = max_i (h_i/h0)^(1/i): "
                        "the largest C for which (14) holds at every step; C_14 = 1/4 is what "
                        "the PL argument proves for eta <= 1/beta_h inside the ball"))
    st_loc = ("Thms 1-2: max_i ||w_i - w0|| <= rho_Phi = mu_Phi / (2 beta_Phi) "
              "(iterates stay in Lemma 1's ball)")
    if diverged and not lemma1_premise:
        add(_diverged("locality", res12, st_loc, "exact", "<=", m, premise=hyp))
    elif lemma1_premise or m.max_distance is None:
        add(_na("locality", res12, st_loc, "conclusion", "exact", "<=",
                lemma1_premise or "max_distance measured"))
    else:
        add(_exact("locality", res12, st_loc, "conclusion", m.max_distance, "<=", rho,
                   premise=hyp, note=rho_note))
    st_l2 = "Lemma 2: path length <= C nu_Phi sqrt(h0) / (mu_Phi^2 sqrt(alpha_f))"
    miss = _missing(m, "path_length", "nu_Phi", "h0")
    if diverged and not mu_premise:
        add(_diverged("lemma2_path_length", "Lemma 2", st_l2, "O", "<=", m,
                      premise="the flow stays in B(w0, rho_Phi)"))
    elif mu_premise or miss:
        add(_na("lemma2_path_length", "Lemma 2", st_l2, "conclusion", "O", "<=",
                mu_premise or f"{miss} measured"))
    else:
        add(_o_row("lemma2_path_length", "Lemma 2", st_l2, "conclusion", m.path_length, "<=",
                   _num(lemma2_bound(C=1), m), derived=C["C_L2"],
                   premise="the flow stays in B(w0, rho_Phi)",
                   note="GD iterates in place of the flow; C_L2 = 2 sqrt(2) is derived"))
    st_r = ("Lemma 1: mu_Phi/2 <= sigma_min(grad Phi*(w)) and sigma_max <= 3 nu_Phi/2 for all "
            "||w - w0|| <= rho_Phi (empirical radius >= rho_Phi)")
    if lemma1_premise or m.lemma1_radius is None:
        add(_na("lemma1_radius", "Lemma 1", st_r, "conclusion", "exact", ">=",
                lemma1_premise or "empirical Lemma 1 radius measured"))
    else:
        add(_exact("lemma1_radius", "Lemma 1", st_r, "conclusion", m.lemma1_radius, ">=", rho,
                   premise="near-isometry at w0 and beta_Phi-smoothness",
                   note=(f"empirical radius {m.lemma1_radius:.4g} = "
                         f"{m.lemma1_radius / rho:.4g} rho_Phi"
                         + (" (no violation found up to it: a lower bound)"
                            if m.lemma1_radius_censored else "") + "; " + rho_note)))
    st_pl = "Lemma 1: lambda_min(K(w_t)) >= mu_Phi^2 / 4 at tracked steps t >= 1 inside the ball"
    if lemma1_premise or m.tracked_inside is None:
        add(_na("lemma1_pl_along_run", "Lemma 1", st_pl, "conclusion", "exact", ">=",
                lemma1_premise or "lambda_min tracked along the run"))
    elif m.tracked_inside == 0 or m.min_lambda_min_inside is None:
        add(_na("lemma1_pl_along_run", "Lemma 1", st_pl, "conclusion", "exact", ">=",
                "an iterate w_t (t >= 1, tracked) with ||w_t - w0|| <= rho_Phi; none exists"
                + (f" (the run reaches {m.max_distance / rho:.3g} rho_Phi)"
                   if m.max_distance is not None and rho else ""), note=rho_note))
    else:
        add(_exact("lemma1_pl_along_run", "Lemma 1", st_pl, "conclusion",
                   m.min_lambda_min_inside, ">=", m.mu_Phi ** 2 / 4,
                   premise="near-isometry at w0", note=f"{m.tracked_inside} tracked steps "
                   f"inside; {rho_note}"))

    # ---------------------------------------------------- PL-ball (derived)
    resb = "PL ball [DERIVED]"
    mu_pl = None if m.min_lambda_min is None else 2.0 * m.min_lambda_min
    beta_h = m.max_hessian_top
    st_step = "PL ball [DERIVED]: eta beta_h < 2, beta_h = largest top Hessian eigenvalue of h"
    st_prem = ("PL ball [DERIVED]: ||grad h||^2 >= 2 mu h and ||grad h(w') - grad h(w)|| <= "
               "beta_h ||w' - w|| on B(w0, R)")
    st_c = ("PL ball [DERIVED]: h_{t+1}/h_t <= 1 - 2 mu eta (1 - beta_h eta / 2) at every step")
    st_R = ("PL ball [DERIVED]: sum ||w_{t+1} - w_t|| <= R(eta) = sqrt(h0/eta) / (mu (1 - "
            "beta_h eta/2)^{3/2})")
    if mu_pl is None or beta_h is None or m.eta is None or not mu_pl > 0:
        why = ("lambda_min(K_t) > 0 along the run" if mu_pl is not None
               else "lambda_min and the Hessian tracked")
        for nm, st, role in (("pl_ball_step", st_step, "hypothesis"),
                             ("pl_ball_premise", st_prem, "hypothesis"),
                             ("pl_ball_contraction", st_c, "conclusion"),
                             ("pl_ball_radius", st_R, "conclusion")):
            add(_na(nm, resb, st, role, "exact", "<=", why))
    else:
        step_rec = _exact("pl_ball_step", resb, st_step, "hypothesis", m.eta * beta_h, "<", 2.0,
                          note="mu = 2 min_t lambda_min(K_t), beta_h = max_t top Hessian "
                               "eigenvalue at the tracked steps")
        add(step_rec)
        vals = {S.beta_pl.name: beta_h, S.mu_pl.name: mu_pl, S.eta.name: m.eta,
                S.L0.name: m.h0}
        # the premise, as far as the path can check it: PL at every step and the
        # gradient secants of every step bounded by beta_h
        if m.min_pl_ratio is None or m.max_smoothness_secant is None:
            prem = _unchecked("pl_ball_premise", resb, st_prem, "hypothesis", "exact", "<=",
                              "PL ratio and gradient secants at every step not tracked")
        else:
            pl_ok = m.min_pl_ratio >= 2.0 * mu_pl
            sec_ok = m.max_smoothness_secant <= beta_h
            prem = CheckRecord(
                "pl_ball_premise", resb, st_prem, "hypothesis", "exact", "<=", None, None,
                "holds" if (pl_ok and sec_ok) else "violated",
                shortfall=max(1.0, (2.0 * mu_pl) / m.min_pl_ratio if m.min_pl_ratio > 0
                              else math.inf, m.max_smoothness_secant / beta_h),
                premise="checked along the GD path only, at every step; the rest of "
                        "B(w0, R) is not checked",
                note=f"min_t ||grad h||^2/h = {m.min_pl_ratio:.4g} against 2 mu = "
                     f"{2 * mu_pl:.4g}; max secant {m.max_smoothness_secant:.4g} against "
                     f"beta_h = {beta_h:.4g}")
        add(prem)
        if step_rec.status != "holds":
            for nm, st in (("pl_ball_contraction", st_c), ("pl_ball_radius", st_R)):
                add(_na(nm, resb, st, "conclusion", "exact", "<=",
                        f"eta beta_h < 2 (here {m.eta * beta_h:.3g})"))
        else:
            q_pred = float(evaluate(pl_ball_contraction_general(), **vals))
            if m.worst_contraction is None:
                add(_na("pl_ball_contraction", resb, st_c, "conclusion", "exact", "<=",
                        "per-step contraction measured"))
            else:
                obs_dec = 1.0 - m.worst_contraction
                note = (f"guaranteed per-step decrease {1 - q_pred:.3g} against the worst "
                        f"observed {obs_dec:.3g}")
                add(_exact("pl_ball_contraction", resb, st_c, "conclusion",
                           m.worst_contraction, "<=", q_pred, premise="pl_ball_step, "
                           "pl_ball_premise (" + prem.status + ")", note=note))
            R = float(evaluate(pl_ball_radius_general(), **vals))
            if m.path_length is None:
                add(_na("pl_ball_radius", resb, st_R, "conclusion", "exact", "<=",
                        "path length measured"))
            else:
                scale = (f"; R = {R / m.theta0_norm:.3g} ||w0||" if m.theta0_norm else "")
                add(_exact("pl_ball_radius", resb, st_R, "conclusion", m.path_length, "<=", R,
                           premise="pl_ball_step, pl_ball_premise (" + prem.status + ")",
                           note=f"R(1/beta) = 2 sqrt(2 beta h0)/mu{scale}"))

    # ------------------------------------------------------------ identities
    if m.mu_Phi is not None and m.nu_Phi is not None:
        add(_exact("mu_le_nu", "Lemma 3", "Lemma 3: mu_Phi <= nu_Phi (sigma_min <= sigma_max)",
                   "identity", m.mu_Phi, "<=", m.nu_Phi))
    if (rho is not None and m.phi_dot_max and m.phi_ddot_max
            and m.rho_Phi_followup is not None):
        add(_exact("rho_le_phi_ratio", "follow-up", "follow-up [DERIVED]: rho_Phi (follow-up "
                   "form) <= phi_dot_max / phi_ddot_max", "identity", m.rho_Phi_followup,
                   "<=", m.phi_dot_max / m.phi_ddot_max))
    st_ck = "PL/NTK [DERIVED]: lambda_min(K(w0)) >= sigma_min(phi(W0X))^2 when d1 >= n"
    if m.lambda_min0 is not None and m.mu_Phi is not None:
        if m.d1 >= m.n:
            add(_exact("ntk_ge_conjugate_kernel", "NTK", st_ck, "identity", m.lambda_min0, ">=",
                       m.mu_Phi ** 2, note="K = J J^T contains phi(WX)^T phi(WX) as a summand"))
        else:
            add(_na("ntk_ge_conjugate_kernel", "NTK", st_ck, "identity", "exact", ">=",
                    f"d1 >= n (here d1 = {m.d1} < n = {m.n})"))
    if m.min_ntk_ck_ratio is not None:
        st = ("PL/NTK [DERIVED]: lambda_min(K(w_t)) / sigma_min(phi(W_t X))^2 >= 1 at every "
              "tracked step")
        if m.d1 >= m.n:
            add(_exact("ntk_ge_conjugate_kernel_along_run", "NTK", st, "identity",
                       m.min_ntk_ck_ratio, ">=", 1.0))
        else:
            add(_na("ntk_ge_conjugate_kernel_along_run", "NTK", st, "identity", "exact", ">=",
                    f"d1 >= n (here d1 = {m.d1} < n = {m.n})"))
    if m.min_pl_over_4lmin is not None:
        add(_exact("pl_ratio_ge_4_lambda_min", "NTK", "PL/NTK [DERIVED]: ||grad h(w_t)||^2 / "
                   "h(w_t) >= 4 lambda_min(K(w_t)) at the same step (min ratio over tracked "
                   "steps)", "identity", m.min_pl_over_4lmin, ">=", 1.0,
                   note="||grad h||^2 = 4 r^T K r; the ratio's size says how far the residual "
                        "is from K's bottom eigenvector"))
    return recs


# ---------------------------------------------------------------------------
def summarize_checks(records):
    """Count what the rows say, keeping identities apart.

    Parameters
    ----------
    records : list of CheckRecord
        Output of :func:`check_theorems`.

    Returns
    -------
    dict
        ``hypotheses`` (counts ``total``, ``hold``, ``violated``,
        ``not_applicable``, ``unchecked``, ``no_derived_constant``, and
        ``worst_shortfall`` with ``worst_name``), ``conclusions``
        (``observed`` and ``not_observed`` names, ``not_applicable``),
        ``identities`` (``hold``, ``violated``, names), and ``lines``: the
        three one-line summaries printed by ``pl-toolkit run``.

    Notes
    -----
    Hypotheses are those of Lemma 1 and Theorems 1-3 (the PL-ball
    argument's own premises are rows of the table, not counted here); an
    exact hypothesis
    counts as holding when its status is ``holds``, an O-hypothesis when
    it holds at its derived constant.  O-hypotheses without a derived
    constant are counted apart (their implied constants are in the
    table).  Identities never enter the hypothesis or conclusion counts.

    Examples
    --------
    >>> m = MeasuredConstants(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, nu_Phi=10.0,
    ...     beta_Phi=3.0, sigma_max_X=1.5, s_t=0.5, t=2, h0=1.0, eta=0.01,
    ...     steps=100, status="converged", max_distance=0.05, path_length=0.08)
    >>> s = summarize_checks(check_theorems(m))
    >>> s["hypotheses"]["worst_name"], s["conclusions"]["observed"]
    ('eq9_hypothesis', ['convergence', 'locality', 'lemma2_path_length'])
    """
    hyp = [r for r in records if r.role == "hypothesis" and not r.result.startswith("PL ball")]
    con = [r for r in records if r.role == "conclusion"]
    ide = [r for r in records if r.role == "identity"]

    def verdict(r):
        if r.status in ("holds", "violated"):
            return r.status
        if r.status == "implied-constant":
            return r.status_at_derived or "no-derived"
        return r.status

    v = {r.name: verdict(r) for r in hyp}
    worst, worst_name = 1.0, None
    for r in hyp:
        if r.shortfall is not None and v[r.name] in ("holds", "violated"):
            if r.shortfall > worst or (worst_name is None and r.shortfall >= worst):
                worst, worst_name = r.shortfall, r.name
    h = dict(total=len(hyp), hold=sum(x == "holds" for x in v.values()),
             violated=sum(x == "violated" for x in v.values()),
             not_applicable=sum(x == "not-applicable" for x in v.values()),
             unchecked=sum(x == "unchecked-premise" for x in v.values()),
             no_derived_constant=sum(x == "no-derived" for x in v.values()),
             violated_names=[k for k, x in v.items() if x == "violated"],
             worst_shortfall=worst, worst_name=worst_name)
    observed = [r.name for r in con if r.observed is True]
    not_obs = [r.name for r in con if r.observed is False]
    con_na = [r.name for r in con if r.observed is None]
    c = dict(observed=observed, not_observed=not_obs, not_applicable=con_na)
    i = dict(hold=sum(r.status == "holds" for r in ide),
             violated=sum(r.status == "violated" for r in ide),
             not_applicable=sum(r.status == "not-applicable" for r in ide),
             names=[r.name for r in ide])
    checked = h["hold"] + h["violated"]
    line_h = (f"hypotheses (Lemma 1, Theorems 1-3) at the derived constants: {h['hold']} of "
              f"{checked} hold" + (f" ({', '.join(h['violated_names'])} violated)"
                                   if h["violated_names"] else "")
              + (f"; worst shortfall {worst:.3g}x ({worst_name})" if worst_name and worst > 1
                 else "") + f"; {h['no_derived_constant']} O-rows without a derived constant, "
              f"{h['not_applicable']} not applicable, {h['unchecked']} unchecked")
    line_c = ("conclusions observed: " + (", ".join(observed) if observed else "none")
              + "; not observed: " + (", ".join(not_obs) if not_obs else "none")
              + (f"; {len(con_na)} not applicable" if con_na else ""))
    line_i = (f"identities (sanity checks, not evidence): {i['hold']} of "
              f"{i['hold'] + i['violated']} hold" + (f", {i['violated']} VIOLATED "
                                                     "(a measurement error)"
                                                     if i["violated"] else ""))
    return dict(hypotheses=h, conclusions=c, identities=i, lines=[line_h, line_c, line_i])


def _g(x):
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    x = float(x)
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def records_to_markdown(records):
    """Render check records as Markdown tables, identities apart.

    Parameters
    ----------
    records : list of CheckRecord
        Output of :func:`check_theorems`.

    Returns
    -------
    str
        The rendered text: one table for hypotheses and conclusions, one
        for identities.

    Examples
    --------
    >>> print(records_to_markdown([]).splitlines()[0][:22])
    | name | role | result
    """
    head = ("| name | role | result | statement | lhs | rel | rhs | status | implied C | "
            "derived C | at derived | shortfall | premise / note |")
    sep = "|---|---|---|---|---:|---|---:|---|---:|---:|---|---:|---|"
    lines = [head, sep]
    ids = []
    for r in records:
        if r.role == "identity":
            ids.append(r)
            continue
        extra = "; ".join(x for x in (r.premise, r.note) if x)
        lines.append(f"| {r.name} | {r.role} | {r.result} | {r.statement} | {_g(r.lhs)} | "
                     f"{r.relation} | {_g(r.rhs)} | {r.status} | {_g(r.implied_constant)} | "
                     f"{_g(r.derived_constant)} | {r.status_at_derived or '-'} | "
                     f"{_g(r.shortfall)} | {extra} |")
    lines += ["", "Identities (true by definition or by K = J J^T; sanity checks of the "
              "measurement, never evidence):", "",
              "| name | statement | lhs | rel | rhs | status | note |",
              "|---|---|---:|---|---:|---|---|"]
    for r in ids:
        lines.append(f"| {r.name} | {r.statement} | {_g(r.lhs)} | {r.relation} | {_g(r.rhs)} | "
                     f"{r.status} | {'; '.join(x for x in (r.premise, r.note) if x)} |")
    return "\n".join(lines)


def records_to_json(records, indent=2):
    """Serialize check records to JSON (non-finite floats become null).

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

