"""Fixtures of the interoperability tests (helpers in interop_e2e.py)."""

import pytest

from interop_e2e import Garage, GarageCluster, garage_bin


@pytest.fixture
def garage(tmp_path):
    binary = garage_bin()
    if binary is None:
        pytest.skip("garage is not installed (HOIST_TEST_GARAGE=1 ./scripts/test installs it)")
    g = Garage(binary, tmp_path / "garage")
    yield g
    g.stop()


@pytest.fixture(scope="module")
def garage_cluster(tmp_path_factory):
    """Three garage nodes on loopback (replication factor 3), shared by a module's tests."""
    binary = garage_bin()
    if binary is None:
        pytest.skip("garage is not installed (HOIST_TEST_GARAGE=1 ./scripts/test installs it)")
    cluster = GarageCluster(binary, tmp_path_factory.mktemp("garage-cluster"))
    yield cluster
    cluster.stop()
