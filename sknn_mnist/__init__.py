"""sknn_mnist: a scikit-learn compatible PyTorch MLP, trained through skorch, for digits.

>>> from sknn_mnist import MLPDigitClassifier
"""

from ._version import __version__
from .estimator import MLPDigitClassifier

__all__ = ["MLPDigitClassifier", "__version__"]
