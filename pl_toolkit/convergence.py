r"""The one convergence criterion of the toolkit, and the reasons a run stops.

Every command that says "converged" (``pl-toolkit run``, ``sweep``,
``init-scale``'s teacher when it trains on the squared loss, and
``python -m derivations``) uses :class:`ConvergenceCriterion`: a run has
converged at step ``t`` when

.. math::

    h(\Theta_t) \le \varepsilon \, \|Y\|_F^2 .

The target is relative to the labels, not to the initial loss ``h0``:
``h0`` contains the initial output ``||V0 phi(W0 X)||^2``, which grows with
``n`` and with the initialization scale, so a target ``eps h0`` loosens as
``n`` grows and would bias any fit of a width threshold against ``n``.
``||Y||_F^2`` does not move with the network.

A run ends for one of the reasons in :data:`STOP_REASONS`:

* ``"converged"`` -- the criterion was met;
* ``"max_steps"`` -- the step budget ran out first;
* ``"diverged"`` -- a non-finite loss, gradient or iterate, or a loss
  above ``divergence_factor * h0``;
* ``"stalled"`` -- the loss decreased by less than a relative
  ``stall_rtol`` over the last ``stall_window`` steps (only when a window
  is set);
* ``"interrupted"`` -- ``KeyboardInterrupt``.

Examples
--------
>>> import numpy as np
>>> from pl_toolkit.convergence import ConvergenceCriterion
>>> crit = ConvergenceCriterion(eps=1e-6)
>>> Y = np.full((4, 1), 0.5)                    # ||Y||_F^2 = 1
>>> crit.target(Y)
1e-06
>>> crit.met(5e-7, Y), crit.met(2e-6, Y)
(True, False)
>>> crit.describe()
'h <= 1e-06 ||Y||_F^2'
"""

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ConvergenceCriterion", "STOP_REASONS", "DEFAULT_EPS", "label_energy"]

#: Default relative target of :class:`ConvergenceCriterion`.
DEFAULT_EPS = 1e-6

#: Why a run ended (``Trajectory.status``).
STOP_REASONS = ("converged", "max_steps", "diverged", "stalled", "interrupted")


def label_energy(Y):
    """``||Y||_F^2``, computed without overflow or underflow.

    Parameters
    ----------
    Y : array_like
        Targets.

    Returns
    -------
    float
        The squared Frobenius norm (``inf`` only when it exceeds the
        float64 range).

    Examples
    --------
    >>> label_energy([[3.0], [4.0]])
    25.0
    >>> label_energy([[1e200], [1e200]]) == float("inf")
    True
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.size == 0:
        return 0.0
    scale = float(np.max(np.abs(Y)))
    if scale == 0.0 or not math.isfinite(scale):
        return 0.0 if scale == 0.0 else math.inf
    s = float(np.sum((Y / scale) ** 2))
    with np.errstate(over="ignore"):
        return float(np.float64(scale) ** 2 * s)


@dataclass(frozen=True)
class ConvergenceCriterion:
    """``h <= eps ||Y||_F^2``: the toolkit's single definition of "converged".

    Parameters
    ----------
    eps : float, default 1e-6
        Relative target; must lie in ``(0, 1)``.

    Notes
    -----
    The paper's Theorems 1-3 conclude ``h(w_i) -> 0`` (eq. 14); a run can
    only reach a finite target.  The target is taken relative to
    ``||Y||_F^2 = h`` of the zero network, which under the paper's data
    convention ``||Y||_F <= 1`` (Section 2) is at most 1.

    Examples
    --------
    >>> ConvergenceCriterion(1e-3).target([[1.0], [1.0]])
    0.002
    >>> ConvergenceCriterion(0.0)
    Traceback (most recent call last):
        ...
    ValueError: eps must lie in (0, 1), got 0.0
    """

    eps: float = DEFAULT_EPS

    def __post_init__(self):
        try:
            eps = float(self.eps)
        except (TypeError, ValueError):
            raise ValueError(f"eps must be a number in (0, 1), got {self.eps!r}") from None
        if isinstance(self.eps, bool) or not (0.0 < eps < 1.0):
            raise ValueError(f"eps must lie in (0, 1), got {self.eps!r}")
        object.__setattr__(self, "eps", eps)

    def target(self, Y):
        """The loss below which a run has converged: ``eps ||Y||_F^2``.

        Parameters
        ----------
        Y : array_like
            Targets of the training set.

        Returns
        -------
        float
            The absolute loss target (0 when ``Y`` is zero).
        """
        return self.eps * label_energy(Y)

    def met(self, h, Y):
        """Whether a loss value meets the criterion.

        Parameters
        ----------
        h : float
            Loss ``||V phi(W X) - Y||_F^2``.
        Y : array_like
            Targets.

        Returns
        -------
        bool
            ``h <= eps ||Y||_F^2`` (``False`` for non-finite ``h``).
        """
        h = float(h)
        return math.isfinite(h) and h <= self.target(Y)

    def describe(self):
        """One-line statement of the criterion, for reports.

        Returns
        -------
        str
            For example ``'h <= 1e-06 ||Y||_F^2'``.
        """
        return f"h <= {self.eps:.3g} ||Y||_F^2"

    def to_dict(self):
        """JSON form: ``{"rule": "h <= eps ||Y||_F^2", "eps": eps}``.

        Returns
        -------
        dict
            The rule and its parameter.
        """
        return {"rule": "h <= eps ||Y||_F^2", "eps": self.eps}
