r"""How far from initialization Lemma 1's conclusion actually holds.

Lemma 1 says: if ``Phi`` is ``beta_Phi``-smooth and ``grad Phi*(w0)`` is a
``(mu_Phi, nu_Phi)``-near-isometry, then for every ``w`` with ``||w - w0|| <=
rho_Phi = mu_Phi / (2 beta_Phi)``

.. math::

    \mu_\Phi / 2 \le \sigma_{\min}(\nabla\Phi^*(w)) \le
    \sigma_{\max}(\nabla\Phi^*(w)) \le 3 \nu_\Phi / 2 .

:func:`lemma1_radius` measures the *empirical* radius: the largest ``r``
such that these bounds hold at the points at distance ``r`` from ``w0``,
searched along random directions and along a gradient-descent path, by
bisection in ``r``.  The ratio ``r / rho_Phi`` says how loose Lemma 1 is.

The singular values of ``grad Phi*(w)`` are the square roots of the
extreme eigenvalues of the empirical NTK ``K(w) = J J^T`` (dense LAPACK,
so the search is limited to ``n d2 <= DENSE_ROWS``).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from .formulas import lemma1_sigma_max_bound, lemma1_sigma_min_bound
from .network import check_layers, check_net
from .ntk import gradient, ntk_gram

__all__ = ["Lemma1Radius", "lemma1_radius", "gd_step", "DENSE_ROWS"]

#: Largest ``n d2`` for which the search forms the NTK densely.
DENSE_ROWS = 4000


@dataclass(frozen=True)
class Lemma1Radius:
    """Result of :func:`lemma1_radius`.

    Attributes
    ----------
    radius : float
        The distance from ``w0`` of the nearest point found, over all
        searched directions and the path, at which a bound of Lemma 1
        fails; when no search found a violation, the largest distance
        searched (see ``censored``).
    radius_ratio : float
        ``radius / rho_Phi``.
    censored : bool
        True when no search found a violation: ``radius`` is then a lower
        bound.
    rho_Phi, mu_Phi, nu_Phi : float
        The radius and constants the bounds use.
    directions : list of dict
        Per random direction: ``radius``, ``censored``, ``evaluations`` (a
        list of ``(r, sigma_min, sigma_max, ok)``).
    path : dict or None
        Along the GD path: ``radius``, ``censored``, ``step`` (the first
        step whose segment contains a violation, or None), ``evaluations``.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, lemma3_constants
    >>> from pl_toolkit.locality import lemma1_radius
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((6, 3)); X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> net = ShallowNet.init(3, 40, seed=0)
    >>> c = lemma3_constants(net, X)
    >>> r = lemma1_radius(net, X, mu=c.mu_Phi, nu=c.nu_Phi, rho=c.rho_Phi, directions=2)
    >>> bool(r.radius >= c.rho_Phi), len(r.directions)
    (True, 2)
    """

    radius: float
    radius_ratio: float
    censored: bool
    rho_Phi: float
    mu_Phi: float
    nu_Phi: float
    directions: list = field(default_factory=list)
    path: dict = None

    def to_dict(self):
        """JSON-ready form (``evaluations`` as lists).

        Returns
        -------
        dict
            ``radius``, ``radius_ratio``, ``censored``, ``rho_Phi``,
            ``mu_Phi``, ``nu_Phi``, ``directions``, ``path``.
        """
        return dict(radius=self.radius, radius_ratio=self.radius_ratio, censored=self.censored,
                    rho_Phi=self.rho_Phi, mu_Phi=self.mu_Phi, nu_Phi=self.nu_Phi,
                    directions=[dict(d) for d in self.directions],
                    path=None if self.path is None else dict(self.path))


class _Probe:
    """``ok(theta)``: Lemma 1's bounds at the parameters ``theta``."""

    def __init__(self, net, X, layers, mu, nu):
        self.net, self.X, self.layers = net, X, layers
        self.lo, self.hi = lemma1_sigma_min_bound(mu), lemma1_sigma_max_bound(nu)
        self.count = 0

    def __call__(self, theta):
        self.count += 1
        K = ntk_gram(self.net.with_parameters(theta, self.layers), self.X, layers=self.layers)
        if not np.all(np.isfinite(K)):
            return math.nan, math.nan, False
        # one tridiagonal reduction gives both ends of the spectrum
        w = sla.eigh(K, eigvals_only=True, check_finite=False, driver="evr")
        lo, hi = w[0], w[-1]
        smin, smax = math.sqrt(max(float(lo), 0.0)), math.sqrt(max(float(hi), 0.0))
        return smin, smax, bool(smin >= self.lo and smax <= self.hi)


def _bisect(probe, point, lo, hi, rtol, evals):
    """Largest ``r`` in ``[lo, hi]`` with ``ok(point(r))``, given ok(lo) and not ok(hi)."""
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        smin, smax, ok = probe(point(mid))
        evals.append((mid, smin, smax, ok))
        if ok:
            lo = mid
        else:
            hi = mid
    return lo


def _search_direction(probe, theta0, u, rho, r_cap, rtol, growth):
    evals = []
    point = lambda r: theta0 + r * u  # noqa: E731
    lo, r = 0.0, rho
    while True:
        smin, smax, ok = probe(point(r))
        evals.append((r, smin, smax, ok))
        if not ok:
            return dict(radius=_bisect(probe, point, lo, r, rtol, evals), censored=False,
                        evaluations=evals)
        lo = r
        if r >= r_cap:
            return dict(radius=r, censored=True, evaluations=evals)
        r = min(r * growth, r_cap)


def _search_path(probe, theta0, path, step, rtol):
    """Walk the stored iterates; locate the first failing step by bisection on t."""
    evals = []
    prev_t, prev_theta = 0, theta0
    reached = 0.0
    for t, theta in path:
        smin, smax, ok = probe(theta)
        d = float(np.linalg.norm(theta - theta0))
        evals.append((d, smin, smax, ok))
        if ok:
            prev_t, prev_theta, reached = t, theta, max(reached, d)
            continue
        # the first violation lies on the GD path between prev_t and t
        lo_t, lo_theta, hi_t, hi_theta = prev_t, prev_theta, t, theta
        if step is not None:
            while hi_t - lo_t > 1:
                mid_t = (lo_t + hi_t) // 2
                mid = lo_theta
                for _ in range(mid_t - lo_t):
                    mid = step(mid)
                smin, smax, okm = probe(mid)
                evals.append((float(np.linalg.norm(mid - theta0)), smin, smax, okm))
                if okm:
                    lo_t, lo_theta = mid_t, mid
                    reached = max(reached, float(np.linalg.norm(mid - theta0)))
                else:
                    hi_t, hi_theta = mid_t, mid
        a, b = lo_theta, hi_theta
        seg = lambda lam, a=a, b=b: a + lam * (b - a)  # noqa: E731
        lam = _bisect(probe, seg, 0.0, 1.0, rtol, [])
        return dict(radius=float(np.linalg.norm(seg(lam) - theta0)), censored=False,
                    step=int(hi_t), evaluations=evals)
    return dict(radius=reached, censored=True, step=None, evaluations=evals)


def lemma1_radius(net, X, *, mu, nu, rho, directions=8, path=None, path_step=None,
                  layers=("W", "V"), rtol=0.02, growth=4.0, r_cap=None, seed=0):
    """Empirical radius of Lemma 1's conclusion around ``net``'s weights.

    Parameters
    ----------
    net : ShallowNet
        The network at ``w0``.
    X : array_like of shape (n, d0)
        Inputs.
    mu, nu : float
        ``mu_Phi`` and ``nu_Phi`` (Lemma 3); the bounds are ``mu/2`` and
        ``3 nu / 2``.
    rho : float
        Lemma 1's radius ``rho_Phi``; the searches start there.
    directions : int, default 8
        Random unit directions in parameter space (Gaussian, seeded).
    path : sequence of (int, ndarray), optional
        Stored GD iterates ``(t, theta_t)`` in increasing ``t`` (flat
        parameters of ``layers``); searched in order.
    path_step : callable, optional
        ``theta_{t+1} = path_step(theta_t)``: one GD step, used to locate
        the first failing step between the stored iterate before and after
        the first violation by bisection on ``t`` (re-running GD from the
        earlier one); the segment between that step and the one before is
        then bisected.  Without it the segment between the two stored
        iterates is searched.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters the Jacobian is taken with respect to.
    rtol : float, default 0.02
        Relative width at which a bisection stops.
    growth : float, default 4
        Factor between the radii of the outward scan.
    r_cap : float, optional
        Largest radius searched along a direction (default ``10 ||w0||``).
    seed : int or SeedSequence, default 0
        Seed of the directions.

    Returns
    -------
    Lemma1Radius
        The smallest radius found, its ratio to ``rho``, and the details.

    Raises
    ------
    ValueError
        When ``mu``, ``nu`` or ``rho`` is not positive and finite, or
        ``n d2 > DENSE_ROWS``.

    Notes
    -----
    Lemma 1 (paper section 3) with Lemma 3's constants (eq. 18).  Along a
    ray ``w0 + r u`` the bounds are checked at ``r = rho, growth rho,
    ...`` until one fails, then the boundary is bisected; the search
    assumes the set where the bounds hold is star-shaped around ``w0``
    along each ray, and reports the first failure it finds.  A radius
    below ``rho`` is a counterexample to Lemma 1 (a point inside the ball
    where a bound fails); a radius above it is evidence of slack, not
    proof, since only finitely many directions are searched.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, lemma3_constants
    >>> from pl_toolkit.locality import lemma1_radius
    >>> rng = np.random.default_rng(1)
    >>> X = rng.standard_normal((5, 3)); X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> net = ShallowNet.init(3, 30, seed=1)
    >>> c = lemma3_constants(net, X)
    >>> res = lemma1_radius(net, X, mu=c.mu_Phi, nu=c.nu_Phi, rho=c.rho_Phi, directions=1)
    >>> bool(res.radius_ratio >= 1), res.directions[0]["censored"] in (True, False)
    (True, True)
    """
    check_net(net)
    X = net.check_data(X)
    layers = check_layers(layers)
    for name, v in (("mu", mu), ("nu", nu), ("rho", rho)):
        if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    if X.shape[0] * net.d2 > DENSE_ROWS:
        raise ValueError(f"X has n d2 = {X.shape[0] * net.d2} NTK rows; the Lemma 1 search "
                         f"forms the NTK densely and is limited to {DENSE_ROWS}")
    if isinstance(directions, bool) or not isinstance(directions, (int, np.integer)) \
            or directions < 0:
        raise ValueError(f"directions must be a non-negative integer, got {directions!r}")
    theta0 = net.parameters(layers)
    cap = 10.0 * float(np.linalg.norm(theta0)) if r_cap is None else float(r_cap)
    cap = max(cap, rho)
    probe = _Probe(net, X, layers, float(mu), float(nu))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng = np.random.default_rng(ss)
    found = []
    for _ in range(int(directions)):
        u = rng.standard_normal(theta0.size)
        u /= np.linalg.norm(u)
        found.append(_search_direction(probe, theta0, u, float(rho), cap, rtol, growth))
    path_res = None
    if path is not None:
        path_res = _search_path(probe, theta0, list(path), path_step, rtol)
    candidates = found + ([path_res] if path_res is not None else [])
    if not candidates:
        raise ValueError("nothing to search: directions = 0 and no path")
    # the nearest violation found; when no search found one, the farthest point
    # every search passed (a lower bound)
    hits = [d for d in candidates if not d["censored"]]
    best = (min(hits, key=lambda d: d["radius"]) if hits
            else max(candidates, key=lambda d: d["radius"]))
    return Lemma1Radius(radius=float(best["radius"]), radius_ratio=float(best["radius"]) / rho,
                        censored=bool(best["censored"]), rho_Phi=float(rho), mu_Phi=float(mu),
                        nu_Phi=float(nu), directions=found, path=path_res)


def gd_step(net, X, Y, lr, layers=("W", "V")):
    """One full-batch GD step on the paper's loss, as a function of flat parameters.

    Parameters
    ----------
    net : ShallowNet
        Template network (its activation and the untrained layers).
    X, Y : ndarray
        Training data.
    lr : float
        Step size.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained layers.

    Returns
    -------
    callable
        ``theta -> theta - lr * grad h(theta)``.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, gradient
    >>> from pl_toolkit.locality import gd_step
    >>> X = np.eye(2); Y = np.ones((2, 1)); net = ShallowNet.init(2, 8, seed=0)
    >>> step = gd_step(net, X, Y, 0.1)
    >>> theta = net.parameters()
    >>> bool(np.allclose(step(theta), theta - 0.1 * gradient(net, X, Y)))
    True
    """
    def step(theta):
        g = gradient(net.with_parameters(theta, layers), X, Y, layers=layers)
        return theta - lr * g
    return step
