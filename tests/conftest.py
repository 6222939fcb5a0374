"""Shared test settings: Hypothesis profiles and one torch thread per xdist worker.

``HYPOTHESIS_PROFILE=dev pytest ...`` explores more freely; the default ``ci``
profile is derandomized so every run tests the same examples.
"""

import os

import torch
from hypothesis import settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, max_examples=50, database=None
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Workers share the cores: intra-op threads would only oversubscribe them.
    torch.set_num_threads(1)
