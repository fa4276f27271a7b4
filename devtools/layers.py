"""Print which of the project's packages import which: the picture the layer contracts keep.

    python -m devtools.layers            # the matrix of import lines between packages
    python -m devtools.layers rbac services   # every import line from rbac into services

Counts `import` and `from ... import` lines (imports inside functions too, marked), leaves
out migrations and tests. A pair that imports each other both ways is flagged. The contracts
themselves are import-linter's (`[tool.importlinter]` in pyproject.toml, run by `make lint`);
this is the readable picture.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "limits", "audit", "rbac", "apikeys", "services", "core")


def import_lines() -> dict[tuple[str, str], list[str]]:
    """(from package, to package) -> the lines that import across, as `file:line module`."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), str(path))
            functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
            nested = {id(node) for f in functions for node in ast.walk(f) if node is not f}
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules = [node.module]
                elif isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                else:
                    continue
                for module in modules:
                    target = module.split(".")[0]
                    if target in PACKAGES and target != package:
                        where = " (inside a function)" if id(node) in nested else ""
                        rel = path.relative_to(ROOT)
                        found[(package, target)].append(f"{rel}:{node.lineno} {module}{where}")
    return found


def main(argv: list[str]) -> int:
    lines = import_lines()
    if len(argv) == 2:
        for line in lines.get((argv[0], argv[1]), []):
            print(line)
        return 0
    present = [p for p in PACKAGES if (ROOT / p).is_dir()]
    counts = Counter({pair: len(found) for pair, found in lines.items()})
    width = max(len(p) for p in present)
    print("import lines from the row's package into the column's (* = some inside functions)")
    print(" " * width + " | " + " | ".join(p.rjust(8) for p in present))
    for source in present:
        cells = []
        for target in present:
            n = counts[(source, target)]
            inner = any("inside a function" in x for x in lines.get((source, target), []))
            cells.append(("-" if source == target else f"{n}{'*' if inner else ''}").rjust(8))
        print(source.rjust(width) + " | " + " | ".join(cells))
    both = sorted((a, b) for (a, b) in counts if a < b and counts[(a, b)] and counts[(b, a)])
    print()
    if both:
        print("both ways: " + ", ".join(f"{a} <-> {b}" for a, b in both))
    else:
        print("no two packages import each other both ways")
    return 1 if both else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
