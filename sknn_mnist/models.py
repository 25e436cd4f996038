"""Moved to :mod:`sknn_mnist.study.models`; this import path keeps working.

``sknn_mnist.models`` is the same module object as ``sknn_mnist.study.models``.
"""

import sys

from .study import models as _moved

sys.modules[__name__] = _moved
