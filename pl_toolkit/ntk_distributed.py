"""The empirical NTK on a Dask cluster: products, the tiled Gram and ``lambda_min``.

The same numbers as :func:`pl_toolkit.ntk_operator`,
:func:`pl_toolkit.ntk_gram` and the matrix-free route of
:func:`pl_toolkit.ntk_lambda_min`, computed by the workers of a
``dask.distributed`` cluster:

* :func:`distributed_ntk_operator` -- ``u -> K u`` as a SciPy
  ``LinearOperator`` (a :class:`DistributedNTKOperator`): the rows of
  ``X`` are scattered once as shards, the network once to every worker,
  and each product is a map over the shards (the partial gradients
  ``J_s^T u_s``), one sum, and a second map (``J_s g``);
* :func:`distributed_ntk_gram` -- ``K`` tile by tile on the workers, as a
  dask array or written into a memory-mapped ``.npy`` file;
* :func:`distributed_ntk_lambda_min` -- matrix-free Lanczos (the
  iteration of ``ntk_lambda_min(method="lanczos")``) on the distributed
  operator, in a :class:`DistributedEigResult`.

A worker that dies takes the shards it held with it; the operator re-sends
them from the driver's copy of ``X`` and repeats the product, so a solve
survives lost workers with the same answer.

``dask.distributed`` is an optional dependency (``pip install
pl_toolkit[dask]``), imported only when a function here is called.
"""

import concurrent.futures
import os
from dataclasses import asdict, dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._eigen import EigResult, check_v0, iterative_extreme
from ._features import (blocks_from_flat, features, flat_from_blocks, gram_overflow, gram_tile,
                        inputs, jvp_blocks, ntk_nonfinite_named, vjp_blocks)
from ._validation import (check_finite, check_positive_float, check_positive_int,
                          check_result_finite, quiet_overflow)
from .network import check_layers, check_net

__all__ = ["DistributedEigResult", "DistributedNTKOperator", "distributed_ntk_gram",
           "distributed_ntk_lambda_min", "distributed_ntk_operator"]

_MISSING = "client= needs the 'dask' extra (dask.distributed): pip install pl_toolkit[dask]"

#: How often a product (or a tile) is repeated after losing data on the cluster.
RETRIES = 3

#: Seconds to wait for a worker when the cluster has none left (nannies restart them).
WORKER_WAIT = 60


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    return distributed


def _lost_errors(distributed):
    """Exceptions meaning "data or a worker was lost", after which a retry can succeed."""
    from distributed.comm import CommClosedError

    killed = getattr(distributed, "KilledWorker", None)
    if killed is None:                                  # older releases
        from distributed.scheduler import KilledWorker as killed
    return (concurrent.futures.CancelledError, killed, CommClosedError)


def _check_client(client):
    distributed = _distributed()
    if not isinstance(client, distributed.Client):
        raise ValueError("client must be a distributed.Client (e.g. "
                         "Client('tcp://scheduler:8786')), got " f"{type(client).__name__}")
    workers = client.nthreads()
    if not workers:
        raise ValueError("client: the cluster has no workers (start some, or wait for them "
                         "with client.wait_for_workers)")
    return distributed, len(workers)


def _row_bounds(n, parts):
    """``parts`` contiguous row ranges of ``range(n)`` whose sizes differ by at most one."""
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


class _Scattered:
    """Row blocks of ``X`` and the network on the cluster, re-sent when lost.

    Each block lives on one worker, its ``home`` (blocks spread evenly over
    the workers); the net is on every worker.  The driver keeps ``X`` (and
    the net): :meth:`restore` scatters again whatever the cluster no longer
    holds, to the least loaded workers alive, and returns the indices of
    the blocks it sent (``-1`` when the net itself went).
    """

    def __init__(self, client, net, X, bounds):
        self.client, self.net, self.X, self.bounds = client, net, X, bounds
        self.net_future = None
        self.blocks = [None] * len(bounds)
        self.home = [None] * len(bounds)
        self.resent = 0
        self.restore()
        self.resent = 0

    def restore(self):
        client = self.client
        alive = sorted(client.nthreads())
        if not alive:
            # a nanny restarts a dead worker within seconds: wait for one
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT)
            except (TimeoutError, _distributed().TimeoutError):
                raise RuntimeError("the cluster has no workers left (none came back in "
                                   f"{WORKER_WAIT} s)") from None
            alive = sorted(client.nthreads())
        sent = set()
        if self.net_future is None or self.net_future.status != "finished":
            self.net_future = client.scatter(self.net, broadcast=True, hash=False)
            sent.add(-1)
        missing = [i for i, f in enumerate(self.blocks)
                   if f is None or f.status != "finished" or self.home[i] not in alive]
        load = {w: 0 for w in alive}
        lost = set(missing)
        for i, w in enumerate(self.home):
            if i not in lost:
                load[w] += 1
        by_worker = {}
        for i in missing:
            w = min(alive, key=lambda a: (load[a], alive.index(a)))
            load[w] += 1
            by_worker.setdefault(w, []).append(i)
        for w, idx in by_worker.items():
            futs = client.scatter([self.X[self.bounds[i][0]:self.bounds[i][1]] for i in idx],
                                  workers=[w], hash=False)
            for i, f in zip(idx, futs):
                self.blocks[i], self.home[i] = f, w
        sent.update(missing)
        if sent:
            self.resent += 1
        return sent

    def futures(self):
        return [f for f in [self.net_future] + self.blocks if f is not None]


# --------------------------------------------------------------------------
# What the workers run (module-level functions: pickled by reference)
# --------------------------------------------------------------------------
@quiet_overflow
def _shard_features(net, X, parallel):
    """``(phi(Z), phi'(Z))`` of one shard, kept on its worker between products."""
    return features(net, X, parallel)


@quiet_overflow
def _shard_vjp(net, X, feats, U, layers):
    """Partial gradients ``J_s^T U_s`` of one shard: ``(k, P)`` for ``U_s`` of ``(n_s d2, k)``.

    One block VJP for all ``k`` columns; row ``j`` is the flat gradient of
    column ``j`` (ordered as ``net.parameters(layers)``).
    """
    n, k = X.shape[0], U.shape[1]
    g = vjp_blocks(net, X, feats, np.asarray(U).reshape(n, net.d2, k), layers)
    return flat_from_blocks(net, g)


def _sum_in_order(parts):
    """``sum(parts)`` in shard order (the same rounding wherever it runs)."""
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


@quiet_overflow
def _shard_jvp(net, X, feats, g, layers):
    """``J_s g`` of one shard for each of the ``k`` rows of ``g`` (``(k, P)``): ``(n_s d2, k)``."""
    out = jvp_blocks(net, X, feats, blocks_from_flat(net, g, layers), layers)
    return out.reshape(X.shape[0] * net.d2, g.shape[0])


def _transposed(tile):
    return np.ascontiguousarray(tile.T)


# --------------------------------------------------------------------------
# The operator
# --------------------------------------------------------------------------
class DistributedNTKOperator(LinearOperator):
    """Matrix-free empirical NTK ``u -> J (J^T u)`` on a Dask cluster.

    Built by :func:`distributed_ntk_operator`, whose parameters it takes.
    Products of one vector or of a block of ``k`` vectors (``op @ U`` with
    ``U`` of shape ``(n d2, k)``: one round over the cluster) agree with
    :class:`pl_toolkit.NTKOperator` to rounding.  Use it as a context
    manager, or call :meth:`close`, to free the cluster's memory.

    Parameters
    ----------
    net : ShallowNet
        The network (fixed for the life of the operator).
    X : array_like of shape (n, d0)
        Inputs as rows.
    client : distributed.Client
        The cluster.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Parameters whose Jacobian enters the kernel.
    shards : int, optional
        Number of row shards (default: twice the number of workers, at
        most ``n``).
    parallel : bool, default False
        Use the row-parallel activation kernel on the workers (off: each
        worker thread is the unit of parallelism).

    Attributes
    ----------
    matvecs : int
        Vectors multiplied so far (a block of ``k`` counts ``k``).
    recoveries : int
        Times lost shards (or the net) were re-sent from the driver.
    bounds : list of (int, int)
        The row range of each shard.

    Examples
    --------
    >>> import numpy as np
    >>> from distributed import Client
    >>> from pl_toolkit import ShallowNet, ntk_gram
    >>> from pl_toolkit.ntk_distributed import DistributedNTKOperator
    >>> client = Client(processes=False, n_workers=2, threads_per_worker=1,
    ...                 dashboard_address=":0")
    >>> net = ShallowNet.init(d0=4, d1=30, d2=2, seed=1)
    >>> X = np.random.default_rng(1).standard_normal((9, 4))
    >>> with DistributedNTKOperator(net, X, client, shards=3) as op:
    ...     U = np.random.default_rng(2).standard_normal((18, 2))
    ...     bool(np.allclose(op @ U, ntk_gram(net, X) @ U)), op.matvecs, op.bounds
    (True, 2, [(0, 3), (3, 6), (6, 9)])
    >>> client.close()
    """

    @quiet_overflow
    def __init__(self, net, X, client, layers=("W", "V"), shards=None, *, parallel=False):
        self.net = check_net(net)
        self.layers = check_layers(layers)
        self.X = net.check_data(X)
        distributed, workers = _check_client(client)
        self._lost = _lost_errors(distributed)
        n = self.X.shape[0]
        if n == 0:
            raise ValueError("X has no rows")
        if shards is None:
            shards = min(n, 2 * workers)
        shards = check_positive_int(shards, "shards")
        if shards > n:
            raise ValueError(f"shards must be at most the number of rows n = {n}, got {shards}")
        self.client = client
        self.parallel = bool(parallel)
        self.n = n
        self.bounds = _row_bounds(n, shards)
        self.matvecs = 0
        self._feats = [None] * len(self.bounds)
        self._data = _Scattered(client, self.net, self.X, self.bounds)
        self._submit_features(range(len(self.bounds)))
        self._wait_features()
        super().__init__(dtype=np.float64, shape=(n * net.d2, n * net.d2))

    @property
    def recoveries(self):
        """Times lost shards (or the net) were re-sent from the driver's copy."""
        return self._data.resent

    def _submit_features(self, which):
        for i in which:
            self._feats[i] = self.client.submit(_shard_features, self._data.net_future,
                                                self._data.blocks[i], self.parallel, pure=False,
                                                workers=[self._data.home[i]])

    def _wait_features(self):
        # Surface a refused shard (preactivations overflowing float64) now, as
        # NTKOperator does when it forms its features.
        for _ in range(RETRIES + 1):
            self._distributed_wait(self._feats)
            errs = [f for f in self._feats if f.status == "error"]
            if errs:
                errs[0].result()              # re-raises the worker's ValueError
            if all(f.status == "finished" for f in self._feats):
                return
            self._restore()
        raise RuntimeError("the cluster kept losing the shards' features; "
                           f"gave up after {RETRIES} retries")

    def _distributed_wait(self, futs):
        # wait() and a bare as_completed() need a default client; this one may not be
        for _ in _distributed().as_completed(futs, loop=self.client.loop):
            pass

    def _restore(self):
        """Re-send what the cluster lost; recompute the features of those shards."""
        sent = self._data.restore()
        stale = set(range(len(self.bounds))) if -1 in sent else set(sent)
        stale.update(i for i, f in enumerate(self._feats)
                     if f is None or f.status in ("cancelled", "lost", "error"))
        self._submit_features(sorted(stale))

    def placement(self):
        """Which workers hold each shard's rows.

        Returns
        -------
        list of tuple of str
            Worker addresses per shard, in row order (empty when lost).

        Examples
        --------
        >>> import numpy as np
        >>> from distributed import Client
        >>> from pl_toolkit import ShallowNet
        >>> from pl_toolkit.ntk_distributed import distributed_ntk_operator
        >>> client = Client(processes=False, n_workers=2, threads_per_worker=1,
        ...                 dashboard_address=":0")
        >>> net = ShallowNet.init(d0=3, d1=10, seed=0)
        >>> with distributed_ntk_operator(net, np.eye(3), client) as op:
        ...     len(op.placement()), len(set(op.placement()))   # 3 shards on 2 workers
        (3, 2)
        >>> client.close()
        """
        who = self.client.who_has(self._data.blocks)
        return [tuple(who.get(f.key, ())) for f in self._data.blocks]

    def _product(self, U):
        client, d2 = self.client, self.net.d2
        net_f, blocks, home = self._data.net_future, self._data.blocks, self._data.home
        # Each shard's computations run where its rows and features are (strictly:
        # the scheduler would otherwise copy them around to balance small jobs).
        partials = [client.submit(_shard_vjp, net_f, blocks[i], self._feats[i],
                                  U[lo * d2:hi * d2], self.layers, pure=False, workers=[home[i]])
                    for i, (lo, hi) in enumerate(self.bounds)]
        # one sum per worker over its shards, then one over the workers: each
        # worker ships one partial gradient, not one per shard
        groups = {}
        for i, w in enumerate(home):
            groups.setdefault(w, []).append(partials[i])
        sums = [parts[0] if len(parts) == 1 else
                client.submit(_sum_in_order, parts, pure=False, workers=[w])
                for w, parts in groups.items()]
        g = sums[0] if len(sums) == 1 else client.submit(_sum_in_order, sums, pure=False)
        outs = [client.submit(_shard_jvp, net_f, blocks[i], self._feats[i], g, self.layers,
                              pure=False, workers=[home[i]]) for i in range(len(self.bounds))]
        return np.concatenate(client.gather(outs), axis=0)

    @quiet_overflow
    def _apply(self, U):
        U = np.ascontiguousarray(np.asarray(U, dtype=np.float64))
        check_finite(U, "u")
        last = None
        for attempt in range(RETRIES + 1):
            try:
                if attempt:
                    self._restore()
                out = self._product(U)
                break
            except self._lost as exc:   # a worker (and the shards it held) went away
                last = exc
        else:
            raise RuntimeError(f"the cluster kept losing data during an NTK product; gave up "
                               f"after {RETRIES} retries") from last
        self.matvecs += U.shape[1]
        # Overflow anywhere on the workers (sums and products only) reaches out.
        return check_result_finite(out, "the product K u",
                                   inputs(self.net, self.X, "X", ("u", U)))

    def _matvec(self, u):
        return self._apply(np.reshape(u, (-1, 1))).reshape(-1)

    def _matmat(self, U):
        return self._apply(U)

    def _rmatvec(self, u):
        return self._matvec(u)

    def _rmatmat(self, U):
        return self._apply(U)

    def _adjoint(self):
        return self

    def close(self):
        """Release the shards, the net and the features on the cluster.

        Examples
        --------
        >>> import numpy as np
        >>> from distributed import Client
        >>> from pl_toolkit import ShallowNet
        >>> from pl_toolkit.ntk_distributed import distributed_ntk_operator
        >>> client = Client(processes=False, n_workers=1, threads_per_worker=1,
        ...                 dashboard_address=":0")
        >>> op = distributed_ntk_operator(ShallowNet.init(d0=2, d1=5, seed=0), np.eye(2), client)
        >>> op.close()
        >>> client.close()
        """
        futs = [f for f in self._feats if f is not None] + self._data.futures()
        self._feats = [None] * len(self.bounds)
        if futs and self.client.status == "running":
            self.client.cancel(futs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def distributed_ntk_operator(net, X, client, layers=("W", "V"), shards=None, *, parallel=False):
    """The empirical NTK as a ``LinearOperator`` whose products run on a Dask cluster.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    client : distributed.Client
        A client of the cluster, e.g. ``Client("tcp://scheduler:8786")``.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained parameters.
    shards : int, optional
        Number of row shards ``s`` (default: twice the number of workers,
        at most ``n``).
    parallel : bool, default False
        Use the row-parallel activation kernel on the workers.

    Returns
    -------
    DistributedNTKOperator
        Symmetric ``(n d2, n d2)`` operator; ``op @ u`` equals
        ``ntk_operator(net, X) @ u`` to rounding, ``op @ U`` takes a block
        ``U`` of shape ``(n d2, k)`` in one round over the cluster.

    Raises
    ------
    ValueError
        Bad ``net``, ``X``, ``layers``, ``shards`` or ``client`` (not a
        ``distributed.Client``, or a cluster without workers), or
        preactivations that overflow float64.
    ImportError
        If ``dask.distributed`` is not installed.

    Notes
    -----
    ``K u = J (J^T u)`` (Section 3, "PL / NTK link"), with ``J`` stacked
    from the shards' Jacobians ``J_s``: ``J^T u = sum_s J_s^T u_s`` and
    ``(K u)_s = J_s g`` with ``g = J^T u``.  ``X`` is scattered once (one
    future per shard), the net once to every worker, and each worker keeps
    its shards' ``phi(Z)`` and ``phi'(Z)`` (``2 n_s d1`` numbers); each
    shard's computations run on the worker that holds it.  A product is
    ``s`` partial gradients, one sum per worker and one over the workers
    (in a fixed order), and ``s`` Jacobian-vector products: ``4 (n / s) d0
    d1`` flops per shard for the first layer (``4 (n / s) d1 d2`` more for
    the second).  It moves ``u`` and ``K u`` (``8 n d2`` bytes each) and,
    on ``w`` workers, ``w - 1`` partial gradients to the summing worker and
    the summed ``g`` back to ``w - 1`` workers (``8 P`` bytes each, ``P =
    d1 d0 + d1 + d2 d1 + d2`` parameters).  If a worker dies, the shards it
    held are scattered again from the driver's ``X`` to the workers left
    and the product is repeated (:attr:`DistributedNTKOperator.recoveries`).

    Examples
    --------
    >>> import numpy as np
    >>> from distributed import Client
    >>> from pl_toolkit import ShallowNet, ntk_operator
    >>> from pl_toolkit.ntk_distributed import distributed_ntk_operator
    >>> client = Client(processes=False, n_workers=2, threads_per_worker=1,
    ...                 dashboard_address=":0")
    >>> net = ShallowNet.init(d0=5, d1=40, seed=3)
    >>> X = np.random.default_rng(0).standard_normal((12, 5))
    >>> u = np.ones(12)
    >>> with distributed_ntk_operator(net, X, client) as op:
    ...     bool(np.allclose(op @ u, ntk_operator(net, X) @ u, rtol=1e-12)), len(op.bounds)
    (True, 4)
    >>> client.close()
    """
    return DistributedNTKOperator(net, X, client, layers, shards, parallel=parallel)


# --------------------------------------------------------------------------
# lambda_min
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class DistributedEigResult(EigResult):
    """An :class:`pl_toolkit.EigResult` that also says where it was computed.

    Attributes
    ----------
    value, residual, error_bound, error_estimate : float
        As in :class:`pl_toolkit.EigResult`.
    vector : ndarray of shape (n d2,)
        As in :class:`pl_toolkit.EigResult` (read-only).
    matvecs : int
        Products of the distributed operator.
    converged : bool
        As in :class:`pl_toolkit.EigResult`.
    method, reason, route_reason : str
        As in :class:`pl_toolkit.EigResult`; ``method`` is ``"lanczos"``.
    ran_on : str
        The scheduler's address, the number of workers and shards, and how
        often lost shards were re-sent during the solve.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import EigResult
    >>> r = DistributedEigResult(value=1.0, vector=np.ones(1), residual=0.0, matvecs=1,
    ...                          converged=True, method="lanczos", ran_on="tcp://s:8786")
    >>> isinstance(r, EigResult), r.ran_on
    (True, 'tcp://s:8786')
    """

    ran_on: str = ""


def distributed_ntk_lambda_min(net, X, client, *, layers=("W", "V"), method="lanczos", tol=1e-8,
                               v0=None, maxiter=None, shards=None):
    """Smallest eigenpair of the empirical NTK by matrix-free Lanczos on a Dask cluster.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    client : distributed.Client
        A client of the cluster.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained parameters.
    method : {"lanczos", "auto"}, default "lanczos"
        The route; on a cluster only the matrix-free one exists (``"auto"``
        takes it).
    tol : float, default 1e-8
        Relative tolerance on the eigenvalue.
    v0 : ndarray of shape (n d2,), optional
        Starting vector.
    maxiter : int, optional
        Maximum number of NTK products.
    shards : int, optional
        Row shards of :func:`distributed_ntk_operator`.

    Returns
    -------
    DistributedEigResult
        As ``ntk_lambda_min(net, X, method="lanczos")`` (``method`` is
        ``"lanczos"``), plus ``ran_on``.

    Raises
    ------
    ValueError
        Bad arguments (as :func:`pl_toolkit.ntk_lambda_min`, and ``method``
        other than ``"lanczos"`` or ``"auto"``), or an NTK product that is
        not finite in float64, naming ``X`` or ``net``.
    ImportError
        If ``dask.distributed`` is not installed.

    Warns
    -----
    ConvergenceWarning
        If Lanczos stops before ``tol`` or ``tol`` is below the rounding
        floor (``converged=False``).

    Notes
    -----
    ``4 lambda_min(K)`` is the PL constant of the loss (Section 3, "PL /
    NTK link"), bounded below by ``mu_Phi^2`` (Lemma 3, eq. 18).  The
    iteration is the thick-restart Lanczos of the local matrix-free route,
    so the number of products is the same; each product costs the
    cluster's round trip (see :func:`distributed_ntk_operator`).

    Examples
    --------
    >>> import numpy as np
    >>> from distributed import Client
    >>> from pl_toolkit import ShallowNet, ntk_gram
    >>> from pl_toolkit.ntk_distributed import distributed_ntk_lambda_min
    >>> client = Client(processes=False, n_workers=2, threads_per_worker=1,
    ...                 dashboard_address=":0")
    >>> net = ShallowNet.init(d0=5, d1=40, seed=0)
    >>> X = np.random.default_rng(0).standard_normal((30, 5))
    >>> r = distributed_ntk_lambda_min(net, X, client)
    >>> exact = np.linalg.eigvalsh(ntk_gram(net, X))[0]
    >>> r.method, bool(abs(r.value - exact) <= 1e-8 * exact), r.ran_on.split(": ")[1]
    ('lanczos', True, '2 workers, 4 shards, 0 recoveries')
    >>> client.close()
    """
    net = check_net(net)
    layers = check_layers(layers)
    if method not in ("lanczos", "auto"):
        raise ValueError("method must be 'lanczos' or 'auto' on a cluster (the matrix-free "
                         f"route), got {method!r}")
    tol = check_positive_float(tol, "tol")
    if maxiter is not None:
        maxiter = check_positive_int(maxiter, "maxiter")
    X = net.check_data(X)
    v0 = check_v0(v0, X.shape[0] * net.d2)
    with DistributedNTKOperator(net, X, client, layers, shards) as op:
        with ntk_nonfinite_named(net, X):
            res = iterative_extreme(op, "SA", tol, v0, maxiter, name="the NTK operator")
        workers = len(client.nthreads())
        address = client.scheduler.address
        where = (f"{address}: {workers} workers, {len(op.bounds)} shards, "
                 f"{op.recoveries} recoveries")
    return DistributedEigResult(**asdict(res), ran_on=where)


# --------------------------------------------------------------------------
# The Gram matrix
# --------------------------------------------------------------------------
def _open_out(out, shape):
    """``(memmap, created path or None)`` for the ``out`` argument of the Gram."""
    if isinstance(out, np.memmap):
        if out.shape != shape or out.dtype != np.float64 or not out.flags.writeable:
            raise ValueError(f"out must be a writeable float64 memmap of shape {shape}, got "
                             f"{out.dtype} of shape {out.shape}"
                             f"{'' if out.flags.writeable else ' (read-only)'}")
        return out, None
    if not isinstance(out, (str, os.PathLike)):
        raise ValueError("out must be a path that does not exist yet or an open numpy.memmap, "
                         f"got {type(out).__name__}")
    path = os.fspath(out)
    try:
        with open(path, "xb"):            # claim the name: never overwrite a file
            pass
    except FileExistsError:
        raise ValueError(f"out: {path!r} exists; give a new path (the Gram is written as a "
                         ".npy file) or an open numpy.memmap") from None
    except OSError as exc:
        raise ValueError(f"out: cannot create {path!r}: {exc.strerror}") from None
    try:
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=shape)
    except BaseException:
        os.remove(path)
        raise
    return mm, path


def distributed_ntk_gram(net, X, client, X2=None, *, layers=("W", "V"), out=None, tile=1024,
                         parallel=False):
    """The empirical NTK Gram matrix computed tile by tile on a Dask cluster.

    Parameters
    ----------
    net : ShallowNet
        The network.
    X : array_like of shape (n, d0)
        Inputs as rows.
    client : distributed.Client
        A client of the cluster.
    X2 : array_like of shape (n2, d0), optional
        Second set of inputs for the cross kernel ``J(X) J(X2)^T``.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained parameters.
    out : str, os.PathLike or numpy.memmap, optional
        Where to write the Gram: a path that must not exist yet (created
        as a ``.npy`` file, readable with ``np.load(path,
        mmap_mode="r")``), or an open writeable float64 memmap of shape
        ``(n d2, n2 d2)``.  Default: return a dask array.
    tile : int, default 1024
        Most rows (and columns) of a tile of ``K``; the tiles are as even
        as that allows.
    parallel : bool, default False
        Use the row-parallel kernels on the workers.

    Returns
    -------
    dask.array.Array or numpy.memmap
        ``K`` of shape ``(n d2, n2 d2)`` (``n2 = n`` without ``X2``),
        sample-major as :func:`pl_toolkit.ntk_gram`.  The dask array is
        lazy: its tiles are computed on the cluster by ``.compute()`` (or
        ``client.compute``, if the client is not the default scheduler)
        and it keeps the scattered row blocks alive.  With ``out`` the
        tiles are computed now and written as they arrive; the memmap is
        returned flushed.

    Raises
    ------
    ValueError
        Bad ``net``, ``X``, ``X2``, ``layers``, ``tile``, ``client`` or
        ``out`` (an existing file, a memmap of the wrong shape or dtype),
        or an NTK that overflows float64 (raised when the tile is
        computed).
    ImportError
        If ``dask.distributed`` is not installed.

    Notes
    -----
    Tile ``(a, b)`` is ``J(X_a) J(X_b)^T`` from the closed form of
    :func:`pl_toolkit.ntk_gram` (Section 3, "PL / NTK link"): ``2 t^2
    (d0 + 2 d1)`` flops for ``t``-row tiles (``d2 = 1``).  Without ``X2``
    only the tiles on and above the diagonal are computed; the others are
    their transposes.  The row blocks are scattered once, the net once to
    every worker.  If a worker dies while ``out`` is filled, its blocks
    are scattered again and its tiles recomputed.

    Examples
    --------
    >>> import numpy as np
    >>> from distributed import Client
    >>> from pl_toolkit import ShallowNet, ntk_gram
    >>> from pl_toolkit.ntk_distributed import distributed_ntk_gram
    >>> client = Client(processes=False, n_workers=2, threads_per_worker=1,
    ...                 dashboard_address=":0")
    >>> net = ShallowNet.init(d0=3, d1=20, seed=0)
    >>> X = np.random.default_rng(0).standard_normal((10, 3))
    >>> K = distributed_ntk_gram(net, X, client, tile=4)
    >>> K.chunks                      # 10 rows in 3 tiles of at most 4
    ((3, 4, 3), (3, 4, 3))
    >>> bool(np.allclose(client.compute(K).result(), ntk_gram(net, X), rtol=1e-12))
    True
    >>> client.close()
    """
    net = check_net(net)
    layers = check_layers(layers)
    X = net.check_data(X)
    X2c = None if X2 is None else net.check_data(X2, "X2")
    tile = check_positive_int(tile, "tile")
    distributed, _ = _check_client(client)
    d2 = net.d2
    b = max(1, tile // d2)
    rows = _row_bounds(X.shape[0], -(-X.shape[0] // b)) if X.shape[0] else []
    Xc = X if X2c is None else X2c
    cols = rows if X2c is None else (_row_bounds(Xc.shape[0], -(-Xc.shape[0] // b))
                                     if Xc.shape[0] else [])
    shape = (X.shape[0] * d2, Xc.shape[0] * d2)
    created = None
    if out is not None:
        out, created = _open_out(out, shape)
    # one scattered set of blocks: the rows, then (for a cross kernel) the columns
    data = _Scattered(client, net, np.concatenate([X, Xc]) if X2c is not None else X,
                      rows + [(X.shape[0] + lo, X.shape[0] + hi) for lo, hi in cols]
                      if X2c is not None else rows)
    ncol0 = len(rows) if X2c is not None else 0
    pairs = [(i, j) for i in range(len(rows)) for j in range(len(cols))
             if X2c is not None or j >= i]

    def args(i, j):
        sym = X2c is None and i == j
        return (data.net_future, data.blocks[i], None if sym else data.blocks[ncol0 + j],
                layers, parallel, X2c is not None)

    if out is None:
        return _gram_array(rows, cols, pairs, args, d2, X2c is None)
    try:
        _fill(client, distributed, data, out, rows, cols, pairs, args, d2, X2c is None)
    except BaseException as exc:
        if created is not None:
            del out
            os.remove(created)
        if isinstance(exc, ValueError) and "overflows float64" in str(exc):
            # a tile names its own blocks; name the whole inputs instead
            raise gram_overflow(net, X, X2c, None, layers) from None
        raise
    finally:
        client.cancel(data.futures())
    out.flush()
    return out


def _gram_array(rows, cols, pairs, args, d2, sym):
    import dask
    import dask.array as da

    tiles = {(i, j): dask.delayed(gram_tile, pure=True)(*args(i, j)) for i, j in pairs}
    blocks = []
    for i, (r0, r1) in enumerate(rows):
        line = []
        for j, (c0, c1) in enumerate(cols):
            t = tiles[i, j] if (i, j) in tiles else dask.delayed(_transposed, pure=True)(
                tiles[j, i])
            line.append(da.from_delayed(t, shape=((r1 - r0) * d2, (c1 - c0) * d2),
                                        dtype=np.float64))
        blocks.append(line)
    if not blocks:
        return da.zeros((0, sum(c1 - c0 for c0, c1 in cols) * d2), dtype=np.float64)
    return da.block(blocks)


def _fill(client, distributed, data, out, rows, cols, pairs, args, d2, sym):
    """Compute the tiles ``pairs`` on the cluster and write them into ``out`` as they arrive."""
    lost = _lost_errors(distributed)
    window = max(2, 2 * sum(client.nthreads().values()))
    todo = list(reversed(pairs))
    tries = {}
    running = {}
    done = distributed.as_completed(loop=client.loop)

    def submit(pair):
        fut = client.submit(gram_tile, *args(*pair), pure=False)
        running[fut.key] = pair
        done.add(fut)

    while todo and len(running) < window:
        submit(todo.pop())
    for fut in done:
        pair = running.pop(fut.key)
        try:
            T = fut.result()
        except lost as exc:
            tries[pair] = tries.get(pair, 0) + 1
            if tries[pair] > RETRIES:
                raise RuntimeError("the cluster kept losing data while computing NTK tile "
                                   f"{pair}; gave up after {RETRIES} retries") from exc
            try:
                data.restore()
            except lost:
                pass                      # the resubmitted tile fails again, and counts
            submit(pair)
            continue
        i, j = pair
        (r0, r1), (c0, c1) = rows[i], cols[j]
        out[r0 * d2:r1 * d2, c0 * d2:c1 * d2] = T
        if sym and i != j:
            out[c0 * d2:c1 * d2, r0 * d2:r1 * d2] = T.T
        del T, fut
        if todo:
            submit(todo.pop())
