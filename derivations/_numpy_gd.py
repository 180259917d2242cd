"""A tiny plain-NumPy gradient-descent run that produces measured constants.

Used by ``python -m derivations`` and by the tests until the trajectory
module of pl_toolkit lands.  It is deliberately independent of
pl_toolkit: GELU, its derivatives and the NTK are written out here.

Notes
-----
Network ``x -> V phi(W x)`` with rows as samples: ``Z = X W^T``,
``f = phi(Z) V^T``, loss ``h = ||f - Y||_F^2``; LeCun initialization
``W0 ~ N(0, 1/d0)``, ``V0 ~ N(0, 1/d1)``; both layers trained by full-batch
GD.  Empirical NTK for ``d2 = 1``:
``K = H H^T + (X X^T) o ((G diag(v^2)) G^T)`` with ``H = phi(Z)``,
``G = phi'(Z)``.
"""

import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import ndtr

__all__ = ["gelu", "gelu_d", "gelu_dd", "digits_data", "data_quantities", "run_tiny_gd"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu(z):
    """GELU ``z Phi(z)``."""
    return z * ndtr(z)


def gelu_d(z):
    """GELU first derivative."""
    return ndtr(z) + z * _INV_SQRT_2PI * np.exp(-0.5 * z * z)


def gelu_dd(z):
    """GELU second derivative."""
    return _INV_SQRT_2PI * np.exp(-0.5 * z * z) * (2.0 - z * z)


def digits_data(n=40, seed=0):
    """A seeded subset of scikit-learn's digits, unit rows, ``||Y||_F = 1``.

    Parameters
    ----------
    n : int, default 40
    seed : int, default 0

    Returns
    -------
    X : ndarray of shape (n, 64)
    Y : ndarray of shape (n, 1)
        Centred digit labels scaled to unit Frobenius norm.
    """
    from sklearn.datasets import load_digits

    Xall, labels = load_digits(return_X_y=True)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    idx = rng.choice(len(Xall), n, replace=False)
    X = Xall[idx].astype(np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = labels[idx].astype(np.float64) - 4.5
    Y = (y / np.linalg.norm(y))[:, None]
    return X, Y


def data_quantities(X, t=2):
    """``sigma_max(X)``, ``s_t``, min separation and Du et al.'s ``lambda0``.

    Parameters
    ----------
    X : ndarray of shape (n, d0)
        Unit rows.
    t : int, default 2

    Returns
    -------
    dict
        ``sigma_max_X``, ``s_t`` (``sqrt(lambda_min((X X^T)^{o t}))``),
        ``delta`` (``min_{i != j} ||x_i - x_j||``), ``lambda0``
        (``lambda_min`` of ``H_inf_ij = x_i.x_j (pi - arccos(x_i.x_j)) /
        (2 pi)``, the ReLU kernel of Du et al. 2019).
    """
    G = X @ X.T
    n = len(X)
    s_t = math.sqrt(max(np.linalg.eigvalsh(G**t)[0], 0.0))
    D2 = np.diag(G)[:, None] + np.diag(G)[None, :] - 2 * G
    D2[np.diag_indices(n)] = np.inf
    C = np.clip(G, -1.0, 1.0)
    H_inf = C * (np.pi - np.arccos(C)) / (2 * np.pi)
    return {"sigma_max_X": float(np.linalg.norm(X, 2)), "s_t": s_t,
            "delta": float(math.sqrt(max(D2.min(), 0.0))),
            "lambda0": float(np.linalg.eigvalsh(H_inf)[0])}


def _ntk(X, XX, W, V):
    Z = X @ W.T
    H, G = gelu(Z), gelu_d(Z)
    return H @ H.T + XX * ((G * V[0] ** 2) @ G.T)


def _hermite(k_list, omega, deg=120):
    g, w = hermegauss(deg)
    w = w / w.sum()
    out = []
    for k in k_list:
        c = np.zeros(k + 1)
        c[k] = 1.0
        out.append(float(np.sum(w * gelu(omega * g) * np.polynomial.hermite_e.hermeval(g, c))))
    return out


def run_tiny_gd(n=40, d1=200, steps=6000, seed=0, eta_factor=0.5, t=2, lemma1_samples=6,
                tol=1e-2, spectrum_every=10):
    """Run plain GD on the digits subset and return the measured constants.

    Parameters
    ----------
    n : int, default 40
    d1 : int, default 200
    steps : int, default 6000
    seed : int, default 0
    eta_factor : float, default 0.5
        ``eta = eta_factor / lambda_max(K(w0))``; the Hessian of ``h`` is
        about ``2 J^T J``, so 0.5 is the classical ``1/beta`` step.
    t : int, default 2
        Khatri-Rao power (GELU: even ``t``).
    lemma1_samples : int, default 6
        Random points at distance ``rho_Phi`` from ``w0`` for Lemma 1.
    tol : float, default 1e-2
        ``converged`` means ``h(w_T) <= tol * h(w0)``.
    spectrum_every : int, default 10
        ``lambda_min(K)`` and the smoothness bound are computed every this
        many steps (and at the last); ``min_lambda_min``,
        ``min_pl_ratio`` and ``min_ntk_ck_ratio`` are minima over those
        same steps.

    Returns
    -------
    measured : dict
        Keys of :class:`derivations.check.MeasuredConstants`.
    extra : dict
        Data quantities (see :func:`data_quantities`) and the loss curve.
    """
    X, Y = digits_data(n, seed)
    nn, d0 = X.shape
    rng = np.random.default_rng(np.random.SeedSequence([seed, d1]))
    W = rng.standard_normal((d1, d0)) / math.sqrt(d0)
    V = rng.standard_normal((1, d1)) / math.sqrt(d1)
    W0, V0 = W.copy(), V.copy()
    XX = X @ X.T
    dq = data_quantities(X, t)
    zz = np.linspace(-12, 12, 240001)
    phi_dot_max = float(np.abs(gelu_d(zz)).max())
    phi_ddot_max = float(np.abs(gelu_dd(zz)).max())
    sv = np.linalg.svd(gelu(X @ W0.T), compute_uv=False)
    mu, smax_phi = float(sv[-1]), float(sv[0])
    sX = dq["sigma_max_X"]
    sV0 = float(np.linalg.norm(V0, 2))
    nu = phi_dot_max * sX * sV0 + smax_phi
    beta_fu = math.sqrt(2) * sX * (phi_dot_max + sV0) + phi_ddot_max * mu / (2 * phi_dot_max)
    rho = mu / (2 * beta_fu)

    ev0 = np.linalg.eigvalsh(_ntk(X, XX, W0, V0))
    eta = eta_factor / ev0[-1]
    hs, lam_min, pl_ratio, smooth, ck_ratio = [], [], [], [], []
    dist_max = path = 0.0
    chi = sV0
    for i in range(steps + 1):
        Z = X @ W.T
        H, G = gelu(Z), gelu_d(Z)
        r = H @ V.T - Y
        h = float(np.sum(r * r))
        gV = 2 * r.T @ H
        gW = 2 * ((r @ V) * G).T @ X
        hs.append(h)
        gsq = float(np.sum(gW * gW) + np.sum(gV * gV))
        if i % spectrum_every == 0 or i == steps:
            pl_ratio.append(gsq / h)
            ev = np.linalg.eigvalsh(H @ H.T + XX * ((G * V[0] ** 2) @ G.T))
            lam_min.append(ev[0])
            ck_ratio.append(ev[0] / np.linalg.svd(H, compute_uv=False)[-1] ** 2)
            # ||Hess h|| <= 2 (sigma_max(J)^2 + beta_Phi ||Phi - Y||)  [DERIVED]
            smooth.append(2 * (ev[-1] + beta_fu * math.sqrt(h)))
        if i == steps:
            break
        W = W - eta * gW
        V = V - eta * gV
        path += eta * math.sqrt(gsq)
        dist_max = max(dist_max, math.sqrt(np.sum((W - W0) ** 2) + np.sum((V - V0) ** 2)))
        chi = max(chi, float(np.linalg.norm(V)))
    beta_paper = math.sqrt(2) * sX * (phi_dot_max + phi_ddot_max * chi)

    smins, smaxs = [], []
    for _ in range(lemma1_samples):
        dW, dV = rng.standard_normal(W0.shape), rng.standard_normal(V0.shape)
        scale = rho / math.sqrt(np.sum(dW * dW) + np.sum(dV * dV))
        ev = np.linalg.eigvalsh(_ntk(X, XX, W0 + scale * dW, V0 + scale * dV))
        smins.append(math.sqrt(max(ev[0], 0.0)))
        smaxs.append(math.sqrt(ev[-1]))

    omega1 = 1 / math.sqrt(d0)
    c0, ct = _hermite([0, t], omega1)
    measured = dict(
        n=nn, d0=d0, d1=d1, d2=1, mu_Phi=mu, nu_Phi=nu, beta_Phi=beta_paper,
        beta_Phi_followup=beta_fu, rho_Phi=rho, sigma_max_X=sX,
        sigma_min_khatri_rao=dq["s_t"], t=t, h0=hs[0], eta=eta,
        observed_rate=(hs[-1] / hs[0]) ** (1.0 / steps), max_distance=dist_max,
        path_length=path, min_lambda_min=float(min(lam_min)), converged=hs[-1] <= tol * hs[0],
        steps=steps, alpha_f=2.0, beta_f=2.0, grad_norm0=2 * math.sqrt(hs[0]),
        lambda_min0=float(ev0[0]), min_pl_ratio=float(min(pl_ratio)),
        smoothness_h=float(max(smooth)), phi_dot_max=phi_dot_max, phi_ddot_max=phi_ddot_max,
        c_t=ct, c0=c0, sigma_max_phi=smax_phi, min_ntk_ck_ratio=float(min(ck_ratio)),
        lemma1_min_sigma_min=min(smins), lemma1_max_sigma_max=max(smaxs), final_loss=hs[-1])
    extra = dict(dq, losses=np.array(hs), lambda_min=np.array(lam_min))
    return measured, extra
