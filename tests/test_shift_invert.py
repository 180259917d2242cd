"""Shift-invert smallest eigenvalues: dense arrays and the NTK at any size.

Independent routes: LAPACK ``eigvalsh`` on the dense matrix, ``ntk_gram``
for the tiled triangle, and matrices built from a prescribed spectrum.
"""

import warnings

import numpy as np
import pytest
from _tolerances import residual_tol, tol

import pl_toolkit._features as _features
import pl_toolkit.ntk_spectrum as ntk_spectrum
import pl_toolkit.spectrum as spectrum
from pl_toolkit import (ConvergenceWarning, ShallowNet, lambda_max, lambda_min, ntk_gram,
                        ntk_lambda_min)
from pl_toolkit._features import ntk_gram_upper as _ntk_gram_upper


def spd_with_spectrum(rng, w):
    Q, _ = np.linalg.qr(rng.standard_normal((len(w), len(w))))
    A = (Q * w) @ Q.T
    return 0.5 * (A + A.T)


def clustered_spectrum(rng, n, cond=1e4):
    # A bulk crowded at its lower edge (like an NTK's) plus a few large outliers.
    bulk = 1.0 + 9.0 * np.sort(rng.beta(1.5, 3.0, n - 5))
    return np.concatenate([bulk, cond * (1 + rng.random(5))])


# --------------------------------------------------------------------------
# the tiled upper triangle
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2,bias,layers", [(1, False, ("W", "V")), (3, True, ("W", "V")),
                                            (2, False, ("W",)), (1, True, ("V",))])
@pytest.mark.parametrize("tile", [1, 7, 4096])
def test_upper_triangle_matches_ntk_gram(rng, d2, bias, layers, tile):
    net = ShallowNet.init(5, 17, d2, seed=1, bias=bias)
    X = rng.standard_normal((23, 5))
    K = ntk_gram(net, X, layers=layers)
    U = _ntk_gram_upper(net, X, layers, tile=tile)
    iu = np.triu_indices(K.shape[0])
    np.testing.assert_allclose(U[iu], K[iu], **tol("kernel_vs_reference"))


def test_upper_triangle_serial_equals_parallel(always_parallel):
    rng = np.random.default_rng(5)
    net = ShallowNet.init(6, 300, seed=2)
    X = rng.standard_normal((130, 6))
    iu = np.triu_indices(130)
    a = _ntk_gram_upper(net, X, parallel=False, tile=50)[iu]
    b = _ntk_gram_upper(net, X, parallel=True, tile=50)[iu]
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------
# lambda_min(A, method="shift-invert")
# --------------------------------------------------------------------------
def test_dense_shift_invert_against_prescribed_spectrum(rng):
    w = clustered_spectrum(rng, 400)
    A = spd_with_spectrum(rng, w)
    r = lambda_min(A, method="shift-invert")
    assert r.method == "shift-invert" and r.converged and r.matvecs > 0
    np.testing.assert_allclose(r.value, w.min(), **tol("iterative_eigen"))
    np.testing.assert_allclose(r.value, np.linalg.eigvalsh(A)[0], **tol("iterative_eigen"))
    # residual is measured with A itself and is that of the returned pair
    np.testing.assert_allclose(r.residual, np.linalg.norm(A @ r.vector - r.value * r.vector),
                               rtol=1e-6, atol=residual_tol(400, w.max()))
    assert r.residual <= 1e-6 * w.max()


def test_dense_shift_invert_diagonally_dominant_uses_shift(rng):
    # Gershgorin bound > 0: factored at 0.99 of it, so the inverse is well separated.
    w = 1000.0 + np.arange(300.0)
    A = spd_with_spectrum(rng, w)
    A = np.diag(np.diag(A)) + 1e-3 * (A - np.diag(np.diag(A)))
    r = lambda_min(A, method="shift-invert")
    np.testing.assert_allclose(r.value, np.linalg.eigvalsh(A)[0], **tol("iterative_eigen"))
    assert r.matvecs < 60


def test_dense_shift_invert_warm_start_is_cheaper(rng):
    A = spd_with_spectrum(rng, clustered_spectrum(rng, 300))
    cold = lambda_min(A, method="shift-invert")
    B = A + 1e-6 * spd_with_spectrum(rng, rng.random(300))
    warm = lambda_min(B, method="shift-invert", v0=cold.vector)
    assert warm.matvecs < cold.matvecs
    np.testing.assert_allclose(warm.value, np.linalg.eigvalsh(B)[0], **tol("iterative_eigen"))


def test_dense_shift_invert_not_positive_definite(rng):
    A = spd_with_spectrum(rng, np.linspace(-1.0, 5.0, 50))
    with pytest.raises(ValueError, match="^A is not numerically positive definite"):
        lambda_min(A, method="shift-invert")


def test_auto_above_dense_max(rng, monkeypatch):
    monkeypatch.setattr(spectrum, "SHIFT_INVERT_MIN", 10)
    monkeypatch.setattr(spectrum, "DENSE_MAX", 10)
    A = spd_with_spectrum(rng, clustered_spectrum(rng, 80))
    r = lambda_min(A)
    assert r.method == "shift-invert"
    np.testing.assert_allclose(r.value, np.linalg.eigvalsh(A)[0], **tol("iterative_eigen"))
    # indefinite: Cholesky fails, auto falls back to Lanczos on A
    B = spd_with_spectrum(rng, np.linspace(-1.0, 5.0, 80))
    r = lambda_min(B)
    assert r.method == "lanczos"
    np.testing.assert_allclose(r.value, -1.0, **tol("iterative_eigen"))
    assert lambda_max(A).method == "lanczos"


def test_shift_invert_argument_errors(rng):
    from scipy.sparse.linalg import aslinearoperator

    A = spd_with_spectrum(rng, np.arange(1.0, 11.0))
    with pytest.raises(ValueError, match="^method='shift-invert' needs an ndarray"):
        lambda_min(aslinearoperator(A), method="shift-invert")
    with pytest.raises(ValueError, match="smallest eigenvalue only"):
        lambda_max(A, method="shift-invert")
    with pytest.raises(ValueError, match="^method must be one of"):
        lambda_min(A, method="shift_invert")


def test_shift_invert_not_converged_warns(rng):
    A = spd_with_spectrum(rng, clustered_spectrum(rng, 200))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = lambda_min(A, method="shift-invert", maxiter=2, tol=1e-14)
    assert not r.converged
    assert any(c.category is ConvergenceWarning for c in caught)
    assert r.value >= np.linalg.eigvalsh(A)[0] * (1 - 1e-12)    # a Ritz value: an upper bound


# --------------------------------------------------------------------------
# ntk_lambda_min
# --------------------------------------------------------------------------
def ntk_problem(rng, n=90, d0=30, d1=50, d2=1, bias=False):
    # d0 = 30: condition numbers 4e2-3e4, so tol = 1e-8 is above the rounding
    # floor ~ 3.5 sqrt(n) eps cond (d0 = 6 gave 1e7: unattainable, reported so)
    net = ShallowNet.init(d0, d1, d2, seed=3, bias=bias)
    X = rng.standard_normal((n, d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return net, X


@pytest.mark.parametrize("method", ["dense", "shift-invert", "lanczos"])
@pytest.mark.parametrize("d2,bias,layers", [(1, False, ("W", "V")), (2, True, ("W", "V")),
                                            (1, False, ("W",))])
def test_ntk_lambda_min_routes_agree_with_eigvalsh(rng, method, d2, bias, layers):
    net, X = ntk_problem(rng, d2=d2, bias=bias)
    K = ntk_gram(net, X, layers=layers)
    exact = np.linalg.eigvalsh(K)[0]
    r = ntk_lambda_min(net, X, layers=layers, method=method)
    assert r.method == method and r.converged
    np.testing.assert_allclose(r.value, exact, **tol("iterative_eigen"))
    np.testing.assert_allclose(r.residual, np.linalg.norm(K @ r.vector - r.value * r.vector),
                               rtol=1e-6, atol=residual_tol(K.shape[0], np.linalg.norm(K, 2)))
    assert r.residual <= 1e-6 * np.linalg.norm(K, 2)


def test_ntk_lambda_min_auto_choice(rng, monkeypatch):
    net, X = ntk_problem(rng, n=40)
    assert ntk_lambda_min(net, X).method == "dense"
    monkeypatch.setattr(ntk_spectrum, "JACOBIAN_DENSE_MAX", 10)
    assert ntk_lambda_min(net, X).method == "shift-invert"
    need = ntk_spectrum._ntk_dense_bytes(40, net.d1, 1)
    r = ntk_lambda_min(net, X, max_memory=need - 1)
    assert r.method == "lanczos"
    np.testing.assert_allclose(r.value, np.linalg.eigvalsh(ntk_gram(net, X))[0],
                               **tol("iterative_eigen"))


def test_ntk_lambda_min_warm_start(rng):
    net, X = ntk_problem(rng, n=300, d0=40, d1=100)
    cold = ntk_lambda_min(net, X, method="shift-invert")
    moved = net.with_parameters(net.parameters()
                                + 1e-5 * rng.standard_normal(net.parameters().size))
    warm = ntk_lambda_min(moved, X, method="shift-invert", v0=cold.vector)
    assert warm.matvecs < cold.matvecs
    np.testing.assert_allclose(warm.value, np.linalg.eigvalsh(ntk_gram(moved, X))[0],
                               **tol("iterative_eigen"))


def test_ntk_lambda_min_singular_kernel(rng, monkeypatch):
    # Second layer only with d1 < n: K = H H^T has rank d1, lambda_min = 0.
    net, X = ntk_problem(rng, n=60, d1=20)
    with pytest.raises(ValueError, match="^the NTK is not numerically positive definite"):
        ntk_lambda_min(net, X, layers=("V",), method="shift-invert")
    monkeypatch.setattr(ntk_spectrum, "JACOBIAN_DENSE_MAX", 10)
    # lambda_min = 0: a relative tolerance is unattainable, and the result says so
    with pytest.warns(ConvergenceWarning, match="below the rounding floor"):
        r = ntk_lambda_min(net, X, layers=("V",))
    assert r.method == "lanczos" and r.reason == "rounding" and not r.converged
    K = ntk_gram(net, X, layers=("V",))
    assert abs(r.value) <= 1e3 * np.finfo(float).eps * np.linalg.norm(K, 2)
    assert abs(r.value) <= r.error_bound          # the nearest eigenvalue is 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(method="eigsh"), "^method must be one of"),
    (dict(tol=0.0), "^tol"),
    (dict(max_memory=0), "^max_memory"),
    (dict(maxiter=-3), "^maxiter"),
    (dict(v0=np.ones(7)), "^v0 must have length"),
    (dict(layers=("U",)), "layers"),
])
def test_ntk_lambda_min_bad_arguments(rng, kwargs, match):
    net, X = ntk_problem(rng, n=12)
    with pytest.raises(ValueError, match=match):
        ntk_lambda_min(net, X, **kwargs)


def test_ntk_lambda_min_bad_data(rng):
    net, X = ntk_problem(rng, n=12)
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="^X contains NaN"):
        ntk_lambda_min(net, X)
    with pytest.raises(ValueError, match="^X"):
        ntk_lambda_min(net, X[:, :4])


# --------------------------------------------------------------------------
# the lean operator (used by the matrix-free route at large n)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2,bias,layers", [(1, False, ("W", "V")), (3, True, ("W", "V")),
                                            (2, True, ("W",)), (1, True, ("V",))])
def test_operator_store_preactivations_matches_gram(rng, monkeypatch, d2, bias, layers):
    from pl_toolkit import ntk_operator

    monkeypatch.setattr(_features, "CHUNK_BYTES", 8 * 17 * 4)     # 4-row chunks: many passes
    net = ShallowNet.init(5, 17, d2, seed=1, bias=bias)
    X = rng.standard_normal((23, 5))
    K = ntk_gram(net, X, layers=layers)
    U = rng.standard_normal((K.shape[0], 3))
    for store in ("features", "preactivations"):
        op = ntk_operator(net, X, layers, store=store)
        np.testing.assert_allclose(op @ U, K @ U, **tol("kernel_vs_reference"))
    with pytest.raises(ValueError, match="^store must be one of"):
        ntk_operator(net, X, store="Z")


def test_ntk_lambda_min_lean_operator_under_small_budget(rng, monkeypatch):
    import pl_toolkit.ntk as ntk_module

    seen = []
    real = ntk_module.NTKOperator.__init__

    def spy(self, *a, **k):
        real(self, *a, **k)
        seen.append(self.store)

    monkeypatch.setattr(ntk_module.NTKOperator, "__init__", spy)
    net, X = ntk_problem(rng, n=50)
    exact = np.linalg.eigvalsh(ntk_gram(net, X))[0]
    r = ntk_lambda_min(net, X, method="lanczos", max_memory=1000)
    np.testing.assert_allclose(r.value, exact, **tol("iterative_eigen"))
    r = ntk_lambda_min(net, X, method="lanczos")
    np.testing.assert_allclose(r.value, exact, **tol("iterative_eigen"))
    assert seen == ["preactivations", "features"]


# --------------------------------------------------------------------------
# huge finite inputs: a clear refusal naming the argument, never a silent number
# --------------------------------------------------------------------------
def huge_cases(rng):
    net, X = ntk_problem(rng, n=12, d0=4, d1=20)
    return [("X", net, X * 1e160), ("net", net.replace(W=net.W * 1e300), X),
            ("net", net.replace(V=net.V * 1e200), X)]


@pytest.mark.parametrize("method", ["dense", "shift-invert", "lanczos", "auto"])
def test_ntk_lambda_min_huge_inputs_are_refused(rng, method):
    # X >= 1e155, W = 1e300, V = 1e200 raised IndexError / ZeroDivisionError
    from pl_toolkit import jacobian_singular_values

    for name, net, X in huge_cases(rng):
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            ntk_lambda_min(net, X, method=method)
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            jacobian_singular_values(net, X, method=method)


@pytest.mark.parametrize("method", ["dense", "shift-invert", "lanczos"])
def test_ntk_lambda_min_never_returns_a_nonfinite_ntk(rng, monkeypatch, method):
    # whatever the NTK routines let through, a non-finite NTK or product is
    # refused naming the argument that holds the larger entries
    import pl_toolkit.ntk as ntk_module

    real_gram, real_upper = ntk_module.ntk_gram, _features.ntk_gram_upper
    real_op = ntk_module.ntk_operator

    def poison(M):
        M = np.array(M, dtype=np.float64)
        M[0, 0] = np.inf
        return M

    monkeypatch.setattr(ntk_module, "ntk_gram", lambda *a, **k: poison(real_gram(*a, **k)))
    monkeypatch.setattr(_features, "ntk_gram_upper", lambda *a, **k: poison(real_upper(*a, **k)))

    def bad_operator(*a, **k):
        op = real_op(*a, **k)
        from scipy.sparse.linalg import LinearOperator
        return LinearOperator(op.shape, matvec=lambda u: np.full(op.shape[0], np.inf),
                              dtype=np.float64)

    monkeypatch.setattr(ntk_module, "ntk_operator", bad_operator)
    net, X = ntk_problem(rng, n=12, d0=4, d1=20)
    with pytest.raises(ValueError, match=r"^X: the NTK of these inputs is not finite"):
        ntk_lambda_min(net, X * 10.0, method=method)        # X holds the larger entries
    with pytest.raises(ValueError, match=r"^net: the NTK of these weights is not finite"):
        ntk_lambda_min(net.replace(W=net.W * 10.0), X * 1e-3, method=method)
