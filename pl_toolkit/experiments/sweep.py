"""Width-threshold experiment: the smallest width at which GD fits random labels (prediction 7).

For every ``n`` on a grid at fixed ``d0`` (unit-sphere inputs, random labels
with ``||Y||_F = 1``, GELU, LeCun initialization) the experiment trains the
paper's network ``x -> V phi(W x)`` by full-batch GD for every width ``d1`` of
a grid and every seed, and finds

* the smallest ``d1`` at which GD reaches ``h <= eps h0`` within ``T`` steps
  in at least 90% of the seeds (*convergence threshold*), and
* the smallest ``d1`` whose trajectory stays inside Lemma 1's radius
  ``rho_Phi = mu_Phi / (2 beta_Phi)`` at initialization (*locality
  threshold*; paper form of ``beta_Phi``, the follow-up radius is recorded
  too),

then fits the exponent of ``d1*(n)`` (and of the parameter count
``d0 d1*(n)``) by least squares on log-log axes with a bootstrap interval over
seeds.  The paper's sufficient condition (eq. 21) is ``d1 >~ n^{3/2}/d0``,
i.e. exponent 3/2 for ``d0 d1``; it is not claimed tight.

Every ``(n, d1, seed)`` is one cell of the sweep engine
(:func:`pl_toolkit._engine.run_sweep`), so a killed run is resumed without
recomputation.  The data of a cell depend only on ``(root_seed, n, seed
index)`` -- every width sees the same data -- and the weights come from the
cell's own seed.
"""

import math
import os
import time

import numpy as np

from .._validation import check_positive_float, check_positive_int
from ._common import (add_common_args, limit_threads, parse_int_list, progress_flag,
                      worker_thread_env, write_json)

__all__ = ["geometric_grid", "sweep_cell", "threshold_width", "fit_power_law",
           "bootstrap_exponent", "check_premises", "extrapolate_locality", "summarize_sweep",
           "run_width_sweep", "configure_parser", "command", "SWEEP_DEFAULTS"]

#: Default grid and settings of ``pl-toolkit sweep`` (see :func:`run_width_sweep`).
SWEEP_DEFAULTS = dict(d0=32, n_grid=(32, 64, 128, 256), d1_min=2, d1_max=4096,
                      d1_factor=math.sqrt(2.0), seeds=5, steps=5000, eps=0.01, lr="auto",
                      activation="gelu", init="lecun", success_fraction=0.9, n_boot=2000,
                      root_seed=0, threads_per_cell=1)

#: Criteria evaluated per cell, as (name, result field).
CRITERIA = (("converged", "converged"), ("inside", "inside"),
            ("converged_inside", "converged_inside"))

_NAME = "pl_toolkit.sweep"
# Part of the key of the data seed, so that data streams never collide with
# any other use of the root seed.
_DATA_TAG = 0x5EED_DA7A


def geometric_grid(lo, hi, factor):
    """Integer grid ``round(lo * factor**k)`` from ``lo`` to ``hi``, duplicates removed.

    Parameters
    ----------
    lo, hi : int
        Smallest and largest width (``1 <= lo <= hi``).
    factor : float
        Ratio between consecutive points (> 1).

    Returns
    -------
    list of int
        Increasing widths; ``hi`` is included when it lies on the grid up to
        rounding.

    Examples
    --------
    >>> geometric_grid(2, 32, 2)
    [2, 4, 8, 16, 32]
    >>> geometric_grid(2, 16, 2 ** 0.5)
    [2, 3, 4, 6, 8, 11, 16]
    """
    lo = check_positive_int(lo, "d1_min")
    hi = check_positive_int(hi, "d1_max")
    if hi < lo:
        raise ValueError(f"d1_max = {hi} is smaller than d1_min = {lo}")
    factor = check_positive_float(factor, "d1_factor")
    if factor <= 1:
        raise ValueError(f"d1_factor must be > 1, got {factor}")
    out, k = [], 0
    while True:
        v = lo * factor ** k
        if v > hi * (1 + 1e-9):
            break
        r = int(round(v))
        if not out or r > out[-1]:
            out.append(r)
        k += 1
    return out


def _data_seed(root_seed, n, seed_index):
    # Depends only on (root seed, n, seed index): every width sees the same data.
    return np.random.SeedSequence(int(root_seed), spawn_key=(_DATA_TAG, int(n), int(seed_index)))


def _draw_data(root_seed, n, d0, seed_index):
    from ..data import unit_sphere

    return unit_sphere(n, d0, 1, seed=_data_seed(root_seed, n, seed_index))


def sweep_cell(cell, seed):
    """Train one ``(n, d1, seed_index)`` cell of the width sweep (engine function).

    Parameters
    ----------
    cell : dict
        ``n``, ``d1``, ``seed_index``, ``d0``, ``steps`` (``T``), ``eps``,
        ``lr`` (``"auto"`` or a number), ``activation``, ``init``,
        ``data_root`` (root of the data seed) and ``threads``.
    seed : numpy.random.SeedSequence
        Seed of the weights (the engine's per-cell seed).

    Returns
    -------
    dict
        ``h0``, ``h_T``, ``steps_to_eps`` (-1 if not reached), ``converged``,
        ``status``, ``final_step``, ``max_distance``, ``path_length``,
        ``rho_Phi``, ``rho_Phi_followup``, ``inside`` (``max_distance <=
        rho_Phi``), ``inside_followup``, ``converged_inside``,
        ``lambda_min_K0``, ``lambda_max_K0``, ``mu_Phi``, ``beta_Phi``,
        ``nu_Phi``, ``lr``, ``seconds``.

    Notes
    -----
    Step size ``"auto"``: ``eta = 1 / (2 lambda_max(K_0))``.  The
    Gauss-Newton part of the Hessian of ``h = ||r||^2`` is ``2 J^T J``,
    whose top eigenvalue is ``2 lambda_max(K_0)`` with ``K_0 = J J^T`` the
    empirical NTK, so this is the inverse Gauss-Newton smoothness of ``h``
    at initialization.  GD stops early at ``h <= eps h0``; the trajectory
    whose distance is compared with ``rho_Phi`` is the run up to that point
    (or to ``T``).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit.experiments import sweep_cell
    >>> cell = dict(n=8, d1=64, seed_index=0, d0=4, steps=300, eps=0.01, lr="auto",
    ...             activation="gelu", init="lecun", data_root=0, threads=1)
    >>> out = sweep_cell(cell, np.random.SeedSequence(1))
    >>> bool(np.isclose(out["lr"], 1 / (2 * out["lambda_max_K0"])))
    True
    >>> out["converged"], bool(out["h_T"] <= 0.01 * out["h0"]), out["steps_to_eps"] > 0
    (True, True, True)
    >>> out["inside"] == (out["max_distance"] <= out["rho_Phi"])
    True
    """
    from ..constants import lemma3_constants
    from ..network import ShallowNet
    from ..ntk import loss, ntk_gram
    from ..spectrum import lambda_max, lambda_min
    from ..training import train

    t0 = time.perf_counter()
    with limit_threads(cell.get("threads", 1)):
        n, d1, d0 = int(cell["n"]), int(cell["d1"]), int(cell["d0"])
        ds = _draw_data(cell["data_root"], n, d0, cell["seed_index"])
        net = ShallowNet.init(d0, d1, 1, activation=cell["activation"], init=cell["init"],
                              seed=seed)
        K0 = ntk_gram(net, ds.X)
        lmin = float(lambda_min(K0).value)
        lmax = float(lambda_max(K0).value)
        consts = lemma3_constants(net, ds.X)
        lr = 1.0 / (2.0 * lmax) if cell["lr"] == "auto" else float(cell["lr"])
        h0 = float(loss(net, ds.X, ds.Y))
        traj = train(net, ds.X, ds.Y, steps=int(cell["steps"]), lr=lr,
                     track=("loss", "distance", "path_length"),
                     stop_loss=float(cell["eps"]) * h0, seed=seed, progress=False)
    h = traj["loss"]
    converged = traj.status == "converged"
    max_dist = float(np.max(traj["distance"]))
    inside = bool(max_dist <= consts.rho_Phi)
    return dict(
        h0=h0, h_T=float(h[-1]), steps_to_eps=int(traj.final_step) if converged else -1,
        converged=bool(converged), status=traj.status, final_step=int(traj.final_step),
        max_distance=max_dist, path_length=float(traj["path_length"][-1]),
        rho_Phi=float(consts.rho_Phi), rho_Phi_followup=float(consts.rho_Phi_followup),
        inside=inside, inside_followup=bool(max_dist <= consts.rho_Phi_followup),
        converged_inside=bool(converged and inside),
        lambda_min_K0=lmin, lambda_max_K0=lmax, mu_Phi=float(consts.mu_Phi),
        beta_Phi=float(consts.beta_Phi), nu_Phi=float(consts.nu_Phi), lr=lr,
        seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------
# thresholds and exponent fits
# --------------------------------------------------------------------------
def threshold_width(d1_grid, success):
    """Monotone threshold: the smallest grid width from which every larger width succeeds.

    Parameters
    ----------
    d1_grid : sequence of int
        Increasing widths.
    success : sequence of bool
        Whether the criterion holds at each width (e.g. in >= 90% of seeds).

    Returns
    -------
    threshold : int or None
        The smallest ``d1`` such that it and all larger grid widths succeed;
        None (right-censored) when the largest width fails.
    first : int or None
        The smallest succeeding width (may lie below ``threshold`` when
        success is not monotone in ``d1``).

    Examples
    --------
    >>> threshold_width([2, 4, 8, 16], [False, True, False, True])
    (16, 4)
    >>> threshold_width([2, 4, 8], [True, True, False])
    (None, 2)
    """
    d1_grid = list(d1_grid)
    success = [bool(s) for s in success]
    if len(d1_grid) != len(success):
        raise ValueError("success must have one entry per width of d1_grid")
    first = next((d for d, s in zip(d1_grid, success) if s), None)
    thr = None
    for d, s in zip(reversed(d1_grid), reversed(success)):
        if not s:
            break
        thr = d
    return thr, first


def fit_power_law(x, y):
    """Least-squares fit of ``log y = a log x + b``.

    Parameters
    ----------
    x, y : array_like of positive floats, same length >= 2

    Returns
    -------
    slope, intercept : float
        ``y ~ exp(intercept) x^slope``.

    Examples
    --------
    >>> s, b = fit_power_law([1, 2, 4], [3, 6, 12])
    >>> round(s, 12), round(math.exp(b), 12)
    (1.0, 3.0)
    """
    lx = np.log(np.asarray(x, dtype=float))
    ly = np.log(np.asarray(y, dtype=float))
    if lx.size < 2 or lx.size != ly.size:
        raise ValueError("fit_power_law needs two arrays of equal length >= 2")
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)


def _success(outcomes, fraction):
    # outcomes: (seeds, widths) bools -> per-width success at the given fraction
    # (a small slack so that 9/10 counts as 90%).
    return np.mean(outcomes, axis=0) >= fraction - 1e-12


def bootstrap_exponent(n_values, d1_grid, outcomes, *, success_fraction=0.9, n_boot=2000,
                       seed=0, scale=1.0):
    """Fit the exponent of the width threshold in ``n`` with a bootstrap interval over seeds.

    Parameters
    ----------
    n_values : sequence of int
        Sample sizes.
    d1_grid : sequence of int
        Increasing widths (the same for every ``n``).
    outcomes : sequence of array_like of bool, shape (seeds, len(d1_grid))
        For each ``n``, whether the criterion held in each (seed, width)
        cell.  Seeds are resampled within each ``n``.
    success_fraction : float, default 0.9
        A width succeeds when at least this fraction of the seeds do.
    n_boot : int, default 2000
        Bootstrap replicates.
    seed : int, default 0
        Seed of the resampling.
    scale : float, default 1.0
        Multiply thresholds by this before fitting (e.g. ``d0`` for the
        parameter count ``d0 d1*``; it changes the intercept only).

    Returns
    -------
    dict
        ``thresholds`` (per ``n``; None = censored), ``first_success``,
        ``censored`` (the ``n`` whose largest width failed; excluded from
        every fit), ``n_fit`` (the ``n`` used), ``slope`` and ``intercept``
        (fit on the data), ``boot_median``, ``ci_low``, ``ci_high`` (2.5% and
        97.5% percentiles of the replicate slopes), ``n_boot``, and a
        ``note``.  With fewer than two uncensored ``n`` the slope and
        interval are None.

    Notes
    -----
    Each replicate draws, for every ``n`` independently, as many seeds as
    there are with replacement, recomputes the success of every width, the
    monotone threshold (:func:`threshold_width`) and the log-log slope over
    the ``n`` that are uncensored in the data.  Resampling cannot censor
    them: a width at which all seeds succeed still does in every
    replicate.  With the default 5 seeds a 90% criterion means 5 of 5, and a
    replicate's threshold is never above the data's, so the interval leans
    towards smaller slopes when thresholds are set by a single failing seed.

    Examples
    --------
    >>> grid = [1, 2, 4, 8, 16, 32]
    >>> outs = [np.array([[d >= t for d in grid]] * 3) for t in (2, 8, 32)]
    >>> r = bootstrap_exponent([1, 4, 16], grid, outs, n_boot=50)
    >>> r["thresholds"], round(r["slope"], 6), (r["ci_low"], r["ci_high"])
    ([2, 8, 32], 1.0, (1.0, 1.0))
    """
    n_values = [int(v) for v in n_values]
    d1_grid = [int(v) for v in d1_grid]
    outs = [np.asarray(o, dtype=bool) for o in outcomes]
    if len(outs) != len(n_values):
        raise ValueError("outcomes must have one array per n")
    for n, o in zip(n_values, outs):
        if o.ndim != 2 or o.shape[1] != len(d1_grid) or o.shape[0] < 1:
            raise ValueError(f"outcomes for n = {n} must have shape (seeds, {len(d1_grid)}), "
                             f"got {o.shape}")
    n_boot = check_positive_int(n_boot, "n_boot")
    thr, first = [], []
    for o in outs:
        t, f = threshold_width(d1_grid, _success(o, success_fraction))
        thr.append(t)
        first.append(f)
    censored = [n for n, t in zip(n_values, thr) if t is None]
    keep = [i for i, t in enumerate(thr) if t is not None]
    res = dict(thresholds=thr, first_success=first, censored=censored,
               n_fit=[n_values[i] for i in keep], slope=None, intercept=None, boot_median=None,
               ci_low=None, ci_high=None, n_boot=n_boot, note="")
    notes = []
    if censored:
        notes.append(f"censored (no width up to {d1_grid[-1]} met the criterion; excluded "
                     f"from the fit): n = {censored}")
    if len(keep) < 2:
        notes.append("fewer than two uncensored n: no exponent")
        res["note"] = "; ".join(notes)
        return res
    x = np.array([n_values[i] for i in keep], dtype=float)
    y = np.array([thr[i] for i in keep], dtype=float) * scale
    res["slope"], res["intercept"] = fit_power_law(x, y)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    slopes = np.empty(n_boot)
    for b in range(n_boot):
        yb = np.empty(len(keep))
        for j, i in enumerate(keep):
            o = outs[i]
            rows = rng.integers(0, o.shape[0], size=o.shape[0])
            t, _ = threshold_width(d1_grid, _success(o[rows], success_fraction))
            yb[j] = t * scale  # never None: see Notes
        slopes[b] = fit_power_law(x, yb)[0]
    res["boot_median"] = float(np.median(slopes))
    res["ci_low"], res["ci_high"] = (float(v) for v in np.percentile(slopes, [2.5, 97.5]))
    res["note"] = "; ".join(notes)
    return res


def check_premises(n_grid, d0, seeds, *, root_seed=0, t=2):
    """Measure the data premises of eq. (21) on the sweep's own data.

    Parameters
    ----------
    n_grid : sequence of int
        Sample sizes.
    d0 : int
        Input dimension.
    seeds : int
        Number of data draws per ``n`` (the sweep's seed indices).
    root_seed : int, default 0
        The sweep's root seed.
    t : int, default 2
        Khatri-Rao power (2 for GELU, whose first even Hermite coefficient
        past ``c_0`` is ``c_2``).

    Returns
    -------
    list of dict
        Per ``n``: medians (and ranges) over the draws of
        ``sigma_max(X)^2``, of the ratio ``sigma_max(X)^2 / (n/d0)`` (the
        heuristic predicts ~1), of ``sigma_min(X^{*t})`` (predicted ~1) and
        the symmetric-tensor dimension ``C(d0 + t - 1, t)`` above which
        ``sigma_min(X^{*t}) = 0`` exactly.

    Examples
    --------
    With ``d0 = 4`` the symmetric 2-tensors span ``C(5, 2) = 10``
    dimensions, so sixteen points have ``sigma_min(X^{*2}) = 0``:

    >>> from pl_toolkit.experiments import check_premises
    >>> rows = check_premises([8, 16], d0=4, seeds=2)
    >>> [(r["n"], r["symmetric_dim"], r["n_exceeds_symmetric_dim"]) for r in rows]
    [(8, 10, False), (16, 10, True)]
    >>> bool(rows[0]["sigma_min_khatri_rao"] > 0), rows[1]["sigma_min_khatri_rao"]
    (True, 0.0)
    """
    from ..khatri_rao import sigma_min_khatri_rao

    out = []
    sym_dim = math.comb(d0 + t - 1, t)
    for n in n_grid:
        smax2, smin = [], []
        for s in range(seeds):
            X = _draw_data(root_seed, n, d0, s).X
            smax2.append(float(np.linalg.norm(X, 2) ** 2))
            smin.append(sigma_min_khatri_rao(X, t))
        smax2, smin = np.array(smax2), np.array(smin)
        ratio = smax2 / (n / d0)
        out.append(dict(n=int(n), d0=int(d0), t=int(t), sigma_max_X_sq=float(np.median(smax2)),
                        n_over_d0=n / d0, ratio_sigma_max_sq=float(np.median(ratio)),
                        ratio_sigma_max_sq_range=[float(ratio.min()), float(ratio.max())],
                        sigma_min_khatri_rao=float(np.median(smin)),
                        sigma_min_khatri_rao_range=[float(smin.min()), float(smin.max())],
                        symmetric_dim=sym_dim, n_exceeds_symmetric_dim=bool(n > sym_dim)))
    return out


# --------------------------------------------------------------------------
# the experiment
# --------------------------------------------------------------------------
def _validate(d0, n_grid, d1_grid, seeds, steps, eps, lr, activation, init, success_fraction):
    from ..activations import get_activation

    d0 = check_positive_int(d0, "d0")
    n_grid = sorted({check_positive_int(v, "n_grid") for v in n_grid})
    if not n_grid:
        raise ValueError("n_grid is empty")
    if len(n_grid) < 2:
        raise ValueError(f"n_grid needs at least two values to fit an exponent, got {n_grid}")
    d1_grid = sorted({check_positive_int(v, "d1_grid") for v in d1_grid})
    if not d1_grid:
        raise ValueError("d1_grid is empty")
    seeds = check_positive_int(seeds, "seeds")
    steps = check_positive_int(steps, "steps")
    eps = check_positive_float(eps, "eps")
    if not eps < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    if lr != "auto":
        lr = check_positive_float(lr, "lr")
    get_activation(activation)  # raises "activation ... is unknown"
    if init not in ("lecun", "he", "xavier"):
        raise ValueError(f"init must be lecun, he or xavier, got {init!r}")
    success_fraction = check_positive_float(success_fraction, "success_fraction")
    if success_fraction > 1:
        raise ValueError(f"success_fraction must be in (0, 1], got {success_fraction}")
    return d0, n_grid, d1_grid, seeds, steps, eps, lr, success_fraction


def run_width_sweep(outdir, *, d0=SWEEP_DEFAULTS["d0"], n_grid=SWEEP_DEFAULTS["n_grid"],
                    d1_grid=None, seeds=SWEEP_DEFAULTS["seeds"], steps=SWEEP_DEFAULTS["steps"],
                    eps=SWEEP_DEFAULTS["eps"], lr="auto", activation="gelu", init="lecun",
                    success_fraction=0.9, n_boot=2000, root_seed=0, workers=None,
                    dask_scheduler=None, resume=False, progress=False, threads_per_cell=1,
                    plot=True):
    """Run the width-threshold experiment and write its report files.

    Parameters
    ----------
    outdir : str or path-like
        Output directory: ``sweep.sqlite`` (engine), ``sweep.json``,
        ``sweep.md``, ``sweep_thresholds.png``.
    d0 : int, default 32
        Input dimension (fixed).
    n_grid : sequence of int, default (32, 64, 128, 256)
        Sample sizes.
    d1_grid : sequence of int, optional
        Widths; default ``geometric_grid(2, 4096, sqrt(2))`` (23 widths).
    seeds : int, default 5
        Seeds per ``(n, d1)``; seed ``s`` fixes the data for every width.
    steps : int, default 5000
        GD budget ``T``.
    eps : float, default 0.01
        Convergence means ``h_T <= eps h0`` (GD stops there).
    lr : "auto" or float, default "auto"
        ``"auto"``: ``1 / (2 lambda_max(K_0))`` per cell (see
        :func:`sweep_cell`).
    activation : str, default "gelu"
    init : {"lecun", "he", "xavier"}, default "lecun"
    success_fraction : float, default 0.9
        Fraction of seeds that must meet a criterion at a width (with 5
        seeds: all 5).
    n_boot : int, default 2000
        Bootstrap replicates of the exponent fit.
    root_seed : int, default 0
    workers, dask_scheduler, resume, progress
        Passed to the sweep engine.
    threads_per_cell : int, default 1
        BLAS/numba threads inside a cell.
    plot : bool, default True
        Write ``sweep_thresholds.png``.

    Returns
    -------
    dict
        The content of ``sweep.json``: ``config``, ``thresholds`` (per
        criterion: per-``n`` thresholds, fits of ``d1*`` and ``d0 d1*``
        with bootstrap intervals, censoring), ``success`` tables,
        ``locality_ratio`` (median ``max_distance / rho_Phi`` per ``(n,
        d1)``), ``premises``, ``errors``, ``run_seconds``, ``cpu_seconds``.

    Raises
    ------
    ValueError
        On bad input, naming the argument.

    Notes
    -----
    Default grid: ``d0 = 32`` rather than 16 because with ``d0 = 16`` the
    largest ``n = 256`` exceeds ``C(17, 2) = 136``, the dimension of
    symmetric 2-tensors, so ``sigma_min(X^{*2}) = 0`` exactly and the NTK
    condition number reached ~1e6 (measured), far beyond any ``T``; with
    ``d0 = 32`` every ``n <= 256 < 528``.  ``eps = 0.01`` because
    ``h0`` includes the initial output (``h0 ~ 1-5`` against ``||Y||^2 =
    1``): at ``eps = 0.1`` GD "converged" at widths 2-8 for every ``n``
    without fitting the labels.  ``T = 5000``: the slowest converging cells
    of the default grid needed ~3800 steps (``n = 256``, ``d1 = 16``).
    With 5 seeds the 90% criterion means 5 of 5.

    Measured cost of the default grid (460 cells): 13.5 min wall with
    ``workers=2`` on a shared 2-core machine (load average 7-9; 465 s of
    CPU in total), dominated by ``n = 256``, ``d1 >= 2048``.

    Examples
    --------
    A toy grid (two ``n``, three widths, two seeds) in a temporary
    directory; the reported threshold is :func:`threshold_width` of the
    success table:

    >>> import json, os, shutil, tempfile
    >>> from pl_toolkit.experiments import run_width_sweep, threshold_width
    >>> out = tempfile.mkdtemp()
    >>> res = run_width_sweep(out, d0=8, n_grid=(8, 16), d1_grid=(2, 8, 32), seeds=2,
    ...                       steps=500, n_boot=50, plot=False, workers=1)
    >>> sorted(os.listdir(out))
    ['sweep.json', 'sweep.md', 'sweep.sqlite']
    >>> frac = res["success"]["converged"]["16"]
    >>> ok = [f >= 0.9 for f in frac]
    >>> res["thresholds"]["converged"]["per_n"][1]["d1_star"] == threshold_width((2, 8, 32), ok)[0]
    True
    >>> shutil.rmtree(out)
    """
    from .._engine import load_results, run_sweep

    if d1_grid is None:
        d1_grid = geometric_grid(SWEEP_DEFAULTS["d1_min"], SWEEP_DEFAULTS["d1_max"],
                                 SWEEP_DEFAULTS["d1_factor"])
    d0, n_grid, d1_grid, seeds, steps, eps, lr, success_fraction = _validate(
        d0, list(n_grid), list(d1_grid), seeds, steps, eps, lr, activation, init,
        success_fraction)
    root_seed = check_positive_int(root_seed, "root_seed", minimum=0)
    threads_per_cell = check_positive_int(threads_per_cell, "threads_per_cell")
    n_boot = check_positive_int(n_boot, "n_boot")
    task = dict(d0=d0, steps=steps, eps=eps, lr=lr, activation=activation, init=init,
                data_root=root_seed, threads=threads_per_cell)
    # Largest widths first inside each (n, seed): the costly cells start early,
    # which balances the pool; the order does not change any number.
    cells = [dict(task, n=n, d1=d1, seed_index=s)
             for n in n_grid for s in range(seeds) for d1 in sorted(d1_grid, reverse=True)]
    config = dict(task, n_grid=n_grid, d1_grid=d1_grid, seeds=seeds)
    t0 = time.perf_counter()
    with worker_thread_env(threads_per_cell):
        summary = run_sweep(sweep_cell, cells, outdir, name=_NAME, config=config,
                            root_seed=root_seed, workers=workers,
                            dask_scheduler=dask_scheduler, resume=resume, progress=progress)
    run_seconds = time.perf_counter() - t0
    rows = load_results(outdir)
    report = summarize_sweep(rows, n_grid=n_grid, d1_grid=d1_grid, seeds=seeds, d0=d0,
                             success_fraction=success_fraction, n_boot=n_boot,
                             root_seed=root_seed, task=task)
    report["premises"] = check_premises(n_grid, d0, seeds, root_seed=root_seed)
    report["run_seconds"] = run_seconds
    report["engine"] = dict(n_cells=summary.n_cells, n_skipped=summary.n_skipped,
                            n_ok=summary.n_ok, n_error=summary.n_error)
    report["config"] = dict(config, success_fraction=success_fraction, n_boot=n_boot,
                            root_seed=root_seed,
                            lr_rule="1/(2 lambda_max(K_0)) per cell" if lr == "auto" else "fixed")
    write_json(os.path.join(outdir, "sweep.json"), report)
    if plot:
        _plot(report, os.path.join(outdir, "sweep_thresholds.png"))
    with open(os.path.join(outdir, "sweep.md"), "w") as fh:
        fh.write(_markdown(report))
    return report


def summarize_sweep(rows, *, n_grid, d1_grid, seeds, d0, success_fraction, n_boot, root_seed,
                    task=None):
    """Thresholds, fits and tables from the engine's records (see :func:`run_width_sweep`)."""
    task = task or {}
    table = {}
    errors = []
    for row in rows:
        c = row["cell"]
        if task and any(c.get(k) != v for k, v in task.items()):
            continue
        key = (c["n"], c["d1"], c["seed_index"])
        if row["status"] == "ok":
            table[key] = row["result"]
        else:
            errors.append(dict(cell=c, error=row["error"]))
    missing = [(n, d1, s) for n in n_grid for d1 in d1_grid for s in range(seeds)
               if (n, d1, s) not in table]
    out = dict(thresholds={}, success={}, locality_ratio={}, cpu_seconds=0.0,
               missing_cells=len(missing), errors=errors[:20], n_errors=len(errors))
    out["cpu_seconds"] = float(sum(r.get("seconds", 0.0) for r in table.values()))
    for crit, field in CRITERIA:
        outcomes = [np.array([[bool(table.get((n, d1, s), {}).get(field, False))
                               for d1 in d1_grid] for s in range(seeds)]) for n in n_grid]
        fit = bootstrap_exponent(n_grid, d1_grid, outcomes, success_fraction=success_fraction,
                                 n_boot=n_boot, seed=root_seed)
        fit_p = bootstrap_exponent(n_grid, d1_grid, outcomes, success_fraction=success_fraction,
                                   n_boot=n_boot, seed=root_seed, scale=d0)
        out["thresholds"][crit] = dict(
            per_n=[dict(n=n, d1_star=t, d0_d1_star=None if t is None else d0 * t,
                        first_success=f, censored=t is None)
                   for n, t, f in zip(n_grid, fit["thresholds"], fit["first_success"])],
            fit_d1=dict((k, fit[k]) for k in ("slope", "intercept", "boot_median", "ci_low",
                                               "ci_high", "n_fit", "n_boot")),
            fit_d0_d1=dict((k, fit_p[k]) for k in ("slope", "intercept", "boot_median",
                                                    "ci_low", "ci_high", "n_fit", "n_boot")),
            censored=fit["censored"], note=fit["note"])
        out["success"][crit] = {str(n): [float(v) for v in o.mean(axis=0)]
                                for n, o in zip(n_grid, outcomes)}
    for n in n_grid:
        ratios, steps_med = [], []
        for d1 in d1_grid:
            rs = [table[(n, d1, s)] for s in range(seeds) if (n, d1, s) in table]
            r = [x["max_distance"] / x["rho_Phi"] if x["rho_Phi"] > 0 else math.inf for x in rs]
            ratios.append(float(np.median(r)) if r else math.nan)
            st = [x["steps_to_eps"] for x in rs if x["steps_to_eps"] >= 0]
            steps_med.append(float(np.median(st)) if st else None)
        out["locality_ratio"][str(n)] = ratios
        out.setdefault("median_steps_to_eps", {})[str(n)] = steps_med
    out["d1_grid"] = list(d1_grid)
    out["n_grid"] = list(n_grid)
    out["locality_extrapolation"] = extrapolate_locality(n_grid, d1_grid,
                                                         out["locality_ratio"])
    return out


def extrapolate_locality(n_grid, d1_grid, ratios, *, top=6, min_width_factor=4):
    """Width at which the median ``max_distance / rho_Phi`` would reach 1 (extrapolated).

    Parameters
    ----------
    n_grid, d1_grid : sequence of int
    ratios : mapping of str(n) to sequence of float
        Median locality ratio per width (see :func:`run_width_sweep`).
    top : int, default 6
        Fit ``log ratio = a log d1 + b`` on the ``top`` largest widths with a
        finite ratio and ``d1 >= min_width_factor * n``.
    min_width_factor : float, default 4
        Only widths well above ``n`` enter the fit: ``mu_Phi = 0`` for
        ``d1 < n`` and the ratio is far from its large-width power law near
        ``d1 ~ n``.  At least three such widths are needed.

    Returns
    -------
    dict
        ``per_n``: ``n``, ``local_slope`` ``a`` (the heuristics of Section
        5.3 give ``-1``: ``rho_Phi ~ sqrt(d1)``, distance ``~ 1/sqrt(d1)``),
        ``d1_extrapolated`` (``exp(-b/a)`` when ``a < 0``; None otherwise or
        when the ratio is already below 1 on the grid), ``fit`` (log-log
        slope of ``d1_extrapolated`` in ``n``), and a ``note``.

    Notes
    -----
    This is an extrapolation beyond the grid, not a measured threshold; it
    is reported separately and never enters the censored thresholds.
    """
    per = []
    for n in n_grid:
        r = np.asarray(ratios[str(n)], dtype=float)
        d = np.asarray(d1_grid, dtype=float)
        ok = np.isfinite(r) & (r > 0) & (d >= min_width_factor * n)
        entry = dict(n=int(n), local_slope=None, d1_extrapolated=None)
        if ok.sum() >= 3:
            a, b = fit_power_law(d[ok][-top:], r[ok][-top:])
            entry["local_slope"] = a
            if a < 0 and r[ok][-1] > 1:
                entry["d1_extrapolated"] = float(math.exp(-b / a))
        per.append(entry)
    xs = [e["n"] for e in per if e["d1_extrapolated"]]
    ys = [e["d1_extrapolated"] for e in per if e["d1_extrapolated"]]
    fit = None
    if len(xs) >= 2:
        slope, intercept = fit_power_law(xs, ys)
        fit = dict(slope=slope, intercept=intercept, n_fit=xs)
    return dict(per_n=per, fit=fit, top=int(top),
                note="extrapolated beyond the largest width (power law through the median "
                     f"ratio at the {top} largest widths >= {min_width_factor} n); not a "
                     "measured threshold")


def _fmt(v, spec=".3g"):
    if v is None:
        return "--"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, spec)


def _markdown(rep):
    cfg = rep["config"]
    lines = ["# Width-threshold sweep (prediction 7)", "",
             f"Unit-sphere inputs, d0 = {cfg['d0']}, random labels (||Y||_F = 1), "
             f"{cfg['activation']}, {cfg['init']} init, full-batch GD, T = {cfg['steps']} steps, "
             f"eps = {cfg['eps']}, step size {cfg['lr_rule']}.",
             f"Widths d1 = {cfg['d1_grid']}; n = {cfg['n_grid']}; {cfg['seeds']} seeds per "
             f"(n, d1); a width succeeds when >= {cfg['success_fraction']:.0%} of the seeds do "
             f"(here {math.ceil(cfg['success_fraction'] * cfg['seeds'] - 1e-9)} of "
             f"{cfg['seeds']}).",
             "Threshold d1* = smallest grid width from which every larger grid width succeeds "
             "(monotone definition); 'first' = smallest succeeding width.", "",
             "Criteria: `converged` h_T <= eps h0 within T; `inside` max_t ||Theta_t - Theta_0|| "
             "<= rho_Phi (Lemma 1, paper-form beta_Phi at init); `converged_inside` both.", ""]
    for crit, _ in CRITERIA:
        th = rep["thresholds"][crit]
        lines += [f"## {crit}", "", "| n | d1* | d0 d1* | first |", "|---|---|---|---|"]
        for r in th["per_n"]:
            lines.append(f"| {r['n']} | {'censored' if r['censored'] else r['d1_star']} | "
                         f"{_fmt(r['d0_d1_star'], 'd') if r['d0_d1_star'] else '--'} | "
                         f"{_fmt(r['first_success'], 'd') if r['first_success'] else '--'} |")
        for label, f in (("d1*", th["fit_d1"]), ("d0 d1*", th["fit_d0_d1"])):
            if f["slope"] is None:
                lines.append(f"\nExponent of {label}(n): not fitted.")
            else:
                lines.append(f"\nExponent of {label}(n): {f['slope']:.3f} (bootstrap median "
                             f"{f['boot_median']:.3f}, 95% percentile interval "
                             f"[{f['ci_low']:.3f}, {f['ci_high']:.3f}], {f['n_boot']} replicates,"
                             f" n used: {f['n_fit']}).")
        if th["note"]:
            lines.append(f"\nNote: {th['note']}.")
        lines.append("")
    lines += ["At fixed d0 the exponents of d1* and d0 d1* coincide (d0 only shifts the "
              "intercept). Theory (eq. 21): d1 >~ n^{3/2}/d0, i.e. d0 d1 ~ n^{3/2} "
              "(sufficient, not claimed tight).", "",
              "## Locality ratio: median max distance / rho_Phi", "",
              "| d1 | " + " | ".join(f"n={n}" for n in rep["n_grid"]) + " |",
              "|---" * (len(rep["n_grid"]) + 1) + "|"]
    for j, d1 in enumerate(rep["d1_grid"]):
        lines.append(f"| {d1} | " + " | ".join(_fmt(rep["locality_ratio"][str(n)][j])
                                               for n in rep["n_grid"]) + " |")
    ex = rep["locality_extrapolation"]
    lines += ["", f"Extrapolation ({ex['note']}):", "",
              "| n | local slope of ratio in d1 | d1 where ratio = 1 (extrapolated) |",
              "|---|---|---|"]
    for e in ex["per_n"]:
        lines.append(f"| {e['n']} | {_fmt(e['local_slope'])} | {_fmt(e['d1_extrapolated'])} |")
    if ex["fit"]:
        lines.append(f"\nLog-log slope of the extrapolated width in n: {ex['fit']['slope']:.3f} "
                     f"(n used: {ex['fit']['n_fit']}; no interval: an extrapolation).")
    lines += ["", "## Premises on the same data (medians over seeds)", "",
              "| n | sigma_max(X)^2 | n/d0 | ratio | sigma_min(X^{*2}) | C(d0+1,2) |",
              "|---|---|---|---|---|---|"]
    for p in rep["premises"]:
        lines.append(f"| {p['n']} | {p['sigma_max_X_sq']:.3f} | {p['n_over_d0']:.3f} | "
                     f"{p['ratio_sigma_max_sq']:.3f} | {p['sigma_min_khatri_rao']:.3g} | "
                     f"{p['symmetric_dim']} |")
    lines += ["", "sigma_min(X^{*2}) is exactly 0 once n exceeds C(d0+1, 2), the dimension of "
              "symmetric 2-tensors.", "",
              f"Run time: {rep['run_seconds']:.1f} s wall in this call; "
              f"{rep['cpu_seconds']:.1f} s "
              f"summed over cells. Cells: {rep['engine']}; missing {rep['missing_cells']}, "
              f"errors {rep['n_errors']}.", ""]
    return "\n".join(lines)


def _plot(rep, path):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5))
    ax, ax2 = fig.subplots(1, 2)
    n = np.array(rep["n_grid"], dtype=float)
    d0 = rep["config"]["d0"]
    dmax = rep["d1_grid"][-1]
    markers = {"converged": "o", "inside": "s", "converged_inside": "^"}
    anchor = None
    for crit, _ in CRITERIA:
        per = rep["thresholds"][crit]["per_n"]
        xs = [r["n"] for r in per if not r["censored"]]
        ys = [r["d1_star"] for r in per if not r["censored"]]
        xc = [r["n"] for r in per if r["censored"]]
        f = rep["thresholds"][crit]["fit_d1"]
        lab = crit if f["slope"] is None else f"{crit}: slope {f['slope']:.2f} " \
                                              f"[{f['ci_low']:.2f}, {f['ci_high']:.2f}]"
        if xs:
            ax.plot(xs, ys, markers[crit] + "-", label=lab)
            anchor = anchor or (xs[0], ys[0])
        if xc:
            ax.plot(xc, [dmax] * len(xc), markers[crit], mfc="none", mec="k",
                    label=f"{crit}: censored (> {dmax})")
    ex = [e for e in rep["locality_extrapolation"]["per_n"] if e["d1_extrapolated"]]
    if ex:
        fx = rep["locality_extrapolation"]["fit"]
        ax.plot([e["n"] for e in ex], [e["d1_extrapolated"] for e in ex], "D--", mfc="none",
                label="inside: extrapolated (not measured)"
                      + (f", slope {fx['slope']:.2f}" if fx else ""))
    if anchor is None:
        anchor = (n[0], 1.0)
    x0, y0 = anchor
    ref1 = n ** 1.5 / d0
    ax.plot(n, y0 * ref1 / (x0 ** 1.5 / d0), "k--", lw=1, label="n^{3/2}/d0 (theory, eq. 21)")
    ax.plot(n, y0 * (n / x0) ** 2, "k:", lw=1, label="n^2")
    ax.plot(n, y0 * (n / x0), color="0.6", lw=1, label="n^1")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("threshold width d1*")
    ax.set_title(f"width thresholds (d0 = {d0}; reference lines through first point)")
    ax.legend(fontsize=7)
    for nn in rep["n_grid"]:
        r = np.array(rep["locality_ratio"][str(nn)], dtype=float)
        ok = np.isfinite(r)
        ax2.plot(np.array(rep["d1_grid"])[ok], r[ok], "o-", ms=3, label=f"n = {nn}")
    ax2.axhline(1.0, color="k", lw=1)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("d1")
    ax2.set_ylabel("median max ||Theta_t - Theta_0|| / rho_Phi")
    ax2.set_title("locality (below 1: inside Lemma 1's ball)")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close("all")


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def configure_parser(p):
    """Add the arguments of ``pl-toolkit sweep`` to the sub-parser ``p``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-parser.

    Returns
    -------
    argparse.ArgumentParser
        ``p``, with ``func`` set to :func:`command`.
    """
    d = SWEEP_DEFAULTS
    g = p.add_argument_group("experiment")
    g.add_argument("--d0", type=int, default=d["d0"], help=f"input dimension (default: {d['d0']})")
    g.add_argument("--n-grid", default=",".join(map(str, d["n_grid"])), metavar="N1,N2,...",
                   help="sample sizes (default: %(default)s)")
    g.add_argument("--d1-grid", default=None, metavar="W1,W2,...",
                   help="explicit widths (default: geometric from --d1-min to --d1-max)")
    g.add_argument("--d1-min", type=int, default=d["d1_min"], help="smallest width (default: 2)")
    g.add_argument("--d1-max", type=int, default=d["d1_max"],
                   help="largest width (default: 4096)")
    g.add_argument("--d1-factor", type=float, default=d["d1_factor"],
                   help="ratio of consecutive widths (default: sqrt 2)")
    g.add_argument("--steps", type=int, default=d["steps"], metavar="T",
                   help=f"GD step budget T (default: {d['steps']})")
    g.add_argument("--eps", type=float, default=d["eps"],
                   help=f"converged means h_T <= eps h0 (default: {d['eps']})")
    g.add_argument("--lr", default="auto",
                   help="step size, or 'auto' = 1/(2 lambda_max(K_0)) per cell (default: auto)")
    g.add_argument("--activation", default=d["activation"], help="activation (default: gelu)")
    g.add_argument("--init", default=d["init"], help="lecun, he or xavier (default: lecun)")
    g.add_argument("--success-fraction", type=float, default=d["success_fraction"],
                   help="fraction of seeds that must succeed at a width (default: 0.9)")
    g.add_argument("--bootstrap", type=int, default=d["n_boot"], metavar="B",
                   help="bootstrap replicates of the exponent fit (default: 2000)")
    g.add_argument("--no-plot", action="store_true", help="skip sweep_thresholds.png")
    add_common_args(p, "pl_sweep")
    p.set_defaults(func=command)
    return p


def command(args):
    """Run ``pl-toolkit sweep`` from parsed arguments; returns the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Arguments from a parser built with :func:`configure_parser`.

    Returns
    -------
    int
        0 when every cell finished, 1 when some cells failed (their errors
        are in ``sweep.json``).

    Raises
    ------
    ValueError
        On bad input (one line naming the argument).
    """
    import json

    n_grid = parse_int_list(args.n_grid, "n_grid")
    if args.d1_grid is not None:
        d1_grid = parse_int_list(args.d1_grid, "d1_grid")
    else:
        d1_grid = geometric_grid(args.d1_min, args.d1_max, args.d1_factor)
    lr = args.lr if str(args.lr).lower() == "auto" else check_positive_float(args.lr, "lr")
    if args.dask_scheduler is not None and args.workers is not None:
        raise ValueError("workers and dask-scheduler are exclusive: give one of them")
    rep = run_width_sweep(args.out, d0=args.d0, n_grid=n_grid, d1_grid=d1_grid,
                          seeds=args.seeds, steps=args.steps, eps=args.eps,
                          lr="auto" if lr == "auto" else lr, activation=args.activation,
                          init=args.init, success_fraction=args.success_fraction,
                          n_boot=args.bootstrap, root_seed=args.root_seed, workers=args.workers,
                          dask_scheduler=args.dask_scheduler, resume=args.resume,
                          progress=progress_flag(args), threads_per_cell=args.threads_per_cell,
                          plot=not args.no_plot)
    if args.json:
        from ._common import strict_json

        print(json.dumps(strict_json({k: rep[k] for k in ("config", "thresholds", "premises",
                                                           "run_seconds", "cpu_seconds",
                                                           "engine", "n_errors")}), indent=2))
    elif not args.quiet:
        print(f"width sweep: d0 = {args.d0}, n = {n_grid}, {len(d1_grid)} widths "
              f"{d1_grid[0]}..{d1_grid[-1]}, {args.seeds} seeds -> {args.out}")
        print(f"{'n':>6} {'d1* conv':>10} {'d1* inside':>11} {'d1* both':>9}")
        per = {c: rep["thresholds"][c]["per_n"] for c, _ in CRITERIA}
        for i, n in enumerate(n_grid):
            vals = [per[c][i]["d1_star"] for c, _ in CRITERIA]
            print(f"{n:>6} " + " ".join(f"{'>' + str(d1_grid[-1]) if v is None else v:>10}"
                                        for v in vals))
        for c, _ in CRITERIA:
            f = rep["thresholds"][c]["fit_d1"]
            if f["slope"] is not None:
                print(f"exponent of d1*({c}) in n: {f['slope']:.3f} "
                      f"[{f['ci_low']:.3f}, {f['ci_high']:.3f}] (95% bootstrap)")
            else:
                print(f"exponent of d1*({c}) in n: not fitted ({rep['thresholds'][c]['note']})")
        fx = rep["locality_extrapolation"]["fit"]
        if fx:
            print(f"extrapolated width where max distance = rho_Phi grows like n^{fx['slope']:.2f}"
                  " (extrapolation, not a measurement)")
        print(f"time: {rep['run_seconds']:.1f} s wall, {rep['cpu_seconds']:.1f} s in cells")
    return 0 if rep["n_errors"] == 0 and rep["missing_cells"] == 0 else 1
