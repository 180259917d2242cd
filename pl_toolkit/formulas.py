"""The paper's numeric formulas, each written once.

Every closed-form expression of the paper that the numeric code evaluates
lives here as a plain float function, and :data:`FORMULAS` registers it
with its source.  The code that needs a formula calls it from here
(:func:`pl_toolkit.lemma3_constants`, the step-size resolver, the Lemma 1
search, the main job's width); ``tests/derivations/test_formula_registry.py``
compares every registered formula with the SymPy expression of
:mod:`derivations` it transcribes, lambdified, on random inputs, and fails
for a registered formula without such a counterpart.

Notation is the paper's (``paper.md`` section 3): ``mu``, ``nu``, ``beta``
are ``mu_Phi``, ``nu_Phi``, ``beta_Phi``; ``alpha`` is ``alpha_f``.  The
universal constants the paper leaves in ``O(.)`` are arguments; their
defaults are the values the derivations determine where they do
(``C_L2 = 2 sqrt(2)``, ``C_9 = 1/32``) and 1 otherwise.

Examples
--------
>>> from pl_toolkit.formulas import FORMULAS, lemma1_radius
>>> lemma1_radius(3.0, 2.0)
0.75
>>> FORMULAS["lemma1_radius"].source
'Lemma 1'
"""

import math
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Formula", "FORMULAS", "lemma3_nu", "lemma3_beta", "followup_chi_max",
           "followup_beta", "lemma1_radius", "lemma1_sigma_min_bound",
           "lemma1_sigma_max_bound", "lemma2_path_length", "eq9_h0_max", "eq13_step_size",
           "eq14_rate", "eq20_width", "eq21_width", "C_L2", "C_9"]

#: Lemma 2's constant derived by ``derivations.framework.lemma2_constant``.
C_L2 = 2.0 * math.sqrt(2.0)
#: The constant of (9) derived by ``derivations.framework.eq9_constant``.
C_9 = 1.0 / 32.0


def _times(c, x):
    """``c * x`` with ``0 * inf = 0``: a term with a zero factor vanishes."""
    if x == 0.0 or c == 0.0:
        return 0.0
    return c * x


def lemma3_nu(phi_dot_max, sigma_max_X, sigma_max_V0, sigma_max_phi):
    """Lemma 3's ``nu_Phi = phi_dot_max sigma_max(X) sigma_max(V0) + sigma_max(phi(W0 X))``.

    Parameters
    ----------
    phi_dot_max : float
        ``sup |phi'|`` (may be ``inf``).
    sigma_max_X, sigma_max_V0, sigma_max_phi : float
        ``sigma_max(X)``, ``sigma_max(V0)`` and ``sigma_max(phi(W0 X))``.

    Returns
    -------
    float
        ``nu_Phi`` (eq. 18); the first term is 0 when ``sigma_max(X)
        sigma_max(V0) = 0`` even for an infinite ``phi_dot_max``.

    Examples
    --------
    >>> lemma3_nu(1.0, 2.0, 3.0, 4.0)
    10.0
    """
    return _times(phi_dot_max, sigma_max_X * sigma_max_V0) + sigma_max_phi


def followup_chi_max(mu, sigma_max_X, sigma_max_V0, phi_dot_max):
    """The follow-up's ``chi_max = sigma_max(V0) + mu / (2 sqrt(2) sigma_max(X) phi_dot_max)``.

    Parameters
    ----------
    mu, sigma_max_X, sigma_max_V0, phi_dot_max : float
        ``mu_Phi``, ``sigma_max(X)``, ``sigma_max(V0)``, ``sup |phi'|``.

    Returns
    -------
    float
        ``chi_max``; ``inf`` when ``phi_dot_max`` is 0 or infinite.

    Examples
    --------
    >>> followup_chi_max(0.0, 1.0, 0.5, 1.0)
    0.5
    """
    if not (math.isfinite(phi_dot_max) and phi_dot_max > 0):
        return math.inf
    return sigma_max_V0 + mu / (2.0 * math.sqrt(2.0) * sigma_max_X * phi_dot_max)


def lemma3_beta(sigma_max_X, phi_dot_max, phi_ddot_max, chi_max):
    """Lemma 3's ``beta_Phi = sqrt(2) sigma_max(X) (phi_dot_max + phi_ddot_max chi_max)``.

    Parameters
    ----------
    sigma_max_X, phi_dot_max, phi_ddot_max, chi_max : float
        ``sigma_max(X)``, ``sup |phi'|``, ``sup |phi''|``, ``chi_max``.

    Returns
    -------
    float
        ``beta_Phi`` (eq. 18).

    Examples
    --------
    >>> bool(abs(lemma3_beta(1.0, 1.0, 0.0, 5.0) - 2 ** 0.5) < 1e-15)
    True
    """
    return math.sqrt(2.0) * sigma_max_X * (phi_dot_max + _times(phi_ddot_max, chi_max))


def followup_beta(mu, sigma_max_X, sigma_max_V0, phi_dot_max, phi_ddot_max):
    """The follow-up's refined ``beta_Phi``.

    ``beta_Phi = sqrt(2) sigma_max(X)(phi_dot_max + sigma_max(V0))
    + phi_ddot_max mu / (2 phi_dot_max)``.

    Parameters
    ----------
    mu, sigma_max_X, sigma_max_V0, phi_dot_max, phi_ddot_max : float
        ``mu_Phi``, ``sigma_max(X)``, ``sigma_max(V0)``, ``sup |phi'|``,
        ``sup |phi''|``.

    Returns
    -------
    float
        The refined ``beta_Phi``; the last term is 0 when ``phi_dot_max = 0``.

    Examples
    --------
    >>> bool(abs(followup_beta(0.0, 1.0, 1.0, 1.0, 1.0) - 2 * 2 ** 0.5) < 1e-15)
    True
    """
    last = _times(phi_ddot_max, mu / (2.0 * phi_dot_max)) if phi_dot_max > 0 else 0.0
    return math.sqrt(2.0) * sigma_max_X * (phi_dot_max + sigma_max_V0) + last


def lemma1_radius(mu, beta):
    """Lemma 1's radius ``rho_Phi = mu / (2 beta)``.

    Parameters
    ----------
    mu, beta : float
        ``mu_Phi`` and ``beta_Phi``.

    Returns
    -------
    float
        The radius; ``inf`` for ``beta = 0`` and 0 for an infinite or
        non-positive ``beta``.

    Examples
    --------
    >>> lemma1_radius(1.0, 4.0), lemma1_radius(1.0, float("inf"))
    (0.125, 0.0)
    """
    if beta > 0 and math.isfinite(beta):
        return mu / (2.0 * beta)
    return math.inf if beta == 0 else 0.0


def lemma1_sigma_min_bound(mu):
    """Lemma 1's lower bound ``mu / 2`` on ``sigma_min(grad Phi*(w))`` in the ball.

    Parameters
    ----------
    mu : float
        ``mu_Phi``.

    Returns
    -------
    float
        ``mu / 2``.

    Examples
    --------
    >>> lemma1_sigma_min_bound(3.0)
    1.5
    """
    return mu / 2.0


def lemma1_sigma_max_bound(nu):
    """Lemma 1's upper bound ``3 nu / 2`` on ``sigma_max(grad Phi*(w))`` in the ball.

    Parameters
    ----------
    nu : float
        ``nu_Phi``.

    Returns
    -------
    float
        ``1.5 nu``.

    Examples
    --------
    >>> lemma1_sigma_max_bound(2.0)
    3.0
    """
    return 1.5 * nu


def lemma2_path_length(nu, mu, h0, alpha, C=C_L2):
    """Lemma 2's flow-length radius ``C nu sqrt(h0) / (mu^2 sqrt(alpha))``.

    Parameters
    ----------
    nu, mu, h0, alpha : float
        ``nu_Phi``, ``mu_Phi``, ``h(w0)``, ``alpha_f``.
    C : float, default 2 sqrt(2)
        Lemma 2's constant (the value the derivations derive).

    Returns
    -------
    float
        The bound on the flow length inside the ball.

    Examples
    --------
    >>> lemma2_path_length(1.0, 1.0, 2.0, 2.0, C=1.0)
    1.0
    """
    return C * nu * math.sqrt(h0) / (mu ** 2 * math.sqrt(alpha))


def eq9_h0_max(alpha, mu, nu, beta, C=C_9):
    """Theorem 1's hypothesis (9): the largest ``h(w0) = C alpha mu^6 / (beta^2 nu^2)``.

    Parameters
    ----------
    alpha, mu, nu, beta : float
        ``alpha_f``, ``mu_Phi``, ``nu_Phi``, ``beta_Phi``.
    C : float, default 1/32
        The constant of (9) (the value the derivations derive).

    Returns
    -------
    float
        The right side of (9).

    Examples
    --------
    >>> eq9_h0_max(2.0, 1.0, 1.0, 1.0, C=1.0)
    2.0
    """
    return C * alpha * mu ** 6 / (beta ** 2 * nu ** 2)


def eq13_step_size(mu, nu, beta, grad_f, beta_f, C=1.0):
    """Theorem 2's step size (13): ``C mu^2 / (beta ||grad f|| + beta mu^2 + beta_f nu^2)``.

    Parameters
    ----------
    mu, nu, beta : float
        ``mu_Phi``, ``nu_Phi``, ``beta_Phi``.
    grad_f : float
        ``||grad f(Phi(w0))||`` (``2 sqrt(h0)`` for ``f = ||z - Y||^2``).
    beta_f : float
        Smoothness constant of ``f`` (2 for the paper's loss).
    C : float, default 1
        The universal constant of (13).

    Returns
    -------
    float
        The step size; 0 when the denominator is 0.

    Examples
    --------
    >>> eq13_step_size(1.0, 1.0, 1.0, 2.0, 2.0)
    0.2
    """
    denom = beta * grad_f + beta * mu ** 2 + beta_f * nu ** 2
    return C * mu ** 2 / denom if denom > 0 else 0.0


def eq14_rate(eta, alpha, mu, C=1.0):
    """Theorem 2's contraction factor (14): ``1 - C eta alpha mu^2``.

    Parameters
    ----------
    eta, alpha, mu : float
        Step size, ``alpha_f``, ``mu_Phi``.
    C : float, default 1
        The universal constant of (14).

    Returns
    -------
    float
        The per-step factor of ``h(w_i) <= (1 - C eta alpha mu^2)^i h(w0)``.

    Examples
    --------
    >>> eq14_rate(0.25, 2.0, 1.0)
    0.5
    """
    return 1.0 - C * eta * alpha * mu ** 2


def eq20_width(n, sigma_max_X, s_t, a, b, c, k, alpha, C=C_9):
    """The width (20) that (9) requires under Lemma 3's scalings.

    Parameters
    ----------
    n : float
        Samples.
    sigma_max_X, s_t : float
        ``sigma_max(X)`` and ``s_t = sigma_min(X^{*t})``.
    a, b, c, k : float
        Scalings ``mu = a sqrt(d1) s_t``, ``nu = b sqrt(d1 n)``,
        ``beta = c sigma_max(X)``, ``h0 = k sigma_max(X)^2``.
    alpha : float
        ``alpha_f``.
    C : float, default 1/32
        The constant of (9).

    Returns
    -------
    float
        ``sqrt(k b^2 c^2 / (C alpha a^6)) sigma_max(X)^2 sqrt(n) / s_t^3``.

    Examples
    --------
    >>> eq20_width(4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, C=1.0)
    2.0
    """
    xi = math.sqrt(k * b ** 2 * c ** 2 / (C * alpha * a ** 6))
    return xi * sigma_max_X ** 2 * math.sqrt(n) / s_t ** 3


def eq21_width(n, d0, xi=1.0):
    """The width (21) ``xi n^{3/2} / d0``.

    Parameters
    ----------
    n, d0 : float
        Samples and input dimension.
    xi : float, default 1
        The constant factor (unknown in the paper).

    Returns
    -------
    float
        ``xi n^{3/2} / d0``.

    Examples
    --------
    >>> eq21_width(100, 10)
    100.0
    """
    return xi * n ** 1.5 / d0


@dataclass(frozen=True)
class Formula:
    """A registered formula.

    Attributes
    ----------
    name : str
        Registry key.
    function : callable
        The float implementation.
    source : str
        Where the paper (or its follow-up) states it.
    """

    name: str
    function: object
    source: str


def _registry(*entries):
    return MappingProxyType({name: Formula(name, fn, src) for name, fn, src in entries})


#: Every numeric formula of the paper the code evaluates, by name.
FORMULAS = _registry(
    ("lemma3_nu", lemma3_nu, "Lemma 3, eq. (18)"),
    ("lemma3_beta", lemma3_beta, "Lemma 3, eq. (18)"),
    ("followup_chi_max", followup_chi_max, "follow-up, Lemma 3 refinement"),
    ("followup_beta", followup_beta, "follow-up, Lemma 3 refinement"),
    ("lemma1_radius", lemma1_radius, "Lemma 1"),
    ("lemma1_sigma_min_bound", lemma1_sigma_min_bound, "Lemma 1"),
    ("lemma1_sigma_max_bound", lemma1_sigma_max_bound, "Lemma 1"),
    ("lemma2_path_length", lemma2_path_length, "Lemma 2"),
    ("eq9_h0_max", eq9_h0_max, "Theorem 1, eq. (9)"),
    ("eq13_step_size", eq13_step_size, "Theorem 2, eq. (13)"),
    ("eq14_rate", eq14_rate, "Theorem 2, eq. (14)"),
    ("eq20_width", eq20_width, "Theorem 3, eq. (20)"),
    ("eq21_width", eq21_width, "Section 5.3, eq. (21)"),
)
