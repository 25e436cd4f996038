"""Moved to :mod:`sknn_mnist.networks.cnn.classifier`; this import path keeps working.

``sknn_mnist.cnn`` is the same module object as ``sknn_mnist.networks.cnn.classifier``.
"""

import sys

from .networks.cnn import classifier as _moved

sys.modules[__name__] = _moved
