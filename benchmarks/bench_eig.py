"""Benchmark: smallest eigenvalue of an NTK -- dense, matrix-free, tracked, certified.

Prints, from one run (medians over ``--repeat``; the machine is shared, so
ratios matter more than seconds):

1. the test problem: a 2000-point empirical NTK (``d0 = 784``, ``d1 =
   2000``, He initialization, GELU, unit-norm Gaussian inputs), with its
   condition number;
2. dense: ``lambda_min`` (LAPACK ``dsyevr`` subset) against full
   ``eigvalsh`` and ``dsyevx`` subset (interleaved medians);
3. matrix-free, on the same matrix wrapped as a ``LinearOperator`` (the
   matvec count does not depend on how products are done): pl_toolkit's
   thick-restart Lanczos against SciPy ``eigsh(which='SA')`` (default and
   large ``ncv``) and ``lobpcg``, with matvec counts, relative errors and
   ratios; plus the cost of one ``ntk_operator`` product;
4. tracking ``lambda_min`` along ``--steps`` GD steps against a fresh dense
   solve at each step (same values to 1e-8 relative?);
5. the certified lower bound against one dense ``lambda_min``;
6. with ``--large``: ``ntk_lambda_min`` at ``n = 20000`` and ``50000``
   (``d0 = 784``, ``d1 = 4000``), each in a fresh process, with wall time,
   peak RSS and the route ``auto`` chose under its 4 GiB budget
   (shift-invert on the NTK triangle where it fits, matrix-free Lanczos
   with a ``--time-budget`` otherwise); with ``--compare``, also the
   matrix-free route with that time budget where shift-invert ran, and its
   error against the shift-invert value;
7. with ``--crossover``: dense ``dsyevr`` against ``method="shift-invert"``
   on dense NTK arrays of ``--crossover-sizes`` points (where ``auto``
   switches: ``SHIFT_INVERT_MIN``).

Usage::

    python benchmarks/bench_eig.py [--repeat 3] [--steps 100] [--large | --only-large]
                                   [--large-sizes 20000,50000] [--time-budget 600] [--compare]
"""

import argparse
import json
import resource
import sys
import time
import warnings

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import LinearOperator, eigsh, lobpcg

import pl_toolkit as pl


def median_time(f, repeat):
    ts, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def unit_rows(rng, n, d0):
    X = rng.standard_normal((n, d0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


class Counted(LinearOperator):
    """``K`` as an operator that counts products and stops at ``cap``."""

    def __init__(self, K, cap=None):
        self.K, self.count, self.cap = K, 0, cap
        super().__init__(dtype=np.float64, shape=K.shape)

    def _matvec(self, x):
        self.count += 1
        if self.cap is not None and self.count > self.cap:
            raise RuntimeError("matvec cap reached")
        return self.K @ x

    def _matmat(self, X):
        self.count += X.shape[1]
        if self.cap is not None and self.count > self.cap:
            raise RuntimeError("matvec cap reached")
        return self.K @ X


def section(title):
    print(f"\n== {title} ==", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--d0", type=int, default=784)
    ap.add_argument("--d1", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--eigsh-cap", type=int, default=100_000, help="matvec cap for ARPACK")
    ap.add_argument("--large", action="store_true", help="also n = 20000 and 50000 (slow)")
    ap.add_argument("--large-sizes", default="20000,50000")
    ap.add_argument("--time-budget", type=float, default=600.0,
                    help="seconds for the matrix-free route at the large sizes "
                         "(turned into a product budget)")
    ap.add_argument("--compare", action="store_true",
                    help="at large sizes solved by shift-invert, also run matrix-free Lanczos "
                         "with the time budget")
    ap.add_argument("--only-large", action="store_true", help="skip sections 1-5")
    ap.add_argument("--crossover", action="store_true",
                    help="only: dense against shift-invert lambda_min at --crossover-sizes")
    ap.add_argument("--crossover-sizes", default="3000,4000,5000,8000")
    ap.add_argument("--large-one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--large-method", default="auto", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.large_one:
        return large_one(args)
    if args.crossover:
        crossover_section(args)
        return 0
    rng = np.random.default_rng(np.random.SeedSequence(2021))
    warnings.simplefilter("always", pl.ConvergenceWarning)

    if not args.only_large:
        small_sections(args, rng)
    if args.large or args.only_large:
        large_section(args)
    return 0


def small_sections(args, rng):
    # ------------------------------------------------------------------ 1
    section("problem")
    n, d0, d1 = args.n, args.d0, args.d1
    X = unit_rows(rng, n, d0)
    net = pl.ShallowNet.init(d0, d1, init="he", seed=0)
    t_gram, K = median_time(lambda: pl.ntk_gram(net, X), 1)
    t_all, w = median_time(lambda: np.linalg.eigvalsh(K), args.repeat)
    lam0 = float(w[0])
    print(f"NTK n={n} d0={d0} d1={d1} (He init, GELU): lambda_min={lam0:.10e} "
          f"lambda_max={w[-1]:.6e} cond={w[-1] / w[0]:.4g}  lambda_2/lambda_1={w[1] / w[0]:.5f}  "
          f"(ntk_gram {t_gram:.2f} s)")

    # ------------------------------------------------------------------ 2
    section("dense")
    times = {"lambda_min (dsyevr subset)": [], "dsyevx subset": [], "eigvalsh (all values)": []}
    for _ in range(max(args.repeat, 3)):
        for key, f in (("lambda_min (dsyevr subset)", lambda: pl.lambda_min(K)),
                       ("dsyevx subset", lambda: sla.eigh(K, subset_by_index=[0, 0], driver="evx",
                                                          check_finite=False)),
                       ("eigvalsh (all values)", lambda: np.linalg.eigvalsh(K))):
            t = time.perf_counter()
            f()
            times[key].append(time.perf_counter() - t)
    med = {k: float(np.median(v)) for k, v in times.items()}
    t_dense = med["lambda_min (dsyevr subset)"]
    r_dense = pl.lambda_min(K)
    for k, v in med.items():
        print(f"{k:28s} {v:.3f} s   ratio to lambda_min {v / t_dense:.2f}x")
    print(f"lambda_min rel.err vs eigvalsh {abs(r_dense.value - lam0) / lam0:.1e}")

    # ------------------------------------------------------------------ 3
    section("matrix-free (same K as an operator; tol 1e-8)")
    rows = []

    def run_ours(label, **kw):
        op = Counted(K)
        t = time.perf_counter()
        r = pl.lambda_min(op, **kw) if not kw.get("ncv") else None
        if kw.get("ncv"):
            from pl_toolkit._lanczos import thick_restart_lanczos
            out = thick_restart_lanczos(op.matvec, n, tol=1e-8, ncv=kw["ncv"])
            r = out
            val, conv = out["value"], out["converged"]
        else:
            val, conv = r.value, r.converged
        dt = time.perf_counter() - t
        rows.append((label, op.count, dt, abs(val - lam0) / lam0, conv))

    run_ours("pl_toolkit lambda_min (thick-restart Lanczos, basis 1000)")
    run_ours("  same, basis 200", ncv=200)

    def run_eigsh(label, **kw):
        op = Counted(K, cap=args.eigsh_cap)
        t = time.perf_counter()
        try:
            val = float(eigsh(op, k=1, which="SA", tol=1e-8, maxiter=10 ** 6, **kw)[0][0])
            conv = True
        except RuntimeError:
            val, conv = float("nan"), False
        except Exception as e:  # ArpackNoConvergence
            ev = getattr(e, "eigenvalues", [])
            val, conv = (float(ev[0]) if len(ev) else float("nan")), False
        rows.append((label, op.count, time.perf_counter() - t, abs(val - lam0) / lam0, conv))

    run_eigsh("scipy eigsh(which='SA'), default ncv")
    run_eigsh("scipy eigsh(which='SA', ncv=300)", ncv=300)

    op = Counted(K)
    X0 = np.random.default_rng(1).standard_normal((n, 4))
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vals = lobpcg(op, X0, largest=False, tol=1e-8 * w[-1], maxiter=2000)[0]
    rows.append(("scipy lobpcg(k=4, maxiter=2000)", op.count, time.perf_counter() - t,
                 abs(float(np.min(vals)) - lam0) / lam0, None))
    ours = rows[0][1]
    print(f"{'method':58s} {'matvecs':>8s} {'time s':>8s} {'rel.err':>9s}  ratio(matvecs/ours)")
    for label, mv, dt, err, conv in rows:
        c = "" if conv is None else ("" if conv else " (not converged)")
        print(f"{label:58s} {mv:8d} {dt:8.2f} {err:9.1e}  {mv / ours:6.1f}x{c}")
    opn = pl.ntk_operator(net, X)
    u = np.random.default_rng(2).standard_normal(n)
    t_mv, _ = median_time(lambda: opn @ u, args.repeat)
    print(f"one ntk_operator product at n={n}: {t_mv * 1e3:.1f} ms (a dense K @ u: "
          f"{median_time(lambda: K @ u, args.repeat)[0] * 1e3:.2f} ms); ours at that price: "
          f"{ours * t_mv:.0f} s")

    # ------------------------------------------------------------------ 4
    section(f"tracking lambda_min along {args.steps} GD steps")
    Y = np.random.default_rng(3).standard_normal((n, 1))
    Y /= np.linalg.norm(Y)
    lr = 0.5 / float(w[-1])         # h = ||r||^2 has Hessian ~ 2 J^T J: stable step
    tracker = pl.LambdaMinTracker(tol=1e-8)
    net_t = net
    t_track = t_fresh = 0.0
    worst = 0.0
    methods = {}
    first = last = None
    for step in range(args.steps):
        Kt = pl.ntk_gram(net_t, X)
        t = time.perf_counter()
        r = tracker.update(Kt)
        t_track += time.perf_counter() - t
        t = time.perf_counter()
        f = pl.lambda_min(Kt)
        t_fresh += time.perf_counter() - t
        worst = max(worst, abs(r.value - f.value) / abs(f.value))
        methods[r.method] = methods.get(r.method, 0) + 1
        first = f.value if first is None else first
        last = f.value
        g = pl.gradient(net_t, X, Y)
        net_t = net_t.with_parameters(net_t.parameters() - lr * g)
    print(f"lambda_min: {first:.8e} -> {last:.8e} ({100 * (last / first - 1):+.3f} %), loss "
          f"{pl.loss(net, X, Y):.4e} -> {pl.loss(net_t, X, Y):.4e}")
    print(f"tracker: {t_track:.2f} s total, fresh dense solves: {t_fresh:.2f} s; "
          f"ratio fresh/tracked = {t_fresh / t_track:.2f}x; max rel. difference {worst:.1e}; "
          f"routes {methods}; Cholesky factorizations {tracker.factorizations}")

    # ------------------------------------------------------------------ 5
    section("certified lower bound")
    # re-time the dense solve next to the certified bound (the load drifts)
    t_dense, _ = median_time(lambda: pl.lambda_min(K), args.repeat)
    t_cert, cb = median_time(lambda: pl.lambda_min_certified(K, full_output=True), args.repeat)
    print(f"lambda_min_certified: {t_cert:.3f} s vs dense lambda_min {t_dense:.3f} s: "
          f"ratio {t_cert / t_dense:.2f}x; bound {cb.bound:.10e}, "
          "(lambda_min - bound)/lambda_min = "
          f"{(lam0 - cb.bound) / lam0:.1e}, attempts {cb.attempts}")
    t_ntkc, nb = median_time(lambda: pl.ntk_lambda_min_certified(net, X), 1)
    print(f"ntk_lambda_min_certified (exact NTK of the stored weights): {t_ntkc:.2f} s "
          f"(ntk_gram + lambda_min: {t_gram + t_dense:.2f} s); bound {nb.bound:.10e}, rounding "
          f"allowance {nb.rounding_allowance:.2e}, (lambda_min - bound)/lambda_min = "
          f"{(lam0 - nb.bound) / lam0:.1e}")



def crossover_section(args):
    # ------------------------------------------------------------------ 7
    section("crossover: dense dsyevr subset against shift-invert on dense NTK arrays")
    rng = np.random.default_rng(np.random.SeedSequence(1))
    net = pl.ShallowNet.init(784, 2000, init="he", seed=0)
    for n in (int(s) for s in args.crossover_sizes.split(",")):
        K = pl.ntk_gram(net, unit_rows(rng, n, 784))
        t = {}
        for m in ("dense", "shift-invert"):
            t[m], r = median_time(lambda: pl.lambda_min(K, method=m), args.repeat)
            t[m + "_value"], t[m + "_solves"] = r.value, r.matvecs
        print(f"n={n:>5}: dsyevr {t['dense']:.2f} s, shift-invert {t['shift-invert']:.2f} s "
              f"({t['shift-invert_solves']} solves), ratio {t['shift-invert'] / t['dense']:.2f}, "
              "relative difference "
              f"{abs(t['shift-invert_value'] - t['dense_value']) / t['dense_value']:.1e}",
              flush=True)


def _large_problem(n):
    rng = np.random.default_rng(n)
    return pl.ShallowNet.init(784, 4000, init="he", seed=1), unit_rows(rng, n, 784)


def large_one(args):
    """One large-n solve in this (fresh) process; prints one JSON line."""
    net, X = _large_problem(args.large_one)
    out = dict(n=args.large_one, method=args.large_method)
    t0 = time.perf_counter()
    n, sp = X.shape[0], pl.ntk_spectrum
    matrix_free = args.large_method == "lanczos" or (
        args.large_method == "auto" and n * net.d2 > sp.JACOBIAN_DENSE_MAX
        and sp._ntk_dense_bytes(n, net.d1, net.d2) > sp.NTK_MEMORY_DEFAULT)
    if matrix_free:
        # A wall-time budget, turned into a product budget after timing one
        # product of the operator ntk_lambda_min will build (same store rule).
        fits = (sp._ntk_operator_bytes(n, net.d0, net.d1, net.d2, "features")
                <= sp.NTK_MEMORY_DEFAULT)
        op = pl.ntk_operator(net, X, store="features" if fits else "preactivations")
        t = time.perf_counter()
        op @ np.ones(op.shape[0])
        out["one_product_s"] = time.perf_counter() - t
        del op
        maxiter = max(2, int((args.time_budget - (time.perf_counter() - t0))
                             / out["one_product_s"]) - 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pl.ConvergenceWarning)
            r = pl.ntk_lambda_min(net, X, method="lanczos", maxiter=maxiter)
    else:
        r = pl.ntk_lambda_min(net, X, method=args.large_method)
    out.update(wall_s=time.perf_counter() - t0, value=r.value, matvecs=r.matvecs,
               converged=r.converged, error_bound=r.error_bound, residual=r.residual,
               used=r.method, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out), flush=True)
    return 0


def large_section(args):
    # ------------------------------------------------------------------ 6
    import subprocess

    def child(n, method):
        cmd = [sys.executable, __file__, "--large-one", str(n), "--large-method", method,
               "--time-budget", str(args.time_budget)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if p.returncode or not lines:
            print(f"  n={n} {method}: failed (exit {p.returncode}): {p.stderr[-500:]}")
            return None
        return json.loads(lines[-1])

    def show(r, ref=None):
        rel = "" if ref is None else f", relative difference {abs(r['value'] - ref) / ref:.1e}"
        print(f"  {r['used']:>12}: lambda_min {r['value']:.10e}, {r['matvecs']} solves/products, "
              f"converged={r['converged']}, "
              f"error estimate {r['error_bound'] / abs(r['value']):.1e} rel., "
              f"residual {r['residual']:.1e}; wall {r['wall_s']:.1f} s"
              + (f" (one product {r['one_product_s']:.1f} s)" if "one_product_s" in r else "")
              + f"; peak RSS {r['peak_rss_mb']:.0f} MB{rel}", flush=True)

    for nn in (int(s) for s in args.large_sizes.split(",")):
        section(f"large: lambda_min of the NTK at n={nn}, d0=784, d1=4000 "
                "(each run in a fresh process)")
        auto = child(nn, "auto")
        if auto is None:
            continue
        show(auto)
        if auto["used"] != "lanczos" and args.compare:
            free = child(nn, "lanczos")
            if free is not None:
                show(free, auto["value"])
                print("  matrix-free Lanczos with the same wall-time budget "
                      f"({args.time_budget:.0f} s) ends at relative error "
                      f"{abs(free['value'] - auto['value']) / auto['value']:.1e}")


if __name__ == "__main__":
    sys.exit(main())
