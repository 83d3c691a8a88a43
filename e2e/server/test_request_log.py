"""One JSON log line per request, from the coordinator and from the store, with the request id
the caller sent (or one made for it) on both: `hoist serve --log-json` in front of a separate
`hoist store --log-json`, so the id crosses the wire as `x-request-id`."""

import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request

from server_e2e import HOIST_BIN, put

KEY, SECRET = "AKIDREQUESTLOG", "requestLogSecretKey0123456789abcdefghijk"
API_KEY = "request-log-api-key"
FIELDS = {"method", "route", "status", "bytes_in", "bytes_out", "latency_ms", "request_id"}
MIB = 1 << 20


class LoggedStore:
    """`hoist store --log-json` with its standard error kept line by line."""

    def __init__(self, data_dir):
        self.proc = subprocess.Popen(
            [HOIST_BIN, "store", "--listen", "127.0.0.1:0", "--data", str(data_dir), "--bucket", "logs",
             "--access-key", KEY, "--secret-key", SECRET, "--log-json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_", "RUST_LOG"))},
        )
        self.stderr = []
        self.reader = threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True)
        self.reader.start()
        self.endpoint = self.proc.stdout.readline().split()[-1]
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        """Stops the store; its log is then read to the end."""
        self.proc.terminate()
        self.proc.wait(timeout=15)
        self.reader.join(timeout=30)



def _json(raw):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw

def call(base, method, path, body=None, request_id=None):
    """(status, headers, JSON body or bytes) of one coordinator call with the API key."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {API_KEY}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if request_id is not None:
        req.add_header("x-request-id", request_id)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, resp.headers, _json(raw)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, e.headers, _json(raw)


def requests(lines, target):
    """The request lines of `target` among JSON log lines."""
    out = []
    for line in lines:
        event = json.loads(line)  # every line is JSON
        if event["target"] == target:
            out.append(event["fields"])
    return out


def wait_for(lines, target, request_id, count=1, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        found = [f for f in requests(list(lines), target) if f["request_id"] == request_id]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_one_line_per_request_with_the_same_id_on_coordinator_and_store(start_serve, tmp_path):
    store = LoggedStore(tmp_path / "store")
    try:
        s = start_serve(
            ["--s3-endpoint", store.endpoint, "--bucket", "logs", "--api-key", API_KEY, "--log-json",
             "--single-put-threshold", "5MiB", "--part-size", "5MiB"],
            env={"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1"},
        )
        # Multipart: creating, reading and aborting each call the store.
        status, headers, up = call(s.coordinator, "POST", "/v1/uploads", {"size": 12 * MIB, "filename": "big.bin"},
                                   request_id="e2e-create-1")
        assert status == 201, up
        assert headers["x-request-id"] == "e2e-create-1"
        token = up["id"]
        status, headers, _ = call(s.coordinator, "GET", f"/v1/uploads/{token}", request_id="e2e-state-1")
        assert status == 200 and headers["x-request-id"] == "e2e-state-1"
        status, _, _ = call(s.coordinator, "DELETE", f"/v1/uploads/{token}", request_id="e2e-abort-1")
        assert status in (200, 204)
        # No id, or one that is not sane (too long, a space): the coordinator makes its own.
        made = []
        for sent in (None, "x" * 129, "two words"):
            status, headers, _ = call(s.coordinator, "GET", "/healthz", request_id=sent)
            assert status == 200
            assert re.fullmatch(r"[0-9a-f]{16}", headers["x-request-id"]), headers["x-request-id"]
            made.append(headers["x-request-id"])
        assert len(set(made)) == 3
        # The same id on the store's answer when a client calls the store directly.
        req = urllib.request.Request(store.endpoint + "/", method="GET", headers={"x-request-id": "e2e-direct-1"})
        try:
            urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            assert e.code == 403 and e.headers["x-request-id"] == "e2e-direct-1"
        else:
            raise AssertionError("an anonymous ListBuckets is refused")

        coordinator = "hoist_server::request"
        for request_id, method, route, status in [
            ("e2e-create-1", "POST", "/v1/uploads", 201),
            ("e2e-state-1", "GET", "/v1/uploads/{id}", 200),
            ("e2e-abort-1", "DELETE", "/v1/uploads/{id}", None),
            *[(made_id, "GET", "/healthz", 200) for made_id in made],
        ]:
            lines = wait_for(s.stderr, coordinator, request_id)
            assert len(lines) == 1, (request_id, lines)
            line = lines[0]
            assert FIELDS <= set(line), line
            assert (line["method"], line["route"]) == (method, route), line
            assert status is None or line["status"] == status, line
            assert line["latency_ms"] >= 0 and line["bytes_in"] >= 0 and line["bytes_out"] >= 0, line
        create = wait_for(s.stderr, coordinator, "e2e-create-1")[0]
        assert create["bytes_in"] > 0 and create["bytes_out"] > 0, create

        # The store's lines for the calls each request made carry the same id.
        store_target = "hoist_store::request"
        created = wait_for(store.stderr, store_target, "e2e-create-1")
        assert [(l["method"], l["route"]) for l in created] == [("POST", "/{bucket}/{key}?uploads")], created
        listed = wait_for(store.stderr, store_target, "e2e-state-1")
        assert listed and all(l["route"] == "/{bucket}/{key}?uploadId" for l in listed), listed
        aborted = wait_for(store.stderr, store_target, "e2e-abort-1")
        assert ("DELETE", "/{bucket}/{key}?uploadId") in [(l["method"], l["route"]) for l in aborted], aborted
        direct = wait_for(store.stderr, store_target, "e2e-direct-1")
        assert len(direct) == 1 and direct[0]["status"] == 403 and direct[0]["route"] == "/", direct
        for line in created + listed + aborted + direct:
            assert FIELDS <= set(line), line

        # A presigned PUT straight to the store: its line names neither key nor signature.
        status, _, single = call(s.coordinator, "POST", "/v1/uploads", {"size": 5, "filename": "small.txt"})
        assert status == 201
        assert put(single["url"], {**single["headers"], "x-request-id": "e2e-put-1"}, b"hello")[0] == 200
        (line,) = wait_for(store.stderr, store_target, "e2e-put-1")
        assert (line["method"], line["route"], line["status"], line["bytes_in"]) == ("PUT", "/{bucket}/{key}", 200, 5)

        # One line per request, and nothing in them that a log must not hold.
        all_lines = "".join(s.stderr) + "".join(store.stderr)
        for secret in (token, SECRET, API_KEY, single["url"].split("X-Amz-Signature=")[1]):
            assert secret not in all_lines, secret
        request_lines = json.dumps(requests(s.stderr, coordinator) + requests(store.stderr, store_target))
        for key in ("small.txt", "big.bin", "X-Amz-"):
            assert key not in request_lines, key
    finally:
        store.stop()
