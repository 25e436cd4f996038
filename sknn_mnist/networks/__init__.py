"""The networks: one subpackage per architecture (its torch module and its estimator)."""
