"""The ``sknn-mnist`` command line (also ``python -m sknn_mnist``).

Commands: ``compare``, ``train``, ``evaluate``, ``cv``, ``grid-search``, ``predict``,
``serve``, ``info``, ``export``, ``datasets``. Run ``sknn-mnist COMMAND --help`` for each
one's options.

Each command is a module of this package with ``HELP``, ``DESCRIPTION``, ``setup(parser)``
(its arguments) and ``run(args) -> int`` (its work); :data:`COMMANDS` lists them. What they
share is in :mod:`~sknn_mnist.cli.common` (light: imported for ``--help``) and
:mod:`~sknn_mnist.cli.runtime` (imported at the top of a command's ``run``).

Exit status: 0 on success; 2, with one line on stderr and no traceback, for a usage or input
error (unknown dataset or model, malformed ``param=value``, unknown parameter, missing or
foreign model file, wrong number of columns...); 130 when interrupted. The errors that the
arguments alone show (names, parameter values, paths) come before numpy, scikit-learn and
torch are imported: in a fraction of a second.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from .._version import __version__
from ..registry import MODEL_SPECS
from . import compare, cv, datasets, evaluate, export, grid_search, info, predict, serve, train
from .common import CLIError, Parser, first_line, parse_params, unrecognized_arguments

__all__ = ["COMMANDS", "CLIError", "build_parser", "main", "parse_params"]

#: The commands, by name, in the order ``--help`` lists them.
COMMANDS: dict[str, ModuleType] = {
    "compare": compare,
    "train": train,
    "evaluate": evaluate,
    "cv": cv,
    "grid-search": grid_search,
    "predict": predict,
    "serve": serve,
    "info": info,
    "export": export,
    "datasets": datasets,
}


def _description() -> str:
    """The top-level help's first line: the models, as the registry lists them."""
    models = "; ".join(f"{name}, {spec.title}" for name, spec in MODEL_SPECS.items()
                       if spec.compared)
    return f"Compare, train, evaluate and use digit classifiers ({models})."


def build_parser() -> argparse.ArgumentParser:
    """The ``sknn-mnist`` argument parser: one subparser per entry of :data:`COMMANDS`
    (``args.command`` names it, ``args.func`` is its ``run``; ``parser.commands`` maps the
    names to the subparsers)."""
    parser = Parser(prog="sknn-mnist", description=_description())
    parser.add_argument("--version", action="version", version=f"sknn_mnist {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    commands: dict[str, argparse.ArgumentParser] = {}
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.HELP, description=command.DESCRIPTION)
        command.setup(p)
        p.set_defaults(func=command.run)
        commands[name] = p
    parser.commands = commands  # type: ignore[attr-defined]
    return parser


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, but an unknown argument of a command is that command's error:
    it points to ``sknn-mnist COMMAND --help`` and names the closest option."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        owner = parser.commands.get(args.command, parser)  # type: ignore[attr-defined]
        owner.error(unrecognized_arguments(owner, extras))
    return args


def _ignore_unraisable(unraisable: object) -> None:
    """``sys.unraisablehook`` after Ctrl-C: the run was stopped on purpose."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on a user error (:class:`CLIError`, one line on stderr), 130 when
        interrupted (Ctrl-C; nothing half-trained is saved).
    """
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"sknn-mnist {args.command}: error: {first_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sknn-mnist {args.command}: interrupted", file=sys.stderr)
        # What a stopped run leaves behind is torn down as the interpreter exits: a Dask
        # client that joblib still holds is collected after its event loop closed, and
        # Python would print "Exception ignored in ..." with a traceback. The one line
        # above is the whole report of an interruption.
        sys.unraisablehook = _ignore_unraisable
        return 130
    except BrokenPipeError:
        # The reader went away (`sknn-mnist evaluate ... | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
