"""Strict JSON for reports, summaries and command output.

:func:`strict_json` makes a value strict-JSON ready (NumPy scalars and arrays
as Python numbers and lists, non-finite floats as ``None``); :func:`dumps`
and :func:`write_json` serialize through it and refuse anything else.
"""

import json
import math

import numpy as np

__all__ = ["strict_json", "json_default", "dumps", "write_json"]


def strict_json(obj):
    """Return ``obj`` with NumPy values made Python values and non-finite floats ``None``.

    Parameters
    ----------
    obj : object
        Nested dicts, lists and tuples of numbers, strings, booleans,
        ``None``, NumPy scalars and arrays.

    Returns
    -------
    object
        The same structure: dict keys become strings, tuples and arrays
        lists, so ``json.dumps`` of the result is strict JSON (no
        ``NaN``/``Infinity`` tokens).

    Examples
    --------
    >>> import numpy as np
    >>> strict_json({1: (np.float64(0.5), float("nan")), "a": np.arange(2)})
    {'1': [0.5, None], 'a': [0, 1]}
    """
    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return strict_json(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def json_default(o):
    """``default=`` hook of :func:`json.dumps` for NumPy scalars and arrays.

    Parameters
    ----------
    o : object
        A value ``json`` cannot serialize by itself.

    Returns
    -------
    object
        A Python number, boolean or list.

    Raises
    ------
    TypeError
        For anything but NumPy scalars and arrays.
    """
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def dumps(obj, *, indent=2, **kwargs):
    """Strict JSON text of ``obj`` (through :func:`strict_json`).

    Parameters
    ----------
    obj : object
        As for :func:`strict_json`.
    indent : int or None, default 2
        Indentation of :func:`json.dumps`.
    **kwargs
        Further arguments of :func:`json.dumps` (``sort_keys``, ...).

    Returns
    -------
    str
        JSON without ``NaN`` or ``Infinity`` tokens.

    Examples
    --------
    >>> dumps({"x": float("inf"), "y": [1, 2]}, indent=None)
    '{"x": null, "y": [1, 2]}'
    """
    return json.dumps(strict_json(obj), indent=indent, allow_nan=False, default=json_default,
                      **kwargs)


def write_json(path, obj, *, indent=2):
    """Write ``obj`` to ``path`` as strict JSON (:func:`dumps`) with a final newline.

    Parameters
    ----------
    path : str or path-like
        The file written.
    obj : object
        As for :func:`strict_json`.
    indent : int or None, default 2
        Indentation.

    Returns
    -------
    None
    """
    text = dumps(obj, indent=indent)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
