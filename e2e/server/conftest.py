"""Fixtures for `hoist serve` end-to-end tests (helpers in server_e2e.py)."""

import pytest

from server_e2e import Serve


@pytest.fixture
def start_serve(tmp_path):
    started = []

    def start(extra_args=(), env=None, data_dir=None, open_files=None):
        s = Serve(data_dir or tmp_path / f"data{len(started)}", extra_args, env, open_files)
        started.append(s)
        return s

    yield start
    for s in started:
        try:
            s.stop()
        except Exception:
            pass
