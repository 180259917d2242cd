"""Data sets in the paper's setting: unit-norm inputs, ``||Y||_F <= 1``.

Section 2 of the paper assumes ``||x_i|| = 1`` for every sample and
``||Y||_F <= 1`` for the whole label matrix.  Every loader here returns a
:class:`Dataset` that satisfies both (unless told not to), with samples as
rows.
"""

import os

import numpy as np

from ._dataset import Dataset, normalize_rows
from ._validation import as_float_array, check_positive_int

__all__ = ["Dataset", "digits", "unit_sphere", "teacher_student", "load_file", "load_dataset",
           "data_kind", "normalize_rows", "scale_labels", "preprocess"]


def _rng(seed):
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.default_rng(ss)


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
    >>> scale_labels([[3e300], [4e300]]).tolist()
    [[0.6], [0.8]]
    """
    Y = as_float_array(Y, name, ndim=2)
    scale = float(np.max(np.abs(Y))) if Y.size else 0.0
    if scale == 0:
        return Y
    Ys = Y / scale
    return Ys / np.linalg.norm(Ys)


def _one_hot(labels, k):
    Y = np.zeros((labels.size, k))
    Y[np.arange(labels.size), labels] = 1.0
    return Y


def _scaling(value, name):
    """``"unit"``/``"none"`` (``True``/``False`` accepted) -> bool."""
    if value is True or value is False:
        return bool(value)
    if value in ("unit", "none"):
        return value == "unit"
    raise ValueError(f"{name} must be 'unit' or 'none', got {value!r}")


def preprocess(X, Y, *, normalize="unit", label_scale="unit"):
    """Apply the paper's data convention, and say what was done.

    Parameters
    ----------
    X : array_like of shape (n, d0)
        Inputs.
    Y : array_like of shape (n, d2)
        Targets.
    normalize : {"unit", "none"}, default "unit"
        ``"unit"`` scales every row of ``X`` to norm 1 (Section 2's
        ``||x_i|| = 1``); ``"none"`` leaves ``X`` as it is.
    label_scale : {"unit", "none"}, default "unit"
        ``"unit"`` divides ``Y`` by ``||Y||_F`` (Section 2's ``||Y|| <= 1``,
        with equality); ``"none"`` leaves ``Y`` as it is.

    Returns
    -------
    X, Y : ndarray
        The data after preprocessing (float64 copies).
    steps : list of str
        One sentence per operation applied (empty when nothing was done).

    Examples
    --------
    >>> X, Y, steps = preprocess([[3.0, 4.0]], [[2.0]])
    >>> X.tolist(), Y.tolist()
    ([[0.6, 0.8]], [[1.0]])
    >>> steps
    ['rows of X scaled to unit norm (norms were 5 to 5)', 'Y divided by ||Y||_F = 2']
    >>> preprocess([[3.0, 4.0]], [[2.0]], normalize="none", label_scale="none")[2]
    []
    """
    X = as_float_array(X, "X", ndim=2)
    Y = as_float_array(Y, "Y", ndim=2)
    steps = []
    if _scaling(normalize, "normalize"):
        Xn = normalize_rows(X)
        scale = np.max(np.abs(X), axis=1)
        with np.errstate(over="ignore"):
            norms = scale * np.linalg.norm(X / scale[:, None], axis=1)
        steps.append(f"rows of X scaled to unit norm (norms were {np.min(norms):.4g} to "
                     f"{np.max(norms):.4g})")
        X = Xn
    else:
        X = X.copy()
    if _scaling(label_scale, "label_scale"):
        peak = float(np.max(np.abs(Y))) if Y.size else 0.0
        if peak > 0:
            fro = peak * float(np.linalg.norm(Y / peak))
            Y = scale_labels(Y)
            steps.append(f"Y divided by ||Y||_F = {fro:.4g}")
        else:
            Y = Y.copy()
    else:
        Y = Y.copy()
    return X, Y, steps


def _check_test_size(test_size, name="test_size"):
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, (int, np.integer)):
        raise ValueError(f"{name} must be a non-negative integer, got {test_size!r}")
    if test_size < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {test_size}")
    return int(test_size)


def digits(n=None, *, seed=0, test_size=0, classes=None, normalize="unit",
           label_scale=None):
    """The UCI handwritten digits bundled with scikit-learn (8x8, d0 = 64).

    Parameters
    ----------
    n : int, optional
        Number of training samples, drawn without replacement (all 1797 by
        default, less ``test_size``).
    seed : int or SeedSequence, default 0
        Seed for the subsample.
    test_size : int, default 0
        Number of further samples kept as a test split (``n + test_size``
        may not exceed the samples available).
    classes : sequence of int, optional
        Keep only these digit classes (targets stay one-hot over them).
    normalize : {"unit", "none"}, default "unit"
        Unit-normalize the rows (``True``/``False`` are accepted too).
    label_scale : {"unit", "none"}, optional
        Scale the one-hot targets of each split to ``||Y||_F = 1``; by
        default the same choice as ``normalize``.

    Returns
    -------
    Dataset
        Real data, no download needed; ``info["preprocessing"]`` lists what
        was done to it.

    Raises
    ------
    ValueError
        On a bad ``n``, ``test_size`` or ``classes``.

    Examples
    --------
    >>> ds = digits(100, seed=0)
    >>> ds.X.shape, ds.Y.shape
    ((100, 64), (100, 10))
    >>> round(float((ds.Y ** 2).sum()), 12)
    1.0
    >>> ds.info["preprocessing"][1]
    'Y divided by ||Y||_F = 10'
    >>> digits(10, test_size=-5)
    Traceback (most recent call last):
        ...
    ValueError: test_size must be a non-negative integer, got -5
    """
    from sklearn.datasets import load_digits

    unit_rows = _scaling(normalize, "normalize")
    unit_labels = unit_rows if label_scale is None else _scaling(label_scale, "label_scale")
    bunch = load_digits()
    X, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    if classes is not None:
        classes = sorted({int(c) for c in classes})
        bad = [c for c in classes if not 0 <= c <= 9]
        if bad or not classes:
            raise ValueError(f"classes must be digits 0-9, got {classes!r}")
        keep = np.isin(y, classes)
        X, y = X[keep], np.searchsorted(classes, y[keep])
        k = len(classes)
    else:
        k = 10
    total = X.shape[0]
    test_size = _check_test_size(test_size)
    if n is None:
        n = total - test_size
        if n < 1:
            raise ValueError(f"test_size = {test_size} leaves no training samples of the "
                             f"{total} digits available")
    n = check_positive_int(n, "n")
    if n + test_size > total:
        raise ValueError(f"n = {n} plus test_size = {test_size} exceeds the {total} "
                         "digits available")
    idx = _rng(seed).permutation(total)[: n + test_size]
    Xs, ys = X[idx], y[idx]
    Y = _one_hot(ys, k)
    Xtr, Ytr, steps = preprocess(Xs[:n], Y[:n], normalize=unit_rows, label_scale=unit_labels)
    Xte = Yte = None
    if test_size:
        Xte, Yte, _ = preprocess(Xs[n:], Y[n:], normalize=unit_rows, label_scale=unit_labels)
    return Dataset(X=Xtr, Y=Ytr, name=f"digits(n={n})", labels=ys[:n],
                   X_test=Xte, Y_test=Yte, labels_test=ys[n:] if test_size else None,
                   info=dict(source="sklearn.datasets.load_digits", seed=_seed_repr(seed),
                             unit_rows=unit_rows, labels_scaled=unit_labels,
                             preprocessing=steps))


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


def _csv_header(first_line, delimiter=","):
    """True when the first line of a CSV is a header (some field is not a number)."""
    fields = [f.strip() for f in first_line.strip().split(delimiter)]
    for f in fields:
        try:
            float(f)
        except ValueError:
            return True
    return False


def _read_csv(path, header):
    with open(path, encoding="utf-8", errors="strict") as fh:
        first = fh.readline()
    if not first.strip():
        raise ValueError(f"data file {path!r} is empty")
    if header is None:
        header = _csv_header(first)
    elif not isinstance(header, bool):
        raise ValueError(f"header must be True, False or None (detect), got {header!r}")
    A = np.loadtxt(path, delimiter=",", skiprows=1 if header else 0, ndmin=2)
    return A, (first.strip() if header else None)


def load_file(path, *, n=None, normalize="unit", label_scale=None, label_columns=1,
              header=None, seed=0):
    r"""Load a user data file: ``.npz`` (arrays ``X`` and ``Y``), ``.npy`` or ``.csv``.

    Parameters
    ----------
    path : str or os.PathLike
        File.  ``.npz`` must hold ``X`` and may hold ``Y``; ``.npy`` holds
        ``X`` only; ``.csv`` (comma separated) holds ``X`` followed by
        ``label_columns`` target columns.
    n : int, optional
        Subsample to this many rows.
    normalize : {"unit", "none"}, default "unit"
        Unit-normalize rows (``True``/``False`` accepted).
    label_scale : {"unit", "none"}, optional
        Scale targets to ``||Y||_F = 1``; by default the same as
        ``normalize``.
    label_columns : int, default 1
        Number of trailing target columns in a ``.csv`` (0 for none).
    header : bool, optional
        Whether the first line of a ``.csv`` is a header.  By default it is
        a header exactly when one of its fields does not parse as a number
        (``nan`` and ``inf`` parse, so such a row is data, never dropped).
    seed : int, default 0
        Seed of the subsample.

    Returns
    -------
    Dataset
        When the file has no targets, ``Y`` is zeros of shape ``(n, 1)``.
        ``info["preprocessing"]`` lists what was done to the data and
        ``info["header"]`` holds a skipped CSV header line.

    Raises
    ------
    ValueError
        Missing, empty, corrupt or truncated file, unknown extension,
        missing arrays, bad shapes or non-finite values.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> tmp = tempfile.mkdtemp()
    >>> path = os.path.join(tmp, "toy.csv")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("x1,x2,y\n3,4,1\n0,2,0\n")
    >>> ds = load_file(path)
    >>> ds.X.tolist(), ds.Y.ravel().tolist(), ds.info["header"]
    ([[0.6, 0.8], [0.0, 1.0]], [1.0, 0.0], 'x1,x2,y')
    >>> np.savez(os.path.join(tmp, "toy.npz"), X=np.ones((5, 3)), Y=np.arange(5.0))
    >>> ds = load_file(os.path.join(tmp, "toy.npz"), n=3, normalize="none")
    >>> ds.X.shape, ds.Y.shape, ds.name, ds.info["preprocessing"]
    ((3, 3), (3, 1), 'toy.npz', [])
    >>> shutil.rmtree(tmp)
    """
    import zipfile

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"data file {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"data file {path!r} is a directory")
    unit_rows = _scaling(normalize, "normalize")
    unit_labels = unit_rows if label_scale is None else _scaling(label_scale, "label_scale")
    if isinstance(label_columns, bool) or not isinstance(label_columns, (int, np.integer)) \
            or label_columns < 0:
        raise ValueError(f"label_columns must be a non-negative integer, got {label_columns!r}")
    ext = os.path.splitext(path)[1].lower()
    Y = None
    header_line = None
    try:
        if ext == ".npz":
            # our own handle, so that a corrupt archive is closed on the error path too
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
                if "X" not in f:
                    raise ValueError(f"data file {path!r} has no array 'X' "
                                     f"(found {sorted(f.files)})")
                X = f["X"]
                Y = f["Y"] if "Y" in f else None
        elif ext == ".npy":
            with open(path, "rb") as fh:
                X = np.load(fh, allow_pickle=False)
        elif ext == ".csv":
            A, header_line = _read_csv(path, header)
            if A.shape[1] <= label_columns:
                raise ValueError(f"data file {path!r} has {A.shape[1]} columns; label_columns = "
                                 f"{label_columns} leaves no input column")
            if label_columns:
                X, Y = A[:, :-label_columns], A[:, -label_columns:]
            else:
                X = A
        else:
            raise ValueError(f"data file {path!r} has unknown extension {ext!r}; "
                             "use .npz, .npy or .csv")
    except ValueError as exc:
        if str(exc).startswith("data file"):
            raise
        raise ValueError(f"data file {path!r} could not be read: "
                         f"{str(exc).splitlines()[0]}") from None
    except (zipfile.BadZipFile, EOFError, OSError, UnicodeDecodeError, KeyError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"data file {path!r} is corrupt or truncated: {msg}") from None
    except MemoryError:
        raise ValueError(f"data file {path!r} declares arrays too large to load") from None
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
    X, Y, steps = preprocess(X, Y, normalize=unit_rows, label_scale=unit_labels)
    return Dataset(X=X, Y=Y, name=os.path.basename(path),
                   info=dict(source=path if not os.path.isabs(path) else os.path.basename(path),
                             unit_rows=unit_rows, labels_scaled=unit_labels,
                             preprocessing=steps, header=header_line))


#: Names of the built-in data sets, by kind.
BUILTIN = {"digits": "digits", "mnist": "mnist", "sphere": "sphere", "unit_sphere": "sphere",
           "unit-sphere": "sphere", "teacher": "teacher", "teacher_student": "teacher",
           "teacher-student": "teacher"}


def data_kind(spec):
    """What a data specification names: a built-in set or a file.

    Parameters
    ----------
    spec : str or os.PathLike
        A built-in name or a path.

    Returns
    -------
    {"digits", "mnist", "sphere", "teacher", "file"}
        The kind; ``"sphere"`` and ``"teacher"`` are synthetic.

    Raises
    ------
    ValueError
        When ``spec`` is neither a built-in name nor a ``.npz``/``.npy``/
        ``.csv`` path.

    Examples
    --------
    >>> data_kind("digits"), data_kind("unit-sphere"), data_kind("my.csv")
    ('digits', 'sphere', 'file')
    """
    key = str(os.fspath(spec)).lower()
    if key in BUILTIN:
        return BUILTIN[key]
    if os.path.splitext(key)[1] in (".npz", ".npy", ".csv") or os.path.exists(spec):
        return "file"
    raise ValueError(f"data {str(spec)!r} is neither a built-in (digits, mnist, sphere, teacher) "
                     "nor a .npz/.npy/.csv file")


def load_dataset(spec, *, n=None, d0=16, d2=1, seed=0, test_size=0, normalize=None,
                 label_scale=None, label_columns=1, header=None):
    """Load by name ("digits", "mnist", "sphere", "teacher") or by file path.

    Parameters
    ----------
    spec : str
        Built-in name or path of a ``.npz``/``.npy``/``.csv`` file.
    n : int, optional
        Number of samples (synthetic data: default 200).
    d0 : int, default 16
        Input dimension of synthetic data.
    d2 : int, default 1
        Output dimension of synthetic data.
    seed : int, default 0
        Seed.
    test_size : int, default 0
        Held-out samples (digits, mnist and teacher only).
    normalize : {"unit", "none"}, optional
        Row normalization of real data (default ``"unit"``); synthetic
        inputs are drawn on the unit sphere and refuse ``"none"``.
    label_scale : {"unit", "none"}, optional
        Label scaling of real data (default: as ``normalize``); synthetic
        labels are generated with ``||Y||_F = 1`` and refuse ``"none"``.
    label_columns : int, default 1
        Target columns of a ``.csv`` file.
    header : bool, optional
        Whether a ``.csv`` file's first line is a header (detected when
        ``None``).

    Returns
    -------
    Dataset
        The data; ``info["preprocessing"]`` lists what was done to it.

    Raises
    ------
    ValueError
        On an unknown name, an option that does not apply to the data, or
        bad data.

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
    >>> load_dataset("digits", n=50, normalize="none").info["preprocessing"]
    []
    """
    kind = data_kind(spec)
    if kind in ("sphere", "teacher"):
        for name, v in (("normalize", normalize), ("label_scale", label_scale)):
            if v not in (None, "unit", True):
                raise ValueError(f"{name}={v!r} does not apply to synthetic data ({kind}: inputs "
                                 "on the unit sphere, labels with ||Y||_F = 1)")
    if kind != "file" and (label_columns != 1 or header is not None):
        raise ValueError("label_columns and header apply only to .csv files")
    norm = "unit" if normalize is None else normalize
    if kind == "digits":
        return digits(n, seed=seed, test_size=test_size, normalize=norm, label_scale=label_scale)
    if kind == "mnist":
        from dataclasses import replace

        from ._mnist import mnist

        raw = mnist(n, seed=seed, test_size=test_size, normalize="none")
        X, Y, steps = preprocess(raw.X, raw.Y, normalize=norm,
                                 label_scale=norm if label_scale is None else label_scale)
        extra = {}
        if test_size:
            Xt, Yt, _ = preprocess(raw.X_test, raw.Y_test, normalize=norm,
                                   label_scale=norm if label_scale is None else label_scale)
            extra = dict(X_test=Xt, Y_test=Yt)
        info = dict(raw.info, preprocessing=steps, normalize=norm,
                    unit_rows=_scaling(norm, "normalize"),
                    labels_scaled=_scaling(norm if label_scale is None else label_scale,
                                           "label_scale"))
        return replace(raw, X=X, Y=Y, info=info, **extra)
    if kind == "sphere":
        if test_size:
            raise ValueError("test_size does not apply to sphere data")
        return unit_sphere(200 if n is None else n, d0, d2, seed=seed)
    if kind == "teacher":
        return teacher_student(200 if n is None else n, d0, d2, seed=seed, test_size=test_size)
    if test_size:
        raise ValueError("test_size does not apply to data files")
    if os.path.splitext(str(spec).lower())[1] != ".csv" and (label_columns != 1
                                                            or header is not None):
        raise ValueError("label_columns and header apply only to .csv files")
    return load_file(spec, n=n, seed=seed, normalize=norm, label_scale=label_scale,
                     label_columns=label_columns, header=header)
