"""Thick-restart Lanczos for an extreme eigenpair of a symmetric operator.

Private module.  It serves :func:`pl_toolkit.lambda_min`,
:func:`pl_toolkit.lambda_max` and :class:`pl_toolkit.LambdaMinTracker`
(smallest or largest eigenvalue, tight tolerance, large basis, measured
residual) as well as :func:`pl_toolkit.hessian_top_eigenvalue` and the
trainer's per-step tracking (largest eigenvalue or largest in modulus,
loose tolerance, small basis, warm starts, a convergence check after every
product).

The method is the thick-restart Lanczos method of Wu and Simon (SIAM J.
Matrix Anal. Appl. 22, 2000), in its Krylov-Schur form: the basis is kept
fully orthogonal (classical Gram-Schmidt applied twice, so every
orthogonalisation is two BLAS-2 products), the projected matrix is the
explicit Rayleigh quotient ``V.T @ A @ V``, and at a restart the ``keep``
wanted Ritz vectors are retained (one BLAS-3 product).  Full
reorthogonalisation costs ``O(n m)`` per step, which is negligible next to
a matrix-vector product of an NTK operator (``O(n d0 d1)``) or a Hessian
(``O(n d0 d1)``).  Keeping one Ritz vector is the explicit restart from the
current Ritz vector, minus the product it would spend on that vector.

Convergence test for the wanted Ritz pair ``(theta, y)`` with residual
norm ``rho = ||A y - theta y||`` (exact in exact arithmetic: ``beta *
|last component of the Ritz vector|``) and ``gap`` the distance from
``theta`` to the nearest other Ritz value:

* some eigenvalue lies in ``[theta - rho, theta + rho]`` (Weyl/Bauer-Fike);
* if the nearest other Ritz value is a fair estimate of the nearest other
  eigenvalue, the Kato-Temple inequality gives ``|theta - lambda| <=
  rho**2 / gap``.

Default test: accept when ``min(rho, rho**2 / gap) <= tol * |theta|`` (the
Kato-Temple term only when ``gap > rho``), or below ``64 * eps * ||A||``,
the accuracy floor of floating point, and in either case ``rho <=
sqrt(tol) |theta|`` (or the floor): the Ritz gap over-estimates the true gap
while an eigenvalue below ``theta`` is still unresolved.  ``guarded=True`` (the Hessian path)
trusts the Kato-Temple estimate only once the Ritz vector is accurate,
``rho <= sqrt(tol) |theta|``, and then with a safety factor of 10 (the Ritz
gap over-estimates the true gap): accept when ``rho <= tol |theta|`` (or
the floor), or ``rho <= sqrt(tol) |theta|`` and ``rho**2 / gap <= tol
|theta| / 10``.  An invariant subspace (``beta`` at rounding level) or a
basis of dimension ``n`` is always accepted.  A single Ritz value (the
first product of a run) gives no gap estimate: the default test then needs
``rho <= tol |theta|``, while the guarded test accepts ``rho <= sqrt(tol)
|theta|`` (a warm start from an accurate vector then costs one product; the
eigenvalue error is at most ``rho**2 / gap_true``, i.e. ``tol |theta|``
divided by the relative gap).  With ``final_residual=True``
the residual is recomputed explicitly at the end (one extra product) and
the value is the Rayleigh quotient of the returned vector; otherwise the
value is the Ritz value and the residual the Lanczos estimate ``rho``.
"""

import numpy as np
import scipy.linalg as sla

_EPS = np.finfo(np.float64).eps
_WHICH = ("SA", "LA", "LM")


def _orthogonalize(V, j, w):
    """Orthogonalise ``w`` against ``V[:, :j]`` twice; return (w, h)."""
    Vj = V[:, :j]
    h = Vj.T @ w
    w = w - Vj @ h
    h2 = Vj.T @ w
    w = w - Vj @ h2
    return w, h + h2


def _random_start(n, rng):
    v = rng.standard_normal(n)
    return v / np.linalg.norm(v)


def _by_modulus(theta_all, Y):
    """Reorder Ritz pairs by decreasing ``|theta|`` (stable: ties keep order)."""
    order = np.argsort(-np.abs(theta_all), kind="stable")
    return theta_all[order], Y[:, order]


def _ritz_check(S, m, tridiagonal, modulus):
    """Wanted Ritz pair first, then the competitors; ``S[:m, :m]`` is ``V^T A V``.

    Smallest end (``modulus=False``): the two smallest Ritz pairs, by an
    ``O(m)`` tridiagonal subset solve in the first cycle (``T`` is the
    Lanczos tridiagonal there; the other entries are rounding noise) and a
    dense subset solve after a restart.  ``modulus=True``: all Ritz pairs,
    ordered by decreasing modulus (meant for small bases).
    """
    top = m - 1 if modulus else min(1, m - 1)
    if tridiagonal and m > 2:
        theta_all, Y = sla.eigh_tridiagonal(
            np.diagonal(S)[:m].copy(), S[np.arange(m - 1), np.arange(1, m)].copy(),
            select="i", select_range=(0, top), check_finite=False)
    else:
        T = 0.5 * (S[:m, :m] + S[:m, :m].T)
        theta_all, Y = sla.eigh(T, subset_by_index=[0, top], driver="evx", check_finite=False)
    if modulus:
        theta_all, Y = _by_modulus(theta_all, Y)
    return theta_all, Y


def thick_restart_lanczos(matvec, n, *, which="SA", tol=1e-8, v0=None, maxiter=None,
                          ncv=None, keep=None, check=10, seed=0, rng=None, guarded=False,
                          final_residual=True, callback=None):
    """Extreme eigenpair of a symmetric operator by thick-restart Lanczos.

    Parameters
    ----------
    matvec : callable
        ``matvec(x)`` returns ``A @ x`` for a 1-D float64 array ``x``.
    n : int
        Dimension.
    which : {"SA", "LA", "LM"}
        Smallest or largest algebraic eigenvalue, or largest in modulus
        (``"LM"`` solves the whole projected problem at every check: meant
        for small ``ncv``).
    tol : float
        Relative tolerance on the eigenvalue (see module docstring).
    v0 : ndarray, optional
        Starting vector (e.g. the previous eigenvector when tracking); a
        zero or non-finite one is replaced by a random start.
    maxiter : int, optional
        Maximum number of matrix-vector products in the iteration (default
        ``max(20 n, 1000)``); ``final_residual`` adds one.
    ncv : int, optional
        Basis size (default ``min(n, 160)``).
    keep : int, optional
        Ritz vectors kept at a restart (default ``ncv // 2``).
    check : int
        Number of expansion steps between two convergence checks (``1``
        checks after every product, which pays off with warm starts).
    seed : int
        Seed of the random start vector when ``v0`` is None.
    rng : numpy.random.Generator, optional
        Generator for the random start vector instead of ``seed``; it is
        drawn from only when a random start is needed.
    guarded : bool
        Use the guarded Kato-Temple test (module docstring).
    final_residual : bool
        Recompute the residual of the returned vector with one more product
        and return its Rayleigh quotient; if False, return the Ritz value
        and the Lanczos residual estimate.
    callback : callable, optional
        Called as ``callback(matvecs, theta, bound)`` after every Rayleigh-Ritz step.

    Returns
    -------
    dict
        ``value, vector, residual, matvecs, converged, bound, anorm``.
    """
    if which not in _WHICH:
        raise ValueError(f"which must be one of {_WHICH}, got {which!r}")
    sign = -1.0 if which == "LA" else 1.0
    modulus = which == "LM"
    if maxiter is None:
        maxiter = max(20 * n, 1000)
    if ncv is None:
        ncv = min(n, 160)
    ncv = int(max(2, min(ncv, n)))
    if keep is None:
        keep = ncv // 2
    keep = int(max(1, min(keep, ncv - 1)))
    check = int(max(1, check))
    if rng is None:
        rng = np.random.default_rng(np.random.SeedSequence(seed))
    sqrt_tol = np.sqrt(tol)

    def op(x):
        return sign * np.asarray(matvec(x), dtype=np.float64).reshape(-1)

    V = np.empty((n, ncv + 1), order="F")
    S = np.zeros((ncv, ncv))
    if v0 is None:
        v = _random_start(n, rng)
    else:
        v = np.array(v0, dtype=np.float64).reshape(-1)
        nv = np.linalg.norm(v)
        v = _random_start(n, rng) if not np.isfinite(nv) or nv == 0 else v / nv
    V[:, 0] = v
    k = 0                 # number of retained Ritz vectors in V[:, :k]
    matvecs = 0
    theta = np.nan
    rho = np.inf
    y_vec = v
    bound = np.inf
    anorm = 0.0
    converged = False
    while True:
        # ---- expand the basis from column k to ncv, Rayleigh-Ritz every
        # `check` steps (cheap: an m x m eigenproblem) ----------------------
        j = k
        beta = 0.0
        invariant = False
        done = False
        while True:
            w = op(V[:, j])
            matvecs += 1
            if not np.all(np.isfinite(w)):
                raise FloatingPointError("the operator returned NaN or Inf")
            w, h = _orthogonalize(V, j + 1, w)
            S[: j + 1, j] = h
            S[j, : j + 1] = h
            beta = float(np.linalg.norm(w))
            anorm = max(anorm, float(np.max(np.abs(h))), beta)
            j += 1
            if beta <= 64 * _EPS * max(anorm, 1e-300) * np.sqrt(j):
                invariant = True           # Ritz values are exact eigenvalues
            else:
                V[:, j] = w / beta
            full = j >= ncv or invariant or matvecs >= maxiter
            if not (full or (j - k) % check == 0):
                continue
            m = j
            theta_all, Y = _ritz_check(S, m, k == 0, modulus)
            theta = float(theta_all[0])
            rho = 0.0 if invariant else abs(beta * float(Y[m - 1, 0]))
            if len(theta_all) > 1:
                gap = float(np.min(np.abs(theta_all[1:] - theta)))
                bound = rho if not (gap > rho) else min(rho, rho * rho / gap)
            else:
                gap, bound = np.inf, rho   # one Ritz value: no gap estimate
            target = max(tol * abs(theta), 64 * _EPS * anorm)
            if guarded:
                ok = rho <= target or (rho <= sqrt_tol * abs(theta) and gap > 0
                                       and rho * rho / gap <= 0.1 * tol * abs(theta))
            else:
                # Kato-Temple with the Ritz gap is trusted only once the Ritz
                # vector is accurate (rho <= sqrt(tol) |theta|): an unresolved
                # eigenvalue below theta makes the Ritz gap far too large
                # (e.g. theta = 2.05 between eigenvalues 1 and 2 and the next
                # Ritz value at 4e6 gave rho^2 / gap = 8e-7 with rho = 1.7).
                ok = bound <= target and rho <= max(sqrt_tol * abs(theta), target)
            if callback is not None:
                callback(matvecs, sign * theta, bound)
            if ok or invariant or m == n:
                converged = True
            if converged or matvecs >= maxiter:
                done = True
                break
            if full:
                break
        if done:
            y_vec = V[:, :m] @ Y[:, 0]
            break
        # ---- thick restart: keep the `keep` wanted Ritz vectors ------------
        T = 0.5 * (S[:m, :m] + S[:m, :m].T)
        theta_all, Y = sla.eigh(T, check_finite=False)
        anorm = max(anorm, float(np.max(np.abs(theta_all))))
        if modulus:
            theta_all, Y = _by_modulus(theta_all, Y)
        kk = min(keep, m - 1)
        Vk = V[:, :m] @ Y[:, :kk]
        V[:, :kk] = Vk
        V[:, kk] = V[:, m]
        S[:] = 0.0
        S[np.arange(kk), np.arange(kk)] = theta_all[:kk]
        coupling = beta * Y[m - 1, :kk]
        S[kk, :kk] = coupling
        S[:kk, kk] = coupling
        # the next expansion recomputes column kk (its diagonal and coupling)
        k = kk
    y_vec = y_vec / np.linalg.norm(y_vec)
    if final_residual:
        Ay = op(y_vec)
        matvecs += 1
        value = float(y_vec @ Ay)
        residual = float(np.linalg.norm(Ay - value * y_vec))
    else:
        value, residual = theta, float(rho)
    return dict(value=sign * value + 0.0, vector=y_vec, residual=residual, matvecs=matvecs,
                converged=bool(converged), bound=float(bound), anorm=anorm)
