"""The theory ledger on real data: Table 1's widths beside the measured one."""

import json
import math
import os

import numpy as np

__all__ = ["data_quantities", "ledger_for"]


def data_quantities(X, activation, omega1, omega2):
    """The data-dependent quantities the Table-1 theorems are stated in.

    Parameters
    ----------
    X : ndarray of shape (n, d0)
        Inputs as rows.
    activation : str or Activation
        Activation of the network.
    omega1, omega2 : float
        Initialization scales.

    Returns
    -------
    dict
        ``lambda0`` (smallest eigenvalue of the infinite-width NTK per unit
        width, for this activation and initialization), ``delta`` (minimum
        separation ``min_{i != j} ||x_i - x_j||``), ``sigma_max_X``,
        ``t`` and ``s_t = sigma_min(X^{*t})`` with ``t`` the smallest
        ``t >= 2`` whose Hermite coefficient ``c_t(omega1)`` is nonzero.

    Examples
    --------
    For the standard basis ``delta = sqrt(2)``, ``sigma_max(X) = 1`` and
    ``lambda0`` is the smallest eigenvalue of the expected NTK:

    >>> import numpy as np
    >>> from pl_toolkit import infinite_width_kernels
    >>> from pl_toolkit.experiments import data_quantities
    >>> X = np.eye(3)
    >>> q = data_quantities(X, "gelu", 1.0, 1.0)
    >>> bool(np.isclose(q["delta"], np.sqrt(2))), round(q["sigma_max_X"], 12), q["t"]
    (True, 1.0, 2)
    >>> K = infinite_width_kernels(X, "gelu", 1.0, 1.0).ntk
    >>> bool(np.isclose(q["lambda0"], np.linalg.eigvalsh(K)[0]))
    True
    """
    from ..activations import get_activation
    from ..hermite import hermite_coefficients
    from ..infinite_width import infinite_width_kernels
    from ..khatri_rao import sigma_min_khatri_rao
    from ..spectrum import lambda_min
    from .run import first_nonzero_hermite, min_separation

    act = get_activation(activation)
    coeffs = hermite_coefficients(act, 8, omega=omega1)
    t = first_nonzero_hermite(coeffs) or 2
    iw = infinite_width_kernels(X, act, omega1, omega2)
    return dict(lambda0=float(lambda_min(iw.ntk).value), delta=min_separation(X),
                sigma_max_X=float(np.linalg.norm(X, 2)), t=t,
                s_t=float(sigma_min_khatri_rao(X, t)))


def ledger_for(*, data="digits", n=256, d0=64, data_seed=0, activation="gelu", init="lecun",
               d1=None, steps=20000, eps=1e-6, seed=0, report=None, progress=True,
               normalize=None, label_scale=None):
    """Build the theory ledger for a data set, measuring the width GD needs.

    Parameters
    ----------
    data, n, d0, data_seed, normalize, label_scale : see :func:`pl_toolkit.data.load_dataset`
        The data (``d0`` is used by synthetic data only).
    activation : str, default "gelu"
        Activation.
    init : str or tuple, default "lecun"
        Initialization.
    d1 : int, optional
        Width at which GD is run (default: the main job's width,
        ``RunConfig.width_factor n^{3/2} / d0``).
    steps : int, default 20000
        Maximum GD steps (step size ``1/beta`` at initialization).
    eps : float, default 1e-6
        The convergence criterion ``h <= eps ||Y||_F^2``
        (:class:`pl_toolkit.ConvergenceCriterion`).
    seed : int, default 0
        Seed of the weights.
    report : str, optional
        A ``report.json`` written by ``pl-toolkit run``: its width and
        outcome are used and no training is done.
    progress : bool, default True
        Progress bar while training.

    Returns
    -------
    dict
        ``ledger`` (the :class:`derivations.ledger.Ledger`), ``markdown``,
        ``json``, and the measured inputs.

    Examples
    --------
    Ten points on the sphere, GD at the default width for 50 steps:

    >>> import numpy as np
    >>> from pl_toolkit.experiments import default_width, ledger_for
    >>> out = ledger_for(data="sphere", n=10, d0=4, steps=50, progress=False)
    >>> out["inputs"]["d1"] == default_width(10, 4, 8.0)
    True
    >>> row = out["ledger"].row("song_2021_eq21")             # d1 >= n^{3/2} / d0
    >>> bool(np.isclose(row.width_required, 10 ** 1.5 / 4)), row.measured_width
    (True, 64.0)
    >>> out["markdown"].startswith("Data: unit_sphere(n=10, d0=4)")
    True
    """
    from derivations.ledger import theory_ledger

    from ..data import load_dataset
    from ..network import ShallowNet
    from ..convergence import ConvergenceCriterion
    from ..step_size import resolve_step_size
    from ..training import train
    from .run import RunConfig, default_width

    if report is not None:
        if not os.path.exists(report):
            raise ValueError(f"report {report!r} does not exist")
        with open(report) as fh:
            rep = json.load(fh)
        try:
            cfg, dq = rep["config"], rep["data"]
            data, n, d0, data_seed = cfg["data"], dq["n"], cfg["d0"], cfg["data_seed"]
            normalize, label_scale = cfg.get("normalize"), cfg.get("label_scale")
            activation, init, d1 = cfg["activation"], cfg["init"], rep["network"]["d1"]
            converged = rep["trajectory"]["status"] == "converged"
        except (KeyError, TypeError) as exc:
            raise ValueError(f"report {report!r} is not a pl-toolkit run report "
                             f"(missing {exc})") from None
        init = tuple(init) if isinstance(init, list) else init
    crit = ConvergenceCriterion(eps)
    from ..data import data_kind

    synthetic = data_kind(data) in ("sphere", "teacher")
    ds = load_dataset(data, n=n, d0=d0, seed=data_seed,
                      normalize=None if synthetic else normalize,
                      label_scale=None if synthetic else label_scale)
    d1 = default_width(ds.n, ds.d0, RunConfig().width_factor) if d1 is None else int(d1)
    net = ShallowNet.init(ds.d0, d1, ds.d2, activation=activation, init=init, seed=seed)
    if report is None:
        step = resolve_step_size("1/beta", net=net, X=ds.X, Y=ds.Y, seed=seed)
        traj = train(net, ds.X, ds.Y, steps=steps, lr=step, track="default",
                     stop_loss=crit.target(ds.Y), seed=seed, progress=progress,
                     stall_window=RunConfig().stall_window)
        converged = traj.status == "converged"
    q = data_quantities(ds.X, net.activation, net.omega1, net.omega2)
    led = theory_ledger(ds.n, ds.d0, q["lambda0"], q["delta"], q["sigma_max_X"],
                        q["s_t"], d1, converged=converged,
                        context=f"{ds.name}, {net.activation.name}, init={init}")
    inputs = dict(q, n=ds.n, d0=ds.d0, d1=d1, converged=converged, criterion=crit.describe(),
                  data=ds.name, activation=net.activation.name,
                  init=init if isinstance(init, str) else list(init))
    js = json.loads(led.to_json())
    js_all = json.dumps(dict(inputs={k: (None if isinstance(v, float) and not math.isfinite(v)
                                         else v)
                                     for k, v in inputs.items()}, ledger=js), indent=2)
    return dict(ledger=led, markdown=led.to_markdown(), json=js_all, inputs=inputs)
