"""Strict JSON for reports and trajectory summaries."""

import math

import numpy as np


def strict_json(obj):
    """Return ``obj`` with NumPy scalars made Python numbers and non-finite floats ``None``.

    Dict keys become strings and tuples become lists, so ``json.dumps`` of
    the result is strict JSON (no ``NaN``/``Infinity`` tokens).
    """
    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
