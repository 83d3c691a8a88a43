"""Helpers of the `hoist serve` end-to-end tests: the real binary on port 0 (coordinator and
embedded store), boto3 as the independent S3 client, urllib as the uploader.

Kept out of conftest.py so that test modules import them by a name no other area uses (every
area's conftest module is named `conftest`, and pytest given several areas at once loads them
all before collecting)."""

import json
import os
import pathlib
import resource
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parents[2]
HOIST_BIN = os.environ.get("HOIST_BIN", str(REPO / "target" / "debug" / "hoist"))

sys.dont_write_bytecode = True


class Serve:
    """One `hoist serve` child process."""

    def __init__(self, data_dir, extra_args=(), env=None, open_files=None):
        store_listen = [] if "--store-listen" in extra_args else ["--store-listen", "127.0.0.1:0"]
        args = [HOIST_BIN, "serve", "--listen", "127.0.0.1:0", *store_listen, "--data", str(data_dir), *extra_args]
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))}
        base_env.update(env or {})
        self.data_dir = pathlib.Path(data_dir)
        self.stderr = []
        def limit_descriptors():
            if open_files:
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base_env, text=True,
                                     preexec_fn=limit_descriptors)
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        self.lines = []
        self.coordinator = self.store = None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("hoist store listening on "):
                self.store = line.split()[-1]
            if line.startswith("hoist coordinator listening on "):
                self.coordinator = line.split()[-1]
            if line.startswith("upload page: "):
                # With an external store one more line names it.
                if "--s3-endpoint" in args:
                    self.lines.append(self.proc.stdout.readline().rstrip("\n"))
                break
        if not self.coordinator:
            self.proc.kill()
            raise RuntimeError(f"hoist serve did not start: {self.lines} {''.join(self.stderr)}")
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def credentials(self):
        return json.loads((self.data_dir / "credentials.json").read_text())

    def s3(self):
        c = self.credentials()
        return boto3.client(
            "s3", endpoint_url=self.store, aws_access_key_id=c["access_key_id"],
            aws_secret_access_key=c["secret_access_key"], region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )

    def api(self, method, path, body=None, token=None, context=None):
        """(status, JSON answer) of one coordinator call (`context`: the TLS context of HTTPS)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.coordinator + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30, context=context) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read())

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode


def _decode(raw):
    """JSON when the answer is JSON (the API), else text (/healthz, /metrics)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def put(url, headers, body):
    """PUT `body` to a presigned URL with the headers the coordinator named; (status, headers)."""
    req = urllib.request.Request(url, data=body, method="PUT")
    for k, v in headers.items():
        if k.lower() != "content-length":
            req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def make_certificates(directory, names=("a",)):
    """A test CA (ca.pem) and, for each name, a leaf for localhost and 127.0.0.1 signed by it
    (NAME.pem, NAME.key), made with the openssl command. Answers {name: (cert, key)}."""
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    if not (d / "ca.pem").exists():
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=hoist test CA")
        (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    made = {}
    for name in names:
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", "ext")
        made[name] = (d / f"{name}.pem", d / f"{name}.key")
    return made
