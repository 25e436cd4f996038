"""Consistency checks of a loaded model's fitted state, before native code indexes it.

skops rebuilds only trusted types, but it cannot know which values those types trust: a
decision tree's node table, an SVC's support vectors and coefficients are indexed by C code
without bounds checks (scikit-learn's forests call their trees with ``check_input=False``,
libsvm copies as many coefficients as the class count says). A crafted file with an
allow-listed type can therefore read memory it does not own, crash the interpreter, or loop
forever. :func:`check_model` checks, for every estimator of a loaded model:

- every estimator: its parameters pass its own validation (``_validate_params``), and
  ``n_features_in_``, when set, is a positive integer;
- a :class:`~sklearn.pipeline.Pipeline`: its steps are ``(name, estimator)`` pairs, and a
  step after a one-to-one scaler expects as many features as the scaler;
- the scalers: their per-feature arrays have one entry per feature, a finite divisor;
- a decision tree (standalone or in a random forest): the node table is as long as the tree
  says, every internal node's children come after it (scikit-learn builds them so: the table
  is acyclic and prediction ends) and lie inside the table, leaves have none, every split
  feature is below the number of features the forest checks its input against, and the
  class counts match the forest's classes;
- an :class:`~sklearn.svm.SVC`: a dense C-SVC with a named kernel (``'precomputed'`` and
  callables are refused: their support indices point into the caller's input) whose
  support vectors have one column per feature, whose per-class support counts add up to
  them, whose dual coefficients, intercepts and Platt parameters have the shapes libsvm
  reads, and whose support indices lie within the training set;
- the torch estimators (classifiers, regressors): a fitted one has its network, an output
  activation of its kind, and (a classifier) classes that match its outputs;
- a seed ensemble: ``n_estimators`` fitted members, each checked as a model of its own,
  with the ensemble's number of features and classes.

Violations raise :class:`InconsistentModelError` (a :class:`ValueError`) saying what is
wrong; :mod:`sknn_mnist.io.persistence` adds the file's name.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["InconsistentModelError", "check_model"]

#: Most parallel jobs a loaded estimator may ask for (its ``n_jobs``): beyond this a forged
#: value would start a thread per tree.
MAX_N_JOBS = 1024
_SVC_KERNELS = ("linear", "poly", "rbf", "sigmoid")
_LEAF = -1


class InconsistentModelError(ValueError):
    """A loaded model's fitted attributes contradict each other or its input size."""


def _fail(what: str) -> InconsistentModelError:
    return InconsistentModelError(what)


def _name(obj: Any) -> str:
    return type(obj).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _array(obj: Any, attr: str, *, ndim: int, dtype: Any | None = None,
           contiguous: bool = False) -> np.ndarray:
    value = getattr(obj, attr, None)
    if not isinstance(value, np.ndarray) or value.ndim != ndim:
        raise _fail(f"{_name(obj)}.{attr} is not a {ndim}-d array")
    if dtype is not None and value.dtype != np.dtype(dtype):
        raise _fail(f"{_name(obj)}.{attr} has dtype {value.dtype}, not {np.dtype(dtype)}")
    if contiguous and not value.flags.c_contiguous:
        raise _fail(f"{_name(obj)}.{attr} is not C-contiguous")
    return value


def _n_features(obj: Any, *, required: bool = True) -> int | None:
    n = getattr(obj, "n_features_in_", None)
    if n is None and not required:
        return None
    if not _is_int(n) or n < 1:
        raise _fail(f"{_name(obj)}.n_features_in_ is {n!r}, not a positive integer")
    return int(n)


def _is_fitted(obj: Any) -> bool:
    return any(k.endswith("_") and not k.startswith("__") for k in vars(obj))


# -- every estimator ---------------------------------------------------------------------------
def _check_estimator(est: Any) -> None:
    validate = getattr(est, "_validate_params", None)
    if callable(validate) and hasattr(est, "_parameter_constraints"):
        try:
            validate()
        except (ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise _fail(f"invalid parameters of {_name(est)}: {first}") from None
    n_jobs = getattr(est, "n_jobs", None)
    if n_jobs is not None and (not _is_int(n_jobs) or abs(n_jobs) > MAX_N_JOBS):
        raise _fail(f"{_name(est)}.n_jobs is {n_jobs!r}")
    if _is_fitted(est):
        _n_features(est, required=False)


# -- pipelines and scalers ---------------------------------------------------------------------
def _check_pipeline(pipe: Any) -> None:
    from sklearn.base import OneToOneFeatureMixin

    steps = pipe.steps
    if not isinstance(steps, list) or not steps or not all(
            isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], str) for s in steps):
        raise _fail("the pipeline's steps are not a list of (name, estimator) pairs")
    width = None
    for name, step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if isinstance(step, str) or not hasattr(step, "get_params"):
            raise _fail(f"pipeline step {name!r} is not an estimator")
        n = _n_features(step, required=False)
        if width is not None and n is not None and n != width:
            raise _fail(f"pipeline step {name!r} expects {n} features, but the step before "
                        f"it passes {width}")
        width = n if isinstance(step, OneToOneFeatureMixin) else None


def _check_per_feature(est: Any, attrs: tuple[str, ...]) -> None:
    if not _is_fitted(est):
        return
    n = _n_features(est)
    for attr in attrs:
        value = getattr(est, attr, None)
        if value is None:
            continue
        if not isinstance(value, np.ndarray) or value.shape != (n,):
            shape = getattr(value, "shape", type(value).__name__)
            raise _fail(f"{_name(est)}.{attr} has shape {shape}, not ({n},) for its "
                        f"{n} features")


def _check_min_max_scaler(est: Any) -> None:
    _check_per_feature(est, ("min_", "scale_", "data_min_", "data_max_", "data_range_"))


def _check_standard_scaler(est: Any) -> None:
    _check_per_feature(est, ("mean_", "var_", "scale_"))


def _check_pixel_scaler(est: Any) -> None:
    if not _is_fitted(est):
        return
    _n_features(est)
    scale = getattr(est, "scale_", None)
    if not isinstance(scale, numbers.Real) or not np.isfinite(scale) or scale <= 0:
        raise _fail(f"PixelScaler.scale_ is {scale!r}, not a positive number")


# -- trees and forests -------------------------------------------------------------------------
def _classes_count(est: Any) -> list[int]:
    """Classes per output of a fitted tree or forest, checked against ``classes_``."""
    n_outputs = getattr(est, "n_outputs_", None)
    if not _is_int(n_outputs) or n_outputs < 1:
        raise _fail(f"{_name(est)}.n_outputs_ is {n_outputs!r}")
    classes = est.classes_ if n_outputs > 1 else [getattr(est, "classes_", None)]
    counts = est.n_classes_ if n_outputs > 1 else [getattr(est, "n_classes_", None)]
    if not (isinstance(classes, list | tuple) and len(classes) == n_outputs
            and len(np.atleast_1d(counts)) == n_outputs):
        raise _fail(f"{_name(est)} has {n_outputs} outputs but not as many class lists")
    for k, (labels, count) in enumerate(zip(classes, np.atleast_1d(counts), strict=True)):
        if not isinstance(labels, np.ndarray) or labels.ndim != 1 or len(labels) < 1:
            raise _fail(f"{_name(est)}.classes_ of output {k} is not a 1-d array")
        if not _is_int(count) or count != len(labels):
            raise _fail(f"{_name(est)} says {count!r} classes for output {k} but lists "
                        f"{len(labels)}")
    return [len(labels) for labels in classes]


def check_tree(tree: Any, n_features: int, n_classes: list[int] | None = None) -> None:
    """Check a :class:`sklearn.tree._tree.Tree` against the input width it will be given.

    Only integer attributes are read until the table is known to be as long as the tree
    says: a longer ``node_count`` alone would make reading the table read past it.
    """
    count, capacity = tree.node_count, tree.capacity
    if not (1 <= count <= capacity):
        raise _fail(f"a decision tree claims {count} nodes but holds {capacity}")
    if tree.n_features != n_features:
        raise _fail(f"a decision tree splits {tree.n_features} features but its "
                    f"estimator takes {n_features}")
    if n_classes is not None and (tree.n_outputs != len(n_classes)
                                  or tree.max_n_classes < max(n_classes)
                                  or tree.value.shape[1:] != (len(n_classes),
                                                              tree.max_n_classes)):
        raise _fail("a decision tree's class counts do not match its estimator's classes")
    nodes = np.arange(count)
    left, right, feature = tree.children_left, tree.children_right, tree.feature
    leaf = left == _LEAF
    inner = ~leaf
    # Children after their parent: the table is acyclic, and every path ends at a leaf.
    ok_children = (np.all(right[leaf] == _LEAF)
                   and np.all((left[inner] > nodes[inner]) & (left[inner] < count))
                   and np.all((right[inner] > nodes[inner]) & (right[inner] < count)))
    if not ok_children:
        raise _fail("a decision tree's node table is inconsistent (a child outside the "
                    "table, or not after its parent)")
    if not np.all((feature[inner] >= 0) & (feature[inner] < n_features)):
        raise _fail(f"a decision tree's node table is inconsistent: it splits on a feature "
                    f"beyond the {n_features} its estimator takes")


def _check_decision_tree(est: Any, n_features: int | None = None,
                         n_classes: list[int] | None = None) -> None:
    from sklearn.tree._tree import Tree

    if not hasattr(est, "tree_"):
        return
    own = _n_features(est)
    if n_features is not None and own != n_features:
        raise _fail(f"a tree of the forest takes {own} features, the forest {n_features}")
    counts = _classes_count(est)
    if n_classes is not None and counts != n_classes:
        raise _fail("a tree of the forest has other classes than the forest")
    if not isinstance(est.tree_, Tree):
        raise _fail(f"{_name(est)}.tree_ is not a decision tree")
    check_tree(est.tree_, own, counts)


def _check_forest(est: Any) -> None:
    from sklearn.tree import DecisionTreeClassifier

    if not hasattr(est, "estimators_"):
        return
    n = _n_features(est)
    counts = _classes_count(est)
    trees = est.estimators_
    if not isinstance(trees, list) or not trees or not all(
            type(t) is DecisionTreeClassifier for t in trees):
        raise _fail(f"{_name(est)}.estimators_ is not a list of decision trees")
    for tree in trees:
        _check_estimator(tree)
        # The forest checks its input against its own n_features_in_ and then calls its
        # trees without checks: their tables are bound by the forest's width.
        _check_decision_tree(tree, n, counts)


# -- SVC -------------------------------------------------------------------------------------
def _check_svc(est: Any) -> None:
    if not hasattr(est, "support_vectors_"):
        return
    if getattr(est, "_impl", None) != type(est)._impl:
        raise _fail(f"{_name(est)} claims to be a {getattr(est, '_impl', None)!r} model")
    kernel = est.kernel
    if not isinstance(kernel, str) or kernel not in _SVC_KERNELS:
        raise _fail(f"{_name(est)} with kernel={kernel!r} is not loaded: only "
                    f"{', '.join(_SVC_KERNELS)} are checked")
    if getattr(est, "_sparse", None) is not False:
        raise _fail(f"{_name(est)} fitted on sparse data is not loaded (its tables cannot "
                    "be checked)")
    if getattr(est, "fit_status_", None) != 0:
        raise _fail(f"{_name(est)}.fit_status_ is not 0")
    n = _n_features(est)
    sv = _array(est, "support_vectors_", ndim=2, dtype=np.float64, contiguous=True)
    n_sv = sv.shape[0]
    shape_fit = getattr(est, "shape_fit_", None)
    if not (isinstance(shape_fit, tuple) and len(shape_fit) == 2
            and all(_is_int(v) and v >= 1 for v in shape_fit) and shape_fit[1] == n):
        raise _fail(f"{_name(est)}.shape_fit_ is {shape_fit!r}")
    if n_sv < 1 or sv.shape[1] != n:
        raise _fail(f"{_name(est)} has support vectors of shape {sv.shape} for {n} features")
    support = _array(est, "support_", ndim=1, dtype=np.int32, contiguous=True)
    if len(support) != n_sv or support.min() < 0 or support.max() >= shape_fit[0]:
        raise _fail(f"{_name(est)}.support_ does not index its {n_sv} support vectors "
                    f"within the {shape_fit[0]} training rows")
    n_support = _array(est, "_n_support", ndim=1, dtype=np.int32, contiguous=True)
    n_class = len(n_support)
    classes = getattr(est, "classes_", None)
    if n_class < 2 or not isinstance(classes, np.ndarray) or classes.shape != (n_class,):
        raise _fail(f"{_name(est)} has support counts for {n_class} classes and classes_ "
                    f"of shape {getattr(classes, 'shape', None)}")
    if n_support.min() < 0 or int(n_support.sum(dtype=np.int64)) != n_sv:
        raise _fail(f"{_name(est)}'s support counts per class do not add up to its {n_sv} "
                    "support vectors")
    _check_svc_coefficients(est, n_class, n_sv)


def _check_svc_coefficients(est: Any, n_class: int, n_sv: int) -> None:
    pairs = n_class * (n_class - 1) // 2
    dual = _array(est, "_dual_coef_", ndim=2, dtype=np.float64, contiguous=True)
    if dual.shape != (n_class - 1, n_sv):
        raise _fail(f"{_name(est)}._dual_coef_ has shape {dual.shape}, not "
                    f"{(n_class - 1, n_sv)}")
    intercept = _array(est, "_intercept_", ndim=1, dtype=np.float64, contiguous=True)
    if intercept.shape != (pairs,):
        raise _fail(f"{_name(est)}._intercept_ has shape {intercept.shape}, not ({pairs},)")
    prob_a = _array(est, "_probA", ndim=1, dtype=np.float64, contiguous=True)
    prob_b = _array(est, "_probB", ndim=1, dtype=np.float64, contiguous=True)
    if prob_a.shape != prob_b.shape or len(prob_a) not in (0, pairs):
        raise _fail(f"{_name(est)}'s probability parameters have shapes {prob_a.shape} and "
                    f"{prob_b.shape}, not (0,) or ({pairs},)")
    gamma = getattr(est, "_gamma", None)
    if not isinstance(gamma, numbers.Real) or not np.isfinite(gamma):
        raise _fail(f"{_name(est)}._gamma is {gamma!r}")


# -- the torch estimators ----------------------------------------------------------------------
def _check_torch_estimator(est: Any) -> None:
    """A fitted torch classifier or regressor: its network, and outputs matching its head."""
    from ..core.heads import HEADS, REGRESSION_HEADS, ClassifierHead, head_of

    if not any(hasattr(est, a) for a in ("classes_", "n_outputs_", "trainer_")):
        return  # never fitted
    if not hasattr(est, "trainer_"):
        raise _fail(f"the fitted {_name(est)} has no network state")
    _n_features(est)
    n_outputs, activation = getattr(est, "n_outputs_", None), getattr(est, "out_activation_",
                                                                      None)
    classifier = hasattr(est, "classes_") or hasattr(type(est), "predict_proba")
    heads = HEADS if classifier else REGRESSION_HEADS
    if not _is_int(n_outputs) or n_outputs < 1 or activation not in {
            h.out_activation for h in heads.values()}:
        raise _fail(f"{_name(est)} has n_outputs_={n_outputs!r}, "
                    f"out_activation_={activation!r}")
    if not classifier:
        return
    classes = getattr(est, "classes_", None)
    if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) < 1:
        raise _fail(f"{_name(est)}.classes_ is not a 1-d array of classes")
    head = head_of(activation, n_outputs, len(classes))
    if (not isinstance(head, ClassifierHead) or head.n_outputs(len(classes)) != n_outputs
            or (head.name == "binary" and len(classes) != 2)):
        raise _fail(f"{_name(est)} has {n_outputs} outputs ({head.name}) but classes_ of "
                    f"shape {classes.shape}")


# -- the seed ensemble -------------------------------------------------------------------------
def _check_seed_ensemble(est: Any) -> None:
    """A fitted seed ensemble: ``n_estimators`` members, each checked as a model of its own
    (the walk skips them, as a forest's trees), with the ensemble's width and classes."""
    if not _is_fitted(est):
        return
    members = getattr(est, "estimators_", None)
    if not isinstance(members, list) or len(members) != est.n_estimators:
        raise _fail(f"{_name(est)}.estimators_ is not a list of n_estimators="
                    f"{est.n_estimators!r} members")
    n = _n_features(est)
    classes = getattr(est, "classes_", None)
    for i, member in enumerate(members):
        if not hasattr(member, "predict_proba") or not _is_fitted(member):
            raise _fail(f"member {i} of {_name(est)} is not a fitted classifier")
        check_model(member)
        if _n_features(member) != n or not np.array_equal(
                getattr(member, "classes_", None), classes):
            raise _fail(f"member {i} of {_name(est)} has other features or classes than "
                        "the ensemble")


# -- the walk ----------------------------------------------------------------------------------
def _checks() -> list[tuple[type, Callable[[Any], None]]]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    from ..core.estimator import TorchEstimatorBase
    from ..ensemble import SeedEnsembleClassifier
    from ..study.scaler import PixelScaler

    return [(Pipeline, _check_pipeline), (MinMaxScaler, _check_min_max_scaler),
            (StandardScaler, _check_standard_scaler), (PixelScaler, _check_pixel_scaler),
            (RandomForestClassifier, _check_forest),
            (DecisionTreeClassifier, _check_decision_tree), (SVC, _check_svc),
            (TorchEstimatorBase, _check_torch_estimator),
            (SeedEnsembleClassifier, _check_seed_ensemble)]


def _estimators(model: Any) -> Iterator[Any]:
    """The model and the estimators it holds (pipeline steps, meta-estimator parts)."""
    stack, seen = [model], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if hasattr(obj, "get_params") and hasattr(obj, "__dict__"):
            yield obj
            stack.extend(v for v in vars(obj).values()
                         if hasattr(v, "get_params") or isinstance(v, list | tuple))
        elif isinstance(obj, list | tuple):
            stack.extend(obj)


def check_model(model: Any) -> None:
    """Check every estimator of a loaded ``model``; see the module docstring.

    Trees in a forest are checked with the forest (against its input width), not alone.

    Raises
    ------
    InconsistentModelError
        What is inconsistent, in one line.
    """
    from sklearn.tree._tree import Tree

    checks = _checks()
    in_forests: set[int] = set()
    for est in _estimators(model):
        if id(est) in in_forests:
            continue
        _check_estimator(est)
        for cls, check in checks:
            if isinstance(est, cls):
                check(est)
                break
        in_forests.update(id(t) for t in getattr(est, "estimators_", []) or []
                          if not isinstance(t, list | tuple | np.ndarray))
        tree = getattr(est, "tree_", None)
        if isinstance(tree, Tree) and not isinstance(est, tuple(c for c, _ in checks)):
            # A tree-based estimator the caller trusted: its own width bounds its tree.
            check_tree(tree, _n_features(est))
