"""`hoist upload` end to end: a real store process, the real CLI, boto3 to check."""

import base64
import json
import signal
import subprocess
import time

from client_e2e import (BUCKET, HOIST_BIN, crc64nvme, killed_after, object_md5, resume_replacing_a_part,
                        write_random)

MIB = 1 << 20


def run(env, *args, stdin=None, timeout=300):
    return subprocess.run([HOIST_BIN, "upload", *args], env=env, input=stdin, capture_output=True, timeout=timeout)


def events(stdout):
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


def test_file_round_trip_with_json_events(store, cli_env, tmp_path):
    src = tmp_path / "a.bin"
    md5 = write_random(src, 130 * MIB + 5)
    r = run(cli_env, "--json", str(src), f"s3://{BUCKET}/dir/")
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert ev[0]["event"] == "started" and ev[0]["multipart"] and ev[0]["total_bytes"] == 130 * MIB + 5
    done = [e for e in ev if e["event"] == "part_done"]
    assert len(done) == ev[0]["part_count"]
    result = ev[-1]
    assert result["event"] == "result" and result["key"] == "dir/a.bin" and result["checksum"]
    assert object_md5(store.client(), "dir/a.bin") == (md5, 130 * MIB + 5)
    head = store.client().head_object(Bucket=BUCKET, Key="dir/a.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == result["checksum"]
    # Not a terminal and no --json: no bar, one line of result.
    r = run(cli_env, str(src), f"s3://{BUCKET}/plain")
    assert r.returncode == 0 and r.stderr == b""
    assert r.stdout.decode().startswith(f"uploaded {BUCKET}/plain ")


def slow_store_env(start_store, tmp_path):
    """A store whose per-connection bandwidth limit makes an upload last long enough to act
    during it, and the CLI's environment for it (state kept under `tmp_path`)."""
    store = start_store(["--fault-bandwidth", "12MiB"])
    env = {"AWS_ACCESS_KEY_ID": "AKIDHOISTCLIENT", "AWS_SECRET_ACCESS_KEY": "clientE2eSecretKey0123456789abcdefghij",
           "AWS_ENDPOINT_URL": store.endpoint, "HOIST_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    return store, env


def test_kill_9_half_way_then_resume_sends_only_missing_parts(start_store, tmp_path):
    store, env = slow_store_env(start_store, tmp_path)
    src = tmp_path / "big.bin"
    size = 200 * MIB + 333
    md5 = write_random(src, size, seed=2)
    parts = -(-size // (5 * MIB))
    args = ["--json", "--part-size", "5MiB", "--concurrency", "3", str(src), f"s3://{BUCKET}/big.bin"]
    killed_after([HOIST_BIN, "upload", *args], env, parts // 2)
    client = store.client()
    uploads = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert len(uploads) == 1
    upload_id = uploads[0]["UploadId"]
    stored = {x["PartNumber"] for x in client.list_parts(Bucket=BUCKET, Key="big.bin", UploadId=upload_id).get("Parts", [])}
    assert parts // 2 <= len(stored) < parts, stored

    r = subprocess.run([HOIST_BIN, "upload", "--resume", *args], env=env, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    sent = [e["number"] for e in ev if e["event"] == "part_done"]
    # A part whose body had fully arrived when the client was killed can still be stored after
    # the listing above (S3 finishes such a request too): the resume then takes it over as
    # well. At most the parts in flight at the kill (three) can land that late.
    resumed = ev[0]["resumed_parts"]
    assert len(stored) <= resumed <= len(stored) + 3, (resumed, stored)
    assert not set(sent) & stored, "only the missing parts are sent again"
    assert len(sent) == len(set(sent)) == parts - resumed
    assert ev[-1]["parts_resumed"] == resumed
    assert object_md5(client, "big.bin") == (md5, size)
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_resumed_part_replaced_by_another_writer_is_sent_again_when_complete_refuses_it(start_store, tmp_path):
    # The resume takes over the parts the store lists; then, while it sends the rest, another
    # writer replaces one of them. S3 refuses the Complete (InvalidPart); the CLI lists the
    # parts, finds the one whose ETag changed, sends it again from the file and completes.
    store, env = slow_store_env(start_store, tmp_path)
    src = tmp_path / "replaced.bin"
    size = 120 * MIB + 7
    md5 = write_random(src, size, seed=5)
    parts = -(-size // (5 * MIB))
    args = ["--json", "--part-size", "5MiB", "--concurrency", "3", str(src), f"s3://{BUCKET}/replaced.bin"]
    killed_after([HOIST_BIN, "upload", *args], env, parts // 3)
    client = store.client()
    [upload] = client.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    # The upload asks for CRC-64/NVME on every part: the other writer sends it too.
    other = b"another writer" * (5 * MIB // 14)
    other_sum = base64.b64encode(crc64nvme(other).to_bytes(8, "big")).decode()

    code, ev, stderr, replaced = resume_replacing_a_part([HOIST_BIN, "upload", "--resume", *args], env, client,
                                                         BUCKET, upload, other, ChecksumCRC64NVME=other_sum)
    assert code == 0, stderr
    again = [e for e in ev if e["event"] == "sending_again"]
    assert [a["parts"] for a in again] == [[replaced]], ev
    assert "InvalidPart" in again[0]["reason"]
    assert f"sending part {replaced} again from the file" in stderr
    # Sent again after the refusal, once.
    after = ev[ev.index(again[0]):]
    assert [e["number"] for e in after if e["event"] == "part_done"] == [replaced]
    assert ev[-1]["event"] == "result"
    assert object_md5(client, "replaced.bin") == (md5, size)
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_standard_input_of_unknown_length(store, cli_env, tmp_path):
    src = tmp_path / "s.bin"
    for name, size in [("big-stdin", 17 * MIB + 3), ("small-stdin", 1234)]:
        md5 = write_random(src, size, seed=size)
        r = run(cli_env, "--json", "--part-size", "5MiB", "-", f"s3://{BUCKET}/{name}", stdin=src.read_bytes())
        assert r.returncode == 0, r.stderr
        ev = events(r.stdout)
        assert ev[0]["total_bytes"] is None or ev[0]["total_bytes"] == size
        assert ev[-1]["size"] == size and ev[-1]["multipart"] == (size > 5 * MIB)
        assert object_md5(store.client(), name) == (md5, size)
    # A pipe really of unknown length: generated by another process.
    gen = subprocess.Popen(["head", "-c", str(12 * MIB), "/dev/zero"], stdout=subprocess.PIPE)
    r = subprocess.run([HOIST_BIN, "upload", "--part-size", "5MiB", "-", f"s3://{BUCKET}/piped"], env=cli_env,
                       stdin=gen.stdout, capture_output=True, timeout=120)
    gen.wait()
    assert r.returncode == 0, r.stderr
    assert store.client().head_object(Bucket=BUCKET, Key="piped")["ContentLength"] == 12 * MIB


def test_exit_codes_tell_failures_apart(store, cli_env, tmp_path):
    src = tmp_path / "x.bin"
    write_random(src, 1000)
    assert run(cli_env, str(tmp_path / "missing"), f"s3://{BUCKET}/k").returncode == 2
    assert run(cli_env, str(src), "not-a-destination").returncode == 2
    assert run(cli_env, "--resume", "-", f"s3://{BUCKET}/k", stdin=b"x").returncode == 2
    bad = dict(cli_env, AWS_SECRET_ACCESS_KEY="wrong")
    r = run(bad, "--json", str(src), f"s3://{BUCKET}/k")
    assert r.returncode == 4
    assert events(r.stdout)[-1] == {**events(r.stdout)[-1], "event": "error", "kind": "auth", "exit_code": 4}
    # Nothing listens on port 9 of loopback (discard is not running): network failure.
    down = dict(cli_env, AWS_ENDPOINT_URL="http://127.0.0.1:9")
    t = time.monotonic()
    assert run(down, "--retries", "2", str(src), f"s3://{BUCKET}/k").returncode == 3
    assert time.monotonic() - t < 30
    assert run(cli_env, str(src), f"s3://no-such-bucket/k").returncode in (6,)
    help_text = subprocess.run([HOIST_BIN, "upload", "--help"], capture_output=True).stdout.decode()
    for code in ("0 ", "2 ", "3 ", "4 ", "5 ", "130"):
        assert f"  {code}" in help_text


def test_ctrl_c_exits_130_and_resume_finishes(start_store, tmp_path):
    store = start_store(["--fault-bandwidth", "8MiB"])
    env = {"AWS_ACCESS_KEY_ID": "AKIDHOISTCLIENT", "AWS_SECRET_ACCESS_KEY": "clientE2eSecretKey0123456789abcdefghij",
           "AWS_ENDPOINT_URL": store.endpoint, "HOIST_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    src = tmp_path / "c.bin"
    md5 = write_random(src, 120 * MIB, seed=4)
    args = ["--json", "--part-size", "5MiB", "--concurrency", "2", str(src), f"s3://{BUCKET}/c.bin"]
    p = subprocess.Popen([HOIST_BIN, "upload", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in p.stdout:
        if json.loads(line)["event"] == "part_done":
            break
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    last = json.loads(out.decode().splitlines()[-1])
    assert last["event"] == "error" and last["kind"] == "cancelled"
    assert b"--resume" in err
    r = subprocess.run([HOIST_BIN, "upload", "--resume", *args], env=env, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert events(r.stdout)[-1]["parts_resumed"] >= 1
    assert object_md5(store.client(), "c.bin") == (md5, 120 * MIB)
