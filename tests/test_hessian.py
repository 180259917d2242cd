"""Hessian-vector products and the top Hessian eigenvalue of the loss.

Independent routes to the dense Hessian of ``h = ||f(X) - Y||_F^2``:

* ``fd_hessian``: central differences of the analytic gradient
  (:func:`pl_toolkit.gradient`), column by column;
* ``explicit_hessian``: the formula ``2 J^T J + 2 sum_{a,p} r_ap
  nabla^2 f_p(x_a)`` written entry by entry with explicit loops, with
  ``phi, phi', phi''`` lambdified from the SymPy table of
  ``test_activations`` and the Jacobian of ``pl_toolkit._reference``.
"""

import numpy as np
import pytest
from scipy.sparse.linalg import eigsh

from _tolerances import tol
from test_activations import numpy_funcs_broadcast

from pl_toolkit import ShallowNet, gradient, hessian_top_eigenvalue, hessian_vector_product
from pl_toolkit import _reference
from pl_toolkit.hessian import HessianOperator, hessian_operator

ALL_LAYERS = [("W", "V"), ("W",), ("V",)]
SMOOTH = ("gelu", "tanh", "shifted_softplus", "silu")


def make_problem(rng, activation="gelu", d0=3, d1=4, d2=2, n=5, bias=False):
    net = ShallowNet.init(d0, d1, d2, activation=activation, init=(0.9, 0.8), seed=7, bias=bias)
    if bias:
        net = net.replace(b1=0.3 * rng.standard_normal(d1), b2=0.3 * rng.standard_normal(d2))
    X = rng.standard_normal((n, d0))
    Y = rng.standard_normal((n, d2))
    return net, X, Y


def fd_hessian(net, X, Y, layers, step=1e-5):
    """Central differences of the analytic gradient, one column per parameter."""
    theta = net.parameters(layers)
    cols = []
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = step
        gp = gradient(net.with_parameters(theta + e, layers), X, Y, layers)
        gm = gradient(net.with_parameters(theta - e, layers), X, Y, layers)
        cols.append((gp - gm) / (2 * step))
    return np.array(cols).T


def explicit_hessian(net, X, Y, layers):
    """``2 J^T J + 2 sum r_ap nabla^2 f_p(x_a)`` entry by entry (both layers, then restrict)."""
    phi, dphi, ddphi = numpy_funcs_broadcast(net.activation.name)
    d0, d1, d2, n = net.d0, net.d1, net.d2, X.shape[0]
    W, V = np.asarray(net.W), np.asarray(net.V)
    b1 = np.zeros(d1) if net.b1 is None else np.asarray(net.b1)
    b2 = np.zeros(d2) if net.b2 is None else np.asarray(net.b2)
    Z = X @ W.T + b1
    R = phi(Z) @ V.T + b2 - Y
    # index maps of the full parameter vector (W, b1, V, b2)
    idx, i = {}, 0
    for r in range(d1):
        for k in range(d0):
            idx[("W", r, k)] = i
            i += 1
    if net.b1 is not None:
        for r in range(d1):
            idx[("b1", r)] = i
            i += 1
    for p in range(d2):
        for r in range(d1):
            idx[("V", p, r)] = i
            i += 1
    if net.b2 is not None:
        for p in range(d2):
            idx[("b2", p)] = i
            i += 1
    P = i
    curv = np.zeros((P, P))
    for a in range(n):
        for p in range(d2):
            rap = R[a, p]
            for r in range(d1):
                z = Z[a, r]
                # first layer inputs of unit r: x_a (for W) and 1 (for b1)
                ins = [(idx[("W", r, k)], X[a, k]) for k in range(d0)]
                if net.b1 is not None:
                    ins.append((idx[("b1", r)], 1.0))
                # d2 f_p / d w_r d w_r = V_pr phi''(z) x x^T
                for (i1, x1) in ins:
                    for (i2, x2) in ins:
                        curv[i1, i2] += rap * V[p, r] * ddphi(np.array(z)) * x1 * x2
                    # d2 f_p / d w_r d V_pr = phi'(z) x
                    iv = idx[("V", p, r)]
                    curv[i1, iv] += rap * dphi(np.array(z)) * x1
                    curv[iv, i1] += rap * dphi(np.array(z)) * x1
    J = _reference.jacobian(net, X, ("W", "V"))
    full = 2 * J.T @ J + 2 * curv
    # restrict to the requested layers
    keep = np.zeros(P, dtype=bool)
    for key, j in idx.items():
        layer = "W" if key[0] in ("W", "b1") else "V"
        if layer in layers:
            keep[j] = True
    return full[np.ix_(keep, keep)]


def dense_from_hvp(net, X, Y, layers):
    op = hessian_operator(net, X, Y, layers)
    return op @ np.eye(op.shape[0])


@pytest.mark.parametrize("activation", SMOOTH)
@pytest.mark.parametrize("layers", ALL_LAYERS)
@pytest.mark.parametrize("bias", [False, True])
def test_hvp_matches_explicit_formula(rng, activation, layers, bias):
    net, X, Y = make_problem(rng, activation, bias=bias)
    H = dense_from_hvp(net, X, Y, layers)
    ref = explicit_hessian(net, X, Y, layers)
    np.testing.assert_allclose(H, ref, **tol("analytic_jacobian"))
    np.testing.assert_allclose(H, H.T, **tol("same_math"))


@pytest.mark.parametrize("layers", ALL_LAYERS)
@pytest.mark.parametrize("d2", [1, 3])
def test_hvp_matches_finite_differences_of_gradient(rng, layers, d2):
    net, X, Y = make_problem(rng, "gelu", d2=d2, bias=True)
    H = dense_from_hvp(net, X, Y, layers)
    scale = np.max(np.abs(H))
    np.testing.assert_allclose(H, fd_hessian(net, X, Y, layers),
                               rtol=tol("finite_difference")["rtol"],
                               atol=tol("finite_difference")["rtol"] * scale)


def test_public_hvp_against_directional_difference(rng):
    net, X, Y = make_problem(rng, "tanh", d0=5, d1=7, d2=2, n=6)
    u = rng.standard_normal(net.num_parameters())
    hv = hessian_vector_product(net, X, Y, u)
    theta, step = net.parameters(), 1e-5
    gp = gradient(net.with_parameters(theta + step * u), X, Y)
    gm = gradient(net.with_parameters(theta - step * u), X, Y)
    fd = (gp - gm) / (2 * step)
    np.testing.assert_allclose(hv, fd, rtol=tol("finite_difference")["rtol"],
                               atol=tol("finite_difference")["rtol"] * np.max(np.abs(fd)))


def test_layer_hvp_is_block_of_full_hessian(rng):
    net, X, Y = make_problem(rng, "gelu", bias=True)
    full = dense_from_hvp(net, X, Y, ("W", "V"))
    pw = net.num_parameters(("W",))
    np.testing.assert_allclose(dense_from_hvp(net, X, Y, ("W",)), full[:pw, :pw],
                               **tol("same_math"))
    np.testing.assert_allclose(dense_from_hvp(net, X, Y, ("V",)), full[pw:, pw:],
                               **tol("same_math"))


def test_hessian_operator_counts_and_is_symmetric_operator(rng):
    net, X, Y = make_problem(rng)
    op = hessian_operator(net, X, Y)
    assert isinstance(op, HessianOperator)
    u, v = rng.standard_normal(op.shape[0]), rng.standard_normal(op.shape[0])
    np.testing.assert_allclose(u @ (op @ v), v @ (op @ u), **tol("same_math"))
    np.testing.assert_allclose(op.rmatvec(u), op.matvec(u), **tol("same_math"))
    assert op.matvecs == 4


@pytest.mark.parametrize("method", ["lanczos", "eigsh"])
@pytest.mark.parametrize("layers", ALL_LAYERS)
def test_top_eigenvalue_against_dense(rng, method, layers):
    net, X, Y = make_problem(rng, "gelu", d0=4, d1=9, d2=2, n=7, bias=True)
    ref = np.linalg.eigvalsh(explicit_hessian(net, X, Y, layers))[-1]
    res = hessian_top_eigenvalue(net, X, Y, layers=layers, tol=1e-8, method=method)
    assert res.converged and res.method == method
    np.testing.assert_allclose(res.value, ref, **tol("iterative_eigen"))
    # the vector is an eigenvector: its Rayleigh quotient and residual agree
    Hd = dense_from_hvp(net, X, Y, layers)
    v = res.vector
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, **tol("same_math"))
    # acceptance needs a Ritz residual <= sqrt(tol) |value| = 1e-4 |value|
    assert np.linalg.norm(Hd @ v - res.value * v) <= 1e-4 * abs(ref) * (1 + 1e-6)


def test_top_eigenvalue_mid_size_against_eigsh(rng):
    # p = 8 * 40 + 40 = 360 parameters: the restarted path is exercised.
    net = ShallowNet.init(8, 40, 1, seed=3)
    X = rng.standard_normal((30, 8))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rng.standard_normal((30, 1)) / 6
    op = hessian_operator(net, X, Y)
    ref = eigsh(op @ np.eye(op.shape[0]), k=1, which="LA", tol=1e-14)[0][0]
    res = hessian_top_eigenvalue(net, X, Y, tol=1e-8)
    np.testing.assert_allclose(res.value, ref, **tol("iterative_eigen"))


def test_warm_start_is_cheaper(rng):
    net, X, Y = make_problem(rng, "gelu", d0=6, d1=30, d2=1, n=20)
    cold = hessian_top_eigenvalue(net, X, Y)
    warm = hessian_top_eigenvalue(net, X, Y, v0=cold.vector)
    assert warm.matvecs < cold.matvecs
    np.testing.assert_allclose(warm.value, cold.value, **tol("tracked_lanczos"))


def test_identity_network_closed_form():
    # f(x) = v w x with x = 1, y = 1: h = (v w - 1)^2.  At w = 1, v = 2:
    # h_ww = 2 v^2 = 8, h_wv = 2 (2 v w - 1) = 6, h_vv = 2 w^2 = 2.
    net = ShallowNet([[1.0]], [[2.0]], activation="identity")
    H = dense_from_hvp(net, [[1.0]], [1.0], ("W", "V"))
    np.testing.assert_array_equal(H, [[8.0, 6.0], [6.0, 2.0]])
    res = hessian_top_eigenvalue(net, [[1.0]], [1.0])
    np.testing.assert_allclose(res.value, 5 + np.sqrt(45), **tol("iterative_eigen"))


def test_bad_input(rng):
    net, X, Y = make_problem(rng)
    p = net.num_parameters()
    with pytest.raises(ValueError, match="^u has length"):
        hessian_vector_product(net, X, Y, np.ones(p + 1))
    bad = np.ones(p)
    bad[2] = np.nan
    with pytest.raises(ValueError, match="^u contains NaN"):
        hessian_vector_product(net, X, Y, bad)
    Xn = X.copy()
    Xn[1, 1] = np.nan
    with pytest.raises(ValueError, match="^X contains NaN"):
        hessian_vector_product(net, Xn, Y, np.ones(p))
    with pytest.raises(ValueError, match="^Y has shape"):
        hessian_top_eigenvalue(net, X, Y[:-1])
    with pytest.raises(ValueError, match="^method"):
        hessian_top_eigenvalue(net, X, Y, method="power")
    with pytest.raises(ValueError, match="^tol"):
        hessian_top_eigenvalue(net, X, Y, tol=0)
    with pytest.raises(ValueError, match="^v0 has length"):
        hessian_top_eigenvalue(net, X, Y, v0=np.ones(3))
    with pytest.raises(ValueError, match="^net"):
        hessian_vector_product("net", X, Y, np.ones(p))
    with pytest.raises(ValueError, match="^layers"):
        hessian_vector_product(net, X, Y, np.ones(p), layers=("U",))


def test_lanczos_counts_every_product_and_respects_maxiter(rng, monkeypatch):
    # the reported count is the number of Hessian-vector products made
    # (the Lanczos path spends no extra product on a final residual)
    calls = []
    apply = HessianOperator._apply

    def counted(self, u):
        calls.append(1)
        return apply(self, u)

    monkeypatch.setattr(HessianOperator, "_apply", counted)
    net, X, Y = make_problem(rng, "gelu", d0=6, d1=30, d2=1, n=20)
    res = hessian_top_eigenvalue(net, X, Y, tol=1e-10)
    assert res.converged and res.matvecs == len(calls)
    calls.clear()
    short = hessian_top_eigenvalue(net, X, Y, tol=1e-10, maxiter=3)
    assert not short.converged and short.matvecs == len(calls) == 3


def test_overflowing_products_raise_value_error():
    net = ShallowNet(np.full((3, 2), 1e200), np.full((1, 3), 1e200), activation="gelu")
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="^net gives NaN or Inf"):
        hessian_top_eigenvalue(net, np.ones((4, 2)), np.ones(4))


@pytest.mark.slow
def test_benchmark_like_net_cold_and_warm_against_arpack():
    # bench_train's problem at a third of its size (p = 24,400 parameters):
    # cold and warm-started (after one GD step) against ARPACK at tol 1e-12.
    rs = np.random.default_rng(np.random.SeedSequence(1))
    X = rs.standard_normal((300, 60))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rs.standard_normal((300, 1))
    Y /= np.linalg.norm(Y)
    net = ShallowNet.init(60, 400, 1, activation="gelu", seed=0)
    cold = hessian_top_eigenvalue(net, X, Y, tol=1e-8)
    ref = hessian_top_eigenvalue(net, X, Y, method="eigsh", tol=1e-12)
    assert cold.converged and cold.matvecs < ref.matvecs
    np.testing.assert_allclose(cold.value, ref.value, **tol("iterative_eigen"))
    net1 = net.with_parameters(net.parameters() - 0.5 / cold.value * gradient(net, X, Y))
    warm = hessian_top_eigenvalue(net1, X, Y, tol=1e-8, v0=cold.vector)
    ref1 = hessian_top_eigenvalue(net1, X, Y, method="eigsh", tol=1e-12)
    assert warm.converged and warm.matvecs < cold.matvecs
    np.testing.assert_allclose(warm.value, ref1.value, **tol("iterative_eigen"))
