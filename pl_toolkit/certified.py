"""Certified lower bounds on the smallest eigenvalue of a stored symmetric matrix.

:func:`lambda_min_certified` returns a float ``L`` with a proof that
``lambda_min(K) >= L`` for the stored floating-point matrix ``K`` (a
floating-point Cholesky factorisation of ``K - s I`` that runs to
completion, plus an a-priori bound on its rounding error), or, with
``method="arb"`` (python-flint, small ``n`` only), from eigenvalue
enclosures in ball arithmetic.  The bound on the *exact* empirical NTK of
stored weights and data, :func:`pl_toolkit.ntk_lambda_min_certified`, is
in :mod:`pl_toolkit.ntk_certified`; this module knows only matrices.

The PL constant of the loss ``h`` along training is ``4 lambda_min(K)``, so
a certified ``L > 0`` certifies the PL inequality ``||grad h||^2 >= 4 L h``
at the stored weights.
"""

import math
from dataclasses import dataclass

import numpy as np

from ._ball import ETA as _ETA, U as _U, arb_lambda_min as _arb_lambda_min, gamma as _gamma
from ._ball import SAFETY as _SAFETY, round_down as _round_down
from ._eigen import blocked_cholesky_lower_inplace, dense_extreme
from ._validation import as_float_array, check_square_symmetric

__all__ = ["CertifiedBound", "lambda_min_certified"]

@dataclass(frozen=True)
class CertifiedBound:
    """A certified lower bound on ``lambda_min`` of a stored symmetric matrix.

    Attributes
    ----------
    bound : float
        Certified: ``lambda_min(K) >= bound``.
    estimate : float
        Floating-point estimate of ``lambda_min(K)`` (not certified).
    shift : float
        The shift ``s`` whose Cholesky factorisation of ``K - s I`` succeeded
        (``nan`` for ``method="arb"``; the bound itself for ``"diagonal"``).
    allowance : float
        ``s - bound``: the rounding-error allowance of the factorisation,
        the shift and any asymmetry of ``K``.
    method : str
        ``"cholesky"``, ``"arb"`` or ``"diagonal"`` (a diagonal ``K``, the
        zero matrix included: the bound is its smallest diagonal entry,
        exact).
    attempts : int
        Number of factorisations tried.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import lambda_min_certified
    >>> K = np.array([[2.0, 1.0], [1.0, 2.0]])          # eigenvalues 1 and 3
    >>> c = lambda_min_certified(K, full_output=True)
    >>> c.method, bool(c.bound <= 1.0 < c.bound + 1e-12)
    ('cholesky', True)
    >>> bool(np.isclose(c.allowance, c.shift - c.bound)), float(c) == c.bound
    (True, True)
    """

    bound: float
    estimate: float
    shift: float
    allowance: float
    method: str
    attempts: int

    def __float__(self):
        return float(self.bound)


# --------------------------------------------------------------------------
# The stored matrix
# --------------------------------------------------------------------------
def _cholesky_allowance(diag_b, n):
    """Upper bound of ``||Delta B||_2`` for a completed fl-Cholesky of ``B`` (see Notes)."""
    i = np.arange(1, n + 1, dtype=np.float64)
    g = _gamma(i + 1)
    c = float(np.sum(g / (1.0 - g) * diag_b))
    c += _U / (1.0 - _U) * float(np.max(np.abs(diag_b)))        # rounding of k_ii - s
    c += 4.0 * n * (n + 2) * _ETA                                # gradual underflow
    return c * (1.0 + 4.0 * (n + 4) * _U)                        # rounding of this sum


def _try_cholesky(K, s):
    n = K.shape[0]
    B = np.array(K, dtype=np.float64, order="F", copy=True)
    B[np.diag_indices(n)] -= s
    diag_b = B.diagonal().copy()
    if np.any(~(diag_b > 0)):
        return False, diag_b
    # R R^T = tril-symmetrised K - s I, factored in place on the lower
    # triangle by the blocked factorization (the bound of
    # _cholesky_allowance holds for it as for LAPACK's potrf).
    info = blocked_cholesky_lower_inplace(B)
    # a non-finite entry of the factor (overflow) propagates to a later diagonal entry
    ok = info == 0 and bool(np.all(np.isfinite(np.diag(B))))
    return ok, diag_b


def _asymmetry_norm(K):
    """Upper bound of ``||tril-symmetrised K - (K + K^T)/2||_2`` (0 if symmetric)."""
    if np.array_equal(K, K.T):
        return 0.0
    D = np.tril(K, -1) - np.tril(K.T, -1)
    D = 0.5 * np.abs(D + D.T)
    return float(np.max(D.sum(axis=1))) * _SAFETY


def _arb_lower_bound(K):
    try:
        import flint
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("method='arb' needs python-flint "
                          "(pip install pl_toolkit[certified])") from None
    n = K.shape[0]

    def build():
        A = flint.arb_mat([[flint.arb(float(K[i, j])) for j in range(n)] for i in range(n)])
        if not np.array_equal(K, K.T):
            A = (A + A.transpose()) * flint.arb(0.5)
        return A

    return _arb_lambda_min(build, "K")[0]


def lambda_min_certified(K, *, method="cholesky", estimate=None, full_output=False):
    r"""A certified lower bound on the smallest eigenvalue of a stored symmetric matrix.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Symmetric float64 matrix as stored (e.g. an NTK Gram matrix).  If it
        is not exactly symmetric (but within ``100 n eps max|K|``), the bound
        is for ``(K + K^T) / 2``.
    method : {"cholesky", "arb"}, default "cholesky"
        ``"cholesky"``: shifted floating-point Cholesky with an a-priori
        rounding-error bound (any ``n``).  ``"arb"``: eigenvalue enclosures in
        ball arithmetic by python-flint (``n`` up to a few hundred).
    estimate : float, optional
        Floating-point estimate of ``lambda_min(K)``; computed with
        :func:`pl_toolkit.lambda_min` when omitted, and recomputed so when
        no shift below it factors (an estimate far above ``lambda_min``).
    full_output : bool, default False
        Return a :class:`CertifiedBound` record instead of the float.

    Returns
    -------
    float or CertifiedBound
        ``L`` with ``lambda_min(K) >= L`` proved (see Notes).

    Raises
    ------
    ValueError
        If ``K`` is not square, not symmetric, has NaN/Inf, ``estimate``
        is not a finite number, the entries of ``K`` are so large that the
        rounding-error allowance overflows, or no shifted factorisation
        succeeds.

    Notes
    -----
    Theorem (after Demmel 1989; Higham, *Accuracy and Stability of
    Numerical Algorithms*, 2nd ed., Thm 10.3; Rump, "Verification of
    positive definiteness", BIT 46, 2006).  Let ``B`` be a symmetric
    float64 matrix with ``b_ii > 0`` and suppose the floating-point Cholesky
    factorisation of ``B`` (IEEE double, round to nearest, any order of
    summation, with or without FMA, no fast matrix multiplication) runs to
    completion.  Then, with ``gamma_k = k u / (1 - k u)``, ``u = 2^-53``,

    .. math::

        \lambda_{\min}(B) \ge -\sum_{i=1}^n
        \frac{\gamma_{i+1}}{1-\gamma_{i+1}} b_{ii} - 4 n (n+2) \eta,

    ``eta = 2^-1074`` covering gradual underflow.  Proof: the computed
    factor satisfies ``R^T R = B + Delta B`` with ``|Delta B_ij| <=
    gamma_{min(i,j)+1} (|R|^T |R|)_ij`` (Higham Thm 10.3, whose proof uses
    only that the algorithm completes); the diagonal gives ``||r_i||^2 <=
    b_ii / (1 - gamma_{i+1})``; Cauchy-Schwarz and ``gamma_{min(i,j)+1} <=
    sqrt(gamma_{i+1} gamma_{j+1})`` bound ``|Delta B|`` entrywise by a
    rank-one matrix of norm ``sum_i gamma_{i+1} ||r_i||^2``; finally
    ``B = R^T R - Delta B >= -||Delta B||_2 I``.

    Applied to ``B = fl(K - s I)`` (its diagonal carries a rounding error
    of at most ``u/(1-u) b_ii``): ``lambda_min(K) >= s - c`` with ``c`` the
    sum above plus that term.  ``s`` starts at ``estimate - c/4`` and moves
    down geometrically (factor 4) until the factorisation succeeds
    (usually the first try; if none does, the estimate is recomputed by
    a dense solve and the search repeated).  The final subtraction is
    rounded downwards.  A diagonal ``K`` (e.g. the zero matrix) needs no
    factorisation: ``lambda_min(K) = min_i k_ii`` exactly.  For a
    well-conditioned ``K`` the bound is within ``~ n^2 u max(k_ii)`` of
    ``lambda_min``.  Cost: one dense ``lambda_min`` (if ``estimate`` is
    omitted) plus one Cholesky factorisation (``n^3/3`` flops).

    For the NTK, ``lambda_min(K) = sigma_min(nabla Phi^*)^2`` (paper,
    Definition 1 and Lemma 1); see :func:`ntk_lambda_min_certified` for the
    exact (not stored) kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import lambda_min_certified
    >>> K = np.diag([2.0, 3.0, 5.0]) + 0.1
    >>> L = lambda_min_certified(K)
    >>> exact = np.linalg.eigvalsh(K)[0]
    >>> bool(L <= exact), bool(exact - L < 1e-12)
    (True, True)
    """
    if method not in ("cholesky", "arb"):
        raise ValueError(f"method must be 'cholesky' or 'arb', got {method!r}")
    K = as_float_array(K, "K", ndim=2)
    check_square_symmetric(K, "K")
    if method == "arb":
        L = _arb_lower_bound(K)
        res = CertifiedBound(bound=L, estimate=float("nan"), shift=float("nan"),
                             allowance=float("nan"), method="arb", attempts=0)
        return res if full_output else L
    if estimate is not None:
        try:
            estimate = float(estimate)
        except (TypeError, ValueError):
            raise ValueError(f"estimate must be a finite real number, got {estimate!r}") from None
        if not math.isfinite(estimate):
            raise ValueError(f"estimate must be finite, got {estimate!r}")
    offdiag = K - np.diag(np.diag(K))
    if not np.any(offdiag):
        # a diagonal matrix (the zero matrix included): its eigenvalues are
        # its diagonal entries, exactly
        L = float(np.min(np.diag(K)))
        res = CertifiedBound(bound=L, estimate=L if estimate is None else estimate, shift=L,
                             allowance=0.0, method="diagonal", attempts=0)
        return res if full_output else L
    del offdiag
    asym = _asymmetry_norm(K)
    given = estimate is not None
    if not given:
        estimate = _dense_estimate(K)
    # a caller's estimate gets two shifts; a dense estimate the whole search
    res, attempts = _shift_search(K, estimate, asym, 0, tries=2 if given else 40)
    if res is None and given:
        # the caller's estimate is far above lambda_min: start again from a dense one
        estimate = _dense_estimate(K)
        res, attempts = _shift_search(K, estimate, asym, attempts)
    if res is None:
        raise ValueError("K: no shifted Cholesky factorisation succeeded; the estimate "
                         f"{estimate!r} of lambda_min may be wrong")
    if not math.isfinite(res.bound):
        raise ValueError(f"K: entries up to {float(np.max(np.abs(K))):.3g} are too large "
                         "for a certified bound (its rounding-error allowance overflows "
                         "float64); rescale K")
    return res if full_output else res.bound


def _dense_estimate(K):
    return dense_extreme(K, "SA").value


def _shift_search(K, estimate, asym, attempts, tries=40):
    """Shifts ``s = estimate - margin``, margin growing by 4, until ``K - s I`` factors.

    Returns ``(CertifiedBound or None, attempts)``.
    """
    n = K.shape[0]
    diag = np.diag(K)
    dmax = float(np.max(np.abs(diag)))
    kmax = float(np.max(np.abs(K)))
    # a-priori allowance at s = estimate, and a first margin: the Cholesky
    # backward error is usually far below c, so s = estimate - c/4 succeeds.
    c0 = _cholesky_allowance(np.maximum(diag - estimate, 0.0), n)
    margin = max(0.25 * c0, 64 * n * _U * max(dmax, abs(estimate)) * 1e-3,
                 16.0 * n * (n + 2) * _ETA)
    # beyond this margin K - s I is diagonally dominant (s below -n max|K|)
    stop = 4.0 * (abs(estimate) + n * kmax) + 16.0 * n * (n + 2) * _ETA
    for _ in range(tries):
        s = estimate - margin
        attempts += 1
        ok, diag_b = _try_cholesky(K, s)
        if ok:
            c = _cholesky_allowance(diag_b, n) + asym
            L = _round_down(s - c)
            return CertifiedBound(bound=L, estimate=estimate, shift=float(s),
                                  allowance=float(s - L), method="cholesky",
                                  attempts=attempts), attempts
        margin *= 4.0
        if margin > stop:
            break
    return None, attempts
