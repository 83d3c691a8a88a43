"""The cluster tier: two `hoist serve` coordinators sharing a token secret, each signing for
the three nodes of a garage cluster on loopback (replication factor 3, `--s3-endpoint` given
all three), and `hoist upload` through them. Shown: 1 GiB through coordinator A with A killed
(SIGKILL) at about 40%, the CLI going on through B with the same upload; `--resume --server B`
after the client itself was killed while talking to A, sending only the missing parts; eight
uploads at once alternating coordinators, all intact, and `hoist gc` finding nothing left;
and, last, the garage node the coordinators sign for killed mid-upload, the upload finishing.

Each test prints its figures (parts sent twice, seconds to recover). Opt-in like every garage
test: skipped when garage is not installed (`scripts/test-cluster` builds it)."""

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from interop_e2e import (BUCKET, HOIST_BIN, MIB, REGION, object_md5, split_at_sending_again, stop_process,
                         write_random)

TOKEN_SECRET = "cluster-tier-token-secret-0123456789"
API_KEY = "cluster-tier-api-key"
PART = 8 * MIB


class Coordinator:
    def __init__(self, cluster, tmp, name):
        endpoints = ",".join(n["endpoint"] for n in cluster.nodes)
        env = cluster.env()
        env.pop("AWS_ENDPOINT_URL", None)
        self.stderr = []
        self.proc = subprocess.Popen(
            [HOIST_BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(tmp / name), "--s3-endpoint", endpoints,
             "--bucket", BUCKET, "--region", REGION, "--token-secret", TOKEN_SECRET, "--api-key", API_KEY,
             "--part-size", "8MiB", "--single-put-threshold", "8MiB"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        self.url = None
        for line in self.proc.stdout:
            if line.startswith("hoist coordinator listening on "):
                self.url = line.split()[-1].rstrip("/")
                break
        assert self.url, "".join(self.stderr)
        threading.Thread(target=lambda: self.proc.stdout.read(), daemon=True).start()

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        stop_process(self.proc)


class Upload:
    """`hoist upload --json` in the background; `events` fill as it prints."""

    def __init__(self, servers, path, state_dir, *more):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))}
        env["HOIST_TOKEN"] = API_KEY
        self.proc = subprocess.Popen(
            [HOIST_BIN, "upload", "--json", "--server", ",".join(servers), "--state-dir", str(state_dir),
             "--concurrency", "4", *more, str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.size = path.stat().st_size
        self.events, self.stderr, self.marks = [], [], []
        self.readers = [
            threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True),
            threading.Thread(target=self._read, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def wait(self, timeout):
        """The exit code, once everything the upload printed has been read."""
        code = self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=30)
        return code

    def _read(self):
        for line in self.proc.stdout:
            e = json.loads(line)
            e["at"] = time.monotonic()
            self.events.append(e)
            for fraction, reached in self.marks:
                if e["event"] in ("error", "result") or (
                        e["event"] == "part_done" and e["done_bytes"] >= fraction * self.size):
                    reached.set()

    def when(self, fraction):
        reached = threading.Event()
        self.marks.append((fraction, reached))
        return reached

    def sent(self):
        return [e["number"] for e in self.events if e["event"] == "part_done"]

    def result(self):
        return next(e for e in self.events if e["event"] == "result")

    def err(self):
        return "".join(self.stderr)


@pytest.fixture(scope="module")
def setup(garage_cluster, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("coordinators")
    a, b = Coordinator(garage_cluster, tmp, "a"), Coordinator(garage_cluster, tmp, "b")
    yield garage_cluster, a, b, tmp
    for c in (a, b):
        if c.proc.poll() is None:
            c.stop()


def test_a_coordinator_killed_at_40_percent_of_1_gib_is_replaced_without_restarting(setup, tmp_path):
    cluster, a, b, _ = setup
    src = tmp_path / "one-gib.bin"
    md5 = write_random(src, 1024 * MIB)
    up = Upload([a.url, b.url], src, tmp_path / "state")
    assert up.when(0.4).wait(600), up.err()
    killed = time.monotonic()
    a.kill()
    assert up.wait(900) == 0, up.err()
    result = up.result()
    sent = up.sent()
    twice = len(sent) - len(set(sent))
    after = [e["at"] for e in up.events if e["event"] == "part_done" and e["at"] > killed]
    print(f"\n[cluster] coordinator killed at 40% of 1 GiB: {len(sent)} part PUTs for {len(set(sent))} parts, "
          f"{twice} sent twice; next part stored {after[0] - killed:.2f} s after the kill")
    assert sorted(set(sent)) == list(range(1, 1024 * MIB // PART + 1))
    assert twice <= 4, sent
    assert [e for e in up.events if e["event"] == "failover"][0]["to"] == b.url
    assert object_md5(cluster.client(), result["key"])[0] == md5


def test_resume_through_b_after_the_client_was_killed_while_talking_to_a(setup, tmp_path):
    cluster, _, b, tmp = setup
    # A died in the test before: a coordinator of the same secret takes its place.
    a = Coordinator(cluster, tmp, "a2")
    try:
        src = tmp_path / "resume.bin"
        md5 = write_random(src, 256 * MIB)
        first = Upload([a.url], src, tmp_path / "state")
        assert first.when(0.4).wait(600), first.err()
        first.proc.kill()
        first.wait(10)
        stored_before = set(first.sent())
        second = Upload([b.url], src, tmp_path / "state", "--resume=strict")
        assert second.wait(900) == 0, second.err()
        result = second.result()
        # Garage lists a part whose connection the kill closed while it wrote its last record,
        # but cannot use it: the Complete refuses it, and the CLI sends such parts again once.
        first_pass, again = split_at_sending_again(second.events)
        print(f"\n[cluster] client killed at 40% through A, resumed through B: {result['parts_resumed']} parts "
              f"resumed, {len(first_pass)} sent, {len(again)} sent again after the Complete refused them")
        assert result["parts_resumed"] >= len(stored_before)
        assert not set(first_pass) & stored_before
        assert result["parts_resumed"] + len(first_pass) == 256 * MIB // PART
        assert not set(again) & set(first_pass)
        assert object_md5(cluster.client(), result["key"])[0] == md5
    finally:
        a.stop()


def test_eight_uploads_at_once_alternating_coordinators_leave_nothing_behind(setup, tmp_path):
    cluster, _, b, tmp = setup
    a = Coordinator(cluster, tmp, "a3")
    try:
        runs = []
        for i in range(8):
            src = tmp_path / f"file{i}.bin"
            md5 = write_random(src, (20 + 3 * i) * MIB + i)
            servers = [a.url, b.url] if i % 2 == 0 else [b.url, a.url]
            runs.append((Upload(servers, src, tmp_path / f"state{i}"), md5))
        for up, md5 in runs:
            assert up.wait(900) == 0, up.err()
            assert object_md5(cluster.client(), up.result()["key"])[0] == md5
        gc = subprocess.run([HOIST_BIN, "gc", "--json", "--bucket", BUCKET, "--older-than", "0s"],
                            env=cluster.env(), capture_output=True, text=True, timeout=120)
        assert gc.returncode == 0, gc.stderr
        report = json.loads(gc.stdout)
        assert report["uploads"] == [] and report["aborted"] == 0, report
        assert cluster.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    finally:
        a.stop()


def test_the_store_node_signed_for_killed_mid_upload(setup, tmp_path):
    cluster, _, b, _ = setup
    src = tmp_path / "node-dies.bin"
    md5 = write_random(src, 384 * MIB)
    up = Upload([b.url], src, tmp_path / "state")
    assert up.when(0.3).wait(600), up.err()
    node = cluster.nodes[0]  # the first endpoint: the one signed for
    killed = time.monotonic()
    os.kill(node["proc"].pid, signal.SIGKILL)
    node["proc"].wait(timeout=10)
    assert up.wait(900) == 0, up.err()
    sent = up.sent()
    after = [e["at"] for e in up.events if e["event"] == "part_done" and e["at"] > killed]
    retries = [e for e in up.events if e["event"] == "retrying"]
    print(f"\n[cluster] garage node signed for killed at 30%: {len(retries)} retries, "
          f"{len(sent) - len(set(sent))} parts sent twice; next part stored {after[0] - killed:.2f} s after the kill")
    assert "signing for another" in "".join(b.stderr), "".join(b.stderr)[-2000:]
    other = cluster.client(cluster.nodes[1]["endpoint"])
    assert object_md5(other, up.result()["key"])[0] == md5
