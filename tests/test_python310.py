"""The package keeps running on Python 3.10 (the Jetson's, JetPack 6).

ruff's ``target-version = "py310"`` keeps the syntax to 3.10; this test keeps out the
standard-library names that only 3.11 has (checked on the source, so it fails here on
3.11+ as it would on a Jetson). The package itself was also imported and a subset of the
tests run under a real 3.10 (see the report of issue 14).
"""

from __future__ import annotations

import ast
from pathlib import Path

from appliance import PROJECT_ROOT

#: module → names it gained in 3.11 (those a program is likely to use).
NEW_IN_311 = {
    "datetime": {"UTC"},
    "typing": {"Self", "LiteralString", "Never", "assert_never", "reveal_type",
               "NotRequired", "Required", "TypeVarTuple", "Unpack", "dataclass_transform"},
    "enum": {"StrEnum", "ReprEnum", "verify", "member", "nonmember", "global_enum"},
    "hashlib": {"file_digest"},
    "contextlib": {"chdir"},
    "asyncio": {"TaskGroup", "timeout", "Runner"},
    "logging": {"getLevelNamesMapping"},
    "math": {"cbrt", "exp2"},
    "operator": {"call"},
}
MODULES_NEW_IN_311 = {"tomllib", "wsgiref.types"}


def _in_try_with_fallback(tree: ast.Module, node: ast.AST) -> bool:
    """Whether ``node`` sits in a ``try`` whose handler catches ImportError / its subclass."""
    for parent in ast.walk(tree):
        if isinstance(parent, ast.Try) and any(node is n for s in parent.body
                                               for n in ast.walk(s)):
            names = {ast.unparse(h.type) for h in parent.handlers if h.type is not None}
            if names & {"ImportError", "ModuleNotFoundError"}:
                return True
    return False


def uses_of_311_only_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    aliases: dict[str, str] = {}  # local name → module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name] = alias.name
                if alias.name in MODULES_NEW_IN_311 and not _in_try_with_fallback(tree, node):
                    found.append(f"{path.name}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module in MODULES_NEW_IN_311 and not _in_try_with_fallback(tree, node):
                found.append(f"{path.name}:{node.lineno}: from {node.module} import ...")
            for alias in node.names:
                if alias.name in NEW_IN_311.get(node.module, ()):
                    found.append(f"{path.name}:{node.lineno}: from {node.module} import "
                                 f"{alias.name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = aliases.get(node.value.id)
            if module and node.attr in NEW_IN_311.get(module, ()):
                found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_package_uses_nothing_that_python_310_lacks() -> None:
    found = [hit for path in sorted((PROJECT_ROOT / "appliance").rglob("*.py"))
             for hit in uses_of_311_only_names(path)]
    assert found == [], "3.11-only names (the Jetson has 3.10):\n" + "\n".join(found)


def test_the_check_catches_them(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import datetime as _dt\nimport tomllib\nfrom typing import Self\n"
                   "x = _dt.datetime.now(_dt.UTC)\n")
    assert uses_of_311_only_names(bad) == ["bad.py:2: import tomllib",
                                           "bad.py:3: from typing import Self",
                                           "bad.py:4: _dt.UTC"]
    good = tmp_path / "good.py"
    good.write_text("try:\n    import tomllib\nexcept ModuleNotFoundError:\n"
                    "    import tomli as tomllib\n")
    assert uses_of_311_only_names(good) == []
