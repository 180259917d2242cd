"""Tests of the width-threshold experiment (pl_toolkit.experiments.sweep).

Thresholds are recomputed here from the engine's raw records with a brute
force over the grid, and the exponent fit is checked on synthetic
thresholds with a known slope.
"""

import argparse
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from _tolerances import tol

from pl_toolkit._engine import DATABASE_NAME, load_results
from pl_toolkit.experiments import sweep as sw

TOY = dict(d0=8, n_grid=[8, 16], d1_grid=[2, 8, 32], seeds=2, steps=150, eps=0.02, n_boot=50,
           workers=1, progress=False)
FIELDS = {"converged": "converged", "inside": "inside", "converged_inside": "converged_inside"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    rep = sw.run_width_sweep(out, **TOY)
    return out, rep


def _brute_threshold(grid, ok):
    # Smallest d such that every grid width >= d succeeds; None if the largest fails.
    cands = [d for i, d in enumerate(grid) if all(ok[i:])]
    return min(cands) if cands else None


def test_thresholds_match_records(toy):
    out, rep = toy
    rows = load_results(out)
    assert len(rows) == 2 * 3 * 2 and all(r["status"] == "ok" for r in rows)
    table = {(r["cell"]["n"], r["cell"]["d1"], r["cell"]["seed_index"]): r["result"] for r in rows}
    for res in table.values():
        # Each record is self-consistent.
        assert res["converged"] == (res["h_T"] <= TOY["eps"] * res["h0"])
        assert res["inside"] == (res["max_distance"] <= res["rho_Phi"])
        assert res["converged_inside"] == (res["converged"] and res["inside"])
        assert (res["steps_to_eps"] >= 0) == res["converged"]
        assert res["lr"] == 1.0 / (2.0 * res["lambda_max_K0"])
    for crit, field in FIELDS.items():
        per = rep["thresholds"][crit]["per_n"]
        for i, n in enumerate(TOY["n_grid"]):
            ok = [all(table[(n, d, s)][field] for s in range(TOY["seeds"]))
                  for d in TOY["d1_grid"]]
            assert per[i]["d1_star"] == _brute_threshold(TOY["d1_grid"], ok)
            assert per[i]["censored"] == (per[i]["d1_star"] is None)
            first = next((d for d, o in zip(TOY["d1_grid"], ok) if o), None)
            assert per[i]["first_success"] == first


def test_data_seed_depends_on_n_and_seed_only(toy):
    # The data of a cell depend only on (root seed, n, seed index): every width
    # of one (n, seed) sees the same sigma_max(X)^2, recomputed here.
    _, rep = toy
    for p in rep["premises"]:
        X = sw._draw_data(0, p["n"], TOY["d0"], 0).X
        np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, **tol("same_math"))
    X1 = sw._draw_data(0, 8, 8, 1).X
    X0 = sw._draw_data(0, 8, 8, 0).X
    assert not np.array_equal(X0, X1)
    np.testing.assert_array_equal(X0, sw._draw_data(0, 8, 8, 0).X)


def test_censored_reported_and_excluded(toy):
    _, rep = toy
    th = rep["thresholds"]["inside"]
    # With widths <= 32 no trajectory stays inside Lemma 1's tiny radius.
    assert th["censored"] == TOY["n_grid"]
    assert th["fit_d1"]["slope"] is None and "censored" in th["note"]
    assert all(r["d1_star"] is None for r in th["per_n"])


def test_outputs_exist_and_decode(toy):
    from matplotlib.image import imread

    out, rep = toy
    for name in ("sweep.json", "sweep.md", "sweep_thresholds.png", DATABASE_NAME):
        assert (Path(out) / name).is_file()
    img = imread(Path(out) / "sweep_thresholds.png")
    assert img.ndim == 3 and img.shape[0] > 100
    data = json.loads((Path(out) / "sweep.json").read_text(), parse_constant=pytest.fail)
    assert data["config"]["d1_grid"] == TOY["d1_grid"]
    assert len(data["premises"]) == len(TOY["n_grid"])
    assert "censored" in (Path(out) / "sweep.md").read_text()


def test_premises_against_direct_computation(toy):
    from scipy.linalg import eigvalsh

    _, rep = toy
    for p in rep["premises"]:
        smax2, smin = [], []
        for s in range(TOY["seeds"]):
            X = sw._draw_data(0, p["n"], TOY["d0"], s).X
            smax2.append(np.linalg.svd(X, compute_uv=False)[0] ** 2)
            G = (X @ X.T) ** 2  # Gram of the Khatri-Rao square
            smin.append(math.sqrt(max(eigvalsh(G)[0], 0.0)))
        np.testing.assert_allclose(p["sigma_max_X_sq"], np.median(smax2), **tol("same_math"))
        np.testing.assert_allclose(p["ratio_sigma_max_sq"],
                                   np.median(smax2) / (p["n"] / TOY["d0"]), **tol("same_math"))
        # Two dense eigensolvers (evr subset vs full syevd) on the same Gram matrix.
        np.testing.assert_allclose(p["sigma_min_khatri_rao"], np.median(smin),
                                   **tol("analytic_jacobian"))
        assert p["symmetric_dim"] == TOY["d0"] * (TOY["d0"] + 1) // 2


def test_resume_does_not_recompute(toy, tmp_path):
    out, rep = toy
    before = _db(out)
    again = sw.run_width_sweep(out, resume=True, **TOY)
    assert again["engine"]["n_skipped"] == again["engine"]["n_cells"] == len(before)
    assert again["engine"]["n_ok"] == 0
    after = _db(out)
    assert after == before  # same seconds, attempts still 1
    assert all(a == 1 for _, _, a in after)
    assert again["thresholds"] == rep["thresholds"]


def _db(out):
    conn = sqlite3.connect(Path(out) / DATABASE_NAME)
    try:
        return conn.execute("SELECT key, seconds, attempts FROM cells ORDER BY key").fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# the fitting functions on synthetic data


def test_threshold_width_definition():
    grid = [2, 4, 8, 16, 32]
    rng = np.random.default_rng(3)
    for _ in range(200):
        ok = list(rng.random(5) < 0.6)
        thr, first = sw.threshold_width(grid, ok)
        assert thr == _brute_threshold(grid, ok)
        assert first == (grid[ok.index(True)] if any(ok) else None)


def test_bootstrap_recovers_known_slope(rng):
    # d1* = C n^1.5 with multiplicative noise per seed; a fine grid.
    n_values = [16, 32, 64, 128, 256, 512]
    grid = sorted({int(round(2 ** (k / 8))) for k in range(8, 8 * 17)})
    seeds = 20
    outcomes = []
    for n in n_values:
        t = 0.5 * n ** 1.5 * np.exp(0.05 * rng.standard_normal(seeds))
        outcomes.append(np.array([[d >= ts for d in grid] for ts in t]))
    res = sw.bootstrap_exponent(n_values, grid, outcomes, n_boot=300, seed=1)
    assert res["censored"] == [] and res["n_fit"] == n_values
    # Grid spacing 2^(1/8) bounds the error of each log-threshold by log(2)/8;
    # the slope error is then at most ~ 2 * 0.087 / log(512/16) ~ 0.05, plus noise.
    np.testing.assert_allclose(res["slope"], 1.5, **tol("exponent_fit"))
    assert res["ci_low"] <= res["boot_median"] <= res["ci_high"]
    slack = tol("exponent_fit")["atol"]
    assert res["ci_low"] - slack <= 1.5 <= res["ci_high"] + slack
    # d0 d1* has the same slope (d0 only shifts the intercept).
    res_p = sw.bootstrap_exponent(n_values, grid, outcomes, n_boot=300, seed=1, scale=32.0)
    np.testing.assert_allclose(res_p["slope"], res["slope"], **tol("same_math"))
    np.testing.assert_allclose(res_p["intercept"], res["intercept"] + math.log(32.0),
                               **tol("same_math"))


def test_bootstrap_exact_power_law_and_censoring():
    grid = [2 ** k for k in range(1, 12)]
    n_values = [4, 16, 64, 256]
    outs = []
    for n in n_values[:3]:
        t = 2 * n  # exact: slope 1
        outs.append(np.array([[d >= t for d in grid]] * 5))
    outs.append(np.zeros((5, len(grid)), dtype=bool))  # nothing succeeds: censored
    res = sw.bootstrap_exponent(n_values, grid, outs, n_boot=40)
    assert res["censored"] == [256] and res["n_fit"] == [4, 16, 64]
    assert res["thresholds"][-1] is None
    np.testing.assert_allclose([res["slope"], res["ci_low"], res["ci_high"]], 1.0,
                               **tol("same_math"))
    assert "excluded" in res["note"]
    # One failing seed out of five at the threshold width moves it up one step
    # (90% of 5 seeds means all 5).
    o = outs[0].copy()
    o[2, grid.index(8)] = False
    thr, _ = sw.threshold_width(grid, sw._success(o, 0.9))
    assert thr == 16


def test_fit_power_law_exact():
    x = np.array([3.0, 7.0, 20.0, 55.0])
    s, b = sw.fit_power_law(x, 4.0 * x ** 1.25)
    np.testing.assert_allclose([s, math.exp(b)], [1.25, 4.0], **tol("same_math"))


def test_geometric_grid():
    assert sw.geometric_grid(2, 4096, 2) == [2 ** k for k in range(1, 13)]
    g = sw.geometric_grid(2, 4096, math.sqrt(2))
    assert g[0] == 2 and g[-1] == 4096 and len(g) == 23
    assert all(b > a for a, b in zip(g, g[1:]))


# ---------------------------------------------------------------------------
# CLI entry points (configure_parser / command) and bad input


def _parser():
    return sw.configure_parser(argparse.ArgumentParser())


def test_command_json(tmp_path, capsys):
    args = _parser().parse_args(["--out", str(tmp_path / "o"), "--workers", "1", "--seeds", "1",
                                 "--d0", "4", "--n-grid", "4,8", "--d1-grid", "4,16",
                                 "--steps", "20", "--bootstrap", "10", "--json", "--no-plot"])
    assert sw.command(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"]["n_grid"] == [4, 8]
    assert set(data["thresholds"]) == set(FIELDS)
    assert not (tmp_path / "o" / "sweep_thresholds.png").exists()


def test_command_quiet_prints_nothing(tmp_path, capsys):
    args = _parser().parse_args(["--out", str(tmp_path / "q"), "--workers", "1", "--seeds", "1",
                                 "--d0", "4", "--n-grid", "4,8", "--d1-grid", "4",
                                 "--steps", "5", "--bootstrap", "5", "--quiet", "--no-plot"])
    assert sw.command(args) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("argv, word", [
    (["--n-grid", ""], "n_grid"),
    (["--n-grid", "8,x"], "n_grid"),
    (["--d1-grid", ""], "d1_grid"),
    (["--eps", "-0.1"], "eps"),
    (["--eps", "1.5"], "eps"),
    (["--activation", "nope"], "activation"),
    (["--steps", "0"], "steps"),
    (["--lr", "-1"], "lr"),
    (["--init", "weird"], "init"),
    (["--d1-factor", "1"], "d1_factor"),
])
def test_bad_input_names_argument(tmp_path, argv, word):
    args = _parser().parse_args(["--out", str(tmp_path / "bad"), "--workers", "1"] + argv)
    with pytest.raises(ValueError, match=word):
        sw.command(args)
    assert not (tmp_path / "bad" / DATABASE_NAME).exists()


def test_extrapolate_locality_exact_power_law():
    grid = [2 ** k for k in range(1, 11)]
    ratios = {"10": [1e4 / d for d in grid], "40": [8e4 / d for d in grid],
              "80": [0.5] * len(grid),
              "300": [1e6 / d for d in grid]}  # only 1024 >= 4 * 300: too few widths
    ex = sw.extrapolate_locality([10, 40, 80, 300], grid, ratios, top=4)
    a, b, c, e = ex["per_n"]
    assert e["d1_extrapolated"] is None and e["local_slope"] is None
    np.testing.assert_allclose([a["local_slope"], b["local_slope"]], -1.0, **tol("same_math"))
    np.testing.assert_allclose([a["d1_extrapolated"], b["d1_extrapolated"]], [1e4, 8e4],
                               **tol("same_math"))
    assert c["d1_extrapolated"] is None  # already inside on the grid: nothing to extrapolate
    np.testing.assert_allclose(ex["fit"]["slope"], 1.5, **tol("same_math"))
    assert "not a measured threshold" in ex["note"]


def test_cli_main_end_to_end(tmp_path, capsys):
    from pl_toolkit.cli import main

    out = tmp_path / "cli"
    argv = ["sweep", "--out", str(out), "--workers", "1", "--seeds", "1", "--d0", "4",
            "--n-grid", "4,8", "--d1-grid", "4,8", "--steps", "10", "--bootstrap", "5",
            "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "exponent of d1*(converged)" in text and (out / "sweep.md").is_file()
    assert main(argv + ["--resume", "--quiet"]) == 0  # nothing recomputed, nothing printed
    assert capsys.readouterr().out == ""
    assert main(["sweep", "--out", str(tmp_path / "bad"), "--eps", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eps" in err[0]
