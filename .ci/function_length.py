"""House rule: no function of the product (search/, models/) runs over 60 lines, signature and
docstring included; split it where a name would help the reader. Run by `make check`."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIMIT = 60


def long_functions(root: Path) -> list[str]:
    found = []
    for path in sorted(p for package in ("search", "models") for p in (root / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LIMIT:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {node.name} is {lines} lines (> {LIMIT})")
    return found


if __name__ == "__main__":
    problems = long_functions(Path(__file__).resolve().parents[1])
    print("\n".join(problems) or f"every function is at most {LIMIT} lines")
    sys.exit(1 if problems else 0)
