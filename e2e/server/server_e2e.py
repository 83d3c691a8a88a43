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
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config
from standardwebhooks.webhooks import Webhook

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


class HookReceiver:
    """A webhook receiver on port 0 that verifies every signature with `secret` (the
    `standardwebhooks` package, independent of hoist's): `/events` fails each message's first
    `fail` deliveries with 500, then records it; `/pre` records the pre-create request and
    answers with `pre_create(payload)` (status, body), by default 204 (allowed as asked)."""

    def __init__(self, secret, fail=2, pre_create=None):
        self.fail = fail
        self.attempts = {}  # webhook-id -> deliveries seen
        self.accepted = []  # (webhook-id, payload) accepted
        self.pre_creates = []  # pre-create payloads, in arrival order
        self.refused_signatures = 0
        self.hang = threading.Event()  # set: hold upload.completed deliveries
        self.hung = threading.Event()  # set once a held delivery arrived
        self.lock = threading.Lock()
        answer_pre = pre_create or (lambda payload: (204, b""))
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(secret).verify(raw, headers)
                except Exception:
                    with receiver.lock:
                        receiver.refused_signatures += 1
                    return self.answer(401)
                if self.path == "/pre":
                    with receiver.lock:
                        receiver.pre_creates.append(payload)
                    return self.answer(*answer_pre(payload))
                msg_id = headers["webhook-id"]
                if payload["type"] == "upload.completed" and receiver.hang.is_set():
                    receiver.hung.set()
                    time.sleep(60)  # the coordinator is killed meanwhile
                    return self.answer(500)
                with receiver.lock:
                    n = receiver.attempts[msg_id] = receiver.attempts.get(msg_id, 0) + 1
                    if n <= receiver.fail:
                        return self.answer(500)
                    receiver.accepted.append((msg_id, payload))
                self.answer(204)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, kind):
        with self.lock:
            return [(i, p) for i, p in self.accepted if p["type"] == kind]

    def wait_for(self, kind, n=1, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.events(kind)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{kind} did not arrive: {self.accepted}")

    def close(self):
        self.server.shutdown()


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
