"""The torch training core.

The scikit-learn classifier base, its trainer, solvers and output heads, the skorch net
and its data path.
"""
