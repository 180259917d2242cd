"""A certified lower bound on ``lambda_min`` of the exact empirical NTK.

:func:`ntk_lambda_min_certified` forms the NTK of the stored weights and
data in floating point, bounds its rounding error entrywise, and lowers the
certified bound of the stored matrix (:func:`pl_toolkit.lambda_min_certified`)
by the spectral norm of that error; ``method="arb"`` forms the NTK in ball
arithmetic (python-flint, small ``n`` only) and encloses its eigenvalues
rigorously.

The PL constant of the loss ``h`` along training is ``4 lambda_min(K)``, so
a certified ``L > 0`` certifies the PL inequality ``||grad h||^2 >= 4 L h``
at the stored weights.
"""

import math
from dataclasses import dataclass

import numpy as np

from ._ball import SAFETY, U, arb_lambda_min, gamma, round_down
from ._features import ntk_nonfinite_error
from .activations import NoForm, ball_function, forms_of
from .certified import lambda_min_certified
from .network import check_layers, check_net

__all__ = ["ACTIVATION_ULPS", "NTKCertifiedBound", "ntk_lambda_min_certified"]

#: Assumed accuracy of the activation kernels, in units of the roundoff (see
#: :func:`ntk_lambda_min_certified`, assumption A2).
ACTIVATION_ULPS = 16.0


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
    return best * SAFETY * (1.0 + 4.0 * (n + 2) * U)


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
    kap = ACTIVATION_ULPS * U
    absX = np.abs(X)
    Z = X @ W.T
    EZ = np.abs(X) @ np.abs(W).T
    if net.b1 is not None:
        Z += net.b1
        EZ += np.abs(net.b1)
        EZ *= gamma(d0 + 1)
    else:
        EZ *= gamma(d0)
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
            EHH += gamma(d1 + 1) * (rnd + 1.0)
        else:
            EHH += gamma(d1) * rnd
        K += np.kron(HH, np.eye(d2)) if d2 > 1 else HH
        E += np.kron(EHH, np.eye(d2)) if d2 > 1 else EHH
    if use_w:
        EG = pdd * EZ + kap * (2.0 * pd + pdd * absZ)
        # A[a d2 + p] = G[a] o V[p]
        A = (G[:, None, :] * V[None, :, :]).reshape(n * d2, d1)
        absV = np.abs(V)
        EA = ((EG[:, None, :] * absV[None, :, :]).reshape(n * d2, d1) + U * np.abs(A))
        absA = np.abs(A)
        S = A @ A.T
        ES = _sym(EA @ (2.0 * absA + EA).T) + gamma(d1) * (absA @ absA.T)
        XX = X @ X.T
        EXX = absX @ absX.T
        if net.b1 is not None:
            XX += 1.0
            EXX = gamma(d0 + 1) * (EXX + 1.0)
        else:
            EXX *= gamma(d0)
        if d2 > 1:
            ones = np.ones((d2, d2))
            XX = np.kron(XX, ones)
            EXX = np.kron(EXX, ones)
        P = XX * S
        EP = np.abs(XX) * ES + EXX * (np.abs(S) + ES) + U * np.abs(P)
        K += P
        E += EP
    if use_w and use_v:
        E += U * np.abs(K)            # rounding of the final sum
    return K, E * SAFETY


def _arb_activation(activation):
    """``(phi, phi')`` on balls: the ball forms of the activation table, compiled for flint."""
    import flint

    row = forms_of(activation)
    ball = row.ball if row is not None else NoForm("user-registered activations have none")
    if isinstance(ball, NoForm):
        raise ValueError(f"net: method='arb' has no ball-arithmetic form of activation "
                         f"{activation.name!r} ({ball.reason})")
    return tuple(ball_function(text, flint.arb) for text in ball)


def _ntk_arb(net, X, layers):
    import flint
    arb, arb_mat = flint.arb, flint.arb_mat
    phi, dphi = _arb_activation(net.activation)

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

    return arb_lambda_min(build, "net")


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
        ``"arb"``: form ``K`` in ball arithmetic (python-flint; the
        built-in activations with a ball form in the activation table,
        all but relu and leaky_relu) and enclose its eigenvalues; fully
        rigorous, for ``n d2`` up to about 100.

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
    check_net(net)
    layers = check_layers(layers)
    X = net.check_data(X)
    if method not in ("cholesky", "arb"):
        raise ValueError(f"method must be 'cholesky' or 'arb', got {method!r}")
    if method == "arb":
        L, mid, high = _ntk_arb(net, X, layers)
        if not (math.isfinite(L) and math.isfinite(high)):
            raise ntk_nonfinite_error(net, X)
        return NTKCertifiedBound(bound=L, matrix_bound=float("nan"),
                                 rounding_allowance=float("nan"), estimate=mid, method="arb",
                                 n=X.shape[0] * net.d2, upper=high)
    with np.errstate(over="ignore", invalid="ignore"):
        K, E = _ntk_with_error(net, X, layers)
    # An NTK or error bound that overflows float64 would give -inf or NaN:
    # refused, naming the argument, never returned.
    if not (np.all(np.isfinite(K)) and np.all(np.isfinite(E))):
        raise ntk_nonfinite_error(net, X)
    cb = lambda_min_certified(K, full_output=True)
    with np.errstate(over="ignore", invalid="ignore"):
        rho = _rho_upper(E)
    bound = round_down(cb.bound - rho)
    if not math.isfinite(bound):
        raise ntk_nonfinite_error(net, X)
    return NTKCertifiedBound(bound=bound, matrix_bound=cb.bound, rounding_allowance=rho,
                             estimate=cb.estimate, method="cholesky", n=K.shape[0])
