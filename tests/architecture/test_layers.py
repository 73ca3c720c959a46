"""Architecture rules, checked on the source's import statements (AST, nothing is imported).

- Only the tracking edge imports MLflow, so a run without tracking never loads it.
- Features may import modeling (the BG/NBD model), never the other way round.
- The pure core (contract, timeline, features, labels, modeling, evaluation, segments, datasets,
  keys, model_types, customer_sample; and the shared synthetic-table factory, testing) imports none of the edges:
  file I/O, jobs, the CLI, the API facade or tracking.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "predictor"
CORE = (
    "contract",
    "timeline",
    "features",
    "labels",
    "modeling",
    "evaluation",
    "segments",
    "datasets",
    "keys",
    "model_types",
    "testing",
    "customer_sample",
)
EDGES = ("io", "jobs", "cli", "api", "tracking", "training")
MLFLOW_HOMES = ("tracking", "pyfunc_model")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_only_the_tracking_edge_imports_mlflow(path: Path) -> None:
    if _top(_module_name(path)) in MLFLOW_HOMES:
        return
    offenders = {m for m in _imports(path) if _top(m) == "mlflow"}
    assert not offenders, f"{_module_name(path)} imports {sorted(offenders)}"


@pytest.mark.parametrize(
    "path", [p for p in SOURCES if _top(_module_name(p)) in CORE], ids=lambda p: _module_name(p)
)
def test_the_pure_core_imports_no_edge(path: Path) -> None:
    edges = {m for m in _imports(path) if m.startswith("predictor.") and m.split(".")[1] in EDGES}
    assert not edges, f"{_module_name(path)} (core) imports edge modules {sorted(edges)}"


def test_the_rules_see_the_package() -> None:
    names = {_top(_module_name(p)) for p in SOURCES}
    assert {"tracking", "features", "modeling", "cli"} <= names


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if _top(_module_name(p)) == "modeling"],
    ids=lambda p: _module_name(p),
)
def test_modeling_does_not_import_features(path: Path) -> None:
    """Features may use models (BG/NBD); models never reach back into the feature families."""
    back = {m for m in _imports(path) if m.startswith("predictor.features")}
    assert not back, f"{_module_name(path)} imports {sorted(back)}"
