"""Numbers at the edges of float64: activations near 0 and far out against
mpmath, finite inputs whose products overflow, degenerate data for Lemma 3,
and the symmetric-PSD property of the empirical NTK across scales.
"""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _tolerances import ntk_psd_floor, tol

from pl_toolkit import (ShallowNet, get_activation, gradient, infinite_width_kernels, jvp,
                        khatri_rao_gram, lemma3_constants, loss, ntk_gram, ntk_operator, vjp)
from pl_toolkit import _reference

FMAX = float(np.finfo(np.float64).max)

# --------------------------------------------------------------------------
# Activations against mpmath
# --------------------------------------------------------------------------
# Naive formulas, evaluated with 700 digits: enough to absorb the 300-digit
# cancellations of e.g. 1 - 2 sigmoid(1e-300) or log((1 + e^x) / 2) at 1e-300.
DPS = 700


def _sig(x):
    return 1 / (1 + mpmath.exp(-x))


def _ncdf(x):
    # mpmath's erfc cannot take |x| ~ 1e10 and beyond; there Phi is 0 or 1
    # to far more than float64's range.
    if abs(x) > 1e5:
        return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)
    return mpmath.ncdf(x)


def _npdf(x):
    return mpmath.exp(-x * x / 2) / mpmath.sqrt(2 * mpmath.pi)


def _erf(x):
    return mpmath.sign(x) if abs(x) > 1e5 else mpmath.erf(x)


def _step(x, lo, hi):
    return hi if x > 0 else lo


MP = {
    "gelu": (lambda x: x * _ncdf(x), lambda x: _ncdf(x) + x * _npdf(x),
             lambda x: _npdf(x) * (2 - x * x)),
    "tanh": (mpmath.tanh, lambda x: 1 - mpmath.tanh(x) ** 2,
             lambda x: -2 * mpmath.tanh(x) * (1 - mpmath.tanh(x) ** 2)),
    "sigmoid": (_sig, lambda x: _sig(x) * (1 - _sig(x)),
                lambda x: _sig(x) * (1 - _sig(x)) * (1 - 2 * _sig(x))),
    "softplus": (lambda x: mpmath.log(1 + mpmath.exp(x)), _sig, lambda x: _sig(x) * (1 - _sig(x))),
    "shifted_softplus": (lambda x: mpmath.log(1 + mpmath.exp(x)) - mpmath.log(2), _sig,
                         lambda x: _sig(x) * (1 - _sig(x))),
    "silu": (lambda x: x * _sig(x), lambda x: _sig(x) + x * _sig(x) * (1 - _sig(x)),
             lambda x: _sig(x) * (1 - _sig(x)) * (2 + x * (1 - 2 * _sig(x)))),
    "erf": (_erf, lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x),
            lambda x: -4 * x / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x)),
    "quadratic": (lambda x: x * x, lambda x: 2 * x, lambda x: mpmath.mpf(2)),
    "identity": (lambda x: x, lambda x: mpmath.mpf(1), lambda x: mpmath.mpf(0)),
    "relu": (lambda x: _step(x, 0, x), lambda x: _step(x, mpmath.mpf(0), mpmath.mpf(1)),
             lambda x: mpmath.mpf(0)),
    "leaky_relu": (lambda x: _step(x, 0.01 * x, x),
                   lambda x: _step(x, mpmath.mpf(0.01), mpmath.mpf(1)),
                   lambda x: mpmath.mpf(0)),
}
# Near 0, at +-40 (where 1 - tanh^2 and 1 - sigmoid cancel to 0) and far out.
POINTS = [s * v for v in (1e-300, 1e-12, 1e-6, 0.5, 3.0, 10.0, 40.0, 1e3, 1e10, 1e100, 1e300)
          for s in (1.0, -1.0)]
_CACHE = {}


def _mp_value(name, order, x):
    key = (name, order, x)
    if key not in _CACHE:
        with mpmath.workdps(DPS):
            v = MP[name][order](mpmath.mpf(x))
            _CACHE[key] = (float(v) if abs(v) <= FMAX
                           else math.copysign(math.inf, float(mpmath.sign(v))))
    return _CACHE[key]


def test_mpmath_table_covers_every_builtin():
    assert sorted(MP) == sorted(_reference.ACTIVATIONS)


@pytest.mark.parametrize("order", [0, 1, 2], ids=["phi", "dphi", "ddphi"])
@pytest.mark.parametrize("name", sorted(MP))
def test_activation_against_mpmath(name, order):
    act = get_activation(name)
    x = np.array(POINTS)
    expected = np.array([_mp_value(name, order, v) for v in POINTS])
    kernel = (act.phi, act.dphi, act.ddphi)[order](x)
    with np.errstate(over="ignore"):          # quadratic(1e300) = inf, as the truth
        reference = _reference.ACTIVATIONS[name][order](x.copy())
    for label, got in (("numba", kernel), ("numpy", reference)):
        np.testing.assert_allclose(got, expected, **tol("activation_pointwise"),
                                   err_msg=f"{label} {name} order {order} at {POINTS}")


def test_shifted_softplus_reference_near_zero():
    """The reported case: backend numpy lost 4 digits at 1e-12 (relative error 8.9e-5)."""
    x = np.array([1e-12, -1e-12, 1e-300])
    got = _reference.ACTIVATIONS["shifted_softplus"][0](x)
    np.testing.assert_allclose(got, [_mp_value("shifted_softplus", 0, v) for v in x],
                               **tol("activation_pointwise"))


# --------------------------------------------------------------------------
# Finite inputs whose products overflow
# --------------------------------------------------------------------------
def _base(act="gelu", d2=2, bias=False):
    rng = np.random.default_rng(np.random.SeedSequence(7))
    net = ShallowNet(rng.standard_normal((8, 3)), rng.standard_normal((d2, 8)), act,
                     rng.standard_normal(8) if bias else None,
                     rng.standard_normal(d2) if bias else None)
    return net, rng.standard_normal((4, 3)), rng.standard_normal((4, d2))


# (case, which input is blown up, the name it must be reported under)
HUGE = {
    "X_1e155": lambda net, X: (net, X * 1e155, "X"),
    "W_1e300": lambda net, X: (net.replace(W=np.full(net.W.shape, 1e300)), X, "net.W"),
    "V_1e200": lambda net, X: (net.replace(V=np.full(net.V.shape, 1e200)), X, "net.V"),
}
CALLS = {
    "ntk_gram": lambda net, X, Y: ntk_gram(net, X),
    "ntk_gram_blocks": lambda net, X, Y: ntk_gram(net, X, blocks=True),
    "ntk_gram_numpy": lambda net, X, Y: ntk_gram(net, X, backend="numpy"),
    "ntk_gram_cross": lambda net, X, Y: ntk_gram(net, X, np.ones((2, net.d0))),
    "ntk_operator": lambda net, X, Y: ntk_operator(net, X) @ np.ones(X.shape[0] * net.d2),
    "ntk_operator_z": lambda net, X, Y: ntk_operator(net, X, store="preactivations")
    @ np.ones(X.shape[0] * net.d2),
    "forward": lambda net, X, Y: net.forward(X),
    "features": lambda net, X, Y: net.features(X),
    "loss": lambda net, X, Y: loss(net, X, Y),
    "gradient": lambda net, X, Y: gradient(net, X, Y),
    "jvp": lambda net, X, Y: jvp(net, X, np.ones(net.num_parameters())),
    "vjp": lambda net, X, Y: vjp(net, X, np.ones_like(Y)),
    "lemma3_constants": lambda net, X, Y: lemma3_constants(net, X).to_dict(),
}
# The reported cases: each of these returned NaN/Inf silently (for activations
# that do not saturate; tanh turns Z ~ 1e300 into an honest 1.0).
MUST_REFUSE = {(a, c, f) for a in ("gelu", "relu", "quadratic") for c in HUGE
               for f in ("ntk_gram", "ntk_gram_numpy", "ntk_operator", "loss", "gradient")}


def _finite(result, act):
    if isinstance(result, dict):
        # Lemma 3's constants may be inf through an infinite activation constant, never nan.
        vals = [v for v in result.values() if isinstance(v, float)]
        a = get_activation(act)
        legit_inf = not (math.isfinite(a.phi_dot_max) and math.isfinite(a.phi_ddot_max))
        return not any(math.isnan(v) for v in vals) and (legit_inf or all(map(math.isfinite, vals)))
    parts = tuple(result) if isinstance(result, tuple) else (result,)
    return all(np.all(np.isfinite(np.asarray(p))) for p in parts)


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("case", list(HUGE))
@pytest.mark.parametrize("act", ["gelu", "tanh", "relu", "quadratic"])
def test_huge_inputs_refused_or_finite(act, case, call):
    """Never a silent NaN/Inf: a finite answer, or a ValueError naming the input."""
    net, X, Y = _base(act, bias=(act == "tanh"))
    net, X, name = HUGE[case](net, X)
    try:
        result = CALLS[call](net, X, Y)
    except ValueError as exc:
        msg = str(exc)
        assert msg.startswith(f"{name} has entries up to "), msg
        assert "overflows float64" in msg and msg.endswith(f"rescale {name}"), msg
        return
    assert (act, case, call) not in MUST_REFUSE, f"{call} on {case} returned instead of refusing"
    assert _finite(result, act), f"{call} on {case} returned a non-finite value"


def test_reported_ntk_gram_cases_name_the_stage():
    net, X, _ = _base()
    with pytest.raises(ValueError,
                       match=r"^X has entries up to [\d.]+e\+155: the data Gram X X\^T"):
        ntk_gram(net, X * 1e155)
    with pytest.raises(ValueError, match=r"^net\.V has entries up to 1e\+200 .*first-layer factor"):
        ntk_gram(net.replace(V=np.full(net.V.shape, 1e200)), X)
    with pytest.raises(ValueError, match=r"^net\.W has entries up to 1e\+300 .*conjugate kernel"):
        ntk_gram(net.replace(W=np.full(net.W.shape, 1e300)), X)


def test_tanh_saturation_is_a_right_answer():
    """W = 1e300 with tanh: Z ~ 1e300 is finite, tanh saturates, K = K_V + 0 exactly."""
    net, X, _ = _base("tanh", d2=1)
    big = net.replace(W=net.W * 1e300)
    K = ntk_gram(big, X)
    H = np.tanh(X @ big.W.T)
    np.testing.assert_allclose(K, H @ H.T, **tol("kernel_vs_reference"))


def test_overflowing_preactivations_are_refused_even_where_phi_saturates():
    """x . w = 2e308 overflows to inf, which tanh would turn into a plausible 1.0
    (and, after cancellation in another summation order, into a wrong one)."""
    net = ShallowNet(np.ones((2, 2)), np.ones((1, 2)), "tanh")
    X = np.array([[1e308, 1e308]])
    for call in (lambda: net.forward(X), lambda: ntk_gram(net, X), lambda: net.preactivations(X),
                 lambda: gradient(net, X, [0.0]), lambda: ntk_gram(net, X, backend="numpy")):
        with pytest.raises(ValueError,
                           match=r"^X has entries up to 1e\+308 .*preactivations X W\^T"):
            call()
    with pytest.raises(ValueError, match=r"^X2 has entries up to 1e\+308 .*preactivations X2 W\^T"):
        ntk_gram(net, np.ones((1, 2)), X)


def test_large_but_representable_results_are_returned():
    """Diagonals beyond max/4 switch to the full finiteness check, which passes."""
    net = ShallowNet([[1.0]], [[1.0]], "identity")
    X = np.array([[1e77], [1e76]])                       # K_aa = 2 x_a^2 = 2e154
    K = ntk_gram(net, X)
    np.testing.assert_allclose(K, 2.0 * (X @ X.T), **tol("same_math"))
    X = np.array([[9e153]])                              # K = 2 x^2 = 1.6e308 > max / 4
    np.testing.assert_allclose(ntk_gram(net, X), 2.0 * X * X, **tol("same_math"))
    with pytest.raises(ValueError, match="^X"):
        ntk_gram(net, np.array([[1e154]]))               # 2e308 > 1.8e308


def test_loss_overflow_from_targets_names_Y():
    net, X, Y = _base()
    with pytest.raises(ValueError, match=r"^Y has entries up to 1e\+200 .*the loss"):
        loss(net, X, Y * 0 + 1e200)


def test_operator_product_overflow_names_u():
    net, X, _ = _base()
    op = ntk_operator(net, X)
    with pytest.raises(ValueError, match=r"^u has entries up to 1e\+308 .*the product K u"):
        op @ np.full(8, 1e308)
    with pytest.raises(ValueError, match=r"^u contains NaN"):
        op @ np.full(8, np.nan)


def test_tiled_upper_triangle_refuses_overflow():
    from pl_toolkit._features import ntk_gram_upper as _ntk_gram_upper

    net, X, _ = _base()
    U = _ntk_gram_upper(net, X, tile=4)
    K = ntk_gram(net, X)
    iu = np.triu_indices(K.shape[0])
    np.testing.assert_allclose(U[iu], K[iu], **tol("kernel_vs_reference"))
    with pytest.raises(ValueError, match="^X has entries up to .*data Gram"):
        _ntk_gram_upper(net, X * 1e155, tile=4)


def test_infinite_width_and_khatri_rao_overflow():
    X = np.random.default_rng(3).standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"^X has entries up to .*the data Gram X X\^T"):
        infinite_width_kernels(X * 1e155, "gelu", 1.0, 1.0)
    with pytest.raises(ValueError, match=r"^omega2 = 1e\+160 "):
        infinite_width_kernels(X, "identity", 1.0, 1e160)   # was OverflowError from 1e160 ** 2
    with pytest.raises(ValueError, match=r"^X has entries up to .*\(X X\^T\)\^\(o 3\)"):
        khatri_rao_gram(X * 1e60, 3)


def test_no_lapack_chatter_on_overflow(capfd):
    """lemma3_constants used to hand inf to LAPACK, which printed 'DLASCL' lines to stderr."""
    net, X, _ = _base("quadratic")
    with pytest.raises(ValueError, match="^X has entries up to"):
        lemma3_constants(net, X * 1e155)
    assert capfd.readouterr().err == ""


# --------------------------------------------------------------------------
# Lemma 3 on degenerate data
# --------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["gelu", "relu", "quadratic", "identity"])
def test_lemma3_all_zero_X_is_refused(act):
    net = ShallowNet.init(3, 8, activation=act, seed=0)
    with pytest.raises(ValueError, match=r"^X is all zero: sigma_max\(X\) = 0"):
        lemma3_constants(net, np.zeros((4, 3)))


@pytest.mark.parametrize("act", ["gelu", "relu", "quadratic", "identity", "tanh"])
def test_lemma3_zero_row_and_single_sample(act, rng):
    net = ShallowNet.init(3, 8, activation=act, seed=0)
    X = rng.standard_normal((4, 3))
    X[2] = 0.0
    c = lemma3_constants(net, X)
    values = [v for v in c.to_dict().values() if isinstance(v, float)]
    assert not any(math.isnan(v) for v in values)
    # phi(0) = 0: zero row
    assert c.mu_Phi == 0.0 and c.rho_Phi == 0.0 and c.rho_Phi_followup == 0.0
    one = lemma3_constants(net, X[:1])
    H = net.features(X[:1])
    np.testing.assert_allclose(one.mu_Phi, np.linalg.norm(H), **tol("same_math"))
    np.testing.assert_allclose(one.sigma_max_X, np.linalg.norm(X[0]), **tol("same_math"))
    assert not any(math.isnan(v) for v in one.to_dict().values() if isinstance(v, float))


def test_lemma3_unbounded_curvature_with_mu_zero_is_not_nan(rng):
    """relu (phi_ddot_max = inf) with n > d1 (mu_Phi = 0) gave beta_Phi_followup = inf * 0 = nan."""
    net = ShallowNet.init(3, 2, activation="relu", seed=0)
    c = lemma3_constants(net, rng.standard_normal((5, 3)))
    assert c.mu_Phi == 0.0
    assert math.isfinite(c.beta_Phi_followup) and c.rho_Phi_followup == 0.0
    zero_v = lemma3_constants(net.replace(V=np.zeros((1, 2))), rng.standard_normal((5, 3)))
    assert not math.isnan(zero_v.beta_Phi)


# --------------------------------------------------------------------------
# Property: ntk_gram is symmetric and PSD within rounding, across scales
# --------------------------------------------------------------------------
ACTS = ["gelu", "tanh", "relu", "quadratic", "identity", "erf", "silu", "shifted_softplus",
        "leaky_relu", "sigmoid"]


@st.composite
def problems(draw):
    return dict(
        act=draw(st.sampled_from(ACTS)),
        n=draw(st.integers(1, 12)), d0=draw(st.integers(1, 6)), d1=draw(st.integers(1, 24)),
        d2=draw(st.integers(1, 3)), bias=draw(st.booleans()),
        sx=draw(st.integers(-150, 150)), sw=draw(st.integers(-150, 150)),
        sv=draw(st.integers(-150, 150)), seed=draw(st.integers(0, 2 ** 32 - 1)),
    )


def _crude_bound(net, X):
    """An a-priori bound on max K_aa for an activation with bounded phi' (else inf)."""
    act = net.activation
    dot = act.phi_dot_max
    if not math.isfinite(dot):
        return math.inf
    mx, mw = float(np.abs(X).max()), float(np.abs(net.W).max())
    mv = float(np.abs(net.V).max())
    mb = float(np.abs(net.b1).max()) if net.b1 is not None else 0.0
    zmax = net.d0 * mx * mw + mb
    hmax = abs(float(act.phi(np.zeros(1))[0])) + dot * zmax
    xx = net.d0 * mx * mx + 1.0
    return xx * net.d1 * (dot * mv) ** 2 + net.d1 * hmax * hmax + 1.0


def check_psd_case(p, counts):
    rng = np.random.default_rng(np.random.SeedSequence(p["seed"]))
    W = rng.standard_normal((p["d1"], p["d0"])) * 10.0 ** p["sw"]
    V = rng.standard_normal((p["d2"], p["d1"])) * 10.0 ** p["sv"]
    b1 = rng.standard_normal(p["d1"]) * 10.0 ** p["sw"] if p["bias"] else None
    b2 = rng.standard_normal(p["d2"]) if p["bias"] else None
    net = ShallowNet(W, V, p["act"], b1, b2)
    X = rng.standard_normal((p["n"], p["d0"])) * 10.0 ** p["sx"]
    try:
        K = ntk_gram(net, X)
    except ValueError as exc:
        msg = str(exc)
        assert "overflows float64" in msg, msg
        bound = _crude_bound(net, X)
        assert not bound < FMAX / 8, f"refused although max K_aa <= {bound:.3g}: {msg}"
        counts["refused"] += 1
        return
    assert np.all(np.isfinite(K))
    assert np.array_equal(K, K.T), "ntk_gram must be exactly symmetric (syrk + elementwise combine)"
    # Rounding floor of K / max|K| (scaled so that nothing overflows); the
    # factors' maxima for the underflow term come from the reference factors.
    scale = float(np.abs(K).max())
    if scale == 0.0:
        counts["zero"] += 1
        return
    Ks = K / scale
    lam = np.linalg.eigvalsh(Ks)
    # quadratic: phi(Z) may overflow where K did not need it
    with np.errstate(over="ignore"):
        H, G = _reference.features(net, X)
    A = (G[:, None, :] * net.V[None, :, :]).reshape(-1, net.d1)
    max_s = float(np.abs(A @ A.T).max())
    max_xx = float(np.abs(X @ X.T).max()) + (1.0 if net.b1 is not None else 0.0)
    floor = ntk_psd_floor(net.d0, net.d1, K.shape[0], float(np.trace(Ks)), float(np.abs(lam).max()),
                          max_s=max_s, max_xx=max_xx, scale=scale)
    assert lam[0] >= -floor, f"lambda_min / max|K| = {lam[0]:.3e} below -{floor:.3e} for {p}"
    counts["worst"] = max(counts.get("worst", 0.0), -lam[0] / floor)
    counts["checked"] += 1


FAST = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
BIG = settings(max_examples=3000, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(problems())
def test_ntk_gram_symmetric_psd_fast(p):
    check_psd_case(p, {"refused": 0, "zero": 0, "checked": 0})


PSD_COUNTS = {"refused": 0, "zero": 0, "checked": 0}


@pytest.mark.nightly
@BIG
@given(problems())
def test_ntk_gram_symmetric_psd_nightly(p):
    check_psd_case(p, PSD_COUNTS)


@pytest.mark.nightly
def test_ntk_gram_symmetric_psd_nightly_counts():
    """Runs after the property (file order); prints how the cases fell."""
    total = PSD_COUNTS["refused"] + PSD_COUNTS["zero"] + PSD_COUNTS["checked"]
    print(f"\nntk_gram PSD property: {total} cases, {PSD_COUNTS} "
          "(worst: the largest -lambda_min / floor among the checked)")
    assert total == 0 or PSD_COUNTS["checked"] > 0
