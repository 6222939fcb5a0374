"""Fixtures of the reports tier: small gate reports, written once per worker.

They are quick-budget runs (the reference sampler on every case, and a planted
bug replayed on its failing case 6), so the tier stays fast; the
standard-budget pair that the Chromium test opens is built there, marked slow.
"""

from __future__ import annotations

import pytest
from report_pages import PLANTED, Written, write_gate_report


@pytest.fixture(scope="session")
def passing(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The reference sampler, quick budget, every case: passes."""
    return write_gate_report(tmp_path_factory.mktemp("passing"), "pcg_verify.ports:reference_port")


@pytest.fixture(scope="session")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """A planted bug on its failing case: fails guarantee with replay lines."""
    return write_gate_report(tmp_path_factory.mktemp("failing"), PLANTED, case=6)
