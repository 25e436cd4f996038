"""The ``sknn-mnist`` command line."""

from .main import build_parser, main, parse_params

__all__ = ["build_parser", "main", "parse_params"]
