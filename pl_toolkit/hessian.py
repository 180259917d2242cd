r"""Exact Hessian-vector products of the loss and its top eigenvalue.

With ``Z = X W^T + b1``, ``H = phi(Z)``, ``G = phi'(Z)``, ``G2 = phi''(Z)``
(all ``(n, d1)``) and the residual ``R = H V^T + b2 - Y`` (``(n, d2)``), the
Hessian of ``h = ||R||_F^2`` is

.. math::

    \nabla^2 h = 2 J^T J + 2 \sum_{a, p} R_{ap} \nabla^2 \Phi_{ap}

(Gauss-Newton part plus residual curvature).  For a tangent
``t = (t_W, t_b1, t_V, t_b2)`` put ``T = X t_W^T + t_b1`` (the tangent of
the preactivations) and ``Jt = (G o T) V^T + H t_V^T + t_b2``.  Then

* ``(H u)_W = M^T X`` and ``(H u)_b1 = 1^T M`` with
  ``M = 2 [ (Jt V) o G + (R t_V) o G + (R V) o G2 o T ]``;
* ``(H u)_V = 2 [ Jt^T H + R^T (G o T) ]`` and ``(H u)_b2 = 2 * 1^T Jt``.

The terms with ``R`` are the exact second derivatives (``phi''`` enters
only through the first-layer block; the mixed block is ``phi'``).  One
product costs two ``(n, d0, d1)`` GEMMs and a few elementwise passes over
``(n, d1)`` arrays: ``O(n d1 (d0 + d2))``, the cost of a gradient.  No
finite differences are used anywhere.
"""

from typing import NamedTuple

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._features import fill_phi_dphi, preactivations
from ._lanczos import guarded_lanczos
from ._validation import as_float_array
from .network import check_layers, check_net as _check_net

__all__ = ["hessian_vector_product", "hessian_top_eigenvalue", "hessian_operator",
           "HessianOperator", "HessianEig"]


class HessianEig(NamedTuple):
    """Top eigenpair of the loss Hessian, as returned by :func:`hessian_top_eigenvalue`.

    Parameters
    ----------
    value : float
        Largest (algebraic) eigenvalue of ``nabla^2 h``.
    vector : ndarray
        Unit eigenvector, ordered as :meth:`ShallowNet.parameters`.
    residual : float
        ``||nabla^2 h v - value v||`` (the Lanczos estimate
        ``beta_k |s_k|``, exact in exact arithmetic).
    matvecs : int
        Number of Hessian-vector products used.
    converged : bool
        Whether the stopping test was met within ``maxiter`` products.
    method : str
        ``"lanczos"`` or ``"eigsh"``.
    """

    value: float
    vector: np.ndarray
    residual: float
    matvecs: int
    converged: bool
    method: str


class HessianOperator(LinearOperator):
    """Matrix-free Hessian ``u -> nabla^2 h(Theta) u``; see :func:`hessian_operator`.

    Parameters
    ----------
    net : ShallowNet
        The network (expansion point).
    X : array_like of shape (n, d0)
        Inputs as rows.
    Y : array_like of shape (n, d2) or (n,)
        Targets.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters the Hessian is taken with respect to.
    parallel : bool, default True
        Use the row-parallel activation kernels at construction.
    """

    def __init__(self, net, X, Y, layers=("W", "V"), parallel=True):
        self.net = _check_net(net)
        self.layers = check_layers(layers)
        self.X = net.check_data(X)
        self.Y = net.check_targets(Y, self.X.shape[0])
        self._setup(parallel)
        self.matvecs = 0
        p = net.num_parameters(self.layers)
        super().__init__(dtype=np.float64, shape=(p, p))

    @classmethod
    def _unchecked(cls, net, X, Y, layers, parallel=True):
        # Internal fast path for checked, C-contiguous float64 data.
        self = cls.__new__(cls)
        self.net, self.layers, self.X, self.Y = net, layers, X, Y
        self._setup(parallel)
        self.matvecs = 0
        p = net.num_parameters(layers)
        LinearOperator.__init__(self, dtype=np.float64, shape=(p, p))
        return self

    def _setup(self, parallel):
        net, X = self.net, self.X
        Z = preactivations(net, X)
        act = net.activation
        # Z is already checked: the unchecked kernel entry (Z is still needed for phi'').
        self._H, self._G = fill_phi_dphi(act, Z, np.empty_like(Z), np.empty_like(Z), parallel)
        R = self._H @ net.V.T
        if net.b2 is not None:
            R += net.b2
        R -= self.Y
        self._R = R
        self._RVG2 = None
        if "W" in self.layers:
            # (R V) o phi''(Z): the only place phi'' enters.
            G2 = act.ddphi(Z, parallel=parallel)
            G2 *= R @ net.V
            self._RVG2 = G2
        self._slices = []
        i = 0
        for name, shape in net.parameter_names(self.layers):
            size = int(np.prod(shape))
            self._slices.append((name, slice(i, i + size), shape))
            i += size

    @property
    def residual(self):
        """The residual ``R = f(X) - Y`` at the expansion point, shape (n, d2)."""
        return self._R

    def _split(self, u):
        return {name: u[s].reshape(shape) for name, s, shape in self._slices}

    def _apply(self, u):
        net, X, H, G, R = self.net, self.X, self._H, self._G, self._R
        t = self._split(u)
        use_w, use_v = "W" in t, "V" in t
        Jt = np.zeros_like(R)
        if use_w:
            T = X @ t["W"].T
            if "b1" in t:
                T += t["b1"]
            GT = G * T
            Jt += GT @ net.V.T
        if use_v:
            Jt += H @ t["V"].T
            if "b2" in t:
                Jt += t["b2"]
        out = {}
        if use_w:
            M = Jt @ net.V
            if use_v:
                M += R @ t["V"]
            M *= G
            T *= self._RVG2
            M += T
            M *= 2.0
            out["W"] = M.T @ X
            if "b1" in t:
                out["b1"] = M.sum(axis=0)
        if use_v:
            gV = Jt.T @ H
            if use_w:
                gV += R.T @ GT
            out["V"] = 2.0 * gV
            if "b2" in t:
                out["b2"] = 2.0 * Jt.sum(axis=0)
        return np.concatenate([out[name].ravel() for name, _, _ in self._slices])

    def _matvec(self, u):
        self.matvecs += 1
        u = np.asarray(u, dtype=np.float64).reshape(-1)
        return self._apply(u)

    def _rmatvec(self, u):
        return self._matvec(u)

    def _adjoint(self):
        return self


def hessian_operator(net, X, Y, layers=("W", "V"), *, parallel=True):
    """The Hessian of the loss ``h`` as a matrix-free ``LinearOperator``.

    Parameters
    ----------
    net : ShallowNet
        The network (expansion point).
    X : array_like of shape (n, d0)
        Inputs as rows.
    Y : array_like of shape (n, d2) or (n,)
        Targets.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters the Hessian is taken with respect to.
    parallel : bool, default True
        Use the row-parallel activation kernels at construction.

    Returns
    -------
    HessianOperator
        Symmetric ``(p, p)`` operator, ``p = net.num_parameters(layers)``;
        its ``matvecs`` attribute counts products.

    Notes
    -----
    Construction evaluates ``phi``, ``phi'`` and ``phi''`` once
    (``O(n d0 d1)``) and stores three ``(n, d1)`` arrays; each product then
    costs ``O(n d1 (d0 + d2))``.  See the module docstring for the formula.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet
    >>> from pl_toolkit.hessian import hessian_operator
    >>> net = ShallowNet([[1.0]], [[2.0]], activation="identity")
    >>> Hop = hessian_operator(net, [[1.0]], [0.0])   # h = (v w)^2
    >>> (Hop @ np.array([1.0, 0.0])).tolist()          # d2h/dw2 = 2 v^2, d2h/dvdw = 4 v w
    [8.0, 8.0]
    """
    return HessianOperator(net, X, Y, layers, parallel)


def hessian_vector_product(net, X, Y, u, layers=("W", "V"), *, parallel=True):
    """Exact Hessian-vector product ``nabla^2 h(Theta) u`` of the loss.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    Y : array_like of shape (n, d2) or (n,)
        Targets.
    u : array_like
        Flat direction ordered as :meth:`ShallowNet.parameters` ``(layers)``.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters the Hessian is taken with respect to.
    parallel : bool, default True
        Use the row-parallel activation kernels.

    Returns
    -------
    ndarray
        ``nabla^2 h u``, ordered like ``u``.

    Raises
    ------
    ValueError
        On bad data, a direction of the wrong length or non-finite entries.

    Notes
    -----
    Analytic second derivatives, no finite differences:
    ``nabla^2 h u = 2 J^T (J u) + 2 sum_{a,p} R_ap nabla^2 Phi_ap u``; the
    second term carries ``phi''`` (module docstring).  ``O(n d0 d1)`` time.
    The paper bounds ``||nabla^2 h|| <= 2 (sigma_max(J)^2 + beta_Phi
    ||Phi - Y||)`` (Section 3, "PL / NTK link"; ``beta_Phi`` of Lemma 3,
    eq. 18).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, hessian_vector_product
    >>> net = ShallowNet([[1.0]], [[2.0]], activation="identity")
    >>> # h(w, v) = (v w x - y)^2 at x = 1, y = 1: residual r = 1.
    >>> hessian_vector_product(net, [[1.0]], [1.0], [0.0, 1.0]).tolist()
    [6.0, 2.0]
    """
    net = _check_net(net)
    layers = check_layers(layers)
    X = net.check_data(X)
    Y = net.check_targets(Y, X.shape[0])
    u = as_float_array(u, "u", ndim=1)
    p = net.num_parameters(layers)
    if u.shape[0] != p:
        raise ValueError(f"u has length {u.shape[0]}, expected {p} for layers {layers}")
    op = HessianOperator._unchecked(net, X, Y, layers, parallel)
    return op._apply(u)




def hessian_top_eigenvalue(net, X, Y, *, layers=("W", "V"), tol=1e-6, v0=None, maxiter=None,
                           method="lanczos", seed=0, parallel=True):
    """Largest eigenvalue of the loss Hessian by Lanczos on exact HVPs.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    Y : array_like of shape (n, d2) or (n,)
        Targets.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters the Hessian is taken with respect to.
    tol : float, default 1e-6
        Relative accuracy: stop when the Ritz residual is below
        ``tol * |value|`` (or its Kato-Temple estimate is, see Notes).
    v0 : array_like, optional
        Starting vector (warm start, e.g. the previous ``vector``).
    maxiter : int, optional
        Cap on Hessian-vector products (default ``max(400, 10 * 40)``).
    method : {"lanczos", "eigsh"}, default "lanczos"
        The package's thick-restart Lanczos (the routine behind
        :func:`pl_toolkit.lambda_min`, here checking convergence after
        every product, so a warm start pays off), or ARPACK through
        ``scipy.sparse.linalg.eigsh`` (at least ~20 products per call).
    seed : int, default 0
        Seed of the random starting vector when ``v0`` is not given.
    parallel : bool, default True
        Use the row-parallel activation kernels.

    Returns
    -------
    HessianEig
        ``(value, vector, residual, matvecs, converged, method)``.

    Raises
    ------
    ValueError
        On bad data or arguments, or when the Hessian-vector products
        overflow (NaN or Inf) at these parameters.

    Notes
    -----
    The smoothness of ``h`` at ``Theta`` is ``||nabla^2 h(Theta)||_2``;
    near a well-fitted point the Gauss-Newton part ``2 J^T J`` dominates and
    the top eigenvalue is ``~ 2 lambda_max(K)``.  The paper gives no
    constant for ``h`` itself, only ``||nabla^2 h|| <= 2 (sigma_max(J)^2 +
    beta_Phi ||Phi - Y||)`` (Section 3).  Lanczos stopping test: Ritz
    residual ``rho <= tol |theta|``, or ``rho <= sqrt(tol) |theta|`` and
    ``rho^2 / gap <= tol |theta| / 10`` (Kato-Temple, with a safety factor).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, hessian_top_eigenvalue
    >>> net = ShallowNet.init(d0=3, d1=8, seed=0)
    >>> X = np.eye(3); Y = np.ones(3) / 3
    >>> res = hessian_top_eigenvalue(net, X, Y)
    >>> res.converged, res.vector.shape
    (True, (32,))
    """
    net = _check_net(net)
    layers = check_layers(layers)
    X = net.check_data(X)
    Y = net.check_targets(Y, X.shape[0])
    from ._validation import check_positive_float, check_positive_int

    tol = check_positive_float(tol, "tol")
    if maxiter is not None:
        maxiter = check_positive_int(maxiter, "maxiter")
    if method not in ("lanczos", "eigsh"):
        raise ValueError(f"method must be 'lanczos' or 'eigsh', got {method!r}")
    op = HessianOperator._unchecked(net, X, Y, layers, parallel)
    p = op.shape[0]
    if v0 is not None:
        v0 = as_float_array(v0, "v0", ndim=1)
        if v0.shape[0] != p:
            raise ValueError(f"v0 has length {v0.shape[0]}, expected {p}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    if method == "eigsh" and p > 2:
        from scipy.sparse.linalg import eigsh

        start = rng.standard_normal(p) if v0 is None else v0
        from scipy.sparse.linalg import ArpackNoConvergence

        try:
            vals, vecs = eigsh(op, k=1, which="LA", tol=tol, v0=start, maxiter=maxiter)
            conv = True
        except ArpackNoConvergence as exc:
            if len(exc.eigenvalues) == 0:
                return HessianEig(float("nan"), start / np.linalg.norm(start), float("nan"),
                                  op.matvecs, False, "eigsh")
            vals, vecs, conv = exc.eigenvalues, exc.eigenvectors, False
        value, vec = float(vals[0]), vecs[:, 0]
        resid = float(np.linalg.norm(op._apply(vec) - value * vec))
        return HessianEig(value, vec, resid, op.matvecs, conv, "eigsh")
    theta, y, rho, mv, conv = guarded_lanczos(
        op._apply, p, which="LA", tol=tol, v0=v0, maxiter=maxiter, rng=rng,
        nonfinite="net gives NaN or Inf Hessian-vector products on this data (overflow)")
    return HessianEig(theta, y, rho, mv, conv, "lanczos")
