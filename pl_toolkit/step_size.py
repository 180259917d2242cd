"""Step-size rules, each turned into a number before training.

A rule names how the step size ``eta`` of :func:`pl_toolkit.train` is
chosen; :func:`resolve_step_size` turns it into a :class:`StepSize`
(the float, the rule and what it was computed from) from quantities the
caller passes in, so nothing the caller already has is recomputed:

=================  ==========================================================
rule               ``eta``
=================  ==========================================================
``"1/beta"``       inverse of the top Hessian eigenvalue of ``h`` at ``w0``
``"theory"``       eq. (13) at Lemma 3's constants,
                   ``C mu^2 / (beta ||grad f|| + beta mu^2 + beta_f nu^2)``
                   with ``||grad f(Phi(w0))|| = 2 sqrt(h0)``
``"auto"``         ``1 / (2 lambda_max(K_0))`` (the sweep's rule)
``"sgd_paper"``    ``lr_paper / (n d2)``: PyTorch SGD on the mean MSE
                   (the paper's experiments)
=================  ==========================================================

A number is a rule of its own (``"given"``).

Examples
--------
>>> from pl_toolkit.step_size import resolve_step_size
>>> resolve_step_size("auto", lambda_max=4.0).value
0.125
>>> s = resolve_step_size("sgd_paper", lr_paper=0.01, n=1000, d2=10)
>>> s.rule, s.value
('sgd_paper', 1e-06)
>>> resolve_step_size(0.5).to_dict()
{'rule': 'given', 'value': 0.5}
"""

import math
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from . import formulas as F
from ._validation import check_positive_float, check_positive_int
from .constants import BETA_F

__all__ = ["StepSize", "RULES", "TRAIN_RULES", "check_step_rule", "resolve_step_size",
           "theory_step_size", "inverse_smoothness_step", "auto_step", "sgd_paper_step",
           "solver_stream"]

#: Every named rule.
RULES = ("1/beta", "theory", "auto", "sgd_paper")
#: The rules :func:`pl_toolkit.train` still accepts as strings (it resolves them here).
TRAIN_RULES = ("1/beta", "theory")
#: Relative tolerance of the Lanczos run behind ``"1/beta"``.
HESSIAN_TOL = 1e-6


@dataclass(frozen=True)
class StepSize:
    """A resolved step size.

    Attributes
    ----------
    value : float
        The step size ``eta`` (positive and finite).
    rule : str
        ``"given"`` or one of :data:`RULES`.
    details : mapping
        The quantities it was computed from (JSON-like).
    warm_start : ndarray or None
        For ``"1/beta"``: the top Hessian eigenvector, a warm start for
        tracking ``hessian_top``.
    solver_seed : object
        For ``"1/beta"``: the seed whose solver stream (:func:`solver_stream`)
        gave the Lanczos start; :func:`pl_toolkit.train` with the same seed
        continues that stream after it.
    """

    value: float
    rule: str
    details: object = field(default_factory=dict)
    warm_start: object = field(default=None, repr=False, compare=False)
    solver_seed: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.rule != "given" and self.rule not in RULES:
            raise ValueError(f"rule must be 'given' or one of {RULES}, got {self.rule!r}")
        v = self.value
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(float(v)) and float(v) > 0):
            raise ValueError(f"step size of rule {self.rule!r} must be a positive finite "
                             f"number, got {v!r}")
        object.__setattr__(self, "value", float(v))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    def to_dict(self):
        """Return ``rule``, ``value`` and the details as a plain dict.

        Returns
        -------
        dict
            JSON-ready.
        """
        out = dict(rule=self.rule, value=self.value)
        out.update(self.details)
        return out


def check_step_rule(lr, name="lr", rules=RULES):
    """Validate a step size or rule without computing anything.

    Parameters
    ----------
    lr : float, str or StepSize
        A positive number, a rule name in ``rules``, or a resolved step.
    name : str, default "lr"
        Argument name for the error message.
    rules : tuple of str, default RULES
        The rule names accepted here.

    Returns
    -------
    float, str or StepSize
        ``lr`` (a number as float).

    Raises
    ------
    ValueError
        Naming ``name``, for an unknown rule or a number that is not
        positive and finite.

    Examples
    --------
    >>> check_step_rule("theory"), check_step_rule(2)
    ('theory', 2.0)
    """
    if isinstance(lr, StepSize):
        return lr
    if isinstance(lr, str):
        if lr not in rules:
            choices = ", ".join(repr(r) for r in rules)
            raise ValueError(f"{name} must be a positive number or one of {choices}, "
                             f"got {lr!r}")
        return lr
    return check_positive_float(lr, name)


def solver_stream(seed):
    """The random stream of :func:`pl_toolkit.train`'s solvers for ``seed``.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        The training seed.

    Returns
    -------
    numpy.random.Generator
        The second child of ``SeedSequence(seed)`` (the first drives SGD
        batches).
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.default_rng(ss.spawn(2)[1])


def theory_step_size(*, mu, nu, beta, h0, beta_f=BETA_F, lr_constant=1.0):
    """Eq. (13) at Lemma 3's constants.

    Parameters
    ----------
    mu, nu, beta : float
        ``mu_Phi``, ``nu_Phi``, ``beta_Phi`` at initialization.
    h0 : float
        ``h(w0)``; ``||grad f(Phi(w0))|| = 2 sqrt(h0)``.
    beta_f : float, default 2
        Smoothness constant of ``f(z) = ||z - Y||^2``.
    lr_constant : float, default 1
        The universal constant ``C`` of (13).

    Returns
    -------
    StepSize
        Rule ``"theory"``.

    Raises
    ------
    ValueError
        When (13) is not positive (``mu_Phi = 0``: ``d1 < n`` or repeated
        inputs).

    Examples
    --------
    >>> theory_step_size(mu=1.0, nu=1.0, beta=1.0, h0=1.0).value
    0.2
    """
    grad_f = 2.0 * math.sqrt(max(h0, 0.0))  # grad f(Phi(w0)) = 2 r0 for f = ||z - Y||^2
    lr = F.eq13_step_size(mu, nu, beta, grad_f, beta_f, lr_constant)
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr='theory' gives step size {lr!r} (mu_Phi = {mu!r}); "
                         "it needs mu_Phi > 0, i.e. d1 >= n and distinct inputs")
    return StepSize(lr, "theory", dict(mu_Phi=mu, nu_Phi=nu, beta_Phi=beta, grad_f_norm=grad_f,
                                       beta_f=beta_f, lr_constant=lr_constant))


def inverse_smoothness_step(net, X, Y, *, layers=("W", "V"), seed=0, stats=None, rng=None):
    """The step ``1 / lambda_max(nabla^2 h(w0))``.

    Parameters
    ----------
    net : ShallowNet
        The network at initialization.
    X, Y : ndarray
        Training data (checked).
    layers : tuple of {"W", "V"}, default ("W", "V")
        Trained layers.
    seed : int or SeedSequence, default 0
        The training seed: the Lanczos start is the first draw of its
        solver stream (:func:`solver_stream`).
    stats : dict, optional
        Receives ``hessian_init`` solver counts.
    rng : numpy.random.Generator, optional
        A solver stream to draw from instead of a fresh one (the trainer's own).

    Returns
    -------
    StepSize
        Rule ``"1/beta"``, with the eigenvector as ``warm_start``.

    Raises
    ------
    ValueError
        When the top Hessian eigenvalue is not positive and finite.
    """
    from .hessian import hessian_top_eigenvalue

    own = rng is None
    rng = solver_stream(seed) if own else rng
    res = hessian_top_eigenvalue(net, X, Y, layers=layers, tol=HESSIAN_TOL,
                                 seed=rng.integers(2 ** 63))
    if stats is not None:
        s = stats.setdefault("hessian_init", dict(calls=0, matvecs=0, unconverged=0,
                                                  seconds=0.0))
        s["calls"] += 1
        s["matvecs"] += int(res.matvecs)
        s["unconverged"] += 0 if res.converged else 1
    if not (res.value > 0 and math.isfinite(res.value)):
        raise ValueError(f"lr='1/beta' needs a positive top Hessian eigenvalue at "
                         f"initialization, got {res.value!r}")
    return StepSize(1.0 / res.value, "1/beta",
                    dict(hessian_top_init=res.value, matvecs=int(res.matvecs),
                         converged=bool(res.converged)),
                    warm_start=res.vector, solver_seed=seed if own else None)


def auto_step(lambda_max):
    """The sweep's rule ``1 / (2 lambda_max(K_0))``.

    Parameters
    ----------
    lambda_max : float
        Largest eigenvalue of the NTK at initialization.

    Returns
    -------
    StepSize
        Rule ``"auto"``.

    Examples
    --------
    >>> auto_step(2.0).value
    0.25
    """
    lmax = check_positive_float(lambda_max, "lambda_max")
    return StepSize(1.0 / (2.0 * lmax), "auto", dict(lambda_max=lmax))


def sgd_paper_step(lr_paper, n, d2):
    """Step of :func:`pl_toolkit.train` equal to PyTorch SGD at ``lr_paper`` on the mean MSE.

    Parameters
    ----------
    lr_paper : float
        ``torch.optim.SGD`` learning rate on ``F.mse_loss``.
    n, d2 : int
        Samples and outputs.

    Returns
    -------
    StepSize
        Rule ``"sgd_paper"``, value ``lr_paper / (n d2)``.

    Examples
    --------
    >>> sgd_paper_step(0.01, 1000, 10).value
    1e-06
    """
    lr_paper = check_positive_float(lr_paper, "lr_paper")
    n, d2 = check_positive_int(n, "n"), check_positive_int(d2, "d2")
    return StepSize(lr_paper / (n * d2), "sgd_paper", dict(lr_paper=lr_paper, n=n, d2=d2))


def resolve_step_size(lr, *, constants=None, h0=None, lr_constant=1.0, net=None, X=None,
                      Y=None, layers=("W", "V"), seed=0, lambda_max=None, lr_paper=None, n=None,
                      d2=None, name="lr"):
    """Turn a step size or rule into a :class:`StepSize`.

    Parameters
    ----------
    lr : float, str or StepSize
        A number, a rule of :data:`RULES`, or an already resolved step.
    constants : Lemma3Constants, optional
        For ``"theory"`` (with ``h0``).
    h0 : float, optional
        Initial loss, for ``"theory"``.
    lr_constant : float, default 1
        ``C`` of (13), for ``"theory"``.
    net, X, Y, layers, seed : optional
        For ``"1/beta"``: network at initialization, data, trained layers
        and training seed.
    lambda_max : float, optional
        For ``"auto"``.
    lr_paper, n, d2 : optional
        For ``"sgd_paper"``.
    name : str, default "lr"
        Argument name in error messages.

    Returns
    -------
    StepSize
        The resolved step.

    Raises
    ------
    ValueError
        For an unknown rule, a bad number, or a rule whose quantities are
        missing (the message names them).
    """
    lr = check_step_rule(lr, name)
    if isinstance(lr, StepSize):
        return lr
    if not isinstance(lr, str):
        return StepSize(lr, "given")

    def need(**kw):
        missing = [k for k, v in kw.items() if v is None]
        if missing:
            raise ValueError(f"{name}={lr!r} needs {', '.join(missing)}")

    if lr == "theory":
        need(constants=constants, h0=h0)
        return theory_step_size(mu=constants.mu_Phi, nu=constants.nu_Phi,
                                beta=constants.beta_Phi, h0=h0, beta_f=constants.beta_f,
                                lr_constant=check_positive_float(lr_constant, "lr_constant"))
    if lr == "1/beta":
        need(net=net, X=X, Y=Y)
        return inverse_smoothness_step(net, X, Y, layers=layers, seed=seed)
    if lr == "auto":
        need(lambda_max=lambda_max)
        return auto_step(lambda_max)
    need(lr_paper=lr_paper, n=n, d2=d2)
    return sgd_paper_step(lr_paper, n, d2)
