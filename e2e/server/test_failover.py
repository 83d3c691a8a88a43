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
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        threading.Thread(target=self._read, daemon=True).start()

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
        code = self.proc.wait(timeout=timeout)
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
