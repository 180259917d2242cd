"""The spectrum of the empirical NTK at any size, and the Jacobian's singular values.

* :func:`ntk_lambda_min` -- ``lambda_min`` of the empirical NTK at any
  size: dense, shift-invert on the NTK formed tile by tile, or
  matrix-free, chosen by size and a memory budget;
* :func:`jacobian_singular_values` -- ``sigma_min`` and ``sigma_max`` of
  the adjoint Jacobian ``nabla Phi^*`` (the paper's ``mu_Phi`` and
  ``nu_Phi``, Definition 1 and Lemma 3), in a :class:`JacobianSpectrum`.

These routes know the network; the eigensolvers they use are the generic
ones of :mod:`pl_toolkit.spectrum` (through :mod:`pl_toolkit._eigen`).
"""

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from . import _features as _shared
from . import ntk as _ntk
from ._eigen import (ETA, EigResult, blocked_cholesky_lower_inplace, blocked_cholesky_solve,
                     check_v0, cholesky_lower_inplace, default_ncv, dense_extreme,
                     factor_norm_estimate, inverse_lanczos, iterative_extreme, measured_pair,
                     pow2_exponent, scale_lower_inplace, shift_invert_result, warn_unconverged)
from ._features import ntk_nonfinite_error
from ._ntk_deflation import deflated_lambda_min, feature_model_bytes
from ._lanczos import ldexp, rounding_floor, safe_norm
from ._validation import check_positive_float, check_positive_int
from .network import check_layers, check_net
from .spectrum import lambda_max, lambda_min

__all__ = ["JACOBIAN_DENSE_MAX", "NTK_MEMORY_DEFAULT", "JacobianSpectrum",
           "jacobian_singular_values", "ntk_lambda_min"]

_NTK_METHODS = ("auto", "dense", "shift-invert", "mixed", "davidson", "lanczos")


def _check_ntk_method(method):
    if method not in _NTK_METHODS:
        raise ValueError(f"method must be one of {_NTK_METHODS}, got {method!r}")
    return method


#: Largest ``n d2`` for which :func:`jacobian_singular_values` forms the NTK
#: densely under ``method="auto"``.
JACOBIAN_DENSE_MAX = 4000


@dataclass(frozen=True)
class JacobianSpectrum:
    """Extreme singular values of the adjoint Jacobian ``nabla Phi^*``.

    Attributes
    ----------
    sigma_min, sigma_max : float
        ``sqrt(lambda_min(K))`` (0 if ``lambda_min`` is not positive) and
        ``sqrt(lambda_max(K))``.
    lambda_min, lambda_max : EigResult
        The NTK eigenpairs they come from.
    method : str
        The route of ``lambda_min``: ``"dense"`` (``ntk_gram``),
        ``"shift-invert"``, ``"mixed"`` or ``"lanczos"`` (see
        :func:`ntk_lambda_min`; its ``route_reason`` says why).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, jacobian_singular_values, ntk_gram
    >>> net = ShallowNet.init(d0=3, d1=30, seed=0)
    >>> X = np.random.default_rng(1).standard_normal((8, 3))
    >>> spec = jacobian_singular_values(net, X)
    >>> ev = np.linalg.eigvalsh(ntk_gram(net, X))       # independent dense route
    >>> bool(np.isclose(spec.sigma_min, np.sqrt(ev[0]))), spec.method
    (True, 'dense')
    >>> smin, smax = spec                                # unpacks like a pair
    >>> bool(np.isclose(smax ** 2, spec.lambda_max.value))
    True
    """

    sigma_min: float
    sigma_max: float
    lambda_min: EigResult = field(repr=False)
    lambda_max: EigResult = field(repr=False)
    method: str

    def __iter__(self):
        return iter((self.sigma_min, self.sigma_max))


def jacobian_singular_values(net, X, *, layers=("W", "V"), method="auto", tol=1e-8, maxiter=None):
    """``sigma_min`` and ``sigma_max`` of the adjoint Jacobian, without forming it.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters the Jacobian is taken with respect to.
    method : {"auto", "dense", "shift-invert", "mixed", "davidson", "lanczos"}, default "auto"
        ``"dense"``: :func:`pl_toolkit.ntk_gram` and LAPACK (``auto`` for
        ``n d2 <= 4000``).  Otherwise ``lambda_min`` comes from
        :func:`ntk_lambda_min` with this method (``auto``: its route
        chooser under the default 4 GiB budget: shift-invert while the
        float64 NTK fits, then mixed precision, then matrix-free) and
        ``lambda_max`` from matrix-free Lanczos on
        :func:`pl_toolkit.ntk_operator`.
    tol : float, default 1e-8
        Relative tolerance of the Lanczos route on the eigenvalues.
    maxiter : int, optional
        Maximum number of NTK products per eigenvalue.

    Returns
    -------
    JacobianSpectrum
        Unpacks as ``(sigma_min, sigma_max)``.

    Raises
    ------
    ValueError
        Bad ``net``, ``X``, ``layers`` or ``method``, or an NTK that is
        not finite in float64 (naming ``X`` or ``net``).

    Warns
    -----
    ConvergenceWarning
        If a Lanczos solve does not converge or its tolerance is below the
        rounding floor (see :func:`lambda_min`).

    Notes
    -----
    The adjoint ``nabla Phi^*(Theta)`` maps ``R^{d2 x n}`` to the
    parameters; ``K = J J^T`` is the empirical NTK, so ``sigma(nabla
    Phi^*)^2`` are the eigenvalues of ``K``.  These are the quantities of the
    paper's near-isometry (Definition 1): ``mu_Phi <= sigma_min <=
    sigma_max <= nu_Phi`` at initialization (Lemma 3, eq. 18), and Lemma 1
    keeps them within ``[mu_Phi / 2, 3 nu_Phi / 2]`` in the ball.  The
    relative accuracy of ``sigma_min`` is that of ``lambda_min`` halved
    (``d sigma / sigma = d lambda / (2 lambda)``).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, jacobian_singular_values
    >>> net = ShallowNet.init(d0=3, d1=30, seed=0)
    >>> X = np.random.default_rng(1).standard_normal((8, 3))
    >>> smin, smax = jacobian_singular_values(net, X)
    >>> bool(0 < smin < smax)
    True
    """
    _check_ntk_method(method)
    n_rows = np.shape(X)[0] * getattr(net, "d2", 1) if np.ndim(X) == 2 else 0
    if method == "auto" and n_rows <= JACOBIAN_DENSE_MAX:
        method = "dense"
    if method == "dense":
        K = _ntk.ntk_gram(net, X, layers=layers)
        if not np.all(np.isfinite(K)):
            raise ntk_nonfinite_error(net, check_net(net).check_data(X))
        lo = lambda_min(K, method="dense")
        hi = lambda_max(K, method="dense")
    else:
        # lambda_min by the fastest route that fits (shift-invert on the
        # formed NTK, else matrix-free); the top of the spectrum is well
        # separated, so matrix-free Lanczos finds lambda_max in ~50 products.
        lo = ntk_lambda_min(net, X, layers=layers, method=method, tol=tol, maxiter=maxiter)
        op = _ntk.ntk_operator(net, X, layers=layers, store="preactivations")
        with _shared.ntk_nonfinite_named(net, check_net(net).check_data(X)):
            hi = lambda_max(op, method="lanczos", tol=tol, maxiter=maxiter)
        method = lo.method
    return JacobianSpectrum(sigma_min=math.sqrt(max(lo.value, 0.0)),
                            sigma_max=math.sqrt(max(hi.value, 0.0)),
                            lambda_min=lo, lambda_max=hi, method=method)


#: Default memory budget of :func:`ntk_lambda_min` (bytes): the dense
#: shift-invert route is chosen when the NTK and the preactivations fit.
NTK_MEMORY_DEFAULT = 4 * 2 ** 30


def _ntk_dense_bytes(n, d1, d2):
    """Peak bytes of the shift-invert route: forming the triangle, then the solves."""
    N = n * d2
    # solves: the factor, the Lanczos basis, the restart product V Y (half a
    # basis) and a few vectors
    ncv = default_ncv(N)
    return max(_shared.ntk_upper_bytes(n, d1, d2),
               8 * (N * N + (ncv + ncv // 2 + 4) * N + 2 * ncv * ncv))


def _ntk_operator_store_bytes(n, d0, d1, store):
    """Bytes an :class:`pl_toolkit.NTKOperator` keeps: features or preactivations, and the data."""
    kept = (2 if store == "features" else 1) * n * d1
    return 8 * (kept + n * d0)


def _ntk_operator_bytes(n, d0, d1, d2, store):
    """Peak bytes of matrix-free Lanczos on ``ntk_operator(..., store=store)``, data included."""
    N = n * d2
    ncv = default_ncv(N)
    return (_ntk_operator_store_bytes(n, d0, d1, store) + 8 * (ncv + ncv // 2 + 4) * N
            + 4 * _shared.CHUNK_BYTES)


# --------------------------------------------------------------------------
# method="mixed": the NTK in float32, its factor as the inner solver of a
# float64 iteration on the matrix-free operator
# --------------------------------------------------------------------------
#: Ritz vectors of the float32 NTK that start the float64 iteration of
#: ``method="mixed"`` (and the block size of its Lanczos on the float32 inverse).
MIXED_BLOCK = 16
#: Block steps of Lanczos on the float32 inverse at most.
MIXED_STEPS = 40
#: Relative Ritz residual (on the inverse) at which those Ritz vectors are accepted.
MIXED_RITZ_TOL = 1e-3
#: Correction vectors per float64 step, and the inner iteration's budget and tolerance.
MIXED_CORRECTIONS = 1
MIXED_INNER_STEPS = 40
MIXED_INNER_TOL = 1e-3
#: Refinement steps in a row that may fail to halve the error estimate before it stops.
MIXED_STALL = 6

_EPS32 = float(np.finfo(np.float32).eps)


def _mixed_basis_bytes(N, block=MIXED_BLOCK, steps=MIXED_STEPS):
    """Bytes of the float64 bases of the mixed route (Lanczos basis, then ``Q`` and ``K Q``)."""
    k = min(block, N)
    return 8 * N * max((steps + 2) * k, 2 * (3 * k + 2 * MIXED_CORRECTIONS) + 4 * k)


def _ntk_mixed_bytes(n, d0, d1, d2, store="preactivations"):
    """Peak bytes of ``method="mixed"``: the float32 NTK, then the float64 operator and bases."""
    N = n * d2
    forming = _shared.ntk_upper_bytes(n, d1, d2, dtype=np.float32, d0=d0)
    # a block product of k + 1 columns keeps the VJPs of a column group,
    # d1 (d0 + 1 + d2) numbers per column
    per_column = d1 * (d0 + 1 + d2)
    group = min(min(MIXED_BLOCK, N) + 1, max(1, _shared.PRODUCT_BYTES // (8 * per_column)))
    solving = (4 * N * N + _ntk_operator_store_bytes(n, d0, d1, store)
               + _mixed_basis_bytes(N) + 8 * group * per_column + 4 * _shared.CHUNK_BYTES)
    return max(forming, solving)


# -- the float32 NTK and its Cholesky factor (pl_toolkit._eigen's blocked one) -
def _mixed_shifts(N):
    """Diagonal shifts (in units of ``2**e >= max K_ii``) tried for the float32 factor, in order.

    The first, ``sqrt(N) eps32``, is the typical backward error of a float32
    Cholesky factorization: it costs a relative ``sqrt(N) eps32 max K_ii /
    lambda_min`` in the quality of the preconditioner and saves forming the
    NTK again when ``lambda_min`` is that close to float32's resolution.
    """
    root = math.sqrt(N)
    return (root * _EPS32, 16.0 * root * _EPS32, 4.0 * N * _EPS32)


def _float32_factor(net, X, layers, shift):
    """``(F, e, info, dmax)``: the float32 Cholesky factor of ``K / 2**e + shift I``, in place.

    ``F`` (lower triangle) is None when the factorization failed at column
    ``info``; ``dmax = max K_ii`` (a lower bound on ``||K||``).  Raises the float32 overflow
    ValueError of ``ntk_gram_upper``.
    """
    F = _shared.ntk_gram_upper(net, X, layers, dtype=np.float32).T   # Fortran: K lower
    diag = np.einsum("ii->i", F)
    dmax = float(np.max(diag))
    if not (math.isfinite(dmax) and np.all(np.isfinite(diag))):
        del F, diag
        raise ntk_nonfinite_error(net, X)
    # K / 2**e: max K_ii in [1/2, 1), far from float32's overflow and underflow
    e = pow2_exponent(dmax)
    if e:
        with np.errstate(all="ignore"):      # the strictly upper part holds scratch
            np.ldexp(F, -e, out=F)
    if shift:
        diag += np.float32(shift)
    del diag
    info = blocked_cholesky_lower_inplace(F)
    if info or not np.all(np.isfinite(np.einsum("ii->i", F))):
        N = F.shape[0]
        del F
        return None, e, info or N, 0.0
    return F, e, 0, dmax


class _Solver32:
    """``B -> (K32 + shift)^{-1} B`` in user units by the float32 factor; counts solves."""

    def __init__(self, F, e):
        self.F, self.e = F, e
        self.calls = self.vectors = 0

    def __call__(self, B):
        B = np.atleast_2d(np.asarray(B).T).T
        self.calls += 1
        self.vectors += B.shape[1]
        Y = blocked_cholesky_solve(self.F, np.asfortranarray(B, dtype=np.float32))
        # (K / 2**e)^{-1} = 2**e K^{-1}: back to user units, exactly
        return np.ldexp(Y.astype(np.float64), -self.e)


def _tall_qr(W):
    """``(Q, R)`` of a tall ``W``: Cholesky QR twice (two GEMMs), Householder QR if that fails."""
    R = np.eye(W.shape[1])
    V = W
    try:
        for _ in range(2):
            Rk = sla.cholesky(V.T @ V, lower=False, check_finite=False)
            V = sla.solve_triangular(Rk, V.T, trans="T", lower=False, check_finite=False).T
            R = Rk @ R
        if np.all(np.isfinite(V)) and np.max(np.abs(V.T @ V - np.eye(V.shape[1]))) <= 1e-12:
            return V, R
    except (np.linalg.LinAlgError, ValueError):
        pass
    return np.linalg.qr(W)


def _orthonormalize(Q, W, rng):
    """The columns of ``W`` made orthonormal and orthogonal to the orthonormal ``Q`` (or None).

    Classical Gram-Schmidt twice, then QR; a column that was (numerically) in
    the span of the others is replaced by a random one.
    """
    W = np.array(W, dtype=np.float64)
    for _ in range(3):
        scale = np.linalg.norm(W, axis=0)
        if Q is not None and Q.shape[1]:
            for _ in range(2):
                W -= Q @ (Q.T @ W)
        W, R = _tall_qr(W)
        lost = np.abs(np.diagonal(R)) <= 1e-8 * np.maximum(scale, 1e-300)
        if not np.any(lost):
            break
        W[:, lost] = rng.standard_normal((W.shape[0], int(lost.sum())))
    return W


def _top_of_band(T, w, k):
    """The ``k`` largest eigenpairs (descending) of symmetric ``T`` restricted to its band.

    The projected matrix of block Lanczos is block tridiagonal, of lower
    bandwidth below ``2 b``; the entries outside the band are rounding
    left by the reorthogonalisation.  ``O(m^2 w)`` work instead of the
    ``O(m^3)`` of a dense solve.
    """
    m = T.shape[0]
    w = min(w, m - 1)
    band = np.zeros((w + 1, m))
    for i in range(w + 1):
        band[i, :m - i] = 0.5 * (np.diagonal(T, -i) + np.diagonal(T, i))
    nu, Z = sla.eig_banded(band, lower=True, select="i", select_range=(m - k, m - 1),
                           check_finite=False)
    return nu[::-1], Z[:, ::-1]


def _lowest_ritz_of_inverse(solve, N, k, v0, rng, steps=MIXED_STEPS, ritz_tol=MIXED_RITZ_TOL):
    """Block Lanczos on ``S = (K32 + shift)^{-1}``: orthonormal ``(N, k)`` lowest Ritz vectors.

    Full reorthogonalisation; the projected matrix is ``Q^T S Q`` from the
    orthogonalisation coefficients.  Stops when the ``k`` largest Ritz pairs
    ``(nu, z)`` of ``S`` have ``||S z - nu z|| <= ritz_tol nu`` (the Krylov
    relation's residual) or after ``steps`` block solves; one more solve then
    damps the vectors' components along large eigenvalues of ``K``.
    """
    b = k
    start = rng.standard_normal((N, b))
    if v0 is not None:
        start[:, 0] = v0
    Q = np.empty((N, (steps + 1) * b))
    Q[:, :b] = _orthonormalize(None, start, rng)
    T = np.zeros(((steps + 1) * b, (steps + 1) * b))
    m = b
    for s in range(steps):
        lo = s * b
        W = solve(Q[:, lo:lo + b])
        h = Q[:, :m].T @ W
        W -= Q[:, :m] @ h
        h2 = Q[:, :m].T @ W
        W -= Q[:, :m] @ h2
        h += h2
        T[:m, lo:lo + b] = h
        T[lo:lo + b, :m] = h.T
        Wn = _orthonormalize(Q[:, :m], W, rng)
        B = Wn.T @ W
        nu, Z = _top_of_band(T[:m, :m], 2 * b, min(k, m))
        rho = np.linalg.norm(B @ Z[lo:lo + b, :], axis=0)
        done = bool(np.all(rho <= ritz_tol * np.abs(nu))) or s == steps - 1 or m + b > N
        if done:
            break
        Q[:, m:m + b] = Wn
        T[m:m + b, lo:lo + b] = B
        T[lo:lo + b, m:m + b] = B.T
        m += b
    Y = solve(Q[:, :m] @ Z)
    return _orthonormalize(None, Y, rng)


def _deflated_corrections(solve, Q, thetas, R, steps=MIXED_INNER_STEPS, rtol=MIXED_INNER_TOL):
    """Approximate ``t_i = -(K32 - theta_i)^{-1} r_i`` on the orthogonal complement of ``Q``.

    On that complement (nearly an invariant subspace of ``K32`` containing
    its lowest eigenvectors) ``K32 - theta_i`` is positive definite, and
    ``(K32 - theta)^{-1} = (I - theta S)^{-1} S`` with ``S = K32^{-1}``
    (``theta`` here includes the factor's shift): conjugate gradients on
    ``P (I - theta S) P`` (``P`` the projector), one block solve with the
    float32 factor per step for all columns.
    """
    def proj(V):
        for _ in range(2):
            V = V - Q @ (Q.T @ V)
        return V

    b = -proj(solve(R))
    x = np.zeros_like(b)
    r = b.copy()
    d = r.copy()
    rr = np.sum(r * r, axis=0)
    stop = np.sqrt(rr) * rtol
    active = rr > 0
    for _ in range(steps):
        if not np.any(active):
            break
        Ad = d - thetas * proj(solve(d))
        dAd = np.sum(d * Ad, axis=0)
        active &= dAd > 0             # not positive definite there: keep what we have
        alpha = np.where(active, rr / np.where(active, dAd, 1.0), 0.0)
        x += alpha * d
        r -= alpha * Ad
        rr_new = np.sum(r * r, axis=0)
        active &= np.sqrt(rr_new) > stop
        d = r + np.where(active, rr_new / np.where(rr > 0, rr, 1.0), 0.0) * d
        rr = rr_new
    empty = ~np.any(x, axis=0)
    x[:, empty] = b[:, empty]
    return x


def _kato_temple(rho, gap):
    return rho if not (gap > rho) else min(rho, rho * rho / gap)


def _mixed_refine(op, solve, Y, shift, tol, maxiter, anorm, rng):
    """Float64 Rayleigh-Ritz on ``Y`` and deflated corrections until the smallest pair converges.

    ``op`` is the float64 NTK operator (its block products ``op.matmat``,
    counted in ``op.matvecs``), ``solve`` the float32 inverse of ``K32 +
    shift I``.  Returns ``(vector, gap, status, anorm, stalled)``:
    the unit Ritz vector of the smallest Ritz value, the gap to the next
    Ritz value, ``"tolerance"``, ``"rounding"`` or ``"maxiter"``, the
    ``||K||`` estimate raised by the norms of the products seen, and
    whether the iteration stopped early because ``MIXED_STALL`` steps in a
    row did not halve the best error estimate (a float32 factor that no
    longer resolves the bottom of the spectrum; status ``"maxiter"``).
    """
    N, k = Y.shape
    sqrt_tol = math.sqrt(tol)
    Q = Y
    # the constant vector rides along in the first block: ||K 1|| / sqrt(N) <=
    # ||K||, close to it for an NTK (its top eigenvector is nearly constant)
    P = op.matmat(np.hstack([Q, np.full((N, 1), 1.0 / math.sqrt(N))]))
    anorm = max(anorm, float(np.max(np.linalg.norm(P, axis=0))))
    P = P[:, :k]
    limit = 3 * k + 2 * MIXED_CORRECTIONS
    status = "maxiter"
    best, since = math.inf, 0
    while True:
        G = Q.T @ P
        theta, C = sla.eigh(0.5 * (G + G.T), check_finite=False)
        u = Q @ C[:, 0]
        rho = safe_norm(P @ C[:, 0] - theta[0] * u)
        gap = float(theta[1] - theta[0]) if len(theta) > 1 else math.inf
        floor = rounding_floor(N, anorm, theta[0]) + N * ETA
        target = max(tol * abs(theta[0]), floor)
        if _kato_temple(rho, gap) <= target and rho <= max(sqrt_tol * abs(theta[0]), target):
            status = "tolerance" if tol * abs(theta[0]) >= floor else "rounding"
            break
        estimate = _kato_temple(rho, gap)
        if estimate <= 0.5 * best:
            best, since = estimate, 0
        else:
            since += 1
            if since >= MIXED_STALL:
                return u / safe_norm(u), gap, status, anorm, True
        p = min(MIXED_CORRECTIONS, len(theta), N - Q.shape[1])
        if p < 1 or op.matvecs + p + 1 > maxiter:
            break
        R = P @ C[:, :p] - (Q @ C[:, :p]) * theta[:p]
        corrections = _deflated_corrections(solve, Q, theta[:p] + shift, R)
        if Q.shape[1] + p > limit:            # restart from the k lowest Ritz vectors
            Q, P = Q @ C[:, :k], P @ C[:, :k]
        Tn = _orthonormalize(Q, corrections, rng)
        PT = op.matmat(Tn)
        anorm = max(anorm, float(np.max(np.linalg.norm(PT, axis=0))))
        Q, P = np.hstack([Q, Tn]), np.hstack([P, PT])
    return u / safe_norm(u), gap, status, anorm, False


def _mixed_lambda_min(net, X, layers, tol, v0, maxiter, max_memory):
    """``method="mixed"``: ``(EigResult or None, note)``; None when no float32 factor exists.

    The note says which shift the float32 factor needed (or why there is
    none) and how many float32 solves were spent.
    """
    n = X.shape[0]
    N = n * net.d2
    notes = []
    F = None
    for shift in _mixed_shifts(N):
        try:
            F, e, info, dmax = _float32_factor(net, X, layers, shift)
        except ValueError as exc:
            if "float32" not in str(exc):
                raise
            # "<name> has entries up to ...: ... overflows float32" (names X or net)
            return None, str(exc).split(" (largest finite value")[0]
        if F is not None:
            break
        notes.append(f"the float32 Cholesky factor of K + {ldexp(shift, e):.3g} I failed at "
                     f"column {info}")
    if F is None:
        return None, "; ".join(notes)
    solve = _Solver32(F, e)
    shift_user = ldexp(shift, e)
    rng = np.random.default_rng(np.random.SeedSequence(0))
    k = max(1, min(MIXED_BLOCK, N // 4))
    Y = _lowest_ritz_of_inverse(solve, N, k, v0, rng)
    fits = _ntk_mixed_bytes(n, net.d0, net.d1, net.d2, "features") <= max_memory
    op = _ntk.ntk_operator(net, X, layers, store="features" if fits else "preactivations")
    if maxiter is None:
        maxiter = 10 * k + 100
    anorm = dmax
    # the bases are orthonormal: a product that is not finite comes from X or the net
    with _shared.ntk_nonfinite_named(net, X, "the product K u"):
        vec, gap, status, anorm, stalled = _mixed_refine(op, solve, Y, shift_user, tol, maxiter,
                                                         anorm, rng)
        calls, vectors = solve.calls, solve.vectors
        del solve, F
        Kv = op.matmat(vec[:, None])[:, 0]
    value, residual, anorm, floor, status = measured_pair(vec, Kv, status, tol, anorm)
    notes.append(f"float32 factor of K + {shift_user:.3g} I; {vectors} float32 solves in "
                 f"{calls} block solves")
    if stalled:
        notes.append(f"the refinement stalled after {op.matvecs} float64 products: the "
                     "float32 NTK does not resolve the bottom of the spectrum (lambda_min / "
                     f"||K|| = {abs(value) / anorm:.1e}); shift-invert in float64 resolves it")
    res = EigResult(value=value, vector=vec, residual=residual, matvecs=op.matvecs,
                    converged=status == "tolerance", method="mixed",
                    error_bound=residual + floor, reason=status,
                    error_estimate=max(_kato_temple(residual, gap), floor))
    return res, "; ".join(notes)


def ntk_lambda_min(net, X, *, layers=("W", "V"), method="auto", tol=1e-8, v0=None, maxiter=None,
                   max_memory=NTK_MEMORY_DEFAULT, client=None):
    """Smallest eigenpair of the empirical NTK, choosing the fastest exact route for its size.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained parameters.
    method : {"auto", "dense", "shift-invert", "mixed", "davidson", "lanczos"}, default "auto"
        ``"dense"``: :func:`pl_toolkit.ntk_gram` and LAPACK ``dsyevr``.
        ``"shift-invert"``: the NTK's triangle formed tile by tile,
        factored in place by Cholesky, and Lanczos on ``K^{-1}``.
        ``"mixed"``: the triangle formed and factored in float32 (half the
        memory), the factor used as the inner solver of a float64
        iteration on :func:`pl_toolkit.ntk_operator` (Notes).
        ``"davidson"``: matrix-free too, a Davidson iteration on
        :func:`pl_toolkit.ntk_operator` preconditioned by the inverse of
        a cheap model of the NTK (its conjugate kernel ``H H^T`` plus a
        low-rank first-layer term, applied by Woodbury; ``result.method``
        is ``"preconditioned-davidson"``), which needs far fewer products
        than Lanczos on crowded NTK spectra.  ``"lanczos"``: plain
        matrix-free Lanczos on :func:`pl_toolkit.ntk_operator`.  ``"auto"``
        takes the first of these that fits in ``max_memory``: dense for
        ``n d2 <= 4000``, then shift-invert, mixed, Davidson and Lanczos;
        ``route_reason`` of the result says why.
    tol : float, default 1e-8
        Relative tolerance of the iterative routes on the eigenvalue.
    v0 : ndarray of shape (n d2,), optional
        Starting vector (warm start) of the iterative routes.
    maxiter : int, optional
        Maximum number of solves (shift-invert), float64 products of the
        refinement (mixed; default ``10 k + 100``, ``k = 16``) or NTK
        products (Lanczos).
    max_memory : int, default 4 GiB
        Memory budget in bytes for ``method="auto"``.  Shift-invert needs
        about ``8 (n d2)^2`` bytes (the NTK itself, with ``Z`` kept in its
        unused lower triangle: 3.2 GB at ``n = 20,000``), mixed about ``4
        (n d2)^2`` plus the operator's ``8 n d1`` (``Z``) or ``16 n d1``
        (``phi(Z)`` and ``phi'(Z)``, kept when they fit), matrix-free
        Lanczos ``O(n d1)``.  The matrix-free routes keep ``phi(Z)`` and
        ``phi'(Z)`` when they fit in the budget and only ``Z`` otherwise.
    client : dask.distributed.Client, optional
        Run matrix-free Lanczos on this Dask cluster instead
        (:func:`pl_toolkit.ntk_distributed.distributed_ntk_lambda_min`; only
        ``method="auto"`` or ``"lanczos"``): the data are scattered once as
        row shards and each product is a map over them plus one reduction.

    Returns
    -------
    EigResult
        ``value`` is the Rayleigh quotient of ``vector`` and ``residual``
        ``||K v - value v||``, both measured with the exact float64
        matrix-free product (never a factor); ``matvecs`` counts solves
        (shift-invert) or float64 products (mixed, Lanczos; a block
        product of ``k`` columns counts ``k``), plus that one product;
        ``method`` names the route and ``route_reason`` why it was taken
        (the sizes and the budget, and any fallback; for mixed also the
        float32 factor's shift and the float32 solves spent).  Guarantees
        as for :func:`lambda_min`: dense within ``error_bound`` of
        ``lambda_min(fl(K))``; shift-invert, mixed and Lanczos: *some*
        eigenvalue of ``K`` lies within ``error_bound = residual +
        floor`` of ``value`` (not necessarily the smallest, though the
        factor or a random start make a miss unlikely).  The bound covers
        the rounding of the final product, not the error of forming the
        NTK itself (:func:`pl_toolkit.ntk_lambda_min_certified` bounds
        both and proves a lower bound).

    Raises
    ------
    ValueError
        Bad ``net``, ``X``, ``layers``, ``method``, ``tol``, ``v0`` or
        ``max_memory``; an NTK (or NTK product) that is not finite in
        float64, naming ``X`` or ``net``; ``method="shift-invert"`` on an
        NTK that is not numerically positive definite; ``method="mixed"``
        on an NTK that overflows float32 (naming ``X`` or ``net``) or has
        no float32 factor even when shifted.

    Warns
    -----
    ConvergenceWarning
        If an iterative route stops before ``tol`` or ``tol`` is below the
        rounding floor (``converged=False``, ``reason`` says which).

    Notes
    -----
    ``4 lambda_min(K)`` is the PL constant of the loss ``h`` (Section 3,
    "PL / NTK link"), and ``lambda_min(K) = sigma_min(nabla Phi^*)^2`` is
    bounded below by ``mu_Phi^2`` of Definition 1 and Lemma 3 (eq. 18).

    Why several routes.  The bottom of an NTK spectrum is a dense bulk
    whose lowest gaps shrink with ``n`` (``lambda_2 / lambda_1 - 1 = 6e-4``
    at ``n = 5000``, ``1.6e-3`` at ``n = 10^4`` on 784-dimensional data,
    ``d1 = 4000``), while ``lambda_max / lambda_min`` grows (``1.7e4`` to
    ``3.7e4``).  A Krylov method on ``K`` then needs thousands of products
    of ``4 n d0 d1`` flops (3,471 at ``n = 5000``); on ``K^{-1}`` the bulk
    is spread over ``[1 / (10 lambda_1), 1 / lambda_1]`` and the top of the
    spectrum collapses to zero, so 92-223 solves suffice.  Forming the
    triangle costs ``n^2 (2 d1 + d0)`` flops in GEMMs, the factorization
    ``n^3 / 3`` -- far less than the tridiagonal reduction of ``dsyevr``
    (``4 n^3 / 3``, half of it memory-bound).  ``K - sigma I`` is factored
    at ``sigma = 0``; an NTK that is not numerically positive definite
    (``lambda_min`` at rounding level) falls back to Lanczos under
    ``auto``.

    The mixed route.  The float32 NTK ``K32 = K + E`` (``||E|| ~ eps32
    ||K||``, ``eps32 = 2^-23``) is factored in float32, ``K32 + delta I =
    L L^T`` with ``delta = sqrt(N) eps32 max K_ii`` first (``N = n d2``;
    16 times that, then ``4 N eps32 max K_ii`` if the factorization fails,
    the NTK formed again each time).  Block Lanczos on ``S = (L
    L^T)^{-1}`` (blocks of ``k = 16``, float32 solves) gives the ``k``
    lowest Ritz vectors ``Y`` of ``K32``: they span the crowded bottom of
    the bulk up to ``E``.  Then, in float64 with the exact operator
    (block products ``K Q``), Rayleigh-Ritz on the basis ``Q`` (first
    ``Y``) gives the pair ``(theta, u)`` and its residual ``r = K u - theta
    u``; the basis grows by the correction ``t = -(K32 - theta)^{-1} r``
    solved on the orthogonal complement of ``Q`` -- where ``K32 - theta``
    is positive definite, its eigenvalues at least ``lambda_{k+1} -
    theta`` -- by conjugate gradients on ``(I - theta S)`` with one float32
    solve per step.  This is Newton's method for the eigenpair with the
    float32 Jacobian: each step reduces the error by about ``||E|| /
    (lambda_{k+1} - theta)``, while the Rayleigh-Ritz step resolves the
    bottom cluster exactly.  It stops with the test of :func:`lambda_min`
    (Kato-Temple estimate with the Ritz gap, ``rho <= sqrt(tol) theta``),
    after one more product measures ``value`` and ``residual``.  The
    float32 factor only steers the iteration: value, residual and bound
    come from float64 products, so they are as accurate as those of the
    other iterative routes.  Once ``lambda_min / lambda_max`` nears
    ``sqrt(N) eps32`` the float32 NTK no longer resolves the bottom of the
    spectrum: the refinement then needs many more products, and ``tol``
    is usually below the float64 rounding floor as well (``reason``).
    Memory: ``4 N^2`` bytes in float32, half of shift-invert's.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram, ntk_lambda_min
    >>> net = ShallowNet.init(d0=5, d1=40, seed=0)
    >>> X = np.random.default_rng(0).standard_normal((60, 5))
    >>> exact = np.linalg.eigvalsh(ntk_gram(net, X))[0]
    >>> r = ntk_lambda_min(net, X, method="shift-invert")
    >>> r.method, bool(abs(r.value - exact) <= 1e-8 * exact)
    ('shift-invert', True)
    >>> m = ntk_lambda_min(net, X, method="mixed")
    >>> err = abs(m.value - exact)
    >>> m.method, bool(err <= m.error_bound), bool(err <= 1e-8 * exact)
    ('mixed', True, True)
    >>> r = ntk_lambda_min(net, X)                 # small: dense LAPACK
    >>> r.method, r.route_reason[:34]
    ('dense', 'n d2 = 60 <= 4000 and the dense ro')
    """
    if client is not None:
        from .ntk_distributed import distributed_ntk_lambda_min

        return distributed_ntk_lambda_min(net, X, client, layers=layers, method=method, tol=tol,
                                          v0=v0, maxiter=maxiter)
    net = check_net(net)
    layers = check_layers(layers)
    _check_ntk_method(method)
    tol = check_positive_float(tol, "tol")
    if maxiter is not None:
        maxiter = check_positive_int(maxiter, "maxiter")
    max_memory = check_positive_int(max_memory, "max_memory")
    X = net.check_data(X)
    n = X.shape[0]
    N = n * net.d2
    v0 = check_v0(v0, N)
    strict = method != "auto"
    if strict:
        reason = f"method={method!r} requested"
    else:
        method, reason = _choose_route(n, net.d0, net.d1, net.d2, max_memory)
    if method == "dense":
        K = _ntk.ntk_gram(net, X, layers=layers)
        if not np.all(np.isfinite(K)):
            raise ntk_nonfinite_error(net, X)
        return dataclasses.replace(dense_extreme(K, "SA"), route_reason=reason)
    if method == "shift-invert":
        res, info = _shift_invert_route(net, X, layers, tol, v0, maxiter)
        if res is not None:
            return dataclasses.replace(res, route_reason=reason)
        if strict:
            raise ValueError("the NTK is not numerically positive definite "
                             f"(Cholesky failed at column {info}); "
                             "use method='lanczos' or 'dense'")
        reason += (f"; the float64 Cholesky factorization failed at column {info} "
                   "(lambda_min at rounding level): matrix-free Lanczos instead")
    if method == "mixed":
        res, note = _mixed_lambda_min(net, X, layers, tol, v0, maxiter, max_memory)
        if res is not None:
            res = dataclasses.replace(res, route_reason=f"{reason}; {note}")
            if not res.converged:
                warn_unconverged(res, tol, "mixed-precision refinement",
                                 f"{res.matvecs} float64 products")
            return res
        if strict:
            if "overflows float32" in note:
                raise ValueError(f"{note}; method='mixed' forms the NTK in float32: "
                                 "use method='shift-invert' or 'lanczos'")
            raise ValueError("the NTK is not numerically positive definite in float32 "
                             f"({note}); use method='lanczos' or 'shift-invert'")
        reason += f"; {note}: matrix-free Lanczos instead"
    features = _ntk_operator_bytes(n, net.d0, net.d1, net.d2, "features") <= max_memory
    store = "features" if features else "preactivations"
    if method == "davidson":
        need = _ntk_operator_bytes(n, net.d0, net.d1, net.d2, store) + feature_model_bytes(
            n, net.d0, net.d1, net.d2)
        if need <= max_memory or strict:
            op = _ntk.ntk_operator(net, X, layers, store=store)
            with _shared.ntk_nonfinite_named(net, X):
                res = deflated_lambda_min(op, X, tol=tol, v0=v0, maxiter=maxiter)
            return dataclasses.replace(res, route_reason=reason)
        reason += (f"; the Davidson preconditioner needs {_gib(need)} > max_memory = "
                   f"{_gib(max_memory)}: plain Lanczos")
    op = _ntk.ntk_operator(net, X, layers, store=store)
    with _shared.ntk_nonfinite_named(net, X):
        res = iterative_extreme(op, "SA", tol, v0, maxiter, name="the NTK operator")
    return dataclasses.replace(res, route_reason=reason)


def _shift_invert_route(net, X, layers, tol, v0, maxiter):
    """Shift-invert Lanczos on the float64 NTK factored in place: ``(EigResult or None, info)``.

    None (with LAPACK's ``info``) when the Cholesky factorization fails.
    """
    F = _shared.ntk_gram_upper(net, X, layers).T  # Fortran order: K in the lower triangle
    diag = np.diagonal(F)
    # |K_ij| <= sqrt(K_ii K_jj) for the PSD NTK, and every sum forming
    # K_ij is bounded by the same Cauchy-Schwarz products: a finite
    # diagonal means a finite triangle (checked again on the factor).
    if not np.all(np.isfinite(diag)):
        del F, diag
        raise ntk_nonfinite_error(net, X)
    # work on K / 2**e, max |K_ij| = max K_ii in [1/2, 1) after scaling (exact)
    e = pow2_exponent(float(np.max(diag)))
    del diag
    scale_lower_inplace(F, e)
    info = cholesky_lower_inplace(F)
    if info or not np.all(np.isfinite(np.diagonal(F))):
        return None, info or F.shape[0]
    vec, solves, status, estimate = inverse_lanczos(F, tol, v0, maxiter)
    anorm = ldexp(factor_norm_estimate(F, 0.0), e)
    del F
    Kv = _ntk.ntk_operator(net, X, layers, store="preactivations") @ vec
    if not np.all(np.isfinite(Kv)):
        raise ntk_nonfinite_error(net, X)
    return shift_invert_result(vec, Kv, solves + 1, status, ldexp(estimate, e), tol, anorm), 0


def _gib(nbytes):
    return f"{nbytes / 2 ** 30:.3g} GiB"


def _ntk_gram_bytes(n, d1, d2):
    """Peak bytes of the dense route: ``ntk_gram`` (features, factors, output) and LAPACK's copy."""
    N = n * d2
    return 8 * (3 * N * N + 2 * n * n + 2 * n * d1)


def _choose_route(n, d0, d1, d2, max_memory):
    """``(method, reason)`` of ``method="auto"``: the first route that fits, by size and budget."""
    N = n * d2
    budget = f"max_memory = {_gib(max_memory)}"
    dense = _ntk_gram_bytes(n, d1, d2)
    if N > JACOBIAN_DENSE_MAX:
        why = f"n d2 = {N} > {JACOBIAN_DENSE_MAX} (dense LAPACK only up to there)"
    elif dense > max_memory:
        why = f"the dense route needs {_gib(dense)} > {budget}"
    else:
        return "dense", (f"n d2 = {N} <= {JACOBIAN_DENSE_MAX} and the dense route needs "
                         f"{_gib(dense)} <= {budget}")
    si = _ntk_dense_bytes(n, d1, d2)
    if si <= max_memory:
        return "shift-invert", (f"{why}; shift-invert on the float64 NTK needs {_gib(si)} "
                                f"<= {budget}")
    mixed = _ntk_mixed_bytes(n, d0, d1, d2)
    if mixed <= max_memory:
        return "mixed", (f"{why}; shift-invert needs {_gib(si)} > {budget}; the float32 NTK "
                         f"(mixed) needs {_gib(mixed)} <= {budget}")
    return "davidson", (f"{why}; shift-invert needs {_gib(si)} and the float32 NTK (mixed) "
                        f"{_gib(mixed)}, both > {budget}: matrix-free, preconditioned Davidson")
