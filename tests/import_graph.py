"""The import graph of the project's packages, read from their source, and its cycles.

Importable by any test (``from import_graph import import_cycles``: ``tests/``
is on the path through ``tests/conftest.py``). Nothing is imported: every
module is parsed with :mod:`ast`, so an edge is any import the code could
run, wherever it stands:

- ``import a.b`` and ``from a.b import name``, at the top, inside functions,
  under ``if TYPE_CHECKING:`` or ``try:``; relative imports resolved;
- ``from a import b`` where ``a.b`` is a module is an edge to ``a.b``;
- a module that loads modules by name (it imports :mod:`importlib` or the lazy
  façade loader ``pcg_core.lazy``) has an edge to every module of the graph
  that one of its string constants names exactly, as a façade's
  ``_MODULE_OF`` does.

Only modules of the given packages are nodes; a name resolves to the longest
dotted prefix that is one. Importing ``a.b`` also runs ``a/__init__.py``,
but that implicit edge to the parent package is left out: the parent is
already importing or imported by then, and counting it would tie every
façade to all of its modules in a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["import_cycles", "import_graph", "modules_of"]

#: Imports that mark a module as loading modules by name (its strings become edges).
NAME_LOADERS = ("importlib", "pcg_core.lazy")


def modules_of(packages: Mapping[str, str | Path]) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` file under each package's folder.

    ``packages`` maps a package's import name to its folder.
    """
    modules: dict[str, Path] = {}
    for package, folder in packages.items():
        root = Path(folder)
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def import_graph(packages: Mapping[str, str | Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports (see the module docstring for what counts)."""
    modules = modules_of(packages)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets = {_resolve(target, modules) for target in _imported_names(name, is_package, path, modules)}
        graph[name] = {target for target in targets if target is not None and target != name}
    return graph


def import_cycles(packages: Mapping[str, str | Path]) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` per strongly connected part of the import graph; ``[]`` when there is none.

    >>> import_cycles({})
    []
    """
    graph = import_graph(packages)
    cycles = []
    for part in _strongly_connected(graph):
        if len(part) > 1:
            cycles.append(_cycle_through(min(part), part, graph))
    return sorted(cycles)


# ---------------------------------------------------------------------------- reading one module
def _imported_names(module: str, is_package: bool, path: Path, modules: Mapping[str, Path]) -> Iterator[str]:
    """Every dotted name the module imports: ``from a import b`` gives ``a.b`` when that is a module, else ``a``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if is_package else module.rpartition(".")[0]
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            imported += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    yield from imported
    if any(name == loader or name.startswith(loader + ".") for name in imported for loader in NAME_LOADERS):
        # names, not prefixes: "pcg_verify.ports:reference_port" is a port spec, no import of pcg_verify
        yield from (node.value for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in modules)


def _absolute(module: str | None, level: int, package: str) -> str:
    """The absolute name of ``from <level dots><module> import ...`` inside ``package``."""
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The longest dotted prefix of ``name`` that is a module of the graph, else None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


# ---------------------------------------------------------------------------- cycles
def _strongly_connected(graph: Mapping[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components, O(nodes + edges)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.add(member)
                if member == node:
                    break
            parts.append(part)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return parts


def _cycle_through(start: str, part: set[str], graph: Mapping[str, set[str]]) -> list[str]:
    """A shortest cycle from ``start`` back to itself inside one strongly connected part (breadth first)."""
    previous = {start: start}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & part):
                if target == start:
                    path = [node]  # back from node to start
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} lies on no cycle of its strongly connected part")
