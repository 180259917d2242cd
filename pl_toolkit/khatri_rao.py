r"""Khatri-Rao powers of a data matrix and their smallest singular value.

The paper (Section 2) measures the data by ``sigma_min(X^{*t})``, where the
Khatri-Rao power ``X^{*t}`` (paper convention: samples are columns) has
column ``a`` equal to ``vec(x_a (x) ... (x) x_a)`` (``t`` factors).  With
samples as rows, as everywhere in pl_toolkit, ``khatri_rao_power(X, t)`` is
the ``(n, d0**t)`` matrix whose row ``a`` is that Kronecker power, and

.. math::

    (X^{*t})^T X^{*t} = (X X^T)^{\odot t}

(elementwise power of the sample Gram matrix), because
``<x_a^{(x)t}, x_b^{(x)t}> = (x_a . x_b)^t``.  The Gram route costs
``O(n^2 d0 + n^3)`` whatever ``t`` is; the explicit power is only built for
small sizes (tests use it as the independent route).
"""

import numpy as np
import scipy.linalg

from ._validation import as_float_array, check_positive_int, check_result_finite, quiet_overflow

__all__ = ["khatri_rao_power", "khatri_rao_gram", "sigma_min_khatri_rao"]

#: Largest number of entries ``n * d0**t`` that :func:`khatri_rao_power` builds.
MAX_EXPLICIT_ENTRIES = 50_000_000


def _check_X_t(X, t):
    X = as_float_array(X, "X", ndim=2)
    t = check_positive_int(t, "t")
    return X, t


@quiet_overflow
def khatri_rao_power(X, t):
    """Explicit row-wise Khatri-Rao power ``X^{*t}`` of shape ``(n, d0**t)``.

    Parameters
    ----------
    X : array_like of shape (n, d0)
        Data, one sample per row; finite.
    t : int
        Power, ``t >= 1``.

    Returns
    -------
    ndarray of shape (n, d0**t)
        Row ``a`` is ``x_a (x) x_a (x) ... (x) x_a`` (``t`` factors,
        Kronecker order as :func:`numpy.kron`).

    Raises
    ------
    ValueError
        If ``X`` is not a finite non-empty 2-D array, ``t`` is not a
        positive integer, or the result would exceed
        ``MAX_EXPLICIT_ENTRIES`` (5e7) entries (use
        :func:`khatri_rao_gram` instead).

    Notes
    -----
    This is the transpose of the paper's ``X^{*t}`` (Section 2), whose
    columns are the samples.  Its Gram matrix is
    ``khatri_rao_power(X, t) @ khatri_rao_power(X, t).T ==
    khatri_rao_gram(X, t)`` up to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import khatri_rao_power
    >>> khatri_rao_power(np.array([[1.0, 2.0]]), 2).tolist()
    [[1.0, 2.0, 2.0, 4.0]]
    """
    X, t = _check_X_t(X, t)
    n, d0 = X.shape
    entries = float(n) * float(d0) ** t
    if entries > MAX_EXPLICIT_ENTRIES:
        raise ValueError(f"t = {t} with X of shape {X.shape} gives {entries:.3g} entries "
                         f"(> {MAX_EXPLICIT_ENTRIES:.0e}); use khatri_rao_gram")
    P = X
    for _ in range(t - 1):
        P = (P[:, :, None] * X[:, None, :]).reshape(n, -1)
    return check_result_finite(np.ascontiguousarray(P), f"the Khatri-Rao power (t = {t})",
                               [("X", X)])


@quiet_overflow
def khatri_rao_gram(X, t):
    """Gram matrix ``(X X^T)^{o t}`` of the Khatri-Rao power.

    Parameters
    ----------
    X : array_like of shape (n, d0)
        Data, one sample per row; finite.
    t : int
        Power, ``t >= 1``.

    Returns
    -------
    ndarray of shape (n, n)
        Exactly symmetric matrix ``G`` with ``G[a, b] = (x_a . x_b)**t``,
        equal to ``(X^{*t})^T X^{*t}`` in the paper's notation.

    Raises
    ------
    ValueError
        If ``X`` is not a finite non-empty 2-D array, ``t`` is not a
        positive integer, or ``(x_a . x_b)^t`` overflows float64.

    Notes
    -----
    Section 2 of the paper: ``(X^{*t})^T X^{*t} = (X^T X)^{o t}`` (paper
    convention, samples as columns).  ``X X^T`` is formed by BLAS and
    symmetrized before the elementwise power.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import khatri_rao_gram
    >>> khatri_rao_gram(np.array([[1.0, 0.0], [0.6, 0.8]]), 3).round(3).tolist()
    [[1.0, 0.216], [0.216, 1.0]]
    """
    X, t = _check_X_t(X, t)
    G = X @ X.T
    G = 0.5 * (G + G.T)
    return check_result_finite(G ** t, f"(X X^T)^(o {t})", [("X", X)])


@quiet_overflow
def sigma_min_khatri_rao(X, t):
    """Smallest singular value ``sigma_min(X^{*t})`` via the Gram matrix.

    Parameters
    ----------
    X : array_like of shape (n, d0)
        Data, one sample per row; finite.
    t : int
        Power, ``t >= 1``.

    Returns
    -------
    float
        ``sqrt(max(lambda_min((X X^T)^{o t}), 0))``.

    Raises
    ------
    ValueError
        If ``X`` is not a finite non-empty 2-D array or ``t`` is not a
        positive integer.

    Notes
    -----
    The smallest eigenvalue of the ``n x n`` Gram matrix is computed by
    dense LAPACK (``scipy.linalg.eigh`` with ``subset_by_index=[0, 0]``,
    driver ``evr``), which is backward stable: the computed eigenvalue is
    within about ``n * eps * ||G||_2`` of the exact one.  The exact value is
    non-negative (``G`` is a Gram matrix); a slightly negative computed
    value is rounding and is clipped to 0 before the square root.  Hence
    values of ``sigma_min`` below about ``sqrt(n * eps * ||G||_2)`` are not
    resolved; in particular when ``n > dim span`` of the Kronecker powers
    (for instance ``n > d0**t``, or more sharply ``n > C(d0 + t - 1, t)``
    since the powers are symmetric tensors) the true value is 0 and the
    result is rounding noise of that size.

    Section 2 of the paper: ``sigma_min(X^{*t})^2 =
    lambda_min((X^T X)^{o t})``; the heuristic ``sigma_min(X^{*t}) ~ 1``
    for random unit data with ``n ~ d0^t``.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import sigma_min_khatri_rao
    >>> X = np.array([[1.0, 0.0], [0.6, 0.8]])
    >>> round(sigma_min_khatri_rao(X, 2), 6)  # sqrt(1 - 0.36)
    0.8
    """
    G = khatri_rao_gram(X, t)
    lam = scipy.linalg.eigh(G, eigvals_only=True, subset_by_index=[0, 0], driver="evr")
    return float(np.sqrt(max(float(lam[0]), 0.0)))
