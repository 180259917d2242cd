"""The immutable record of a training run and its ``.npz`` file format.

:class:`Trajectory` holds what :func:`pl_toolkit.train` measured: one 1-D
array per tracked quantity with the steps it was measured at, the first
and last networks, how the run ended and its metadata.  :meth:`Trajectory.save`
and :meth:`Trajectory.load` round-trip it exactly through one ``.npz`` file.
"""

import json
import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ._json import strict_json
from .convergence import STOP_REASONS
from .network import ShallowNet

__all__ = ["Trajectory", "STATUSES"]

#: How a run can end.
STATUSES = STOP_REASONS

_FORMAT = "pl_toolkit.Trajectory/1"


# --------------------------------------------------------------------------
# Immutable copies
# --------------------------------------------------------------------------
def _freeze(obj):
    """Deep-freeze JSON-like data: dicts -> read-only mappings, lists -> tuples."""
    if isinstance(obj, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return tuple(_freeze(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _thaw(obj):
    """Inverse of :func:`_freeze` (mappings -> dicts, tuples -> lists)."""
    if isinstance(obj, Mapping):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_thaw(v) for v in obj]
    return obj


def _readonly_copy(a, dtype=None):
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


def _net_arrays(net, prefix):
    out = {f"{prefix}__W": net.W, f"{prefix}__V": net.V}
    if net.b1 is not None:
        out[f"{prefix}__b1"] = net.b1
    if net.b2 is not None:
        out[f"{prefix}__b2"] = net.b2
    meta = dict(activation=net.activation.name, omega1=net.omega1, omega2=net.omega2)
    return out, meta


def _net_from_arrays(data, prefix, meta):
    def get(key):
        k = f"{prefix}__{key}"
        return data[k] if k in data else None

    return ShallowNet(get("W"), get("V"), meta["activation"], get("b1"), get("b2"),
                      omega1=meta.get("omega1"), omega2=meta.get("omega2"))


def _net_summary(net):
    return dict(d0=net.d0, d1=net.d1, d2=net.d2, activation=net.activation.name,
                bias=net.has_bias, W_norm=float(np.linalg.norm(net.W)),
                V_norm=float(np.linalg.norm(net.V)))


def _arrays_equal(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


# --------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Trajectory:
    """Immutable record of a training run made by :func:`train`.

    Parameters
    ----------
    values : mapping of str to ndarray
        One 1-D array per recorded quantity (see ``pl_toolkit.training.TRACKABLE``;
        ``distance`` records ``distance``, ``distance_W``, ``distance_V``
        and ``weight_change`` records ``weight_change_W``,
        ``weight_change_V``).
    steps : mapping of str to ndarray of int64
        For each recorded quantity, the iterate indices ``t`` at which it
        was measured (same length as its values).
    initial_net, final_net : ShallowNet
        ``Theta_0`` and the last accepted iterate.
    status : {"converged", "max_steps", "diverged", "stalled", "interrupted"}
        How the run ended (:data:`pl_toolkit.convergence.STOP_REASONS`).
    metadata : mapping
        JSON-like configuration and context: ``config`` (arguments, the
        step size actually used), ``data`` (sizes), ``versions``,
        ``threads``, ``constants`` (Lemma 3 at initialization, when
        computed), ``initial_loss``, ``final_loss``, ``final_step``,
        ``diverged_at``, ``solver_stats``, ``elapsed_seconds``.

    Attributes
    ----------
    names : tuple of str
        Recorded quantities.
    final_step : int
        Index ``t`` of ``final_net``.

    Notes
    -----
    Arrays are read-only copies and the mappings are read-only views, so a
    trajectory cannot be changed after construction.  :meth:`save` and
    :meth:`load` round-trip exactly (binary arrays in ``.npz``, metadata
    as JSON whose floats are written with ``repr``, which round-trips).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet, train
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((8, 3)); Y = rng.standard_normal((8, 1)) / 8
    >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> net = ShallowNet.init(3, 32, seed=0)
    >>> traj = train(net, X, Y, steps=20, lr=0.05, progress=False)
    >>> traj.status, int(traj.steps["loss"][-1])
    ('max_steps', 20)
    >>> bool(traj["loss"][-1] < traj["loss"][0])
    True
    """

    values: Mapping
    steps: Mapping
    initial_net: ShallowNet
    final_net: ShallowNet
    status: str
    metadata: Mapping

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        for name in ("initial_net", "final_net"):
            if not isinstance(getattr(self, name), ShallowNet):
                raise ValueError(f"{name} must be a ShallowNet")
        if set(self.values) != set(self.steps):
            raise ValueError("values and steps must have the same keys")
        vals, steps = {}, {}
        for k in self.values:
            v = np.asarray(self.values[k])
            s = np.asarray(self.steps[k])
            if v.ndim != 1 or s.shape != v.shape:
                raise ValueError(f"values[{k!r}] and steps[{k!r}] must be 1-D of equal length")
            vals[str(k)] = _readonly_copy(v)
            steps[str(k)] = _readonly_copy(s, dtype=np.int64)
        object.__setattr__(self, "values", MappingProxyType(vals))
        object.__setattr__(self, "steps", MappingProxyType(steps))
        object.__setattr__(self, "metadata", _freeze(dict(self.metadata)))

    # -- access -------------------------------------------------------------
    @property
    def names(self):
        """Names of the recorded quantities."""
        return tuple(self.values)

    @property
    def final_step(self):
        """Iterate index of ``final_net``."""
        return int(self.metadata.get("final_step", 0))

    def __getitem__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise KeyError(f"{name!r} was not recorded; recorded: {sorted(self.values)}") from None

    def __contains__(self, name):
        return name in self.values

    def series(self, name):
        """Return the steps and values of one recorded quantity.

        Parameters
        ----------
        name : str
            A recorded quantity (see :attr:`names`).

        Returns
        -------
        steps : ndarray of int64
            Iterate indices ``t``.
        values : ndarray
            The measurements at those iterates.
        """
        return self.steps[name], self[name]

    def __repr__(self):
        return (f"Trajectory(status={self.status!r}, final_step={self.final_step}, "
                f"names={list(self.names)})")

    def __eq__(self, other):
        if not isinstance(other, Trajectory):
            return NotImplemented
        if (self.status != other.status or set(self.values) != set(other.values)
                or self.initial_net != other.initial_net or self.final_net != other.final_net):
            return False
        for k in self.values:
            if not (_arrays_equal(self.values[k], other.values[k])
                    and _arrays_equal(self.steps[k], other.steps[k])):
                return False
        return json.dumps(_thaw(self.metadata), sort_keys=True) == \
            json.dumps(_thaw(other.metadata), sort_keys=True)

    __hash__ = None

    def __reduce__(self):
        # Mapping proxies do not pickle: rebuild from plain dicts.
        return (type(self), (dict(self.values), dict(self.steps), self.initial_net,
                             self.final_net, self.status, _thaw(self.metadata)))

    # -- export ---------------------------------------------------------------
    def to_dict(self):
        """Return a JSON-serializable summary (for reports).

        Returns
        -------
        dict
            ``status``, ``final_step``, ``metadata``, ``values`` and
            ``steps`` as lists (non-finite floats become ``None``), and a
            summary (sizes, activation, weight norms) of both nets.
        """
        vals = {k: v.tolist() for k, v in self.values.items()}
        return strict_json(dict(status=self.status, final_step=self.final_step,
                                metadata=_thaw(self.metadata), values=vals,
                                steps={k: s.tolist() for k, s in self.steps.items()},
                                initial_net=_net_summary(self.initial_net),
                                final_net=_net_summary(self.final_net)))

    @staticmethod
    def _npz_path(path):
        path = os.fspath(path)
        return path if path.endswith(".npz") else path + ".npz"

    def save(self, path):
        """Write the trajectory to one ``.npz`` file (arrays + JSON metadata).

        Parameters
        ----------
        path : str or os.PathLike
            Destination; ``.npz`` is appended if missing.

        Returns
        -------
        str
            The path written.
        """
        path = self._npz_path(path)
        arrays = {}
        for k in self.values:
            arrays[f"values__{k}"] = self.values[k]
            arrays[f"steps__{k}"] = self.steps[k]
        a0, m0 = _net_arrays(self.initial_net, "net0")
        a1, m1 = _net_arrays(self.final_net, "net1")
        arrays.update(a0)
        arrays.update(a1)
        header = dict(format=_FORMAT, status=self.status, names=list(self.values),
                      metadata=_thaw(self.metadata), initial_net=m0, final_net=m1)
        arrays["header"] = np.array(json.dumps(header))
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Read a trajectory written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            File written by :meth:`save` (``.npz`` may be omitted).

        Returns
        -------
        Trajectory
            Equal (``==``, bitwise on arrays) to the saved one.

        Raises
        ------
        ValueError
            If the file is missing or not a saved trajectory.
        """
        p = os.fspath(path)
        if not os.path.exists(p):
            p = cls._npz_path(p)
        if not os.path.exists(p):
            raise ValueError(f"path {os.fspath(path)!r} does not exist")
        try:
            data = np.load(p, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"path {p!r} is not a readable .npz file: {exc}") from None
        with data:
            if "header" not in data:
                raise ValueError(f"path {p!r} is not a saved Trajectory (no header)")
            header = json.loads(str(data["header"]))
            if header.get("format") != _FORMAT:
                raise ValueError(f"path {p!r} has format {header.get('format')!r}, "
                                 f"expected {_FORMAT!r}")
            values = {k: data[f"values__{k}"] for k in header["names"]}
            steps = {k: data[f"steps__{k}"] for k in header["names"]}
            net0 = _net_from_arrays(data, "net0", header["initial_net"])
            net1 = _net_from_arrays(data, "net1", header["final_net"])
        return cls(values=values, steps=steps, initial_net=net0, final_net=net1,
                   status=header["status"], metadata=header["metadata"])
