"""Extreme eigenvalues and singular values, dense or matrix-free.

The theory measured by pl_toolkit rests on ``lambda_min(K)`` of the empirical
NTK (the PL constant of the loss ``h`` is ``4 lambda_min(K)``) and on the
extreme singular values of the adjoint Jacobian (the paper's ``mu_Phi`` and
``nu_Phi``, Definition 1 and Lemma 3).  This module computes them:

* :func:`lambda_min`, :func:`lambda_max` -- extreme eigenpairs of a dense
  symmetric array (LAPACK subset solver, or shift-invert Lanczos through a
  Cholesky factor for large positive definite arrays) or of a symmetric
  ``scipy.sparse.linalg.LinearOperator`` (thick-restart Lanczos with full
  reorthogonalisation);
* :func:`ntk_lambda_min` -- ``lambda_min`` of the empirical NTK at any
  size: dense, shift-invert on the NTK formed tile by tile, or
  matrix-free, chosen by size and a memory budget;
* :func:`sigma_min`, :func:`sigma_max` -- extreme singular values of a
  rectangular array or operator;
* :class:`LambdaMinTracker` -- follows ``lambda_min`` along a slowly
  changing matrix (a training trajectory), warm-started from the previous
  eigenvectors;
* :class:`EigResult`, :class:`ConvergenceWarning`.

An iterative solver that does not reach its tolerance -- out of products,
or asked for a relative tolerance below the rounding floor of an
ill-conditioned matrix -- returns ``converged=False`` (``reason`` says
which) *and* warns with :class:`ConvergenceWarning`; it never returns a
silent number.  Every result carries an ``error_bound`` that is a bound
(:class:`EigResult` says to which eigenvalue) at any scale of the input.
"""

import math
import os
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from ._lanczos import ldexp, rounding_floor, safe_norm, thick_restart_lanczos
from ._validation import as_float_array, check_positive_float, check_positive_int, check_square_symmetric

__all__ = ["ConvergenceWarning", "EigResult", "lambda_min", "lambda_max", "sigma_min", "sigma_max",
           "LambdaMinTracker", "JacobianSpectrum", "jacobian_singular_values", "ntk_lambda_min"]

_EPS = np.finfo(np.float64).eps
_ETA = 2.0 ** -1074
#: Largest dense array handled by the LAPACK subset solver under ``method="auto"``
#: (``O(n^3)`` time, about 20 s at this size on 2 cores).
DENSE_MAX = 8000
#: From this size on, ``lambda_min(A)`` of a dense array under ``method="auto"``
#: tries shift-invert before the LAPACK subset solver.  Measured on 2000-unit
#: NTKs of 784-dimensional data (2 cores; shift-invert / dsyevr time,
#: ``benchmarks/bench_eig.py --crossover``): 1.47 at n = 3000 and 4000, 0.98
#: at 5000, 0.73 at 8000 (another draw of the data: 1.66, 1.30, 0.67, 0.59).
SHIFT_INVERT_MIN = 5000
_METHODS = ("auto", "dense", "lanczos", "shift-invert")
_NTK_METHODS = ("auto", "dense", "shift-invert", "lanczos")


class ConvergenceWarning(UserWarning):
    """An iterative eigensolver stopped before reaching its tolerance.

    The result it returns carries ``converged=False``.

    Examples
    --------
    Two Lanczos steps cannot resolve the smallest of 200 eigenvalues:

    >>> import warnings
    >>> import numpy as np
    >>> from scipy.sparse.linalg import aslinearoperator
    >>> from pl_toolkit import ConvergenceWarning, lambda_min
    >>> A = aslinearoperator(np.diag(np.arange(1.0, 201.0)))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     r = lambda_min(A, tol=1e-14, maxiter=2)
    >>> r.converged, any(w.category is ConvergenceWarning for w in caught)
    (False, True)
    """


def _user_stacklevel():
    """``stacklevel`` of the first frame outside pl_toolkit (for warnings)."""
    pkg = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(pkg):
        frame, level = frame.f_back, level + 1
    return level


def _readonly(a):
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class EigResult:
    """An extreme eigenpair (or singular triplet) and how it was obtained.

    What is guaranteed.  A dense (LAPACK) result is backward stable: its
    ``value`` is within ``error_bound`` of the wanted eigenvalue itself.
    An iterative result (Lanczos, shift-invert, the tracker's refinement)
    carries a residual bound: *some* eigenvalue of ``A`` lies within
    ``error_bound`` of ``value`` -- the nearest one, not necessarily the
    extreme one, since a Krylov method can miss an eigenvalue its start
    vector barely contains (the tracker's periodic Cholesky check and the
    shift-invert factorization rule that out below their shift; a random
    start makes a miss unlikely but not impossible).  Both kinds of bound
    assume that each product ``A x`` is accurate to ``sqrt(n) eps ||A||
    ||x||`` (the probabilistic rounding-error bound of a length-``n`` inner
    product) and, for operators, estimate ``||A||`` from the largest
    product norm and Ritz value seen.  Only
    :func:`pl_toolkit.lambda_min_certified` and
    :func:`pl_toolkit.ntk_lambda_min_certified` prove a lower bound.

    Attributes
    ----------
    value : float
        The eigenvalue (for :func:`sigma_min`/:func:`sigma_max`: the
        singular value).
    vector : ndarray of shape (n,)
        Unit eigenvector (read-only); for singular values, the right
        singular vector.
    residual : float
        ``||A v - value v||`` for the unit ``vector`` (for singular values:
        ``||A^T A v - value**2 v||``), computed explicitly.
    matvecs : int
        Number of operator products used (0 for dense LAPACK solves; for
        shift-invert, the number of solves with the Cholesky factor plus
        the one product that measures the residual).
    converged : bool
        Whether the requested relative tolerance was met (``reason ==
        "tolerance"``, or ``"direct"`` for dense solves).  False when the
        iteration stopped at ``maxiter``, and when the tolerance is below
        the rounding floor ``~ sqrt(n) eps ||A|| / |value|`` (an
        ill-conditioned or singular matrix): the value is then as accurate
        as floating point allows, ``error_bound``.
    method : str
        ``"dense"``, ``"lanczos"``, ``"shift-invert"``, ``"svd"``,
        ``"gram-lanczos"`` or, for the tracker, ``"tracked"``.
    error_bound : float
        A bound on ``|value - lambda|`` (see above for which ``lambda``):
        ``n eps (n max|A|)`` for dense eigensolvers (``max(p, q) eps
        sigma_max`` for the SVD), and ``residual + floor`` for iterative
        ones, ``floor = (3.5 sqrt(n) + 2) eps ||A||`` the rounding error of
        the measured Rayleigh quotient (:mod:`pl_toolkit._lanczos`).  For
        singular values from the Gram route, the bound on the eigenvalue
        of the Gram operator carried over exactly through the square root.
    reason : str
        Why the solver stopped: ``"direct"`` (dense LAPACK), ``"tolerance"``
        (tolerance met), ``"rounding"`` (the relative tolerance is below
        the rounding floor; stopped at the floor, ``converged=False``) or
        ``"maxiter"`` (out of products, ``converged=False``).
    error_estimate : float
        Estimated error, at least the rounding floor: the Kato-Temple
        estimate ``min(rho, rho**2 / gap)`` with the gap to the next Ritz
        value (for shift-invert, that of the inverse carried over to
        ``value``); the stopping tests use it.  Usually much smaller than
        ``error_bound`` and usually right, but not guaranteed: the Ritz gap
        over-estimates the true gap while a neighbouring eigenvalue is
        unresolved.  Dense solves: equal to ``error_bound``.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import lambda_min
    >>> A = np.array([[2.0, 1.0], [1.0, 2.0]])      # eigenvalues 1 and 3
    >>> r = lambda_min(A)
    >>> round(r.value, 12), r.method, r.converged, r.matvecs, r.reason
    (1.0, 'dense', True, 0, 'direct')
    >>> bool(np.allclose(A @ r.vector, r.value * r.vector)), r.vector.flags.writeable
    (True, False)
    >>> bool(r.residual <= 1e-12), bool(abs(r.value - 1.0) <= r.error_bound < 1e-12)
    (True, True)
    """

    value: float
    vector: np.ndarray = field(repr=False)
    residual: float
    matvecs: int
    converged: bool
    method: str
    error_bound: float = float("nan")
    reason: str = ""
    error_estimate: float = float("nan")

    def __post_init__(self):
        object.__setattr__(self, "vector", _readonly(self.vector))


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------
def _check_ntk_method(method):
    if method not in _NTK_METHODS:
        raise ValueError(f"method must be one of {_NTK_METHODS}, got {method!r}")
    return method


def _check_method(method):
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    return method


def _is_operator(A):
    return isinstance(A, LinearOperator) or hasattr(A, "tocsr")


def _symmetric_input(A, name="A"):
    """Return ``("dense", ndarray)`` or ``("operator", LinearOperator)``."""
    if _is_operator(A):
        op = aslinearoperator(A)
        if op.shape[0] != op.shape[1]:
            raise ValueError(f"{name} must be square, got shape {op.shape}")
        if op.shape[0] == 0:
            raise ValueError(f"{name} is empty (shape {op.shape})")
        return "operator", op
    arr = as_float_array(A, name, ndim=2)
    check_square_symmetric(arr, name)
    return "dense", arr


def _check_v0(v0, n, name="v0"):
    if v0 is None:
        return None
    v = as_float_array(v0, name, ndim=(1, 2)).reshape(-1)
    if v.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {v.shape[0]}")
    if not np.any(v):
        raise ValueError(f"{name} is the zero vector")
    return v


def _operator_matvec(op, name="A"):
    def mv(x):
        y = np.asarray(op.matvec(x), dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} returned NaN or Inf in a matrix-vector product")
        return y
    return mv


def default_ncv(n):
    """Default Lanczos basis size: ``min(n, 1000)`` capped at 256 MB of basis."""
    return int(min(n, 1000, max(60, (32 * 1024 * 1024) // max(n, 1))))


# --------------------------------------------------------------------------
# Dense and matrix-free extreme eigenpairs
# --------------------------------------------------------------------------
def _pow2_scaled(A):
    """``(A / 2**e, e)``: a copy only when ``max|A|`` is outside ``[2**-200, 2**200]``.

    Multiplying by a power of two is exact.  LAPACK's symmetric
    eigensolvers lose accuracy on small matrices long before their own
    scaling threshold (``~1e-146``): MRRR works with squares of the
    tridiagonal entries, which go subnormal.  Measured: ``dsyevr`` on
    ``Q diag(w) Q^T`` with ``max|w| = 1e-143`` (condition ``1e14``, ``n =
    6``) was off by up to 2800 times its backward-error bound ``n^2 eps
    max|A|``, at ``1e-141`` and above (up to ``1e306``) within 0.13 of it.
    """
    amax = float(np.max(np.abs(A)))
    if amax == 0.0 or 2.0 ** -200 <= amax <= 2.0 ** 200:
        return A, 0
    e = _pow2_exponent(amax)
    return np.ldexp(A, -e), e


def _dense_extreme(A, which):
    n = A.shape[0]
    idx = 0 if which == "SA" else n - 1
    # dsyevr (MRRR on the tridiagonal) and dsyevx are the fastest LAPACK
    # routes to one eigenpair; at n = 2000 (2 shared cores, interleaved
    # medians) dsyevr took 0.157-0.228 s, dsyevx 0.215-0.226 s, all
    # eigenvalues (eigvalsh) 0.239-0.251 s, all eigenpairs (dsyevd) 0.46 s.
    # The tridiagonal reduction (4/3 n^3, half BLAS-2) dominates them all.
    # Tiny and huge matrices are solved on A / 2**e (_pow2_scaled).
    As, e = _pow2_scaled(A)
    w, V = _subset_eigh(As, idx, idx)
    v = V[:, 0]
    value = float(w[0])
    residual = safe_norm(As @ v - value * v)
    # Backward stability: the computed eigenvalue is the idx-th eigenvalue
    # of A + E, ||E||_2 <= p(n) eps ||A||_2; taken as n eps ||A||_inf with
    # ||A||_inf <= n max|A| (Weyl then bounds the error of the wanted
    # eigenvalue itself).  Ordered to avoid overflow near 1e308.
    bound = ldexp((n * _EPS * n) * float(np.max(np.abs(As))), e) + n * _ETA
    return EigResult(value=ldexp(value, e), vector=v, residual=ldexp(residual, e), matvecs=0,
                     converged=True, method="dense", error_bound=bound, reason="direct",
                     error_estimate=bound)


def _subset_eigh(A, lo, hi):
    """Eigenpairs ``lo..hi`` (ascending) by LAPACK ``dsyevr``, with fallbacks.

    ``dsyevr`` (MRRR) can return fewer pairs than asked for when the
    spectrum is a tight cluster (measured: 38 of 4000 subset solves of
    ``-Q Q^T``, ``n <= 20``, returned none); then ``dsyevx``, then the full
    ``dsyevd`` solve.
    """
    for driver in ("evr", "evx"):
        w, V = sla.eigh(A, subset_by_index=[lo, hi], driver=driver, check_finite=False)
        if len(w) == hi - lo + 1:
            return w, V
    w, V = sla.eigh(A, driver="evd", check_finite=False)
    return w[lo:hi + 1], V[:, lo:hi + 1]


def _warn_unconverged(res, tol, what, count):
    """The ConvergenceWarning of an iterative result with ``converged=False``."""
    if res.reason == "rounding":
        msg = (f"{what}: tol={tol:g} is below the rounding floor of this problem (value "
               f"{res.value:.6g}, error bound {res.error_bound:.3e}: the conditioning allows "
               f"relative accuracy {res.error_estimate / max(abs(res.value), 1e-300):.1e} at best); "
               "stopped at the floor with converged=False")
    else:
        msg = (f"{what} did not reach tol={tol:g} in {count} (estimated error "
               f"{res.error_estimate:.3e}, bound {res.error_bound:.3e} at value {res.value:.6g}); "
               "increase maxiter")
    warnings.warn(msg, ConvergenceWarning, stacklevel=_user_stacklevel())


def _iterative_extreme(op, which, tol, v0, maxiter, name="A", ncv=None, product_rounding=None):
    n = op.shape[0]
    if ncv is None:
        ncv = default_ncv(n)
    try:
        out = thick_restart_lanczos(_operator_matvec(op, name), n, which=which, tol=tol, v0=v0,
                                    maxiter=maxiter, ncv=ncv, product_rounding=product_rounding)
    except FloatingPointError:
        raise ValueError(f"{name} returned NaN or Inf in a matrix-vector product") from None
    res = EigResult(value=out["value"], vector=out["vector"], residual=out["residual"],
                    matvecs=out["matvecs"], converged=out["converged"], method="lanczos",
                    error_bound=out["bound"], reason=out["status"], error_estimate=out["estimate"])
    if not res.converged:
        _warn_unconverged(res, tol, "Lanczos", f"{res.matvecs} matrix-vector products")
    return res


def _extreme(A, which, method, tol, v0, maxiter):
    _check_method(method)
    tol = check_positive_float(tol, "tol")
    if maxiter is not None:
        maxiter = check_positive_int(maxiter, "maxiter")
    kind, M = _symmetric_input(A)
    n = M.shape[0]
    v0 = _check_v0(v0, n)
    if method in ("dense", "shift-invert") and kind != "dense":
        raise ValueError(f"method={method!r} needs an ndarray A, got a LinearOperator")
    if method == "shift-invert" and which != "SA":
        raise ValueError("method='shift-invert' computes the smallest eigenvalue only; "
                         "use 'dense' or 'lanczos' for lambda_max")
    if method == "auto":
        if kind != "dense":
            method = "lanczos"
        elif which == "SA":
            if n < SHIFT_INVERT_MIN:
                method = "dense"
            else:
                res = _dense_shift_invert(M, tol, v0, maxiter, strict=False)
                if res is not None:
                    return res
                method = "lanczos"      # not positive definite: Krylov on A itself
        else:
            method = "dense" if n <= DENSE_MAX else "lanczos"
    if method == "dense":
        return _dense_extreme(M, which)
    if method == "shift-invert":
        return _dense_shift_invert(M, tol, v0, maxiter, strict=True)
    op = aslinearoperator(M) if kind == "dense" else M
    return _iterative_extreme(op, which, tol, v0, maxiter)


# --------------------------------------------------------------------------
# Shift-invert: Lanczos on (A - sigma I)^{-1} through a Cholesky factor
# --------------------------------------------------------------------------
def _cholesky_lower_inplace(F):
    """LAPACK ``dpotrf`` of the lower triangle of Fortran-ordered ``F``, in place.

    Returns ``info``: 0 on success, ``k > 0`` if the leading minor of order
    ``k`` is not positive definite (``F`` is then partly overwritten).
    """
    c, info = sla.lapack.dpotrf(F, lower=1, clean=0, overwrite_a=1)
    if not np.shares_memory(c, F):      # cannot happen for Fortran-ordered float64 input
        F[...] = c
    return int(info)


def _pow2_exponent(x):
    """``e`` with ``2**(e-1) <= x < 2**e`` (0 for ``x = 0``)."""
    return math.frexp(float(x))[1] if x > 0 and math.isfinite(x) else 0


def _scale_lower_inplace(F, e):
    """``F *= 2**-e`` on the lower triangle's columns (exact: a power of two)."""
    if e:
        np.ldexp(F, -e, out=F)


def _factor_norm_estimate(F, sigma, iters=8, seed=0):
    """Estimate of ``||L L^T + sigma I||_2`` from below (power iteration with the factor)."""
    N = F.shape[0]
    trmv = sla.blas.dtrmv
    x = np.random.default_rng(np.random.SeedSequence(seed)).random(N) + 0.5
    x /= safe_norm(x)
    est = 0.0
    for _ in range(iters):
        y = trmv(F, trmv(F, x, lower=1, trans=1), lower=1) + sigma * x
        ny = safe_norm(y)
        if not ny > 0:
            break
        est = max(est, ny)
        x = y / ny
    return est


def _inverse_lanczos(F, tol, v0, maxiter):
    """Largest eigenpair of ``(L L^T)^{-1}`` for the Cholesky factor ``L`` held in ``F``.

    ``L L^T = A_s - sigma I`` (``A_s`` the scaled matrix).  Returns
    ``(vector, solves, status, estimate)`` with ``estimate`` the Lanczos
    (Kato-Temple) error estimate of ``mu = 1 / (lambda - sigma)`` carried
    over to ``lambda`` (``d lambda = d mu / mu^2``).  For ``0 <= sigma <
    lambda`` a relative tolerance on ``mu`` is at least as tight on
    ``lambda - sigma`` and hence on ``lambda``.  The caller measures
    ``lambda`` as the Rayleigh quotient of the vector with ``A``.
    """
    N = F.shape[0]

    def solve(x):
        y, info = sla.lapack.dpotrs(F, x, lower=1)
        return y

    # maxiter bounds every solve: the iteration's, then two polishing ones
    # (the Lanczos residual estimate stands in for a final solve).
    out = thick_restart_lanczos(solve, N, which="LA", tol=tol, v0=v0,
                                maxiter=None if maxiter is None else max(1, maxiter - 2),
                                ncv=default_ncv(N), final_residual=False)
    mu = out["value"]
    # Polish the vector by two inverse-iteration steps: a Ritz vector of
    # K^{-1} keeps components along large eigenvalues of K that K^{-1}
    # barely sees; each step damps them by lambda_1 / lambda_i, so the
    # residual and Rayleigh quotient measured with K itself become accurate.
    vec = out["vector"]
    for _ in range(2):
        vec = solve(vec)
        vec = vec / safe_norm(vec)
    estimate = out["estimate"] / mu / mu if mu > 0 else float("inf")
    return vec, out["matvecs"] + 2, out["status"], estimate


def _gershgorin_lower(A):
    d = np.diagonal(A)
    return float(np.min(2 * d - np.sum(np.abs(A), axis=1)))


def _dense_shift_invert(A, tol, v0, maxiter, strict):
    n = A.shape[0]
    anorm_inf = float(np.max(np.sum(np.abs(A), axis=1)))       # ||A||_inf >= ||A||_2
    # Work on A / 2**e with ||A / 2**e||_inf in [1/2, 1): the factor, the
    # solves (of size 1 / lambda) and the Lanczos quantities stay far from
    # under- and overflow at any scale of A.
    e = _pow2_exponent(anorm_inf)
    F = np.array(A, order="F", dtype=np.float64, copy=True)
    _scale_lower_inplace(F, e)
    g = _gershgorin_lower(F)
    sigma = 0.99 * g if g > 0 else 0.0
    F[np.diag_indices(n)] -= sigma
    info = _cholesky_lower_inplace(F)
    if info or not np.all(np.isfinite(np.diagonal(F))):
        if strict:
            raise ValueError(f"A is not numerically positive definite (Cholesky of A - "
                             f"{ldexp(sigma, e):g} I failed at column {info or n}); "
                             "method='shift-invert' needs a positive definite A: use "
                             "method='dense' or 'lanczos'")
        return None
    vec, solves, status, estimate = _inverse_lanczos(F, tol, v0, maxiter)
    anorm = ldexp(_factor_norm_estimate(F, sigma), e)
    del F
    return _shift_invert_result(vec, A @ vec, solves + 1, status, ldexp(estimate, e), tol, anorm)


def _shift_invert_result(vec, Av, count, status, estimate, tol, anorm):
    """EigResult of the unit ``vec`` from ``Av = A vec`` measured with ``A`` itself.

    ``anorm`` estimates ``||A||_2``.  The error bound is the residual bound
    ``residual + floor`` (some eigenvalue within it); the Kato-Temple
    estimate of the inverse iteration, floored likewise, is the estimate.
    A tolerance below the floor is reported as ``reason="rounding"``.
    """
    n = len(vec)
    value = float(vec @ Av)
    residual = safe_norm(Av - value * vec)
    anorm = max(anorm, safe_norm(Av))
    floor = rounding_floor(n, anorm, value) + n * _ETA
    if status == "tolerance" and tol * abs(value) < floor:
        status = "rounding"
    est = estimate if estimate == estimate else residual
    res = EigResult(value=value, vector=vec, residual=residual, matvecs=count,
                    converged=status == "tolerance", method="shift-invert",
                    error_bound=residual + floor, reason=status,
                    error_estimate=max(min(est, residual), floor))
    if not res.converged:
        _warn_unconverged(res, tol, "shift-invert Lanczos", f"{count - 1} solves")
    return res


def lambda_min(A, *, method="auto", tol=1e-8, v0=None, maxiter=None):
    """Smallest eigenvalue and eigenvector of a symmetric matrix or operator.

    Parameters
    ----------
    A : ndarray of shape (n, n) or LinearOperator
        Symmetric matrix (checked to ``100 n eps max|A|``; the lower
        triangle is used) or symmetric operator (e.g.
        :func:`pl_toolkit.ntk_operator`; symmetry is the caller's promise).
    method : {"auto", "dense", "lanczos", "shift-invert"}, default "auto"
        ``"dense"``: LAPACK ``dsyevr`` computing only the smallest pair.
        ``"lanczos"``: thick-restart Lanczos with full
        reorthogonalisation (matrix-free).  ``"shift-invert"`` (positive
        definite arrays): Cholesky factor of ``A - sigma I`` and Lanczos on
        its inverse (a copy of ``A`` is factored).  ``"auto"``: dense for
        arrays of size below ``SHIFT_INVERT_MIN = 5000``; from there on,
        shift-invert if the Cholesky factorization succeeds and Lanczos
        otherwise; Lanczos for operators.
    tol : float, default 1e-8
        Relative tolerance of the iterative method on the eigenvalue:
        stops when ``min(rho, rho**2/gap) <= tol |value|`` (see Notes).
        Dense solves are accurate to ``O(n eps ||A||)`` regardless.
    v0 : ndarray of shape (n,), optional
        Starting vector of the iterative method (warm start).
    maxiter : int, optional
        Maximum number of matrix-vector products (default
        ``max(20 n, 1000)``).

    Returns
    -------
    EigResult
        ``value, vector, residual, matvecs, converged, method,
        error_bound, reason, error_estimate``.  What is guaranteed (see :class:`EigResult`): a dense result is within
        ``error_bound`` of the wanted eigenvalue itself; an iterative one
        within ``error_bound`` of *some* eigenvalue -- the nearest, which
        is the wanted one unless the Krylov space missed an eigenvalue
        (unlikely from a random start, not impossible).  No route proves
        a lower bound: use :func:`pl_toolkit.lambda_min_certified`.

    Raises
    ------
    ValueError
        If ``A`` is not square, not symmetric, contains NaN/Inf, the
        operator returns NaN/Inf, or an argument is invalid.

    Warns
    -----
    ConvergenceWarning
        If the iterative method stops at ``maxiter`` before ``tol``, or
        ``tol`` is below the rounding floor ``~ sqrt(n) eps ||A|| /
        |lambda|`` (``reason="rounding"``: the value is then as accurate as
        floating point allows); the result has ``converged=False``.

    Notes
    -----
    ``lambda_min`` of the empirical NTK ``K = J J^T`` is the square of
    ``sigma_min`` of the adjoint Jacobian, which the paper bounds below by
    ``mu_Phi`` (Definition 1, Lemma 1, eq. 18); ``4 lambda_min(K)`` is the
    PL constant of the loss ``h``.

    The Lanczos method keeps ``m = min(n, 1000)`` basis vectors (capped at
    256 MB) fully orthogonal, restarts by keeping the ``m/2`` smallest Ritz
    vectors, and checks convergence every 10 steps.  For the smallest Ritz
    pair ``(theta, y)`` with residual norm ``rho`` and next Ritz value
    ``theta_2``, ``gap = theta_2 - theta``; the Kato-Temple inequality gives
    ``theta - lambda_min <= rho**2 / gap`` when ``theta_2 <= lambda_2``.
    A large basis matters: on a 2000-point NTK with condition number
    ``4.7e3`` (``benchmarks/bench_eig.py``) it needed 931 matrix-vector
    products (relative error ``4e-11``) against 2,441 with a 200-vector
    basis, 32,871 for ARPACK ``eigsh(which='SA')``, 4,801 for
    ``eigsh(ncv=300)``; ``lobpcg`` (4 vectors) stopped after 2000
    iterations (8,012 products) at relative error ``2e-5``.  Shifting
    (``lambda_max I - A``) changes nothing for a Krylov method, and a
    Chebyshev filter cannot beat the Lanczos polynomial of the same degree.
    Inverting does: ``method="shift-invert"`` factors ``A - sigma I``
    (``sigma = 0.99`` times the Gershgorin lower bound when that is
    positive, else 0) and runs the same Lanczos method for the largest
    eigenvalue ``mu`` of the inverse, ``lambda = sigma + 1 / mu``; two
    inverse-iteration steps then polish the vector, and ``value`` and
    ``residual`` are measured with ``A`` itself.  On the spectrum of a
    10,000-point NTK (condition number ``3.7e4``, ``lambda_2 / lambda_1 =
    1.0016``) Lanczos on ``A`` needs 4,811 products and on ``A^{-1}`` 113
    to 151 solves (two starting vectors); see :func:`ntk_lambda_min` for the NTK at large ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import lambda_min
    >>> A = np.diag([3.0, 1.0, 2.0])
    >>> r = lambda_min(A)
    >>> round(r.value, 12), r.method, r.converged
    (1.0, 'dense', True)
    >>> from scipy.sparse.linalg import aslinearoperator
    >>> r = lambda_min(aslinearoperator(np.diag(np.arange(1.0, 51.0))))
    >>> round(r.value, 8), r.method
    (1.0, 'lanczos')
    """
    return _extreme(A, "SA", method, tol, v0, maxiter)


def lambda_max(A, *, method="auto", tol=1e-8, v0=None, maxiter=None):
    """Largest eigenvalue and eigenvector of a symmetric matrix or operator.

    Parameters
    ----------
    A : ndarray of shape (n, n) or LinearOperator
        Symmetric matrix or operator.
    method : {"auto", "dense", "lanczos"}, default "auto"
        As in :func:`lambda_min`.
    tol : float, default 1e-8
        Relative tolerance of the iterative method.
    v0 : ndarray of shape (n,), optional
        Starting vector.
    maxiter : int, optional
        Maximum number of matrix-vector products.

    Returns
    -------
    EigResult
        The largest eigenpair; guarantees as for :func:`lambda_min`.

    Raises
    ------
    ValueError
        As for :func:`lambda_min`.

    Warns
    -----
    ConvergenceWarning
        If the iterative method does not converge or ``tol`` is below the
        rounding floor (``converged=False``, as for :func:`lambda_min`).

    Notes
    -----
    ``lambda_max(K) = sigma_max(nabla Phi^*)^2``, which the paper bounds
    above by ``nu_Phi`` (eq. 18).  Lanczos converges fast here: the top of
    an NTK spectrum is well separated (the constant mode of ``phi``).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import lambda_max
    >>> round(lambda_max(np.diag([3.0, 1.0, 2.0])).value, 12)
    3.0
    """
    return _extreme(A, "LA", method, tol, v0, maxiter)


# --------------------------------------------------------------------------
# Singular values
# --------------------------------------------------------------------------
def _sigma(A, which, method, tol, maxiter):
    _check_method(method)
    tol = check_positive_float(tol, "tol")
    if maxiter is not None:
        maxiter = check_positive_int(maxiter, "maxiter")
    if _is_operator(A):
        op = aslinearoperator(A)
        p, q = op.shape
        if p == 0 or q == 0:
            raise ValueError(f"A is empty (shape {op.shape})")
        if method == "dense":
            raise ValueError("method='dense' needs an ndarray A, got a LinearOperator")
        # The Gram operator squares the scale of A (entries 1e-200 would
        # underflow, 1e200 overflow): work on (A / 2**e)^T (A / 2**e) with
        # 2**e ~ ||A x0|| for a random unit x0 (one product of A).
        x0 = np.random.default_rng(np.random.SeedSequence(1)).standard_normal(q)
        y0 = np.asarray(op.matvec(x0 / safe_norm(x0)), dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(y0)):
            raise ValueError("A returned NaN or Inf in a matrix-vector product")
        e = _pow2_exponent(safe_norm(y0))
        if which == "SA" and p < q:
            # A^T A (q x q) is singular: sigma_min over R^q is 0; the smallest of
            # the min(p, q) singular values comes from A A^T.
            def gram_mv(x):
                return np.ldexp(np.asarray(op.matvec(np.ldexp(np.asarray(op.rmatvec(x), dtype=np.float64), -e)),
                                           dtype=np.float64), -e)
            gram = LinearOperator((p, p), matvec=gram_mv, dtype=np.float64)
            vec_of = lambda u: op.rmatvec(u)  # noqa: E731
        else:
            def gram_mv(x):
                return np.ldexp(np.asarray(op.rmatvec(np.ldexp(np.asarray(op.matvec(x), dtype=np.float64), -e)),
                                           dtype=np.float64), -e)
            gram = LinearOperator((q, q), matvec=gram_mv, dtype=np.float64)
            vec_of = None
        # a Gram product rounds like a product of length q followed by one of length p
        r = _iterative_extreme(gram, which, tol, None, maxiter, name="A",
                               product_rounding=math.sqrt(p) + math.sqrt(q))
        lam = r.value
        sig = math.sqrt(max(lam, 0.0))
        v = np.asarray(r.vector) if vec_of is None else np.asarray(vec_of(r.vector)).reshape(-1)
        nv = safe_norm(v)
        v = v / nv if nv > 0 else v
        return EigResult(value=ldexp(sig, e), vector=v, residual=ldexp(r.residual, 2 * e),
                         matvecs=r.matvecs + 1, converged=r.converged, method="gram-lanczos",
                         error_bound=ldexp(_sqrt_bound(lam, r.error_bound), e), reason=r.reason,
                         error_estimate=ldexp(_sqrt_bound(lam, r.error_estimate), e))
    M = as_float_array(A, "A", ndim=2)
    if method == "lanczos":
        return _sigma(aslinearoperator(M), which, method, tol, maxiter)
    # Dense SVD of the array itself: relative accuracy ~ eps ||A|| / sigma,
    # not the squared condition number of the Gram route.
    U, s, Vt = sla.svd(M, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    k = len(s) - 1 if which == "SA" else 0
    value = float(s[k])
    v = Vt[k]
    # residual ||A^T A v - sigma^2 v|| measured on A / 2**e (inf if it overflows float64)
    e = _pow2_exponent(float(s[0]))
    Ms = np.ldexp(M, -e)
    vs = ldexp(value, -e)
    residual = ldexp(safe_norm(Ms.T @ (Ms @ v) - vs * vs * v), 2 * e) if s[0] > 0 else 0.0
    # backward stability of the SVD: |sigma_k - sigma_k(A)| <= p(n) eps ||A||_2
    bound = max(M.shape) * _EPS * float(s[0]) + max(M.shape) * _ETA
    return EigResult(value=value, vector=v, residual=residual, matvecs=0, converged=True,
                     method="svd", error_bound=bound, reason="direct", error_estimate=bound)


def _sqrt_bound(lam, b):
    """Bound on ``|sqrt(lambda) - sqrt(max(lam, 0))|`` given ``|lambda - lam| <= b``, ``lambda >= 0``."""
    s = math.sqrt(max(lam, 0.0))
    lo = math.sqrt(max(lam - b, 0.0))
    hi = math.sqrt(max(lam + b, 0.0))
    return max(s - lo, hi - s)


def sigma_min(A, *, method="auto", tol=1e-8, maxiter=None):
    """Smallest of the ``min(p, q)`` singular values of a ``(p, q)`` array or operator.

    Parameters
    ----------
    A : ndarray of shape (p, q) or LinearOperator
        Matrix (dense SVD) or operator with ``matvec`` and ``rmatvec``.
    method : {"auto", "dense", "lanczos"}, default "auto"
        ``"dense"`` (``auto`` for arrays): LAPACK SVD ``dgesdd`` of ``A``
        itself.  ``"lanczos"`` (``auto`` for operators): Lanczos on the
        smaller Gram operator ``A^T A`` or ``A A^T``.
    tol : float, default 1e-8
        Relative tolerance of the Lanczos route on ``sigma**2``.
    maxiter : int, optional
        Maximum number of Gram products.

    Returns
    -------
    EigResult
        ``value`` is ``sigma_min``, ``vector`` the right singular vector
        (for ``p < q`` under Lanczos: ``A^T u / ||A^T u||``), ``residual``
        is ``||A^T A v - sigma^2 v||`` (Lanczos with ``p < q``: the Gram
        residual of ``u``; ``inf`` where that overflows float64).  The
        dense SVD is within ``error_bound`` of ``sigma_min`` itself; the
        Gram route's bound on the Gram eigenvalue is carried exactly
        through the square root and bounds the distance to the nearest
        singular value.  ``matvecs`` counts Gram products plus the one
        product of ``A`` that sets the working scale.

    Raises
    ------
    ValueError
        If ``A`` is empty, not 2-D, or contains NaN/Inf.

    Warns
    -----
    ConvergenceWarning
        If the Lanczos route does not converge.

    Notes
    -----
    The Gram route squares the condition number: its relative accuracy on
    ``sigma_min`` is about ``eps (sigma_max / sigma_min)**2``; the dense
    route is accurate to ``eps sigma_max / sigma_min``.  In the paper,
    ``mu_Phi = sigma_min(phi(W_0 X))`` (eq. 18).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import sigma_min
    >>> A = np.array([[3.0, 0.0], [0.0, 0.5], [0.0, 0.0]])
    >>> round(sigma_min(A).value, 12)
    0.5
    """
    return _sigma(A, "SA", method, tol, maxiter)


def sigma_max(A, *, method="auto", tol=1e-8, maxiter=None):
    """Largest singular value of a ``(p, q)`` array or operator.

    Parameters
    ----------
    A : ndarray of shape (p, q) or LinearOperator
        Matrix or operator with ``matvec`` and ``rmatvec``.
    method : {"auto", "dense", "lanczos"}, default "auto"
        As in :func:`sigma_min`.
    tol : float, default 1e-8
        Relative tolerance of the Lanczos route.
    maxiter : int, optional
        Maximum number of Gram products.

    Returns
    -------
    EigResult
        ``value`` is ``sigma_max`` (the spectral norm); guarantees as for
        :func:`sigma_min`.

    Raises
    ------
    ValueError
        If ``A`` is empty, not 2-D, or contains NaN/Inf.

    Warns
    -----
    ConvergenceWarning
        If the Lanczos route does not converge.

    Notes
    -----
    ``sigma_max`` of the adjoint Jacobian is the paper's ``nu_Phi``
    (Definition 1); ``sigma_max(X)`` enters ``beta_Phi`` (eq. 18).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import sigma_max
    >>> round(sigma_max(np.array([[3.0, 0.0], [0.0, 0.5]])).value, 12)
    3.0
    """
    return _sigma(A, "LA", method, tol, maxiter)


# --------------------------------------------------------------------------
# Tracking along a trajectory
# --------------------------------------------------------------------------
class LambdaMinTracker:
    """Follow ``lambda_min`` of a slowly changing symmetric matrix or operator.

    Parameters
    ----------
    method : {"auto", "dense", "lanczos", "shift-invert"}, default "auto"
        ``"dense"`` (``auto`` for arrays up to ``DENSE_MAX``): block
        refinement of the previous eigenvectors (see Notes), with a fresh
        LAPACK solve as fallback.  ``"lanczos"`` (``auto`` for operators):
        thick-restart Lanczos warm-started from the previous eigenvector.
        ``"shift-invert"`` (positive definite arrays only; an operator is
        refused): ``lambda_min(A, method="shift-invert")`` warm-started
        from the previous eigenvector, with a fresh LAPACK solve when the
        Cholesky factorization fails.
    tol : float, default 1e-8
        Relative tolerance on ``lambda_min``.  A tolerance below the
        rounding floor of ``A`` (``~ sqrt(n) eps ||A|| / lambda_min``) gives
        ``converged=False`` with ``reason="rounding"`` and a
        :class:`ConvergenceWarning` (refinement and iterative routes).
    block : int, default 8
        Number of lowest eigenvectors carried from one update to the next
        (dense route).
    verify_every : int, default 10
        Every this many updates (and whenever the preconditioner has gone
        stale: 3 or more refinement steps, or a drift of 5 % from its
        shift), the dense route re-factors ``A - sigma I`` (Cholesky) just
        below the tracked value, which proves no eigenvalue was missed
        below ``sigma`` and refreshes the preconditioner.

    Attributes
    ----------
    last : EigResult or None
        Result of the latest update.
    updates, fallbacks, factorizations : int
        Counters: updates, fresh dense solves, Cholesky factorisations.

    Notes
    -----
    Dense route, one update with the carried block ``Q`` (``n x b``):
    Rayleigh-Ritz on ``span(Q)``, then up to 6 LOBPCG-style steps on
    ``span(Q, M R, P)`` where ``R`` are the block residuals and ``M =
    (A_ref - sigma I)^{-1}`` is a Cholesky factor of an earlier matrix of
    the trajectory, shifted just below its ``lambda_min`` (so that ``M R``
    is close to an inverse-iteration step).  One step costs one ``n x 3b``
    BLAS-3 product with ``A`` and two triangular solves with ``b``
    right-hand sides -- a few percent of a fresh ``dsyevr`` solve.  The
    update is accepted when the Kato-Temple estimate
    ``min(rho, rho**2/gap) <= tol * value / 4`` (or the rounding floor);
    otherwise the tracker falls back to a fresh dense solve and a new
    factorisation.  An accepted refinement reports ``error_bound = residual
    + floor`` (some eigenvalue within it) and the Kato-Temple figure as
    ``error_estimate``.  The periodic
    Cholesky check (``verify_every``) succeeding at ``sigma = value (1 -
    1e-3)`` proves ``lambda_min(A) > sigma`` up to the rounding of the
    factorisation, so a missed eigenvalue further below would be caught;
    a failure triggers the fresh solve.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import LambdaMinTracker
    >>> rng = np.random.default_rng(0)
    >>> B = rng.standard_normal((30, 30)); A = B @ B.T + np.eye(30)
    >>> tr = LambdaMinTracker()
    >>> for t in range(3):
    ...     r = tr.update(A + 0.01 * t * np.eye(30))
    >>> bool(abs(r.value - (np.linalg.eigvalsh(A)[0] + 0.02)) < 1e-10)
    True
    """

    def __init__(self, method="auto", tol=1e-8, *, block=8, verify_every=10):
        self.method = _check_method(method)
        self.tol = check_positive_float(tol, "tol")
        self.block = check_positive_int(block, "block")
        self.verify_every = check_positive_int(verify_every, "verify_every")
        self.last = None
        self.updates = 0
        self.fallbacks = 0
        self.factorizations = 0
        self._Q = None          # carried block (dense route)
        self._chol = None       # (factor, sigma) of an earlier A - sigma I
        self._since_verify = 0

    def reset(self):
        """Forget the carried vectors and factorisation."""
        self.last = None
        self._Q = None
        self._chol = None
        self._since_verify = 0

    # -- public ---------------------------------------------------------------
    def update(self, A):
        """Return ``lambda_min`` of ``A``, warm-started from the previous update.

        Parameters
        ----------
        A : ndarray of shape (n, n) or LinearOperator
            The current symmetric matrix or operator.

        Returns
        -------
        EigResult
            As :func:`lambda_min`; ``method`` is ``"tracked"`` when the
            warm-started dense refinement was accepted, ``"dense"`` for a
            fresh solve, ``"lanczos"`` or ``"shift-invert"`` for those
            routes.  A ``"tracked"`` result is within ``error_bound`` of
            some eigenvalue (a residual bound); the periodic Cholesky check
            rules out a missed eigenvalue below its shift.
        """
        kind, M = _symmetric_input(A)
        n = M.shape[0]
        if self.last is not None and len(self.last.vector) != n:
            self.reset()
        method = self.method
        if method == "auto":
            method = "dense" if (kind == "dense" and n <= DENSE_MAX) else "lanczos"
        if method in ("dense", "shift-invert") and kind != "dense":
            raise ValueError(f"method={method!r} needs an ndarray A, got a LinearOperator")
        v0 = None if self.last is None else np.asarray(self.last.vector)
        if method == "lanczos":
            op = aslinearoperator(M) if kind == "dense" else M
            res = _iterative_extreme(op, "SA", self.tol, v0, None)
        elif method == "shift-invert":
            res = _dense_shift_invert(M, self.tol, v0, None, strict=False)
            if res is None:                     # not positive definite: a fresh dense solve
                self.fallbacks += 1
                res = _dense_extreme(M, "SA")
        else:
            res = self._dense_update(M)
        self.last = res
        self.updates += 1
        return res

    # -- dense route ----------------------------------------------------------
    @staticmethod
    def _scaled(A):
        """``_pow2_scaled(A)``: the refinement's norms, ``rho**2`` and Cholesky
        factors then stay far from under- and overflow."""
        return _pow2_scaled(A)

    def _fresh(self, A):
        n = A.shape[0]
        b = min(self.block, n)
        As, e = self._scaled(A)
        w, Q = _subset_eigh(As, 0, b - 1)
        self.fallbacks += 1
        self._Q = Q
        self._factor(As, e, float(w[0]), float(w[1]) if b > 1 else float(w[0]))
        v = Q[:, 0]
        value = float(w[0])
        residual = safe_norm(As @ v - value * v)
        bound = (n * _EPS * n) * float(np.max(np.abs(As)))       # as in _dense_extreme
        self._since_verify = 0
        return EigResult(value=ldexp(value, e), vector=v, residual=ldexp(residual, e), matvecs=0,
                         converged=True, method="dense", error_bound=ldexp(bound, e) + n * _ETA,
                         reason="direct", error_estimate=ldexp(bound, e) + n * _ETA)

    def _factor(self, As, e, theta, theta2):
        """Cholesky of ``As - sigma I`` just below ``theta`` (scaled units); True on success."""
        n = As.shape[0]
        floor = 64 * n * _EPS * float(np.max(np.abs(np.diag(As))))
        sigma = theta - max(1e-3 * abs(theta), 0.1 * (theta2 - theta), floor)
        B = As - sigma * np.eye(n)
        try:
            c = sla.cho_factor(B, lower=True, check_finite=False, overwrite_a=True)
        except np.linalg.LinAlgError:
            self._chol = None
            return False
        if not np.all(np.isfinite(np.diagonal(c[0]))):
            self._chol = None
            return False
        self.factorizations += 1
        self._chol = (c, ldexp(sigma, e))           # the shift in the units of A
        return True

    def _dense_update(self, A):
        if self._Q is None or self._chol is None:
            return self._fresh(A)
        tol = self.tol
        As, e = self._scaled(A)
        n = As.shape[0]
        anorm = float(np.max(np.sum(np.abs(As), axis=0)))        # ||As||_1 >= ||As||_2
        Q = self._Q
        c, sigma = self._chol
        P = None
        AQ = As @ Q
        ok = False
        for it in range(7):
            T = Q.T @ AQ
            theta, Y = sla.eigh(0.5 * (T + T.T), check_finite=False)
            b = min(self.block, len(theta))
            Y = Y[:, :b]
            theta = theta[:b]
            Qn = Q @ Y
            AQn = AQ @ Y
            R = AQn - Qn * theta
            rho = np.array([safe_norm(R[:, i]) for i in range(R.shape[1])])
            gap = float(theta[1] - theta[0]) if b > 1 else np.inf
            r0 = float(rho[0])
            estimate = max(r0 if not gap > r0 else min(r0, r0 * r0 / gap),
                           rounding_floor(n, anorm, float(theta[0])))
            if estimate <= max(0.25 * tol * abs(float(theta[0])), rounding_floor(n, anorm, float(theta[0]))):
                ok = True
                Q, AQ = Qn, AQn
                break
            if it == 6:
                break
            # LOBPCG-style expansion: [Q, M R, P]
            Z = sla.cho_solve(c, R, check_finite=False)
            blocks = [Qn, Z] if P is None else [Qn, Z, P]
            S = np.hstack(blocks)
            S, _ = np.linalg.qr(S)
            AS = As @ S
            # keep the previous best as P (direction carried to the next step)
            P = Qn
            Q, AQ = S, AS
        if not ok:
            return self._fresh(A)
        self._Q = Q
        v = Q[:, 0]
        Av = As @ v
        value = float(v @ Av)
        residual = safe_norm(Av - value * v)
        floor = rounding_floor(n, anorm, value)
        self._since_verify += 1
        # Re-factor when due for verification, when the preconditioner has
        # gone stale (3+ refinement steps) or the value drifted from its shift.
        value_user = ldexp(value, e)
        stale = it >= 3 or abs(value_user - sigma) > 0.05 * abs(value_user)
        if self._since_verify >= self.verify_every or stale:
            self._since_verify = 0
            if not self._factor(As, e, value, float(theta[1]) if len(theta) > 1 else value):
                return self._fresh(A)
        reason = "tolerance" if 0.25 * tol * abs(value) >= floor else "rounding"
        res = EigResult(value=value_user, vector=v, residual=ldexp(residual, e), matvecs=0,
                        converged=reason == "tolerance", method="tracked",
                        error_bound=ldexp(residual + floor, e) + n * _ETA, reason=reason,
                        error_estimate=ldexp(max(estimate, floor), e) + n * _ETA)
        if not res.converged:
            _warn_unconverged(res, tol, "LambdaMinTracker", "")
        return res


# --------------------------------------------------------------------------
# Extreme singular values of the adjoint Jacobian
# --------------------------------------------------------------------------
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
        ``"shift-invert"`` or ``"lanczos"`` (see :func:`ntk_lambda_min`).

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
    method : {"auto", "dense", "shift-invert", "lanczos"}, default "auto"
        ``"dense"``: :func:`pl_toolkit.ntk_gram` and LAPACK (``auto`` for
        ``n d2 <= 4000``).  Otherwise ``lambda_min`` comes from
        :func:`ntk_lambda_min` with this method (``auto``: shift-invert
        while the NTK fits in 4 GiB, matrix-free beyond) and
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
    from .network import check_net
    from .ntk import ntk_gram, ntk_operator

    _check_ntk_method(method)
    n_rows = np.shape(X)[0] * getattr(net, "d2", 1) if np.ndim(X) == 2 else 0
    if method == "auto" and n_rows <= JACOBIAN_DENSE_MAX:
        method = "dense"
    if method == "dense":
        K = ntk_gram(net, X, layers=layers)
        if not np.all(np.isfinite(K)):
            raise _ntk_nonfinite_error(net, check_net(net).check_data(X))
        lo = lambda_min(K, method="dense")
        hi = lambda_max(K, method="dense")
    else:
        # lambda_min by the fastest route that fits (shift-invert on the
        # formed NTK, else matrix-free); the top of the spectrum is well
        # separated, so matrix-free Lanczos finds lambda_max in ~50 products.
        lo = ntk_lambda_min(net, X, layers=layers, method=method, tol=tol, maxiter=maxiter)
        op = ntk_operator(net, X, layers=layers, store="preactivations")
        try:
            hi = _extreme(op, "LA", "lanczos", tol, None, maxiter)
        except ValueError as exc:
            if "returned NaN or Inf" in str(exc):
                raise _ntk_nonfinite_error(net, check_net(net).check_data(X)) from None
            raise
        method = lo.method
    return JacobianSpectrum(sigma_min=math.sqrt(max(lo.value, 0.0)), sigma_max=math.sqrt(max(hi.value, 0.0)),
                            lambda_min=lo, lambda_max=hi, method=method)


# --------------------------------------------------------------------------
# lambda_min of the empirical NTK at any size
# --------------------------------------------------------------------------
#: Default memory budget of :func:`ntk_lambda_min` (bytes): the dense
#: shift-invert route is chosen when the NTK and the preactivations fit.
NTK_MEMORY_DEFAULT = 4 * 2 ** 30


def _ntk_dense_bytes(n, d1, d2):
    """Peak bytes of the shift-invert route: forming the triangle, then the solves."""
    from .ntk import _ntk_upper_bytes

    N = n * d2
    # solves: the factor, the Lanczos basis, the restart product V Y (half a
    # basis) and a few vectors
    ncv = default_ncv(N)
    return max(_ntk_upper_bytes(n, d1, d2), 8 * (N * N + (ncv + ncv // 2 + 4) * N + 2 * ncv * ncv))


def _ntk_operator_bytes(n, d0, d1, d2, store):
    """Peak bytes of matrix-free Lanczos on ``ntk_operator(..., store=store)``, data included."""
    from .ntk import _CHUNK_BYTES

    N = n * d2
    ncv = default_ncv(N)
    kept = (2 if store == "features" else 1) * n * d1
    return 8 * (kept + n * d0 + (ncv + ncv // 2 + 4) * N) + 4 * _CHUNK_BYTES


def ntk_lambda_min(net, X, *, layers=("W", "V"), method="auto", tol=1e-8, v0=None, maxiter=None,
                   max_memory=NTK_MEMORY_DEFAULT):
    """Smallest eigenpair of the empirical NTK, choosing the fastest exact route for its size.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained parameters.
    method : {"auto", "dense", "shift-invert", "lanczos"}, default "auto"
        ``"dense"``: :func:`pl_toolkit.ntk_gram` and LAPACK ``dsyevr``
        (``auto`` for ``n d2 <= 4000``).  ``"shift-invert"``: the NTK's
        triangle formed tile by tile, factored in place by Cholesky, and
        Lanczos on ``K^{-1}`` (``auto`` while it fits in ``max_memory``).
        ``"lanczos"``: matrix-free Lanczos on
        :func:`pl_toolkit.ntk_operator` (``auto`` beyond that).
    tol : float, default 1e-8
        Relative tolerance of the iterative routes on the eigenvalue.
    v0 : ndarray of shape (n d2,), optional
        Starting vector (warm start) of the iterative routes.
    maxiter : int, optional
        Maximum number of solves (shift-invert) or NTK products (Lanczos).
    max_memory : int, default 4 GiB
        Memory budget in bytes.  Under ``method="auto"`` the shift-invert
        route is taken when it fits: about ``8 (n d2)^2`` bytes
        (3.2 GiB at ``n = 20,000``, ``d1 = 4000``: the NTK itself, with ``Z``
        kept in its unused lower triangle).  The matrix-free route
        keeps ``phi(Z)`` and ``phi'(Z)`` when they fit beside the Lanczos
        basis, and only ``Z`` otherwise (``ntk_operator(...,
        store="preactivations")``).

    Returns
    -------
    EigResult
        ``value`` is the Rayleigh quotient of ``vector`` and ``residual``
        ``||K v - value v||``, both measured with the exact matrix-free
        product (not the factor); ``matvecs`` counts solves (shift-invert)
        or products, plus that one product; ``method`` names the route.
        Guarantees as for :func:`lambda_min`: dense within
        ``error_bound`` of ``lambda_min(fl(K))``, shift-invert and Lanczos
        of the nearest eigenvalue; the bound covers the rounding of the
        final product, not the error of forming the NTK itself
        (:func:`pl_toolkit.ntk_lambda_min_certified` bounds both and
        proves a lower bound).

    Raises
    ------
    ValueError
        Bad ``net``, ``X``, ``layers``, ``method``, ``tol``, ``v0`` or
        ``max_memory``; an NTK (or NTK product) that is not finite in
        float64, naming ``X`` or ``net``; or ``method="shift-invert"`` on
        an NTK that is not numerically positive definite.

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

    Why three routes.  The bottom of an NTK spectrum is a dense bulk whose
    lowest gaps shrink with ``n`` (``lambda_2 / lambda_1 - 1 = 6e-4`` at
    ``n = 5000``, ``1.6e-3`` at ``n = 10^4`` on 784-dimensional data,
    ``d1 = 4000``), while ``lambda_max / lambda_min`` grows (``1.7e4`` to
    ``3.7e4``).  A Krylov method on ``K`` then needs thousands of products
    of ``4 n d0 d1`` flops (3,471 at ``n = 5000``); on ``K^{-1}`` the bulk
    is spread over ``[1 / (10 lambda_1), 1 / lambda_1]`` and the top of the
    spectrum collapses to zero, so 92-161 solves suffice.  Forming the
    triangle costs ``n^2 (2 d1 + d0)`` flops in GEMMs, the factorization
    ``n^3 / 3`` -- far less than the tridiagonal reduction of ``dsyevr``
    (``4 n^3 / 3``, half of it memory-bound).  Memory: ``8 n^2`` bytes (3.2
    GB at ``n = 20,000``; the preactivations wait in the unused lower
    triangle); beyond the budget only
    the matrix-free route remains, at ``O(n d1 + d0 d1)`` memory.
    ``K - sigma I`` is factored at ``sigma = 0``; an NTK that is not
    numerically positive definite (``lambda_min`` at rounding level) falls
    back to Lanczos under ``auto``.  Measured (``benchmarks/bench_eig.py
    --only-large``, 2 cores, ``d0 = 784``, ``d1 = 4000``): at ``n =
    20,000`` shift-invert converged in 153-173 s (223 solves, peak RSS
    3.5 GiB), while
    matrix-free Lanczos was still 13% off after 483 s; at ``n = 50,000``
    only the matrix-free route fits and does not converge in 10 minutes.

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
    >>> ntk_lambda_min(net, X).method               # small: dense LAPACK
    'dense'
    """
    from .network import check_layers, check_net
    from .ntk import _ntk_gram_upper, ntk_gram, ntk_operator

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
    v0 = _check_v0(v0, N)
    if method == "auto":
        if N <= JACOBIAN_DENSE_MAX:
            method = "dense"
        elif _ntk_dense_bytes(n, net.d1, net.d2) <= max_memory:
            method = "shift-invert"
        else:
            method = "lanczos"
        strict = False
    else:
        strict = True
    if method == "dense":
        K = ntk_gram(net, X, layers=layers)
        if not np.all(np.isfinite(K)):
            raise _ntk_nonfinite_error(net, X)
        return _dense_extreme(K, "SA")
    if method == "shift-invert":
        F = _ntk_gram_upper(net, X, layers).T          # Fortran order: K in the lower triangle
        diag = np.diagonal(F)
        # |K_ij| <= sqrt(K_ii K_jj) for the PSD NTK, and every sum forming
        # K_ij is bounded by the same Cauchy-Schwarz products: a finite
        # diagonal means a finite triangle (checked again on the factor).
        if not np.all(np.isfinite(diag)):
            del F, diag
            raise _ntk_nonfinite_error(net, X)
        # work on K / 2**e, max |K_ij| = max K_ii in [1/2, 1) after scaling (exact)
        e = _pow2_exponent(float(np.max(diag)))
        del diag
        _scale_lower_inplace(F, e)
        info = _cholesky_lower_inplace(F)
        if info or not np.all(np.isfinite(np.diagonal(F))):
            del F
            if strict:
                raise ValueError(f"the NTK is not numerically positive definite (Cholesky failed at "
                                 f"column {info or N}); use method='lanczos' or 'dense'")
        else:
            vec, solves, status, estimate = _inverse_lanczos(F, tol, v0, maxiter)
            anorm = ldexp(_factor_norm_estimate(F, 0.0), e)
            del F
            Kv = ntk_operator(net, X, layers, store="preactivations") @ vec
            if not np.all(np.isfinite(Kv)):
                raise _ntk_nonfinite_error(net, X)
            return _shift_invert_result(vec, Kv, solves + 1, status, ldexp(estimate, e), tol, anorm)
    features = _ntk_operator_bytes(n, net.d0, net.d1, net.d2, "features") <= max_memory
    op = ntk_operator(net, X, layers, store="features" if features else "preactivations")
    try:
        return _iterative_extreme(op, "SA", tol, v0, maxiter, name="the NTK operator")
    except ValueError as exc:
        if "returned NaN or Inf" in str(exc):
            raise _ntk_nonfinite_error(net, X) from None
        raise


def _ntk_nonfinite_error(net, X):
    """ValueError naming ``X`` or ``net`` when the NTK overflows float64 (the larger is named)."""
    xs = float(np.max(np.abs(X))) if X.size else 0.0
    params = [net.W, net.V] + [b for b in (getattr(net, "b1", None), getattr(net, "b2", None))
                               if b is not None]
    ws = max(float(np.max(np.abs(p))) if np.size(p) else 0.0 for p in params)
    name = "X" if xs >= ws else "net"
    what = "inputs" if name == "X" else "weights"
    return ValueError(f"{name}: the NTK of these {what} is not finite in float64 (max |X| = {xs:.3g}, "
                      f"largest weight {ws:.3g}); rescale {'the data' if name == 'X' else 'the network'}")
