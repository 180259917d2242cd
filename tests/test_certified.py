"""Tests of pl_toolkit.certified: certified lower bounds on lambda_min.

A certified bound must never exceed the true smallest eigenvalue.  The true
value comes from independent routes: python-flint ball-arithmetic
eigenvalue enclosures of the stored matrix, mpmath at 50 digits, and
matrices of known spectrum ``Q diag(lam) Q^T`` (whose stored version is then
enclosed by flint, since rounding moves the spectrum).
"""

import dataclasses

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _tolerances import tol

from pl_toolkit import (CertifiedBound, NTKCertifiedBound, ShallowNet, lambda_min_certified,
                        ntk_gram, ntk_lambda_min_certified)

flint = pytest.importorskip("flint")


def flint_enclosure(K, prec=212):
    """(lower, upper) of a rigorous enclosure of lambda_min of the stored K.

    At 212 bits the enclosure radius (~1e-60 relative) is far below the gap
    between a certified bound and lambda_min, so ``bound <= lower`` is a
    strict, fair test.
    """
    n = K.shape[0]
    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        A = flint.arb_mat([[flint.arb(float(K[i, j])) for j in range(n)] for i in range(n)])
        E = A.eig(multiple=True)
    finally:
        flint.ctx.prec = old
    lo = min(float(z.real.lower().mid()) - 2 * float(z.real.lower().rad()) for z in E)
    hi = min(float(z.real.upper().mid()) + 2 * float(z.real.upper().rad()) for z in E)
    # one more ulp outwards for the float conversion
    return np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)


def mpmath_lambda_min(K, dps=50):
    with mpmath.workdps(dps):
        ev = mpmath.eigsy(mpmath.matrix(K.tolist()), eigvals_only=True)
        return min(ev)


def spd(rng, lam):
    n = len(lam)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    K = (Q * lam) @ Q.T
    return 0.5 * (K + K.T)


# --------------------------------------------------------------------------
# The stored matrix
# --------------------------------------------------------------------------
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(2, 30), log_cond=st.floats(0.0, 8.0), log_scale=st.floats(-6.0, 6.0),
       seed=st.integers(0, 2 ** 32 - 1))
def test_never_above_flint_enclosure(n, log_cond, log_scale, seed):
    rng = np.random.default_rng(seed)
    lam = 10.0 ** log_scale * np.geomspace(1.0, 10.0 ** log_cond, n)
    K = spd(rng, lam)
    r = lambda_min_certified(K, full_output=True)
    lo, hi = flint_enclosure(K)
    assert r.bound <= lo, (r, lo)
    if log_cond <= 3.0:
        # well conditioned: tight to the tolerance table's bar
        rtol = tol("certified_tightness")["rtol"]
        assert hi - r.bound <= rtol * abs(hi), (r, lo, hi)


def test_against_mpmath_and_known_spectrum(rng):
    lam = np.array([1e-3, 0.5, 1.0, 2.0, 3.0, 10.0, 11.0, 40.0])
    K = spd(rng, lam)
    L = lambda_min_certified(K)
    exact_stored = mpmath_lambda_min(K)
    assert mpmath.mpf(L) <= exact_stored
    np.testing.assert_allclose(L, 1e-3, **tol("certified_tightness"))
    assert isinstance(L, float)


def test_indefinite_matrix(rng):
    lam = np.array([-2.0, -0.5, 1.0, 3.0, 4.0, 7.0])
    K = spd(rng, lam)
    L = lambda_min_certified(K)
    lo, hi = flint_enclosure(K)
    assert L <= lo
    np.testing.assert_allclose(L, -2.0, **tol("certified_tightness"))


def test_slightly_asymmetric_uses_symmetric_part(rng):
    K = spd(rng, np.linspace(1.0, 5.0, 20))
    P = K.copy()
    P[3, 7] += 1e-14
    L = lambda_min_certified(P)
    lo, _ = flint_enclosure(0.5 * (P + P.T))
    assert L <= lo


def test_larger_ntk_is_tight(rng):
    n, d0, d1 = 300, 30, 200
    X = rng.standard_normal((n, d0)) / np.sqrt(d0)
    net = ShallowNet.init(d0=d0, d1=d1, seed=2)
    K = ntk_gram(net, X)
    r = lambda_min_certified(K, full_output=True)
    w = np.linalg.eigvalsh(K)
    assert r.method == "cholesky" and r.attempts >= 1
    assert r.bound <= w[0]
    assert (w[0] - r.bound) / w[0] <= tol("certified_tightness")["rtol"]
    assert r.bound <= r.shift <= r.estimate
    np.testing.assert_allclose(r.allowance, r.shift - r.bound, **tol("same_math"))


def test_arb_route_matches_enclosure(rng):
    K = spd(rng, np.geomspace(0.1, 10.0, 12))
    L = lambda_min_certified(K, method="arb")
    lo, hi = flint_enclosure(K)
    assert L <= lo
    assert lambda_min_certified(K, method="arb", full_output=True).method == "arb"
    assert hi - L <= tol("certified_tightness")["rtol"] * hi


def test_result_record_is_frozen(rng):
    r = lambda_min_certified(np.eye(3) * 2.0, full_output=True)
    assert isinstance(r, CertifiedBound) and float(r) == r.bound
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.bound = 3.0


def test_bad_input():
    with pytest.raises(ValueError, match="^K is not symmetric"):
        lambda_min_certified(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="^K contains NaN"):
        lambda_min_certified(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="^method"):
        lambda_min_certified(np.eye(2), method="ldl")
    for bad in ("abc", [1.0, 2.0], np.nan, np.inf):
        with pytest.raises(ValueError, match="^estimate must be"):
            lambda_min_certified(np.eye(2), estimate=bad)


def test_zero_and_diagonal_matrices_have_exact_bounds():
    # lambda_min_certified([[0.0]], estimate=1e-6) was refused ("no shifted
    # Cholesky factorisation succeeded"); a zero matrix has the bound 0
    assert lambda_min_certified([[0.0]], estimate=1e-6) == 0.0
    assert lambda_min_certified(np.zeros((4, 4))) == 0.0
    r = lambda_min_certified(np.diag([3.0, -1e-300, 2.0]), full_output=True)
    assert r.bound == -1e-300 and r.method == "diagonal" and r.allowance == 0.0


def test_wrong_estimate_is_recovered(rng):
    # an estimate far above lambda_min (every shift below it fails) falls
    # back to a dense estimate instead of refusing
    K = spd(rng, np.array([1.0, 2.0, 3.0, 5.0]))
    for est in (1e300, 10.0, 1.0 + 1e-3):
        r = lambda_min_certified(K, estimate=est, full_output=True)
        lo, hi = flint_enclosure(K)
        assert r.bound <= lo and hi - r.bound <= tol("certified_tightness")["rtol"] * hi
    # singular PSD, not diagonal: a finite bound at or below 0, close to it
    P = np.ones((3, 3))
    L = lambda_min_certified(P, estimate=1e-6)
    assert -1e-12 < L <= 0.0


# --------------------------------------------------------------------------
# The exact NTK of stored weights and data
# --------------------------------------------------------------------------
def mpmath_ntk_lambda_min(net, X, dps=50):
    """lambda_min of the exact NTK (gelu, d2 = 1, no bias) at 50 digits."""
    with mpmath.workdps(dps):
        n, d0 = X.shape
        Xm = [[mpmath.mpf(float(v)) for v in row] for row in X]
        W = [[mpmath.mpf(float(v)) for v in row] for row in net.W]
        v = [mpmath.mpf(float(t)) for t in net.V[0]]
        s2 = mpmath.sqrt(2)
        H, G = [], []
        for a in range(n):
            z = [mpmath.fsum(Xm[a][k] * W[r][k] for k in range(d0)) for r in range(net.d1)]
            H.append([zz * mpmath.erfc(-zz / s2) / 2 for zz in z])
            G.append([(mpmath.erfc(-zz / s2) / 2
                       + zz * mpmath.exp(-zz * zz / 2) / mpmath.sqrt(2 * mpmath.pi))
                      * v[r] for r, zz in enumerate(z)])
        K = mpmath.matrix(n, n)
        for a in range(n):
            for b in range(n):
                xx = mpmath.fsum(Xm[a][k] * Xm[b][k] for k in range(d0))
                K[a, b] = (mpmath.fsum(H[a][r] * H[b][r] for r in range(net.d1))
                           + xx * mpmath.fsum(G[a][r] * G[b][r] for r in range(net.d1)))
        return min(mpmath.eigsy(K, eigvals_only=True))


def test_ntk_bound_below_mpmath_exact(rng):
    net = ShallowNet.init(d0=3, d1=12, seed=5)
    X = rng.standard_normal((6, 3))
    r = ntk_lambda_min_certified(net, X)
    exact = mpmath_ntk_lambda_min(net, X)
    assert isinstance(r, NTKCertifiedBound)
    assert mpmath.mpf(r.bound) <= exact
    assert r.bound <= r.matrix_bound and r.rounding_allowance > 0
    assert float(exact) - r.bound <= tol("certified_tightness")["rtol"] * float(exact)


@pytest.mark.parametrize("activation,d2,bias", [("gelu", 1, False), ("tanh", 2, True),
                                                 ("softplus", 1, True), ("erf", 2, False)])
def test_ntk_bound_below_arb(rng, activation, d2, bias):
    net = ShallowNet.init(d0=4, d1=20, d2=d2, activation=activation, seed=7, bias=bias)
    X = rng.standard_normal((8, 4))
    r = ntk_lambda_min_certified(net, X)
    ra = ntk_lambda_min_certified(net, X, method="arb")
    assert ra.method == "arb" and ra.bound <= ra.upper
    assert r.bound <= ra.upper
    assert ra.bound <= np.linalg.eigvalsh(ntk_gram(net, X))[0] + 1e-12 * ra.upper
    rtol = tol("certified_tightness")["rtol"]
    assert ra.upper - r.bound <= rtol * ra.upper
    assert ra.upper - ra.bound <= rtol * ra.upper


def test_ntk_layers(rng):
    net = ShallowNet.init(d0=4, d1=30, seed=1)
    X = rng.standard_normal((10, 4))
    for layers in (("W",), ("V",)):
        r = ntk_lambda_min_certified(net, X, layers=layers)
        w = np.linalg.eigvalsh(ntk_gram(net, X, layers=layers))[0]
        assert r.bound <= w
        assert w - r.bound <= tol("certified_tightness")["rtol"] * abs(w) + 1e-12


def test_ntk_bad_input(rng):
    net = ShallowNet.init(d0=3, d1=10, activation="relu", seed=0)
    with pytest.raises(ValueError, match="^net: activation 'relu'"):
        ntk_lambda_min_certified(net, rng.standard_normal((5, 3)))
    with pytest.raises(ValueError, match="^net must be a ShallowNet"):
        ntk_lambda_min_certified(np.eye(3), rng.standard_normal((5, 3)))
    net = ShallowNet.init(d0=3, d1=10, seed=0)
    with pytest.raises(ValueError, match="^method"):
        ntk_lambda_min_certified(net, rng.standard_normal((5, 3)), method="ldl")


def test_ntk_bound_huge_inputs_are_refused(rng):
    # X >= 1e155, W = 1e300, V = 1e200 gave a bound of -inf without a word
    net = ShallowNet.init(d0=3, d1=12, seed=5)
    X = rng.standard_normal((6, 3))
    for name, nt, XX in (("X", net, X * 1e160), ("net", net.replace(W=net.W * 1e300), X),
                         ("net", net.replace(V=net.V * 1e200), X)):
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            ntk_lambda_min_certified(nt, XX)


def test_ntk_bound_nonfinite_error_bound_is_refused(rng, monkeypatch):
    # an entrywise error bound that overflows would make the bound -inf
    import pl_toolkit.ntk_certified as ntk_certified

    real = ntk_certified._ntk_with_error

    def overflowing(*a, **k):
        K, E = real(*a, **k)
        E = E.copy()
        E[0, 1] = E[1, 0] = np.inf
        return K, E

    monkeypatch.setattr(ntk_certified, "_ntk_with_error", overflowing)
    net = ShallowNet.init(d0=3, d1=12, seed=5)
    with pytest.raises(ValueError, match=r"^(X|net): the NTK"):
        ntk_lambda_min_certified(net, rng.standard_normal((6, 3)))


def test_arb_route_isolates_clustered_eigenvalues():
    # eigenvalues 1e43 +- 6.4e26 (relative gap 1e-16): ball arithmetic at 53
    # bits failed to isolate them ("failed to isolate eigenvalues")
    K = np.array([[1e43, 6.35286594e26], [6.35286594e26, 1e43]])
    L = lambda_min_certified(K, method="arb")
    lo, hi = flint_enclosure(K)
    assert L <= lo and hi - L <= tol("certified_tightness")["rtol"] * hi


def exact_multiple_eigenvalue():
    """An exact ``S P H diag(w) H P^T S / 8`` (Hadamard ``H``, signs ``S``, permutation ``P``).

    Eigenvalues exactly ``w`` = 333500973005442 (twice), 454658615156829
    (five times), 456001033039289; every entry is an integer over 8.
    """
    values = np.array([0, 3396296054834318, 243657702185234, 240972866420314, 1342417882460]) / 8
    code = np.array([[1, 2, 2, -4, -4, 4, -4, 3], [2, 1, -3, -4, -4, 4, -4, -2],
                     [2, -3, 1, -4, -4, 4, -4, -2], [-4, -4, -4, 1, -3, -2, 2, 4],
                     [-4, -4, -4, -3, 1, -2, 2, 4], [4, 4, 4, -2, -2, 1, 3, -4],
                     [-4, -4, -4, 2, 2, 3, 1, 4], [3, -2, -2, 4, 4, -4, 4, 1]])
    K = np.sign(code) * values[np.abs(code)]
    assert np.array_equal(K, K.T)
    return K, 333500973005442.0


def test_arb_route_bounds_an_exactly_repeated_eigenvalue():
    # ball arithmetic cannot isolate an exactly 5-fold eigenvalue at any
    # precision (the arb route raised "could not isolate the eigenvalues at
    # 1024 bits" on this matrix times 2**191); a proof that K - s I is
    # positive definite stands in
    K, lam = exact_multiple_eigenvalue()
    import pl_toolkit._ball as _ball

    # the reported failure: no precision isolates the enclosures
    assert _ball.arb_eig(
        lambda: flint.arb_mat([[flint.arb(float(x)) for x in r] for r in K])) is None
    L = lambda_min_certified(K, method="arb")
    assert L <= lam and lam - L <= tol("certified_tightness")["rtol"] * lam
    # scaled by an exact power of two (the reported case had entries ~1e72)
    L = lambda_min_certified(np.ldexp(K, 191), method="arb")
    lam = np.ldexp(lam, 191)
    assert L <= lam and lam - L <= tol("certified_tightness")["rtol"] * lam
    # and the zero matrix (its enclosures isolate; rounded outwards by subnormal ulps)
    L = lambda_min_certified(np.zeros((3, 3)), method="arb")
    assert -4 * 2.0 ** -1074 <= L <= 0.0


def test_arb_bracket_encloses_lambda_min(rng, monkeypatch):
    # the stand-in route against the isolated enclosures, on the stored
    # matrix and on the NTK (where it also gives the upper end)
    import pl_toolkit._ball as _ball

    K = spd(rng, np.geomspace(1e-3, 1.0, 12))
    lo, hi = flint_enclosure(K)
    net = ShallowNet.init(d0=4, d1=20, d2=2, activation="tanh", seed=7, bias=True)
    X = rng.standard_normal((6, 4))
    ra = ntk_lambda_min_certified(net, X, method="arb")
    monkeypatch.setattr(_ball, "arb_eig", lambda build: None)
    L = lambda_min_certified(K, method="arb")
    assert L <= lo and hi - L <= tol("certified_tightness")["rtol"] * hi
    rb = ntk_lambda_min_certified(net, X, method="arb")
    assert rb.bound <= ra.upper and ra.bound <= rb.upper
    rtol = tol("certified_tightness")["rtol"]
    assert rb.upper - rb.bound <= rtol * rb.upper
    np.testing.assert_allclose(rb.estimate, ra.estimate, rtol=rtol)
