"""ntk_lambda_min(method="mixed"): the float32 NTK's factor inside a float64 iteration.

Also the route chooser of method="auto" and the pieces of the mixed route:
the float64 block product (the operator's) and the float32 factor's failure
path; the blocked Cholesky factorization itself is tested in
test_blocked_cholesky.py.
"""

import warnings

import numpy as np
import pytest
from _tolerances import residual_tol, tol

import pl_toolkit._features as _features
import pl_toolkit.ntk_spectrum as ntk_spectrum
from pl_toolkit import (ConvergenceWarning, ShallowNet, jacobian_singular_values, ntk_gram,
                        ntk_lambda_min, ntk_operator)


def ntk_problem(rng, n=120, d0=30, d1=60, d2=1, bias=False, seed=3):
    # d0 = 30, unit-norm rows: condition numbers 1e2-1e4, tol = 1e-8 attainable
    net = ShallowNet.init(d0, d1, d2, seed=seed, bias=bias)
    X = rng.standard_normal((n, d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return net, X


def exact_lambda_min(net, X, layers=("W", "V")):
    return float(np.linalg.eigvalsh(ntk_gram(net, X, layers=layers))[0])


# --------------------------------------------------------------------------
# the block product against plain NumPy
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2,bias,layers", [(1, False, ("W", "V")), (3, True, ("W", "V")),
                                            (2, True, ("W",)), (1, True, ("V",)),
                                            (1, True, ("W", "V"))])
@pytest.mark.parametrize("store", ["features", "preactivations"])
def test_block_product_matches_gram(rng, monkeypatch, d2, bias, layers, store):
    monkeypatch.setattr(_features, "CHUNK_BYTES", 8 * 17 * 5)     # a few rows per chunk
    net = ShallowNet.init(5, 17, d2, seed=1, bias=bias)
    X = rng.standard_normal((23, 5))
    K = ntk_gram(net, X, layers=layers, backend="numpy")            # plain NumPy reference
    U = rng.standard_normal((K.shape[0], 4))
    op = ntk_operator(net, X, layers, store=store)
    np.testing.assert_allclose(op @ U, K @ U, **tol("kernel_vs_reference"))
    np.testing.assert_allclose(op @ U[:, :1], K @ U[:, :1], **tol("kernel_vs_reference"))
    assert op.matvecs == 5


# --------------------------------------------------------------------------
# agreement with dense LAPACK, and the error bound as a bound
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2,bias,layers", [(1, False, ("W", "V")), (2, True, ("W", "V")),
                                            (1, False, ("W",))])
def test_mixed_agrees_with_eigvalsh(rng, d2, bias, layers):
    net, X = ntk_problem(rng, d2=d2, bias=bias)
    K = ntk_gram(net, X, layers=layers)
    exact = float(np.linalg.eigvalsh(K)[0])
    r = ntk_lambda_min(net, X, layers=layers, method="mixed")
    assert r.method == "mixed" and r.converged and r.reason == "tolerance"
    assert abs(r.value - exact) <= r.error_bound
    np.testing.assert_allclose(r.value, exact, **tol("iterative_eigen"))
    # value and residual are measured with the float64 product
    assert r.value == pytest.approx(r.vector @ K @ r.vector, rel=1e-12)
    np.testing.assert_allclose(r.residual, np.linalg.norm(K @ r.vector - r.value * r.vector),
                               rtol=1e-6, atol=residual_tol(K.shape[0], np.linalg.norm(K, 2)))
    assert r.matvecs > 0 and "; float32 factor of K + " in r.route_reason
    assert r.route_reason.startswith("method='mixed' requested")


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_error_bound_is_a_bound_at_every_scale(rng, scale):
    # ReLU is positively homogeneous: weights times s give the NTK times s^2,
    # the same conditioning at every scale (GELU at 1e-3 is nearly linear,
    # its NTK nearly of rank d0: the ill-conditioned case below)
    net = ShallowNet.init(30, 60, seed=3, activation="relu")
    X = rng.standard_normal((150, 30))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    net = net.replace(W=net.W * scale, V=net.V * scale)
    exact = exact_lambda_min(net, X)
    r = ntk_lambda_min(net, X, method="mixed")
    assert r.converged
    assert abs(r.value - exact) <= r.error_bound
    np.testing.assert_allclose(r.value, exact, **tol("iterative_eigen"))


def test_error_bound_on_an_ill_conditioned_ntk(rng):
    # pairs of nearly equal inputs: lambda_min / lambda_max ~ 1e-9, far below
    # float32's resolution, so the float32 factor is a poor preconditioner
    # and tol = 1e-8 sits below the rounding floor
    net, X = ntk_problem(rng, n=80, d0=20, d1=200)
    X[40:] = X[:40] + 1e-5 * rng.standard_normal((40, 20))
    K = ntk_gram(net, X)
    w = np.linalg.eigvalsh(K)
    assert w[0] / w[-1] < 1e-7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r = ntk_lambda_min(net, X, method="mixed", maxiter=400)
    assert abs(r.value - w[0]) <= r.error_bound
    assert r.error_bound <= 1e-6 * w[-1]
    assert not r.converged and "stalled" in r.route_reason     # and says why


def test_warm_start_and_maxiter(rng):
    net, X = ntk_problem(rng, n=200, d0=40, d1=100)
    cold = ntk_lambda_min(net, X, method="mixed")
    warm = ntk_lambda_min(net, X, method="mixed", v0=cold.vector)
    np.testing.assert_allclose(warm.value, cold.value, **tol("iterative_eigen"))
    with pytest.warns(ConvergenceWarning, match="^mixed-precision refinement did not reach"):
        r = ntk_lambda_min(net, X, method="mixed", tol=1e-14, maxiter=3)
    assert not r.converged and r.reason in ("maxiter", "rounding")


def test_jacobian_singular_values_mixed(rng):
    net, X = ntk_problem(rng, n=90)
    spec = jacobian_singular_values(net, X, method="mixed")
    assert spec.method == "mixed"
    np.testing.assert_allclose(spec.sigma_min ** 2, exact_lambda_min(net, X),
                               **tol("iterative_eigen"))


# --------------------------------------------------------------------------
# the float32 factor's failure path
# --------------------------------------------------------------------------
def test_singular_kernel_factor_is_shifted(rng, monkeypatch):
    # second layer only, d1 < n: K = H H^T has rank d1 and lambda_min = 0.  The
    # default first shift (sqrt(N) eps32 max K_ii) already makes it factor; without
    # it the float32 factor fails, the NTK is formed again and factored shifted
    net, X = ntk_problem(rng, n=60, d1=20)
    K = ntk_gram(net, X, layers=("V",))
    for shifts in (ntk_spectrum._mixed_shifts(60), (0.0, 1e-4)):
        monkeypatch.setattr(ntk_spectrum, "_mixed_shifts", lambda N: shifts)
        with pytest.warns(ConvergenceWarning, match="^mixed-precision refinement"):
            r = ntk_lambda_min(net, X, layers=("V",), method="mixed")
        assert r.method == "mixed" and not r.converged
        # at the float64 floor, or stopped early and said why
        assert r.reason == "rounding" or (r.reason == "maxiter" and "stalled" in r.route_reason)
        failed = "the float32 Cholesky factor of K + 0 I failed at column " in r.route_reason
        assert failed == (shifts[0] == 0.0), r.route_reason
        assert abs(r.value) <= r.error_bound                  # the nearest eigenvalue is 0
        assert r.error_bound <= np.sqrt(np.finfo(float).eps) * np.linalg.norm(K, 2)


def test_factor_failure_falls_back_or_raises(rng, monkeypatch):
    net, X = ntk_problem(rng, n=60)
    monkeypatch.setattr(ntk_spectrum, "blocked_cholesky_lower_inplace", lambda F: 7)
    with pytest.raises(ValueError, match="^the NTK is not numerically positive definite in "
                                         "float32"):
        ntk_lambda_min(net, X, method="mixed")
    monkeypatch.setattr(ntk_spectrum, "JACOBIAN_DENSE_MAX", 10)
    monkeypatch.setattr(ntk_spectrum, "_choose_route", lambda *a: ("mixed", "forced"))
    r = ntk_lambda_min(net, X)
    assert r.method == "lanczos"
    assert r.route_reason.startswith("forced; the float32 Cholesky factor of K + ")
    assert r.route_reason.count("I failed at column 7") == 3
    assert r.route_reason.endswith("matrix-free Lanczos instead")
    np.testing.assert_allclose(r.value, exact_lambda_min(net, X), **tol("iterative_eigen"))


def test_float32_overflow_is_refused_or_avoided(rng, monkeypatch):
    # entries 1e20: X X^T overflows float32, not float64
    net, X = ntk_problem(rng, n=30, d0=4, d1=20)
    X = X * 1e20
    with pytest.raises(ValueError, match=r"^X has entries up to .* overflows float32; "
                                         r"method='mixed' forms the NTK in float32"):
        ntk_lambda_min(net, X, method="mixed")
    monkeypatch.setattr(ntk_spectrum, "_choose_route", lambda *a: ("mixed", "forced"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r = ntk_lambda_min(net, X)
    assert r.method == "lanczos" and "overflows float32" in r.route_reason


# --------------------------------------------------------------------------
# method="auto": each route under its budget, and the reason says so
# --------------------------------------------------------------------------
def test_auto_chooses_each_route_by_budget(rng, monkeypatch):
    monkeypatch.setattr(_features, "CHUNK_BYTES", 8 * 60 * 16)   # small temporaries
    net, X = ntk_problem(rng, n=200, d1=60)
    n, d0, d1, d2 = 200, net.d0, net.d1, 1
    dense = ntk_spectrum._ntk_gram_bytes(n, d1, d2)
    si = ntk_spectrum._ntk_dense_bytes(n, d1, d2)
    mixed = ntk_spectrum._ntk_mixed_bytes(n, d0, d1, d2)
    assert dense < mixed < si           # at this small n the tiles of the triangle dominate
    exact = exact_lambda_min(net, X)

    def check(budget, method, words):
        r = ntk_lambda_min(net, X, max_memory=budget)
        assert r.method == method, (budget, r.route_reason)
        assert words in r.route_reason and "max_memory = " in r.route_reason, r.route_reason
        np.testing.assert_allclose(r.value, exact, **tol("iterative_eigen"))

    check(dense, "dense", "n d2 = 200 <= 4000 and the dense route needs")
    check(dense - 1, "lanczos", "the dense route needs")
    monkeypatch.setattr(ntk_spectrum, "JACOBIAN_DENSE_MAX", 10)
    check(si, "shift-invert", "n d2 = 200 > 10 (dense LAPACK only up to there); shift-invert on "
                              "the float64 NTK needs")
    check(mixed, "mixed", "the float32 NTK (mixed) needs")
    check(mixed - 1, "lanczos", "both > max_memory")


def test_auto_keeps_the_default_routes(rng):
    net, X = ntk_problem(rng, n=40)
    r = ntk_lambda_min(net, X)
    assert r.method == "dense" and "<= max_memory = 4 GiB" in r.route_reason
    assert ntk_lambda_min(net, X, method="lanczos").route_reason == "method='lanczos' requested"


@pytest.mark.parametrize("kwargs,match", [
    (dict(tol=0.0), "^tol"),
    (dict(tol=float("nan")), "^tol"),
    (dict(max_memory=0), "^max_memory"),
    (dict(maxiter=0), "^maxiter"),
    (dict(v0=np.ones(7)), "^v0 must have length"),
    (dict(v0=np.zeros(12)), "^v0 is the zero vector"),
    (dict(layers=("U",)), "layers"),
])
def test_mixed_bad_arguments(rng, kwargs, match):
    net, X = ntk_problem(rng, n=12)
    with pytest.raises(ValueError, match=match):
        ntk_lambda_min(net, X, method="mixed", **kwargs)


def test_mixed_bad_data(rng):
    net, X = ntk_problem(rng, n=12, d0=4, d1=20)
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="^X contains NaN"):
        ntk_lambda_min(net, X, method="mixed")
    net, X = ntk_problem(rng, n=12, d0=4, d1=20)
    with pytest.raises(ValueError, match=r"^X\b"):
        ntk_lambda_min(net, X * 1e160, method="mixed")            # overflows float64 too
    with pytest.raises(ValueError, match=r"^net\b"):
        ntk_lambda_min(net.replace(W=net.W * 1e300), X, method="mixed")
