"""Tests of the preconditioned (deflated) matrix-free route, ``pl_toolkit._ntk_deflation``.

Independent routes: LAPACK ``eigvalsh`` of the dense NTK from
``ntk_gram``, operators of known spectrum ``Q diag(lam) Q^T``, plain
thick-restart Lanczos on the same operator (product counts), and the
preconditioner's model matrix formed densely with NumPy from the
network's features (``phi`` and ``phi'`` by ``Activation.phi_dphi``).
"""

import warnings

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from _tolerances import tol

from pl_toolkit import ConvergenceWarning, ShallowNet, lambda_min, ntk_gram, ntk_operator
from pl_toolkit._lanczos import thick_restart_lanczos
from pl_toolkit._ntk_deflation import (DeflatedResult, FeatureModel, deflated_lambda_min,
                                       feature_model)


class Counted(LinearOperator):
    """A symmetric matrix as an operator counting products (columns) and passes (calls)."""

    def __init__(self, A):
        self.A, self.count, self.passes = A, 0, 0
        super().__init__(dtype=np.float64, shape=A.shape)

    def _matvec(self, x):
        self.count += 1
        self.passes += 1
        return self.A @ x

    def _matmat(self, X):
        self.count += X.shape[1]
        self.passes += 1
        return self.A @ X


def unit_rows(rng, n, d0):
    X = rng.standard_normal((n, d0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def ntk_problem(n=120, d0=16, d1=200, d2=1, bias=False, seed=0):
    rng = np.random.default_rng(seed)
    net = ShallowNet.init(d0, d1, d2, init="he", seed=seed, bias=bias)
    if bias:
        # non-zero biases, so that their columns of ones matter
        net = ShallowNet(net.W, net.V, b1=0.1 * rng.standard_normal(d1),
                         b2=0.1 * rng.standard_normal(d2))
    return net, unit_rows(rng, n, d0)


def assert_within_bound(r, w):
    """``value`` within ``error_bound`` of ``lambda_min`` itself, and the vector measured."""
    assert abs(r.value - w[0]) <= r.error_bound, (r.value, w[0], r.error_bound)
    assert r.error_bound >= r.residual


# --------------------------------------------------------------------------
# The value against eigvalsh
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2,bias,layers", [(1, False, ("W", "V")), (2, False, ("W", "V")),
                                            (1, True, ("W", "V")), (3, True, ("W", "V")),
                                            (1, False, ("W",)), (2, True, ("V",))])
def test_value_within_error_bound_of_eigvalsh(d2, bias, layers):
    net, X = ntk_problem(d2=d2, bias=bias)
    op = ntk_operator(net, X, layers)
    r = deflated_lambda_min(op)
    w = np.linalg.eigvalsh(ntk_gram(net, X, layers=layers))
    assert isinstance(r, DeflatedResult)
    assert r.method == "preconditioned-davidson" and r.model == "features"
    assert r.converged and r.reason == "tolerance"
    assert_within_bound(r, w)
    np.testing.assert_allclose(r.value, w[0], **tol("iterative_eigen"))
    # the operator's own counter agrees: every product counted, none spent on the model
    assert op.matvecs == r.matvecs and r.setup_matvecs == 0
    assert r.passes == r.matvecs                      # single-vector steps
    K = ntk_gram(net, X, layers=layers)
    np.testing.assert_allclose(np.linalg.norm(K @ r.vector - r.value * r.vector), r.residual,
                               rtol=1e-6, atol=1e-13 * w[-1])


def test_lean_operator_gives_the_same_answer():
    # the model recomputes the features itself: the operator may keep only Z
    net, X = ntk_problem()
    full = deflated_lambda_min(ntk_operator(net, X))
    lean = deflated_lambda_min(ntk_operator(net, X, store="preactivations"))
    assert lean.matvecs == full.matvecs
    np.testing.assert_allclose(lean.value, full.value, **tol("iterative_eigen"))


def test_woodbury_branch_and_blocks():
    # n > d1 + d0: the Woodbury form of the preconditioner; blocks of 3
    net, X = ntk_problem(n=300, d0=30, d1=200, d2=2)
    op = ntk_operator(net, X)
    model = feature_model(op)
    assert not model.dense and model.rank == 230
    A = Counted(ntk_gram(net, X))
    r = deflated_lambda_min(A, X, model=model, block=3)
    w = np.linalg.eigvalsh(A.A)
    assert r.converged
    assert_within_bound(r, w)
    assert (A.count, A.passes) == (r.matvecs, r.passes)
    assert r.passes < r.matvecs


# --------------------------------------------------------------------------
# The preconditioner against its model matrix formed with NumPy
# --------------------------------------------------------------------------
def model_matrix(net, X, layers=("W", "V")):
    """``H H^T (x) I + (X X^T) (x) B + c I`` from the definitions (module docstring)."""
    n, d2 = X.shape[0], net.d2
    Z = X @ net.W.T + (0.0 if net.b1 is None else net.b1)
    H, G = net.activation.phi_dphi(Z)
    Hb = H if net.b2 is None else np.hstack([H, np.ones((n, 1))])
    Xb = X if net.b1 is None else np.hstack([X, np.ones((n, 1))])
    M = np.zeros((n * d2, n * d2))
    if "V" in layers:
        M += np.kron(Hb @ Hb.T, np.eye(d2))
    c = 0.0
    if "W" in layers:
        g = G.mean(axis=0)
        B = net.V @ np.diag(g * g) @ net.V.T
        M += np.kron(Xb @ Xb.T, B)
        # diagonal of the first-layer term: |x_a|^2 sum_r phi'(z_ar)^2 V_pr^2
        xsq = np.sum(Xb * Xb, axis=1)
        KW_diag = (xsq[:, None] * (G * G)) @ (net.V * net.V).T          # (n, d2)
        diag_model = np.kron(xsq, np.diag(B))
        c = float(np.mean(KW_diag.reshape(-1) - diag_model))
    return M, c


@pytest.mark.parametrize("n,d2,bias", [(40, 1, False), (300, 1, False), (300, 2, True),
                                       (30, 3, True)])
def test_feature_model_against_numpy(n, d2, bias):
    net, X = ntk_problem(n=n, d0=8, d1=50, d2=d2, bias=bias)
    model = feature_model(ntk_operator(net, X))
    M, c = model_matrix(net, X)
    np.testing.assert_allclose(model.c, c, **tol("same_math"))
    M[np.diag_indices_from(M)] += c
    R = np.random.default_rng(1).standard_normal((n * d2, 3))
    ref = np.linalg.solve(M, R)
    np.testing.assert_allclose(model.apply(R), ref, rtol=1e-9, atol=1e-9 * np.max(np.abs(ref)))
    assert model.dense == (n <= model.rank)


# --------------------------------------------------------------------------
# Fewer products on a crowded spectrum with a known top subspace
# --------------------------------------------------------------------------
def crowded(rng, n=500, d0=60):
    """Top ``d0 + 1`` eigenvalues spread over [50, 2000] on span[1, X]; the bulk in [1, 2]."""
    X = rng.standard_normal((n, d0))
    Qt, _ = np.linalg.qr(np.hstack([np.ones((n, 1)), X]))
    Qall, _ = np.linalg.qr(np.hstack([Qt, rng.standard_normal((n, n - d0 - 1))]))
    Qb = Qall[:, d0 + 1:]
    top = np.linspace(50.0, 2000.0, d0 + 1)
    bulk = np.linspace(1.0, 2.0, n - d0 - 1)
    K = (Qt * top) @ Qt.T + (Qb * bulk) @ Qb.T
    return 0.5 * (K + K.T), X, np.sort(np.concatenate([top, bulk]))


def test_fewer_products_than_plain_lanczos_on_crowded_spectrum():
    K, X, w = crowded(np.random.default_rng(3))
    plain = Counted(K)
    # plain thick-restart Lanczos with the same basis size: restarts forget the top
    out = thick_restart_lanczos(plain.matvec, K.shape[0], tol=1e-8, ncv=120)
    A = Counted(K)
    r = deflated_lambda_min(A, X, 1e-8, ncv=120)
    assert r.model == "nystrom" and r.setup_matvecs == X.shape[1] + 2   # block of d0 + 1, probe
    assert r.converged and out["converged"]
    assert_within_bound(r, w)
    assert A.count == r.matvecs and A.passes == r.passes
    # counted honestly (the block product as d0 + 1 products), still far fewer
    assert r.matvecs < 0.5 * plain.count, (r.matvecs, plain.count)


def test_features_model_needs_fewer_products_than_lanczos_on_an_ntk():
    net, X = ntk_problem(n=400, d0=30, d1=300)
    K = ntk_gram(net, X)
    plain = Counted(K)
    lambda_min(plain, tol=1e-8)
    r = deflated_lambda_min(ntk_operator(net, X))
    assert r.converged
    assert r.matvecs < 0.5 * plain.count, (r.matvecs, plain.count)


# --------------------------------------------------------------------------
# An honest bound when the deflation space is poor
# --------------------------------------------------------------------------
def test_bound_honest_with_a_random_deflation_space():
    rng = np.random.default_rng(5)
    K, _, w = crowded(rng)
    Xr = rng.standard_normal((K.shape[0], 20))      # unrelated to the top subspace
    r = deflated_lambda_min(Counted(K), Xr, 1e-8)
    assert r.converged
    assert_within_bound(r, w)


def test_bound_honest_with_the_model_of_another_network():
    net, X = ntk_problem(n=150, d0=12, d1=100)
    other, _ = ntk_problem(n=150, d0=12, d1=100, seed=7)
    wrong = feature_model(ntk_operator(other, X))
    K = ntk_gram(net, X)
    r = deflated_lambda_min(Counted(K), X, model=wrong)
    assert r.converged
    assert_within_bound(r, np.linalg.eigvalsh(K))


def test_maxiter_stops_honestly_and_warns():
    K, X, w = crowded(np.random.default_rng(4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = deflated_lambda_min(Counted(K), X, 1e-12, maxiter=80)
    assert any(c.category is ConvergenceWarning for c in caught)
    assert not r.converged and r.reason == "maxiter"
    assert r.matvecs == 81                            # the budget plus the final check
    # some eigenvalue within the bound (not necessarily the smallest)
    assert np.min(np.abs(w - r.value)) <= r.error_bound


def test_warm_start_from_the_answer_is_cheap():
    net, X = ntk_problem()
    op = ntk_operator(net, X)
    r = deflated_lambda_min(op)
    again = deflated_lambda_min(op, v0=r.vector)
    assert again.converged and again.matvecs < r.matvecs


def test_array_operator_and_scale_invariance():
    K, X, w = crowded(np.random.default_rng(6), n=200, d0=20)
    for s in (2.0 ** -600, 1.0, 2.0 ** 600):
        r = deflated_lambda_min(K * s, X)
        assert r.converged
        assert abs(r.value - w[0] * s) <= r.error_bound


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------
def test_bad_input():
    net, X = ntk_problem(n=20, d0=4, d1=10)
    op = ntk_operator(net, X)
    K = ntk_gram(net, X)
    cases = [
        (dict(op="not an operator"), "op must be"),
        (dict(op=np.ones((3, 4))), "op must be square"),
        (dict(op=aslinearoperator(K)), "X is required"),
        (dict(op=K, X=np.ones((7, 4))), "X has 7 rows"),
        (dict(op=op, X=np.ones((20, 5))), "X has shape"),
        (dict(op=K, X=np.ones((20, 4, 1))), "X must have 2"),
        (dict(op=op, model="exact"), "model must be one of"),
        (dict(op=K, X=X, model="features"), "needs an NTKOperator"),
        (dict(op=op, tol=-1.0), "tol must be"),
        (dict(op=op, tol=float("nan")), "tol must be"),
        (dict(op=op, maxiter=0), "maxiter must be"),
        (dict(op=K, X=X, maxiter=6), "does not leave a product"),
        (dict(op=op, block=0), "block must be"),
        (dict(op=op, block=1.5), "block must be"),
        (dict(op=op, ncv=10, keep=10), "keep must be smaller"),
        (dict(op=op, v0=np.ones(19)), "v0 must have length 20"),
        (dict(op=op, v0=np.zeros(20)), "v0 is the zero vector"),
        (dict(op=np.full((20, 20), np.nan), X=X), "op contains NaN"),
        (dict(op=K, X=X, model=feature_model(ntk_operator(net, X[:15]))), "wrong size"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            deflated_lambda_min(**kwargs)


def test_nonfinite_product_is_refused():
    class Bad(LinearOperator):
        def __init__(self):
            super().__init__(dtype=np.float64, shape=(30, 30))

        def _matvec(self, x):
            return np.full(30, np.inf)

    with pytest.raises(ValueError, match="NaN or Inf"):
        deflated_lambda_min(Bad(), np.ones((30, 2)) + np.arange(30)[:, None])


def test_feature_model_class_is_exported():
    net, X = ntk_problem(n=20, d0=4, d1=10)
    assert isinstance(feature_model(ntk_operator(net, X)), FeatureModel)


# --------------------------------------------------------------------------
# The route of ntk_lambda_min
# --------------------------------------------------------------------------
def test_ntk_lambda_min_davidson_route(rng, monkeypatch):
    from pl_toolkit import _features, ntk_lambda_min, ntk_spectrum
    from pl_toolkit._ntk_deflation import feature_model_bytes

    from pl_toolkit import _ntk_deflation

    for module in (_features, _ntk_deflation):                 # small temporaries
        monkeypatch.setattr(module, "CHUNK_BYTES", 8 * 60 * 16)
    net = ShallowNet.init(d0=20, d1=60, init="he", seed=2)
    X = rng.standard_normal((150, 20))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    exact = np.linalg.eigvalsh(ntk_gram(net, X))[0]
    r = ntk_lambda_min(net, X, method="davidson")
    assert r.method == "preconditioned-davidson" and r.converged
    assert abs(r.value - exact) <= r.error_bound
    assert r.route_reason == "method='davidson' requested"

    # under auto: the matrix-free routes once the float32 NTK does not fit
    monkeypatch.setattr(ntk_spectrum, "JACOBIAN_DENSE_MAX", 10)
    need = (ntk_spectrum._ntk_operator_bytes(150, 20, 60, 1, "features")
            + feature_model_bytes(150, 20, 60, 1))
    mixed = ntk_spectrum._ntk_mixed_bytes(150, 20, 60, 1)
    assert need < mixed
    r = ntk_lambda_min(net, X, max_memory=need)
    assert r.method == "preconditioned-davidson", r.route_reason
    assert "preconditioned Davidson" in r.route_reason
    assert abs(r.value - exact) <= r.error_bound
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r = ntk_lambda_min(net, X, max_memory=need // 4)
    assert r.method == "lanczos" and "the Davidson preconditioner needs" in r.route_reason
