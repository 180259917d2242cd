"""Empirical NTK, loss, gradient, JVP/VJP against explicit Jacobians.

Three Jacobian routes, all sample-major (row ``a*d2 + p`` is output ``p`` of
sample ``a``; columns ``W`` row-major, ``b1``, ``V`` row-major, ``b2``):

* ``explicit_jacobian`` here: the chain rule written with ``einsum``, with
  phi and phi' lambdified from the SymPy table of ``test_activations``;
* ``pl_toolkit._reference.jacobian``: the package's own entry-by-entry route;
* ``fd_jacobian`` here: central differences of ``net.forward`` through
  ``net.with_parameters``.
"""

import contextlib

import numba
import numpy as np
import pytest
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, cg, eigsh, lobpcg

from _tolerances import EPS64, TOL, residual_tol, tol
from test_activations import BUILTINS, numpy_funcs_broadcast

from pl_toolkit import (NTKBlocks, ShallowNet, gradient, jvp, loss, ntk_gram, ntk_operator,
                        residual, vjp)
from pl_toolkit import _reference
from pl_toolkit import _features

ALL_LAYERS = [("W", "V"), ("W",), ("V",)]


@pytest.fixture(autouse=True, scope="module")
def _one_numba_thread():
    # This file checks the mathematics on tiny problems through hundreds of
    # calls; thread count cannot change results (row-parallel kernels, checked
    # bitwise in test_kernels_vs_reference.py with all threads), but on a loaded
    # machine every parallel launch may wait milliseconds for its threads.
    with one_thread():
        yield


# --------------------------------------------------------------------------
# Independent routes
# --------------------------------------------------------------------------
def make_net(rng, name, d0=3, d1=7, d2=1, bias=False):
    W = rng.standard_normal((d1, d0)) / np.sqrt(d0)
    V = rng.standard_normal((d2, d1)) / np.sqrt(d1)
    b1 = 0.5 * rng.standard_normal(d1) if bias else None
    b2 = 0.5 * rng.standard_normal(d2) if bias else None
    return ShallowNet(W, V, activation=name, b1=b1, b2=b2)


def make_data(rng, net, n, margin=1e-3):
    """Rows whose preactivations all stay ``margin`` away from 0.

    Keeps relu/leaky_relu finite differences off the kink: a parameter step
    of ~1e-5 moves a preactivation by less than ``margin``.
    """
    rows = []
    b1 = 0.0 if net.b1 is None else net.b1
    while len(rows) < n:
        x = rng.standard_normal(net.d0)
        if np.min(np.abs(net.W @ x + b1)) > margin:
            rows.append(x)
    return np.array(rows)


def own_features(net, X):
    phi, dphi, _ = numpy_funcs_broadcast(net.activation.name)
    Z = X @ net.W.T
    if net.b1 is not None:
        Z = Z + net.b1
    return phi(Z), dphi(Z)


def own_forward(net, X):
    H, _ = own_features(net, X)
    out = H @ net.V.T
    return out if net.b2 is None else out + net.b2


def explicit_jacobian(net, X, layers=("W", "V")):
    """d f_p(x_a) / d theta by the chain rule, sample-major rows."""
    H, G = own_features(net, X)
    V, n, d0, d1, d2 = net.V, X.shape[0], net.d0, net.d1, net.d2
    eye = np.eye(d2)
    cols = []
    if "W" in layers:
        # d f_p(x_a) / d W_rk = V_pr phi'(z_ar) x_ak
        cols.append(np.einsum("pr,ar,ak->aprk", V, G, X).reshape(n * d2, d1 * d0))
        if net.b1 is not None:
            cols.append(np.einsum("pr,ar->apr", V, G).reshape(n * d2, d1))
    if "V" in layers:
        # d f_p(x_a) / d V_qr = [p = q] phi(z_ar)
        cols.append(np.einsum("pq,ar->apqr", eye, H).reshape(n * d2, d2 * d1))
        if net.b2 is not None:
            cols.append(np.tile(eye, (n, 1)))
    return np.hstack(cols)


@contextlib.contextmanager
def one_thread():
    """Run the enclosed code on one numba thread, restoring the count after."""
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def fd_jacobian(net, X, layers=("W", "V")):
    """Central differences of ``net.forward`` w.r.t. the flat parameters."""
    theta = net.parameters(layers)
    cols = []
    for i in range(theta.size):
        h = EPS64 ** (1 / 3) * max(1.0, abs(theta[i]))
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        fp = net.with_parameters(tp, layers).forward(X)
        fm = net.with_parameters(tm, layers).forward(X)
        cols.append((fp - fm).ravel() / (2 * h))
    return np.array(cols).T


def rel_err(A, B):
    return np.linalg.norm(A - B) / np.linalg.norm(B)


def rtol_of(kind):
    return TOL[(np.float64, kind)][0]


CASES = [(name, d2, bias) for name in BUILTINS for d2 in (1, 3) for bias in (False, True)]


# --------------------------------------------------------------------------
# Gram matrix against J J^T
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name, d2, bias", CASES)
def test_gram_equals_jacobian_products(rng, name, d2, bias):
    net = make_net(rng, name, d2=d2, bias=bias)
    X = make_data(rng, net, 5)
    K = ntk_gram(net, X)
    assert K.shape == (5 * d2, 5 * d2)

    J = explicit_jacobian(net, X)
    assert J.shape == (5 * d2, net.num_parameters())
    assert rel_err(K, J @ J.T) <= rtol_of("analytic_jacobian")

    J_ref = _reference.jacobian(net, X)
    np.testing.assert_allclose(J_ref, J, **tol("analytic_jacobian"))
    assert rel_err(K, J_ref @ J_ref.T) <= rtol_of("analytic_jacobian")

    # Finite differences: valid for relu/leaky_relu too, because make_data keeps
    # every preactivation 1e-3 away from the kink while steps move it < 1e-4.
    J_fd = fd_jacobian(net, X)
    np.testing.assert_allclose(J_fd, J, **tol("finite_difference"))
    assert rel_err(K, J_fd @ J_fd.T) <= rtol_of("finite_difference")


@pytest.mark.parametrize("d2", [1, 3])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("name", ["gelu", "relu", "quadratic"])
def test_blocks_and_layers(rng, name, d2, bias):
    net = make_net(rng, name, d2=d2, bias=bias)
    X = make_data(rng, net, 6)
    K = ntk_gram(net, X)
    parts = ntk_gram(net, X, blocks=True)
    assert isinstance(parts, NTKBlocks)
    np.testing.assert_allclose(parts.W + parts.V, K, **tol("same_math"))

    # First-layer term: J_W J_W^T.
    JW = explicit_jacobian(net, X, ("W",))
    assert rel_err(parts.W, JW @ JW.T) <= rtol_of("analytic_jacobian")
    # Second-layer term: conjugate kernel (x) I_{d2}, +1 with b2.
    H, _ = own_features(net, X)
    CK = H @ H.T + (1.0 if net.b2 is not None else 0.0)
    np.testing.assert_allclose(parts.V, np.kron(CK, np.eye(d2)), **tol("analytic_jacobian"))

    # layers restriction equals the corresponding block.
    np.testing.assert_allclose(ntk_gram(net, X, layers=("W",)), parts.W, **tol("same_math"))
    np.testing.assert_allclose(ntk_gram(net, X, layers=("V",)), parts.V, **tol("same_math"))
    np.testing.assert_allclose(ntk_gram(net, X, layers=("V", "W")), K, **tol("same_math"))
    # blocks with a restriction: the other term is zero.
    only_w = ntk_gram(net, X, blocks=True, layers=("W",))
    np.testing.assert_allclose(only_w.W, parts.W, **tol("same_math"))
    assert not np.any(only_w.V)


@pytest.mark.parametrize("d2", [1, 3])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("layers", ALL_LAYERS)
def test_cross_kernel(rng, d2, bias, layers):
    net = make_net(rng, "tanh", d2=d2, bias=bias)
    X, X2 = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    Kx = ntk_gram(net, X, X2, layers=layers)
    assert Kx.shape == (5 * d2, 4 * d2)
    full = ntk_gram(net, np.vstack([X, X2]), layers=layers)
    np.testing.assert_allclose(Kx, full[:5 * d2, 5 * d2:], **tol("same_math"))
    np.testing.assert_allclose(ntk_gram(net, X2, X, layers=layers), Kx.T, **tol("same_math"))
    J1, J2 = explicit_jacobian(net, X, layers), explicit_jacobian(net, X2, layers)
    assert rel_err(Kx, J1 @ J2.T) <= rtol_of("analytic_jacobian")
    parts = ntk_gram(net, X, X2, blocks=True, layers=layers)
    np.testing.assert_allclose(parts.W + parts.V, Kx, **tol("same_math"))


def test_cross_kernel_with_itself_equals_gram(rng):
    net = make_net(rng, "silu", d2=2, bias=True)
    X = rng.standard_normal((6, 3))
    np.testing.assert_allclose(ntk_gram(net, X, X.copy()), ntk_gram(net, X), **tol("same_math"))


@pytest.mark.parametrize("d2", [1, 2])
@pytest.mark.parametrize("name", ["gelu", "relu", "erf"])
def test_symmetric_psd_rank_deficient(rng, name, d2):
    # n d2 > number of parameters: K is singular, the hard case for PSD.
    net = make_net(rng, name, d0=2, d1=3, d2=d2)
    X = rng.standard_normal((40, 2))
    K = ntk_gram(net, X)
    N = K.shape[0]
    assert N > net.num_parameters()
    np.testing.assert_allclose(K, K.T, **tol("same_math"))
    w = np.linalg.eigvalsh(K)
    normK = w[-1]
    assert w[0] >= -N * EPS64 * normK
    # Rank is at most the number of parameters.
    assert np.sum(w > residual_tol(N, normK)) <= net.num_parameters()


# --------------------------------------------------------------------------
# Matrix-free operator
# --------------------------------------------------------------------------
@pytest.mark.parametrize("d2", [1, 3])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("layers", ALL_LAYERS)
@pytest.mark.parametrize("chunked", [False, True])
def test_operator_matches_dense(rng, monkeypatch, d2, bias, layers, chunked):
    if chunked:
        # Force row chunks of 2 samples to exercise the chunked accumulation.
        monkeypatch.setattr(_features, "CHUNK_BYTES", 2 * 8 * 7)
    net = make_net(rng, "gelu", d2=d2, bias=bias)
    X = rng.standard_normal((7, 3))
    op = ntk_operator(net, X, layers=layers)
    J = explicit_jacobian(net, X, layers)
    K = J @ J.T
    N = 7 * d2
    assert op.shape == (N, N) and op.dtype == np.float64
    scale = np.linalg.norm(K, 2)
    u = rng.standard_normal(N)
    U = rng.standard_normal((N, 4))
    rt = rtol_of("analytic_jacobian")
    assert np.linalg.norm(op @ u - K @ u) <= rt * scale * np.linalg.norm(u)
    assert np.linalg.norm(op.matvec(u) - K @ u) <= rt * scale * np.linalg.norm(u)
    assert np.linalg.norm(op.rmatvec(u) - K @ u) <= rt * scale * np.linalg.norm(u)
    assert np.linalg.norm(op @ U - K @ U) <= rt * scale * np.linalg.norm(U)
    assert np.linalg.norm(op.matmat(U) - K @ U) <= rt * scale * np.linalg.norm(U)
    assert np.linalg.norm(op.T @ U - K @ U) <= rt * scale * np.linalg.norm(U)
    # The operator applied to the identity is the Gram matrix of ntk_gram.
    dense = op @ np.eye(N)
    Kg = ntk_gram(net, X, layers=layers)
    assert np.linalg.norm(dense - Kg) <= rtol_of("same_math") * np.linalg.norm(Kg) * N


def test_operator_counts_matvecs(rng):
    net = make_net(rng, "tanh", d2=2)
    op = ntk_operator(net, rng.standard_normal((5, 3)))
    before = op.matvecs
    op @ np.ones(10)
    assert op.matvecs == before + 1


@pytest.fixture
def spectral_problem(rng):
    net = make_net(rng, "gelu", d0=4, d1=12, d2=2, bias=True)
    X = rng.standard_normal((30, 4))
    return net, X, ntk_gram(net, X)


def test_eigsh_on_operator(spectral_problem, rng):
    net, X, K = spectral_problem
    op = ntk_operator(net, X)
    w_dense = np.linalg.eigvalsh(K)
    w = eigsh(op, k=3, which="LA", return_eigenvectors=False,
              v0=rng.standard_normal(K.shape[0]))
    np.testing.assert_allclose(np.sort(w), w_dense[-3:], rtol=rtol_of("iterative_eigen"),
                               atol=0.0)


def test_lobpcg_on_operator(spectral_problem, rng):
    net, X, K = spectral_problem
    op = ntk_operator(net, X)
    w_dense = np.linalg.eigvalsh(K)
    w, vecs = lobpcg(op, rng.standard_normal((K.shape[0], 2)), largest=True, tol=1e-10,
                     maxiter=500)
    np.testing.assert_allclose(np.sort(w), w_dense[-2:], rtol=rtol_of("iterative_eigen"),
                               atol=0.0)


def test_cg_on_operator(spectral_problem, rng):
    net, X, K = spectral_problem
    N = K.shape[0]
    op = ntk_operator(net, X)
    shift = 1e-2 * np.linalg.norm(K, 2)
    A = op + LinearOperator((N, N), matvec=lambda v: shift * v, dtype=np.float64)
    b = rng.standard_normal(N)
    x, info = cg(A, b, rtol=1e-12, maxiter=10 * N)
    assert info == 0
    x_dense = scipy.linalg.solve(K + shift * np.eye(N), b, assume_a="pos")
    np.testing.assert_allclose(x, x_dense, rtol=rtol_of("iterative_eigen"),
                               atol=rtol_of("iterative_eigen") * np.linalg.norm(x_dense))


# --------------------------------------------------------------------------
# Loss, gradient, JVP, VJP
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name, d2, bias", CASES)
def test_loss_and_gradient(rng, name, d2, bias):
    net = make_net(rng, name, d2=d2, bias=bias)
    X = make_data(rng, net, 5)
    Y = rng.standard_normal((5, d2))
    r = own_forward(net, X) - Y
    np.testing.assert_allclose(residual(net, X, Y), r, **tol("same_math"))
    h = loss(net, X, Y)
    assert isinstance(h, float)
    np.testing.assert_allclose(h, np.sum(r ** 2), **tol("same_math"))

    g = gradient(net, X, Y)
    # Central differences of the loss (off the relu kinks, see make_data).
    theta = net.parameters()
    g_fd = np.empty_like(theta)
    for i in range(theta.size):
        step = EPS64 ** (1 / 3) * max(1.0, abs(theta[i]))
        tp, tm = theta.copy(), theta.copy()
        tp[i] += step
        tm[i] -= step
        g_fd[i] = (loss(net.with_parameters(tp), X, Y)
                   - loss(net.with_parameters(tm), X, Y)) / (2 * step)
    np.testing.assert_allclose(g, g_fd, **tol("finite_difference"))

    # grad h = 2 J^T r and ||grad h||^2 = 4 r^T K r.
    J = explicit_jacobian(net, X)
    rv = r.ravel()
    np.testing.assert_allclose(g, 2 * J.T @ rv, **tol("analytic_jacobian"))
    K = ntk_gram(net, X)
    np.testing.assert_allclose(g @ g, 4 * rv @ K @ rv, **tol("analytic_jacobian"))


@pytest.mark.usefixtures("always_parallel")
@pytest.mark.parametrize("d2", [1, 3])
@pytest.mark.parametrize("bias", [False, True])
def test_gradient_layers_and_1d_targets(rng, d2, bias):
    net = make_net(rng, "silu", d2=d2, bias=bias)
    X = rng.standard_normal((6, 3))
    Y = rng.standard_normal((6, d2))
    g = gradient(net, X, Y)
    nW = net.num_parameters(("W",))
    np.testing.assert_array_equal(gradient(net, X, Y, layers=("W",)), g[:nW])
    np.testing.assert_array_equal(gradient(net, X, Y, layers=("V",)), g[nW:])
    assert g.size == net.num_parameters()
    np.testing.assert_array_equal(gradient(net, X, Y, parallel=False), g)
    if d2 == 1:
        np.testing.assert_array_equal(gradient(net, X, Y[:, 0]), g)
        assert loss(net, X, Y[:, 0]) == loss(net, X, Y)


@pytest.mark.parametrize("d2", [1, 3])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("layers", ALL_LAYERS)
def test_jvp_vjp(rng, d2, bias, layers):
    net = make_net(rng, "gelu", d2=d2, bias=bias)
    X = rng.standard_normal((5, 3))
    J = explicit_jacobian(net, X, layers)
    t = rng.standard_normal(J.shape[1])
    U = rng.standard_normal((5, d2))
    jt = jvp(net, X, t, layers)
    assert jt.shape == (5, d2)
    np.testing.assert_allclose(jt.ravel(), J @ t, **tol("analytic_jacobian"))
    ju = vjp(net, X, U, layers)
    np.testing.assert_allclose(ju, J.T @ U.ravel(), **tol("analytic_jacobian"))
    np.testing.assert_array_equal(vjp(net, X, U.ravel(), layers), ju)
    # Adjoint identity <J t, U> = <t, J^T U>.
    np.testing.assert_allclose(jt.ravel() @ U.ravel(), t @ ju, **tol("same_math"))
    # JVP against a central difference of the forward map along t.
    theta = net.parameters(layers)
    step = EPS64 ** (1 / 3)
    fd = (net.with_parameters(theta + step * t, layers).forward(X)
          - net.with_parameters(theta - step * t, layers).forward(X)) / (2 * step)
    np.testing.assert_allclose(jt, fd, **tol("finite_difference"))


@pytest.mark.parametrize("d2", [1, 3])
@pytest.mark.parametrize("which", ["b1", "b2"])
def test_one_bias_only(rng, d2, which):
    """Only one of the biases present: every route still agrees."""
    net = make_net(rng, "softplus", d2=d2, bias=True)
    net = net.replace(**{("b2" if which == "b1" else "b1"): None})
    X = make_data(rng, net, 6)
    Y = rng.standard_normal((6, d2))
    J = explicit_jacobian(net, X)
    assert J.shape[1] == net.num_parameters()
    K = ntk_gram(net, X)
    assert rel_err(K, J @ J.T) <= rtol_of("analytic_jacobian")
    J_fd = fd_jacobian(net, X)
    np.testing.assert_allclose(J_fd, J, **tol("finite_difference"))
    op = ntk_operator(net, X)
    assert rel_err(op @ np.eye(K.shape[0]), J @ J.T) <= rtol_of("analytic_jacobian")
    r = (own_forward(net, X) - Y).ravel()
    np.testing.assert_allclose(gradient(net, X, Y), 2 * J.T @ r, **tol("analytic_jacobian"))
    parts = ntk_gram(net, X, blocks=True)
    H, _ = own_features(net, X)
    CK = H @ H.T + (1.0 if which == "b2" else 0.0)
    np.testing.assert_allclose(parts.V, np.kron(CK, np.eye(d2)), **tol("analytic_jacobian"))


# --------------------------------------------------------------------------
# The tiled Gram matrix on worker threads
# --------------------------------------------------------------------------
def _blas_threads():
    from threadpoolctl import threadpool_info
    return [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]


@pytest.mark.parametrize("d2,bias,layers", [(1, True, ("W", "V")), (2, False, ("W", "V")),
                                            (1, False, ("V",)), (3, True, ("W",))])
def test_tiled_gram_does_not_depend_on_workers(rng, d2, bias, layers):
    # Several tiles (n > 4 * 64 rows), every tile one single-threaded BLAS call.
    from pl_toolkit import _threads
    net = make_net(rng, "gelu", d0=5, d1=40, d2=d2, bias=bias)
    X, X2 = rng.standard_normal((300, 5)), rng.standard_normal((170, 5))
    for args in ((X, None), (X, X2)):
        with _threads.one_blas_thread():
            K1, d1_ = _features.ntk_gram_tiled(net, *args, layers, workers=1)
            K2, d2_ = _features.ntk_gram_tiled(net, *args, layers, workers=2)
            K3, _ = _features.ntk_gram_tiled(net, *args, layers, workers=3)
        assert np.array_equal(K1, K2) and np.array_equal(K1, K3)
        ref = _reference.ntk_gram(net, args[0], args[1], layers=layers)
        np.testing.assert_allclose(K1, ref, **tol("kernel_vs_reference"))
        if args[1] is None:
            assert np.array_equal(K1, K1.T)             # both triangles from one tile
            for a, b in zip(d1_, d2_):
                assert np.array_equal(a, b)
    # Through the public function: parallel and serial agree bitwise.
    assert np.array_equal(ntk_gram(net, X, parallel=True), ntk_gram(net, X, parallel=False))


def test_blas_threads_restored(rng):
    pytest.importorskip("threadpoolctl")
    from pl_toolkit import _threads
    before = _blas_threads()
    net = make_net(rng, "tanh", d0=4, d1=30)
    ntk_gram(net, rng.standard_normal((300, 4)))
    assert _blas_threads() == before
    with _threads.one_blas_thread() as k:
        assert k == max(before)
        assert set(_blas_threads()) == {1}
        with _threads.one_blas_thread() as k2:      # nested: the saved counts are kept
            assert k2 == k
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before
    with pytest.raises(ValueError, match="X"):          # an error inside a task
        ntk_gram(net, np.full((300, 4), 1e200))
    assert _blas_threads() == before


def test_concurrent_calls(rng):
    from concurrent.futures import ThreadPoolExecutor
    net = make_net(rng, "silu", d0=4, d1=30, d2=2, bias=True)
    Xs = [rng.standard_normal((200 + 20 * i, 4)) for i in range(4)]
    expected = [ntk_gram(net, X) for X in Xs]
    before = _blas_threads()
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda X: ntk_gram(net, X), Xs))
    # Not bitwise: a BLAS call from another thread may round its last bit differently.
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, **tol("same_math"))
    assert _blas_threads() == before
