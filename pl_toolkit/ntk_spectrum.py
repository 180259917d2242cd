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

import math
from dataclasses import dataclass, field

import numpy as np

from . import _features as _shared
from . import ntk as _ntk
from ._eigen import (EigResult, check_v0, cholesky_lower_inplace, default_ncv, dense_extreme,
                     factor_norm_estimate, inverse_lanczos, iterative_extreme, pow2_exponent,
                     scale_lower_inplace, shift_invert_result)
from ._features import ntk_nonfinite_error
from ._lanczos import ldexp
from ._validation import check_positive_float, check_positive_int
from .network import check_layers, check_net
from .spectrum import lambda_max, lambda_min

__all__ = ["JACOBIAN_DENSE_MAX", "NTK_MEMORY_DEFAULT", "JacobianSpectrum",
           "jacobian_singular_values", "ntk_lambda_min"]

_NTK_METHODS = ("auto", "dense", "shift-invert", "lanczos")


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
        try:
            hi = lambda_max(op, method="lanczos", tol=tol, maxiter=maxiter)
        except ValueError as exc:
            if "returned NaN or Inf" in str(exc):
                raise ntk_nonfinite_error(net, check_net(net).check_data(X)) from None
            raise
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


def _ntk_operator_bytes(n, d0, d1, d2, store):
    """Peak bytes of matrix-free Lanczos on ``ntk_operator(..., store=store)``, data included."""
    N = n * d2
    ncv = default_ncv(N)
    kept = (2 if store == "features" else 1) * n * d1
    return 8 * (kept + n * d0 + (ncv + ncv // 2 + 4) * N) + 4 * _shared.CHUNK_BYTES


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
        K = _ntk.ntk_gram(net, X, layers=layers)
        if not np.all(np.isfinite(K)):
            raise ntk_nonfinite_error(net, X)
        return dense_extreme(K, "SA")
    if method == "shift-invert":
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
            del F
            if strict:
                raise ValueError("the NTK is not numerically positive definite "
                                 f"(Cholesky failed at column {info or N}); "
                                 "use method='lanczos' or 'dense'")
        else:
            vec, solves, status, estimate = inverse_lanczos(F, tol, v0, maxiter)
            anorm = ldexp(factor_norm_estimate(F, 0.0), e)
            del F
            Kv = _ntk.ntk_operator(net, X, layers, store="preactivations") @ vec
            if not np.all(np.isfinite(Kv)):
                raise ntk_nonfinite_error(net, X)
            return shift_invert_result(vec, Kv, solves + 1, status, ldexp(estimate, e), tol, anorm)
    features = _ntk_operator_bytes(n, net.d0, net.d1, net.d2, "features") <= max_memory
    op = _ntk.ntk_operator(net, X, layers, store="features" if features else "preactivations")
    try:
        return iterative_extreme(op, "SA", tol, v0, maxiter, name="the NTK operator")
    except ValueError as exc:
        if "returned NaN or Inf" in str(exc):
            raise ntk_nonfinite_error(net, X) from None
        raise
