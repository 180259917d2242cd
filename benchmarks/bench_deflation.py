"""Benchmark: products to convergence of the preconditioned (deflated) route against plain Lanczos.

The NTK of ``benchmarks/bench_eig.py``'s large problem (``d0 = 784``,
``d1 = 4000``, He initialization, GELU, unit-norm Gaussian inputs drawn
with ``default_rng(n)``, network seed 1) at each ``n`` of ``--sizes``:

1. the dense float64 NTK and its eigenvalues (``eigvalsh``: the reference);
2. plain thick-restart Lanczos (:func:`pl_toolkit.lambda_min`, tol 1e-8)
   on the dense NTK wrapped as a counting operator: products;
3. :func:`pl_toolkit._ntk_deflation.deflated_lambda_min` on the same
   counting operator with the ``"features"`` preconditioner built from
   the network (no products), single vectors and ``--block`` vectors per
   step, and with the ``"nystrom"`` preconditioner (a block product on
   ``span[1, X]``): products, block passes, wall time, relative error
   against ``eigvalsh``, ``error_bound`` relative to the value, and the
   preconditioner's setup (seconds, flops in units of one product's ``4 n
   d0 d1``);
4. at ``n <= --confirm-max``: the same solve with the real matrix-free
   operator (:func:`pl_toolkit.ntk_operator`), model building included in
   its wall time, and the time of one operator product.

Counts are deterministic (seeded start vectors); wall times are shared
machine time and only indicative.  ``--json PATH`` also writes the rows.

Usage::

    python benchmarks/bench_deflation.py [--quick] [--sizes 2000,5000,10000] [--block 4]
                                         [--confirm-max 5000] [--no-plain] [--json out.json]
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np
from scipy.sparse.linalg import LinearOperator

import pl_toolkit as pl
from pl_toolkit._ntk_deflation import deflated_lambda_min, feature_model

D0, D1 = 784, 4000


class Counted(LinearOperator):
    """``K`` as an operator that counts its products (block products count their columns)."""

    def __init__(self, K):
        self.K, self.count, self.passes = K, 0, 0
        super().__init__(dtype=np.float64, shape=K.shape)

    def _matvec(self, x):
        self.count += 1
        self.passes += 1
        return self.K @ x

    def _matmat(self, X):
        self.count += X.shape[1]
        self.passes += 1
        return self.K @ X


def unit_rows(rng, n, d0):
    X = rng.standard_normal((n, d0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def problem(n):
    """The NTK problem of bench_eig's large section at ``n`` points."""
    return pl.ShallowNet.init(D0, D1, init="he", seed=1), unit_rows(np.random.default_rng(n), n, D0)


def row(label, r, exact, seconds, count=None):
    out = dict(label=label, matvecs=int(r.matvecs if count is None else count),
               passes=int(getattr(r, "passes", r.matvecs)), seconds=round(seconds, 2),
               converged=bool(r.converged), reason=r.reason,
               rel_error=abs(r.value - exact) / abs(exact),
               rel_bound=r.error_bound / abs(r.value),
               setup_matvecs=int(getattr(r, "setup_matvecs", 0)))
    print(f"  {label:34s} {out['matvecs']:6d} products {out['passes']:6d} passes "
          f"{seconds:8.1f} s  rel.err {out['rel_error']:.1e}  bound {out['rel_bound']:.1e} "
          f"({r.reason})", flush=True)
    return out


def one_size(n, args):
    net, X = problem(n)
    res = dict(n=n, d0=D0, d1=D1, rows=[])
    t = time.perf_counter()
    K = pl.ntk_gram(net, X)
    res["gram_seconds"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    w = np.linalg.eigvalsh(K)
    res["eigvalsh_seconds"] = round(time.perf_counter() - t, 2)
    exact = float(w[0])
    big = int(np.sum(w > 10 * w[n // 4]))
    res.update(lambda_min=exact, lambda_2=float(w[1]), lambda_max=float(w[-1]), outliers=big)
    print(f"n={n} d0={D0} d1={D1}: lambda_min={exact:.10e} lambda_2/lambda_1={w[1] / w[0]:.5f} "
          f"lambda_max={w[-1]:.4e} cond={w[-1] / w[0]:.3g}, {big} eigenvalues above 10x the "
          f"lower quartile (ntk_gram {res['gram_seconds']} s, eigvalsh "
          f"{res['eigvalsh_seconds']} s)", flush=True)
    del w
    product_flops = 4.0 * n * D0 * D1
    t = time.perf_counter()
    op = pl.ntk_operator(net, X)
    model = feature_model(op)
    del op
    res["model_seconds"] = round(time.perf_counter() - t, 2)
    res["model_flops_in_products"] = round(model.setup_flops / product_flops, 2)
    res["model_rank"] = model.rank
    print(f"  features model: rank {model.rank}, {'dense' if model.dense else 'Woodbury'} "
          f"factor, built in {res['model_seconds']} s ({res['model_flops_in_products']} products' "
          "flops)", flush=True)
    if not args.no_plain:
        A = Counted(K)
        t = time.perf_counter()
        r = pl.lambda_min(A, tol=1e-8)
        res["rows"].append(row("plain Lanczos (lambda_min)", r, exact, time.perf_counter() - t,
                               A.count))
    for block in sorted({1, args.block}):
        A = Counted(K)
        t = time.perf_counter()
        r = deflated_lambda_min(A, X, 1e-8, model=model, block=block)
        assert A.count == r.matvecs and A.passes == r.passes
        res["rows"].append(row(f"deflated, features, block {block}", r, exact,
                               time.perf_counter() - t))
    del model
    A = Counted(K)
    t = time.perf_counter()
    r = deflated_lambda_min(A, X, 1e-8, model="nystrom")
    assert A.count == r.matvecs
    res["rows"].append(row(f"deflated, nystrom (setup {r.setup_matvecs})", r, exact,
                           time.perf_counter() - t))
    del K, A
    if n <= args.confirm_max:
        op = pl.ntk_operator(net, X)
        u = np.random.default_rng(0).standard_normal(n)
        t = time.perf_counter()
        op @ u
        res["product_seconds"] = round(time.perf_counter() - t, 2)
        op.matvecs = 0
        t = time.perf_counter()
        r = deflated_lambda_min(op, tol=1e-8)
        seconds = time.perf_counter() - t
        assert op.matvecs == r.matvecs
        res["rows"].append(row("matrix-free operator, features", r, exact, seconds))
        print(f"  (one operator product {res['product_seconds']} s)", flush=True)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 2000 only")
    ap.add_argument("--sizes", default="2000,5000,10000")
    ap.add_argument("--block", type=int, default=4)
    ap.add_argument("--confirm-max", type=int, default=5000,
                    help="largest n solved again with the matrix-free operator")
    ap.add_argument("--no-plain", action="store_true", help="skip plain Lanczos")
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args(argv)
    try:
        sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    except ValueError:
        ap.error(f"--sizes must be integers separated by commas, got {args.sizes!r}")
    if any(s < 2 for s in sizes) or args.block < 1:
        ap.error("--sizes must be >= 2 and --block >= 1")
    warnings.simplefilter("always", pl.ConvergenceWarning)
    out = [one_size(n, args) for n in sizes]
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
