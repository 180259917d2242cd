"""The verdict model of derivations.check, on a real run and on synthetic records.

Every status must follow from the measured numbers: the tests recompute the
implied constants, the derived constants and the shortfalls independently,
flip single measurements to flip single verdicts, and check that identities
never count as evidence.
"""

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from _tolerances import tol
from derivations.check import (FORMS, ROLES, STATUSES, CheckRecord, MeasuredConstants,
                               check_theorems, derived_constants, from_measurements,
                               records_to_json, records_to_markdown, summarize_checks)

SYNTH = dict(n=4, d0=3, d1=50, d2=1, mu_Phi=1.0, nu_Phi=10.0, beta_Phi=3.0,
             sigma_max_X=1.5, s_t=0.5, t=2, h0=1.0, eta=0.01, steps=100,
             status="converged", max_distance=0.05, path_length=0.08, max_root_ratio=0.99,
             sigma_min_J0=1.2, sigma_max_J0=9.0)


def _recs(**kw):
    return {r.name: r for r in check_theorems(dict(SYNTH, **kw))}


# ---------------------------------------------------------------- the real run
def test_real_run_every_row_is_well_formed(tiny_run):
    measured, _, _ = tiny_run
    recs = check_theorems(measured)
    names = [r.name for r in recs]
    assert len(set(names)) == len(names) and len(recs) >= 25
    for r in recs:
        assert r.role in ROLES and r.form in FORMS and r.status in STATUSES, r
        if r.form == "O":
            assert r.status in ("implied-constant", "not-applicable"), r.name
        else:
            assert r.status != "implied-constant", r.name
        assert r.evidence == (r.role != "identity")
        if r.status in ("not-applicable", "unchecked-premise"):
            assert r.premise, r.name
        if r.role == "conclusion" and r.status in ("holds", "violated"):
            assert r.observed == (r.status == "holds"), r.name
        assert any(tag in r.statement for tag in
                   ("eq. (", "Lemma", "Def.", "Thm", "Sec.", "[DERIVED]", "Assumption")), r.name


def test_real_run_identities_hold(tiny_run):
    measured, _, _ = tiny_run
    recs = {r.name: r for r in check_theorems(measured)}
    ids = [r for r in recs.values() if r.role == "identity"]
    assert {r.name for r in ids} >= {"mu_le_nu", "ntk_ge_conjugate_kernel",
                                     "ntk_ge_conjugate_kernel_along_run",
                                     "pl_ratio_ge_4_lambda_min", "rho_le_phi_ratio"}
    assert all(r.status == "holds" for r in ids)


def test_real_run_converged_by_the_single_criterion(tiny_run):
    measured, rep, out = tiny_run
    assert measured["status"] == "converged"
    with np.load(out / "data.npz") as f:
        Y = f["Y"]
    assert measured["final_loss"] <= rep["summary"]["criterion"]["eps"] * float(np.sum(Y ** 2))


def test_real_run_implied_and_derived_constants_by_hand(tiny_run):
    m, rep, out = tiny_run
    recs = {r.name: r for r in check_theorems(m)}
    c9 = m["h0"] * m["beta_Phi"] ** 2 * m["nu_Phi"] ** 2 / (2.0 * m["mu_Phi"] ** 6)
    r9 = recs["eq9_hypothesis"]
    np.testing.assert_allclose(r9.implied_constant, c9, **tol("same_math"))
    assert r9.derived_constant == 1 / 32
    assert r9.status_at_derived == ("holds" if c9 <= 1 / 32 else "violated")
    np.testing.assert_allclose(r9.shortfall, max(1.0, c9 * 32), **tol("same_math"))
    # (14): q* recomputed from the stored loss curve
    from pl_toolkit import Trajectory

    traj = Trajectory.load(out / "trajectory.npz")
    s, h = traj.series("loss")
    q = np.max((h[s > 0] / h[0]) ** (1.0 / s[s > 0]))
    c14 = (1 - q) / (m["eta"] * 2.0 * m["mu_Phi"] ** 2)
    np.testing.assert_allclose(recs["eq14_rate"].implied_constant, c14, **tol("same_math"))
    assert recs["eq14_rate"].derived_constant == 0.25
    assert recs["eq14_rate"].observed == (c14 >= 0.25)
    c20 = m["d1"] * m["s_t"] ** 3 / (m["sigma_max_X"] ** 2 * math.sqrt(m["n"]))
    np.testing.assert_allclose(recs["eq20_width"].implied_constant, c20, **tol("same_math"))
    c21 = m["d1"] * m["d0"] / m["n"] ** 1.5
    np.testing.assert_allclose(recs["eq21_width"].implied_constant, c21, **tol("same_math"))
    # (20) at the derived constant is (9) at C_9 solved for d1: the width shortfall is the
    # square root of (9)'s, since the right side of (9) grows like d1^2 at fixed a, b, c, k
    np.testing.assert_allclose(recs["eq20_width"].shortfall, max(1.0, math.sqrt(c9 * 32)),
                               **tol("same_math"))
    l2 = m["path_length"] * m["mu_Phi"] ** 2 * math.sqrt(2) / (m["nu_Phi"] * math.sqrt(m["h0"]))
    np.testing.assert_allclose(recs["lemma2_path_length"].implied_constant, l2,
                               **tol("same_math"))
    np.testing.assert_allclose(recs["lemma2_path_length"].derived_constant, 2 * math.sqrt(2),
                               **tol("same_math"))


def test_real_run_near_isometry_against_explicit_jacobian(tiny_run):
    """sigma(grad Phi*(w0)) from an explicit Jacobian of the stored initial net and data."""
    from pl_toolkit import Trajectory, lemma3_constants
    from pl_toolkit._reference import jacobian

    m, _, out = tiny_run
    with np.load(out / "data.npz") as f:
        X = f["X"]
    net0 = Trajectory.load(out / "trajectory.npz").initial_net
    s = np.linalg.svd(np.asarray(jacobian(net0, X)), compute_uv=False)
    np.testing.assert_allclose(m["sigma_max_J0"], s[0], rtol=1e-10)
    np.testing.assert_allclose(m["sigma_min_J0"], s[m["n"] * m["d2"] - 1], rtol=1e-8)
    c = lemma3_constants(net0, X)
    np.testing.assert_allclose(m["mu_Phi"], c.mu_Phi, **tol("same_math"))
    recs = {r.name: r for r in check_theorems(m)}
    assert recs["near_isometry_lower"].status == ("holds" if s[-1] >= c.mu_Phi else "violated")


def test_real_run_pointwise_pl_row_from_the_trajectory(tiny_run):
    from pl_toolkit import Trajectory

    m, _, out = tiny_run
    traj = Trajectory.load(out / "trajectory.npz")
    ls, lv = traj.series("lambda_min")
    ps, pv = traj.series("pl_ratio")
    common, il, ip = np.intersect1d(ls, ps, return_indices=True)
    assert common.size == ls.size
    ratio = np.min(pv[ip] / (4 * lv[il]))
    rec = {r.name: r for r in check_theorems(m)}["pl_ratio_ge_4_lambda_min"]
    np.testing.assert_allclose(rec.lhs, ratio, **tol("same_math"))


def test_real_run_summary_counts_match_the_rows(tiny_run):
    m, rep, _ = tiny_run
    recs = check_theorems(m)
    s = summarize_checks(recs)
    hyp = [r for r in recs if r.role == "hypothesis" and not r.result.startswith("PL ball")]
    held = sum((r.status == "holds") or (r.status_at_derived == "holds") for r in hyp)
    assert s["hypotheses"]["hold"] == held
    assert s["hypotheses"]["total"] == len(hyp)
    assert set(s["conclusions"]["observed"]) == {r.name for r in recs
                                                 if r.role == "conclusion" and r.observed}
    assert s["identities"]["hold"] == sum(r.status == "holds" for r in recs
                                          if r.role == "identity")
    assert rep["summary"]["lines"] == s["lines"]


# ------------------------------------------------------- verdicts follow the data
def test_near_isometry_flips_with_the_measurement():
    assert _recs(sigma_min_J0=1.2)["near_isometry_lower"].status == "holds"
    assert _recs(sigma_min_J0=0.9)["near_isometry_lower"].status == "violated"
    assert _recs(sigma_max_J0=11.0)["near_isometry_upper"].status == "violated"


def test_eq9_status_at_derived_constant_flips():
    # h0 <= C mu^6 alpha / (beta^2 nu^2) = C * 2 / 900 at C = 1/32 means h0 <= 6.94e-5
    r_low = _recs(h0=6e-5)["eq9_hypothesis"]
    r_high = _recs(h0=8e-5)["eq9_hypothesis"]
    assert r_low.status == r_high.status == "implied-constant"
    assert r_low.status_at_derived == "holds" and r_low.shortfall == 1.0
    assert r_high.status_at_derived == "violated"
    np.testing.assert_allclose(r_high.shortfall, 8e-5 / (2 / 900 / 32), **tol("same_math"))


def test_conclusions_follow_the_run():
    assert _recs(max_distance=0.05)["locality"].observed is True      # rho = 1/6
    assert _recs(max_distance=0.5)["locality"].observed is False
    r = _recs(status="max_steps")["convergence"]
    assert r.status == "violated" and r.observed is False
    r = _recs(status="diverged", diverged_at=1)
    assert r["eq14_rate"].status_at_derived == "violated" and r["locality"].observed is False


def test_premise_failures_are_not_applicable_and_named():
    r = _recs(mu_Phi=0.0, d1=3)
    for nm in ("eq9_hypothesis", "eq13_step_size", "near_isometry_lower", "locality",
               "eq14_rate", "lemma2_path_length", "lemma1_radius"):
        assert r[nm].status == "not-applicable", nm
        assert "d1 >= n" in r[nm].premise, nm
    r = _recs(s_t=0.0, s_t_floor=1e-7)
    assert r["khatri_rao_positive"].status == "violated"
    assert r["eq20_width"].status == "not-applicable" and "s_t" in r["eq20_width"].premise
    r = _recs(lambda_min0=0.5, d1=3)
    assert r["ntk_ge_conjugate_kernel"].status == "not-applicable"
    r = _recs(assumption2=False, assumption2_reason="phi'' is unbounded")
    assert r["assumption2"].status == "violated"


def test_identities_never_count_as_evidence():
    recs = check_theorems(dict(SYNTH, lambda_min0=0.5, min_pl_over_4lmin=0.5))
    s = summarize_checks(recs)
    ids = {r.name: r for r in recs if r.role == "identity"}
    assert ids["ntk_ge_conjugate_kernel"].status == "violated"      # lambda_min0 < mu^2
    assert s["identities"]["violated"] == 2
    assert "VIOLATED" in s["lines"][2]
    # the identities' failure does not move the hypothesis or conclusion counts
    s0 = summarize_checks(check_theorems(SYNTH))
    assert s["hypotheses"] == s0["hypotheses"] and s["conclusions"] == s0["conclusions"]


def test_lemma1_pl_along_run_not_applicable_without_an_iterate_inside():
    r = _recs(tracked_inside=0, max_distance=3.0)["lemma1_pl_along_run"]
    assert r.status == "not-applicable" and "none exists" in r.premise
    r = _recs(tracked_inside=3, min_lambda_min_inside=0.3)["lemma1_pl_along_run"]
    assert r.status == "holds"                           # 0.3 >= mu^2 / 4
    r = _recs(tracked_inside=3, min_lambda_min_inside=0.2)["lemma1_pl_along_run"]
    assert r.status == "violated"


def test_o_rows_cannot_be_holds():
    with pytest.raises(ValueError, match="never"):
        CheckRecord("x", "Thm", "s", "hypothesis", "O", "<=", 1.0, 1.0, "holds")


# ------------------------------------------------------------ derived constants
def test_derived_constants_against_a_numeric_root():
    """C_9: the largest h0 whose Lemma-2 length (C = 2 sqrt 2) stays within rho_Phi."""
    c = derived_constants()
    assert float(c["C_9"]) == 1 / 32 and float(c["C_14"]) == 0.25
    rng = np.random.default_rng(0)
    for _ in range(5):
        mu, beta, alpha = rng.uniform(0.1, 2, 3)
        nu = mu + rng.uniform(0, 5)

        def length(h):
            return float(c["C_L2"]) * nu * math.sqrt(h) / (mu ** 2 * math.sqrt(alpha))

        h_max = brentq(lambda h: length(h) - mu / (2 * beta), 0.0, 1e6)
        np.testing.assert_allclose(h_max, alpha * mu ** 6 / (32 * beta ** 2 * nu ** 2),
                                   **tol("same_math"))


def test_c14_against_the_pl_descent_inequality():
    """At eta = 1/beta_h the PL descent gives h_{t+1} <= (1 - eta mu_Phi^2 / 2) h_t."""
    mu, beta = 0.7, 3.0
    eta = 1.0 / beta
    # descent lemma: h - eta ||g||^2 (1 - beta eta / 2), with ||g||^2 >= mu^2 h
    q = 1 - eta * mu ** 2 * (1 - beta * eta / 2)
    c14 = (1 - q) / (eta * 2.0 * mu ** 2)
    np.testing.assert_allclose(c14, float(derived_constants()["C_14"]), **tol("same_math"))


# ------------------------------------------------------------------ the record
def test_measured_constants_refuse_what_they_cannot_use():
    m = from_measurements(dict(SYNTH))
    assert isinstance(m, MeasuredConstants) and m.rho_Phi == 1.0 / 6
    with pytest.raises(ValueError, match="unknown keys"):
        from_measurements(dict(SYNTH, bogus=1))
    missing = dict(SYNTH)
    del missing["d1"]
    with pytest.raises(ValueError, match="sizes"):
        from_measurements(missing)
    with pytest.raises(ValueError, match="^h0"):
        from_measurements(dict(SYNTH, h0=float("nan")))
    with pytest.raises(ValueError, match="^mu_Phi must be >= 0"):
        from_measurements(dict(SYNTH, mu_Phi=-1.0))
    with pytest.raises(ValueError, match="^eta must be a number"):
        from_measurements(dict(SYNTH, eta="fast"))
    with pytest.raises(ValueError, match="^steps"):
        from_measurements(dict(SYNTH, steps=2.5))
    # zero is a measurement, not a missing value
    assert from_measurements(dict(SYNTH, mu_Phi=0.0)).mu_Phi == 0.0


def test_markdown_and_json(tiny_run):
    recs = check_theorems(tiny_run[0])
    md = records_to_markdown(recs)
    n_ids = sum(r.role == "identity" for r in recs)
    assert md.count("\n| ") == len(recs) + 1          # one per record, the second header
    assert "Identities" in md and n_ids > 0
    data = json.loads(records_to_json(recs))
    assert [d["name"] for d in data] == [r.name for r in recs]
    assert set(data[0]) == {f.name for f in dataclasses.fields(recs[0])}
