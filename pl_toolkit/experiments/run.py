"""The main job: train the paper's network on real data and check the theorem.

:func:`run_experiment` takes real data (scikit-learn's digits by default),
trains the network ``x -> V phi(W x)`` from a standard initialization with
gradient descent, measures every constant of the theory along the run,
evaluates every inequality of :mod:`derivations.check` at those constants
(as implied constants, never as "verified"), builds the theory ledger, and
writes a report directory (``report.md``, ``report.json``, PNG plots and the
trajectory itself).

The numeric core never imports SymPy; the theory check imports
:mod:`derivations` when the report is built.
"""

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from .._json import strict_json

__all__ = ["RunConfig", "RunResult", "run_experiment", "load_config", "default_width"]


def default_width(n, d0, factor):
    """Width ``ceil(factor * n^{3/2} / d0)``, the paper's eq. (21) scale times ``factor``.

    Parameters
    ----------
    n : int
        Number of training samples.
    d0 : int
        Input dimension.
    factor : float
        Multiple of the width scale ``n^{3/2} / d0``.

    Returns
    -------
    int
        The width ``d1`` (at least 1).

    Examples
    --------
    >>> from pl_toolkit.experiments import default_width
    >>> default_width(100, 16, 16.0)        # 16 * 1000 / 16
    1000
    >>> default_width(10, 64, 1.0)          # ceil(31.62... / 64)
    1
    """
    return max(1, int(math.ceil(factor * n ** 1.5 / d0)))


@dataclass(frozen=True)
class RunConfig:
    """Configuration of :func:`run_experiment` (every field is a CLI flag).

    Attributes
    ----------
    data : str
        ``"digits"`` (default; real data bundled with scikit-learn),
        ``"sphere"``, ``"teacher"``, or a ``.npz``/``.npy``/``.csv`` path.
    n : int
        Number of training samples.
    d0 : int
        Input dimension of synthetic data (digits have 64).
    d2 : int
        Output dimension of synthetic data (digits use 10 one-hot columns).
    activation : str
        Activation name.
    init : str or tuple
        ``"lecun"``, ``"he"``, ``"xavier"`` or ``(omega1, omega2)``.
    d1 : int or None
        Width; ``None`` means ``width_factor * n^{3/2} / d0``.
    width_factor : float
        Multiple of the paper's width scale ``n^{3/2}/d0`` (eq. 21).
    steps : int
        Maximum number of updates.
    lr : float or str
        Step size, or ``"1/beta"`` (inverse top Hessian eigenvalue at
        initialization) or ``"theory"`` (eq. 13).
    optimizer : str
        ``"gd"`` or ``"sgd"``.
    batch_size : int or None
        SGD batch size.
    track_every : int
        Cadence of the expensive tracked quantities (eigen-solves,
        Hessian, laziness); the cheap ones are recorded at every step.
    stop_fraction : float
        Stop once ``h <= stop_fraction * h0``.
    seed : int
        Seed of the weights (and of SGD batches).
    data_seed : int
        Seed of the data subsample.
    lemma1_samples : int
        Random points of the Lemma-1 ball at which the Jacobian's extreme
        singular values are measured.
    out : str
        Report directory.

    Examples
    --------
    >>> import dataclasses
    >>> from pl_toolkit.experiments import RunConfig
    >>> cfg = RunConfig()
    >>> cfg.data, cfg.n, cfg.d1, cfg.lr
    ('digits', 100, None, '1/beta')
    >>> small = dataclasses.replace(cfg, data="sphere", n=8, d0=4, d1=64)
    >>> small.n, small.d1, small.optimizer
    (8, 64, 'gd')
    """

    data: str = "digits"
    n: int = 100
    d0: int = 16
    d2: int = 1
    activation: str = "gelu"
    init: object = "lecun"
    d1: object = None
    width_factor: float = 16.0
    steps: int = 1000
    lr: object = "1/beta"
    optimizer: str = "gd"
    batch_size: object = None
    track_every: int = 20
    stop_fraction: float = 1e-6
    seed: int = 0
    data_seed: int = 0
    lemma1_samples: int = 4
    out: str = "pl_report"


def load_config(path):
    """Read a :class:`RunConfig` from a TOML or JSON file.

    Parameters
    ----------
    path : str
        ``.toml`` or ``.json`` file whose keys are :class:`RunConfig`
        fields (TOML needs Python >= 3.11).

    Returns
    -------
    dict
        The fields found in the file.

    Raises
    ------
    ValueError
        Missing file, unknown extension, unknown keys, or a parse error.

    Examples
    --------
    >>> import json, os, shutil, tempfile
    >>> from pl_toolkit.experiments import RunConfig, load_config
    >>> tmp = tempfile.mkdtemp()
    >>> path = os.path.join(tmp, "job.json")
    >>> with open(path, "w") as fh:
    ...     json.dump({"data": "sphere", "n": 8, "init": [1.0, 0.5]}, fh)
    >>> cfg = load_config(path)
    >>> cfg == {"data": "sphere", "n": 8, "init": (1.0, 0.5)}
    True
    >>> RunConfig(**cfg).init
    (1.0, 0.5)
    >>> shutil.rmtree(tmp)
    """
    if not os.path.exists(path):
        raise ValueError(f"config file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".json":
            with open(path) as fh:
                data = json.load(fh)
        elif ext == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise ValueError("config: TOML needs Python >= 3.11; use a .json file") from None
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        else:
            raise ValueError(f"config file {path!r} must be .toml or .json")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"config file {path!r} is not valid: {exc}") from None
    except Exception as exc:
        if type(exc).__name__ == "TOMLDecodeError":
            raise ValueError(f"config file {path!r} is not valid TOML: {exc}") from None
        raise
    if not isinstance(data, dict):
        raise ValueError(f"config file {path!r} must hold a table of settings")
    known = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"config file {path!r} has unknown key(s) {unknown}; known: {sorted(known)}")
    if isinstance(data.get("init"), list):
        data["init"] = tuple(data["init"])
    return data


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_experiment` produced.

    Attributes
    ----------
    report : dict
        Everything written to ``report.json``.
    trajectory : Trajectory
        The training run.
    files : dict
        Paths of the files written, by role.

    Examples
    --------
    A tiny run (eight points on the sphere, twenty GD steps):

    >>> import json, shutil, tempfile
    >>> from pl_toolkit.experiments import run_experiment
    >>> out = tempfile.mkdtemp()
    >>> res = run_experiment(data="sphere", n=8, d0=4, d1=64, steps=20, track_every=10,
    ...                      lemma1_samples=1, out=out, progress=False)
    >>> sorted(res.files)[:4], res.trajectory.final_step
    (['distance', 'json', 'laziness', 'loss'], 20)
    >>> with open(res.files["json"]) as fh:
    ...     on_disk = json.load(fh)
    >>> on_disk["trajectory"] == res.report["trajectory"]
    True
    >>> shutil.rmtree(out)
    """

    report: dict
    trajectory: object = field(repr=False)
    files: dict


def _first_nonzero_hermite(coeffs, start=2, atol=1e-12):
    for t in range(start, len(coeffs)):
        if abs(coeffs[t]) > atol:
            return t
    return None


def _min_separation(X):
    G = X @ X.T
    sq = np.diag(G)[:, None] + np.diag(G)[None, :] - 2.0 * G
    np.fill_diagonal(sq, np.inf)
    return float(np.sqrt(max(float(np.min(sq)), 0.0)))


def _lemma1_samples(net, X, radius, count, seed):
    """Extreme singular values of grad Phi* at random points of the ball B(w0, radius)."""
    from ..ntk import ntk_gram

    if count <= 0 or not np.isfinite(radius) or radius <= 0 or X.shape[0] * net.d2 > 2000:
        return None
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x1E]))
    theta0 = net.parameters()
    lo, hi = math.inf, 0.0
    for _ in range(count):
        u = rng.standard_normal(theta0.size)
        u *= radius * rng.uniform() ** (1.0 / theta0.size) / np.linalg.norm(u)
        # One dense solve gives both extremes (sigma(grad Phi*)^2 = eig(K)).
        w = np.linalg.eigvalsh(ntk_gram(net.with_parameters(theta0 + u), X))
        lo = min(lo, math.sqrt(max(float(w[0]), 0.0)))
        hi = max(hi, math.sqrt(max(float(w[-1]), 0.0)))
    return dict(min_sigma_min=lo, max_sigma_max=hi, samples=count, radius=radius)


def _finite_or_none(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _summarize(traj, h0):
    s = {}
    loss_steps, loss = traj.series("loss")
    T = int(loss_steps[-1])
    hT = float(loss[-1])
    s.update(status=traj.status, steps=T, h0=h0, final_loss=hT,
             loss_ratio=hT / h0 if h0 > 0 else math.nan,
             observed_rate=(hT / h0) ** (1.0 / T) if (T > 0 and h0 > 0 and hT > 0) else math.nan)
    for name, how in (("lambda_min", min), ("pl_ratio", min), ("distance", max),
                      ("hessian_top", max), ("smoothness_secant", max), ("jacobian_secant", max),
                      ("laziness", max), ("sigma_min_features", min)):
        if name in traj and len(traj[name]):
            vals = np.asarray(traj[name], dtype=float)
            vals = vals[np.isfinite(vals)]
            s[f"{how.__name__}_{name}"] = float(how(vals)) if vals.size else math.nan
    if "path_length" in traj and len(traj["path_length"]):
        s["path_length"] = float(traj["path_length"][-1])
    if "inside_ball" in traj and len(traj["inside_ball"]):
        s["fraction_inside_ball"] = float(np.mean(traj["inside_ball"]))
    # PL ratio against 4 lambda_min at the steps where both were measured.
    if "lambda_min" in traj and "pl_ratio" in traj:
        ls, lv = traj.series("lambda_min")
        ps, pv = traj.series("pl_ratio")
        common, il, ip = np.intersect1d(ls, ps, return_indices=True)
        if common.size:
            ratio = pv[ip] / (4.0 * lv[il])
            s["min_pl_ratio_over_4_lambda_min"] = float(np.min(ratio))
    if "lambda_min" in traj and "sigma_min_features" in traj:
        ls, lv = traj.series("lambda_min")
        ss_, sv = traj.series("sigma_min_features")
        common, il, is_ = np.intersect1d(ls, ss_, return_indices=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = lv[il] / sv[is_] ** 2
        ratio = ratio[np.isfinite(ratio)]
        if ratio.size:
            s["min_ntk_ck_ratio"] = float(np.min(ratio))
    return s


def run_experiment(config=None, *, progress=True, **overrides):
    """Train, measure every constant, check the theorem, and write a report.

    Parameters
    ----------
    config : RunConfig or dict, optional
        Settings; defaults are the README's main job.
    progress : bool, default True
        Show tqdm progress bars.
    **overrides
        Fields of :class:`RunConfig` that replace those of ``config``.

    Returns
    -------
    RunResult
        The report dict, the trajectory and the paths written.

    Raises
    ------
    ValueError
        On bad configuration or data.

    Notes
    -----
    The report holds, in the paper's terms: the data premises
    (``sigma_max(X)^2`` against ``n/d0``, ``sigma_min(X^{*t})``), Lemma 3's
    constants (eq. 18), the Hermite coefficients ``c_0, c_t`` of
    ``x -> phi(omega1 x)``, the trajectory summary (rate, PL ratio against
    ``4 lambda_min(K_t)``, distance against ``rho_Phi``, smoothness,
    laziness), every row of :func:`derivations.check.check_theorems` and
    the theory ledger of :func:`derivations.ledger.theory_ledger`.

    Examples
    --------
    A tiny run in a temporary directory; the recorded initial loss is the
    loss of the initial network on the same data, recomputed here:

    >>> import shutil, tempfile
    >>> import numpy as np
    >>> from pl_toolkit import loss
    >>> from pl_toolkit.data import load_dataset
    >>> from pl_toolkit.experiments import run_experiment
    >>> out = tempfile.mkdtemp()
    >>> res = run_experiment(data="sphere", n=8, d0=4, d1=64, steps=20, track_every=10,
    ...                      lemma1_samples=1, out=out, progress=False)
    >>> ds = load_dataset("sphere", n=8, d0=4, seed=0)
    >>> t = res.report["trajectory"]
    >>> bool(np.isclose(t["h0"], loss(res.trajectory.initial_net, ds.X, ds.Y)))
    True
    >>> t["steps"], bool(t["final_loss"] < t["h0"])
    (20, True)
    >>> shutil.rmtree(out)
    """
    from .. import __version__
    from ..constants import lemma3_constants
    from ..data import load_dataset
    from ..hermite import hermite_coefficients
    from ..infinite_width import infinite_width_kernels
    from ..khatri_rao import sigma_min_khatri_rao
    from ..network import ShallowNet
    from ..ntk import loss
    from ..spectrum import lambda_min
    from ..training import train

    if config is None:
        cfg = RunConfig()
    elif isinstance(config, RunConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = RunConfig(**config)
    else:
        raise ValueError(f"config must be a RunConfig or dict, got {type(config).__name__}")
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in fields(RunConfig)})
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}")
        cfg = replace(cfg, **overrides)
    t_start = time.perf_counter()

    ds = load_dataset(cfg.data, n=cfg.n, d0=cfg.d0, d2=cfg.d2, seed=cfg.data_seed)
    X, Y = ds.X, ds.Y
    n, d0, d2 = ds.n, ds.d0, ds.d2
    d1 = default_width(n, d0, cfg.width_factor) if cfg.d1 is None else cfg.d1
    net0 = ShallowNet.init(d0, d1, d2, activation=cfg.activation, init=cfg.init, seed=cfg.seed)
    act = net0.activation
    h0 = loss(net0, X, Y)

    # Data premises (Section 2) and Hermite coefficients of x -> phi(omega1 x).
    coeffs = hermite_coefficients(act, 8, omega=net0.omega1)
    t = _first_nonzero_hermite(coeffs) or 2
    s_t = sigma_min_khatri_rao(X, t)
    sigma_max_X2 = float(np.linalg.norm(X, 2) ** 2)
    consts = lemma3_constants(net0, X)

    iw = infinite_width_kernels(X, act, net0.omega1, net0.omega2)
    lambda0 = float(lambda_min(iw.ntk).value)

    # Training with every tracked quantity.
    traj = train(net0, X, Y, steps=cfg.steps, lr=cfg.lr, optimizer=cfg.optimizer,
                 batch_size=cfg.batch_size, track="all",
                 track_every={"cheap": 1, "expensive": max(1, int(cfg.track_every))},
                 stop_loss=cfg.stop_fraction * h0, seed=cfg.seed, progress=progress)
    summary = _summarize(traj, h0)
    eta = traj.metadata["lr_value"]
    lemma1 = _lemma1_samples(net0, X, consts.rho_Phi_followup, cfg.lemma1_samples, cfg.seed)

    converged = traj.status == "converged"
    measured = dict(
        n=n, d0=d0, d1=d1, d2=d2, mu_Phi=consts.mu_Phi, nu_Phi=consts.nu_Phi,
        beta_Phi=consts.beta_Phi, beta_Phi_followup=consts.beta_Phi_followup,
        sigma_max_X=consts.sigma_max_X, sigma_min_khatri_rao=s_t, t=t, h0=h0, eta=float(eta),
        observed_rate=summary["observed_rate"], max_distance=summary.get("max_distance", 0.0),
        path_length=summary.get("path_length", 0.0),
        min_lambda_min=summary.get("min_lambda_min"), converged=converged,
        steps=summary["steps"], rho_Phi=consts.rho_Phi_followup,
        phi_dot_max=consts.phi_dot_max, phi_ddot_max=consts.phi_ddot_max,
        c_t=float(coeffs[t]), c0=float(coeffs[0]), sigma_max_phi=consts.sigma_max_features,
        final_loss=summary["final_loss"], min_pl_ratio=summary.get("min_pl_ratio"),
        smoothness_h=summary.get("max_hessian_top"),
        min_ntk_ck_ratio=summary.get("min_ntk_ck_ratio"),
    )
    if "lambda_min" in traj and len(traj["lambda_min"]):
        measured["lambda_min0"] = float(traj["lambda_min"][0])
    if lemma1:
        measured["lemma1_min_sigma_min"] = lemma1["min_sigma_min"]
        measured["lemma1_max_sigma_max"] = lemma1["max_sigma_max"]
    measured = {k: v for k, v in measured.items()
                if v is not None and (isinstance(v, bool) or math.isfinite(float(v)))}

    # Theory: every inequality as an implied constant, and the ledger.
    from derivations.check import check_theorems, records_to_markdown
    from derivations.ledger import theory_ledger

    records = check_theorems(measured)
    ledger = theory_ledger(n, d0, max(lambda0, np.finfo(float).tiny), _min_separation(X),
                           consts.sigma_max_X, max(s_t, np.finfo(float).tiny), d1,
                           converged=converged,
                           context=f"{ds.name}, {act.name}, init={cfg.init}")

    report = dict(
        format="pl_toolkit.report/1",
        config={k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        versions=dict(pl_toolkit=__version__, numpy=np.__version__),
        data=dict(name=ds.name, n=n, d0=d0, d2=d2, Y_fro=float(np.linalg.norm(Y)),
                  max_row_norm_error=float(np.max(np.abs(np.linalg.norm(X, axis=1) - 1.0))),
                  sigma_max_X_sq=sigma_max_X2, n_over_d0=n / d0,
                  sigma_max_X_sq_over_n_over_d0=sigma_max_X2 / (n / d0),
                  t=t, sigma_min_khatri_rao=s_t, min_separation=_min_separation(X)),
        network=dict(d0=d0, d1=d1, d2=d2, activation=act.name, init=cfg.init if isinstance(cfg.init, str)
                     else list(cfg.init), omega1=net0.omega1, omega2=net0.omega2,
                     width_over_n32_d0=d1 / (n ** 1.5 / d0), assumption2=act.assumption2,
                     assumption2_reason=act.assumption2_reason),
        hermite=dict(omega=net0.omega1, coefficients=[float(c) for c in coeffs], t=t),
        infinite_width=dict(lambda_min_ntk_per_width=lambda0),
        lemma3=consts.to_dict(),
        lemma1_samples=lemma1,
        trajectory=summary,
        eta=float(eta),
        measured=measured,
        checks=[asdict(r) for r in records],
        ledger=json.loads(ledger.to_json()),
    )
    os.makedirs(cfg.out, exist_ok=True)
    files = dict(json=os.path.join(cfg.out, "report.json"), markdown=os.path.join(cfg.out, "report.md"),
                 trajectory=os.path.join(cfg.out, "trajectory.npz"))
    traj.save(files["trajectory"])
    from ._report_plots import write_plots

    files.update(write_plots(traj, report, cfg.out))
    report["seconds"] = time.perf_counter() - t_start
    report["files"] = {k: os.path.basename(v) for k, v in files.items()}
    with open(files["json"], "w") as fh:
        json.dump(strict_json(report), fh, indent=2)
    with open(files["markdown"], "w") as fh:
        fh.write(_markdown(report, records_to_markdown(records), ledger.to_markdown()))
    return RunResult(report=report, trajectory=traj, files=files)


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return str(f)
    return f"{f:.4g}"


def summary_rows(report):
    """The short summary table printed by ``pl-toolkit run``: (label, value) pairs."""
    tr, l3, data, net = report["trajectory"], report["lemma3"], report["data"], report["network"]
    rows = [
        ("data", f"{data['name']} (n={data['n']}, d0={data['d0']}, d2={data['d2']})"),
        ("network", f"d1={net['d1']} ({_fmt(net['width_over_n32_d0'])} x n^1.5/d0), "
                    f"{net['activation']}, {net['init']}"),
        ("status", f"{tr['status']} after {tr['steps']} steps, eta={_fmt(report['eta'])}"),
        ("loss h0 -> hT", f"{_fmt(tr['h0'])} -> {_fmt(tr['final_loss'])} "
                          f"(rate {_fmt(tr['observed_rate'])}/step)"),
        ("mu_Phi, nu_Phi", f"{_fmt(l3['mu_Phi'])}, {_fmt(l3['nu_Phi'])}"),
        ("beta_Phi, rho_Phi", f"{_fmt(l3['beta_Phi'])}, {_fmt(l3['rho_Phi'])} "
                              f"(follow-up {_fmt(l3['beta_Phi_followup'])}, "
                              f"{_fmt(l3['rho_Phi_followup'])})"),
        ("min lambda_min(K_t)", _fmt(tr.get("min_lambda_min"))),
        ("min PL ratio / 4 lambda_min", _fmt(tr.get("min_pl_ratio_over_4_lambda_min"))),
        ("max distance / rho_Phi", _fmt(tr.get("max_distance", math.nan) / l3["rho_Phi_followup"]
                                        if l3["rho_Phi_followup"] > 0 else math.nan)),
        ("max Hessian eigenvalue", _fmt(tr.get("max_hessian_top"))),
        ("laziness ||K_t-K_0||/||K_0||", _fmt(tr.get("max_laziness"))),
    ]
    return rows


def _markdown(report, checks_md, ledger_md):
    cfg = report["config"]
    lines = ["# pl_toolkit report", "",
             "Song et al., *Subquadratic Overparameterization for Shallow Neural Networks* "
             "(NeurIPS 2021): every constant of the PL argument measured on one run, and every "
             "inequality evaluated at those constants. Statements with O(.) constants are never "
             "reported as verified: the table gives the constant they would need.", "",
             "## Summary", "", "| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary_rows(report)]
    d = report["data"]
    lines += ["", "## Data premises (Section 2)", "", "| quantity | measured | heuristic |", "|---|---|---|",
              f"| sigma_max(X)^2 | {_fmt(d['sigma_max_X_sq'])} | n/d0 = {_fmt(d['n_over_d0'])} |",
              f"| sigma_min(X^{{*{d['t']}}}) | {_fmt(d['sigma_min_khatri_rao'])} | 1 |",
              f"| max abs(norm(x_i) - 1) | {_fmt(d['max_row_norm_error'])} | 0 |",
              f"| norm(Y)_F | {_fmt(d['Y_fro'])} | <= 1 |", ""]
    lines += ["## Lemma 3 constants (eq. 18)", "", "| constant | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in report["lemma3"].items()]
    h = report["hermite"]
    lines += ["", f"Hermite coefficients of x -> phi(omega1 x), omega1 = {_fmt(h['omega'])}: "
              + ", ".join(f"c{k} = {_fmt(c)}" for k, c in enumerate(h["coefficients"]))
              + f"; t = {h['t']} (smallest t >= 2 with c_t != 0).", ""]
    lines += ["## Trajectory", "", "| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in report["trajectory"].items()]
    lines += ["", "## Theorem checks", "", checks_md.strip(), "", "## Theory ledger", "",
              ledger_md.strip(), "", "## Plots", ""]
    for key, name in report.get("files", {}).items():
        if name.endswith(".png"):
            lines.append(f"![{key}]({name})")
    lines += ["", "## Configuration", "", "```json", json.dumps(strict_json(cfg), indent=2), "```", ""]
    return "\n".join(lines)
