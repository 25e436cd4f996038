"""Moved to :mod:`sknn_mnist.study.distributed`; this import path keeps working.

``sknn_mnist.distributed`` is the same module object as ``sknn_mnist.study.distributed``.
"""

import sys

from .study import distributed as _moved

sys.modules[__name__] = _moved
