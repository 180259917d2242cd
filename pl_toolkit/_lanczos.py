"""Thick-restart Lanczos for the smallest eigenpair of a symmetric operator.

Private module.  The public entry point is :func:`pl_toolkit.lambda_min`.

The method is the thick-restart Lanczos method of Wu and Simon (SIAM J.
Matrix Anal. Appl. 22, 2000), in its Krylov-Schur form: the basis is kept
fully orthogonal (classical Gram-Schmidt applied twice, so every
orthogonalisation is two BLAS-2 products), the projected matrix is the
explicit Rayleigh quotient ``V.T @ A @ V``, and at a restart the ``keep``
smallest Ritz vectors are retained (one BLAS-3 product).  Full
reorthogonalisation costs ``O(n m)`` per step, which is negligible next to
a matrix-vector product of an NTK operator (``O(n d0 d1)``).

Convergence test for the smallest Ritz pair ``(theta, y)`` with residual
norm ``rho = ||A y - theta y||`` (exact in exact arithmetic: ``beta *
|last component of the Ritz vector|``):

* some eigenvalue lies in ``[theta - rho, theta + rho]`` (Weyl/Bauer-Fike);
* if the next Ritz value ``theta_2`` is a fair estimate of ``lambda_2``,
  the Kato-Temple inequality gives ``theta - lambda_1 <= rho**2 / gap``
  with ``gap = theta_2 - theta``.

The pair is accepted when ``min(rho, rho**2 / gap) <= tol * |theta|`` (or
below ``64 * eps * ||A||``, the accuracy floor of floating point), *and*
the residual is recomputed explicitly at the end (one extra matvec) so the
returned residual is a measured one.
"""

import numpy as np
import scipy.linalg as sla

_EPS = np.finfo(np.float64).eps


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


def thick_restart_lanczos(matvec, n, *, which="SA", tol=1e-8, v0=None, maxiter=None,
                          ncv=None, keep=None, check=10, seed=0, callback=None):
    """Smallest (``which="SA"``) or largest (``"LA"``) eigenpair of a symmetric operator.

    Parameters
    ----------
    matvec : callable
        ``matvec(x)`` returns ``A @ x`` for a 1-D float64 array ``x``.
    n : int
        Dimension.
    which : {"SA", "LA"}
        Smallest or largest algebraic eigenvalue.
    tol : float
        Relative tolerance on the eigenvalue (see module docstring).
    v0 : ndarray, optional
        Starting vector (e.g. the previous eigenvector when tracking).
    maxiter : int, optional
        Maximum number of matrix-vector products (default ``max(20 n, 1000)``).
    ncv : int, optional
        Basis size (default ``min(n, 160)``).
    keep : int, optional
        Ritz vectors kept at a restart (default ``ncv // 2``).
    seed : int
        Seed of the random start vector when ``v0`` is None.
    check : int
        Number of expansion steps between two convergence checks.
    callback : callable, optional
        Called as ``callback(matvecs, theta, bound)`` after every Rayleigh-Ritz step.

    Returns
    -------
    dict
        ``value, vector, residual, matvecs, converged, bound``.
    """
    sign = 1.0 if which == "SA" else -1.0
    if maxiter is None:
        maxiter = max(20 * n, 1000)
    if ncv is None:
        ncv = min(n, 160)
    ncv = int(max(2, min(ncv, n)))
    if keep is None:
        keep = ncv // 2
    keep = int(max(1, min(keep, ncv - 1)))
    rng = np.random.default_rng(np.random.SeedSequence(seed))

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
            top = min(1, m - 1)
            if k == 0 and m > 2:
                # first cycle: T is the Lanczos tridiagonal (the other entries
                # of V^T A V are rounding noise); O(m) per check.
                theta_all, Y = sla.eigh_tridiagonal(
                    np.diagonal(S)[:m].copy(), S[np.arange(m - 1), np.arange(1, m)].copy(),
                    select="i", select_range=(0, top), check_finite=False)
            else:
                T = 0.5 * (S[:m, :m] + S[:m, :m].T)
                theta_all, Y = sla.eigh(T, subset_by_index=[0, top], driver="evx", check_finite=False)
            theta = float(theta_all[0])
            rho = 0.0 if invariant else abs(beta * float(Y[m - 1, 0]))
            gap = float(theta_all[1] - theta_all[0]) if m > 1 else np.inf
            bound = rho if not (gap > rho) else min(rho, rho * rho / gap)
            floor = 64 * _EPS * anorm
            if callback is not None:
                callback(matvecs, sign * theta, bound)
            if bound <= max(tol * abs(theta), floor) or invariant or m == n:
                converged = True
            if converged or matvecs >= maxiter:
                done = True
                break
            if full:
                break
        if done:
            y_vec = V[:, :m] @ Y[:, 0]
            break
        # ---- thick restart: keep the `keep` smallest Ritz vectors ----------
        T = 0.5 * (S[:m, :m] + S[:m, :m].T)
        theta_all, Y = sla.eigh(T, check_finite=False)
        anorm = max(anorm, float(np.max(np.abs(theta_all))))
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
    Ay = op(y_vec)
    matvecs += 1
    value = float(y_vec @ Ay)
    residual = float(np.linalg.norm(Ay - value * y_vec))
    return dict(value=sign * value + 0.0, vector=y_vec, residual=residual, matvecs=matvecs,
                converged=bool(converged), bound=float(bound), anorm=anorm)
