"""Fixtures of the interoperability tests (helpers in interop_e2e.py)."""

import pytest

from interop_e2e import Garage, garage_bin


@pytest.fixture
def garage(tmp_path):
    binary = garage_bin()
    if binary is None:
        pytest.skip("garage is not installed (HOIST_TEST_GARAGE=1 ./scripts/test installs it)")
    g = Garage(binary, tmp_path / "garage")
    yield g
    g.stop()
