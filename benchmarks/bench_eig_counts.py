"""Benchmark: operator-product counts of the iterative eigensolvers on the NTK of bench_eig.

The same 2000-point empirical NTK as ``benchmarks/bench_eig.py`` (``d0 =
784``, ``d1 = 2000``, He initialization, GELU, unit-norm Gaussian inputs,
``SeedSequence(2021)``), wrapped as a counting ``LinearOperator`` so that
the counts do not depend on how a product is computed.  Prints, for each
solver at its default settings (``tol = 1e-8``): matrix-vector products (or
Cholesky solves), ``converged``, ``reason``, the relative error against
``eigvalsh`` and ``error_bound`` relative to the value:

* ``lambda_min`` and ``lambda_max`` by thick-restart Lanczos (basis 1000);
* the same Lanczos routine with a 200-vector basis;
* the first update of ``LambdaMinTracker(method="lanczos")`` (a cold start)
  and a second one on the same matrix (warm start);
* ``lambda_min(K, method="shift-invert")`` on the dense array.

Counts are deterministic (seeded start vectors); the wall time is shared
machine time and only indicative.

Usage::

    python benchmarks/bench_eig_counts.py [--n 2000] [--d0 784] [--d1 2000]
"""

import argparse
import sys
import time
import warnings

import numpy as np
from scipy.sparse.linalg import LinearOperator

import pl_toolkit as pl


class Counted(LinearOperator):
    """``K`` as an operator that counts its products."""

    def __init__(self, K):
        self.K, self.count = K, 0
        super().__init__(dtype=np.float64, shape=K.shape)

    def _matvec(self, x):
        self.count += 1
        return self.K @ x

    def _matmat(self, X):
        self.count += X.shape[1]
        return self.K @ X


def unit_rows(rng, n, d0):
    X = rng.standard_normal((n, d0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--d0", type=int, default=784)
    ap.add_argument("--d1", type=int, default=2000)
    args = ap.parse_args(argv)
    warnings.simplefilter("always", pl.ConvergenceWarning)
    rng = np.random.default_rng(np.random.SeedSequence(2021))
    X = unit_rows(rng, args.n, args.d0)
    net = pl.ShallowNet.init(args.d0, args.d1, init="he", seed=0)
    K = pl.ntk_gram(net, X)
    w = np.linalg.eigvalsh(K)
    print(f"NTK n={args.n} d0={args.d0} d1={args.d1}: lambda_min={w[0]:.10e} "
          f"lambda_max={w[-1]:.6e} cond={w[-1] / w[0]:.4g}")

    def show(label, count, r, exact):
        reason = getattr(r, "reason", "-")
        print(f"{label:44s} {count:6d} products  converged={r.converged!s:5s} reason={reason:10s} "
              f"rel.err {abs(r.value - exact) / abs(exact):.1e}  "
              f"error_bound {r.error_bound / abs(r.value):.1e} rel.", flush=True)

    for label, fn, exact in (("lambda_min (Lanczos, basis 1000)", pl.lambda_min, w[0]),
                             ("lambda_max (Lanczos, basis 1000)", pl.lambda_max, w[-1])):
        op = Counted(K)
        t = time.perf_counter()
        r = fn(op)
        show(label, op.count, r, exact)
        print(f"{'':44s} ({time.perf_counter() - t:.1f} s)")

    from pl_toolkit._lanczos import thick_restart_lanczos
    op = Counted(K)
    out = thick_restart_lanczos(op.matvec, args.n, tol=1e-8, ncv=200)
    print(f"{'thick_restart_lanczos, basis 200':44s} {op.count:6d} products  "
          f"converged={out['converged']!s:5s} rel.err {abs(out['value'] - w[0]) / w[0]:.1e}")

    tracker = pl.LambdaMinTracker(method="lanczos")
    for label in ("tracker (lanczos), first update", "tracker (lanczos), same matrix again"):
        op = Counted(K)
        r = tracker.update(op)
        show(label, op.count, r, w[0])

    r = pl.lambda_min(K, method="shift-invert")
    show("lambda_min(K, method='shift-invert')", r.matvecs, r, w[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
