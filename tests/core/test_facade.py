"""The public façade of pcg_core: what it exports, and that its leaf modules stay light."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import pcg_core


def isort_key(name: str) -> tuple[int, str]:
    """The order of ruff's RUF022: CONSTANTS, then Classes, then functions; alphabetical within each."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def test_all_is_sorted_and_unique() -> None:
    assert pcg_core.__all__ == sorted(set(pcg_core.__all__), key=isort_key)


def test_the_facade_maps_exactly_the_public_names() -> None:
    """``_MODULE_OF`` (what runs) and the ``TYPE_CHECKING`` imports (what mypy sees) agree with ``__all__``."""
    assert sorted(pcg_core._MODULE_OF) == sorted(pcg_core.__all__)
    tree = ast.parse(Path(pcg_core.__file__).read_text(encoding="utf-8"))
    typed = {alias.asname or alias.name: node.module for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pcg_core.")
             for alias in node.names if alias.name != "lazy_attributes"}
    assert typed == pcg_core._MODULE_OF


@pytest.mark.parametrize("name", pcg_core.__all__)
def test_every_public_name_resolves_to_its_module(name: str) -> None:
    value = getattr(pcg_core, name)
    assert value is getattr(importlib.import_module(pcg_core._MODULE_OF[name]), name)


@pytest.mark.parametrize("name", pcg_core.__all__)
def test_every_public_name_is_documented(name: str) -> None:
    """A class or function has a docstring of its own; a constant a ``#:`` comment where it is defined."""
    value = getattr(pcg_core, name)
    if inspect.isclass(value) or inspect.isfunction(value):
        doc = value.__doc__ or ""
        assert doc.strip() and not doc.startswith(f"{name}("), f"{name} has no docstring"  # dataclass's default
    else:  # defined once in pcg_core (validation, say, only re-exports SUM_TOLERANCE)
        above = [lines[i - 1] for path in Path(pcg_core.__file__).parent.glob("*.py")
                 for lines in [path.read_text(encoding="utf-8").splitlines()]
                 for i, text in enumerate(lines) if text.startswith((f"{name} =", f"{name}:"))]
        assert len(above) == 1, f"{name} is defined {len(above)} times"
        assert above[0].startswith("#: "), f"{name} needs a '#:' comment above its definition"


def test_dir_lists_names_that_resolve() -> None:
    listed = dir(pcg_core)
    assert "__version__" in listed
    assert set(pcg_core.__all__) <= set(listed)
    for name in listed:
        getattr(pcg_core, name)


def test_errors_and_tolerances_are_exported() -> None:
    from pcg_core import errors, validation

    for name in ("PCGError", "DesignError", "InvalidArgumentError", "InvalidTypeError", "GroupsCacheMismatchError"):
        assert getattr(pcg_core, name) is getattr(errors, name)
    assert pcg_core.SUM_TOLERANCE is validation.SUM_TOLERANCE
    assert issubclass(pcg_core.DesignError, pcg_core.InvalidArgumentError)
    assert issubclass(pcg_core.GroupsCacheMismatchError, pcg_core.InvalidArgumentError)
    assert issubclass(pcg_core.InvalidArgumentError, ValueError)
    assert issubclass(pcg_core.InvalidTypeError, TypeError)
    assert all(issubclass(getattr(pcg_core, name), pcg_core.PCGError) for name in
               ("DesignError", "InvalidArgumentError", "InvalidTypeError", "GroupsCacheMismatchError"))


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'WEIGHT_SUM_TOLERANCE'"):
        pcg_core.WEIGHT_SUM_TOLERANCE  # noqa: B018  # removed: weights use SUM_TOLERANCE["float64"]


def test_leaf_modules_load_no_torch() -> None:
    code = (
        "import sys\n"
        "import pcg_core.errors, pcg_core.validation, pcg_core.atomic\n"
        "import pcg_core\n"
        "pcg_core.SUM_TOLERANCE, pcg_core.InvalidArgumentError, pcg_core.DesignError\n"
        "heavy = sorted(m for m in ('torch', 'scipy', 'hypothesis') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_from_import_still_works() -> None:
    code = "from pcg_core import verify, Groups\nimport sys\nassert 'torch' in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
