"""Tests of pl_toolkit.spectrum: extreme eigenpairs, singular values, tracking.

Every value is compared with an independent route: matrices of known
spectrum ``Q diag(lam) Q^T``, analytic spectra (path Laplacian), full
LAPACK ``eigvalsh`` / ``svdvals`` of the explicit matrix.
"""

import dataclasses

import numpy as np
import pytest
from scipy.special import erfc
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from _tolerances import EPS64, assert_eigenpair, residual_tol, tol

import pl_toolkit
from pl_toolkit import (ConvergenceWarning, EigResult, LambdaMinTracker, ShallowNet,
                        jacobian_singular_values, lambda_max, lambda_min, ntk_gram, sigma_max,
                        sigma_min)


# --------------------------------------------------------------------------
# Test matrices
# --------------------------------------------------------------------------
def known_spectrum(rng, lam):
    n = len(lam)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * lam) @ Q.T
    return 0.5 * (A + A.T), Q


def gelu(z):
    return 0.5 * z * erfc(-z / np.sqrt(2.0))


def gelu_d(z):
    return 0.5 * erfc(-z / np.sqrt(2.0)) + z / np.sqrt(2 * np.pi) * np.exp(-0.5 * z * z)


def closed_form_ntk(X, W, v):
    """Two-layer NTK in NumPy: (X X^T) o (G G^T) + H H^T, G = phi'(X W^T) v."""
    Z = X @ W.T
    H = gelu(Z)
    G = gelu_d(Z) * v
    return (X @ X.T) * (G @ G.T) + H @ H.T


def ntk_problem(rng, n=300, d0=40, d1=120):
    X = rng.standard_normal((n, d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    W = rng.standard_normal((d1, d0)) / np.sqrt(d0)
    v = rng.standard_normal(d1) / np.sqrt(d1)
    return X, W, v


def path_laplacian_op(n):
    """Dirichlet path Laplacian tridiag(-1, 2, -1): eigenvalues 2 - 2 cos(pi k/(n+1))."""
    def mv(x):
        y = 2.0 * x
        y[1:] -= x[:-1]
        y[:-1] -= x[1:]
        return y
    return LinearOperator((n, n), matvec=mv, dtype=np.float64)


def rel(a, b):
    return abs(a - b) / abs(b)


# --------------------------------------------------------------------------
# lambda_min / lambda_max
# --------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 7, 60])
def test_dense_known_spectrum(rng, n):
    lam = np.sort(rng.uniform(-3.0, 5.0, n))
    A, _ = known_spectrum(rng, lam)
    lo, hi = lambda_min(A), lambda_max(A)
    scale = max(abs(lam[0]), abs(lam[-1]))
    np.testing.assert_allclose(lo.value, lam[0], rtol=0, atol=residual_tol(n, scale))
    np.testing.assert_allclose(hi.value, lam[-1], rtol=0, atol=residual_tol(n, scale))
    assert lo.method == hi.method == "dense" and lo.converged and lo.matvecs == 0
    assert_eigenpair(A, lo.value, lo.vector)
    assert_eigenpair(A, hi.value, hi.vector)
    np.testing.assert_allclose(lo.residual, np.linalg.norm(A @ lo.vector - lo.value * lo.vector),
                               **tol("same_math"))


def test_lanczos_on_ntk_matches_dense(rng):
    K = closed_form_ntk(*ntk_problem(rng))
    w = np.linalg.eigvalsh(K)
    assert w[-1] / w[0] > 100          # an ill-conditioned test case
    op = aslinearoperator(K)
    lo = lambda_min(op)
    hi = lambda_max(op)
    assert lo.method == "lanczos" and lo.converged and hi.converged
    np.testing.assert_allclose(lo.value, w[0], **tol("iterative_eigen"))
    np.testing.assert_allclose(hi.value, w[-1], **tol("iterative_eigen"))
    # the reported residual is the measured one, and the error estimate holds
    np.testing.assert_allclose(lo.residual, np.linalg.norm(K @ lo.vector - lo.value * lo.vector),
                               rtol=1e-6, atol=residual_tol(K.shape[0], w[-1]))
    assert abs(lo.value - w[0]) <= max(10 * lo.error_bound, residual_tol(K.shape[0], w[-1]))
    # method="lanczos" on an ndarray is the same solver
    lo2 = lambda_min(K, method="lanczos")
    np.testing.assert_allclose(lo2.value, w[0], **tol("iterative_eigen"))


def test_lanczos_path_laplacian_analytic():
    n = 200
    # tol 1e-9: lambda_min / ||A|| = 6e-5, so the rounding floor (~50 eps ||A||)
    # allows ~1.4e-10 relative at best
    lo = lambda_min(path_laplacian_op(n), tol=1e-9, maxiter=20 * n)
    exact = 2.0 - 2.0 * np.cos(np.pi / (n + 1))
    assert lo.converged
    np.testing.assert_allclose(lo.value, exact, rtol=1e-8)
    hi = lambda_max(path_laplacian_op(n))
    np.testing.assert_allclose(hi.value, 2.0 - 2.0 * np.cos(np.pi * n / (n + 1)),
                               **tol("iterative_eigen"))


def test_lanczos_small_operator_exact_after_n_steps(rng):
    # Krylov space of dimension n is the whole space: exact up to rounding.
    # tol=1e-14 relative is below the rounding floor (~21 eps ||A|| = 4e-12):
    # the run stops at the floor, says so, and the value is exact to rounding.
    lam = np.arange(1.0, 31.0) ** 2
    A, _ = known_spectrum(rng, lam)
    with pytest.warns(ConvergenceWarning, match="below the rounding floor"):
        lo = lambda_min(aslinearoperator(A), tol=1e-14)
    assert lo.converged is False and lo.reason == "rounding"
    np.testing.assert_allclose(lo.value, 1.0, rtol=0, atol=residual_tol(30, lam[-1]))
    assert abs(lo.value - 1.0) <= lo.error_bound


def test_warm_start_needs_few_matvecs(rng):
    K = closed_form_ntk(*ntk_problem(rng))
    cold = lambda_min(aslinearoperator(K))
    w, V = np.linalg.eigh(K)
    warm = lambda_min(aslinearoperator(K), v0=V[:, 0] + 1e-6 * rng.standard_normal(K.shape[0]))
    assert warm.converged
    assert warm.matvecs < cold.matvecs / 5
    np.testing.assert_allclose(warm.value, w[0], **tol("iterative_eigen"))


def test_nonconvergence_warns_and_flags(rng):
    K = closed_form_ntk(*ntk_problem(rng))
    with pytest.warns(ConvergenceWarning, match="did not reach"):
        r = lambda_min(aslinearoperator(K), maxiter=15)
    assert r.converged is False
    assert r.matvecs <= 16
    assert np.isfinite(r.value) and r.error_bound > 1e-8 * abs(r.value)


def test_eigresult_is_immutable(rng):
    r = lambda_min(np.diag([2.0, 1.0]))
    assert isinstance(r, EigResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.value = 0.0
    with pytest.raises(ValueError):
        r.vector[0] = 1.0


def test_bad_input():
    A = np.array([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="^A is not symmetric"):
        lambda_min(A)
    with pytest.raises(ValueError, match=r"^A contains NaN at index \(0, 1\)"):
        lambda_min(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="^A must be square"):
        lambda_min(np.ones((2, 3)))
    with pytest.raises(ValueError, match="^method"):
        lambda_min(np.eye(2), method="arpack")
    with pytest.raises(ValueError, match="^tol"):
        lambda_min(np.eye(2), tol=-1.0)
    with pytest.raises(ValueError, match="^maxiter"):
        lambda_min(np.eye(2), maxiter=0)
    with pytest.raises(ValueError, match="^v0 must have length 2"):
        lambda_min(aslinearoperator(np.eye(2)), v0=np.ones(3))
    with pytest.raises(ValueError, match="^method='dense' needs an ndarray"):
        lambda_min(aslinearoperator(np.eye(2)), method="dense")
    bad = LinearOperator((3, 3), matvec=lambda x: np.full(3, np.nan), dtype=np.float64)
    with pytest.raises(ValueError, match="^A returned NaN"):
        lambda_min(bad)


# --------------------------------------------------------------------------
# singular values
# --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(40, 25), (25, 40), (30, 30)])
def test_sigma_known(rng, shape):
    p, q = shape
    k = min(p, q)
    s = np.geomspace(1e-3, 10.0, k)
    U, _ = np.linalg.qr(rng.standard_normal((p, k)))
    V, _ = np.linalg.qr(rng.standard_normal((q, k)))
    A = (U * s) @ V.T
    lo, hi = sigma_min(A), sigma_max(A)
    assert lo.method == "svd"
    np.testing.assert_allclose(lo.value, s[0], rtol=0, atol=residual_tol(max(p, q), s[-1]))
    np.testing.assert_allclose(hi.value, s[-1], rtol=0, atol=residual_tol(max(p, q), s[-1]))
    assert lo.residual <= residual_tol(max(p, q), s[-1] ** 2)
    # Gram route on an operator: sigma_max accurate to tol; sigma_min accurate
    # to about eps cond^2 relative (condition 1e4 squared -> ~1e-8).
    # tol=1e-12 on sigma^2 is below the Gram route's rounding floor (condition
    # 1e8 of A^T A): reported as such, and the bound holds.
    op = aslinearoperator(A)
    hi2 = sigma_max(op)
    with pytest.warns(ConvergenceWarning, match="below the rounding floor"):
        lo2 = sigma_min(op, tol=1e-12)
    assert lo2.method == "gram-lanczos" and lo2.reason == "rounding" and not lo2.converged
    np.testing.assert_allclose(hi2.value, s[-1], **tol("iterative_eigen"))
    np.testing.assert_allclose(lo2.value, s[0], rtol=1e-6)
    assert abs(lo2.value - s[0]) <= lo2.error_bound
    assert abs(hi2.value - s[-1]) <= hi2.error_bound


def test_sigma_bad_input():
    with pytest.raises(ValueError, match="^A must have 2"):
        sigma_min(np.ones(3))
    with pytest.raises(ValueError, match="^A contains Inf"):
        sigma_max(np.array([[1.0, np.inf]]))


# --------------------------------------------------------------------------
# tracking
# --------------------------------------------------------------------------
def test_tracker_dense_trajectory_matches_fresh_solves(rng):
    X, W, v = ntk_problem(rng, n=200, d0=30, d1=100)
    dW = rng.standard_normal(W.shape) / np.sqrt(W.shape[1])
    tr = LambdaMinTracker(tol=1e-8)
    methods = []
    for t in range(16):
        K = closed_form_ntk(X, W + 2e-3 * t * dW + 1e-3 * np.sin(t) * dW ** 2, v)
        r = tr.update(K)
        exact = np.linalg.eigvalsh(K)[0]
        np.testing.assert_allclose(r.value, exact, **tol("tracking"))
        methods.append(r.method)
    assert methods[0] == "dense"
    assert methods.count("tracked") >= 12          # the warm route does the work
    assert tr.updates == 16 and tr.fallbacks == methods.count("dense")


def test_tracker_jump_falls_back(rng):
    lam = np.linspace(1.0, 2.0, 50)
    A, _ = known_spectrum(rng, lam)
    B, _ = known_spectrum(rng, lam[::-1] * 0.5)        # unrelated eigenvectors
    tr = LambdaMinTracker()
    tr.update(A)
    r = tr.update(B)
    np.testing.assert_allclose(r.value, 0.5, **tol("tracking"))


def test_tracker_operator_route(rng):
    X, W, v = ntk_problem(rng, n=150, d0=30, d1=80)
    dW = rng.standard_normal(W.shape) / np.sqrt(W.shape[1])
    tr = LambdaMinTracker()
    mv = []
    for t in range(4):
        K = closed_form_ntk(X, W + 1e-3 * t * dW, v)
        r = tr.update(aslinearoperator(K))
        assert r.method == "lanczos" and r.converged
        np.testing.assert_allclose(r.value, np.linalg.eigvalsh(K)[0], **tol("iterative_eigen"))
        mv.append(r.matvecs)
    assert max(mv[1:]) < mv[0]                          # warm starts pay off
    # a new size resets the tracker instead of failing
    r = tr.update(np.diag([3.0, 2.0]))
    np.testing.assert_allclose(r.value, 2.0, **tol("same_math"))


def test_tracker_bad_input():
    with pytest.raises(ValueError, match="^tol"):
        LambdaMinTracker(tol=0.0)
    with pytest.raises(ValueError, match="^method"):
        LambdaMinTracker(method="qr")
    with pytest.raises(ValueError, match="^A is not symmetric"):
        LambdaMinTracker().update(np.array([[1.0, 1.0], [0.0, 1.0]]))


# --------------------------------------------------------------------------
# Jacobian spectrum
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2,bias", [(1, False), (2, True)])
def test_jacobian_singular_values(rng, d2, bias):
    net = ShallowNet.init(d0=6, d1=40, d2=d2, seed=4, bias=bias)
    X = rng.standard_normal((25, 6))
    w = np.linalg.eigvalsh(ntk_gram(net, X))
    smin, smax = jacobian_singular_values(net, X)
    np.testing.assert_allclose(smin ** 2, w[0], rtol=0, atol=residual_tol(len(w), w[-1]))
    np.testing.assert_allclose(smax ** 2, w[-1], rtol=residual_tol(len(w), 1.0))
    for method in ("lanczos", "shift-invert"):
        js = jacobian_singular_values(net, X, method=method)
        assert js.method == method and js.lambda_min.converged
        np.testing.assert_allclose(js.sigma_min ** 2, w[0], **tol("iterative_eigen"))
        np.testing.assert_allclose(js.sigma_max ** 2, w[-1], **tol("iterative_eigen"))


def test_jacobian_singular_values_auto_above_dense_max(rng, monkeypatch):
    import pl_toolkit.ntk_spectrum as ntk_spectrum

    monkeypatch.setattr(ntk_spectrum, "JACOBIAN_DENSE_MAX", 10)
    net = ShallowNet.init(d0=6, d1=40, seed=4)
    X = rng.standard_normal((30, 6))
    w = np.linalg.eigvalsh(ntk_gram(net, X))
    js = jacobian_singular_values(net, X)
    assert js.method == "shift-invert"
    np.testing.assert_allclose(js.sigma_min ** 2, w[0], **tol("iterative_eigen"))
    np.testing.assert_allclose(js.sigma_max ** 2, w[-1], **tol("iterative_eigen"))
    with pytest.raises(ValueError, match="^method must be one of"):
        jacobian_singular_values(net, X, method="svd")


def test_public_names_exported():
    for name in ("lambda_min", "lambda_max", "sigma_min", "sigma_max", "EigResult",
                 "ConvergenceWarning", "LambdaMinTracker", "jacobian_singular_values"):
        assert name in pl_toolkit.__all__
    assert issubclass(ConvergenceWarning, UserWarning)
    assert EPS64 > 0


def test_lanczos_does_not_accept_a_ritz_value_between_unresolved_eigenvalues():
    # Exact matrix H diag(w) H / n (Hadamard H): eigenvalues 1, 2 and the rest
    # spread up to 1e9.  The Ritz value once settled at 2.049 -- between 1 and
    # 2, with the next Ritz value at 4e6 -- and Kato-Temple with that Ritz gap
    # accepted it (rho^2 / gap = 8e-7) although rho = 1.7.
    from scipy.linalg import hadamard
    from scipy.sparse.linalg import aslinearoperator

    n = 256
    H = hadamard(n).astype(float)
    w = np.concatenate([[1.0, 2.0], np.linspace(3.0, 1e9, n - 2).round()])
    A = (H * w) @ H / n
    # lambda_min / ||A|| = 1e-9: tol = 1e-8 is below the rounding floor
    # (~56 eps ||A|| = 1.2e-5), so the run stops at the floor and says so.
    with pytest.warns(ConvergenceWarning, match="below the rounding floor"):
        r = lambda_min(aslinearoperator(A))
    assert r.reason == "rounding"
    assert abs(r.value - 1.0) <= r.error_bound <= residual_tol(n, 1e9)
    assert r.residual <= 1e-4 * r.value


# --------------------------------------------------------------------------
# scale: norms that under- or overflow must not pass for an invariant subspace
# --------------------------------------------------------------------------
def small_exact():
    """``H diag(1, 2, 3, 4) H / 4``: exact entries, eigenvalues exactly 1..4."""
    from scipy.linalg import hadamard

    H = hadamard(4).astype(np.float64)
    B = (H * np.array([3.0, 1.0, 4.0, 2.0])) @ H / 4
    assert np.array_equal(B, B.T)
    return B, np.array([1.0, 2.0, 3.0, 4.0])


# powers of two near 1e-300, 1e-200, 1e-160, 1, 1e160, 1e200, 1e300: exact scaling
SCALES = [2.0 ** e for e in (-997, -664, -532, 0, 532, 664, 997)]


@pytest.mark.parametrize("scale", SCALES)
def test_lanczos_at_extreme_scales(scale):
    # lambda_min(B * 1e-200, method="lanczos") was 70.7x too large (2.87x for
    # a 5 x 5 B) and lambda_max half the truth, both with converged=True and
    # error_bound = 0: sqrt(x @ x) underflowed to beta = 0 ("invariant").
    B, w = small_exact()
    A = B * scale
    for fn, ref in ((lambda_min, w[0]), (lambda_max, w[-1])):
        r = fn(A, method="lanczos")
        assert r.converged and r.reason == "tolerance"
        assert abs(r.value - ref * scale) <= r.error_bound
        assert 0 < r.error_bound <= tol("iterative_eigen")["rtol"] * abs(r.value)
        np.testing.assert_allclose(r.residual,
                                   np.linalg.norm(B @ r.vector - r.value / scale * r.vector)
                                   * scale, rtol=0, atol=r.error_bound)


@pytest.mark.parametrize("scale", [2.0 ** e for e in (-997, -664, -505, 565, 664, 997)])
def test_shift_invert_at_extreme_scales(scale):
    # shift-invert returned NaN with converged=True at <= 1e-152 and raised
    # ZeroDivisionError at >= 1e170 (mu * mu under/overflowed)
    B, w = small_exact()
    r = lambda_min(B * scale, method="shift-invert")
    assert r.converged and np.isfinite(r.value)
    assert abs(r.value - w[0] * scale) <= r.error_bound <= tol("iterative_eigen")["rtol"] * r.value


@pytest.mark.parametrize("scale", [2.0 ** -830, 2.0 ** 830])       # ~1e-250, ~1e250
def test_dense_svd_gram_and_tracker_at_extreme_scales(scale):
    B, w = small_exact()
    A = B * scale
    r = lambda_min(A, method="dense")
    assert abs(r.value - w[0] * scale) <= r.error_bound
    # A is symmetric positive definite: its singular values are its eigenvalues
    for fn, ref in ((sigma_min, w[0]), (sigma_max, w[-1])):
        for op in (A, aslinearoperator(A)):
            r = fn(op)
            assert r.converged and np.isfinite(r.error_bound)
            assert abs(r.value - ref * scale) <= r.error_bound
    for method in ("dense", "lanczos", "shift-invert"):
        tr = LambdaMinTracker(method=method)
        for t in range(3):
            r = tr.update(A * (1 + 2.0 ** -10 * t))
            assert r.converged
            assert abs(r.value - w[0] * scale * (1 + 2.0 ** -10 * t)) <= r.error_bound


def test_ntk_lambda_min_lanczos_with_tiny_second_layer(rng):
    # V scaled by 1e-80: the ("W",) NTK scales by 1e-160 (it is quadratic
    # in V); the Lanczos route was 2.84x too large with converged=True.
    net = ShallowNet.init(d0=8, d1=60, seed=2)
    X = rng.standard_normal((40, 8))
    ref = np.linalg.eigvalsh(ntk_gram(net, X, layers=("W",)))[0]
    tiny = net.replace(V=net.V * 1e-80)
    K = ntk_gram(tiny, X, layers=("W",))
    exact = np.linalg.eigvalsh(K)[0]               # dsyevr scales tiny matrices itself
    for method in ("lanczos", "shift-invert", "dense"):
        r = pl_toolkit.ntk_lambda_min(tiny, X, layers=("W",), method=method)
        assert r.converged
        np.testing.assert_allclose(r.value / 1e-160, ref, **tol("iterative_eigen"))
        assert abs(r.value - exact) <= r.error_bound + residual_tol(40, np.linalg.norm(K, 2))


# --------------------------------------------------------------------------
# conditioning: a tolerance the rounding floor makes unreachable is reported
# --------------------------------------------------------------------------
def exact_hadamard(w):
    """``H diag(w) H / n``: exact in float64 for integer ``w`` with ``n max|w| < 2**53``."""
    from scipy.linalg import hadamard

    n = len(w)
    H = hadamard(n).astype(np.float64)
    A = (H * np.asarray(w, dtype=np.float64)) @ H / n
    assert np.array_equal(A, A.T)
    return A


@pytest.mark.parametrize("cond", [1e12, 1e13, 1e14])
@pytest.mark.parametrize("method", ["lanczos", "shift-invert"])
def test_ill_conditioned_tolerance_is_reported_unreachable(rng, cond, method):
    # lambda_min below ~1e-13 ||A|| gave error_bound = 0.0 and converged=True
    # (relative error 0.45 at cond 1e14, 2.6 at 1e15; 1.1e-6 at 1e12 with
    # bound 0).  Exact spectrum: Hadamard matrix with integer eigenvalues.
    n = 32
    w = np.unique(np.round(np.geomspace(1.0, cond, n)))
    w = np.concatenate([w, rng.integers(2, int(cond), n - len(w))]) if len(w) < n else w
    A = exact_hadamard(rng.permutation(w))
    with pytest.warns(ConvergenceWarning, match="below the rounding floor"):
        r = lambda_min(A, method=method)
    assert r.converged is False and r.reason == "rounding"
    assert 0 < r.error_bound <= residual_tol(n, cond)
    # guaranteed: the distance to the nearest eigenvalue; and a Rayleigh
    # quotient is never below lambda_min by more than the bound
    assert np.min(np.abs(w - r.value)) <= r.error_bound
    assert r.value >= 1.0 - r.error_bound
    assert r.error_estimate <= r.error_bound
    # the dense solve is backward stable: within its bound of lambda_min itself
    d = lambda_min(A, method="dense")
    assert d.reason == "direct" and abs(d.value - 1.0) <= d.error_bound


def test_attainable_tolerance_still_converges_with_a_true_bound(rng):
    w = np.concatenate([[1000.0], rng.integers(1001, 10 ** 6, 63)])
    A = exact_hadamard(rng.permutation(w))
    for method in ("lanczos", "shift-invert"):
        r = lambda_min(A, method=method)
        assert r.converged and r.reason == "tolerance"
        assert abs(r.value - 1000.0) <= r.error_bound
        assert r.error_estimate <= r.error_bound


def test_tracker_shift_invert_method(rng):
    # LambdaMinTracker(method="shift-invert") was accepted and silently ran the
    # dense route (and failed on an operator with "object arrays are not supported")
    # a crowded lower edge (relative gaps 1e-3): a cold start needs many solves
    lam = np.concatenate([1.0 + 1e-3 * np.arange(40), np.linspace(2.0, 50.0, 40)])
    A, _ = known_spectrum(rng, lam)
    E = rng.standard_normal((80, 80))
    E = 1e-7 * (E + E.T)
    tr = LambdaMinTracker(method="shift-invert")
    counts = []
    for t in range(4):
        At = A + t * E
        exact = np.linalg.eigvalsh(At)
        r = tr.update(At)
        assert r.method == "shift-invert" and r.converged
        np.testing.assert_allclose(r.value, exact[0], **tol("tracking"))
        assert np.min(np.abs(exact - r.value)) <= r.error_bound
        counts.append(r.matvecs)
    assert max(counts[1:]) < counts[0]                 # warm-started from the last vector
    with pytest.raises(ValueError, match="^method='shift-invert' needs an ndarray A"):
        tr.update(aslinearoperator(A))
    # not positive definite: a fresh dense solve, counted as a fallback
    B, _ = known_spectrum(rng, np.linspace(-1.0, 1.0, 80))
    r = tr.update(B)
    assert r.method == "dense" and tr.fallbacks == 1
    np.testing.assert_allclose(r.value, -1.0, rtol=0, atol=residual_tol(80, 1.0))


def test_dense_extreme_survives_lapack_returning_no_pair():
    # LAPACK dsyevr (MRRR) returned no eigenpair for a subset of a tight
    # cluster (-Q Q^T, all eigenvalues -1 to rounding: 38 of 4000 subset
    # solves at n <= 20), and lambda_min raised IndexError
    import scipy.linalg as sla

    rng = np.random.default_rng(3)
    empty = 0
    for _ in range(200):
        n = int(rng.integers(2, 20))
        Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        A = -(Q @ Q.T)
        A = 0.5 * (A + A.T)
        empty += sum(len(sla.eigh(A, subset_by_index=[i, i], driver="evr")[0]) == 0
                     for i in (0, n - 1))
        for fn in (lambda_min, lambda_max):
            r = fn(A, method="dense")
            assert abs(r.value + 1.0) <= r.error_bound
        r = LambdaMinTracker(block=3).update(A)
        assert abs(r.value + 1.0) <= r.error_bound
    assert empty > 0                      # the LAPACK behaviour this guards against occurred


@pytest.mark.parametrize("e", [-997, -664, -480, 480, 997])
def test_dense_solves_of_tiny_and_huge_ill_conditioned_matrices(rng, e):
    # dsyevr on Q diag(w) Q^T with max|w| = 1e-143 and condition 1e14 (n = 6)
    # was off by up to 2800 times its own backward-error bound, with
    # converged=True: MRRR squares tridiagonal entries, which go subnormal.
    # Truth: the same matrix at scale 1 (where LAPACK is backward stable),
    # times the exact power of two.
    for _ in range(20):
        A, _ = known_spectrum(rng, np.geomspace(1.0, 1e-14, 6))
        As = np.ldexp(A, e)
        for fn in (lambda_min, lambda_max):
            ref = fn(A, method="dense")
            r = fn(As, method="dense")
            assert r.reason == "direct"
            assert (abs(r.value - np.ldexp(ref.value, e))
                    <= r.error_bound + np.ldexp(ref.error_bound, e))
            np.testing.assert_allclose(r.error_bound, np.ldexp(ref.error_bound, e),
                                       **tol("same_math"))
        # the tracker's fallback for a matrix shift-invert refuses (negative definite)
        r = LambdaMinTracker(method="shift-invert").update(-As)
        ref = lambda_max(A, method="dense")
        assert r.method == "dense"
        assert abs(r.value + np.ldexp(ref.value, e)) <= r.error_bound + np.ldexp(ref.error_bound, e)


def test_dense_subset_solve_falls_back_when_lapack_fails(monkeypatch):
    # dsyevr can stop with LAPACK's "Internal Error" (seen on a nearly
    # diagonal 9 x 9 with a 9-fold cluster at 2.4e-38); the subset solve then
    # takes the next driver instead of raising.
    import pl_toolkit._eigen as eig

    real = eig.sla.eigh
    calls = []

    def failing_evr(A, *args, driver=None, **kwargs):
        calls.append(driver)
        if driver == "evr":
            raise np.linalg.LinAlgError("Internal Error.")
        return real(A, *args, driver=driver, **kwargs)

    monkeypatch.setattr(eig.sla, "eigh", failing_evr)
    rng = np.random.default_rng(3)
    B = rng.standard_normal((9, 9))
    A = B @ B.T
    res = pl_toolkit.lambda_min(A, method="dense")
    assert calls[:2] == ["evr", "evx"]
    truth = np.linalg.eigvalsh(A)[0]
    assert res.converged and abs(res.value - truth) <= res.error_bound
