"""The package's shape: data flows one way between stage sub-packages, and no function is too complex to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "simulator"
#: stage order (docs/DESIGN.md): a module may import its own stage and earlier ones, never a later one
STAGES = ["errors", "config", "load", "units", "travel", "optimise", "plan", "evaluate", "runfolder", "render"]
#: top-level orchestration above every stage (modules, and the ensemble and app packages)
TOP = {"__init__", "app", "cli", "compare", "ensemble", "executor", "sweep", "workflow"}
MAX_COMPLEXITY = 25


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)


def _dotted(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _rank(dotted: str) -> int:
    parts = dotted.split(".")
    if len(parts) == 1:
        return len(STAGES)
    head = parts[1]
    if head in TOP:
        return len(STAGES)
    assert head in STAGES, f"{dotted}: '{head}' is neither a stage sub-package nor a top-level module; add it to STAGES"
    return STAGES.index(head)


def _imports(path: Path) -> list[tuple[int, str]]:
    dotted = _dotted(path)
    package = dotted if path.name == "__init__.py" else dotted.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
            out += [(node.lineno, t) for t in names if t.startswith("simulator")]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("simulator")]
    return out


def test_stage_table_is_complete():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages <= set(STAGES) | TOP, subpackages - set(STAGES) - TOP
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top <= TOP | {"errors"}, top - TOP - {"errors"}


def test_data_flows_one_way():
    """load → units → travel → optimise → plan → evaluate → runfolder → render; no stage imports a later one."""
    backwards = []
    for path in _modules():
        here = _dotted(path)
        for line, target in _imports(path):
            if target != "simulator" and _rank(target) > _rank(here):
                backwards.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not backwards, "imports against the data flow:\n" + "\n".join(backwards)


def test_no_function_is_too_complex():
    radon = pytest.importorskip("radon.complexity")
    offenders = []
    for path in _modules():
        for block in radon.cc_visit(path.read_text(encoding="utf-8")):
            if block.complexity > MAX_COMPLEXITY:
                where = f"{path.relative_to(PACKAGE.parent)}:{block.lineno}"
                offenders.append(f"{where} {block.fullname} {block.complexity}")
    assert not offenders, f"cyclomatic complexity above {MAX_COMPLEXITY}:\n" + "\n".join(offenders)


def test_the_layering_check_can_fail(tmp_path, monkeypatch):
    """A module of an early stage that imports a later one is reported."""
    pkg = tmp_path / "simulator"
    (pkg / "load").mkdir(parents=True)
    (pkg / "render").mkdir()
    for p in (pkg / "__init__.py", pkg / "load" / "__init__.py", pkg / "render" / "__init__.py"):
        p.write_text("")
    (pkg / "load" / "bad.py").write_text("from ..render import maps\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    with pytest.raises(AssertionError, match="load/bad.py:1 imports simulator.render"):
        test_data_flows_one_way()
