"""Benchmark: one NTK product, local against a Dask ``LocalCluster``.

For each ``n`` of ``--n`` (``d0 = --d0``, ``d1 = --d1``, ``d2 = 1``) the
benchmark times ``op @ u`` for

* ``local``: ``ntk_operator(net, X)`` (features stored, numba and BLAS on
  all cores of this process);
* ``cluster``: ``distributed_ntk_operator(net, X, client)`` on a
  ``LocalCluster(processes=True, n_workers=--workers,
  threads_per_worker=--threads)`` of this machine (default shards: twice
  the workers),

interleaved (local, cluster, local, ...) for ``--repeat`` rounds after one
warm-up product each, so that a change of the machine's load hits both
alike; it prints the median and minimum, the relative difference of the two
results (``max |K_c u - K_l u| / max |K_l u|``), the cluster's fixed cost
per product (the median product at ``n = --latency-n``) and the cost
model's flops and bytes per product (docs/distributed.rst).  The load
average before and after is printed too: the machine may be shared.

Times are printed (and written with ``--json``), never asserted.

Usage::

    python benchmarks/bench_distributed.py [--n 2000,10000] [--d0 100] [--d1 4000]
                                           [--workers 2] [--threads 1] [--repeat 5]
                                           [--latency-n 16] [--json out.json]
"""

import argparse
import json
import logging
import os
import statistics
import sys
import time

import numpy as np


def _ints(text, flag):
    try:
        vals = [int(t) for t in text.split(",")]
    except ValueError:
        sys.exit(f"{flag}: expected comma-separated integers, got {text!r}")
    if not vals or min(vals) < 1:
        sys.exit(f"{flag}: expected positive integers, got {text!r}")
    return vals


def _positive(text, flag):
    v = _ints(text, flag)
    if len(v) != 1:
        sys.exit(f"{flag}: expected one positive integer, got {text!r}")
    return v[0]


def model(n, d0, d1, d2, workers, shards):
    """Flops per shard and bytes moved per product (docs/distributed.rst)."""
    P = d1 * d0 + d1 + d2 * d1 + d2
    return {"flops_per_shard": 4 * (n / shards) * d1 * (d0 + d2),
            "bytes_vectors": 2 * 8 * n * d2,
            "bytes_gradients": 2 * 8 * P * (workers - 1),
            "bytes_net_once": 8 * P}


def _time(op, u):
    t = time.perf_counter()
    op @ u
    return time.perf_counter() - t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", default="2000,10000")
    p.add_argument("--d0", default="100")
    p.add_argument("--d1", default="4000")
    p.add_argument("--workers", default="2")
    p.add_argument("--threads", default="1")
    p.add_argument("--repeat", default="5")
    p.add_argument("--latency-n", default="16")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    ns = _ints(a.n, "--n")
    d0, d1 = _positive(a.d0, "--d0"), _positive(a.d1, "--d1")
    workers, threads = _positive(a.workers, "--workers"), _positive(a.threads, "--threads")
    repeat, latency_n = _positive(a.repeat, "--repeat"), _positive(a.latency_n, "--latency-n")

    import distributed

    from pl_toolkit import ShallowNet, ntk_operator
    from pl_toolkit.ntk_distributed import distributed_ntk_operator

    load0 = os.getloadavg()
    net = ShallowNet.init(d0=d0, d1=d1, seed=0)
    rng = np.random.default_rng(0)
    rows = []
    cluster = distributed.LocalCluster(processes=True, n_workers=workers,
                                       threads_per_worker=threads, dashboard_address=":0",
                                       silence_logs=logging.CRITICAL)
    with cluster, distributed.Client(cluster, set_as_default=False) as client:
        X = rng.standard_normal((latency_n, d0)) / np.sqrt(d0)
        with distributed_ntk_operator(net, X, client) as op:
            u = np.ones(latency_n)
            op @ u
            latency = statistics.median(_time(op, u) for _ in range(max(repeat, 10)))
        print(f"cluster fixed cost per product (n = {latency_n}): {latency * 1e3:.1f} ms")
        for n in ns:
            X = rng.standard_normal((n, d0)) / np.sqrt(d0)
            u = rng.standard_normal(n)
            local = ntk_operator(net, X)
            t = time.perf_counter()
            op = distributed_ntk_operator(net, X, client)
            setup = time.perf_counter() - t
            with op:
                yl, yc = local @ u, op @ u
                rel = float(np.max(np.abs(yc - yl)) / np.max(np.abs(yl)))
                tl, tc = [], []
                for _ in range(repeat):
                    tl.append(_time(local, u))
                    tc.append(_time(op, u))
                row = {"n": n, "d0": d0, "d1": d1, "workers": workers, "threads": threads,
                       "shards": len(op.bounds), "setup_s": setup,
                       "local_median_s": statistics.median(tl), "local_min_s": min(tl),
                       "cluster_median_s": statistics.median(tc), "cluster_min_s": min(tc),
                       "relative_difference": rel,
                       **model(n, d0, d1, 1, workers, len(op.bounds))}
            del local
            rows.append(row)
            print(f"n = {n:6d}: local {row['local_median_s']:.3f} s (min {row['local_min_s']:.3f})"
                  f", cluster {row['cluster_median_s']:.3f} s (min {row['cluster_min_s']:.3f}),"
                  f" ratio {row['cluster_median_s'] / row['local_median_s']:.2f}, setup "
                  f"{setup:.1f} s, |K_c u - K_l u| / |K_l u| = {rel:.1e}, "
                  f"{row['flops_per_shard'] / 1e9:.2f} GFlop per shard, "
                  f"{(row['bytes_vectors'] + row['bytes_gradients']) / 1e6:.1f} MB moved")
    load1 = os.getloadavg()
    print(f"load average (1 min) before {load0[0]:.1f}, after {load1[0]:.1f}; "
          f"{os.cpu_count()} cores")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"latency_n": latency_n, "latency_s": latency, "rows": rows,
                       "load_before": load0[0], "load_after": load1[0],
                       "cores": os.cpu_count()}, fh, indent=1)


if __name__ == "__main__":
    main()
