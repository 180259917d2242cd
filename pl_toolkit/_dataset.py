"""The data set record and the row normalization, below :mod:`pl_toolkit.data`.

Both are public through :mod:`pl_toolkit.data`; they live here so that the
loaders of :mod:`pl_toolkit.data` and the MNIST loader (:mod:`pl_toolkit._mnist`)
import them from one module below both.
"""

from dataclasses import dataclass, field

import numpy as np

from ._validation import as_float_array

__all__ = ["Dataset", "normalize_rows"]


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
    >>> normalize_rows([[1e300, 1e300], [1e-320, 0.0]]).round(12).tolist()
    [[0.707106781187, 0.707106781187], [1.0, 0.0]]
    """
    X = as_float_array(X, name, ndim=2)
    # Scale each row by its largest entry first: the norm of [1e300, 1e300] or of
    # [1e-320, 0] under- or overflows in float64, the scaled row's never does.
    scale = np.max(np.abs(X), axis=1) if X.shape[1] else np.zeros(X.shape[0])
    zero = np.flatnonzero(scale == 0)
    if zero.size:
        raise ValueError(f"{name} has an all-zero row at index {int(zero[0])}; "
                         "it cannot be unit-normalized")
    Xs = X / scale[:, None]
    return Xs / np.linalg.norm(Xs, axis=1)[:, None]


# Public through pl_toolkit.data: named there in reprs, pickles and docs.
Dataset.__module__ = normalize_rows.__module__ = "pl_toolkit.data"
