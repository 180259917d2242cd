"""The NTK on a Dask cluster against the local routes and the NumPy reference.

The cluster tests run on a ``LocalCluster(processes=True)`` with two
single-threaded workers (skipped when ``dask.distributed`` is missing); one
of them kills a worker process in the middle of an eigen-solve.
"""

import sys
import time

import numpy as np
import pytest

from _tolerances import EPS64, tol
from pl_toolkit import ShallowNet, ntk_gram, ntk_lambda_min, ntk_operator
from pl_toolkit import ntk_distributed as nd

try:
    import distributed
except ImportError:
    distributed = None
needs_dask = pytest.mark.skipif(distributed is None, reason="dask.distributed is not installed")


def _cluster():
    return distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                    dashboard_address=":0")


@pytest.fixture(scope="module")
def client():
    if distributed is None:
        pytest.skip("dask.distributed is not installed")
    with _cluster() as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _problem(rng, n=40, d0=5, d1=30, d2=1, bias=True, seed=0):
    net = ShallowNet.init(d0=d0, d1=d1, d2=d2, seed=seed, bias=bias)
    return net, rng.standard_normal((n, d0))


def _dense_rounding(K):
    """Error bound of a dense LAPACK eigenvalue of ``K`` (backward stability, ``n eps ||K||_1``)."""
    return K.shape[0] * EPS64 * np.abs(K).sum(axis=0).max()


def _reference_gram(net, X, layers=("W", "V"), X2=None):
    return ntk_gram(net, X, X2, layers=layers, backend="numpy")


# --------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------
@needs_dask
@pytest.mark.parametrize("d2, bias, layers, shards", [
    (1, True, ("W", "V"), None),
    (1, False, ("W", "V"), 1),
    (2, True, ("W", "V"), 3),
    (3, False, ("W",), 5),
    (2, True, ("V",), 7),
])
def test_products_agree_with_local_operator_and_reference(client, rng, d2, bias, layers, shards):
    net, X = _problem(rng, n=37, d2=d2, bias=bias)
    N = 37 * d2
    u = rng.standard_normal(N)
    U = rng.standard_normal((N, 3))
    local = ntk_operator(net, X, layers)
    K = _reference_gram(net, X, layers)
    with nd.distributed_ntk_operator(net, X, client, layers, shards) as op:
        assert op.shape == (N, N)
        assert len(op.bounds) == (shards or 4)
        assert op.bounds[0][0] == 0 and op.bounds[-1][1] == 37
        Ku = op @ u
        KU = op @ U
        assert op.matvecs == 4
        assert op.recoveries == 0
    np.testing.assert_allclose(Ku, local @ u, **tol("same_math"))
    np.testing.assert_allclose(KU, local @ U, **tol("same_math"))
    np.testing.assert_allclose(Ku, K @ u, **tol("kernel_vs_reference"))
    np.testing.assert_allclose(KU, K @ U, **tol("kernel_vs_reference"))


@needs_dask
def test_shards_are_spread_over_the_workers(client, rng):
    net, X = _problem(rng, n=10)
    with nd.distributed_ntk_operator(net, X, client) as op:
        where = op.placement()
    assert len(where) == 4 and all(len(w) == 1 for w in where)
    assert len({w[0] for w in where}) == 2


@needs_dask
def test_bad_arguments_name_themselves(client, rng):
    net, X = _problem(rng, n=6)
    with pytest.raises(ValueError, match="^client must be a distributed.Client"):
        nd.distributed_ntk_operator(net, X, "tcp://127.0.0.1:8786")
    for shards, what in ((0, "shards must be an integer >= 1"), (2.5, "shards must be"),
                         (7, "shards must be at most the number of rows n = 6")):
        with pytest.raises(ValueError, match=what):
            nd.distributed_ntk_operator(net, X, client, shards=shards)
    with pytest.raises(ValueError, match="^X has 4 columns"):
        nd.distributed_ntk_operator(net, X[:, :4], client)
    with pytest.raises(ValueError, match="^layers must be"):
        nd.distributed_ntk_operator(net, X, client, layers=("Q",))
    with nd.distributed_ntk_operator(net, X, client) as op:
        u = np.ones(6)
        u[2] = np.nan
        with pytest.raises(ValueError, match="^u contains NaN"):
            op @ u
    with pytest.raises(ValueError, match="^method must be 'lanczos' or 'auto'"):
        nd.distributed_ntk_lambda_min(net, X, client, method="dense")
    with pytest.raises(ValueError, match="^tol must be"):
        nd.distributed_ntk_lambda_min(net, X, client, tol=-1.0)


@needs_dask
def test_overflowing_preactivations_are_refused_when_the_operator_is_built(client):
    net = ShallowNet(np.full((30, 5), 1e200), np.ones((1, 30)))
    X = np.full((6, 5), 1e200)
    with pytest.raises(ValueError, match=r"^X has entries up to 1e\+200 .*overflows float64"):
        nd.distributed_ntk_operator(net, X, client)


def test_missing_distributed_gives_the_install_hint(monkeypatch, rng):
    net, X = _problem(rng, n=4)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install pl_toolkit\[dask\]"):
        nd.distributed_ntk_operator(net, X, object())
    with pytest.raises(ImportError, match=r"pip install pl_toolkit\[dask\]"):
        nd.distributed_ntk_gram(net, X, object())


# --------------------------------------------------------------------------
# lambda_min
# --------------------------------------------------------------------------
@needs_dask
@pytest.mark.parametrize("d2", [1, 2])
def test_lambda_min_agrees_with_dense_and_local_lanczos(client, rng, d2):
    # N = n d2 = 36: a few dozen products of one cluster round trip each
    net, X = _problem(rng, n=36 // d2, d2=d2, seed=d2)
    exact = np.linalg.eigvalsh(_reference_gram(net, X))[0]
    r = nd.distributed_ntk_lambda_min(net, X, client)
    local = ntk_lambda_min(net, X, method="lanczos")
    assert isinstance(r, nd.DistributedEigResult)
    assert r.method == "lanczos" and r.converged
    assert r.ran_on.endswith(": 2 workers, 4 shards, 0 recoveries")
    assert abs(r.value - exact) <= r.error_bound + _dense_rounding(_reference_gram(net, X))
    np.testing.assert_allclose(r.value, local.value, **tol("iterative_eigen"))
    K = _reference_gram(net, X)
    assert np.linalg.norm(K @ r.vector - r.value * r.vector) <= r.error_bound


def test_result_documents_every_field():
    import dataclasses
    import inspect
    doc = inspect.getdoc(nd.DistributedEigResult).split("Attributes\n----------\n")[1]
    listed = {name.strip() for line in doc.splitlines()
              if line and not line[0].isspace() for name in line.split(" : ")[0].split(",")}
    assert listed >= {f.name for f in dataclasses.fields(nd.DistributedEigResult)}


# --------------------------------------------------------------------------
# The Gram
# --------------------------------------------------------------------------
@needs_dask
@pytest.mark.parametrize("d2, tile, cross", [(1, 16, False), (2, 10, False), (1, 7, True),
                                             (2, 1000, True)])
def test_gram_as_dask_array_matches_ntk_gram(client, rng, d2, tile, cross):
    net, X = _problem(rng, n=23, d2=d2)
    X2 = rng.standard_normal((11, 5)) if cross else None
    K = nd.distributed_ntk_gram(net, X, client, X2, tile=tile)
    got = client.compute(K).result()
    assert K.shape == got.shape == (23 * d2, (11 if cross else 23) * d2)
    assert max(K.chunks[0]) <= max(tile, d2)
    np.testing.assert_allclose(got, ntk_gram(net, X, X2), **tol("same_math"))
    np.testing.assert_allclose(got, _reference_gram(net, X, X2=X2), **tol("kernel_vs_reference"))
    if not cross:
        np.testing.assert_array_equal(got, got.T)


@needs_dask
def test_gram_written_to_a_new_file(client, rng, tmp_path):
    net, X = _problem(rng, n=21, d2=2)
    path = tmp_path / "K.npy"
    out = nd.distributed_ntk_gram(net, X, client, out=path, tile=8)
    assert isinstance(out, np.memmap)
    np.testing.assert_allclose(np.load(path, mmap_mode="r"), ntk_gram(net, X),
                               **tol("same_math"))
    del out
    before = path.read_bytes()
    with pytest.raises(ValueError, match="^out: .*K.npy' exists"):
        nd.distributed_ntk_gram(net, X, client, out=path)
    assert path.read_bytes() == before                           # untouched


@needs_dask
def test_gram_written_into_an_open_memmap(client, rng, tmp_path):
    net, X = _problem(rng, n=15)
    mm = np.lib.format.open_memmap(tmp_path / "K.npy", mode="w+", dtype=np.float64,
                                   shape=(15, 15))
    assert nd.distributed_ntk_gram(net, X, client, out=mm, tile=4) is mm
    np.testing.assert_allclose(mm, ntk_gram(net, X), **tol("same_math"))
    wrong = np.lib.format.open_memmap(tmp_path / "W.npy", mode="w+", dtype=np.float64,
                                      shape=(15, 14))
    with pytest.raises(ValueError, match=r"^out must be a writeable float64 memmap of shape"):
        nd.distributed_ntk_gram(net, X, client, out=wrong)
    with pytest.raises(ValueError, match="^out must be a path"):
        nd.distributed_ntk_gram(net, X, client, out=np.zeros((15, 15)))
    with pytest.raises(ValueError, match="^tile must be"):
        nd.distributed_ntk_gram(net, X, client, tile=0)


@needs_dask
def test_gram_overflow_is_refused_and_leaves_no_file(client, rng, tmp_path):
    net = ShallowNet.init(d0=5, d1=30, seed=0, bias=False, activation="identity")
    X = rng.standard_normal((9, 5)) * 1e154
    path = tmp_path / "K.npy"
    top = f"{np.max(np.abs(X)):.3g}".replace("+", r"\+")
    with pytest.raises(ValueError, match=rf"^X has entries up to {top} \(net.W up to .*\): "
                                         "the NTK Gram matrix overflows float64"):
        nd.distributed_ntk_gram(net, X, client, out=path, tile=4)
    assert not path.exists()
    with pytest.raises(ValueError, match="^X has entries up to .*: the NTK Gram matrix overflows"):
        client.compute(nd.distributed_ntk_gram(net, X, client, tile=4)).result()


# --------------------------------------------------------------------------
# A worker killed mid-solve
# --------------------------------------------------------------------------
def _exit_soon(delay):
    # built here, so that cloudpickle sends it by value (workers cannot import tests)
    def exit_soon():
        import os
        import threading
        threading.Timer(delay, os._exit, args=(1,)).start()
    return exit_soon


@needs_dask
def test_killed_worker_while_the_gram_file_is_filled(client, rng, tmp_path, monkeypatch):
    client.wait_for_workers(2, timeout=60)
    net, X = _problem(rng, n=30, d2=2)
    fill = nd._fill
    lost = []

    def fill_after_a_loss(client_, distributed_, data, *args):
        client_.run(_exit_soon(0.05), workers=[data.home[0]])
        deadline = time.monotonic() + 30
        while data.blocks[0].status == "finished" and time.monotonic() < deadline:
            time.sleep(0.05)
        lost.append(data.blocks[0].status)
        return fill(client_, distributed_, data, *args)

    monkeypatch.setattr(nd, "_fill", fill_after_a_loss)
    out = nd.distributed_ntk_gram(net, X, client, out=tmp_path / "K.npy", tile=8)
    assert lost and lost[0] != "finished"
    np.testing.assert_allclose(out, ntk_gram(net, X), **tol("same_math"))


@needs_dask
def test_killed_worker_mid_solve_loses_no_correctness(client, rng, monkeypatch):
    # last in the file: the module's cluster goes on with a restarted worker
    client.wait_for_workers(2, timeout=60)
    net, X = _problem(rng, n=40, seed=5)
    exact = np.linalg.eigvalsh(_reference_gram(net, X))[0]
    product = nd.DistributedNTKOperator._product
    killed = []

    def product_that_kills(self, U):
        if self.matvecs == 5 and not killed:
            # the worker holding the first shard exits while this product runs
            victim = self.placement()[0][0]
            self.client.run(_exit_soon(0.02), workers=[victim])
            killed.append(victim)
        return product(self, U)

    monkeypatch.setattr(nd.DistributedNTKOperator, "_product", product_that_kills)
    r = nd.distributed_ntk_lambda_min(net, X, client)
    assert killed
    recoveries = int(r.ran_on.split(", ")[-1].split()[0])
    assert recoveries >= 1
    assert r.converged
    assert abs(r.value - exact) <= r.error_bound + _dense_rounding(_reference_gram(net, X))
    monkeypatch.undo()
    # and products after the loss still equal the local ones
    with nd.distributed_ntk_operator(net, X, client) as op:
        u = rng.standard_normal(40)
        np.testing.assert_allclose(op @ u, ntk_operator(net, X) @ u, **tol("same_math"))


# --------------------------------------------------------------------------
# The public routes' client= keyword
# --------------------------------------------------------------------------
@needs_dask
def test_public_routes_take_a_client(client, rng, tmp_path):
    net, X = _problem(rng, n=30, d2=2)
    K = ntk_gram(net, X)
    np.testing.assert_allclose(client.compute(ntk_gram(net, X, client=client)).result(), K,
                               **tol("same_math"))
    path = tmp_path / "K.npy"
    ntk_gram(net, X, client=client, out=path)
    np.testing.assert_allclose(np.load(path, mmap_mode="r"), K, **tol("same_math"))
    u = rng.standard_normal(K.shape[0])
    np.testing.assert_allclose(ntk_operator(net, X, client=client) @ u, K @ u,
                               **tol("same_math"))
    r = ntk_lambda_min(net, X, client=client)
    w = np.linalg.eigvalsh(K)[0]
    assert r.method == "lanczos" and r.converged
    assert abs(r.value - w) <= r.error_bound + _dense_rounding(K)
    with pytest.raises(ValueError, match="method"):
        ntk_lambda_min(net, X, client=client, method="dense")


def test_public_routes_refuse_what_the_cluster_cannot_do(rng, tmp_path):
    net, X = _problem(rng, n=10)
    with pytest.raises(ValueError, match="^out: "):
        ntk_gram(net, X, out=tmp_path / "K.npy")
    with pytest.raises(ValueError, match="^client: "):
        ntk_gram(net, X, client=object(), blocks=True)
    assert not (tmp_path / "K.npy").exists()
