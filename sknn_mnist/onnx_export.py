"""Moved to :mod:`sknn_mnist.io.onnx`; this import path keeps working.

``sknn_mnist.onnx_export`` is the same module object as ``sknn_mnist.io.onnx``.
"""

import sys

from .io import onnx as _moved

sys.modules[__name__] = _moved
