"""Loss, derivatives and the empirical NTK of the shallow network.

Everything here is exact (closed form) and never forms the Jacobian.  With
``Z = X W^T + b1``, ``H = phi(Z)``, ``G = phi'(Z)`` (all ``(n, d1)``) and the
residual ``R = H V^T + b2 - Y`` (``(n, d2)``):

* loss ``h = ||R||_F^2`` (the paper's ``||V phi(W X) - Y||_F^2``);
* vector-Jacobian product with ``U`` (``(n, d2)``):
  ``g_V = U^T H``, ``g_b2 = 1^T U``, ``M = (U V) o G``, ``g_W = M^T X``,
  ``g_b1 = 1^T M``; the gradient is the VJP with ``U = 2 R``;
* Jacobian-vector product with ``(t_W, t_b1, t_V, t_b2)``:
  ``H t_V^T + t_b2 + ((X t_W^T + t_b1) o G) V^T``;
* NTK Gram, sample-major (row ``a d2 + p`` is output ``p`` of sample ``a``):
  ``K = (H H^T + b2) (x) I_{d2} + (X X^T + b1) (x) 1 o (A A^T)`` with
  ``A[a d2 + p] = G[a] o V[p]``.

Finite inputs whose products overflow float64 are refused with a ValueError
naming the input with the largest entries (``pl_toolkit._validation``,
"Overflow of finite input"): every function here checks its result, and the
preactivations ``Z`` are checked whenever the bound ``d0 max|X| max|W| +
max|b1|`` does not rule out their overflow.
"""

from typing import NamedTuple

import numpy as np
from scipy.sparse.linalg import LinearOperator

from . import _reference
from ._features import (COMBINE, check_dtype, check_gram, column_groups, factor_diagonals,
                        features, features_of, forward, gram_block_factors, inputs,
                        jvp_blocks, jvp_from_features, ntk_gram_tiled, preactivations,
                        vjp_blocks, vjp_from_features, z_bounded)
from ._jit import use_parallel
from ._threads import one_blas_thread, worker_count
from ._validation import check_finite, check_result_finite, quiet_overflow
from .network import check_layers, check_net as _check_net

__all__ = ["loss", "residual", "gradient", "jvp", "vjp", "ntk_gram", "ntk_operator",
           "NTKBlocks", "NTKOperator"]

# What an NTKOperator keeps between products.
_STORES = ("features", "preactivations")


class NTKBlocks(NamedTuple):
    """The two layer-wise terms of the empirical NTK; ``W + V`` is the whole.

    Attributes
    ----------
    W : ndarray
        First-layer term ``(X X^T) o (A A^T)`` (plus the ``b1`` term).
    V : ndarray
        Second-layer term: the conjugate kernel ``phi(X W^T) phi(X W^T)^T``
        tensored with ``I_{d2}`` (plus the ``b2`` term).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram
    >>> net = ShallowNet.init(d0=3, d1=20, seed=0)
    >>> X = np.random.default_rng(0).standard_normal((4, 3))
    >>> parts = ntk_gram(net, X, blocks=True)
    >>> H = net.features(X)                     # conjugate-kernel features
    >>> bool(np.allclose(parts.V, H @ H.T))
    True
    >>> bool(np.allclose(parts.W + parts.V, ntk_gram(net, X)))
    True
    """

    W: np.ndarray
    V: np.ndarray


def _check_backend(backend):
    if backend not in ("numba", "numpy"):
        raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}")
    return backend


@quiet_overflow
def residual(net, X, Y):
    """Return ``R = f(X) - Y`` of shape (n, d2).

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    Y : array_like of shape (n, d2) or (n,)
        Targets.

    Returns
    -------
    ndarray of shape (n, d2)
        The residual.

    Examples
    --------
    >>> from pl_toolkit import ShallowNet, residual
    >>> net = ShallowNet([[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]], activation="identity")
    >>> residual(net, [[1.0, 2.0], [0.0, 1.0]], [0.0, 1.0]).tolist()  # f = x1 + x2
    [[3.0], [0.0]]
    """
    net = _check_net(net)
    X = net.check_data(X)
    Y = net.check_targets(Y, X.shape[0])
    return _checked_residual(net, X, Y)


def _checked_residual(net, X, Y):
    R = forward(net, X)
    R -= Y
    return check_result_finite(R, "the residual f(X) - Y", inputs(net, X, "X", ("Y", Y)))


@quiet_overflow
def loss(net, X, Y):
    """The paper's loss ``h(Theta) = ||V phi(W X) - Y||_F^2``.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    Y : array_like of shape (n, d2) or (n,)
        Targets.

    Returns
    -------
    float
        Sum of squared residuals (no 1/2 and no 1/n factor).

    Notes
    -----
    Section 5 of the paper, with ``f(z) = ||z - Y||^2`` so that
    ``||grad f||^2 = 4 f``: alpha_f = beta_f = 2.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, loss
    >>> net = ShallowNet(np.eye(2), [[1.0, 1.0]], activation="identity")
    >>> loss(net, [[1.0, 2.0]], [0.0])
    9.0
    """
    net = _check_net(net)
    X = net.check_data(X)
    Y = net.check_targets(Y, X.shape[0])
    r = _checked_residual(net, X, Y)
    h = float(np.einsum("ij,ij->", r, r))
    return check_result_finite(h, "the loss ||f(X) - Y||^2", inputs(net, X, "X", ("Y", Y)))


@quiet_overflow
def vjp(net, X, U, layers=("W", "V"), *, parallel=True):
    """Vector-Jacobian product ``J^T u`` of ``Phi`` without forming ``J``.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    U : array_like of shape (n, d2) or (n*d2,)
        Cotangent (sample-major when flat).
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters to differentiate with respect to.
    parallel : bool, default True
        Use the row-parallel activation kernel.

    Returns
    -------
    ndarray
        Flat vector ordered as :meth:`ShallowNet.parameters`.

    Notes
    -----
    Cost ``O(n d1 (d0 + d2))``.  The adjoint of the paper's derivative
    (Section 3, "PL / NTK link"):
    ``grad Phi*(Theta)[Z] = ((V^T Z o phi'(W X)) X^T, Z phi(W X)^T)``.

    Examples
    --------
    The gradient of ``h = ||f(X) - Y||^2`` is twice the VJP of the residual:

    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, gradient, jvp, residual, vjp
    >>> rng = np.random.default_rng(0)
    >>> net = ShallowNet.init(d0=3, d1=8, d2=2, seed=0)
    >>> X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    >>> g = vjp(net, X, residual(net, X, Y))
    >>> bool(np.allclose(2 * g, gradient(net, X, Y)))
    True

    and it is the adjoint of :func:`jvp`: ``<J t, U> = <t, J^T U>``.

    >>> t, U = rng.standard_normal(g.size), rng.standard_normal((5, 2))
    >>> bool(np.isclose(np.sum(jvp(net, X, t) * U), t @ vjp(net, X, U)))
    True
    """
    net = _check_net(net)
    layers = check_layers(layers)
    X = net.check_data(X)
    U = _as_cotangent(net, U, X.shape[0])
    H, G = features(net, X, parallel)
    g = vjp_from_features(net, X, H, G, U, layers)
    return check_result_finite(g, "the vector-Jacobian product J^T U",
                               inputs(net, X, "X", ("U", U)))


def _as_cotangent(net, U, n, name="U"):
    from ._validation import as_float_array

    U = as_float_array(U, name, ndim=(1, 2))
    if U.ndim == 1:
        if U.shape[0] != n * net.d2:
            raise ValueError(f"{name} has length {U.shape[0]}, expected n*d2 = {n * net.d2}")
        U = U.reshape(n, net.d2)
    if U.shape != (n, net.d2):
        raise ValueError(f"{name} has shape {U.shape}, expected ({n}, {net.d2})")
    return U


@quiet_overflow
def jvp(net, X, t, layers=("W", "V"), *, parallel=True):
    """Jacobian-vector product ``J t`` of ``Phi`` without forming ``J``.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    t : array_like
        Flat tangent ordered as :meth:`ShallowNet.parameters` ``(layers)``.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters the tangent covers.
    parallel : bool, default True
        Use the row-parallel activation kernel.

    Returns
    -------
    ndarray of shape (n, d2)
        Directional derivative of the outputs.

    Examples
    --------
    Compare with a central finite difference of the outputs:

    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, jvp
    >>> rng = np.random.default_rng(0)
    >>> net = ShallowNet.init(d0=3, d1=8, d2=2, seed=0)
    >>> X = rng.standard_normal((5, 3))
    >>> theta = net.parameters()
    >>> t = rng.standard_normal(theta.size)
    >>> eps = 1e-6
    >>> fd = (net.with_parameters(theta + eps * t).forward(X)
    ...       - net.with_parameters(theta - eps * t).forward(X)) / (2 * eps)
    >>> jvp(net, X, t).shape, bool(np.allclose(jvp(net, X, t), fd, atol=1e-6))
    ((5, 2), True)
    """
    net = _check_net(net)
    layers = check_layers(layers)
    X = net.check_data(X)
    parts = net.unflatten(t, layers, name="t")
    H, G = features(net, X, parallel)
    out = jvp_from_features(net, X, H, G, parts)
    return check_result_finite(out, "the Jacobian-vector product J t",
                               inputs(net, X, "X", *((f"t[{k}]", a) for k, a in parts.items())))


@quiet_overflow
def gradient(net, X, Y, layers=("W", "V"), *, parallel=True):
    """Analytic gradient of the loss ``h`` with respect to ``layers``.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    Y : array_like of shape (n, d2) or (n,)
        Targets.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters to differentiate with respect to.
    parallel : bool, default True
        Use the row-parallel activation kernel.

    Returns
    -------
    ndarray
        Flat gradient ordered as :meth:`ShallowNet.parameters`.

    Notes
    -----
    ``grad h = 2 J^T r`` with ``r`` the residual; hence
    ``||grad h||^2 = 4 r^T K r`` with ``K = J J^T`` the NTK.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, gradient
    >>> net = ShallowNet([[1.0]], [[2.0]], activation="identity")
    >>> gradient(net, [[1.0]], [0.0]).tolist()   # h = (v w x - y)^2
    [8.0, 4.0]
    """
    net = _check_net(net)
    layers = check_layers(layers)
    X = net.check_data(X)
    Y = net.check_targets(Y, X.shape[0])
    H, G = features(net, X, parallel)
    R = H @ net.V.T
    if net.b2 is not None:
        R += net.b2
    R -= Y
    R *= 2.0
    g = vjp_from_features(net, X, H, G, R, layers)
    # Overflow in H, G or the residual propagates (inf * 0 is nan) to g.
    return check_result_finite(g, "the gradient", inputs(net, X, "X", ("Y", Y)))


# --------------------------------------------------------------------------
# Gram matrix
# --------------------------------------------------------------------------
def _check_gram(net, X, X2, out, factor_diags, layers, dtype=np.float64):
    """Return ``out`` (an array or NTKBlocks) if all its entries are finite, else raise."""
    parts = tuple(out) if isinstance(out, NTKBlocks) else (out,)
    check_gram(net, X, X2, parts, factor_diags, layers, dtype)
    return out


@quiet_overflow
def ntk_gram(net, X, X2=None, *, blocks=False, layers=("W", "V"), backend="numba", parallel=True,
             dtype=np.float64, client=None, out=None):
    """Empirical NTK Gram matrix of the network with respect to ``layers``.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    X2 : array_like of shape (n2, d0), optional
        Second set of inputs for the cross kernel ``J(X) J(X2)^T``.
    blocks : bool, default False
        Return the first- and second-layer terms separately.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained parameters (``"W"`` includes ``b1``, ``"V"`` includes ``b2``).
    backend : {"numba", "numpy"}, default "numba"
        Compiled kernels, or the plain NumPy reference.
    parallel : bool, default True
        Share the tiles among ``min(numba.get_num_threads(), BLAS
        threads)`` worker threads; ``False`` runs every tile in the calling
        thread (BLAS included).  Results are bitwise equal either way.
    dtype : {np.float64, np.float32}, default np.float64
        Working precision of the numba backend.  ``np.float32`` forms the
        preactivations, features, Gram factors and their combination in
        float32 (half the memory, fewer cycles per product) for exploratory
        work; its accuracy is in the Notes.  It is never the precision for
        eigenvalues that are reported: use float64 for those.
    client : dask.distributed.Client, optional
        Compute the tiles on this Dask cluster instead
        (:func:`pl_toolkit.ntk_distributed.distributed_ntk_gram`): the result
        is a lazy dask array, or the file ``out``.
    out : str, os.PathLike or numpy.memmap, optional
        With ``client``: a ``.npy`` file that must not exist yet (or an open
        writeable float64 memmap of the Gram's shape), filled tile by tile
        (for Grams larger than memory); the result is then that memmap.

    Returns
    -------
    ndarray of shape (n*d2, n2*d2) or NTKBlocks
        ``K = J J^T``, sample-major: row ``a*d2 + p`` is output ``p`` of
        sample ``a`` -- the numbers neural-tangents returns with
        ``trace_axes=()`` after transposing to ``(n, d2, n, d2)``.  With
        ``client``: a dask array, or the memmap ``out``.

    Raises
    ------
    ValueError
        On bad data or arguments (see :meth:`ShallowNet.check_data`), or
        when finite inputs overflow float64 (``X`` with entries ``1e155``:
        ``X X^T`` exceeds ``1.8e308``); the message names the input with the
        largest entries; when ``dtype`` is not float64 or float32, or float32
        with ``backend="numpy"`` (the reference is float64 only); under
        float32 also when the result overflows float32.

    Notes
    -----
    For ``d2 = 1`` (Section 3, "PL / NTK link"),
    ``K_ab = sum_r phi(w_r x_a) phi(w_r x_b)
    + sum_r v_r^2 phi'(w_r x_a) phi'(w_r x_b) (x_a . x_b)``.
    The first sum is the conjugate kernel, whose smallest eigenvalue is
    ``mu_Phi^2`` of Lemma 3 (eq. 18) at initialization.  Cost: one GEMM for
    the preactivations, one pass of ``phi`` and ``phi'`` over ``n x d1`` and
    two symmetric rank-``d1`` products (plus the rank-``d0`` ``X X^T``).
    Without ``blocks`` they run tile by tile (``_features.ntk_gram_tiled``):
    each worker thread forms the features of a row block, or the three
    products of one upper tile and their combination, written into the tile
    and its mirror, with single-threaded BLAS, so the activation pass
    overlaps the products and no ``n``-square temporary is made.

    With ``dtype=np.float32`` (unit roundoff ``u32 = 2^-24``) every entry
    carries rounding from ``Z`` (``gamma_d0``), the features and the
    rank-``d1`` sums (``gamma_d1``): ``|K32 - K|_ab <= (d0 + d1 + 10) u32
    max|K|`` to first order, and in practice a few ``u32 max|K|`` (the
    errors are random; see ``benchmarks/bench_ntk.py --float32``).  The
    eigenvalues move by at most ``||K32 - K||_2`` (Weyl), in practice by
    about ``|v_i^T (K32 - K) v_i|``, a small multiple of ``u32 lambda_max``
    or less: ``lambda_max`` keeps nearly float32 accuracy, but the relative
    error of ``lambda_min`` is that times ``cond(K) = lambda_max /
    lambda_min``, which for NTKs is ``10^3``-``10^6`` and more.  Hence
    float32 for exploring, float64 for ``lambda_min`` and every certified
    or reported eigenvalue.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram
    >>> net = ShallowNet.init(d0=3, d1=50, seed=0)
    >>> X = np.eye(3)
    >>> K = ntk_gram(net, X)
    >>> K.shape, bool(np.allclose(K, K.T))
    ((3, 3), True)
    >>> parts = ntk_gram(net, X, blocks=True)
    >>> bool(np.allclose(parts.W + parts.V, K))
    True
    """
    if client is not None:
        if blocks or backend != "numba" or np.dtype(dtype) != np.float64:
            raise ValueError("client: the distributed Gram is the float64 numba kernel "
                             "(blocks=False, backend='numba', dtype=np.float64)")
        from .ntk_distributed import distributed_ntk_gram

        return distributed_ntk_gram(net, X, client, X2, layers=layers, out=out)
    if out is not None:
        raise ValueError("out: a Gram file is written only with client= (a Dask cluster)")
    net = _check_net(net)
    layers = check_layers(layers)
    _check_backend(backend)
    dtype = check_dtype(dtype)
    if backend == "numpy" and dtype is not np.float64:
        raise ValueError("dtype: backend='numpy' is the float64 reference; "
                         "dtype=np.float32 needs backend='numba'")
    X = net.check_data(X)
    X2c = None if X2 is None else net.check_data(X2, "X2")
    if backend == "numpy":
        for Xi, name in ((X, "X"), (X2c, "X2")):
            if Xi is not None and not z_bounded(net, Xi):
                preactivations(net, Xi, name)          # raises if Z overflows
        K = _reference.ntk_gram(net, X, X2c, blocks=blocks, layers=layers)
        if blocks:
            K = NTKBlocks(*K)
        return _check_gram(net, X, X2c, K, None, layers)
    sym = X2c is None
    d2 = net.d2
    if not blocks:
        n2 = X.shape[0] if sym else X2c.shape[0]
        with one_blas_thread() as blas_threads:
            # Workers pay off above about 2**24 multiply-adds (a few milliseconds).
            workers = worker_count(parallel and X.shape[0] * n2 * d2 * d2 * net.d1 >= 1 << 24,
                                   blas_threads)
            out, diags = ntk_gram_tiled(net, X, X2c, layers, workers=workers, dtype=dtype)
        return _check_gram(net, X, X2c, out, diags, layers, dtype)
    use_w, use_v = "W" in layers, "V" in layers
    S, XX, KV = gram_block_factors(net, X, X2c, layers, parallel, dtype)
    diags = factor_diagonals(S, XX, KV) if sym else None
    Xb = X if sym else X2c
    shape = (X.shape[0] * d2, Xb.shape[0] * d2)
    combine = COMBINE[use_parallel(parallel, shape[0] * shape[1])]
    KW_full = np.zeros(shape, dtype=dtype)
    KV_full = np.zeros(shape, dtype=dtype)
    if use_w:
        combine(S, XX, KV, d2, True, False, KW_full)
    if use_v:
        combine(S, XX, KV, d2, False, True, KV_full)
    return _check_gram(net, X, X2c, NTKBlocks(W=KW_full, V=KV_full), diags, layers, dtype)


# --------------------------------------------------------------------------
# Matrix-free operator
# --------------------------------------------------------------------------
class NTKOperator(LinearOperator):
    """Matrix-free empirical NTK ``u -> J (J^T u)``; see :func:`ntk_operator`.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters whose Jacobian enters the kernel.
    parallel : bool, default True
        Use the row-parallel activation kernel for the features.
    store : {"features", "preactivations"}, default "features"
        Keep ``phi(Z)`` and ``phi'(Z)`` between products, or only ``Z``
        and recompute both activations chunk by chunk in each product.

    Notes
    -----
    ``op @ U`` with ``U`` of shape ``(n d2, k)`` is one block product:
    the VJPs of all ``k`` columns in one pass over the row chunks, then
    their JVPs in a second (``_features.vjp_blocks`` and ``jvp_blocks``),
    with the flops of ``k`` single products; ``matvecs`` counts columns.
    Blocks whose ``J^T U`` would exceed ``_features.PRODUCT_BYTES`` are
    taken in column groups.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram
    >>> from pl_toolkit.ntk import NTKOperator
    >>> net = ShallowNet.init(d0=4, d1=30, d2=2, seed=1)
    >>> X = np.random.default_rng(1).standard_normal((5, 4))
    >>> op = NTKOperator(net, X)
    >>> op.shape
    (10, 10)
    >>> u = np.arange(10.0)
    >>> bool(np.allclose(op @ u, ntk_gram(net, X) @ u))
    True
    >>> op.matvecs
    1
    """

    @quiet_overflow
    def __init__(self, net, X, layers=("W", "V"), parallel=True, store="features"):
        self.net = _check_net(net)
        self.layers = check_layers(layers)
        if store not in _STORES:
            raise ValueError(f"store must be one of {_STORES}, got {store!r}")
        self.store = store
        self.X = net.check_data(X)
        self.parallel = parallel
        n = self.X.shape[0]
        if store == "features":
            self._Hf, self._Gf = features(net, self.X, parallel)
        else:
            self._Z = preactivations(net, self.X)
        self.n = n
        self.matvecs = 0
        super().__init__(dtype=np.float64, shape=(n * net.d2, n * net.d2))

    def _chunk_features(self, c):
        """``(phi(Z[c]), phi'(Z[c]))``: stored, or recomputed from ``Z``."""
        if self.store == "features":
            return self._Hf[c], self._Gf[c]
        return features_of(self.net, self._Z[c].copy(), self.parallel)

    def _product(self, U):
        # K U = J (J^T U) for finite U of shape (n d2, k): the block VJP and
        # JVP of _features, in column groups whose J^T U fits PRODUCT_BYTES
        n, d2, k = self.n, self.net.d2, U.shape[1]
        U3 = U.reshape(n, d2, k)
        out = np.empty((n, d2, k))
        for cols in column_groups(k, self.net.num_parameters(self.layers)):
            g = vjp_blocks(self.net, self.X, self._chunk_features, U3[:, :, cols], self.layers)
            out[:, :, cols] = jvp_blocks(self.net, self.X, self._chunk_features, g, self.layers)
            g = None
        return out.reshape(n * d2, k)

    @quiet_overflow
    def _matmat(self, U):
        U = np.asarray(U, dtype=np.float64).reshape(self.shape[0], -1)
        self.matvecs += U.shape[1]
        check_finite(U, "u")
        out = self._product(U)
        # Overflow anywhere in the two passes (sums and products only) reaches out.
        return check_result_finite(out, "the product K u",
                                   inputs(self.net, self.X, "X", ("u", U)))

    def _matvec(self, u):
        return self._matmat(np.reshape(u, (-1, 1))).reshape(-1)

    def _rmatvec(self, u):
        return self._matvec(u)

    def _rmatmat(self, U):
        return self._matmat(U)

    def _adjoint(self):
        return self


def ntk_operator(net, X, layers=("W", "V"), *, parallel=True, store="features", client=None):
    """The empirical NTK as a matrix-free ``LinearOperator``.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained parameters.
    parallel : bool, default True
        Use the row-parallel activation kernel.
    store : {"features", "preactivations"}, default "features"
        What is kept between products: ``phi(Z)`` and ``phi'(Z)`` (``2 n
        d1`` numbers; fastest), or only ``Z = X W^T + b1`` (``n d1``
        numbers; both activations are recomputed in every product, twice,
        since a product makes two passes over the rows).
    client : dask.distributed.Client, optional
        Run the products on this Dask cluster instead: ``X`` scattered once
        as row shards, each product a map over shards and one reduction
        (:func:`pl_toolkit.ntk_distributed.distributed_ntk_operator`).

    Returns
    -------
    NTKOperator
        Symmetric ``(n*d2, n*d2)`` operator; ``op @ u`` equals
        ``ntk_gram(net, X) @ u``; ``op @ U`` with ``U`` of shape ``(n*d2,
        k)`` is one block product of the ``k`` columns.  Its ``matvecs``
        attribute counts products (columns).  With ``client``: the
        distributed operator (a ``LinearOperator`` with the same
        products).

    Notes
    -----
    ``K u = J (J^T u)`` with the closed-form VJP and JVP of the module
    docstring: ``O(n d0 d1)`` time per product (``4 n d0 d1`` flops in
    GEMMs for the first layer, ``4 n d1 d2`` for the second) and ``O(n d1 +
    d0 d1)`` memory; row chunks bound the temporaries.  A block of ``k``
    columns costs the flops of ``k`` products in one pass over the
    features.  At ``n = 50,000``, ``d0 = 784``, ``d1 = 4000`` the stored
    features take 3.2 GB and the preactivations 1.6 GB.  Works with ``scipy.sparse.linalg.eigsh``,
    ``lobpcg`` and ``cg``.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, ntk_gram, ntk_operator
    >>> net = ShallowNet.init(d0=5, d1=40, d2=2, seed=3)
    >>> X = np.random.default_rng(0).standard_normal((6, 5))
    >>> op = ntk_operator(net, X)
    >>> u = np.ones(12)
    >>> bool(np.allclose(op @ u, ntk_gram(net, X) @ u))
    True
    """
    if client is not None:
        from .ntk_distributed import distributed_ntk_operator

        return distributed_ntk_operator(net, X, client, layers)
    return NTKOperator(net, X, layers, parallel, store)
