"""Benchmark: cost of tracking the theory's quantities while training.

Prints, from one run (medians; the machine is shared, so the ratios matter
more than the seconds):

1. the benchmark problem (``n = 1000``, ``d0 = 64``, ``d1 = 2000``,
   ``d2 = 1``, GELU, LeCun, unit-norm Gaussian inputs): time per plain GD
   step (a hand-written loop: ``gradient`` + update), per step of
   :func:`pl_toolkit.train` with no tracking, with the default tracking,
   with ``"all"`` at every step, and with ``"all"`` where the expensive
   quantities are measured every ``--expensive-every`` steps; ratios to the
   plain step (targets: default <= 2x, "all" <= 6x);
2. the top Hessian eigenvalue at initialization: one HVP against one
   gradient, restarted Lanczos (cold and warm-started after one GD step)
   against SciPy ``eigsh`` on the same operator;
3. unless ``--skip-digits``: a ``--digits-steps``-step GD run with
   ``track="all"`` on the digits data set (``n = 500``, ``d1 = 1000``,
   unit rows, one-hot labels scaled to ``||Y||_F = 1``, ``lr = "1/beta"``)
   with the cadences given by ``--digits-every`` and
   ``--digits-lambda-every``, with wall time and the solvers' statistics;
4. with ``--pyhessian PYTHON_EXE``: the top Hessian eigenvalue of a small
   net (``n = 200``, ``d0 = 32``, ``d1 = 256``, no biases) by PyHessian 0.1
   (power iteration on torch autograd HVPs, float64) run in that
   interpreter, against pl_toolkit's restarted Lanczos, at each stopping
   tolerance of ``--pyhessian-tols`` (the same number for both solvers,
   each applying it to its own test): relative error against an ARPACK
   reference, HVP counts (PyHessian's counted by wrapping its own
   ``hessian_vector_product``) and median times over ``--pyhessian-repeat``
   runs after a warm-up; torch's import is excluded, PyHessian's
   ``hessian()`` setup (forward and backward with ``create_graph``) is
   included as pl_toolkit's setup is; per-HVP times of both.  Both run
   with the same thread budget, ``--pyhessian-threads`` (default 1: torch
   ``set_num_threads(1)``; numba one thread, serial kernels, OpenBLAS
   capped by threadpoolctl); ``0`` leaves each library at its default, which
   on a loaded shared machine times the scheduler more than the solvers.
   ``--only-pyhessian`` skips sections 1-3.

Per-step times come from the callback's timestamps (median over steps), so
one-off setup (constants at initialization, ``K_0``) is excluded; totals
are printed too.

Usage::

    python benchmarks/bench_train.py [--steps 8] [--expensive-every 10] [--skip-digits]
                                     [--digits-steps 1000] [--digits-every 50]
                                     [--digits-lambda-every 500] [--pyhessian PYTHON_EXE]
                                     [--pyhessian-iters 1000]
                                     [--pyhessian-tols 1e-4,1e-6,1e-8,1e-10]
                                     [--pyhessian-repeat 3] [--pyhessian-threads 1]
                                     [--only-pyhessian]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import pl_toolkit as pl
from pl_toolkit.hessian import hessian_operator


def unit_rows(rng, n, d0):
    X = rng.standard_normal((n, d0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def median_time(f, repeat=5):
    f()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


class Clock:
    """Callback recording the wall time at which each iterate is reached."""

    def __init__(self):
        self.stamps = []

    def __call__(self, t, net, values):
        self.stamps.append(time.perf_counter())

    def per_step(self):
        return float(np.median(np.diff(self.stamps)))

    def mean(self):
        return float(np.mean(np.diff(self.stamps)))


def plain_gd(net, X, Y, steps, lr):
    stamps = [time.perf_counter()]
    theta = net.parameters()
    for _ in range(steps):
        theta = theta - lr * pl.gradient(net, X, Y)
        net = net.with_parameters(theta)
        stamps.append(time.perf_counter())
    return float(np.median(np.diff(stamps)))


def section_steps(args):
    print("== 1. tracking cost per GD step (n=1000, d0=64, d1=2000, d2=1, GELU) ==")
    rng = np.random.default_rng(np.random.SeedSequence(1))
    n, d0, d1 = 1000, 64, 2000
    X = unit_rows(rng, n, d0)
    Y = rng.standard_normal((n, 1))
    Y /= np.linalg.norm(Y)
    net = pl.ShallowNet.init(d0, d1, 1, activation="gelu", seed=0)
    lr = 0.5 / pl.hessian_top_eigenvalue(net, X, Y).value
    steps = args.steps
    plain = plain_gd(net, X, Y, steps, lr)
    rows = [("plain loop (gradient + update)", plain, plain, None)]
    for label, kw in [("train, track=()", dict(track=())),
                      ("train, track='default'", dict(track="default")),
                      ("train, track='all' every step", dict(track="all")),
                      (f"train, track='all', expensive every {args.expensive_every}",
                       dict(track="all", track_every={"expensive": args.expensive_every}))]:
        n_steps = max(steps, 3 * args.expensive_every) if "expensive every" in label else steps
        clock = Clock()
        traj = pl.train(net, X, Y, steps=n_steps, lr=lr, progress=False, callback=clock, **kw)
        rows.append((label, clock.per_step(), clock.mean(), traj))
    print(f"{'variant':50s} {'median s':>9s} {'mean s':>9s} {'x plain (median, mean)':>24s}")
    for label, med, mean, traj in rows:
        print(f"{label:50s} {med:9.4f} {mean:9.4f} {med / plain:11.2f} {mean / plain:11.2f}")
    print("(mean = amortized over the steps, so it includes the expensive steps of the "
          "last variant; setup excluded)")
    traj_all = rows[3][3]
    print("solver statistics, 'all' every step:",
          json.dumps({k: dict(v) for k, v in traj_all.metadata["solver_stats"].items()}))
    return net, X, Y, lr


def section_hessian(net, X, Y, lr):
    print("\n== 2. top Hessian eigenvalue at initialization (same problem) ==")
    t_grad = median_time(lambda: pl.gradient(net, X, Y))
    op = hessian_operator(net, X, Y)
    u = np.random.default_rng(0).standard_normal(op.shape[0])
    t_hvp = median_time(lambda: op @ u)
    print(f"gradient {t_grad:.4f} s, HVP {t_hvp:.4f} s (ratio {t_hvp / t_grad:.2f})")
    t = time.perf_counter()
    cold = pl.hessian_top_eigenvalue(net, X, Y)
    t_cold = time.perf_counter() - t
    t = time.perf_counter()
    ref = pl.hessian_top_eigenvalue(net, X, Y, method="eigsh", tol=1e-10)
    t_eigsh = time.perf_counter() - t
    net1 = net.with_parameters(net.parameters() - lr * pl.gradient(net, X, Y))
    t = time.perf_counter()
    warm = pl.hessian_top_eigenvalue(net1, X, Y, v0=cold.vector)
    t_warm = time.perf_counter() - t
    print(f"lanczos cold : {cold.value:.12g}  {cold.matvecs:3d} HVPs  {t_cold:7.3f} s")
    print(f"eigsh (ARPACK, tol 1e-10): {ref.value:.12g}  {ref.matvecs:3d} HVPs  {t_eigsh:7.3f} s")
    print(f"relative difference lanczos vs eigsh: {abs(cold.value - ref.value) / ref.value:.2e}")
    print(f"lanczos warm (after one GD step): {warm.value:.12g}  {warm.matvecs:3d} HVPs  "
          f"{t_warm:7.3f} s")


def section_digits(args):
    print(f"\n== 3. digits, {args.digits_steps} GD steps, track='all' ==")
    from pl_toolkit.data import digits

    ds = digits(500, seed=0)
    net = pl.ShallowNet.init(64, 1000, ds.Y.shape[1], activation="gelu", seed=0)
    every = {"expensive": args.digits_every}
    for name in ("lambda_min", "pl_bound", "contraction_predicted"):
        every[name] = args.digits_lambda_every
    print(f"n={ds.X.shape[0]}, d0=64, d1=1000, d2={ds.Y.shape[1]}, lr='1/beta', "
          f"track_every={every}")
    plain_per = plain_gd(net, ds.X, ds.Y, 50, 1e-4)
    t = time.perf_counter()
    traj = pl.train(net, ds.X, ds.Y, steps=args.digits_steps, lr="1/beta", track="all",
                    track_every=every, progress=False)
    total = time.perf_counter() - t
    print(f"plain GD step {plain_per:.4f} s; the run took {total:.1f} s "
          f"({total / args.digits_steps / plain_per:.2f} x plain per step), status {traj.status}")
    print("loss", traj["loss"][0], "->", traj["loss"][-1],
          "| pl_ratio / pl_bound at the last lambda_min step:",
          traj["pl_ratio"][np.searchsorted(traj.steps["pl_ratio"], traj.steps["pl_bound"][-1])],
          "/", traj["pl_bound"][-1])
    print("solver statistics:",
          json.dumps({k: dict(v) for k, v in traj.metadata["solver_stats"].items()}))


_TORCH_SCRIPT = r"""
import json, sys, time
t_import = time.perf_counter()
import numpy as np
import torch
import pyhessian
# pyhessian/__init__ rebinds the name pyhessian.hessian to the class: take the module.
ph = sys.modules["pyhessian.hessian"]
t_import = time.perf_counter() - t_import
torch.set_default_dtype(torch.float64)
cfg = json.loads(sys.argv[2])
if cfg["threads"]:
    torch.set_num_threads(cfg["threads"])

data = np.load(sys.argv[1])
X, Y, W, V = (torch.tensor(data[k]) for k in ("X", "Y", "W", "V"))
model = torch.nn.Sequential(torch.nn.Linear(W.shape[1], W.shape[0], bias=False),
                            torch.nn.GELU(),
                            torch.nn.Linear(V.shape[1], V.shape[0], bias=False))
with torch.no_grad():
    model[0].weight.copy_(W)
    model[2].weight.copy_(V)
criterion = lambda out, y: ((out - y) ** 2).sum()

# Count and time PyHessian's own HVPs: eigenvalues() calls the module-level
# name hessian_vector_product once per power iteration.
hvp_seconds = []
_hvp = ph.hessian_vector_product
def counted_hvp(gradsH, params, v):
    t = time.perf_counter()
    out = _hvp(gradsH, params, v)
    hvp_seconds.append(time.perf_counter() - t)
    return out
ph.hessian_vector_product = counted_hvp

def run(tol, max_iter, seed):
    # hessian() runs loss.backward(create_graph=True), which accumulates into
    # .grad: clear it, or a second construction would see twice the Hessian.
    for p in model.parameters():
        p.grad = None
    torch.manual_seed(seed)
    del hvp_seconds[:]
    t0 = time.perf_counter()
    comp = ph.hessian(model, criterion, data=(X, Y), cuda=False)
    t1 = time.perf_counter()
    vals, _ = comp.eigenvalues(maxIter=max_iter, tol=tol, top_n=1)
    t2 = time.perf_counter()
    return dict(value=float(vals[0]), hvps=len(hvp_seconds), setup=t1 - t0, loop=t2 - t1,
                hvp=float(np.median(hvp_seconds)))

run(1e-3, 20, 0)  # warm-up: first autograd graph, thread pool start
rows = []
for tol in cfg["tols"]:
    reps = [run(tol, cfg["max_iter"], cfg["seed"]) for _ in range(cfg["repeat"])]
    med = {k: float(np.median([r[k] for r in reps])) for k in ("setup", "loop", "hvp")}
    rows.append(dict(tol=tol, value=reps[0]["value"], hvps=reps[0]["hvps"],
                     values_agree=len({r["value"] for r in reps}) == 1, **med))
print(json.dumps(dict(rows=rows, import_seconds=t_import, torch=torch.__version__,
                      threads=torch.get_num_threads())))
"""

# PyHessian 0.1 re-normalizes the unit iterate as v / (||v|| + 1e-6) at the start of
# every iteration (orthnormal -> normalization), so its Rayleigh quotient is v^T H v
# with ||v|| = 1 / (1 + 1e-6): biased low by the factor (1 + 1e-6)^-2.
_PYHESSIAN_BIAS = (1 + 1e-6) ** 2


def section_pyhessian(python_exe, max_iter=1000, tols=(1e-4, 1e-6, 1e-8, 1e-10), repeat=3,
                      threads=1):
    """PyHessian against pl_toolkit; ``threads`` caps both (0: each library's default)."""
    import contextlib

    import numba

    print("\n== 4. PyHessian comparison ==")
    if threads:
        # Same thread budget for both: torch.set_num_threads in the peer; here numba's
        # pool, OpenBLAS (threadpoolctl) and, with one thread, the serial kernels.
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=threads)
        old_threads = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        parallel = threads > 1
    else:
        limits = contextlib.nullcontext()
        old_threads = numba.get_num_threads()
        parallel = True
    try:
        with limits:
            _pyhessian(python_exe, max_iter, tols, repeat, threads, parallel)
    finally:
        numba.set_num_threads(old_threads)


def _pyhessian(python_exe, max_iter, tols, repeat, threads, parallel):
    import numba

    rng = np.random.default_rng(np.random.SeedSequence(4))
    n, d0, d1 = 200, 32, 256
    X = unit_rows(rng, n, d0)
    Y = rng.standard_normal((n, 1))
    Y /= np.linalg.norm(Y)
    net = pl.ShallowNet.init(d0, d1, 1, activation="gelu", seed=2)
    ref = pl.hessian_top_eigenvalue(net, X, Y, method="eigsh", tol=1e-13)
    op = hessian_operator(net, X, Y, parallel=parallel)
    u = np.random.default_rng(0).standard_normal(op.shape[0])
    t_setup = median_time(lambda: hessian_operator(net, X, Y, parallel=parallel), repeat=7)
    t_hvp = median_time(lambda: op @ u, repeat=21)
    ours = []
    for tol in tols:
        # warm-up (numba cache, thread pools)
        pl.hessian_top_eigenvalue(net, X, Y, tol=tol, parallel=parallel)
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            res = pl.hessian_top_eigenvalue(net, X, Y, tol=tol, parallel=parallel)
            ts.append(time.perf_counter() - t)
        ours.append((res, float(np.median(ts))))
    cfg = dict(tols=list(tols), max_iter=max_iter, repeat=repeat, seed=0, threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "problem.npz")
        script = os.path.join(tmp, "peer.py")
        np.savez(data, X=X, Y=Y, W=net.W, V=net.V)
        with open(script, "w") as fh:
            fh.write(_TORCH_SCRIPT)
        out = subprocess.run([python_exe, script, data, json.dumps(cfg)],
                             capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print("PyHessian run failed:\n" + out.stderr[-2000:])
        return
    peer = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"n={n}, d0={d0}, d1={d1}, d2=1, GELU, no biases ({op.shape[0]} parameters); "
          f"reference: ARPACK eigsh at tol 1e-13 on our HVPs, {ref.value:.15g}")
    print(f"PyHessian 0.1 on torch {peer['torch']} ({peer['threads']} threads; import "
          f"{peer['import_seconds']:.2f} s, excluded), power iteration, maxIter={max_iter}; "
          f"pl_toolkit restarted Lanczos ({numba.get_num_threads()} numba threads, "
          f"{'parallel' if parallel else 'serial'} kernels, BLAS "
          f"{'capped at ' + str(threads) if threads else 'default'}); "
          f"medians over {repeat} runs after a warm-up")
    print("tol is each solver's own stopping tolerance: pl_toolkit stops on the Ritz residual "
          "(<= tol |value|), PyHessian on the relative change of its Rayleigh quotient between "
          "two iterations (< tol); 'err' is the relative error against the reference, PyHessian's "
          "after removing its (1 + 1e-6)^-2 normalization bias (raw value: 'raw err')")
    print(f"{'tol':>7s} | {'ours err':>9s} {'HVPs':>5s} {'s':>7s} | "
          f"{'PyH err':>9s} {'raw err':>9s} "
          f"{'HVPs':>5s} {'loop s':>7s} {'total s':>7s} | {'time ratio':>10s}")
    for (res, t_ours), row in zip(ours, peer["rows"]):
        err = abs(res.value - ref.value) / abs(ref.value)
        raw = abs(row["value"] - ref.value) / abs(ref.value)
        cor = abs(row["value"] * _PYHESSIAN_BIAS - ref.value) / abs(ref.value)
        total = row["setup"] + row["loop"]
        flag = "" if res.converged else " (ours not converged)"
        flag += "" if row["hvps"] < max_iter else " (PyHessian hit maxIter)"
        flag += "" if row["values_agree"] else " (PyHessian repeats differ)"
        print(f"{row['tol']:7.0e} | {err:9.1e} {res.matvecs:5d} {t_ours:7.3f} | {cor:9.1e} "
              f"{raw:9.1e} {row['hvps']:5d} {row['loop']:7.3f} {total:7.3f} | "
              f"{total / t_ours:10.1f}{flag}")
    print("(time ratio = PyHessian total (hessian() setup + power loop) / pl_toolkit "
          "hessian_top_eigenvalue, which includes its own setup)")
    hvp_peer = float(np.median([r["hvp"] for r in peer["rows"]]))
    setup_peer = float(np.median([r["setup"] for r in peer["rows"]]))
    iter_peer = float(np.median([r["loop"] / r["hvps"] for r in peer["rows"]]))
    print(f"per HVP: pl_toolkit {t_hvp * 1e3:.3f} ms, PyHessian (torch autograd) "
          f"{hvp_peer * 1e3:.3f} ms (ratio {hvp_peer / t_hvp:.2f}; a whole power iteration "
          f"{iter_peer * 1e3:.3f} ms); setup: pl_toolkit "
          f"hessian_operator {t_setup * 1e3:.2f} ms, PyHessian hessian() (forward + "
          f"backward with create_graph) {setup_peer * 1e3:.2f} ms")
    res, _ = ours[-1]
    row = peer["rows"][-1]
    rel = abs(row["value"] - res.value) / abs(res.value)
    rel_c = abs(row["value"] * _PYHESSIAN_BIAS - res.value) / abs(res.value)
    print(f"at tol {row['tol']:g}: pl_toolkit {res.value:.12g}, PyHessian {row['value']:.12g}: "
          f"relative difference {rel:.2e} ({'within' if rel <= 1e-6 else 'ABOVE'} 1e-6), "
          f"{rel_c:.2e} after the bias correction "
          f"({'within' if rel_c <= 1e-6 else 'ABOVE'} 1e-6)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--expensive-every", type=int, default=10)
    p.add_argument("--skip-digits", action="store_true")
    p.add_argument("--digits-steps", type=int, default=1000)
    p.add_argument("--digits-every", type=int, default=50)
    p.add_argument("--digits-lambda-every", type=int, default=500)
    p.add_argument("--pyhessian", metavar="PYTHON_EXE")
    p.add_argument("--pyhessian-iters", type=int, default=1000)
    p.add_argument("--pyhessian-tols", default="1e-4,1e-6,1e-8,1e-10",
                   help="comma-separated stopping tolerances, the same for both solvers")
    p.add_argument("--pyhessian-repeat", type=int, default=3)
    p.add_argument("--pyhessian-threads", type=int, default=1,
                   help="thread cap for both solvers (torch, numba, BLAS; default 1; "
                        "0 = each library's default)")
    p.add_argument("--only-pyhessian", action="store_true",
                   help="run section 4 alone (needs --pyhessian)")
    args = p.parse_args(argv)
    if args.only_pyhessian and not args.pyhessian:
        p.error("--only-pyhessian needs --pyhessian PYTHON_EXE")
    import numba

    print(f"pl_toolkit {pl.__version__}, numpy {np.__version__}, numba threads "
          f"{numba.get_num_threads()}, cpus {os.cpu_count()}")
    if not args.only_pyhessian:
        net, X, Y, lr = section_steps(args)
        section_hessian(net, X, Y, lr)
        if not args.skip_digits:
            section_digits(args)
    if args.pyhessian:
        tols = tuple(float(t) for t in args.pyhessian_tols.split(","))
        section_pyhessian(args.pyhessian, max_iter=args.pyhessian_iters, tols=tols,
                          repeat=args.pyhessian_repeat, threads=args.pyhessian_threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
