"""Tests of the width-threshold searches (pl_toolkit.experiments.sweep).

The search, the monotonicity checks, the budget check and the bootstrap are
tested on synthetic outcome tables with known answers: success is a known
function of ``(n, d1, seed, budget)``, served either directly to the search
or through the sweep engine by a fake cell function.  The real cell is
tested on tiny sizes.
"""

import argparse
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from _tolerances import tol

from pl_toolkit.experiments._engine import DATABASE_NAME, load_results
from pl_toolkit.experiments import sweep as sw


# ---------------------------------------------------------------------------
# synthetic outcome tables


def _drive(search, success, status="max_steps", success2=None):
    """Run one search against known outcomes; return (result, probes in order asked)."""
    known, asked = {}, []
    while True:
        probes, res = search.plan(known)
        if res is not None:
            return res, asked
        assert probes, "an unfinished search must ask for a probe"
        for d, f in probes:
            assert (d, f) not in known, "a probe was asked twice"
            assert search.d1_min <= d <= search.d1_max
            asked.append((d, f))
            ok = success(d) if f == 1 else (success2 or success)(d)
            known[(d, f)] = dict(success=bool(ok), status="converged" if ok else status)


@pytest.mark.parametrize("start", [1, 5, 37, 300, 4096])
def test_bisection_finds_exact_threshold(start):
    rng = np.random.default_rng(start)
    for t in list(rng.integers(1, 4097, size=40)) + [1, 2, 4095, 4096]:
        t = int(t)
        s = sw.ThresholdSearch(d1_start=start, d1_max=4096)
        res, asked = _drive(s, lambda d: d >= t)
        assert res["d1_star"] == t and not res["censored"] and res["error"] is None
        assert res["violations"] == [] and res["envelope"] == t and res["first_success"] == t
        assert res["resolution"] == (0 if t == 1 else 1)
        assert res["at_lower_limit"] == (t == 1)
        # O(log) probes: bracket + bisection + window (2 + 2) + one budget re-run.
        assert len(asked) <= 2 * math.ceil(math.log2(4096)) + 2 + 4 + 1
        # Window: t+1, t+2 above, t-1, t-2 below (within [1, 4096]).
        t1 = {d for d, f in asked if f == 1}
        assert {w for w in (t + 1, t + 2) if w <= 4096} <= t1
        assert {w for w in (t - 1, t - 2) if w >= 1} <= t1


def test_search_is_a_pure_function_of_outcomes():
    # Replaying the stored outcomes asks for nothing new and gives the same result.
    s = sw.ThresholdSearch(d1_start=16, d1_max=512)
    res, asked = _drive(s, lambda d: d >= 77)
    known = {(d, f): dict(success=d >= 77, status="converged" if d >= 77 else "max_steps")
             for d, f in asked}
    probes, again = s.plan(known)
    assert probes == [] and again == res
    # A partial table asks for exactly the next probe of the original sequence.
    for i in range(len(asked)):
        part = dict(list(known.items())[:i])
        probes, r = s.plan(part)
        assert r is None and asked[i] in probes


def test_censored_search_reports_bound_and_rechecks_at_2T():
    s = sw.ThresholdSearch(d1_start=3, d1_max=100)
    res, asked = _drive(s, lambda d: False)
    assert res["censored"] and res["d1_star"] is None and res["lower_bound"] == 100
    assert asked[-1] == (100, 2)  # the largest width is re-run at twice the budget
    assert res["budget"]["censored_2T"] is True
    # A censored search that converges at 2T says so.
    res, _ = _drive(s, lambda d: False, success2=lambda d: d == 100)
    assert res["budget"]["censored_2T"] is False
    # Failures that are not budget-limited (diverged) are not re-run.
    res, asked = _drive(s, lambda d: False, status="diverged")
    assert all(f == 1 for _, f in asked) and res["budget"]["checked"] == []


def test_non_monotone_outcomes_are_recorded_as_violations():
    good = {6, 9}  # isolated successes below the true transition at 40, one failure at 42
    def success(d):
        return (d >= 40 and d != 42) or d in good

    rng = np.random.default_rng(0)
    for start in [1, 2, 3, 8, 9, 41, 64]:
        s = sw.ThresholdSearch(d1_start=start, d1_max=256, check_above=3, check_below=3)
        res, asked = _drive(s, success)
        d = res["d1_star"]
        probes = {p["d1"]: p["success"] for p in res["probes"]}
        # d1* is a success preceded by a failure (a transition of the bisection).
        assert probes[d] and (d == 1 or probes.get(d - 1) is False)
        # Violations are exactly the probes contradicting monotonicity around d1*.
        want = sorted(w for w, ok in probes.items() if (w < d and ok) or (w > d and not ok))
        assert sorted(v["d1"] for v in res["violations"]) == want
        # Envelope = brute force over the probes.
        ws = sorted(probes)
        env = min(w for i, w in enumerate(ws) if all(probes[v] for v in ws[i:]))
        assert res["envelope"] == env
        assert res["first_success"] == min(w for w in ws if probes[w])
    # Started at the transition, the window catches the failure at 42.
    res, _ = _drive(sw.ThresholdSearch(d1_start=40, d1_max=256), success)
    assert res["d1_star"] == 40 and [v["d1"] for v in res["violations"]] == [42]
    assert res["violations"][0]["kind"] == "failure above d1*" and res["envelope"] == 43
    del rng


@pytest.mark.parametrize("t2, moved, at_least", [(30, 0, False), (29, 1, False),
                                                 (28, 2, True), (5, 2, True)])
def test_budget_check_measures_the_move(t2, moved, at_least):
    s = sw.ThresholdSearch(d1_start=8, d1_max=256, budget_widths=2)
    res, asked = _drive(s, lambda d: d >= 30, success2=lambda d: d >= t2)
    assert res["d1_star"] == 30
    assert res["budget"]["checked"] == [29, 28]
    assert sorted(d for d, f in asked if f == 2) == [28, 29]
    assert res["budget"]["moved"] == moved and res["budget"]["moved_at_least"] == at_least
    assert res["budget"]["d1_star_2T"] == 30 - moved


def test_budget_check_skipped_without_budget_limited_failures():
    s = sw.ThresholdSearch(d1_start=8, d1_max=256)
    res, asked = _drive(s, lambda d: d >= 30, status="diverged")
    assert all(f == 1 for _, f in asked)
    assert res["budget"]["moved"] == 0 and res["budget"]["checked"] == []
    res, asked = _drive(sw.ThresholdSearch(d1_start=8, budget_widths=0), lambda d: d >= 30)
    assert all(f == 1 for _, f in asked) and res["budget"]["moved"] is None


def test_relative_tolerance():
    for t in (1000, 4097, 50_000, 65_536):
        s = sw.ThresholdSearch(d1_start=1024, d1_max=65_536, rel_tol=1 / 32)
        res, asked = _drive(s, lambda d: d >= t)
        d = res["d1_star"]
        assert t <= d <= t + max(1, math.floor(d / 32))
        assert res["resolution"] <= max(1, math.floor(d / 32))
        assert len(asked) <= 7 + 6 + 4 + 1


def test_lower_limit_and_validation():
    res, _ = _drive(sw.ThresholdSearch(d1_start=8), lambda d: True)
    assert res["d1_star"] == 1 and res["at_lower_limit"] and res["resolution"] == 0
    for kw, word in [(dict(d1_start=0), "d1_start"), (dict(d1_start=4, d1_max=0), "d1_max"),
                     (dict(d1_start=4, d1_min=8, d1_max=4), "d1_max"),
                     (dict(d1_start=4, rel_tol=1.0), "rel_tol"),
                     (dict(d1_start=4, rel_tol=float("nan")), "rel_tol"),
                     (dict(d1_start=4, check_above=-1), "check_above")]:
        with pytest.raises(ValueError, match=word):
            sw.ThresholdSearch(**kw)


def test_failed_cell_ends_the_search_with_an_error():
    s = sw.ThresholdSearch(d1_start=8)
    probes, res = s.plan({(8, 1): dict(success=False, status="max_steps"), (16, 1): None})
    assert probes == [] and res["error"] == 16 and res["d1_star"] is None


def test_run_searches_batches_one_probe_per_search():
    truth = {("a", i): t for i, t in enumerate([3, 17, 200, 1])}
    sizes = []

    def evaluate(batch):
        keys = [k for k, _, _ in batch]
        sizes.append(len(batch))
        assert len(keys) >= len(set(keys))
        return {(k, d, f): dict(success=d >= truth[k], status="max_steps")
                for k, d, f in batch}

    res, known, rounds = sw.run_searches({k: sw.ThresholdSearch(d1_start=4) for k in truth},
                                         evaluate)
    assert {k: r["d1_star"] for k, r in res.items()} == truth
    assert rounds == len(sizes) and sizes[0] == len(truth)


# ---------------------------------------------------------------------------
# median, fit and bootstrap


def test_median_threshold_censoring():
    assert sw.median_threshold([3, 5, None]) == 5.0
    assert sw.median_threshold([3, None, None]) is None
    assert sw.median_threshold([None, 2, 4, 6]) == 5.0
    assert sw.median_threshold([None, None, 4, 6]) is None
    with pytest.raises(ValueError):
        sw.median_threshold([])


def test_bootstrap_exact_power_law():
    x = [64, 128, 256, 512, 1024]
    th = [[int(2 * v)] * 4 for v in x]
    r = sw.bootstrap_exponent(x, th, n_boot=100)
    np.testing.assert_allclose([r["slope"], r["ci_low"], r["ci_high"]], 1.0, **tol("same_math"))
    assert r["censored"] == [] and r["boot_censored_fraction"] == 0.0
    rp = sw.bootstrap_exponent(x, th, n_boot=100, scale=64)
    np.testing.assert_allclose(rp["slope"], r["slope"], **tol("same_math"))
    np.testing.assert_allclose(rp["intercept"], r["intercept"] + math.log(64),
                               **tol("same_math"))


def test_bootstrap_replicates_move_both_ways():
    # Per-seed thresholds with spread: replicate slopes fall on both sides of the fit.
    x = [16, 64, 256]
    th = [[4, 6, 9], [16, 25, 30], [70, 100, 130]]
    r = sw.bootstrap_exponent(x, th, n_boot=500, seed=3)
    assert r["ci_low"] < r["slope"] < r["ci_high"]


def test_bootstrap_censored_points_reported_not_dropped_silently():
    x = [16, 64, 256, 1024]
    th = [[4, 4, 5], [16, 15, 17], [64, 60, None], [None, None, 300]]
    r = sw.bootstrap_exponent(x, th, bound=512, n_boot=300)
    assert r["censored"] == [1024] and r["x_fit"] == [16, 64, 256]
    assert r["medians"][-1] is None and r["medians"][2] == 64.0
    assert "censored" in r["note"] and "1024" in r["note"]
    assert 0 < r["boot_censored_fraction"] < 1  # n = 256 is censored in some replicates
    # At the bound the slope is a lower bound including the censored point.
    want = sw.fit_power_law(x, [4, 16, 64, 512])[0]
    np.testing.assert_allclose(r["slope_at_bound"], want, **tol("same_math"))
    assert r["ci_at_bound"][0] <= r["slope_at_bound"] <= r["ci_at_bound"][1]
    # Without a bound, replicates with a censored fitted median are dropped.
    r2 = sw.bootstrap_exponent(x, th, n_boot=300)
    assert r2["slope_at_bound"] is None and "dropped" in r2["note"]


def test_bootstrap_interval_covers_true_slope_at_nominal_rate():
    # Synthetic exact-integer thresholds ceil(C x^a e^{sigma z}): the population
    # median at x is ceil(C x^a), whose log-log slope over the grid is the truth.
    rng = np.random.default_rng(11)
    x = [64, 128, 256, 512, 1024]
    C, a, sigma, seeds, reps = 0.05, 1.0, 0.3, 5, 200
    true = sw.fit_power_law(x, [math.ceil(C * v ** a) for v in x])[0]
    hits = hits_wrong = 0
    for r in range(reps):
        th = [[math.ceil(C * v ** a * math.exp(sigma * rng.standard_normal()))
               for _ in range(seeds)] for v in x]
        f = sw.bootstrap_exponent(x, th, n_boot=300, seed=r)
        hits += f["ci_low"] <= true <= f["ci_high"]
        hits_wrong += f["ci_low"] <= true + 0.3 <= f["ci_high"]
    # 95% nominal; binomial sd at 200 replications is 0.015: 0.90 is > 3 sd below.
    assert 0.90 <= hits / reps <= 1.0
    # ... and the interval is not vacuous: a slope 0.3 off is rarely inside.
    assert hits_wrong / reps < 0.2


def test_bootstrap_ratio_paired_and_exact():
    num = [[100, 100, 100], [400, 400, 400]]
    den = [[2, 2, 2], [4, 4, 4]]
    r = sw.bootstrap_ratio(num, den, n_boot=50)
    assert [p["ratio"] for p in r["per_x"]] == [50.0, 100.0]
    np.testing.assert_allclose([r["geometric_mean"]["value"], r["geometric_mean"]["ci_low"],
                                r["geometric_mean"]["ci_high"]], math.sqrt(5000),
                               **tol("same_math"))
    rc = sw.bootstrap_ratio([[None, None, 5]], [[1, 1, 1]], n_boot=20)
    assert rc["per_x"][0]["ratio"] is None and rc["geometric_mean"]["value"] is None
    with pytest.raises(ValueError, match="same seeds"):
        sw.bootstrap_ratio([[1, 2]], [[1]], n_boot=5)


def test_counting_bound_and_power_law():
    assert sw.counting_bound(65, 64) == 1.0
    assert sw.counting_bound(20, 3, 2) == 8.0
    xs = np.array([3.0, 7.0, 20.0, 55.0])
    s, b = sw.fit_power_law(xs, 4.0 * xs ** 1.25)
    np.testing.assert_allclose([s, math.exp(b)], [1.25, 4.0], **tol("same_math"))
    with pytest.raises(ValueError, match="distinct"):
        sw.fit_power_law([2, 2], [1, 3])


# ---------------------------------------------------------------------------
# the driver on the sweep engine, with a fake cell of known outcomes

CALLS = []


def truth(n, seed, steps):
    # Known threshold: ~ n/2 + 3 seed, lower at larger budgets; a non-monotone
    # hole for seed 2 (success at 3); censored for n = 64, seed 0.
    if n == 64 and seed == 0:
        return None
    return n // 2 + 3 * seed - (1 if steps > 1000 else 0)


def fake_cell(cell, seed):
    CALLS.append(dict(cell))
    t = truth(cell["n"], cell["seed_index"], cell["steps"])
    ok = t is not None and (cell["d1"] >= t or (cell["seed_index"] == 2 and cell["d1"] == 3))
    return dict(converged=ok, inside=ok and cell["d1"] >= 1000, inside_followup=False,
                status="converged" if ok else "max_steps", distance_ratio=1.0,
                distance_ratio_followup=1.0, rho_Phi=1.0, rho_Phi_followup=1.0,
                steps_to_target=1 if ok else -1)


def test_driver_on_engine_with_known_outcomes(tmp_path):
    CALLS.clear()
    kw = dict(d0=8, n_grid=[16, 32, 64], seeds=3, steps=1000, d1_max=128, n_boot=100,
              workers=1, plot=True, cell_fn=fake_cell)
    rep = sw.run_width_sweep(tmp_path, **kw)
    per = {r["n"]: r for r in rep["thresholds"]["converged"]["per_n"]}
    for n in (16, 32, 64):
        want = [truth(n, s, 1000) for s in range(3)]
        assert per[n]["per_seed"] == want
        assert per[n]["d1_star"] == sw.median_threshold(want)
        assert per[n]["counting_bound"] == n / 9
        assert per[n]["censored"] == (sw.median_threshold(want) is None)
    assert per[64]["n_censored"] == 1 and per[64]["per_seed_censored"] == [True, False, False]
    # Every data draw (n, seed) shares its data across widths; cells differ in d1/steps only.
    assert all(c["seed_index"] in (0, 1, 2) and c["d0"] == 8 for c in CALLS)
    # Budget: every threshold moves by exactly 1 at 2T (truth drops by one).
    b = rep["budget_sensitivity"]
    assert b["n_moved"] == b["n_searches"] == 8 and set(b["moves"]) == {1}
    assert b["censored_reruns"] and not b["censored_reruns"][0]["converged_at_2T"]
    # The non-monotone hole at d1 = 3 is reported for seed 2 when probed.
    for rec in rep["searches"]:
        probed = {p["d1"]: p["success"] for p in rec["probes"]}
        if rec["seed_index"] == 2 and probed.get(3):
            assert any(v["d1"] == 3 for v in rec["violations"])
    # Fit over the uncensored medians; JSON on disk is strict and has the interface keys.
    data = json.loads((tmp_path / "sweep.json").read_text(), parse_constant=pytest.fail)
    conv = data["thresholds"]["converged"]
    assert {"slope", "ci_low", "ci_high"} <= set(conv["fit_d1"])
    assert all({"n", "d1_star", "censored", "per_seed", "counting_bound"} <= set(r)
               for r in conv["per_n"])
    assert (tmp_path / "sweep_thresholds.png").is_file() and (tmp_path / "sweep.md").is_file()
    # Resume: the rounds are replayed from the stored cells, nothing is recomputed.
    before = _db(tmp_path)
    n_calls = len(CALLS)
    again = sw.run_width_sweep(tmp_path, resume=True, **kw)
    assert len(CALLS) == n_calls and _db(tmp_path) == before
    assert again["engine"]["cells_run"] == 0
    assert again["thresholds"]["converged"]["per_n"] == rep["thresholds"]["converged"]["per_n"]
    # Without resume an existing sweep is refused.
    with pytest.raises(ValueError, match="resume"):
        sw.run_width_sweep(tmp_path, **kw)


def test_driver_resumes_a_partial_sweep(tmp_path):
    # A sweep killed after some rounds: the stored cells are re-used as they are.
    CALLS.clear()
    kw = dict(d0=8, n_grid=[16, 32], seeds=2, steps=1000, d1_max=64, n_boot=20, workers=1,
              plot=False, cell_fn=fake_cell)
    full = sw.run_width_sweep(tmp_path / "full", **kw)
    rows = load_results(tmp_path / "full")
    part = tmp_path / "part"
    from pl_toolkit.experiments._engine import run_sweep

    first = [r["cell"] for r in rows][: len(rows) // 2]
    run_sweep(fake_cell, first, part, name="pl_toolkit.sweep",
              config=dict(format=sw._CELL_FORMAT), root_seed=0, workers=1,
              progress=False)
    CALLS.clear()
    rep = sw.run_width_sweep(part, resume=True, **kw)
    assert len(CALLS) == len(rows) - len(first)
    assert rep["thresholds"] == full["thresholds"]


def _db(out):
    conn = sqlite3.connect(Path(out) / DATABASE_NAME)
    try:
        return conn.execute("SELECT key, seconds, attempts FROM cells ORDER BY key").fetchall()
    finally:
        conn.close()


def test_d0_and_locality_modes_with_known_outcomes(tmp_path):
    rep = sw.run_d0_sweep(tmp_path / "d0", n=40, d0_grid=[4, 8, 16], seeds=2, steps=1000,
                          d1_max=128, n_boot=50, workers=1, plot=True, cell_fn=fake_cell)
    per = rep["thresholds"]["converged"]["per_d0"]
    # truth depends on n only: the d0 exponent is 0, exactly.
    assert [r["per_seed"] for r in per] == [[20, 23]] * 3
    np.testing.assert_allclose(rep["thresholds"]["converged"]["fit_d1"]["slope"], 0.0,
                               **tol("same_math"))
    re_ = rep["reference_exponents"]
    assert re_["paper_21"] == -1.0 and re_["corrected_21"] == 1.0
    assert -1.0 < re_["counting_bound"] < -0.5
    loc = sw.run_locality_sweep(tmp_path / "loc", d0=8, n_grid=[16, 32], seeds=2,
                                steps=1000, d1_max=4096, locality_start=64, n_boot=50,
                                workers=1, plot=True, cell_fn=fake_cell)
    th = loc["thresholds"]
    assert [r["per_seed"] for r in th["converged"]["per_n"]] == [[8, 11], [16, 19]]
    for r in th["locality"]["per_n"]:
        # inside iff d1 >= 1000: the relative-resolution threshold brackets it.
        assert all(1000 <= v <= 1000 + max(1, v // 32) for v in r["per_seed"])
    for p, rc, rl in zip(loc["ratio"]["per_n"], th["converged"]["per_n"],
                         th["locality"]["per_n"]):
        assert p["ratio"] == rl["d1_star"] / rc["d1_star"]
    assert loc["radius"]["defines_threshold"] == "paper"


# ---------------------------------------------------------------------------
# the real cell, tiny sizes

CELL = dict(n=8, d0=4, d1=24, seed_index=0, steps=4000, eps=1e-6, lr="auto",
            activation="gelu", init="lecun", data_root=0, threads=1)


def test_real_cell_is_self_consistent_and_budget_independent():
    from pl_toolkit.convergence import ConvergenceCriterion

    a = sw.sweep_cell(CELL, None)
    ds = sw._draw_data(0, 8, 4, 0)
    np.testing.assert_allclose(a["target"], ConvergenceCriterion(1e-6).target(ds.Y),
                               **tol("same_math"))
    assert a["converged"] == (a["h_T"] <= a["target"]) and a["status"] == "converged"
    assert a["steps_to_target"] == a["final_step"] > 0
    assert a["inside"] == (a["max_distance"] <= a["rho_Phi"])
    assert a["inside_followup"] == (a["max_distance"] <= a["rho_Phi_followup"])
    assert a["rho_Phi_followup"] < a["rho_Phi"]  # GELU: phi_ddot_max < 1
    np.testing.assert_allclose(a["distance_ratio"], a["max_distance"] / a["rho_Phi"],
                               **tol("same_math"))
    # Twice the budget: same weights, same trajectory, same stopping step (GD is
    # deterministic at a fixed thread count).
    b = sw.sweep_cell(dict(CELL, steps=8000), None)
    assert b["final_step"] == a["final_step"] and b["h_T"] == a["h_T"]
    assert b["max_distance"] == a["max_distance"]
    # Another width draws other weights.
    c = sw.sweep_cell(dict(CELL, d1=25), None)
    assert c["lambda_max_K0"] != a["lambda_max_K0"]


def test_real_cell_restarts_a_diverging_run_at_half_the_step():
    a = sw.sweep_cell(CELL, None)
    assert a["halvings"] == 0 and a["diverged_runs"] == [] and a["lr"] == a["lr_initial"]
    big = 16 * a["lr"]  # eight times the stability limit of the linearized dynamics
    once = sw.sweep_cell(dict(CELL, lr=big), None)
    assert once["status"] == "diverged" and once["halvings"] == 0
    assert once["diverged_runs"] == [] and once["diverged_at"] is not None
    r = sw.sweep_cell(dict(CELL, lr=big, lr_halvings=6), None)
    k = r["halvings"]
    assert k >= 1 and r["status"] == "converged"
    assert r["lr_initial"] == big and r["lr"] == big / 2 ** k
    assert len(r["diverged_runs"]) == k and r["diverged_runs"][0] == once["diverged_at"]
    # The reported run is GD at the final step from the same weights, run directly.
    direct = sw.sweep_cell(dict(CELL, lr=big / 2 ** k), None)
    assert direct["halvings"] == 0
    for f in ("final_step", "h_T", "max_distance", "path_length"):
        assert r[f] == direct[f]
    # The run before it diverged at its step.
    prev = sw.sweep_cell(dict(CELL, lr=big / 2 ** (k - 1)), None)
    assert prev["status"] == "diverged" and prev["diverged_at"] == r["diverged_runs"][-1]


def test_real_cell_budget_limited_failure():
    a = sw.sweep_cell(dict(CELL, d1=1, n=16, steps=300), None)
    assert not a["converged"] and a["status"] in ("max_steps", "diverged")
    assert a["steps_to_target"] == -1 and a["mu_Phi"] == 0.0 and a["inside"] is False


def test_data_depend_on_n_d0_seed_only():
    X0 = sw._draw_data(0, 8, 4, 0).X
    np.testing.assert_array_equal(X0, sw._draw_data(0, 8, 4, 0).X)
    np.testing.assert_allclose(np.linalg.norm(X0, axis=1), 1.0, **tol("same_math"))
    assert not np.array_equal(X0, sw._draw_data(0, 8, 4, 1).X)
    assert not np.array_equal(X0, sw._draw_data(1, 8, 4, 0).X)


def test_premises_against_direct_computation():
    from scipy.linalg import eigvalsh

    rows = sw.check_premises([6, 9], 4, 2)  # both below C(5, 2) = 10
    for p in rows:
        smax2, smin = [], []
        for s in range(2):
            X = sw._draw_data(0, p["n"], 4, s).X
            smax2.append(np.linalg.svd(X, compute_uv=False)[0] ** 2)
            G = (X @ X.T) ** 2  # Gram of the Khatri-Rao square
            smin.append(math.sqrt(max(eigvalsh(G)[0], 0.0)))
        np.testing.assert_allclose(p["sigma_max_X_sq"], np.median(smax2), **tol("same_math"))
        # Two dense eigensolvers on the same Gram matrix.
        np.testing.assert_allclose(p["sigma_min_khatri_rao"], np.median(smin),
                                   **tol("analytic_jacobian"))
        assert p["symmetric_dim"] == 10


def test_real_tiny_sweep_end_to_end(tmp_path):
    rep = sw.run_width_sweep(tmp_path, d0=4, n_grid=[4, 8], seeds=1, steps=1000, d1_max=32,
                             n_boot=20, workers=1, plot=False)
    rows = {(r["cell"]["n"], r["cell"]["seed_index"], r["cell"]["d1"], r["cell"]["steps"]):
            r["result"] for r in load_results(tmp_path)}
    for rec in rep["searches"]:
        # Every probe's outcome is the stored cell's convergence flag.
        for p in rec["probes"]:
            res = rows[(rec["n"], rec["seed_index"], p["d1"], 1000)]
            assert p["success"] == res["converged"] and p["status"] == res["status"]
        d = rec["d1_star"]
        if d is not None and d > 1:
            assert rows[(rec["n"], rec["seed_index"], d, 1000)]["converged"]
            assert not rows[(rec["n"], rec["seed_index"], d - 1, 1000)]["converged"]


# ---------------------------------------------------------------------------
# command line


def _parser():
    return sw.configure_parser(argparse.ArgumentParser())


TINY = ["--workers", "1", "--seeds", "1", "--d0", "4", "--n-grid", "4,8", "--steps", "300",
        "--d1-max", "16", "--bootstrap", "10", "--no-plot"]


def test_command_json(tmp_path, capsys):
    args = _parser().parse_args(["--out", str(tmp_path / "o"), "--json"] + TINY)
    assert sw.command(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "n" and data["config"]["n_grid"] == [4, 8]
    per = data["thresholds"]["converged"]["per_n"]
    assert [r["n"] for r in per] == [4, 8] and all("per_seed" in r for r in per)


def test_cli_main_end_to_end_and_resume(tmp_path, capsys):
    from pl_toolkit.cli import main

    out = tmp_path / "cli"
    argv = ["sweep", "--out", str(out), "--no-progress"] + TINY
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "exponent of d1* in n" in text and (out / "sweep.md").is_file()
    assert main(argv + ["--resume", "--quiet"]) == 0  # nothing recomputed, nothing printed
    assert capsys.readouterr().out == ""
    assert main(argv) == 2  # an existing sweep without --resume: refused
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "resume" in err[0]


def test_help_states_the_budget(capsys):
    from pl_toolkit.cli import main

    assert main(["sweep", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "an hour on 2 cores" in out and "cells" in out and "--mode" in out


@pytest.mark.parametrize("argv, flag", [
    (["--n-grid", "nan,2"], "--n-grid"),
    (["--n-grid", "1e400,2"], "--n-grid"),
    (["--n-grid", "8,x"], "--n-grid"),
    (["--n-grid", "8"], "--n-grid"),
    (["--n-grid=-8,16"], "--n-grid"),
    (["--n-grid", ""], "--n-grid"),
    (["--seeds", "-1"], "--seeds"),
    (["--seeds", "0"], "--seeds"),
    (["--steps", "0"], "--steps"),
    (["--steps", "1e400"], "--steps"),
    (["--steps", "2.5"], "--steps"),
    (["--d0", "nan"], "--d0"),
    (["--eps", "1.5"], "--eps"),
    (["--eps", "nan"], "--eps"),
    (["--lr", "-1"], "--lr"),
    (["--lr", "inf"], "--lr"),
    (["--lr-halvings", "-1"], "--lr-halvings"),
    (["--lr-halvings", "1.5"], "--lr-halvings"),
    (["--activation", "nope"], "--activation"),
    (["--init", "weird"], "--init"),
    (["--d1-max", "0"], "--d1-max"),
    (["--d1-min", "8", "--d1-max", "4"], "--d1-max"),
    (["--rel-tol", "1.5"], "--rel-tol"),
    (["--bootstrap", "0"], "--bootstrap"),
    (["--workers", "0"], "--workers"),
    (["--root-seed", "-3"], "--root-seed"),
    (["--mode", "bogus"], "--mode"),
    (["--d0-grid", "16,32"], "--d0-grid"),          # mode n
    (["--mode", "d0", "--n-grid", "16,32"], "--n-grid"),
    (["--mode", "d0", "--d0-grid", "nan,32"], "--d0-grid"),
    (["--radius", "followup"], "--radius"),          # mode n
    (["--mode", "locality", "--radius", "huge"], "--radius"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, argv, flag):
    from pl_toolkit.cli import main

    out = tmp_path / "bad"
    code = main(["sweep", "--out", str(out), "--workers", "1", "--no-progress"] + argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and flag in err[0] and "Traceback" not in err[0]
    assert not (out / DATABASE_NAME).exists()


@pytest.mark.parametrize("kw, word", [
    (dict(n_grid=[float("nan"), 2]), "n_grid"), (dict(n_grid=[1e400, 2]), "n_grid"),
    (dict(n_grid=[8]), "n_grid"), (dict(seeds=-1), "seeds"), (dict(steps=0), "steps"),
    (dict(eps=0.0), "eps"), (dict(lr=-1.0), "lr"), (dict(lr="fast"), "lr"),
    (dict(init="weird"), "init"), (dict(activation="nope"), "activation"),
    (dict(d1_max=0), "d1_max"), (dict(rel_tol=2.0), "rel_tol"), (dict(d0=0), "d0"),
    (dict(root_seed=-1), "root_seed"), (dict(n_boot=0), "n_boot"),
    (dict(lr_halvings=-1), "lr_halvings"), (dict(lr_halvings=True), "lr_halvings"),
])
def test_api_bad_input_is_value_error(tmp_path, kw, word):
    base = dict(d0=4, n_grid=[4, 8], seeds=1, steps=10, workers=1, plot=False)
    with pytest.raises(ValueError, match=word):
        sw.run_width_sweep(tmp_path, **dict(base, **kw))
    assert not (tmp_path / DATABASE_NAME).exists()


@pytest.mark.slow
def test_reduced_sweep(tmp_path):
    # The reduced sweep of the documentation: four n up to 128, three seeds.
    from pl_toolkit.cli import main

    out = tmp_path / "reduced"
    assert main(["sweep", "--out", str(out), "--n-grid", "16,32,64,128", "--seeds", "3",
                 "--workers", "2", "--quiet"]) == 0
    data = json.loads((out / "sweep.json").read_text(), parse_constant=pytest.fail)
    conv = data["thresholds"]["converged"]
    assert [r["n"] for r in conv["per_n"]] == [16, 32, 64, 128]
    for r in conv["per_n"]:
        assert len(r["per_seed"]) == 3
        # No width below the counting bound can interpolate random labels.
        assert all(v is None or v >= r["counting_bound"] for v in r["per_seed"])
    assert conv["fit_d1"]["slope"] is not None


def test_output_folder_ownership(tmp_path, capsys):
    from pl_toolkit.cli import main

    out = tmp_path / "foreign"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "sweep.md").write_text("my own sweep.md")
    argv = ["sweep", "--out", str(out), "--no-progress", "--quiet"] + TINY
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "--overwrite" in err[0]
    assert not (out / DATABASE_NAME).exists()
    assert (out / "sweep.md").read_text() == "my own sweep.md"
    assert main(argv + ["--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"  # files of other names stay untouched
    assert (out / "sweep.md").read_text().startswith("# Width thresholds against n")
    # The API refuses the same way, naming its own argument.
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="overwrite=True"):
        sw.run_width_sweep(other, d0=4, n_grid=[4, 8], seeds=1, steps=10, workers=1,
                           plot=False)
