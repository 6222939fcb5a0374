"""The public façade of pcg_core: what it exports, and that its leaf modules stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pcg_core


def isort_key(name: str) -> tuple[int, str]:
    """The order of ruff's RUF022: CONSTANTS, then Classes, then functions; alphabetical within each."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def test_all_is_sorted_and_unique() -> None:
    assert pcg_core.__all__ == sorted(set(pcg_core.__all__), key=isort_key)


def test_every_name_in_all_resolves() -> None:
    for name in pcg_core.__all__:
        assert getattr(pcg_core, name) is not None, name


def test_dir_lists_exactly_the_public_names() -> None:
    public = sorted(name for name in dir(pcg_core) if not name.startswith("_"))
    assert public == sorted(pcg_core.__all__)
    assert "__version__" in dir(pcg_core)


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
