"""Benchmark: empirical NTK Gram against the BLAS floor, NumPy, and neural-tangents.

For each (n, d0, d1), d2 = 1, float64, GELU, this prints the median over
``--repeat`` runs in one process of:

* ``ntk_gram`` (numba backend, parallel);
* the BLAS floor: one GEMM for the preactivations ``X W^T`` plus the
  symmetric rank-k products the closed form needs (``H H^T``, ``A A^T`` and
  ``X X^T``), timed on arrays of the same shapes (above order 8192 each as
  SYRKs of 4096-row diagonal blocks and the GEMMs below them: the same flops,
  and OpenBLAS 0.3.31's threaded ``dsyrk`` segfaults at order 16,000);
* a plain NumPy closed form ``(X X^T) o (A A^T) + H H^T`` with SciPy's
  activation (``backend="numpy"``);
* optionally, neural-tangents' ``STRUCTURED_DERIVATIVES`` (and, when it fits
  in 1 GB, ``JACOBIAN_CONTRACTION``) empirical NTK of the same network built
  from its own ``stax`` layers, x64, jit-compiled and warmed, run in another
  interpreter given by ``--nt-python`` (an environment with neural-tangents
  and jax installed), compared with ``ntk_gram`` of the same net with zero
  biases (``stax.Dense`` has biases).

* with ``--float32``, ``ntk_gram(..., dtype=np.float32)`` against the same
  float32 floor (GEMM and SYRKs on float32 arrays), and its accuracy
  against float64: the largest entry error relative to ``max |K|`` and the
  relative errors of ``lambda_min`` and ``lambda_max`` (dense ``eigvalsh``
  of both, in float64).

``ntk_gram`` and the floor are timed alternately (one call of each per
round), so that load from other processes falls on both alike; the load
average is printed before and after.  Ratios are printed, not absolute
targets: the machine is shared and noisy.

Usage::

    python benchmarks/bench_ntk.py [--repeat 5] [--sizes 2000,100,4000 2000,784,2000]
                                   [--float32] [--nt-python /path/to/nt-venv/bin/python]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

import pl_toolkit as pl

NT_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import neural_tangents as nt
    from neural_tangents import stax
    d = np.load(sys.argv[1])
    X, W, v = (jnp.asarray(d[k]) for k in ("X", "W", "v"))
    d1 = W.shape[0]
    # neural-tangents' own layers: its structured-derivative rules are written
    # for them (a hand-written f(params, x) was 20-150x slower here).  Dense
    # layers carry biases; they are set to zero and the kernel then equals
    # pl_toolkit's for a net with zero biases.
    init_fn, apply_fn, _ = stax.serial(stax.Dense(d1, parameterization="standard"),
                                       stax.Gelu(approximate=False),
                                       stax.Dense(1, parameterization="standard"))
    params = [(W.T, jnp.zeros(d1)), (), (v[:, None], jnp.zeros(1))]
    out = {}
    for impl in (3, 1):
        if impl == 1 and 8 * X.shape[0] * W.shape[0] * (W.shape[1] + 1) > 1e9:
            continue  # the Jacobian contraction stores n*P doubles: skip above 1 GB
        fn = jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0, implementation=impl))
        try:
            K = np.asarray(fn(X, None, params))  # compile and warm
        except Exception as exc:
            print("impl", impl, "failed:", str(exc).splitlines()[0][:200], file=sys.stderr)
            continue
        ts = []
        for _ in range(int(sys.argv[2])):
            t = time.perf_counter()
            fn(X, None, params).block_until_ready()
            ts.append(time.perf_counter() - t)
        out[impl] = float(np.median(ts))
        np.save(sys.argv[3] + f"_{impl}.npy", K.reshape(X.shape[0], X.shape[0]))
    print(json.dumps(out))
    """
)


def median_time(fn, repeat):
    fn()  # warm (compilation, page faults)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def interleaved_times(fns, repeat):
    """Medians of ``repeat`` rounds, each calling every function of ``fns`` once in turn."""
    for fn in fns.values():
        fn()  # warm (compilation, page faults)
    ts = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in ts.items()}


#: Above this order a SYRK of the floor is made of diagonal-block SYRKs and the
#: GEMMs below them (the same flops): OpenBLAS 0.3.31's threaded ``dsyrk``
#: segfaults at order 16,000 (see ``pl_toolkit._eigen.SYRK_MAX``).
FLOOR_SYRK_MAX = 8192


def syrk(H):
    """The products of ``H H^T``: one SYRK, or above ``FLOOR_SYRK_MAX`` rows its blocks."""
    n = H.shape[0]
    w = n if n <= FLOOR_SYRK_MAX else 4096
    for c in range(0, n, w):
        Hc = H[c:c + w]
        Hc @ Hc.T
        if c + w < n:
            H[c + w:] @ Hc.T


def blas_floor_ops(X, W, dtype=np.float64):
    """The BLAS floor of ``ntk_gram(net, X)`` as a callable: one GEMM and three SYRKs."""
    n, d1 = X.shape[0], W.shape[0]
    H = np.random.default_rng(1).standard_normal((n, d1)).astype(dtype, copy=False)
    A = np.random.default_rng(2).standard_normal((n, d1)).astype(dtype, copy=False)
    X = X.astype(dtype, copy=False)
    W = W.astype(dtype, copy=False)

    def floor():
        X @ W.T
        syrk(H)
        syrk(A)
        syrk(X)

    return floor


def blas_floor(X, W, repeat):
    return median_time(blas_floor_ops(X, W), repeat)


def run_nt(python, X, W, v, repeat):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "d.npz")
        np.savez(data, X=X, W=W, v=v)
        script = os.path.join(tmp, "peer_ntk_bench.py")  # not nt.py: that shadows a stdlib module
        with open(script, "w") as fh:
            fh.write(NT_SCRIPT)
        proc = subprocess.run([python, script, data, str(repeat), os.path.join(tmp, "K")],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            err = [ln for ln in proc.stderr.strip().splitlines() if "Error" in ln or "error" in ln]
            print("  neural-tangents run failed:",
                  (err or proc.stderr.strip().splitlines())[-1][:300])
            return None, None
        times = {int(k): t for k, t in json.loads(proc.stdout.strip().splitlines()[-1]).items()}
        kernels = {impl: np.load(os.path.join(tmp, f"K_{impl}.npy")) for impl in times}
        return times, kernels


def float32_accuracy(net, X):
    """Print the float32 NTK's errors against float64: entries, lambda_min, lambda_max."""
    K = pl.ntk_gram(net, X)
    K32 = pl.ntk_gram(net, X, dtype=np.float32).astype(np.float64)
    u32 = np.finfo(np.float32).eps / 2
    entry = np.max(np.abs(K32 - K)) / np.max(np.abs(K))
    w = np.linalg.eigvalsh(K)
    w32 = np.linalg.eigvalsh(K32)
    lo, hi = abs(w32[0] - w[0]) / w[0], abs(w32[-1] - w[-1]) / w[-1]
    print(f"  float32 accuracy: max|dK|/max|K| {entry:.2e} ({entry / u32:.1f} u32, "
          f"sqrt(d1) u32 = {np.sqrt(net.d1) * u32:.1e}); lambda_min rel err {lo:.2e}, "
          f"lambda_max rel err {hi:.2e}; ||dK||_2 / lambda_min "
          f"{np.linalg.norm(K32 - K, 2) / w[0]:.2e}, cond(K) {w[-1] / w[0]:.2e}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sizes", nargs="*", default=["2000,100,4000", "2000,784,2000"])
    ap.add_argument("--nt-python", default=None,
                    help="python of an environment with neural-tangents")
    ap.add_argument("--float32", action="store_true",
                    help="also time dtype=np.float32 and measure its accuracy against float64")
    args = ap.parse_args(argv)
    print(f"pl_toolkit {pl.__version__}, numpy {np.__version__}, median of {args.repeat} runs; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for spec in args.sizes:
        n, d0, d1 = (int(x) for x in spec.split(","))
        rng = np.random.default_rng(np.random.SeedSequence(0))
        X = rng.standard_normal((n, d0))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        net = pl.ShallowNet.init(d0, d1, 1, activation="gelu", seed=1)
        W = np.asarray(net.W)
        fns = {"pl": lambda: pl.ntk_gram(net, X), "floor": blas_floor_ops(X, W),
               "serial": lambda: pl.ntk_gram(net, X, parallel=False)}
        if args.float32:
            fns["pl32"] = lambda: pl.ntk_gram(net, X, dtype=np.float32)
            fns["floor32"] = blas_floor_ops(X, W, np.float32)
        t = interleaved_times(fns, args.repeat)
        t_pl, t_floor, t_serial = t["pl"], t["floor"], t["serial"]
        t_np = median_time(lambda: pl.ntk_gram(net, X, backend="numpy"), max(1, args.repeat // 2))
        print(f"\n(n, d0, d1) = ({n}, {d0}, {d1}), d2 = 1, GELU, float64")
        print(f"  ntk_gram (parallel)      {t_pl:8.3f} s   {t_pl / t_floor:5.2f} x BLAS floor")
        print(f"  ntk_gram (serial kernels){t_serial:8.3f} s   "
              f"{t_serial / t_floor:5.2f} x BLAS floor")
        print(f"  BLAS floor               {t_floor:8.3f} s")
        print(f"  NumPy closed form        {t_np:8.3f} s   "
              f"{t_np / t_pl:5.2f} x slower than ntk_gram")
        if args.float32:
            print(f"  ntk_gram float32         {t['pl32']:8.3f} s   "
                  f"{t['pl32'] / t['floor32']:5.2f} x float32 BLAS floor ({t['floor32']:.3f} s), "
                  f"{t_pl / t['pl32']:4.2f} x faster than float64")
            float32_accuracy(net, X)
        if args.nt_python:
            times, kernels = run_nt(args.nt_python, X, np.asarray(net.W), np.asarray(net.V[0]),
                                    args.repeat)
            if times:
                net_b = net.replace(b1=np.zeros(d1), b2=np.zeros(1))  # NT's Dense has biases
                t_b = median_time(lambda: pl.ntk_gram(net_b, X), args.repeat)
                print(f"  ntk_gram, zero biases    {t_b:8.3f} s   "
                      "(same kernel as neural-tangents' stax net)")
                K = pl.ntk_gram(net_b, X)
                for impl, t in sorted(times.items()):
                    err = np.max(np.abs(kernels[impl] - K)) / np.max(np.abs(K))
                    label = {3: "STRUCTURED_DERIVATIVES", 1: "JACOBIAN_CONTRACTION"}[impl]
                    print(f"  neural-tangents {label:23s}{t:8.3f} s   "
                          f"ntk_gram is {t / t_b:5.2f} x faster; max rel diff {err:.1e}")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    sys.exit(main())
