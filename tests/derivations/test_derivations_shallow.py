"""Lemma 3, the follow-up constants, and (9) -> (20) -> (21)."""

import numpy as np
import pytest
from sympy import Rational, sqrt

from _tolerances import tol
from derivations import symbols as S
from derivations.numeric import make_function
from derivations.shallow import (eq20_derivation, eq21_derivation, exponent, followup_constants,
                                 followup_scaling_constants, followup_steps, initial_loss_steps,
                                 lemma3_constants, parameter_count_exponent, width_exponents)
from derivations.steps import verify_all


def test_eq20_comes_out_of_the_algebra():
    out = eq20_derivation()
    # the paper's (20) with the digest's constant, typed here independently
    a, b, c, k, C, al = S.a_mu, S.b_nu, S.c_beta, S.k_h0, S.C_9, S.alpha_f
    paper = sqrt(k * c**2 * b**2 / (C * al * a**6)) * S.sigma_max_X**2 * sqrt(S.n) / S.s_t**3
    assert (out["d1_min"] - paper).expand() == 0
    assert out["scaling"] == S.sigma_max_X**2 * sqrt(S.n) / S.s_t**3
    assert not ({S.n, S.sigma_max_X, S.s_t, S.d1} & out["xi"].free_symbols)
    assert all(v in (True, None) for v in verify_all(out["steps"]).values())


def test_eq20_threshold_makes_eq9_tight_numerically(rng):
    """Plug the solved threshold back into (9) with numbers (independent of solve)."""
    out = eq20_derivation()
    d1_min = make_function(out["d1_min"])
    for _ in range(50):
        v = dict(a=rng.uniform(0.1, 2), b=rng.uniform(0.1, 2), c=rng.uniform(0.1, 2),
                 k_h0=rng.uniform(0.1, 2), C_9=rng.uniform(0.1, 2), alpha_f=2.0,
                 n=float(rng.integers(10, 1000)), sigma_max_X=rng.uniform(0.5, 10),
                 s_t=rng.uniform(0.1, 1))
        d1 = d1_min(**v)
        mu = v["a"] * np.sqrt(d1) * v["s_t"]
        nu = v["b"] * np.sqrt(d1 * v["n"])
        beta = v["c"] * v["sigma_max_X"]
        h0 = v["k_h0"] * v["sigma_max_X"] ** 2
        rhs = v["C_9"] * v["alpha_f"] * mu**6 / (beta**2 * nu**2)
        np.testing.assert_allclose(h0, rhs, **tol("same_math"))
        # wider than the threshold: (9) holds strictly; narrower: it fails
        for f, ok in ((1.1, True), (0.9, False)):
            mu2, nu2 = mu * np.sqrt(f), nu * np.sqrt(f)
            assert bool(h0 <= v["C_9"] * v["alpha_f"] * mu2**6 / (beta**2 * nu2**2)) == ok


def test_eq21_and_the_exponent_three_halves():
    out = eq21_derivation()
    assert out["params_n"] == Rational(3, 2)
    assert out["width_n"] == Rational(3, 2)
    assert out["width_d0"] == -1
    assert out["params_d0"] == 0
    assert out["linear_width_n"] == 1
    assert parameter_count_exponent() == Rational(3, 2)
    assert isinstance(parameter_count_exponent(), Rational)
    assert width_exponents() == {"n": Rational(3, 2), "d0": -1}
    xi = out["xi"]
    assert (out["d1_min"] - xi * S.n ** Rational(3, 2) / S.d0).expand() == 0
    assert all(v in (True, None) for v in verify_all(out["steps"]).values())


def test_exponent_rejects_non_monomials():
    assert exponent(S.n ** Rational(3, 2) / S.d0, S.n) == Rational(3, 2)
    with pytest.raises(ValueError, match="monomial"):
        exponent(S.n + S.n**2, S.n)


def test_lemma3_constants_numerically():
    c = lemma3_constants()
    f = make_function(c["beta_Phi"])
    v = f(sigma_max_X=2.0, phi_dot_max=1.1, phi_ddot_max=0.8, chi_max=1.5)
    np.testing.assert_allclose(v, np.sqrt(2) * 2.0 * (1.1 + 0.8 * 1.5), **tol("same_math"))
    nu = make_function(c["nu_Phi"])(sigma_max_phi=3.0, sigma_max_X=2.0, sigma_max_V0=1.2,
                                    phi_dot_max=1.1)
    np.testing.assert_allclose(nu, 1.1 * 2.0 * 1.2 + 3.0, **tol("same_math"))
    assert c["rho_Phi"] == c["mu_Phi"] / (2 * c["beta_Phi"])


def test_followup_steps_and_sampling(rng):
    assert all(verify_all(followup_steps()).values())
    fu = followup_constants()
    rho = make_function(fu["rho_Phi"])
    m = 20000
    vals = dict(mu_Phi=rng.uniform(1e-3, 10, m), sigma_max_X=rng.uniform(0.1, 10, m),
                sigma_max_V0=rng.uniform(0.1, 5, m), phi_dot_max=rng.uniform(0.1, 2, m),
                phi_ddot_max=rng.uniform(0.01, 2, m))
    r = rho(**vals)
    assert np.all(r <= vals["phi_dot_max"] / vals["phi_ddot_max"] * (1 + 1e-12))


def test_initial_loss_steps_and_monte_carlo(rng):
    assert [s.verify() for s in initial_loss_steps()] == [None, True, True]
    # E||V0 phi(W0 X)||^2 = omega2^2 d1 d2 n E[phi(omega1 g)^2] for unit rows (GELU, LeCun)
    from pl_toolkit import get_activation

    gelu = get_activation("gelu").phi

    n, d0, d1, reps = 8, 16, 64, 400
    X = rng.standard_normal((n, d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    vals = []
    for _ in range(reps):
        W = rng.standard_normal((d1, d0)) / np.sqrt(d0)
        V = rng.standard_normal((1, d1)) / np.sqrt(d1)
        vals.append(np.sum((gelu(X @ W.T) @ V.T) ** 2))
    g = rng.standard_normal(2_000_000)
    expected = (1 / d1) * d1 * 1 * n * np.mean(gelu(g / np.sqrt(d0)) ** 2)
    est = np.mean(vals)
    from _tolerances import monte_carlo_tol

    assert abs(est - expected) <= monte_carlo_tol(reps, scale=np.std(vals))
    # and the Lipschitz bound of the [DERIVED] step: <= n phi_dot_max^2 / d0
    assert expected <= n * 1.1290**2 / d0


def test_followup_scaling_constants():
    sc = followup_scaling_constants(ct=Rational(1, 2), c_0=-Rational(1, 3), tt=2,
                                    delta1=0, delta2=0)
    assert sc["a"] == sqrt(Rational(1, 8))
    assert sc["b"] == Rational(1, 3)


def test_lemma3_init_estimates():
    from derivations.shallow import lemma3_init_estimates

    est = lemma3_init_estimates()
    assert [s.verify() for s in est["steps"]] == [None] * len(est["steps"])
    # nu and beta are Lemma 3's eq. (18) at the estimates
    l3 = lemma3_constants(est["mu_Phi"], est["sigma_max_phi"], S.sigma_max_X,
                          est["sigma_max_V0"], S.phi_dot_max, S.phi_ddot_max, est["chi_max"])
    assert (l3["nu_Phi"] - est["nu_Phi"]).expand() == 0
    assert (l3["beta_Phi"] - est["beta_Phi"]).expand() == 0
    vals = dict(omega1=0.25, omega2=0.1, c_t=-0.02, c_0=0.004, Var_phi=0.004, E_phi_sq=0.0041,
                t=2, delta_1=0.1, delta_2=0.2, d1=100.0, d2=3.0, n=50.0, sigma_max_X=2.5,
                s_t=0.8, phi_dot_max=1.13, phi_ddot_max=0.8, Y_sq=0.5)
    ev = {key: make_function(est[key])(**vals) for key in
          ("mu_Phi", "sigma_max_V0", "nu_mean", "nu_linear", "nu_Phi", "beta_Phi", "h0")}
    np.testing.assert_allclose(ev["mu_Phi"], np.sqrt(0.9 * 0.02**2 * 100 / 2) * 0.8,
                               **tol("same_math"))
    sv0 = 0.1 * (10 + np.sqrt(3))
    np.testing.assert_allclose(ev["sigma_max_V0"], sv0, **tol("same_math"))
    feat = max(0.004 * np.sqrt(1.2 * 100 * 50), np.sqrt(1.2 * 0.004 * 100) * 2.5)
    np.testing.assert_allclose(ev["nu_Phi"], 1.13 * 2.5 * sv0 + feat, **tol("same_math"))
    np.testing.assert_allclose(ev["beta_Phi"], np.sqrt(2) * 2.5 * (1.13 + 0.8 * sv0),
                               **tol("same_math"))
    np.testing.assert_allclose(ev["h0"], 0.01 * 100 * 3 * 50 * 0.0041 + 0.5,
                               **tol("same_math"))
    lead = lemma3_init_estimates(sigma_max_V0=S.omega2 * sqrt(S.d1))
    assert lead["sigma_max_V0"] == S.omega2 * sqrt(S.d1)
