"""Data sets in the paper's setting: unit-norm inputs, ``||Y||_F <= 1``.

Section 2 of the paper assumes ``||x_i|| = 1`` for every sample and
``||Y||_F <= 1`` for the whole label matrix.  Every loader here returns a
:class:`Dataset` that satisfies both (unless told not to), with samples as
rows.
"""

import os
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_float_array, check_positive_int

__all__ = ["Dataset", "digits", "unit_sphere", "teacher_student", "load_file", "load_dataset",
           "normalize_rows", "scale_labels"]


@dataclass(frozen=True)
class Dataset:
    """Inputs, targets and provenance of a data set.

    Attributes
    ----------
    X : ndarray of shape (n, d0)
        Inputs as rows.
    Y : ndarray of shape (n, d2)
        Targets.
    name : str
        Short description (used in reports).
    labels : ndarray of shape (n,), optional
        Integer class labels when the task is classification.
    X_test, Y_test, labels_test : ndarray, optional
        Held-out split, when the loader made one.
    info : dict
        Provenance (source, seed, scaling applied).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit.data import Dataset
    >>> ds = Dataset(X=np.eye(3), Y=np.ones((3, 2)), name="toy")
    >>> ds.n, ds.d0, ds.d2, ds.labels is None, ds.info
    (3, 3, 2, True, {})
    """

    X: np.ndarray
    Y: np.ndarray
    name: str
    labels: np.ndarray = None
    X_test: np.ndarray = None
    Y_test: np.ndarray = None
    labels_test: np.ndarray = None
    info: dict = field(default_factory=dict)

    @property
    def n(self):
        """Number of training samples."""
        return self.X.shape[0]

    @property
    def d0(self):
        """Input dimension."""
        return self.X.shape[1]

    @property
    def d2(self):
        """Output dimension."""
        return self.Y.shape[1]


def _rng(seed):
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.default_rng(ss)


def normalize_rows(X, name="X"):
    """Scale every row of ``X`` to unit Euclidean norm.

    Parameters
    ----------
    X : array_like of shape (n, d0)
        Inputs.
    name : str, default "X"
        Argument name for error messages.

    Returns
    -------
    ndarray of shape (n, d0)
        Rows of norm 1.

    Raises
    ------
    ValueError
        If a row is zero (it has no direction).

    Examples
    --------
    >>> normalize_rows([[3.0, 4.0]]).tolist()
    [[0.6, 0.8]]
    """
    X = as_float_array(X, name, ndim=2)
    norms = np.linalg.norm(X, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(f"{name} has an all-zero row at index {int(zero[0])}; it cannot be unit-normalized")
    return X / norms[:, None]


def scale_labels(Y, name="Y"):
    """Scale ``Y`` so that ``||Y||_F = 1`` (the paper's ``||Y|| <= 1``), if nonzero.

    Parameters
    ----------
    Y : array_like of shape (n, d2)
        Targets; a zero array is returned unchanged.
    name : str, default "Y"
        Argument name for error messages.

    Returns
    -------
    ndarray of shape (n, d2)
        ``Y / ||Y||_F`` (float64).

    Examples
    --------
    >>> scale_labels([[3.0], [4.0]]).tolist()
    [[0.6], [0.8]]
    >>> scale_labels([[0.0], [0.0]]).tolist()
    [[0.0], [0.0]]
    """
    Y = as_float_array(Y, name, ndim=2)
    nrm = np.linalg.norm(Y)
    return Y / nrm if nrm > 0 else Y


def _one_hot(labels, k):
    Y = np.zeros((labels.size, k))
    Y[np.arange(labels.size), labels] = 1.0
    return Y


def digits(n=None, *, seed=0, test_size=0, classes=None, normalize=True):
    """The UCI handwritten digits bundled with scikit-learn (8x8, d0 = 64).

    Parameters
    ----------
    n : int, optional
        Number of training samples, drawn without replacement (all 1797 by
        default, less ``test_size``).
    seed : int or SeedSequence, default 0
        Seed for the subsample.
    test_size : int, default 0
        Number of further samples kept as a test split.
    classes : sequence of int, optional
        Keep only these digit classes (targets stay one-hot over them).
    normalize : bool, default True
        Unit-normalize rows and scale the one-hot targets to
        ``||Y||_F = 1``.

    Returns
    -------
    Dataset
        Real data, no download needed.

    Examples
    --------
    >>> ds = digits(100, seed=0)
    >>> ds.X.shape, ds.Y.shape
    ((100, 64), (100, 10))
    >>> round(float((ds.Y ** 2).sum()), 12)
    1.0
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    if classes is not None:
        classes = sorted(int(c) for c in classes)
        keep = np.isin(y, classes)
        X, y = X[keep], np.searchsorted(classes, y[keep])
        k = len(classes)
    else:
        k = 10
    total = X.shape[0]
    test_size = int(test_size)
    n = total - test_size if n is None else check_positive_int(n, "n")
    if n + test_size > total:
        raise ValueError(f"n = {n} plus test_size = {test_size} exceeds the {total} digits available")
    idx = _rng(seed).permutation(total)[: n + test_size]
    Xs, ys = X[idx], y[idx]
    if normalize:
        Xs = normalize_rows(Xs)
    Y = _one_hot(ys, k)
    Ytr, Yte = Y[:n], Y[n:]
    if normalize:
        Ytr = Ytr / np.sqrt(n)
        Yte = Yte / np.sqrt(max(test_size, 1))
    return Dataset(X=Xs[:n], Y=Ytr, name=f"digits(n={n})", labels=ys[:n],
                   X_test=Xs[n:] if test_size else None, Y_test=Yte if test_size else None,
                   labels_test=ys[n:] if test_size else None,
                   info=dict(source="sklearn.datasets.load_digits", seed=_seed_repr(seed),
                             unit_rows=normalize, labels_scaled=normalize))


def _seed_repr(seed):
    return seed.entropy if isinstance(seed, np.random.SeedSequence) else seed


def unit_sphere(n, d0, d2=1, *, seed=0):
    """Random inputs uniform on the unit sphere and random labels, ``||Y||_F = 1``.

    Parameters
    ----------
    n, d0 : int
        Samples and input dimension.
    d2 : int, default 1
        Output dimension.
    seed : int or SeedSequence, default 0
        Seed.

    Returns
    -------
    Dataset
        Synthetic data in the paper's Section 2 setting; for ``n ~ d0^t``
        the heuristics ``sigma_max(X)^2 ~ n/d0`` and
        ``sigma_min(X^{*t}) ~ 1`` apply.

    Examples
    --------
    >>> ds = unit_sphere(50, 8, seed=1)
    >>> bool(abs(float((ds.X ** 2).sum(axis=1).max()) - 1.0) < 1e-12)
    True
    """
    n = check_positive_int(n, "n")
    d0 = check_positive_int(d0, "d0")
    d2 = check_positive_int(d2, "d2")
    rng = _rng(seed)
    X = normalize_rows(rng.standard_normal((n, d0)))
    Y = scale_labels(rng.standard_normal((n, d2)))
    return Dataset(X=X, Y=Y, name=f"unit_sphere(n={n}, d0={d0})",
                   info=dict(source="unit sphere", seed=_seed_repr(seed)))


def teacher_student(n, d0, d2=1, *, teacher_width=None, activation="gelu", seed=0, test_size=0):
    """Unit-sphere inputs labelled by a random teacher network of the same family.

    Parameters
    ----------
    n, d0 : int
        Samples and input dimension.
    d2 : int, default 1
        Output dimension.
    teacher_width : int, optional
        Teacher width (``4 d0`` by default); LeCun initialization.
    activation : str, default "gelu"
        Teacher activation.
    seed : int or SeedSequence, default 0
        Seed (teacher and inputs are drawn from spawned streams).
    test_size : int, default 0
        Extra samples kept as a test split.

    Returns
    -------
    Dataset
        Targets scaled by one factor so that ``||Y||_F = 1`` on the
        training split (the test split uses the same factor).

    Examples
    --------
    The targets are the teacher's outputs, rescaled once:

    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet
    >>> ds = teacher_student(30, 5, seed=0, test_size=10)
    >>> ds.X.shape, ds.Y.shape, ds.X_test.shape, ds.info["teacher_width"]
    ((30, 5), (30, 1), (10, 5), 20)
    >>> round(float(np.linalg.norm(ds.Y)), 12)
    1.0
    >>> s_teacher, _ = np.random.SeedSequence(0).spawn(2)
    >>> teacher = ShallowNet.init(5, 20, 1, activation="gelu", seed=s_teacher)
    >>> f = teacher.forward(ds.X)
    >>> bool(np.allclose(ds.Y, f / np.linalg.norm(f)))
    True
    """
    from .network import ShallowNet

    n = check_positive_int(n, "n")
    d0 = check_positive_int(d0, "d0")
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    s_teacher, s_data = ss.spawn(2)
    width = 4 * d0 if teacher_width is None else check_positive_int(teacher_width, "teacher_width")
    teacher = ShallowNet.init(d0, width, d2, activation=activation, seed=s_teacher)
    Xall = normalize_rows(_rng(s_data).standard_normal((n + int(test_size), d0)))
    Yall = teacher.forward(Xall)
    scale = np.linalg.norm(Yall[:n])
    Yall = Yall / scale if scale > 0 else Yall
    return Dataset(X=Xall[:n], Y=Yall[:n], name=f"teacher_student(n={n}, d0={d0})",
                   X_test=Xall[n:] if test_size else None, Y_test=Yall[n:] if test_size else None,
                   info=dict(source="teacher-student", teacher_width=width, activation=activation,
                             seed=_seed_repr(seed)))


def load_file(path, *, n=None, normalize=True, label_columns=1, seed=0):
    """Load a user data file: ``.npz`` (arrays ``X`` and ``Y``), ``.npy`` or ``.csv``.

    Parameters
    ----------
    path : str or os.PathLike
        File.  ``.npz`` must hold ``X`` and may hold ``Y``; ``.npy`` holds
        ``X`` only; ``.csv`` (comma separated, optional header line) holds
        ``X`` followed by ``label_columns`` target columns.
    n : int, optional
        Subsample to this many rows.
    normalize : bool, default True
        Unit-normalize rows and scale targets to ``||Y||_F = 1``.
    label_columns : int, default 1
        Number of trailing target columns in a ``.csv`` (0 for none).
    seed : int, default 0
        Seed of the subsample.

    Returns
    -------
    Dataset
        When the file has no targets, ``Y`` is zeros of shape ``(n, 1)``.

    Raises
    ------
    ValueError
        Missing file, unknown extension, missing arrays, bad shapes or
        non-finite values.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> tmp = tempfile.mkdtemp()
    >>> path = os.path.join(tmp, "toy.csv")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("x1,x2,y\\n3,4,1\\n0,2,0\\n")
    >>> ds = load_file(path)
    >>> ds.X.tolist(), ds.Y.ravel().tolist()
    ([[0.6, 0.8], [0.0, 1.0]], [1.0, 0.0])
    >>> np.savez(os.path.join(tmp, "toy.npz"), X=np.ones((5, 3)), Y=np.arange(5.0))
    >>> ds = load_file(os.path.join(tmp, "toy.npz"), n=3, normalize=False)
    >>> ds.X.shape, ds.Y.shape, ds.name
    ((3, 3), (3, 1), 'toy.npz')
    >>> shutil.rmtree(tmp)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"data file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    Y = None
    try:
        if ext == ".npz":
            with np.load(path, allow_pickle=False) as f:
                if "X" not in f:
                    raise ValueError(f"data file {path!r} has no array 'X' (found {sorted(f.files)})")
                X = f["X"]
                Y = f["Y"] if "Y" in f else None
        elif ext == ".npy":
            X = np.load(path, allow_pickle=False)
        elif ext == ".csv":
            with open(path) as fh:
                first = fh.readline()
            skip = 1 if any(c.isalpha() for c in first.replace("e", "").replace("E", "")) else 0
            A = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
            if label_columns:
                X, Y = A[:, :-label_columns], A[:, -label_columns:]
            else:
                X = A
        else:
            raise ValueError(f"data file {path!r} has unknown extension {ext!r}; use .npz, .npy or .csv")
    except ValueError as exc:
        if str(exc).startswith("data file"):
            raise
        raise ValueError(f"data file {path!r} could not be read: {str(exc).splitlines()[0]}") from None
    X = as_float_array(X, "X", ndim=2)
    if Y is None:
        Y = np.zeros((X.shape[0], 1))
    Y = as_float_array(Y, "Y", ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y has {Y.shape[0]} rows but X has {X.shape[0]}")
    if n is not None:
        n = check_positive_int(n, "n")
        if n > X.shape[0]:
            raise ValueError(f"n = {n} exceeds the {X.shape[0]} rows of {path!r}")
        idx = np.sort(_rng(seed).permutation(X.shape[0])[:n])
        X, Y = X[idx], Y[idx]
    if normalize:
        X = normalize_rows(X)
        Y = scale_labels(Y)
    return Dataset(X=X, Y=Y, name=os.path.basename(path),
                   info=dict(source=path if not os.path.isabs(path) else os.path.basename(path),
                             unit_rows=normalize, labels_scaled=normalize))


def load_dataset(spec, *, n=None, d0=16, d2=1, seed=0, test_size=0):
    """Load by name ("digits", "sphere", "teacher") or by file path.

    Parameters
    ----------
    spec : str
        Built-in name or path of a ``.npz``/``.npy``/``.csv`` file.
    n : int, optional
        Number of samples (required for synthetic data; default 200).
    d0 : int, default 16
        Input dimension of synthetic data.
    d2 : int, default 1
        Output dimension of synthetic data.
    seed : int, default 0
        Seed.
    test_size : int, default 0
        Held-out samples (digits and teacher only).

    Returns
    -------
    Dataset
        The data.

    Examples
    --------
    >>> import numpy as np
    >>> ds = load_dataset("sphere", n=20, d0=4, seed=0)
    >>> ds.X.shape, bool(np.allclose(np.linalg.norm(ds.X, axis=1), 1.0))
    ((20, 4), True)
    >>> bool(np.allclose(ds.X, unit_sphere(20, 4, seed=0).X))
    True
    >>> load_dataset("digits", n=50).X.shape
    (50, 64)
    """
    key = str(spec).lower()
    if key == "digits":
        return digits(n, seed=seed, test_size=test_size)
    if key in ("sphere", "unit_sphere", "unit-sphere"):
        return unit_sphere(200 if n is None else n, d0, d2, seed=seed)
    if key in ("teacher", "teacher_student", "teacher-student"):
        return teacher_student(200 if n is None else n, d0, d2, seed=seed, test_size=test_size)
    if os.path.splitext(key)[1] in (".npz", ".npy", ".csv") or os.path.exists(spec):
        return load_file(spec, n=n, seed=seed)
    raise ValueError(f"data {spec!r} is neither a built-in (digits, sphere, teacher) nor a .npz/.npy/.csv file")
