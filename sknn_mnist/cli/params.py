"""Parameter names and values checked before the training stack is imported.

``sknn-mnist train --model mlp max_iter=-1`` used to import torch, skorch and scikit-learn
(seconds) only to be told that ``max_iter`` must be at least 1. The classifiers' parameter
names and their scikit-learn constraints (``_parameter_constraints``) are written, once,
into ``param_table.json`` next to this module, in a form that needs neither library:
:func:`check_params` reads it and refuses an unknown name or a value that no constraint
admits with the very message the estimator's own validation gives.

The table is derived from the registry of model kinds (:data:`sknn_mnist.registry.MODEL_SPECS`)
by :func:`build_table`; ``python scripts/write_param_table.py`` writes it again after a model's
parameters change, and a test fails while it is out of date. What the table cannot express
(a constraint kind it does not know, a model registered at run time, the network checks
that need torch) is left to the full validation after the imports: the early check only
refuses what the full one refuses too.
"""

from __future__ import annotations

import copy
import json
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .common import CLIError

__all__ = ["TABLE_PATH", "build_table", "check_grid", "check_params", "dump_table", "load_table"]

#: Where the table lives (package data).
TABLE_PATH = Path(__file__).with_name("param_table.json")


def _is_real_not_int(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)


#: The types a rule may name; the values a command line gives are Python literals.
_TYPES: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int),
    "float": lambda v: isinstance(v, float),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "tuple": lambda v: isinstance(v, tuple),
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
    "Integral": lambda v: isinstance(v, numbers.Integral),
    "Real": lambda v: isinstance(v, numbers.Real),
    "RealNotInt": _is_real_not_int,
}


def _of_type(value: Any, name: str) -> bool:
    return _TYPES[name](value)


def _in_interval(value: Any, left: float | None, right: float | None, closed: str) -> bool:
    """scikit-learn's ``Interval.__contains__``."""
    if not isinstance(value, numbers.Integral) and math.isnan(value):
        return False
    low = -math.inf if left is None else left
    high = math.inf if right is None else right
    if value < low or (value == low and closed not in ("left", "both")):
        return False
    return not (value > high or (value == high and closed not in ("right", "both")))


def _is_array_like(value: Any) -> bool:
    # scikit-learn: has __len__ (or shape, or __array__) and is not a numpy scalar; of
    # the literals, the containers. str and bytes are scalars.
    return isinstance(value, tuple | list | dict | set)


#: One checker per rule kind: ``(value, *arguments) -> satisfied``.
_RULES: dict[str, Callable[..., bool]] = {
    "none": lambda v: v is None,
    "never": lambda v: False,
    "instance": _of_type,
    "interval": lambda v, t, left, right, closed: (_of_type(v, t)
                                                   and _in_interval(v, left, right, closed)),
    "options": lambda v, t, options: _of_type(v, t) and v in options,
    "array-like": _is_array_like,
    "methods": lambda v, methods: all(callable(getattr(v, m, None)) for m in methods),
    "iterable": lambda v: isinstance(v, Iterable) and not isinstance(v, str),
}


def _satisfies(rule: list[Any], value: Any) -> bool:
    check = _RULES.get(rule[0])
    # A rule kind this version does not know: the full validation decides.
    return True if check is None else check(value, *rule[1:])


@cache
def load_table(path: Path = TABLE_PATH) -> dict[str, Any]:
    """The table: per model name, its classifier's class name and parameters (``{}``
    when the file is missing or unreadable: every check then waits for the imports)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _short(key: str) -> str | None:
    """The classifier's parameter that pipeline key ``key`` sets (``C``, ``clf__C``), or
    None for another step's (``scale__pixel_max``), which the pipeline checks."""
    if key.startswith("clf__"):
        return key.removeprefix("clf__")
    return None if "__" in key else key


def _value_error(entry: Mapping[str, Any], class_name: str, name: str,
                 value: Any) -> str | None:
    """The estimator's message for ``name=value``, or None when some rule admits it or
    the table cannot tell."""
    rules = entry.get("rules")
    if rules is None or any(_satisfies(rule, value) for rule in rules):
        return None
    return (f"The {name!r} parameter of {class_name} must be {entry['expected']}. "
            f"Got {value!r} instead.")


def _model_entry(model: str, table: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return (load_table() if table is None else table).get(model)


def _check_names(model: Mapping[str, Any], keys: Iterable[str]) -> None:
    params = model["params"]
    for key in keys:
        name = _short(key)
        if name is not None and name not in params:
            raise CLIError(f"unknown parameter {key!r} for {model['class']}; valid names: "
                           f"{', '.join(sorted(params))}")


def check_params(model: str, params: Mapping[str, Any], *,
                 table: Mapping[str, Any] | None = None) -> None:
    """Refuse an unknown parameter name or a value the constraints refuse, before any
    heavy import.

    Parameters
    ----------
    model : str
        A model name (``mlp``); a name the table does not hold is not checked here.
    params : mapping
        ``name=value`` items of the command line (bare or ``clf__`` names).
    table : mapping, optional
        Default :func:`load_table`.

    Raises
    ------
    CLIError
        The message the estimator's own validation gives: ``unknown parameter 'x' for
        SVC; valid names: ...`` or ``The 'max_iter' parameter of MLPDigitClassifier must
        be an int in the range [1, inf). Got -1 instead.``
    """
    entry = _model_entry(model, table)
    if entry is None:
        return
    _check_names(entry, params)
    # scikit-learn validates in the order of get_params: sorted names.
    for key, value in sorted(params.items(), key=lambda item: str(_short(item[0]))):
        name = _short(key)
        if name is None:
            continue
        message = _value_error(entry["params"][name], entry["class"], name, value)
        if message is not None:
            raise CLIError(message)


def check_grid(model: str, grid: Mapping[str, list[Any]], *,
               table: Mapping[str, Any] | None = None) -> None:
    """:func:`check_params` for a ``--param-grid``: its names, then each value on its own
    (the message says which, as the check after the imports does)."""
    entry = _model_entry(model, table)
    if entry is None:
        return
    _check_names(entry, grid)
    for key, values in grid.items():
        name = _short(key)
        if name is None:
            continue
        for value in values:
            message = _value_error(entry["params"][name], entry["class"], name, value)
            if message is not None:
                raise CLIError(f"grid value {name}={value!r}: {message}")


# -- building the table (imports scikit-learn and the classifiers) ----------------------------
#: The types of the values ``parse_params`` and a JSON grid give.
_LITERAL_TYPES = (str, bytes, int, float, complex, bool, tuple, list, dict, set, type(None))


def _type_name(t: type) -> str | None:
    from sklearn.utils._param_validation import RealNotInt

    named = {int: "int", float: "float", str: "str", bool: "bool", tuple: "tuple",
             list: "list", dict: "dict", numbers.Integral: "Integral",
             numbers.Real: "Real", RealNotInt: "RealNotInt"}
    return named.get(t)


def _instance_rule(t: type) -> list[Any] | None:
    name = _type_name(t)
    if name is not None:
        return ["instance", name]
    # A type no literal is an instance of (numpy's bool_, RandomState): never satisfied
    # by a command-line value. Others (object, an abstract collection) are not known.
    return None if any(issubclass(lt, t) for lt in _LITERAL_TYPES) else ["never"]


def _json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _rules(constraint: Any) -> list[list[Any]] | None:
    """The rules of one of scikit-learn's constraint objects, or None if not expressible."""
    from sklearn.utils import _param_validation as pv

    if isinstance(constraint, pv._RandomStates | pv._Booleans | pv._VerboseHelper):
        parts = [_rules(c) for c in constraint._constraints]
        return None if None in parts else [r for part in parts for r in part]  # type: ignore[union-attr]
    if isinstance(constraint, pv._NoneConstraint):
        return [["none"]]
    if isinstance(constraint, pv.Interval):
        name = _type_name(constraint.type)
        return None if name is None else [["interval", name, constraint.left,
                                           constraint.right, constraint.closed]]
    if isinstance(constraint, pv.Options):
        name = _type_name(constraint.type)
        if name is None or not all(_json_scalar(o) for o in constraint.options):
            return None
        return [["options", name, sorted(constraint.options, key=repr)]]
    if isinstance(constraint, pv._InstancesOf):
        rule = _instance_rule(constraint.type)
        return None if rule is None else [rule]
    simple = {pv._ArrayLikes: "array-like", pv._Callables: "never",
              pv._SparseMatrices: "never", pv._IterablesNotString: "iterable"}
    for kind, rule_name in simple.items():
        if isinstance(constraint, kind):
            return [[rule_name]]
    if isinstance(constraint, pv.HasMethods):
        return [["methods", list(constraint.methods)]]
    return None  # cv objects, missing-value markers, NaN: left to the full validation


def _describe(constraint: Any) -> str:
    """``str(constraint)``, with a set of options in sorted order: a set of strings
    iterates in a different order in every process (hash randomisation), and the table
    must not change from one build to the next."""
    from sklearn.utils._param_validation import Options

    if isinstance(constraint, Options):
        constraint = copy.copy(constraint)
        constraint.options = sorted(constraint.options, key=repr)
    return str(constraint)


def _param_entry(constraints: Any) -> dict[str, Any]:
    """One parameter's rules and expected-value text (as the estimator's message says it)."""
    from sklearn.utils._param_validation import make_constraint

    if constraints == "no_validation":
        return {"rules": None}
    made = [make_constraint(c) for c in constraints]
    parts = [_rules(c) for c in made]
    visible = [_describe(c) for c in made if not c.hidden]
    expected = visible[0] if len(visible) == 1 else (
        f"{', '.join(visible[:-1])} or {visible[-1]}")
    rules = None if None in parts else [r for part in parts for r in part]  # type: ignore[union-attr]
    return {"rules": rules, "expected": expected}


def _model_table(cls: type) -> dict[str, Any]:
    constraints = getattr(cls, "_parameter_constraints", {})
    params = {}
    for name in cls._get_param_names():  # type: ignore[attr-defined]
        # A parameter without constraints is not validated by scikit-learn either.
        params[name] = _param_entry(constraints[name]) if name in constraints else {
            "rules": None}
    return {"class": cls.__name__, "params": params}


def build_table() -> dict[str, Any]:
    """The table of every compared model of the registry with a declared class."""
    from ..registry import MODEL_SPECS

    return {name: _model_table(spec.estimator_class()) for name, spec in MODEL_SPECS.items()
            if spec.compared and spec.estimator is not None}


def dump_table(table: Mapping[str, Any]) -> str:
    """The file's text: sorted JSON, one line per parameter (stable, readable diffs)."""
    models = []
    for model, entry in sorted(table.items()):
        params = ",\n".join(f"   {json.dumps(name)}: {json.dumps(rules, sort_keys=True)}"
                            for name, rules in sorted(entry["params"].items()))
        models.append(f" {json.dumps(model)}: {{\n  \"class\": {json.dumps(entry['class'])},\n"
                      f"  \"params\": {{\n{params}\n  }}\n }}")
    return "{\n" + ",\n".join(models) + "\n}\n"
