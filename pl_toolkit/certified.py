"""Certified lower bounds on the smallest eigenvalue of a Gram / NTK matrix.

* :func:`lambda_min_certified` -- a float ``L`` with a proof that
  ``lambda_min(K) >= L`` for the stored floating-point matrix ``K``
  (a floating-point Cholesky factorisation of ``K - s I`` that runs to
  completion, plus an a-priori bound on its rounding error).
* :func:`ntk_lambda_min_certified` -- a lower bound on ``lambda_min`` of the
  *exact* empirical NTK of the stored weights and data: the matrix is formed
  in floating point, its rounding error is bounded entrywise, and the bound
  of the stored matrix is lowered by the spectral norm of that error.

Both have an optional ball-arithmetic route (``method="arb"``, python-flint,
small ``n`` only) that encloses the eigenvalues rigorously.

The PL constant of the loss ``h`` along training is ``4 lambda_min(K)``, so
a certified ``L > 0`` certifies the PL inequality ``||grad h||^2 >= 4 L h``
at the stored weights.
"""

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ._validation import as_float_array, check_square_symmetric

__all__ = ["CertifiedBound", "NTKCertifiedBound", "lambda_min_certified", "ntk_lambda_min_certified"]

_U = 2.0 ** -53                 # unit roundoff of float64 (round to nearest)
_ETA = 2.0 ** -1074             # smallest positive subnormal
#: Assumed accuracy of the activation kernels, in units of the roundoff (see
#: :func:`ntk_lambda_min_certified`, assumption A2).
ACTIVATION_ULPS = 16.0
#: Relative safety factor covering the rounding of the error-bound arithmetic
#: itself (sums of at most 1e9 non-negative terms are accurate to 1e-7).
_SAFETY = 1.0 + 1e-6


def _gamma(k):
    k = np.asarray(k, dtype=np.float64)
    return k * _U / (1.0 - k * _U)


def _round_down(x, ulps=2):
    for _ in range(ulps):
        x = np.nextafter(x, -np.inf)
    return float(x)


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


@dataclass(frozen=True)
class NTKCertifiedBound:
    """A certified lower bound on ``lambda_min`` of the exact empirical NTK.

    Attributes
    ----------
    bound : float
        Certified (under the stated error model): ``lambda_min(K_exact) >=
        bound``.
    matrix_bound : float
        Certified lower bound on ``lambda_min`` of the floating-point matrix
        ``fl(K)`` formed here.
    rounding_allowance : float
        Upper bound on ``||fl(K) - K_exact||_2``.
    estimate : float
        Floating-point estimate of ``lambda_min(fl(K))``.
    method : str
        ``"cholesky"`` or ``"arb"``.
    n : int
        Size of ``K`` (``n d2``).
    upper : float
        ``method="arb"`` only: certified ``lambda_min(K_exact) <= upper``
        (``nan`` otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram, ntk_lambda_min_certified
    >>> net = ShallowNet.init(d0=3, d1=40, d2=2, seed=0)
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> r = ntk_lambda_min_certified(net, X)
    >>> r.n, r.method, bool(np.isnan(r.upper))
    (10, 'cholesky', True)
    >>> exact = np.linalg.eigvalsh(ntk_gram(net, X))[0]
    >>> bool(r.bound <= r.matrix_bound <= exact), bool(r.rounding_allowance >= 0)
    (True, True)
    """

    bound: float
    matrix_bound: float
    rounding_allowance: float
    estimate: float
    method: str
    n: int
    upper: float = float("nan")

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
    B = np.array(K, dtype=np.float64, order="C", copy=True)
    B[np.diag_indices(n)] -= s
    diag_b = B.diagonal().copy()
    if np.any(~(diag_b > 0)):
        return False, diag_b
    # B.T is Fortran-ordered without a copy, and its upper triangle is the
    # lower triangle of K: R^T R = tril-symmetrised K - s I.  (OpenBLAS's
    # upper dpotrf measured 4x faster than its lower one at n = 2000.)
    potrf = sla.get_lapack_funcs("potrf", (B,))
    c, info = potrf(B.T, lower=False, overwrite_a=True, clean=False)
    # a non-finite entry of the factor (overflow) propagates to a later diagonal entry
    ok = info == 0 and bool(np.all(np.isfinite(np.diag(c))))
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
        raise ImportError("method='arb' needs python-flint (pip install pl_toolkit[certified])") from None
    n = K.shape[0]

    def build():
        A = flint.arb_mat([[flint.arb(float(K[i, j])) for j in range(n)] for i in range(n)])
        if not np.array_equal(K, K.T):
            A = (A + A.transpose()) * flint.arb(0.5)
        return A

    return _arb_lambda_min(build, "K")[0]


#: Working precisions (bits) of the ball-arithmetic eigenvalue enclosures, tried in turn.
_ARB_PRECISIONS = (53, 128, 256, 512, 1024)
#: Working precisions of the positive-definiteness proof that stands in when
#: the enclosures cannot be isolated.
_ARB_PROOF_PRECISIONS = (128, 256, 512)


def _arb_eig(build):
    """Eigenvalue enclosures of the ball matrix ``build()``, raising the precision until they isolate.

    Clustered eigenvalues (relative gaps near the working precision) make
    ``eig`` fail to isolate them; the matrix is rebuilt at a higher
    precision (its float64 inputs are exact at any precision).  Returns
    None when no precision isolates them (measured: an exactly 5-fold
    eigenvalue of an 8 x 8 matrix fails at every precision).
    """
    import flint

    old = flint.ctx.prec
    try:
        for prec in _ARB_PRECISIONS:
            flint.ctx.prec = prec
            try:
                return build().eig(multiple=True)
            except ValueError:
                continue
    finally:
        flint.ctx.prec = old
    return None


def _arb_lambda_min(build, name):
    """``(low, mid, high)`` with ``low <= lambda_min <= high`` proved and ``mid`` an estimate.

    The ball matrix is scaled by an exact power of two to entries near 1
    first: ball-arithmetic ``eig`` is not scale invariant (measured at 200
    bits on a 2 x 2 with relative gap 3e-5: enclosure radii 1e-59 relative
    at entries 1e-250 .. 1e50, 2.5e-16 at 1e105, no isolation at all at
    1e150).  From the eigenvalue enclosures when they isolate; otherwise
    from :func:`_arb_bracket` (a ball-arithmetic proof that ``K - s I`` is
    positive definite, and the Rayleigh quotient of an approximate
    eigenvector).
    """
    import flint

    e = _arb_scale_exponent(build)
    up = flint.arb(2) ** e                   # exact powers of two at any exponent

    def scaled():
        return build() * (flint.arb(2) ** -e)

    E = _arb_eig(scaled)
    if E is None:
        low, mid, high = _arb_bracket(scaled, name)
        return _round_down(_arb_low(low * up)), float(mid * up), -_arb_low(-(high * up))
    lows = [_arb_low(z.real * up) for z in E]
    mids = [float(z.real.mid() * up) for z in E]
    highs = [-_arb_low(-(z.real * up)) for z in E]
    return _round_down(min(lows)), min(mids), min(highs)


def _arb_scale_exponent(build):
    """``e`` with the largest entry of ``build()`` in ``[2**(e-1), 2**e)`` (0 if zero or not finite)."""
    A = build()
    m = max((abs(float(A[i, j].mid())) for i in range(A.nrows()) for j in range(A.ncols())),
            default=0.0)
    return math.frexp(m)[1] if 0.0 < m < math.inf else 0


def _arb_positive_definite(A, s):
    """True if the symmetric ball matrix ``A - s I`` is proved positive definite.

    Symmetric Gaussian elimination without pivoting (``LDL^T``) on the
    lower triangle, in ball arithmetic: a symmetric matrix is positive
    definite if and only if every pivot is positive, and each computed
    ball contains the exact pivot, so pivots that are certainly positive
    prove it.  ``O(n^3 / 6)`` ball operations.
    """
    n = A.nrows()
    M = [[A[i, j] for j in range(i + 1)] for i in range(n)]
    for i in range(n):
        M[i][i] = M[i][i] - s
    for k in range(n):
        d = M[k][k]
        if not d > 0:
            return False
        for i in range(k + 1, n):
            lik = M[i][k] / d
            row = M[i]
            for j in range(k + 1, i + 1):
                row[j] = row[j] - lik * M[j][k]
    return True


def _arb_bracket(build, name):
    """Balls ``(low, mid, high)`` for ``lambda_min`` of ``build()`` without isolated eigenvalues.

    ``mid``: the smallest approximate eigenvalue (``eig(algorithm="approx")``
    at the working precision, no error bound).  ``low = s`` for the first
    shift ``s = mid - 2**(8k - prec/2) ||K||_inf`` at which ``K - s I`` is
    proved positive definite (:func:`_arb_positive_definite`).  ``high``:
    the Rayleigh quotient of the approximate eigenvector in ball
    arithmetic (every non-zero vector's quotient is at least
    ``lambda_min``).
    """
    import flint

    old = flint.ctx.prec
    try:
        for prec in _ARB_PROOF_PRECISIONS:
            flint.ctx.prec = prec
            A = build()
            n = A.nrows()
            E, R = A.eig(right=True, algorithm="approx")
            i = min(range(n), key=lambda k: float(E[k].real.mid()))
            lam = flint.arb(E[i].real.mid())
            # the eigenvector of a real symmetric matrix is real up to a complex phase
            re = [R[j, i].real.mid() for j in range(n)]
            im = [R[j, i].imag.mid() for j in range(n)]
            v = re if sum(abs(float(x)) for x in re) >= sum(abs(float(x)) for x in im) else im
            v = [flint.arb(x) for x in v]
            Av = [sum((A[r, c] * v[c] for c in range(n)), flint.arb(0)) for r in range(n)]
            vv = sum((x * x for x in v), flint.arb(0))
            high = sum((v[r] * Av[r] for r in range(n)), flint.arb(0)) / vv \
                if vv > 0 else flint.arb(math.inf)
            norm = max(sum(abs(float(A[r, c].mid())) + float(A[r, c].rad()) for c in range(n))
                       for r in range(n))
            if norm == 0.0:                     # every entry is exactly zero
                return flint.arb(0), flint.arb(0), flint.arb(0)
            for k in range(8):
                s = lam - flint.arb(math.ldexp(norm, 8 * k - prec // 2))
                if _arb_positive_definite(A, s):
                    return s, lam, high
    finally:
        flint.ctx.prec = old
    raise ValueError(f"{name}: ball arithmetic could neither isolate the eigenvalues nor prove a "
                     f"shifted matrix positive definite at {_ARB_PROOF_PRECISIONS[-1]} bits; "
                     "use method='cholesky'")


def _arb_low(x):
    """A float at or below every point of the real ball ``x``."""
    lb = x.lower()
    return _round_down(float(lb.mid()) - 2.0 * float(lb.rad()), 2)


def lambda_min_certified(K, *, method="cholesky", estimate=None, full_output=False):
    """A certified lower bound on the smallest eigenvalue of a stored symmetric matrix.

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

        \\lambda_{\\min}(B) \\ge -\\sum_{i=1}^n
        \\frac{\\gamma_{i+1}}{1-\\gamma_{i+1}} b_{ii} - 4 n (n+2) \\eta,

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
    n = K.shape[0]
    if method == "arb":
        L = _arb_lower_bound(K)
        res = CertifiedBound(bound=L, estimate=float("nan"), shift=float("nan"), allowance=float("nan"),
                             method="arb", attempts=0)
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
        raise ValueError(f"K: entries up to {float(np.max(np.abs(K))):.3g} are too large for a certified "
                         "bound (its rounding-error allowance overflows float64); rescale K")
    return res if full_output else res.bound


def _dense_estimate(K):
    from .spectrum import _dense_extreme

    return _dense_extreme(K, "SA").value


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
    margin = max(0.25 * c0, 64 * n * _U * max(dmax, abs(estimate)) * 1e-3, 16.0 * n * (n + 2) * _ETA)
    # beyond this margin K - s I is diagonally dominant (s below -n max|K|)
    stop = 4.0 * (abs(estimate) + n * kmax) + 16.0 * n * (n + 2) * _ETA
    for _ in range(tries):
        s = estimate - margin
        attempts += 1
        ok, diag_b = _try_cholesky(K, s)
        if ok:
            c = _cholesky_allowance(diag_b, n) + asym
            L = _round_down(s - c)
            return CertifiedBound(bound=L, estimate=estimate, shift=float(s), allowance=float(s - L),
                                  method="cholesky", attempts=attempts), attempts
        margin *= 4.0
        if margin > stop:
            break
    return None, attempts


# --------------------------------------------------------------------------
# The exact NTK of stored weights and data
# --------------------------------------------------------------------------
def _rho_upper(E, iters=20):
    """Rigorous-in-exact-arithmetic upper bound of the spectral radius of ``E >= 0``.

    Collatz-Wielandt: for any positive ``x``, ``rho(E) <= max_i (E x)_i / x_i``.
    """
    n = E.shape[0]
    x = np.ones(n)
    best = float(np.max(E.sum(axis=1)))            # x = 1: the row-sum bound
    for _ in range(iters):
        y = E @ x
        if not np.all(y > 0):
            break
        best = min(best, float(np.max(y / x)))
        x = y / np.max(y)
        x = np.maximum(x, 1e-300)
    return best * _SAFETY * (1.0 + 4.0 * (n + 2) * _U)


def _sym(M):
    return 0.5 * (M + M.T)


def _ntk_with_error(net, X, layers):
    """Form ``fl(K)`` by BLAS and an entrywise bound ``E >= |fl(K) - K_exact|``."""
    act = net.activation
    use_w = "W" in layers
    use_v = "V" in layers
    pd, pdd = float(act.phi_dot_max), float(act.phi_ddot_max)
    if not math.isfinite(pd) or (use_w and not math.isfinite(pdd)):
        raise ValueError(f"net: activation {act.name!r} has phi_dot_max={pd} / phi_ddot_max={pdd}; "
                         "the rounding-error model needs both finite")
    W, V = net.W, net.V
    n, d0 = X.shape
    d1, d2 = net.d1, net.d2
    kap = ACTIVATION_ULPS * _U
    absX = np.abs(X)
    Z = X @ W.T
    EZ = np.abs(X) @ np.abs(W).T
    if net.b1 is not None:
        Z += net.b1
        EZ += np.abs(net.b1)
        EZ *= _gamma(d0 + 1)
    else:
        EZ *= _gamma(d0)
    Z = np.ascontiguousarray(Z)
    H, G = act.phi_dphi(Z)
    H = np.array(H, dtype=np.float64)
    G = np.array(G, dtype=np.float64)
    absZ = np.abs(Z)
    K = np.zeros((n * d2, n * d2))
    E = np.zeros((n * d2, n * d2))
    if use_v:
        EH = pd * EZ + kap * (np.abs(H) + pd * absZ)
        absH = np.abs(H)
        HH = H @ H.T
        EHH = _sym(EH @ (2.0 * absH + EH).T)
        rnd = absH @ absH.T
        if net.b2 is not None:
            HH += 1.0
            EHH += _gamma(d1 + 1) * (rnd + 1.0)
        else:
            EHH += _gamma(d1) * rnd
        K += np.kron(HH, np.eye(d2)) if d2 > 1 else HH
        E += np.kron(EHH, np.eye(d2)) if d2 > 1 else EHH
    if use_w:
        EG = pdd * EZ + kap * (2.0 * pd + pdd * absZ)
        # A[a d2 + p] = G[a] o V[p]
        A = (G[:, None, :] * V[None, :, :]).reshape(n * d2, d1)
        absV = np.abs(V)
        EA = ((EG[:, None, :] * absV[None, :, :]).reshape(n * d2, d1) + _U * np.abs(A))
        absA = np.abs(A)
        S = A @ A.T
        ES = _sym(EA @ (2.0 * absA + EA).T) + _gamma(d1) * (absA @ absA.T)
        XX = X @ X.T
        EXX = absX @ absX.T
        if net.b1 is not None:
            XX += 1.0
            EXX = _gamma(d0 + 1) * (EXX + 1.0)
        else:
            EXX *= _gamma(d0)
        if d2 > 1:
            ones = np.ones((d2, d2))
            XX = np.kron(XX, ones)
            EXX = np.kron(EXX, ones)
        P = XX * S
        EP = np.abs(XX) * ES + EXX * (np.abs(S) + ES) + _U * np.abs(P)
        K += P
        E += EP
    if use_w and use_v:
        E += _U * np.abs(K)            # rounding of the final sum
    return K, E * _SAFETY


def _arb_activation(name):
    import flint
    arb = flint.arb
    s2 = arb(2).sqrt()
    s2pi = (2 * arb.pi()).sqrt()

    def sig(z):
        return 1 / (1 + (-z).exp())

    table = {
        "gelu": (lambda z: z * (-z / s2).erfc() / 2,
                 lambda z: (-z / s2).erfc() / 2 + z * (-(z * z) / 2).exp() / s2pi),
        "tanh": (lambda z: z.tanh(), lambda z: 1 - z.tanh() ** 2),
        "erf": (lambda z: z.erf(), lambda z: 2 / arb.pi().sqrt() * (-(z * z)).exp()),
        "identity": (lambda z: z, lambda z: arb(1)),
        "quadratic": (lambda z: z * z, lambda z: 2 * z),
        "sigmoid": (sig, lambda z: sig(z) * (1 - sig(z))),
        "softplus": (lambda z: (1 + z.exp()).log(), sig),
        "shifted_softplus": (lambda z: ((1 + z.exp()) / 2).log(), sig),
        "silu": (lambda z: z * sig(z), lambda z: sig(z) + z * sig(z) * (1 - sig(z))),
    }
    if name not in table:
        raise ValueError(f"net: method='arb' has no ball-arithmetic form of activation {name!r}")
    return table[name]


def _ntk_arb(net, X, layers):
    import flint
    arb, arb_mat = flint.arb, flint.arb_mat
    phi, dphi = _arb_activation(net.activation.name)

    def build():
        n, d0 = X.shape
        d1, d2 = net.d1, net.d2
        Xa = arb_mat([[arb(float(v)) for v in row] for row in X])
        Wa = arb_mat([[arb(float(v)) for v in row] for row in net.W])
        Za = Xa * Wa.transpose()
        if net.b1 is not None:
            for a in range(n):
                for r in range(d1):
                    Za[a, r] += arb(float(net.b1[r]))
        Ha = arb_mat(n, d1)
        Ga = arb_mat(n, d1)
        for a in range(n):
            for r in range(d1):
                z = Za[a, r]
                Ha[a, r] = phi(z)
                Ga[a, r] = dphi(z)
        N = n * d2
        Ka = arb_mat(N, N)
        if "V" in layers:
            HH = Ha * Ha.transpose()
            for a in range(n):
                for b in range(n):
                    val = HH[a, b] + (1 if net.b2 is not None else 0)
                    for p in range(d2):
                        Ka[a * d2 + p, b * d2 + p] += val
        if "W" in layers:
            Aa = arb_mat(N, d1)
            for a in range(n):
                for p in range(d2):
                    for r in range(d1):
                        Aa[a * d2 + p, r] = Ga[a, r] * arb(float(net.V[p, r]))
            S = Aa * Aa.transpose()
            XX = Xa * Xa.transpose()
            for i in range(N):
                for j in range(N):
                    xx = XX[i // d2, j // d2] + (1 if net.b1 is not None else 0)
                    Ka[i, j] += xx * S[i, j]
        return Ka

    return _arb_lambda_min(build, "net")


def ntk_lambda_min_certified(net, X, *, layers=("W", "V"), method="cholesky"):
    """A certified lower bound on ``lambda_min`` of the exact empirical NTK.

    Parameters
    ----------
    net : ShallowNet
        The network (its stored float64 weights are taken as exact).
    X : array_like of shape (n, d0)
        Inputs as rows (taken as exact).
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained parameters, as in :func:`pl_toolkit.ntk_gram`.
    method : {"cholesky", "arb"}, default "cholesky"
        ``"cholesky"``: form ``fl(K)`` by BLAS, bound its error
        entrywise, certify ``fl(K)`` with :func:`lambda_min_certified`.
        ``"arb"``: form ``K`` in ball arithmetic (python-flint, activations
        gelu, tanh, erf, identity, quadratic, sigmoid, softplus,
        shifted_softplus, silu) and enclose its eigenvalues; fully rigorous,
        for ``n d2`` up to about 100.

    Returns
    -------
    NTKCertifiedBound
        ``bound`` with ``lambda_min(K_exact) >= bound``, and its parts.

    Raises
    ------
    ValueError
        Bad input, an activation without finite ``phi_dot_max`` /
        ``phi_ddot_max`` (the error model needs them; ReLU is excluded),
        an NTK or rounding-error bound that overflows float64 (naming
        ``X`` or ``net``, whichever holds the larger entries; a bound of
        ``-inf`` is never returned), or failed certification.

    Notes
    -----
    ``K_exact = (H H^T + [b2]) (x) I + ((X X^T + [b1]) (x) 1) o (A A^T)``
    with ``Z = X W^T + b1``, ``H = phi(Z)``, ``A[a d2 + p] = phi'(Z[a]) o
    V[p]`` (the module docstring of :mod:`pl_toolkit.ntk`).  Error model of
    the ``"cholesky"`` route (``u = 2^-53``, ``gamma_k = k u/(1 - k u)``):

    - A1. BLAS products are ordinary dot products in any order (with or
      without FMA): ``|fl(A B^T) - A B^T| <= gamma_k |A| |B|^T`` for inner
      dimension ``k`` (Higham, Thm 3.5 / eq. 3.13); so ``|Delta Z| <=
      E_Z = gamma_{d0[+1]} (|X| |W|^T [+ |b1|])``.
    - A2. The activation kernels satisfy ``|fl(phi(z)) - phi(z)| <= 16 u
      (|phi(z)| + phi_dot_max |z|)`` and ``|fl(phi'(z)) - phi'(z)| <= 16 u
      (2 phi_dot_max + phi_ddot_max |z|)`` (a few-ulp libm ``erfc``,
      ``exp``, ``tanh``, ``log1p`` plus argument rounding; an assumption,
      not a proof).  With the Lipschitz constants of Assumption 2
      (paper): ``E_H = phi_dot_max E_Z + 16 u (|H| + phi_dot_max |Z|)``,
      ``E_G = phi_ddot_max E_Z + 16 u (2 phi_dot_max + phi_ddot_max |Z|)``.
    - A3. Products of perturbed factors: ``|A A^T - A_e A_e^T| <= E_A |A|^T
      + |A| E_A^T + E_A E_A^T``; Hadamard products and the final sum add
      ``u`` times their magnitude.

    The resulting entrywise ``E >= |fl(K) - K_exact|`` (inflated by ``1 +
    1e-6`` to cover the rounding of ``E`` itself and second-order terms)
    gives ``||fl(K) - K_exact||_2 <= rho(E)``, bounded above by the
    Collatz-Wielandt ratio ``max_i (E x)_i / x_i`` at a positive power-
    iteration vector ``x``.  Then ``lambda_min(K_exact) >= lambda_min(fl
    K) - rho(E)`` (Weyl).  Cost: about three times the BLAS work of
    forming ``K`` plus one certified bound.  The bound in the paper's terms:
    ``lambda_min(K) = sigma_min(nabla Phi^*)^2 >= mu_Phi^2`` for ``d1 >= n``
    (Lemma 1, eq. 18).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram, ntk_lambda_min_certified
    >>> net = ShallowNet.init(d0=4, d1=50, seed=1)
    >>> X = np.random.default_rng(0).standard_normal((10, 4))
    >>> r = ntk_lambda_min_certified(net, X)
    >>> exact = np.linalg.eigvalsh(ntk_gram(net, X))[0]
    >>> bool(r.bound <= exact), bool(exact - r.bound < 1e-9 * exact)
    (True, True)
    """
    from .network import check_layers, check_net

    check_net(net)
    layers = check_layers(layers)
    X = net.check_data(X)
    if method not in ("cholesky", "arb"):
        raise ValueError(f"method must be 'cholesky' or 'arb', got {method!r}")
    from .spectrum import _ntk_nonfinite_error

    if method == "arb":
        L, mid, high = _ntk_arb(net, X, layers)
        if not (math.isfinite(L) and math.isfinite(high)):
            raise _ntk_nonfinite_error(net, X)
        return NTKCertifiedBound(bound=L, matrix_bound=float("nan"), rounding_allowance=float("nan"),
                                 estimate=mid, method="arb", n=X.shape[0] * net.d2, upper=high)
    with np.errstate(over="ignore", invalid="ignore"):
        K, E = _ntk_with_error(net, X, layers)
    # An NTK or error bound that overflows float64 would give -inf or NaN:
    # refused, naming the argument, never returned.
    if not (np.all(np.isfinite(K)) and np.all(np.isfinite(E))):
        raise _ntk_nonfinite_error(net, X)
    cb = lambda_min_certified(K, full_output=True)
    with np.errstate(over="ignore", invalid="ignore"):
        rho = _rho_upper(E)
    bound = _round_down(cb.bound - rho)
    if not math.isfinite(bound):
        raise _ntk_nonfinite_error(net, X)
    return NTKCertifiedBound(bound=bound, matrix_bound=cb.bound, rounding_allowance=rho,
                             estimate=cb.estimate, method="cholesky", n=K.shape[0])
