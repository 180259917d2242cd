"""The float32 NTK (``dtype=np.float32``) against the float64 one.

``ntk_gram(..., dtype=np.float32)`` and the tiled triangle
``_features.ntk_gram_upper(..., dtype=np.float32)`` form everything in
float32.  Checked here: agreement with float64 within the rounding bound of
``_tolerances.ntk_float32_tol`` for every builtin activation, with biases,
several outputs and each layer choice; the array layout is the float64
path's (the triangle's transpose is what ``spotrf`` factors in place);
serial and parallel builds agree bitwise; the dtype is validated; float32
overflow is refused with a message that says float32.
"""

import numpy as np
import pytest
import scipy.linalg
from scipy.linalg import lapack

from _tolerances import ntk_float32_tol
from test_activations import BUILTINS
from test_ntk import make_data, make_net

from pl_toolkit import ShallowNet, ntk_gram
from pl_toolkit import _features

LAYERS = [("W", "V"), ("W",), ("V",)]


def rel_max(A, B):
    return float(np.max(np.abs(np.asarray(A, np.float64) - B)) / np.max(np.abs(B)))


def problem(rng, name="gelu", d0=4, d1=60, d2=1, bias=False, n=25):
    net = make_net(rng, name, d0=d0, d1=d1, d2=d2, bias=bias)
    return net, make_data(rng, net, n)


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("d2,bias", [(1, False), (1, True), (3, True)])
def test_gram_agrees_with_float64(rng, name, d2, bias):
    net, X = problem(rng, name, d2=d2, bias=bias)
    K64 = ntk_gram(net, X)
    K32 = ntk_gram(net, X, dtype=np.float32)
    assert K32.dtype == np.float32
    err = rel_max(K32, K64)
    assert err <= ntk_float32_tol(net.d0, net.d1), f"{name}: {err:.2e}"
    # float32 really is float32: the float64 values are not representable exactly.
    assert not np.array_equal(K32.astype(np.float64), K64)


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("d2,bias", [(1, True), (2, False)])
def test_blocks_cross_and_layers(rng, layers, d2, bias):
    net, X = problem(rng, "tanh", d2=d2, bias=bias)
    X2 = make_data(rng, net, 9)
    bound = ntk_float32_tol(net.d0, net.d1)
    for args in ((X,), (X, X2)):
        K64 = ntk_gram(net, *args, layers=layers)
        K32 = ntk_gram(net, *args, layers=layers, dtype=np.float32)
        assert K32.dtype == np.float32 and K32.shape == K64.shape
        assert rel_max(K32, K64) <= bound
        B64 = ntk_gram(net, *args, layers=layers, blocks=True)
        B32 = ntk_gram(net, *args, layers=layers, blocks=True, dtype=np.float32)
        for P32, P64 in zip(B32, B64):
            assert P32.dtype == np.float32
            if np.any(P64):
                assert rel_max(P32, P64) <= bound
            else:
                assert not np.any(P32)


@pytest.mark.parametrize("name", ["gelu", "relu", "sigmoid"])
@pytest.mark.parametrize("d2,bias,tile", [(1, False, 7), (1, True, 1024), (2, True, 10)])
def test_upper_triangle_agrees_with_float64(rng, name, d2, bias, tile):
    net, X = problem(rng, name, d2=d2, bias=bias, n=31)
    K64 = ntk_gram(net, X)
    iu = np.triu_indices(K64.shape[0])
    bound = ntk_float32_tol(net.d0, net.d1)
    for layers in LAYERS:
        U32 = _features.ntk_gram_upper(net, X, layers, tile=tile, dtype=np.float32)
        assert U32.dtype == np.float32
        ref = ntk_gram(net, X, layers=layers)
        assert rel_max(U32[iu], ref[iu]) <= bound
        # The float32 Gram matrix, up to summation order (both within the bound of ref).
        K32 = ntk_gram(net, X, layers=layers, dtype=np.float32)
        assert rel_max(U32[iu], K32[iu].astype(np.float64)) <= 2 * bound


def test_layout_is_the_float64_layout(rng):
    net, X = problem(rng, "gelu", d2=2, bias=True, n=20)
    for f in (lambda dt: ntk_gram(net, X, dtype=dt),
              lambda dt: ntk_gram(net, X, X[:5], dtype=dt),
              lambda dt: _features.ntk_gram_upper(net, X, tile=6, dtype=dt)):
        A64, A32 = f(np.float64), f(np.float32)
        assert A32.shape == A64.shape
        assert A32.flags["C_CONTIGUOUS"] == A64.flags["C_CONTIGUOUS"] is True
        assert A32.T.flags["F_CONTIGUOUS"] and A64.T.flags["F_CONTIGUOUS"]
        assert tuple(s // 4 for s in A32.strides) == tuple(s // 8 for s in A64.strides)


def test_triangle_factors_in_place_with_spotrf(rng):
    net, X = problem(rng, "gelu", d0=6, d1=200, bias=True, n=12)
    K64 = ntk_gram(net, X)
    F = _features.ntk_gram_upper(net, X, tile=5, dtype=np.float32).T
    c, info = lapack.spotrf(F, lower=1, overwrite_a=1)
    assert info == 0
    assert np.shares_memory(c, F)          # factored in place, no copy
    L = np.tril(c).astype(np.float64)
    L64 = scipy.linalg.cholesky(K64, lower=True)
    cond = np.linalg.cond(K64)
    assert rel_max(L, L64) <= cond * ntk_float32_tol(net.d0, net.d1)
    assert rel_max(L @ L.T, K64) <= 2 * ntk_float32_tol(net.d0, net.d1)


def test_serial_and_parallel_bitwise(rng, always_parallel):
    net, X = problem(rng, "silu", d2=2, bias=True, n=30)
    a = ntk_gram(net, X, dtype=np.float32, parallel=False)
    b = ntk_gram(net, X, dtype=np.float32, parallel=True)
    assert np.array_equal(a, b)
    iu = np.triu_indices(a.shape[0])
    a = _features.ntk_gram_upper(net, X, parallel=False, tile=8, dtype=np.float32)[iu]
    b = _features.ntk_gram_upper(net, X, parallel=True, tile=8, dtype=np.float32)[iu]
    assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", np.dtype(np.float32), "f4"])
def test_dtype_spellings(rng, dtype):
    net, X = problem(rng, n=5)
    assert ntk_gram(net, X, dtype=dtype).dtype == np.float32
    assert ntk_gram(net, X, dtype=float).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.complex128, "float128", None, True,
                                   "banana", object, [("a", "f8")]])
def test_bad_dtype(rng, dtype):
    net, X = problem(rng, n=5)
    with pytest.raises(ValueError, match="dtype"):
        ntk_gram(net, X, dtype=dtype)
    with pytest.raises(ValueError, match="dtype"):
        _features.ntk_gram_upper(net, X, dtype=dtype)


def test_float32_needs_the_numba_backend(rng):
    net, X = problem(rng, n=5)
    with pytest.raises(ValueError, match=r"dtype.*numba"):
        ntk_gram(net, X, backend="numpy", dtype=np.float32)


def test_float32_overflow_is_refused(rng):
    net = ShallowNet.init(d0=3, d1=20, seed=0)
    X = rng.standard_normal((6, 3))
    # K ~ |x|^2 |phi|^2 d1: 1e18 inputs give 1e37-1e40 entries, finite in float64.
    big = X * 1e19
    assert np.all(np.isfinite(ntk_gram(net, big)))
    with pytest.raises(ValueError, match="float32") as err:
        ntk_gram(net, big, dtype=np.float32)
    assert str(err.value).startswith("X has entries")
    with pytest.raises(ValueError, match="float32"):
        _features.ntk_gram_upper(net, big, tile=4, dtype=np.float32)
    # A saturating activation hides an overflowing Z from the output: refused at Z.
    net_t = ShallowNet.init(d0=3, d1=20, activation="tanh", seed=0)
    with pytest.raises(ValueError, match=r"preactivations.*float32"):
        ntk_gram(net_t, X * 1e39, layers=("V",), dtype=np.float32)
    with pytest.raises(ValueError, match=r"preactivations.*float32"):
        _features.ntk_gram_upper(net_t, X * 1e39, ("V",), tile=4, dtype=np.float32)


def test_upper_bytes_halves(rng):
    b64 = _features.ntk_upper_bytes(1000, 300, 1, 256)
    b32 = _features.ntk_upper_bytes(1000, 300, 1, 256, np.float32)
    assert b32 * 2 == b64
    assert _features.ntk_upper_bytes(1000, 300, 1, 256, np.float32, d0=10) == b32 + 4 * 10000
