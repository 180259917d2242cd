"""Benchmark: the measurements behind the toolkit's fixed solver and engine choices.

Each section times the alternatives of one choice made in the code, where the
code keeps only the reasoning (flop counts, memory) and points to
``docs/performance.rst`` ("Solver choices, measured") for the figures:

``dense``
    One extreme eigenpair of a dense NTK (``n = --n``, ``d0 = 784``,
    ``d1 = 2000``, He initialization, GELU, unit-norm Gaussian rows, as in
    ``benchmarks/bench_eig.py``): LAPACK ``dsyevr`` subset (the driver of
    ``pl_toolkit._eigen.dense_extreme``), ``dsyevx`` subset, all eigenvalues
    (``eigvalsh``) and all eigenpairs (``dsyevd``), interleaved, medians of
    ``--repeat``; then the Cholesky factor ``dpotrf`` of the same matrix on
    its Fortran-ordered transpose, upper against lower triangle, and the
    package's blocked factorization of the lower triangle (the call of
    ``pl_toolkit.certified``).
``tracking``
    What the trainer pays per tracked ``lambda_min`` on the digits data
    (``n = 500``, ``d1 = 1000``, one-hot ``d2 = 10``: ``n d2 = 5000``):
    forming the dense NTK, a cold and a warm dense ``LambdaMinTracker``
    update, and matrix-free Lanczos on ``ntk_operator`` (``tol = 1e-8``).
``quadrature``
    ``infinite_width_kernels(method="quadrature")`` at ``n = 500``, 64
    Gauss-Hermite nodes per dimension (tanh).
``pool``
    The sweep engine's local pool: creation to last result of a 2-worker
    pool whose workers import pl_toolkit, start method ``spawn`` against
    ``forkserver``; and the engine's cost per cell (``run_sweep`` with 2
    workers on trivial cells, 400 cells against 40).
``threads``
    Two cells side by side, each 50 plain GD steps of a width-1024 net
    (``n = 256``, ``d0 = 64``) in its own interpreter: thread variables
    unset (each process starts multi-threaded BLAS and numba pools) against
    ``OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = NUMBA_NUM_THREADS = 1`` (what
    ``pl_toolkit.experiments._common.limit_threads`` gives each cell).

Times are printed (and written to ``--out`` as JSON), never asserted: the
machine is shared and noisy, so ratios matter more than seconds.

Usage::

    python benchmarks/bench_solver_choices.py [--only dense,tracking,quadrature,pool,threads]
                                              [--n 2000] [--repeat 5] [--out FILE]
"""

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.linalg as sla

SECTIONS = ("dense", "tracking", "quadrature", "pool", "threads")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def section(title):
    print(f"\n== {title} ==", flush=True)


def timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def unit_rows(rng, n, d0):
    X = rng.standard_normal((n, d0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


# --------------------------------------------------------------------------
def dense_section(args):
    import pl_toolkit as pl

    section(f"dense: one eigenpair and the Cholesky factor of an n = {args.n} NTK")
    rng = np.random.default_rng(np.random.SeedSequence(2021))
    X = unit_rows(rng, args.n, 784)
    K = pl.ntk_gram(pl.ShallowNet.init(784, 2000, init="he", seed=0), X)
    routes = {
        "dsyevr subset": lambda: sla.eigh(K, subset_by_index=[0, 0], driver="evr",
                                          check_finite=False),
        "dsyevx subset": lambda: sla.eigh(K, subset_by_index=[0, 0], driver="evx",
                                          check_finite=False),
        "eigvalsh (all values)": lambda: sla.eigh(K, eigvals_only=True, check_finite=False),
        "dsyevd (all pairs)": lambda: sla.eigh(K, driver="evd", check_finite=False),
    }
    potrf = sla.get_lapack_funcs("potrf", (K,))
    chol = {"dpotrf upper (on K.T)": False, "dpotrf lower (on K.T)": True}
    from pl_toolkit._eigen import blocked_cholesky_lower_inplace

    times = {k: [] for k in (*routes, *chol, "blocked lower (ours)")}
    for _ in range(args.repeat):
        for key, f in routes.items():
            times[key].append(timed(f)[0])
        for key, lower in chol.items():
            B = np.array(K, order="C", copy=True)
            t, (_, info) = timed(lambda: potrf(B.T, lower=lower, overwrite_a=True, clean=False))
            assert info == 0, info
            times[key].append(t)
        F = np.array(K, order="F", copy=True)
        t, info = timed(lambda: blocked_cholesky_lower_inplace(F))
        assert info == 0, info
        times["blocked lower (ours)"].append(t)
    out = {}
    for key, ts in times.items():
        out[key] = dict(median=float(np.median(ts)), min=float(np.min(ts)),
                        max=float(np.max(ts)))
        print(f"{key:24s} median {out[key]['median']:.3f} s  "
              f"(range {out[key]['min']:.3f}-{out[key]['max']:.3f} s)")
    r = out["dpotrf lower (on K.T)"]["median"] / out["dpotrf upper (on K.T)"]["median"]
    print(f"dpotrf lower / upper: {r:.2f}")
    r = out["blocked lower (ours)"]["median"] / out["dpotrf lower (on K.T)"]["median"]
    print(f"blocked lower / dpotrf lower: {r:.2f}")
    return dict(n=args.n, d0=784, d1=2000, repeat=args.repeat, times=out)


def tracking_section(args):
    import pl_toolkit as pl
    from pl_toolkit.data import load_dataset

    section("tracking: lambda_min of the digits NTK, n = 500, d1 = 1000, d2 = 10")
    ds = load_dataset("digits", n=500)
    net = pl.ShallowNet.init(ds.X.shape[1], 1000, ds.Y.shape[1], seed=0)
    t_gram, K = timed(lambda: pl.ntk_gram(net, ds.X))
    tracker = pl.LambdaMinTracker(method="dense")
    t_cold, _ = timed(lambda: tracker.update(K))
    t_warm, _ = timed(lambda: tracker.update(K))
    op = pl.ntk_operator(net, ds.X)
    t_lanczos, res = timed(lambda: pl.lambda_min(op, method="lanczos", tol=1e-8))
    print(f"n d2 = {K.shape[0]}: ntk_gram {t_gram:.2f} s, dense tracker update {t_cold:.2f} s "
          f"(cold) / {t_warm:.2f} s (warm), matrix-free Lanczos {t_lanczos:.1f} s "
          f"({res.matvecs} products, converged={res.converged})")
    return dict(rows=int(K.shape[0]), ntk_gram=t_gram, tracker_cold=t_cold, tracker_warm=t_warm,
                lanczos=t_lanczos, lanczos_products=int(res.matvecs),
                lanczos_converged=bool(res.converged))


def quadrature_section(args):
    import pl_toolkit as pl

    section("quadrature: infinite-width kernels by 64 x 64 Gauss-Hermite, n = 500")
    X = unit_rows(np.random.default_rng(0), 500, 8)
    pl.infinite_width_kernels(X[:4], "tanh", 0.5, 1.0, method="quadrature")   # compile
    t, _ = timed(lambda: pl.infinite_width_kernels(X, "tanh", 0.5, 1.0, method="quadrature",
                                                   quadrature_nodes=64))
    print(f"n = 500, q = 64: {t:.1f} s")
    return dict(n=500, nodes=64, seconds=t)


def _import_toolkit():
    import pl_toolkit  # noqa: F401


def _nothing(i):
    return i


def trivial_cell(cell, seed):
    return {"i": cell["i"]}


def pool_section(args):
    from pl_toolkit.experiments._engine import run_sweep

    section("pool: start methods and cost per cell")
    out = {}
    for method in ("spawn", "forkserver"):
        ts = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method),
                                        initializer=_import_toolkit) as ex:
                list(ex.map(_nothing, range(2)))
            ts.append(time.perf_counter() - t0)
        out[method] = float(np.median(ts))
        print(f"2-worker pool, {method:10s}: {out[method]:.2f} s from creation to last result")
    per = {}
    for cells in (40, 400):
        with tempfile.TemporaryDirectory() as tmp:
            t, _ = timed(lambda: run_sweep(trivial_cell, [{"i": i} for i in range(cells)], tmp,
                                           name="trivial", workers=2, progress=False))
        per[cells] = t
    out["per_cell"] = (per[400] - per[40]) / 360
    print(f"run_sweep, 2 workers: 40 cells {per[40]:.2f} s, 400 cells {per[400]:.2f} s: "
          f"{1e3 * out['per_cell']:.1f} ms per cell")
    return out


_GD_CHILD = """
import time, numpy as np, pl_toolkit as pl
rng = np.random.default_rng(1)
X = rng.standard_normal((256, 64)); X /= np.linalg.norm(X, axis=1, keepdims=True)
Y = rng.standard_normal((256, 1)) / 16
net = pl.ShallowNet.init(64, 1024, seed=0)
pl.gradient(net, X, Y)
t = time.perf_counter()
theta = net.parameters()
for _ in range(50):
    theta = theta - 0.05 * pl.gradient(net.with_parameters(theta), X, Y)
print(time.perf_counter() - t)
"""


def threads_section(args):
    section("threads: two cells side by side, 50 GD steps each (n = 256, d0 = 64, d1 = 1024)")
    out = {}
    for label, one in (("thread variables unset", False), ("one thread per cell", True)):
        env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
        if one:
            env.update({k: "1" for k in THREAD_VARS})
        ts = []
        for _ in range(max(1, args.repeat // 2)):
            procs = [subprocess.Popen([sys.executable, "-c", _GD_CHILD], env=env,
                                      stdout=subprocess.PIPE, text=True) for _ in range(2)]
            ts += [float(p.communicate()[0]) for p in procs]
        out[label] = float(np.median(ts))
        print(f"{label:24s}: {out[label]:.2f} s per cell (median of {len(ts)})")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections out of {','.join(SECTIONS)}")
    ap.add_argument("--n", type=int, default=2000, help="size of the dense section's NTK")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", help="write the results as JSON to this file")
    args = ap.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    bad = sorted(set(only) - set(SECTIONS))
    if bad or not only:
        ap.error(f"--only: unknown section(s) {bad} (choose from {', '.join(SECTIONS)})")
    if args.n < 2 or args.repeat < 1:
        ap.error("--n must be at least 2 and --repeat at least 1")
    runners = dict(dense=dense_section, tracking=tracking_section,
                   quadrature=quadrature_section, pool=pool_section, threads=threads_section)
    result = dict(command=" ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
                  machine=dict(cpus=os.cpu_count(), python=platform.python_version(),
                               load=os.getloadavg()))
    for name in SECTIONS:
        if name in only:
            result[name] = runners[name](args)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
