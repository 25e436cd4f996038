"""The package's layout: no import cycles, and the old public import paths still work."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sknn_mnist"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_imports(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skipped


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, function-local imports included (those
    for type checkers only are not imports at run time)."""
    files = {_module_name(f): f for f in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_imports(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    child = f"{target}.{alias.name}"
                    deps.add(child if child in files else target)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    graph = _import_graph()
    assert "sknn_mnist.core.classifier" in graph  # the graph covers the subpackages
    assert _cycles(graph) == []


@pytest.mark.parametrize("old, new", [
    ("sknn_mnist.estimator", "sknn_mnist.networks.mlp.classifier"),
    ("sknn_mnist.cnn", "sknn_mnist.networks.cnn.classifier"),
    ("sknn_mnist.persistence", "sknn_mnist.io.persistence"),
    ("sknn_mnist.onnx_export", "sknn_mnist.io.onnx"),
    ("sknn_mnist.compare", "sknn_mnist.study.compare"),
    ("sknn_mnist.models", "sknn_mnist.study.models"),
    ("sknn_mnist.reports", "sknn_mnist.study.reports"),
    ("sknn_mnist.plots", "sknn_mnist.study.plots"),
    ("sknn_mnist.distributed", "sknn_mnist.study.distributed"),
])
def test_old_public_module_paths_are_the_moved_modules(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_the_package_exports_come_from_the_registry():
    import sknn_mnist
    from sknn_mnist.registry import MODEL_SPECS

    exported = {spec.class_name for spec in MODEL_SPECS.values() if spec.export}
    assert exported == {"MLPDigitClassifier", "CNNDigitClassifier", "TorchMLPRegressor"}
    for name in exported:
        assert getattr(sknn_mnist, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'SVC'"):
        sknn_mnist.SVC  # noqa: B018 - registered, but not exported
