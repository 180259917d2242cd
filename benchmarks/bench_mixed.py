"""Benchmark: ``ntk_lambda_min(method="mixed")`` at large ``n``, against shift-invert where it fits.

Each solve runs in a fresh process (peak RSS is that process's) on the
problem of ``benchmarks/bench_eig.py --large``: unit-norm Gaussian inputs,
He initialization, GELU, ``d2 = 1``.  Printed per size and route: wall
time and its parts (forming and factoring the float32 NTK, Lanczos on its
inverse, the float64 refinement), peak RSS, float64 products, float32
solves, ``residual / value``, ``error_bound / value``, the stopping reason
and, with ``--compare``, the relative difference from shift-invert on the
float64 NTK at the same size.

Usage::

    python benchmarks/bench_mixed.py [--sizes 10000,20000] [--d0 784] [--d1 4000]
                                     [--compare] [--max-memory-gib 16] [--tol 1e-8]

The target run (``n = 50,000``, the whole machine)::

    python benchmarks/bench_mixed.py --sizes 50000 --d0 100 --max-memory-gib 16
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

import pl_toolkit as pl
from pl_toolkit import ntk_spectrum


def unit_rows(rng, n, d0):
    X = rng.standard_normal((n, d0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def problem(n, d0, d1):
    return pl.ShallowNet.init(d0, d1, init="he", seed=1), unit_rows(np.random.default_rng(n), n, d0)


def timed(name, parts):
    """Wrap ``ntk_spectrum.<name>`` so that its wall time is added to ``parts[name]``."""
    real = getattr(ntk_spectrum, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            parts[name] = parts.get(name, 0.0) + time.perf_counter() - t

    setattr(ntk_spectrum, name, wrapper)


def one(args):
    """One solve in this (fresh) process; prints one JSON line."""
    net, X = problem(args.one, args.d0, args.d1)
    parts = {}
    for name in ("_float32_factor", "_lowest_ritz_of_inverse", "_mixed_refine"):
        timed(name, parts)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pl.ConvergenceWarning)
        r = pl.ntk_lambda_min(net, X, method=args.method, tol=args.tol,
                              max_memory=int(args.max_memory_gib * 2 ** 30))
    out = dict(n=args.one, d0=args.d0, d1=args.d1, method=r.method, wall_s=time.perf_counter() - t0,
               parts_s={k.strip("_"): round(v, 2) for k, v in parts.items()},
               peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
               value=r.value, products=r.matvecs, residual_rel=r.residual / abs(r.value),
               bound_rel=r.error_bound / abs(r.value),
               estimate_rel=r.error_estimate / abs(r.value), reason=r.reason,
               converged=r.converged, route_reason=r.route_reason,
               warnings=[str(w.message)[:160] for w in caught])
    print(json.dumps(out), flush=True)
    return 0


def child(args, n, method):
    cmd = [sys.executable, __file__, "--one", str(n), "--method", method, "--d0", str(args.d0),
           "--d1", str(args.d1), "--tol", str(args.tol),
           "--max-memory-gib", str(args.max_memory_gib)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        print(f"n={n} {method}: failed (exit {p.returncode}): {p.stderr[-800:]}", flush=True)
        return None
    return json.loads(lines[-1])


def show(row):
    print(f"n={row['n']} d0={row['d0']} d1={row['d1']} {row['method']:12s} "
          f"{row['wall_s']:7.1f} s  peak {row['peak_rss_gib']:.2f} GiB  "
          f"products {row['products']}  lambda_min {row['value']:.12e}  "
          f"residual/value {row['residual_rel']:.1e}  bound/value {row['bound_rel']:.1e}  "
          f"estimate/value {row['estimate_rel']:.1e}  {row['reason']}", flush=True)
    if row["parts_s"]:
        print(f"    parts (s): {row['parts_s']}", flush=True)
    print(f"    route: {row['route_reason']}", flush=True)
    for w in row["warnings"]:
        print(f"    warning: {w}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000")
    ap.add_argument("--d0", type=int, default=784)
    ap.add_argument("--d1", type=int, default=4000)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--max-memory-gib", type=float, default=16.0)
    ap.add_argument("--compare", action="store_true",
                    help="also shift-invert on the float64 NTK at every size")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--method", default="mixed", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        return one(args)
    print(f"machine: {__import__('os').cpu_count()} cores; one fresh process per solve", flush=True)
    for n in (int(s) for s in args.sizes.split(",")):
        mixed = child(args, n, "mixed")
        if mixed:
            show(mixed)
        if args.compare:
            si = child(args, n, "shift-invert")
            if si:
                show(si)
            if mixed and si:
                print(f"    mixed vs shift-invert: relative difference "
                      f"{abs(mixed['value'] - si['value']) / abs(si['value']):.1e}, time ratio "
                      f"{mixed['wall_s'] / si['wall_s']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
