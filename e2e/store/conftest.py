"""Fixtures for the hoist-store end-to-end tests: a real `hoist store` process on port 0."""

import os
import pathlib
import signal
import subprocess
import sys
import threading

import boto3
import pytest
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "e2e"))
from e2e_shared import stop_process  # noqa: E402

HOIST_BIN = os.environ.get("HOIST_BIN", str(REPO / "target" / "debug" / "hoist"))

ACCESS_KEY = "AKIDHOISTE2E"
SECRET_KEY = "e2eSecretKeyForHoistStore0123456789abcd"
BUCKET = "e2e-bucket"


class StoreProcess:
    """One `hoist store` child process and what it printed."""

    def __init__(self, data_dir, extra_args=(), credentials=True):
        self.data_dir = pathlib.Path(data_dir)
        args = [HOIST_BIN, "store", "--listen", "127.0.0.1:0", "--data", str(self.data_dir), "--bucket", BUCKET]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        if credentials:
            args += ["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]
        args += list(extra_args)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.lines = []
        first = self.proc.stdout.readline()
        if not first.startswith("hoist store listening on http://"):
            self.proc.kill()
            raise RuntimeError(f"unexpected first line {first!r}; stderr: {self.proc.stderr.read()}")
        self.lines.append(first.strip())
        self.endpoint = first.strip().rsplit(" ", 1)[1]
        self.host, port = self.endpoint.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        # Keep reading so the child never blocks on a full pipe (a request is a log line).
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        self.access_key, self.secret_key = (ACCESS_KEY, SECRET_KEY) if credentials else (None, None)

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def client(self, **config):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}, **config),
        )

    def env(self):
        """Environment for CLI peers (aws, s5cmd)."""
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_REGION="us-east-1",
        )
        return env

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        return stop_process(self.proc)


@pytest.fixture
def start_store(tmp_path):
    """Factory: start_store(extra_args=(), data_dir=None, credentials=True) -> StoreProcess."""
    started = []

    def start(extra_args=(), data_dir=None, credentials=True):
        store = StoreProcess(data_dir or (tmp_path / "data"), extra_args, credentials)
        started.append(store)
        return store

    yield start
    for store in started:
        store.stop()


@pytest.fixture
def store(start_store):
    return start_store()


def pytest_report_header(config):
    return f"hoist binary: {HOIST_BIN}" + ("" if os.path.exists(HOIST_BIN) else " (missing)")


sys.dont_write_bytecode = True
