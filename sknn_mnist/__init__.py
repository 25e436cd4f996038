"""sknn_mnist: a scikit-learn compatible PyTorch MLP, trained through skorch, for digits.

>>> from sknn_mnist import MLPDigitClassifier
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from .networks.cnn.classifier import CNNDigitClassifier
    from .networks.mlp.classifier import MLPDigitClassifier

__all__ = ["CNNDigitClassifier", "MLPDigitClassifier", "__version__"]


def __getattr__(name: str):
    # Imported on first use: torch takes seconds to import, and `python -m
    # sknn_mnist.datasets` or `sknn-mnist --help` should not pay for it.
    if name == "MLPDigitClassifier":
        from .networks.mlp.classifier import MLPDigitClassifier

        return MLPDigitClassifier
    if name == "CNNDigitClassifier":
        from .networks.cnn.classifier import CNNDigitClassifier

        return CNNDigitClassifier
    if name == "export_onnx":  # needs the onnx extra, imported only when asked for
        from .io.onnx import export_onnx

        return export_onnx
    raise AttributeError(f"module 'sknn_mnist' has no attribute {name!r}")
