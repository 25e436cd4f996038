"""The stacked trainer: K networks of one architecture trained as one.

* :mod:`.network`: the K modules' weights stacked along a leading axis and one
  ``torch.func.vmap`` forward pass for all of them;
* :mod:`.optim`: Adam, AdamW and SGD with per-network hyperparameters as tensors;
* :mod:`.data`: every network's training rows into one shared copy of the data;
* :mod:`.trainer`: the epoch loop with each network's own batch order, learning-rate
  schedule, stopping rules and early stopping, a network that stops leaving the stack.

:func:`sknn_mnist.core.many.fit_many` is the entry point; it plans each network as its
own ``fit`` would and commits the results into the estimators.
"""
