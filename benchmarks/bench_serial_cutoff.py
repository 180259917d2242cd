"""Benchmark: the serial cut-off of the numba kernels (``PARALLEL_MIN_ELEMENTS``).

Kernels on fewer elements than the cut-off run their serial build.  This
prints, for each cut-off in ``--cutoffs`` and each problem size, the median
time of ``ntk_gram`` and ``gradient`` (``--repeat`` calls after a warm-up),
each cut-off in a fresh interpreter, the cut-offs taking turns over
``--rounds`` rounds; then each time as a ratio to the first cut-off's.
Serial and parallel builds agree bitwise, so only time changes.

Usage::

    python benchmarks/bench_serial_cutoff.py [--cutoffs 32768,1048576,4194304] [--rounds 2]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SIZES = ((200, 64, 256), (500, 64, 1000), (1000, 64, 2000))


def child(cutoff, repeat):
    import pl_toolkit as pl
    import pl_toolkit._jit

    pl_toolkit._jit.PARALLEL_MIN_ELEMENTS = cutoff
    rng = np.random.default_rng(np.random.SeedSequence(0))
    out = {}
    for n, d0, d1 in SIZES:
        X = rng.standard_normal((n, d0))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        Y = rng.standard_normal((n, 1)) / np.sqrt(n)
        net = pl.ShallowNet.init(d0, d1, seed=0)
        pl.ntk_gram(net, X)
        pl.gradient(net, X, Y)
        for name, f in (("ntk_gram", lambda: pl.ntk_gram(net, X)),
                        ("gradient", lambda: pl.gradient(net, X, Y))):
            ts = []
            for _ in range(repeat):
                t = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t)
            out[f"{name} n={n} d1={d1}"] = float(np.median(ts))
    print(json.dumps(out))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cutoffs", default="32768,1048576,4194304")
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        child(args.child, args.repeat)
        return 0
    cutoffs = [int(c) for c in args.cutoffs.split(",")]
    runs = {c: [] for c in cutoffs}
    for _ in range(args.rounds):
        for c in cutoffs:
            cmd = [sys.executable, os.path.abspath(__file__), "--child", str(c),
                   "--repeat", str(args.repeat)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs[c].append(json.loads(res.stdout.strip().splitlines()[-1]))
    keys = list(runs[cutoffs[0]][0])
    med = {c: {k: float(np.median([r[k] for r in runs[c]])) for k in keys} for c in cutoffs}
    print(f"median ms over {args.rounds} rounds x {args.repeat} calls "
          f"(ratio to cut-off {cutoffs[0]})")
    print(f"{'call':<28}" + "".join(f"{c:>22}" for c in cutoffs))
    for k in keys:
        base = med[cutoffs[0]][k]
        print(f"{k:<28}" + "".join(f"{1e3 * med[c][k]:>12.2f} ({med[c][k] / base:5.2f}x)"
                                   for c in cutoffs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
