"""The measurement check on a real (tiny, plain-NumPy) GD run and on synthetic inputs."""

import dataclasses
import json
import math

import numpy as np
import pytest

from _tolerances import tol
from derivations.check import (KINDS, STATUSES, MeasuredConstants, check_theorems,
                               from_measurements, records_to_json, records_to_markdown)

SYNTH = dict(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, nu_Phi=10.0, beta_Phi=3.0,
             beta_Phi_followup=4.0, sigma_max_X=1.5, sigma_min_khatri_rao=0.5, t=2, h0=1.0,
             eta=0.01, observed_rate=0.99, max_distance=0.05, path_length=0.08,
             min_lambda_min=0.3, converged=True, steps=100)


def test_real_run_every_row_has_finite_implied_constant(tiny_run):
    measured, _ = tiny_run
    recs = check_theorems(measured)
    assert len(recs) >= 18
    names = [r.name for r in recs]
    assert len(set(names)) == len(names)
    for r in recs:
        assert math.isfinite(r.implied_constant), r.name
        assert math.isfinite(r.lhs) and math.isfinite(r.rhs), r.name
        assert r.kind in KINDS and r.status in STATUSES
        assert "verified" not in r.status
        if r.kind != "exact":
            assert r.status == "implied-constant", r.name
        else:
            assert r.status in ("holds", "violated", "not-applicable"), r.name
        # every statement names where it comes from in the paper (or that it is derived)
        assert any(tag in r.statement for tag in
                   ("eq. (", "Lemma", "Def.", "Thm", "Sec.", "[DERIVED]")), r.name


def test_real_run_deterministic_facts_hold(tiny_run):
    """Inequalities that hold for every parameter value must hold on the run."""
    measured, _ = tiny_run
    recs = {r.name: r for r in check_theorems(measured)}
    assert measured["d1"] >= measured["n"]
    assert recs["ntk_ge_conjugate_kernel"].status == "holds"
    assert recs["ntk_ge_conjugate_kernel_along_run"].status == "holds"
    assert recs["pl_ratio_ge_4_lambda_min"].status == "holds"
    assert recs["near_isometry_at_init"].status == "holds"
    assert recs["rho_le_phi_ratio"].status == "holds"
    assert measured["converged"]


def test_real_run_implied_constants_by_hand(tiny_run):
    """Recompute a few implied constants directly from the measured numbers."""
    m, _ = tiny_run
    recs = {r.name: r for r in check_theorems(m)}
    c9 = m["h0"] * m["beta_Phi"] ** 2 * m["nu_Phi"] ** 2 / (2.0 * m["mu_Phi"] ** 6)
    np.testing.assert_allclose(recs["eq9_hypothesis"].implied_constant, c9, **tol("same_math"))
    c14 = (1 - m["observed_rate"]) / (m["eta"] * 2.0 * m["mu_Phi"] ** 2)
    np.testing.assert_allclose(recs["eq14_rate"].implied_constant, c14, **tol("same_math"))
    c20 = m["d1"] * m["sigma_min_khatri_rao"] ** 3 / (m["sigma_max_X"] ** 2 * math.sqrt(m["n"]))
    np.testing.assert_allclose(recs["eq20_width"].implied_constant, c20, **tol("same_math"))
    c21 = m["d1"] * m["d0"] / m["n"] ** 1.5
    np.testing.assert_allclose(recs["eq21_width"].implied_constant, c21, **tol("same_math"))
    eta_max = m["mu_Phi"] ** 2 / (m["beta_Phi"] * 2 * math.sqrt(m["h0"])
                                  + m["beta_Phi"] * m["mu_Phi"] ** 2 + 2 * m["nu_Phi"] ** 2)
    np.testing.assert_allclose(recs["eq13_step_size"].implied_constant, m["eta"] / eta_max,
                               **tol("same_math"))
    l2 = m["path_length"] * m["mu_Phi"] ** 2 * math.sqrt(2) / (m["nu_Phi"] * math.sqrt(m["h0"]))
    np.testing.assert_allclose(recs["lemma2_path_length"].implied_constant, l2,
                               **tol("same_math"))


def test_real_run_measurements_against_explicit_matrices(tiny_run):
    """The run's lambda_min0 and mu_Phi, recomputed from an explicit Jacobian."""
    from derivations._numpy_gd import digits_data, gelu, gelu_d

    m, _ = tiny_run
    X, _ = digits_data(m["n"], 0)
    rng = np.random.default_rng(np.random.SeedSequence([0, m["d1"]]))
    W = rng.standard_normal((m["d1"], m["d0"])) / math.sqrt(m["d0"])
    V = rng.standard_normal((1, m["d1"])) / math.sqrt(m["d1"])
    Z = X @ W.T
    # explicit Jacobian rows: d f_a / d W_rj = v_r phi'(z_ar) x_aj ; d f_a / d v_r = phi(z_ar)
    JW = (V[0] * gelu_d(Z))[:, :, None] * X[:, None, :]
    J = np.hstack([JW.reshape(m["n"], -1), gelu(Z)])
    lam = np.linalg.eigvalsh(J @ J.T)[0]
    np.testing.assert_allclose(m["lambda_min0"], lam, rtol=1e-8)
    np.testing.assert_allclose(m["mu_Phi"], np.linalg.svd(gelu(Z), compute_uv=False)[-1],
                               rtol=1e-10)


def test_o_statements_never_verified_and_exact_violation_reported():
    recs = {r.name: r for r in check_theorems(dict(SYNTH, lambda_min0=0.5))}
    # d1 >= n and lambda_min0 = 0.5 < mu^2 = 1: the deterministic inequality is violated
    assert recs["ntk_ge_conjugate_kernel"].status == "violated"
    assert "slack = -0.5" in recs["ntk_ge_conjugate_kernel"].note
    recs2 = {r.name: r for r in check_theorems(dict(SYNTH, lambda_min0=0.5, d1=3))}
    assert recs2["ntk_ge_conjugate_kernel"].status == "not-applicable"
    for r in recs.values():
        if r.kind != "exact":
            assert r.status in ("implied-constant", "not-applicable")


def test_missing_optional_measurements_are_not_applicable():
    recs = {r.name: r for r in check_theorems(SYNTH)}
    for nm in ("order_mu", "order_nu", "pl_ratio_ge_4_lambda_min", "lemma1_sampled_lower",
               "pl_ball_radius", "ntk_ge_conjugate_kernel_along_run"):
        assert recs[nm].status == "not-applicable"
        assert math.isnan(recs[nm].implied_constant)
    assert recs["eq9_hypothesis"].status == "implied-constant"
    # Lemma 1 in the ball: max_distance 0.05 <= rho = 1/8
    assert recs["lemma1_pl_along_run"].status == "holds"


def test_from_measurements_validation():
    m = from_measurements(dict(SYNTH))
    assert isinstance(m, MeasuredConstants)
    assert m.rho_Phi == 1.0 / 8 and m.grad_norm0 == 2.0
    alias = dict(SYNTH)
    alias["s_t"] = alias.pop("sigma_min_khatri_rao")
    assert from_measurements(alias) == m
    with pytest.raises(ValueError, match="unknown keys"):
        from_measurements(dict(SYNTH, bogus=1))
    missing = dict(SYNTH)
    del missing["h0"]
    with pytest.raises(ValueError, match="missing"):
        from_measurements(missing)
    with pytest.raises(ValueError, match="^h0"):
        from_measurements(dict(SYNTH, h0=float("nan")))
    with pytest.raises(ValueError, match="^mu_Phi"):
        from_measurements(dict(SYNTH, mu_Phi=0.0))


def test_markdown_and_json(tiny_run):
    recs = check_theorems(tiny_run[0])
    md = records_to_markdown(recs)
    assert md.count("\n") == len(recs) + 1
    data = json.loads(records_to_json(recs))
    assert [d["name"] for d in data] == [r.name for r in recs]
    assert set(data[0]) == {f.name for f in dataclasses.fields(recs[0])}
