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
    g.add_argument("--n", type=int, default=n_default, help="number of samples")
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

    return load_dataset(args.data, n=args.n, d0=args.d0, seed=args.data_seed)


def _load_torch_state_dict(path, activation):
    try:
        import torch
    except ImportError:
        raise UsageError(f"--net {path!r} looks like a PyTorch file but torch is not installed") from None
    from .network import ShallowNet

    sd = torch.load(path, map_location="cpu", weights_only=True)
    if hasattr(sd, "state_dict"):
        sd = sd.state_dict()
    weights = [(k, v) for k, v in sd.items() if k.endswith("weight")]
    biases = [(k, v) for k, v in sd.items() if k.endswith("bias")]
    if len(weights) != 2:
        raise UsageError(f"--net {path!r}: expected two Linear layers, found weights {[k for k, _ in weights]}")
    W, V = (v.detach().double().numpy() for _, v in weights)
    b1 = b2 = None
    if len(biases) == 2:
        b1, b2 = (v.detach().double().numpy() for _, v in biases)
    return ShallowNet(W, V, activation, b1, b2)


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
    """Empirical NTK of a net on data: size, trace, time, spectrum."""
    from .ntk import ntk_gram

    ds = _load_data(args)
    net = _make_net(args, ds.d0, ds.d2 if args.outputs is None else args.outputs)
    layers = tuple(x.strip() for x in args.layers.split(","))
    t0 = time.perf_counter()
    K = ntk_gram(net, ds.X, layers=layers)
    seconds = time.perf_counter() - t0
    summary = dict(data=ds.name, n=ds.n, d0=net.d0, d1=net.d1, d2=net.d2,
                   activation=net.activation.name, layers=list(layers),
                   shape=list(K.shape), trace=float(np.trace(K)), seconds=seconds)
    lines = [f"NTK of {net!r} on {ds.name}",
             f"  shape      {K.shape[0]} x {K.shape[1]}",
             f"  trace      {summary['trace']:.10g}",
             f"  time       {seconds:.3f} s"]
    if not args.no_spectrum:
        from scipy.linalg import eigh

        lo = float(eigh(K, eigvals_only=True, subset_by_index=[0, 0])[0])
        hi = float(eigh(K, eigvals_only=True, subset_by_index=[K.shape[0] - 1, K.shape[0] - 1])[0])
        summary.update(lambda_min=lo, lambda_max=hi)
        lines += [f"  lambda_min {lo:.10g}", f"  lambda_max {hi:.10g}"]
    if args.save:
        np.save(args.save, K)
        lines.append(f"  saved      {args.save}")
    _emit(args, summary, lines)
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

    p = sub.add_parser("ntk", help="empirical NTK Gram of a net on data: size, trace, time, spectrum",
                       description="Compute the empirical NTK Gram matrix (both layers by default) "
                                   "of the paper's network on a data set and report its size, "
                                   "trace, timing and extreme eigenvalues.")
    _add_data_args(p, n_default=500)
    _add_net_args(p)
    p.add_argument("--outputs", type=int, default=None,
                   help="output dimension d2 of a freshly initialized net (default: the data's)")
    p.add_argument("--layers", default="W,V", help="trained layers: W,V (default), W or V")
    p.add_argument("--no-spectrum", action="store_true", help="skip the eigenvalues")
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
