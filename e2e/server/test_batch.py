"""The batch routes against a real `hoist serve`: a folder of 200 files created in one request,
sent to their presigned URLs, confirmed in one request, and read back with boto3 byte for
byte; the application's pre-create hook asked once per item; a rerun with `unless_stored`
skips every file that is stored and creates the one that changed."""

import base64
import hashlib
import json
import random
import sys
from concurrent.futures import ThreadPoolExecutor

from server_e2e import REPO, HookReceiver, put

sys.path.insert(0, str(REPO / "e2e"))
from e2e_shared import crc64nvme  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"batch hook secret for e2e tests").decode()
API_KEY = "batch-api-key-0123456789"
FILES = 200


def crc64_b64(data):
    return base64.b64encode(crc64nvme(data).to_bytes(8, "big")).decode()


def refuse_executables(payload):
    """The application's pre-create hook: no `.exe`, anything else as asked."""
    if payload["data"]["key"].endswith(".exe"):
        return 422, json.dumps({"reason": "no executables"}).encode()
    return 204, b""


def make_files(seed):
    rng = random.Random(seed)
    files = {}
    for i in range(FILES):
        path = f"album {i % 7}/été/{i:03d} photo ü.jpg"
        size = 0 if i == 0 else rng.randrange(1, 20_000)
        files[path] = rng.randbytes(size)
    return files


def item(path, data, **more):
    return {"path": path, "size": len(data), "content_type": "image/jpeg",
            "checksum": {"algorithm": "crc64nvme", "value": crc64_b64(data)}, **more}


def test_a_folder_of_200_files_is_created_sent_and_confirmed_in_two_requests(start_serve):
    receiver = HookReceiver(SECRET, fail=0, pre_create=refuse_executables)
    try:
        s = start_serve(["--api-key", API_KEY, "--hook-url", receiver.url + "/events",
                         "--hook-secret", SECRET, "--pre-create-url", receiver.url + "/pre"])
        files = make_files(1)
        items = [item(p, d) for p, d in files.items()]
        items.append({"path": "album 0/setup.exe", "size": 10})
        status, created = s.api("POST", "/v1/uploads/batch", {"uploads": items}, token=API_KEY)
        assert status == 200, created
        answers = created["uploads"]
        assert [a["status"] for a in answers] == [201] * FILES + [403], answers[-1]
        assert answers[-1]["error"]["code"] == "refused"
        assert answers[-1]["error"]["error"] == "no executables"
        prefix = created["prefix"]
        assert prefix.startswith("files/") and prefix.endswith("/"), created
        ups = [a["upload"] for a in answers[:FILES]]
        assert [u["key"] for u in ups] == [prefix + p for p in files]
        assert all(u["strategy"] == "single" for u in ups)

        # The application was asked once per item, each as the batch route.
        asked = receiver.pre_creates
        assert len(asked) == FILES + 1, len(asked)
        assert {p["data"]["route"] for p in asked} == {"/v1/uploads/batch"}
        assert sorted(p["data"]["key"] for p in asked) == sorted(
            [prefix + p for p in files] + [prefix + "album 0/setup.exe"])
        assert {p["data"]["filename"] for p in asked} >= {"000 photo ü.jpg", "setup.exe"}

        def send(pair):
            u, data = pair
            return put(u["url"], u["headers"], data)[0]

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(send, zip(ups, files.values()))) == {200}

        status, done = s.api("POST", "/v1/uploads/batch/complete",
                             {"uploads": [{"id": u["id"]} for u in ups]}, token=API_KEY)
        assert status == 200, done
        assert [d["status"] for d in done["uploads"]] == [200] * FILES, done
        for d, data in zip(done["uploads"], files.values()):
            assert d["completed"]["size"] == len(data)
            assert d["completed"]["checksum"] == crc64_b64(data)
            assert d["completed"]["hook_pending"] is False

        # Read back with boto3: every file, byte for byte, and nothing else in the folder.
        s3 = s.s3()
        listed = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="uploads", Prefix=prefix):
            listed += [o["Key"] for o in page.get("Contents", [])]
        assert sorted(listed) == sorted(prefix + p for p in files)
        for path, data in files.items():
            got = s3.get_object(Bucket="uploads", Key=prefix + path)
            assert got["Body"].read() == data, path
            assert got["ContentType"] == "image/jpeg"
        assert len(receiver.wait_for("upload.created", FILES)) == FILES
        completed = receiver.wait_for("upload.completed", FILES)
        assert {p["data"]["route"] for _, p in completed} == {"/v1/uploads/batch/complete"}

        # A rerun into the same folder skips what is stored and creates what changed.
        changed = "album 3/été/003 photo ü.jpg"
        files2 = dict(files)
        files2[changed] = files[changed][::-1] + b"!"
        rerun = [item(p, d, unless_stored={"md5": hashlib.md5(d).hexdigest()})
                 for p, d in files2.items()]
        status, again = s.api("POST", "/v1/uploads/batch",
                              {"folder": created["folder"], "uploads": rerun}, token=API_KEY)
        assert status == 200, again
        assert again["prefix"] == prefix and again["folder"] == created["folder"]
        by_path = dict(zip(files2, again["uploads"]))
        assert by_path.pop(changed)["status"] == 201
        assert {a["status"] for a in by_path.values()} == {200}
        for path, a in by_path.items():
            head = s3.head_object(Bucket="uploads", Key=prefix + path)
            assert a["skipped"] == {"key": prefix + path, "etag": head["ETag"],
                                    "size": len(files[path])}
        # Skipped items ask nothing of the application.
        assert len(receiver.pre_creates) == FILES + 2
    finally:
        receiver.close()


def test_a_folder_token_is_refused_to_another_caller_and_when_tampered(start_serve):
    s = start_serve(["--api-key", API_KEY, "--api-key", "another-key-0123456789"])
    status, first = s.api("POST", "/v1/uploads/batch",
                          {"uploads": [{"path": "a/b c.txt", "size": 3}]}, token=API_KEY)
    assert status == 200, first
    folder = first["folder"]
    tampered = folder[:10] + ("A" if folder[10] != "A" else "B") + folder[11:]
    for token, key in [(tampered, API_KEY), (folder, "another-key-0123456789")]:
        status, e = s.api("POST", "/v1/uploads/batch",
                          {"folder": token, "uploads": [{"path": "x", "size": 3}]}, token=key)
        assert status == 403 and e["code"] == "bad_folder", e
    status, e = s.api("POST", "/v1/uploads/batch", {"uploads": [{"size": 1}] * 1001}, token=API_KEY)
    assert status == 400 and e["field"] == "uploads" and "1000" in e["error"], e
    # The folder token never appears whole in the log.
    log = "".join(s.stderr)
    assert folder not in log
