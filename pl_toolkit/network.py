"""The paper's shallow network ``x -> V phi(W x)`` (eqs. 15-16).

Data are stored as rows: ``X`` has shape ``(n, d0)`` and the network maps it
to ``phi(X W^T) V^T`` of shape ``(n, d2)``.  The paper stores samples as
columns, ``X_paper = X.T``, so ``Phi(Theta) = V phi(W X_paper)`` is the
transpose of :meth:`ShallowNet.forward`.
"""

import json
import os

import numpy as np

from ._validation import as_float_array, check_positive_int
from .activations import get_activation

__all__ = ["ShallowNet", "INITS"]

#: Variance rules ``(omega1^2, omega2^2)`` of the named initializations, eq. (17).
INITS = {
    "lecun": lambda d0, d1, d2: (1.0 / d0, 1.0 / d1),
    "he": lambda d0, d1, d2: (2.0 / d0, 2.0 / d1),
    "xavier": lambda d0, d1, d2: (2.0 / (d0 + d1), 2.0 / (d1 + d2)),
}

_LAYERS = ("W", "V")



def check_layers(layers):
    """Normalize a ``layers`` argument to a tuple in canonical order ('W' before 'V')."""
    if isinstance(layers, str):
        layers = (layers,)
    try:
        given = tuple(layers)
    except TypeError:
        raise ValueError(f"layers must be a tuple of 'W' and/or 'V', got {layers!r}") from None
    bad = [x for x in given if x not in _LAYERS]
    if bad or not given:
        raise ValueError(f"layers must be a non-empty subset of ('W', 'V'), got {layers!r}")
    return tuple(x for x in _LAYERS if x in given)


def check_net(net, name="net"):
    """Return ``net`` if it is a :class:`ShallowNet`, else raise ValueError naming ``name``."""
    if not isinstance(net, ShallowNet):
        raise ValueError(f"{name} must be a ShallowNet, got {type(net).__name__}")
    return net


def _readonly(a):
    if a is not None:
        a.setflags(write=False)
    return a


class ShallowNet:
    """The two-layer network ``x -> V phi(W x) (+ biases)`` of the paper.

    Parameters
    ----------
    W : array_like of shape (d1, d0)
        First-layer weights.
    V : array_like of shape (d2, d1) or (d1,)
        Second-layer weights (a vector means ``d2 = 1``).
    activation : str or Activation, default "gelu"
        Name in the activation registry, or a record.
    b1 : array_like of shape (d1,), optional
        First-layer bias (absent in the paper; present in PyTorch nets).
    b2 : array_like of shape (d2,), optional
        Second-layer bias.
    omega1, omega2 : float, optional
        Standard deviations the weights were drawn with (set by
        :meth:`init`; ``None`` for explicit weights).

    Attributes
    ----------
    d0, d1, d2 : int
        Input dimension, width and output dimension.
    activation : Activation
        The activation record.

    Notes
    -----
    The parameters are ``Theta = (W, V)``; the bias of the first layer
    belongs to layer ``"W"`` and that of the second layer to layer ``"V"``
    wherever a ``layers`` argument selects what is trained.  Weight arrays
    are read-only: every update makes a new net (:meth:`with_parameters`).

    Examples
    --------
    >>> from pl_toolkit import ShallowNet
    >>> net = ShallowNet.init(d0=4, d1=16, d2=2, activation="tanh", init="he", seed=1)
    >>> net.W.shape, net.V.shape, round(net.omega1 ** 2, 3)
    ((16, 4), (2, 16), 0.5)
    >>> net.forward([[1.0, 0.0, 0.0, 0.0]]).shape
    (1, 2)
    """

    def __init__(self, W, V, activation="gelu", b1=None, b2=None, *, omega1=None, omega2=None):
        W = as_float_array(W, "W", ndim=2, copy=True)
        V = as_float_array(V, "V", ndim=(1, 2), copy=True)
        if V.ndim == 1:
            V = V.reshape(1, -1)
        if V.shape[1] != W.shape[0]:
            raise ValueError(f"V has shape {V.shape} but W has d1 = {W.shape[0]} rows; "
                             f"V must have shape (d2, {W.shape[0]})")
        if b1 is not None:
            b1 = as_float_array(b1, "b1", ndim=1, copy=True)
            if b1.shape[0] != W.shape[0]:
                raise ValueError(f"b1 has length {b1.shape[0]}, expected d1 = {W.shape[0]}")
        if b2 is not None:
            b2 = as_float_array(b2, "b2", ndim=1, copy=True)
            if b2.shape[0] != V.shape[0]:
                raise ValueError(f"b2 has length {b2.shape[0]}, expected d2 = {V.shape[0]}")
        self.W = _readonly(W)
        self.V = _readonly(V)
        self.b1 = _readonly(b1)
        self.b2 = _readonly(b2)
        self.activation = get_activation(activation)
        self.omega1 = None if omega1 is None else float(omega1)
        self.omega2 = None if omega2 is None else float(omega2)

    # -- construction -------------------------------------------------------
    @classmethod
    def init(cls, d0, d1, d2=1, activation="gelu", init="lecun", seed=0, bias=False):
        """Draw ``W ~ N(0, omega1^2)`` and ``V ~ N(0, omega2^2)`` i.i.d. (eq. 17).

        Parameters
        ----------
        d0, d1, d2 : int
            Input dimension, width, output dimension.
        activation : str or Activation, default "gelu"
            Activation.
        init : {"lecun", "he", "xavier"} or tuple of float, default "lecun"
            Named variance rule (lecun: ``1/d0, 1/d1``; he: ``2/d0, 2/d1``;
            xavier: ``2/(d0+d1), 2/(d1+d2)``) or an explicit
            ``(omega1, omega2)`` pair of standard deviations.
        seed : int or numpy.random.SeedSequence, default 0
            Root of the random stream (through ``SeedSequence``).
        bias : bool, default False
            Add zero-initialized biases ``b1``, ``b2``.

        Returns
        -------
        ShallowNet
            The initialized network.

        Raises
        ------
        ValueError
            On a non-positive dimension or an unknown init.

        Notes
        -----
        The paper's condition (19), ``omega1 omega2 <~ 1/sqrt(d0 d1)``, holds
        with equality up to a constant for LeCun and He.

        Examples
        --------
        >>> net = ShallowNet.init(784, 1000, 10, init="he")
        >>> round(net.omega1 * net.omega2 * (784 * 1000) ** 0.5, 6)
        2.0
        """
        d0 = check_positive_int(d0, "d0")
        d1 = check_positive_int(d1, "d1")
        d2 = check_positive_int(d2, "d2")
        if isinstance(init, str):
            key = init.lower()
            if key not in INITS:
                raise ValueError(f"init {init!r} is unknown; use one of {sorted(INITS)} or (omega1, omega2)")
            var1, var2 = INITS[key](d0, d1, d2)
            omega1, omega2 = float(np.sqrt(var1)), float(np.sqrt(var2))
        else:
            try:
                omega1, omega2 = (float(x) for x in init)
            except (TypeError, ValueError):
                raise ValueError(f"init must be a name or an (omega1, omega2) pair, got {init!r}") from None
            if not (np.isfinite(omega1) and np.isfinite(omega2) and omega1 > 0 and omega2 > 0):
                raise ValueError(f"init (omega1, omega2) must be positive and finite, got {init!r}")
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        rng = np.random.default_rng(ss)
        W = rng.standard_normal((d1, d0)) * omega1
        V = rng.standard_normal((d2, d1)) * omega2
        b1 = np.zeros(d1) if bias else None
        b2 = np.zeros(d2) if bias else None
        return cls(W, V, activation, b1, b2, omega1=omega1, omega2=omega2)

    @classmethod
    def from_state_dict(cls, state_dict, activation="gelu"):
        """Build a net from a PyTorch ``Linear -> activation -> Linear`` state dict.

        Parameters
        ----------
        state_dict : mapping
            Two ``*.weight`` entries (first layer ``(d1, d0)``, then second
            layer ``(d2, d1)``, in insertion order, as ``nn.Sequential`` and
            the paper's code store them) and optionally two ``*.bias``
            entries.  Values may be torch tensors or arrays.
        activation : str or Activation, default "gelu"
            The activation between the layers (not stored in a state dict).

        Returns
        -------
        ShallowNet
            The net, in float64, with biases when the state dict has them.

        Raises
        ------
        ValueError
            If the entries are not two weight matrices of chained shapes.

        Examples
        --------
        >>> import numpy as np
        >>> sd = {"0.weight": np.ones((3, 2)), "0.bias": np.zeros(3),
        ...       "2.weight": np.ones((1, 3)), "2.bias": np.zeros(1)}
        >>> ShallowNet.from_state_dict(sd, "tanh")
        ShallowNet(d0=2, d1=3, d2=1, activation='tanh', bias)
        """
        def as_array(v):
            if hasattr(v, "detach"):  # a torch tensor
                v = v.detach().cpu().double().numpy()
            return np.asarray(v, dtype=np.float64)

        try:
            items = list(state_dict.items())
        except AttributeError:
            raise ValueError("state_dict must be a mapping of parameter names to arrays") from None
        weights = [(k, as_array(v)) for k, v in items if str(k).endswith("weight")]
        biases = [(k, as_array(v)) for k, v in items if str(k).endswith("bias")]
        if len(weights) != 2:
            raise ValueError(f"state_dict must hold two Linear layers, found weights {[k for k, _ in weights]}")
        (k1, W), (k2, V) = weights
        if W.ndim != 2 or V.ndim != 2 or V.shape[1] != W.shape[0]:
            raise ValueError(f"state_dict weights {k1} {W.shape} and {k2} {V.shape} do not chain "
                             "as Linear(d0, d1) -> Linear(d1, d2)")
        if len(biases) not in (0, 2):
            raise ValueError(f"state_dict must hold zero or two biases, found {[k for k, _ in biases]}")
        b1, b2 = (biases[0][1], biases[1][1]) if biases else (None, None)
        return cls(W, V, activation, b1, b2)

    # -- shape --------------------------------------------------------------
    @property
    def d0(self):
        """Input dimension."""
        return self.W.shape[1]

    @property
    def d1(self):
        """Width (the paper's m)."""
        return self.W.shape[0]

    @property
    def d2(self):
        """Output dimension."""
        return self.V.shape[0]

    @property
    def has_bias(self):
        """Whether either bias is present."""
        return self.b1 is not None or self.b2 is not None

    def __repr__(self):
        bias = ", bias" if self.has_bias else ""
        return (f"ShallowNet(d0={self.d0}, d1={self.d1}, d2={self.d2}, "
                f"activation={self.activation.name!r}{bias})")

    # -- evaluation -----------------------------------------------------------
    def check_data(self, X, name="X"):
        """Validate data rows for this net: finite float64 of shape (n, d0)."""
        X = as_float_array(X, name, ndim=2)
        if X.shape[1] != self.d0:
            raise ValueError(f"{name} has {X.shape[1]} columns but the net expects d0 = {self.d0}")
        return X

    def check_targets(self, Y, n, name="Y"):
        """Validate targets: shape (n, d2), or (n,) when d2 = 1."""
        Y = as_float_array(Y, name, ndim=(1, 2))
        if Y.ndim == 1:
            if self.d2 != 1:
                raise ValueError(f"{name} is 1-D but the net has d2 = {self.d2} outputs")
            Y = Y.reshape(-1, 1)
        if Y.shape != (n, self.d2):
            raise ValueError(f"{name} has shape {Y.shape}, expected ({n}, {self.d2})")
        return Y

    def preactivations(self, X):
        """Return ``Z = X W^T (+ b1)``, shape (n, d1)."""
        X = self.check_data(X)
        return self._preactivations(X)

    def _preactivations(self, X):
        Z = X @ self.W.T
        if self.b1 is not None:
            Z += self.b1
        return Z

    def features(self, X):
        """Return ``phi(X W^T (+ b1))``, shape (n, d1): the paper's ``phi(W X)^T``."""
        return self.activation.phi(self.preactivations(X))

    def forward(self, X):
        """Evaluate the network on rows of ``X``.

        Parameters
        ----------
        X : array_like of shape (n, d0)
            Inputs as rows.

        Returns
        -------
        ndarray of shape (n, d2)
            ``phi(X W^T + b1) V^T + b2``.

        Examples
        --------
        >>> import numpy as np
        >>> net = ShallowNet(np.eye(2), [[1.0, -1.0]], activation="identity")
        >>> net.forward([[3.0, 1.0]]).tolist()
        [[2.0]]
        """
        out = self.features(X) @ self.V.T
        if self.b2 is not None:
            out += self.b2
        return out

    __call__ = forward

    # -- parameters -----------------------------------------------------------
    def _blocks(self, layers):
        out = []
        for layer in check_layers(layers):
            if layer == "W":
                out.append(("W", self.W))
                if self.b1 is not None:
                    out.append(("b1", self.b1))
            else:
                out.append(("V", self.V))
                if self.b2 is not None:
                    out.append(("b2", self.b2))
        return out

    def parameter_names(self, layers=("W", "V")):
        """Names and shapes of the flat parameter vector's blocks, in order."""
        return [(name, a.shape) for name, a in self._blocks(layers)]

    def num_parameters(self, layers=("W", "V")):
        """Number of trained parameters in ``layers``."""
        return int(sum(a.size for _, a in self._blocks(layers)))

    def parameters(self, layers=("W", "V")):
        """Return the trained parameters as one flat vector.

        The order is ``W`` (row-major), ``b1``, ``V`` (row-major), ``b2``,
        restricted to ``layers`` and to the biases present.

        Parameters
        ----------
        layers : tuple of {"W", "V"}, default ("W", "V")
            Which layers.

        Returns
        -------
        ndarray of float64
            Flat copy.
        """
        return np.concatenate([a.ravel() for _, a in self._blocks(layers)])

    def unflatten(self, theta, layers=("W", "V"), name="theta"):
        """Split a flat vector into a dict of arrays shaped like the parameters."""
        theta = as_float_array(theta, name, ndim=1)
        expect = self.num_parameters(layers)
        if theta.shape[0] != expect:
            raise ValueError(f"{name} has length {theta.shape[0]}, expected {expect} for layers {check_layers(layers)}")
        out, i = {}, 0
        for key, a in self._blocks(layers):
            out[key] = theta[i:i + a.size].reshape(a.shape)
            i += a.size
        return out

    def with_parameters(self, theta, layers=("W", "V")):
        """Return a new net whose ``layers`` take the values in flat ``theta``."""
        parts = self.unflatten(theta, layers)
        return self.replace(**parts)

    def replace(self, **arrays):
        """Return a copy with some of ``W, V, b1, b2, activation`` replaced."""
        kw = dict(W=self.W, V=self.V, activation=self.activation, b1=self.b1, b2=self.b2)
        unknown = set(arrays) - set(kw)
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; use W, V, b1, b2 or activation")
        kw.update(arrays)
        return ShallowNet(kw["W"], kw["V"], kw["activation"], kw["b1"], kw["b2"],
                          omega1=self.omega1, omega2=self.omega2)

    def copy(self):
        """Return an independent copy."""
        return self.replace()

    # -- persistence ------------------------------------------------------------
    def save(self, path):
        """Save weights, biases, activation name and init scales to ``.npz``.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file (``.npz`` is appended by NumPy if missing).
        """
        meta = dict(activation=self.activation.name, omega1=self.omega1, omega2=self.omega2,
                    format="pl_toolkit.ShallowNet/1")
        arrays = dict(W=self.W, V=self.V, meta=np.array(json.dumps(meta)))
        if self.b1 is not None:
            arrays["b1"] = self.b1
        if self.b2 is not None:
            arrays["b2"] = self.b2
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path):
        """Load a net written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            An ``.npz`` file with arrays ``W``, ``V`` and optionally ``b1``,
            ``b2`` and ``meta``.

        Returns
        -------
        ShallowNet
            The stored network.

        Raises
        ------
        ValueError
            If the file is missing or lacks ``W``/``V``.
        """
        path = os.fspath(path)
        if not os.path.exists(path) and os.path.exists(path + ".npz"):
            path = path + ".npz"  # np.savez appends the suffix; accept the name given to save
        if not os.path.exists(path):
            raise ValueError(f"path {path!r} does not exist")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"path {path!r} is not a readable .npz file: {exc}") from None
        with data:
            if "W" not in data or "V" not in data:
                raise ValueError(f"path {path!r} has no arrays 'W' and 'V' (found {sorted(data.files)})")
            meta = json.loads(str(data["meta"])) if "meta" in data else {}
            return cls(data["W"], data["V"], meta.get("activation", "gelu"),
                       data["b1"] if "b1" in data else None, data["b2"] if "b2" in data else None,
                       omega1=meta.get("omega1"), omega2=meta.get("omega2"))

    def __eq__(self, other):
        if not isinstance(other, ShallowNet):
            return NotImplemented

        def same(a, b):
            return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))

        return (self.activation.name == other.activation.name and same(self.W, other.W)
                and same(self.V, other.V) and same(self.b1, other.b1) and same(self.b2, other.b2))

    __hash__ = None
