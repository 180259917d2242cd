"""The width condition (9) -> (20) -> (21) with the omega1 dependence of c_k kept."""

import json
import math

import mpmath
import numpy as np
import pytest
from sympy import Rational, factorial, pi, sqrt

from _tolerances import tol
from derivations import symbols as S
from derivations.__main__ import main
from derivations.framework import eq9_constant, theorem1_condition
from derivations.hermite import activation_mpmath
from derivations.shallow import eq21_derivation, exponent
from derivations.width import (SETTINGS, d0_dependence, default_t, format_width_conditions,
                               width_conditions, width_setting, width_threshold)

D0S = (16, 64, 256, 1024)

# exponents of n and d0 in d1 >~ n^p d0^q, derived by hand (see the module notes):
# paper and unit_omega1 keep a, b constant; at LeCun/He, c_0 ~ omega1^2 ~ 1/d0 and
# c_t ~ omega1^t, so b/a^3 ~ d0^(3t/2 - 1) and (20) gives d0^(3t/2 - 2) n^(3/2).
EXPECTED = {
    ("gelu", "paper"): ("3/2", "-1"), ("gelu", "lecun"): ("3/2", "1"),
    ("gelu", "he"): ("3/2", "1"), ("gelu", "unit_omega1"): ("3/2", "-1"),
}
EXPECTED_SLOW = {
    ("shifted_softplus", "lecun"): ("3/2", "1"), ("shifted_softplus", "he"): ("3/2", "1"),
    ("tanh", "lecun"): ("3/2", "5/2"), ("tanh", "he"): ("3/2", "5/2"),
    ("tanh", "paper"): ("3/2", "-1"), ("tanh", "unit_omega1"): ("3/2", "-3/2"),
}
CASES = [pytest.param(a, s, e, id=f"{a}-{s}") for (a, s), e in EXPECTED.items()] + [
    pytest.param(a, s, e, id=f"{a}-{s}", marks=pytest.mark.slow)
    for (a, s), e in EXPECTED_SLOW.items()]


@pytest.mark.parametrize("activation,setting,expected", CASES)
def test_leading_exponents_per_setting(activation, setting, expected):
    ws = width_setting(setting, activation)
    lead = ws.regimes[ws.leading]
    assert (str(lead.n_exponent), str(lead.d0_exponent)) == expected
    assert ws.leading == "features"
    for st in ws.steps:
        v = st.verify()
        assert v is (True if st.how == "algebra" else None), f"{setting}: {st.name}"


def test_paper_setting_is_unchanged():
    ws = width_setting("paper")
    feat = ws.regimes["features"]
    assert (feat.d1_min - eq21_derivation()["d1_min"]).expand() == 0
    assert (feat.n_exponent, feat.d0_exponent) == (Rational(3, 2), -1)
    wc = width_conditions(settings=("paper",))["paper"]
    assert (wc["n"], wc["d0"]) == ("3/2", "-1")
    assert wc["parameter_count"] == {"n": "3/2", "d0": "0"}
    assert wc["constant"] is None and wc["d1_min"] == "K*n**(3/2)*d0**(-1)"


def test_lecun_regimes_by_hand():
    """GELU at LeCun: both regimes, the crossover and the constants, typed by hand."""
    ws = width_setting("lecun")
    v0, feat = ws.regimes["v0"], ws.regimes["features"]
    assert (v0.n_exponent, v0.d0_exponent) == (1, 1)
    assert (ws.sharp.n_exponent, ws.sharp.d0_exponent) == (1, 1)
    assert ws.crossover["n_exponent_of_d0"] == 0
    # by hand: a = c_2/sqrt 2 = sqrt(2/pi)/(sqrt 2 d0), b = c_1 sigma/sqrt n = 1/(2 d0)
    # (the linear part beats |c_0| = 1/(sqrt(2 pi) d0)), c = sqrt 2 (phi' + phi''),
    # k = 1/4, so d1 = sqrt(k/(C alpha)) c (b/a^3) sigma^2 sqrt(n)
    a = sqrt(2 / pi) / sqrt(2)
    b = Rational(1, 2)
    c = sqrt(2) * (S.phi_dot_max + S.phi_ddot_max)
    k = Rational(1, 4)
    hand = sqrt(k / (S.C_9 * S.alpha_f)) * c * b / a**3
    got = feat.constant.subs({S.slack_mu: 1, S.slack_nu: 1, S.d2: 1})
    assert (got**2 - hand**2).expand() == 0
    assert feat.part == "linear"
    assert ws.regimes["features"].d1_min.free_symbols >= {S.n, S.d0}
    # He: the mean part |c_0| = 2/(sqrt(2 pi) d0) beats c_1/sqrt(d0) = 1/(sqrt 2 d0)
    assert width_setting("he").regimes["features"].part == "mean"


def test_thresholds_make_eq9_tight_numerically():
    """Evaluate (9) at the solved threshold with plain floats (independent of solve)."""
    wc = width_conditions(settings=("lecun",))["lecun"]
    dot, ddot = wc["constants"]["phi_dot_max"], wc["constants"]["phi_ddot_max"]
    for n, d0 in ((1000, 32), (10**5, 300)):
        d1 = wc["regimes"]["features"]["constant"] * n**1.5 * d0
        w1 = 1 / math.sqrt(d0)
        mu = math.sqrt(d1 / 2) * math.sqrt(2 / math.pi) * w1**2
        nu = math.sqrt(d1) * 0.5 * w1 * math.sqrt(n / d0)
        beta = math.sqrt(2 * n / d0) * (dot + ddot)
        h0 = n * w1**2 / 4
        np.testing.assert_allclose(h0, (1 / 32) * 2 * mu**6 / (beta**2 * nu**2),
                                   **tol("same_math"))


def test_width_conditions_json_and_text():
    wc = width_conditions()
    assert set(wc) == set(SETTINGS)
    json.dumps(wc)  # plain Python data
    for s in ("lecun", "he"):
        assert (wc[s]["n"], wc[s]["d0"]) == ("3/2", "1")
        assert wc[s]["along_n_eq_d0_t"] == {"width_n": "2", "parameters_n": "5/2"}
        assert wc[s]["crossover"]["n_exponent_of_d0"] == "0"
        # features leads for every n >= 1
        assert wc[s]["crossover"]["n_constant"] < 1
        assert wc[s]["derivation_failed_steps"] == []
        assert wc[s]["paper_21"] == {"n": "3/2", "d0": "-1"}
    assert wc["lecun"]["constants"]["C_9"] == "1/32"
    wc["lecun"]["n"] = "mutated"
    assert width_conditions()["lecun"]["n"] == "3/2"
    text = format_width_conditions(wc)
    assert "[lecun]" in text and "15.17*n**(3/2)*d0" in text
    with pytest.raises(ValueError, match="activation"):
        width_conditions("relu")
    with pytest.raises(ValueError, match="setting"):
        width_setting("xavier")
    with pytest.raises(ValueError, match="c_2 of tanh vanishes"):
        width_setting("lecun", "tanh", 2)


def test_default_t():
    assert default_t("gelu") == 2 and default_t("shifted_softplus") == 2
    assert default_t("tanh") == 3


# ------------------------------------------------- against mpmath for d0 = 16 ... 1024
def _b_over_a3_closed_form(d0):
    """GELU at LeCun, by hand from c_0 = w^2/sqrt(2 pi (1 + w^2)) and
    c_2 = w^2 (2 + w^2) / (sqrt(2 pi) (1 + w^2)^{3/2}), w^2 = 1/d0."""
    w2 = mpmath.mpf(1) / d0
    return 2 ** mpmath.mpf(2.5) * mpmath.pi * (1 + w2) ** 4 / (2 + w2) ** 3


@pytest.fixture(scope="module")
def lecun_gelu():
    return d0_dependence("gelu", "lecun", D0S)


def test_b_over_a3_matches_the_audit_and_the_closed_form(lecun_gelu):
    ba3 = lecun_gelu["b_over_a3_c0"]
    assert lecun_gelu["b_over_a3_exponent"] == "2"
    with mpmath.workdps(30):
        ref = [float(_b_over_a3_closed_form(d0)) for d0 in D0S]
    np.testing.assert_allclose(ba3, ref, **tol("mpmath"))
    # the audit's figures 2.58, 2.31, 2.24, 2.23 (x d0^2), and the limit pi/sqrt 2
    assert [round(v, 2) for v in ba3] == [2.58, 2.31, 2.24, 2.23]
    np.testing.assert_allclose(lecun_gelu["b_over_a3_leading"], math.pi / math.sqrt(2),
                               **tol("same_math"))


def test_d0_exponent_against_mpmath(lecun_gelu):
    d = lecun_gelu
    assert d["exponent"] == "1" and d["leading_check"] == "1"
    g = d["next_order"]
    # ratio = 1 + g/d0 + O(1/d0^2): the error of the first-order prediction shrinks by
    # about 4 (at least 2) for every fourfold d0
    err = [abs(s - g) for s in d["scaled_deviation"]]
    assert all(e2 <= e1 / 2 for e1, e2 in zip(err, err[1:]))
    # the local log-slopes are those of K d0 (1 + g/d0), up to O(1/d0^2)
    d0s = d["d0"]
    pred = [1 + (math.log1p(g / b) - math.log1p(g / a)) / math.log(b / a)
            for a, b in zip(d0s, d0s[1:])]
    dev = [abs(s - p) for s, p in zip(d["local_slopes"], pred)]
    assert all(x2 <= x1 / 4 for x1, x2 in zip(dev, dev[1:]))
    assert abs(d["local_slopes"][-1] - 1) < abs(d["local_slopes"][0] - 1)
    # the exact threshold over n^(3/2) assembled by hand from the mpmath coefficients
    # (sqrt(k/(C alpha)) c (b/a^3) sigma^2 sqrt(n) / n^(3/2), sigma^2 = n/d0)
    for d0, xi in zip(d0s, d["xi"]):
        cf = width_threshold(d0 * d0, d0)["constants"]
        a = abs(cf["c_t"]) / math.sqrt(2)
        b = max(abs(cf["c_0"]), math.sqrt(cf["Var_phi"] / d0))
        c = math.sqrt(2) * (cf["phi_dot_max"] + cf["phi_ddot_max"])
        k = d0 * cf["E_phi_sq"]
        hand = math.sqrt(k / (cf["C_9"] * cf["alpha_f"])) * c * b / a**3 / d0
        np.testing.assert_allclose(xi, hand, **tol("mpmath"))
    # and the coefficients themselves against the closed forms of GELU
    w2 = 1 / d0s[-1]
    c0 = math.sqrt(w2) ** 2 / math.sqrt(2 * math.pi * (1 + w2))
    np.testing.assert_allclose(cf["c_0"], c0, **tol("mpmath"))


@pytest.mark.slow
@pytest.mark.parametrize("activation,init", [("gelu", "he"), ("shifted_softplus", "lecun"),
                                             ("shifted_softplus", "he"), ("tanh", "lecun"),
                                             ("tanh", "he")])
def test_d0_exponent_against_mpmath_other(activation, init):
    d = d0_dependence(activation, init, D0S)
    assert d["leading_check"] == "1"
    err = [abs(s - d["next_order"]) for s in d["scaled_deviation"]]
    assert all(e2 <= e1 / 2 for e1, e2 in zip(err, err[1:]))
    expected = {"gelu": "1", "shifted_softplus": "1", "tanh": "5/2"}[activation]
    assert d["exponent"] == expected
    assert abs(d["local_slopes"][-1] - float(Rational(expected))) < abs(
        d["local_slopes"][0] - float(Rational(expected)))


def test_d0_dependence_rejects_bad_input():
    with pytest.raises(ValueError, match="init"):
        d0_dependence(init="unit_omega1")
    with pytest.raises(ValueError, match="d0_values"):
        d0_dependence(d0_values=(64, 16))
    with pytest.raises(ValueError, match="d0_values"):
        d0_dependence(d0_values=(16.5, 64))


# ------------------------------------------------------------- numeric threshold
def _rhs9_by_hand(n, d0, d1, c, dot, ddot, y_sq=1.0, d2=1):
    """(9)'s two sides from Lemma 3 at LeCun init, written out with floats."""
    w2 = 1 / math.sqrt(d1)
    sigma = math.sqrt(n / d0)
    mu = math.sqrt(d1 / 2) * abs(c["c_t"])
    sv0 = w2 * (math.sqrt(d1) + math.sqrt(d2))
    nu = dot * sigma * sv0 + max(abs(c["c_0"]) * math.sqrt(d1 * n),
                                 math.sqrt(c["Var_phi"] * d1) * sigma)
    beta = math.sqrt(2) * sigma * (dot + ddot * sv0)
    h0 = w2**2 * d1 * d2 * n * c["E_phi_sq"] + y_sq
    return h0, (1 / 32) * 2 * mu**6 / (beta**2 * nu**2)


def test_width_threshold_solves_eq9():
    out = width_threshold(256, 64)
    c = out["constants"]
    assert c["C_9"] == float(eq9_constant()) and c["alpha_f"] == 2.0
    d1 = out["d1_min"]
    h0, rhs = _rhs9_by_hand(256, 64, d1, c, c["phi_dot_max"], c["phi_ddot_max"])
    np.testing.assert_allclose(h0, c["h0"], **tol("same_math"))
    np.testing.assert_allclose(rhs, h0, rtol=1e-10)  # bisection in log d1 to 1e-13
    for f, holds in ((1.001, True), (0.999, False)):
        h0, rhs = _rhs9_by_hand(256, 64, f * d1, c, c["phi_dot_max"], c["phi_ddot_max"])
        assert (h0 <= rhs) == holds
    assert out["regime"] == "features" and out["features_part"] == "linear"
    assert out["d1_min_sharp"] < out["d1_min"]
    # at d1_min the implied constant of (9) is C_9 itself
    at = width_threshold(256, 64, d1=d1)["at_d1"]
    np.testing.assert_allclose(at["shortfall"], 1.0, rtol=1e-10)
    bad = width_threshold(256, 64, d1=d1 / 10)["at_d1"]
    assert not bad["holds"] and bad["shortfall"] > 1
    assert out["paper_21"] == 256**1.5 / 64


def test_width_threshold_tends_to_the_leading_order():
    """Large n, d0: the exact threshold is the leading order times 1 + g/d0 + T1/T2."""
    n, d0 = 2**20, 1024
    out = width_threshold(n, d0, y_norm_sq=0)
    xi = d0_dependence("gelu", "lecun", (256, d0))
    ratio_xi = xi["ratio"][-1]
    t_ratio = out["nu_terms"]["v0"] / out["nu_terms"]["features"]
    # nu = T2 (1 + T1/T2) and d1_min is proportional to nu / sqrt(d1) times beta, whose
    # sqrt(d2/d1) part is the only other difference from the features-regime xi
    rel = out["leading_order"]["ratio"] / ratio_xi - 1
    assert abs(rel - t_ratio) <= t_ratio**2 + math.sqrt(1 / out["d1_min"])
    assert out["leading_order"]["heuristics"] is True


def test_width_threshold_measured_inputs_and_errors():
    out = width_threshold(100, 64, sigma_max_X=69.6**0.5, s_t=0.092, h0=3.0, d1=250)
    assert out["constants"]["h0_source"] == "given" and out["constants"]["h0"] == 3.0
    assert out["leading_order"]["heuristics"] is False
    assert out["at_d1"]["holds"] is False and out["at_d1"]["shortfall"] > 1e10
    unit = width_threshold(4096, 64, init="unit_omega1")
    assert unit["constants"]["omega1"] == 1.0 and unit["regime"] == "features"
    for kwargs, name in ((dict(n=0), "n"), (dict(n=10.5), "n"), (dict(d0=float("nan")), "d0"),
                         (dict(sigma_max_X=-1.0), "sigma_max_X"), (dict(s_t=0), "s_t"),
                         (dict(delta1=1.0), "delta1"), (dict(h0=float("inf")), "h0"),
                         (dict(init="paper"), "init"), (dict(init="xavier"), "init"),
                         (dict(dps=5), "dps"), (dict(d1=-3), "d1"),
                         (dict(activation="relu"), "activation")):
        args = dict(n=256, d0=64)
        args.update(kwargs)
        with pytest.raises(ValueError, match=name):
            width_threshold(args.pop("n"), args.pop("d0"), **args)


# ------------------------------------------------- Lemma 3's premise on sigma_max(phi)
def test_sigma_max_features_between_the_bounds():
    """lambda_max of the infinite-width conjugate kernel lies between the two parts of the
    estimate and their sum (Schur's bound): the Max form is right within sqrt(2)."""
    from pl_toolkit import hermite_coefficients, infinite_width_kernels

    rng = np.random.default_rng(np.random.SeedSequence(7))
    n, d0 = 96, 16
    X = rng.standard_normal((n, d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    w1 = 1 / math.sqrt(d0)
    K = infinite_width_kernels(X, "gelu", w1, 1.0).conjugate
    lam = np.linalg.eigvalsh(K)[-1]
    c = hermite_coefficients("gelu", 1, omega=w1)
    sx2 = np.linalg.eigvalsh(X @ X.T)[-1]
    with mpmath.workdps(30):
        e2 = float(mpmath.quad(lambda z: activation_mpmath("gelu")(w1 * z) ** 2
                               * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf]))
    var = e2 - c[0] ** 2
    lower = max(c[0] ** 2 * n, c[1] ** 2 * sx2)
    upper = c[0] ** 2 * n + var * sx2
    assert lower <= lam * (1 + tol("kernel_routes")["rtol"])
    assert lam <= upper * (1 + tol("kernel_routes")["rtol"])
    est = max(c[0] ** 2 * n, var * sx2)
    assert est <= upper <= 2 * est


# ------------------------------------------------------------------- the CLI
def test_main_json_no_run_has_width_conditions(capsys):
    assert main(["--json", "--no-run"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["derivation_failed_steps"] == []
    wc = data["width_conditions"]
    assert {s: (wc[s]["n"], wc[s]["d0"]) for s in ("paper", "lecun", "he")} == {
        "paper": ("3/2", "-1"), "lecun": ("3/2", "1"), "he": ("3/2", "1")}


def test_main_width_only(capsys):
    assert main(["--width"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Width condition") and "eq. (20)" not in out
    assert main(["--width", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"width_conditions"}
    assert main(["--no-run"]) == 0
    assert "[he] omega1^2 = 2/d0" in capsys.readouterr().out


def test_exponent_function_on_a_threshold():
    """The log-derivative reads exponents off the solved monomials (sanity of the tool)."""
    cond = theorem1_condition(S.n / S.d0, 2, sqrt(S.d1 / factorial(2)) / S.d0,
                              sqrt(S.d1 * S.n) / S.d0, sqrt(S.n / S.d0), Rational(1, 32))
    assert exponent(cond.rhs, S.d1) == 2
