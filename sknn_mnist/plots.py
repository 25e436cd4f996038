"""Moved to :mod:`sknn_mnist.study.plots`; this import path keeps working.

``sknn_mnist.plots`` is the same module object as ``sknn_mnist.study.plots``.
"""

import sys

from .study import plots as _moved

sys.modules[__name__] = _moved
