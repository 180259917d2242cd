"""The main job: train the paper's network on real data and check the theorem.

:func:`run_experiment` takes real data (scikit-learn's digits by default),
trains the network ``x -> V phi(W x)`` from a standard initialization with
gradient descent, measures every constant of the theory along the run,
evaluates every inequality of :mod:`derivations.check` at those constants
(as implied constants, never as "verified"), builds the theory ledger, and
writes a report directory (``report.md``, ``report.json``, the figures -- PNG
at 150 dpi, or SVG or PDF -- and the trajectory itself).

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
from ..convergence import DEFAULT_EPS, ConvergenceCriterion
from ..formulas import eq21_width
from ..step_size import check_step_rule, resolve_step_size
from ._common import claim_output_dir, output_file
from ._plots import PLOT_FORMATS

__all__ = ["RunConfig", "RunResult", "run_experiment", "load_config", "default_width",
           "auto_track_every"]


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
    return max(1, int(math.ceil(eq21_width(n, d0, factor))))


#: Step-size rules of the main job (:mod:`pl_toolkit.step_size`).
RUN_RULES = ("1/beta", "theory")
#: Files the main job writes into its ``out`` folder (figures: ``*.png`` by default).
_OUT_FILES = ("report.json", "report.md", "trajectory.npz", "data.npz", "*.png")


def _out_files(plot_format):
    """The files of :data:`_OUT_FILES`, the figures in ``plot_format``."""
    return _OUT_FILES[:-1] + (f"*.{plot_format}",)
#: Built-in data sets that draw their own inputs (``--d0``/``--d2`` apply to them).
SYNTHETIC = ("sphere", "teacher")
#: Sample count of built-in data when ``n`` is not given.
BUILTIN_N = 256
#: Input and output dimension of synthetic data when not given.
SYNTHETIC_D0, SYNTHETIC_D2 = 64, 1
#: The band within which the data premises count as satisfied: the paper's
#: heuristics ``sigma_max(X)^2 ~ n/d0`` and ``s_t ~ 1`` hold up to the
#: random-matrix factor ``(1 + sqrt(d0/n))^2`` (at most 4 for n >= d0).
PREMISE_BAND = dict(sigma_ratio_max=5.0, s_t_min=0.2)


def auto_track_every(n, d0, d1, d2, minimum=20):
    """Default cadence of the expensive tracked quantities.

    Parameters
    ----------
    n, d0, d1, d2 : int
        Sizes.
    minimum : int, default 20
        Smallest cadence.

    Returns
    -------
    int
        ``max(minimum, ceil(C_track / C_step))``: the number of GD steps
        that cost as many flops as one round of tracking.

    Notes
    -----
    One GD step costs about ``C_step = 4 n d1 (d0 + d2)`` flops (forward
    and backward GEMMs).  One round of tracking forms the dense NTK
    (``2 (n d2)^2 d1``), takes its smallest eigenvalue (``(n d2)^3``) and
    runs about 40 Jacobian or Hessian products in its Lanczos solves
    (``40 C_step``).

    Examples
    --------
    >>> auto_track_every(256, 64, 512, 1)
    43
    >>> auto_track_every(16, 8, 64, 1)
    41
    """
    N = n * d2
    step = 4.0 * n * d1 * (d0 + d2)
    track = 2.0 * N * N * d1 + float(N) ** 3 + 40.0 * step
    return max(int(minimum), int(math.ceil(track / step)))


def _check_int(value, name, minimum=0, maximum=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        rng = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {rng}, got {value}")
    return int(value)


def _check_float(value, name, *, lo=0.0, hi=math.inf, open_lo=True, open_hi=True):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    bad = (not math.isfinite(v) or (v <= lo if open_lo else v < lo)
           or (v >= hi if open_hi else v > hi))
    if bad:
        left, right = ("(" if open_lo else "["), (")" if open_hi else "]")
        raise ValueError(f"{name} must lie in {left}{lo:g}, {hi:g}{right}, got {value!r}")
    return v


@dataclass(frozen=True)
class RunConfig:
    """Configuration of :func:`~pl_toolkit.experiments.run_experiment` (every field is a CLI flag).

    Every field is validated when the configuration is made, before any
    data are loaded or any work is done; an invalid value raises a
    ``ValueError`` that names the field.

    Attributes
    ----------
    data : str
        ``"sphere"`` (default: inputs uniform on the unit sphere, Gaussian
        labels with ``||Y||_F = 1``, the paper's Section 2 setting),
        ``"teacher"`` (teacher-student on the sphere), ``"digits"`` (real,
        bundled with scikit-learn), ``"mnist"`` (real, the ``mnist``
        extra), or a ``.npz``/``.npy``/``.csv`` path.
    n : int, optional
        Training samples (built-in data: 256; files: every row).
    d0, d2 : int, optional
        Input and output dimension of synthetic data (64 and 1); refused
        for real data, whose dimensions are their own.
    normalize : {"unit", "none"}, optional
        Rows of real data scaled to unit norm (default ``"unit"``, Section
        2's ``||x_i|| = 1``); refused for synthetic data.
    label_scale : {"unit", "none"}, optional
        Labels of real data scaled to ``||Y||_F = 1`` (default: as
        ``normalize``); refused for synthetic data.
    label_columns : int, optional
        Trailing target columns of a ``.csv`` file (default 1).
    csv_header : bool, optional
        Whether a ``.csv`` file's first line is a header (detected by
        default).
    activation : str
        Activation name.
    init : str or tuple
        ``"lecun"``, ``"he"``, ``"xavier"`` or ``(omega1, omega2)``.
    d1 : int, optional
        Width; ``None`` means ``width_factor * n^{3/2} / d0`` (eq. 21).
    width_factor : float
        Multiple of the paper's width scale ``n^{3/2}/d0``.
    steps : int
        Step budget.
    lr : float or str
        Step size, or ``"1/beta"`` (inverse top Hessian eigenvalue at
        initialization) or ``"theory"`` (eq. 13).
    optimizer : {"gd", "sgd"}
        Full-batch GD (eq. 12) or minibatch SGD.
    batch_size : int, optional
        SGD batch size.
    track_every : int, optional
        Cadence of the expensive tracked quantities (eigen-solves,
        Hessian, laziness); the cheap ones are recorded at every step.  By
        default the cadence is chosen so that tracking costs about as many
        flops as the steps between two measurements (at least every 20
        steps; ``auto_track_every``).
    eps : float
        Convergence criterion ``h <= eps ||Y||_F^2``
        (:class:`pl_toolkit.ConvergenceCriterion`).
    stall_window : int, optional
        Stop as ``"stalled"`` when the loss falls by less than 0.1% over
        this many steps (``None``: never).
    seed : int
        Seed of the weights (and of SGD batches).
    data_seed : int
        Seed of the data draw or subsample.
    lemma1_directions : int, optional
        Random directions of the empirical Lemma 1 radius search (default
        8 when the NTK has at most 1000 rows, 2 above: every probe is a
        dense NTK eigen-solve).
    out : str
        Report directory.
    plot_format : {"png", "svg", "pdf"}
        File format of the figures (PNG at 150 dpi by default).
    overwrite : bool
        Allow writing into a non-empty folder that this toolkit did not
        write.

    Examples
    --------
    >>> import dataclasses
    >>> from pl_toolkit.experiments import RunConfig
    >>> cfg = RunConfig()
    >>> cfg.data, cfg.n, cfg.d1, cfg.lr, cfg.eps
    ('sphere', None, None, '1/beta', 1e-06)
    >>> small = dataclasses.replace(cfg, n=8, d0=4, d1=64)
    >>> small.n, small.d1, small.optimizer
    (8, 64, 'gd')
    >>> RunConfig(track_every=0)
    Traceback (most recent call last):
        ...
    ValueError: track_every must be an integer >= 1, got 0
    """

    data: str = "sphere"
    n: object = None
    d0: object = None
    d2: object = None
    normalize: object = None
    label_scale: object = None
    label_columns: object = None
    csv_header: object = None
    activation: str = "gelu"
    init: object = "lecun"
    d1: object = None
    width_factor: float = 8.0
    steps: int = 20000
    lr: object = "1/beta"
    optimizer: str = "gd"
    batch_size: object = None
    track_every: object = None
    eps: float = DEFAULT_EPS
    stall_window: object = 2000
    seed: int = 0
    data_seed: int = 0
    lemma1_directions: object = None
    out: str = "pl_report"
    plot_format: str = "png"
    overwrite: bool = False

    def __post_init__(self):
        from ..data import data_kind

        if not isinstance(self.data, str) or not self.data:
            raise ValueError(f"data must be a name or a path, got {self.data!r}")
        kind = data_kind(self.data)
        if self.n is not None:
            _check_int(self.n, "n", 1)
        for name in ("d0", "d2"):
            v = getattr(self, name)
            if v is not None:
                _check_int(v, name, 1)
                if kind not in SYNTHETIC:
                    raise ValueError(f"{name} applies only to synthetic data (sphere, teacher); "
                                     f"{self.data} has its own dimensions")
        for name in ("normalize", "label_scale"):
            v = getattr(self, name)
            if v is not None:
                if v not in ("unit", "none"):
                    raise ValueError(f"{name} must be 'unit' or 'none', got {v!r}")
                if kind in SYNTHETIC:
                    raise ValueError(f"{name} does not apply to synthetic data ({self.data}: "
                                     "inputs on the unit sphere, labels with ||Y||_F = 1)")
        is_csv = kind == "file" and self.data.lower().endswith(".csv")
        if self.label_columns is not None:
            _check_int(self.label_columns, "label_columns", 0)
            if not is_csv:
                raise ValueError("label_columns applies only to .csv data files")
        if self.csv_header is not None:
            if not isinstance(self.csv_header, bool):
                raise ValueError(f"csv_header must be true or false, got {self.csv_header!r}")
            if not is_csv:
                raise ValueError("csv_header applies only to .csv data files")
        if not isinstance(self.activation, str):
            raise ValueError(f"activation must be a name, got {self.activation!r}")
        init = self.init
        if isinstance(init, list):
            init = tuple(init)
            object.__setattr__(self, "init", init)
        if isinstance(init, tuple):
            if len(init) != 2:
                raise ValueError(f"init must be a name or (omega1, omega2), got {init!r}")
            for name, v in zip(("omega1", "omega2"), init):
                _check_float(v, f"init {name}")
        elif init not in ("lecun", "he", "xavier"):
            raise ValueError(f"init must be 'lecun', 'he', 'xavier' or (omega1, omega2), "
                             f"got {init!r}")
        if self.d1 is not None:
            _check_int(self.d1, "d1", 1)
        _check_float(self.width_factor, "width_factor")
        _check_int(self.steps, "steps", 1)
        if isinstance(self.lr, str):
            check_step_rule(self.lr, "lr", RUN_RULES)
        else:
            _check_float(self.lr, "lr")
        if self.optimizer not in ("gd", "sgd"):
            raise ValueError(f"optimizer must be 'gd' or 'sgd', got {self.optimizer!r}")
        if self.batch_size is not None:
            _check_int(self.batch_size, "batch_size", 1)
            if self.optimizer != "sgd":
                raise ValueError("batch_size applies only to optimizer 'sgd'")
        if self.track_every is not None:
            _check_int(self.track_every, "track_every", 1)
        _check_float(self.eps, "eps", hi=1.0)
        if self.stall_window is not None:
            _check_int(self.stall_window, "stall_window", 1)
        _check_int(self.seed, "seed", 0)
        _check_int(self.data_seed, "data_seed", 0)
        if self.lemma1_directions is not None:
            _check_int(self.lemma1_directions, "lemma1_directions", 0, 1000)
        if not isinstance(self.out, str) or not self.out:
            raise ValueError(f"out must be a folder path, got {self.out!r}")
        if self.plot_format not in PLOT_FORMATS:
            raise ValueError(f"plot_format must be one of {', '.join(PLOT_FORMATS)}, got "
                             f"{self.plot_format!r}")
        if not isinstance(self.overwrite, bool):
            raise ValueError(f"overwrite must be true or false, got {self.overwrite!r}")

    @property
    def kind(self):
        """The kind of data (``"sphere"``, ``"teacher"``, ``"digits"``, ``"mnist"``, ``"file"``)."""
        from ..data import data_kind

        return data_kind(self.data)


def load_config(path):
    """Read a :class:`RunConfig` from a TOML or JSON file.

    Parameters
    ----------
    path : str
        ``.toml`` or ``.json`` file whose keys are :class:`RunConfig`
        fields (TOML through ``tomllib``, or ``tomli`` on Python 3.10).

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
            except ImportError:  # Python 3.10: the same parser, installed as tomli
                import tomli as tomllib
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
        raise ValueError(f"config file {path!r} has unknown key(s) {unknown}; "
                         f"known: {sorted(known)}")
    if isinstance(data.get("init"), list):
        data["init"] = tuple(data["init"])
    return data


@dataclass(frozen=True)
class RunResult:
    """What :func:`~pl_toolkit.experiments.run_experiment` produced.

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
    ...                      lemma1_directions=1, out=out, progress=False)
    >>> sorted(res.files)[:5], res.trajectory.final_step
    (['data', 'distance', 'json', 'laziness', 'lemma1'], 20)
    >>> with open(res.files["json"]) as fh:
    ...     on_disk = json.load(fh)
    >>> on_disk["trajectory"] == res.report["trajectory"]
    True
    >>> shutil.rmtree(out)
    """

    report: dict
    trajectory: object = field(repr=False)
    files: dict


def first_nonzero_hermite(coeffs, start=2, atol=1e-12):
    """Order ``t >= start`` of the first Hermite coefficient with ``|c_t| > atol`` (or None).

    The paper's ``t`` (Assumption 2): the Khatri-Rao power ``X^{*t}`` whose
    smallest singular value enters Lemma 3.

    Examples
    --------
    >>> first_nonzero_hermite([0.5, 0.5, 0.0, 0.1]), first_nonzero_hermite([1.0, 0.0, 0.0])
    (3, None)
    """
    for t in range(start, len(coeffs)):
        if abs(coeffs[t]) > atol:
            return t
    return None


def min_separation(X):
    """Smallest distance ``min_{i != j} ||x_i - x_j||`` between two rows of ``X`` (``delta``).

    Examples
    --------
    >>> float(min_separation(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])))
    1.0
    """
    G = X @ X.T
    sq = np.diag(G)[:, None] + np.diag(G)[None, :] - 2.0 * G
    np.fill_diagonal(sq, np.inf)
    return float(np.sqrt(max(float(np.min(sq)), 0.0)))


def _finite_or_none(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _data_premises(X, t):
    """Section 2's premises: sigma_max(X)^2 against n/d0, and s_t = sigma_min(X^{*t})."""
    import scipy.linalg as sla

    from ..khatri_rao import khatri_rao_gram

    n, d0 = X.shape
    sigma_max_X = float(sla.svdvals(X, check_finite=False)[0])
    G = khatri_rao_gram(X, t)
    w = sla.eigh(G, eigvals_only=True, check_finite=False)
    top = max(float(w[-1]), 0.0)
    s_t = math.sqrt(max(float(w[0]), 0.0))
    # eigh is backward stable: lambda_min is resolved to ~ n eps ||G||; below the
    # square root of that, s_t is indistinguishable from 0 (khatri_rao.sigma_min_khatri_rao)
    floor = math.sqrt(n * np.finfo(float).eps * top)
    limit = math.comb(d0 + t - 1, t)
    ratio = sigma_max_X ** 2 / (n / d0)
    band = PREMISE_BAND
    bad = []
    if ratio > band["sigma_ratio_max"]:
        bad.append(f"sigma_max(X)^2 / (n/d0) = {ratio:.3g} (heuristic ~1, accepted <= "
                   f"{band['sigma_ratio_max']:g})")
    if s_t < band["s_t_min"]:
        bad.append(f"s_t = sigma_min(X^{{*{t}}}) = {s_t:.3g} (heuristic ~1, accepted >= "
                   f"{band['s_t_min']:g})" + (f"; n = {n} > C(d0+t-1, t) = {limit}, so s_t = 0"
                                              if n > limit else ""))
    line = ("data premises within the paper's heuristics up to the random-matrix factor: "
            f"sigma_max(X)^2/(n/d0) = {ratio:.3g}, s_t = {s_t:.3g}" if not bad else
            "premises violated by: " + "; ".join(bad))
    return dict(sigma_max_X=sigma_max_X, sigma_max_X_sq=sigma_max_X ** 2, n_over_d0=n / d0,
                sigma_max_X_sq_over_n_over_d0=ratio, t=t, s_t=s_t, s_t_floor=floor,
                khatri_rao_limit=limit, band=dict(band), within_heuristics=not bad,
                violations=bad, line=line,
                max_row_norm_error=float(np.max(np.abs(np.linalg.norm(X, axis=1) - 1.0))),
                min_separation=min_separation(X))


def _summarize(traj, h0, rho):
    """Trajectory summary; every comparison is made at the same step."""
    s = {}
    loss_steps, loss = traj.series("loss")
    T = int(loss_steps[-1])
    hT = float(loss[-1])
    s.update(status=traj.status, steps=T, h0=h0, final_loss=hT,
             loss_ratio=hT / h0 if h0 > 0 else math.nan,
             observed_rate=(hT / h0) ** (1.0 / T) if (T > 0 and h0 > 0 and hT > 0) else math.nan)
    if traj.metadata.get("diverged_at") is not None:
        s["diverged_at"] = int(traj.metadata["diverged_at"])
    pos = loss_steps > 0
    if h0 > 0 and np.any(pos):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            roots = (np.maximum(loss[pos], 0.0) / h0) ** (1.0 / loss_steps[pos])
        roots = roots[np.isfinite(roots)]
        if roots.size:
            s["max_root_ratio"] = float(np.max(roots))
    for name, how in (("lambda_min", min), ("pl_ratio", min), ("distance", max),
                      ("hessian_top", max), ("smoothness_secant", max), ("jacobian_secant", max),
                      ("laziness", max), ("sigma_min_features", min), ("contraction", max)):
        if name in traj and len(traj[name]):
            vals = np.asarray(traj[name], dtype=float)
            vals = vals[np.isfinite(vals)]
            if vals.size:
                s[f"{how.__name__}_{name}"] = float(how(vals))
    if "path_length" in traj and len(traj["path_length"]):
        s["path_length"] = float(traj["path_length"][-1])
    if "distance" in traj and len(traj["distance"]) > 1:
        ds_, dv = traj.series("distance")
        s["first_step_distance"] = float(dv[ds_ == 1][0]) if np.any(ds_ == 1) else None
    if "lambda_min" in traj and "pl_ratio" in traj:
        ls, lv = traj.series("lambda_min")
        ps, pv = traj.series("pl_ratio")
        common, il, ip = np.intersect1d(ls, ps, return_indices=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = pv[ip] / (4.0 * lv[il])
        ratio = ratio[np.isfinite(ratio)]
        if ratio.size:
            s["min_pl_over_4lmin"] = float(np.min(ratio))
    if "lambda_min" in traj and "distance" in traj and rho is not None and rho > 0:
        ls, lv = traj.series("lambda_min")
        ds_, dv = traj.series("distance")
        common, il, id_ = np.intersect1d(ls, ds_, return_indices=True)
        inside = (common >= 1) & (dv[id_] <= rho)
        s["tracked_inside"] = int(np.sum(inside))
        if np.any(inside):
            s["min_lambda_min_inside"] = float(np.min(lv[il][inside]))
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


class _IterateRecorder:
    """Keeps the flat parameters at a fixed stride of steps (for the Lemma 1 path search)."""

    def __init__(self, layers, stride):
        self.layers, self.stride, self.path = layers, stride, []

    def __call__(self, t, net, values):
        if t > 0 and t % self.stride == 0:
            self.path.append((t, net.parameters(self.layers)))


def _memory_check(n, d0, d1, d2, width_factor=None):
    """Refuse sizes whose features alone exceed the machine's memory.

    ``width_factor``: the factor the width came from (``d1`` not given), named
    in the message.
    """
    need = 8.0 * (4.0 * n * d1 + d1 * (d0 + d2) * 8)
    try:
        avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return
    if need > avail:
        origin = ("" if width_factor is None
                  else f"width_factor (--width-factor) = {width_factor:g} gives ")
        raise ValueError(f"{origin}d1 = {d1} needs about {need / 2 ** 30:.3g} GiB for the "
                         "features and "
                         f"parameters of n = {n} samples; this machine has "
                         f"{avail / 2 ** 30:.3g} GiB")


def _prepare(cfg, log):
    """Everything before training: data, net, premises, constants (user errors raise here)."""
    from ..data import load_dataset

    kind = cfg.kind
    n = cfg.n if cfg.n is not None else (BUILTIN_N if kind != "file" else None)
    ds = load_dataset(cfg.data, n=n,
                      d0=SYNTHETIC_D0 if cfg.d0 is None else cfg.d0,
                      d2=SYNTHETIC_D2 if cfg.d2 is None else cfg.d2, seed=cfg.data_seed,
                      normalize=cfg.normalize, label_scale=cfg.label_scale,
                      label_columns=1 if cfg.label_columns is None else cfg.label_columns,
                      header=cfg.csv_header)
    steps = list(ds.info.get("preprocessing", []))
    if ds.info.get("header"):
        steps.insert(0, f"header line skipped: {ds.info['header']!r}")
    for line in steps:
        log(f"data: {line}")
    return ds, steps


def run_experiment(config=None, *, progress=True, log=None, **overrides):
    """Train, measure every constant, check the theorems, and write a report.

    Parameters
    ----------
    config : RunConfig or dict, optional
        Settings; defaults are the README's main job.
    progress : bool, default True
        Show tqdm progress bars.
    log : callable, optional
        ``log(line)`` receives one line for each thing done to the data
        (normalization, label scaling, a skipped header) before training.
    **overrides
        Fields of :class:`RunConfig` that replace those of ``config``.

    Returns
    -------
    RunResult
        The report dict, the trajectory and the paths written.

    Raises
    ------
    ValueError
        On bad configuration or data, before any training.  Once training
        has started the run always writes its report: a divergence, a stall
        or a failed premise becomes a status or a ``not-applicable`` row.

    Notes
    -----
    The report holds, in the paper's terms: the data premises
    (``sigma_max(X)^2`` against ``n/d0``, ``s_t = sigma_min(X^{*t})``),
    Lemma 3's constants (eq. 18) in the paper's form (the one every check
    uses) and the follow-up's, the Hermite coefficients ``c_k`` of
    ``x -> phi(omega1 x)``, the Jacobian's extreme singular values at
    ``w0``, the trajectory summary, the empirical Lemma 1 radius
    (``pl_toolkit.locality.lemma1_radius``), every row of
    :func:`derivations.check.check_theorems` with its role and status, and
    the theory ledger of :func:`derivations.ledger.theory_ledger`.
    Convergence is :class:`pl_toolkit.ConvergenceCriterion`,
    ``h <= eps ||Y||_F^2``.

    Examples
    --------
    A tiny run in a temporary directory; the recorded initial loss is the
    loss of the initial network on the stored data:

    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, loss
    >>> from pl_toolkit.experiments import run_experiment
    >>> out = tempfile.mkdtemp()
    >>> res = run_experiment(n=8, d0=4, d1=64, steps=20, track_every=10,
    ...                      lemma1_directions=1, out=out, progress=False)
    >>> with np.load(os.path.join(out, "data.npz")) as f:
    ...     X, Y = f["X"], f["Y"]
    >>> t = res.report["trajectory"]
    >>> bool(np.isclose(t["h0"], loss(res.trajectory.initial_net, X, Y)))
    True
    >>> t["steps"], bool(t["final_loss"] < t["h0"])
    (20, True)
    >>> sorted({c["role"] for c in res.report["checks"]})
    ['conclusion', 'hypothesis', 'identity']
    >>> shutil.rmtree(out)
    """
    from .. import __version__
    from ..constants import lemma3_constants
    from ..hermite import hermite_coefficients
    from ..locality import DENSE_ROWS, gd_step, lemma1_radius
    from ..network import ShallowNet
    from ..ntk import loss
    from ..ntk_spectrum import jacobian_singular_values
    from ..training import train

    if config is None:
        cfg = RunConfig()
    elif isinstance(config, RunConfig):
        cfg = config
    elif isinstance(config, dict):
        unknown = sorted(set(config) - {f.name for f in fields(RunConfig)})
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}")
        cfg = RunConfig(**config)
    else:
        raise ValueError(f"config must be a RunConfig or dict, got {type(config).__name__}")
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in fields(RunConfig)})
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}")
        cfg = replace(cfg, **overrides)
    log = log or (lambda line: None)
    t_start = time.perf_counter()
    criterion = ConvergenceCriterion(cfg.eps)

    # ------------------------------------------------------------ before training
    # Data and sizes are checked before the output folder is claimed, so a
    # refused run leaves nothing behind.
    ds, preprocessing = _prepare(cfg, log)
    X, Y = ds.X, ds.Y
    n, d0, d2 = ds.n, ds.d0, ds.d2
    d1 = default_width(n, d0, cfg.width_factor) if cfg.d1 is None else cfg.d1
    _memory_check(n, d0, d1, d2, None if cfg.d1 is not None else cfg.width_factor)
    claim_output_dir(cfg.out, tool="run", files=_out_files(cfg.plot_format),
                     overwrite=cfg.overwrite)
    net0 = ShallowNet.init(d0, d1, d2, activation=cfg.activation, init=cfg.init, seed=cfg.seed)
    act = net0.activation
    h0 = float(loss(net0, X, Y))
    if not math.isfinite(h0):
        raise ValueError(f"the initial loss is {h0}: the data or the initialization overflow "
                         "float64")
    coeffs = hermite_coefficients(act, 8, omega=net0.omega1)
    t = first_nonzero_hermite(coeffs) or 2
    premises = _data_premises(X, t)
    log(premises["line"])
    consts = lemma3_constants(net0, X)
    mu_ok = consts.mu_Phi > 0
    if cfg.lr == "theory" and not mu_ok:
        raise ValueError(f"lr='theory' (eq. 13) needs mu_Phi > 0, but mu_Phi = 0 (d1 = {d1}, "
                         f"n = {n}); give a number or '1/beta'")
    spec0 = jacobian_singular_values(net0, X)

    # ------------------------------------------------------------------ training
    track_every = (auto_track_every(n, d0, d1, d2) if cfg.track_every is None
                   else cfg.track_every)
    lemma1_directions = ((8 if n * d2 <= 1000 else 2) if cfg.lemma1_directions is None
                         else cfg.lemma1_directions)
    stride = max(track_every, -(-cfg.steps // 200))
    recorder = _IterateRecorder(("W", "V"), stride)
    # the step size is a number before training, from the quantities at hand
    eta0 = resolve_step_size(cfg.lr, constants=consts, h0=h0, net=net0, X=X, Y=Y,
                             seed=cfg.seed)
    traj = train(net0, X, Y, steps=cfg.steps, lr=eta0, optimizer=cfg.optimizer,
                 batch_size=cfg.batch_size, track="all",
                 track_every={"cheap": 1, "expensive": track_every},
                 stop_loss=criterion.target(Y), seed=cfg.seed, progress=progress,
                 callback=recorder, stall_window=cfg.stall_window, constants=consts)
    files = dict(json=os.path.join(cfg.out, "report.json"),
                 markdown=os.path.join(cfg.out, "report.md"),
                 trajectory=os.path.join(cfg.out, "trajectory.npz"),
                 data=os.path.join(cfg.out, "data.npz"))
    # the run is on disk before any analysis
    with output_file(cfg.out, "trajectory.npz") as tmp:
        traj.save(tmp)
    with output_file(cfg.out, "data.npz") as tmp:
        np.savez(tmp, X=X, Y=Y)

    try:
        # ------------------------------------------------------------------ analysis
        rho = consts.rho_Phi if (mu_ok and math.isfinite(consts.rho_Phi)) else None
        summary = _summarize(traj, h0, rho)
        eta = float(traj.metadata["lr_value"])
        lemma1 = None
        lemma1_note = None
        if not mu_ok or rho is None or not rho > 0:
            lemma1_note = "not measured: mu_Phi = 0 or rho_Phi not finite"
        elif n * d2 > DENSE_ROWS:
            lemma1_note = f"not measured: n d2 = {n * d2} > {DENSE_ROWS}"
        elif not math.isfinite(consts.nu_Phi):
            lemma1_note = "not measured: nu_Phi is not finite (Assumption 2 fails)"
        else:
            path = [(0, net0.parameters())] + recorder.path
            last = (traj.final_step, traj.final_net.parameters())
            if last[0] > path[-1][0]:
                path.append(last)
            # at most 24 stored iterates are probed; bisection on t refines between them
            if len(path) > 25:
                keep = np.unique(np.linspace(1, len(path) - 1, 24).round().astype(int))
                path = [path[0]] + [path[i] for i in keep]
            step = gd_step(net0, X, Y, eta) if cfg.optimizer == "gd" else None
            lemma1 = lemma1_radius(net0, X, mu=consts.mu_Phi, nu=consts.nu_Phi, rho=rho,
                                   directions=lemma1_directions, path=path[1:],
                                   path_step=step,
                                   seed=np.random.SeedSequence([cfg.seed, 0x1E]))
        converged = traj.status == "converged"
        theta0_norm = float(np.linalg.norm(net0.parameters()))
        lmin0, lmax0 = float(spec0.lambda_min.value), float(spec0.lambda_max.value)

        def traced(key):
            # A trajectory summary is undefined (None) when the run diverged
            # before it could be measured or did not track it; every other
            # measured value goes to the record as it is, and the record
            # refuses a non-finite one by name.
            return _finite_or_none(summary.get(key))

        measured = dict(
            n=n, d0=d0, d1=d1, d2=d2, sigma_max_X=premises["sigma_max_X"], s_t=premises["s_t"],
            s_t_floor=premises["s_t_floor"], t=t, max_row_norm_error=premises["max_row_norm_error"],
            Y_fro=float(np.linalg.norm(Y)), assumption2=bool(act.assumption2),
            assumption2_reason=act.assumption2_reason or "",
            phi_dot_max=_finite_or_none(act.phi_dot_max),
            phi_ddot_max=_finite_or_none(act.phi_ddot_max),
            c_t=float(coeffs[t]), c0=float(coeffs[0]), omega1=net0.omega1, omega2=net0.omega2,
            mu_Phi=consts.mu_Phi, nu_Phi=_finite_or_none(consts.nu_Phi),
            beta_Phi=_finite_or_none(consts.beta_Phi),
            beta_Phi_followup=_finite_or_none(consts.beta_Phi_followup),
            rho_Phi=rho, rho_Phi_followup=(_finite_or_none(consts.rho_Phi_followup)
                                           if mu_ok else None),
            sigma_max_phi=consts.sigma_max_features,
            sigma_min_J0=math.sqrt(max(lmin0, 0.0)), sigma_max_J0=math.sqrt(max(lmax0, 0.0)),
            h0=h0, eta=eta, steps=summary["steps"], status=traj.status,
            criterion=criterion.describe(), final_loss=_finite_or_none(summary["final_loss"]),
            diverged_at=summary.get("diverged_at"),
            max_root_ratio=traced("max_root_ratio"),
            worst_contraction=traced("max_contraction"),
            max_distance=traced("max_distance"), path_length=traced("path_length"),
            lambda_min0=max(lmin0, 0.0), lambda_max0=lmax0,
            min_lambda_min=traced("min_lambda_min"),
            min_lambda_min_inside=traced("min_lambda_min_inside"),
            tracked_inside=summary.get("tracked_inside"),
            min_pl_over_4lmin=traced("min_pl_over_4lmin"),
            min_ntk_ck_ratio=traced("min_ntk_ck_ratio"),
            min_pl_ratio=traced("min_pl_ratio"),
            max_hessian_top=traced("max_hessian_top"),
            max_smoothness_secant=traced("max_smoothness_secant"),
            max_jacobian_secant=traced("max_jacobian_secant"),
            lemma1_radius=None if lemma1 is None else _finite_or_none(lemma1.radius),
            lemma1_radius_censored=None if lemma1 is None else lemma1.censored,
            theta0_norm=theta0_norm, activation=act.name,
            init=cfg.init if isinstance(cfg.init, str) else "",
        )

        from derivations.check import (check_theorems, from_measurements, records_to_markdown,
                                       summarize_checks)
        from derivations.ledger import theory_ledger

        mc = from_measurements(measured)
        records = check_theorems(mc)
        check_summary = summarize_checks(records)
        lambda0 = _infinite_width_lambda0(X, act, net0)
        widths = _width_conditions(n, d0, d1, d2, act.name, cfg.init, premises, h0, Y)
        s_t_led = premises["s_t"] if premises["s_t"] > premises["s_t_floor"] else 0.0
        ledger = theory_ledger(n, d0, lambda0, premises["min_separation"], premises["sigma_max_X"],
                               s_t_led, d1,
                               converged=converged,
                               context=f"{ds.name}, {act.name}, init={cfg.init}",
                               activation=act.name,
                               init=cfg.init if isinstance(cfg.init, str) else None)

        effective = asdict(cfg)
        effective.update(n=n, d0=d0, d2=d2, d1=d1, lr_value=eta, lr_rule=eta0.rule,
                         track_every=track_every,
                         lemma1_directions=lemma1_directions,
                         normalize=(None if cfg.kind in SYNTHETIC else (cfg.normalize or "unit")),
                         label_scale=(None if cfg.kind in SYNTHETIC
                                      else (cfg.label_scale or cfg.normalize or "unit")))
        report = dict(
            format="pl_toolkit.report/2",
            summary=dict(lines=check_summary["lines"], premises=premises["line"],
                         criterion=criterion.to_dict()),
            config={k: (list(v) if isinstance(v, tuple) else v) for k, v in effective.items()},
            versions=dict(pl_toolkit=__version__, numpy=np.__version__),
            preprocessing=preprocessing,
            data=dict(name=ds.name, kind=cfg.kind, n=n, d0=d0, d2=d2,
                      Y_fro=float(np.linalg.norm(Y)), **{k: v for k, v in premises.items()
                                                         if k not in ("line",)}),
            network=dict(d0=d0, d1=d1, d2=d2, activation=act.name,
                         init=cfg.init if isinstance(cfg.init, str) else list(cfg.init),
                         omega1=net0.omega1, omega2=net0.omega2,
                         width_over_n32_d0=d1 / eq21_width(n, d0), assumption2=act.assumption2,
                         assumption2_reason=act.assumption2_reason),
            hermite=dict(omega=net0.omega1, coefficients=[float(c) for c in coeffs], t=t),
            infinite_width=dict(lambda_min_ntk_per_width=lambda0),
            lemma3=consts.to_dict(),
            radius=dict(used="paper", rho_Phi=consts.rho_Phi,
                        rho_Phi_followup=consts.rho_Phi_followup,
                        note="every check, the summary and the plots use the paper's rho_Phi = "
                             "mu_Phi/(2 beta_Phi) with Lemma 3's beta_Phi; the follow-up's "
                             "radius is recorded only"),
            jacobian0=dict(sigma_min=spec0.sigma_min, sigma_max=spec0.sigma_max,
                           lambda_min=lmin0, lambda_max=lmax0, method=spec0.method),
            lemma1_empirical=(_lemma1_json(lemma1) if lemma1 is not None
                              else dict(radius=None, radius_ratio=None, directions=0,
                                        note=lemma1_note)),
            trajectory=summary,
            eta=eta,
            measured=asdict(mc),
            checks=[asdict(r) for r in records],
            check_summary={k: v for k, v in check_summary.items() if k != "lines"},
            ledger=json.loads(ledger.to_json()),
            width_conditions=widths,
        )
        from ._plots import write_run_plots

        files.update(write_run_plots(traj, report, cfg.out, lemma1=lemma1,
                                     plot_format=cfg.plot_format))
        report["seconds"] = time.perf_counter() - t_start
        report["files"] = {k: os.path.basename(v) for k, v in files.items()}
        with output_file(cfg.out, "report.json") as tmp, open(tmp, "w") as fh:
            json.dump(strict_json(report), fh, indent=2)
        with output_file(cfg.out, "report.md") as tmp, open(tmp, "w") as fh:
            fh.write(_markdown(report, records_to_markdown(records), ledger.to_markdown()))
    except Exception as exc:
        # Past this point every input was accepted; a failure is the toolkit's own
        # and must show its traceback (exit 1), with the run itself kept on disk.
        raise RuntimeError(f"internal error while analysing the run; the trajectory and the "
                           f"data are saved in {cfg.out}") from exc
    return RunResult(report=report, trajectory=traj, files=files)


def _width_conditions(n, d0, d1, d2, activation, init, premises, h0, Y):
    """The paper's (21) beside the d0-corrected one, and (20) at this run's constants."""
    from derivations.width import ACTIVATIONS, width_conditions, width_threshold

    out = dict(paper=dict(n="3/2", d0="-1", d1_min="xi n^(3/2)/d0",
                          note="the paper's (21): a = |c_t|/sqrt(t!), b = |c_0| held constant"))
    if activation not in ACTIVATIONS or init not in ("lecun", "he"):
        out["note"] = ("the d0-corrected conditions are derived for gelu, shifted_softplus and "
                       "tanh at LeCun or He initialization")
        return out
    e = width_conditions(activation=activation, settings=(init,))[init]
    out[init] = {k: e[k] for k in ("n", "d0", "leading_regime", "d1_min", "constant",
                                   "parameter_count", "along_n_eq_d0_t", "assumptions")}
    s_t = premises["s_t"] if premises["s_t"] > premises["s_t_floor"] else None
    if s_t is None:
        out["this_run"] = dict(note="not evaluated: s_t = 0 (beyond the Khatri-Rao limit)")
        return out
    try:
        at = width_threshold(n, d0, activation, init, d2=d2, sigma_max_X=premises["sigma_max_X"],
                             s_t=s_t, h0=h0, y_norm_sq=float(np.sum(Y ** 2)), d1=d1)
    except ValueError as exc:
        out["this_run"] = dict(note=f"not evaluated: {exc}")
    else:
        out["this_run"] = dict(d1_min=at["d1_min"], regime=at["regime"],
                               paper_21=at["paper_21"], at_d1=at.get("at_d1"),
                               note="(9) at C_9 = 1/32 with the measured sigma_max(X), s_t, h0 "
                                    "and Lemma 3's estimates at initialization")
    return out


def _infinite_width_lambda0(X, act, net0, max_n=3000):
    """lambda_min of the infinite-width NTK per unit width (the ledger's lambda0)."""
    from ..infinite_width import infinite_width_kernels
    from ..spectrum import lambda_min

    if X.shape[0] > max_n:
        return None
    try:
        iw = infinite_width_kernels(X, act, net0.omega1, net0.omega2)
    except ValueError:
        return None
    return _finite_or_none(lambda_min(iw.ntk).value)


def _lemma1_json(res):
    d = res.to_dict()
    dirs = d.pop("directions")
    d["directions"] = len(dirs)
    d["per_direction"] = [dict(radius=x["radius"], censored=x["censored"],
                               radius_ratio=x["radius"] / res.rho_Phi,
                               evaluations=[list(e) for e in x["evaluations"]]) for x in dirs]
    if d["path"] is not None:
        p = dict(d["path"])
        p["radius_ratio"] = p["radius"] / res.rho_Phi
        p["evaluations"] = [list(e) for e in p["evaluations"]]
        d["path"] = p
    return d


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
    """The short summary table printed by ``pl-toolkit run``: (label, value) pairs.

    Parameters
    ----------
    report : dict
        ``RunResult.report``.

    Returns
    -------
    list of (str, str)
        Label and formatted value.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pl_toolkit.experiments import run_experiment
    >>> from pl_toolkit.experiments.run import summary_rows
    >>> out = tempfile.mkdtemp()
    >>> res = run_experiment(n=8, d0=4, d1=64, steps=5, lemma1_directions=0, out=out,
    ...                      progress=False)
    >>> dict(summary_rows(res.report))["radius"][:13]
    "paper's rho_P"
    >>> shutil.rmtree(out)
    """
    tr, l3, data, net = report["trajectory"], report["lemma3"], report["data"], report["network"]
    rho = report["radius"]["rho_Phi"]
    l1 = report["lemma1_empirical"]
    crit = report["summary"]["criterion"]
    rows = [
        ("data", f"{data['name']} (n={data['n']}, d0={data['d0']}, d2={data['d2']})"),
        ("premises", f"sigma_max(X)^2/(n/d0) = {_fmt(data['sigma_max_X_sq_over_n_over_d0'])}, "
                     f"s_{data['t']} = {_fmt(data['s_t'])} (heuristics: ~1, ~1)"),
        ("network", f"d1={net['d1']} ({_fmt(net['width_over_n32_d0'])} x n^1.5/d0), "
                    f"{net['activation']}, {net['init']}"),
        ("status", (f"diverged at step {tr['diverged_at']}" if tr["status"] == "diverged"
                    else f"{tr['status']} after {tr['steps']} steps")
         + f" (criterion h <= {crit['eps']:.3g} ||Y||_F^2), eta={_fmt(report['eta'])}"),
        ("loss h0 -> hT", f"{_fmt(tr['h0'])} -> {_fmt(tr['final_loss'])} "
                          f"(rate {_fmt(tr['observed_rate'])}/step)"),
        ("mu_Phi, nu_Phi", f"{_fmt(l3['mu_Phi'])}, {_fmt(l3['nu_Phi'])}"),
        ("sigma(grad Phi*(w0))", f"{_fmt(report['jacobian0']['sigma_min'])} .. "
                                 f"{_fmt(report['jacobian0']['sigma_max'])}"),
        ("beta_Phi, rho_Phi", f"{_fmt(l3['beta_Phi'])}, {_fmt(rho)} (paper form; follow-up "
                              f"{_fmt(l3['beta_Phi_followup'])}, "
                              f"{_fmt(l3['rho_Phi_followup'])})"),
        ("radius", "paper's rho_Phi in every check"),
        ("max distance / rho_Phi", _fmt(tr.get("max_distance", math.nan) / rho
                                        if rho and rho > 0 else None)),
        ("Lemma 1 radius / rho_Phi", (_fmt(l1.get("radius_ratio"))
                                      + (" (lower bound)" if l1.get("censored") else ""))
         if l1.get("radius_ratio") is not None else l1.get("note", "-")),
        ("min lambda_min(K_t)", _fmt(tr.get("min_lambda_min"))),
        ("min PL ratio / 4 lambda_min", _fmt(tr.get("min_pl_over_4lmin"))),
        ("max Hessian eigenvalue", _fmt(tr.get("max_hessian_top"))),
        ("laziness ||K_t-K_0||/||K_0||", _fmt(tr.get("max_laziness"))),
    ]
    return rows


def _markdown(report, checks_md, ledger_md):
    cfg = report["config"]
    lines = ["# pl_toolkit report", "",
             "Song et al., *Subquadratic Overparameterization for Shallow Neural Networks* "
             "(NeurIPS 2021): every constant of the PL argument measured on one run, and every "
             "hypothesis and conclusion evaluated at those constants. Statements with O(.) "
             "constants are never reported as verified: the table gives the constant they "
             "would need and, where the derivations derive it, the status at that constant "
             "and the shortfall.", ""]
    lines += [f"- {ln}" for ln in report["summary"]["lines"]]
    lines += [f"- {report['summary']['premises']}",
              f"- convergence criterion: {report['summary']['criterion']['rule']} with eps = "
              f"{report['summary']['criterion']['eps']:.3g}; stop reason: "
              f"{report['trajectory']['status']}"]
    if report["preprocessing"]:
        lines += [f"- preprocessing: {'; '.join(report['preprocessing'])}"]
    else:
        lines += ["- preprocessing: none (the data were used as given)"]
    lines += ["", "## Summary", "", "| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary_rows(report)]
    d = report["data"]
    lines += ["", "## Data premises (Section 2)", "", "| quantity | measured | heuristic |",
              "|---|---|---|",
              f"| sigma_max(X)^2 | {_fmt(d['sigma_max_X_sq'])} | n/d0 = {_fmt(d['n_over_d0'])} |",
              f"| sigma_max(X)^2 / (n/d0) | {_fmt(d['sigma_max_X_sq_over_n_over_d0'])} | ~1 "
              f"(accepted <= {d['band']['sigma_ratio_max']:g}) |",
              f"| s_t = sigma_min(X^{{*{d['t']}}}) | {_fmt(d['s_t'])} | ~1 (accepted >= "
              f"{d['band']['s_t_min']:g}); 0 when n > C(d0+t-1, t) = {d['khatri_rao_limit']} |",
              f"| max abs(norm(x_i) - 1) | {_fmt(d['max_row_norm_error'])} | 0 |",
              f"| norm(Y)_F | {_fmt(d['Y_fro'])} | <= 1 |", ""]
    lines += ["## Lemma 3 constants (eq. 18)", "",
              f"Every check uses the paper's radius rho_Phi = {_fmt(report['radius']['rho_Phi'])}"
              f" (Lemma 3's beta_Phi); the follow-up's "
              f"{_fmt(report['radius']['rho_Phi_followup'])} is recorded only.", "",
              "| constant | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in report["lemma3"].items()]
    h = report["hermite"]
    lines += ["", f"Hermite coefficients of x -> phi(omega1 x), omega1 = {_fmt(h['omega'])}: "
              + ", ".join(f"c{k} = {_fmt(c)}" for k, c in enumerate(h["coefficients"]))
              + f"; t = {h['t']} (smallest t >= 2 with c_t != 0).", ""]
    l1 = report["lemma1_empirical"]
    lines += ["## Empirical Lemma 1 radius", ""]
    if l1.get("radius") is None:
        lines += [l1.get("note", "not measured"), ""]
    else:
        lines += [f"The bounds mu_Phi/2 <= sigma_min(grad Phi*(w)) and sigma_max <= 3 nu_Phi/2 "
                  f"hold out to r = {_fmt(l1['radius'])} = {_fmt(l1['radius_ratio'])} rho_Phi "
                  f"(smallest over {l1['directions']} random directions and the GD path"
                  + ("; no violation found, so a lower bound" if l1["censored"] else "")
                  + ").", "", "| search | radius / rho_Phi | violation found |", "|---|---:|---|"]
        for i, x in enumerate(l1["per_direction"]):
            lines.append(f"| direction {i} | {_fmt(x['radius_ratio'])} | "
                         f"{'no' if x['censored'] else 'yes'} |")
        if l1.get("path"):
            p = l1["path"]
            lines.append(f"| GD path | {_fmt(p['radius_ratio'])} | "
                         f"{'no' if p['censored'] else 'yes, step ' + str(p['step'])} |")
        lines.append("")
    wc = report.get("width_conditions", {})
    lines += ["## Width conditions: the paper's (21) and its d0 dependence", "",
              "| setting | d1 >~ | n exponent | d0 exponent |", "|---|---|---|---|",
              "| paper (21) | xi n^(3/2)/d0 | 3/2 | -1 |"]
    for key in ("lecun", "he"):
        if key in wc:
            e = wc[key]
            lines.append(f"| {key} initialization, c_k(omega1) kept | {e['d1_min']} | {e['n']} | "
                         f"{e['d0']} |")
    tr_ = wc.get("this_run") or {}
    if tr_.get("d1_min") is not None:
        lines += ["", f"At this run's measured sigma_max(X), s_t and h0, (9) with C_9 = 1/32 "
                      f"needs d1 >= {_fmt(tr_['d1_min'])} (regime: {tr_['regime']}); the run "
                      f"used d1 = {report['network']['d1']}."]
    elif tr_.get("note") or wc.get("note"):
        lines += ["", tr_.get("note") or wc["note"]]
    lines += ["", "## Trajectory", "", "| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in report["trajectory"].items()]
    lines += ["", "## Theorem checks", "", checks_md.strip(), "", "## Theory ledger", "",
              ledger_md.strip(), "", "## Plots", ""]
    for key, name in report.get("files", {}).items():
        if name.endswith((".png", ".svg")):
            lines.append(f"![{key}]({name})")
        elif name.endswith(".pdf"):
            lines.append(f"[{key} (PDF)]({name})")
    lines += ["", "## Configuration (the values used)", "", "```json",
              json.dumps(strict_json(cfg), indent=2), "```", ""]
    return "\n".join(lines)
