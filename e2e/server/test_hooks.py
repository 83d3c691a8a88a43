"""Upload webhooks and the pre-create hook, against a real receiver that verifies every
signature with the `standardwebhooks` package (an implementation independent of hoist's).

The receiver refuses the first two deliveries of each message, then accepts: each event must
arrive once per id, with the right fields. A coordinator killed with SIGKILL between the store's
Complete and the event's delivery loses nothing: the client's retried Complete through another
coordinator (sharing the token secret) delivers it."""

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import threading
import time

import boto3
from botocore.config import Config

from server_e2e import HOIST_BIN, HookReceiver, put

SECRET = "whsec_" + base64.b64encode(b"hook secret for the e2e tests!!").decode()
API_KEY = "hooks-api-key"
GRANT_SECRET = "grant-secret-for-hook-tests"
TOKEN_SECRET = "token-secret-shared-by-replicas-0123"
MIB = 1024 * 1024


class Receiver(HookReceiver):
    """The shared receiver with this module's secret and pre-create answers."""

    def __init__(self, fail=2):
        super().__init__(SECRET, fail=fail, pre_create=pre_create)


def pre_create(payload):
    """Refuses videos; puts a grant user's uploads under `{prefix}/by-app/{user}/`."""
    data = payload["data"]
    if data["content_type"].startswith("video/"):
        return 422, json.dumps({"reason": "videos are not accepted here"}).encode()
    caller = data["caller"]
    if caller["type"] == "grant":
        prefix = caller["claims"]["prefix"]
        key = f"{prefix}/by-app/{caller['subject']}/{data['filename']}"
        return 200, json.dumps({"key": key, "metadata": {"user": caller["subject"]}}).encode()
    return 204, b""


def mint(sub, prefix):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": sub, "exp": int(time.time()) + 600, "prefix": prefix}).encode())
    sig = b64(hmac.new(GRANT_SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def hook_args(receiver, *more):
    return ["--api-key", API_KEY, "--hook-url", receiver.url + "/events", "--hook-secret", SECRET, *more]


def test_events_are_signed_retried_and_arrive_once_per_id(start_serve):
    receiver = Receiver(fail=2)
    try:
        s = start_serve(hook_args(receiver))
        body = os.urandom(3000)
        status, up = s.api("POST", "/v1/uploads", {"size": len(body), "filename": "notes.txt",
                                                   "content_type": "text/plain",
                                                   "metadata": {"project": "apollo"}}, token=API_KEY)
        assert status == 201, up
        assert put(up["url"], up["headers"], body)[0] == 200
        status, done = s.api("POST", f"/v1/uploads/{up['id']}/complete", {}, token=API_KEY)
        assert status == 200, done
        assert done["hook_pending"] is False, done
        # Delivered (after two refusals) before Complete answered.
        [(done_id, completed)] = receiver.events("upload.completed")
        assert receiver.attempts[done_id] == 3
        data = completed["data"]
        assert data["key"] == up["key"] and data["bucket"] == "uploads"
        assert data["size"] == len(body) and data["etag"] == done["etag"]
        assert data["content_type"] == "text/plain"
        assert data["metadata"] == {"project": "apollo"}
        assert data["strategy"] == "single" and data["route"] == "/v1/uploads"
        assert data["caller"]["type"] == "api_key" and len(data["caller"]["key_id"]) == 16
        assert data["completed_at"].endswith("Z") and completed["timestamp"].endswith("Z")
        [(created_id, created)] = receiver.wait_for("upload.created")
        assert created_id != done_id
        assert created["data"]["upload_id"] == data["upload_id"]
        assert created["data"]["size"] == len(body)

        # A retried Complete sends the event again under the same id: the receiver keeps one.
        status, again = s.api("POST", f"/v1/uploads/{up['id']}/complete", {}, token=API_KEY)
        assert status == 200 and again["etag"] == done["etag"]
        ids = {i for i, _ in receiver.events("upload.completed")}
        assert ids == {done_id}
        assert receiver.refused_signatures == 0

        status, metrics = s.api("GET", "/metrics")
        assert 'hoist_hook_deliveries_total{outcome="sent"}' in metrics
        retries = [l for l in metrics.splitlines() if l.startswith("hoist_hook_retries_total ")]
        assert float(retries[0].split()[1]) >= 4, retries
        # The secret is in no log line.
        log = "".join(s.stderr)
        assert SECRET[6:] not in log
    finally:
        receiver.close()


def test_pre_create_refuses_by_content_type_and_renames_by_user(start_serve):
    receiver = Receiver(fail=0)
    try:
        s = start_serve(hook_args(receiver, "--pre-create-url", receiver.url + "/pre",
                                  "--grant-secret", GRANT_SECRET))
        status, e = s.api("POST", "/v1/uploads", {"size": 10, "filename": "clip.mp4",
                                                  "content_type": "video/mp4"}, token=API_KEY)
        assert status == 403 and e["code"] == "refused", e
        assert e["error"] == "videos are not accepted here"
        # The Uppy routes answer in their shape: Uppy shows `error`.
        status, e = s.api("POST", "/s3/multipart", {"filename": "clip.mp4", "type": "video/mp4"}, token=API_KEY)
        assert status == 403 and e["error"] == "videos are not accepted here", e

        for user in ["alice", "bob"]:
            grant = mint(user, f"tenants/t1")
            body = user.encode() * 100
            status, up = s.api("POST", "/v1/uploads", {"size": len(body), "filename": "avatar.png",
                                                       "content_type": "image/png"}, token=grant)
            assert status == 201, up
            assert up["key"] == f"tenants/t1/by-app/{user}/avatar.png", up
            assert put(up["url"], up["headers"], body)[0] == 200
            status, done = s.api("POST", f"/v1/uploads/{up['id']}/complete", {}, token=grant)
            assert status == 200 and done["key"] == up["key"], done
            head = s.s3().head_object(Bucket="uploads", Key=up["key"])
            assert head["Metadata"] == {"user": user}
        completed = receiver.wait_for("upload.completed", 2)
        by_key = {p["data"]["key"]: p["data"] for _, p in completed}
        alice = by_key["tenants/t1/by-app/alice/avatar.png"]
        assert alice["caller"] == {"type": "grant", "subject": "alice",
                                   "claims": alice["caller"]["claims"]}
        assert alice["caller"]["claims"]["prefix"] == "tenants/t1"
        assert alice["metadata"] == {"user": "alice"}
    finally:
        receiver.close()


class ExternalStore:
    """A `hoist store` of its own, so that coordinators can die without it."""

    KEY, SECRET = "AKIDHOOKS", "hooksSecretKey0123456789abcdefghijklmnop"

    def __init__(self, data_dir, *extra):
        self.proc = subprocess.Popen(
            [HOIST_BIN, "store", "--listen", "127.0.0.1:0", "--data", str(data_dir), "--bucket", "hooks",
             "--access-key", self.KEY, "--secret-key", self.SECRET, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))},
        )
        self.endpoint = self.proc.stdout.readline().split()[-1]
        threading.Thread(target=lambda: self.proc.stdout.read(), daemon=True).start()

    def env(self):
        return {"AWS_ACCESS_KEY_ID": self.KEY, "AWS_SECRET_ACCESS_KEY": self.SECRET, "AWS_REGION": "us-east-1"}

    def s3(self):
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.KEY,
                            aws_secret_access_key=self.SECRET, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def test_a_coordinator_killed_before_delivery_loses_no_event(start_serve, tmp_path):
    receiver = Receiver(fail=0)
    store = ExternalStore(tmp_path / "store")
    try:
        args = hook_args(receiver, "--s3-endpoint", store.endpoint, "--bucket", "hooks",
                         "--token-secret", TOKEN_SECRET, "--part-size", "5MiB",
                         "--single-put-threshold", "5MiB", "--hook-deliver-within", "30")
        a = start_serve(args, env=store.env())
        b = start_serve(args, env=store.env())
        body = os.urandom(6 * MIB)
        status, up = a.api("POST", "/v1/uploads", {"size": len(body), "filename": "movie.bin"}, token=API_KEY)
        assert status == 201 and up["strategy"] == "multipart", up
        parts = []
        for p in up["parts"]:
            chunk = body[p["offset"]:p["offset"] + p["length"]]
            code, headers = put(p["url"], p["headers"], chunk)
            assert code == 200
            etag = {k.lower(): v for k, v in headers.items()}["etag"]
            parts.append({"number": p["number"], "etag": etag})

        # Coordinator A completes in the store, then hangs delivering: kill -9 it there.
        receiver.hang.set()
        answer = {}

        def complete_through_a():
            try:
                answer["a"] = a.api("POST", f"/v1/uploads/{up['id']}/complete", {"parts": parts}, token=API_KEY)
            except OSError as e:  # the connection dies with the process
                answer["error"] = e

        t = threading.Thread(target=complete_through_a, daemon=True)
        t.start()
        assert receiver.hung.wait(20), "coordinator A never tried to deliver"
        os.kill(a.proc.pid, signal.SIGKILL)
        a.proc.wait(timeout=10)
        t.join(timeout=10)
        assert "a" not in answer or answer["a"][0] != 200, answer
        head = store.s3().head_object(Bucket="hooks", Key=up["key"])
        assert head["ContentLength"] == len(body), "the store had completed the upload"
        assert receiver.events("upload.completed") == []

        # The client retries Complete through B: the store answers it as the first, and B
        # delivers the event.
        receiver.hang.clear()
        status, done = b.api("POST", f"/v1/uploads/{up['id']}/complete", {"parts": parts}, token=API_KEY)
        assert status == 200, done
        assert done["hook_pending"] is False and done["size"] == len(body)
        [(msg_id, completed)] = receiver.events("upload.completed")
        assert msg_id.startswith("msg_")
        data = completed["data"]
        assert data["key"] == up["key"] and data["size"] == len(body)
        assert data["etag"] == done["etag"] == head["ETag"]
        assert data["strategy"] == "multipart" and data["s3_upload_id"]
        # The same upload through either replica has one id.
        created_ids = {p["data"]["upload_id"] for _, p in receiver.wait_for("upload.created")}
        assert created_ids == {data["upload_id"]}
    finally:
        receiver.hang.clear()
        receiver.close()
        store.stop()


def test_a_client_that_leaves_during_complete_still_has_the_application_told(start_serve, tmp_path):
    """The client sends Complete and goes away while the store is still answering it (every
    store request is held 600 ms): the upload completes and the application hears of it."""
    receiver = Receiver(fail=0)
    store = ExternalStore(tmp_path / "store", "--fault-latency-ms", "600")
    try:
        s = start_serve(hook_args(receiver, "--s3-endpoint", store.endpoint, "--bucket", "hooks"),
                        env=store.env())
        body = os.urandom(4000)
        status, up = s.api("POST", "/v1/uploads", {"size": len(body), "filename": "left.bin"}, token=API_KEY)
        assert status == 201 and up["strategy"] == "single", up
        assert put(up["url"], up["headers"], body)[0] == 200
        host, port = s.coordinator.removeprefix("http://").rsplit(":", 1)
        request = (f"POST /v1/uploads/{up['id']}/complete HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: 2\r\n\r\n{{}}").encode()
        sock = socket.create_connection((host, int(port)))
        sock.sendall(request)
        time.sleep(0.2)
        sock.close()
        [(_, completed)] = receiver.wait_for("upload.completed", timeout=20)
        assert completed["data"]["key"] == up["key"] and completed["data"]["size"] == len(body)
        assert store.s3().head_object(Bucket="hooks", Key=up["key"])["ContentLength"] == len(body)
    finally:
        receiver.close()
        store.stop()


class LateReceiver(Receiver):
    """Refuses every `upload.completed` delivery until `open_after` seconds after the first
    one arrived (`None`: forever); other events are accepted at once."""

    def __init__(self, open_after):
        super().__init__(fail=0)
        self.open_after = open_after
        self.first_completed = None
        self.completed_refusals = 0
        outer = self
        handler = self.server.RequestHandlerClass
        original = handler.do_POST

        def do_post(h):
            if h.path == "/events":
                raw = h.rfile.read(int(h.headers.get("Content-Length", 0)))
                payload = json.loads(raw)
                if payload["type"] == "upload.completed":
                    with outer.lock:
                        now = time.time()
                        outer.first_completed = outer.first_completed or now
                        closed = outer.open_after is None or now < outer.first_completed + outer.open_after
                        if closed:
                            outer.completed_refusals += 1
                    if closed:
                        return h.answer(503)
                # Verified and recorded as the plain receiver does, from the bytes read.
                h.rfile = __import__("io").BytesIO(raw)
            return original(h)

        handler.do_POST = do_post


def upload_through(s, path, *more):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))}
    env["HOIST_TOKEN"] = API_KEY
    return subprocess.run([HOIST_BIN, "upload", "--json", "--server", s.coordinator, *more, str(path)],
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_completes_again_until_the_application_is_told(start_serve, tmp_path):
    # The first Complete spends its second of delivery on refusals and answers hook_pending;
    # the receiver opens 1.5 s after its first delivery, so the CLI's repeated Complete
    # (1 s later) delivers the event, and the upload ends with the application told.
    receiver = LateReceiver(open_after=1.5)
    try:
        s = start_serve(hook_args(receiver, "--hook-deliver-within", "1", "--part-size", "5MiB",
                                  "--single-put-threshold", "5MiB"))
        for name, size in [("small.bin", 3000), ("large.bin", 11 * MIB)]:
            receiver.first_completed = None
            src = tmp_path / name
            src.write_bytes(os.urandom(size))
            r = upload_through(s, src, "--hook-retry-wait", "1s", "--hook-retries", "3")
            assert r.returncode == 0, r.stderr
            events = [json.loads(line) for line in r.stdout.splitlines()]
            pending = [e for e in events if e["event"] == "hook_pending"]
            assert pending and pending[0]["completes"] == 1 and pending[0]["delay_ms"] == 1000, events
            result = events[-1]
            assert result["event"] == "result" and result["hook_pending"] is False, result
            assert result["multipart"] is (size > 5 * MIB)
            told = [p["data"] for _, p in receiver.events("upload.completed") if p["data"]["key"] == result["key"]]
            assert len(told) == 1 and told[0]["size"] == size, told
        assert receiver.completed_refusals >= 2
    finally:
        receiver.close()


def test_the_cli_says_when_the_application_was_never_told(start_serve, tmp_path):
    receiver = LateReceiver(open_after=None)
    try:
        s = start_serve(hook_args(receiver, "--hook-deliver-within", "1"))
        src = tmp_path / "notes.txt"
        src.write_bytes(b"never told\n" * 100)
        r = upload_through(s, src, "--hook-retry-wait", "200ms", "--hook-retries", "1")
        # The object is stored: the upload succeeds, and says the application was not told.
        assert r.returncode == 0, r.stderr
        events = [json.loads(line) for line in r.stdout.splitlines()]
        assert [e["completes"] for e in events if e["event"] == "hook_pending"] == [1, 2], events
        assert events[-1]["hook_pending"] is True
        assert "could not tell its application" in r.stderr, r.stderr
        head = s.s3().head_object(Bucket="uploads", Key=events[-1]["key"])
        assert head["ContentLength"] == src.stat().st_size
        assert receiver.events("upload.completed") == []
    finally:
        receiver.close()
