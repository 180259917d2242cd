"""Shared internals of the eigensolvers: the declared internal API of the spectral modules.

:mod:`pl_toolkit.spectrum` (generic arrays and operators) and
:mod:`pl_toolkit.ntk_spectrum` (the empirical NTK) build on these: the
result record :class:`EigResult`, :class:`ConvergenceWarning`, the dense
LAPACK route on power-of-two scaled arrays, matrix-free Lanczos, and the
pieces of shift-invert Lanczos through an in-place Cholesky factor.  The
public names live in :mod:`pl_toolkit.spectrum`; the rest is for the
package's modules only, imported by the names listed in ``__all__``.
"""

import math
import os
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from ._lanczos import ldexp, rounding_floor, safe_norm, thick_restart_lanczos
from ._validation import as_float_array

__all__ = ["BLAS_SPAN", "CHOLESKY_PANEL", "EPS", "ETA", "ConvergenceWarning", "EigResult",
           "SYRK_MAX", "blocked_cholesky_lower_inplace", "blocked_cholesky_solve", "check_v0",
           "cholesky_lower_inplace",
           "default_ncv", "dense_extreme", "factor_norm_estimate", "gershgorin_lower",
           "inverse_lanczos", "iterative_extreme", "measured_pair", "operator_matvec",
           "pow2_exponent", "pow2_scaled", "readonly", "scale_lower_inplace", "shift_invert_result",
           "subset_eigh", "user_stacklevel", "warn_unconverged"]

EPS = np.finfo(np.float64).eps
ETA = 2.0 ** -1074


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


def user_stacklevel():
    """``stacklevel`` of the first frame outside pl_toolkit (for warnings)."""
    pkg = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(pkg):
        frame, level = frame.f_back, level + 1
    return level


def readonly(a):
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
        ``"dense"``, ``"lanczos"``, ``"shift-invert"``, ``"mixed"``,
        ``"preconditioned-davidson"``, ``"svd"``, ``"gram-lanczos"`` or, for
        the tracker, ``"tracked"``.
    error_bound : float
        A bound on ``|value - lambda|`` (see above for which ``lambda``):
        ``n eps (n max|A|)`` for dense eigensolvers (``max(p, q) eps
        sigma_max`` for the SVD), and ``residual + floor`` for iterative
        ones, ``floor = (3.5 sqrt(n) + 2) eps ||A||`` the rounding error of
        the measured Rayleigh quotient (``pl_toolkit._lanczos``).  For
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
    route_reason : str
        Why this route was taken, when a chooser picked it (for instance
        :func:`pl_toolkit.ntk_lambda_min` names the sizes and the memory
        budget behind its choice, and any fallback); ``""`` otherwise.

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
    route_reason: str = ""

    def __post_init__(self):
        object.__setattr__(self, "vector", readonly(self.vector))


def check_v0(v0, n, name="v0"):
    if v0 is None:
        return None
    v = as_float_array(v0, name, ndim=(1, 2)).reshape(-1)
    if v.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {v.shape[0]}")
    if not np.any(v):
        raise ValueError(f"{name} is the zero vector")
    return v


def operator_matvec(op, name="A"):
    def mv(x):
        y = np.asarray(op.matvec(x), dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} returned NaN or Inf in a matrix-vector product")
        return y
    return mv


def default_ncv(n):
    """Default Lanczos basis size: ``min(n, 1000)`` capped at 256 MB of basis."""
    return int(min(n, 1000, max(60, (32 * 1024 * 1024) // max(n, 1))))


def pow2_scaled(A):
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
    e = pow2_exponent(amax)
    return np.ldexp(A, -e), e


def dense_extreme(A, which):
    n = A.shape[0]
    idx = 0 if which == "SA" else n - 1
    # dsyevr (MRRR on the tridiagonal) and dsyevx are the cheapest LAPACK
    # routes to one eigenpair.  Every dense route first reduces A to
    # tridiagonal form (4/3 n^3 flops, half of them BLAS-2), which dominates;
    # one pair then costs O(n) on the tridiagonal plus O(n^2) to transform its
    # vector back, all eigenvalues O(n^2), all eigenvectors (dsyevd) another
    # O(n^3).  Timings of the four: docs/performance.rst, "Solver choices,
    # measured" (benchmarks/bench_solver_choices.py --only dense).
    # Tiny and huge matrices are solved on A / 2**e (pow2_scaled).
    As, e = pow2_scaled(A)
    w, V = subset_eigh(As, idx, idx)
    v = V[:, 0]
    value = float(w[0])
    residual = safe_norm(As @ v - value * v)
    # Backward stability: the computed eigenvalue is the idx-th eigenvalue
    # of A + E, ||E||_2 <= p(n) eps ||A||_2; taken as n eps ||A||_inf with
    # ||A||_inf <= n max|A| (Weyl then bounds the error of the wanted
    # eigenvalue itself).  Ordered to avoid overflow near 1e308.  LAPACK's
    # p(n) is only "modest": the a-posteriori residual bound (an eigenvalue
    # within ||A v - value v|| of value, plus the rounding of that residual)
    # is taken when it is larger (a 5 x 5 subset solve was off by 17.6
    # eps ||A||_2, above n eps ||A||_inf, within its residual bound).
    bound = ldexp(dense_bound(As, value, residual), e) + n * ETA
    return EigResult(value=ldexp(value, e), vector=v, residual=ldexp(residual, e), matvecs=0,
                     converged=True, method="dense", error_bound=bound, reason="direct",
                     error_estimate=bound)


def dense_bound(As, value, residual):
    """Error bound of a dense eigenvalue of the (power-of-two scaled) ``As``.

    The larger of the backward-stability bound ``n eps n max|As|`` and the
    residual bound ``residual + rounding_floor(n, ||As||_1, value)``.
    """
    n = As.shape[0]
    backward = (n * EPS * n) * float(np.max(np.abs(As)))
    anorm = float(np.max(np.sum(np.abs(As), axis=0)))
    return max(backward, residual + rounding_floor(n, anorm, value))


def subset_eigh(A, lo, hi):
    """Eigenpairs ``lo..hi`` (ascending) by LAPACK ``dsyevr``, with fallbacks.

    ``dsyevr`` (MRRR) can return fewer pairs than asked for when the
    spectrum is a tight cluster (measured: 38 of 4000 subset solves of
    ``-Q Q^T``, ``n <= 20``, returned none) and can fail with LAPACK's
    "Internal Error"; then ``dsyevx``, then the full ``dsyevd`` solve.
    """
    for driver in ("evr", "evx"):
        try:
            w, V = sla.eigh(A, subset_by_index=[lo, hi], driver=driver, check_finite=False)
        except np.linalg.LinAlgError:
            # dsyevr reported "Internal Error" on a nearly diagonal 8 x 8
            # (off-diagonal 1e-16 of the diagonal); the next driver solves it
            continue
        if len(w) == hi - lo + 1:
            return w, V
    w, V = sla.eigh(A, driver="evd", check_finite=False)
    return w[lo:hi + 1], V[:, lo:hi + 1]


def warn_unconverged(res, tol, what, count):
    """The ConvergenceWarning of an iterative result with ``converged=False``."""
    if res.reason == "rounding":
        msg = (f"{what}: tol={tol:g} is below the rounding floor of this problem (value "
               f"{res.value:.6g}, error bound {res.error_bound:.3e}: the conditioning allows "
               "relative accuracy "
               f"{res.error_estimate / max(abs(res.value), 1e-300):.1e} at best); "
               "stopped at the floor with converged=False")
    else:
        msg = (f"{what} did not reach tol={tol:g} in {count} (estimated error "
               f"{res.error_estimate:.3e}, bound {res.error_bound:.3e} at value {res.value:.6g}); "
               "increase maxiter")
    warnings.warn(msg, ConvergenceWarning, stacklevel=user_stacklevel())


def iterative_extreme(op, which, tol, v0, maxiter, name="A", ncv=None, product_rounding=None):
    n = op.shape[0]
    if ncv is None:
        ncv = default_ncv(n)
    try:
        out = thick_restart_lanczos(operator_matvec(op, name), n, which=which, tol=tol, v0=v0,
                                    maxiter=maxiter, ncv=ncv, product_rounding=product_rounding)
    except FloatingPointError:
        raise ValueError(f"{name} returned NaN or Inf in a matrix-vector product") from None
    res = EigResult(value=out["value"], vector=out["vector"], residual=out["residual"],
                    matvecs=out["matvecs"], converged=out["converged"], method="lanczos",
                    error_bound=out["bound"], reason=out["status"], error_estimate=out["estimate"])
    if not res.converged:
        warn_unconverged(res, tol, "Lanczos", f"{res.matvecs} matrix-vector products")
    return res


#: Most elements of a matrix one BLAS call may span (first to last, leading
#: dimension included).  Above ``2**31`` OpenBLAS's 32-bit index arithmetic
#: overflows (a segmentation fault at ``n = 50,000`` in float32), so the
#: blocked factorization and solves below split their calls into column
#: blocks under it.
BLAS_SPAN = 2 ** 30
#: Largest order of one ``syrk`` call of the blocked factorization.  OpenBLAS
#: 0.3.31's threaded ``dsyrk`` stops the process with a segmentation fault on
#: an output of order 16,000 and inner dimension 1000 (LAPACK's ``dpotrf``
#: with it, at the same order), while orders up to 8192 and any ``gemm`` run;
#: the trailing update is therefore ``syrk`` on diagonal blocks of at most
#: this order and ``gemm`` below them (the same flops).
SYRK_MAX = 4096
#: Panel width of the blocked Cholesky factorization.
CHOLESKY_PANEL = 2048


def _capi(module, name):
    """A ctypes function of SciPy's Cython BLAS/LAPACK (every argument a pointer)."""
    import ctypes

    cap = module.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype, get_ptr.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * _CAPI_ARGS[name[1:]])(
        get_ptr(cap, get_name(cap)))


_CAPI_ARGS = {"potrf": 5, "trsm": 11, "syrk": 10, "gemm": 13}


def _blas_kit(dtype):
    """``(prefix, ctypes scalar, itemsize)`` of the float32 or float64 BLAS routines."""
    import ctypes

    if dtype == np.float32:
        return "s", ctypes.c_float, 4
    if dtype == np.float64:
        return "d", ctypes.c_double, 8
    raise ValueError(f"F must be float32 or float64, got {dtype}")


def blocked_cholesky_lower_inplace(F, panel=CHOLESKY_PANEL):
    """Cholesky factor of the lower triangle of Fortran-ordered ``F``, in place.

    Right-looking blocked ``potrf`` for float32 or float64: per panel of
    ``panel`` columns one small ``potrf``, one ``trsm`` for the column below
    it and the update of the trailing triangle, as ``syrk`` on diagonal
    blocks of at most :data:`SYRK_MAX` columns and ``gemm`` below each, all
    through SciPy's Cython BLAS and LAPACK on views of ``F`` (leading
    dimension ``N``): nothing is copied, no call spans more than
    :data:`BLAS_SPAN` elements, and the work is in the rank-``panel``
    updates.  The rounding error satisfies the same componentwise bound as
    LAPACK's ``potrf`` (conventional matrix products, each entry a sum of
    the same terms).  Returns LAPACK's ``info``: 0 on success, ``k > 0`` if
    the leading minor of order ``k`` is not positive definite (``F`` is
    then partly overwritten).
    """
    import ctypes

    from scipy.linalg import cython_blas, cython_lapack

    N = F.shape[0]
    if not (F.ndim == 2 and F.flags.f_contiguous and F.shape == (N, N)):
        raise ValueError("F must be a square Fortran-ordered array")
    p, scalar, size = _blas_kit(F.dtype)
    potrf = _capi(cython_lapack, p + "potrf")
    trsm, syrk = _capi(cython_blas, p + "trsm"), _capi(cython_blas, p + "syrk")
    gemm = _capi(cython_blas, p + "gemm")
    base = F.ctypes.data

    def at(i, j):
        return ctypes.c_void_p(base + size * (i + j * N))

    def i32(v):
        return ctypes.byref(ctypes.c_int(v))

    def num(v):
        return ctypes.byref(scalar(v))

    L, R, T, NT = (ctypes.c_char_p(s) for s in (b"L", b"R", b"T", b"N"))
    info = ctypes.c_int(0)
    w = max(1, min(SYRK_MAX, BLAS_SPAN // max(N, 1) - 1))
    for j in range(0, N, panel):
        jb = min(panel, N - j)
        potrf(L, i32(jb), at(j, j), i32(N), ctypes.byref(info))
        if info.value:
            return j + info.value
        m = N - j - jb
        if m:
            # the column below the panel, in row blocks spanning < BLAS_SPAN
            rows = max(1, min(m, BLAS_SPAN // N))
            for r in range(j + jb, N, rows):
                trsm(R, L, T, NT, i32(min(rows, N - r)), i32(jb), num(1.0), at(j, j), i32(N),
                     at(r, j), i32(N))
            for c in range(j + jb, N, w):
                wc = min(w, N - c)
                syrk(L, NT, i32(wc), i32(jb), num(-1.0), at(c, j), i32(N), num(1.0),
                     at(c, c), i32(N))
                below = N - c - wc
                if below:
                    gemm(NT, T, i32(below), i32(wc), i32(jb), num(-1.0), at(c + wc, j),
                         i32(N), at(c, j), i32(N), num(1.0), at(c + wc, c), i32(N))
    return 0


def blocked_cholesky_solve(F, B):
    """``(L L^T)^{-1} B`` for the factor ``L`` in the lower triangle of ``F``, overwriting ``B``.

    ``B`` is a Fortran-ordered ``(N, k)`` array of ``F``'s dtype (float32 or
    float64).  Blocked forward and backward substitution: ``trsm`` on each
    diagonal block of at most ``BLAS_SPAN / N`` columns and ``gemm`` with the
    panel below it, so no BLAS call spans more than :data:`BLAS_SPAN`
    elements of ``F``; the flops are those of LAPACK's ``potrs`` (``2 N^2 k``).
    """
    import ctypes

    from scipy.linalg import cython_blas

    N, k = B.shape
    if not (B.dtype == F.dtype and B.flags.f_contiguous):
        raise ValueError(f"B must be a Fortran-ordered {F.dtype} array")
    if N == 0 or k == 0:
        return B
    p, scalar, size = _blas_kit(F.dtype)
    trsm, gemm = _capi(cython_blas, p + "trsm"), _capi(cython_blas, p + "gemm")
    fa, ba = F.ctypes.data, B.ctypes.data

    def at(i, j):
        return ctypes.c_void_p(fa + size * (i + j * N))

    def bt(i):
        return ctypes.c_void_p(ba + size * i)

    def i32(v):
        return ctypes.byref(ctypes.c_int(v))

    def num(v):
        return ctypes.byref(scalar(v))

    L, T, NT = (ctypes.c_char_p(s) for s in (b"L", b"T", b"N"))
    w = max(1, min(N, BLAS_SPAN // N - 1))
    blocks = [(c, min(c + w, N)) for c in range(0, N, w)]
    for c0, c1 in blocks:                       # L Y = B
        trsm(L, L, NT, NT, i32(c1 - c0), i32(k), num(1.0), at(c0, c0), i32(N), bt(c0), i32(N))
        if c1 < N:
            gemm(NT, NT, i32(N - c1), i32(k), i32(c1 - c0), num(-1.0), at(c1, c0), i32(N),
                 bt(c0), i32(N), num(1.0), bt(c1), i32(N))
    for c0, c1 in reversed(blocks):             # L^T X = Y
        if c1 < N:
            gemm(T, NT, i32(c1 - c0), i32(k), i32(N - c1), num(-1.0), at(c1, c0), i32(N),
                 bt(c1), i32(N), num(1.0), bt(c0), i32(N))
        trsm(L, L, T, NT, i32(c1 - c0), i32(k), num(1.0), at(c0, c0), i32(N), bt(c0), i32(N))
    return B


def cholesky_lower_inplace(F):
    """Cholesky factor of the lower triangle of float64 ``F``, in place.

    :func:`blocked_cholesky_lower_inplace` on Fortran-ordered ``F``; any
    other layout is factored in a Fortran-ordered copy written back.
    Returns ``info``: 0 on success, ``k > 0`` if the leading minor of order
    ``k`` is not positive definite (``F`` is then partly overwritten).
    """
    if F.dtype == np.float64 and F.flags.f_contiguous:
        return blocked_cholesky_lower_inplace(F)
    G = np.asfortranarray(F, dtype=np.float64)
    info = blocked_cholesky_lower_inplace(G)
    F[...] = G
    return int(info)


def pow2_exponent(x):
    """``e`` with ``2**(e-1) <= x < 2**e`` (0 for ``x = 0``)."""
    return math.frexp(float(x))[1] if x > 0 and math.isfinite(x) else 0


def scale_lower_inplace(F, e):
    """``F *= 2**-e`` on the lower triangle's columns (exact: a power of two)."""
    if e:
        np.ldexp(F, -e, out=F)


def factor_norm_estimate(F, sigma, iters=8, seed=0):
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


def inverse_lanczos(F, tol, v0, maxiter):
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


def gershgorin_lower(A):
    d = np.diagonal(A)
    return float(np.min(2 * d - np.sum(np.abs(A), axis=1)))


def measured_pair(vec, Av, status, tol, anorm):
    """The Rayleigh quotient of the unit ``vec`` measured with ``Av = A vec``, and its floor.

    Returns ``(value, residual, anorm, floor, status)``: ``value = vec .
    Av``, ``residual = ||Av - value vec||``, ``anorm`` raised to ``||Av||``
    if that is larger, the rounding floor ``rounding_floor(n, anorm, value)
    + n ETA`` below which no residual is meaningful, and ``status`` with a
    ``"tolerance"`` finish whose ``tol`` is below that floor reported as
    ``"rounding"``.
    """
    n = len(vec)
    value = float(vec @ Av)
    residual = safe_norm(Av - value * vec)
    anorm = max(anorm, safe_norm(Av))
    floor = rounding_floor(n, anorm, value) + n * ETA
    if status == "tolerance" and tol * abs(value) < floor:
        status = "rounding"
    return value, residual, anorm, floor, status


def shift_invert_result(vec, Av, count, status, estimate, tol, anorm):
    """EigResult of the unit ``vec`` from ``Av = A vec`` measured with ``A`` itself.

    ``anorm`` estimates ``||A||_2``.  The error bound is the residual bound
    ``residual + floor`` (some eigenvalue within it); the Kato-Temple
    estimate of the inverse iteration, floored likewise, is the estimate.
    A tolerance below the floor is reported as ``reason="rounding"``.
    """
    value, residual, anorm, floor, status = measured_pair(vec, Av, status, tol, anorm)
    est = estimate if estimate == estimate else residual
    res = EigResult(value=value, vector=vec, residual=residual, matvecs=count,
                    converged=status == "tolerance", method="shift-invert",
                    error_bound=residual + floor, reason=status,
                    error_estimate=max(min(est, residual), floor))
    if not res.converged:
        warn_unconverged(res, tol, "shift-invert Lanczos", f"{count - 1} solves")
    return res


# Public through pl_toolkit.spectrum: named there in reprs, pickles and docs.
ConvergenceWarning.__module__ = EigResult.__module__ = "pl_toolkit.spectrum"
