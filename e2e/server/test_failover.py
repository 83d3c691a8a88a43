"""Many coordinators, one upload: `hoist upload --server A,B` moves to B when A dies (kill -9)
mid-upload and finishes the same upload; an upload interrupted through A resumes through B,
sending only the missing parts; `--resume` with nothing to resume says so, or fails when
strict. The coordinators share a token secret and one external `hoist store`, as replicas
behind a load balancer do."""

import hashlib
import json
import os
import signal
import subprocess
import threading

from server_e2e import HOIST_BIN
from test_hooks import ExternalStore

TOKEN_SECRET = "token-secret-shared-by-both-replicas-01"
API_KEY = "failover-api-key"
MIB = 1024 * 1024
PART = 5 * MIB
PARTS = 48


def replicas(start_serve, store, n=2):
    args = ["--api-key", API_KEY, "--s3-endpoint", store.endpoint, "--bucket", "hooks", "--token-secret", TOKEN_SECRET,
            "--part-size", "5MiB", "--single-put-threshold", "5MiB"]
    return [start_serve(args, env=store.env()) for _ in range(n)]


def make_file(path, size):
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.md5(data).hexdigest()


class Upload:
    """`hoist upload --json` running in the background; `events` fills as it prints."""

    def __init__(self, servers, path, state_dir, *more):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))}
        env["HOIST_TOKEN"] = API_KEY
        self.proc = subprocess.Popen(
            [HOIST_BIN, "upload", "--json", "--server", ",".join(servers), "--state-dir", str(state_dir),
             "--concurrency", "2", *more, str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.events = []
        self.stderr = []
        self.reached = {}
        self.readers = [
            threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True),
            threading.Thread(target=self._read, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self):
        for line in self.proc.stdout:
            e = json.loads(line)
            if e["event"] in ("error", "result"):
                for reached in self.reached.values():
                    reached.set()
            self.events.append(e)
            for fraction, reached in list(self.reached.items()):
                if e["event"] == "part_done" and e["done_bytes"] >= fraction * PART * PARTS:
                    reached.set()

    def when(self, fraction):
        self.reached[fraction] = threading.Event()
        return self.reached[fraction]

    def wait(self, timeout=300):
        """The exit code, once everything the upload printed has been read."""
        code = self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=30)
        return code

    def sent(self):
        return [e["number"] for e in self.events if e["event"] == "part_done"]

    def result(self):
        return next(e for e in self.events if e["event"] == "result")


def stored_md5(store, key):
    return hashlib.md5(store.s3().get_object(Bucket="hooks", Key=key)["Body"].read()).hexdigest()


def test_a_coordinator_killed_mid_upload_is_replaced_by_the_next(start_serve, tmp_path):
    store = ExternalStore(tmp_path / "store")
    try:
        a, b = replicas(start_serve, store)
        src = tmp_path / "big.bin"
        md5 = make_file(src, PART * PARTS)
        up = Upload([a.coordinator, b.coordinator], src, tmp_path / "state")
        at_40 = up.when(0.4)
        assert at_40.wait(120), (up.events[-3:], "".join(up.stderr))
        os.kill(a.proc.pid, signal.SIGKILL)
        a.proc.wait(timeout=10)
        assert up.wait() == 0, "".join(up.stderr)
        result = up.result()
        assert result["multipart"] is True and result["size"] == PART * PARTS
        moves = [e for e in up.events if e["event"] == "failover"]
        assert len(moves) == 1, moves
        assert moves[0]["from"] == a.coordinator and moves[0]["to"] == b.coordinator
        # Told once, on standard error.
        assert "".join(up.stderr).count("is not answering") == 1, "".join(up.stderr)
        # The same upload, not a new one: every part once (parts in flight go to the store, not
        # to the coordinator, so none is sent again).
        sent = up.sent()
        assert sorted(set(sent)) == list(range(1, PARTS + 1))
        assert len(sent) - len(set(sent)) <= 2, sent
        assert stored_md5(store, result["key"]) == md5
        assert store.s3().list_multipart_uploads(Bucket="hooks").get("Uploads", []) == []
    finally:
        store.stop()


def test_an_upload_interrupted_through_one_coordinator_resumes_through_another(start_serve, tmp_path):
    store = ExternalStore(tmp_path / "store")
    try:
        a, b = replicas(start_serve, store)
        src = tmp_path / "big.bin"
        md5 = make_file(src, PART * PARTS)
        state = tmp_path / "state"
        first = Upload([a.coordinator], src, state)
        assert first.when(0.4).wait(120), "".join(first.stderr)
        first.proc.send_signal(signal.SIGINT)
        assert first.wait() != 0
        done_before = set(first.sent())
        assert 0 < len(done_before) < PARTS

        second = Upload([b.coordinator], src, state, "--resume=strict")
        assert second.wait() == 0, "".join(second.stderr)
        result = second.result()
        started = next(e for e in second.events if e["event"] == "started")
        assert started["resumed_parts"] >= len(done_before) - 2, (started, len(done_before))
        resent = set(second.sent())
        # Only the missing parts: at most those in flight when the first run stopped again.
        assert resent.isdisjoint(done_before) or len(resent & done_before) <= 2, resent & done_before
        assert result["parts_resumed"] + result["parts_sent"] == PARTS, result
        assert stored_md5(store, result["key"]) == md5
        assert store.s3().list_multipart_uploads(Bucket="hooks").get("Uploads", []) == []
    finally:
        store.stop()


def test_resume_with_nothing_to_resume_says_so_or_fails_when_strict(start_serve, tmp_path):
    store = ExternalStore(tmp_path / "store")
    try:
        [a] = replicas(start_serve, store, n=1)
        src = tmp_path / "small.bin"
        md5 = make_file(src, 2 * PART)
        strict = Upload([a.coordinator], src, tmp_path / "state", "--resume=strict")
        assert strict.wait() == 2, "".join(strict.stderr)
        assert "nothing to resume" in "".join(strict.stderr)
        assert not any(e["event"] == "part_done" for e in strict.events)
        assert store.s3().list_objects_v2(Bucket="hooks").get("KeyCount", 0) == 0

        auto = Upload([a.coordinator], src, tmp_path / "state", "--resume")
        assert auto.wait() == 0, "".join(auto.stderr)
        err = "".join(auto.stderr)
        assert "nothing to resume" in err and "starting a new upload" in err, err
        assert [e["event"] for e in auto.events].count("nothing_to_resume") == 1
        assert stored_md5(store, auto.result()["key"]) == md5
    finally:
        store.stop()


def test_a_dead_first_coordinator_is_passed_over(start_serve, tmp_path):
    store = ExternalStore(tmp_path / "store")
    try:
        a, b = replicas(start_serve, store)
        dead = a.coordinator
        a.stop()
        src = tmp_path / "mid.bin"
        md5 = make_file(src, 3 * PART)
        up = Upload([dead, b.coordinator], src, tmp_path / "state")
        assert up.wait() == 0, "".join(up.stderr)
        assert [e["to"] for e in up.events if e["event"] == "failover"] == [b.coordinator]
        assert stored_md5(store, up.result()["key"]) == md5
    finally:
        store.stop()


def s3_call(method, url, headers, body=b""):
    """One request on a URL a coordinator signed: (status, headers, body)."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_the_uppy_routes_and_s3_sign_work_across_replicas(start_serve, tmp_path):
    import re
    from urllib.parse import quote
    store = ExternalStore(tmp_path / "store")
    try:
        a, b = replicas(start_serve, store)
        body = os.urandom(PART + 1000)
        first, second = body[:PART], body[PART:]

        # Companion routes (@uppy/aws-s3 4.x/5.x): create on A, sign on B, list on A, complete on B.
        status, up = a.api("POST", "/s3/multipart", {"filename": "uppy.bin", "type": "application/octet-stream"},
                           token=API_KEY)
        assert status == 200, up
        upload_id, key = up["uploadId"], up["key"]
        q = f"key={quote(key, safe='')}"
        status, signed = b.api("GET", f"/s3/multipart/{quote(upload_id, safe='')}/batch?{q}&partNumbers=1,2",
                               token=API_KEY)
        assert status == 200, signed
        etags = []
        for n, chunk in [(1, first), (2, second)]:
            code, headers, _ = s3_call("PUT", signed["presignedUrls"][str(n)], {}, chunk)
            assert code == 200
            etags.append({"PartNumber": n, "ETag": headers["etag"]})
        status, listed = a.api("GET", f"/s3/multipart/{quote(upload_id, safe='')}?{q}", token=API_KEY)
        assert status == 200 and [p["PartNumber"] for p in listed] == [1, 2], listed
        status, done = b.api("POST", f"/s3/multipart/{quote(upload_id, safe='')}/complete?{q}", {"parts": etags},
                             token=API_KEY)
        assert status == 200, done
        assert stored_md5(store, key) == hashlib.md5(body).hexdigest()

        # POST /s3/sign (@uppy/aws-s3 6.x signRequest): the browser's own S3 calls, each signed
        # by either replica.
        def sign(s, **fields):
            status, answer = s.api("POST", "/s3/sign", fields, token=API_KEY)
            assert status == 200, answer
            return answer

        created = sign(a, method="POST", key="six.bin")
        code, _, xml = s3_call("POST", created["url"], created.get("headers") or {})
        assert code == 200, xml
        s3_upload = re.search(rb"<UploadId>([^<]+)</UploadId>", xml).group(1).decode()
        key6 = created["key"]
        parts = []
        for n, chunk, s in [(1, first, b), (2, second, a)]:
            signed = sign(s, method="PUT", key=key6, uploadId=s3_upload, partNumber=n)
            code, headers, _ = s3_call("PUT", signed["url"], signed.get("headers") or {}, chunk)
            assert code == 200
            parts.append((n, headers["etag"]))
        completion = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in parts) + "</CompleteMultipartUpload>"
        signed = sign(b, method="POST", key=key6, uploadId=s3_upload)
        code, _, xml = s3_call("POST", signed["url"], signed.get("headers") or {}, completion.encode())
        assert code == 200 and b"<ETag>" in xml, xml
        assert stored_md5(store, key6) == hashlib.md5(body).hexdigest()
    finally:
        store.stop()


def test_a_direct_upload_resumes_through_another_endpoint_of_the_same_store(tmp_path):
    # Direct mode: the journal names the bucket and key, not the endpoint, so the same store
    # reached under another name (localhost instead of 127.0.0.1) continues the upload.
    store = ExternalStore(tmp_path / "store")
    try:
        src = tmp_path / "direct.bin"
        md5 = make_file(src, PART * 24)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))}
        env.update(store.env())

        def run(endpoint, *more):
            return subprocess.Popen(
                [HOIST_BIN, "upload", "--json", "--endpoint", endpoint, "--state-dir", str(tmp_path / "state"),
                 "--part-size", "5MiB", "--concurrency", "2", *more, str(src), "s3://hooks/direct.bin"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

        first = run(store.endpoint)
        done = 0
        for line in first.stdout:
            e = json.loads(line)
            if e["event"] == "part_done":
                done += 1
                if done == 10:
                    first.send_signal(signal.SIGINT)
                    break
        first.wait(timeout=60)
        assert first.returncode != 0
        other = store.endpoint.replace("127.0.0.1", "localhost")
        assert other != store.endpoint
        second = run(other, "--resume=strict")
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        result = [json.loads(l) for l in out.splitlines()][-1]
        assert result["parts_resumed"] >= 10 and result["parts_resumed"] + result["parts_sent"] == 24, result
        assert stored_md5(store, "direct.bin") == md5
    finally:
        store.stop()
