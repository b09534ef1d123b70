"""Backprop Lab: the reference library behind the lectures, checks and graders.

Importing this package never imports torch; ``backproplab.torch_reference`` does, lazily.
"""
from .activations import (  # noqa: F401  (re-exported: the package's API)
    elu,
    identity,
    leaky_relu,
    leaky_relu_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_backward,
    tanh,
    tanh_backward,
)
from .init import initialize_parameters  # noqa: F401  (re-exported: the package's API)
from .layers import dense_backward, dense_forward, dropout_backward, dropout_forward, l2_backward, l2_penalty  # noqa: F401  (re-exported: the package's API)
from .losses import binary_cross_entropy, categorical_cross_entropy, mse, multiclass_hinge  # noqa: F401  (re-exported: the package's API)
from .model import TrainOptions, model_backward, model_forward, train, update_parameters  # noqa: F401  (re-exported: the package's API)

__version__ = "0.1.0"
LECTURES = (
    "01-architecture", "02-computation-graphs", "03-activations",
    "04-backprop", "05-initialization", "06-overfitting", "07-multiclass",
    "08-optimization", "09-backprop-by-hand",
)
