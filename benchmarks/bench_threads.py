"""Benchmark: numba's threading layer next to OpenBLAS (thread contention).

pl_toolkit's row-parallel numba kernels run on numba's threading layer (GNU
OpenMP when numba picks ``omp``), its matrix products on the OpenBLAS that
NumPy links.  Both keep worker threads that may spin for a while after a
parallel region, and on a busy machine a spinning pool can slow down the
other library's next call.  This benchmark measures it.

One child interpreter per variant (the variables must be set before numba
and NumPy are imported), variants run round-robin for ``--rounds`` rounds so
that a change of the machine's load hits all of them alike.  Each child
times ``--repeat`` times the sequence

1. pause ``--pause`` s, then ``ntk_gram`` (``ntk cold``: pools idle);
2. at once a ``--gemm`` x ``--gemm`` product ``A @ B`` (``gemm after ntk``);
3. at once ``ntk_gram`` again (``ntk after gemm``);
4. pause, then ``A @ B`` (``gemm cold``);

and, before that, ``--repeat`` blocks (each after a pause) of
``--small-calls`` calls of ``ntk_gram`` and of ``gradient`` on a small
problem (``n = --small-n``, ``d0 = 32``, ``d1 = --small-d1``,
``parallel=True``, the default; ``n d1`` is above the serial cut-off, so
the parallel kernels run), where small GEMMs and parallel kernels alternate
within a millisecond.  The parent prints per variant the medians over all
rounds, the ratios ``gemm after ntk / gemm cold`` and ``ntk after gemm /
ntk cold`` (1.00 = no slow-down by the other library), and every variant's
``ntk cold + gemm after ntk``, ``gemm after ntk`` and the small calls'
times against the first variant's.  ``ntk_gram`` itself is a GEMM plus parallel activation
kernels plus symmetric rank-k products, i.e. the mix a user runs.

Variants (``--variants``, comma-separated):

* ``default``: nothing set (numba picks its layer; ``omp`` here);
* ``workqueue``: ``NUMBA_THREADING_LAYER=workqueue``;
* ``tbb``: ``NUMBA_THREADING_LAYER=tbb`` (skipped unless the ``tbb``
  package is importable);
* ``passive``: ``OMP_WAIT_POLICY=passive`` (idle OpenMP threads sleep);
* ``active``: ``OMP_WAIT_POLICY=active`` (idle OpenMP threads spin: the
  worst case, for comparison);
* ``numba1``: ``NUMBA_NUM_THREADS=1`` (one numba thread, threaded BLAS);
* ``blas1``: ``OPENBLAS_NUM_THREADS=1`` (threaded numba, one BLAS thread);
* ``workqueue+blas1``: both of ``workqueue`` and ``blas1``.

Thread-related variables of the calling environment (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``NUMBA_*`` ...) are removed for the children, so
every variant starts from the libraries' defaults.

Times are printed, never asserted; the machine is shared and noisy.

Usage::

    python benchmarks/bench_threads.py [--n 2000] [--d0 64] [--d1 2000] [--gemm 1500]
                                       [--repeat 7] [--rounds 3] [--pause 0.3]
                                       [--small-n 200] [--small-d1 256] [--small-calls 20]
                                       [--variants default,workqueue,passive,blas1,...]
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

VARIANTS = {
    "default": {},
    "workqueue": {"NUMBA_THREADING_LAYER": "workqueue"},
    "tbb": {"NUMBA_THREADING_LAYER": "tbb"},
    "passive": {"OMP_WAIT_POLICY": "passive"},
    "active": {"OMP_WAIT_POLICY": "active"},
    "numba1": {"NUMBA_NUM_THREADS": "1"},
    "blas1": {"OPENBLAS_NUM_THREADS": "1"},
    "workqueue+blas1": {"NUMBA_THREADING_LAYER": "workqueue", "OPENBLAS_NUM_THREADS": "1"},
}

# Variables of the parent that would change what a variant measures.
_CLEARED = ("NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "NUMBA_NUM_THREADS",
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def small_workload(args):
    """Per-call times of small parallel calls: GEMMs and parallel kernels alternating."""
    import pl_toolkit as pl

    rng = np.random.default_rng(np.random.SeedSequence(8))
    X = rng.standard_normal((args.small_n, 32))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rng.standard_normal((args.small_n, 1))
    net = pl.ShallowNet.init(32, args.small_d1, 1, activation="gelu", seed=0)
    calls = {"ntk_small": lambda: pl.ntk_gram(net, X),  # parallel=True, the default
             "grad_small": lambda: pl.gradient(net, X, Y)}
    out = {k: [] for k in calls}
    for f in calls.values():
        f()
    for _ in range(args.repeat):
        time.sleep(args.pause)
        for k, f in calls.items():
            for _ in range(args.small_calls):
                t = time.perf_counter()
                f()
                out[k].append(time.perf_counter() - t)
    return out


def child(args):
    import numba

    import pl_toolkit as pl
    import pl_toolkit._jit

    # The library runs kernels under 2**20 elements serially; 0 forces the
    # parallel build at every size, which is what the contention measurement needs.
    pl_toolkit._jit.PARALLEL_MIN_ELEMENTS = args.parallel_min_elements

    samples = small_workload(args)
    rng = np.random.default_rng(np.random.SeedSequence(7))
    X = rng.standard_normal((args.n, args.d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    net = pl.ShallowNet.init(args.d0, args.d1, 1, activation="gelu", seed=0)
    A = rng.standard_normal((args.gemm, args.gemm))
    B = rng.standard_normal((args.gemm, args.gemm))
    pl.ntk_gram(net, X)  # compile / load the cache
    A @ B
    layer = numba.threading_layer()
    samples.update(ntk_cold=[], gemm_after_ntk=[], ntk_after_gemm=[], gemm_cold=[])
    for _ in range(args.repeat):
        time.sleep(args.pause)
        t0 = time.perf_counter()
        pl.ntk_gram(net, X)
        t1 = time.perf_counter()
        A @ B
        t2 = time.perf_counter()
        pl.ntk_gram(net, X)
        t3 = time.perf_counter()
        time.sleep(args.pause)
        t4 = time.perf_counter()
        A @ B
        t5 = time.perf_counter()
        samples["ntk_cold"].append(t1 - t0)
        samples["gemm_after_ntk"].append(t2 - t1)
        samples["ntk_after_gemm"].append(t3 - t2)
        samples["gemm_cold"].append(t5 - t4)
    print(json.dumps(dict(layer=layer, threads=numba.get_num_threads(), samples=samples)))


def run_variant(name, args):
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(VARIANTS[name])
    cmd = [sys.executable, os.path.abspath(__file__), "--child",
           "--n", str(args.n), "--d0", str(args.d0), "--d1", str(args.d1),
           "--gemm", str(args.gemm), "--repeat", str(args.repeat), "--pause", str(args.pause),
           "--small-n", str(args.small_n), "--small-d1", str(args.small_d1),
           "--small-calls", str(args.small_calls),
           "--parallel-min-elements", str(args.parallel_min_elements)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"variant {name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--d0", type=int, default=64)
    p.add_argument("--d1", type=int, default=2000)
    p.add_argument("--gemm", type=int, default=1500)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pause", type=float, default=0.3)
    p.add_argument("--small-n", type=int, default=200)
    p.add_argument("--small-d1", type=int, default=256)
    p.add_argument("--small-calls", type=int, default=20)
    p.add_argument("--variants",
                   default="default,workqueue,passive,numba1,blas1,workqueue+blas1,active")
    p.add_argument("--parallel-min-elements", type=int, default=0,
                   help="serial cut-off of the numba kernels in the children (default 0: always "
                        "parallel, the contention case; the library's own default is 1048576)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    for name in names:
        if name not in VARIANTS:
            p.error(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    if "tbb" in names and importlib.util.find_spec("tbb") is None:
        print("tbb: skipped (the tbb package is not installed)")
        names.remove("tbb")
    import numba

    import pl_toolkit as pl

    print(f"pl_toolkit {pl.__version__}, numpy {np.__version__}, numba {numba.__version__}, "
          f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print(f"ntk_gram n={args.n}, d0={args.d0}, d1={args.d1}; A @ B with {args.gemm}x{args.gemm}; "
          f"{args.repeat} repeats x {args.rounds} rounds, pause {args.pause} s")
    merged = {name: None for name in names}
    for _ in range(args.rounds):
        for name in names:
            res = run_variant(name, args)
            if merged[name] is None:
                merged[name] = res
            else:
                for k, v in res["samples"].items():
                    merged[name]["samples"][k].extend(v)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    meds = {name: {k: float(np.median(v)) for k, v in merged[name]["samples"].items()}
            for name in names}
    print(f"\n{'variant':16s} {'layer':9s} {'thr':>3s} {'ntk cold':>9s} {'ntk>gemm':>9s} "
          f"{'gemm cold':>9s} {'gemm>ntk':>9s} {'ntk+gemm':>9s} {'ntk ms':>8s} {'grad ms':>8s}")
    for name in names:
        med = meds[name]
        print(f"{name:16s} {merged[name]['layer']:9s} {merged[name]['threads']:3d} "
              f"{med['ntk_cold']:9.4f} {med['ntk_after_gemm']:9.4f} {med['gemm_cold']:9.4f} "
              f"{med['gemm_after_ntk']:9.4f} {med['ntk_cold'] + med['gemm_after_ntk']:9.4f} "
              f"{med['ntk_small'] * 1e3:8.3f} {med['grad_small'] * 1e3:8.3f}")
    print("(seconds unless marked, medians; 'gemm>ntk' = A @ B right after ntk_gram, 'ntk>gemm' = "
          "ntk_gram right after A @ B, 'ntk+gemm' = ntk cold + gemm>ntk; 'ntk ms', 'grad ms' = one "
          f"ntk_gram, one gradient of a small problem, n={args.small_n}, d0=32, "
          f"d1={args.small_d1}, parallel=True)")
    print(f"\nratios: within a variant (after / cold, 1.00 = no slow-down by the other library) "
          f"and against the first variant ({names[0]})")
    print(f"{'variant':16s} {'gemm>ntk/cold':>13s} {'ntk>gemm/cold':>13s} | {'ntk+gemm':>9s} "
          f"{'gemm>ntk':>9s} {'ntk small':>9s} {'grad small':>10s}")
    base = meds[names[0]]
    for name in names:
        med = meds[name]
        pair, pair0 = (m["ntk_cold"] + m["gemm_after_ntk"] for m in (med, base))
        print(f"{name:16s} {med['gemm_after_ntk'] / med['gemm_cold']:13.2f} "
              f"{med['ntk_after_gemm'] / med['ntk_cold']:13.2f} | {pair / pair0:9.2f} "
              f"{med['gemm_after_ntk'] / base['gemm_after_ntk']:9.2f} "
              f"{med['ntk_small'] / base['ntk_small']:9.2f} "
              f"{med['grad_small'] / base['grad_small']:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
