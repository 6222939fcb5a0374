"""Shared test settings: Hypothesis profiles, one torch thread per xdist worker, slow tests first.

``HYPOTHESIS_PROFILE=dev pytest ...`` explores more freely; the default ``ci``
profile is derandomized so every run tests the same examples.
"""

import os

import pytest
import torch
from hypothesis import settings

pytest_plugins = ["pytester"]  # tests/plugin runs pytest sessions of its own

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, max_examples=50, database=None
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Workers share the cores: intra-op threads would only oversubscribe them.
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` (the minutes-long calibration and power runs among them) run first, the longest
    first (``@pytest.mark.slow(seconds=N)`` states a test's measured time on a 2-core machine), so that
    under ``-n auto`` they start at once and the short tests fill the other workers around them; the order
    is otherwise unchanged."""
    def key(item: pytest.Item) -> tuple[bool, float]:
        slow = item.get_closest_marker("slow")
        return slow is None, -float(slow.kwargs.get("seconds", 0)) if slow is not None else 0.0

    items.sort(key=key)
