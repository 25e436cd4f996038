"""The multilayer perceptron: :class:`MLPModule` and :class:`MLPDigitClassifier`."""
