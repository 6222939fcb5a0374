"""No import cycle among the project's modules, lazy imports included (issue 19).

The graph is read from the source by ``tests/import_graph.py``: imports at the
top, inside functions and under ``TYPE_CHECKING``, relative imports, ``from
package import submodule``, and the module names a lazy façade holds as
strings. The helper is tested first on small packages written for the
purpose, so a check that finds nothing is known to be able to find something.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from import_graph import import_cycles, import_graph

import pcg_core

ROOT = Path(__file__).resolve().parents[2]

#: Each entry is checked as one graph (cycles may run across the packages of an entry).
PACKAGE_SETS: list[tuple[str, ...]] = [("pcg_core",), ("pcg_core", "pcg_verify")]


@pytest.mark.parametrize("names", PACKAGE_SETS, ids=["+".join(names) for names in PACKAGE_SETS])
def test_no_import_cycle(names: tuple[str, ...]) -> None:
    cycles = import_cycles({name: ROOT / name for name in names})
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_graph_sees_lazy_facades_and_function_local_imports() -> None:
    graph = import_graph({"pcg_core": ROOT / "pcg_core"})
    assert set(pcg_core._MODULE_OF.values()) <= graph["pcg_core"]  # the façade's strings
    assert "pcg_core._groups" in graph["pcg_core._inputs"]  # inside check_groups, and under TYPE_CHECKING


# ---------------------------------------------------------------------------- the helper itself
def write_package(root: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``root`` with the given modules (``__init__`` included)."""
    package = root / "pkg"
    package.mkdir()
    for name, code in {"__init__": "", **files}.items():
        (package / f"{name}.py").write_text(textwrap.dedent(code))
    return package


CYCLES: list[tuple[str, dict[str, str], list[list[str]]]] = [
    ("function-local import of a submodule",
     {"a": "import pkg.b\n", "b": "def f():\n    from pkg import a\n"},
     [["pkg.a", "pkg.b", "pkg.a"]]),
    ("TYPE_CHECKING and relative imports",
     {"c": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import X\n",
      "d": "from .c import Y\n"},
     [["pkg.c", "pkg.d", "pkg.c"]]),
    ("a lazy façade and a module importing from it",
     {"__init__": "from pcg_core.lazy import lazy_attributes\n_MODULE_OF = {'E': 'pkg.e'}\n",
      "e": "from pkg import E\n"},
     [["pkg", "pkg.e", "pkg"]]),
    ("three modules in a ring",
     {"x": "from . import y\n", "y": "import pkg.z as z\n", "z": "try:\n    from pkg.x import f\nexcept ImportError:\n"
      "    pass\n"},
     [["pkg.x", "pkg.y", "pkg.z", "pkg.x"]]),
    ("no cycle: parent packages, strings that are no module names, strings without a loader",
     {"__init__": "from pcg_core.lazy import lazy_attributes\n_MODULE_OF = {'F': 'pkg.f'}\n",
      "f": "import pkg.g\nSPEC = 'pkg.f:function'\n", "g": "NAME = 'pkg.f'\n"},
     []),
]


@pytest.mark.parametrize(("what", "files", "cycles"), CYCLES, ids=[row[0] for row in CYCLES])
def test_import_cycles_finds_each_kind(what: str, files: dict[str, str], cycles: list[list[str]],
                                      tmp_path: Path) -> None:
    assert import_cycles({"pkg": write_package(tmp_path, files)}) == cycles


def test_cycles_across_packages(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "__init__.py").write_text("def f():\n    import two.mod\n")
    (tmp_path / "two" / "__init__.py").write_text("")
    (tmp_path / "two" / "mod.py").write_text("from one import f\n")
    assert import_cycles({"one": tmp_path / "one"}) == []  # two's modules are not nodes
    assert import_cycles({"one": tmp_path / "one", "two": tmp_path / "two"}) == [["one", "two.mod", "one"]]
