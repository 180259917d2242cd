"""The constants of the paper's Lemma 3 (eq. 18) and of its follow-up.

All singular values are computed densely (LAPACK ``gesdd`` through
``scipy.linalg.svdvals``), so they are exact up to rounding; in the paper's
column convention ``phi(W0 X_paper)`` is ``(d1, n)``, the transpose of the
features ``phi(X W0^T)`` returned by :meth:`ShallowNet.features`.  The
formulas themselves are those of :mod:`pl_toolkit.formulas`.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.linalg import svdvals

from . import formulas as F
from ._features import inputs as feature_inputs
from ._validation import overflow_error, quiet_overflow
from .network import check_net

__all__ = ["Lemma3Constants", "lemma3_constants", "ALPHA_F", "BETA_F"]

#: PL constant of f(z) = ||z - Y||^2: ||grad f||^2 = 4 f = 2 alpha_f f.
ALPHA_F = 2.0
#: Smoothness constant of f(z) = ||z - Y||^2 (its Hessian is 2 I).
BETA_F = 2.0


@dataclass(frozen=True)
class Lemma3Constants:
    """Near-isometry, smoothness and radius constants of the shallow network.

    Attributes
    ----------
    mu_Phi : float
        ``sigma_min(phi(W0 X_paper))``: square root of the smallest of the
        ``n`` eigenvalues of the conjugate kernel ``H H^T``; zero when
        ``d1 < n``.
    nu_Phi : float
        ``phi_dot_max sigma_max(X) sigma_max(V0) + sigma_max(phi(W0 X))``.
    beta_Phi : float
        Paper form ``sqrt(2) sigma_max(X) (phi_dot_max + phi_ddot_max chi_max)``
        with ``chi_max`` of the follow-up (the sup of ``sigma_max(V)`` over
        the ball, which the paper leaves implicit).
    chi_max : float
        ``sigma_max(V0) + mu_Phi / (2 sqrt(2) sigma_max(X) phi_dot_max)``.
    rho_Phi : float
        Lemma 1 radius ``mu_Phi / (2 beta_Phi)`` with the paper-form beta.
    beta_Phi_followup : float
        ``sqrt(2) sigma_max(X) (phi_dot_max + sigma_max(V0))
        + phi_ddot_max mu_Phi / (2 phi_dot_max)``.
    rho_Phi_followup : float
        ``mu_Phi / (2 beta_Phi_followup)``.
    sigma_max_X, sigma_max_V0 : float
        Spectral norms of the data and of the second layer.
    sigma_min_features, sigma_max_features : float
        Extreme singular values of ``phi(X W0^T)``.
    phi_dot_max, phi_ddot_max : float
        Activation constants of Assumption 2.
    alpha_f, beta_f : float
        PL and smoothness constants of ``f(z) = ||z - Y||^2`` (both 2).
    n, d0, d1, d2 : int
        Sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, lemma3_constants
    >>> net = ShallowNet.init(4, 32, seed=0)
    >>> X = np.eye(4)
    >>> c = lemma3_constants(net, X)
    >>> (c.n, c.d0, c.d1, c.d2), c.sigma_max_X
    ((4, 4, 32, 1), 1.0)
    >>> s = np.linalg.svd(net.features(X), compute_uv=False)
    >>> bool(np.isclose(c.mu_Phi, s.min())), bool(np.isclose(c.sigma_max_features, s.max()))
    (True, True)
    >>> sorted(c.to_dict())[:3]
    ['alpha_f', 'beta_Phi', 'beta_Phi_followup']
    """

    mu_Phi: float
    nu_Phi: float
    beta_Phi: float
    chi_max: float
    rho_Phi: float
    beta_Phi_followup: float
    rho_Phi_followup: float
    sigma_max_X: float
    sigma_max_V0: float
    sigma_min_features: float
    sigma_max_features: float
    phi_dot_max: float
    phi_ddot_max: float
    alpha_f: float
    beta_f: float
    n: int
    d0: int
    d1: int
    d2: int

    def to_dict(self):
        """Return the constants as a plain dict of floats and ints."""
        return asdict(self)


@quiet_overflow
def lemma3_constants(net, X):
    """Evaluate Lemma 3's constants (eq. 18) at the weights of ``net``.

    Parameters
    ----------
    net : ShallowNet
        The network at initialization (``W0``, ``V0``); biases, if any,
        enter the features ``phi(X W^T + b1)`` although Lemma 3 is stated
        without them.
    X : array_like of shape (n, d0)
        Inputs as rows (the paper assumes unit rows).

    Returns
    -------
    Lemma3Constants
        The constants, in the paper's form and in the follow-up's form.

    Raises
    ------
    ValueError
        On bad data; if ``X`` is all zero (``sigma_max(X) = 0`` makes
        ``chi_max`` a ``0/0`` and Lemma 3 says nothing about such data); or
        when finite inputs overflow float64 in the features or a constant
        (the message names the input with the largest entries).

    Notes
    -----
    Lemma 3 (eq. 18):
    ``mu_Phi = sigma_min(phi(W0 X))``,
    ``nu_Phi = phi_dot_max sigma_max(X) sigma_max(V0) + sigma_max(phi(W0 X))``,
    ``beta_Phi = sqrt(2) sigma_max(X) (phi_dot_max + phi_ddot_max chi_max)``.
    The follow-up refines ``beta_Phi`` and fixes
    ``chi_max = sigma_max(V0) + mu_Phi / (2 sqrt(2) sigma_max(X) phi_dot_max)``;
    Lemma 1's radius is ``rho_Phi = mu_Phi / (2 beta_Phi)``.  For an
    activation with unbounded ``phi'`` or ``phi''`` (Assumption 2 fails)
    the affected constants are ``inf`` and the radius is 0; a term whose
    other factor is exactly 0 is 0 (e.g. ``phi_dot_max sigma_max(X)
    sigma_max(V0)`` with ``V0 = 0``).  Degenerate data are defined where
    Lemma 3 is: a zero row of ``X`` (with ``phi(0) = 0`` and no bias) gives
    a zero row of features, hence ``mu_Phi = 0`` and radii 0; ``n = 1`` is
    an ordinary case; an all-zero ``X`` is refused.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, lemma3_constants
    >>> X = np.eye(4)
    >>> c = lemma3_constants(ShallowNet.init(4, 64, seed=0), X)
    >>> bool(0 < c.mu_Phi <= c.sigma_max_features <= c.nu_Phi)
    True
    >>> bool(np.isclose(c.rho_Phi, c.mu_Phi / (2 * c.beta_Phi)))
    True
    """
    check_net(net)
    X = net.check_data(X)
    if not np.any(X):
        raise ValueError("X is all zero: sigma_max(X) = 0, so chi_max and beta_Phi of Lemma 3 "
                         "(eq. 18) are undefined (0/0)")
    n = X.shape[0]
    act = net.activation
    H = net.features(X)                    # ValueError if phi(X W^T + b1) overflows
    s_feat = svdvals(H, check_finite=False)
    s_max_feat = float(s_feat[0])
    mu = float(s_feat[n - 1]) if net.d1 >= n else 0.0
    s_max_X = float(svdvals(X, check_finite=False)[0])
    s_max_V = float(svdvals(np.asarray(net.V), check_finite=False)[0])
    dot, ddot = act.phi_dot_max, act.phi_ddot_max
    fin = math.isfinite
    inputs = feature_inputs(net, X)[:3] + [("net.b1", net.b1)]
    for value, what in ((s_max_feat, "sigma_max(phi(X W^T + b1))"), (s_max_X, "sigma_max(X)"),
                        (s_max_V, "sigma_max(V0)")):
        if not fin(value):
            raise overflow_error(what, inputs)
    nu = F.lemma3_nu(dot, s_max_X, s_max_V, s_max_feat)
    chi = F.followup_chi_max(mu, s_max_X, s_max_V, dot)
    beta = F.lemma3_beta(s_max_X, dot, ddot, chi)
    beta_fu = F.followup_beta(mu, s_max_X, s_max_V, dot, ddot)
    # Infinite only through an infinite activation constant; otherwise overflow.
    for value, what, legit in ((nu, "nu_Phi", not fin(dot)),
                               (chi, "chi_max", not (fin(dot) and dot > 0)),
                               (beta, "beta_Phi", not (fin(dot) and fin(ddot) and fin(chi))),
                               (beta_fu, "beta_Phi_followup", not (fin(dot) and fin(ddot)))):
        if not fin(value) and not legit:
            raise overflow_error(what, inputs)

    return Lemma3Constants(mu_Phi=mu, nu_Phi=nu, beta_Phi=beta, chi_max=chi,
                           rho_Phi=F.lemma1_radius(mu, beta),
                           beta_Phi_followup=beta_fu, rho_Phi_followup=F.lemma1_radius(mu, beta_fu),
                           sigma_max_X=s_max_X, sigma_max_V0=s_max_V,
                           sigma_min_features=float(s_feat[min(n, net.d1) - 1]),
                           sigma_max_features=s_max_feat, phi_dot_max=dot, phi_ddot_max=ddot,
                           alpha_f=ALPHA_F, beta_f=BETA_F, n=n, d0=net.d0, d1=net.d1, d2=net.d2)
