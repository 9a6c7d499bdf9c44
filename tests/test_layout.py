"""The layout shows the architecture: imports point one way, and tests import helpers, not each other.

The site (accounts, api, authdemo) never imports the tooling around it (harness, bench,
deploy); the harness never imports the benchmark; no module under tests/ imports a conftest.py
(fixtures reach tests by pytest, not by import) or another test module (shared helpers live in
modules made for importing, such as tests/support.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ("accounts", "api", "authdemo")
TOOLING = ("bench", "harness", "deploy")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Each absolute module `path` imports (`from x import y` counts as x and x.y), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def python_files(*folders: str) -> list[Path]:
    paths = (path for folder in folders for path in (ROOT / folder).rglob("*.py"))
    return sorted(path for path in paths if "migrations" not in path.parts)


def is_test_module(module: str) -> bool:
    """`tests.conftest`, `tests.x.conftest` or `tests.x.test_y`: modules no one may import."""
    parts = module.split(".")
    return parts[0] == "tests" and (parts[-1] == "conftest" or parts[-1].startswith("test_"))


def offences(folders: tuple[str, ...], forbidden) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files(*folders)
        for line, module in imported_modules(path)
        if forbidden(module)
    ]


def test_no_test_module_imports_a_conftest_or_another_test_module():
    assert offences(("tests",), is_test_module) == []


@pytest.mark.parametrize("folder", SITE)
def test_the_site_imports_no_tooling(folder):
    assert offences((folder,), lambda module: module.split(".")[0] in TOOLING) == []


def test_the_harness_imports_neither_the_benchmark_nor_the_deployment_nor_tests():
    assert offences(("harness",), lambda module: module.split(".")[0] in ("bench", "deploy", "tests")) == []


def test_the_checks_see_an_offence(tmp_path):
    """The walk finds both forms of import, so the checks above can fail."""
    sample = tmp_path / "sample.py"
    sample.write_text("import bench.run\nfrom tests.conftest import need\nfrom tests.e2e import test_spa\n")
    modules = [module for _, module in imported_modules(sample)]
    assert "bench.run" in modules
    assert is_test_module("tests.conftest")
    assert any(is_test_module(module) for module in modules if module.startswith("tests.e2e."))
    assert not is_test_module("tests.support")
