"""`hoist upload --server` end to end: integrity through a coordinator (`hoist serve` in front
of a `hoist store` process), checked with boto3 and a CRC-64/NVME computed here."""

import base64
import json
import signal
import subprocess

from client_e2e import (BUCKET, HOIST_BIN, Coordinator, crc64nvme, killed_after, object_md5,
                        resume_replacing_a_part, write_random)

MIB = 1 << 20


def events(stdout):
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


def b64_crc64(value):
    return base64.b64encode(value.to_bytes(8, "big")).decode()


def upload_args(coordinator, src, *extra):
    return [HOIST_BIN, "upload", "--json", "--server", coordinator.url, "--token", Coordinator.API_KEY,
            *extra, str(src)]


def cli_env(tmp_path):
    return {"HOIST_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}


def test_reference_crc64nvme():
    assert crc64nvme(b"123456789") == 0xAE8B14860A799888
    assert crc64nvme(b"6789", crc64nvme(b"12345")) == crc64nvme(b"123456789")


def test_multipart_through_the_coordinator_is_a_full_object_crc64nvme(store, start_coordinator, tmp_path):
    coordinator = start_coordinator(store)
    src = tmp_path / "m.bin"
    size = 2 * 5 * MIB + 4099
    md5 = write_random(src, size, seed=11)
    r = subprocess.run(upload_args(coordinator, src), env=cli_env(tmp_path), capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = events(r.stdout)[-1]
    assert result["event"] == "result" and result["multipart"], result

    want = b64_crc64(crc64nvme(src.read_bytes()))
    assert result["checksum"] == want, result
    head = store.client().head_object(Bucket=BUCKET, Key=result["key"], ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == want
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert head["ContentLength"] == size
    assert object_md5(store.client(), result["key"]) == (md5, size)


def test_single_put_through_the_coordinator_is_checked_too(store, start_coordinator, tmp_path):
    coordinator = start_coordinator(store)
    src = tmp_path / "s.bin"
    write_random(src, 700_001, seed=12)
    r = subprocess.run(upload_args(coordinator, src), env=cli_env(tmp_path), capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    result = events(r.stdout)[-1]
    assert not result["multipart"]
    want = b64_crc64(crc64nvme(src.read_bytes()))
    assert result["checksum"] == want, result
    head = store.client().head_object(Bucket=BUCKET, Key=result["key"], ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == want


def test_a_part_the_store_holds_with_another_checksum_fails_with_the_integrity_code(start_store, start_coordinator,
                                                                                   tmp_path):
    # Slow enough to interrupt after the first part, as test_ctrl_c does in direct mode.
    store = start_store(["--fault-bandwidth", "4MiB"])
    coordinator = start_coordinator(store)
    src = tmp_path / "r.bin"
    write_random(src, 4 * 5 * MIB, seed=13)
    env = cli_env(tmp_path)
    args = upload_args(coordinator, src, "--concurrency", "2")
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in p.stdout:
        if json.loads(line)["event"] == "part_done":
            break
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=30)
    assert p.returncode == 130

    # The resume journal now says one stored part has another checksum than the store's (a
    # damaged journal, or a client whose memory failed): completion must not pass.
    journals = list((tmp_path / "state").rglob("*.json"))
    assert len(journals) == 1, journals
    journal = json.loads(journals[0].read_text())
    number, part = next(iter(journal["parts"].items()))
    assert part["checksum"] == b64_crc64(crc64nvme(src.read_bytes()[(int(number) - 1) * 5 * MIB:][:part["size"]]))
    part["checksum"] = b64_crc64(crc64nvme(b"other bytes"))
    journals[0].write_text(json.dumps(journal))

    r = subprocess.run([*args[:2], "--resume", *args[2:]], env=env, capture_output=True, timeout=300)
    last = events(r.stdout)[-1]
    assert r.returncode == 5, r.stderr
    assert last["event"] == "error" and last["kind"] == "integrity", last
    assert "checksum" in last["message"], last
    client = store.client()
    # Aborted, and no object was made.
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_a_resumed_part_replaced_behind_the_coordinator_is_sent_again_when_it_refuses_the_etags(
        start_store, start_coordinator, tmp_path):
    # Through the coordinator, the resume takes over the parts the store lists; while it sends
    # the rest, another writer replaces one of them in the store. The coordinator checks the
    # Complete's ETags against the store's listing and refuses with `etag_mismatch`; the CLI lists
    # the parts, sends the replaced one again from the file, and completes.
    store = start_store(["--fault-bandwidth", "12MiB"])
    coordinator = start_coordinator(store)
    src = tmp_path / "replaced.bin"
    size = 150 * MIB + 7
    md5 = write_random(src, size, seed=15)
    parts = -(-size // (5 * MIB))
    env = cli_env(tmp_path)
    args = upload_args(coordinator, src, "--concurrency", "3", "--key", "replaced.bin")
    killed_after(args, env, parts // 3)
    client = store.client()
    [upload] = client.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    # Of the planned size, so that the coordinator's check of sizes passes and its check of
    # ETags is what refuses.
    other = (b"another writer" * (5 * MIB // 14 + 1))[:5 * MIB]

    code, ev, stderr, replaced = resume_replacing_a_part([*args[:2], "--resume", *args[2:]], env, client, BUCKET,
                                                         upload, other, ChecksumCRC64NVME=b64_crc64(crc64nvme(other)))
    assert code == 0, stderr
    again = [e for e in ev if e["event"] == "sending_again"]
    assert [a["parts"] for a in again] == [[replaced]], ev
    assert "etag_mismatch" in again[0]["reason"], again
    after = ev[ev.index(again[0]):]
    assert [e["number"] for e in after if e["event"] == "part_done"] == [replaced]
    assert ev[-1]["event"] == "result"
    assert object_md5(client, ev[-1]["key"]) == (md5, size)
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
