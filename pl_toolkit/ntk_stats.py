"""Statistics of the empirical NTK that never form the Gram matrix.

The Gram ``K = J J^T`` of the paper's network ``x -> V phi(W x)`` has
``n d2`` rows; its trace needs only the features, in ``O(n d1 d2)``.
"""

import numpy as np

__all__ = ["ntk_trace"]

_LAYERS = ("W", "V")


def ntk_trace(net, X, layers=_LAYERS):
    """Trace of the empirical NTK Gram of ``net`` on ``X``, without forming it.

    Parameters
    ----------
    net : ShallowNet
        The network ``x -> V phi(W x)`` (biases ``b1``, ``b2`` if present).
    X : ndarray of shape (n, d0)
        Inputs.
    layers : sequence of {"W", "V"}, default ("W", "V")
        The trained layers whose Jacobian blocks enter the Gram.

    Returns
    -------
    float
        ``trace(K) = sum_a d2 (||h_a||^2 [+ 1]) + (||x_a||^2 [+ 1]) ||g_a o v||^2``
        with ``h_a = phi(W x_a)``, ``g_a = phi'(W x_a)`` and
        ``||g_a o v||^2 = sum_{p, j} g_{aj}^2 V_{pj}^2``; the bracketed terms
        are the biases' (``b2`` and ``b1``).

    Raises
    ------
    ValueError
        If ``layers`` is empty or names a layer other than ``"W"`` and ``"V"``.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram
    >>> X = np.random.default_rng(0).standard_normal((6, 3))
    >>> net = ShallowNet.init(3, 16, 2, seed=0)
    >>> bool(np.isclose(ntk_trace(net, X), np.trace(ntk_gram(net, X))))
    True
    """
    layers = tuple(layers)
    if not layers or any(layer not in _LAYERS for layer in layers):
        raise ValueError(f"layers must be a non-empty selection of 'W' and 'V', got {layers!r}")
    X = np.asarray(X, dtype=float)
    Z = net.preactivations(X)
    H, G = net.activation.phi(Z), net.activation.dphi(Z)
    t = 0.0
    if "V" in layers:
        t += net.d2 * (float(np.sum(H * H)) + (X.shape[0] if net.b2 is not None else 0.0))
    if "W" in layers:
        xx = np.sum(X * X, axis=1) + (1.0 if net.b1 is not None else 0.0)
        t += float(xx @ ((G * G) @ np.sum(net.V * net.V, axis=0)))
    return t
