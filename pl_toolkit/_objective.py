"""The training objective on (a batch of) the data, and the minibatch sampler.

Shared by the trainer (:mod:`pl_toolkit.training`) and the experiments that
run their own loops (:mod:`pl_toolkit.experiments.init_scale`): one
evaluation of ``h(Theta) = ||V phi(W X) - Y||_F^2`` with its gradient and the
features it was computed from, and the epoch-wise minibatch indices of SGD.
"""

import numpy as np

from ._features import features, vjp_from_features

__all__ = ["Evaluation", "minibatches"]


class Evaluation:
    """Loss, gradient and features of one net on (a batch of) the data.

    Parameters
    ----------
    net : ShallowNet
        The network ``Theta``.
    X : ndarray, shape (b, d0)
        Inputs, one per row (checked by the caller).
    Y : ndarray, shape (b, d2)
        Targets.
    layers : sequence of {"W", "V", "b1", "b2"}
        Blocks of ``Theta`` the gradient is taken in, in the order of
        ``net.parameters(layers)``.
    scale : float, default 1.0
        Factor on the loss and the gradient (``n / b`` makes the minibatch
        loss an unbiased estimate of ``h``).

    Attributes
    ----------
    h : float
        ``scale * ||V phi(W X) - Y||_F^2`` (with the biases when the net
        has them).
    g : ndarray
        Its gradient in ``layers``, flattened as ``net.parameters(layers)``.
    H, G : ndarray, shape (b, d1)
        The features ``phi(W X)`` and ``phi'(W X)`` (rows per sample),
        kept for the quantities that reuse them.
    net : ShallowNet
        The network evaluated.

    Notes
    -----
    The paper's loss ``h(Theta) = ||Phi(Theta) - Y||_F^2`` with
    ``Phi(Theta) = V phi(W X)`` (eq. 15-16); its gradient is the step
    direction of GD (eq. 12).  The residual ``R = Phi - Y`` is formed once
    and ``2 scale R`` is pulled back through the network.

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit import ShallowNet
    >>> from pl_toolkit._objective import Evaluation
    >>> net = ShallowNet.init(3, 8, 2, seed=0)
    >>> X = np.eye(3)[:2]; Y = np.ones((2, 2))
    >>> ev = Evaluation(net, X, Y, ("W", "V"))
    >>> R = net.forward(X) - Y
    >>> bool(np.isclose(ev.h, np.sum(R * R))), ev.g.shape == net.parameters(("W", "V")).shape
    (True, True)
    """

    __slots__ = ("h", "g", "H", "G", "net")

    def __init__(self, net, X, Y, layers, scale=1.0):
        H, G = features(net, X)
        R = H @ net.V.T
        if net.b2 is not None:
            R += net.b2
        R -= Y
        self.h = scale * float(np.einsum("ij,ij->", R, R))
        R *= 2.0 * scale
        self.g = vjp_from_features(net, X, H, G, R, layers)
        self.H, self.G, self.net = H, G, net


def minibatches(n, b, rng):
    """Endless minibatch index arrays: each epoch one permutation, ``n // b`` full batches.

    The trailing ``n mod b`` indices of each permutation are dropped, so
    every batch is a uniformly random ``b``-subset and the minibatch loss
    ``(n/b) sum_B ||r_a||^2`` is an unbiased estimate of ``h``.

    Parameters
    ----------
    n : int
        Number of samples.
    b : int
        Batch size, ``1 <= b <= n`` (checked by the caller).
    rng : numpy.random.Generator
        Source of the permutations.

    Yields
    ------
    ndarray of int, shape (b,)
        Sorted sample indices of the next batch.

    Examples
    --------
    >>> import numpy as np
    >>> gen = minibatches(5, 2, np.random.default_rng(0))
    >>> epoch = [next(gen) for _ in range(2)]
    >>> [len(ix) for ix in epoch], len(set(np.concatenate(epoch).tolist()))
    ([2, 2], 4)
    """
    per_epoch = n // b
    while True:
        perm = rng.permutation(n)
        for k in range(per_epoch):
            yield np.sort(perm[k * b:(k + 1) * b])
