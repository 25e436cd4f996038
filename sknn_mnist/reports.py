"""Moved to :mod:`sknn_mnist.study.reports`; this import path keeps working.

``sknn_mnist.reports`` is the same module object as ``sknn_mnist.study.reports``.
"""

import sys

from .study import reports as _moved

sys.modules[__name__] = _moved
