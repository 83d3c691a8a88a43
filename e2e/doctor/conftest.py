"""Fixtures for the doctor's end-to-end tests: a real `hoist store` on port 0, boto3 as the
independent client that sets buckets up, real `curl -v` for captures, and the `hoist` CLI."""

import json
import os
import pathlib
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

ACCESS_KEY = "AKIDHOISTDOCTOR"
SECRET_KEY = "doctorE2eSecretKey0123456789abcdefghij"
BUCKET = "uploads"
ORIGIN = "https://app.example.com"


class Store:
    """One `hoist store` child process."""

    def __init__(self, data_dir, extra_args=()):
        args = [HOIST_BIN, "store", "--listen", "127.0.0.1:0", "--data", str(data_dir), "--bucket", BUCKET,
                "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, *extra_args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        first = self.proc.stdout.readline()
        if not first.startswith("hoist store listening on http://"):
            self.proc.kill()
            raise RuntimeError(f"unexpected first line {first!r}; stderr: {self.proc.stderr.read()}")
        self.endpoint = first.strip().rsplit(" ", 1)[1].rstrip("/")
        # Keep reading both pipes so the child never blocks (a request is a log line).
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def client(self, **config):
        config.setdefault("signature_version", "s3v4")
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
        )

    def hoist(self, *args, stdin=None):
        """Runs `hoist ARGS` with this store as the target; returns the completed process."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))}
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   HOIST_S3_ENDPOINT=self.endpoint, HOIST_BUCKET=BUCKET)
        return subprocess.run([HOIST_BIN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)

    def doctor_json(self, *args):
        p = self.hoist("doctor", "--json", *args)
        assert p.stdout, p.stderr
        return p.returncode, json.loads(p.stdout)

    def stop(self):
        return stop_process(self.proc)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data")
    yield s
    s.stop()


@pytest.fixture
def start_store(tmp_path):
    """Starts stores with extra `hoist store` arguments; all are stopped at the end."""
    started = []

    def start(*extra_args):
        s = Store(tmp_path / f"data{len(started)}", extra_args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def curl_v(*args):
    """`curl -v ARGS 2>&1`: the transcript a user would paste."""
    p = subprocess.run(["sh", "-c", 'exec curl -v -sS "$@" 2>&1', "curl", *args], capture_output=True, text=True, timeout=60)
    return p.stdout


def checks_by_id(report):
    return {c["check"]: c for c in report["checks"]}
