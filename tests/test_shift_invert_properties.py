"""Shift-invert routes and the lean NTK operator against independent references.

References are independent of the code under test:

* symmetric matrices with an *exactly* known spectrum: ``A = H diag(w) H / n``
  with ``H`` a Sylvester-Hadamard matrix (``H H^T = n I``, entries +-1), ``n``
  a power of two and ``w`` integers below ``2^53 / n``, so every entry of
  ``A`` is exact in float64 and ``lambda_min(A) = min(w)`` exactly;
* ``np.linalg.eigvalsh`` of :func:`pl_toolkit.ntk_gram` for the NTK;
* ``ntk_gram(...) @ U`` for the matrix-free operator;
* ``tracemalloc``'s measured peak for the memory estimates.

Several tests pin properties that once failed (the error-bound floor,
``maxiter`` counting every solve, warnings pointing at the caller, the
triangle's memory estimate).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from _tolerances import TOL, residual_tol, tol
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import hadamard

import pl_toolkit._features as _features
import pl_toolkit.spectrum as spectrum
from pl_toolkit import (ConvergenceWarning, ShallowNet, available_activations, lambda_min,
                        ntk_gram, ntk_lambda_min, ntk_operator)
from pl_toolkit._jit import parallel_kernels_enabled
from pl_toolkit._eigen import (cholesky_lower_inplace as _cholesky_lower_inplace,
                               gershgorin_lower as _gershgorin_lower)
from pl_toolkit._features import (ntk_gram_upper as _ntk_gram_upper,
                                  ntk_upper_bytes as _ntk_upper_bytes)

# The solvers run at their default tol = 1e-8; "iterative_eigen" is its tolerance entry.
RTOL = tol("iterative_eigen")["rtol"]

def exact_spd(w):
    """``H diag(w) H / n``: entries exact for integer ``w`` with ``n max|w| < 2^53``."""
    w = np.asarray(w, dtype=np.float64)
    n = len(w)
    assert n & (n - 1) == 0 and np.all(w == np.round(w)) and n * np.max(np.abs(w)) < 2.0 ** 53
    H = hadamard(n).astype(np.float64)
    A = (H * w) @ H / n
    assert np.array_equal(A, A.T)
    return A


def rounding(A):
    """Floating-point floor of an eigenvalue computed from ``A``: ``10 n eps ||A||_2``."""
    return residual_tol(A.shape[0], np.linalg.norm(A, 2))


def check_smallest_pair(A, r, exact, rtol=RTOL):
    """The properties every shift-invert result must have, against an exact ``lambda_min``."""
    slack = rounding(A)
    assert r.method == "shift-invert"
    assert r.converged
    v = np.asarray(r.vector)
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, **tol("same_math"))
    # value and residual are those of the returned vector, measured with A
    np.testing.assert_allclose(r.value, v @ A @ v, rtol=0, atol=slack)
    assert abs(r.residual - np.linalg.norm(A @ v - r.value * v)) <= slack
    # never below the true lambda_min by more than the tolerance (a Rayleigh quotient)
    assert r.value >= exact - rtol * abs(exact) - slack
    # and accurate to the tolerance
    assert abs(r.value - exact) <= rtol * abs(exact) + slack
    # the error estimate bounds the true error, up to rounding
    assert abs(r.value - exact) <= r.error_bound + slack
    assert r.matvecs >= 2                       # at least one solve and the residual product


# --------------------------------------------------------------------------
# Gershgorin shift
# --------------------------------------------------------------------------
@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 2 ** 32 - 1), diag=st.floats(0.0, 20.0))
def test_gershgorin_lower_is_below_the_spectrum(n, seed, diag):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    A = 0.5 * (B + B.T) + diag * np.eye(n)
    assert _gershgorin_lower(A) <= np.linalg.eigvalsh(A)[0] + rounding(A)


# --------------------------------------------------------------------------
# lambda_min(A, method="shift-invert") on exactly known spectra
# --------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(log2n=st.integers(0, 6), seed=st.integers(0, 2 ** 32 - 1), base=st.integers(1, 1000),
       log_cond=st.floats(0.0, 4.0), cluster=st.integers(0, 3), offset=st.integers(0, 10 ** 6))
def test_shift_invert_exact_spectrum(log2n, seed, base, log_cond, cluster, offset):
    # offset > 0 moves the whole spectrum up: large offsets make A diagonally
    # dominant (Gershgorin bound > 0), i.e. exercise the sigma > 0 shift.
    # cluster puts `cluster` eigenvalues at lambda_min + 1 (relative gap 1/base
    # or smaller), the hard case of the NTK's crowded lower edge.
    n = 2 ** log2n
    rng = np.random.default_rng(seed)
    top = max(base + 1, int(base * 10.0 ** log_cond))
    w = rng.integers(base, top + 1, n)
    w[0] = base
    w[1:1 + cluster] = base + 1
    w = w + offset
    A = exact_spd(rng.permutation(w))
    r = lambda_min(A, method="shift-invert")
    check_smallest_pair(A, r, float(w.min()))


def test_shift_invert_uses_positive_shift_on_clustered_dominant_matrix():
    # Diagonally dominant with a relative gap lambda_2 / lambda_1 - 1 = 1e-6:
    # factored at sigma = 0.99 g > 0, the tolerance must still hold on lambda.
    rng = np.random.default_rng(7)
    n = 64
    w = 10 ** 6 + rng.integers(2, 3000, n)
    w[0], w[1] = 10 ** 6, 10 ** 6 + 1
    A = exact_spd(w)
    assert _gershgorin_lower(A) > 0
    r = lambda_min(A, method="shift-invert")
    check_smallest_pair(A, r, 1e6)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_shift_invert_tiny_matrices(rng, n):
    for w in (np.arange(1.0, n + 1), np.full(n, 3.0), 1.0 + 1e-9 * np.arange(n)):
        Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        A = (Q * w) @ Q.T
        A = 0.5 * (A + A.T)
        r = lambda_min(A, method="shift-invert")
        check_smallest_pair(A, r, np.linalg.eigvalsh(A)[0])


def test_shift_invert_near_singular(rng):
    # cond = 2^30: the value is a Rayleigh quotient, so it is accurate to
    # rounding (eps ||A||), but the relative tolerance cannot be met: the
    # result says so (converged=False, reason "rounding") and warns.
    n = 64
    w = np.concatenate([[1.0], rng.integers(2 ** 29, 2 ** 30, n - 1)])
    A = exact_spd(rng.permutation(w))
    with pytest.warns(ConvergenceWarning, match="below the rounding floor"):
        r = lambda_min(A, method="shift-invert")
    assert not r.converged and r.reason == "rounding"
    assert abs(r.value - 1.0) <= min(rounding(A), r.error_bound)
    assert np.linalg.norm(A @ r.vector - r.value * r.vector) <= rounding(A)


def test_shift_invert_error_bound_bounds_true_error():
    errors = []
    for seed, top in [(0, 2 ** 20), (1, 2 ** 20), (2, 2 ** 30), (3, 2 ** 30)]:
        rng = np.random.default_rng(seed)
        w = np.concatenate([[1.0], rng.integers(2, top, 63)])
        A = exact_spd(rng.permutation(w))
        with warnings.catch_warnings():
            # cond 2^20 and 2^30: tol = 1e-8 is below the rounding floor
            warnings.simplefilter("ignore", ConvergenceWarning)
            r = lambda_min(A, method="shift-invert")
        errors.append((abs(r.value - 1.0), r.error_bound))
    assert all(err <= bound for err, bound in errors), errors


def test_shift_invert_does_not_touch_input_and_takes_any_layout(rng):
    w = np.concatenate([[2.0], rng.integers(3, 500, 31)])
    A = exact_spd(rng.permutation(w))
    for variant in (A, np.asfortranarray(A), np.kron(A, np.ones((2, 2)))[::2, ::2]):
        before = variant.copy()
        r = lambda_min(variant, method="shift-invert")
        np.testing.assert_array_equal(variant, before)
        check_smallest_pair(A, r, 2.0)
    # float32 input: the float64 matrix of its values is what is solved
    A32 = A.astype(np.float32)
    r = lambda_min(A32, method="shift-invert")
    A64 = A32.astype(np.float64)
    check_smallest_pair(A64, r, np.linalg.eigvalsh(A64)[0])


def test_shift_invert_auto_does_not_touch_input(rng, monkeypatch):
    monkeypatch.setattr(spectrum, "SHIFT_INVERT_MIN", 4)
    A = exact_spd(np.arange(1.0, 17.0))
    before = A.copy()
    r = lambda_min(np.asfortranarray(A))
    assert r.method == "shift-invert"
    np.testing.assert_array_equal(A, before)


def test_shift_invert_v0_validation_and_warm_start(rng):
    w = np.concatenate([[5.0], 5.0 + rng.integers(1, 50, 31)])
    A = exact_spd(rng.permutation(w))
    with pytest.raises(ValueError, match="^v0 must have length 32"):
        lambda_min(A, method="shift-invert", v0=np.ones(31))
    with pytest.raises(ValueError, match="^v0 is the zero vector"):
        lambda_min(A, method="shift-invert", v0=np.zeros(32))
    bad = np.ones(32)
    bad[4] = np.nan
    with pytest.raises(ValueError, match="^v0 contains NaN"):
        lambda_min(A, method="shift-invert", v0=bad)
    exact_vec = np.linalg.eigh(A)[1][:, 0]
    warm = lambda_min(A, method="shift-invert", v0=exact_vec)
    cold = lambda_min(A, method="shift-invert")
    check_smallest_pair(A, warm, 5.0)
    assert warm.matvecs <= cold.matvecs


def test_shift_invert_not_converged_is_an_upper_bound(rng):
    w = np.concatenate([[1024.0, 1025.0], rng.integers(1026, 2 ** 14, 254)])   # relative gap 1e-3
    A = exact_spd(rng.permutation(w))
    with pytest.warns(ConvergenceWarning, match="shift-invert Lanczos did not reach"):
        r = lambda_min(A, method="shift-invert", tol=1e-15, maxiter=3)
    assert not r.converged
    assert r.value >= w.min() - rounding(A)     # a Rayleigh quotient: an upper bound
    assert np.isfinite(r.error_bound) and r.error_bound > 0


@pytest.mark.parametrize("maxiter", [5, 20])
def test_shift_invert_maxiter_bounds_the_solves(rng, maxiter):
    # a crowded lower edge (relative gaps 1e-3): not converged within 20 solves
    A = exact_spd(rng.permutation(1000.0 + np.arange(128.0)))
    with pytest.warns(ConvergenceWarning):
        r = lambda_min(A, method="shift-invert", tol=1e-15, maxiter=maxiter)
    # EigResult.matvecs: "the number of solves ... plus the one product that measures the residual"
    assert r.matvecs - 1 <= maxiter


def test_shift_invert_warning_points_at_caller(rng):
    A = exact_spd(np.concatenate([[1.0], rng.integers(2, 10 ** 4, 127)]))
    with pytest.warns(ConvergenceWarning) as rec:
        lambda_min(A, method="shift-invert", tol=1e-15, maxiter=2)
    assert rec[0].filename == __file__


def test_lanczos_warning_points_at_caller():
    from scipy.sparse.linalg import aslinearoperator

    A = aslinearoperator(np.diag(np.arange(1.0, 201.0)))
    with pytest.warns(ConvergenceWarning) as rec:
        lambda_min(A, tol=1e-14, maxiter=2)
    assert rec[0].filename == __file__


# --------------------------------------------------------------------------
# _cholesky_lower_inplace: in place on Fortran order, correct on C order too
# --------------------------------------------------------------------------
def test_cholesky_inplace_semantics(rng):
    A = exact_spd(np.concatenate([[1.0], rng.integers(2, 100, 15)]))
    F = np.array(A, order="F")
    F[np.triu_indices(16, 1)] = np.nan          # the upper triangle must not be read
    buf = F.ctypes.data
    assert _cholesky_lower_inplace(F) == 0
    assert F.ctypes.data == buf
    L = np.tril(F)
    np.testing.assert_allclose(L @ L.T, A, rtol=0, atol=rounding(A))
    C = A.copy(order="C")                      # LAPACK gets a copy: the result is copied back
    assert C.flags.c_contiguous and not C.flags.f_contiguous
    assert _cholesky_lower_inplace(C) == 0
    np.testing.assert_allclose(np.tril(C) @ np.tril(C).T, A, rtol=0, atol=rounding(A))
    B = exact_spd(np.array([1.0, -1.0, 2.0, 3.0]))
    assert _cholesky_lower_inplace(np.array(B, order="F")) > 0


# --------------------------------------------------------------------------
# ntk_lambda_min
# --------------------------------------------------------------------------
def ntk_case(rng, n, d0, d1, d2, bias, activation="tanh"):
    net = ShallowNet.init(d0, d1, d2, seed=11, bias=bias, activation=activation)
    X = rng.standard_normal((n, d0))
    return net, X


@pytest.mark.parametrize("layers", [("W", "V"), ("W",), ("V",)])
@pytest.mark.parametrize("method", ["shift-invert", "lanczos", "dense"])
def test_ntk_lambda_min_d2_3_with_biases(rng, layers, method):
    net, X = ntk_case(rng, n=20, d0=6, d1=40, d2=3, bias=True)
    K = ntk_gram(net, X, layers=layers)
    ev = np.linalg.eigvalsh(K)
    assert ev[0] > 1e3 * rounding(K)            # positive definite: every route applies
    r = ntk_lambda_min(net, X, layers=layers, method=method)
    assert r.method == method and r.converged
    np.testing.assert_allclose(r.value, ev[0], rtol=RTOL, atol=rounding(K))
    v = np.asarray(r.vector)
    assert abs(r.residual - np.linalg.norm(K @ v - r.value * v)) <= rounding(K)
    assert r.value >= ev[0] - RTOL * ev[0] - rounding(K)


@pytest.mark.parametrize("n,d2", [(1, 1), (2, 1), (1, 2)])
def test_ntk_lambda_min_tiny(rng, n, d2):
    net, X = ntk_case(rng, n=n, d0=3, d1=10, d2=d2, bias=True)
    K = ntk_gram(net, X)
    for method in ("shift-invert", "lanczos", "dense"):
        r = ntk_lambda_min(net, X, method=method)
        np.testing.assert_allclose(r.value, np.linalg.eigvalsh(K)[0], rtol=RTOL, atol=rounding(K))
        assert r.vector.shape == (n * d2,)


def test_ntk_lambda_min_input_forms(rng):
    net, X = ntk_case(rng, n=30, d0=5, d1=40, d2=2, bias=True)
    ref = ntk_lambda_min(net, X, method="shift-invert")
    wide = np.repeat(X, 2, axis=1)[:, ::2]                 # non-contiguous view, same values
    assert not wide.flags.c_contiguous
    r = ntk_lambda_min(net, wide, method="shift-invert")
    np.testing.assert_allclose(r.value, ref.value, **tol("same_math"))
    X32 = X.astype(np.float32)
    r32 = ntk_lambda_min(net, X32, method="shift-invert")
    K32 = ntk_gram(net, X32.astype(np.float64))
    np.testing.assert_allclose(r32.value, np.linalg.eigvalsh(K32)[0], rtol=RTOL,
                               atol=rounding(K32))
    # warm start given as an (n, d2) array is accepted; a wrong length is refused
    warm = ntk_lambda_min(net, X, method="shift-invert", v0=np.asarray(ref.vector).reshape(30, 2))
    np.testing.assert_allclose(warm.value, ref.value, rtol=RTOL)
    with pytest.raises(ValueError, match="^v0 must have length 60"):
        ntk_lambda_min(net, X, method="shift-invert", v0=np.ones(30))


def test_ntk_lambda_min_maxiter_bounds_the_solves(rng):
    net, X = ntk_case(rng, n=80, d0=5, d1=60, d2=1, bias=False)
    with pytest.warns(ConvergenceWarning):
        r = ntk_lambda_min(net, X, method="shift-invert", tol=1e-15, maxiter=5)
    assert r.matvecs - 1 <= 5


def test_ntk_lambda_min_warning_points_at_caller(rng):
    net, X = ntk_case(rng, n=80, d0=5, d1=60, d2=1, bias=False)
    with pytest.warns(ConvergenceWarning) as rec:
        ntk_lambda_min(net, X, method="shift-invert", tol=1e-15, maxiter=2)
    assert rec[0].filename == __file__


# --------------------------------------------------------------------------
# ntk_operator(store="preactivations") against the explicit Gram matrix
# --------------------------------------------------------------------------
@pytest.mark.parametrize("activation", available_activations())
def test_lean_operator_every_activation(rng, monkeypatch, activation):
    monkeypatch.setattr(_features, "CHUNK_BYTES", 8 * 13 * 3)      # 3-row chunks
    net, X = ntk_case(rng, n=11, d0=4, d1=13, d2=3, bias=True, activation=activation)
    U = rng.standard_normal((33, 2))
    for layers in (("W", "V"), ("W",), ("V",)):
        K = ntk_gram(net, X, layers=layers)
        lean = ntk_operator(net, X, layers, store="preactivations")
        full = ntk_operator(net, X, layers, store="features")
        got = lean @ U
        np.testing.assert_allclose(got, K @ U, **tol("kernel_vs_reference"))
        np.testing.assert_allclose(got, full @ U, **tol("same_math"))
        assert lean.matvecs == 2 and not hasattr(lean, "_Hf")


def test_lean_operator_b2_term_alone(rng, monkeypatch):
    # layers=("V",) with b2 and d2 = 3: K = (H H^T + 1) (x) I_3; the "+1"
    # is the b2 term, added in every row chunk.
    monkeypatch.setattr(_features, "CHUNK_BYTES", 8 * 9 * 2)
    net, X = ntk_case(rng, n=7, d0=3, d1=9, d2=3, bias=True)
    H = net.features(X)
    K = np.kron(H @ H.T + 1.0, np.eye(3))
    U = rng.standard_normal(21)
    for store in ("preactivations", "features"):
        np.testing.assert_allclose(ntk_operator(net, X, ("V",), store=store) @ U, K @ U,
                                   **tol("kernel_vs_reference"))


# --------------------------------------------------------------------------
# memory estimate of the tiled triangle
# --------------------------------------------------------------------------
def measured_peak(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, peak


def _check_upper_peak(n, d0, d1, d2, bias, tile):
    rng = np.random.default_rng(3)
    net = ShallowNet.init(d0, d1, d2, seed=4, bias=bias)
    X = rng.standard_normal((n, d0))
    _ntk_gram_upper(net, X[:3], tile=tile)          # compile and warm outside the measurement
    out, peak = measured_peak(lambda: _ntk_gram_upper(net, X, tile=tile))
    iu = np.triu_indices(n * d2)
    np.testing.assert_allclose(out[iu], ntk_gram(net, X)[iu], **tol("kernel_vs_reference"))
    rtol_mem, atol_mem = TOL[(np.float64, "memory_estimate")]
    est = _ntk_upper_bytes(n, d1, d2, tile)
    assert peak <= est * (1 + rtol_mem) + atol_mem, \
        f"peak {peak / 2**20:.2f} MiB > estimate {est / 2**20:.2f} MiB"


needs_jit = pytest.mark.skipif(
    not parallel_kernels_enabled(),
    reason="pure-Python kernels under NUMBA_DISABLE_JIT: slow, and other temporaries")


@needs_jit
def test_upper_bytes_estimate_d2_3():
    _check_upper_peak(n=300, d0=8, d1=600, d2=3, bias=True, tile=96)


@needs_jit
def test_upper_bytes_estimate_d2_1_wide():
    _check_upper_peak(n=640, d0=8, d1=1500, d2=1, bias=False, tile=128)
