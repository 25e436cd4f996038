"""Moved to :mod:`sknn_mnist.networks.mlp.classifier`; this import path keeps working.

``sknn_mnist.estimator`` is the same module object as ``sknn_mnist.networks.mlp.classifier``.
"""

import sys

from .networks.mlp import classifier as _moved

sys.modules[__name__] = _moved
