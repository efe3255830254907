"""Which runtime modules a Lambda function needs: the import graph of its handler, nothing else.

A function's asset is its `functions/<name>/` folder plus the modules of `billing_audit` that its
handler imports, directly or through other modules (grimp reads the graph statically, as
import-linter does).  A module's packages come with it, since importing `a.b.c` runs `a/__init__`
and `a/b/__init__` first.  The local tooling (`smartsheet_sim`, `billing_audit_local`) is outside
the package and so can never be reached.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

RUNTIME_PACKAGE = "billing_audit"


def handler_imports(handler: Path, package: str = RUNTIME_PACKAGE) -> set[str]:
    """Modules of `package` that a handler file names in its imports (`from a import b` may name a module b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(handler.read_text(encoding="utf-8"), filename=str(handler))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == package or name.startswith(f"{package}.")}


def _with_packages(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts) + 1)}


def module_closure(handler: Path, package: str = RUNTIME_PACKAGE) -> set[str]:
    """Every module of `package` that importing the handler can run."""
    # Imports under `if TYPE_CHECKING:` never run (every module uses postponed annotations), so they
    # add nothing to what Lambda loads.
    graph = grimp.build_graph(package, cache_dir=None, exclude_type_checking_imports=True)
    pending = {name for name in handler_imports(handler, package) if name in graph.modules}
    needed: set[str] = set()
    while pending:
        module = pending.pop()
        if module in needed:
            continue
        needed.add(module)
        pending |= (graph.find_upstream_modules(module) | _with_packages(module)) - needed
    return needed


def module_files(modules: set[str], source_root: Path) -> list[Path]:
    """The source file of each module, relative to `source_root` (src/)."""
    files: list[Path] = []
    for module in sorted(modules):
        base = source_root.joinpath(*module.split("."))
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if not path.is_file():
            raise FileNotFoundError(f"module {module} has no source at {path}")
        files.append(path.relative_to(source_root))
    return files
