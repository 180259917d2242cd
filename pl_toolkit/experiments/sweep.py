"""Exact width thresholds of gradient descent: against n, against d0, and for locality.

The experiment trains the paper's network ``x -> V phi(W x)`` (unit-sphere
inputs, random labels with ``||Y||_F = 1``, GELU, LeCun initialization, both
layers, full-batch GD with step ``1 / (2 lambda_max(K_0))``) and finds, for
every data draw, the *exact* smallest width ``d1*`` at which a criterion
holds:

* ``converged`` -- GD meets the toolkit's single convergence criterion
  ``h <= eps ||Y||_F^2`` (:class:`pl_toolkit.convergence.ConvergenceCriterion`)
  within ``T`` steps;
* ``locality`` -- GD converges *and* its whole run stays inside Lemma 1's
  ball ``||Theta_t - Theta_0|| <= rho_Phi`` (paper form ``rho_Phi = mu_Phi /
  (2 beta_Phi)`` with Lemma 3's ``beta_Phi`` by default; the follow-up's
  radius is recorded in every cell and can define the threshold instead).

Three modes share one search driver:

* ``n`` -- ``d1*`` against ``n`` at fixed ``d0`` (the exponent of the width
  threshold, beside the counting bound ``n d2 / (d0 + d2)`` and eq. (21));
* ``d0`` -- ``d1*`` against ``d0`` at fixed ``n`` (the ``d0`` law);
* ``locality`` -- the locality width measured directly at small ``n``,
  beside the convergence width of the same data.

Each search (one data draw) is an exponential search for a bracket followed
by bisection on the integer width, a check of monotonicity around the answer,
and a re-run at twice the step budget of the failing cell just below it.
Searches run in rounds: each round submits the next probe of every search as
one batch of cells to the sweep engine (:func:`pl_toolkit.experiments._engine.run_sweep`,
local pool or Dask), so different searches run in parallel, every cell is
stored as it finishes, and a resumed sweep replays the rounds from the stored
cells without recomputing any.
"""

import collections
import math
import os
import time
from dataclasses import dataclass

import numpy as np

from .._validation import check_positive_float, check_positive_int
from ..convergence import DEFAULT_EPS
from ._common import (add_common_args, claim_output_dir, limit_threads, output_file,
                      progress_flag, sweep_output_dir, worker_thread_env, write_json)
from ._plots import PLOT_FORMATS, check_plot_format, plot_file

__all__ = ["SWEEP_DEFAULTS", "D0_DEFAULTS", "LOCALITY_DEFAULTS", "REFERENCE_EXPONENTS",
           "geometric_grid", "sweep_cell", "cell_success", "ThresholdSearch", "run_searches",
           "threshold_width", "median_threshold", "fit_power_law", "bootstrap_exponent",
           "bootstrap_ratio", "counting_bound", "check_premises", "run_width_sweep",
           "run_d0_sweep", "run_locality_sweep", "configure_parser", "command"]

#: Defaults of ``pl-toolkit sweep --mode n`` (see :func:`run_width_sweep`).
SWEEP_DEFAULTS = dict(d0=64, n_grid=(64, 128, 256, 512, 1024), seeds=5, steps="auto",
                      eps=DEFAULT_EPS, lr="auto", lr_halvings=3, activation="gelu",
                      init="lecun", d1_min=1, d1_max=4096, rel_tol=0.0, check_above=2,
                      check_below=2, budget_widths=1,
                      n_boot=2000, root_seed=0, threads_per_cell=1)
#: Defaults of ``pl-toolkit sweep --mode d0`` (see :func:`run_d0_sweep`).
# d0 from 64 up: at n = 512, d0 = 32 sits at the Khatri-Rao limit
# (n <= d0 (d0 + 1)/2 = 528), where s_2 -> 0 and thresholds run off.
D0_DEFAULTS = dict(SWEEP_DEFAULTS, n=512, d0_grid=(64, 128, 256, 512))
#: Defaults of ``pl-toolkit sweep --mode locality`` (see :func:`run_locality_sweep`).
LOCALITY_DEFAULTS = dict(SWEEP_DEFAULTS, n_grid=(16, 32, 64), seeds=3,
                         d1_max=65_536, locality_start=1024, rel_tol=1.0 / 32, radius="paper")

#: The width condition (21) per (activation, setting) as ``(exponent of n,
#: exponent of d0, constant)``: ``"paper"`` is the paper's ``d1 >~ n^{3/2} /
#: d0`` (constant unknown); ``"lecun"`` and ``"he"`` keep the
#: ``omega1``-dependence of the Hermite coefficients at that initialization
#: (leading regime, constant from (9) with ``C_9 = 1/32`` under the
#: heuristics ``sigma_max(X)^2 = n/d0``, ``s_t = 1``).  Derived symbolically by
#: ``derivations.width.width_conditions``; ``tests/test_sweep_reference.py``
#: checks this table against it (``pl_toolkit`` never imports SymPy).
REFERENCE_EXPONENTS = {
    ("gelu", "paper"): (1.5, -1.0, None),
    ("gelu", "lecun"): (1.5, 1.0, 15.173085283567275),
    ("gelu", "he"): (1.5, 1.0, 7.091464670931779),
}

#: ``steps="auto"``: the budget of a search at ``n`` is ``max(floor, ceil(per_n2 n^2))``.
AUTO_STEPS = dict(floor=20_000, per_n2=0.1)

_NAME = "pl_toolkit.sweep"
# Version of the cell function's meaning; part of the engine's config.
_CELL_FORMAT = "threshold-search/2"
# Part of the key of the data seed, so that data streams never collide with
# any other use of the root seed.
_DATA_TAG = 0x5EED_DA7A
_MODES = ("n", "d0", "locality")
#: Report files a sweep writes beside the engine's database (the figure in
#: the default format; ``.svg`` or ``.pdf`` on request).
REPORT_FILES = ("sweep.json", "sweep.md", "sweep_thresholds.png")
_RADII = ("paper", "followup")
_INITS = ("lecun", "he", "xavier")


# --------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------
def geometric_grid(lo, hi, factor):
    """Integer grid ``round(lo * factor**k)`` from ``lo`` to ``hi``, duplicates removed.

    Parameters
    ----------
    lo, hi : int
        Smallest and largest value (``1 <= lo <= hi``).
    factor : float
        Ratio between consecutive points (> 1).

    Returns
    -------
    list of int
        Increasing values; ``hi`` is included when it lies on the grid up to
        rounding.

    Examples
    --------
    >>> geometric_grid(2, 32, 2)
    [2, 4, 8, 16, 32]
    >>> geometric_grid(2, 16, 2 ** 0.5)
    [2, 3, 4, 6, 8, 11, 16]
    """
    lo = check_positive_int(lo, "lo")
    hi = check_positive_int(hi, "hi")
    if hi < lo:
        raise ValueError(f"hi = {hi} is smaller than lo = {lo}")
    factor = check_positive_float(factor, "factor")
    if factor <= 1:
        raise ValueError(f"factor must be > 1, got {factor}")
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


def counting_bound(n, d0, d2=1):
    """The parameter-counting width ``n d2 / (d0 + d2)``.

    Parameters
    ----------
    n, d0 : int
        Samples and input dimension.
    d2 : int, default 1
        Output dimension.

    Returns
    -------
    float
        The width at which the network's ``d1 (d0 + d2)`` parameters equal
        the ``n d2`` equations of interpolation.

    Notes
    -----
    Below it the image of ``Theta -> Phi(Theta)`` is a manifold of dimension
    at most ``d1 (d0 + d2) < n d2`` in ``R^{n d2}``, so generic labels
    cannot be fitted exactly; GD cannot reach an arbitrarily small loss
    there.  It is a lower bound for every exact-interpolation threshold,
    with no unknown constant.

    Examples
    --------
    >>> counting_bound(1024, 64)
    15.753846153846155
    >>> math.ceil(counting_bound(64, 64))
    1
    """
    n, d0, d2 = (check_positive_int(v, k) for v, k in ((n, "n"), (d0, "d0"), (d2, "d2")))
    return n * d2 / (d0 + d2)


def budget_steps(n, steps="auto"):
    """The GD step budget ``T`` of a search at sample size ``n``.

    Parameters
    ----------
    n : int
        Sample size.
    steps : int or "auto", default "auto"
        A fixed budget, or ``"auto"``: ``max(20000, ceil(n^2 / 10))``
        (:data:`AUTO_STEPS`).

    Returns
    -------
    int
        The budget.

    Notes
    -----
    The automatic budget follows the condition number of the empirical NTK
    of wide networks on unit-sphere data, which grows like ``n^2`` at fixed
    ``d0`` (measured at ``d0 = 64``: about 2.3e2, 2.3e3 and 5.5e4 at ``n =
    64, 256, 1024``); GD with step ``1/(2 lambda_max)`` needs a number of
    steps of that order.  Whether a budget suffices is measured, not
    assumed: every search re-runs the failure below its threshold at ``2 T``.

    Examples
    --------
    >>> budget_steps(64), budget_steps(1024), budget_steps(1024, 5000)
    (20000, 104858, 5000)
    """
    n = check_positive_int(n, "n")
    if isinstance(steps, str):
        if steps != "auto":
            raise ValueError(f"steps must be a positive integer or 'auto', got {steps!r}")
        return max(AUTO_STEPS["floor"], math.ceil(AUTO_STEPS["per_n2"] * n * n))
    return check_positive_int(steps, "steps")


def _data_seed(root_seed, n, d0, seed_index):
    # Depends only on (root seed, n, d0, seed index): every width sees the same data.
    return np.random.SeedSequence(int(root_seed),
                                  spawn_key=(_DATA_TAG, int(n), int(d0), int(seed_index)))


def _draw_data(root_seed, n, d0, seed_index):
    from ..data import unit_sphere

    return unit_sphere(n, d0, 1, seed=_data_seed(root_seed, n, d0, seed_index))


#: Cell fields that fix the weights (the budget ``steps`` does not).
_WEIGHT_FIELDS = ("n", "d0", "d1", "seed_index", "activation", "init", "data_root")


def _weight_seed(cell):
    from ._engine import cell_seed

    return cell_seed(int(cell["data_root"]), {k: cell[k] for k in _WEIGHT_FIELDS})


# --------------------------------------------------------------------------
# the cell
# --------------------------------------------------------------------------
def sweep_cell(cell, seed):
    """Train one ``(n, d0, d1, seed_index, T)`` cell (engine function).

    Parameters
    ----------
    cell : dict
        ``n``, ``d0``, ``d1``, ``seed_index``, ``steps`` (the budget ``T``),
        ``eps`` (of the convergence criterion), ``lr`` (``"auto"`` or a
        number), ``lr_halvings`` (optional, default 0: how many times a
        diverging run is restarted from the same weights at half the step),
        ``activation``, ``init``, ``data_root`` (the sweep's root seed) and
        ``threads``.
    seed : numpy.random.SeedSequence
        The engine's seed of this cell (unused: see Notes).

    Returns
    -------
    dict
        ``h0``, ``h_T``, ``target`` (``eps ||Y||_F^2``), ``converged``,
        ``status`` (a stop reason of :func:`pl_toolkit.train`),
        ``final_step``, ``steps_to_target`` (-1 if not reached),
        ``max_distance`` (``max_t ||Theta_t - Theta_0||`` over the whole
        run), ``path_length``, ``rho_Phi`` and ``rho_Phi_followup`` (both
        radius forms at initialization), ``distance_ratio`` and
        ``distance_ratio_followup`` (``max_distance`` over each radius),
        ``inside`` and ``inside_followup``, ``lambda_min_K0``,
        ``lambda_max_K0``, ``mu_Phi``, ``nu_Phi``, ``beta_Phi``,
        ``beta_Phi_followup``, ``lr`` (the step of the reported run),
        ``lr_initial``, ``halvings`` (restarts at half the step),
        ``diverged_at`` (of the reported run), ``diverged_runs`` (the
        divergence step of each abandoned run), ``seconds``.

    Notes
    -----
    The data depend only on ``(data_root, n, d0, seed_index)``, so every
    width of a search sees the same data.  The weights come from the
    engine's seed of the cell's identity without its budget,
    ``pl_toolkit.experiments._engine.cell_seed(data_root, {n, d0, d1, seed_index,
    activation, init, data_root})``: a re-run at ``2 T`` starts from the
    same weights and, GD being deterministic at a fixed thread count,
    follows the same trajectory for its first ``T`` steps.

    Step size ``"auto"``: ``eta = 1 / (2 lambda_max(K_0))``, the inverse of
    the top eigenvalue of the Gauss-Newton part ``2 J^T J`` of the Hessian of
    ``h = ||r||^2`` at initialization.  GD stops at the criterion; the
    distance compared with ``rho_Phi`` is the maximum over every step of
    the run.

    A run that diverges (loss above ``1e6 h(Theta_0)`` or non-finite) is
    restarted from the same weights at half the step, up to
    ``lr_halvings`` times; the reported run is the last one.  At small
    widths the step ``1/(2 lambda_max(K_0))`` can be too large for the
    sharpness the run meets later (measured at ``n = 128``, ``d0 = 64``:
    widths 5 to 12 diverge within 100 steps, and converge at half the
    step), so without restarts success is not monotone in ``d1`` for
    reasons of step size alone.

    Examples
    --------
    >>> import numpy as np
    >>> cell = dict(n=8, d0=4, d1=32, seed_index=0, steps=3000, eps=1e-6, lr="auto",
    ...             activation="gelu", init="lecun", data_root=0, threads=1)
    >>> out = sweep_cell(cell, None)
    >>> out["converged"], bool(out["h_T"] <= out["target"])
    (True, True)
    >>> bool(np.isclose(out["lr"], 1 / (2 * out["lambda_max_K0"])))
    True
    >>> out["inside"] == (out["max_distance"] <= out["rho_Phi"])
    True
    """
    from ..constants import lemma3_constants
    from ..convergence import ConvergenceCriterion
    from ..network import ShallowNet
    from ..ntk import loss, ntk_gram
    from ..spectrum import lambda_max, lambda_min
    from ..step_size import auto_step
    from ..training import train

    t0 = time.perf_counter()
    crit = ConvergenceCriterion(float(cell["eps"]))
    wseed = _weight_seed(cell)
    with limit_threads(cell.get("threads", 1)):
        n, d1, d0 = int(cell["n"]), int(cell["d1"]), int(cell["d0"])
        ds = _draw_data(cell["data_root"], n, d0, cell["seed_index"])
        net = ShallowNet.init(d0, d1, 1, activation=cell["activation"], init=cell["init"],
                              seed=wseed)
        K0 = ntk_gram(net, ds.X)
        lmin = float(lambda_min(K0).value)
        lmax = float(lambda_max(K0).value)
        consts = lemma3_constants(net, ds.X)
        lr0 = auto_step(lmax).value if cell["lr"] == "auto" else float(cell["lr"])
        h0 = float(loss(net, ds.X, ds.Y))
        target = crit.target(ds.Y)
        diverged_runs = []
        for halvings in range(int(cell.get("lr_halvings", 0)) + 1):
            lr = lr0 / 2.0 ** halvings
            traj = train(net, ds.X, ds.Y, steps=int(cell["steps"]), lr=lr,
                         track=("loss", "distance", "path_length"), stop_loss=target,
                         seed=wseed, progress=False)
            if traj.status != "diverged":
                break
            diverged_runs.append(traj.metadata.get("diverged_at"))
        if traj.status == "diverged":
            diverged_runs.pop()  # the reported run
    converged = traj.status == "converged"
    max_dist = float(np.max(traj["distance"]))

    def ratio(rho):
        return max_dist / rho if rho > 0 else math.inf

    diverged_at = traj.metadata.get("diverged_at")
    return dict(
        h0=h0, h_T=float(traj["loss"][-1]), target=float(target), converged=bool(converged),
        status=traj.status, final_step=int(traj.final_step),
        steps_to_target=int(traj.final_step) if converged else -1,
        max_distance=max_dist, path_length=float(traj["path_length"][-1]),
        rho_Phi=float(consts.rho_Phi), rho_Phi_followup=float(consts.rho_Phi_followup),
        distance_ratio=ratio(consts.rho_Phi),
        distance_ratio_followup=ratio(consts.rho_Phi_followup),
        inside=bool(max_dist <= consts.rho_Phi),
        inside_followup=bool(max_dist <= consts.rho_Phi_followup),
        lambda_min_K0=lmin, lambda_max_K0=lmax, mu_Phi=float(consts.mu_Phi),
        nu_Phi=float(consts.nu_Phi), beta_Phi=float(consts.beta_Phi),
        beta_Phi_followup=float(consts.beta_Phi_followup), lr=lr, lr_initial=lr0,
        halvings=int(halvings),
        diverged_at=None if diverged_at is None else int(diverged_at),
        diverged_runs=[None if v is None else int(v) for v in diverged_runs],
        seconds=time.perf_counter() - t0)


def cell_success(result, criterion):
    """Whether a cell's result meets a threshold criterion.

    Parameters
    ----------
    result : dict
        A result of :func:`sweep_cell`.
    criterion : {"converged", "locality", "locality_followup"}
        ``converged``: the convergence criterion was met within the budget;
        ``locality``: converged and the whole run stayed inside the paper's
        ``rho_Phi``; ``locality_followup``: the same with the follow-up's
        radius.

    Returns
    -------
    bool
        The outcome.

    Examples
    --------
    >>> r = dict(converged=True, inside=False, inside_followup=False)
    >>> cell_success(r, "converged"), cell_success(r, "locality")
    (True, False)
    """
    if criterion == "converged":
        return bool(result["converged"])
    if criterion == "locality":
        return bool(result["converged"] and result["inside"])
    if criterion == "locality_followup":
        return bool(result["converged"] and result["inside_followup"])
    raise ValueError(f"criterion must be converged, locality or locality_followup, "
                     f"got {criterion!r}")


# --------------------------------------------------------------------------
# the search
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class ThresholdSearch:
    """Smallest integer width at which a criterion holds: bracket, bisection, checks.

    The search is a pure function of the outcomes seen so far
    (:meth:`plan`): replaying it on stored outcomes asks for exactly the
    probes it asked for before, which is what makes a sweep resumable.

    Parameters
    ----------
    d1_start : int
        First probe (clipped to ``[d1_min, d1_max]``).
    d1_min, d1_max : int, default 1, 4096
        Widths searched.  No success up to ``d1_max`` is a right-censored
        threshold (``d1* > d1_max``).
    rel_tol : float, default 0
        Bisection stops when ``hi - lo <= max(1, floor(rel_tol * hi))``;
        0 gives the exact integer threshold.
    check_above, check_below : int, default 2, 2
        Monotonicity window: the widths ``d1* + j s`` (``j = 1 ..
        check_above``) and ``lo - j s`` (``j = 0 .. check_below - 1``,
        ``lo`` the failure below ``d1*``, ``s = d1* - lo`` the resolution)
        are probed; a success below ``d1*`` or a failure above it is a
        violation, recorded and never hidden.
    budget_widths : int, default 1
        The first ``budget_widths`` widths of the window below ``d1*``
        whose run ended at the budget (status ``"max_steps"``) are re-run
        at twice the budget; 0 skips the budget check.  A censored search
        re-runs ``d1_max``.

    Attributes
    ----------
    d1_start, d1_min, d1_max, rel_tol, check_above, check_below, budget_widths
        As given (validated).

    Examples
    --------
    Success from width 13 on; the search finds it exactly and checks
    12, 11 below and 14, 15 above:

    >>> s = ThresholdSearch(d1_start=4, d1_max=64)
    >>> known = {}
    >>> while True:
    ...     probes, result = s.plan(known)
    ...     if result is not None:
    ...         break
    ...     for d1, factor in probes:
    ...         known[(d1, factor)] = dict(success=d1 >= 13, status="max_steps")
    >>> result["d1_star"], result["censored"], result["violations"]
    (13, False, [])
    >>> [p["d1"] for p in result["probes"]]
    [4, 8, 11, 12, 13, 14, 15, 16]
    >>> result["budget"]["checked"], result["budget"]["moved"]
    ([12], 0)
    """

    d1_start: int
    d1_min: int = 1
    d1_max: int = 4096
    rel_tol: float = 0.0
    check_above: int = 2
    check_below: int = 2
    budget_widths: int = 1

    def __post_init__(self):
        d1_min = check_positive_int(self.d1_min, "d1_min")
        d1_max = check_positive_int(self.d1_max, "d1_max")
        if d1_max < d1_min:
            raise ValueError(f"d1_max = {d1_max} is smaller than d1_min = {d1_min}")
        start = min(max(check_positive_int(self.d1_start, "d1_start"), d1_min), d1_max)
        rel = float(self.rel_tol)
        if not (math.isfinite(rel) and 0.0 <= rel < 1.0):
            raise ValueError(f"rel_tol must lie in [0, 1), got {self.rel_tol!r}")
        for name in ("check_above", "check_below", "budget_widths"):
            check_positive_int(getattr(self, name), name, minimum=0)
        object.__setattr__(self, "d1_start", start)
        object.__setattr__(self, "d1_min", d1_min)
        object.__setattr__(self, "d1_max", d1_max)
        object.__setattr__(self, "rel_tol", rel)

    def _tol(self, hi):
        return max(1, int(math.floor(self.rel_tol * hi)))

    def plan(self, known):
        """Next probes, or the result when the search is complete.

        Parameters
        ----------
        known : mapping of (int, int) to dict
            Outcomes so far, keyed by ``(d1, budget_factor)`` (factor 1: the
            budget ``T``; 2: ``2 T``); each a dict with ``success`` (bool)
            and ``status`` (the run's stop reason), or None for a cell that
            failed to run (the search then ends with an error).

        Returns
        -------
        probes : list of (int, int)
            ``(d1, budget_factor)`` pairs to run next (empty when done).
        result : dict or None
            When done: ``d1_star`` (None when censored), ``censored``,
            ``lower_bound`` (``d1_max`` when censored), ``resolution``
            (``d1* - lo``; 0 when ``d1* = d1_min``), ``at_lower_limit``,
            ``first_success`` (smallest succeeding probe), ``envelope``
            (:func:`threshold_width` of the probes), ``violations``
            (probes contradicting monotonicity), ``probes`` (every probe at
            ``T``: ``d1``, ``success``, ``status``), ``budget`` (the ``2 T``
            re-runs: ``checked``, ``outcomes``, ``d1_star_2T``, ``moved``,
            ``moved_at_least``) and ``error`` (None, or the width whose
            cell failed).
        """
        pending = []

        def ask(d, factor=1):
            key = (d, factor)
            if key not in known:
                pending.append(key)
                return None
            out = known[key]
            if out is None:
                raise _CellFailed(d, factor)
            return out

        try:
            return self._plan(ask, known, pending)
        except _CellFailed as exc:
            return [], self._result(known, None, None, censored=False, error=exc.args[0])

    def _plan(self, ask, known, pending):
        lo = hi = None
        d = self.d1_start
        o = ask(d)
        if o is None:
            return pending, None
        if o["success"]:
            hi = d
            while hi > self.d1_min:
                d = max(self.d1_min, hi // 2)
                o = ask(d)
                if o is None:
                    return pending, None
                if o["success"]:
                    hi = d
                else:
                    lo = d
                    break
        else:
            lo = d
            while lo < self.d1_max:
                d = min(self.d1_max, 2 * lo)
                o = ask(d)
                if o is None:
                    return pending, None
                if o["success"]:
                    hi = d
                    break
                lo = d
            if hi is None:  # right-censored
                if self.budget_widths and known[(self.d1_max, 1)]["status"] == "max_steps":
                    if ask(self.d1_max, 2) is None:
                        return pending, None
                return [], self._result(known, None, lo, censored=True)
        if lo is not None:
            while hi - lo > self._tol(hi):
                mid = (lo + hi) // 2
                o = ask(mid)
                if o is None:
                    return pending, None
                if o["success"]:
                    hi = mid
                else:
                    lo = mid
        # monotonicity window (one batch)
        step = 1 if lo is None else hi - lo
        above = [hi + j * step for j in range(1, self.check_above + 1)
                 if hi + j * step <= self.d1_max]
        below = ([] if lo is None else
                 [lo - j * step for j in range(self.check_below) if lo - j * step >= self.d1_min])
        for w in above + below:
            ask(w)
        if pending:
            return pending, None
        # A failure above d1*: probe on above the highest failure until
        # check_above widths in a row succeed, so that the envelope is defined.
        while True:
            fails = [d for (d, f), o in known.items()
                     if f == 1 and o is not None and d > hi and not o["success"]]
            if not fails:
                break
            top = max(fails)
            ext = [top + j * step for j in range(1, max(1, self.check_above) + 1)
                   if top + j * step <= self.d1_max]
            if not ext:
                break
            outs = [ask(w) for w in ext]
            if pending:
                return pending, None
            if all(o["success"] for o in outs):
                break
        # budget check: the first failing widths below that ran out of steps
        checked = [w for w in below[:self.budget_widths]
                   if not known[(w, 1)]["success"] and known[(w, 1)]["status"] == "max_steps"]
        for w in checked:
            ask(w, 2)
        if pending:
            return pending, None
        return [], self._result(known, hi, lo, censored=False, window=(above, below),
                                checked=checked)

    def _result(self, known, hi, lo, *, censored, error=None, window=((), ()), checked=()):
        probes = sorted((d, o) for (d, f), o in known.items() if f == 1 and o is not None)
        widths = [d for d, _ in probes]
        succ = [bool(o["success"]) for _, o in probes]
        env, first = threshold_width(widths, succ) if widths else (None, None)
        res = dict(d1_star=None if censored or error is not None else int(hi),
                   censored=bool(censored), lower_bound=self.d1_max if censored else None,
                   resolution=None, at_lower_limit=False, first_success=first, envelope=env,
                   violations=[], window=dict(above=list(window[0]), below=list(window[1])),
                   probes=[dict(d1=d, success=bool(o["success"]), status=o["status"])
                           for d, o in probes],
                   budget=dict(checked=[], outcomes=[], d1_star_2T=None, moved=None,
                               moved_at_least=False, censored_2T=None),
                   error=error)
        if error is not None:
            return res
        if censored:
            o2 = known.get((self.d1_max, 2))
            res["budget"]["checked"] = [self.d1_max] if o2 is not None else []
            if o2 is not None:
                res["budget"]["outcomes"] = [dict(d1=self.d1_max, success=bool(o2["success"]),
                                                  status=o2["status"])]
                res["budget"]["censored_2T"] = not o2["success"]
            return res
        res["resolution"] = 0 if lo is None else int(hi - lo)
        res["at_lower_limit"] = lo is None
        res["violations"] = [dict(d1=d, success=s, status=o["status"],
                                  kind="success below d1*" if s else "failure above d1*")
                             for (d, o), s in zip(probes, succ)
                             if (d < hi and s) or (d > hi and not s)]
        b = res["budget"]
        b["checked"] = list(checked)
        if checked:
            outs = [(w, known[(w, 2)]) for w in checked]
            b["outcomes"] = [dict(d1=w, success=bool(o["success"]), status=o["status"])
                             for w, o in outs]
            ok2 = [w for w, o in outs if o["success"]]
            b["d1_star_2T"] = int(min(ok2)) if ok2 else int(hi)
            b["moved"] = int(hi - b["d1_star_2T"])
            # The lowest width re-run succeeded: the 2T threshold may lie lower still.
            b["moved_at_least"] = bool(ok2 and min(ok2) == min(checked))
        elif self.budget_widths:
            b["moved"] = 0  # nothing below d1* ran out of steps: doubling T changes no outcome
        return res


class _CellFailed(Exception):
    pass


def run_searches(searches, evaluate, *, max_rounds=200):
    """Drive many searches in rounds: each round evaluates the next probe of every search at once.

    Parameters
    ----------
    searches : mapping of hashable to ThresholdSearch
        The searches, by key.
    evaluate : callable
        ``evaluate(batch) -> dict``: ``batch`` is a list of ``(key, d1,
        budget_factor)``; the answer maps each of them to an outcome dict
        (``success``, ``status``) or to None when the cell failed.
    max_rounds : int, default 200
        Safety limit (a search needs ``O(log d1_max)`` rounds).

    Returns
    -------
    results : dict
        Key -> the search's result (see :meth:`ThresholdSearch.plan`).
    known : dict
        Key -> the outcomes it saw, by ``(d1, budget_factor)``.
    rounds : int
        Number of rounds (batches) evaluated.

    Examples
    --------
    Two searches whose success is a known function of the width:

    >>> truth = {"a": 5, "b": 40}
    >>> def evaluate(batch):
    ...     return {(k, d, f): dict(success=d >= truth[k], status="max_steps")
    ...             for k, d, f in batch}
    >>> res, _, rounds = run_searches({k: ThresholdSearch(d1_start=8) for k in truth},
    ...                               evaluate)
    >>> res["a"]["d1_star"], res["b"]["d1_star"], rounds
    (5, 40, 11)
    """
    known = {k: {} for k in searches}
    results = {}
    rounds = 0
    while True:
        batch = []
        for k, s in searches.items():
            if k in results:
                continue
            probes, res = s.plan(known[k])
            if res is not None:
                results[k] = res
            else:
                batch.extend((k, d, f) for d, f in probes)
        if not batch:
            return results, known, rounds
        if rounds >= max_rounds:
            raise RuntimeError(f"searches did not finish within {max_rounds} rounds")
        rounds += 1
        out = evaluate(batch)
        for item in batch:
            k, d, f = item
            known[k][(d, f)] = out.get(item)


# --------------------------------------------------------------------------
# thresholds, fits, bootstrap
# --------------------------------------------------------------------------
def threshold_width(d1_grid, success):
    """Monotone envelope: the smallest probed width from which every larger probed width succeeds.

    Parameters
    ----------
    d1_grid : sequence of int
        Increasing widths.
    success : sequence of bool
        Whether the criterion held at each width.

    Returns
    -------
    threshold : int or None
        The smallest ``d1`` such that it and all larger widths succeed;
        None when the largest width fails.
    first : int or None
        The smallest succeeding width (below ``threshold`` when success is
        not monotone in ``d1``).

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


def median_threshold(values):
    """Median of per-seed thresholds, censored ones (None) counted as above every finite one.

    Parameters
    ----------
    values : sequence of int or None
        Per-seed thresholds; None is a right-censored threshold.

    Returns
    -------
    float or None
        The median, or None when it is censored (at least half of the
        values censored for an odd count; the upper middle one censored for
        an even count).

    Examples
    --------
    >>> median_threshold([3, 5, None]), median_threshold([3, None, None])
    (5.0, None)
    >>> median_threshold([4, 6, 7, 9])
    6.5
    """
    v = np.array([math.inf if x is None else float(x) for x in values])
    if v.size == 0:
        raise ValueError("values is empty")
    m = float(np.median(v))
    return m if math.isfinite(m) else None


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
    if np.ptp(lx) == 0:
        raise ValueError("fit_power_law needs at least two distinct x")
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)


def _slopes(lx, LY):
    # Least-squares slopes of every row of LY against lx (vectorized).
    xc = lx - lx.mean()
    return (LY - LY.mean(axis=1, keepdims=True)) @ xc / float(xc @ xc)


def _per_seed_arrays(thresholds):
    out = []
    for i, t in enumerate(thresholds):
        a = np.array([math.inf if v is None else float(v) for v in t])
        if a.size == 0:
            raise ValueError(f"thresholds[{i}] is empty")
        if np.any(a[np.isfinite(a)] <= 0):
            raise ValueError(f"thresholds[{i}] must be positive")
        out.append(a)
    return out


def bootstrap_exponent(x, thresholds, *, bound=None, scale=1.0, n_boot=2000, seed=0,
                       confidence=0.95):
    """Exponent of the median threshold in ``x``, with a bootstrap interval over seeds.

    Parameters
    ----------
    x : sequence of positive float
        The abscissae (``n`` or ``d0``), at least two distinct.
    thresholds : sequence of sequences of int or None
        For each ``x``, the per-seed thresholds (None: right-censored).
    bound : float or sequence of float, optional
        The censoring bound of each ``x`` (the largest width searched); the
        fit "at the bound" replaces censored medians by it.
    scale : float, default 1.0
        Multiply the thresholds by this before fitting (``d0`` for the
        parameter count ``d0 d1*``; it changes the intercept only).
    n_boot : int, default 2000
        Bootstrap replicates.
    seed : int, default 0
        Seed of the resampling.
    confidence : float, default 0.95
        Coverage of the percentile interval.

    Returns
    -------
    dict
        ``medians`` (per ``x``; None = censored), ``censored`` (the ``x``
        whose median is censored), ``x_fit`` (the others), ``slope`` and
        ``intercept`` (least squares of ``log median`` on ``log x`` over
        ``x_fit``), ``boot_median``, ``ci_low``, ``ci_high``,
        ``boot_censored_fraction`` (replicates in which a median of
        ``x_fit`` came out censored and was set to its bound, or dropped
        when there is no bound), ``slope_at_bound``, ``ci_at_bound`` (all
        ``x``, censored medians at their bound: a lower bound on the slope
        when the censored ``x`` are the largest), ``n_boot``,
        ``confidence``, ``note``.  Slopes are None with fewer than two
        ``x_fit``.

    Notes
    -----
    Each replicate draws, for every ``x`` independently, as many seeds as
    there are, with replacement, and recomputes the censoring-aware medians
    (``median_threshold``) and the slope.  The per-seed thresholds are
    exact integers from independent data and weights, so a replicate's
    median can move either way; the percentile interval is then a
    confidence interval for the slope of the population medians (its
    coverage on synthetic data is checked in the test suite).

    Examples
    --------
    >>> t = [[2, 2, 3], [8, 8, 9], [32, 30, 33]]
    >>> r = bootstrap_exponent([1, 4, 16], t, n_boot=200)
    >>> round(r["slope"], 3), r["ci_low"] <= r["slope"] <= r["ci_high"]
    (1.0, True)
    >>> r = bootstrap_exponent([1, 4, 16], [[2, 2, 3], [8, 8, 9], [None, None, 30]],
    ...                        bound=64, n_boot=200)
    >>> r["censored"], r["x_fit"], round(r["slope_at_bound"], 3)   # medians 2, 8, 64 (bound)
    ([16], [1, 4], 1.25)
    """
    xs = [check_positive_float(v, "x") for v in x]
    vals = _per_seed_arrays(thresholds)
    if len(vals) != len(xs):
        raise ValueError(f"thresholds must have one list per x ({len(xs)}), got {len(vals)}")
    n_boot = check_positive_int(n_boot, "n_boot")
    confidence = check_positive_float(confidence, "confidence")
    if not confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    scale = check_positive_float(scale, "scale")
    if bound is None:
        bounds = [None] * len(xs)
    elif np.ndim(bound) == 0:
        bounds = [check_positive_float(bound, "bound")] * len(xs)
    else:
        bounds = [check_positive_float(b, "bound") for b in bound]
        if len(bounds) != len(xs):
            raise ValueError("bound must be a number or one number per x")
    meds = [float(np.median(a)) for a in vals]
    censored = [xv for xv, m in zip(xs, meds) if not math.isfinite(m)]
    keep = [i for i, m in enumerate(meds) if math.isfinite(m)]
    res = dict(medians=[m if math.isfinite(m) else None for m in meds],
               censored=[_plain(v) for v in censored], x_fit=[_plain(xs[i]) for i in keep],
               slope=None, intercept=None, boot_median=None, ci_low=None, ci_high=None,
               boot_censored_fraction=None, slope_at_bound=None, ci_at_bound=None,
               n_boot=n_boot, confidence=confidence, note="")
    notes = []
    if censored:
        notes.append(f"censored medians (no success up to the largest width searched) at "
                     f"x = {res['censored']}: reported, excluded from the fit")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    boot = np.empty((n_boot, len(xs)))
    for j, a in enumerate(vals):
        idx = rng.integers(0, a.size, size=(n_boot, a.size))
        boot[:, j] = np.median(a[idx], axis=1)
    lo_q, hi_q = (1 - confidence) / 2, 1 - (1 - confidence) / 2
    lx_all = np.log(np.array(xs))
    if len({xs[i] for i in keep}) >= 2:
        lx = lx_all[keep]
        ly = np.log(np.array([meds[i] for i in keep]) * scale)
        slope, intercept = fit_power_law(np.exp(lx), np.exp(ly))
        res["slope"], res["intercept"] = slope, intercept
        B = boot[:, keep].copy()
        bad = ~np.isfinite(B)
        rows_bad = bad.any(axis=1)
        if bad.any():
            if bounds[0] is not None:
                fill = np.array([bounds[i] for i in keep])
                B = np.where(bad, fill[None, :], B)
                rows = np.ones(n_boot, dtype=bool)
            else:
                rows = ~rows_bad
        else:
            rows = np.ones(n_boot, dtype=bool)
        res["boot_censored_fraction"] = float(rows_bad.mean())
        if rows.any():
            s = _slopes(lx, np.log(B[rows] * scale))
            res["boot_median"] = float(np.median(s))
            res["ci_low"], res["ci_high"] = (float(v) for v in np.quantile(s, [lo_q, hi_q]))
        if rows_bad.any():
            notes.append(f"{rows_bad.mean():.1%} of the replicates had a censored median at a "
                         "fitted x" + (" (set to its bound)" if bounds[0] is not None
                                       else " (dropped)"))
    else:
        notes.append("fewer than two uncensored x: no exponent")
    if censored and bounds[0] is not None and len(set(xs)) >= 2:
        m_b = np.array([m if math.isfinite(m) else b for m, b in zip(meds, bounds)])
        res["slope_at_bound"] = fit_power_law(xs, m_b * scale)[0]
        B = np.where(np.isfinite(boot), boot, np.array(bounds)[None, :])
        s = _slopes(lx_all, np.log(B * scale))
        res["ci_at_bound"] = [float(v) for v in np.quantile(s, [lo_q, hi_q])]
    res["note"] = "; ".join(notes)
    return res


def bootstrap_ratio(numerator, denominator, *, n_boot=2000, seed=0, confidence=0.95):
    """Ratio of median thresholds of two criteria on the same data, with a bootstrap interval.

    Parameters
    ----------
    numerator, denominator : sequence of sequences of int or None
        Per ``x``, the per-seed thresholds of each criterion, paired by
        seed (the same data draw); None is right-censored.
    n_boot : int, default 2000
        Bootstrap replicates.
    seed : int, default 0
        Seed of the resampling.
    confidence : float, default 0.95
        Coverage of the percentile intervals.

    Returns
    -------
    dict
        ``per_x``: per ``x`` the ``ratio`` of medians (None when either is
        censored; ``ratio_lower_bound`` then holds the bound implied by a
        censored numerator, if any), ``ci_low``, ``ci_high``, and the
        per-seed ratios; ``geometric_mean`` over the ``x`` with a ratio,
        with ``ci_low``, ``ci_high`` (seeds resampled independently per
        ``x``, the same replicates as the per-``x`` intervals).

    Examples
    --------
    >>> r = bootstrap_ratio([[100, 120, 110], [400, 380, 420]], [[2, 2, 3], [4, 4, 5]],
    ...                     n_boot=200)
    >>> [p["ratio"] for p in r["per_x"]], round(r["geometric_mean"]["value"], 3)
    ([55.0, 100.0], 74.162)
    """
    num = _per_seed_arrays(numerator)
    den = _per_seed_arrays(denominator)
    if len(num) != len(den):
        raise ValueError("numerator and denominator must have one list per x each")
    for j, (a, b) in enumerate(zip(num, den)):
        if a.size != b.size:
            raise ValueError(f"x number {j}: numerator and denominator need the same seeds")
    n_boot = check_positive_int(n_boot, "n_boot")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    lo_q, hi_q = (1 - confidence) / 2, 1 - (1 - confidence) / 2
    per, logs = [], []
    for a, b in zip(num, den):
        ma, mb = float(np.median(a)), float(np.median(b))
        idx = rng.integers(0, a.size, size=(n_boot, a.size))
        ra = np.median(a[idx], axis=1) / np.median(b[idx], axis=1)
        entry = dict(ratio=None, ci_low=None, ci_high=None, ratio_lower_bound=None,
                     per_seed=[None if not (math.isfinite(u) and math.isfinite(v)) else u / v
                               for u, v in zip(a, b)])
        if math.isfinite(ma) and math.isfinite(mb):
            entry["ratio"] = ma / mb
            fin = ra[np.isfinite(ra)]
            entry["boot_censored_fraction"] = float(1 - fin.size / ra.size)
            if fin.size == ra.size:
                entry["ci_low"], entry["ci_high"] = (float(v) for v in
                                                     np.quantile(ra, [lo_q, hi_q]))
                logs.append(np.log(ra))
            else:
                entry["ci_low"] = float(np.quantile(np.where(np.isfinite(ra), ra, np.inf), lo_q))
        per.append(entry)
    gm = dict(value=None, ci_low=None, ci_high=None, x_used=[])
    used = [i for i, p in enumerate(per) if p["ratio"] is not None and p["ci_high"] is not None]
    if used:
        gm["value"] = float(np.exp(np.mean([math.log(per[i]["ratio"]) for i in used])))
        g = np.exp(np.mean(np.vstack(logs), axis=0))
        gm["ci_low"], gm["ci_high"] = (float(v) for v in np.quantile(g, [lo_q, hi_q]))
        gm["x_used"] = used
    return dict(per_x=per, geometric_mean=gm, n_boot=n_boot, confidence=confidence)


def _plain(v):
    f = float(v)
    return int(f) if f.is_integer() else f


# --------------------------------------------------------------------------
# premises
# --------------------------------------------------------------------------
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
# validation
# --------------------------------------------------------------------------
def _int_list(values, name, minimum=1):
    try:
        items = list(values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of integers, got {values!r}") from None
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)):
            raise ValueError(f"{name} must hold integers >= {minimum}, got {v!r}")
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must hold integers >= {minimum}, got {v!r}") from None
        if not math.isfinite(f) or not f.is_integer() or f < minimum:
            raise ValueError(f"{name} must hold finite integers >= {minimum}, got {v!r}")
        out.append(int(f))
    out = sorted(set(out))
    if len(out) < 2:
        raise ValueError(f"{name} needs at least two distinct values to fit an exponent, "
                         f"got {items!r}")
    return out


def _validate_task(seeds, steps, eps, lr, activation, init, root_seed, threads_per_cell,
                   lr_halvings=0):
    from ..activations import get_activation
    from ..convergence import ConvergenceCriterion

    seeds = check_positive_int(seeds, "seeds")
    budget_steps(1, steps)  # validates "auto" or a positive integer
    eps = ConvergenceCriterion(eps).eps
    if isinstance(lr, str):
        if lr != "auto":
            raise ValueError(f"lr must be 'auto' or a positive number, got {lr!r}")
    else:
        lr = check_positive_float(lr, "lr")
    get_activation(activation)  # raises "activation ... is unknown"
    if init not in _INITS:
        raise ValueError(f"init must be lecun, he or xavier, got {init!r}")
    root_seed = check_positive_int(root_seed, "root_seed", minimum=0)
    threads = check_positive_int(threads_per_cell, "threads_per_cell")
    halvings = check_positive_int(lr_halvings, "lr_halvings", minimum=0)
    return dict(steps=steps, eps=eps, lr=lr, lr_halvings=halvings, activation=str(activation),
                init=init, data_root=root_seed, threads=threads), seeds


def _search_params(d1_min, d1_max, rel_tol, check_above, check_below, budget_widths):
    # Validates through ThresholdSearch (ValueError names the argument).
    s = ThresholdSearch(d1_start=d1_min, d1_min=d1_min, d1_max=d1_max, rel_tol=rel_tol,
                        check_above=check_above, check_below=check_below,
                        budget_widths=budget_widths)
    return dict(d1_min=s.d1_min, d1_max=s.d1_max, rel_tol=s.rel_tol,
                check_above=s.check_above, check_below=s.check_below,
                budget_widths=s.budget_widths)


# --------------------------------------------------------------------------
# the engine-backed driver
# --------------------------------------------------------------------------
def _engine_evaluator(cell_fn, outdir, task, chains, *, root_seed, workers, dask_scheduler,
                      resume, progress, log):
    """``evaluate`` for :func:`run_searches` on the sweep engine.

    ``chains`` maps a search key to ``(base cell, criterion)``; the cell of
    a probe is the base cell with ``d1`` and ``steps = factor * T``.
    """
    from ._engine import cell_key, load_results, run_sweep

    config = dict(format=_CELL_FORMAT)
    state = dict(resume=resume, rounds=0, n_cells=0, n_skipped=0, n_ok=0, n_error=0,
                 seconds=0.0, rows={})

    def evaluate(batch):
        cells = {}
        for k, d1, factor in batch:
            base, _ = chains[k]
            c = dict(base, d1=int(d1), steps=int(base["steps"]) * int(factor))
            cells.setdefault(cell_key(c), c)
        # Costliest first (n d1 steps), so the light cells fill the pool at the end.
        order = sorted(cells.values(), key=lambda c: -c["n"] * c["d1"] * c["steps"])
        t0 = time.perf_counter()
        with worker_thread_env(task["threads"]):
            summary = run_sweep(cell_fn, order, outdir, name=_NAME, config=config,
                                root_seed=root_seed, workers=workers,
                                dask_scheduler=dask_scheduler, resume=state["resume"],
                                progress=progress)
        state["resume"] = True
        state["rounds"] += 1
        for f in ("n_cells", "n_skipped", "n_ok", "n_error"):
            state[f] += getattr(summary, f)
        state["seconds"] += time.perf_counter() - t0
        rows = {cell_key(r["cell"]): r for r in load_results(outdir)}
        state["rows"] = rows
        out = {}
        for k, d1, factor in batch:
            base, criterion = chains[k]
            c = dict(base, d1=int(d1), steps=int(base["steps"]) * int(factor))
            row = rows.get(cell_key(c))
            if row is None or row["status"] != "ok":
                out[(k, d1, factor)] = None
            else:
                r = row["result"]
                out[(k, d1, factor)] = dict(success=cell_success(r, criterion),
                                            status=r["status"])
        if log is not None:
            log(f"round {state['rounds']}: {summary.n_cells} cells "
                f"({summary.n_skipped} stored, {summary.n_error} errors) "
                f"in {time.perf_counter() - t0:.1f} s")
        return out

    return evaluate, state


def _run_chains(searches, chains, outdir, task, *, cell_fn, root_seed, workers,
                dask_scheduler, resume, progress, log):
    evaluate, state = _engine_evaluator(cell_fn, outdir, task, chains, root_seed=root_seed,
                                        workers=workers, dask_scheduler=dask_scheduler,
                                        resume=resume, progress=progress, log=log)
    results, _, _ = run_searches(searches, evaluate)
    return results, state


def _report_files(plot_format="png"):
    """:data:`REPORT_FILES` with the figure in ``plot_format``."""
    return REPORT_FILES[:-1] + (plot_file("sweep_thresholds", plot_format),)


def _owned(outdir, overwrite, resume, plot_format="png"):
    # The folder is claimed (never clobbering a file pl-toolkit did not write)
    # and locked for the cells and the reports.
    if not isinstance(overwrite, bool):
        raise ValueError(f"overwrite must be true or false, got {overwrite!r}")
    files = _report_files(check_plot_format(plot_format))
    return sweep_output_dir(outdir, tool="sweep", files=files, overwrite=overwrite,
                            resume=bool(resume), arg="outdir", flag="overwrite=True")


def _cell_result(state, base, d1, steps):
    from ._engine import cell_key

    row = state["rows"].get(cell_key(dict(base, d1=int(d1), steps=int(steps))))
    return None if row is None or row["status"] != "ok" else row["result"]


def _errors(state):
    return [dict(cell=r["cell"], error=r["error"]) for r in state["rows"].values()
            if r["status"] != "ok"]


def _engine_summary(state):
    rows = [r for r in state["rows"].values() if r["status"] == "ok"]
    return dict(rounds=state["rounds"], cells_requested=state["n_cells"],
                cells_stored_before=state["n_skipped"], cells_run=state["n_ok"],
                cell_errors=state["n_error"], cells_in_database=len(state["rows"]),
                engine_seconds=state["seconds"],
                cpu_seconds=float(sum(r["seconds"] or 0.0 for r in rows)),
                cells_restarted=sum(1 for r in rows if r["result"].get("halvings", 0) > 0),
                cells_diverged=sum(1 for r in rows if r["result"]["status"] == "diverged"),
                halvings=sorted(collections.Counter(
                    int(r["result"].get("halvings", 0)) for r in rows).items()))


# --------------------------------------------------------------------------
# summaries shared by the modes
# --------------------------------------------------------------------------
def _threshold_rows(results, xs, seeds, key_of, x_name, bounds, extra=None):
    """Per-x rows (per_n / per_d0) from search results."""
    rows = []
    for x in xs:
        res = [results[key_of(x, s)] for s in range(seeds)]
        per_seed = [r["d1_star"] for r in res]
        row = {x_name: int(x), "d1_star": median_threshold(per_seed),
               "per_seed": per_seed, "per_seed_censored": [r["censored"] for r in res],
               "per_seed_envelope": [r["envelope"] for r in res],
               "per_seed_first_success": [r["first_success"] for r in res],
               "per_seed_resolution": [r["resolution"] for r in res],
               "n_censored": sum(r["censored"] for r in res),
               "n_errors": sum(r["error"] is not None for r in res),
               "n_violations": sum(len(r["violations"]) for r in res),
               "bound": int(bounds[x])}
        row["censored"] = row["d1_star"] is None
        if extra:
            row.update(extra(x, row))
        rows.append(row)
    return rows


def _budget_summary(results, chains):
    moved, checked, censored_checks, details = [], 0, [], []
    budgets = {}
    for k, r in sorted(results.items(), key=lambda kv: str(kv[0])):
        b = r["budget"]
        steps = chains[k][0]["steps"]
        budgets.setdefault(str(chains[k][0]["n"]), steps)
        if r["censored"] and b["checked"]:
            censored_checks.append(dict(search=list(k), d1=b["checked"][0], steps=steps,
                                        converged_at_2T=not b["censored_2T"]))
            continue
        if b["moved"] is None:
            continue
        checked += 1
        if b["checked"]:
            details.append(dict(search=list(k), steps=steps, d1_star=r["d1_star"],
                                d1_star_2T=b["d1_star_2T"], moved=b["moved"],
                                moved_at_least=b["moved_at_least"],
                                rerun=b["outcomes"]))
        if b["moved"]:
            moved.append(b["moved"])
    return dict(steps_per_n=budgets, n_searches=checked,
                n_moved=len(moved), moves=moved, max_move=max(moved) if moved else 0,
                n_moved_at_least=sum(d["moved_at_least"] for d in details),
                reruns=details, censored_reruns=censored_checks,
                note="the failing width(s) just below each threshold whose run ended at the "
                     "budget were re-run from the same weights at twice the budget; a success "
                     "there moves the threshold down (moved_at_least: the lowest re-run width "
                     "succeeded, so the 2T threshold may lie lower still); a threshold whose "
                     "failures below ended for another reason (diverged, left the ball) "
                     "cannot move with the budget")


def _monotonicity_summary(results):
    viol = []
    for k, r in sorted(results.items(), key=lambda kv: str(kv[0])):
        for v in r["violations"]:
            viol.append(dict(search=list(k), d1_star=r["d1_star"], **v))
    n_checked = sum(1 for r in results.values() if r["d1_star"] is not None)
    return dict(n_searches=n_checked, n_violations=len(viol),
                n_searches_with_violations=len({tuple(v["search"]) for v in viol}),
                violations=viol,
                note="each threshold d1* was checked for success at the widths above it and "
                     "failure at the widths below it (the window of every search); violations "
                     "are listed, not repaired; d1* stays the bisection value and the "
                     "envelope (smallest probed width above which every probe succeeded) is "
                     "reported beside it")


def _search_records(results, chains):
    out = []
    for k, r in sorted(results.items(), key=lambda kv: str(kv[0])):
        base, criterion = chains[k]
        out.append(dict(key=list(k), n=base["n"], d0=base["d0"], seed_index=base["seed_index"],
                        criterion=criterion, **r))
    return out


def _fit_block(x, rows, x_name, scale, n_boot, root_seed):
    per_seed = [r["per_seed"] for r in rows]
    bounds = [r["bound"] for r in rows]
    f = bootstrap_exponent(x, per_seed, bound=bounds, n_boot=n_boot, seed=root_seed)
    fp = bootstrap_exponent(x, per_seed, bound=bounds, n_boot=n_boot, seed=root_seed,
                            scale=scale) if scale != 1 else None
    env = [r["per_seed_envelope"] for r in rows]
    fe = bootstrap_exponent(x, env, bound=bounds, n_boot=n_boot, seed=root_seed)
    return f, fp, fe


def _fit_keys(f):
    return {k: f[k] for k in ("slope", "intercept", "ci_low", "ci_high", "boot_median",
                              "x_fit", "censored", "boot_censored_fraction", "slope_at_bound",
                              "ci_at_bound", "n_boot", "confidence", "note")}


def _reference_exponents(activation, init):
    """Exponents of (21): the paper's and, when derived, the one at this initialization."""
    paper = REFERENCE_EXPONENTS.get((activation, "paper"), (1.5, -1.0, None))
    corr = REFERENCE_EXPONENTS.get((activation, init))
    return dict(
        paper=dict(n=paper[0], d0=paper[1], constant=None,
                   source="paper eq. (21): d1 >~ n^{3/2} / d0"),
        corrected=None if corr is None else dict(
            n=corr[0], d0=corr[1], constant=corr[2],
            source=f"derivations.width.width_conditions({activation!r})[{init!r}] (leading "
                   "regime; Hermite coefficients of x -> phi(omega1 x))"))


# --------------------------------------------------------------------------
# mode n
# --------------------------------------------------------------------------
def run_width_sweep(outdir, *, d0=SWEEP_DEFAULTS["d0"], n_grid=SWEEP_DEFAULTS["n_grid"],
                    seeds=SWEEP_DEFAULTS["seeds"], steps=SWEEP_DEFAULTS["steps"],
                    eps=SWEEP_DEFAULTS["eps"], lr="auto", lr_halvings=3, activation="gelu",
                    init="lecun",
                    d1_min=1, d1_max=SWEEP_DEFAULTS["d1_max"], d1_start=None, rel_tol=0.0,
                    check_above=2, check_below=2, budget_widths=1, n_boot=2000, root_seed=0,
                    workers=None, dask_scheduler=None, resume=False, overwrite=False,
                    progress=False, threads_per_cell=1, plot=True, plot_format="png", log=None,
                    cell_fn=None):
    """Exact convergence width thresholds against ``n`` at fixed ``d0`` (``sweep --mode n``).

    Parameters
    ----------
    outdir : str or path-like
        Output directory: ``sweep.sqlite`` (engine), ``sweep.json``,
        ``sweep.md`` and, with ``plot``, ``sweep_thresholds.png`` (or
        ``.svg``, ``.pdf``: ``plot_format``).
    d0 : int, default 64
        Input dimension.
    n_grid : sequence of int, default (64, 128, 256, 512, 1024)
        Sample sizes (at least two).
    seeds : int, default 5
        Data draws per ``n``; each is one search.
    steps : int, default 100000
        GD budget ``T`` of every probe.
    eps : float, default 1e-6
        Convergence criterion ``h <= eps ||Y||_F^2``.
    lr : "auto" or float, default "auto"
        ``"auto"``: ``1 / (2 lambda_max(K_0))`` per cell.
    lr_halvings : int, default 3
        A diverging run is restarted from the same weights at half the step,
        up to this many times (see :func:`sweep_cell`); 0 keeps the first
        run.
    activation : str, default "gelu"
        Activation.
    init : {"lecun", "he", "xavier"}, default "lecun"
        Initialization.
    d1_min, d1_max : int, default 1, 4096
        Widths searched (``d1_max``: the censoring bound).
    d1_start : int, optional
        First probe; default the smallest width at or above the counting
        bound, ``ceil(n / (d0 + 1))``.
    rel_tol, check_above, check_below, budget_widths
        See ``ThresholdSearch`` (defaults: exact thresholds, two widths
        checked on each side, one re-run at ``2 T``).
    n_boot : int, default 2000
        Bootstrap replicates.
    root_seed : int, default 0
        Root of the data and weight seeds.
    workers, dask_scheduler, resume, progress
        Passed to the sweep engine (``resume=True`` re-uses every stored
        cell).
    overwrite : bool, default False
        Allow writing into a non-empty folder pl-toolkit did not write (and
        replacing files of the report names there); without it such a
        folder is refused and left untouched.
    threads_per_cell : int, default 1
        BLAS/numba threads inside a cell.
    plot : bool, default True
        Write the figure ``sweep_thresholds``.
    plot_format : {"png", "svg", "pdf"}, default "png"
        Its file format (PNG at 150 dpi).
    log : callable, optional
        Called with one line per round.
    cell_fn : callable, optional
        Engine function replacing :func:`sweep_cell` (same contract; for
        tests with synthetic outcomes).

    Returns
    -------
    dict
        The content of ``sweep.json``: ``mode``, ``config``, ``criterion``,
        ``thresholds`` (``converged``: ``per_n`` with ``n``, ``d1_star``
        (median over seeds), ``censored``, ``per_seed``, ``counting_bound``,
        ...; ``fit_d1`` and ``fit_d0_d1`` with ``slope``, ``ci_low``,
        ``ci_high``; ``fit_d1_envelope``; ``counting_bound_note``),
        ``budget_sensitivity``, ``monotonicity``, ``reference_curves``,
        ``searches``, ``premises``, ``engine``, ``errors``, ``run_seconds``.

    Raises
    ------
    ValueError
        On bad input, naming the argument.

    Notes
    -----
    The per-``n`` threshold is the median of the exact per-seed thresholds
    (``median_threshold``); its exponent in ``n`` comes with a bootstrap
    interval over seeds (:func:`bootstrap_exponent`).  At fixed ``d0`` the
    exponents of ``d1*`` and of the parameter count ``d0 d1*`` coincide.

    Examples
    --------
    Two tiny ``n``, two seeds:

    >>> import shutil, tempfile
    >>> out = tempfile.mkdtemp()
    >>> rep = run_width_sweep(out, d0=4, n_grid=(4, 8), seeds=2, steps=1500, n_boot=50,
    ...                       d1_max=64, plot=False, workers=1)
    >>> [r["n"] for r in rep["thresholds"]["converged"]["per_n"]]
    [4, 8]
    >>> all(isinstance(t, int) for r in rep["thresholds"]["converged"]["per_n"]
    ...     for t in r["per_seed"])
    True
    >>> shutil.rmtree(out)
    """
    d0 = check_positive_int(d0, "d0")
    n_grid = _int_list(n_grid, "n_grid")
    task, seeds = _validate_task(seeds, steps, eps, lr, activation, init, root_seed,
                                 threads_per_cell, lr_halvings)
    sp = _search_params(d1_min, d1_max, rel_tol, check_above, check_below, budget_widths)
    if d1_start is not None:
        d1_start = check_positive_int(d1_start, "d1_start")
    n_boot = check_positive_int(n_boot, "n_boot")
    task = dict(task, d0=d0)
    chains, searches = {}, {}
    for n in n_grid:
        start = d1_start or max(1, math.ceil(counting_bound(n, d0)))
        for s in range(seeds):
            k = (n, s, "converged")
            chains[k] = (_base_cell(task, n, d0, s), "converged")
            searches[k] = ThresholdSearch(d1_start=start, **sp)
    with _owned(outdir, overwrite, resume, plot_format):
        t0 = time.perf_counter()
        results, state = _run_chains(searches, chains, outdir, task,
                                     cell_fn=cell_fn or sweep_cell, root_seed=task["data_root"],
                                     workers=workers, dask_scheduler=dask_scheduler, resume=resume,
                                     progress=progress, log=log)
        run_seconds = time.perf_counter() - t0

        def extra(n, row):
            cb = counting_bound(n, d0)
            med = row["d1_star"]
            return dict(counting_bound=cb, counting_bound_width=math.ceil(cb),
                        ratio_to_counting_bound=None if med is None else med / cb,
                        d0_d1_star=None if med is None else d0 * med,
                        parameters=None if med is None else med * (d0 + 1),
                        d1_start=searches[(n, 0, "converged")].d1_start,
                        corrected_21_width=_corrected_width(task, n, d0))

        rows = _threshold_rows(results, n_grid, seeds, lambda n, s: (n, s, "converged"), "n",
                               {n: sp["d1_max"] for n in n_grid}, extra)
        f, fp, fe = _fit_block(n_grid, rows, "n", d0, n_boot, task["data_root"])
        conv = dict(per_n=rows, fit_d1=_fit_keys(f), fit_d0_d1=_fit_keys(fp if fp else f),
                    fit_d1_envelope=_fit_keys(fe), censored=f["censored"], note=f["note"],
                    counting_bound_note=_counting_note(rows, "n"))
        report = dict(mode="n", thresholds=dict(converged=conv),
                      budget_sensitivity=_budget_summary(results, chains),
                      monotonicity=_monotonicity_summary(results),
                      reference_curves=_reference_block(task, x_name="n"),
                      searches=_search_records(results, chains))
        report["premises"] = check_premises(n_grid, d0, seeds, root_seed=task["data_root"])
        return _finish(report, outdir, task, seeds, sp, n_boot, state, run_seconds,
                       plot_format if plot else None,
                       dict(n_grid=n_grid, d0=d0, d1_start=d1_start))


def _base_cell(task, n, d0, s):
    return dict(n=int(n), d0=int(d0), seed_index=int(s), steps=budget_steps(n, task["steps"]),
                eps=task["eps"], lr=task["lr"], lr_halvings=task["lr_halvings"],
                activation=task["activation"], init=task["init"], data_root=task["data_root"],
                threads=task["threads"])


def _counting_note(rows, x_name):
    ratios = [r["ratio_to_counting_bound"] for r in rows if r.get("ratio_to_counting_bound")]
    if not ratios:
        return "no uncensored threshold to compare with the counting bound"
    lo, hi = min(ratios), max(ratios)
    at = [r[x_name] for r in rows if r.get("ratio_to_counting_bound") is not None
          and r["d1_star"] <= r["counting_bound_width"] + 1]
    head = (f"median thresholds are {lo:.2f} to {hi:.2f} times the counting bound "
            f"n d2/(d0 + d2)")
    if at:
        head += f"; within one unit of its ceiling at {x_name} = {at}"
    else:
        head += "; none sits at the counting bound (within one unit of its ceiling)"
    return head


def _corrected_width(task, n, d0):
    # (21) at this initialization with its derived constant (None if not derived).
    corr = _reference_exponents(task["activation"], task["init"])["corrected"]
    if corr is None or corr["constant"] is None:
        return None
    return corr["constant"] * n ** corr["n"] * d0 ** corr["d0"]


def _reference_block(task, x_name):
    ref = _reference_exponents(task["activation"], task["init"])
    anchor = ("through the measured median threshold at the smallest " + x_name +
              " (the constants of (21) are unknown); the counting bound has no free constant "
              "and is drawn as is")
    same = (x_name == "n" and ref["corrected"] is not None
            and ref["corrected"]["n"] == ref["paper"]["n"])
    note = ("at fixed d0 the paper's and the d0-corrected (21) have the same n exponent, so "
            "their anchored curves coincide in n" if same else "")
    if ref["corrected"] is not None and ref["corrected"]["constant"] is not None:
        note = (note + "; " if note else "") + (
            "corrected_21_width per row is (21) at this initialization with the constant the "
            "derivations give (C_9 = 1/32, heuristics sigma_max(X)^2 = n/d0, s_t = 1, no log "
            "factors): a sufficient width, not a prediction of the threshold")
    return dict(counting_bound="n d2 / (d0 + d2)", paper_21=ref["paper"],
                corrected_21=ref["corrected"], anchoring=anchor, note=note)


def _finish(report, outdir, task, seeds, sp, n_boot, state, run_seconds, plot_format,
            extra_cfg):
    from ..convergence import ConvergenceCriterion

    report["criterion"] = ConvergenceCriterion(task["eps"]).to_dict()
    report["config"] = dict(extra_cfg, seeds=seeds, steps=task["steps"],
                            steps_rule=(f"max({AUTO_STEPS['floor']}, ceil({AUTO_STEPS['per_n2']}"
                                        " n^2))" if task["steps"] == "auto" else "fixed"),
                            eps=task["eps"],
                            lr=task["lr"], activation=task["activation"], init=task["init"],
                            root_seed=task["data_root"], threads_per_cell=task["threads"],
                            n_boot=n_boot, **sp,
                            lr_halvings=task["lr_halvings"],
                            lr_rule=(("1/(2 lambda_max(K_0)) per cell" if task["lr"] == "auto"
                                      else "fixed") +
                                     (f", halved on divergence up to {task['lr_halvings']} times"
                                      if task["lr_halvings"] else "")))
    report["engine"] = _engine_summary(state)
    report["errors"] = _errors(state)[:20]
    report["n_errors"] = len(_errors(state))
    report["run_seconds"] = run_seconds
    report["cpu_seconds"] = report["engine"]["cpu_seconds"]
    outdir = os.fspath(outdir)
    with output_file(outdir, "sweep.json") as tmp:
        write_json(tmp, report)
    if plot_format is not None:
        with output_file(outdir, plot_file("sweep_thresholds", plot_format)) as tmp:
            _plot(report, tmp, plot_format)
    with output_file(outdir, "sweep.md") as tmp:
        with open(tmp, "w") as fh:
            fh.write(_markdown(report))
    return report


# --------------------------------------------------------------------------
# mode d0
# --------------------------------------------------------------------------
def run_d0_sweep(outdir, *, n=D0_DEFAULTS["n"], d0_grid=D0_DEFAULTS["d0_grid"],
                 seeds=D0_DEFAULTS["seeds"], steps=D0_DEFAULTS["steps"], eps=DEFAULT_EPS,
                 lr="auto", lr_halvings=3, activation="gelu", init="lecun", d1_min=1,
                 d1_max=D0_DEFAULTS["d1_max"], d1_start=None, rel_tol=0.0, check_above=2,
                 check_below=2, budget_widths=1, n_boot=2000, root_seed=0, workers=None,
                 dask_scheduler=None, resume=False, overwrite=False, progress=False,
                 threads_per_cell=1, plot=True, plot_format="png", log=None, cell_fn=None):
    """Exact convergence width thresholds against ``d0`` at fixed ``n`` (``sweep --mode d0``).

    Parameters
    ----------
    outdir : str or path-like
        Output directory (as :func:`run_width_sweep`).
    n : int, default 512
        Sample size.
    d0_grid : sequence of int, default (64, 128, 256, 512)
        Input dimensions (at least two); ``n <= d0 (d0 + 1) / 2`` keeps the
        data inside the Khatri-Rao limit.
    seeds, steps, eps, lr, lr_halvings, activation, init, d1_min, d1_max, d1_start
        As for :func:`run_width_sweep` (``d1_start`` defaults to the
        counting-bound width of each ``d0``).
    rel_tol, check_above, check_below, budget_widths
        See ``ThresholdSearch``.
    n_boot, root_seed, workers, dask_scheduler, resume, overwrite, progress
        As for :func:`run_width_sweep`.
    threads_per_cell, plot, plot_format, log, cell_fn
        As for :func:`run_width_sweep`.

    Returns
    -------
    dict
        The content of ``sweep.json``: ``thresholds.converged.per_d0``
        (per ``d0``: ``d1_star``, ``censored``, ``per_seed``,
        ``counting_bound``), ``fit_d1`` (the ``d0`` exponent with its
        interval), ``reference_exponents`` (the paper's (21), the
        initialization-corrected (21), the counting bound's local slope),
        and the blocks of :func:`run_width_sweep`.

    Examples
    --------
    >>> import shutil, tempfile
    >>> out = tempfile.mkdtemp()
    >>> rep = run_d0_sweep(out, n=8, d0_grid=(4, 8), seeds=2, steps=1500, n_boot=50,
    ...                    d1_max=64, plot=False, workers=1)
    >>> [r["d0"] for r in rep["thresholds"]["converged"]["per_d0"]]
    [4, 8]
    >>> shutil.rmtree(out)
    """
    n = check_positive_int(n, "n")
    d0_grid = _int_list(d0_grid, "d0_grid")
    task, seeds = _validate_task(seeds, steps, eps, lr, activation, init, root_seed,
                                 threads_per_cell, lr_halvings)
    sp = _search_params(d1_min, d1_max, rel_tol, check_above, check_below, budget_widths)
    if d1_start is not None:
        d1_start = check_positive_int(d1_start, "d1_start")
    n_boot = check_positive_int(n_boot, "n_boot")
    chains, searches = {}, {}
    for d0 in d0_grid:
        start = d1_start or max(1, math.ceil(counting_bound(n, d0)))
        for s in range(seeds):
            k = (d0, s, "converged")
            chains[k] = (_base_cell(task, n, d0, s), "converged")
            searches[k] = ThresholdSearch(d1_start=start, **sp)
    with _owned(outdir, overwrite, resume, plot_format):
        t0 = time.perf_counter()
        results, state = _run_chains(searches, chains, outdir, task,
                                     cell_fn=cell_fn or sweep_cell, root_seed=task["data_root"],
                                     workers=workers, dask_scheduler=dask_scheduler, resume=resume,
                                     progress=progress, log=log)
        run_seconds = time.perf_counter() - t0

        def extra(d0, row):
            cb = counting_bound(n, d0)
            med = row["d1_star"]
            return dict(n=n, counting_bound=cb, counting_bound_width=math.ceil(cb),
                        ratio_to_counting_bound=None if med is None else med / cb,
                        d0_d1_star=None if med is None else d0 * med,
                        corrected_21_width=_corrected_width(task, n, d0))

        rows = _threshold_rows(results, d0_grid, seeds, lambda d0, s: (d0, s, "converged"), "d0",
                               {d0: sp["d1_max"] for d0 in d0_grid}, extra)
        f, _, fe = _fit_block(d0_grid, rows, "d0", 1, n_boot, task["data_root"])
        ref = _reference_exponents(task["activation"], task["init"])
        lx = np.log(np.array(d0_grid, dtype=float))
        cb_slope = fit_power_law(np.exp(lx), [counting_bound(n, d) for d in d0_grid])[0]
        conv = dict(per_d0=rows, fit_d1=_fit_keys(f), fit_d1_envelope=_fit_keys(fe),
                    censored=f["censored"], note=f["note"],
                    counting_bound_note=_counting_note(rows, "d0"))
        report = dict(mode="d0", thresholds=dict(converged=conv),
                      reference_exponents=dict(
                          measured=f["slope"], ci=[f["ci_low"], f["ci_high"]],
                          paper_21=ref["paper"]["d0"],
                          corrected_21=(None if ref["corrected"] is None
                                        else ref["corrected"]["d0"]),
                          counting_bound=cb_slope,
                          note="d0 exponents of the width: the paper's (21) n^{3/2}/d0, (21) at "
                               f"{task['init']} initialization with the omega1-dependence of the "
                               "Hermite coefficients kept, and the least-squares slope of the "
                               "counting bound n/(d0 + 1) over the same d0"),
                      budget_sensitivity=_budget_summary(results, chains),
                      monotonicity=_monotonicity_summary(results),
                      reference_curves=_reference_block(task, x_name="d0"),
                      searches=_search_records(results, chains))
        report["premises"] = [p for d0 in d0_grid
                              for p in check_premises([n], d0, seeds, root_seed=task["data_root"])]
        return _finish(report, outdir, task, seeds, sp, n_boot, state, run_seconds,
                       plot_format if plot else None,
                       dict(n=n, d0_grid=d0_grid, d1_start=d1_start))


# --------------------------------------------------------------------------
# mode locality
# --------------------------------------------------------------------------
def run_locality_sweep(outdir, *, d0=LOCALITY_DEFAULTS["d0"],
                       n_grid=LOCALITY_DEFAULTS["n_grid"], seeds=LOCALITY_DEFAULTS["seeds"],
                       steps=LOCALITY_DEFAULTS["steps"], eps=DEFAULT_EPS, lr="auto",
                       lr_halvings=3, activation="gelu", init="lecun", d1_min=1,
                       d1_max=LOCALITY_DEFAULTS["d1_max"],
                       locality_start=LOCALITY_DEFAULTS["locality_start"],
                       rel_tol=LOCALITY_DEFAULTS["rel_tol"], check_above=1, check_below=1,
                       budget_widths=1, radius="paper", n_boot=2000, root_seed=0,
                       workers=None, dask_scheduler=None, resume=False, overwrite=False,
                       progress=False, threads_per_cell=1, plot=True, plot_format="png",
                       log=None, cell_fn=None):
    """The locality width measured directly, beside the convergence width (``--mode locality``).

    Parameters
    ----------
    outdir : str or path-like
        Output directory (as :func:`run_width_sweep`).
    d0 : int, default 64
        Input dimension.
    n_grid : sequence of int, default (16, 32, 64)
        Sample sizes (at least two).
    seeds : int, default 3
        Data draws per ``n``; each carries two searches on the same data.
    steps : int, default 20000
        GD budget ``T``.
    eps, lr, lr_halvings, activation, init, d1_min
        As for :func:`run_width_sweep`.
    d1_max : int, default 65536
        Largest width of the locality search (its censoring bound).
    locality_start : int, default 1024
        First probe of the locality search.
    rel_tol : float, default 1/32
        Relative resolution of the locality threshold (the convergence
        threshold is always exact).
    check_above, check_below, budget_widths : int, default 1, 1, 1
        See ``ThresholdSearch`` (for both searches).
    radius : {"paper", "followup"}, default "paper"
        The radius that defines the locality threshold: the paper's
        ``rho_Phi = mu_Phi / (2 beta_Phi)`` with Lemma 3's ``beta_Phi``, or
        the follow-up's ``beta_Phi``.  Both radii and both distance ratios
        are recorded in every cell.
    n_boot, root_seed, workers, dask_scheduler, resume, overwrite, progress
        As for :func:`run_width_sweep`.
    threads_per_cell, plot, plot_format, log, cell_fn
        As for :func:`run_width_sweep`.

    Returns
    -------
    dict
        The content of ``sweep.json``: ``thresholds.locality`` and
        ``thresholds.converged`` (``per_n``, ``fit_d1``), ``ratio``
        (locality width / convergence width per ``n`` and its geometric
        mean, with bootstrap intervals), ``distance_law`` (the power law of
        ``max_distance / rho_Phi`` in ``d1``), ``radius``, and the blocks of
        :func:`run_width_sweep`.

    Notes
    -----
    The locality criterion is "converged, and ``max_t ||Theta_t -
    Theta_0|| <= rho_Phi`` over the whole run", the premise under which
    Lemma 1's bounds apply along the run; it is measured, not extrapolated.

    Examples
    --------
    >>> import shutil, tempfile
    >>> out = tempfile.mkdtemp()
    >>> rep = run_locality_sweep(out, d0=4, n_grid=(4, 8), seeds=1, steps=1500, n_boot=20,
    ...                          d1_max=4096, locality_start=256, plot=False, workers=1)
    >>> sorted(rep["thresholds"])
    ['converged', 'locality']
    >>> shutil.rmtree(out)
    """
    d0 = check_positive_int(d0, "d0")
    n_grid = _int_list(n_grid, "n_grid")
    task, seeds = _validate_task(seeds, steps, eps, lr, activation, init, root_seed,
                                 threads_per_cell, lr_halvings)
    if radius not in _RADII:
        raise ValueError(f"radius must be paper or followup, got {radius!r}")
    sp = _search_params(d1_min, d1_max, rel_tol, check_above, check_below, budget_widths)
    locality_start = check_positive_int(locality_start, "locality_start")
    n_boot = check_positive_int(n_boot, "n_boot")
    crit = "locality" if radius == "paper" else "locality_followup"
    sp_conv = dict(sp, rel_tol=0.0)
    chains, searches = {}, {}
    for n in n_grid:
        for s in range(seeds):
            base = _base_cell(task, n, d0, s)
            chains[(n, s, "converged")] = (base, "converged")
            searches[(n, s, "converged")] = ThresholdSearch(
                d1_start=max(1, math.ceil(counting_bound(n, d0))), **sp_conv)
            chains[(n, s, crit)] = (base, crit)
            searches[(n, s, crit)] = ThresholdSearch(d1_start=locality_start, **sp)
    with _owned(outdir, overwrite, resume, plot_format):
        t0 = time.perf_counter()
        results, state = _run_chains(searches, chains, outdir, task,
                                     cell_fn=cell_fn or sweep_cell, root_seed=task["data_root"],
                                     workers=workers, dask_scheduler=dask_scheduler, resume=resume,
                                     progress=progress, log=log)
        run_seconds = time.perf_counter() - t0
        bounds = {n: sp["d1_max"] for n in n_grid}

        def extra_conv(n, row):
            cb = counting_bound(n, d0)
            return dict(counting_bound=cb, counting_bound_width=math.ceil(cb),
                        ratio_to_counting_bound=(None if row["d1_star"] is None
                                                 else row["d1_star"] / cb))

        def extra_loc(n, row):
            # Both distance ratios at each seed's threshold cell.
            at = []
            for s in range(seeds):
                r = results[(n, s, crit)]
                c = (None if r["d1_star"] is None else
                     _cell_result(state, chains[(n, s, crit)][0], r["d1_star"],
                                  chains[(n, s, crit)][0]["steps"]))
                at.append(None if c is None else dict(
                    d1=r["d1_star"], distance_ratio=c["distance_ratio"],
                    distance_ratio_followup=c["distance_ratio_followup"],
                    rho_Phi=c["rho_Phi"], rho_Phi_followup=c["rho_Phi_followup"],
                    steps_to_target=c["steps_to_target"]))
            return dict(at_threshold=at)

        conv_rows = _threshold_rows(results, n_grid, seeds, lambda n, s: (n, s, "converged"), "n",
                                    bounds, extra_conv)
        loc_rows = _threshold_rows(results, n_grid, seeds, lambda n, s: (n, s, crit), "n", bounds,
                                   extra_loc)
        fc, _, _ = _fit_block(n_grid, conv_rows, "n", 1, n_boot, task["data_root"])
        fl, _, fle = _fit_block(n_grid, loc_rows, "n", 1, n_boot, task["data_root"])
        ratio = bootstrap_ratio([r["per_seed"] for r in loc_rows],
                                [r["per_seed"] for r in conv_rows], n_boot=n_boot,
                                seed=task["data_root"])
        ratio["per_n"] = [dict(n=n, **p) for n, p in zip(n_grid, ratio.pop("per_x"))]
        ratio["geometric_mean"]["n_used"] = [n_grid[i] for i in ratio["geometric_mean"]
                                             .pop("x_used")]
        report = dict(
            mode="locality",
            radius=dict(defines_threshold=radius,
                        paper="rho_Phi = mu_Phi / (2 beta_Phi), Lemma 3's beta_Phi",
                        followup="rho_Phi = mu_Phi / (2 beta_Phi_followup)",
                        note="both radii and both ratios max_distance/rho are recorded in every "
                             "cell; the threshold uses the '" + radius + "' form everywhere"),
            thresholds=dict(
                converged=dict(per_n=conv_rows, fit_d1=_fit_keys(fc), censored=fc["censored"],
                               note=fc["note"]),
                locality=dict(per_n=loc_rows, fit_d1=_fit_keys(fl),
                              fit_d1_envelope=_fit_keys(fle), censored=fl["censored"],
                              note=fl["note"], criterion=crit)),
            ratio=ratio,
            distance_law=_distance_law(results, chains, state, n_grid, seeds, crit, task),
            budget_sensitivity=_budget_summary(results, chains),
            monotonicity=_monotonicity_summary(results),
            searches=_search_records(results, chains))
        report["premises"] = check_premises(n_grid, d0, seeds, root_seed=task["data_root"])
        return _finish(report, outdir, task, seeds, sp, n_boot, state, run_seconds,
                       plot_format if plot else None,
                       dict(n_grid=n_grid, d0=d0, locality_start=locality_start, radius=radius))


def _distance_law(results, chains, state, n_grid, seeds, crit, task, min_width_factor=2):
    """Least-squares slope of log(max_distance / rho) on log d1, per search."""
    field = "distance_ratio" if crit == "locality" else "distance_ratio_followup"
    per_n = []
    for n in n_grid:
        slopes, points = [], []
        for s in range(seeds):
            base = chains[(n, s, crit)][0]
            pts = []
            for p in results[(n, s, crit)]["probes"]:
                c = _cell_result(state, base, p["d1"], base["steps"])
                if (c is not None and c["converged"] and math.isfinite(c[field])
                        and p["d1"] >= min_width_factor * n):
                    pts.append((p["d1"], c[field]))
            pts.sort()
            points.append(pts)
            if len({d for d, _ in pts}) >= 3:
                slopes.append(fit_power_law([d for d, _ in pts], [r for _, r in pts])[0])
        per_n.append(dict(n=n, slopes=slopes,
                          median_slope=float(np.median(slopes)) if slopes else None,
                          points=[[[d, r] for d, r in pts] for pts in points]))
    allsl = [v for e in per_n for v in e["slopes"]]
    return dict(per_n=per_n, median_slope=float(np.median(allsl)) if allsl else None,
                range=[min(allsl), max(allsl)] if allsl else None, field=field,
                note=f"slope of log({field}) on log d1 over the converged probes of each "
                     f"locality search with d1 >= {min_width_factor} n (Section 5.3's "
                     "heuristics give -1: rho_Phi ~ sqrt(d1), distance ~ 1/sqrt(d1))")


# --------------------------------------------------------------------------
# report: markdown and plot
# --------------------------------------------------------------------------
def _fmt(v, spec=".3g"):
    if v is None:
        return "--"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, spec)


def _budget_text(rep):
    per = rep["budget_sensitivity"]["steps_per_n"]
    vals = sorted(set(per.values()))
    if len(vals) == 1:
        return str(vals[0])
    return ", ".join(f"{v} (n = {k})" for k, v in sorted(per.items(), key=lambda kv: int(kv[0])))


def _fit_line(label, f):
    if f is None:
        return ""
    if f["slope"] is None:
        return f"Exponent of {label}: not fitted ({f['note']})."
    s = (f"Exponent of {label}: {f['slope']:.3f}, {f['confidence']:.0%} bootstrap interval "
         f"[{_fmt(f['ci_low'], '.3f')}, {_fmt(f['ci_high'], '.3f')}] ({f['n_boot']} "
         f"replicates over seeds; fitted at {f['x_fit']})")
    if f["censored"]:
        s += (f"; censored at {f['censored']}: with censored medians at the bound the slope is "
              f"{_fmt(f['slope_at_bound'], '.3f')} (a lower bound)")
    return s + "."


def _threshold_table(rows, x_name, extra_cols=()):
    head = f"| {x_name} | d1* (median) | per seed | censored | counting bound | ratio |"
    cols = list(extra_cols)
    lines = [head + "".join(f" {c} |" for c, _ in cols),
             "|---" * (6 + len(cols)) + "|"]
    for r in rows:
        per = ", ".join(f">{r['bound']}" if v is None else str(v) for v in r["per_seed"])
        lines.append(f"| {r[x_name]} | {'censored' if r['censored'] else _fmt(r['d1_star'], 'g')}"
                     f" | {per} | {r['n_censored']} | {_fmt(r.get('counting_bound'))} | "
                     f"{_fmt(r.get('ratio_to_counting_bound'))} |"
                     + "".join(f" {fn(r)} |" for _, fn in cols))
    return lines


def _markdown(rep):
    cfg = rep["config"]
    mode = rep["mode"]
    title = {"n": "Width thresholds against n", "d0": "Width thresholds against d0",
             "locality": "Locality width against convergence width"}[mode]
    lines = [f"# {title}", "",
             f"Unit-sphere inputs, random labels (||Y||_F = 1), {cfg['activation']}, "
             f"{cfg['init']} initialization, full-batch GD with step {cfg['lr_rule']}, budget "
             f"T = {_budget_text(rep)} steps; converged means {rep['criterion']['rule']} "
             f"with eps = {rep['criterion']['eps']:g}.",
             f"Each seed is one data draw; its threshold is the exact smallest width found by "
             f"exponential search and bisection on the integer d1 in [{cfg['d1_min']}, "
             f"{cfg['d1_max']}] (relative resolution {cfg['rel_tol']:g} where not 0), "
             f"{cfg['seeds']} seeds; the per-x threshold is the median over seeds.", ""]
    if mode == "n":
        conv = rep["thresholds"]["converged"]
        lines += [f"## Convergence threshold, d0 = {cfg['d0']}", ""]
        lines += _threshold_table(conv["per_n"], "n",
                                  [("d0 d1*", lambda r: _fmt(r["d0_d1_star"], "g"))])
        lines += ["", _fit_line("d1*(n)", conv["fit_d1"]),
                  _fit_line("d0 d1*(n)", conv["fit_d0_d1"]),
                  _fit_line("the envelope threshold", conv["fit_d1_envelope"]), "",
                  f"Counting bound: {conv['counting_bound_note']}.", ""]
        ref = rep["reference_curves"]
        lines += ["Reference exponents of n: paper's (21) "
                  f"{ref['paper_21']['n']:g}" +
                  ("" if ref["corrected_21"] is None else
                   f", d0-corrected (21) {ref['corrected_21']['n']:g}") +
                  "; counting bound 1. Eq. (21) is a sufficient condition: a threshold "
                  "below it contradicts nothing.", ""]
    elif mode == "d0":
        conv = rep["thresholds"]["converged"]
        re_ = rep["reference_exponents"]
        lines += [f"## Convergence threshold, n = {cfg['n']}", ""]
        lines += _threshold_table(conv["per_d0"], "d0")
        lines += ["", _fit_line("d1*(d0)", conv["fit_d1"]), "",
                  f"Reference d0 exponents: paper's (21) {re_['paper_21']:g}; "
                  f"corrected (21) at {cfg['init']} init "
                  f"{_fmt(re_['corrected_21'], 'g')}; counting bound n/(d0 + 1) over this "
                  f"grid {re_['counting_bound']:.3f}.", "",
                  f"Counting bound: {conv['counting_bound_note']}.", ""]
    else:
        th = rep["thresholds"]
        lines += [f"## Locality and convergence thresholds, d0 = {cfg['d0']}", "",
                  f"Locality: converged and the whole run inside rho_Phi "
                  f"({rep['radius']['defines_threshold']} form); {rep['radius']['note']}.", "",
                  "### Locality", ""]
        lines += _threshold_table(th["locality"]["per_n"], "n")
        lines += ["", _fit_line("the locality width in n", th["locality"]["fit_d1"]), "",
                  "### Convergence (same data)", ""]
        lines += _threshold_table(th["converged"]["per_n"], "n")
        lines += ["", _fit_line("the convergence width in n", th["converged"]["fit_d1"]), "",
                  "### Ratio locality width / convergence width", "",
                  "| n | ratio | interval |", "|---|---|---|"]
        for p in rep["ratio"]["per_n"]:
            lines.append(f"| {p['n']} | {_fmt(p['ratio'])} | [{_fmt(p['ci_low'])}, "
                         f"{_fmt(p['ci_high'])}] |")
        gm = rep["ratio"]["geometric_mean"]
        lines += ["", f"Geometric mean over n = {gm.get('n_used')}: {_fmt(gm['value'])} "
                      f"[{_fmt(gm['ci_low'])}, {_fmt(gm['ci_high'])}].", ""]
        dl = rep["distance_law"]
        lines += [f"Distance law: median slope {_fmt(dl['median_slope'])} (range "
                  f"{dl['range']}); {dl['note']}.", ""]
    b = rep["budget_sensitivity"]
    lines += ["## Budget sensitivity", "",
              f"{b['n_moved']} of {b['n_searches']} thresholds moved when the budget was "
              f"doubled (moves: {b['moves'] or 'none'}; "
              f"{b['n_moved_at_least']} may move further); {b['note']}."]
    if b["censored_reruns"]:
        lines.append(f"Censored searches re-run at 2T: {b['censored_reruns']}.")
    m = rep["monotonicity"]
    lines += ["", "## Monotonicity", "",
              f"{m['n_violations']} violations in {m['n_searches_with_violations']} of "
              f"{m['n_searches']} searches; {m['note']}.", ""]
    for v in m["violations"][:30]:
        lines.append(f"- search {v['search']}: d1* = {v['d1_star']}, {v['kind']} at d1 = "
                     f"{v['d1']} (status {v['status']})")
    lines += ["", "## Premises on the same data (medians over seeds)", "",
              "| n | d0 | sigma_max(X)^2 / (n/d0) | sigma_min(X^{*2}) | C(d0+1,2) |",
              "|---|---|---|---|---|"]
    for p in rep["premises"]:
        lines.append(f"| {p['n']} | {p['d0']} | {p['ratio_sigma_max_sq']:.3f} | "
                     f"{p['sigma_min_khatri_rao']:.3g} | {p['symmetric_dim']} |")
    e = rep["engine"]
    lines += ["", "## Step size", "",
              f"Step rule: {cfg['lr_rule']}. {e['cells_restarted']} of "
              f"{e['cells_in_database']} stored cells diverged at the first step size and were "
              f"restarted from the same weights (cells by number of halvings: "
              f"{', '.join(f'{k}: {v}' for k, v in e['halvings'])}); {e['cells_diverged']} "
              "still diverged at the smallest step."]
    lines += ["", f"Run time: {rep['run_seconds']:.1f} s wall in this call, "
                  f"{e['cpu_seconds']:.1f} s summed over the {e['cells_in_database']} stored "
                  f"cells; {e['rounds']} rounds; {e['cells_run']} cells run in this call, "
                  f"{e['cells_stored_before']} re-used; {rep['n_errors']} errors.", ""]
    return "\n".join(lines)


def _scatter_seeds(ax, rows, x_name, bound_key="bound", color="C0", label="per seed"):
    xs, ys, xc, yc = [], [], [], []
    for r in rows:
        k = len(r["per_seed"])
        for j, v in enumerate(r["per_seed"]):
            jit = 1 + 0.04 * (j - (k - 1) / 2) / max(k, 1)
            if v is None:
                xc.append(r[x_name] * jit)
                yc.append(r[bound_key])
            else:
                xs.append(r[x_name] * jit)
                ys.append(v)
    if xs:
        ax.plot(xs, ys, ".", color=color, alpha=0.5, linestyle="none", label=label)
    if xc:
        ax.plot(xc, yc, "^", mfc="none", mec="k", linestyle="none",
                label="censored (above the bound)")


def _fit_label(name, f):
    if f["slope"] is None:
        return f"{name}: no fit"
    return (f"{name}: slope {f['slope']:.2f} [{_fmt(f['ci_low'], '.2f')}, "
            f"{_fmt(f['ci_high'], '.2f')}]")


def _median_line(ax, rows, x_name, f, scale=1.0, color="C0", name=r"median $d_1^*$"):
    xs = [r[x_name] for r in rows if r["d1_star"] is not None]
    ys = [r["d1_star"] * scale for r in rows if r["d1_star"] is not None]
    if xs:
        ax.plot(xs, ys, "o-", color=color, label=_fit_label(name, f))
    return (xs[0], ys[0]) if xs else None


#: Axis labels of the swept quantities.
_X_LABELS = {"n": r"samples $n$", "d0": r"input dimension $d_0$"}
_X_SYMBOLS = {"n": "n", "d0": "d_0"}


def _reference_curves(xx, x_name, ref, cfg, anchor, scale):
    """``(name, detail, y)`` of eq. (21)'s curves on a panel whose quantity is ``scale(x) d1``.

    The paper's (21) and the d0-corrected one, anchored at the first median
    (their constants are unknown), and the corrected (21) with the constant
    the derivations give, drawn as is.
    """
    xx = np.asarray(xx, dtype=float)
    sc = np.array([scale(v) for v in xx])
    sym = _X_SYMBOLS[x_name]
    out = []
    if anchor is not None:
        x0, y0 = anchor
        s0 = scale(x0)
        for key, name in (("paper_21", "paper's (21)"), ("corrected_21", "$d_0$-corrected (21)")):
            r = ref[key]
            if r is None:
                continue
            e = r[x_name]
            out.append((name, rf"$d_1 \propto {sym}^{{{e:g}}}$, anchored at the first median",
                        y0 / s0 * (xx / x0) ** e * sc))
    corr = ref["corrected_21"]
    if corr is not None and corr["constant"] is not None:
        if x_name == "n":
            w = corr["constant"] * xx ** corr["n"] * float(cfg["d0"]) ** corr["d0"]
        else:
            w = corr["constant"] * float(cfg["n"]) ** corr["n"] * xx ** corr["d0"]
        out.append((f"(21) at {cfg['init']} init",
                    f"derived constant {corr['constant']:.3g} (sufficient)", w * sc))
    return out


def _budget_title(rep):
    cfg = rep["config"]
    return ("budget T = " + (cfg["steps_rule"] if cfg["steps_rule"] != "fixed"
                             else str(cfg["steps"])) + " steps")


def _figure(rep):
    """The figure ``sweep_thresholds`` of a sweep report, legends placed."""
    from ._plots import new_figure, place_legends, style

    with style():
        fig, (ax, ax2) = new_figure(1, 2, size=(12.8, 4.6))
        for a in (ax, ax2):
            a.set_xscale("log")
            a.set_yscale("log")
        if rep["mode"] in ("n", "d0"):
            _threshold_panels(ax, ax2, rep)
        else:
            _locality_panels(ax, ax2, rep)
        place_legends(fig)
    return fig


def _threshold_panels(ax, ax2, rep):
    from ._plots import reference_lines

    cfg, x_name = rep["config"], rep["mode"]
    conv = rep["thresholds"]["converged"]
    rows = conv["per_n"] if x_name == "n" else conv["per_d0"]
    x = np.array([r[x_name] for r in rows], dtype=float)
    xx = np.geomspace(x[0], x[-1], 50)
    ref = rep["reference_curves"]
    # the width d1*
    _scatter_seeds(ax, rows, x_name)
    anchor = _median_line(ax, rows, x_name, conv["fit_d1"])
    cb = xx / (cfg["d0"] + 1) if x_name == "n" else cfg["n"] / (xx + 1)
    reference_lines(ax, [("counting bound", r"$n\,d_2 / (d_0 + d_2)$", cb)]
                    + _reference_curves(xx, x_name, ref, cfg, anchor, lambda v: 1.0), xx)
    ax.set_xlabel(_X_LABELS[x_name])
    ax.set_ylabel(r"threshold width $d_1^*$")
    fixed = rf"$d_0 = {cfg['d0']}$" if x_name == "n" else rf"$n = {cfg['n']}$"
    ax.set_title(f"convergence width at {fixed}, {_budget_title(rep)}")
    # the parameter count d0 d1*
    if x_name == "n":
        d0 = cfg["d0"]
        anchor = _median_line(ax2, rows, "n", conv["fit_d0_d1"], scale=d0,
                              name=r"median $d_0\,d_1^*$")
        cb2, scale = xx * d0 / (d0 + 1), (lambda v: float(d0))
    else:
        pts = [(r["d0"], r["d0"] * r["d1_star"]) for r in rows if r["d1_star"] is not None]
        anchor = pts[0] if pts else None
        if pts:
            ax2.plot(*zip(*pts), "o-", color="C0", label=r"median $d_0\,d_1^*$")
        cb2, scale = cfg["n"] * xx / (xx + 1), (lambda v: v)
    reference_lines(ax2, [("counting bound", r"$n\,d_0 d_2 / (d_0 + d_2)$", cb2)]
                    + _reference_curves(xx, x_name, ref, cfg, anchor, scale), xx)
    ax2.set_xlabel(_X_LABELS[x_name])
    ax2.set_ylabel(r"parameter count $d_0\,d_1^*$")
    ax2.set_title("parameter count at the threshold")


def _locality_panels(ax, ax2, rep):
    from ._plots import reference_lines

    cfg = rep["config"]
    th = rep["thresholds"]
    for key, color, name in (("locality", "C3", "locality width"),
                             ("converged", "C0", "convergence width")):
        rows = th[key]["per_n"]
        _scatter_seeds(ax, rows, "n", color=color, label=f"{name}, per seed")
        _median_line(ax, rows, "n", th[key]["fit_d1"], color=color, name=name)
    ax.set_xlabel(_X_LABELS["n"])
    ax.set_ylabel(r"threshold width $d_1^*$")
    gm = rep["ratio"]["geometric_mean"]
    ax.set_title(rf"locality / convergence width {_fmt(gm['value'])} "
                 rf"[{_fmt(gm['ci_low'])}, {_fmt(gm['ci_high'])}] at $d_0 = {cfg['d0']}$")
    for j, e in enumerate(rep["distance_law"]["per_n"]):
        for k, pts in enumerate(e["points"]):
            if pts:
                d, r = zip(*pts)
                ax2.plot(d, r, "o-", ms=3, color=f"C{j}",
                         label=f"$n = {e['n']}$, per seed" if k == 0 else None)
    form = rep["radius"]["defines_threshold"]
    reference_lines(ax2, [(r"$\rho_\Phi$", f"{form} form, the locality boundary", 1.0)])
    ax2.set_xlabel(r"width $d_1$")
    ax2.set_ylabel(rf"largest distance $\|\Theta_t - \Theta_0\| \,/\, \rho_\Phi$ ({form})")
    ax2.set_title(f"distance law: median slope {_fmt(rep['distance_law']['median_slope'])}")


def _plot(rep, path, plot_format="png"):
    """Write the figure of a sweep report to ``path`` in ``plot_format``."""
    from ._plots import save_figure

    save_figure(_figure(rep), path, plot_format)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def _cells_estimate(n_searches, d1_start, d1_max, check_above, check_below, budget_widths,
                    rel_tol=0.0):
    # Probes of one search: bracket (doublings from the start) + bisection of
    # the last octave + window + budget re-runs.
    up = max(1, math.ceil(math.log2(max(d1_max / max(d1_start, 1), 1)))) + 1
    res = max(1, int(rel_tol * d1_start)) if rel_tol else 1
    bis = max(1, math.ceil(math.log2(max(d1_start / res, 2))))
    per = min(up, 4) + bis + check_above + check_below + budget_widths
    return n_searches * per


def _help_budget():
    d = SWEEP_DEFAULTS
    n_s = len(d["n_grid"]) * d["seeds"]
    est = _cells_estimate(n_s, 16, d["d1_max"], d["check_above"], d["check_below"],
                          d["budget_widths"])
    return (f"Budgets: the default n sweep ({len(d['n_grid'])} n x {d['seeds']} seeds = {n_s} "
            f"searches, about {est} cells of up to T = {budget_steps(max(d['n_grid'])):,} steps; "
            "the cells at "
            "n = 1024 dominate) may take up to an hour on 2 cores; a reduced sweep "
            "(--n-grid 16,32,64,128 --seeds 3) takes a few minutes. --mode d0 (4 d0 x 5 seeds "
            "at n = 512) costs about as much as the n sweep's n = 512 part; --mode locality "
            "(3 n x 3 seeds, widths up to 65,536) is dominated by the widest cells at n = 64. "
            "Measured wall times are in the width-sweep tutorial.")


#: Largest value of an integer flag (widths, steps, counts): NumPy refuses larger dimensions.
_FLAG_INT_MAX = 2**31 - 1


def _flag_int(flag, minimum=1, maximum=_FLAG_INT_MAX):
    import argparse

    def parse(text):
        try:
            f = float(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got {text!r}") from None
        if not math.isfinite(f) or not f.is_integer() or f < minimum \
                or (maximum is not None and f > maximum):
            bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(
                f"{flag} must be a finite integer {bounds}, got {text!r}")
        return int(f)

    return parse


def _flag_steps(text):
    import argparse

    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        return _flag_int("--steps")(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"--steps must be 'auto' or a finite integer >= 1, got {text!r}") from None


def _flag_float(flag):
    import argparse

    def parse(text):
        try:
            f = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number, got {text!r}") from None
        if not math.isfinite(f):
            raise argparse.ArgumentTypeError(f"{flag} must be finite, got {text!r}")
        return f

    return parse


def _flag_list(text, flag):
    items = str(text).replace(" ", "").split(",")
    if not all(items):   # '', '1,,2', ',4'
        raise ValueError(f"{flag} must be a comma-separated list of integers, got {text!r}")
    out = []
    for s in items:
        try:
            f = float(s)
        except ValueError:
            raise ValueError(f"{flag} must be a comma-separated list of integers, "
                             f"got {text!r}") from None
        if not math.isfinite(f) or not f.is_integer() or not 1 <= f <= _FLAG_INT_MAX:
            raise ValueError(f"{flag} must hold integers in [1, {_FLAG_INT_MAX}], got {s!r} "
                             f"in {text!r}")
        out.append(int(f))
    if len(set(out)) < 2:
        raise ValueError(f"{flag} needs at least two distinct values to fit an exponent, "
                         f"got {text!r}")
    return out


#: Flags that belong to one mode only (dest -> modes).
_MODE_FLAGS = {"d0_grid": ("d0",), "n": ("d0",), "n_grid": ("n", "locality"),
               "d0": ("n", "locality"), "radius": ("locality",),
               "locality_start": ("locality",), "d1_start": ("n", "d0")}


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

    Examples
    --------
    >>> import argparse
    >>> p = configure_parser(argparse.ArgumentParser())
    >>> a = p.parse_args(["--mode", "d0", "--d0-grid", "16,32"])
    >>> a.mode, a.d0_grid, a.steps
    ('d0', '16,32', 'auto')
    """
    d, L, D = SWEEP_DEFAULTS, LOCALITY_DEFAULTS, D0_DEFAULTS
    p.epilog = _help_budget()
    g = p.add_argument_group("experiment")
    g.add_argument("--mode", choices=_MODES, default="n",
                   help="n: threshold against n at fixed d0; d0: against d0 at fixed n; "
                        "locality: the width whose whole run stays inside rho_Phi, beside the "
                        "convergence width (default: n)")
    g.add_argument("--d0", type=_flag_int("--d0"), default=None,
                   help=f"input dimension, modes n and locality (default: {d['d0']})")
    g.add_argument("--n-grid", default=None, metavar="N1,N2,...",
                   help="sample sizes, modes n and locality (default: "
                        f"{','.join(map(str, d['n_grid']))}; locality: "
                        f"{','.join(map(str, L['n_grid']))})")
    g.add_argument("--n", type=_flag_int("--n"), default=None,
                   help=f"sample size, mode d0 (default: {D['n']})")
    g.add_argument("--d0-grid", default=None, metavar="D1,D2,...",
                   help="input dimensions, mode d0 (default: "
                        f"{','.join(map(str, D['d0_grid']))})")
    g.add_argument("--steps", type=_flag_steps, default="auto", metavar="T",
                   help="GD step budget T of every probe, or 'auto' = max(20000, "
                        "ceil(n^2 / 10)) per n (default: auto)")
    g.add_argument("--eps", type=_flag_float("--eps"), default=d["eps"],
                   help="converged means h <= eps ||Y||_F^2 (default: %(default)g)")
    g.add_argument("--lr", default="auto",
                   help="step size, or 'auto' = 1/(2 lambda_max(K_0)) per cell (default: auto)")
    g.add_argument("--lr-halvings", type=_flag_int("--lr-halvings", 0),
                   default=d["lr_halvings"], metavar="K",
                   help="restart a diverging run from the same weights at half the step, up "
                        "to K times (default: %(default)s; 0: no restart)")
    g.add_argument("--activation", default=d["activation"], help="activation (default: gelu)")
    g.add_argument("--init", default=d["init"], help="lecun, he or xavier (default: lecun)")
    g.add_argument("--d1-min", type=_flag_int("--d1-min"), default=d["d1_min"],
                   help="smallest width searched (default: 1)")
    g.add_argument("--d1-max", type=_flag_int("--d1-max"), default=None,
                   help=f"largest width searched; no success up to it is a censored threshold "
                        f"(default: {d['d1_max']}; locality: {L['d1_max']})")
    g.add_argument("--d1-start", type=_flag_int("--d1-start"), default=None,
                   help="first probe, modes n and d0 (default: ceil(n / (d0 + 1)), the "
                        "counting bound)")
    g.add_argument("--locality-start", type=_flag_int("--locality-start"), default=None,
                   help=f"first probe of the locality search (default: {L['locality_start']})")
    g.add_argument("--rel-tol", type=_flag_float("--rel-tol"), default=None,
                   help="relative resolution of the bisection (default: 0 = exact; locality "
                        f"search: {L['rel_tol']:g})")
    g.add_argument("--check-above", type=_flag_int("--check-above", 0), default=None,
                   help="widths checked above each threshold (default: 2; locality: 1)")
    g.add_argument("--check-below", type=_flag_int("--check-below", 0), default=None,
                   help="widths checked below each threshold (default: 2; locality: 1)")
    g.add_argument("--budget-widths", type=_flag_int("--budget-widths", 0), default=1,
                   help="failing widths just below each threshold re-run at 2T (default: 1; "
                        "0: no budget check)")
    g.add_argument("--radius", choices=_RADII, default=None,
                   help="radius defining the locality threshold: the paper's (Lemma 3's "
                        "beta_Phi) or the follow-up's (default: paper; both are recorded)")
    g.add_argument("--bootstrap", type=_flag_int("--bootstrap"), default=d["n_boot"],
                   metavar="B", help="bootstrap replicates (default: %(default)s)")
    g.add_argument("--no-plot", action="store_true", help="skip the figure sweep_thresholds")
    g.add_argument("--plot-format", choices=PLOT_FORMATS, default="png",
                   help="file format of the figure: png (150 dpi), svg or pdf (default: png)")
    add_common_args(p, "pl_sweep")
    p.set_defaults(func=command, seeds=None)
    for a in p._actions:
        if a.dest == "seeds":
            a.help = (f"data draws (searches) per n or d0 (default: {d['seeds']}; locality: "
                      f"{L['seeds']})")
    return p


def _check_mode_flags(args):
    for dest, modes in _MODE_FLAGS.items():
        if getattr(args, dest, None) is not None and args.mode not in modes:
            flag = "--" + dest.replace("_", "-")
            raise ValueError(f"{flag} does not apply to --mode {args.mode} (only to --mode "
                             f"{' or '.join(modes)})")


def command(args):
    """Run ``pl-toolkit sweep`` from parsed arguments; returns the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Arguments from a parser built with :func:`configure_parser`.

    Returns
    -------
    int
        0 when every search finished, 1 when some cells failed (their errors
        are in ``sweep.json``).

    Raises
    ------
    ValueError
        On bad input (one line naming the flag).

    Examples
    --------
    >>> import argparse, shutil, tempfile
    >>> out = tempfile.mkdtemp()
    >>> p = configure_parser(argparse.ArgumentParser())
    >>> args = p.parse_args(["--out", out, "--workers", "1", "--d0", "4", "--n-grid", "4,8",
    ...                      "--seeds", "1", "--steps", "500", "--d1-max", "32",
    ...                      "--bootstrap", "20", "--quiet", "--no-plot", "--resume"])
    >>> command(args)
    0
    >>> shutil.rmtree(out)
    """
    import sys

    _check_mode_flags(args)
    mode = args.mode
    defaults = LOCALITY_DEFAULTS if mode == "locality" else SWEEP_DEFAULTS
    seeds = defaults["seeds"] if args.seeds is None else args.seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"--seeds must be a positive integer, got {seeds!r}")
    if args.root_seed is not None and args.root_seed < 0:
        raise ValueError(f"--root-seed must be a non-negative integer, got {args.root_seed}")
    if args.threads_per_cell is not None and args.threads_per_cell < 1:
        raise ValueError(f"--threads-per-cell must be a positive integer, "
                         f"got {args.threads_per_cell}")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be a positive integer, got {args.workers}")
    if args.dask_scheduler is not None and args.workers is not None:
        raise ValueError("--workers and --dask-scheduler are exclusive: give one of them")
    if args.dask_scheduler is not None and not args.dask_scheduler.strip():
        raise ValueError("--dask-scheduler must be an address like tcp://host:8786, got ''")
    if not str(args.out).strip():
        raise ValueError("--out must be a folder path, got ''")
    if str(args.lr).lower() == "auto":
        lr = "auto"
    else:
        try:
            lr = float(args.lr)
        except (ValueError, OverflowError):
            raise ValueError(f"--lr must be 'auto' or a positive number, got {args.lr!r}") \
                from None
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"--lr must be 'auto' or a positive number, got {args.lr!r}")
    if not 0 < args.eps < 1:
        raise ValueError(f"--eps must lie in (0, 1), got {args.eps:g}")
    if args.rel_tol is not None and not 0 <= args.rel_tol < 1:
        raise ValueError(f"--rel-tol must lie in [0, 1), got {args.rel_tol:g}")
    d1_max = args.d1_max if args.d1_max is not None else defaults["d1_max"]
    if d1_max < args.d1_min:
        raise ValueError(f"--d1-max ({d1_max}) is smaller than --d1-min ({args.d1_min})")
    from ..activations import get_activation

    try:
        get_activation(args.activation)
    except ValueError as exc:
        raise ValueError(f"--activation: {exc}") from None
    if args.init not in _INITS:
        raise ValueError(f"--init must be lecun, he or xavier, got {args.init!r}")
    if mode == "d0":
        d0_grid = (_flag_list(args.d0_grid, "--d0-grid") if args.d0_grid is not None
                   else list(D0_DEFAULTS["d0_grid"]))
    else:
        n_grid = (_flag_list(args.n_grid, "--n-grid") if args.n_grid is not None
                  else list((LOCALITY_DEFAULTS if mode == "locality" else SWEEP_DEFAULTS)
                            ["n_grid"]))
    # Claim the folder before the API does, so that a refusal names the flags.
    claim_output_dir(args.out, tool="sweep", files=_report_files(args.plot_format),
                     overwrite=args.overwrite, resume=args.resume, engine=True)
    log = None
    if not args.quiet and not args.json:
        def log(line):
            print(f"[sweep] {line}", file=sys.stderr, flush=True)

    common = dict(seeds=seeds, steps=args.steps, eps=args.eps, lr=lr,
                  lr_halvings=args.lr_halvings,
                  activation=args.activation, init=args.init, d1_min=args.d1_min, d1_max=d1_max,
                  budget_widths=args.budget_widths, n_boot=args.bootstrap,
                  root_seed=args.root_seed, workers=args.workers,
                  dask_scheduler=args.dask_scheduler, resume=args.resume,
                  overwrite=args.overwrite, progress=progress_flag(args),
                  threads_per_cell=args.threads_per_cell,
                  plot=not args.no_plot, plot_format=args.plot_format, log=log)
    ca = args.check_above
    cb = args.check_below
    if mode == "n":
        rep = run_width_sweep(args.out, d0=args.d0 or SWEEP_DEFAULTS["d0"], n_grid=n_grid,
                              d1_start=args.d1_start, rel_tol=args.rel_tol or 0.0,
                              check_above=2 if ca is None else ca,
                              check_below=2 if cb is None else cb, **common)
    elif mode == "d0":
        rep = run_d0_sweep(args.out, n=args.n or D0_DEFAULTS["n"], d0_grid=d0_grid,
                           d1_start=args.d1_start, rel_tol=args.rel_tol or 0.0,
                           check_above=2 if ca is None else ca,
                           check_below=2 if cb is None else cb, **common)
    else:
        rep = run_locality_sweep(
            args.out, d0=args.d0 or LOCALITY_DEFAULTS["d0"], n_grid=n_grid,
            locality_start=args.locality_start or LOCALITY_DEFAULTS["locality_start"],
            rel_tol=LOCALITY_DEFAULTS["rel_tol"] if args.rel_tol is None else args.rel_tol,
            check_above=1 if ca is None else ca, check_below=1 if cb is None else cb,
            radius=args.radius or "paper", **common)
    if args.json:
        from .._json import dumps

        keys = [k for k in ("mode", "config", "criterion", "thresholds", "ratio",
                            "distance_law", "reference_exponents", "budget_sensitivity",
                            "run_seconds", "cpu_seconds", "engine", "n_errors") if k in rep]
        print(dumps({k: rep[k] for k in keys}))
    elif not args.quiet:
        _print_summary(rep)
    return 0 if rep["n_errors"] == 0 else 1


def _print_summary(rep):
    mode = rep["mode"]
    cfg = rep["config"]
    th = rep["thresholds"]
    if mode in ("n", "d0"):
        x_name = mode
        rows = th["converged"]["per_n" if mode == "n" else "per_d0"]
        fixed = f"d0 = {cfg['d0']}" if mode == "n" else f"n = {cfg['n']}"
        print(f"width thresholds against {x_name} ({fixed}, T = {_budget_text(rep)}, "
              f"{rep['criterion']['rule']}, eps = {rep['criterion']['eps']:g})")
        print(f"{x_name:>6} {'d1*':>8} {'per seed':>28} {'x counting bound':>17}")
        for r in rows:
            per = ",".join(f">{r['bound']}" if v is None else str(v) for v in r["per_seed"])
            d1s = "censored" if r["censored"] else f"{r['d1_star']:g}"
            print(f"{r[x_name]:>6} {d1s:>8} {per:>28} "
                  f"{_fmt(r.get('ratio_to_counting_bound')):>17}")
        f = th["converged"]["fit_d1"]
        if f["slope"] is not None:
            print(f"exponent of d1* in {x_name}: {f['slope']:.3f} "
                  f"[{_fmt(f['ci_low'], '.3f')}, {_fmt(f['ci_high'], '.3f')}] (95% bootstrap "
                  "over seeds)")
        else:
            print(f"exponent of d1* in {x_name}: not fitted ({f['note']})")
        if f["censored"]:
            print(f"censored: {x_name} = {f['censored']}")
    else:
        for key in ("locality", "converged"):
            f = th[key]["fit_d1"]
            meds = [r["d1_star"] for r in th[key]["per_n"]]
            print(f"{key} width, median per n {cfg['n_grid']}: {meds}; exponent "
                  f"{_fmt(f['slope'], '.3f')} [{_fmt(f['ci_low'], '.3f')}, "
                  f"{_fmt(f['ci_high'], '.3f')}]")
        gm = rep["ratio"]["geometric_mean"]
        print(f"locality width / convergence width: {_fmt(gm['value'])} "
              f"[{_fmt(gm['ci_low'])}, {_fmt(gm['ci_high'])}]")
    b = rep["budget_sensitivity"]
    m = rep["monotonicity"]
    print(f"budget: {b['n_moved']} of {b['n_searches']} thresholds moved at 2T "
          f"(moves {b['moves'] or 'none'}); monotonicity violations: {m['n_violations']}")
    print(f"time: {rep['run_seconds']:.1f} s wall, {rep['cpu_seconds']:.1f} s in cells, "
          f"{rep['engine']['rounds']} rounds")
