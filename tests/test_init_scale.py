"""Tests of the initialization-scale experiment (pl_toolkit.experiments.init_scale).

The SGD step conversion is checked against a hand-written PyTorch-style
update (explicit GELU derivatives from scipy.special), and the confidence
intervals against scipy.stats.t.
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
from _tolerances import tol
from scipy import stats
from scipy.special import ndtr

from pl_toolkit import ShallowNet
from pl_toolkit._engine import DATABASE_NAME, load_results
from pl_toolkit.experiments import init_scale as isc
from pl_toolkit.experiments._common import t_interval
from pl_toolkit.training import train

TINY = dict(width=50, epochs=2, seeds=2, omega2_grid=[0.05, 0.3], laziness_points=20,
            workers=1, progress=False)


def _gelu(z):
    return z * ndtr(z)


def _dgelu(z):
    return ndtr(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _paper_step(net, X, Y, lr):
    """One step of SGD on F.mse_loss (mean over batch and outputs) on the batch (X, Y)."""
    Z = X @ net.W.T
    H = _gelu(Z)
    R = H @ net.V.T - Y
    scale = 2.0 / (X.shape[0] * Y.shape[1])
    gV = scale * R.T @ H
    gW = scale * ((R @ net.V) * _dgelu(Z)).T @ X
    return net.W - lr * gW, net.V - lr * gV


@pytest.mark.parametrize("batch", [4, 12])
def test_sgd_lr_equivalence_identical_rows(rng, batch):
    # All samples equal: every minibatch has the same mean-MSE gradient, so one
    # step of train(optimizer="sgd") must equal the paper's update whatever
    # batch it drew; this pins the n/b factor of the minibatch loss.
    n, d0, d1, d2, lr_paper = 12, 5, 7, 3, 0.05
    x = rng.standard_normal(d0)
    y = rng.standard_normal(d2)
    X, Y = np.tile(x, (n, 1)), np.tile(y, (n, 1))
    net = ShallowNet.init(d0, d1, d2, seed=4)
    eta = isc.sgd_lr_from_paper(lr_paper, n, d2)
    traj = train(net, X, Y, steps=1, lr=eta, optimizer="sgd", batch_size=batch, track=(),
                 progress=False)
    W, V = _paper_step(net, X[:batch], Y[:batch], lr_paper)
    np.testing.assert_allclose(traj.final_net.W, W, **tol("same_math"))
    np.testing.assert_allclose(traj.final_net.V, V, **tol("same_math"))


def test_sgd_lr_equivalence_full_batch(rng):
    # Distinct samples, batch = n: the sum over the batch is the whole data set.
    n, d0, d1, d2, lr_paper = 9, 4, 6, 2, 0.1
    X = rng.standard_normal((n, d0))
    Y = rng.standard_normal((n, d2))
    net = ShallowNet.init(d0, d1, d2, seed=5)
    traj = train(net, X, Y, steps=1, lr=isc.sgd_lr_from_paper(lr_paper, n, d2),
                 optimizer="sgd", batch_size=n, track=(), progress=False)
    W, V = _paper_step(net, X, Y, lr_paper)
    np.testing.assert_allclose(traj.final_net.W, W, **tol("same_math"))
    np.testing.assert_allclose(traj.final_net.V, V, **tol("same_math"))


@pytest.mark.parametrize("k", [2, 3, 5, 12])
def test_t_interval_matches_scipy(rng, k):
    x = rng.standard_normal(k) * 3 + 1
    ci = t_interval(x)
    lo, hi = stats.t.interval(0.95, k - 1, loc=np.mean(x), scale=stats.sem(x))
    np.testing.assert_allclose([ci["low"], ci["high"]], [lo, hi], **tol("same_math"))
    np.testing.assert_allclose(ci["mean"], np.mean(x), **tol("same_math"))
    assert ci["k"] == k


def test_t_interval_degenerate():
    assert t_interval([0.5])["half_width"] == 0.0
    assert math.isnan(t_interval([])["mean"])
    assert t_interval([1.0, np.nan, 3.0])["k"] == 2


def test_default_grid_is_paper_grid_over_he():
    f = np.array(isc.PAPER_OMEGA2_FACTORS)
    np.testing.assert_allclose(f * math.sqrt(2 / 1000), isc.PAPER_OMEGA2, **tol("same_math"))
    np.testing.assert_allclose(f, [0.0447, 0.166, 0.288, 0.41, 0.532, 0.775, 1.019, 1.262,
                                   1.506, 1.749], rtol=0, atol=6e-4)  # the paper's 4 digits
    pairs, he1, he2 = isc._omega_grid(None, 1000, 64)
    for w1, w2 in pairs:
        np.testing.assert_allclose(w1 * w2, math.sqrt(2 / 64) * math.sqrt(2 / 1000),
                                   **tol("same_math"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("init_scale")
    rep = isc.run_init_scale(out, **TINY)
    return out, rep


def test_tiny_run_outputs(tiny):
    from matplotlib.image import imread

    out, rep = tiny
    for name in ("init_scale.json", "init_scale.md", "init_scale.png", DATABASE_NAME,
                 "init_scale_data.npz"):
        assert (Path(out) / name).is_file()
    assert imread(Path(out) / "init_scale.png").ndim == 3
    data = json.loads((Path(out) / "init_scale.json").read_text(), parse_constant=pytest.fail)
    assert [p["omega2"] for p in data["per_omega2"]] == TINY["omega2_grid"]
    assert rep["engine"]["n_ok"] == 4 and rep["n_errors"] == 0


def test_tiny_run_intervals_from_records(tiny):
    out, rep = tiny
    rows = load_results(out)
    assert len(rows) == 4
    for p in rep["per_omega2"]:
        res = [r["result"] for r in rows if r["cell"]["omega2"] == p["omega2"]]
        assert len(res) == TINY["seeds"] and p["runs"] == TINY["seeds"]
        np.testing.assert_allclose(p["omega1"] * p["omega2"], rep["config"]["omega1_omega2"],
                                   **tol("same_math"))
        for key in ("test_acc", "ntk_change", "weight_change_W"):
            x = np.array([r[key] for r in res])
            lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
            np.testing.assert_allclose([p[key]["low"], p[key]["high"]], [lo, hi],
                                       **tol("same_math"))
        for r in res:
            assert 0 <= r["train_acc"] <= 1 and 0 <= r["test_acc"] <= 1
            assert r["ntk_change"] >= 0 and r["weight_change_V"] > 0


def test_laziness_measures_recomputed(tiny):
    # Rebuild one student from its cell seed and check dW/W, dV/V and dK/K by hand.
    from pl_toolkit import ntk_gram
    from pl_toolkit._engine import cell_seed
    from pl_toolkit.experiments._common import limit_threads

    out, rep = tiny
    row = load_results(out)[0]
    cell, res = row["cell"], row["result"]
    d = isc._load_data(cell["data_file"], cell["data_sha"])
    X, lab = d["X"], d["labels"]
    seed = cell_seed(0, cell)
    net0 = ShallowNet.init(X.shape[1], cell["width"], 10, init=(cell["omega1"], cell["omega2"]),
                           seed=seed)
    batch = min(cell["batch_size"], X.shape[0])
    steps = cell["epochs"] * (X.shape[0] // batch)
    # Same thread budget as the cell: BLAS sums in an order that depends on it.
    with limit_threads(cell.get("threads", 1)):
        traj = train(net0, X, np.eye(10)[lab], steps=steps, lr=res["lr"], optimizer="sgd",
                     batch_size=batch, track=("loss",), track_every=steps, seed=seed,
                     progress=False, divergence_factor=1e300)
        net = traj.final_net
        sub = X[: cell["laziness_points"]]
        K0, KT = ntk_gram(net0, sub), ntk_gram(net, sub)
    np.testing.assert_allclose(res["weight_change_W"],
                               np.linalg.norm(net.W - net0.W) / np.linalg.norm(net0.W),
                               **tol("same_math"))
    expect = np.linalg.norm(KT - K0, 2) / np.linalg.norm(K0, 2)
    np.testing.assert_allclose(res["ntk_change"], expect, **tol("kernel_vs_reference"))


def test_resume_reuses_teacher_and_cells(tiny):
    out, rep = tiny
    again = isc.run_init_scale(out, resume=True, **TINY)
    assert again["engine"]["n_skipped"] == 4 and again["engine"]["n_ok"] == 0
    assert again["per_omega2"] == rep["per_omega2"]


def _parser():
    return isc.configure_parser(argparse.ArgumentParser())


def test_user_data_file_and_json(tmp_path, rng, capsys):
    n = 180
    X = rng.standard_normal((n, 6))
    y = (X[:, 0] + 0.3 * rng.standard_normal(n) > 0).astype(float)
    np.savez(tmp_path / "d.npz", X=X, Y=y)
    args = _parser().parse_args(["--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "o"),
                                 "--workers", "1", "--seeds", "2", "--epochs", "2",
                                 "--width", "20", "--omega2-grid", "0.1,0.3", "--n-test", "50",
                                 "--batch-size", "32", "--laziness-points", "10", "--json",
                                 "--no-plot"])
    assert isc.command(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["data"]["classes"] == 2 and data["data"]["n"] == n - 50
    assert data["data"]["source"] == "d.npz"


@pytest.mark.parametrize("argv, word", [
    (["--data", "no_such_file.npz"], "data file"),
    (["--omega2-grid", ""], "omega2_grid"),
    (["--omega2-grid", "0.1,-2"], "omega2_grid"),
    (["--activation", "nope"], "activation"),
    (["--epochs", "0"], "epochs"),
    (["--lr-paper", "-1"], "lr_paper"),
    (["--input-scaling", "minmax"], "input_scaling"),
])
def test_bad_input_names_argument(tmp_path, argv, word):
    args = _parser().parse_args(["--out", str(tmp_path / "bad"), "--workers", "1"] + argv)
    with pytest.raises(ValueError, match=word):
        isc.command(args)
    assert not (tmp_path / "bad" / DATABASE_NAME).exists()


def test_dead_units_recomputed(tiny):
    from pl_toolkit._engine import cell_seed

    out, _ = tiny
    for row in load_results(out):
        cell, res = row["cell"], row["result"]
        d = isc._load_data(cell["data_file"], cell["data_sha"])
        X = d["X"]
        seed = cell_seed(0, cell)
        net0 = ShallowNet.init(X.shape[1], cell["width"], 10,
                               init=(cell["omega1"], cell["omega2"]), seed=seed)
        batch = min(cell["batch_size"], X.shape[0])
        steps = cell["epochs"] * (X.shape[0] // batch)
        net = train(net0, X, np.eye(10)[d["labels"]], steps=steps, lr=res["lr"],
                    optimizer="sgd", batch_size=batch, track=("loss",), track_every=steps,
                    seed=seed, progress=False, divergence_factor=1e300).final_net
        Z = X[: cell["laziness_points"]] @ net.W.T
        dead = np.mean(np.max(np.abs(_dgelu(Z)), axis=0) < 1e-3)
        assert res["dead_units"] == dead


def test_cli_main_end_to_end(tmp_path, capsys):
    from pl_toolkit.cli import main

    out = tmp_path / "cli"
    argv = ["init-scale", "--out", str(out), "--workers", "1", "--seeds", "2", "--epochs", "1",
            "--width", "16", "--omega2-grid", "0.1,0.4", "--laziness-points", "10",
            "--no-plot", "--no-progress"]
    assert main(argv) == 0
    assert "test accuracy monotone" in capsys.readouterr().out
    assert (out / "init_scale.json").is_file()
    assert main(["init-scale", "--out", str(tmp_path / "bad"), "--data", "missing.csv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data file" in err[0]
