"""List the functions in operator/statecast longer than the limit (``make lint`` runs it).

A function's length is its lines from ``def`` to its last line, its docstring left out.
The limit and the allow-list (tables and generated code, each with the reason) are in
``pyproject.toml`` under ``[tool.statecast.function-length]``. Exits 1 when a function
not allowed is too long, or an allowed one is no longer too long (so the list stays true).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    length = (node.end_lineno or node.lineno) - start + 1
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        length -= (first.end_lineno or first.lineno) - first.lineno + 1
    return length


def lengths(package: Path) -> dict[str, int]:
    """``module.path:qualified.name`` -> length, for every function under ``package``."""
    found: dict[str, int] = {}
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        tree = ast.parse(path.read_text(), str(path))

        def visit(node: ast.AST, prefix: str, module: str = module) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    name = f"{prefix}{child.name}"
                    found[f"{module}:{name}"] = _length(child)
                    visit(child, f"{name}.")
                elif isinstance(child, ast.ClassDef):
                    visit(child, f"{prefix}{child.name}.")

        visit(tree, "")
    return found


def main() -> int:
    """Report functions over the limit; 0 when every one is allowed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    settings = config["tool"]["statecast"]["function-length"]
    limit: int = settings["max-lines"]
    allowed: dict[str, str] = settings.get("allow", {})
    found = lengths(ROOT / "operator" / "statecast")
    long = {name: n for name, n in found.items() if n > limit}
    failed = False
    for name, n in sorted(long.items()):
        if name not in allowed:
            print(f"{name}: {n} lines (limit {limit})")
            failed = True
    for name in sorted(allowed):
        if long.get(name) is None:
            print(f"{name}: allowed over {limit} lines but is not (any more): drop it")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
