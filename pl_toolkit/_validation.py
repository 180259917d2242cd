"""Input checks shared by every public function.

Each check raises :class:`ValueError` whose message starts with the name of
the offending argument, so that a user (or the CLI, which prints the message
as one line) knows what to fix.  Kernels never see unchecked input, so a
numba typing error never reaches a user.

Overflow of finite input
------------------------
Inputs are checked for NaN/Inf; finite inputs can still be so large that a
product overflows float64 (``X`` with entries ``1e155`` gives ``X X^T``
entries ``>= 1e310``).  pl_toolkit does not rescale: the functions that
evaluate the network check what they return (and the preactivations
``X W^T + b1``, which a saturating activation would otherwise hide) and,
when a value is not finite although every input was, raise the ValueError
of :func:`overflow_error`, which starts with the input whose entries are
largest.  Nothing non-finite is returned silently.

Underflow is gradual and not refused: products below the smallest normal
float64 (``2.2e-308``) keep only their absolute accuracy, so a Gram factor
such as ``X X^T`` with ``X ~ 1e-160`` loses relative precision, which a
large other factor (``V ~ 1e100``) can make visible in the NTK.
"""

import functools

import numpy as np

__all__ = [
    "as_float_array",
    "check_finite",
    "check_square_symmetric",
    "check_positive_int",
    "check_positive_float",
    "max_abs",
    "overflow_error",
    "check_result_finite",
    "quiet_overflow",
    "check_seed",
]

#: Largest finite float64.
FLOAT64_MAX = float(np.finfo(np.float64).max)


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
            raise ValueError(f"{name} must have {want} dimension(s), got {arr.ndim} "
                             f"(shape {arr.shape})")
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
            f"{name} is not symmetric: max|A - A.T| = {asym:.3e} exceeds "
            f"{rtol:.1e} * max|A| = {rtol * scale:.3e}")
    return A


def check_positive_int(value, name, *, minimum=1):
    """Return ``value`` as int, or raise ValueError if it is not an integer >= minimum."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_positive_float(value, name, *, allow_zero=False):
    """Return ``value`` as float, or raise ValueError unless it is finite and positive.

    With ``allow_zero`` the value may also be 0.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = None
    if v is None or not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                         f"finite number, got {value!r}")
    return v


def max_abs(a):
    """``max |a|`` without a temporary array (0 for ``None`` or an empty array)."""
    if a is None:
        return 0.0
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(max(a.max(), -a.min()))


def overflow_error(what, inputs, dtype=np.float64):
    """The ValueError for a non-finite result of finite inputs.

    Parameters
    ----------
    what : str
        The quantity that overflowed (``"the NTK Gram matrix"``).
    inputs : sequence of (str, ndarray or None)
        The inputs it was computed from, by the names a user knows them
        (``"X"``, ``"net.W"``, ...); ``None`` entries are skipped.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The precision the result was computed in; for float32 the message
        also suggests ``dtype=np.float64``.

    Returns
    -------
    ValueError
        Message starting with the input of largest magnitude, e.g. ``"X has
        entries up to 1e+155 (net.W up to 2.1, net.V up to 1.3): the NTK Gram
        matrix overflows float64 (largest finite value 1.8e+308); rescale
        X"``.
    """
    sized = sorted(((name, max_abs(a), np.ndim(a) == 0) for name, a in inputs if a is not None),
                   key=lambda t: -t[1])
    (first, top, scalar), rest = sized[0], sized[1:]
    others = ", ".join(f"{name} = {m:.3g}" if sc else f"{name} up to {m:.3g}"
                       for name, m, sc in rest)
    head = f"{first} = {top:.3g}" if scalar else f"{first} has entries up to {top:.3g}"
    dtype = np.dtype(dtype)
    remedy = "" if dtype == np.float64 else "use dtype=np.float64 or "
    return ValueError(head + (f" ({others})" if others else "")
                      + f": {what} overflows {dtype.name} (largest finite value "
                      f"{float(np.finfo(dtype).max):.3g}); {remedy}rescale {first}")


def check_result_finite(result, what, inputs):
    """Return ``result`` if every entry is finite, else raise :func:`overflow_error`."""
    if not np.all(np.isfinite(result)):
        raise overflow_error(what, inputs)
    return result


def quiet_overflow(func):
    """Run ``func`` with NumPy's overflow/invalid warnings off (its results are checked instead).

    Functions that end in :func:`check_result_finite` report an overflow as
    one ValueError; NumPy's ``RuntimeWarning`` on the way would only repeat it
    (and, with warnings as errors, pre-empt it).
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore"):
            return func(*args, **kwargs)

    return wrapper


def check_seed(seed, name="seed"):
    """Return ``seed`` as a :class:`numpy.random.SeedSequence`, or raise ValueError naming ``name``.

    Accepted: a SeedSequence, a non-negative integer, or a non-empty
    sequence of non-negative integers (SeedSequence's entropy).  ``None``
    (fresh OS entropy) is refused: every random draw of pl_toolkit is
    reproducible from its seed.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    what = "a non-negative integer, a sequence of them, or a numpy.random.SeedSequence"
    if seed is None:
        raise ValueError(f"{name} must be {what}, got None (pass an explicit seed: results must be "
                         "reproducible)")

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if is_int(seed):
        entries = [seed]
    elif (isinstance(seed, (list, tuple, np.ndarray)) and len(seed) > 0
          and all(is_int(v) for v in np.ravel(seed))):
        entries = list(np.ravel(seed))
    else:
        raise ValueError(f"{name} must be {what}, got {seed!r}")
    if any(v < 0 for v in entries):
        raise ValueError(f"{name} must be non-negative, got {seed!r}")
    return np.random.SeedSequence([int(v) for v in entries] if len(entries) > 1 or not is_int(seed)
                                  else int(seed))
