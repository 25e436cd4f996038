"""The convolutional network: :class:`CNNModule` and :class:`CNNDigitClassifier`."""
