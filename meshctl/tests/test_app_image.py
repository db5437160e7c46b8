"""The app image carries the meshctl modules its apps import (apps/Dockerfile copies them one by one):
a module an app imports and the image lacks fails only when the image starts (CI, 2026-12-04: the
frontend's mesh page imported meshctl.splits, and the frontend container never became healthy)."""

import ast
import re

from meshctl.tests.conftest import REPO

APP_SOURCES = ("apps", "frontend/frontend")


def copied() -> set[str]:
    """The meshctl modules apps/Dockerfile copies into the image."""
    text = (REPO / "apps" / "Dockerfile").read_text().replace("\\\n", " ")
    line = next(l for l in text.splitlines() if l.startswith("COPY meshctl/"))
    return {name for name in re.findall(r"meshctl/(\w+)\.py", line)}


def imported(path, top_level: bool = False) -> set[str]:
    """The meshctl modules a Python file imports (``from meshctl import x``, ``import meshctl.x``…);
    with ``top_level``, only those it imports when it is imported (not inside a function: the image's
    entry point imports what the sidecar image's commands need only when one runs)."""
    found = set()
    tree = ast.parse(path.read_text())
    for node in (tree.body if top_level else ast.walk(tree)):
        if isinstance(node, ast.ImportFrom) and node.module == "meshctl":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("meshctl."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("meshctl.")}
    return found


def closure(modules: set[str]) -> set[str]:
    """``modules`` and every meshctl module they import, and so on."""
    seen, todo = set(), set(modules)
    while todo:
        name = todo.pop()
        seen.add(name)
        path = REPO / "meshctl" / f"{name}.py"
        if path.exists():
            todo |= imported(path, top_level=True) - seen
    return seen


def test_every_meshctl_module_the_apps_import_is_in_the_app_image():
    used = set()
    for folder in APP_SOURCES:
        for path in (REPO / folder).rglob("*.py"):
            if not {"tests", "testsupport", ".venv"} & set(path.parts):  # what the tests use stays out
                used |= imported(path)
    needed = closure(used | {"container"})  # the image's entry point
    assert needed - copied() == set(), f"apps/Dockerfile must copy meshctl/{sorted(needed - copied())}.py"
