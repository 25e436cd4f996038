"""sknn_mnist: scikit-learn compatible PyTorch networks, trained through skorch, for digits.

>>> from sknn_mnist import MLPDigitClassifier, TorchMLPRegressor

The layout, by concern:

* :mod:`sknn_mnist.core`: the torch training core (the classifier base, its trainer,
  solvers and output heads, the skorch net and its data path);
* :mod:`sknn_mnist.networks`: one subpackage per architecture (its torch module and its
  estimator): :mod:`~sknn_mnist.networks.mlp`, :mod:`~sknn_mnist.networks.cnn`;
* :mod:`sknn_mnist.registry`: the one registry of model kinds;
* :mod:`sknn_mnist.study`: the compared models, the comparison, reports and plots;
* :mod:`sknn_mnist.io`: persistence (skops), ONNX export, atomic writes;
* :mod:`sknn_mnist.images`: digit images (photos, scans, drawings) read as MNIST rows;
* :func:`sknn_mnist.pretrained`: the pretrained MNIST models shipped with the package;
* :mod:`sknn_mnist.datasets` and :mod:`sknn_mnist.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from .networks.cnn.classifier import CNNDigitClassifier
    from .networks.mlp.classifier import MLPDigitClassifier
    from .networks.mlp.regressor import TorchMLPRegressor

__all__ = ["CNNDigitClassifier", "MLPDigitClassifier", "TorchMLPRegressor", "__version__",
           "pretrained"]


def __getattr__(name: str):
    # Imported on first use: torch takes seconds to import, and `python -m
    # sknn_mnist.datasets` or `sknn-mnist --help` should not pay for it. The exported
    # estimators are those the registry of model kinds marks with ``export=True``.
    if name == "export_onnx":  # needs the onnx extra, imported only when asked for
        from .io.onnx import export_onnx

        return export_onnx
    if name == "pretrained":  # sknn_mnist.pretrained("mnist-cnn"): the shipped models
        from .io.pretrained import load_pretrained

        return load_pretrained
    if not name.startswith("_"):
        from .registry import exported_class

        cls = exported_class(name)
        if cls is not None:
            return cls
    raise AttributeError(f"module 'sknn_mnist' has no attribute {name!r}")
