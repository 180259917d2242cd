"""pl_toolkit: measure the constants of the PL-based convergence theory of shallow networks.

The network is the paper's ``x -> V phi(W x)`` (Song et al., NeurIPS 2021),
with data stored as rows (``X`` of shape ``(n, d0)``).
"""

__version__ = "0.1.0"

from .activations import Activation, available_activations, get_activation, register_activation

__all__ = [
    "__version__",
    "Activation",
    "available_activations",
    "get_activation",
    "register_activation",
]

# -- network and NTK (foundation) --
from .network import ShallowNet
from .ntk import (NTKBlocks, NTKOperator, gradient, jvp, loss, ntk_gram, ntk_operator, residual,
                  vjp)

__all__ += ["ShallowNet", "NTKBlocks", "NTKOperator", "gradient", "jvp", "loss", "ntk_gram",
            "ntk_operator", "residual", "vjp"]

# -- Khatri-Rao powers, Hermite analysis, infinite-width kernels --
from .hermite import hermite_coefficients, hermite_norm
from .infinite_width import InfiniteWidthKernels, infinite_width_kernels
from .khatri_rao import khatri_rao_gram, khatri_rao_power, sigma_min_khatri_rao

__all__ += ["hermite_coefficients", "hermite_norm", "InfiniteWidthKernels",
            "infinite_width_kernels", "khatri_rao_gram", "khatri_rao_power", "sigma_min_khatri_rao"]

# -- the paper's constants (Lemma 3) --
from .constants import Lemma3Constants, lemma3_constants

__all__ += ["Lemma3Constants", "lemma3_constants"]

# -- training with tracked theory quantities, Hessian of the loss --
from .hessian import hessian_top_eigenvalue, hessian_vector_product
from .convergence import ConvergenceCriterion
from .training import train
from .trajectory import Trajectory

__all__ += ["hessian_top_eigenvalue", "hessian_vector_product", "ConvergenceCriterion",
            "Trajectory", "train"]

# -- spectral utilities --
from .spectrum import (ConvergenceWarning, EigResult, LambdaMinTracker, lambda_max, lambda_min,
                       sigma_max, sigma_min)
from .ntk_spectrum import JacobianSpectrum, jacobian_singular_values, ntk_lambda_min

__all__ += ["ConvergenceWarning", "EigResult", "JacobianSpectrum", "LambdaMinTracker",
            "jacobian_singular_values", "lambda_max", "lambda_min", "ntk_lambda_min", "sigma_max",
            "sigma_min"]

# -- certified lower bounds --
from .certified import CertifiedBound, lambda_min_certified
from .ntk_certified import NTKCertifiedBound, ntk_lambda_min_certified

__all__ += ["CertifiedBound", "NTKCertifiedBound", "lambda_min_certified",
            "ntk_lambda_min_certified"]
