"""Shared by every end-to-end area: a passing test's temporary folder is removed as soon as
its fixtures are torn down, so the suite's disk use is that of one test at a time, not the
sum of all of them (stores here hold up to a few GiB each)."""

import shutil

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.stash[_FAILED] = True


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def _remove_tmp_path_when_passed(request, tmp_path):
    # Autouse fixtures are set up first and torn down last: every store or server using
    # tmp_path has stopped by the time this runs.
    yield
    if not request.node.stash.get(_FAILED, False):
        shutil.rmtree(tmp_path, ignore_errors=True)
