"""Benchmark: how the time and peak memory of every NTK cost grow with n and d1.

The network is the paper's ``x -> V phi(W x)``: GELU, ``d2 = 1``, LeCun (or
He) initialization, inputs Gaussian rows scaled to unit norm, all draws from
``numpy.random.SeedSequence``.  Each measurement runs in a fresh interpreter,
so its peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``, in MiB)
belongs to that measurement alone; the child also reports its resident size
after imports and data (``base``), and the fits of memory use the excess over
it.  Measured functions:

* ``ntk_gram``: the dense NTK, beside the BLAS floor of the same sizes (one
  GEMM ``X W^T`` and the three SYRKs ``H H^T``, ``A A^T``, ``X X^T``, as in
  ``benchmarks/bench_ntk.py``), timed in the same child after the Gram;
* ``matvec``: one product of ``ntk_operator`` (operator built outside the
  timing);
* ``lambda_min[<route>]``: ``ntk_lambda_min`` for every route it offers
  (``dense``, ``shift-invert``, ``mixed``, the matrix-free ``davidson`` and
  ``lanczos``, and ``auto``; a route this version lacks is left out);
* ``certified``: ``lambda_min_certified`` on the dense NTK (formed outside
  the timing), up to its ``MAX_N``;
* ``train_step``: ``train`` with default tracking, ``--train-steps`` GD
  steps, time per step.

Each point is the median of ``--repeat`` wall times (fewer when one run
exceeds ``--budget`` seconds; the count is recorded).  A point whose
estimated peak memory exceeds ``--max-memory`` is skipped with that reason;
so is a point above its function's largest n (``MAX_N``: the routes whose
cost makes larger n impractical here, each with its reason); a child that
runs past ``--timeout`` is stopped and recorded as such.  A ``lambda_min``
run that stops before its tolerance is recorded with ``converged = False``
and its reason, and drawn open in the plot.  Times
are printed, never asserted: on a shared machine they are noisy.

The fitted exponents are least-squares slopes of log time (and log excess
memory) against log n at fixed d1, and against log d1 at fixed n, printed
beside the theoretical ones.

Usage::

    python benchmarks/bench_scaling.py [--quick] [--n 1000,2000,...,50000]
        [--d1 1000,2000,4000,8000] [--max-n func=N,...] [--repeat 3]
        [--timeout 300] [--out scaling.json] [--plot scaling.png]
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROUTES = ("dense", "shift-invert", "lanczos", "mixed", "davidson", "auto")

#: Theoretical exponents ``(time in n, time in d1, memory in n, memory in d1)``
#: of the dominant term at the measured sizes, with the term named.
THEORY = {
    "ntk_gram": (2, 1, 2, 1, "n^2 d1 flops; n^2 (K) + n d1 memory"),
    "blas_floor": (2, 1, None, None, "n^2 d1 flops"),
    "matvec": (1, 1, 1, 1, "n d0 d1 flops; n d1 memory"),
    "lambda_min[dense]": (3, 0, 2, 0, "n^3 eigensolve (n^2 d1 to form K); n^2 memory"),
    "lambda_min[shift-invert]": (3, 0, 2, 0, "n^3 / 3 factor (n^2 d1 to form K); n^2 memory"),
    "lambda_min[lanczos]": (1, 1, 1, 1,
                            "per product n d0 d1, times a product count that grows with n"),
    "lambda_min[mixed]": (3, 0, 2, 0, "n^3 float32 factor; n^2 memory"),
    "lambda_min[davidson]": (1, 1, 1, 1,
                             "per product n d0 d1, times a product count that grows slowly"),
    "lambda_min[auto]": (None, None, None, None, "that of the route chosen"),
    "certified": (3, 0, 2, 0, "n^3 eigensolve and Cholesky; n^2 memory"),
    "train_step": (1, 1, 1, 1, "n d0 d1 flops per step; n d1 memory"),
}


#: Largest n measured per function by default (``--max-n`` overrides), and why
#: larger n are not run: time on this 2-core machine, not memory (memory is
#: checked against ``--max-memory`` point by point).
MAX_N = {
    "lambda_min[lanczos]": (1000, "the crowded bottom bulk needs thousands of products"),
    "certified": (4000, "dense eigensolve plus shifted Cholesky (n^3)"),
    "lambda_min[davidson]": (4000, "172 products at n = 4000; past a 300 s timeout at n = 8000"),
    "lambda_min[dense]": (8000, "n^3 eigensolve: 32 s at n = 8000, about 4 min at n = 16,000"),
    "lambda_min[auto]": (8000, "the route it picks is measured in that route's own row"),
    "lambda_min[shift-invert]": (16000, "n^3 / 3 float64 factor, several per run: past 10 min "
                                        "at n = 32,000"),
}


def _peak_mib():
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024.0


def _current_mib():
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:
        return float("nan")


def available_bytes():
    """Memory available to a new process (``MemAvailable`` when the kernel reports it)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def estimate_bytes(func, n, d0, d1):
    """Rough peak bytes of one measurement beyond the interpreter (d2 = 1)."""
    f8 = 8
    ncv = min(n, max(2 * 20 + 1, 20))
    base = f8 * (n * d0 + d0 * d1)
    if func == "ntk_gram":
        return base + f8 * (n * n + 3 * n * d1)
    if func == "lambda_min[davidson]":     # the operator plus the preconditioner's model
        m = min(n, d1 + d0 + 2)
        return base + f8 * (4 * n * d1 + (ncv + 4) * n + 3 * m * m) + 6 * (1 << 27)
    if func in ("matvec", "train_step", "lambda_min[lanczos]"):
        return base + f8 * (3 * n * d1 + (ncv + 4) * n) + 4 * (1 << 27)
    if func in ("lambda_min[dense]", "lambda_min[auto]", "certified"):
        return base + f8 * (2 * n * n + 3 * n * d1)
    if func == "lambda_min[shift-invert]":
        return base + f8 * (n * n + 2 * n * d1)
    if func == "lambda_min[mixed]":
        return base + 4 * n * n + f8 * 3 * n * d1
    raise ValueError(f"unknown function {func!r}")


# --------------------------------------------------------------------------- child


def _blas_floor(X, W, repeat, budget):
    from bench_ntk import blas_floor_ops   # the same floor as bench_ntk.py (this folder)

    return _timed(blas_floor_ops(X, W), repeat, budget)


def _timed(fn, repeat, budget):
    ts, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
        if sum(ts) > budget:
            break
    return ts, out


def _problem(n, d0, d1, init, seed):
    import pl_toolkit as pl

    data_seq, net_seq, label_seq = np.random.SeedSequence(seed).spawn(3)
    X = np.random.default_rng(data_seq).standard_normal((n, d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    net = pl.ShallowNet.init(d0, d1, 1, activation="gelu", init=init, seed=net_seq)
    Y = np.random.default_rng(label_seq).standard_normal((n, 1))
    Y /= np.linalg.norm(Y)
    return net, X, Y


def _run(func, net, X, Y, spec, repeat, budget):
    """Time ``func`` on one problem; returns (times, extra)."""
    import warnings

    import pl_toolkit as pl

    extra = {}
    if func == "ntk_gram":
        ts, _ = _timed(lambda: pl.ntk_gram(net, X), repeat, budget)
    elif func == "matvec":
        op = pl.ntk_operator(net, X)
        u = np.random.default_rng(3).standard_normal(op.shape[1])
        op @ u  # first product outside the timing
        ts, _ = _timed(lambda: op @ u, repeat, budget)
    elif func.startswith("lambda_min["):
        route = func[len("lambda_min["):-1]
        kw = {}
        if spec.get("maxiter") and route in ("lanczos", "auto"):
            kw["maxiter"] = spec["maxiter"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a stop before tol is recorded below, not raised
            ts, r = _timed(lambda: pl.ntk_lambda_min(net, X, method=route, **kw), repeat, budget)
        extra.update(route=r.method, value=float(r.value), matvecs=int(r.matvecs),
                     converged=bool(r.converged), reason=r.reason,
                     error_bound=float(r.error_bound), error_estimate=float(r.error_estimate),
                     rel_residual=float(r.residual / abs(r.value)) if r.value else None)
    elif func == "certified":
        K = pl.ntk_gram(net, X)
        ts, L = _timed(lambda: pl.lambda_min_certified(K), repeat, budget)
        extra["bound"] = float(L)
    elif func == "train_step":
        steps = spec["train_steps"]
        ts, tr = _timed(lambda: pl.train(net, X, Y, steps=steps, lr=spec["lr"], progress=False),
                        repeat, budget)
        ts = [t / steps for t in ts]
        extra["steps"] = steps
    else:
        raise ValueError(f"unknown function {func!r}")
    return ts, extra


def child(spec):
    import pl_toolkit as pl

    n, d0, d1 = spec["n"], spec["d0"], spec["d1"]
    func = spec["func"]
    # compile the numba kernels on a tiny problem: not part of any timing or peak
    tnet, tX, tY = _problem(40, d0, 32, spec["init"], 0)
    _run(func, tnet, tX, tY, dict(spec, train_steps=1), 1, math.inf)
    if func == "ntk_gram":
        _blas_floor(tX, np.asarray(tnet.W), 1, math.inf)
    net, X, Y = _problem(n, d0, d1, spec["init"], spec["seed"])
    base = _current_mib()
    ts, extra = _run(func, net, X, Y, spec, spec["repeat"], spec["budget"])
    out = {"times": ts, "median": float(np.median(ts)), "peak_mib": _peak_mib(), "base_mib": base}
    out.update(extra)
    if func == "ntk_gram":
        fts, _ = _blas_floor(X, np.asarray(net.W), spec["repeat"], spec["budget"])
        out["floor_times"] = fts
        out["floor_median"] = float(np.median(fts))
        out["floor_ratio"] = out["median"] / out["floor_median"]
    out["pl_toolkit"] = pl.__version__
    return out


# --------------------------------------------------------------------------- parent


def measure(spec, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"stopped after the {timeout:g} s timeout"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return {"failed": f"exit {proc.returncode}: {tail}"}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_child"] = time.perf_counter() - t0
    return res


def offered_routes():
    """The ``ntk_lambda_min`` routes this version accepts (probed on a tiny net)."""
    import pl_toolkit as pl

    net = pl.ShallowNet.init(3, 8, 1, seed=0)
    X = np.eye(3)
    routes = []
    for r in ROUTES:
        try:
            pl.ntk_lambda_min(net, X, method=r)
        except ValueError as exc:
            if "method must be" in str(exc):
                continue
        except Exception:  # the route exists; it may just dislike the toy problem
            pass
        routes.append(r)
    return routes


def fit(xs, ys):
    """Least-squares slope of log y on log x (None with fewer than two points)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if y is not None and y > 0]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return None
    a = np.array(pts)
    return float(np.polyfit(a[:, 0], a[:, 1], 1)[0])


def fits(rows, funcs):
    out = {}
    for f in funcs:
        for axis, fixed in (("n", "d1"), ("d1", "n")):
            pts = [r for r in rows if r["func"] == f and r["sweep"] == axis and "median" in r]
            xs = [r[axis] for r in pts]
            t = fit(xs, [r["median"] for r in pts])
            m = fit(xs, [r["peak_mib"] - r["base_mib"] for r in pts])
            out.setdefault(f, {})[axis] = {"time": t, "memory": m, "points": len(pts)}
        if f == "ntk_gram":
            pts = [r for r in rows if r["func"] == f and r["sweep"] == "n" and "floor_median" in r]
            d1_pts = [r for r in rows
                      if r["func"] == f and r["sweep"] == "d1" and "floor_median" in r]
            out["blas_floor"] = {"n": {"time": fit([r["n"] for r in pts],
                                                   [r["floor_median"] for r in pts]),
                                       "memory": None, "points": len(pts)},
                                 "d1": {"time": fit([r["d1"] for r in d1_pts],
                                                    [r["floor_median"] for r in d1_pts]),
                                        "memory": None}}
    return out


def _fmt(x, spec="{:5.2f}"):
    return "    -" if x is None else spec.format(x)


def print_fits(result):
    print("\nfitted exponents (least squares on log-log) beside the theory")
    print(f"{'function':26s} {'t~n':>5s} {'th':>3s} {'t~d1':>5s} {'th':>3s} "
          f"{'m~n':>5s} {'th':>3s} {'m~d1':>5s} {'th':>3s}  dominant term")
    for f, fr in result["fits"].items():
        th = THEORY[f]
        thf = [("  -" if x is None else f"{x:3d}") for x in th[:4]]
        print(f"{f:26s} {_fmt(fr['n']['time'])} {thf[0]} {_fmt(fr['d1']['time'])} {thf[1]} "
              f"{_fmt(fr['n']['memory'])} {thf[2]} {_fmt(fr['d1'].get('memory'))} {thf[3]}  "
              f"{th[4]}")


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_figure(result, plt)
    plt.savefig(path, dpi=120, bbox_inches="tight")


def plot_figure(result, plt):
    """Log-log time and excess peak memory against n, one line per function."""
    rows = [r for r in result["rows"] if r["sweep"] == "n" and "median" in r]
    funcs = [f for f in THEORY if any(r["func"] == f for r in rows)]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.4))
    for i, f in enumerate(funcs):
        pts = sorted((r for r in rows if r["func"] == f), key=lambda r: r["n"])
        ns = np.array([r["n"] for r in pts], float)
        t = np.array([r["median"] for r in pts])
        m = np.array([max(r["peak_mib"] - r["base_mib"], 1e-3) for r in pts])
        color = f"C{i % 10}"
        ax_t.loglog(ns, t, "o-", color=color, label=f)
        ax_m.loglog(ns, m, "o-", color=color, label=f)
        stopped = np.array([r.get("converged") is False for r in pts])
        if stopped.any():       # a stop before tol: drawn open (white inside)
            for ax, y in ((ax_t, t), (ax_m, m)):
                ax.loglog(ns[stopped], y[stopped], "o", color=color, mfc="white", zorder=3)
        th = THEORY[f]
        for ax, y, k in ((ax_t, t, th[0]), (ax_m, m, th[2])):
            if k is not None and len(ns) > 1:
                ax.loglog(ns, y[0] * (ns / ns[0]) ** k, "--", color=color, lw=0.8, alpha=0.7)
    fl = sorted((r for r in rows if r["func"] == "ntk_gram" and "floor_median" in r),
                key=lambda r: r["n"])
    if fl:
        ax_t.loglog([r["n"] for r in fl], [r["floor_median"] for r in fl], "k:", label="BLAS floor")
    d1 = result["config"]["d1_fixed"]
    d0 = result["config"]["d0"]
    ax_t.set(xlabel="n (samples)", ylabel="median wall time [s]",
             title=f"time, d0 = {d0}, d1 = {d1}")
    ax_m.set(xlabel="n (samples)", ylabel="peak RSS above the data [MiB]",
             title="memory (dashed: theoretical slope)")
    if any(r.get("converged") is False for r in rows):
        ax_t.plot([], [], "o", color="0.3", mfc="white", label="stopped before tol")
    ax_t.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def merge(paths, out, plot_path):
    """Join the rows of several runs' JSON files into one result (see ``--merge``)."""
    rows, configs = {}, []
    for path in paths:
        try:
            with open(path) as fh:
                res = json.load(fh)
        except (OSError, ValueError) as exc:
            usage_error(f"--merge: cannot read {path}: {exc}")
        configs.append(res["config"])
        for r in res["rows"]:
            key = (r["func"], r["sweep"], r["n"], r["d1"])
            if "median" in r or key not in rows or "median" not in rows[key]:
                rows[key] = r
    keep = ("d0", "d1_fixed", "n_fixed", "init", "seed", "activation", "d2")
    for c in configs[1:]:
        if any(c.get(k) != configs[0].get(k) for k in keep):
            usage_error("--merge: the runs measured different problems "
                        f"({', '.join(keep)} must agree)")
    config = dict(configs[0])
    config["merged_from"] = configs
    config["n_grid"] = sorted({n for c in configs for n in c["n_grid"]})
    config["d1_grid"] = sorted({d for c in configs for d in c["d1_grid"]})
    funcs = [f for f in THEORY if any(k[0] == f for k in rows)]
    result = {"config": config, "rows": list(rows.values())}
    result["fits"] = fits(result["rows"], funcs)
    print_fits(result)
    with open(out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"wrote {out}")
    if plot_path:
        plot(result, plot_path)
        print(f"wrote {plot_path}")
    return 0


def usage_error(msg):
    print(f"bench_scaling.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_ints(text, name):
    try:
        vals = [int(x) for x in text.split(",")]
    except ValueError:
        usage_error(f"{name} must be a comma-separated list of integers, got {text!r}")
    if min(vals) < 2 or max(vals) > 50_000:
        usage_error(f"{name} values must lie in [2, 50000], got {text!r}")
    return vals


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="n = 250,500,1000; d1 = 500,1000,2000")
    ap.add_argument("--n", default=None,
                    help="grid of n at fixed d1 (default 1000,2000,4000,8000,16000,32000,50000)")
    ap.add_argument("--d1", default=None,
                    help="grid of d1 at fixed n (default 1000,2000,4000,8000)")
    ap.add_argument("--d0", type=int, default=100)
    ap.add_argument("--d1-fixed", type=int, default=None, help="d1 of the n sweep (default 4000)")
    ap.add_argument("--n-fixed", type=int, default=None, help="n of the d1 sweep (default 2000)")
    ap.add_argument("--init", choices=("lecun", "he"), default="lecun")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--budget", type=float, default=None,
                    help="stop repeating once one point has used this many seconds "
                         "(default 15; 5 with --quick)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per child")
    ap.add_argument("--max-memory", type=float, default=None,
                    help="GiB a point may use (default: 80%% of the memory available at start)")
    ap.add_argument("--max-n", default=None,
                    help="func=N,... : largest n per function (defaults in MAX_N: lanczos 1000 "
                         "(250 with --quick), certified and davidson 4000, dense and auto 8000, "
                         "shift-invert 16000)")
    ap.add_argument("--lanczos-maxiter", type=int, default=None)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma-separated functions to measure")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "bench_scaling.json"))
    ap.add_argument("--plot", default=None)
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="join the rows of earlier runs (a later file's point replaces an "
                         "earlier one's), refit, and write --out (and --plot); nothing is run")
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.merge:
        return merge(args.merge, args.out, args.plot)

    for name in ("repeat", "d0", "train_steps"):
        if getattr(args, name) < 1:
            usage_error(f"--{name.replace('_', '-')} must be a positive integer")
    for name in ("budget", "timeout", "max_memory"):
        val = getattr(args, name)
        if val is not None and not (math.isfinite(val) and val > 0):
            usage_error(f"--{name.replace('_', '-')} must be positive and finite")

    max_n = {f: list(v) for f, v in MAX_N.items()}
    if args.quick:
        n_grid, d1_grid, d1_fixed, n_fixed = [250, 500, 1000], [500, 1000, 2000], 1000, 500
        budget = 5.0
        max_n["lambda_min[lanczos]"][0] = 250
    else:
        n_grid = [1000, 2000, 4000, 8000, 16000, 32000, 50000]
        d1_grid = [1000, 2000, 4000, 8000]
        d1_fixed, n_fixed = 4000, 2000
        budget = 15.0
    args.budget = budget if args.budget is None else args.budget
    if args.max_n:
        for item in args.max_n.split(","):
            f, _, val = item.partition("=")
            if f.strip() not in MAX_N:
                usage_error(f"--max-n: unknown function {f.strip()!r} (one of {', '.join(MAX_N)})")
            max_n[f.strip()] = [parse_ints(val, "--max-n")[0], "--max-n"]
    if args.n:
        n_grid = parse_ints(args.n, "--n")
    if args.d1:
        d1_grid = parse_ints(args.d1, "--d1")
    d1_fixed = args.d1_fixed or d1_fixed
    n_fixed = args.n_fixed or n_fixed
    cap = (args.max_memory * 2 ** 30 if args.max_memory else 0.8 * available_bytes())

    import pl_toolkit as pl

    routes = offered_routes()
    funcs = (["ntk_gram", "matvec"] + [f"lambda_min[{r}]" for r in routes]
             + ["certified", "train_step"])
    if args.only:
        funcs = [f for f in funcs if f in args.only.split(",")]
    print(f"pl_toolkit {pl.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"GELU, {args.init} init, d0 = {args.d0}, d2 = 1, median of up to {args.repeat} runs, "
          f"memory cap {cap / 2 ** 30:.1f} GiB; routes offered: {', '.join(routes)}")
    points = [("n", n, d1_fixed) for n in n_grid] + [("d1", n_fixed, d1) for d1 in d1_grid]
    rows = []
    for sweep, n, d1 in points:
        for f in funcs:
            row = {"func": f, "sweep": sweep, "n": n, "d0": args.d0, "d1": d1}
            est = estimate_bytes(f, n, args.d0, d1)
            row["estimate_gib"] = est / 2 ** 30
            if f in max_n and n > max_n[f][0]:
                row["skipped"] = f"n > {max_n[f][0]}: {max_n[f][1]}"
            elif est > cap:
                row["skipped"] = (f"estimated {est / 2 ** 30:.1f} GiB above the "
                                  f"{cap / 2 ** 30:.1f} GiB cap")
            else:
                spec = dict(func=f, n=n, d0=args.d0, d1=d1, init=args.init, seed=args.seed,
                            repeat=args.repeat, budget=args.budget, maxiter=args.lanczos_maxiter,
                            train_steps=args.train_steps, lr=0.1)
                row.update(measure(spec, args.timeout))
            rows.append(row)
            if "median" in row:
                msg = (f"{row['median']:9.3f} s  peak {row['peak_mib']:8.1f} MiB "
                       f"(base {row['base_mib']:.0f})  runs {len(row['times'])}")
                if "floor_ratio" in row:
                    msg += f"  {row['floor_ratio']:.2f} x BLAS floor ({row['floor_median']:.3f} s)"
                if "matvecs" in row:
                    msg += (f"  {row['route']}, {row['matvecs']} products, "
                            f"{'converged' if row['converged'] else 'NOT converged'}"
                            + (f" ({row['reason']})" if "reason" in row else ""))
            else:
                msg = row.get("skipped") or row.get("failed")
            print(f"{sweep:>2s}  n={n:6d} d1={d1:5d}  {f:26s} {msg}", flush=True)
    result = {"config": {"d0": args.d0, "d1_fixed": d1_fixed, "n_fixed": n_fixed, "n_grid": n_grid,
                         "d1_grid": d1_grid, "init": args.init, "seed": args.seed,
                         "repeat": args.repeat, "budget_s": args.budget, "timeout_s": args.timeout,
                         "activation": "gelu", "d2": 1, "quick": args.quick, "cpus": os.cpu_count(),
                         "memory_cap_gib": cap / 2 ** 30, "routes": routes,
                         "max_n": {f: v[0] for f, v in max_n.items()},
                         "pl_toolkit": pl.__version__, "numpy": np.__version__},
              "rows": rows}
    result["fits"] = fits(rows, funcs)
    print_fits(result)
    ratios = [r["floor_ratio"] for r in rows if "floor_ratio" in r]
    if ratios:
        print(f"\nntk_gram / BLAS floor: {min(ratios):.2f}-{max(ratios):.2f} x over "
              f"{len(ratios)} points")
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"wrote {args.out}")
    if args.plot:
        plot(result, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
