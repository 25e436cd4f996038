"""Moved to :mod:`sknn_mnist.study.compare`; this import path keeps working.

``sknn_mnist.compare`` is the same module object as ``sknn_mnist.study.compare``.
"""

import sys

from .study import compare as _moved

sys.modules[__name__] = _moved
