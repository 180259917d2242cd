"""Gradient descent and SGD on the paper's loss, tracking the theory's quantities.

:func:`train` runs full-batch GD (eq. 12) or minibatch SGD on
``h(Theta) = ||V phi(W X) - Y||_F^2`` and records, at chosen steps, the
quantities of the paper's PL argument (Section 3): the loss, the gradient
norm, the empirical PL ratio ``||grad h||^2 / h`` and the NTK bound
``4 lambda_min(K_t)`` it must exceed, ``sigma_min(phi(W_t X))``, distances
and path length against the Lemma-1 radius ``rho_Phi``, local smoothness
(top Hessian eigenvalue and secants), an empirical ``beta_Phi`` (Jacobian
secant), laziness, and the per-step contraction beside the rate the PL
constant predicts.  The result is an immutable :class:`Trajectory`
(:mod:`pl_toolkit.trajectory`).  The step size is a number, resolved
before training by :mod:`pl_toolkit.step_size`; the tracked quantities are
declared once, in ``QUANTITIES``.

Step ``t`` always means the iterate ``Theta_t`` after ``t`` updates
(``t = 0`` is the initialization).  Quantities that compare two iterates
(``contraction``, the secants) are recorded at the earlier step ``t`` and
use ``Theta_t`` and ``Theta_{t+1}``.
"""

import contextlib
import math
import platform
import time
import warnings
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import scipy.linalg as sla

from ._objective import Evaluation, minibatches
from ._validation import check_positive_float, check_positive_int
from ._lanczos import guarded_lanczos
from .hessian import HessianOperator
from .network import check_layers, check_net
from .ntk import ntk_gram, ntk_operator

from .spectrum import ConvergenceWarning, LambdaMinTracker
from .trajectory import STATUSES, Trajectory  # noqa: F401  (STATUSES: the old name)
from .step_size import (TRAIN_RULES, StepSize, check_step_rule, inverse_smoothness_step,
                        theory_step_size)

__all__ = ["train", "Trajectory", "Quantity", "QUANTITIES", "TRACKABLE", "DEFAULT_TRACK",
           "CHEAP", "EXPENSIVE"]

@dataclass(frozen=True)
class Quantity:
    """One trackable quantity.

    Attributes
    ----------
    name : str
        The name ``track`` accepts.
    cost : {"cheap", "expensive"}
        ``"cheap"``: ``O(p)`` per tracked step or already paid by the step;
        ``"expensive"``: an eigen-solve, an SVD, a dense NTK or extra products.
    what : str
        The quantity, in the paper's terms.
    measure : callable
        ``measure(run, at)`` returns ``{output: value}`` at an iterate
        (``at``: the iterate and what its measurements share); for a
        secant, ``measure(run, prev, ev, step_norm)`` from ``Theta_t`` and
        ``Theta_{t+1}``.
    secant : bool
        Compares ``Theta_t`` with ``Theta_{t+1}`` (recorded at ``t``).
    default : bool
        In ``track="default"``.
    needs_lambda_min : bool
        Uses the warm-started ``lambda_min(K_t)`` tracker (one solve per
        iterate serves all that do).
    """

    name: str
    cost: str
    what: str
    measure: object = field(repr=False)
    secant: bool = False
    default: bool = False
    needs_lambda_min: bool = False


class _At:
    """One iterate being measured, and what its measurements share (computed once)."""

    def __init__(self, run, net, theta, ev, path):
        self.run, self.net, self.theta, self.ev, self.path = run, net, theta, ev, path
        self.cache = {}
        self._g2 = self._dist = self._lmin = None

    def g2(self):
        if self._g2 is None:
            self._g2 = float(self.ev.g @ self.ev.g)
        return self._g2

    def distances(self):
        """``(||Theta_t - Theta_0||, {layer: distance})``."""
        if self._dist is None:
            run = self.run
            d = {"W": 0.0, "V": 0.0}
            for layer, sl in run._layer_slices.items():
                d[layer] = float(np.linalg.norm(self.theta[sl] - run.theta0[sl]))
            self._dist = (math.hypot(d["W"], d["V"]), d)
        return self._dist

    def lambda_min(self):
        if self._lmin is None:
            run = self.run
            K = run._ntk(self.net, self.cache)
            with run._clock("lambda_min"):
                res = run._tracked(run._lmin, K)
            run._stat("lambda_min", res.matvecs, res.converged)
            self._lmin = float(res.value)
        return self._lmin


def _m_distance(run, at):
    total, d = at.distances()
    return {"distance": total, "distance_W": d["W"], "distance_V": d["V"]}


def _m_weight_change(run, at):
    d = at.distances()[1]
    out = {}
    for layer in ("W", "V"):
        n0 = run._layer_norm0[layer]
        out[f"weight_change_{layer}"] = d[layer] / n0 if n0 > 0 else float("nan")
    return out


def _m_hessian_top(run, at):
    with run._clock("hessian_top"):
        op = HessianOperator(at.net, run.X, run.Y, run.layers)
        val, run._hess_vec = run._lanczos("hessian_top", op.matvec, op.shape[0], "LA",
                                          run._hess_vec)
    return {"hessian_top": float(val)}


def _m_laziness(run, at):
    if run.dense_lazy:
        K = run._ntk(at.net, at.cache)
    else:
        K = ntk_operator(at.net, run.X, run.layers)
    with run._clock("laziness"):
        if run.dense_lazy:
            D = K - run._K0
            mv = D.__matmul__
        else:
            K0 = run._K0

            def mv(u):
                return K.matvec(u) - K0.matvec(u)
        val, run._lazy_vec = run._lanczos("laziness", mv, K.shape[0], "LM", run._lazy_vec)
    return {"laziness": abs(float(val)) / run._K0_norm if run._K0_norm > 0 else float("nan")}


def _m_sigma_min_features(run, at):
    with run._clock("sigma_min_features"):
        return {"sigma_min_features": run._sigma_min_features(at.ev.H)}


def _s_contraction(run, prev, ev, step_norm):
    return {"contraction": ev.h / prev.h if prev.h > 0 else float("nan")}


def _s_smoothness(run, prev, ev, step_norm):
    dg = float(np.linalg.norm(ev.g - prev.g))
    return {"smoothness_secant": dg / step_norm if step_norm > 0 else float("nan")}


def _s_jacobian(run, prev, ev, step_norm):
    if not step_norm > 0:
        return {"jacobian_secant": float("nan")}
    with run._clock("jacobian_secant"):
        mv = _jacobian_difference_gram(run.X, prev, ev, run.layers)
        val, run._jac_vec = run._lanczos("jacobian_secant", mv, run.n * ev.net.d2, "LA",
                                         run._jac_vec)
    return {"jacobian_secant": math.sqrt(max(float(val), 0.0)) / step_norm}


#: The registry of trackable quantities: adding one is adding a row here.
QUANTITIES = (
    Quantity("loss", "cheap", "h(Theta_t)", lambda run, at: {"loss": at.ev.h}, default=True),
    Quantity("grad_norm", "cheap", "||grad h||",
             lambda run, at: {"grad_norm": math.sqrt(at.g2())}, default=True),
    Quantity("pl_ratio", "cheap", "||grad h||^2 / h",
             lambda run, at: {"pl_ratio": at.g2() / at.ev.h if at.ev.h > 0 else float("nan")},
             default=True),
    Quantity("distance", "cheap", "||Theta_t - Theta_0||, also per layer", _m_distance,
             default=True),
    Quantity("path_length", "cheap", "sum_i ||Theta_{i+1} - Theta_i||",
             lambda run, at: {"path_length": at.path}, default=True),
    Quantity("contraction", "cheap", "h_{t+1} / h_t", _s_contraction, secant=True,
             default=True),
    Quantity("weight_change", "cheap", "||Theta^l_t - Theta^l_0|| / ||Theta^l_0|| per layer",
             _m_weight_change),
    Quantity("smoothness_secant", "cheap",
             "||grad h_{t+1} - grad h_t|| / ||Theta_{t+1} - Theta_t||", _s_smoothness,
             secant=True),
    Quantity("inside_ball", "cheap", "||Theta_t - Theta_0|| <= rho_Phi",
             lambda run, at: {"inside_ball": bool(at.distances()[0] <= run.rho)}),
    Quantity("lambda_min", "expensive", "lambda_min(K_t)",
             lambda run, at: {"lambda_min": at.lambda_min()}, needs_lambda_min=True),
    Quantity("pl_bound", "expensive", "4 lambda_min(K_t)",
             lambda run, at: {"pl_bound": 4.0 * at.lambda_min()}, needs_lambda_min=True),
    Quantity("contraction_predicted", "expensive", "1 - 4 eta lambda_min(K_t)",
             lambda run, at: {"contraction_predicted": 1.0 - 4.0 * run.lr * at.lambda_min()},
             needs_lambda_min=True),
    Quantity("sigma_min_features", "expensive", "sigma_min(phi(W_t X_paper))",
             _m_sigma_min_features),
    Quantity("hessian_top", "expensive", "top eigenvalue of nabla^2 h", _m_hessian_top),
    Quantity("jacobian_secant", "expensive",
             "||J_{t+1} - J_t||_2 / ||Theta_{t+1} - Theta_t||", _s_jacobian, secant=True),
    Quantity("laziness", "expensive", "||K_t - K_0||_2 / ||K_0||_2", _m_laziness),
)
_BY_NAME = {q.name: q for q in QUANTITIES}

#: Quantities whose cost per tracked step is O(p) or already paid by the step.
CHEAP = tuple(q.name for q in QUANTITIES if q.cost == "cheap")
#: Quantities needing an eigen-solve, an SVD, a dense NTK or extra products.
EXPENSIVE = tuple(q.name for q in QUANTITIES if q.cost == "expensive")
#: Every name accepted by ``track``.
TRACKABLE = tuple(q.name for q in QUANTITIES)
#: ``track="default"``: cheap enough to cost almost nothing beyond the step.
DEFAULT_TRACK = tuple(q.name for q in QUANTITIES if q.default)
_SECANTS = tuple(q.name for q in QUANTITIES if q.secant)
_NEED_LMIN = tuple(q.name for q in QUANTITIES if q.needs_lambda_min)


#: Largest ``n * d2`` for which the NTK is formed densely while tracking.  Dense
#: wins by far at these sizes: the NTK's smallest eigenvalues are clustered and
#: its condition number is 1e4-1e8, so matrix-free Lanczos needs thousands of
#: products of ``O(n d0 d1 + n d1 d2)`` each, against one Gram of
#: ``O((n d2)^2 d1)`` and a dense solve of ``O((n d2)^3)`` (timings on digits,
#: ``n d2 = 5000``: docs/performance.rst, "Solver choices, measured").  Memory:
#: 8 (n d2)^2 bytes per matrix.
_DENSE_NTK_MAX = 6000
#: Largest ``n * d2`` for which laziness uses dense NTKs (``K_0`` is kept).  Above
#: it, ``||K_t - K_0||_2`` comes from Lanczos on the difference of two NTK
#: operators: ~10 products of ``O(n d0 d1)`` against ``O(n^2 d2^2 d1)`` to form
#: ``K_t`` (the Gram's timing on digits is beside the tracker's, on the
#: performance page).
_DENSE_LAZINESS_MAX = 2000
#: Largest ``n`` for which sigma_min(phi(W X)) is taken from an SVD of the features.
_SVD_FEATURES_MAX = 200
#: Relative tolerance of the Lanczos runs used for tracking, per quantity.  A
#: looser 1e-4 for laziness and the Jacobian secant was tried: it saves about
#: half the products, but the Kato-Temple acceptance (Ritz gap as the gap
#: estimate) then let errors of 1.4e-4 through, so all stay at 1e-6.
_TRACK_TOL = dict(hessian_top=1e-6, hessian_init=1e-6, laziness=1e-6, jacobian_secant=1e-6)

# --------------------------------------------------------------------------
# Solvers used while tracking
# --------------------------------------------------------------------------
def _new_lambda_min_tracker(tol=1e-8):
    """The one place that chooses the warm-started lambda_min solver."""
    return LambdaMinTracker(method="auto", tol=tol)


def _minibatch_gradient(net, X, Y, idx, layers=("W", "V")):
    """Loss and gradient of the minibatch loss ``(n/b) sum_{a in B} ||r_a||^2``."""
    n = X.shape[0]
    ev = Evaluation(net, X[idx], Y[idx], layers, scale=n / len(idx))
    return ev.h, ev.g


def _jacobian_difference_gram(X, prev, cur, layers):
    """Matvec of ``(J_1 - J_0)(J_1 - J_0)^T`` on outputs, from stored features."""
    n = X.shape[0]
    net0, H0, G0 = prev.net, prev.H, prev.G
    net1, H1, G1 = cur.net, cur.H, cur.G
    d2 = net1.d2
    use_w, use_v = "W" in layers, "V" in layers
    bias1 = net1.b1 is not None
    dH = H1 - H0 if use_v else None
    V0, V1 = net0.V, net1.V

    def matvec(u):
        U = np.asarray(u, dtype=np.float64).reshape(n, d2)
        out = np.zeros((n, d2))
        if use_w:
            M = (U @ V1) * G1
            M -= (U @ V0) * G0
            gW = M.T @ X
            T = X @ gW.T
            if bias1:
                T += M.sum(axis=0)
            out += (T * G1) @ V1.T
            out -= (T * G0) @ V0.T
        if use_v:
            out += dH @ (dH.T @ U)
        return out.reshape(-1)

    return matvec


def _parse_track(track):
    if track is None:
        return ()
    if isinstance(track, str):
        if track == "default":
            return DEFAULT_TRACK
        if track == "all":
            return TRACKABLE
        track = (track,)
    try:
        names = tuple(track)
    except TypeError:
        raise ValueError(f"track must be 'default', 'all', or a sequence of names, "
                         f"got {track!r}") from None
    out = []
    for name in names:
        if name in ("default", "all"):
            out.extend(_parse_track(name))
        elif name not in TRACKABLE:
            raise ValueError(f"track contains unknown quantity {name!r}; choose from "
                             f"{list(TRACKABLE)}, 'default' or 'all'")
        else:
            out.append(name)
    return tuple(n for n in TRACKABLE if n in out)


def _parse_every(track_every, names):
    """Resolve ``track_every`` to ``{name: every}`` for the tracked names."""
    if isinstance(track_every, Mapping):
        spec = dict(track_every)
        allowed = set(TRACKABLE) | {"cheap", "expensive", "default"}
        for key, val in spec.items():
            if key not in allowed:
                raise ValueError(f"track_every has unknown key {key!r}; use quantity names, "
                                 f"'cheap', 'expensive' or 'default'")
            check_positive_int(val, f"track_every[{key!r}]")
        base = int(spec.get("default", 1))
        out = {}
        for name in names:
            group = _BY_NAME[name].cost
            out[name] = int(spec.get(name, spec.get(group, base)))
        return out
    every = check_positive_int(track_every, "track_every")
    return {name: every for name in names}


def _versions():
    import numba
    import scipy

    from . import __version__

    return dict(pl_toolkit=__version__, numpy=np.__version__, scipy=scipy.__version__,
                numba=numba.__version__, python=platform.python_version())


def _threads():
    import numba

    out = dict(numba=int(numba.get_num_threads()))
    try:
        from threadpoolctl import threadpool_info

        out["blas"] = [dict(api=i.get("internal_api"), threads=i.get("num_threads"))
                       for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # threadpoolctl is optional (it comes with scikit-learn)
        pass
    return out


def _seed_json(seed):
    return seed.entropy if isinstance(seed, np.random.SeedSequence) else int(seed)


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------
class _Run:
    """One training run: its settings, solver state and the record being built."""

    def __init__(self, net, X, Y, *, steps, lr, optimizer, batch_size, layers, names, every,
                 stop_loss, seed, progress, callback, lr_constant, divergence_factor,
                 stall_window=None, stall_rtol=1e-3, constants=None):
        self.net0, self.X, self.Y = net, X, Y
        self.stall_window, self.stall_rtol = stall_window, stall_rtol
        self.n = X.shape[0]
        self.steps, self.optimizer, self.batch_size = steps, optimizer, batch_size
        self.layers, self.names, self.every = layers, names, every
        self.stop_loss, self.progress, self.callback = stop_loss, progress, callback
        self.lr_spec, self.lr_constant, self.factor = lr, lr_constant, divergence_factor
        self.constants = constants
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.seed = seed
        batch_ss, solver_ss = ss.spawn(2)
        self.batch_rng = np.random.default_rng(batch_ss)
        self.solver_rng = np.random.default_rng(solver_ss)
        self.rec = {}
        self.stats = {}
        self.meta = {}
        # parameter layout of the trained vector, per layer
        self._layer_slices = {}
        i = 0
        for layer in layers:
            size = net.num_parameters((layer,))
            self._layer_slices[layer] = slice(i, i + size)
            i += size
        self.theta0 = net.parameters(layers)
        self._layer_norm0 = {layer: float(np.linalg.norm(net.parameters((layer,))))
                             for layer in ("W", "V")}
        self.dense_ntk = self.n * net.d2 <= _DENSE_NTK_MAX
        self.dense_lazy = self.n * net.d2 <= _DENSE_LAZINESS_MAX
        self._lmin = None
        self._feat_tracker = None
        self._hess_vec = None
        self._jac_vec = None
        self._lazy_vec = None
        self._K0 = None
        self._K0_norm = None
        self.rho = None
        # set by setup() from the initial loss
        self.h0 = None
        self.threshold = None
        self.step = None
        self.lr = None

    # -- bookkeeping ----------------------------------------------------------
    def _commit(self, t, vals):
        for k, v in vals.items():
            self.rec.setdefault(k, []).append((t, v))

    def _entry(self, key):
        return self.stats.setdefault(key, dict(calls=0, matvecs=0, unconverged=0, seconds=0.0))

    def _stat(self, key, matvecs=0, converged=True):
        s = self._entry(key)
        s["calls"] += 1
        s["matvecs"] += int(matvecs)
        s["unconverged"] += 0 if converged else 1

    @contextlib.contextmanager
    def _clock(self, key):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._entry(key)["seconds"] += time.perf_counter() - t0

    def _due(self, t, is_last):
        return {n for n in self.names if is_last or t % self.every[n] == 0}

    @staticmethod
    def _tracked(tracker, A):
        # Non-convergence is counted in solver_stats instead of warning each step.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return tracker.update(A)

    def _lanczos(self, key, matvec, dim, which, v0):
        theta, y, rho, mv, conv = guarded_lanczos(matvec, dim, which=which,
                                                  tol=_TRACK_TOL[key], v0=v0,
                                                  rng=self.solver_rng)
        self._stat(key, mv, conv)
        return theta, y

    # -- one-off setup -----------------------------------------------------------
    def setup(self, h0):
        need = set(self.names)
        spec = self.lr_spec
        consts = self.constants
        want = "inside_ball" in need or spec == "theory"
        if consts is None and want:
            from .constants import lemma3_constants

            consts = lemma3_constants(self.net0, self.X)
        if want:
            self.meta["constants"] = consts.to_dict()
            self.rho = consts.rho_Phi
        if isinstance(spec, str):
            # a rule given as a string: resolved here, once, from this run's quantities
            if spec == "theory":
                step = theory_step_size(mu=consts.mu_Phi, nu=consts.nu_Phi, beta=consts.beta_Phi,
                                        h0=h0, beta_f=consts.beta_f, lr_constant=self.lr_constant)
            else:
                step = inverse_smoothness_step(self.net0, self.X, self.Y, layers=self.layers,
                                               stats=self.stats, rng=self.solver_rng)
        else:
            step = spec
            if step.rule == "1/beta" and step.solver_seed is not None \
                    and _seed_json(step.solver_seed) == _seed_json(self.seed):
                self.solver_rng.integers(2 ** 63)  # the resolver took this draw of the stream
        if step.rule == "theory":
            self.meta["lr_theory"] = {k: v for k, v in step.details.items()}
        elif step.rule == "1/beta":
            self.meta["hessian_top_init"] = step.details["hessian_top_init"]
            self._hess_vec = step.warm_start
        self.step = step
        self.lr = step.value
        if any(n in need for n in _NEED_LMIN):
            self._lmin = _new_lambda_min_tracker()
        if "laziness" in need:
            if self.dense_lazy:
                self._K0 = ntk_gram(self.net0, self.X, layers=self.layers)
                top = sla.eigh(self._K0, eigvals_only=True, check_finite=False,
                               subset_by_index=[self._K0.shape[0] - 1] * 2)
                self._K0_norm = float(top[0])
            else:
                self._K0 = ntk_operator(self.net0, self.X, self.layers)
                val, _ = self._lanczos("laziness", self._K0.matvec, self._K0.shape[0], "LA", None)
                self._K0_norm = float(val)

    # -- measurements ----------------------------------------------------------
    def _ntk(self, net, cache):
        if "K" not in cache:
            with self._clock("ntk"):
                if self.dense_ntk:
                    cache["K"] = ntk_gram(net, self.X, layers=self.layers)
                else:
                    cache["K"] = ntk_operator(net, self.X, self.layers)
            self._stat("ntk")
        return cache["K"]

    def _sigma_min_features(self, H):
        n, d1 = H.shape
        if d1 < n:
            return 0.0  # phi(W X) (d1 x n) has a null space: sigma_min over R^n is 0
        if n <= _SVD_FEATURES_MAX:
            return float(sla.svdvals(H, check_finite=False)[n - 1])
        if self._feat_tracker is None:
            self._feat_tracker = _new_lambda_min_tracker()
        if n <= _DENSE_NTK_MAX:
            A = H @ H.T
        else:
            from scipy.sparse.linalg import LinearOperator

            A = LinearOperator((n, n), matvec=lambda u: H @ (H.T @ u), dtype=np.float64)
        res = self._tracked(self._feat_tracker, A)
        self._stat("sigma_min_features", res.matvecs, res.converged)
        return math.sqrt(max(float(res.value), 0.0))

    def measure(self, t, net, theta, ev, due, path):
        at = _At(self, net, theta, ev, path)
        v = {}
        for q in QUANTITIES:
            if q.name in due and not q.secant:
                v.update(q.measure(self, at))
        return v

    def secants(self, prev, ev, step_norm):
        v = {}
        for q in QUANTITIES:
            if q.secant and q.name in prev["due"]:
                v.update(q.measure(self, prev["ev"], ev, step_norm))
        return v

    # -- loop -----------------------------------------------------------------
    def _full(self, net):
        return Evaluation(net, self.X, self.Y, self.layers)

    def _bad(self, h, g):
        return (not math.isfinite(h)) or h > self.threshold or not np.all(np.isfinite(g))

    def run(self):
        from tqdm import tqdm

        t0 = time.perf_counter()
        sgd = self.optimizer == "sgd"
        net = self.net0
        theta = self.theta0
        with np.errstate(all="ignore"):
            ev = self._full(net)
        if not math.isfinite(ev.h) or not np.all(np.isfinite(ev.g)):
            raise ValueError(f"the initial loss h(Theta_0) = {ev.h!r} (or its gradient) is not "
                             "finite: net and X overflow float64 together; rescale X or the "
                             "initialization")
        self.h0 = ev.h
        self.threshold = self.factor * ev.h if ev.h > 0 else math.inf
        self.setup(ev.h)
        lr = self.lr
        batches = minibatches(self.n, self.batch_size, self.batch_rng) if sgd else None
        cadences = sorted(set(self.every.values()))
        stop_every = cadences[0] if cadences else (self.n // self.batch_size if sgd else 1)
        status, path, prev = None, 0.0, None
        t = 0
        good = (0, net, ev.h)
        diverged_at = diverged_value = None
        stall_marks = {}
        bar = tqdm(total=self.steps, disable=not self.progress, desc="train", leave=False)
        post_every = max(1, self.steps // 100)
        try:
            with np.errstate(all="ignore"):
                while True:
                    if ev is not None:
                        if self._bad(ev.h, ev.g):
                            status, diverged_at, diverged_value = "diverged", t, ev.h
                            break
                        good = (t, net, ev.h)
                        if self.stall_window and t % self.stall_window == 0:
                            stall_marks[t] = ev.h
                            stall_marks.pop(t - 2 * self.stall_window, None)
                        if prev is not None:
                            self._commit(prev["t"], self.secants(prev, ev, prev["step_norm"]))
                            prev = None
                    converged = (ev is not None and self.stop_loss is not None
                                 and ev.h <= self.stop_loss)
                    stalled = (not converged and self.stall_window and ev is not None
                               and t >= self.stall_window
                               and t - self.stall_window in stall_marks
                               and ev.h > (1.0 - self.stall_rtol)
                               * stall_marks[t - self.stall_window])
                    is_last = t == self.steps or converged or bool(stalled)
                    due = self._due(t, is_last) if ev is not None else set()
                    vals = self.measure(t, net, theta, ev, due, path) if due else {}
                    self._commit(t, vals)
                    if self.callback is not None:
                        self.callback(t, net, dict(vals))
                    if is_last:
                        status = ("converged" if converged
                                  else "stalled" if stalled else "max_steps")
                        break
                    # -- the update Theta_t -> Theta_{t+1}
                    if sgd:
                        hb, gb = _minibatch_gradient(net, self.X, self.Y, next(batches),
                                                     self.layers)
                        if self._bad(hb, gb):
                            status, diverged_at, diverged_value = "diverged", t, hb
                            break
                        good = (t, net, good[2] if good[0] == t else None)
                        direction = gb
                    else:
                        direction = ev.g
                    theta_new = theta - lr * direction
                    if not np.all(np.isfinite(theta_new)):
                        status, diverged_at, diverged_value = "diverged", t + 1, float("nan")
                        break
                    step_norm = float(np.linalg.norm(theta_new - theta))
                    path += step_norm
                    sec = due & set(_SECANTS)
                    prev = dict(t=t, ev=ev, due=sec, step_norm=step_norm) if sec else None
                    net_new = net.with_parameters(theta_new, self.layers)
                    net, theta, t = net_new, theta_new, t + 1
                    bar.update(1)
                    if self.progress and t % post_every == 0 and ev is not None:
                        bar.set_postfix(loss=f"{ev.h:.3e}", refresh=False)
                    need_full = (not sgd or prev is not None or t == self.steps
                                 or any(t % e == 0 for e in cadences)
                                 or (self.stop_loss is not None and t % stop_every == 0))
                    ev = self._full(net) if need_full else None
        except KeyboardInterrupt:
            status = "interrupted"
        finally:
            bar.close()
        if status == "interrupted":
            final_t, final_net = t, net
            final_h = good[2] if good[0] == t else None
        else:
            final_t, final_net, final_h = good
        self.meta.update(initial_loss=self.h0, final_loss=final_h, final_step=final_t,
                         lr_value=lr, diverged_at=diverged_at,
                         diverged_value=None if diverged_value is None else float(diverged_value),
                         solver_stats=self.stats, elapsed_seconds=time.perf_counter() - t0)
        return status, final_net

    def trajectory(self, status, final_net, config):
        values, steps = {}, {}
        for k, pairs in self.rec.items():
            steps[k] = np.array([p[0] for p in pairs], dtype=np.int64)
            dtype = bool if k == "inside_ball" else np.float64
            values[k] = np.array([p[1] for p in pairs], dtype=dtype)
        net0 = self.net0
        meta = dict(config=config,
                    data=dict(n=self.n, d0=net0.d0, d1=net0.d1, d2=net0.d2,
                              activation=net0.activation.name, bias=net0.has_bias),
                    versions=_versions(), threads=_threads())
        meta.update(self.meta)
        return Trajectory(values=values, steps=steps, initial_net=net0, final_net=final_net,
                          status=status, metadata=meta)


def train(net, X, Y, *, steps, lr, optimizer="gd", batch_size=None, layers=("W", "V"),
          track="default", track_every=1, stop_loss=None, seed=0, progress=True, callback=None,
          lr_constant=1.0, divergence_factor=1e6, stall_window=None, stall_rtol=1e-3,
          constants=None):
    """Train the shallow network on the paper's loss and track the theory's quantities.

    Parameters
    ----------
    net : ShallowNet
        Initial network ``Theta_0`` (not modified).
    X : array_like of shape (n, d0)
        Inputs as rows.
    Y : array_like of shape (n, d2) or (n,)
        Targets.
    steps : int
        Maximum number of updates (iterates ``Theta_0 .. Theta_steps``).
    lr : float or StepSize
        Step size ``eta``, a number or a step resolved by
        ``pl_toolkit.step_size.resolve_step_size`` (whose rule is
        recorded).  The rule names ``"theory"`` (eq. 13 at Lemma 3's
        constants, ``C = lr_constant``) and ``"1/beta"`` (inverse top
        Hessian eigenvalue of ``h`` at initialization) are still accepted
        and resolved through the same resolver; prefer resolving first.
    optimizer : {"gd", "sgd"}, default "gd"
        Full-batch gradient descent (eq. 12), or minibatch SGD.
    batch_size : int, optional
        SGD batch size ``b`` (default ``min(128, n)``, the paper's
        experiments); only with ``optimizer="sgd"``.
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained layers; the other layer is left bitwise unchanged.  The NTK,
        Hessian and Jacobian are taken with respect to these layers.
    track : "default", "all", or sequence of str, default "default"
        Quantities to record (see Notes; ``TRACKABLE``).  ``None`` or
        ``()`` records nothing.
    track_every : int or dict, default 1
        Record every ``track_every`` steps; a dict maps quantity names, or
        the groups ``"cheap"``/``"expensive"``, or ``"default"``, to their
        own cadence.  The last iterate is always recorded.
    stop_loss : float, optional
        Stop with status ``"converged"`` once ``h(Theta_t) <= stop_loss``.
    seed : int or numpy.random.SeedSequence, default 0
        Root of the SGD batch stream and of the solvers' random starts.
    progress : bool, default True
        Show a tqdm progress bar.
    callback : callable, optional
        ``callback(t, net_t, values_t)`` after each iterate is measured
        (``values_t``: dict of what was recorded at ``t``).  Raising
        ``KeyboardInterrupt`` ends the run as ``"interrupted"``.
    lr_constant : float, default 1.0
        The universal constant ``C`` of eq. (13) for ``lr="theory"``.
    divergence_factor : float, default 1e6
        A loss above ``divergence_factor * h(Theta_0)`` counts as
        divergence.
    stall_window : int, optional
        When set, the run stops with status ``"stalled"`` at a step ``t``
        that is a multiple of ``stall_window`` if
        ``h(Theta_t) > (1 - stall_rtol) h(Theta_{t - stall_window})``
        (checked only where both losses were evaluated on the full data).
    stall_rtol : float, default 1e-3
        Relative decrease over ``stall_window`` steps below which the run
        has stalled.
    constants : Lemma3Constants, optional
        Lemma 3's constants at ``net`` (for ``inside_ball`` and
        ``lr="theory"``); computed when needed and not given.

    Returns
    -------
    Trajectory
        The immutable record.  Divergence (non-finite loss, gradient or
        iterate, or a loss above ``divergence_factor * h0``) and
        ``KeyboardInterrupt`` end the run with status ``"diverged"`` /
        ``"interrupted"`` and keep the data measured so far; no exception
        escapes the loop for these.

    Raises
    ------
    ValueError
        On bad input (NaN or wrong shapes in ``X``/``Y``, ``steps <= 0``,
        ``lr <= 0`` or an unknown string, an unknown ``track`` name, a
        non-finite initial loss, ...), naming the argument.

    Notes
    -----
    Tracked quantities (step ``t`` is ``Theta_t``; secants use ``t`` and
    ``t + 1`` and are recorded at ``t``):

    * cheap -- ``loss`` ``h``; ``grad_norm`` ``||grad h||``; ``pl_ratio``
      ``||grad h||^2 / h``; ``distance`` ``||Theta_t - Theta_0||`` (also
      per layer, ``distance_W``/``distance_V``; biases count with their
      layer); ``path_length`` ``sum_i ||Theta_{i+1} - Theta_i||``;
      ``contraction`` ``h_{t+1} / h_t``; ``weight_change`` per layer
      ``||Theta^l_t - Theta^l_0|| / ||Theta^l_0||``;
      ``smoothness_secant`` ``||grad h_{t+1} - grad h_t|| /
      ||Theta_{t+1} - Theta_t||``; ``inside_ball``
      ``||Theta_t - Theta_0|| <= rho_Phi`` with Lemma 1's radius
      ``rho_Phi = mu_Phi / (2 beta_Phi)`` at initialization (stored in
      ``metadata["constants"]``).
    * expensive -- ``lambda_min`` ``lambda_min(K_t)`` (warm-started
      tracker; dense NTK when ``n d2 <= 6000``, matrix-free otherwise);
      ``pl_bound`` ``4 lambda_min(K_t)``, which ``pl_ratio`` must exceed
      since ``||grad h||^2 = 4 r^T K r``; ``contraction_predicted``
      ``1 - 4 eta lambda_min(K_t)``, the first-order rate of GD on ``h``
      (``r_{t+1} ~ (I - 2 eta K) r_t``); ``sigma_min_features``
      ``sigma_min(phi(W_t X_paper))`` over ``R^n`` (0 when ``d1 < n``);
      ``hessian_top`` the top eigenvalue of ``nabla^2 h`` (Lanczos on exact
      HVPs, warm-started); ``jacobian_secant``
      ``||J_{t+1} - J_t||_2 / ||Theta_{t+1} - Theta_t||``, an empirical
      ``beta_Phi`` (Lanczos on ``(J_{t+1} - J_t)(J_{t+1} - J_t)^T``
      from JVP/VJP differences); ``laziness``
      ``||K_t - K_0||_2 / ||K_0||_2``.

    The default set costs ``O(p)`` per step on top of the step: the loss
    comes from the residual computed for the gradient, and the gradient is
    the step's.  SGD uses the minibatch loss
    ``h_B = (n/b) sum_{a in B} ||f(x_a) - y_a||^2``, whose expectation over
    a uniformly random ``b``-subset ``B`` is ``h``: each epoch draws one
    permutation (from ``seed`` through ``SeedSequence``) and uses its
    ``n // b`` full batches, dropping the remainder.  For SGD the tracked
    ``loss``/``grad_norm``/... are the full-data values, computed only at
    tracked steps (``stop_loss`` is checked there too).  Same seed and same
    thread count give an identical trajectory.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, train
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((10, 4)); X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> Y = rng.standard_normal((10, 1)) / 10
    >>> net = ShallowNet.init(4, 64, seed=1)
    >>> traj = train(net, X, Y, steps=50, lr="1/beta", track=("loss", "pl_ratio", "pl_bound"),
    ...              progress=False)
    >>> bool(np.all(traj["pl_ratio"] >= traj["pl_bound"] * (1 - 1e-9)))
    True
    >>> bool(traj["loss"][-1] < 0.5 * traj["loss"][0])
    True
    """
    check_net(net)
    X = net.check_data(X)
    Y = net.check_targets(Y, X.shape[0])
    n = X.shape[0]
    steps = check_positive_int(steps, "steps")
    lr = check_step_rule(lr, "lr", TRAIN_RULES)
    if not isinstance(lr, (str, StepSize)):
        lr = StepSize(lr, "given")
    if optimizer not in ("gd", "sgd"):
        raise ValueError(f"optimizer must be 'gd' or 'sgd', got {optimizer!r}")
    if optimizer == "gd":
        if batch_size is not None:
            raise ValueError("batch_size is only used with optimizer='sgd'")
    else:
        batch_size = (min(128, n) if batch_size is None
                      else check_positive_int(batch_size, "batch_size"))
        if batch_size > n:
            raise ValueError(f"batch_size = {batch_size} exceeds the number of samples n = {n}")
    layers = check_layers(layers)
    names = _parse_track(track)
    every = _parse_every(track_every, names)
    if stop_loss is not None:
        stop_loss = check_positive_float(stop_loss, "stop_loss", allow_zero=True)
    if not (isinstance(seed, np.random.SeedSequence)
            or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0)):
        raise ValueError(f"seed must be a non-negative integer or a SeedSequence, got {seed!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable, got {type(callback).__name__}")
    lr_constant = check_positive_float(lr_constant, "lr_constant")
    divergence_factor = check_positive_float(divergence_factor, "divergence_factor")
    if stall_window is not None:
        stall_window = check_positive_int(stall_window, "stall_window")
    stall_rtol = check_positive_float(stall_rtol, "stall_rtol")
    if not stall_rtol < 1:
        raise ValueError(f"stall_rtol must lie in (0, 1), got {stall_rtol!r}")
    if constants is not None:
        from .constants import Lemma3Constants

        if not isinstance(constants, Lemma3Constants):
            raise ValueError(f"constants must be Lemma3Constants, got {type(constants).__name__}")
    run = _Run(net, X, Y, steps=steps, lr=lr, optimizer=optimizer, batch_size=batch_size,
               layers=layers, names=names, every=every, stop_loss=stop_loss, seed=seed,
               progress=bool(progress), callback=callback, lr_constant=lr_constant,
               divergence_factor=divergence_factor, stall_window=stall_window,
               stall_rtol=stall_rtol, constants=constants)
    status, final_net = run.run()
    lr_config = lr if isinstance(lr, str) else (run.step.value if run.step.rule == "given"
                                                else run.step.rule)
    config = dict(steps=steps, lr=lr_config, lr_rule=run.step.rule, lr_constant=lr_constant,
                  optimizer=optimizer, batch_size=batch_size, layers=list(layers),
                  track=list(names), track_every=every, stop_loss=stop_loss, seed=_seed_json(seed),
                  divergence_factor=divergence_factor, stall_window=stall_window,
                  stall_rtol=stall_rtol)
    return run.trajectory(status, final_net, config)
