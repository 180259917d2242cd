r"""Expected (infinite-width) conjugate kernel and NTK of the shallow network.

For the network ``x -> V phi(W x)`` with ``d2 = 1``, no bias, ``W ~ N(0,
omega1^2)`` (shape ``(d1, d0)``) and ``V ~ N(0, omega2^2)``, the empirical
NTK is (design note, Section 3, "PL / NTK link")

.. math::

    K_{ab} = \sum_r \phi(w_r \cdot x_a) \phi(w_r \cdot x_b)
           + \sum_r v_r^2 \phi'(w_r \cdot x_a) \phi'(w_r \cdot x_b)
             (x_a \cdot x_b),

a sum of ``d1`` i.i.d. terms.  Per unit width its expectation is

.. math::

    E[K] / d_1 = \Sigma + \omega_2^2 (X X^T) \odot \dot\Sigma, \quad
    \Sigma_{ab} = E[\phi(u)\phi(v)], \quad
    \dot\Sigma_{ab} = E[\phi'(u)\phi'(v)],

where ``(u, v) = (w . x_a, w . x_b)`` is bivariate normal with covariance
``omega1^2 [[|x_a|^2, x_a.x_b], [x_a.x_b, |x_b|^2]]`` (rows need not have
unit norm).  ``Sigma`` is also the expected conjugate kernel
``E[phi(X W^T) phi(X W^T)^T] / d1``, whose smallest eigenvalue is the
infinite-width limit of ``mu_Phi^2 / d1`` (Lemma 3, eq. 18).

Three routes compute ``Sigma`` and ``Sigmadot``:

* ``closed_form`` for ReLU and leaky ReLU (arc-cosine kernel of Cho & Saul
  2009), erf (Williams 1997) and the polynomials;
* ``quadrature``: tensor Gauss-Hermite over the bivariate normal, for any
  activation;
* ``series``: Mehler's formula ``Sigma_ab = sum_k h_k(s_a) h_k(s_b)
  rho_ab^k`` with the orthonormal Hermite coefficients ``h_k(s)`` of
  ``x -> phi(s x)``, ``s_a = omega1 |x_a|`` and ``rho_ab`` the cosine of the
  angle between ``x_a`` and ``x_b`` (exact for any norms; truncated).
"""

import math
from typing import NamedTuple

import numpy as np
from scipy.special import roots_hermitenorm

from ._jit import prange, serial_and_parallel
from ._features import (check_scale as _check_scale,
                        gaussian_second_moment as _gaussian_second_moment,
                        normalized_coefficient_matrix as _normalized_coefficient_matrix,
                        phi_dphi_scalar as _phi_dphi)
from .activations import LEAKY_SLOPE as _LEAKY_SLOPE, get_activation
from .hermite import MAX_K
from ._validation import (as_float_array, check_positive_float, check_positive_int,
                          check_result_finite, quiet_overflow)

__all__ = ["InfiniteWidthKernels", "infinite_width_kernels"]

_CLOSED_FORMS = ("relu", "leaky_relu", "erf", "identity", "quadratic")
_METHODS = ("auto", "closed_form", "quadrature", "series")

#: Elements of the ``(pairs, q, q)`` work arrays per chunk of the quadrature.
_CHUNK_ELEMENTS = 2_000_000


class InfiniteWidthKernels(NamedTuple):
    """Expected kernels per unit width (an immutable named tuple).

    Attributes
    ----------
    conjugate : ndarray of shape (n, n2)
        ``Sigma = E[phi(X W^T) phi(X2 W^T)^T] / d1``.
    ntk : ndarray of shape (n, n2)
        ``E[K] / d1 = ntk_first_layer + ntk_second_layer``.
    ntk_first_layer : ndarray of shape (n, n2)
        ``omega2^2 (X X2^T) o Sigmadot`` (gradient with respect to ``W``).
    ntk_second_layer : ndarray of shape (n, n2)
        ``Sigma`` (gradient with respect to ``V``); a copy of
        ``conjugate``.

    Examples
    --------
    For the identity activation ``Sigma = omega1^2 X X^T`` and
    ``Sigmadot = 1``, so each field is a known multiple of ``X X^T``:

    >>> import numpy as np
    >>> from pl_toolkit import infinite_width_kernels
    >>> X = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]])
    >>> k = infinite_width_kernels(X, "identity", omega1=2.0, omega2=3.0)
    >>> G = X @ X.T
    >>> bool(np.allclose(k.conjugate, 4 * G)), bool(np.allclose(k.ntk_first_layer, 9 * G))
    (True, True)
    >>> bool(np.allclose(k.ntk, k.ntk_first_layer + k.ntk_second_layer))
    True
    """

    conjugate: np.ndarray
    ntk: np.ndarray
    ntk_first_layer: np.ndarray
    ntk_second_layer: np.ndarray


# --------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------
def _closed_form(name, Caa, Cbb, Cab, rho):
    """``(Sigma, Sigmadot)`` from the covariances; broadcasting arrays."""
    if name in ("relu", "leaky_relu"):
        theta = np.arccos(rho)
        sq = np.sqrt(Caa * Cbb)
        relu_s = sq / (2.0 * math.pi) * (np.sin(theta) + (math.pi - theta) * np.cos(theta))
        relu_sd = (math.pi - theta) / (2.0 * math.pi)
        if name == "relu":
            return relu_s, relu_sd
        a = _LEAKY_SLOPE
        # phi = a x + (1 - a) relu(x); E[u relu(v)] = E[uv] / 2 by symmetry.
        return a * Cab + (1.0 - a) ** 2 * relu_s, a + (1.0 - a) ** 2 * relu_sd
    if name == "erf":
        da = 1.0 + 2.0 * Caa
        db = 1.0 + 2.0 * Cbb
        arg = np.clip(2.0 * Cab / np.sqrt(da * db), -1.0, 1.0)
        det = np.maximum(da * db - 4.0 * Cab * Cab, 0.0)
        return 2.0 / math.pi * np.arcsin(arg), 4.0 / math.pi / np.sqrt(det)
    if name == "identity":
        return Cab + 0.0 * rho, np.ones_like(rho)
    if name == "quadratic":
        # Isserlis: E[u^2 v^2] = Caa Cbb + 2 Cab^2; phi' = 2x.
        return Caa * Cbb + 2.0 * Cab * Cab, 4.0 * Cab + 0.0 * rho
    raise AssertionError(name)


# --------------------------------------------------------------------------
# Tensor Gauss-Hermite quadrature over the bivariate normal
# --------------------------------------------------------------------------
def _pairs(n, n2, symmetric):
    """Row-major index pairs (upper triangle with diagonal if symmetric)."""
    if symmetric:
        return np.triu_indices(n)
    ia, ib = np.indices((n, n2))
    return ia.ravel(), ib.ravel()


def _gh_pairs_kernel(code, ia, ib, s_b, rho, z, w, Hu, Gu, sig, sigd):
    """Fused tensor Gauss-Hermite rule for built-in activations, one pair per step."""
    q = z.size
    for p in prange(ia.size):
        a = ia[p]
        b = ib[p]
        r = rho[a, b]
        tau = math.sqrt(max(1.0 - r * r, 0.0))
        s = s_b[b]
        acc0 = 0.0
        acc1 = 0.0
        for i in range(q):
            m = s * r * z[i]
            t0 = 0.0
            t1 = 0.0
            for j in range(q):
                h, g = _phi_dphi(code, m + s * tau * z[j])
                t0 += w[j] * h
                t1 += w[j] * g
            acc0 += Hu[a, i] * t0
            acc1 += Gu[a, i] * t1
        sig[p] = acc0
        sigd[p] = acc1


_GH_PAIRS = serial_and_parallel(_gh_pairs_kernel)


def _quadrature(act, s_a, s_b, rho, ia, ib, q, parallel):
    """``Sigma`` and ``Sigmadot`` on the pairs ``(ia[p], ib[p])``.

    ``u = s_a z1``, ``v = s_b (rho z1 + sqrt(1 - rho^2) z2)`` with
    ``z1, z2`` independent standard normals, integrated by the ``q``-point
    probabilists' Gauss-Hermite rule in each variable.  Built-in
    activations run a fused numba kernel; user activations go through
    NumPy in chunks of bounded memory.
    """
    z, w = roots_hermitenorm(q)
    w = w / math.sqrt(2.0 * math.pi)
    U = np.ascontiguousarray(s_a[:, None] * z[None, :])
    Hu, Gu = act.phi_dphi(U, parallel=parallel)
    Hu *= w
    Gu *= w
    npairs = ia.size
    sig = np.empty(npairs)
    sigd = np.empty(npairs)
    if act.code >= 0:
        _GH_PAIRS[bool(parallel)](act.code, ia.astype(np.int64), ib.astype(np.int64), s_b, rho,
                                  z, w, Hu, Gu, sig, sigd)
        return sig, sigd
    step = max(1, _CHUNK_ELEMENTS // (q * q))
    for start in range(0, npairs, step):
        sl = slice(start, min(start + step, npairs))
        a, b = ia[sl], ib[sl]
        r = rho[a, b]
        tau = np.sqrt(np.maximum(1.0 - r * r, 0.0))
        sb = s_b[b]
        # V[p, i, j] = s_b rho z_i + s_b tau z_j
        V = ((sb * r)[:, None, None] * z[None, :, None]
             + (sb * tau)[:, None, None] * z[None, None, :])
        V = V.reshape(a.size, q * q)
        H, G = act.phi_dphi(V, parallel=parallel)
        Hj = H.reshape(a.size, q, q) @ w
        Gj = G.reshape(a.size, q, q) @ w
        sig[sl] = np.einsum("pi,pi->p", Hu[a], Hj)
        sigd[sl] = np.einsum("pi,pi->p", Gu[a], Gj)
    return sig, sigd


# --------------------------------------------------------------------------
# Mehler series
# --------------------------------------------------------------------------
#: Relative size of the Cauchy-Schwarz tail bound at which a series stops.
_SERIES_TOL = 1e-17


def _mehler_kernel(A, B, rho, na, nb, symmetric, tol, out):
    """``out[a, b] = sum_k A[a, k] B[b, k] rho[a, b]^k``, stopped by a tail bound.

    The sum over ``k`` stops once ``|rho|^(k+1) na[a] nb[b] <= tol``: since
    ``sum_k A[a, k]^2 = na[a]^2`` (Parseval), Cauchy-Schwarz bounds the
    remaining tail by that quantity.  Otherwise all columns are used.  In
    the symmetric case only ``b > a`` is computed.
    """
    n = A.shape[0]
    n2 = B.shape[0]
    K = A.shape[1]
    for a in prange(n):
        start = a + 1 if symmetric else 0
        for b in range(start, n2):
            r = rho[a, b]
            bound = na[a] * nb[b]
            acc = 0.0
            p = 1.0
            for k in range(K):
                acc += A[a, k] * B[b, k] * p
                p *= r
                if abs(p) * bound <= tol:
                    break
            out[a, b] = acc


_MEHLER = serial_and_parallel(_mehler_kernel)


def _group_scales(s):
    """Representatives of scales equal to within 4 eps (relative), and the map back.

    Unit-norm rows have norms ``1 +- eps``; grouping them lets the series
    compute one coefficient vector instead of ``n``.
    """
    order = np.argsort(s, kind="stable")
    ss = s[order]
    new = np.ones(ss.size, dtype=bool)
    new[1:] = ss[1:] > ss[:-1] * (1.0 + 4.0 * np.finfo(np.float64).eps)
    group = np.cumsum(new) - 1
    inv = np.empty(s.size, dtype=np.int64)
    inv[order] = group
    return ss[new], inv


def _coefficients_by_scale(act, K, s, derivative):
    uniq, inv = _group_scales(s)
    return np.ascontiguousarray(_normalized_coefficient_matrix(act, K, uniq, derivative)[inv])


def _second_moment_by_scale(act, s, derivative):
    uniq, inv = _group_scales(s)
    return _gaussian_second_moment(act, uniq, derivative)[inv]


def _series(act, s_a, s_b, rho, K, symmetric, parallel):
    """Mehler series for ``Sigma`` and ``Sigmadot``."""
    outs = []
    for derivative in (0, 1):
        A = _coefficients_by_scale(act, K, s_a, derivative)
        B = A if symmetric else _coefficients_by_scale(act, K, s_b, derivative)
        ma = _second_moment_by_scale(act, s_a, derivative)
        mb = ma if symmetric else _second_moment_by_scale(act, s_b, derivative)
        na = np.sqrt(np.maximum(ma, 0.0))
        nb = np.sqrt(np.maximum(mb, 0.0))
        out = np.zeros_like(rho)
        tol = _SERIES_TOL * max(float(np.max(na)) * float(np.max(nb)), np.finfo(float).tiny)
        _MEHLER[bool(parallel)](A, B, rho, na, nb, bool(symmetric), tol, out)
        if symmetric:
            out = out + out.T
            d = np.arange(rho.shape[0])
            out[d, d] = ma  # exact E[f(s_a g)^2] instead of the series at rho = 1
        outs.append(out)
    return outs[0], outs[1]


# --------------------------------------------------------------------------
# Public function
# --------------------------------------------------------------------------
@quiet_overflow
def infinite_width_kernels(X, activation, omega1, omega2, X2=None, *, method="auto",
                           quadrature_nodes=64, series_terms=300, parallel=True):
    """Expected conjugate kernel and NTK per unit width.

    Parameters
    ----------
    X : array_like of shape (n, d0)
        Data, one sample per row; finite.  Rows need not have unit norm.
    activation : str or Activation
        Registered activation.
    omega1, omega2 : float
        Standard deviations of ``W`` and ``V`` at initialization; positive.
    X2 : array_like of shape (n2, d0), optional
        Second data set for cross kernels; default ``X`` (the result is
        then exactly symmetric).
    method : {'auto', 'closed_form', 'quadrature', 'series'}, default 'auto'
        ``'auto'`` uses the closed form when there is one (relu,
        leaky_relu, erf, identity, quadratic) and ``'series'``
        otherwise (more accurate and much faster than ``'quadrature'``;
        see Notes).
    quadrature_nodes : int, default 64
        Gauss-Hermite nodes per dimension (``'quadrature'``).
    series_terms : int, default 300
        Highest Hermite index kept (``'series'``; at most 300).  Each
        entry's sum stops earlier once its tail bound is below ``1e-17``
        (see Notes).
    parallel : bool, default True
        Evaluate the activation with the row-parallel kernel.

    Returns
    -------
    InfiniteWidthKernels
        Named tuple ``(conjugate, ntk, ntk_first_layer,
        ntk_second_layer)`` of ``(n, n2)`` arrays.

    Raises
    ------
    ValueError
        On non-finite or mis-shaped data, non-positive ``omega1`` or
        ``omega2``, an unknown activation or method, ``'closed_form'``
        for an activation without one, bad node/term counts, or when finite
        inputs overflow float64 (the message names the largest input).

    Notes
    -----
    With ``(u, v)`` bivariate normal of covariance ``omega1^2
    [[|x_a|^2, x_a.x_b], [x_a.x_b, |x_b|^2]]``:
    ``conjugate = ntk_second_layer = Sigma``, ``Sigma_ab = E[phi(u)
    phi(v)]``; ``ntk_first_layer = omega2^2 (X X2^T) o Sigmadot``,
    ``Sigmadot_ab = E[phi'(u) phi'(v)]``; ``ntk = E[K] / d1`` for the
    empirical NTK ``K`` of the design note (Section 3, ``d2 = 1``).  For
    unit rows ``Sigma = sum_k c_k(omega1)^2 / k! (X X^T)^{o k}`` (Section
    4), whose smallest eigenvalue is at least ``c_t^2 / t!
    sigma_min(X^{*t})^2``.

    Closed forms: ReLU ``Sigma = s_a s_b (sin theta + (pi - theta) cos
    theta) / (2 pi)``, ``Sigmadot = (pi - theta) / (2 pi)`` (Cho & Saul
    2009; ``theta`` the angle between ``x_a`` and ``x_b``, ``s = omega1
    |x|``); leaky ReLU by linearity; erf ``Sigma = (2/pi) arcsin(2 C_ab /
    sqrt((1 + 2 C_aa)(1 + 2 C_bb)))``, ``Sigmadot = (4/pi) / sqrt((1 + 2
    C_aa)(1 + 2 C_bb) - 4 C_ab^2)`` (Williams 1997), ``C = omega1^2 X
    X2^T``; identity ``Sigma = C``, ``Sigmadot = 1``; quadratic ``Sigma =
    C_aa C_bb + 2 C_ab^2``, ``Sigmadot = 4 C_ab``.

    Series (the default without a closed form) uses Mehler's formula
    ``Sigma_ab = sum_k h_k(s_a) h_k(s_b) rho_ab^k`` with the orthonormal
    coefficients ``h_k(s)`` of ``x -> phi(s x)`` from
    :func:`pl_toolkit.hermite_coefficients` (exact for any row norms;
    rows whose scales agree to 4 eps share one coefficient vector).  Each
    entry's sum stops once the Cauchy-Schwarz tail bound ``|rho|^(k+1)
    sqrt(E[phi(s_a g)^2] E[phi(s_b g)^2])`` is below ``1e-17`` times the
    largest such scale, else at ``k = K``; cost ``O(n n2 k_eff)``.  On the
    diagonal of the symmetric case the exact ``E[phi(s_a g)^2]`` and
    ``E[phi'(s_a g)^2]`` replace the series at ``rho = 1``.  Measured
    against ``mpmath`` and the closed forms: ``1e-15`` to ``1e-14`` for
    the smooth built-ins with ``s <= 2``, including off-diagonal pairs
    with ``rho = 0.99995``.  Only a non-smooth activation with ``|rho|``
    near 1 truncates visibly (ReLU ``Sigmadot`` at ``rho = 0.99995``: 3e-7;
    its closed form is used by default).

    Quadrature writes ``u = s_a z1``, ``v = s_b (rho z1 + sqrt(1 - rho^2)
    z2)`` and applies the ``q``-point Gauss-Hermite rule in ``z1`` and
    ``z2`` (a fused numba kernel over pairs for built-in activations,
    NumPy chunks of bounded memory otherwise; symmetric case: upper
    triangle only).  Cost ``O(n n2 q^2)`` activation evaluations (``n =
    n2 = 500``, ``q = 64``: 1e9, halved in the symmetric case; a timing is
    on the documentation's performance page).  Gauss-Hermite resolves
    ``phi(s z)`` only if ``s`` is small against the node spacing: with
    ``q = 64`` the error is below ``1e-15`` for ``s <= 0.5``, but for
    ``s = 1`` it is ``3e-9`` (tanh ``Sigma``) and ``5e-8`` (tanh
    ``Sigmadot``), and at ``s = 2`` it reaches ``1e-4``; kinks (ReLU)
    converge only algebraically.  It serves as the independent route in
    the tests.

    Rows of zero norm give ``u = 0``; their entries are
    ``phi(0) E[phi(v)]`` (and the same with ``phi'``) for every method.
    Pass ``X2=None`` (not ``X2=X``) for the symmetric kernel: only then is
    ``rho_aa = 1`` set exactly and the diagonal computed in closed form.
    Near-duplicate rows make ``rho`` uncertain by about ``eps`` and the
    ReLU ``Sigmadot = (pi - arccos rho) / (2 pi)`` by about ``sqrt(eps) /
    pi ~ 5e-9`` (infinite slope at ``rho = 1``), for every method.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import infinite_width_kernels
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> k = infinite_width_kernels(X, "relu", 1.0, 1.0)
    >>> k.conjugate.round(4).tolist()  # 1/2 on the diagonal, 1/(2 pi) off
    [[0.5, 0.1592], [0.1592, 0.5]]
    >>> k.ntk.round(4).tolist()
    [[1.0, 0.1592], [0.1592, 1.0]]
    """
    act = get_activation(activation)
    X = as_float_array(X, "X", ndim=2)
    symmetric = X2 is None
    if symmetric:
        X2 = X
    else:
        X2 = as_float_array(X2, "X2", ndim=2)
        if X2.shape[1] != X.shape[1]:
            raise ValueError(f"X2 must have {X.shape[1]} columns like X, got shape {X2.shape}")
    omega1 = check_positive_float(omega1, "omega1")
    omega2 = check_positive_float(omega2, "omega2")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}")
    has_closed = act.code >= 0 and act.name in _CLOSED_FORMS
    if method == "closed_form" and not has_closed:
        raise ValueError(f"method 'closed_form' is not available for activation {act.name!r}; "
                         f"closed forms exist for {', '.join(_CLOSED_FORMS)}")
    if method == "auto":
        method = "closed_form" if has_closed else "series"
    q = check_positive_int(quadrature_nodes, "quadrature_nodes")
    K = check_positive_int(series_terms, "series_terms", minimum=0)
    if K > MAX_K:
        raise ValueError(f"series_terms must be <= {MAX_K}, got {K}")

    P = check_result_finite(X @ X2.T,
                            "the data Gram X X^T" if symmetric else "the data Gram X X2^T",
                            [("X", X)] + ([] if symmetric else [("X2", X2)]))
    if symmetric:
        P = 0.5 * (P + P.T)
        na = np.sqrt(np.maximum(np.diag(P), 0.0))
        nb = na
    else:
        na = np.linalg.norm(X, axis=1)
        nb = np.linalg.norm(X2, axis=1)
    denom = np.outer(na, nb)
    zero = denom == 0.0
    rho = np.clip(np.divide(P, denom, out=np.zeros_like(P), where=~zero), -1.0, 1.0)
    if symmetric:
        np.fill_diagonal(rho, np.where(na > 0, 1.0, 0.0))
    s_a = omega1 * na
    s_b = omega1 * nb
    if method == "series" or np.any(zero):
        _check_scale(max(float(np.max(s_a)), float(np.max(s_b))), "omega1 * max row norm")

    if method == "closed_form":
        Caa = (s_a * s_a)[:, None]
        Cbb = (s_b * s_b)[None, :]
        sig, sigd = _closed_form(act.name, Caa, Cbb, (omega1 * omega1) * P, rho)
        sig = np.array(np.broadcast_to(sig, P.shape))
        sigd = np.array(np.broadcast_to(sigd, P.shape))
    elif method == "quadrature":
        ia, ib = _pairs(X.shape[0], X2.shape[0], symmetric)
        vals, dvals = _quadrature(act, s_a, s_b, rho, ia, ib, q, parallel)
        sig = np.empty(P.shape)
        sigd = np.empty(P.shape)
        sig[ia, ib] = vals
        sigd[ia, ib] = dvals
        if symmetric:
            sig[ib, ia] = vals
            sigd[ib, ia] = dvals
    else:
        sig, sigd = _series(act, s_a, s_b, rho, K, symmetric, parallel)

    if np.any(zero):
        # u = 0 (or v = 0): the expectation factorizes.
        phi0 = float(act.phi(np.zeros(1))[0])
        dphi0 = float(act.dphi(np.zeros(1))[0])
        mean_a = _normalized_coefficient_matrix(act, 0, s_a, 0)[:, 0]
        mean_b = _normalized_coefficient_matrix(act, 0, s_b, 0)[:, 0]
        dmean_a = _normalized_coefficient_matrix(act, 0, s_a, 1)[:, 0]
        dmean_b = _normalized_coefficient_matrix(act, 0, s_b, 1)[:, 0]
        za, zb = np.nonzero(zero)
        a_zero = s_a[za] == 0.0
        sig[za, zb] = np.where(a_zero, phi0 * mean_b[zb], mean_a[za] * phi0)
        sigd[za, zb] = np.where(a_zero, dphi0 * dmean_b[zb], dmean_a[za] * dphi0)

    if symmetric:
        sig = 0.5 * (sig + sig.T)
        sigd = 0.5 * (sigd + sigd.T)
    first = (omega2 * omega2) * P * sigd   # a float ** 2 raises OverflowError; * gives inf
    inputs = ([("X", X)] + ([] if symmetric else [("X2", X2)])
              + [("omega1", omega1), ("omega2", omega2)])
    for part, what in ((sig, "the conjugate kernel"), (first, "the NTK's first-layer term"),
                       (sig + first, "the NTK")):
        check_result_finite(part, f"{what} (infinite width)", inputs)
    return InfiniteWidthKernels(conjugate=sig, ntk=sig + first, ntk_first_layer=first,
                                ntk_second_layer=sig.copy())
