"""Moved to :mod:`sknn_mnist.io.persistence`; this import path keeps working.

``sknn_mnist.persistence`` is the same module object as ``sknn_mnist.io.persistence``.
"""

import sys

from .io import persistence as _moved

sys.modules[__name__] = _moved
