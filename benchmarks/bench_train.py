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
   net computed by PyHessian (power iteration on autograd HVPs, float64) in
   that interpreter, against pl_toolkit's value (relative difference, target
   1e-6) and times.

Per-step times come from the callback's timestamps (median over steps), so
one-off setup (constants at initialization, ``K_0``) is excluded; totals
are printed too.

Usage::

    python benchmarks/bench_train.py [--steps 8] [--expensive-every 10] [--skip-digits]
                                     [--digits-steps 1000] [--digits-every 50]
                                     [--digits-lambda-every 500] [--pyhessian PYTHON_EXE]
                                     [--pyhessian-iters 1000]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.sparse.linalg import eigsh

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
import numpy as np
import torch
torch.set_default_dtype(torch.float64)
from pyhessian import hessian

data = np.load(sys.argv[1])
X, Y, W, V = (torch.tensor(data[k]) for k in ("X", "Y", "W", "V"))
model = torch.nn.Sequential(torch.nn.Linear(W.shape[1], W.shape[0], bias=False),
                            torch.nn.GELU(),
                            torch.nn.Linear(V.shape[1], V.shape[0], bias=False))
with torch.no_grad():
    model[0].weight.copy_(W)
    model[2].weight.copy_(V)
criterion = lambda out, y: ((out - y) ** 2).sum()
torch.manual_seed(0)
t = time.perf_counter()
comp = hessian(model, criterion, data=(X, Y), cuda=False)
vals, _ = comp.eigenvalues(maxIter=int(sys.argv[2]), tol=float(sys.argv[3]), top_n=1)
print(json.dumps(dict(value=float(vals[0]), seconds=time.perf_counter() - t,
                      torch=torch.__version__)))
"""


def section_pyhessian(python_exe, max_iter=1000, tol=1e-12):
    print("\n== 4. PyHessian comparison ==")
    rng = np.random.default_rng(np.random.SeedSequence(4))
    n, d0, d1 = 200, 32, 256
    X = unit_rows(rng, n, d0)
    Y = rng.standard_normal((n, 1))
    Y /= np.linalg.norm(Y)
    net = pl.ShallowNet.init(d0, d1, 1, activation="gelu", seed=2)
    t = time.perf_counter()
    ours = pl.hessian_top_eigenvalue(net, X, Y, tol=1e-10)
    t_ours = time.perf_counter() - t
    ref = pl.hessian_top_eigenvalue(net, X, Y, method="eigsh", tol=1e-13)
    print(f"pl_toolkit Lanczos vs ARPACK (tol 1e-13) on the same HVPs: relative difference "
          f"{abs(ours.value - ref.value) / abs(ref.value):.2e}")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "problem.npz")
        script = os.path.join(tmp, "peer.py")
        np.savez(data, X=X, Y=Y, W=net.W, V=net.V)
        with open(script, "w") as fh:
            fh.write(_TORCH_SCRIPT)
        out = subprocess.run([python_exe, script, data, str(max_iter), str(tol)],
                             capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print("PyHessian run failed:\n" + out.stderr[-2000:])
        return
    peer = json.loads(out.stdout.strip().splitlines()[-1])
    rel = abs(peer["value"] - ours.value) / abs(ours.value)
    print(f"n={n}, d0={d0}, d1={d1}: pl_toolkit {ours.value:.12g} ({ours.matvecs} HVPs, "
          f"{t_ours:.3f} s); PyHessian {peer['value']:.12g} ({peer['seconds']:.3f} s, "
          f"torch {peer['torch']}; power iteration, maxIter={max_iter}, tol={tol:g})")
    print(f"relative difference {rel:.2e} ({'within' if rel <= 1e-6 else 'ABOVE'} 1e-6)")
    # PyHessian 0.1 re-normalizes the unit iterate as v / (||v|| + 1e-6) at the start of
    # every iteration (orthnormal -> normalization), so its Rayleigh quotient is
    # v^T H v with ||v|| = 1 / (1 + 1e-6): biased low by the factor (1 + 1e-6)^-2.
    corrected = peer["value"] * (1 + 1e-6) ** 2
    rel_c = abs(corrected - ours.value) / abs(ours.value)
    print(f"PyHessian corrected for its (1 + 1e-6)^-2 normalization bias: {corrected:.12g}, "
          f"relative difference {rel_c:.2e} ({'within' if rel_c <= 1e-6 else 'ABOVE'} 1e-6)")


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
    args = p.parse_args(argv)
    import numba

    print(f"pl_toolkit {pl.__version__}, numpy {np.__version__}, numba threads "
          f"{numba.get_num_threads()}, cpus {os.cpu_count()}")
    net, X, Y, lr = section_steps(args)
    section_hessian(net, X, Y, lr)
    if not args.skip_digits:
        section_digits(args)
    if args.pyhessian:
        section_pyhessian(args.pyhessian, max_iter=args.pyhessian_iters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
