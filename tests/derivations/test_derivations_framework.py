"""Definitions 1-3, Lemmas 1-2, Theorems 1-2 and the PL-ball argument."""

import numpy as np
import pytest
from sympy import Rational

from _tolerances import tol
from derivations import symbols as S
from derivations.framework import (lemma1_radius, lemma1_steps, lemma2_steps, near_isometry,
                                   ntk_pl_steps, one_minus_sqrt_bound, pl_ball_contraction_general,
                                   pl_ball_general_steps, pl_ball_radius,
                                   pl_ball_radius_general, pl_ball_steps, pl_inequality,
                                   quadratic_loss_constants, theorem1_condition,
                                   theorem1_condition_steps, theorem2_constant_steps,
                                   theorem2_rate, theorem2_step_size)
from derivations.numeric import make_function
from derivations.steps import Step

ALL_STEP_LISTS = {
    "lemma1": lemma1_steps,
    "lemma2": lemma2_steps,
    "theorem1": lambda: theorem1_condition_steps()["steps"],
    "quadratic": lambda: quadratic_loss_constants()["steps"],
    "pl_ball": pl_ball_steps,
    "pl_ball_general": pl_ball_general_steps,
    "ntk_pl": ntk_pl_steps,
    "theorem2_constant": theorem2_constant_steps,
}


@pytest.mark.parametrize("name", sorted(ALL_STEP_LISTS))
def test_every_algebra_step_is_proved(name):
    steps = ALL_STEP_LISTS[name]()
    assert steps
    for s in steps:
        v = s.verify()
        if s.how == "algebra":
            assert v is True, f"{name}: step {s.name} not proved"
        else:
            assert v is None, f"{name}: assumption {s.name} must not claim a proof"
        assert s.tag in ("[EXACT]", "[DERIVED]", "[RECON]", "[FOLLOW-UP]")


def test_a_false_identity_is_caught():
    bad = Step("bad", S.mu_Phi - S.beta_Phi * lemma1_radius(S.mu_Phi, S.beta_Phi), "==",
               S.mu_Phi / 3)
    assert bad.verify() is False
    with pytest.raises(ValueError, match="rel"):
        Step("x", S.x, "=", S.x)
    with pytest.raises(ValueError, match="proof"):
        Step("x", S.x, "<=", S.x + 1).verify()


def test_definitions_evaluate():
    cond = near_isometry(S.sigma_smin, S.sigma_smax, S.mu_Phi, S.nu_Phi)
    assert bool(cond.subs({S.sigma_smin: 2, S.sigma_smax: 3, S.mu_Phi: 1, S.nu_Phi: 4}))
    assert not bool(cond.subs({S.sigma_smin: 2, S.sigma_smax: 3, S.mu_Phi: 2.5, S.nu_Phi: 4}))
    pl = pl_inequality(S.L_t, S.g_norm**2, S.alpha_f)
    assert bool(pl.subs({S.L_t: 1, S.g_norm: 2, S.alpha_f: 2}))
    assert not bool(pl.subs({S.L_t: 1, S.g_norm: 1, S.alpha_f: 2}))


def test_quadratic_loss_constants_numerically(rng):
    c = quadratic_loss_constants()
    assert c["alpha_f"] == 2 and c["beta_f"] == 2
    # independent route: the PL ratio and the Taylor gap of ||z - y||^2 at random points
    for _ in range(20):
        z, zp, y = rng.standard_normal((3, 7))
        f = lambda v: np.sum((v - y) ** 2)  # noqa: E731
        grad = 2 * (z - y)
        np.testing.assert_allclose(grad @ grad, 2 * 2 * f(z), **tol("same_math"))
        gap = f(z) - f(zp) - (z - zp) @ (2 * (zp - y))
        np.testing.assert_allclose(gap, 2 / 2 * np.sum((z - zp) ** 2), **tol("same_math"))


def test_one_minus_sqrt_dense_sampling():
    assert one_minus_sqrt_bound().verify() is True
    x = np.concatenate([np.linspace(1e-12, 1.0, 200001), np.geomspace(1e-15, 1e-3, 1000)])
    assert np.all(1 - np.sqrt(1 - x) >= x / 2 - 1e-16)


def test_lemma1_bounds_by_sampling(rng):
    # mu - beta r >= mu/2 for r <= rho and nu + beta rho <= 3 nu / 2 for mu <= nu
    mu = rng.uniform(0.01, 10, 10000)
    nu = mu + rng.exponential(5, 10000)
    beta = rng.uniform(0.01, 10, 10000)
    r = rng.uniform(0, 1, 10000) * mu / (2 * beta)
    assert np.all(mu - beta * r >= mu / 2 * (1 - 1e-12))
    assert np.all(nu + beta * mu / (2 * beta) <= 1.5 * nu * (1 + 1e-12))


def test_theorem1_condition_solved_from_lemma2():
    out = theorem1_condition_steps()
    # (9) as the paper writes it, with the constant the proof produces
    target = theorem1_condition(C=Rational(1, 4) / S.C_L2**2).rhs
    assert (out["h0_max"] - target).expand() == 0
    assert out["C_9"] == 1 / (4 * S.C_L2**2)
    assert out["h0_max_sharp"] == S.alpha_f * S.mu_Phi**4 / (32 * S.beta_Phi**2)


def test_theorem2_expressions_numerically():
    eta_max = make_function(theorem2_step_size(C=1))
    val = eta_max(mu_Phi=2.0, beta_Phi=3.0, grad_f0=4.0, beta_f=2.0, nu_Phi=5.0)
    np.testing.assert_allclose(val, 4.0 / (12.0 + 12.0 + 50.0), **tol("same_math"))
    rate = make_function(theorem2_rate(C=1))
    np.testing.assert_allclose(rate(eta=0.1, alpha_f=2.0, mu_Phi=1.5), 1 - 0.45,
                               **tol("same_math"))


def _gd_on_pl_quadratic(rng, mu, beta, eta, dim=30, steps=4000):
    """GD on L(w) = 1/2 w^T A w with spec(A) in [mu, beta]: PL(mu), beta-smooth."""
    Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    ev = np.concatenate([[mu, beta], rng.uniform(mu, beta, dim - 2)])
    A = (Q * ev) @ Q.T
    w = rng.standard_normal(dim)
    L0 = 0.5 * w @ A @ w
    path, losses = 0.0, [L0]
    for _ in range(steps):
        g = A @ w
        path += eta * np.linalg.norm(g)
        w = w - eta * g
        losses.append(0.5 * w @ A @ w)
    return L0, path, np.array(losses)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 1.5, 1.9])
def test_pl_ball_radius_and_rate_on_a_pl_function(rng, ratio):
    """Independent route: the derived radius and rate bound a real GD run."""
    mu, beta = 0.05, 2.0
    eta = ratio / beta
    L0, path, losses = _gd_on_pl_quadratic(rng, mu, beta, eta)
    R = make_function(pl_ball_radius_general())(beta=beta, L_0=L0, mu=mu, eta=eta)
    q = make_function(pl_ball_contraction_general())(beta=beta, mu=mu, eta=eta)
    assert path <= R
    assert np.all(losses[1:] <= q * losses[:-1] * (1 + 1e-12) + 1e-300)
    if ratio == 1.0:
        np.testing.assert_allclose(R, float(pl_ball_radius().subs(
            {S.beta_pl: beta, S.L0: L0, S.mu_pl: mu})), **tol("same_math"))


def test_sharp_flow_length_on_a_pl_function(rng):
    """The [DERIVED] flow-length bound 2 sqrt(2 h0)/(mu sqrt(alpha)) bounds a near-flow.

    For L = 1/2 w^T A w with spec(A) in [m, M], ||grad L||^2 >= 2 m L; matching
    ||grad h|| >= (mu/2) sqrt(2 alpha h) with alpha = 2 gives mu = sqrt(2 m).
    Small-step GD approximates the flow (its length converges from below).
    """
    m_pl, M = 0.2, 1.0
    sharp = [s for s in lemma2_steps() if s.name == "integrate"][0].rhs
    L0, path, _ = _gd_on_pl_quadratic(rng, m_pl, M, eta=0.01 / M, dim=10, steps=6000)
    bound = make_function(sharp)(mu_Phi=np.sqrt(2 * m_pl), alpha_f=2.0, h0=L0)
    np.testing.assert_allclose(bound, np.sqrt(2 * L0 / m_pl), **tol("same_math"))
    assert path <= bound


def test_pl_ball_inequalities_dense_sampling(rng):
    # sqrt(2 L0/beta) / (1 - sqrt(1 - mu/beta)) <= 2 sqrt(2 beta L0)/mu for mu <= beta
    beta = rng.uniform(0.1, 10, 20000)
    mu = beta * rng.uniform(1e-6, 1, 20000)
    L0 = rng.uniform(0.01, 10, 20000)
    lhs = np.sqrt(2 * L0 / beta) / (1 - np.sqrt(1 - mu / beta))
    R = make_function(pl_ball_radius())(beta=beta, L_0=L0, mu=mu)
    assert np.all(lhs <= R * (1 + 1e-9))


def test_lemma1_radius_value():
    rho = lemma1_radius(S.mu_Phi, S.beta_Phi)
    assert (rho - S.mu_Phi / (2 * S.beta_Phi)).expand() == 0
    assert rho.subs({S.mu_Phi: 3, S.beta_Phi: 4}) == Rational(3, 8)  # exact, no floats


def test_derived_constants_of_lemma2_and_eq9():
    from sympy import sqrt

    from derivations.framework import eq9_constant, lemma2_bound, lemma2_constant

    assert lemma2_constant() == 2 * sqrt(2)
    assert eq9_constant() == Rational(1, 32)
    # with C_9 = 1/32, an h0 on the boundary of (9) makes Lemma 2's flow length (constant
    # 2 sqrt 2) equal Lemma 1's radius, numerically
    for mu, nu, beta in ((0.3, 2.0, 5.0), (1e-2, 10.0, 0.7)):
        h0 = (1 / 32) * 2 * mu**6 / (beta**2 * nu**2)
        ell = make_function(lemma2_bound())(nu_Phi=nu, mu_Phi=mu, h0=h0, alpha_f=2.0,
                                            C_L2=2 * np.sqrt(2))
        np.testing.assert_allclose(ell, lemma1_radius(mu, beta), **tol("same_math"))
