"""Infinite-width kernels: closed forms vs series vs quadrature, mpmath, Monte Carlo."""

import importlib.util
import json
import math
import pathlib

import mpmath
import numpy as np
import pytest
from _tolerances import monte_carlo_tol, tol

from pl_toolkit import get_activation
from pl_toolkit.hermite import hermite_coefficients
from pl_toolkit.infinite_width import InfiniteWidthKernels, infinite_width_kernels
from pl_toolkit.khatri_rao import khatri_rao_gram

CLOSED = ["relu", "leaky_relu", "erf", "identity", "quadratic"]
SMOOTH_NO_CLOSED = ["gelu", "tanh", "sigmoid", "softplus", "shifted_softplus", "silu"]
FIELDS = ("conjugate", "ntk", "ntk_first_layer", "ntk_second_layer")


def _data(rng, n=7, d0=4, unit=False, max_cos=None):
    """Rows with norms in [0.5, 1.5] (or unit); optionally |cos| <= max_cos off the diagonal."""
    while True:
        X = rng.standard_normal((n, d0))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        C = X @ X.T
        if max_cos is None or np.max(np.abs(C - np.diag(np.diag(C)))) <= max_cos:
            break
    if not unit:
        X *= rng.uniform(0.5, 1.5, size=(n, 1))
    return X


def _assert_kernels_close(a, b, kind="kernel_routes"):
    for f in FIELDS:
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), err_msg=f, **tol(kind))


# --------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["closed_form", "series", "quadrature"])
def test_structure(rng, method):
    X = _data(rng)
    k = infinite_width_kernels(X, "erf", 0.4, 1.3, method=method)
    assert isinstance(k, InfiniteWidthKernels)
    for f in FIELDS:
        A = getattr(k, f)
        assert A.shape == (7, 7)
        np.testing.assert_array_equal(A, A.T)
    np.testing.assert_array_equal(k.conjugate, k.ntk_second_layer)
    assert k.conjugate is not k.ntk_second_layer
    np.testing.assert_allclose(k.ntk, k.ntk_first_layer + k.ntk_second_layer, **tol("same_math"))
    with pytest.raises(AttributeError):
        k.ntk = None


@pytest.mark.parametrize("method", ["closed_form", "series", "quadrature"])
def test_cross_kernel_is_a_block_of_the_joint_kernel(rng, method):
    X = _data(rng, n=9)
    full = infinite_width_kernels(X, "erf", 0.5, 0.8, method=method)
    cross = infinite_width_kernels(X[:4], "erf", 0.5, 0.8, X2=X[4:], method=method)
    for f in FIELDS:
        assert getattr(cross, f).shape == (4, 5)
        np.testing.assert_allclose(getattr(cross, f), getattr(full, f)[:4, 4:], **tol("same_math"))


@pytest.mark.usefixtures("always_parallel")
@pytest.mark.parametrize("method", ["series", "quadrature"])
def test_parallel_and_serial_agree_bitwise(rng, method):
    X = _data(rng)
    a = infinite_width_kernels(X, "tanh", 0.5, 1.0, method=method, parallel=False)
    b = infinite_width_kernels(X, "tanh", 0.5, 1.0, method=method, parallel=True)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


# --------------------------------------------------------------------------
# Routes against each other (to 1e-10)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["erf", "identity", "quadratic"])
def test_closed_forms_against_quadrature(rng, name):
    # Gauss-Hermite with 64 nodes resolves phi(s z) for s = omega1 |x| <= 0.5.
    X = _data(rng)
    omega1 = 0.5 / np.max(np.linalg.norm(X, axis=1))
    _assert_kernels_close(infinite_width_kernels(X, name, omega1, 1.1, method="closed_form"),
                          infinite_width_kernels(X, name, omega1, 1.1, method="quadrature"))


@pytest.mark.parametrize("name", CLOSED)
@pytest.mark.parametrize("omega1", [0.3, 1.0, 2.0])
def test_closed_forms_against_series(rng, name, omega1):
    # |rho| <= 0.9: the series tail after 300 terms is below 0.9^300 ~ 2e-14,
    # also for the kinked ReLU family.
    X = _data(rng, max_cos=0.9)
    _assert_kernels_close(infinite_width_kernels(X, name, omega1, 0.7, method="closed_form"),
                          infinite_width_kernels(X, name, omega1, 0.7, method="series"))


@pytest.mark.parametrize("name", SMOOTH_NO_CLOSED)
def test_series_against_quadrature(rng, name):
    X = _data(rng, n=6)
    X[1] = X[0] * 1.01 + 1e-3 * X[2]  # a near-duplicate pair: rho close to 1
    omega1 = 0.5 / np.max(np.linalg.norm(X, axis=1))
    _assert_kernels_close(infinite_width_kernels(X, name, omega1, 0.9, method="series"),
                          infinite_width_kernels(X, name, omega1, 0.9, method="quadrature"))
    # At scale ~1 the quadrature needs more nodes (documented).
    omega1 = 1.0 / np.max(np.linalg.norm(X, axis=1))
    _assert_kernels_close(infinite_width_kernels(X, name, omega1, 0.9, method="series"),
                          infinite_width_kernels(X, name, omega1, 0.9, method="quadrature",
                                                 quadrature_nodes=200))


def test_auto_method():
    X = np.eye(3)
    for name in CLOSED:
        _assert_kernels_close(infinite_width_kernels(X, name, 0.7, 1.0),
                              infinite_width_kernels(X, name, 0.7, 1.0, method="closed_form"),
                              "same_math")
    _assert_kernels_close(infinite_width_kernels(X, "gelu", 0.7, 1.0),
                          infinite_width_kernels(X, "gelu", 0.7, 1.0, method="series"),
                          "same_math")


def test_unit_rows_hermite_expansion(rng):
    # Section 4: Sigma = sum_k c_k(omega1)^2 / k! (X X^T)^{o k} for unit rows.
    X = _data(rng, n=8, d0=5, unit=True, max_cos=0.9)
    omega1 = 0.9
    c = hermite_coefficients("gelu", 150, omega1)
    h = hermite_coefficients("gelu", 300, omega1, normalized=True)
    ref = sum(h[k] ** 2 * khatri_rao_gram(X, k) for k in range(1, 301)) + h[0] ** 2
    sig = infinite_width_kernels(X, "gelu", omega1, 1.0).conjugate
    np.testing.assert_allclose(sig, ref, **tol("kernel_routes"))
    # Lower bound of the paper's lambda_min argument with t = 2 (c_1 term dropped too).
    t = 2
    lower = c[t] ** 2 / math.factorial(t) * np.linalg.eigvalsh(khatri_rao_gram(X, t))[0]
    assert np.linalg.eigvalsh(sig)[0] >= lower


# --------------------------------------------------------------------------
# Against mpmath
# --------------------------------------------------------------------------
def _mp_reduced(outer, inner, sa, sb, rho, dps=30):
    """E[f(u) g(v)] as a 1-D mpmath integral over z1, with the z2-integral in closed form.

    ``u = sa z1``, ``v = m + sd z2`` with ``m = sb rho z1``, ``sd = sb sqrt(1 - rho^2)``;
    ``inner(m, sd) = E[g(m + sd z2)]`` is supplied analytically.
    """
    with mpmath.workdps(dps):
        sa, sb, rho = mpmath.mpf(sa), mpmath.mpf(sb), mpmath.mpf(rho)
        sd = sb * mpmath.sqrt(1 - rho ** 2)
        return mpmath.quad(lambda z: outer(sa * z) * inner(sb * rho * z, sd) * mpmath.npdf(z),
                           [-mpmath.inf, -4, 0, 4, mpmath.inf])


def _erf_inner(m, sd):
    # E[erf(m + sd z)] = erf(m / sqrt(1 + 2 sd^2)).
    return mpmath.erf(m / mpmath.sqrt(1 + 2 * sd ** 2))


def _gelu_inner(m, sd):
    # X ~ N(m, sd^2): E[X Phi(X)] = m Phi(m/r) + sd^2/r pdf(m/r), r = sqrt(1 + sd^2).
    r = mpmath.sqrt(1 + sd ** 2)
    return m * mpmath.ncdf(m / r) + sd ** 2 / r * mpmath.npdf(m / r)


def _dgelu_inner(m, sd):
    # E[Phi(X) + X pdf(X)] = Phi(m/r) + m/r^2 pdf(m/r)/r.
    r = mpmath.sqrt(1 + sd ** 2)
    return mpmath.ncdf(m / r) + m / r ** 2 * mpmath.npdf(m / r) / r


def _pair_stats(x, omega1):
    na = np.linalg.norm(x, axis=1)
    return omega1 * na[0], omega1 * na[1], x[0] @ x[1] / (na[0] * na[1])


@pytest.mark.parametrize("method", ["closed_form", "series", "quadrature"])
def test_erf_against_mpmath(method):
    x = np.array([[0.6, 0.8], [1.1, -0.3]]) * 0.45
    k = infinite_width_kernels(x, "erf", 0.8, 1.0, method=method)
    sa, sb, rho = _pair_stats(x, 0.8)
    ref = _mp_reduced(mpmath.erf, _erf_inner, sa, sb, rho)
    assert abs(k.conjugate[0, 1] - float(ref)) <= tol("mpmath")["atol"]


@pytest.mark.parametrize("method", ["series", "quadrature"])
def test_gelu_against_mpmath(method):
    x = np.array([[0.6, 0.8], [1.1, -0.3]]) * 0.45
    omega1, omega2 = 0.8, 1.3
    k = infinite_width_kernels(x, "gelu", omega1, omega2, method=method)
    sa, sb, rho = _pair_stats(x, omega1)

    def gelu(u):
        return u * mpmath.ncdf(u)

    def dgelu(u):
        return mpmath.ncdf(u) + u * mpmath.npdf(u)

    sig = _mp_reduced(gelu, _gelu_inner, sa, sb, rho)
    sigd = _mp_reduced(dgelu, _dgelu_inner, sa, sb, rho)
    assert abs(k.conjugate[0, 1] - float(sig)) <= tol("mpmath")["atol"]
    first = omega2 ** 2 * (x[0] @ x[1]) * float(sigd)
    assert abs(k.ntk_first_layer[0, 1] - first) <= tol("mpmath")["atol"]
    # and on the diagonal (rho = 1, the series uses the exact second moment)
    sig_aa = _mp_reduced(gelu, _gelu_inner, sa, sa, 1)
    assert abs(k.conjugate[0, 0] - float(sig_aa)) <= tol("mpmath")["atol"]


#: E[f(u) f(v)] by 2-D mpmath quadrature of the definition, stored with the
#: script that made them (a few minutes of mpmath); see that script's docstring.
_MPMATH_FILE = pathlib.Path(__file__).parent / "data" / "infinite_width_mpmath.json"
_MPMATH_SCRIPT = _MPMATH_FILE.with_name("make_infinite_width_mpmath.py")


def _stored_bivariate():
    return json.loads(_MPMATH_FILE.read_text())["entries"]


def _stored_value(entries, name, which, point):
    (e,) = [e for e in entries if (e["activation"], e["function"]) == (name, which)
            and (e["sa"], e["sb"], e["rho"]) == point]
    return float(e["value"])


def _pair(sa, sb, rho):
    """Two rows with norms ``sa``, ``sb`` and cosine ``rho``."""
    return np.array([[sa, 0.0], [sb * rho, sb * math.sqrt(1 - rho ** 2)]])


def _stored_points():
    """The stored ``(sa, sb, rho)``, in the file's order."""
    return list(dict.fromkeys((e["sa"], e["sb"], e["rho"]) for e in _stored_bivariate()))


@pytest.mark.parametrize("name", ["tanh", "gelu"])
@pytest.mark.parametrize("point", _stored_points(), ids="sa={0[0]}-sb={0[1]}-rho={0[2]}".format)
def test_series_against_mpmath(name, point):
    # (1.3, 0.7, 0.6) is x = [[1.3, 0], [0.42, 0.56]]; omega1 = 1, so sa, sb are the norms
    entries = _stored_bivariate()
    x = _pair(*point)
    omega1, omega2 = 1.0, 0.9
    k = infinite_width_kernels(x, name, omega1, omega2)
    sig = _stored_value(entries, name, "phi", point)
    sigd = _stored_value(entries, name, "dphi", point)
    assert abs(k.conjugate[0, 1] - sig) <= tol("mpmath")["atol"]
    first = omega2 ** 2 * (x[0] @ x[1]) * sigd
    assert abs(k.ntk_first_layer[0, 1] - first) <= tol("mpmath")["atol"]


def test_stored_mpmath_values_are_complete_and_resolved():
    doc = json.loads(_MPMATH_FILE.read_text())
    keys = {(e["activation"], e["function"], e["sa"], e["sb"], e["rho"]) for e in doc["entries"]}
    assert len(keys) == len(doc["entries"]) == 2 * 2 * len(_stored_points())
    # each stored integral is resolved far below the tolerance it is used at
    for e in doc["entries"]:
        assert float(e["quad_error"]) < tol("mpmath")["atol"] / 100, e
        assert math.isfinite(float(e["value"]))


def _generator():
    spec = importlib.util.spec_from_file_location("make_infinite_width_mpmath", _MPMATH_SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.parametrize("name,which,index", [("tanh", "phi", 0), ("gelu", "dphi", 1)])
def test_stored_mpmath_values_recomputed(name, which, index):
    gen = _generator()
    point = gen.POINTS[index]
    f = gen.ACTIVATIONS[name][0 if which == "phi" else 1]
    value, err = gen.bivariate(f, *point)
    stored = _stored_value(_stored_bivariate(), name, which, point)
    assert abs(float(value) - stored) <= tol("mpmath")["atol"]
    assert float(err) < tol("mpmath")["atol"] / 100


# --------------------------------------------------------------------------
# Finite width converges like 1/sqrt(d1)
# --------------------------------------------------------------------------
def _empirical_terms(X, act, W, v):
    """Per-neuron terms of the empirical NTK, shape (d1, n, n); K = their sum."""
    Z = X @ W.T
    H = act.phi(Z)
    G = act.dphi(Z) * v
    P = X @ X.T
    return H.T[:, :, None] * H.T[:, None, :] + P[None] * (G.T[:, :, None] * G.T[:, None, :])


@pytest.mark.parametrize("name", ["gelu", "tanh", "relu", "erf", "softplus"])
def test_monte_carlo_entries(rng, name):
    X = _data(rng, n=6, d0=3)
    omega1, omega2, d1 = 0.9, 1.2, 16000
    act = get_activation(name)
    W = omega1 * rng.standard_normal((d1, 3))
    v = omega2 * rng.standard_normal(d1)
    T = _empirical_terms(X, act, W, v)
    K = T.mean(axis=0)  # = H H^T + (X X^T) o (G G^T), divided by d1
    std = T.std(axis=0)
    expected = infinite_width_kernels(X, name, omega1, omega2).ntk
    assert np.all(np.abs(K - expected) <= monte_carlo_tol(d1, scale=std))
    # The conjugate kernel alone, the same way.
    H = act.phi(X @ W.T)
    Tc = H.T[:, :, None] * H.T[:, None, :]
    conj = infinite_width_kernels(X, name, omega1, omega2).conjugate
    assert np.all(np.abs(H @ H.T / d1 - conj) <= monte_carlo_tol(d1, scale=Tc.std(axis=0)))


@pytest.mark.parametrize("name", ["gelu", "tanh"])
def test_monte_carlo_error_shrinks_like_inverse_sqrt_width(rng, name):
    X = _data(rng, n=6, d0=3)
    omega1, omega2 = 0.9, 1.2
    act = get_activation(name)
    expected = infinite_width_kernels(X, name, omega1, omega2).ntk
    errs = {}
    for d1 in (1000, 16000):
        e = []
        for _ in range(32):
            W = omega1 * rng.standard_normal((d1, 3))
            v = omega2 * rng.standard_normal(d1)
            H = act.phi(X @ W.T)
            G = act.dphi(X @ W.T) * v
            K = H @ H.T + (X @ X.T) * (G @ G.T)
            e.append(np.linalg.norm(K / d1 - expected))
        errs[d1] = np.sqrt(np.mean(np.square(e)))  # E||.||_F^2 is exactly proportional to 1/d1
    ratio = errs[1000] / errs[16000]
    assert 2.5 <= ratio <= 6.5, ratio  # sqrt(16) = 4


# --------------------------------------------------------------------------
# Edge cases and validation
# --------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["series", "quadrature"])
def test_zero_row(method):
    X = np.array([[0.0, 0.0], [0.6, 0.8], [1.0, 0.5]])
    k = infinite_width_kernels(X, "sigmoid", 1.0, 1.0, method=method)
    # u = 0: Sigma = sigmoid(0) E[sigmoid(v)] = 1/4 (sigmoid - 1/2 is odd).
    np.testing.assert_allclose(k.conjugate[0], 0.25, **tol("kernel_routes"))
    np.testing.assert_allclose(k.ntk_first_layer[0], 0.0, atol=tol("same_math")["atol"])
    r = infinite_width_kernels(X, "relu", 1.0, 1.0)
    np.testing.assert_allclose(r.conjugate[0], 0.0, atol=tol("same_math")["atol"])
    ref = infinite_width_kernels(X[1:], "sigmoid", 1.0, 1.0, method=method)
    np.testing.assert_allclose(k.ntk[1:, 1:], ref.ntk, **tol("same_math"))


def test_validation():
    X = np.eye(3)
    with pytest.raises(ValueError, match="^X "):
        infinite_width_kernels(np.ones(3), "gelu", 1.0, 1.0)
    bad = X.copy()
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"^X contains Inf at index \(2, 1\)"):
        infinite_width_kernels(bad, "gelu", 1.0, 1.0)
    with pytest.raises(ValueError, match="^X2 must have 3 columns"):
        infinite_width_kernels(X, "gelu", 1.0, 1.0, X2=np.ones((2, 2)))
    with pytest.raises(ValueError, match="^omega1"):
        infinite_width_kernels(X, "gelu", 0.0, 1.0)
    with pytest.raises(ValueError, match="^omega2"):
        infinite_width_kernels(X, "gelu", 1.0, -1.0)
    with pytest.raises(ValueError, match="^activation"):
        infinite_width_kernels(X, "nope", 1.0, 1.0)
    with pytest.raises(ValueError, match="^method"):
        infinite_width_kernels(X, "gelu", 1.0, 1.0, method="mc")
    with pytest.raises(ValueError, match="^method 'closed_form' is not available"):
        infinite_width_kernels(X, "gelu", 1.0, 1.0, method="closed_form")
    with pytest.raises(ValueError, match="^quadrature_nodes"):
        infinite_width_kernels(X, "gelu", 1.0, 1.0, method="quadrature", quadrature_nodes=0)
    with pytest.raises(ValueError, match="^series_terms"):
        infinite_width_kernels(X, "gelu", 1.0, 1.0, series_terms=301)
    with pytest.raises(ValueError, match=r"^omega1 \* max row norm"):
        infinite_width_kernels(X, "gelu", 2e4, 1.0)


def test_agrees_with_the_finite_width_ntk_of_the_network(rng):
    # The package's empirical NTK (blocks W and V) divided by d1 against the expected kernel.
    from pl_toolkit import ShallowNet, ntk_gram

    X = _data(rng, n=5, d0=3)
    omega1, omega2, d1 = 0.9, 1.2, 16000
    net = ShallowNet(omega1 * rng.standard_normal((d1, 3)), omega2 * rng.standard_normal((1, d1)),
                     activation="gelu")
    blocks = ntk_gram(net, X, blocks=True)
    expected = infinite_width_kernels(X, "gelu", omega1, omega2)
    T = _empirical_terms(X, get_activation("gelu"), net.W, net.V[0])
    scale = T.std(axis=0)
    assert np.all(np.abs((blocks.W + blocks.V) / d1 - expected.ntk) <= monte_carlo_tol(d1, scale))
    Tv = np.einsum("ra,rb->rab", *(2 * [get_activation("gelu").phi(X @ net.W.T).T]))
    assert np.all(np.abs(blocks.V / d1 - expected.ntk_second_layer)
                  <= monte_carlo_tol(d1, Tv.std(axis=0)))
