"""kill -9 in the middle of uploads: no torn object, multipart state intact, uploads resume."""

import hashlib
import http.client
import os
import random
import threading
import time
import urllib.parse

import pytest
from conftest import BUCKET

MIB = 1024 * 1024


def start_partial_put(url, declared, sent):
    """Opens a PUT to a presigned URL, declares `declared` bytes and sends only `sent`."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    conn.putrequest("PUT", f"{parsed.path}?{parsed.query}", skip_accept_encoding=True)
    conn.putheader("Content-Length", str(declared))
    conn.endheaders()
    conn.send(os.urandom(sent))
    return conn


def test_kill_mid_put_and_mid_part_then_resume(start_store, tmp_path):
    data = tmp_path / "data"
    store = start_store(data_dir=data)
    s3 = store.client()
    kept = os.urandom(3 * MIB)
    s3.put_object(Bucket=BUCKET, Key="kept.bin", Body=kept)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="resume.bin")["UploadId"]
    part1 = os.urandom(5 * MIB)
    etag1 = s3.upload_part(Bucket=BUCKET, Key="resume.bin", UploadId=upload_id, PartNumber=1, Body=part1)["ETag"]

    part_url = s3.generate_presigned_url(
        "upload_part", Params={"Bucket": BUCKET, "Key": "resume.bin", "UploadId": upload_id, "PartNumber": 2}, ExpiresIn=300
    )
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "torn.bin"}, ExpiresIn=300)
    replace_url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "kept.bin"}, ExpiresIn=300)
    open_conns = [
        start_partial_put(part_url, 64 * MIB, 8 * MIB),
        start_partial_put(put_url, 32 * MIB, 4 * MIB),
        start_partial_put(replace_url, 16 * MIB, 2 * MIB),
    ]
    time.sleep(0.5)  # let the store write some of each body to disk
    tmp_files = list((data / "tmp").iterdir())
    assert tmp_files, "the in-flight bodies should be streaming to temp files"
    store.kill9()
    for conn in open_conns:
        conn.close()

    store = start_store(data_dir=data)
    s3 = store.client()
    # No torn object: the interrupted new key does not exist, the overwritten key is intact.
    with pytest.raises(s3.exceptions.ClientError) as missing:
        s3.head_object(Bucket=BUCKET, Key="torn.bin")
    assert missing.value.response["Error"]["Code"] == "404"
    assert hashlib.md5(s3.get_object(Bucket=BUCKET, Key="kept.bin")["Body"].read()).digest() == hashlib.md5(kept).digest()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == ["kept.bin"]
    assert list((data / "tmp").iterdir()) == []

    # The committed part survived, the interrupted one left nothing.
    uploads = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [upload_id]
    parts = s3.list_parts(Bucket=BUCKET, Key="resume.bin", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, etag1, 5 * MIB)]

    # Resume: upload the rest and complete.
    part2 = os.urandom(MIB)
    etag2 = s3.upload_part(Bucket=BUCKET, Key="resume.bin", UploadId=upload_id, PartNumber=2, Body=part2)["ETag"]
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="resume.bin", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag1}, {"PartNumber": 2, "ETag": etag2}]},
    )
    body = s3.get_object(Bucket=BUCKET, Key="resume.bin")["Body"].read()
    assert hashlib.md5(body).digest() == hashlib.md5(part1 + part2).digest()


def test_kill_during_complete_is_all_or_nothing(start_store, tmp_path):
    data = tmp_path / "data"
    store = start_store(data_dir=data)
    s3 = store.client()
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="joined.bin")["UploadId"]
    parts, blobs = [], []
    for n in (1, 2, 3):
        blob = os.urandom(48 * MIB)
        blobs.append(blob)
        etag = s3.upload_part(Bucket=BUCKET, Key="joined.bin", UploadId=upload_id, PartNumber=n, Body=blob)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})

    def complete():
        try:
            s3.complete_multipart_upload(Bucket=BUCKET, Key="joined.bin", UploadId=upload_id, MultipartUpload={"Parts": parts})
        except Exception:  # the store dies under it
            pass

    worker = threading.Thread(target=complete)
    worker.start()
    time.sleep(0.05)
    store.kill9()
    worker.join(timeout=30)

    store = start_store(data_dir=data)
    s3 = store.client()
    whole = hashlib.md5(b"".join(blobs)).digest()
    try:
        body = s3.get_object(Bucket=BUCKET, Key="joined.bin")["Body"].read()
        assert hashlib.md5(body).digest() == whole, "a completed object must be whole"
    except s3.exceptions.NoSuchKey:
        # Not committed: the upload and all its parts are still there, and Complete works now.
        listed = s3.list_parts(Bucket=BUCKET, Key="joined.bin", UploadId=upload_id)["Parts"]
        assert [p["PartNumber"] for p in listed] == [1, 2, 3]
        s3.complete_multipart_upload(Bucket=BUCKET, Key="joined.bin", UploadId=upload_id, MultipartUpload={"Parts": parts})
        body = s3.get_object(Bucket=BUCKET, Key="joined.bin")["Body"].read()
        assert hashlib.md5(body).digest() == whole


def test_kill_at_random_moments_around_complete_leaves_pending_xor_complete(start_store, tmp_path):
    """kill -9 at random moments around CompleteMultipartUpload, again and again: after each
    restart the upload is either still pending (with every part, and Complete then works) or
    complete (the object whole, the upload no longer listed), never both and never neither."""
    data = tmp_path / "data"
    rounds = int(os.environ.get("HOIST_CRASH_ROUNDS", "30"))
    part1, part2 = os.urandom(5 * MIB), os.urandom(64 * 1024)
    whole = hashlib.md5(part1 + part2).digest()

    def prepared(s3, key):
        upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        parts = [
            {"PartNumber": n, "ETag": s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=n, Body=b)["ETag"]}
            for n, b in ((1, part1), (2, part2))
        ]
        return upload_id, parts

    # How long a Complete takes here, to aim the kills before, during and after its commit.
    store = start_store(data_dir=data)
    s3 = store.client()
    upload_id, parts = prepared(s3, "timing.bin")
    started = time.monotonic()
    s3.complete_multipart_upload(Bucket=BUCKET, Key="timing.bin", UploadId=upload_id, MultipartUpload={"Parts": parts})
    took = time.monotonic() - started

    outcomes = {"pending": 0, "complete": 0}
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    for i in range(rounds):
        key = f"round-{i}.bin"
        upload_id, parts = prepared(s3, key)
        worker = threading.Thread(
            target=lambda: _quietly(lambda: s3.complete_multipart_upload(
                Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})))
        worker.start()
        time.sleep(rng.uniform(0, 1.5 * took))
        store.kill9()
        worker.join(timeout=30)

        store = start_store(data_dir=data)
        s3 = store.client()
        listed = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", [])]
        try:
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            body = None
        if body is not None:
            assert hashlib.md5(body).digest() == whole, f"round {i}: a completed object must be whole"
            assert listed == [], f"round {i}: complete and still listed as pending"
            outcomes["complete"] += 1
        else:
            assert listed == [upload_id], f"round {i}: neither pending nor complete"
            numbers = [p["PartNumber"] for p in s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)["Parts"]]
            assert numbers == [1, 2], f"round {i}: parts lost: {numbers}"
            outcomes["pending"] += 1
    print(f"{rounds} kills around Complete (which takes {took * 1000:.1f} ms): {outcomes}")
    assert outcomes["pending"] + outcomes["complete"] == rounds


def _quietly(call):
    try:
        call()
    except Exception:  # the store dies under it
        pass
