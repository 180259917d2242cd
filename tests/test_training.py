"""Training loop, tracked quantities and the Trajectory record.

Every tracked quantity is checked against an independent route computed
from the iterates the callback sees: dense NTKs from ``ntk_gram`` or the
explicit Jacobian of ``pl_toolkit._reference``, dense ``eigvalsh``/SVD/
spectral norms, and finite differences.
"""

import json
import pickle

import numpy as np
import pytest

from _tolerances import monte_carlo_tol, tol
from test_hessian import explicit_hessian
from test_ntk import one_thread

import pl_toolkit
from pl_toolkit import (ShallowNet, Trajectory, gradient, lemma3_constants, loss, ntk_gram,
                        residual, train)
from pl_toolkit import _objective, _reference
from pl_toolkit import training as training_module

ALL_LAYERS = [("W", "V"), ("W",), ("V",)]


@pytest.fixture(autouse=True, scope="module")
def _one_numba_thread():
    # Tiny problems, many calls: avoid waiting for parallel threads on a loaded machine.
    with one_thread():
        yield


def problem(rng, n=8, d0=3, d1=24, d2=1, bias=False, activation="gelu"):
    X = rng.standard_normal((n, d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rng.standard_normal((n, d2))
    Y /= 2 * np.linalg.norm(Y)
    net = ShallowNet.init(d0, d1, d2, activation=activation, init="he", seed=5, bias=bias)
    if bias:
        net = net.replace(b1=0.1 * rng.standard_normal(d1), b2=0.1 * rng.standard_normal(d2))
    return net, X, Y


class Recorder:
    """Callback keeping every iterate the loop shows."""

    def __init__(self):
        self.nets = {}
        self.values = {}

    def __call__(self, t, net, values):
        self.nets[t] = net
        self.values[t] = values


# --------------------------------------------------------------------------
# gradients used by the loop
# --------------------------------------------------------------------------
@pytest.mark.parametrize("layers", ALL_LAYERS)
def test_step_gradient_matches_finite_differences(rng, layers):
    net, X, Y = problem(rng, n=6, d1=7, d2=2, bias=True)
    ev = _objective.Evaluation(net, X, Y, layers)
    assert ev.h == pytest.approx(loss(net, X, Y), rel=tol("same_math")["rtol"])
    theta, step = net.parameters(layers), 1e-6
    fd = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = step
        fd[i] = (loss(net.with_parameters(theta + e, layers), X, Y)
                 - loss(net.with_parameters(theta - e, layers), X, Y)) / (2 * step)
    np.testing.assert_allclose(ev.g, fd, rtol=tol("finite_difference")["rtol"],
                               atol=tol("finite_difference")["rtol"] * np.max(np.abs(fd)))
    np.testing.assert_allclose(ev.g, gradient(net, X, Y, layers), **tol("same_math"))


def test_sgd_gradient_unbiased_over_an_epoch(rng):
    # b divides n: the batches of one epoch partition the samples, so their
    # average minibatch gradient (n/b scaling) is exactly the full gradient.
    net, X, Y = problem(rng, n=12, d1=10, d2=2)
    b = 4
    gen = _objective.minibatches(12, b, np.random.default_rng(0))
    batches = [next(gen) for _ in range(12 // b)]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(12))
    hs, gs = zip(*(training_module._minibatch_gradient(net, X, Y, idx) for idx in batches))
    np.testing.assert_allclose(np.mean(gs, axis=0), gradient(net, X, Y), **tol("same_math"))
    assert np.mean(hs) == pytest.approx(loss(net, X, Y), rel=tol("same_math")["rtol"])


def test_sgd_gradient_unbiased_in_expectation(rng):
    # b does not divide n (the remainder of each epoch is dropped): each batch
    # is still a uniform b-subset, so the mean over many draws -> full gradient.
    net, X, Y = problem(rng, n=11, d1=10, d2=1)
    gen = _objective.minibatches(11, 3, np.random.default_rng(1))
    draws = 6000
    gs = np.array([training_module._minibatch_gradient(net, X, Y, next(gen))[1]
                   for _ in range(draws)])
    full = gradient(net, X, Y)
    bound = monte_carlo_tol(draws, scale=gs.std(axis=0))
    assert np.all(np.abs(gs.mean(axis=0) - full) <= bound + 1e-15)


# --------------------------------------------------------------------------
# tracked quantities against independent routes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("layers", ALL_LAYERS)
def test_pl_identity_at_every_tracked_step(rng, layers):
    net, X, Y = problem(rng, n=7, d1=30, d2=2, bias=True)
    rec = Recorder()
    traj = train(net, X, Y, steps=12, lr=0.02, layers=layers, progress=False, callback=rec,
                 track=("loss", "grad_norm", "pl_ratio", "pl_bound", "lambda_min"))
    assert traj.status == "max_steps"
    np.testing.assert_array_equal(traj.steps["grad_norm"], np.arange(13))
    for i, t in enumerate(traj.steps["grad_norm"]):
        r = residual(rec.nets[t], X, Y).reshape(-1)
        K = ntk_gram(rec.nets[t], X, layers=layers)
        np.testing.assert_allclose(traj["grad_norm"][i] ** 2, 4 * r @ K @ r,
                                   **tol("analytic_jacobian"))
        np.testing.assert_allclose(traj["loss"][i], r @ r, **tol("same_math"))
        lam = np.linalg.eigvalsh(K)[0]
        np.testing.assert_allclose(traj["lambda_min"][i], lam, **tol("tracking"))
    assert np.all(traj["pl_ratio"] >= traj["pl_bound"] * (1 - tol("same_math")["rtol"]))
    np.testing.assert_array_equal(traj["pl_bound"], 4 * traj["lambda_min"])


def test_lambda_min_matrix_free_route(rng, monkeypatch):
    monkeypatch.setattr(training_module, "_DENSE_NTK_MAX", 0)
    monkeypatch.setattr(training_module, "_DENSE_LAZINESS_MAX", 0)
    net, X, Y = problem(rng, n=10, d1=40)
    rec = Recorder()
    traj = train(net, X, Y, steps=6, lr=0.05, progress=False, callback=rec,
                 track=("lambda_min", "contraction_predicted", "laziness"))
    for i, t in enumerate(traj.steps["lambda_min"]):
        K = ntk_gram(rec.nets[t], X)
        np.testing.assert_allclose(traj["lambda_min"][i], np.linalg.eigvalsh(K)[0],
                                   **tol("iterative_eigen"))
        K0 = ntk_gram(net, X)
        lazy = np.linalg.norm(K - K0, 2) / np.linalg.norm(K0, 2)
        np.testing.assert_allclose(traj["laziness"][i], lazy, **tol("tracked_lanczos"))
    np.testing.assert_allclose(traj["contraction_predicted"], 1 - 4 * 0.05 * traj["lambda_min"],
                               **tol("same_math"))


@pytest.mark.parametrize("svd_max", [200, 0])
def test_sigma_min_features(rng, monkeypatch, svd_max):
    # svd_max = 0 sends the features through the tracker on H H^T.
    monkeypatch.setattr(training_module, "_SVD_FEATURES_MAX", svd_max)
    net, X, Y = problem(rng, n=9, d1=30)
    rec = Recorder()
    traj = train(net, X, Y, steps=5, lr=0.05, progress=False, callback=rec,
                 track=("sigma_min_features",))
    for i, t in enumerate(traj.steps["sigma_min_features"]):
        s = np.linalg.svd(rec.nets[t].features(X), compute_uv=False)[-1]
        np.testing.assert_allclose(traj["sigma_min_features"][i], s, **tol("iterative_eigen"))


def test_sigma_min_features_is_zero_when_narrow(rng):
    net, X, Y = problem(rng, n=9, d1=5)
    traj = train(net, X, Y, steps=2, lr=0.01, progress=False, track=("sigma_min_features",))
    np.testing.assert_array_equal(traj["sigma_min_features"], 0.0)


@pytest.mark.parametrize("layers", ALL_LAYERS)
def test_hessian_laziness_and_secants(rng, layers):
    net, X, Y = problem(rng, n=6, d1=8, d2=2, bias=True)
    rec = Recorder()
    lr = 0.03
    traj = train(net, X, Y, steps=6, lr=lr, layers=layers, progress=False, callback=rec,
                 track=("hessian_top", "laziness", "smoothness_secant", "jacobian_secant",
                        "contraction", "distance", "path_length", "weight_change"))
    K0 = ntk_gram(net, X, layers=layers)
    theta0 = net.parameters()
    path = 0.0
    for i, t in enumerate(traj.steps["hessian_top"]):
        nt = rec.nets[t]
        ref = np.linalg.eigvalsh(explicit_hessian(nt, X, Y, layers))[-1]
        np.testing.assert_allclose(traj["hessian_top"][i], ref, **tol("tracked_lanczos"))
        K = ntk_gram(nt, X, layers=layers)
        np.testing.assert_allclose(traj["laziness"][i],
                                   np.linalg.norm(K - K0, 2) / np.linalg.norm(K0, 2),
                                   **tol("tracked_lanczos"))
        d = nt.parameters() - theta0
        pw = net.num_parameters(("W",))
        np.testing.assert_allclose(traj["distance"][i], np.linalg.norm(d), **tol("same_math"))
        np.testing.assert_allclose(traj["distance_W"][i], np.linalg.norm(d[:pw]),
                                   **tol("same_math"))
        np.testing.assert_allclose(traj["distance_V"][i], np.linalg.norm(d[pw:]),
                                   **tol("same_math"))
        np.testing.assert_allclose(traj["weight_change_W"][i],
                                   np.linalg.norm(d[:pw]) / np.linalg.norm(theta0[:pw]),
                                   **tol("same_math"))
        if t > 0:
            path += np.linalg.norm(nt.parameters() - rec.nets[t - 1].parameters())
        np.testing.assert_allclose(traj["path_length"][i], path, **tol("same_math"))
    # secants at t use t and t + 1; none at the last iterate
    np.testing.assert_array_equal(traj.steps["contraction"], np.arange(6))
    for i, t in enumerate(traj.steps["jacobian_secant"]):
        a, b = rec.nets[t], rec.nets[t + 1]
        step = np.linalg.norm(b.parameters(layers) - a.parameters(layers))
        dJ = _reference.jacobian(b, X, layers) - _reference.jacobian(a, X, layers)
        np.testing.assert_allclose(traj["jacobian_secant"][i], np.linalg.norm(dJ, 2) / step,
                                   **tol("tracked_lanczos"))
        dg = gradient(b, X, Y, layers) - gradient(a, X, Y, layers)
        # same gradients, but the difference cancels: analytic_jacobian's 1e-10
        np.testing.assert_allclose(traj["smoothness_secant"][i], np.linalg.norm(dg) / step,
                                   **tol("analytic_jacobian"))
        np.testing.assert_allclose(traj["contraction"][i], loss(b, X, Y) / loss(a, X, Y),
                                   **tol("same_math"))


def test_inside_ball_and_theory_step(rng):
    net, X, Y = problem(rng, n=6, d1=40)
    traj = train(net, X, Y, steps=5, lr="theory", lr_constant=50.0, progress=False,
                 track=("distance", "inside_ball"))
    c = lemma3_constants(net, X)
    r0 = np.linalg.norm(residual(net, X, Y))
    eta = 50.0 * c.mu_Phi ** 2 / (c.beta_Phi * 2 * r0 + c.beta_Phi * c.mu_Phi ** 2
                                  + 2.0 * c.nu_Phi ** 2)
    np.testing.assert_allclose(traj.metadata["lr_value"], eta, **tol("same_math"))
    assert traj.metadata["constants"]["rho_Phi"] == c.rho_Phi
    np.testing.assert_array_equal(traj["inside_ball"], traj["distance"] <= c.rho_Phi)
    assert traj["inside_ball"].dtype == bool


def test_one_over_beta_step(rng):
    net, X, Y = problem(rng, n=6, d1=8, d2=2)
    traj = train(net, X, Y, steps=3, lr="1/beta", progress=False)
    beta = np.linalg.eigvalsh(explicit_hessian(net, X, Y, ("W", "V")))[-1]
    np.testing.assert_allclose(traj.metadata["lr_value"], 1 / beta, **tol("tracked_lanczos"))


# --------------------------------------------------------------------------
# the loop's behaviour
# --------------------------------------------------------------------------
@pytest.mark.parametrize("layers", [("W",), ("V",)])
@pytest.mark.parametrize("optimizer", ["gd", "sgd"])
def test_layer_restricted_training_leaves_other_layer_untouched(rng, layers, optimizer):
    net, X, Y = problem(rng, bias=True)
    kw = dict(batch_size=4) if optimizer == "sgd" else {}
    traj = train(net, X, Y, steps=10, lr=0.05, layers=layers, optimizer=optimizer,
                 progress=False, **kw)
    other = ("V",) if layers == ("W",) else ("W",)
    assert traj.final_net.parameters(other).tobytes() == net.parameters(other).tobytes()
    assert not np.array_equal(traj.final_net.parameters(layers), net.parameters(layers))


def test_default_tracking_names_and_cadence(rng):
    net, X, Y = problem(rng)
    traj = train(net, X, Y, steps=7, lr=0.05, progress=False,
                 track=("loss", "distance", "lambda_min"),
                 track_every={"default": 2, "expensive": 3})
    np.testing.assert_array_equal(traj.steps["loss"], [0, 2, 4, 6, 7])
    np.testing.assert_array_equal(traj.steps["distance_V"], [0, 2, 4, 6, 7])
    np.testing.assert_array_equal(traj.steps["lambda_min"], [0, 3, 6, 7])
    traj = train(net, X, Y, steps=3, lr=0.05, progress=False)
    expected = {"loss", "grad_norm", "pl_ratio", "distance", "distance_W", "distance_V",
                "path_length", "contraction"}
    assert set(traj.names) == expected
    assert set(training_module.DEFAULT_TRACK) <= set(training_module.CHEAP)
    traj = train(net, X, Y, steps=1, lr=0.05, progress=False, track=None)
    assert traj.names == ()


def test_gd_decreases_loss_and_matches_manual_loop(rng):
    net, X, Y = problem(rng, d2=2)
    lr = 0.05
    traj = train(net, X, Y, steps=5, lr=lr, progress=False, track=("loss",))
    manual = net
    losses = []
    for _ in range(5):
        losses.append(loss(manual, X, Y))
        manual = manual.with_parameters(manual.parameters() - lr * gradient(manual, X, Y))
    losses.append(loss(manual, X, Y))
    np.testing.assert_allclose(traj["loss"], losses, **tol("same_math"))
    np.testing.assert_allclose(traj.final_net.parameters(), manual.parameters(),
                               **tol("same_math"))


def test_divergence_keeps_finite_prefix(rng):
    net, X, Y = problem(rng)
    traj = train(net, X, Y, steps=50, lr=50.0, progress=False, track="default")
    assert traj.status == "diverged"
    assert traj.metadata["diverged_at"] is not None
    for name in traj.names:
        assert np.all(np.isfinite(traj[name])), name
    assert traj.steps["loss"][-1] == traj.final_step < 50
    assert np.all(np.isfinite(traj.final_net.parameters()))
    assert traj["loss"][-1] <= 1e6 * traj["loss"][0]


def test_divergence_to_non_finite_values(rng):
    # With the threshold disabled the loss overflows: NaN/Inf are caught too.
    net, X, Y = problem(rng, activation="quadratic")
    traj = train(net, X, Y, steps=200, lr=1e3, progress=False, divergence_factor=1e300,
                 track=("loss", "grad_norm"))
    assert traj.status == "diverged"
    assert np.all(np.isfinite(traj["loss"])) and np.all(np.isfinite(traj["grad_norm"]))
    assert np.all(np.isfinite(traj.final_net.parameters()))


def test_stop_loss_converged(rng):
    net, X, Y = problem(rng, n=5, d1=60)
    h0 = loss(net, X, Y)
    traj = train(net, X, Y, steps=2000, lr="1/beta", stop_loss=0.25 * h0, progress=False,
                 track=("loss",))
    assert traj.status == "converged"
    assert traj["loss"][-1] <= 0.25 * h0 < traj["loss"][-2]
    assert traj.final_step == traj.steps["loss"][-1] < 2000
    assert loss(traj.final_net, X, Y) == traj["loss"][-1]


def test_keyboard_interrupt_from_callback(rng):
    net, X, Y = problem(rng)

    def cb(t, net_t, values):
        if t == 5:
            raise KeyboardInterrupt

    traj = train(net, X, Y, steps=100, lr=0.05, progress=False, callback=cb)
    assert traj.status == "interrupted"
    assert traj.final_step == 5
    np.testing.assert_array_equal(traj.steps["loss"], np.arange(6))
    np.testing.assert_array_equal(traj.steps["contraction"], np.arange(5))
    assert loss(traj.final_net, X, Y) == traj["loss"][-1]


def test_other_callback_errors_propagate(rng):
    net, X, Y = problem(rng)

    def cb(t, net_t, values):
        raise RuntimeError("user bug")

    with pytest.raises(RuntimeError, match="user bug"):
        train(net, X, Y, steps=3, lr=0.05, progress=False, callback=cb)


def test_sgd_reproducible_and_seeded(rng):
    net, X, Y = problem(rng, n=12)
    kw = dict(steps=20, lr=0.02, optimizer="sgd", batch_size=4, progress=False,
              track=("loss", "grad_norm", "distance", "lambda_min", "hessian_top"))
    a = train(net, X, Y, seed=3, **kw)
    b = train(net, X, Y, seed=3, **kw)
    c = train(net, X, Y, seed=4, **kw)
    for name in a.names:
        np.testing.assert_array_equal(a[name], b[name])
    assert a.final_net == b.final_net
    assert a.final_net != c.final_net
    np.testing.assert_array_equal(a.steps["loss"], np.arange(21))


def test_sgd_cadences_not_multiples(rng):
    net, X, Y = problem(rng, n=12)
    traj = train(net, X, Y, steps=13, lr=0.02, optimizer="sgd", batch_size=4, progress=False,
                 track=("loss", "lambda_min"), track_every={"loss": 4, "lambda_min": 6})
    np.testing.assert_array_equal(traj.steps["loss"], [0, 4, 8, 12, 13])
    np.testing.assert_array_equal(traj.steps["lambda_min"], [0, 6, 12, 13])


def test_sgd_tracking_is_full_data(rng):
    net, X, Y = problem(rng, n=12)
    rec = Recorder()
    traj = train(net, X, Y, steps=9, lr=0.02, optimizer="sgd", batch_size=4, progress=False,
                 track=("loss", "grad_norm", "contraction"), track_every=4, callback=rec)
    np.testing.assert_array_equal(traj.steps["loss"], [0, 4, 8, 9])
    np.testing.assert_array_equal(traj.steps["contraction"], [0, 4, 8])
    for i, t in enumerate(traj.steps["loss"]):
        np.testing.assert_allclose(traj["loss"][i], loss(rec.nets[t], X, Y), **tol("same_math"))
    for i, t in enumerate(traj.steps["contraction"]):
        ratio = loss(rec.nets[t + 1], X, Y) / loss(rec.nets[t], X, Y)
        np.testing.assert_allclose(traj["contraction"][i], ratio, **tol("same_math"))


# --------------------------------------------------------------------------
# the record
# --------------------------------------------------------------------------
def test_save_load_round_trip(rng, tmp_path):
    net, X, Y = problem(rng, n=6, d1=12, d2=2, bias=True)
    traj = train(net, X, Y, steps=6, lr=0.05, track="all", progress=False)
    path = traj.save(tmp_path / "run")
    assert path.endswith(".npz")
    back = Trajectory.load(tmp_path / "run")
    assert back == traj
    for name in traj.names:
        assert back[name].dtype == traj[name].dtype
        assert back[name].tobytes() == traj[name].tobytes()
        assert back.steps[name].tobytes() == traj.steps[name].tobytes()
    assert back.final_net == traj.final_net and back.initial_net == traj.initial_net
    assert back.metadata["constants"]["mu_Phi"] == traj.metadata["constants"]["mu_Phi"]
    assert back.metadata["lr_value"] == traj.metadata["lr_value"]
    assert pickle.loads(pickle.dumps(traj)) == traj
    with pytest.raises(ValueError, match="^path"):
        Trajectory.load(tmp_path / "missing")


def test_to_dict_is_strict_json(rng):
    net, X, Y = problem(rng)
    traj = train(net, X, Y, steps=4, lr=0.05, track="all", progress=False)
    d = traj.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["status"] == "max_steps"
    assert d["values"]["loss"] == traj["loss"].tolist()
    meta = d["metadata"]
    assert meta["config"]["optimizer"] == "gd" and meta["config"]["seed"] == 0
    assert meta["versions"]["pl_toolkit"] == pl_toolkit.__version__
    assert "numba" in meta["threads"]


def test_trajectory_is_immutable(rng):
    net, X, Y = problem(rng)
    traj = train(net, X, Y, steps=2, lr=0.05, progress=False)
    with pytest.raises(AttributeError):
        traj.status = "converged"
    with pytest.raises(TypeError):
        traj.values["loss"] = np.zeros(3)
    with pytest.raises(ValueError):
        traj["loss"][0] = 1.0
    with pytest.raises(TypeError):
        traj.metadata["config"]["steps"] = 3
    with pytest.raises(KeyError, match="not recorded"):
        traj["hessian_top"]


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0), "^steps"),
    (dict(steps=2.5), "^steps"),
    (dict(lr=0.0), "^lr"),
    (dict(lr=-1.0), "^lr"),
    (dict(lr=float("nan")), "^lr"),
    (dict(lr="fast"), "^lr"),
    (dict(track=("loss", "sharpness")), "^track contains unknown"),
    (dict(track_every=0), "^track_every"),
    (dict(track_every={"hessian": 2}), "^track_every"),
    (dict(optimizer="adam"), "^optimizer"),
    (dict(batch_size=4), "^batch_size"),
    (dict(optimizer="sgd", batch_size=100), "^batch_size"),
    (dict(optimizer="sgd", batch_size=0), "^batch_size"),
    (dict(stop_loss=-1.0), "^stop_loss"),
    (dict(seed=-1), "^seed"),
    (dict(callback=3), "^callback"),
    (dict(layers=("U",)), "^layers"),
    (dict(lr_constant=0.0), "^lr_constant"),
    (dict(divergence_factor=-2.0), "^divergence_factor"),
])
def test_bad_arguments(rng, kwargs, match):
    net, X, Y = problem(rng)
    args = dict(steps=3, lr=0.1, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        train(net, X, Y, **args)


def test_bad_data(rng):
    net, X, Y = problem(rng)
    Xn = X.copy()
    Xn[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"^X contains NaN at index \(2, 1\)"):
        train(net, Xn, Y, steps=2, lr=0.1, progress=False)
    Yn = Y.copy()
    Yn[0, 0] = np.inf
    with pytest.raises(ValueError, match="^Y contains Inf"):
        train(net, X, Yn, steps=2, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="^X has 4 columns"):
        train(net, np.ones((8, 4)), Y, steps=2, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="^Y has shape"):
        train(net, X, Y[:-1], steps=2, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="^net"):
        train("net", X, Y, steps=2, lr=0.1, progress=False)


def test_progress_bar_runs(rng, capsys):
    net, X, Y = problem(rng)
    traj = train(net, X, Y, steps=3, lr=0.05, track=("loss",))
    assert traj.status == "max_steps"
    assert "train" in capsys.readouterr().err


def test_stall_window_stops_a_run_that_no_longer_descends():
    """A 2-unit net cannot fit 30 random labels: the loss plateaus and the run stalls."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rng.standard_normal((30, 1)) / 5
    net = ShallowNet.init(3, 2, seed=0)
    traj = train(net, X, Y, steps=50000, lr=0.05, stall_window=500, stall_rtol=1e-3,
                 progress=False)
    assert traj.status == "stalled"
    t = traj.final_step
    assert t % 500 == 0 and t < 50000
    s, h = traj.series("loss")
    assert h[s == t][0] > (1 - 1e-3) * h[s == t - 500][0]
    # without a window the same run uses its whole budget
    short = train(net, X, Y, steps=t + 10, lr=0.05, progress=False)
    assert short.status == "max_steps"


def test_stall_window_validation():
    net = ShallowNet.init(2, 4, seed=0)
    X, Y = np.eye(2), np.ones((2, 1))
    with pytest.raises(ValueError, match="stall_window"):
        train(net, X, Y, steps=5, lr=0.1, stall_window=0, progress=False)
    with pytest.raises(ValueError, match="stall_rtol"):
        train(net, X, Y, steps=5, lr=0.1, stall_window=2, stall_rtol=1.5, progress=False)


def test_non_finite_initial_loss_is_refused():
    net = ShallowNet(np.full((3, 2), 1e100), np.full((1, 3), 1e100), "identity")
    with pytest.raises(ValueError, match="initial loss"):
        train(net, np.eye(2), np.ones((2, 1)), steps=5, lr=0.1, progress=False)


# --------------------------------------------------------------------------
# step sizes resolved before training
# --------------------------------------------------------------------------
def test_resolved_steps_train_as_the_old_strings(rng):
    from pl_toolkit.step_size import resolve_step_size

    net, X, Y = problem(rng, n=6, d1=40)
    c = lemma3_constants(net, X)
    for rule in ("1/beta", "theory"):
        old = train(net, X, Y, steps=6, lr=rule, track="all", progress=False, seed=3)
        step = resolve_step_size(rule, constants=c, h0=loss(net, X, Y), net=net, X=X, Y=Y,
                                 seed=3)
        new = train(net, X, Y, steps=6, lr=step, track="all", progress=False, seed=3,
                    constants=c)
        assert new.metadata["config"]["lr_rule"] == rule
        assert new.metadata["config"]["lr"] == rule
        if rule == "1/beta":
            # same Lanczos start, same solver stream afterwards: the same run bit for bit
            assert new.metadata["lr_value"] == old.metadata["lr_value"]
            for k in old.names:
                np.testing.assert_array_equal(new[k], old[k], err_msg=k)
        else:
            np.testing.assert_allclose(new.metadata["lr_value"], old.metadata["lr_value"],
                                       **tol("same_math"))


def test_step_size_rules_and_refusals():
    from pl_toolkit.experiments import sgd_lr_from_paper
    from pl_toolkit.step_size import StepSize, resolve_step_size

    assert resolve_step_size("auto", lambda_max=3.0).value == 1.0 / (2.0 * 3.0)
    assert resolve_step_size("sgd_paper", lr_paper=0.01, n=1000, d2=10).value == \
        sgd_lr_from_paper(0.01, 1000, 10)
    assert resolve_step_size(0.25).rule == "given"
    with pytest.raises(ValueError, match="^lr='auto' needs lambda_max"):
        resolve_step_size("auto")
    with pytest.raises(ValueError, match="^lr must be a positive number or one of"):
        resolve_step_size("fast")
    with pytest.raises(ValueError, match="^step size of rule 'given'"):
        StepSize(0.0, "given")


def test_registry_declares_every_quantity():
    q = training_module.QUANTITIES
    assert training_module.TRACKABLE == tuple(x.name for x in q)
    assert set(training_module.CHEAP) | set(training_module.EXPENSIVE) == \
        set(training_module.TRACKABLE)
    assert not set(training_module.CHEAP) & set(training_module.EXPENSIVE)
    assert set(training_module.DEFAULT_TRACK) <= set(training_module.CHEAP)
