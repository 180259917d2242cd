"""Shared feature computations of the shallow network: the declared internal API.

The modules of pl_toolkit that need the network's features, its
preactivations or the NTK's Gram factors import them from here, by the
names in ``__all__``, and never call another module's private names.  This
module is the one place that reaches into :class:`pl_toolkit.ShallowNet` and
:class:`pl_toolkit.Activation` for their unchecked fast paths (inputs
already validated, buffers allocated by the caller).

With ``Z = X W^T + b1``, ``H = phi(Z)``, ``G = phi'(Z)`` (all ``(n, d1)``):

* :func:`preactivations`, :func:`features`, :func:`features_of`,
  :func:`fill_phi_dphi` -- ``Z`` and ``(H, G)`` on checked data;
* :func:`vjp_blocks`, :func:`jvp_blocks` -- ``J^T U`` and ``J T`` for
  ``k`` columns at once from ``(H, G)``, chunk by chunk, in
  :class:`ParameterBlocks` (:func:`flat_from_blocks`,
  :func:`blocks_from_flat` convert to and from flat parameter vectors;
  :func:`product_rows`, :func:`column_groups` size the chunks);
  :func:`vjp_from_features`, :func:`jvp_from_features` -- the same for
  one vector;
* :func:`gram_factors`, :data:`COMBINE` -- the factors of an NTK block and
  the kernel that combines them; :func:`gram_block_factors` -- the factors
  of ``J(Xa) J(Xb)^T`` from the data; :func:`gram_tile` -- that block,
  combined and checked (:func:`check_gram`); :func:`ntk_gram_upper` -- the
  NTK's upper triangle tile by tile, with its peak memory
  :func:`ntk_upper_bytes`;
* :func:`inputs`, :func:`gram_overflow`, :func:`ntk_nonfinite_error`,
  :func:`ntk_nonfinite_named` -- the arrays an overflow error names;
* :func:`check_dtype`, :func:`preactivations_as` -- the working precision
  of the Gram matrices (float64, or float32 for exploratory work) and the
  preactivations formed in it;
* ``phi_dphi_scalar`` (the activations' jitted scalar ``(phi, phi')``
  kernel), ``check_scale``, ``gaussian_second_moment`` and
  ``normalized_coefficient_matrix`` (the Gaussian quadrature of
  :mod:`pl_toolkit.hermite`) -- for the infinite-width kernels.
"""

import contextlib
from typing import NamedTuple, Optional

import numpy as np

from ._jit import prange, serial_and_parallel, use_parallel
from ._validation import FLOAT64_MAX, max_abs, overflow_error, quiet_overflow
from .activations import _phi_dphi as phi_dphi_scalar
from .hermite import (_check_scale as check_scale,
                      _gaussian_second_moment as gaussian_second_moment,
                      _normalized_coefficient_matrix as normalized_coefficient_matrix)

__all__ = ["check_scale", "gaussian_second_moment", "normalized_coefficient_matrix",
           "phi_dphi_scalar", "CHUNK_BYTES", "COMBINE", "COMBINE_INTO", "EMPTY", "FACTOR_NAMES",
           "FLOAT32_MAX", "PRODUCT_BYTES", "TILE_ROWS", "ParameterBlocks", "blocks_from_flat",
           "check_dtype", "column_groups", "diagonals_rule_out_overflow", "factor_diagonals",
           "check_gram", "features", "features_of", "fill_phi_dphi", "flat_from_blocks",
           "forward", "gram_block_factors", "gram_factors", "gram_overflow", "gram_tile",
           "inputs", "jvp_blocks", "jvp_from_features", "ntk_gram_tiled", "ntk_gram_upper",
           "ntk_nonfinite_error", "ntk_nonfinite_named", "ntk_upper_bytes", "preactivations",
           "preactivations_as", "product_rows", "scaled_jacobian_rows", "tile_rows",
           "vjp_blocks", "vjp_from_features", "z_bounded", "z_slots"]


# --------------------------------------------------------------------------
# The network's unchecked fast paths (data already validated)
# --------------------------------------------------------------------------
def preactivations(net, X, name="X"):
    """``Z = X W^T (+ b1)`` of checked ``X``, refused (naming ``name``) if it overflows."""
    return net._preactivations(X, name)


#: Largest finite float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)

_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def check_dtype(dtype):
    """``np.float64`` or ``np.float32`` as named by ``dtype``; anything else is a ValueError."""
    try:
        dt = None if dtype is None or isinstance(dtype, bool) else np.dtype(dtype)
    except (TypeError, ValueError):
        dt = None
    if dt is None or dt not in _DTYPES:           # (np.dtype("f8") == None is True)
        raise ValueError(f"dtype must be np.float64 or np.float32, got {dtype!r}")
    return dt.type


def _dtype_max(dtype):
    return FLOAT64_MAX if np.dtype(dtype) == np.float64 else FLOAT32_MAX


def preactivations_as(net, X, dtype, out=None, name="X"):
    """``Z = X W^T (+ b1)`` of checked ``X`` formed in ``dtype`` (into ``out`` if given).

    float64 is :func:`preactivations` (then copied into ``out``).  float32
    rounds ``X``, ``W`` and ``b1`` and forms the product in float32; it is
    refused (naming ``name``) when ``Z`` overflows float32, unless the bound
    ``d0 max|X| max|W| + max|b1| <= FLOAT32_MAX / 2`` rules that out.
    """
    if np.dtype(dtype) == np.float64:
        Z = preactivations(net, X, name)
        if out is None:
            return Z
        out[...] = Z
        return out
    W = np.asarray(net.W, dtype=dtype)
    Xd = np.asarray(X, dtype=dtype)
    if out is None:
        Z = Xd @ W.T
    else:
        Z = np.matmul(Xd, W.T, out=out)
    if net.b1 is not None:
        Z += np.asarray(net.b1, dtype=dtype)
    bound = X.shape[1] * max_abs(X) * max_abs(net.W) + (
        0.0 if net.b1 is None else max_abs(net.b1))
    if not bound <= 0.5 * FLOAT32_MAX and not np.all(np.isfinite(Z)):
        raise overflow_error(f"the preactivations {name} W^T + b1",
                             [(name, X), ("net.W", net.W), ("net.b1", net.b1)], np.float32)
    return Z


def z_bounded(net, X):
    """Whether the a-priori bound on ``|Z|`` rules out overflow in the preactivations."""
    return net._z_bounded(X)


def forward(net, X, name="X"):
    """The network output on checked ``X``, refused (naming the inputs) if it overflows."""
    return net._forward(X, name)


def inputs(net, X, name="X", *extra):
    """``(name, array)`` pairs of everything an output on ``X`` depends on (for overflow errors)."""
    return net._inputs(X, name, *extra)


def fill_phi_dphi(activation, Z, H, G, parallel=True, scale=None):
    """Write ``phi(Z)`` into ``H`` and ``phi'(Z) * scale`` into ``G``; return ``(H, G)``.

    ``H`` may be ``Z``.
    """
    return activation._fill_phi_dphi(Z, H, G, parallel, scale)


# --------------------------------------------------------------------------
# Features, products and Gram factors
# --------------------------------------------------------------------------
#: Temporaries of shape ``(rows, d1)`` are kept below this many bytes by chunking rows.
CHUNK_BYTES = 1 << 27


def features_of(net, Z, parallel=True, scale=None):
    """``(H, G) = (phi(Z), phi'(Z) * scale)`` with ``H`` written over ``Z``'s buffer."""
    return fill_phi_dphi(net.activation, Z, Z, np.empty_like(Z), parallel, scale)


def features(net, X, parallel=True, scale=None, name="X"):
    """Return ``(H, G)`` with ``G = phi'(Z) * scale``; ``H`` reuses the buffer of ``Z``."""
    return features_of(net, preactivations(net, X, name), parallel, scale)


def gram_factors(net, Xa, Xb, Ha, Hb, Aa, Ab, use_w, use_v):
    """The factors ``S``, ``XX`` and ``KV`` of a Gram block.

    ``S = A_a A_b^T``, ``XX = X_a X_b^T (+1)``, ``KV = H_a H_b^T (+1)``.
    ``COMBINE`` turns them into the NTK block; an unused factor is ``EMPTY``.
    Symmetric blocks pass the same arrays twice (NumPy then uses ``syrk``).
    """
    S = XX = KV = EMPTY
    if use_v:
        KV = Ha @ Hb.T
        if net.b2 is not None:
            KV += 1.0
    if use_w:
        XX = Xa @ Xb.T
        if net.b1 is not None:
            XX += 1.0
        S = Aa @ Ab.T
    return S, XX, KV


# --------------------------------------------------------------------------
# Jacobian products J^T U and J T, k columns at once
# --------------------------------------------------------------------------
#: The parameter blocks ``J^T U`` of one block product are kept below this
#: many bytes: :func:`column_groups` splits a wider ``U`` into column groups.
PRODUCT_BYTES = 1 << 30


class ParameterBlocks(NamedTuple):
    """``k`` parameter vectors of the network, layer by layer (None: layer not taken).

    Attributes
    ----------
    W : ndarray of shape (k, d1, d0 + 1) or (k, d1, d0), or None
        First-layer weights; with ``b1`` its ``k`` vectors are the last
        column (the weights of a constant input).
    V : ndarray of shape (k, d2, d1) or None
        Second-layer weights.
    b2 : ndarray of shape (k, d2) or None
        Output biases (None without ``b2`` or without the second layer).
    """

    W: Optional[np.ndarray]
    V: Optional[np.ndarray]
    b2: Optional[np.ndarray]


def product_rows(net, k):
    """Rows per chunk of the block products of ``k`` columns.

    The widest temporaries of a chunk are ``(rows, k d1)`` (the first
    layer's terms), ``(rows, k d2)`` and ``(rows, d0 + 1)`` (the data with
    its column of ones); each stays below :data:`CHUNK_BYTES`.  The count
    depends on the shapes only (never on ``layers``), so every layer is
    summed over the same chunks.
    """
    widest = max(k * net.d1, k * net.d2, net.d0 + 1)
    return max(1, CHUNK_BYTES // (8 * widest))


def column_groups(k, n_params):
    """Slices of ``range(k)``, each a column group whose ``J^T U`` fits :data:`PRODUCT_BYTES`.

    ``n_params`` is the length of one parameter vector.
    """
    width = max(1, PRODUCT_BYTES // (8 * max(n_params, 1)))
    return [slice(i, min(i + width, k)) for i in range(0, k, width)]


def _chunk_features(feats, c):
    # ``feats``: the pair (H, G), or a function of the row slice returning it
    if callable(feats):
        return feats(c)
    H, G = feats
    return H[c], G[c]


def _with_ones(net, Xc):
    """``[X_c, 1]`` when the net has ``b1`` (the bias as the weight of a constant input)."""
    if net.b1 is None:
        return Xc
    Xa = np.empty((Xc.shape[0], Xc.shape[1] + 1))
    Xa[:, :-1] = Xc
    Xa[:, -1] = 1.0
    return Xa


def _add_product(C, A, B):
    """``C += A^T B`` in row blocks of ``C``, each product below :data:`CHUNK_BYTES`."""
    step = max(1, CHUNK_BYTES // (8 * max(B.shape[1], 1)))
    for i in range(0, C.shape[0], step):
        C[i:i + step] += A[:, i:i + step].T @ B


def vjp_blocks(net, X, feats, U, layers):
    """``J^T U`` for the ``k`` columns of ``U`` from the features, as :class:`ParameterBlocks`.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : ndarray of shape (n, d0)
        Checked inputs.
    feats : tuple of ndarray or callable
        ``(H, G) = (phi(Z), phi'(Z))`` (unscaled, as :func:`features`
        returns them), or a function of a row slice returning those rows.
    U : ndarray of shape (n, d2, k)
        Cotangents: column ``j`` is ``U[:, :, j]``.
    layers : tuple of {"W", "V"}
        Parameters taken.

    Returns
    -------
    ParameterBlocks
        ``W[j] = ((U_j V) o G)^T [X, 1]``, ``V[j] = U_j^T H``, ``b2[j] =
        1^T U_j``.

    Notes
    -----
    One pass over row chunks (:func:`product_rows`) for all ``k``
    columns.  The first layer's term is the sum over samples ``a`` and
    outputs ``p`` of ``U_j[a, p] (G[a] o V[p]) (x) [x_a, 1]``; the outputs
    are contracted first (``U_j V``, ``2 n k d1 d2`` flops), then one GEMM
    of ``k d1 x n x (d0 + 1)`` gives every column, so the cost is that of
    ``k`` single products for any ``d2``.
    """
    n, d0, d1, d2 = X.shape[0], net.d0, net.d1, net.d2
    k = U.shape[2]
    da = d0 + (net.b1 is not None)
    use_w, use_v = "W" in layers, "V" in layers
    gW = np.zeros((k * d1, da)) if use_w else None
    gV = np.zeros((k * d2, d1)) if use_v else None
    gb2 = np.zeros((k, d2)) if use_v and net.b2 is not None else None
    rows = product_rows(net, k)
    H = G = M = None
    for i in range(0, n, rows):
        c = slice(i, min(i + rows, n))
        H = G = M = None                 # release the previous chunk's arrays first
        H, G = _chunk_features(feats, c)
        m = H.shape[0]
        Uc = U[c].transpose(0, 2, 1).reshape(m * k, d2)      # row a k + j: U_j[a]
        if use_v:
            gV += Uc.reshape(m, k * d2).T @ H
            if gb2 is not None:
                gb2 += Uc.reshape(m, k, d2).sum(axis=0)
        if use_w:
            M = (Uc @ net.V).reshape(m, k, d1)
            M *= G[:, None, :]
            _add_product(gW, M.reshape(m, k * d1), _with_ones(net, X[c]))
    return ParameterBlocks(None if gW is None else gW.reshape(k, d1, da),
                           None if gV is None else gV.reshape(k, d2, d1), gb2)


def jvp_blocks(net, X, feats, T, layers):
    """``J T`` for the ``k`` tangents ``T`` (:class:`ParameterBlocks`): shape ``(n, d2, k)``.

    ``feats`` and ``layers`` as in :func:`vjp_blocks`; a layer whose
    block is None is left out.  Per row chunk (:func:`product_rows`) and
    column ``j``, the first-layer term ``((X_a W_j^T) o G) V^T`` (with
    ``X_a = [X, 1]`` under ``b1``: one GEMM of ``n x (d0 + 1) x k d1`` for
    all columns) is added first, then ``H V_j^T`` and ``b2_j``: every
    caller (local or on a cluster's shards) rounds the same way.
    """
    n, d1, d2 = X.shape[0], net.d1, net.d2
    use_w = "W" in layers and T.W is not None
    use_v = "V" in layers and T.V is not None
    k = (T.W if use_w else T.V).shape[0]
    tW = T.W.reshape(k * d1, -1).T if use_w else None
    tV = T.V.reshape(k * d2, d1).T if use_v else None
    out = np.empty((n, d2, k))
    rows = product_rows(net, k)
    H = G = S = Oc = None
    for i in range(0, n, rows):
        c = slice(i, min(i + rows, n))
        H = G = S = Oc = None
        H, G = _chunk_features(feats, c)
        m = H.shape[0]
        if use_w:
            S = (_with_ones(net, X[c]) @ tW).reshape(m, k, d1)
            S *= G[:, None, :]
            Oc = (S.reshape(m * k, d1) @ net.V.T).reshape(m, k, d2)
        if use_v:
            P = (H @ tV).reshape(m, k, d2)
            if Oc is None:
                Oc = P
            else:
                Oc += P
            if T.b2 is not None:
                Oc += T.b2
        out[c] = Oc.transpose(0, 2, 1)
    return out


def flat_from_blocks(net, g):
    """The ``(k, P)`` array of flat parameter vectors (ordered as ``net.parameters``)."""
    d0 = net.d0
    k = (g.W if g.W is not None else g.V).shape[0]
    parts = []
    if g.W is not None:
        parts.append(g.W[:, :, :d0].reshape(k, -1))
        if net.b1 is not None:
            parts.append(g.W[:, :, d0])
    if g.V is not None:
        parts.append(g.V.reshape(k, -1))
        if g.b2 is not None:
            parts.append(g.b2)
    return np.concatenate(parts, axis=1)


def blocks_from_flat(net, flat, layers):
    """:class:`ParameterBlocks` of a ``(k, P)`` array of flat parameter vectors of ``layers``."""
    d0, d1, d2 = net.d0, net.d1, net.d2
    k = flat.shape[0]
    W = V = b2 = None
    i = 0
    if "W" in layers:
        W = np.empty((k, d1, d0 + (net.b1 is not None)))
        W[:, :, :d0] = flat[:, :d1 * d0].reshape(k, d1, d0)
        i = d1 * d0
        if net.b1 is not None:
            W[:, :, d0] = flat[:, i:i + d1]
            i += d1
    if "V" in layers:
        V = flat[:, i:i + d2 * d1].reshape(k, d2, d1)
        i += d2 * d1
        if net.b2 is not None:
            b2 = flat[:, i:i + d2]
    return ParameterBlocks(W, V, b2)


def vjp_from_features(net, X, H, G, U, layers):
    """``J^T U`` (flat, ordered as ``net.parameters(layers)``) from the features ``(H, G)``.

    ``U`` of shape ``(n, d2)``: :func:`vjp_blocks` with one column.
    """
    g = vjp_blocks(net, X, (H, G), np.asarray(U).reshape(X.shape[0], net.d2, 1), layers)
    return flat_from_blocks(net, g)[0]


def jvp_from_features(net, X, H, G, parts):
    """``J t`` of shape ``(n, d2)`` from the features ``(H, G)``; ``parts`` as ``net.unflatten``.

    :func:`jvp_blocks` with one column (the layers are those in ``parts``).
    """
    W = V = b2 = None
    if "W" in parts:
        W = parts["W"][None]
        if "b1" in parts:
            W = np.concatenate([W, parts["b1"][None, :, None]], axis=2)
    if "V" in parts:
        V = parts["V"][None]
        if "b2" in parts:
            b2 = parts["b2"][None]
    layers = tuple(name for name in ("W", "V") if name in parts)
    return jvp_blocks(net, X, (H, G), ParameterBlocks(W, V, b2), layers)[:, :, 0]


def combine_into(S, XX, KV, d2, use_w, use_v, m, p, out, r0, c0, mirror):
    # The NTK block from its factors, for an (m, p) tile written straight into
    # out[r0:r0+m, c0:c0+p] and, if mirror, transposed into out[c0:c0+p, r0:r0+m]
    # (the tile is small enough that the transposed writes stay in cache):
    # entry (i, j) is S[i, j] XX[a, b] + [p == q] KV[a, b], i = a d2 + p, j = b d2 + q.
    if d2 == 1 and use_w and use_v:
        # The common case, without index arithmetic (vectorizes).
        for i in prange(m):
            for j in range(p):
                v = S[i, j] * XX[i, j] + KV[i, j]
                out[r0 + i, c0 + j] = v
                if mirror:
                    out[c0 + j, r0 + i] = v
        return
    for i in prange(m):
        a = i // d2
        q0 = i - a * d2
        for j in range(p):
            b = j // d2
            q = j - b * d2
            v = 0.0
            if use_w:
                v += S[i, j] * XX[a, b]
            if use_v and q0 == q:
                v += KV[a, b]
            out[r0 + i, c0 + j] = v
            if mirror:
                out[c0 + j, r0 + i] = v


_COMBINE_INTO = serial_and_parallel(combine_into)

#: The serial tile kernel ``(S, XX, KV, d2, use_w, use_v, m, p, out, r0, c0, mirror)``.
COMBINE_INTO = _COMBINE_INTO[False]


def _whole_block(kernel):
    def combine(S, XX, KV, d2, use_w, use_v, out):
        # the whole of out: the tile kernel with no offset and no mirror
        kernel(S, XX, KV, d2, use_w, use_v, out.shape[0], out.shape[1], out, 0, 0, False)
    return combine


#: ``{parallel: combine(S, XX, KV, d2, use_w, use_v, out)}``: the NTK block from its factors.
COMBINE = {parallel: _whole_block(kernel) for parallel, kernel in _COMBINE_INTO.items()}


EMPTY = np.zeros((1, 1))


#: Sample rows per tile of :func:`ntk_gram_tiled` (``d2 = 1``; ``TILE_ROWS // d2`` otherwise).
TILE_ROWS = 512


def tile_rows(n, d2, tile=TILE_ROWS):
    """Sample rows per tile: ``tile // d2``, or for small ``n`` a quarter of it (>= 64 rows).

    Four row blocks let two workers share the work; below 64 rows one tile
    is cheaper than several.  It depends on the shape only, never on the
    number of workers.
    """
    b = max(1, int(tile) // d2)
    return min(b, max(max(1, 64 // d2), -(-n // 4)))


def _features_into(net, X, H, G, lo, hi, scale, dtype, name):
    """``H[lo:hi] = phi(Z)``, ``G[lo:hi] = phi'(Z) * scale`` for rows ``lo:hi`` of ``X``.

    ``Z`` is formed in ``H[lo:hi]`` (no temporary) and checked as
    :func:`preactivations` checks it, naming ``name``.
    """
    Hb, Gb = H[lo:hi], G[lo:hi]
    Xb = X[lo:hi]
    if np.dtype(dtype) == np.float64:
        np.matmul(Xb, net.W.T, out=Hb)
        if net.b1 is not None:
            Hb += net.b1
        if not z_bounded(net, Xb) and not np.all(np.isfinite(Hb)):
            raise overflow_error(f"the preactivations {name} W^T + b1",
                                 [(name, X), ("net.W", net.W), ("net.b1", net.b1)])
    else:
        try:
            preactivations_as(net, Xb, dtype, out=Hb, name=name)
        except ValueError:
            preactivations_as(net, X, dtype, name=name)   # the message names all of X
            raise
    fill_phi_dphi(net.activation, Hb, Hb, Gb, False, scale)


@quiet_overflow
def ntk_gram_tiled(net, X, X2, layers, *, workers=1, dtype=np.float64, tile=TILE_ROWS):
    """The NTK Gram matrix (or cross kernel with ``X2``) formed tile by tile on ``workers``.

    Returns ``(K, factor_diags)``: the C-ordered ``(n d2, n2 d2)`` array
    (``n2 = n`` without ``X2``) and, for the symmetric kernel, the
    diagonals of ``S``, ``XX`` and ``KV`` (None for a cross kernel).

    Two kinds of tasks, run by :func:`pl_toolkit._threads.run_tasks`:
    the features of a block of ``tile`` rows (``Z`` formed in the buffer
    of ``H``, then ``phi`` and ``phi'`` in one pass of the serial kernel),
    then one task per output tile ``(I, J)`` (only ``I <= J`` when
    symmetric): its products ``A_I A_J^T``, ``X_I X_J^T``, ``H_I H_J^T``
    (``syrk`` on diagonal tiles), their combination (:data:`COMBINE`)
    while the factors are in cache, and the write of the tile and, when
    symmetric, of its transpose.  Call it inside
    :func:`pl_toolkit._threads.one_blas_thread`: each product is then one
    single-threaded BLAS call, whichever worker runs it, so the result
    does not depend on ``workers``.  Besides ``K`` it keeps ``H`` and
    ``G`` (``n d1`` each) and three tile-square factors per worker, against
    three ``n d2``-square factors for the untiled product.
    """
    from ._threads import run_tasks

    dtype = check_dtype(dtype)
    d1, d2 = net.d1, net.d2
    use_w, use_v = "W" in layers, "V" in layers
    sym = X2 is None
    scale = np.asarray(net.V[0]) if d2 == 1 else None
    sets = [(X, "X")] if sym else [(X, "X"), (X2, "X2")]
    feats = [(np.empty((Xi.shape[0], d1), dtype), np.empty((Xi.shape[0], d1), dtype))
             for Xi, _ in sets]
    b = tile_rows(X.shape[0], d2, tile)
    blocks = [[(i, min(i + b, Xi.shape[0])) for i in range(0, Xi.shape[0], b)] for Xi, _ in sets]
    run_tasks(lambda t: _features_into(net, sets[t[0]][0], *feats[t[0]], *t[1], scale, dtype,
                                       sets[t[0]][1]),
              [(s, blk) for s in range(len(sets)) for blk in blocks[s]], workers)
    (H1, G1), (H2, G2) = feats[0], feats[-1]
    A1, A2 = scaled_jacobian_rows(G1, net.V), scaled_jacobian_rows(G2, net.V)
    Xd = [Xi if dtype is np.float64 else Xi.astype(dtype) for Xi, _ in sets]
    Xa, Xb = Xd[0], Xd[-1]
    rows, cols = blocks[0], blocks[-1]
    out = np.empty((X.shape[0] * d2, Xb.shape[0] * d2), dtype)
    diags = {}

    def one_tile(ij):
        i, j = ij
        (r0, r1), (c0, c1) = rows[i], cols[j]
        if sym and i == j:          # the same arrays twice: NumPy uses syrk
            S, XX, KV = gram_factors(net, Xa[r0:r1], Xa[r0:r1], H1[r0:r1], H1[r0:r1],
                                     A1[r0 * d2:r1 * d2], A1[r0 * d2:r1 * d2], use_w, use_v)
            diags[i] = factor_diagonals(S, XX, KV)
        else:
            S, XX, KV = gram_factors(net, Xa[r0:r1], Xb[c0:c1], H1[r0:r1], H2[c0:c1],
                                     A1[r0 * d2:r1 * d2], A2[c0 * d2:c1 * d2], use_w, use_v)
        COMBINE_INTO(S, XX, KV, d2, use_w, use_v, (r1 - r0) * d2, (c1 - c0) * d2, out,
                     r0 * d2, c0 * d2, sym and i != j)

    if sym:
        tiles = [(i, j) for j in range(len(cols)) for i in range(j)]
        tiles += [(i, i) for i in range(len(rows))]      # the half-size tiles last
    else:
        tiles = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
    run_tasks(one_tile, tiles, workers)
    factor_diags = ([np.concatenate(d) for d in zip(*(diags[i] for i in range(len(rows))))]
                    if sym else None)
    return out, factor_diags


def gram_block_factors(net, Xa, Xb, layers, parallel=True, dtype=np.float64):
    """The Gram factors ``(S, XX, KV)`` of the block ``J(Xa) J(Xb)^T`` from checked data.

    ``Xb=None`` is the symmetric block ``J(Xa) J(Xa)^T`` (the features are
    formed once and each product is a ``syrk``).  The preactivations are
    formed in ``dtype`` (:func:`preactivations_as`, naming ``X`` and ``X2``),
    the features by the activation's kernel (``parallel``) with ``phi'(Z) o
    v`` for ``d2 = 1``, the first-layer rows by :func:`scaled_jacobian_rows`
    and the factors by :func:`gram_factors`; :data:`COMBINE` turns them
    into the block.
    """
    sym = Xb is None
    scale = np.asarray(net.V[0]) if net.d2 == 1 else None
    H1, G1 = features_of(net, preactivations_as(net, Xa, dtype), parallel, scale)
    if sym:
        H2, G2 = H1, G1
    else:
        H2, G2 = features_of(net, preactivations_as(net, Xb, dtype, name="X2"), parallel, scale)
    A1 = scaled_jacobian_rows(G1, net.V)
    A2 = A1 if sym else scaled_jacobian_rows(G2, net.V)
    Xr = Xa if sym else Xb
    if np.dtype(dtype) != np.float64:
        Xa, Xr = Xa.astype(dtype), Xr.astype(dtype)
    return gram_factors(net, Xa, Xr, H1, H2, A1, A2, "W" in layers, "V" in layers)


@quiet_overflow
def gram_tile(net, Xa, Xb, layers, parallel=True, cross=False):
    """The float64 NTK block ``J(Xa) J(Xb)^T`` (``Xb=None``: ``J(Xa) J(Xa)^T``), checked.

    The factors of :func:`gram_block_factors` combined by :data:`COMBINE`
    (into the buffer of ``S`` when that is the block's shape).  A block with
    a non-finite entry is refused by :func:`check_gram`, naming ``Xa`` as
    ``X`` and ``Xb`` as ``X2`` when ``cross`` (a tile of the cross kernel of
    ``X`` and ``X2``), else both blocks together as rows of ``X``.
    """
    use_w, use_v = "W" in layers, "V" in layers
    d2 = net.d2
    S, XX, KV = gram_block_factors(net, Xa, Xb, layers, parallel)
    rows = Xa.shape[0] if Xb is None else Xb.shape[0]
    out = S if (use_w and d2 == 1) else np.empty((Xa.shape[0] * d2, rows * d2))
    COMBINE[use_parallel(parallel, out.size)](S, XX, KV, d2, use_w, use_v, out)
    if cross:
        check_gram(net, Xa, Xb, (out,), None, layers)
    else:
        check_gram(net, Xa if Xb is None else np.concatenate([Xa, Xb]), None, (out,), None,
                   layers)
    return out


def scaled_jacobian_rows(G, V):
    """``A[a d2 + p] = G[a] o V[p]`` in G's dtype; for ``d2 = 1`` ``G`` holds ``phi'(Z) o v``."""
    if V.shape[0] == 1:
        return G
    n, d1 = G.shape
    V = np.asarray(V, dtype=G.dtype)
    return (G[:, None, :] * V[None, :, :]).reshape(n * V.shape[0], d1)


FACTOR_NAMES = ("the first-layer factor (phi'(Z) o V)(phi'(Z) o V)^T", "the data Gram X X^T",
                 "the conjugate kernel phi(Z) phi(Z)^T")


def factor_diagonals(S, XX, KV):
    """Copies of the diagonals of the Gram factors (``S`` may be overwritten by the result)."""
    return [np.diagonal(F).copy() for F in (S, XX, KV)]


def diagonals_rule_out_overflow(diags, dtype=np.float64):
    """Whether finite diagonals ``<= max/4`` prove every entry of a symmetric NTK finite.

    For a Gram factor ``F = B B^T`` every partial sum of ``F_ab`` is bounded
    by ``sum_k |B_ak| |B_bk| <= sqrt(F_aa F_bb)`` (Cauchy-Schwarz; rounding
    adds a factor ``1 + O(k eps)``), and for the NTK entry
    ``|S_ij XX_ab| + |KV_ab| <= sqrt(K_ii K_jj) + sqrt(KV_aa KV_bb)``.  So if
    the diagonals of ``S``, ``XX``, ``KV`` and ``K`` (or of both blocks) are
    finite and at most a quarter of the float64 maximum, no entry overflows,
    and checking ``O(n)`` numbers replaces a pass over ``n^2``.  ``max`` is
    that of ``dtype`` (float32: the ``1 + O(k eps)`` factor is still below
    ``1 + 1e-3`` for ``k < 10^4``).
    """
    d = np.concatenate(diags)
    return bool(d.max() <= 0.25 * _dtype_max(dtype))      # nan propagates through max: False


def gram_overflow(net, X, X2, factor_diags, layers, dtype=np.float64):
    """The ValueError for an NTK with a non-finite entry, naming the stage and the largest input."""
    named = inputs(net, X) + ([] if X2 is None else [("X2", X2)])
    what = "the NTK Gram matrix"
    top = _dtype_max(dtype)
    if factor_diags is not None:
        for name, d, used in zip(FACTOR_NAMES, factor_diags,
                                 ("W" in layers, "W" in layers, "V" in layers)):
            if used and not (np.all(np.isfinite(d)) and d.max() <= 0.25 * top):
                what = f"{name} of the NTK"
                if name.startswith("the data"):
                    named = [("X", X)] + ([] if X2 is None else [("X2", X2)])
                break
    return overflow_error(what, named, dtype)


def check_gram(net, X, X2, parts, factor_diags, layers, dtype=np.float64):
    """Return ``parts`` (NTK blocks of ``X``, ``X2``) if all their entries are finite, else raise.

    For the symmetric kernel (``X2`` None) with the diagonals of its factors
    the check is :func:`diagonals_rule_out_overflow`; otherwise (or when
    that does not settle it) every entry is looked at.  The error is
    :func:`gram_overflow`'s.
    """
    if X2 is None and factor_diags is not None:
        if diagonals_rule_out_overflow(factor_diags + [np.diagonal(P) for P in parts], dtype):
            return parts
    if all(np.all(np.isfinite(P)) for P in parts):
        return parts
    raise gram_overflow(net, X, X2, factor_diags, layers, dtype)


def z_slots(n, d1, d2, b):
    """Homes for the row blocks of ``Z`` inside the never-written part of the output.

    Block row ``k`` of the ``(n d2, n d2)`` output (rows ``k b d2`` onward)
    is written only from column ``k b d2`` on, so its first ``k b d2``
    columns are free: room for ``floor(k b d2 / d1)`` slots of ``d1``
    columns.  Returns, for each row block ``j`` of ``Z``, ``(row, col)`` of
    its slot's corner, or None if it must be stored separately.
    """
    blocks = [(i, min(i + b, n)) for i in range(0, n, b)]
    free = []
    for k, (k0, k1) in enumerate(blocks):
        for m in range((k * b * d2) // d1):
            free.append((k0 * d2, m * d1, (k1 - k0) * d2))
    homes = []
    for lo, hi in blocks:
        pick = next((f for f in free if f[2] >= hi - lo), None)
        if pick is not None:
            free.remove(pick)
            homes.append(pick[:2])
        else:
            homes.append(None)
    return homes


@quiet_overflow
def ntk_gram_upper(net, X, layers=("W", "V"), *, parallel=True, tile=1024, dtype=np.float64):
    """The NTK's upper triangle, formed tile by tile with little extra memory.

    Returns a C-ordered ``(n d2, n d2)`` array of ``dtype`` whose entries
    ``[i, j]`` with ``j >= i`` (whole tiles on and above the diagonal) equal
    ``ntk_gram(net, X, layers=layers, dtype=dtype)[i, j]``; the strictly
    lower tiles hold scratch.  Its transpose is therefore the
    Fortran-ordered lower triangle LAPACK's ``dpotrf(lower=1)`` (``spotrf``
    for float32) factors in place.

    Besides the output only the preactivations ``Z`` are needed, and their
    row blocks are kept in the strictly lower tiles, which the triangle never
    writes (:func:`z_slots`; blocks that find no room there are stored
    separately).  The features of each ``tile``-row block are recomputed
    from ``Z`` when needed (``n^2 d1 / (2 tile)`` activation evaluations).
    The peak is the output plus ``O(tile (d1 + tile))`` temporaries
    (:func:`ntk_upper_bytes`), against three ``n d2``-square temporaries
    for :func:`ntk_gram`; the GEMM work is half of :func:`ntk_gram`'s (one
    triangle).

    ``dtype=np.float32`` forms everything in float32 (``Z``, the features,
    the Gram factors and their combination; see :func:`preactivations_as`):
    half the memory, for exploratory work only.
    """
    dtype = check_dtype(dtype)
    d2 = net.d2
    n = X.shape[0]
    N = n * d2
    out = np.empty((N, N), dtype=dtype)
    use_w, use_v = "W" in layers, "V" in layers
    scale = np.asarray(net.V[0]) if d2 == 1 else None
    Xd = X if dtype is np.float64 else X.astype(dtype)
    b = max(1, int(tile) // d2)
    blocks = [(i, min(i + b, n)) for i in range(0, n, b)]
    homes = z_slots(n, net.d1, d2, b)
    kept = {}
    for j, (lo, hi) in enumerate(blocks):
        if homes[j] is None:
            kept[j] = preactivations_as(net, X[lo:hi], dtype)
        elif dtype is np.float64:
            r, c = homes[j]
            out[r:r + hi - lo, c:c + net.d1] = preactivations(net, X[lo:hi])
        else:
            r, c = homes[j]
            out[r:r + hi - lo, c:c + net.d1] = preactivations_as(net, X[lo:hi], dtype)
    buf = np.empty((b * d2, b * d2), dtype=dtype)
    diags = []

    def feats(j):
        lo, hi = blocks[j]
        if homes[j] is None:
            Zb = kept[j].copy()            # H overwrites its buffer; Z is kept
        else:
            r, c = homes[j]
            Zb = out[r:r + hi - lo, c:c + net.d1].copy()
        H, G = features_of(net, Zb, parallel, scale)
        return H, scaled_jacobian_rows(G, net.V)

    for ci, (c0, c1) in enumerate(blocks):
        Hc = Ac = Hr = Ar = None          # release the last block's features first
        Hc, Ac = feats(ci)
        for ri, (r0, r1) in enumerate(blocks[: ci + 1]):
            Hr = Ar = None
            S = XX = KV = EMPTY
            Hr, Ar = (Hc, Ac) if ri == ci else feats(ri)
            S, XX, KV = gram_factors(net, Xd[r0:r1], Xd[c0:c1], Hr, Hc, Ar, Ac, use_w, use_v)
            tile_out = buf[: (r1 - r0) * d2, : (c1 - c0) * d2]
            if ri == ci:
                diags.append(factor_diagonals(S, XX, KV))
            COMBINE[use_parallel(parallel, tile_out.size)](S, XX, KV, d2, use_w, use_v, tile_out)
            out[r0 * d2:r1 * d2, c0 * d2:c1 * d2] = tile_out
    # The diagonal tiles hold every diagonal entry (see diagonals_rule_out_overflow).
    factor_diags = [np.concatenate(d) for d in zip(*diags)]
    if not diagonals_rule_out_overflow(factor_diags + [np.diagonal(out)], dtype):
        for ci, (c0, c1) in enumerate(blocks):
            for r0, r1 in blocks[: ci + 1]:
                if not np.all(np.isfinite(out[r0 * d2:r1 * d2, c0 * d2:c1 * d2])):
                    raise gram_overflow(net, X, None, factor_diags, layers, dtype)
    return out


def ntk_upper_bytes(n, d1, d2, tile=1024, dtype=np.float64, d0=0):
    """Peak bytes of :func:`ntk_gram_upper`: output, ``Z`` blocks without a slot, temporaries.

    For float32 every buffer is half as large, plus the float32 copy of the
    ``(n, d0)`` data (counted when ``d0`` is given).
    """
    b = max(1, tile // d2)
    homeless = sum(hi - lo for (lo, hi), home in
                   zip([(i, min(i + b, n)) for i in range(0, n, b)], z_slots(n, d1, d2, b))
                   if home is None)
    rows = b * d2
    size = np.dtype(check_dtype(dtype)).itemsize
    copy_x = 0 if size == 8 else n * d0
    return size * ((n * d2) ** 2 + homeless * d1 + b * d1 + 4 * rows * d1 + 4 * rows * rows
                   + copy_x)


def ntk_nonfinite_error(net, X):
    """ValueError naming ``X`` or ``net`` when the NTK overflows float64 (the larger is named)."""
    xs = float(np.max(np.abs(X))) if X.size else 0.0
    params = [net.W, net.V] + [b for b in (getattr(net, "b1", None), getattr(net, "b2", None))
                               if b is not None]
    ws = max(float(np.max(np.abs(p))) if np.size(p) else 0.0 for p in params)
    name = "X" if xs >= ws else "net"
    what = "inputs" if name == "X" else "weights"
    return ValueError(f"{name}: the NTK of these {what} is not finite in float64 "
                      f"(max |X| = {xs:.3g}, largest weight {ws:.3g}); "
                      f"rescale {'the data' if name == 'X' else 'the network'}")


@contextlib.contextmanager
def ntk_nonfinite_named(net, X, mark="returned NaN or Inf"):
    """Within it, an eigensolver's "returned NaN or Inf" error becomes :func:`ntk_nonfinite_error`.

    For the iterative routes on an NTK operator of checked ``X``: a product
    that is not finite is reported by what overflowed (``X`` or ``net``);
    any other ValueError passes unchanged.  ``mark`` is the text that
    identifies the error to replace (``"the product K u"``: the error of
    :class:`pl_toolkit.NTKOperator`'s own check, for a route whose product
    inputs are bounded, so that only ``X`` or the net can overflow).
    """
    try:
        yield
    except ValueError as exc:
        if mark not in str(exc):
            raise
        raise ntk_nonfinite_error(net, X) from None
