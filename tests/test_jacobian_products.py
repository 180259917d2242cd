"""The one implementation of the NTK's Jacobian products, against explicit Jacobians.

``_features.vjp_blocks`` and ``jvp_blocks`` (``J^T U`` and ``J T`` for
``k`` columns at once) serve ``vjp``, ``jvp``, ``gradient``, every product
of ``NTKOperator``, the mixed route of ``ntk_lambda_min`` and the shards of
the distributed operator.  The reference is ``pl_toolkit._reference.jacobian``
(entry by entry from the chain rule) or central differences; row chunks are
forced small so that several chunks are summed.
"""

import numpy as np
import pytest
from _tolerances import EPS64, tol

from pl_toolkit import ShallowNet, gradient, jvp, loss, ntk_lambda_min, ntk_operator, vjp
from pl_toolkit import _features, _reference
from pl_toolkit.ntk import NTKOperator

LAYERS = [("W", "V"), ("W",), ("V",)]
BIASES = ["none", "b1", "b2", "both"]


def make_net(d2, bias, d0=4, d1=9, seed=1):
    net = ShallowNet.init(d0, d1, d2, seed=seed, bias=bias != "none", activation="gelu")
    if bias == "b1":
        net = net.replace(b2=None)
    elif bias == "b2":
        net = net.replace(b1=None)
    if net.b1 is not None:                  # nonzero biases, so that their terms count
        net = net.replace(b1=np.linspace(-0.5, 0.5, d1))
    if net.b2 is not None:
        net = net.replace(b2=np.linspace(-1.0, 1.0, d2))
    return net


def small_chunks(monkeypatch, net, k, rows=3):
    """Make the block products of ``k`` columns use chunks of ``rows`` rows."""
    widest = max(k * net.d1, k * net.d2, net.d0 + 1)
    monkeypatch.setattr(_features, "CHUNK_BYTES", 8 * widest * rows)
    assert _features.product_rows(net, k) == rows


# --------------------------------------------------------------------------
# the block functions themselves
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2", [1, 3])
@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("k", [1, 5])
def test_block_vjp_and_jvp_match_explicit_jacobian(rng, monkeypatch, d2, bias, layers, k):
    net = make_net(d2, bias)
    n = 11
    X = rng.standard_normal((n, net.d0))
    J = _reference.jacobian(net, X, layers)
    small_chunks(monkeypatch, net, k)                        # 4 chunks of 3, 3, 3, 2 rows
    feats = _features.features(net, X)
    U = rng.standard_normal((n * d2, k))
    g = _features.vjp_blocks(net, X, feats, U.reshape(n, d2, k), layers)
    flat = _features.flat_from_blocks(net, g)
    assert flat.shape == (k, J.shape[1])
    np.testing.assert_allclose(flat.T, J.T @ U, **tol("kernel_vs_reference"))
    T = rng.standard_normal((k, J.shape[1]))
    out = _features.jvp_blocks(net, X, feats, _features.blocks_from_flat(net, T, layers), layers)
    assert out.shape == (n, d2, k)
    np.testing.assert_allclose(out.reshape(n * d2, k), J @ T.T, **tol("kernel_vs_reference"))
    # the flat layout and the blocks convert into each other exactly
    np.testing.assert_array_equal(
        _features.flat_from_blocks(net, _features.blocks_from_flat(net, T, layers)), T)


def test_features_by_chunk_equal_stored_features(rng, monkeypatch):
    # feats as a function of the row slice (recomputed per chunk) or as arrays
    net = make_net(3, "both")
    X = rng.standard_normal((10, net.d0))
    small_chunks(monkeypatch, net, 2)
    H, G = _features.features(net, X)
    U = rng.standard_normal((10, 3, 2))
    seen = []

    def by_chunk(c):
        seen.append(c)
        return H[c], G[c]

    a = _features.vjp_blocks(net, X, (H, G), U, ("W", "V"))
    b = _features.vjp_blocks(net, X, by_chunk, U, ("W", "V"))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert [(c.start, c.stop) for c in seen] == [(0, 3), (3, 6), (6, 9), (9, 10)]


def test_first_layer_sum_in_row_blocks_below_chunk_bytes(rng, monkeypatch):
    # J^T U's first-layer block (k d1 x (d0 + 1)) accumulated in row blocks
    # whose temporaries stay below CHUNK_BYTES: one row of it at a time here
    net = make_net(2, "both", d0=3, d1=6)
    X = rng.standard_normal((7, 3))
    J = _reference.jacobian(net, X)
    U = rng.standard_normal((14, 4))
    monkeypatch.setattr(_features, "CHUNK_BYTES", 8 * 4)
    g = _features.vjp_blocks(net, X, _features.features(net, X), U.reshape(7, 2, 4), ("W", "V"))
    np.testing.assert_allclose(_features.flat_from_blocks(net, g).T, J.T @ U,
                               **tol("kernel_vs_reference"))


# --------------------------------------------------------------------------
# NTKOperator: the block product (matmat) and its one-column case (matvec)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2", [1, 3])
@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("store", ["features", "preactivations"])
def test_operator_block_product_matches_explicit_jacobian(rng, monkeypatch, d2, bias, layers, k,
                                                          store):
    net = make_net(d2, bias)
    n = 11
    X = rng.standard_normal((n, net.d0))
    J = _reference.jacobian(net, X, layers)
    K = J @ J.T
    small_chunks(monkeypatch, net, k)
    op = ntk_operator(net, X, layers, store=store)
    U = rng.standard_normal((n * d2, k))
    KU = op @ U
    assert KU.shape == (n * d2, k) and op.matvecs == k
    np.testing.assert_allclose(KU, K @ U, **tol("kernel_vs_reference"))
    np.testing.assert_allclose(op.matmat(np.asfortranarray(U)), KU, **tol("same_math"))
    # column j of the block product is the single product of column j
    small_chunks(monkeypatch, net, 1)
    for j in range(k):
        np.testing.assert_allclose(KU[:, j], op @ U[:, j], **tol("same_math"))
    assert op.matvecs == 3 * k
    assert (store == "features") == hasattr(op, "_Hf")


def test_operator_splits_wide_blocks_into_column_groups(rng, monkeypatch):
    net = make_net(2, "both")
    X = rng.standard_normal((9, net.d0))
    K = _reference.jacobian(net, X) @ _reference.jacobian(net, X).T
    U = rng.standard_normal((18, 7))
    op = ntk_operator(net, X)
    whole = op @ U
    P = net.num_parameters()
    monkeypatch.setattr(_features, "PRODUCT_BYTES", 8 * P * 3)   # groups of 3, 3 and 1
    assert [(c.start, c.stop) for c in _features.column_groups(7, P)] == [(0, 3), (3, 6),
                                                                         (6, 7)]
    grouped = op @ U
    np.testing.assert_allclose(grouped, whole, **tol("same_math"))
    np.testing.assert_allclose(grouped, K @ U, **tol("kernel_vs_reference"))
    assert op.matvecs == 14


def test_operator_block_product_refuses_bad_blocks(rng):
    net = make_net(1, "none")
    X = rng.standard_normal((5, net.d0))
    op = NTKOperator(net, X)
    U = np.ones((5, 3))
    U[2, 1] = np.nan
    with pytest.raises(ValueError, match="^u contains NaN"):
        op @ U
    with pytest.raises(ValueError, match=r"^u has entries up to 1e\+308 .*the product K u"):
        op @ np.full((5, 2), 1e308)


def test_mixed_route_names_the_input_of_a_nonfinite_product(rng, monkeypatch):
    # the mixed route's products come from NTKOperator's matmat; one that is
    # not finite is reported naming X or net, as the other routes do
    net = ShallowNet.init(6, 30, seed=3)
    X = rng.standard_normal((40, 6))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    monkeypatch.setattr(NTKOperator, "_product", lambda self, U: np.full(U.shape, np.inf))
    with pytest.raises(ValueError, match=r"^X: the NTK of these inputs is not finite"):
        ntk_lambda_min(net, X * 10.0, method="mixed")
    with pytest.raises(ValueError, match=r"^net: the NTK of these weights is not finite"):
        ntk_lambda_min(net.replace(W=net.W * 10.0), X * 1e-3, method="mixed")


# --------------------------------------------------------------------------
# vjp, jvp and gradient: the block functions with one column
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2", [1, 3])
@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("layers", LAYERS)
def test_vjp_jvp_gradient_match_explicit_jacobian_and_differences(rng, monkeypatch, d2, bias,
                                                                   layers):
    net = make_net(d2, bias)
    n = 8
    X = rng.standard_normal((n, net.d0))
    Y = rng.standard_normal((n, d2))
    J = _reference.jacobian(net, X, layers)
    small_chunks(monkeypatch, net, 1)
    U = rng.standard_normal((n, d2))
    np.testing.assert_allclose(vjp(net, X, U, layers), J.T @ U.ravel(), **tol("analytic_jacobian"))
    t = rng.standard_normal(J.shape[1])
    jt = jvp(net, X, t, layers)
    np.testing.assert_allclose(jt.ravel(), J @ t, **tol("analytic_jacobian"))
    theta = net.parameters(layers)
    step = EPS64 ** (1 / 3)
    fd = (net.with_parameters(theta + step * t, layers).forward(X)
          - net.with_parameters(theta - step * t, layers).forward(X)) / (2 * step)
    np.testing.assert_allclose(jt, fd, **tol("finite_difference"))
    g = gradient(net, X, Y, layers)
    R = net.forward(X) - Y
    np.testing.assert_allclose(g, 2 * J.T @ R.ravel(), **tol("analytic_jacobian"))
    # the directional derivative of the loss along t
    dh = (loss(net.with_parameters(theta + step * t, layers), X, Y)
          - loss(net.with_parameters(theta - step * t, layers), X, Y)) / (2 * step)
    np.testing.assert_allclose(g @ t, dh, **tol("finite_difference"))
