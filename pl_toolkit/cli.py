"""Command line interface: ``pl-toolkit <command>`` (also ``python -m pl_toolkit``).

Every command reports bad input as one line on stderr and exit code 2; an internal
error (an exception the toolkit did not raise on purpose) keeps its traceback and exit 1.
"""

import argparse
import math
import os
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


#: Largest value of a count or size flag (steps, widths, samples): beyond it
#: nothing the toolkit does can run, and NumPy refuses such dimensions.
def _int_type(minimum=1, *maximum):
    """Argparse type: an integer in ``[minimum, maximum]``; argparse names the flag.

    ``maximum`` as in ``pl_toolkit.experiments._common.int_flag`` (its
    default when omitted, ``None`` for unbounded).
    """
    from .experiments._common import int_flag

    return int_flag(None, minimum, *maximum)


def _float_type(text):
    """Argparse type: a finite number."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _add_data_args(p, *, n_default=None):
    g = p.add_argument_group("data")
    g.add_argument("--data", default="digits", metavar="NAME|FILE",
                   help="built-in 'digits' (scikit-learn, d0=64), 'mnist' (the mnist extra), "
                        "'sphere' (uniform on the unit sphere, random labels) or 'teacher' "
                        "(teacher-student on the sphere), or a .npz (X, Y) / .npy (X) / .csv (X "
                        "then label columns) file (default: digits)")
    g.add_argument("--n", type=_int_type(), default=None,
                   help=f"number of samples (default: {n_default} for built-in data, "
                        "all rows of a file)")
    p.set_defaults(n_builtin_default=n_default)
    g.add_argument("--d0", type=_int_type(), default=None,
                   help="input dimension of synthetic data (default: 64; refused for real data)")
    g.add_argument("--data-seed", type=_int_type(0, None), default=0,
                   help="seed of the data draw (default: 0)")
    _add_preprocessing_args(g)


def _add_preprocessing_args(g, defaults=True):
    g.add_argument("--normalize", choices=("unit", "none"), default=None,
                   help="rows of real data scaled to unit norm ('unit', the paper's ||x_i|| = 1; "
                        "the default) or used as given ('none')")
    g.add_argument("--label-scale", choices=("unit", "none"), default=None,
                   help="labels of real data scaled to ||Y||_F = 1 ('unit') or used as given "
                        "('none'); default: as --normalize")
    g.add_argument("--label-columns", type=_int_type(0), default=None, metavar="K",
                   help="number of trailing label columns of a .csv file (default: 1)")
    g.add_argument("--csv-header", choices=("auto", "yes", "no"), default=None,
                   help="whether the first line of a .csv file is a header (default: auto, a "
                        "header exactly when a field is not a number)")


def _csv_header_value(text):
    return None if text in (None, "auto") else text == "yes"


def _add_net_args(p, *, d1_default=1000):
    g = p.add_argument_group("network")
    g.add_argument("--net", metavar="FILE",
                   help="load weights from a .npz saved by ShallowNet.save "
                        "(or a PyTorch state_dict .pt of Linear-activation-Linear "
                        "when torch is installed)")
    g.add_argument("--d1", type=_int_type(), default=d1_default,
                   help=f"width (default: {d1_default})")
    g.add_argument("--activation", default="gelu", help="activation name (default: gelu)")
    g.add_argument("--init", default="lecun",
                   help="lecun, he, xavier or 'omega1,omega2' (default: lecun)")
    g.add_argument("--seed", type=_int_type(0, None), default=0,
                   help="seed of the weights (default: 0)")


def _parse_init(text):
    if "," in text:
        try:
            a, b = (float(x) for x in text.split(","))
        except ValueError:
            raise UsageError(f"--init {text!r} is not 'omega1,omega2'") from None
        return (a, b)
    return text


def _flag_error(flag, exc):
    """``exc`` (a ValueError) as a UsageError whose one line starts with ``flag``."""
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UsageError(msg if msg.startswith("--") else f"{flag}: {msg}")


def _load_data(args, d2=None):
    try:
        return _load_data_unchecked(args, d2)
    except UsageError:
        raise
    except (ValueError, OSError) as exc:
        raise _flag_error("--data", exc) from None


def _load_data_unchecked(args, d2=None):
    from .data import data_kind, load_dataset

    kind = data_kind(args.data)
    synthetic = kind in ("sphere", "teacher")
    n = args.n
    if n is None and kind != "file":
        n = args.n_builtin_default
    if args.d0 is not None and not synthetic:
        raise UsageError(f"--d0 applies only to synthetic data (sphere, teacher); "
                         f"{args.data} has its own dimension")
    is_csv = kind == "file" and str(args.data).lower().endswith(".csv")
    if (args.label_columns is not None or args.csv_header is not None) and not is_csv:
        raise UsageError("--label-columns and --csv-header apply only to .csv data files")
    if synthetic and (args.normalize is not None or args.label_scale is not None):
        raise UsageError(f"--normalize and --label-scale do not apply to synthetic data "
                         f"({args.data}: inputs on the unit sphere, labels with ||Y||_F = 1)")
    ds = load_dataset(args.data, n=n, d0=64 if args.d0 is None else args.d0,
                      d2=1 if d2 is None else d2, seed=args.data_seed,
                      normalize=args.normalize, label_scale=args.label_scale,
                      label_columns=1 if args.label_columns is None else args.label_columns,
                      header=_csv_header_value(args.csv_header))
    return ds


def _preprocessing_lines(ds):
    lines = list(ds.info.get("preprocessing", []))
    if ds.info.get("header"):
        lines.insert(0, f"header line skipped: {ds.info['header']!r}")
    return lines


def _load_torch_state_dict(path, activation):
    try:
        import torch
    except ImportError:
        raise UsageError(f"--net {path!r} looks like a PyTorch file "
                         "but torch is not installed") from None
    from .network import ShallowNet

    sd = torch.load(path, map_location="cpu", weights_only=True)
    if hasattr(sd, "state_dict"):
        sd = sd.state_dict()
    return ShallowNet.from_state_dict(sd, activation)


def _make_net(args, d0, d2):
    from .network import ShallowNet

    if args.net is not None:
        try:
            if args.net.endswith((".pt", ".pth")):
                net = _load_torch_state_dict(args.net, args.activation)
            else:
                net = ShallowNet.load(args.net)
        except UsageError:
            raise
        except (ValueError, OSError) as exc:
            raise _flag_error("--net", exc) from None
        if net.d0 != d0:
            raise UsageError(f"--net has d0 = {net.d0} but the data have {d0} columns")
        return net
    return ShallowNet.init(d0, args.d1, d2, activation=args.activation, init=_parse_init(args.init),
                           seed=args.seed)


def _emit(args, summary, lines):
    if getattr(args, "json", False):
        from ._json import dumps

        print(dumps(summary))
    elif not getattr(args, "quiet", False):
        for line in lines:
            print(line)


def _check_activation(name, flag="--activation"):
    from .activations import get_activation

    try:
        get_activation(name)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{flag}: {exc}") from None


def _check_init(text, flag="--init"):
    init = _parse_init(text) if isinstance(text, str) else text
    if isinstance(init, str):
        if init not in ("lecun", "he", "xavier"):
            raise UsageError(f"{flag} must be lecun, he, xavier or 'omega1,omega2', got {text!r}")
    else:
        for name, v in zip(("omega1", "omega2"), init):
            if not (math.isfinite(v) and v > 0):
                raise UsageError(f"{flag}: {name} must be a positive finite number, got {v!r}")
    return init


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
    from .ntk_spectrum import JACOBIAN_DENSE_MAX

    layers = tuple(x.strip() for x in args.layers.split(","))
    if not layers or len(set(layers)) != len(layers) or any(x not in ("W", "V") for x in layers):
        raise UsageError(f"--layers must be W,V, W or V, got {args.layers!r}")
    _check_activation(args.activation)
    _check_init(args.init)
    target = None
    if args.save is not None:
        from .experiments._common import safe_output_file

        target = safe_output_file(args.save, suffix=".npy", overwrite=args.overwrite,
                                  arg="--save", flag="--overwrite")
    ds = _load_data(args)
    net = _make_net(args, ds.d0, ds.d2 if args.outputs is None else args.outputs)
    N = ds.n * net.d2
    dense = args.save is not None or N <= JACOBIAN_DENSE_MAX
    t0 = time.perf_counter()
    if dense:
        K = ntk_gram(net, ds.X, layers=layers)
        trace = float(np.trace(K))
    else:
        from .ntk_stats import ntk_trace

        K = None
        trace = ntk_trace(net, ds.X, layers)
    seconds = time.perf_counter() - t0
    prep = _preprocessing_lines(ds)
    summary = dict(data=ds.name, n=ds.n, d0=net.d0, d1=net.d1, d2=net.d2,
                   activation=net.activation.name, layers=list(layers),
                   preprocessing=prep, shape=[N, N], trace=trace,
                   seconds=seconds if dense else None)
    lines = [f"NTK of {net!r} on {ds.name}",
             "  data       " + ("; ".join(prep) if prep else "used as given (no preprocessing)"),
             f"  shape      {N} x {N}" + ("" if dense else "  (not formed)"),
             f"  trace      {summary['trace']:.10g}"]
    if dense:
        lines.append(f"  time       {seconds:.3f} s")
    if not args.no_spectrum:
        from .ntk_spectrum import jacobian_singular_values
        from .spectrum import lambda_max, lambda_min

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
        from .ntk_certified import ntk_lambda_min_certified

        t1 = time.perf_counter()
        cert = ntk_lambda_min_certified(net, ds.X, layers=layers)
        summary.update(certified_lower_bound=cert.bound, certified_matrix_bound=cert.matrix_bound,
                       certified_rounding_allowance=cert.rounding_allowance,
                       certified_seconds=time.perf_counter() - t1)
        lines += [f"  certified  lambda_min(K_exact) >= {cert.bound:.10g}  "
                  f"(matrix {cert.matrix_bound:.6g}, "
                  f"rounding allowance {cert.rounding_allowance:.2e}, "
                  f"{summary['certified_seconds']:.2f} s)"]
    if args.constants:
        from .constants import lemma3_constants

        c = lemma3_constants(net, ds.X)
        summary["lemma3"] = c.to_dict()
        lines += ["  Lemma 3 (eq. 18) at these weights:"]
        lines += [f"    {k:<18} {getattr(c, k):.6g}" for k in
                  ("mu_Phi", "nu_Phi", "beta_Phi", "rho_Phi", "beta_Phi_followup",
                   "rho_Phi_followup")]
    if target:
        np.save(target, K)
        summary["saved"] = target
        lines.append(f"  saved      {target}")
    _emit(args, summary, lines)
    return 0


# --------------------------------------------------------------------------
# run (the main job)
# --------------------------------------------------------------------------
_RUN_FLAGS = {}  # RunConfig field -> flag, filled by _add_run_args


def _run_config(args):
    from dataclasses import fields

    from .experiments.run import RunConfig, load_config

    try:
        values = load_config(args.config) if args.config is not None else {}
    except (ValueError, OSError) as exc:
        raise _flag_error("--config", exc) from None
    for f in fields(RunConfig):
        v = getattr(args, f.name, None)
        if f.name == "csv_header" and v is not None:
            v = _csv_header_value(v)
        if f.name == "overwrite" and v is False:
            continue
        if v is not None:
            values[f.name] = v
    if isinstance(values.get("init"), str):
        values["init"] = _parse_init(values["init"])

    def where(field):
        # The flag when the value came from the command line, else the config key.
        if getattr(args, field, None) not in (None, False) or args.config is None:
            return _RUN_FLAGS.get(field, field)
        return f"{args.config}: key {field!r}"

    if isinstance(values.get("activation"), str):
        _check_activation(values["activation"], where("activation"))
    lr = values.get("lr")
    if isinstance(lr, str) and lr not in ("theory", "1/beta"):
        try:
            values["lr"] = float(lr)
        except ValueError:
            raise UsageError(f"{where('lr')} must be a number, 'theory' or '1/beta', "
                             f"got {lr!r}") from None
    try:
        return RunConfig(**values)
    except ValueError as exc:
        msg = str(exc)
        field = msg.split(" ", 1)[0]
        if field in _RUN_FLAGS:
            msg = f"{where(field)}: {msg}"
        raise UsageError(msg) from None


def cmd_run(args):
    """Train, measure every constant, check the theorems, write a report."""
    from .experiments.run import run_experiment, summary_rows

    cfg = _run_config(args)
    quiet = args.quiet or args.json

    def log(line):
        if not quiet:
            print(f"pl-toolkit run: {line}")

    result = run_experiment(cfg, progress=not (quiet or args.no_progress), log=log)
    rep = result.report
    if args.json:
        from ._json import dumps

        print(dumps(dict(summary=dict(summary_rows(rep)),
                                          verdict=rep["summary"], trajectory=rep["trajectory"],
                                          lemma3=rep["lemma3"],
                                          lemma1_empirical={k: rep["lemma1_empirical"].get(k)
                                                            for k in ("radius", "radius_ratio",
                                                                      "censored", "directions")},
                                          files=rep["files"], seconds=rep["seconds"],
                                          out=cfg.out)))
    elif not args.quiet:
        rows = summary_rows(rep)
        width = max(len(k) for k, _ in rows)
        print(f"pl-toolkit run: report in {cfg.out}/ ({rep['seconds']:.1f} s)")
        for k, v in rows:
            print(f"  {k:<{width}}  {v}")
        for line in [rep["summary"]["premises"]] + rep["summary"]["lines"]:
            print(f"  {line}")
    return 0


def _add_run_args(p):
    from .experiments._plots import PLOT_FORMATS
    from .experiments.run import RunConfig

    d = RunConfig()

    def add(group, flag, field, **kw):
        _RUN_FLAGS[field] = flag
        group.add_argument(flag, dest=field, **kw)

    p.add_argument("--config", metavar="FILE",
                   help="TOML or JSON file of settings (flags override it)")
    g = p.add_argument_group("data")
    add(g, "--data", "data", default=None, metavar="NAME|FILE",
        help=f"sphere (inputs uniform on the unit sphere, Gaussian labels), teacher "
             f"(teacher-student on the sphere), digits (real, bundled with scikit-learn), mnist "
             f"(real, the mnist extra), or a .npz/.npy/.csv file (default: {d.data})")
    add(g, "--n", "n", type=_int_type(), default=None,
        help="training samples (default: 256 for built-in data, every row of a file)")
    add(g, "--d0", "d0", type=_int_type(), default=None,
        help="input dimension of synthetic data (default: 64; refused for real data)")
    add(g, "--d2", "d2", type=_int_type(), default=None,
        help="outputs of synthetic data (default: 1; refused for real data)")
    add(g, "--data-seed", "data_seed", type=_int_type(0, None), default=None,
        help=f"seed of the data (default: {d.data_seed})")
    add(g, "--normalize", "normalize", choices=("unit", "none"), default=None,
        help="rows of real data scaled to unit norm ('unit', default) or used as given ('none')")
    add(g, "--label-scale", "label_scale", choices=("unit", "none"), default=None,
        help="labels of real data scaled to ||Y||_F = 1 ('unit') or used as given ('none'); "
             "default: as --normalize")
    add(g, "--label-columns", "label_columns", type=_int_type(0), default=None, metavar="K",
        help="trailing label columns of a .csv file (default: 1)")
    add(g, "--csv-header", "csv_header", choices=("auto", "yes", "no"), default=None,
        help="whether a .csv file's first line is a header (default: auto)")
    g = p.add_argument_group("network")
    add(g, "--activation", "activation", default=None, help=f"activation (default: {d.activation})")
    add(g, "--init", "init", default=None,
        help=f"lecun, he, xavier or 'omega1,omega2' (default: {d.init})")
    add(g, "--d1", "d1", type=_int_type(), default=None,
        help="width (default: --width-factor x n^1.5/d0, the scale of eq. 21)")
    add(g, "--width-factor", "width_factor", type=_float_type, default=None,
        help=f"width as a multiple of n^1.5/d0 (default: {d.width_factor:g})")
    add(g, "--seed", "seed", type=_int_type(0, None), default=None,
        help=f"seed of the weights (default: {d.seed})")
    g = p.add_argument_group("training")
    add(g, "--steps", "steps", type=_int_type(), default=None,
        help=f"step budget (default: {d.steps})")
    add(g, "--lr", "lr", default=None,
        help=f"step size: a number, '1/beta' (inverse Hessian top eigenvalue at init) or "
             f"'theory' (eq. 13) (default: {d.lr})")
    add(g, "--optimizer", "optimizer", choices=("gd", "sgd"), default=None,
        help=f"(default: {d.optimizer})")
    add(g, "--batch-size", "batch_size", type=_int_type(), default=None,
        help="SGD batch size (default: min(128, n))")
    add(g, "--track-every", "track_every", type=_int_type(), default=None,
        help="cadence of the expensive tracked quantities (default: chosen so that tracking "
             "costs about as much as the steps between measurements, at least 20)")
    add(g, "--eps", "eps", type=_float_type, default=None,
        help=f"converged when h <= eps ||Y||_F^2 (default: {d.eps:g})")
    add(g, "--stall-window", "stall_window", type=_int_type(), default=None,
        help=f"stop as stalled when the loss falls by less than 0.1%% over this many steps "
             f"(default: {d.stall_window})")
    add(g, "--lemma1-directions", "lemma1_directions", type=_int_type(0, 1000), default=None,
        help="random directions of the empirical Lemma 1 radius search (default: 8, or 2 "
             "when the NTK has more than 1000 rows)")
    g = p.add_argument_group("output")
    add(g, "--out", "out", default=None, metavar="DIR", help=f"report directory (default: {d.out})")
    add(g, "--plot-format", "plot_format", choices=PLOT_FORMATS, default=None,
        help="file format of the figures: png (150 dpi), svg or pdf "
             f"(default: {d.plot_format})")
    add(g, "--overwrite", "overwrite", action="store_true",
        help="write into a non-empty folder that pl-toolkit did not write")
    g.add_argument("--json", action="store_true", help="print a JSON summary instead of the table")
    g.add_argument("--quiet", action="store_true", help="print nothing")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


# --------------------------------------------------------------------------
# ledger
# --------------------------------------------------------------------------
def cmd_ledger(args):
    """Widths demanded by every Table-1 theorem beside the width GD needed."""
    from .experiments.ledger import ledger_for

    from .data import data_kind

    try:
        kind = data_kind(args.data)
    except ValueError as exc:
        raise _flag_error("--data", exc) from None
    n = args.n if args.n is not None or kind == "file" else args.n_builtin_default

    if args.d0 is not None and kind not in ("sphere", "teacher"):
        raise UsageError(f"--d0 applies only to synthetic data (sphere, teacher); "
                         f"{args.data} has its own dimension")
    from .experiments._common import claim_output_dir, output_file

    _check_activation(args.activation)
    init = _check_init(args.init)
    from .convergence import ConvergenceCriterion

    try:
        ConvergenceCriterion(args.eps)
    except ValueError as exc:
        raise _flag_error("--eps", exc) from None
    if args.report is not None and not os.path.isfile(args.report):
        raise UsageError(f"--report {args.report!r} is not a file")
    if args.out is not None:
        claim_output_dir(args.out, tool="ledger", files=["ledger.md", "ledger.json"],
                         overwrite=args.overwrite)
    res = ledger_for(data=args.data, n=n, d0=64 if args.d0 is None else args.d0,
                     data_seed=args.data_seed, activation=args.activation,
                     init=init, d1=args.d1, steps=args.steps, eps=args.eps,
                     seed=args.seed, report=args.report, progress=not (args.quiet or args.json),
                     normalize=args.normalize, label_scale=args.label_scale)
    if args.out is not None:
        for name, key in (("ledger.md", "markdown"), ("ledger.json", "json")):
            with output_file(args.out, name) as tmp, open(tmp, "w") as fh:
                fh.write(res[key])
    if args.json:
        print(res["json"])
    elif not args.quiet:
        print(res["markdown"])
    return 0


# --------------------------------------------------------------------------
def _configure_ledger(p):
    """Add the arguments of ``pl-toolkit ledger`` to the sub-parser ``p``."""
    _add_data_args(p, n_default=256)
    g = p.add_argument_group("network and measurement")
    g.add_argument("--activation", default="gelu", help="activation (default: gelu)")
    g.add_argument("--init", default="lecun",
                   help="lecun, he, xavier or 'omega1,omega2' (default: lecun)")
    g.add_argument("--d1", type=_int_type(), default=None,
                   help="width at which to measure convergence (default: the main job's, "
                        "8 x n^1.5/d0)")
    g.add_argument("--steps", type=_int_type(), default=20000,
                   help="GD step budget of the measurement (default: 20000)")
    g.add_argument("--eps", type=_float_type, default=1e-6,
                   help="converged when h <= eps ||Y||_F^2 (default: 1e-6)")
    g.add_argument("--seed", type=_int_type(0, None), default=0,
                   help="seed of the weights (default: 0)")
    g.add_argument("--report", metavar="report.json",
                   help="take the measured width and outcome from a 'pl-toolkit run' report "
                        "instead")
    p.add_argument("--out", metavar="DIR", help="also write ledger.md and ledger.json here")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out folder that pl-toolkit did not write")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p


def _configure_ntk(p):
    """Add the arguments of ``pl-toolkit ntk`` to the sub-parser ``p``."""
    _add_data_args(p, n_default=500)
    _add_net_args(p)
    p.add_argument("--outputs", type=_int_type(), default=None,
                   help="output dimension d2 of a freshly initialized net (default: the data's)")
    p.add_argument("--layers", default="W,V", help="trained layers: W,V (default), W or V")
    p.add_argument("--no-spectrum", action="store_true", help="skip the eigenvalues")
    p.add_argument("--certified", action="store_true",
                   help="also a certified lower bound on lambda_min of the exact NTK "
                        "(including the rounding error of forming it)")
    p.add_argument("--constants", action="store_true",
                   help="also Lemma 3's constants at these weights")
    p.add_argument("--save", metavar="FILE.npy", help="write the Gram matrix to this .npy file "
                   "(the .npy suffix is added when missing; the path written is printed)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --save file")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p


class Command:
    """One subcommand of ``pl-toolkit``: the only way a command is defined.

    Parameters
    ----------
    name : str
        The command word.
    help : str
        One line for ``pl-toolkit --help``.
    description : str
        The paragraph of ``pl-toolkit NAME --help``.
    module : str
        Module (relative to ``pl_toolkit``) holding the two functions.
    configure : str
        Name of the function that adds the arguments to a sub-parser.
    run : str
        Name of the function that runs the command from the parsed
        arguments and returns the exit code (it raises ``ValueError`` on bad
        input).
    """

    def __init__(self, name, help, description, module, configure, run):
        self.name, self.help, self.description = name, help, description
        self.module, self.configure, self.run = module, configure, run

    def functions(self):
        """The ``(configure, run)`` functions, imported on demand."""
        import importlib

        mod = importlib.import_module(self.module, __package__)
        return getattr(mod, self.configure), getattr(mod, self.run)


#: Every subcommand, in the order of ``pl-toolkit --help``.
COMMANDS = (
    Command("run", "the main job: train, measure every constant, check the theorem, report",
            "Train the paper's network x -> V phi(W x) (both layers, GD) on real data from a "
            "standard initialization, measure every constant of the PL argument along the "
            "run, evaluate every inequality of the theorems at those constants (as implied "
            "constants), and write report.md, report.json and PNG plots.",
            ".cli", "_add_run_args", "cmd_run"),
    Command("sweep", "width threshold of GD against n, with fitted exponents",
            "Exact width thresholds of gradient descent against n (or d0), with fitted "
            "exponents. Cells run on a local process pool or a Dask cluster, results go to "
            "SQLite as each cell finishes, and --resume continues a killed sweep.",
            ".experiments.sweep", "configure_parser", "command"),
    Command("init-scale", "the paper's Figure 1: accuracy against omega2 at fixed omega1*omega2",
            None, ".experiments.init_scale", "configure_parser", "command"),
    Command("ledger", "width each Table-1 theorem demands vs the width GD needed",
            "For a data set, activation and initialization: the width every theorem of the "
            "paper's Table 1 demands (unknown constants set to 1 and shown as such) beside "
            "the width at which gradient descent was measured to converge.",
            ".cli", "_configure_ledger", "cmd_ledger"),
    Command("ntk", "empirical NTK Gram of a net on data: size, trace, time, spectrum",
            "Compute the empirical NTK Gram matrix (both layers by default) of the paper's "
            "network on a data set and report its size, trace, timing and extreme "
            "eigenvalues. Above 4000 rows the matrix is not formed (unless --save): "
            "lambda_min comes from shift-invert or matrix-free Lanczos.",
            ".cli", "_configure_ntk", "cmd_ntk"),
)


def build_parser():
    """Build the argument parser of ``pl-toolkit``.

    Returns
    -------
    argparse.ArgumentParser
        The parser with one sub-parser per entry of :data:`COMMANDS`.
    """
    from . import __version__

    parser = _Parser(prog="pl-toolkit",
                     description="Measure the constants of the PL convergence theory of shallow "
                                 "networks (Song et al., NeurIPS 2021) on real data.")
    parser.add_argument("--version", action="version", version=f"pl_toolkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for spec in COMMANDS:
        configure, run = spec.functions()
        description = spec.description
        if description is None:
            description = sys.modules[configure.__module__].__doc__.strip().splitlines()[0]
        p = sub.add_parser(spec.name, help=spec.help, description=description)
        configure(p)
        p.set_defaults(func=run)
    return parser


#: Where the toolkit's own code lives: the package and the derivations beside it.
_HERE = os.path.dirname(os.path.abspath(__file__))
_OWN_CODE = (_HERE + os.sep, os.path.join(os.path.dirname(_HERE), "derivations") + os.sep)


def _is_input_error(exc):
    """Whether ``exc`` reports bad input (exit 2) rather than an internal error (exit 1).

    Every ``ValueError`` the toolkit raises on purpose names the argument
    and the problem, and is raised by its own code; one that escapes from
    NumPy, SciPy or numba means an input the toolkit failed to check, and is
    shown with its traceback.  ``OSError`` is a file or folder problem and
    always reported in one line.
    """
    if isinstance(exc, (OSError, UsageError)):
        return True
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    return os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_OWN_CODE)


def main(argv=None):
    """Entry point of ``pl-toolkit``; returns the exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        0 on success (also for ``--help`` and ``--version``), 2 on bad input
        (one line on stderr naming the flag, the config key or the file), 1
        when some cells of a sweep failed.  An internal error (an exception
        the toolkit did not raise on purpose) propagates with its traceback,
        which the ``pl-toolkit`` entry point turns into exit code 1.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # usage errors (exit 2, one line), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as exc:
        if not _is_input_error(exc):
            raise       # a ValueError from a library we call: an internal error, exit 1
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"pl-toolkit {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pl-toolkit {args.command}: interrupted", file=sys.stderr)
        return 130
