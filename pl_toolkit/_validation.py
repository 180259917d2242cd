"""Input checks shared by every public function.

Each check raises :class:`ValueError` whose message starts with the name of
the offending argument, so that a user (or the CLI, which prints the message
as one line) knows what to fix.  Kernels never see unchecked input, so a
numba typing error never reaches a user.
"""

import numpy as np

__all__ = [
    "as_float_array",
    "check_finite",
    "check_square_symmetric",
    "check_positive_int",
    "check_positive_float",
]


def _first_bad_index(a):
    bad = np.argwhere(~np.isfinite(a))
    idx = tuple(int(i) for i in bad[0])
    return idx[0] if len(idx) == 1 else idx


def check_finite(a, name):
    """Raise ValueError naming ``name`` and the first NaN/Inf entry of ``a``."""
    if not np.all(np.isfinite(a)):
        idx = _first_bad_index(a)
        kind = "NaN" if np.isnan(a[idx]) else "Inf"
        raise ValueError(f"{name} contains {kind} at index {idx}")
    return a


def as_float_array(a, name, *, ndim=None, allow_empty=False, copy=False, finite=True):
    """Coerce ``a`` to a C-contiguous float64 array, checking it on the way.

    Parameters
    ----------
    a : array_like
        Input.  Integer, boolean and float32 data are converted to float64;
        complex, object and string data are refused.
    name : str
        Name of the argument, used in error messages.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    allow_empty : bool, default False
        Whether an array with zero elements is accepted.
    copy : bool, default False
        Always return a new array.
    finite : bool, default True
        Check that every entry is finite.

    Returns
    -------
    ndarray of float64
        C-contiguous array.

    Raises
    ------
    ValueError
        If the dtype is complex/object/string, the number of dimensions is
        wrong, the array is empty or an entry is NaN/Inf.
    """
    if a is None:
        raise ValueError(f"{name} is None; an array is required")
    arr = np.asarray(a)
    if arr.dtype.kind in "cOSUVMm":
        what = {"c": "complex", "O": "object", "S": "bytes", "U": "string", "V": "void",
                "M": "datetime", "m": "timedelta"}[arr.dtype.kind]
        raise ValueError(f"{name} has {what} dtype {arr.dtype}; a real floating array is required")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(k) for k in allowed)
            raise ValueError(f"{name} must have {want} dimension(s), got {arr.ndim} (shape {arr.shape})")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    out = np.array(arr, dtype=np.float64, order="C", copy=True) if copy else \
        np.ascontiguousarray(arr, dtype=np.float64)
    if finite:
        check_finite(out, name)
    return out


def check_square_symmetric(A, name, *, rtol=None):
    """Check that ``A`` is square and symmetric to within ``rtol * max|A|``.

    The default ``rtol`` is ``100 * n * eps``: the asymmetry a symmetric
    product such as ``J @ J.T`` can pick up in floating point.
    """
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be square, got shape {A.shape}")
    n = A.shape[0]
    if rtol is None:
        rtol = 100.0 * max(n, 1) * np.finfo(np.float64).eps
    scale = float(np.max(np.abs(A))) if A.size else 0.0
    asym = float(np.max(np.abs(A - A.T))) if A.size else 0.0
    if asym > rtol * scale:
        raise ValueError(
            f"{name} is not symmetric: max|A - A.T| = {asym:.3e} exceeds {rtol:.1e} * max|A| = {rtol * scale:.3e}")
    return A


def check_positive_int(value, name, *, minimum=1):
    """Return ``value`` as int, or raise ValueError if it is not an integer >= minimum."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_positive_float(value, name, *, allow_zero=False):
    """Return ``value`` as float, or raise ValueError if it is not finite and positive."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} finite number, got {value!r}")
    return v
