"""Helpers of the `hoist upload` end-to-end tests: a real `hoist store` process, `hoist serve`
in front of it as a coordinator, boto3 as the independent client, and an independent CRC-64/NVME.

Kept out of conftest.py so that test modules import them by a name no other area uses (all
areas' conftest modules are named `conftest`, and pytest given several areas at once loads
them all before collecting)."""

import os
import pathlib
import subprocess
import sys
import threading

import boto3
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "e2e"))
from e2e_shared import (crc64nvme, killed_after, object_md5_in, resume_replacing_a_part,  # noqa: E402,F401
                        stop_process, write_random)
HOIST_BIN = os.environ.get("HOIST_BIN", str(REPO / "target" / "debug" / "hoist"))

ACCESS_KEY = "AKIDHOISTCLIENT"
SECRET_KEY = "clientE2eSecretKey0123456789abcdefghij"
BUCKET = "client-e2e"

sys.dont_write_bytecode = True


class Store:
    """One `hoist store` child process."""

    def __init__(self, data_dir, extra_args=()):
        args = [HOIST_BIN, "store", "--listen", "127.0.0.1:0", "--data", str(data_dir), "--bucket", BUCKET,
                "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, *extra_args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        first = self.proc.stdout.readline()
        if not first.startswith("hoist store listening on http://"):
            self.proc.kill()
            raise RuntimeError(f"unexpected first line {first!r}")
        self.endpoint = first.strip().rsplit(" ", 1)[1]
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def client(self):
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )

    def stop(self):
        return stop_process(self.proc)



class Coordinator:
    """`hoist serve` in front of a `Store` (as an external S3 store), with one API key."""

    API_KEY = "client-e2e-api-key"

    def __init__(self, store, data_dir, extra_args=()):
        args = [HOIST_BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(data_dir), "--s3-endpoint", store.endpoint,
                "--bucket", BUCKET, "--api-key", self.API_KEY, "--part-size", "5MiB",
                "--single-put-threshold", "5MiB", *extra_args]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))}
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_REGION="us-east-1")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        self.url = None
        for line in self.proc.stdout:
            if line.startswith("hoist coordinator listening on "):
                self.url = line.split()[-1]
                break
        if not self.url:
            self.proc.kill()
            raise RuntimeError("hoist serve did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        return stop_process(self.proc)
def store_env(store, tmp_path):
    """A minimal environment for `hoist upload` in direct mode against `store`."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_ENDPOINT_URL": store.endpoint,
            "HOIST_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}


def object_md5(client, key):
    return object_md5_in(client, BUCKET, key)
