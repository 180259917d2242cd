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
* :func:`sigma_min`, :func:`sigma_max` -- extreme singular values of a
  rectangular array or operator;
* :class:`LambdaMinTracker` -- follows ``lambda_min`` along a slowly
  changing matrix (a training trajectory), warm-started from the previous
  eigenvectors;
* :class:`EigResult`, :class:`ConvergenceWarning`.

The NTK-specific routes (:func:`pl_toolkit.ntk_lambda_min`,
:func:`pl_toolkit.jacobian_singular_values`) are in
:mod:`pl_toolkit.ntk_spectrum`; this module knows only arrays and operators.

An iterative solver that does not reach its tolerance -- out of products,
or asked for a relative tolerance below the rounding floor of an
ill-conditioned matrix -- returns ``converged=False`` (``reason`` says
which) *and* warns with :class:`ConvergenceWarning`; it never returns a
silent number.  Every result carries an ``error_bound`` that is a bound
(:class:`EigResult` says to which eigenvalue) at any scale of the input.
"""

import math

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from ._eigen import EPS as _EPS, ETA as _ETA, ConvergenceWarning, EigResult
from ._eigen import (check_v0 as _check_v0, cholesky_lower_inplace as _cholesky_lower_inplace,
                     dense_bound as _dense_bound, dense_extreme as _dense_extreme,
                     factor_norm_estimate as _factor_norm_estimate,
                     gershgorin_lower as _gershgorin_lower,
                     inverse_lanczos as _inverse_lanczos, iterative_extreme as _iterative_extreme,
                     pow2_exponent as _pow2_exponent, pow2_scaled as _pow2_scaled,
                     scale_lower_inplace as _scale_lower_inplace,
                     shift_invert_result as _shift_invert_result,
                     subset_eigh as _subset_eigh, warn_unconverged as _warn_unconverged)
from ._lanczos import ldexp, rounding_floor, safe_norm
from ._validation import (as_float_array, check_positive_float, check_positive_int,
                          check_square_symmetric)

__all__ = ["ConvergenceWarning", "EigResult", "lambda_min", "lambda_max", "sigma_min", "sigma_max",
           "LambdaMinTracker"]

#: Largest dense array handled by the LAPACK subset solver under ``method="auto"``
#: (``4/3 n^3`` flops for the tridiagonal reduction, half of them BLAS-2, and a
#: 512 MB working copy at this size; timings on the performance page).
DENSE_MAX = 8000
#: From this size on, ``lambda_min(A)`` of a dense array under ``method="auto"``
#: tries shift-invert before the LAPACK subset solver: a Cholesky factor
#: (``n^3/3`` flops, all BLAS-3) and a few tens of triangular solves (``2 n^2``
#: each) against the subset solver's ``4/3 n^3``, half BLAS-2.  The solve count
#: and the BLAS-3 share decide where it wins; the crossover measured by
#: ``benchmarks/bench_eig.py --crossover`` is in docs/performance.rst,
#: "Solver choices, measured".
SHIFT_INVERT_MIN = 5000
_METHODS = ("auto", "dense", "lanczos", "shift-invert")


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------
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


# --------------------------------------------------------------------------
# Dense and matrix-free extreme eigenpairs
# --------------------------------------------------------------------------
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
        error_bound, reason, error_estimate``.  What is guaranteed (see
        :class:`EigResult`): a dense result is within ``error_bound`` of the
        wanted eigenvalue itself; an iterative one
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
                y = np.ldexp(np.asarray(op.rmatvec(x), dtype=np.float64), -e)
                return np.ldexp(np.asarray(op.matvec(y), dtype=np.float64), -e)
            gram = LinearOperator((p, p), matvec=gram_mv, dtype=np.float64)
            vec_of = lambda u: op.rmatvec(u)  # noqa: E731
        else:
            def gram_mv(x):
                y = np.ldexp(np.asarray(op.matvec(x), dtype=np.float64), -e)
                return np.ldexp(np.asarray(op.rmatvec(y), dtype=np.float64), -e)
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
    """Bound on ``|sqrt(lambda) - sqrt(max(lam, 0))|``.

    Given ``|lambda - lam| <= b`` and ``lambda >= 0``.
    """
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
        """``_pow2_scaled(A)``, the power-of-two scaled matrix.

        The refinement's norms, ``rho**2`` and Cholesky factors then stay far
        from under- and overflow.
        """
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
        bound = _dense_bound(As, value, residual)                 # as in _dense_extreme
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
            if estimate <= max(0.25 * tol * abs(float(theta[0])),
                               rounding_floor(n, anorm, float(theta[0]))):
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
