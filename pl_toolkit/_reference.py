"""Plain NumPy references for every compiled kernel.

These are written for clarity, not speed: they serve as the independent
route in tests and as ``backend="numpy"``.  The activations' NumPy forms
are those of the activation table (``pl_toolkit.activations.BUILTIN_FORMS``,
written there beside the kernels they check); the comparisons of each
compiled kernel with its reference are registered in
``tests/test_kernels_vs_reference.py``, and one test walks them.
"""

import numpy as np

from .activations import BUILTIN_FORMS, forms_of

#: NumPy ``(phi, phi', phi'')`` of the built-in activations: the NumPy forms
#: of the activation table (``pl_toolkit.activations.BUILTIN_FORMS``).
ACTIVATIONS = {name: row.numpy for name, row in BUILTIN_FORMS.items()}


def activation_funcs(activation):
    """NumPy (phi, phi', phi'') for a built-in activation; vectorized user kernels otherwise."""
    row = forms_of(activation)
    if row is not None:
        return row.numpy
    # getattr: under NUMBA_DISABLE_JIT the scalar kernels are plain functions.
    vec = [np.vectorize(getattr(f, "py_func", f), otypes=[float]) for f in
           (activation.phi_scalar, activation.dphi_scalar, activation.ddphi_scalar)]
    return tuple(vec)


def phi_dphi(activation, Z):
    """Reference for :meth:`Activation.phi_dphi`."""
    phi, dphi, _ = activation_funcs(activation)
    return phi(Z), dphi(Z)


def features(net, X):
    """``(H, G)`` of the network on ``X`` by the reference activation."""
    Z = X @ net.W.T
    if net.b1 is not None:
        Z = Z + net.b1
    return phi_dphi(net.activation, Z)


def ntk_gram(net, X, X2=None, *, blocks=False, layers=("W", "V")):
    """Reference empirical NTK: the closed form with explicit loops over outputs.

    Returns the ``(n1 d2, n2 d2)`` Gram matrix, or with ``blocks=True`` the
    pair of plain arrays ``(W term, V term)`` whose sum it is.
    """
    X2 = X if X2 is None else X2
    H1, G1 = features(net, X)
    H2, G2 = features(net, X2)
    n1, n2, d2 = X.shape[0], X2.shape[0], net.d2
    XX = X @ X2.T + (1.0 if net.b1 is not None else 0.0)
    CK = H1 @ H2.T + (1.0 if net.b2 is not None else 0.0)
    KW = np.zeros((n1, d2, n2, d2))
    KV = np.zeros((n1, d2, n2, d2))
    for p in range(d2):
        if "V" in layers:
            KV[:, p, :, p] = CK
        for q in range(d2):
            if "W" in layers:
                KW[:, p, :, q] = XX * ((G1 * net.V[p]) @ (G2 * net.V[q]).T)
    KW = KW.reshape(n1 * d2, n2 * d2)
    KV = KV.reshape(n1 * d2, n2 * d2)
    if blocks:
        return KW, KV
    return KW + KV


def jacobian(net, X, layers=("W", "V")):
    """Explicit Jacobian of the outputs, shape ``(n*d2, P)``, sample-major rows.

    Built entry by entry from the chain rule, independently of the closed
    forms used by the kernels: ``d f_p(x_a) / d W_rk = V_pr phi'(z_ar) x_ak``,
    ``d f_p / d b1_r = V_pr phi'(z_ar)``, ``d f_p / d V_qr = [p = q] phi(z_ar)``,
    ``d f_p / d b2_q = [p = q]``.
    """
    from .network import check_layers

    layers = check_layers(layers)
    H, G = features(net, X)
    n, d2, d1 = X.shape[0], net.d2, net.d1
    rows = []
    for a in range(n):
        for p in range(d2):
            parts = []
            if "W" in layers:
                parts.append(np.outer(net.V[p] * G[a], X[a]).ravel())
                if net.b1 is not None:
                    parts.append(net.V[p] * G[a])
            if "V" in layers:
                dV = np.zeros((d2, d1))
                dV[p] = H[a]
                parts.append(dV.ravel())
                if net.b2 is not None:
                    e = np.zeros(d2)
                    e[p] = 1.0
                    parts.append(e)
            rows.append(np.concatenate(parts))
    return np.array(rows)


def infinite_width_kernels(X, activation, omega1, omega2, nodes=64):
    """Reference for :func:`pl_toolkit.infinite_width_kernels` (``d2 = 1``, no bias).

    Every pair ``(a, b)`` is integrated by the ``nodes``-point tensor
    Gauss-Hermite rule over the bivariate normal of ``(w.x_a, w.x_b)``,
    written with a Cholesky factor of its covariance and the NumPy
    activations of :data:`ACTIVATIONS`; returns ``(conjugate, ntk)``.
    """
    from scipy.special import roots_hermitenorm

    phi, dphi, _ = activation_funcs(activation)
    z, w = roots_hermitenorm(nodes)
    w = w / np.sqrt(2.0 * np.pi)
    n = X.shape[0]
    G = X @ X.T
    sig = np.empty((n, n))
    sigd = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            C = omega1 ** 2 * np.array([[G[a, a], G[a, b]], [G[a, b], G[b, b]]])
            l11 = np.sqrt(C[0, 0])
            l21 = C[0, 1] / l11 if l11 > 0 else 0.0
            l22 = np.sqrt(max(C[1, 1] - l21 ** 2, 0.0))
            u = l11 * z[:, None] + 0.0 * z[None, :]
            v = l21 * z[:, None] + l22 * z[None, :]
            ww = w[:, None] * w[None, :]
            sig[a, b] = np.sum(ww * phi(u) * phi(v))
            sigd[a, b] = np.sum(ww * dphi(u) * dphi(v))
    return sig, sig + omega2 ** 2 * G * sigd
