"""hoist against a three-node garage cluster on loopback (replication factor 3), and no-clobber
uploads there. garage 2.5 does not honour S3's conditional writes: a PUT or a
CompleteMultipartUpload with `If-None-Match: *` (or `If-Match`) on an existing key answers 200
and replaces the object. The first test records that, with boto3 and curl, so that a garage that
starts honouring them shows here. hoist must then never let a no-clobber upload replace an
object: `hoist upload --no-clobber` ends with exit code 8 before sending anything, and
`hoist serve` warns in its log and refuses no-clobber creates with 422 no_clobber_unsupported.

Opt-in like every garage test: skipped when garage is not installed
(`HOIST_TEST_GARAGE=1 ./scripts/test` builds it)."""

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from interop_e2e import BUCKET, HOIST_BIN, MIB, REGION, object_md5, write_random

EXIT_UNSUPPORTED = 8
PROBE_PREFIX = ".hoist-probe/"


def upload(cluster, *args, endpoint=None, timeout=300):
    env = cluster.env(**({"AWS_ENDPOINT_URL": endpoint} if endpoint else {}))
    return subprocess.run([HOIST_BIN, "upload", *args], env=env, capture_output=True, text=True, timeout=timeout)


def probes_left(client):
    """The probe objects in the bucket (hoist deletes each of its own, retrying a busy node)."""
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=PROBE_PREFIX).get("Contents", [])]


def test_garage_ignores_conditional_writes(garage_cluster, tmp_path):
    client = garage_cluster.client()
    client.put_object(Bucket=BUCKET, Key="cond/put", Body=b"first")
    answer = client.put_object(Bucket=BUCKET, Key="cond/put", Body=b"second", IfNoneMatch="*")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert client.get_object(Bucket=BUCKET, Key="cond/put")["Body"].read() == b"second"
    # The same with a request no SDK shaped: curl's own SigV4.
    body = tmp_path / "third"
    body.write_bytes(b"third")
    status = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4", f"aws:amz:{REGION}:s3",
         "--user", f"{garage_cluster.access_key}:{garage_cluster.secret_key}", "-H", "If-None-Match: *",
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", str(body),
         f"{garage_cluster.endpoint}/{BUCKET}/cond/put"], capture_output=True, text=True, timeout=60).stdout
    assert status == "200"
    assert client.get_object(Bucket=BUCKET, Key="cond/put")["Body"].read() == b"third"
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key="cond/put")["UploadId"]
    etag = client.upload_part(Bucket=BUCKET, Key="cond/put", UploadId=upload_id, PartNumber=1, Body=b"mp")["ETag"]
    done = client.complete_multipart_upload(Bucket=BUCKET, Key="cond/put", UploadId=upload_id, IfNoneMatch="*",
                                            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert client.get_object(Bucket=BUCKET, Key="cond/put")["Body"].read() == b"mp"


def test_every_node_serves_an_upload_made_through_another(garage_cluster, tmp_path):
    src = tmp_path / "m.bin"
    size = 21 * MIB + 3
    md5 = write_random(src, size, seed=21)
    r = upload(garage_cluster, "--part-size", "5MiB", str(src), f"s3://{BUCKET}/cluster/m.bin",
               endpoint=garage_cluster.nodes[1]["endpoint"])
    assert r.returncode == 0, r.stderr
    for node in garage_cluster.nodes:
        assert object_md5(garage_cluster.client(node["endpoint"]), "cluster/m.bin") == (md5, size)


@pytest.mark.parametrize("size", [2 * MIB + 1, 12 * MIB + 5], ids=["single", "multipart"])
def test_upload_no_clobber_direct_is_refused_before_anything_is_sent(garage_cluster, tmp_path, size):
    client = garage_cluster.client()
    key = f"direct/kept-{size}.bin"
    client.put_object(Bucket=BUCKET, Key=key, Body=b"kept")
    src = tmp_path / "new.bin"
    write_random(src, size, seed=22)
    r = upload(garage_cluster, "--json", "--no-clobber", "--part-size", "5MiB", str(src), f"s3://{BUCKET}/{key}")
    assert r.returncode == EXIT_UNSUPPORTED, r.stderr
    assert "conditional writes" in r.stderr and "If-None-Match" in r.stderr, r.stderr
    last = json.loads(r.stdout.splitlines()[-1])
    assert (last["event"], last["kind"], last["exit_code"]) == ("error", "unsupported", EXIT_UNSUPPORTED)
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"kept"
    # Nothing was sent: no object at a new key, no multipart upload, no probe object left.
    r = upload(garage_cluster, "--no-clobber", str(src), f"s3://{BUCKET}/direct/never-{size}.bin")
    assert r.returncode == EXIT_UNSUPPORTED, r.stderr
    assert client.list_objects_v2(Bucket=BUCKET, Prefix="direct/never").get("KeyCount", 0) == 0
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert probes_left(client) == [], r.stderr
    # Without --no-clobber the upload goes through, as S3 would let it.
    assert upload(garage_cluster, "--part-size", "5MiB", str(src), f"s3://{BUCKET}/{key}").returncode == 0


class Serve:
    """`hoist serve` in front of a cluster node, with an API key; its log is kept."""

    API_KEY = "hk_cluster_" + "0123456789abcdef" * 2

    def __init__(self, cluster, tmp_path, *extra, node=1):
        self.log_path = tmp_path / "serve.log"
        self.log = open(self.log_path, "w")
        args = [HOIST_BIN, "serve", "--listen", "127.0.0.1:0", "--s3-endpoint", cluster.nodes[node]["endpoint"],
                "--region", REGION, "--bucket", BUCKET, "--api-key", self.API_KEY, "--data", str(tmp_path / "serve"),
                "--single-put-threshold", "5MiB", "--part-size", "5MiB", *extra]
        self.proc = subprocess.Popen(args, env=cluster.env(), stdout=subprocess.PIPE, stderr=self.log, text=True)
        first = self.proc.stdout.readline()
        assert first.startswith("hoist coordinator listening on http://"), first + self.logs()
        self.url = first.strip().rsplit(" ", 1)[1].rstrip("/")

    def create(self, body):
        req = urllib.request.Request(f"{self.url}/v1/uploads", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {self.API_KEY}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def logs(self):
        self.log.flush()
        return self.log_path.read_text()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)
        self.log.close()


def test_coordinator_refuses_no_clobber_uploads_and_says_why(garage_cluster, tmp_path):
    serve = Serve(garage_cluster, tmp_path)
    try:
        client = garage_cluster.client()
        client.put_object(Bucket=BUCKET, Key="served/kept.bin", Body=b"kept")
        for size in (5, 12 * MIB):
            status, body = serve.create({"size": size, "key": "served/kept.bin", "if_none_match": "*"})
            assert (status, body.get("code")) == (422, "no_clobber_unsupported"), body
            assert "conditional writes" in body["error"] and "If-None-Match" in body["error"], body
        # Said once in the log, when the store was first asked.
        assert serve.logs().count("does not honour conditional writes") == 1, serve.logs()
        # Through `hoist upload --server --no-clobber`: exit code 8, the object kept.
        src = tmp_path / "new.bin"
        write_random(src, 3 * MIB, seed=23)
        r = subprocess.run([HOIST_BIN, "upload", "--server", serve.url, "--token", Serve.API_KEY, "--key",
                            "served/kept.bin", "--no-clobber", str(src)], capture_output=True, text=True, timeout=120,
                           env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert r.returncode == EXIT_UNSUPPORTED, r.stderr
        assert "no_clobber_unsupported" in r.stderr, r.stderr
        assert client.get_object(Bucket=BUCKET, Key="served/kept.bin")["Body"].read() == b"kept"
        assert probes_left(client) == [], serve.logs()
        # An upload that may replace goes through.
        status, body = serve.create({"size": 5, "key": "served/other.bin"})
        assert status == 201, body
    finally:
        serve.stop()


def test_coordinator_with_no_clobber_for_every_upload_warns_at_start(garage_cluster, tmp_path):
    serve = Serve(garage_cluster, tmp_path, "--no-clobber", node=2)
    try:
        deadline = time.time() + 30
        while "does not honour conditional writes" not in serve.logs() and time.time() < deadline:
            time.sleep(0.1)
        assert "does not honour conditional writes" in serve.logs(), serve.logs()
        # Every upload is no-clobber, so every one is refused, the caller's wish aside.
        status, body = serve.create({"size": 5, "key": "served/any.bin"})
        assert (status, body.get("code")) == (422, "no_clobber_unsupported"), body
        assert garage_cluster.client().list_objects_v2(Bucket=BUCKET, Prefix="served/any").get("KeyCount", 0) == 0
    finally:
        serve.stop()
