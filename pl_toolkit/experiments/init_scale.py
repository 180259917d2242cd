"""Initialization-scale experiment: the paper's Figure 1 on a small real data set (prediction 10).

Teacher-student classification with the paper's network ``x -> V phi(W x)``
(GELU, width 1000): a teacher of the same architecture is trained from He
initialization on the one-hot digit labels, and students are trained by SGD
on the teacher's labels ``one_hot(argmax teacher(x))`` from initializations
``W ~ N(0, omega1^2)``, ``V ~ N(0, omega2^2)`` with the product
``omega1 omega2`` held at He's value ``sqrt(2/d0) sqrt(2/d1)`` while
``omega2`` runs over a grid.  The paper (Section 6, MNIST, 300 epochs)
reports test accuracy rising with ``omega2`` (about .964 -> .990) at train
accuracy about 1, and argues that large ``omega2/omega1`` is necessary for
non-lazy training.  For each ``omega2`` this module reports train and test
accuracy with 95% Student-t intervals over seeds and two laziness measures:
the relative weight change of each layer and the relative NTK change
``||K_T - K_0||_2 / ||K_0||_2`` on a fixed subset of training points.

Differences from the paper (all documented in the report):

* data: scikit-learn's 8x8 digits (d0 = 64, 1797 images; default split
  1297 train / 500 test) instead of MNIST; inputs standardized with one
  global mean and standard deviation, like ``Normalize((0.1307,),
  (0.3081,))`` on MNIST (``||x||^2 ~ d0``, so He preactivations have unit-order
  variance as in the paper).  The toolkit's unit-norm rows are available
  with ``input_scaling="unit"``;
* the teacher is trained with the squared loss (the toolkit's loss), the
  paper's with NLL/log-softmax;
* no biases (the network the theory analyses); the paper's PyTorch layers
  had biases;
* far fewer SGD updates: digits give ``n // 128 = 10`` updates per epoch
  against MNIST's 469, so the default run is much shorter than the
  paper's 140k updates and students need not reach train accuracy 1.

Every ``(omega2, seed)`` pair is one cell of the sweep engine (resumable).
"""

import hashlib
import json
import math
import os
import time

import numpy as np

from .._validation import check_positive_float, check_positive_int
from ._common import (add_common_args, limit_threads, parse_float_list, progress_flag,
                      t_interval, worker_thread_env, write_json)

__all__ = ["PAPER_OMEGA2", "PAPER_HE_OMEGA2", "PAPER_OMEGA2_FACTORS", "INIT_SCALE_DEFAULTS",
           "sgd_lr_from_paper", "prepare_teacher_data", "init_scale_cell", "run_init_scale",
           "configure_parser", "command"]

#: The paper's omega2 grid (repository, MNIST, d0 = 784, d1 = 1000).
PAPER_OMEGA2 = (0.002, 0.00744, 0.01289, 0.01833, 0.02378, 0.03467, 0.04556, 0.05644, 0.06733,
                0.07822)
#: He's omega2 in the paper's setting, sqrt(2/1000) = 0.04472.
PAPER_HE_OMEGA2 = math.sqrt(2.0 / 1000.0)
#: The paper's grid in units of He's omega2 (0.0447, 0.166, ..., 1.749); the
#: default grid is He's omega2 of the actual width times these factors.
PAPER_OMEGA2_FACTORS = tuple(w / PAPER_HE_OMEGA2 for w in PAPER_OMEGA2)

#: Defaults of ``pl-toolkit init-scale`` (see :func:`run_init_scale`).
INIT_SCALE_DEFAULTS = dict(width=1000, epochs=200, teacher_epochs=None, seeds=5, lr_paper=0.01,
                           batch_size=128, n_test=500, data_seed=0, input_scaling="standardize",
                           laziness_points=200, activation="gelu", root_seed=0)

_NAME = "pl_toolkit.init_scale"
_DATA_FILE = "init_scale_data.npz"
# Loss values are not checked for divergence: SGD from a very small omega2
# (very large omega1) first blows the loss up by ~1e10 and then recovers
# (measured), as the paper's PyTorch runs did; only non-finite values stop a run.
_NO_DIVERGENCE_CHECK = 1e300


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
    size.

    Examples
    --------
    >>> sgd_lr_from_paper(0.01, 1000, 10)
    1e-06
    """
    lr_paper = check_positive_float(lr_paper, "lr_paper")
    return lr_paper / (check_positive_int(n, "n") * check_positive_int(d2, "d2"))


# --------------------------------------------------------------------------
# data and teacher
# --------------------------------------------------------------------------
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


def _load_source(data, n_test, data_seed):
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
    raise ValueError(f"input_scaling must be 'standardize' or 'unit', got {how!r}")


def prepare_teacher_data(data="digits", *, n_test=500, data_seed=0, input_scaling="standardize",
                         width=1000, teacher_epochs=100, lr_paper=0.01, batch_size=128,
                         activation="gelu", progress=False, threads=1):
    """Split and scale the data, train the teacher, and label train and test sets.

    Parameters
    ----------
    data : str
        ``"digits"`` or a ``.npz``/``.npy``/``.csv`` file with inputs and class
        labels (one integer column, or one-hot/score columns).
    n_test : int, default 500
        Held-out samples.
    data_seed : int, default 0
        Seed of the split and of the teacher.
    input_scaling : {"standardize", "unit"}, default "standardize"
    width, teacher_epochs, lr_paper, batch_size, activation
        Teacher architecture and SGD (He initialization, squared loss on
        one-hot true labels, ``eta = lr_paper / (n d2)``).
    progress : bool, default False
    threads : int, default 1

    Returns
    -------
    dict
        Arrays ``X``, ``X_test``, ``labels`` (teacher), ``labels_test``
        (teacher), ``true_labels``, ``true_labels_test``; ``info`` with the
        teacher's accuracies on the true labels, the scaling and the source.

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
    >>> sorted(set(d["true_labels"].tolist())) == list(range(10)), d["info"]["classes"]
    (True, 10)
    """
    from ..network import ShallowNet
    from ..training import train

    X_all, y_all, name = _load_source(data, n_test, data_seed)
    n_test = check_positive_int(n_test, "n_test")
    total = X_all.shape[0]
    if n_test >= total - 1:
        raise ValueError(f"n_test = {n_test} leaves no training data ({total} samples)")
    rng = np.random.default_rng(np.random.SeedSequence(int(data_seed)))
    perm = rng.permutation(total)
    tr, te = perm[n_test:], perm[:n_test]
    X, X_test, scaling = _scale_inputs(X_all[tr], X_all[te], input_scaling)
    y, y_test = y_all[tr], y_all[te]
    k = int(y_all.max()) + 1
    n = X.shape[0]
    batch = min(batch_size, n)
    Y = np.eye(k)[y]
    with limit_threads(threads):
        teacher0 = ShallowNet.init(X.shape[1], width, k, activation=activation, init="he",
                                   seed=np.random.SeedSequence(int(data_seed), spawn_key=(7,)))
        traj = train(teacher0, X, Y, steps=teacher_epochs * (n // batch),
                     lr=sgd_lr_from_paper(lr_paper, n, k), optimizer="sgd", batch_size=batch,
                     track=("loss",), track_every=max(1, teacher_epochs * (n // batch)),
                     seed=int(data_seed), progress=progress,
                     divergence_factor=_NO_DIVERGENCE_CHECK)
        teacher = traj.final_net
        lab = np.argmax(teacher.forward(X), axis=1)
        lab_test = np.argmax(teacher.forward(X_test), axis=1)
    info = dict(source=name, n=n, n_test=int(n_test), d0=int(X.shape[1]), classes=k,
                input_scaling=input_scaling, scaling=scaling, teacher_status=traj.status,
                teacher_epochs=int(teacher_epochs), teacher_loss="squared (MSE)",
                teacher_train_acc_true=float(np.mean(lab == y)),
                teacher_test_acc_true=float(np.mean(lab_test == y_test)))
    return dict(X=X, X_test=X_test, labels=lab, labels_test=lab_test, true_labels=y,
                true_labels_test=y_test, info=info)


def _save_data(path, d):
    arrays = {k: d[k] for k in ("X", "X_test", "labels", "labels_test", "true_labels",
                                "true_labels_test")}
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(k.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    digest = h.hexdigest()[:16]
    meta = json.dumps(dict(info=d["info"], settings=d["settings"]), sort_keys=True)
    np.savez(path, meta=np.array(meta), **arrays)
    return digest


def _reuse_data(path, settings):
    # On resume: the teacher and split of the first run (retraining it could
    # change a label through a different thread count and orphan the cells).
    if not os.path.exists(path):
        return None
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        if meta.get("settings") != json.loads(json.dumps(settings)):
            return None
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


def init_scale_cell(cell, seed):
    """Train one student (one ``omega2``, one seed); engine function.

    Parameters
    ----------
    cell : dict
        ``omega2``, ``omega1``, ``seed_index``, ``data_file`` (``.npz``
        written by :func:`run_init_scale`), ``data_sha``, ``width``,
        ``epochs``, ``lr_paper``, ``batch_size``, ``activation``,
        ``laziness_points``, ``threads``.
    seed : numpy.random.SeedSequence
        Seed of the student's weights and of its batches.

    Returns
    -------
    dict
        ``train_acc``, ``test_acc`` (against the teacher's labels),
        ``test_acc_true`` (against the true labels), ``final_loss`` (sum of
        squares over the training set), ``status``, ``weight_change_W``,
        ``weight_change_V`` (``||W_T - W_0||_F / ||W_0||_F``, same for V),
        ``ntk_change`` (``||K_T - K_0||_2 / ||K_0||_2`` on the first
        ``laziness_points`` training points), ``dead_units`` (fraction of
        hidden units with ``|phi'| < 1e-3`` on every point of that subset),
        ``lr``, ``steps``,
        ``seconds``.

    Examples
    --------
    One student on a hand-made data file (30 points, 3 classes):

    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> from pl_toolkit.experiments import init_scale_cell, sgd_lr_from_paper
    >>> rng = np.random.default_rng(0)
    >>> tmp = tempfile.mkdtemp()
    >>> lab = np.arange(40) % 3
    >>> path = os.path.join(tmp, "data.npz")
    >>> np.savez(path, X=rng.standard_normal((30, 4)), X_test=rng.standard_normal((10, 4)),
    ...          labels=lab[:30], labels_test=lab[30:], true_labels=lab[:30],
    ...          true_labels_test=lab[30:])
    >>> cell = dict(omega1=0.7, omega2=0.1, seed_index=0, data_file=path, data_sha="toy",
    ...             width=16, epochs=2, lr_paper=0.01, batch_size=10, activation="gelu",
    ...             laziness_points=10, threads=1)
    >>> out = init_scale_cell(cell, np.random.SeedSequence(0))
    >>> out["steps"], bool(np.isclose(out["lr"], sgd_lr_from_paper(0.01, 30, 3)))
    (6, True)
    >>> all(0 <= out[k] <= 1 for k in ("train_acc", "test_acc", "dead_units"))
    True
    >>> shutil.rmtree(tmp)
    """
    from ..network import ShallowNet
    from ..ntk import ntk_gram
    from ..spectrum import lambda_max, lambda_min
    from ..training import train

    t0 = time.perf_counter()
    d = _load_data(cell["data_file"], cell["data_sha"])
    X, lab = d["X"], d["labels"]
    n, d0 = X.shape
    k = int(max(lab.max(), d["labels_test"].max())) + 1
    Y = np.eye(k)[lab]
    batch = min(int(cell["batch_size"]), n)
    steps = int(cell["epochs"]) * (n // batch)
    lr = sgd_lr_from_paper(cell["lr_paper"], n, k)
    with limit_threads(cell.get("threads", 1)):
        net0 = ShallowNet.init(d0, int(cell["width"]), k, activation=cell["activation"],
                               init=(float(cell["omega1"]), float(cell["omega2"])), seed=seed)
        traj = train(net0, X, Y, steps=steps, lr=lr, optimizer="sgd", batch_size=batch,
                     track=("loss",), track_every=steps, seed=seed, progress=False,
                     divergence_factor=_NO_DIVERGENCE_CHECK)
        net = traj.final_net
        train_acc = float(np.mean(np.argmax(net.forward(X), axis=1) == lab))
        out_test = np.argmax(net.forward(d["X_test"]), axis=1)
        sub = X[: min(int(cell["laziness_points"]), n)]
        K0 = ntk_gram(net0, sub)
        KT = ntk_gram(net, sub)
        D = KT - K0
        # A unit is dead on the subset when |phi'| < 1e-3 at every point there.
        G = net.activation.dphi(net.preactivations(sub))
        dead = float(np.mean(np.max(np.abs(G), axis=0) < 1e-3))
        # Dense LAPACK on the (small) subset: exact to rounding, so the
        # figure does not depend on an iterative solver's stopping rule.
        k0 = float(lambda_max(K0, method="dense").value)
        dn = max(float(lambda_max(D, method="dense").value),
                 -float(lambda_min(D, method="dense").value))
    return dict(
        train_acc=train_acc, test_acc=float(np.mean(out_test == d["labels_test"])),
        test_acc_true=float(np.mean(out_test == d["true_labels_test"])),
        final_loss=float(traj["loss"][-1]), status=traj.status,
        weight_change_W=float(np.linalg.norm(net.W - net0.W) / np.linalg.norm(net0.W)),
        weight_change_V=float(np.linalg.norm(net.V - net0.V) / np.linalg.norm(net0.V)),
        ntk_change=dn / k0 if k0 > 0 else math.nan, dead_units=dead, lr=lr, steps=steps,
        seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------
# the experiment
# --------------------------------------------------------------------------
def _omega_grid(omega2_grid, width, d0):
    he1, he2 = math.sqrt(2.0 / d0), math.sqrt(2.0 / width)
    if omega2_grid is None:
        grid = [he2 * f for f in PAPER_OMEGA2_FACTORS]
    else:
        grid = [check_positive_float(w, "omega2_grid") for w in omega2_grid]
        if not grid:
            raise ValueError("omega2_grid is empty")
    return [(he1 * he2 / w2, w2) for w2 in sorted(set(grid))], he1, he2


def run_init_scale(outdir, *, data="digits", width=1000, epochs=INIT_SCALE_DEFAULTS["epochs"],
                   teacher_epochs=None, seeds=5, omega2_grid=None, lr_paper=0.01,
                   batch_size=128, n_test=500, data_seed=0, input_scaling="standardize",
                   laziness_points=200, activation="gelu", root_seed=0, workers=None,
                   dask_scheduler=None, resume=False, progress=False, threads_per_cell=1,
                   plot=True):
    """Run the initialization-scale experiment (Figure 1) and write its report files.

    Parameters
    ----------
    outdir : str or path-like
        Output directory: ``sweep.sqlite`` (engine), ``init_scale_data.npz``
        (scaled data and teacher labels), ``init_scale.json``,
        ``init_scale.md``, ``init_scale.png``.
    data : str, default "digits"
        ``"digits"`` or a data file with class labels.
    width : int, default 1000
        Hidden width ``d1`` of teacher and students.
    epochs : int, default 200
        Student epochs (``n // batch_size`` SGD updates each).
    teacher_epochs : int, optional
        Teacher epochs (default ``epochs``).
    seeds : int, default 5
        Students per ``omega2``.
    omega2_grid : sequence of float, optional
        Default: He's ``omega2 = sqrt(2/width)`` times
        :data:`PAPER_OMEGA2_FACTORS` (the paper's grid divided by its He
        value .04472).  ``omega1 = sqrt(2/d0) sqrt(2/width) / omega2``.
    lr_paper : float, default 0.01
        PyTorch-style learning rate on the mean MSE (see
        :func:`sgd_lr_from_paper`).
    batch_size : int, default 128
    n_test : int, default 500
    data_seed : int, default 0
        Seed of the split and the teacher.
    input_scaling : {"standardize", "unit"}, default "standardize"
    laziness_points : int, default 200
        Training points of the NTK-change subset (the first ones of the
        shuffled training split; at most 200 keeps ``K`` at 2000 x 2000).
    activation : str, default "gelu"
    root_seed : int, default 0
    workers, dask_scheduler, resume, progress
        Passed to the sweep engine.
    threads_per_cell : int, default 1
    plot : bool, default True

    Returns
    -------
    dict
        The content of ``init_scale.json``: ``config``, ``data`` (teacher
        info), ``per_omega2`` (mean and 95% t-interval of every measure),
        ``monotone_test_acc`` and ``spearman`` (trend of test accuracy in
        ``omega2``), ``run_seconds``.

    Raises
    ------
    ValueError
        On bad input, naming the argument (e.g. a missing data file).

    Notes
    -----
    Measured cost of the default run (50 students, 200 epochs = 2000 SGD
    updates each, teacher 200 epochs): 11.8 min wall with ``workers=2`` on
    a shared 2-core machine (load average 9-10; 377 s of CPU in total);
    with 100 epochs 3.6 min (load average 7).  ``--epochs`` scales it
    linearly.

    With the paper's step (``lr_paper = 0.01``) and ``omega2 <= 0.41`` x He
    (``omega1 >= 0.43``, preactivations of standard deviation >= 3.4), the
    loss first grows by up to ~1e10 and the hidden units end up dead (no
    gradient): those students stay near chance.  Larger steps make it
    worse (``lr_paper = 0.05`` gives non-finite losses there).

    Examples
    --------
    A toy run (width 32, two epochs, two ``omega2``, two students each);
    every row keeps ``omega1 omega2`` at He's ``sqrt(2/d0) sqrt(2/width)``:

    >>> import math, os, shutil, tempfile
    >>> from pl_toolkit.experiments import run_init_scale
    >>> out = tempfile.mkdtemp()
    >>> rep = run_init_scale(out, width=32, epochs=2, seeds=2, omega2_grid=(0.05, 0.2),
    ...                      n_test=100, batch_size=64, laziness_points=20, plot=False,
    ...                      workers=1)
    >>> sorted(os.listdir(out))
    ['init_scale.json', 'init_scale.md', 'init_scale_data.npz', 'sweep.sqlite']
    >>> he = math.sqrt(2 / 64) * math.sqrt(2 / 32)
    >>> [(r["omega2"], r["runs"], math.isclose(r["omega1"] * r["omega2"], he))
    ...  for r in rep["per_omega2"]]
    [(0.05, 2, True), (0.2, 2, True)]
    >>> shutil.rmtree(out)
    """
    from .._engine import load_results, run_sweep
    from ..activations import get_activation

    width = check_positive_int(width, "width")
    epochs = check_positive_int(epochs, "epochs")
    teacher_epochs = epochs if teacher_epochs is None else check_positive_int(
        teacher_epochs, "teacher_epochs")
    seeds = check_positive_int(seeds, "seeds")
    lr_paper = check_positive_float(lr_paper, "lr_paper")
    batch_size = check_positive_int(batch_size, "batch_size")
    laziness_points = check_positive_int(laziness_points, "laziness_points")
    threads_per_cell = check_positive_int(threads_per_cell, "threads_per_cell")
    root_seed = check_positive_int(root_seed, "root_seed", minimum=0)
    get_activation(activation)
    if input_scaling not in ("standardize", "unit"):
        raise ValueError(f"input_scaling must be 'standardize' or 'unit', got {input_scaling!r}")
    if omega2_grid is not None:
        omega2_grid = [check_positive_float(w, "omega2_grid") for w in omega2_grid]
        if not omega2_grid:
            raise ValueError("omega2_grid is empty")
    n_test = check_positive_int(n_test, "n_test")
    if str(data).lower() != "digits" and not os.path.exists(os.fspath(data)):
        raise ValueError(f"data file {os.fspath(data)!r} does not exist")

    os.makedirs(outdir, exist_ok=True)
    t0 = time.perf_counter()
    data_file = os.path.abspath(os.path.join(outdir, _DATA_FILE))
    settings = dict(data=str(data), n_test=n_test, data_seed=data_seed,
                    input_scaling=input_scaling, width=width, teacher_epochs=teacher_epochs,
                    lr_paper=lr_paper, batch_size=batch_size, activation=activation)
    prep = _reuse_data(data_file, settings) if resume else None
    if prep is None:
        prep = prepare_teacher_data(data, n_test=n_test, data_seed=data_seed,
                                    input_scaling=input_scaling, width=width,
                                    teacher_epochs=teacher_epochs, lr_paper=lr_paper,
                                    batch_size=batch_size, activation=activation,
                                    progress=progress, threads=threads_per_cell)
        prep["settings"] = settings
    teacher_seconds = time.perf_counter() - t0
    digest = _save_data(data_file, prep)
    d0 = prep["info"]["d0"]
    pairs, he1, he2 = _omega_grid(omega2_grid, width, d0)
    task = dict(data_file=data_file, data_sha=digest, width=width, epochs=epochs,
                lr_paper=lr_paper, batch_size=batch_size, activation=activation,
                laziness_points=laziness_points, threads=threads_per_cell)
    cells = [dict(task, omega1=w1, omega2=w2, seed_index=s) for s in range(seeds)
             for (w1, w2) in pairs]
    config = dict(task, data=str(data) if str(data).lower() == "digits" else
                  os.path.basename(os.fspath(data)), n_test=n_test, data_seed=data_seed,
                  input_scaling=input_scaling, teacher_epochs=teacher_epochs, seeds=seeds,
                  omega2_grid=[w2 for _, w2 in pairs])
    config.pop("data_file")
    with worker_thread_env(threads_per_cell):
        summary = run_sweep(init_scale_cell, cells, outdir, name=_NAME, config=config,
                            root_seed=root_seed, workers=workers,
                            dask_scheduler=dask_scheduler, resume=resume, progress=progress)
    run_seconds = time.perf_counter() - t0
    rows = [r for r in load_results(outdir) if r["cell"].get("data_sha") == digest]
    rep = summarize_init_scale(rows, pairs, seeds)
    rep.update(config=dict(config, he_omega1=he1, he_omega2=he2, omega1_omega2=he1 * he2,
                           omega2_over_he=[w2 / he2 for _, w2 in pairs],
                           sgd_lr=sgd_lr_from_paper(lr_paper, prep["info"]["n"],
                                                    prep["info"]["classes"]),
                           root_seed=root_seed),
               data=prep["info"], run_seconds=run_seconds, teacher_seconds=teacher_seconds,
               engine=dict(n_cells=summary.n_cells, n_skipped=summary.n_skipped,
                           n_ok=summary.n_ok, n_error=summary.n_error))
    write_json(os.path.join(outdir, "init_scale.json"), rep)
    if plot:
        _plot(rep, os.path.join(outdir, "init_scale.png"))
    with open(os.path.join(outdir, "init_scale.md"), "w") as fh:
        fh.write(_markdown(rep))
    return rep


_MEASURES = ("train_acc", "test_acc", "test_acc_true", "weight_change_W", "weight_change_V",
             "ntk_change", "dead_units", "final_loss")


def summarize_init_scale(rows, pairs, seeds):
    """Per-omega2 means and 95% t-intervals from the engine's records."""
    by = {}
    errors = []
    for r in rows:
        c = r["cell"]
        if r["status"] != "ok":
            errors.append(dict(cell={k: c[k] for k in ("omega2", "seed_index")}, error=r["error"]))
            continue
        by.setdefault(float(c["omega2"]), []).append(r["result"])
    per = []
    for w1, w2 in pairs:
        res = by.get(float(w2), [])
        entry = dict(omega1=w1, omega2=w2, runs=len(res),
                     statuses=sorted({x["status"] for x in res}))
        for m in _MEASURES:
            entry[m] = t_interval([x.get(m, math.nan) for x in res])
        per.append(entry)
    means = [p["test_acc"]["mean"] for p in per]
    finite = [m for m in means if math.isfinite(m)]
    mono = bool(len(finite) == len(means) and all(b >= a for a, b in zip(means, means[1:])))
    rho = None
    if len(finite) >= 3 and len(finite) == len(means):
        from scipy.stats import spearmanr

        rho = float(spearmanr(np.arange(len(means)), means).statistic)
    return dict(per_omega2=per, monotone_test_acc=mono, spearman_test_acc_vs_omega2=rho,
                errors=errors[:20], n_errors=len(errors),
                ci_method="Student t, 95%, two-sided, over seeds (mean +- t_{.975,k-1} s/sqrt(k))")


def _markdown(rep):
    cfg, info = rep["config"], rep["data"]
    lines = ["# Initialization scale at fixed omega1 omega2 (Figure 1, prediction 10)", "",
             f"Data: {info['source']}, n = {info['n']} train / {info['n_test']} test, d0 = "
             f"{info['d0']}, {info['classes']} classes, inputs {info['input_scaling']}d. "
             f"Teacher: width {cfg['width']}, He init, {cfg['teacher_epochs']} epochs of SGD on "
             f"the squared loss (the paper used NLL); teacher accuracy on the true labels "
             f"{info['teacher_train_acc_true']:.4f} train / {info['teacher_test_acc_true']:.4f} "
             f"test. Labels = one-hot(argmax teacher).",
             f"Students: {cfg['activation']}, width {cfg['width']}, no biases, SGD batch "
             f"{cfg['batch_size']}, {cfg['epochs']} epochs, paper learning rate "
             f"{cfg['lr_paper']} on the mean MSE = step {cfg['sgd_lr']:.4g} on the toolkit's "
             f"sum-of-squares minibatch loss. omega1 omega2 = sqrt(2/d0) sqrt(2/d1) = "
             f"{cfg['omega1_omega2']:.4g}; He omega2 = {cfg['he_omega2']:.4g}.",
             f"Intervals: {rep['ci_method']}; {cfg['seeds']} seeds.", "",
             "| omega2 | omega2/He | omega1 | train acc | test acc (teacher) | test acc (true) |"
             " dW/W | dV/V | dK/K | dead units | status |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def ci(d, f=".4f"):
        if not math.isfinite(d["mean"]):
            return "--"
        return f"{d['mean']:{f}} +- {d['half_width']:{f}}"

    for p, r in zip(rep["per_omega2"], cfg["omega2_over_he"]):
        lines.append(f"| {p['omega2']:.4g} | {r:.3f} | {p['omega1']:.4g} | {ci(p['train_acc'])} | "
                     f"{ci(p['test_acc'])} | {ci(p['test_acc_true'])} | "
                     f"{ci(p['weight_change_W'], '.3g')} | {ci(p['weight_change_V'], '.3g')} | "
                     f"{ci(p['ntk_change'], '.3g')} | {ci(p['dead_units'], '.3f')} | "
                     f"{','.join(p['statuses'])} |")
    rho = rep["spearman_test_acc_vs_omega2"]
    lines += ["", f"Test accuracy monotone in omega2: {rep['monotone_test_acc']}; Spearman "
              f"correlation with omega2: {'--' if rho is None else format(rho, '.3f')}.",
              "Paper (MNIST, 300 epochs, 469 updates/epoch): test accuracy .9645 -> .9902 over "
              "the same omega2/He grid, train accuracy >= .9998.", "",
              "dW/W, dV/V: ||W_T - W_0||_F / ||W_0||_F per layer; dK/K: ||K_T - K_0||_2 / "
              f"||K_0||_2 on the first {cfg['laziness_points']} training points (smaller = "
              "lazier; 1 when K_T ~ 0, i.e. the hidden units died). Dead units: fraction of "
              "hidden units with |phi'| < 1e-3 at every point of that subset.", "",
              f"Run time: {rep['run_seconds']:.1f} s wall "
              f"(teacher {rep['teacher_seconds']:.1f} s). "
              f"Cells: {rep['engine']}; errors {rep['n_errors']}.", ""]
    return "\n".join(lines)


def _plot(rep, path):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5))
    ax, ax2 = fig.subplots(1, 2)
    per = rep["per_omega2"]
    w2 = np.array([p["omega2"] for p in per])
    for key, lab, mk in (("train_acc", "train (teacher labels)", "o"),
                         ("test_acc", "test (teacher labels)", "s"),
                         ("test_acc_true", "test (true labels)", "^")):
        m = np.array([p[key]["mean"] for p in per])
        h = np.array([p[key]["half_width"] for p in per])
        ax.errorbar(w2, m, yerr=h, fmt=mk + "-", capsize=3, ms=4, label=lab)
    he2 = rep["config"]["he_omega2"]
    ax.axvline(he2, color="k", ls="--", lw=1, label=f"He omega2 = {he2:.3g}")
    ax.set_xlabel("omega2 (omega1 omega2 fixed at He)")
    ax.set_ylabel("accuracy (95% t-interval over seeds)")
    ax.set_title("accuracy vs omega2")
    ax.legend(fontsize=7)
    for key, lab, mk in (("weight_change_W", "||dW||/||W0||", "o"),
                         ("weight_change_V", "||dV||/||V0||", "s"),
                         ("ntk_change", "||K_T - K_0||/||K_0||", "^")):
        m = np.array([p[key]["mean"] for p in per])
        h = np.array([p[key]["half_width"] for p in per])
        ax2.errorbar(w2, m, yerr=h, fmt=mk + "-", capsize=3, ms=4, label=lab)
    ax2.axvline(he2, color="k", ls="--", lw=1)
    ax2.set_xlabel("omega2")
    ax2.set_yscale("log")
    ax2.set_title("laziness (relative change, end of training)")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
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
    """
    d = INIT_SCALE_DEFAULTS
    g = p.add_argument_group("experiment")
    g.add_argument("--data", default="digits", metavar="digits|FILE",
                   help="'digits' (scikit-learn) or a .npz (X, Y) / .csv file with class labels")
    g.add_argument("--width", type=int, default=d["width"], help="hidden width (default: 1000)")
    g.add_argument("--epochs", type=int, default=d["epochs"],
                   help=f"student epochs (default: {d['epochs']})")
    g.add_argument("--teacher-epochs", type=int, default=None,
                   help="teacher epochs (default: --epochs)")
    g.add_argument("--omega2-grid", default=None, metavar="W1,W2,...",
                   help="omega2 values (default: He omega2 x the paper's factors .045 ... 1.749)")
    g.add_argument("--lr-paper", type=float, default=d["lr_paper"],
                   help="learning rate of SGD on the mean MSE, as in the paper (default: 0.01)")
    g.add_argument("--batch-size", type=int, default=d["batch_size"],
                   help="SGD batch (default: 128)")
    g.add_argument("--n-test", type=int, default=d["n_test"],
                   help="held-out samples (default: 500)")
    g.add_argument("--data-seed", type=int, default=d["data_seed"],
                   help="seed of the split and the teacher (default: 0)")
    g.add_argument("--input-scaling", default=d["input_scaling"],
                   help="standardize (global mean/std, like MNIST) or unit (default: standardize)")
    g.add_argument("--laziness-points", type=int, default=d["laziness_points"],
                   help="training points for ||K_T - K_0||/||K_0|| (default: 200)")
    g.add_argument("--activation", default=d["activation"], help="activation (default: gelu)")
    g.add_argument("--no-plot", action="store_true", help="skip init_scale.png")
    add_common_args(p, "pl_init_scale")
    p.set_defaults(func=command)
    return p


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
        On bad input (one line naming the argument).
    """
    grid = None if args.omega2_grid is None else parse_float_list(args.omega2_grid, "omega2_grid")
    if args.dask_scheduler is not None and args.workers is not None:
        raise ValueError("workers and dask-scheduler are exclusive: give one of them")
    rep = run_init_scale(args.out, data=args.data, width=args.width, epochs=args.epochs,
                         teacher_epochs=args.teacher_epochs, seeds=args.seeds, omega2_grid=grid,
                         lr_paper=args.lr_paper, batch_size=args.batch_size, n_test=args.n_test,
                         data_seed=args.data_seed, input_scaling=args.input_scaling,
                         laziness_points=args.laziness_points, activation=args.activation,
                         root_seed=args.root_seed, workers=args.workers,
                         dask_scheduler=args.dask_scheduler, resume=args.resume,
                         progress=progress_flag(args), threads_per_cell=args.threads_per_cell,
                         plot=not args.no_plot)
    if args.json:
        from ._common import strict_json

        print(json.dumps(strict_json({k: rep[k] for k in (
            "config", "data", "per_omega2", "monotone_test_acc", "spearman_test_acc_vs_omega2",
            "run_seconds", "engine", "n_errors")}), indent=2))
    elif not args.quiet:
        print(f"init scale: {rep['data']['source']}, width {args.width}, {args.epochs} epochs, "
              f"{args.seeds} seeds -> {args.out}")
        print(f"{'omega2':>9} {'/He':>6} {'train acc':>17} {'test acc':>17} {'dK/K':>9}")
        for p, r in zip(rep["per_omega2"], rep["config"]["omega2_over_he"]):
            print(f"{p['omega2']:>9.4g} {r:>6.3f} "
                  f"{p['train_acc']['mean']:>8.4f}+-{p['train_acc']['half_width']:<7.4f} "
                  f"{p['test_acc']['mean']:>8.4f}+-{p['test_acc']['half_width']:<7.4f} "
                  f"{p['ntk_change']['mean']:>9.3g}")
        print(f"test accuracy monotone in omega2: {rep['monotone_test_acc']}; "
              f"time {rep['run_seconds']:.1f} s")
    return 0 if rep["n_errors"] == 0 else 1
