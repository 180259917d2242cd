"""Matrix-free ``lambda_min`` of the empirical NTK, its top removed by a cheap preconditioner.

Private module: the matrix-free route of :func:`pl_toolkit.ntk_lambda_min`
builds on :func:`deflated_lambda_min`.

Why plain Lanczos is slow.  For unit-norm inputs the empirical NTK is a
few hundred large eigenvalues on top of a crowded bulk: the low-order
Hermite terms of the kernel (the mean direction ``~ n c_0^2`` and ``c_1^2
X X^T``) put about ``d0 + 1`` eigenvalues far above the rest, with
eigenvectors close to ``span[1, X]``.  Lanczos on ``K`` has to damp all
of them (4,811 products at ``n = 10,000``, ``d0 = 784``, ``d1 = 4000``).

What is cheap.  With ``Z = X W^T``, ``H = phi(Z)``, ``A = phi'(Z) o v``
(``d2 = 1``; module docstring of :mod:`pl_toolkit.ntk`) the NTK is

``K = H H^T + (X X^T) o (A A^T)``.

The conjugate kernel ``H H^T`` (rank ``d1``) is known exactly from the
features, and it carries both the coupling of the top to the rest and
most of the spread of the bulk.  The first-layer term is modelled by its
low-order part: with ``g`` the mean of the rows of ``phi'(Z)`` and
``B = V diag(g^2) V^T`` (``d2 x d2``), ``A A^T ~ 1 1^T (x) B``, so

``(X X^T) o (A A^T) ~ (X X^T) (x) B + c I``,

``c`` the mean of the remainder's diagonal (its average eigenvalue).  The
preconditioner is the inverse of that model,

``T = (H H^T (x) I + (X X^T) (x) B + c I)^{-1}``,

applied by the Woodbury identity: after rotating the outputs to the
eigenvectors of ``B`` it is a rank-``(d1 + d0)`` update of ``c I`` per
output (a dense Cholesky factor instead when ``n`` is smaller than the
rank).  It costs no operator product: one pass over the features and a
Gram matrix of ``[H, X]``, ``n (d1 + d0)^2`` flops.  On the NTKs of
``benchmarks/bench_deflation.py`` the eigenvalues of ``T K`` lie in
``[0.93, 1.07]`` (``n = 2000``).  Biases enter as a column of ones of
``X`` (``b1``) and of ``H`` (``b2``); a layer left out of ``layers``
leaves its term out.

For any other symmetric positive semidefinite operator, ``model=
"nystrom"`` spends one block product on the cheap subspace ``Omega =
orth([1, X]) (x) I_{d2}`` (``d0 + 1`` products per output, one pass) and
preconditions with the Nystrom approximation ``L = (K Omega) (Omega^T K
Omega)^+ (K Omega)^T`` of the top, ``T = (L + mu I)^{-1}`` with ``mu`` the
Rayleigh quotient of a random vector orthogonal to ``range(L)`` (one more
product): it removes the top, not the spread of the bulk.

The eigensolver.  Generalized Davidson with the fixed preconditioner
``T`` and thick restarts: the basis ``V`` (orthonormal, classical
Gram-Schmidt twice) and ``W = K V`` are kept; each step takes the
smallest Ritz pairs ``(theta, x)`` of ``V^T W``, their residuals ``r = K
x - theta x``, and expands the basis by ``T r`` (``block`` vectors: one
block product of ``block`` columns).  A full basis keeps ``keep``
smallest Ritz vectors.  Deflation by preconditioning is exact in the
sense that matters: every Ritz value is a Rayleigh quotient of ``K``
itself, so approximate top eigenvectors slow the method down but do not
bias it.  The stopping test is that of :mod:`pl_toolkit._lanczos`
(Kato-Temple estimate with the Ritz gap, ``rho <= max(sqrt(tol)
|theta|, target)``, ``target = max(tol |theta|, floor)``).  At the end
one more product measures the returned unit vector: ``value = x^T fl(K
x)``, ``residual = ||fl(K x) - value x||`` and ``error_bound = residual +
floor`` with the rounding floor of :func:`pl_toolkit._lanczos.rounding_floor`
(``||K||`` estimated from below by the largest product norm and Ritz value
seen).  As for Lanczos, the bound is on the distance to the *nearest*
eigenvalue of ``K``.

Counting.  ``matvecs`` counts every column the operator was applied to,
the model's block product and the final check included; ``passes``
counts operator calls (a block product of ``k`` columns is one pass and
``k`` products).  The work outside the operator (features, Gram matrix
and factor of the model; ``setup_flops``) is reported separately.
"""

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from ._eigen import ETA, EigResult, check_v0, warn_unconverged
from ._features import CHUNK_BYTES, features_of, preactivations
from ._lanczos import ldexp, rounding_floor, safe_norm
from ._validation import as_float_array, check_positive_float, check_positive_int
from .ntk import NTKOperator

__all__ = ["MODELS", "DeflatedResult", "FeatureModel", "NystromModel", "deflated_lambda_min",
           "feature_model", "feature_model_bytes", "nystrom_model"]

#: Preconditioner models of :func:`deflated_lambda_min`.
MODELS = ("auto", "features", "nystrom")
#: Default basis size and Ritz vectors kept at a restart.
DEFAULT_NCV = 120
DEFAULT_KEEP = 40
#: The working scale is raised when a product outgrows it by this factor (exact, a power of 2).
_RESCALE = 2.0 ** 32


@dataclass(frozen=True)
class DeflatedResult(EigResult):
    """An :class:`~pl_toolkit.spectrum.EigResult` with the cost of the preconditioned route.

    Attributes
    ----------
    passes : int
        Operator calls; a block product of ``k`` columns is one pass and
        ``k`` of the ``matvecs``.
    setup_matvecs : int
        Products spent on the preconditioner (included in ``matvecs``): 0
        for ``model="features"``, ``rank + 1`` for ``"nystrom"``.
    model : str
        ``"features"`` or ``"nystrom"``.
    rank : int
        Rank of the low-rank part of the preconditioner's model.
    setup_flops : float
        Floating-point operations of the model outside operator products
        (features, Gram matrix, factors).
    """

    passes: int = 0
    setup_matvecs: int = 0
    model: str = ""
    rank: int = 0
    setup_flops: float = 0.0


# --------------------------------------------------------------------------
# Preconditioner models
# --------------------------------------------------------------------------
class FeatureModel:
    """``T = (F_p F_p^T + c I)^{-1}`` per rotated output ``p``: see the module docstring.

    ``F_p = [Hb, sqrt(beta_p) Xb]`` with ``Hb`` (``n x r_h``, or None) and
    ``Xb`` (``n x r_x``, or None); the outputs are rotated by ``U`` (``d2
    x d2``, orthogonal) first.  Sample-major vectors of length ``n d2``.
    """

    def __init__(self, Hb, Xb, betas, U, c):
        self.n = (Hb if Hb is not None else Xb).shape[0]
        self.d2 = len(betas)
        self.c = float(c)
        self.U = U
        self.betas = np.asarray(betas, dtype=np.float64)
        # terms whose weight is not positive drop out (a zero beta, an absent layer)
        self.Hb = Hb
        self.Xb = Xb
        rh = 0 if Hb is None else Hb.shape[1]
        rx = 0 if Xb is None else Xb.shape[1]
        self.rank = rh + rx
        n = self.n
        self.dense = n <= self.rank
        self.setup_flops = 0.0
        self._factors = []
        if self.dense:
            base = np.zeros((n, n)) if Hb is None else Hb @ Hb.T
            XX = None if Xb is None else Xb @ Xb.T
            self.setup_flops += n * n * self.rank
            for b in self.betas:
                M = base.copy() if XX is None else base + max(b, 0.0) * XX
                M[np.diag_indices(n)] += self.c
                self._factors.append(sla.cho_factor(M, lower=True, check_finite=False))
                self.setup_flops += n ** 3 / 3.0
        else:
            HH = None if Hb is None else Hb.T @ Hb
            HX = None if (Hb is None or Xb is None) else Hb.T @ Xb
            XX = None if Xb is None else Xb.T @ Xb
            self.setup_flops += n * self.rank * (self.rank + 1) / 1.0
            for b in self.betas:
                s = math.sqrt(max(b, 0.0))
                C = np.empty((self.rank, self.rank))
                if HH is not None:
                    C[:rh, :rh] = HH
                if XX is not None:
                    C[rh:, rh:] = (s * s) * XX
                if HX is not None:
                    C[:rh, rh:] = s * HX
                    C[rh:, :rh] = s * HX.T
                C /= self.c
                C[np.diag_indices(self.rank)] += 1.0
                self._factors.append((s, sla.cho_factor(C, lower=True, check_finite=False)))
                self.setup_flops += self.rank ** 3 / 3.0

    def apply(self, R):
        """``T R`` for a block ``R`` of shape ``(n d2, k)``."""
        n, d2 = self.n, self.d2
        k = R.shape[1]
        if d2 == 1:
            return self._solve(0, np.ascontiguousarray(R))
        # (n d2, k) -> (n, d2, k), outputs rotated: R3[a, p, j] -> sum_q R3[a, q, j] U[q, p]
        R3 = np.einsum("aqj,qp->apj", R.reshape(n, d2, k), self.U)
        out = np.empty_like(R3)
        for p in range(d2):
            out[:, p, :] = self._solve(p, np.ascontiguousarray(R3[:, p, :]))
        return np.einsum("apj,qp->aqj", out, self.U).reshape(n * d2, k)

    def _solve(self, p, Rp):
        """``(F_p F_p^T + c I)^{-1} Rp`` for the rotated output ``p``."""
        if self.dense:
            return sla.cho_solve(self._factors[p], Rp, check_finite=False)
        s, fac = self._factors[p]
        parts = []
        if self.Hb is not None:
            parts.append(self.Hb.T @ Rp)
        if self.Xb is not None:
            parts.append(s * (self.Xb.T @ Rp))
        z = sla.cho_solve(fac, np.vstack(parts) / self.c, check_finite=False)
        rh = 0 if self.Hb is None else self.Hb.shape[1]
        y = Rp.copy()
        if self.Hb is not None:
            y -= self.Hb @ z[:rh]
        if self.Xb is not None:
            y -= s * (self.Xb @ z[rh:])
        return y / self.c


def feature_model(op):
    """The preconditioner of an :class:`~pl_toolkit.ntk.NTKOperator` from its features.

    Parameters
    ----------
    op : NTKOperator
        The matrix-free NTK.

    Returns
    -------
    FeatureModel
        ``T = (H H^T (x) I + (X X^T) (x) B + c I)^{-1}`` (module docstring).

    Notes
    -----
    With ``g_r`` the mean of ``phi'(z_ar)`` over the samples, ``B = V
    diag(g^2) V^T`` and ``c`` the mean over the diagonal of the first-layer
    term minus its model, ``(1 / (n d2)) sum_r s_r sum_a |x_a|^2
    (phi'(z_ar)^2 - g_r^2)``, ``s_r = sum_p V_pr^2``.  The conjugate-kernel
    part ``phi(W X)^T phi(W X)`` is the one whose smallest singular value is
    the paper's ``mu_Phi`` (eq. 18).  ``c`` is raised to ``1e-6`` of the
    model's mean diagonal when the first layer is absent (or the remainder
    vanishes), which keeps the Woodbury factor's condition below ``1e6``
    times the model's.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram, ntk_operator
    >>> from pl_toolkit._ntk_deflation import feature_model
    >>> net = ShallowNet.init(d0=5, d1=30, init="he", seed=0)
    >>> X = np.random.default_rng(0).standard_normal((12, 5))
    >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> T = feature_model(ntk_operator(net, X))
    >>> K = ntk_gram(net, X)
    >>> w = np.linalg.eigvals(T.apply(K)).real       # T K is far better conditioned than K
    >>> bool(w.max() / w.min() < np.linalg.cond(K) / 50), T.rank
    (True, 35)
    """
    net, X, layers = op.net, op.X, op.layers
    n, d1, d2 = X.shape[0], net.d1, net.d2
    use_v, use_w = "V" in layers, "W" in layers
    Hb = None
    if use_v:
        Hb = np.empty((n, d1 + (net.b2 is not None)))
        if net.b2 is not None:
            Hb[:, d1] = 1.0
    gsum = np.zeros(d1)
    g2w = np.zeros(d1)                       # sum_a |x_a|^2 phi'(z_ar)^2
    xsq = np.sum(X * X, axis=1) + (net.b1 is not None)
    rows = max(1, CHUNK_BYTES // (8 * max(d1, 1)))
    flops = 2.0 * n * X.shape[1] * d1
    for i in range(0, n, rows):
        c = slice(i, min(i + rows, n))
        H, G = features_of(net, preactivations(net, X[c]), op.parallel)
        if use_v:
            Hb[c, :d1] = H
        if use_w:
            gsum += G.sum(axis=0)
            g2w += xsq[c] @ (G * G)
        H = G = None
    Xb = None
    betas = np.zeros(d2)
    U = np.eye(d2)
    cval = 0.0
    Vw = np.asarray(net.V, dtype=np.float64)
    if use_w:
        g = gsum / n
        B = (Vw * (g * g)) @ Vw.T
        betas, U = np.linalg.eigh(0.5 * (B + B.T))
        betas = np.maximum(betas, 0.0)
        s = np.sum(Vw * Vw, axis=0)
        cval = float(s @ (g2w - g * g * np.sum(xsq))) / (n * d2)
        Xb = X if net.b1 is None else np.hstack([X, np.ones((n, 1))])
    # mean diagonal of the model: sum_a |h_a|^2 / n (CK term) + mean_p beta_p |x_a|^2
    mean_diag = 0.0
    if Hb is not None:
        mean_diag += float(np.einsum("ij,ij->", Hb, Hb)) / n
    if use_w:
        mean_diag += float(np.mean(betas)) * float(np.mean(xsq))
    floor = 1e-6 * mean_diag
    if not (cval > floor):
        cval = floor if floor > 0 else 1.0
    model = FeatureModel(Hb, Xb, betas, U, cval)
    model.setup_flops += flops
    return model


def feature_model_bytes(n, d0, d1, d2=1, ncv=DEFAULT_NCV):
    """Peak bytes of :func:`deflated_lambda_min` with the features model, the operator's own aside.

    A copy of ``phi(Z)`` (``n (d1 + 1)`` doubles), the Gram matrix and
    ``d2`` factors of size ``m = min(n, d1 + d0 + 2)`` (``(d2 + 2) m^2``
    doubles while they are formed), the basis and its products (``2 n d2
    ncv``) and two feature chunks.

    Examples
    --------
    >>> from pl_toolkit._ntk_deflation import feature_model_bytes
    >>> round(feature_model_bytes(10_000, 784, 4000) / 2**30, 2)    # GiB
    1.08
    """
    m = min(n, d1 + d0 + 2)
    return int(8 * (n * (d1 + 1) + (d2 + 2) * m * m + 2 * n * d2 * min(ncv, n * d2))
               + 2 * CHUNK_BYTES)


class NystromModel:
    """``T = U (Lam + mu)^{-1} U^T + (I - U U^T) / mu``: Nystrom approximation ``U Lam U^T``."""

    def __init__(self, U, lam, mu, setup_flops):
        self.U, self.lam, self.mu = U, lam, float(mu)
        self.rank = U.shape[1]
        self.setup_flops = setup_flops

    def apply(self, R):
        """``T R`` for a block ``R`` of shape ``(N, k)``."""
        C = self.U.T @ R
        out = R - self.U @ C
        out /= self.mu
        out += self.U @ (C / (self.lam + self.mu)[:, None])
        return out


def _cheap_subspace(X, d2):
    """Orthonormal basis of ``span[1, X] (x) I_{d2}`` (sample-major rows)."""
    n = X.shape[0]
    F = np.hstack([np.ones((n, 1)), X])
    Uf, s, _ = np.linalg.svd(F, full_matrices=False)
    keep = s > s[0] * max(F.shape) * np.finfo(np.float64).eps
    Q = Uf[:, keep]
    r = Q.shape[1]
    if d2 == 1:
        return Q
    Om = np.zeros((n, d2, r, d2))
    for p in range(d2):
        Om[:, p, :, p] = Q
    return Om.reshape(n * d2, r * d2)


def nystrom_model(product, Omega, rng):
    """Nystrom preconditioner from the block product ``K Omega`` and one random product.

    Parameters
    ----------
    product : callable
        ``product(B)`` returns ``K B`` for a block ``B`` (counted by the caller).
    Omega : ndarray of shape (N, r)
        Orthonormal sketch (the cheap subspace).
    rng : numpy.random.Generator
        For the random vector that sets ``mu``.

    Returns
    -------
    tuple
        ``(model, start, Kstart)``: the :class:`NystromModel`, and the unit
        random vector orthogonal to the model's range with its product (a
        start vector whose product is already paid for).

    Notes
    -----
    The stable form of Tropp, Yurtsever, Udell and Cevher (SIAM J. Matrix
    Anal. Appl. 38, 2017): ``Y_nu = K Omega + nu Omega`` with ``nu =
    sqrt(N) eps ||K Omega||``, ``B = Y_nu (Omega^T Y_nu)^{-1/2}`` (on its
    positive eigenvalues), ``B = U S`` (thin SVD), ``Lam = max(S^2 - nu,
    0)``.  ``L = U Lam U^T`` satisfies ``0 <= L <= K`` up to ``nu`` for a
    positive semidefinite ``K``.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit._ntk_deflation import nystrom_model
    >>> rng = np.random.default_rng(0)
    >>> Q = np.linalg.qr(rng.standard_normal((50, 3)))[0]
    >>> K = Q @ np.diag([100.0, 50.0, 20.0]) @ Q.T + np.eye(50)   # top in span(Q)
    >>> T, x, Kx = nystrom_model(lambda B: K @ B, Q, rng)
    >>> bool(np.allclose(T.lam, [101.0, 51.0, 21.0])), round(T.mu, 6)
    (True, 1.0)
    """
    N, r = Omega.shape
    Y = np.asarray(product(Omega), dtype=np.float64)
    nu = math.sqrt(N) * np.finfo(np.float64).eps * max(safe_norm(Y.reshape(-1)), 1e-300)
    Ynu = Y + nu * Omega
    M = Omega.T @ Ynu
    m_w, m_v = np.linalg.eigh(0.5 * (M + M.T))
    pos = m_w > nu
    if not np.any(pos):
        raise ValueError("the operator is not positive on span[1, X]: the Nystrom model "
                         "needs a positive semidefinite operator")
    Bm = Ynu @ (m_v[:, pos] / np.sqrt(m_w[pos]))
    U, S, _ = np.linalg.svd(Bm, full_matrices=False)
    lam = np.maximum(S * S - nu, 0.0)
    flops = 2.0 * N * r * r * 3
    g = rng.standard_normal(N)
    for _ in range(2):
        g -= U @ (U.T @ g)
    g /= safe_norm(g)
    Kg = np.asarray(product(g[:, None]), dtype=np.float64)[:, 0]
    mu = float(g @ Kg)
    if not mu > 0:
        mu = float(lam[-1]) if lam[-1] > 0 else 1.0
    return NystromModel(U, lam, mu, flops), g, Kg


# --------------------------------------------------------------------------
# The eigensolver
# --------------------------------------------------------------------------
def _kato_temple(rho, gap):
    return rho if not (gap > rho) else min(rho, rho * rho / gap)


def _orthonormalize(V, m, T):
    """Columns of ``T`` orthonormal to ``V[:, :m]`` and each other (CGS2), dependent ones out."""
    keep = []
    for j in range(T.shape[1]):
        t = T[:, j].copy()
        nt0 = safe_norm(t)
        if not (nt0 > 0) or not math.isfinite(nt0):
            continue
        t /= nt0
        basis = [V[:, :m]] + ([np.column_stack(keep)] if keep else [])
        for _ in range(2):
            for Bk in basis:
                t -= Bk @ (Bk.T @ t)
        nt = safe_norm(t)
        if nt > 1e-3:
            keep.append(t / nt)
    return np.column_stack(keep) if keep else np.empty((V.shape[0], 0))


def _davidson(matmat, N, precond, *, tol, V0, W0, maxiter, block, ncv, keep, rng,
              product_rounding, counts):
    """Smallest eigenpair by generalized Davidson with a fixed preconditioner (module docstring).

    ``V0`` (``N x k0``, orthonormal) starts the basis; ``W0`` is ``K V0``
    when already known (None otherwise).  ``counts`` (a dict with
    ``matvecs`` and ``passes``) is updated in place.  Returns a dict like
    :func:`pl_toolkit._lanczos.thick_restart_lanczos`.
    """
    sqrt_tol = math.sqrt(tol)
    ncv = max(2 * block + 1, min(ncv, N))
    keep = max(1, min(keep, ncv - block))
    V = np.empty((N, ncv), order="F")
    W = np.empty((N, ncv), order="F")
    S = np.zeros((ncv, ncv))       # V^T W, kept column by column
    ex = None                      # the basis products are stored as K V / 2**ex
    anorm = 0.0                    # estimate of ||K|| / 2**ex
    m = 0

    def run(B):
        nonlocal ex, anorm
        raw = matmat(B)
        counts["matvecs"] += B.shape[1]
        counts["passes"] += 1
        top = max(safe_norm(raw[:, j]) for j in range(raw.shape[1]))
        if top > 0 and (ex is None or math.ldexp(top, -ex) > _RESCALE * max(anorm, 1e-300)):
            # (re)set the scale to the largest product seen; exact rescaling
            new_ex = math.frexp(top)[1]
            if ex is not None:
                f = math.ldexp(1.0, ex - new_ex)
                W[:, :m] *= f
                S[:m, :m] *= f
                anorm *= f
            ex = new_ex
        if ex is None:
            ex = 0
        anorm = max(anorm, math.ldexp(top, -ex))
        return np.ldexp(raw, -ex)

    def append(B, KB):
        nonlocal m
        k = B.shape[1]
        V[:, m:m + k] = B
        W[:, m:m + k] = KB
        h = V[:, :m + k].T @ W[:, m:m + k]
        S[:m + k, m:m + k] = h
        S[m:m + k, :m + k] = h.T
        m += k

    if W0 is None:
        append(V0, run(V0))
    else:
        top = max(safe_norm(W0[:, j]) for j in range(W0.shape[1]))
        ex = math.frexp(top)[1] if top > 0 else 0
        anorm = math.ldexp(top, -ex)
        append(V0, np.ldexp(W0, -ex))
    status = "maxiter"
    theta, rho, gap, x = np.nan, np.inf, np.inf, V0[:, 0]
    while True:
        th, Y = np.linalg.eigh(0.5 * (S[:m, :m] + S[:m, :m].T))
        anorm = max(anorm, float(np.max(np.abs(th))))
        nb = min(block, m)
        X_r = V[:, :m] @ Y[:, :nb]
        R = W[:, :m] @ Y[:, :nb] - X_r * th[:nb]
        theta = float(th[0])
        x = X_r[:, 0]
        rho = safe_norm(R[:, 0])
        gap = float(th[1] - th[0]) if m > 1 else np.inf
        estimate = _kato_temple(rho, gap) if m > 1 else rho
        floor = rounding_floor(N, anorm, theta, product_rounding)
        target = max(tol * abs(theta), floor)
        ok = estimate <= target and rho <= max(sqrt_tol * abs(theta), target)
        if ok or m >= N:
            status = "tolerance" if tol * abs(theta) >= floor else "rounding"
            break
        if counts["matvecs"] >= maxiter:
            status = "maxiter"
            break
        nb = min(nb, maxiter - counts["matvecs"])
        T = precond(R[:, :nb])
        if m + nb > ncv:
            # thick restart: keep the smallest Ritz vectors (V^T W is their Ritz values)
            kk = min(keep, m)
            V[:, :kk] = V[:, :m] @ Y[:, :kk]
            W[:, :kk] = W[:, :m] @ Y[:, :kk]
            S[:] = 0.0
            S[np.arange(kk), np.arange(kk)] = th[:kk]
            m = kk
        Tn = _orthonormalize(V, m, T)
        if Tn.shape[1] == 0:
            # T r lies in the basis: continue with a random direction
            Tn = _orthonormalize(V, m, rng.standard_normal((N, 1)))
            if Tn.shape[1] == 0:
                status = "tolerance" if tol * abs(theta) >= floor else "rounding"
                break
        append(Tn, run(Tn))
    return dict(vector=x, ex=ex, anorm=anorm, status=status, gap=gap)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------
def _check_model(model):
    if isinstance(model, (FeatureModel, NystromModel)):
        return model
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    return model


def deflated_lambda_min(op, X=None, tol=1e-8, v0=None, maxiter=None, *, block=None,
                        model="auto", ncv=None, keep=None, seed=0, product_rounding=None):
    """Smallest eigenvalue of the empirical NTK, preconditioned by its cheap low-order part.

    Parameters
    ----------
    op : NTKOperator or LinearOperator or ndarray
        The NTK, matrix-free (:func:`pl_toolkit.ntk_operator`), or any
        symmetric positive semidefinite operator of shape ``(n d2, n d2)``
        whose top lies near ``span[1, X] (x) I_{d2}``.
    X : array_like of shape (n, d0), optional
        The data; for an :class:`~pl_toolkit.ntk.NTKOperator` its own
        inputs (the default), for any other operator required.
    tol : float, default 1e-8
        Relative tolerance on the eigenvalue (the test of
        :func:`pl_toolkit.lambda_min`).
    v0 : array_like of shape (n d2,), optional
        Start vector (warm start).
    maxiter : int, optional
        Maximum number of operator products, those of the model included
        (default ``max(20 n d2, 1000)``); the final check adds one.
    block : int, optional
        Vectors added to the basis per step, applied as one block product
        (default 1: the fewest products; larger blocks make fewer passes).
    model : {"auto", "features", "nystrom"} or FeatureModel or NystromModel
        The preconditioner (module docstring): ``"features"`` (an
        :class:`~pl_toolkit.ntk.NTKOperator` only; no products) or
        ``"nystrom"`` (a block product with ``orth([1, X]) (x) I_{d2}`` and
        one more product).  ``"auto"``: ``"features"`` for an
        :class:`~pl_toolkit.ntk.NTKOperator`, else ``"nystrom"``.  A model
        built before (:func:`feature_model`, :func:`nystrom_model`) is used
        as it is (its products are not counted here).
    ncv : int, optional
        Basis size (default ``min(n d2, 120)``).
    keep : int, optional
        Ritz vectors kept at a restart (default ``min(40, ncv // 3)``).
    seed : int, default 0
        Seed of the random start vector and of the Nystrom model's probe.
    product_rounding : float, optional
        ``c`` with ``||fl(K x) - K x|| <= c eps ||K|| ||x||`` (default
        ``sqrt(n d2)``); sets the rounding floor.

    Returns
    -------
    DeflatedResult
        An :class:`~pl_toolkit.spectrum.EigResult` (``method=
        "preconditioned-davidson"``) with ``value``, ``vector``,
        ``residual`` and ``error_bound = residual + floor`` measured with
        ``op`` itself, ``matvecs`` (every product), ``passes`` (operator
        calls), ``setup_matvecs``, ``model``, ``rank`` and ``setup_flops``.

    Raises
    ------
    ValueError
        Bad ``op``, ``X``, ``tol``, ``v0``, ``maxiter``, ``block``,
        ``model``, ``ncv`` or ``keep``, or a product with NaN or Inf.

    Warns
    -----
    ConvergenceWarning
        If the tolerance was not reached (``maxiter``, or below the
        rounding floor).

    Notes
    -----
    ``lambda_min`` of the empirical NTK ``K = J J^T`` is ``sigma_min`` of
    the adjoint Jacobian squared (Definition 1, Lemma 1, eq. 18 of the
    paper); ``4 lambda_min(K)`` is the PL constant of the loss.  The
    preconditioner removes the large eigenvalues of the low-order Hermite
    terms (``c_0^2 1 1^T`` and ``c_1^2 X X^T``, Section 4) without
    computing their eigenvectors; the value and the bound are those of a
    Rayleigh quotient of ``K`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram, ntk_operator
    >>> from pl_toolkit._ntk_deflation import deflated_lambda_min
    >>> X = np.random.default_rng(0).standard_normal((300, 20))
    >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> net = ShallowNet.init(20, 400, init="he", seed=0)
    >>> r = deflated_lambda_min(ntk_operator(net, X))
    >>> exact = np.linalg.eigvalsh(ntk_gram(net, X))[0]
    >>> r.method, r.model, r.converged, bool(abs(r.value - exact) <= r.error_bound)
    ('preconditioned-davidson', 'features', True, True)
    >>> bool(r.matvecs < 100), r.setup_matvecs
    (True, 0)
    """
    model = _check_model(model)
    tol = check_positive_float(tol, "tol")
    if isinstance(op, np.ndarray):
        A = as_float_array(op, "op", ndim=2)
        op = aslinearoperator(A)
    if not isinstance(op, LinearOperator):
        raise ValueError(f"op must be an NTKOperator, a LinearOperator or an array, "
                         f"got {type(op).__name__}")
    if len(op.shape) != 2 or op.shape[0] != op.shape[1] or op.shape[0] == 0:
        raise ValueError(f"op must be square and non-empty, got shape {op.shape}")
    N = int(op.shape[0])
    is_ntk = isinstance(op, NTKOperator)
    if X is None:
        if not is_ntk:
            raise ValueError("X is required unless op is an NTKOperator")
        X = op.X
    X = as_float_array(X, "X", ndim=2)
    n = X.shape[0]
    if N % n:
        raise ValueError(f"X has {n} rows, which do not divide the operator's size {N}")
    if is_ntk and X.shape != op.X.shape:
        raise ValueError(f"X has shape {X.shape}, but the operator's data has shape "
                         f"{op.X.shape}")
    d2 = N // n
    if model == "auto":
        model = "features" if is_ntk else "nystrom"
    if isinstance(model, str) and model == "features" and not is_ntk:
        raise ValueError("model='features' needs an NTKOperator (it reads the network)")
    v0 = check_v0(v0, N)
    if maxiter is None:
        maxiter = max(20 * N, 1000)
    maxiter = check_positive_int(maxiter, "maxiter")
    block = 1 if block is None else check_positive_int(block, "block")
    ncv = min(N, DEFAULT_NCV) if ncv is None else check_positive_int(ncv, "ncv")
    keep = min(DEFAULT_KEEP, max(1, ncv // 3)) if keep is None else check_positive_int(keep,
                                                                                         "keep")
    if keep >= max(ncv, 2):
        raise ValueError(f"keep must be smaller than ncv = {ncv}, got {keep}")
    if product_rounding is not None:
        product_rounding = check_positive_float(product_rounding, "product_rounding",
                                                allow_zero=True)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    counts = dict(matvecs=0, passes=0)

    def matmat(B):
        Y = np.asarray(op.matmat(np.asfortranarray(B)), dtype=np.float64).reshape(N, -1)
        if not np.all(np.isfinite(Y)):
            raise ValueError("the operator returned NaN or Inf in a product")
        return Y

    def counted(B):
        Y = matmat(B)
        counts["matvecs"] += B.shape[1]
        counts["passes"] += 1
        return Y

    W0 = None
    if not isinstance(model, str):
        precond = model
        model = "features" if isinstance(model, FeatureModel) else "nystrom"
        size = precond.n * precond.d2 if model == "features" else precond.U.shape[0]
        if size != N:
            raise ValueError(f"the given model has the wrong size for an operator of size {N}")
        start = rng.standard_normal((N, 1)) if v0 is None else v0[:, None]
    elif model == "features":
        precond = feature_model(op)
        start = rng.standard_normal((N, 1)) if v0 is None else v0[:, None]
    else:
        Omega = _cheap_subspace(X, d2)
        if maxiter <= Omega.shape[1] + 1:
            raise ValueError(f"maxiter = {maxiter} does not leave a product after the Nystrom "
                             f"model's {Omega.shape[1] + 1}")
        precond, start, Kstart = nystrom_model(counted, Omega, rng)
        start = start[:, None]
        W0 = Kstart[:, None]
        if v0 is not None:
            start, W0 = v0[:, None], None
    setup = counts["matvecs"]
    V0 = start / safe_norm(start[:, 0])
    out = _davidson(matmat, N, precond.apply, tol=tol, V0=V0, W0=W0, maxiter=maxiter,
                    block=block, ncv=ncv, keep=keep, rng=rng, product_rounding=product_rounding,
                    counts=counts)
    x = out["vector"] / safe_norm(out["vector"])
    Kx = matmat(x[:, None])[:, 0]
    counts["matvecs"] += 1
    counts["passes"] += 1
    value = float(x @ Kx)
    residual = safe_norm(Kx - value * x)
    anorm = max(ldexp(out["anorm"], out["ex"] or 0), safe_norm(Kx))
    floor = rounding_floor(N, anorm, value, product_rounding) + N * ETA
    status = out["status"]
    if status == "tolerance" and tol * abs(value) < floor:
        status = "rounding"
    estimate = max(_kato_temple(residual, ldexp(out["gap"], out["ex"] or 0)), floor)
    res = DeflatedResult(value=value, vector=x, residual=residual, matvecs=counts["matvecs"],
                         converged=status == "tolerance", method="preconditioned-davidson",
                         error_bound=residual + floor, reason=status, error_estimate=estimate,
                         passes=counts["passes"], setup_matvecs=setup, model=model,
                         rank=int(precond.rank), setup_flops=float(precond.setup_flops))
    if not res.converged:
        warn_unconverged(res, tol, "preconditioned Davidson", f"{res.matvecs} products")
    return res
