"""The layering rules of docs/architecture.md, checked on the source tree."""

import ast
import re

import pytest

from helpers import ROOT

PACKAGE = ROOT / "hpcx"
LIBRARY = ("physics", "bse", "materials", "formats")


def _modules(*parts):
    base = PACKAGE.joinpath(*parts)
    return sorted(base.rglob("*.py")) if base.is_dir() else [base]


def _tree(path):
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")


def test_only_parallel_imports_mpi4py():
    offenders = [str(p.relative_to(ROOT)) for p in _modules() if p.name != "parallel.py" or p.parent != PACKAGE
                 if any(name.split(".")[0] == "mpi4py" for name in _imports(_tree(p)))]
    assert not offenders, f"mpi4py imported outside hpcx/parallel.py: {offenders}"


def test_no_workflow_imports_another():
    workflows = [p.name for p in (PACKAGE / "workflows").iterdir() if p.is_dir() and not p.name.startswith("_")]
    offenders = []
    for name in workflows:
        for path in _modules("workflows", name):
            for imported in _imports(_tree(path)):
                other = re.match(r"(?:hpcx\.workflows\.|\.\.)(\w+)", imported)
                if other and other.group(1) in workflows and other.group(1) != name:
                    offenders.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not offenders, offenders


@pytest.mark.parametrize("part", LIBRARY)
def test_library_functions_take_no_config(part):
    offenders = []
    for path in _modules(part):
        tree = _tree(path)
        if any(name in ("hpcx.config", "..config") or name.endswith("workflows") for name in _imports(tree)):
            offenders.append(f"{path.relative_to(ROOT)} imports the config layer")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in node.args.args + node.args.kwonlyargs]
                if {"cfg", "config"} & set(names):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}({', '.join(names)})")
    assert not offenders, offenders


def _body_length(node):
    """Lines of a function without its docstring."""
    length = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
            and isinstance(first.value.value, str):
        length -= first.end_lineno - first.lineno + 1
    return length


def test_no_function_longer_than_100_lines():
    offenders = []
    for path in _modules():
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _body_length(node) > 100:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({_body_length(node)} lines)")
    assert not offenders, offenders
