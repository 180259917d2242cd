"""Command line interface: ``pl-toolkit <command>`` (also ``python -m pl_toolkit``).

Every command reports bad input as one line on stderr and exit code 2.
"""

import argparse
import json
import sys
import time

import numpy as np

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(ValueError):
    """A problem with the command line or its inputs (reported with exit 2)."""


def _add_data_args(p, *, n_default=None):
    g = p.add_argument_group("data")
    g.add_argument("--data", default="digits", metavar="NAME|FILE",
                   help="built-in 'digits' (scikit-learn, d0=64), 'sphere' (uniform on the unit "
                        "sphere, random labels) or 'teacher' (Gaussian teacher-student), or a "
                        ".npz (X, Y) / .npy (X) / .csv (X then label columns) file (default: digits)")
    g.add_argument("--n", type=int, default=None,
                   help=f"number of samples (default: {n_default} for built-in data, all rows of a file)")
    p.set_defaults(n_builtin_default=n_default)
    g.add_argument("--d0", type=int, default=16, help="input dimension of synthetic data (default: 16)")
    g.add_argument("--data-seed", type=int, default=0, help="seed of the data draw (default: 0)")


def _add_net_args(p, *, d1_default=1000):
    g = p.add_argument_group("network")
    g.add_argument("--net", metavar="FILE", help="load weights from a .npz saved by ShallowNet.save "
                   "(or a PyTorch state_dict .pt of Linear-activation-Linear when torch is installed)")
    g.add_argument("--d1", type=int, default=d1_default, help=f"width (default: {d1_default})")
    g.add_argument("--activation", default="gelu", help="activation name (default: gelu)")
    g.add_argument("--init", default="lecun", help="lecun, he, xavier or 'omega1,omega2' (default: lecun)")
    g.add_argument("--seed", type=int, default=0, help="seed of the weights (default: 0)")


def _parse_init(text):
    if "," in text:
        try:
            a, b = (float(x) for x in text.split(","))
        except ValueError:
            raise UsageError(f"--init {text!r} is not 'omega1,omega2'") from None
        return (a, b)
    return text


def _load_data(args):
    from .data import load_dataset

    n = args.n
    if n is None and str(args.data).lower() in ("digits", "sphere", "unit_sphere", "unit-sphere",
                                                "teacher", "teacher_student", "teacher-student"):
        n = args.n_builtin_default
    return load_dataset(args.data, n=n, d0=args.d0, seed=args.data_seed)


def _load_torch_state_dict(path, activation):
    try:
        import torch
    except ImportError:
        raise UsageError(f"--net {path!r} looks like a PyTorch file but torch is not installed") from None
    from .network import ShallowNet

    sd = torch.load(path, map_location="cpu", weights_only=True)
    if hasattr(sd, "state_dict"):
        sd = sd.state_dict()
    return ShallowNet.from_state_dict(sd, activation)


def _make_net(args, d0, d2):
    from .network import ShallowNet

    if args.net:
        if args.net.endswith((".pt", ".pth")):
            net = _load_torch_state_dict(args.net, args.activation)
        else:
            net = ShallowNet.load(args.net)
        if net.d0 != d0:
            raise UsageError(f"--net has d0 = {net.d0} but the data have {d0} columns")
        return net
    return ShallowNet.init(d0, args.d1, d2, activation=args.activation, init=_parse_init(args.init),
                           seed=args.seed)


def _emit(args, summary, lines):
    if getattr(args, "json", False):
        print(json.dumps(summary, indent=2, default=_json_default))
    elif not getattr(args, "quiet", False):
        for line in lines:
            print(line)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


# --------------------------------------------------------------------------
# ntk
# --------------------------------------------------------------------------
def cmd_ntk(args):
    """Empirical NTK of a net on data: size, trace, time, spectrum.

    Up to ``JACOBIAN_DENSE_MAX`` rows (or with ``--save``) the Gram matrix is
    formed; beyond, it never is: the trace comes from the diagonal and the
    spectrum from :func:`pl_toolkit.jacobian_singular_values` (shift-invert
    while the NTK fits in 4 GiB, matrix-free beyond).
    """
    from .ntk import ntk_gram
    from .spectrum import JACOBIAN_DENSE_MAX

    ds = _load_data(args)
    net = _make_net(args, ds.d0, ds.d2 if args.outputs is None else args.outputs)
    layers = tuple(x.strip() for x in args.layers.split(","))
    N = ds.n * net.d2
    dense = bool(args.save) or N <= JACOBIAN_DENSE_MAX
    t0 = time.perf_counter()
    if dense:
        K = ntk_gram(net, ds.X, layers=layers)
        trace = float(np.trace(K))
    else:
        K = None
        trace = _ntk_trace(net, ds.X, layers)
    seconds = time.perf_counter() - t0
    summary = dict(data=ds.name, n=ds.n, d0=net.d0, d1=net.d1, d2=net.d2,
                   activation=net.activation.name, layers=list(layers),
                   shape=[N, N], trace=trace, seconds=seconds if dense else None)
    lines = [f"NTK of {net!r} on {ds.name}",
             f"  shape      {N} x {N}" + ("" if dense else "  (not formed)"),
             f"  trace      {summary['trace']:.10g}"]
    if dense:
        lines.append(f"  time       {seconds:.3f} s")
    if not args.no_spectrum:
        from .spectrum import jacobian_singular_values, lambda_max, lambda_min

        t1 = time.perf_counter()
        if dense:
            lo, hi = lambda_min(K), lambda_max(K)
        else:
            spec = jacobian_singular_values(net, ds.X, layers=layers)
            lo, hi = spec.lambda_min, spec.lambda_max
        summary.update(lambda_min=lo.value, lambda_max=hi.value,
                       condition_number=hi.value / lo.value if lo.value > 0 else float("inf"),
                       lambda_min_method=lo.method, spectrum_seconds=time.perf_counter() - t1)
        lines += [f"  lambda_min {lo.value:.10g}  (residual {lo.residual:.1e}, {lo.method})",
                  f"  lambda_max {hi.value:.10g}",
                  f"  cond       {summary['condition_number']:.4g}"]
    if args.certified:
        from .certified import ntk_lambda_min_certified

        t1 = time.perf_counter()
        cert = ntk_lambda_min_certified(net, ds.X, layers=layers)
        summary.update(certified_lower_bound=cert.bound, certified_matrix_bound=cert.matrix_bound,
                       certified_rounding_allowance=cert.rounding_allowance,
                       certified_seconds=time.perf_counter() - t1)
        lines += [f"  certified  lambda_min(K_exact) >= {cert.bound:.10g}  "
                  f"(matrix {cert.matrix_bound:.6g}, rounding allowance {cert.rounding_allowance:.2e}, "
                  f"{summary['certified_seconds']:.2f} s)"]
    if args.constants:
        from .constants import lemma3_constants

        c = lemma3_constants(net, ds.X)
        summary["lemma3"] = c.to_dict()
        lines += ["  Lemma 3 (eq. 18) at these weights:"]
        lines += [f"    {k:<18} {getattr(c, k):.6g}" for k in
                  ("mu_Phi", "nu_Phi", "beta_Phi", "rho_Phi", "beta_Phi_followup", "rho_Phi_followup")]
    if args.save:
        np.save(args.save, K)
        lines.append(f"  saved      {args.save}")
    _emit(args, summary, lines)
    return 0


def _ntk_trace(net, X, layers):
    """``trace(K) = sum_a ||h_a||^2 d2 + ||x_a||^2 ||g_a o v_p||^2`` (+ bias terms), in O(n d1 d2)."""
    Z = net.preactivations(X)
    H, G = net.activation.phi(Z), net.activation.dphi(Z)
    t = 0.0
    if "V" in layers:
        t += net.d2 * (float(np.sum(H * H)) + (X.shape[0] if net.b2 is not None else 0.0))
    if "W" in layers:
        xx = np.sum(X * X, axis=1) + (1.0 if net.b1 is not None else 0.0)
        t += float(xx @ ((G * G) @ np.sum(net.V * net.V, axis=0)))
    return t


# --------------------------------------------------------------------------
# run (the main job)
# --------------------------------------------------------------------------
def _run_config(args):
    from dataclasses import fields

    from .experiments.run import RunConfig, load_config

    values = load_config(args.config) if args.config else {}
    for f in fields(RunConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            values[f.name] = v
    if isinstance(values.get("init"), str):
        values["init"] = _parse_init(values["init"])
    lr = values.get("lr")
    if isinstance(lr, str) and lr not in ("theory", "1/beta"):
        try:
            values["lr"] = float(lr)
        except ValueError:
            raise UsageError(f"--lr must be a number, 'theory' or '1/beta', got {lr!r}") from None
    return RunConfig(**values)


def cmd_run(args):
    """Train on real data, measure every constant, check the theorem, write a report."""
    from .experiments.run import run_experiment, summary_rows

    cfg = _run_config(args)
    result = run_experiment(cfg, progress=not (args.quiet or args.json or args.no_progress))
    rep = result.report
    if args.json:
        from ._json import strict_json

        print(json.dumps(strict_json(dict(summary=dict(summary_rows(rep)), trajectory=rep["trajectory"],
                                          lemma3=rep["lemma3"], files=rep["files"],
                                          seconds=rep["seconds"], out=cfg.out)), indent=2))
    elif not args.quiet:
        rows = summary_rows(rep)
        width = max(len(k) for k, _ in rows)
        print(f"pl-toolkit run: report in {cfg.out}/ ({rep['seconds']:.1f} s)")
        for k, v in rows:
            print(f"  {k:<{width}}  {v}")
        checks = rep["checks"]
        exact = [c for c in checks if c["kind"] == "exact"]
        count = {k: sum(c["status"] == k for c in exact) for k in ("holds", "violated", "not-applicable")}
        print(f"  {'theorem checks':<{width}}  {len(checks)} rows; exact inequalities: "
              f"{count['holds']} hold, {count['violated']} violated, {count['not-applicable']} not "
              f"applicable; O(.) rows report implied constants (report.md)")
    return 0


def _add_run_args(p):
    from .experiments.run import RunConfig

    d = RunConfig()
    p.add_argument("--config", metavar="FILE", help="TOML or JSON file of settings (flags override it)")
    g = p.add_argument_group("data")
    g.add_argument("--data", default=None, metavar="NAME|FILE",
                   help=f"digits (real, bundled with scikit-learn), sphere, teacher, or a "
                        f".npz/.npy/.csv file (default: {d.data})")
    g.add_argument("--n", type=int, default=None, help=f"training samples (default: {d.n})")
    g.add_argument("--d0", type=int, default=None, help=f"input dimension of synthetic data (default: {d.d0})")
    g.add_argument("--d2", type=int, default=None, help=f"outputs of synthetic data (default: {d.d2})")
    g.add_argument("--data-seed", type=int, default=None, help=f"seed of the data (default: {d.data_seed})")
    g = p.add_argument_group("network")
    g.add_argument("--activation", default=None, help=f"activation (default: {d.activation})")
    g.add_argument("--init", default=None, help=f"lecun, he, xavier or 'omega1,omega2' (default: {d.init})")
    g.add_argument("--d1", type=int, default=None,
                   help="width (default: --width-factor x n^1.5/d0, the scale of eq. 21)")
    g.add_argument("--width-factor", type=float, default=None,
                   help=f"width as a multiple of n^1.5/d0 (default: {d.width_factor})")
    g.add_argument("--seed", type=int, default=None, help=f"seed of the weights (default: {d.seed})")
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=int, default=None, help=f"maximum steps (default: {d.steps})")
    g.add_argument("--lr", default=None,
                   help=f"step size: a number, '1/beta' (inverse Hessian top eigenvalue at init) "
                        f"or 'theory' (eq. 13) (default: {d.lr})")
    g.add_argument("--optimizer", choices=("gd", "sgd"), default=None, help=f"(default: {d.optimizer})")
    g.add_argument("--batch-size", type=int, default=None, help="SGD batch size (default: min(128, n))")
    g.add_argument("--track-every", type=int, default=None,
                   help=f"cadence of the expensive tracked quantities (default: {d.track_every})")
    g.add_argument("--stop-fraction", type=float, default=None,
                   help=f"stop when h <= this x h0 (default: {d.stop_fraction})")
    g.add_argument("--lemma1-samples", type=int, default=None,
                   help=f"random points of the Lemma-1 ball to probe (default: {d.lemma1_samples})")
    g = p.add_argument_group("output")
    g.add_argument("--out", default=None, metavar="DIR", help=f"report directory (default: {d.out})")
    g.add_argument("--json", action="store_true", help="print a JSON summary instead of the table")
    g.add_argument("--quiet", action="store_true", help="print nothing")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


# --------------------------------------------------------------------------
# ledger
# --------------------------------------------------------------------------
def cmd_ledger(args):
    """Widths demanded by every Table-1 theorem beside the width GD needed."""
    from .experiments.ledger import ledger_for

    n = args.n if args.n is not None or not str(args.data).lower() == "digits" else args.n_builtin_default
    res = ledger_for(data=args.data, n=n, d0=args.d0, data_seed=args.data_seed,
                     activation=args.activation, init=_parse_init(args.init), d1=args.d1,
                     steps=args.steps, stop_fraction=args.stop_fraction, seed=args.seed,
                     report=args.report, progress=not (args.quiet or args.json))
    if args.out:
        import os

        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "ledger.md"), "w") as fh:
            fh.write(res["markdown"])
        with open(os.path.join(args.out, "ledger.json"), "w") as fh:
            fh.write(res["json"])
    if args.json:
        print(res["json"])
    elif not args.quiet:
        print(res["markdown"])
    return 0


# --------------------------------------------------------------------------
def build_parser():
    """Build the argument parser of ``pl-toolkit``.

    Returns
    -------
    argparse.ArgumentParser
        The parser with one sub-parser per command.
    """
    from . import __version__

    parser = _Parser(prog="pl-toolkit",
                     description="Measure the constants of the PL convergence theory of shallow "
                                 "networks (Song et al., NeurIPS 2021) on real data.")
    parser.add_argument("--version", action="version", version=f"pl_toolkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("run", help="the main job: train, measure every constant, check the theorem, report",
                       description="Train the paper's network x -> V phi(W x) (both layers, GD) on "
                                   "real data from a standard initialization, measure every "
                                   "constant of the PL argument along the run, evaluate every "
                                   "inequality of the theorems at those constants (as implied "
                                   "constants), and write report.md, report.json and PNG plots.")
    _add_run_args(p)
    p.set_defaults(func=cmd_run)

    from .experiments import init_scale as _init_scale
    from .experiments import sweep as _sweep

    p = sub.add_parser("sweep", help="width threshold of GD against n, with fitted exponents",
                       description=_sweep.__doc__.strip().splitlines()[0] + " Cells run on a local "
                                   "process pool or a Dask cluster, results go to SQLite as each "
                                   "cell finishes, and --resume continues a killed sweep.")
    _sweep.configure_parser(p)
    p.set_defaults(func=_sweep.command)

    p = sub.add_parser("init-scale", help="the paper's Figure 1: accuracy against omega2 at fixed "
                                          "omega1*omega2",
                       description=_init_scale.__doc__.strip().splitlines()[0])
    _init_scale.configure_parser(p)
    p.set_defaults(func=_init_scale.command)

    p = sub.add_parser("ledger", help="width each Table-1 theorem demands vs the width GD needed",
                       description="For a data set, activation and initialization: the width every "
                                   "theorem of the paper's Table 1 demands (unknown constants set "
                                   "to 1 and shown as such) beside the width at which gradient "
                                   "descent was measured to converge.")
    _add_data_args(p, n_default=200)
    g = p.add_argument_group("network and measurement")
    g.add_argument("--activation", default="gelu", help="activation (default: gelu)")
    g.add_argument("--init", default="lecun", help="lecun, he, xavier or 'omega1,omega2' (default: lecun)")
    g.add_argument("--d1", type=int, default=None,
                   help="width at which to measure convergence (default: 16 x n^1.5/d0)")
    g.add_argument("--steps", type=int, default=2000, help="GD steps of the measurement (default: 2000)")
    g.add_argument("--stop-fraction", type=float, default=1e-3,
                   help="converged when h <= this x h0 (default: 1e-3)")
    g.add_argument("--seed", type=int, default=0, help="seed of the weights (default: 0)")
    g.add_argument("--report", metavar="report.json",
                   help="take the measured width and outcome from a 'pl-toolkit run' report instead")
    p.add_argument("--out", metavar="DIR", help="also write ledger.md and ledger.json here")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=cmd_ledger)

    p = sub.add_parser("ntk", help="empirical NTK Gram of a net on data: size, trace, time, spectrum",
                       description="Compute the empirical NTK Gram matrix (both layers by default) "
                                   "of the paper's network on a data set and report its size, "
                                   "trace, timing and extreme eigenvalues. Above 4000 rows the "
                                   "matrix is not formed (unless --save): lambda_min comes from "
                                   "shift-invert or matrix-free Lanczos.")
    _add_data_args(p, n_default=500)
    _add_net_args(p)
    p.add_argument("--outputs", type=int, default=None,
                   help="output dimension d2 of a freshly initialized net (default: the data's)")
    p.add_argument("--layers", default="W,V", help="trained layers: W,V (default), W or V")
    p.add_argument("--no-spectrum", action="store_true", help="skip the eigenvalues")
    p.add_argument("--certified", action="store_true",
                   help="also a certified lower bound on lambda_min of the exact NTK "
                        "(including the rounding error of forming it)")
    p.add_argument("--constants", action="store_true", help="also Lemma 3's constants at these weights")
    p.add_argument("--save", metavar="FILE.npy", help="write the Gram matrix to this .npy file")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=cmd_ntk)
    return parser


def main(argv=None):
    """Entry point of ``pl-toolkit``; returns the exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        0 on success, 2 on bad input (one line on stderr).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"pl-toolkit {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pl-toolkit {args.command}: interrupted", file=sys.stderr)
        return 130
