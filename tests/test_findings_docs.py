"""The findings page states the stored results: every figure it quotes is recomputed here.

docs/findings.rst quotes exponents, intervals, counts and ratios from the
stored runs in docs/data/; each quoted string is rebuilt from those files,
so a page that drifts from its data (or data re-run without the page) fails.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from pl_toolkit.experiments import bootstrap_exponent

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGE = DOCS / "findings.rst"


def _load(name):
    return json.loads((DOCS / "data" / name).read_text())


@pytest.fixture(scope="module")
def text():
    # the page wraps lines; compare on single spaces
    return " ".join(PAGE.read_text().split())


@pytest.fixture(scope="module")
def sweep_n():
    return _load("sweep_n.json")["report"]


def _interval(f):
    return f"[{f['ci_low']:.3f}, {f['ci_high']:.3f}]"


def test_n_exponent_and_its_interval(text, sweep_n):
    conv = sweep_n["thresholds"]["converged"]
    f = conv["fit_d1"]
    assert f"n^{{{f['slope']:.3f}}}" in text
    assert f"interval **{_interval(f)}**" in text
    assert conv["censored"] == [] and "no censored point" in text
    ns = [r["n"] for r in conv["per_n"]]
    assert f"n = {ns[0]} ... {ns[-1]}" in text and f"d0 = {sweep_n['config']['d0']}" in text
    ratios = [r["ratio_to_counting_bound"] for r in conv["per_n"]]
    assert f"{min(ratios):.1f}-{max(ratios):.1f} times the parameter-counting" in text


def test_distance_to_the_corrected_21(text, sweep_n):
    rows = sweep_n["thresholds"]["converged"]["per_n"]
    q = [r["corrected_21_width"] / r["d1_star"] for r in rows]
    lo, hi = min(q), max(q)
    assert f"{lo:.2g} to {hi:.2g} times the measured widths".replace("e+0", "e") in text
    const = sweep_n["reference_curves"]["corrected_21"]["constant"]
    assert f"{const:.1f} n^{{3/2}} d0" in text


def test_budget_and_monotonicity_attacks(text, sweep_n):
    b, m = sweep_n["budget_sensitivity"], sweep_n["monotonicity"]
    moves = sorted(set(b["moves"]))
    assert moves == [1] and "down by one width" in text
    assert f"moves {b['n_moved']} of {b['n_searches']} thresholds" in text
    per = {}
    for r in b["reruns"]:
        per.setdefault(r["search"][0], {})[r["search"][1]] = r["d1_star_2T"]
    xs = sorted(per)
    again = bootstrap_exponent(xs, [[per[x][s] for s in sorted(per[x])] for x in xs],
                               n_boot=sweep_n["config"]["n_boot"],
                               seed=sweep_n["config"]["root_seed"])
    assert f"{again['slope']:.3f} {_interval(again)}" in text
    assert (f"{m['n_searches_with_violations']} of {m['n_searches']} searches show a "
            "non-monotone outcome") in text


def test_figure1_numbers(text):
    runs = _load("init_scale_mnist.json")["runs"]
    nll, mse = runs["nll"]["report"], runs["mse"]["report"]
    per = nll["per_omega2"]
    assert all(p["all_interpolated"] for p in per)
    assert f"all {sum(p['runs'] for p in per)} students interpolate" in text
    means = [p["test_acc"]["mean"] for p in per]
    assert (f"from {means[0]:.3f} at the smallest ``omega2`` to {means[-1]:.3f} at the "
            f"largest (peak {max(means):.3f})") in text
    for rep, bold in ((nll, True), (mse, False)):
        r = rep["spearman_test_acc_vs_omega2"]
        s = f"{r['rho']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        assert (f"**{s}**" if bold else s) in text
    small = mse["per_omega2"][0]
    assert small["omega2"] == 0.002 and small["status_counts"] == {"diverged": small["runs"]}
    top = [p for p in mse["per_omega2"] if p["interpolated"]]
    assert [p["omega2"] for p in top] == [p["omega2"] for p in mse["per_omega2"][-3:]]
    assert "only the three largest ``omega2`` interpolate" in text
    assert np.isclose(mse["config"]["budget_epochs"], 500) and "500 epochs" in text


def test_d0_exponent(text):
    rep = _load("sweep_d0.json")["report"]
    conv = rep["thresholds"]["converged"]
    f = conv["fit_d1"]
    assert f"d0^{{{f['slope']:.3f}}}" in text and f"interval **{_interval(f)}**" in text
    d0s = [r["d0"] for r in conv["per_d0"]]
    assert f"d0 = {d0s[0]} ... {d0s[-1]}" in text and f"n = {rep['config']['n']}" in text
    assert conv["censored"] == []
    b, m = rep["budget_sensitivity"], rep["monotonicity"]
    assert sorted(set(b["moves"])) == [1]
    assert f"moves {b['n_moved']} of {b['n_searches']} thresholds down by one width" in text
    assert (f"{m['n_searches_with_violations']} of {m['n_searches']} searches show a "
            "non-monotone outcome") in text
    corrected = rep["reference_curves"]["corrected_21"]
    assert corrected["d0"] == 1.0 and "LeCun initialization is ``+1``" in text


def test_locality_width_and_ratio(text):
    rep = _load("sweep_locality.json")["report"]
    loc, conv = rep["thresholds"]["locality"], rep["thresholds"]["converged"]
    rows = loc["per_n"]
    assert loc["censored"] == [] and rep["config"]["d1_max"] == 65536
    quoted = " and ".join(f"{r['d1_star']:g} at ``n = {r['n']}``" for r in rows)
    assert quoted in text
    assert {c["d1_star"] for c in conv["per_n"]} == {2.0}
    assert "against a convergence width of 2" in text
    g = rep["ratio"]["geometric_mean"]
    def sci(x):
        return f"{x:.2e}".replace("e+0", "e")

    assert f"**{sci(g['value'])} [{sci(g['ci_low'])}, {sci(g['ci_high'])}]**" in text
    f = loc["fit_d1"]
    assert f"{f['slope']:.3f} {_interval(f)}" in text
    assert f"rests on {['no', 'one', 'two', 'three'][len(rows)]} values of ``n``" in text
