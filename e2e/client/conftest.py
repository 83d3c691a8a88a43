"""Fixtures for `hoist upload` end-to-end tests (helpers in client_e2e.py)."""

import os

import pytest

from client_e2e import ACCESS_KEY, HOIST_BIN, SECRET_KEY, Coordinator, Store


@pytest.fixture
def start_store(tmp_path):
    started = []

    def start(extra_args=()):
        s = Store(tmp_path / f"data{len(started)}", extra_args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def store(start_store):
    return start_store()


@pytest.fixture
def cli_env(store, tmp_path):
    """Environment for `hoist upload` against `store`: credentials, endpoint, state dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_ENDPOINT_URL=store.endpoint,
               AWS_REGION="us-east-1", HOIST_STATE_DIR=str(tmp_path / "state"), HOME=str(tmp_path))
    return env



@pytest.fixture
def start_coordinator(tmp_path):
    started = []

    def start(store):
        c = Coordinator(store, tmp_path / f"coordinator{len(started)}")
        started.append(c)
        return c

    yield start
    for c in started:
        c.stop()




def pytest_report_header(config):
    return f"hoist binary: {HOIST_BIN}" + ("" if os.path.exists(HOIST_BIN) else " (missing)")
