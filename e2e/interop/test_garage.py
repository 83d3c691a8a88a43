"""hoist against garage, an S3 server it did not write: uploads in both modes with every
checksum, kill -9 and --resume (ListParts as garage answers it), and the doctor diagnosing and
fixing a bucket. Everything is checked with boto3."""

import json
import signal
import subprocess
import sys

import pytest

from interop_e2e import (BUCKET, HOIST_BIN, MIB, REGION, crc64nvme_file_b64, killed_after, object_md5,
                         split_at_sending_again, write_random)


def upload(garage, *args, timeout=300):
    return subprocess.run([HOIST_BIN, "upload", *args], env=garage.env(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("checksum", ["crc64nvme", "crc32c", "sha256", "none"])
def test_direct_multipart_with_each_checksum(garage, tmp_path, checksum):
    src = tmp_path / "m.bin"
    size = 101 * MIB + 7  # above the 100 MiB single-PUT threshold: 6 parts of 20 MiB
    md5 = write_random(src, size, seed=1)
    key = f"direct/{checksum}.bin"
    r = upload(garage, "--json", "--part-size", "20MiB", "--checksum", checksum, str(src), f"s3://{BUCKET}/{key}")
    assert r.returncode == 0, r.stderr
    done = [json.loads(line) for line in r.stdout.splitlines()][-1]
    assert done["event"] == "result"
    client = garage.client()
    assert object_md5(client, key) == (md5, size)
    head = client.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head["ETag"].strip('"').endswith("-6")
    if checksum == "crc64nvme":
        # garage itself says the object's FULL_OBJECT CRC-64/NVME is the file's.
        assert head["ChecksumCRC64NVME"] == crc64nvme_file_b64(src)
        assert head["ChecksumType"] == "FULL_OBJECT"
    if checksum == "sha256":
        assert head["ChecksumSHA256"].endswith("-6")


def test_direct_single_put_and_standard_input(garage, tmp_path):
    src = tmp_path / "s.bin"
    md5 = write_random(src, 3 * MIB + 1, seed=2)
    assert upload(garage, str(src), f"s3://{BUCKET}/direct/single.bin").returncode == 0
    client = garage.client()
    assert object_md5(client, "direct/single.bin") == (md5, 3 * MIB + 1)
    assert "-" not in client.head_object(Bucket=BUCKET, Key="direct/single.bin")["ETag"]
    with open(src, "rb") as stdin:
        r = subprocess.run([HOIST_BIN, "upload", "-", f"s3://{BUCKET}/direct/stdin.bin"], env=garage.env(),
                           stdin=stdin, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert object_md5(client, "direct/stdin.bin") == (md5, 3 * MIB + 1)


def test_kill_9_then_resume_sends_only_missing_parts(garage, tmp_path):
    src = tmp_path / "big.bin"
    size = 400 * MIB
    md5 = write_random(src, size, seed=3)
    parts = size // (5 * MIB)
    env = garage.env(HOIST_STATE_DIR=str(tmp_path / "state"))
    args = ["--json", "--part-size", "5MiB", "--concurrency", "2", str(src), f"s3://{BUCKET}/resume.bin"]
    killed_after([HOIST_BIN, "upload", *args], env, parts // 4)
    client = garage.client()
    uploads = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert len(uploads) == 1
    stored = {x["PartNumber"] for x in client.list_parts(Bucket=BUCKET, Key="resume.bin",
                                                         UploadId=uploads[0]["UploadId"]).get("Parts", [])}
    assert parts // 4 <= len(stored) < parts, stored

    r = subprocess.run([HOIST_BIN, "upload", "--resume", *args], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    # Garage may finish a part cut off by the kill after the listing above, and lists such a
    # part even when it never finished committing it: the Complete then refuses it and the
    # CLI sends it again (`sending_again`), once. Before that, only the missing are sent.
    first_pass, again = split_at_sending_again(events)
    resumed = events[0]["resumed_parts"]
    assert not set(first_pass) & stored, "only the missing parts are sent"
    assert len(first_pass) == len(set(first_pass)) == parts - resumed and resumed >= len(stored)
    assert not set(again) & set(first_pass), "sent again: only parts taken over from the store"
    assert object_md5(client, "resume.bin") == (md5, size)
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


# Runs a command and prints its peak RSS in KiB (the last line of its standard error). The
# kernel counts in a child's peak RSS the memory of the process that forked it, as it was before
# the exec: measured from this test, the CLI's figure would include pytest's. This small
# process forks the CLI instead, so the figure is the CLI's own.
PEAK_RSS = """import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(p.pid, 0)
print(usage.ru_maxrss, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_memory_stays_near_concurrency_times_part_size(garage, tmp_path):
    # garage takes GetObjectAttributes, which it does not do, for a GetObject and answers with
    # the whole object; the CLI checks the parts with that call after completing, and must not
    # read the object back. Its peak memory stays near concurrency x part size (4 x 8 MiB).
    src = tmp_path / "memory.bin"
    size = 512 * MIB
    md5 = write_random(src, size, seed=11)
    r = subprocess.run([sys.executable, "-c", PEAK_RSS, HOIST_BIN, "upload", "--part-size", "8MiB",
                        "--concurrency", "4", str(src), f"s3://{BUCKET}/memory.bin"],
                       env=garage.env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    peak_mib = int(r.stderr.split()[-1]) / 1024
    print(f"\n[garage] 512 MiB in parts of 8 MiB, 4 at once: the CLI's peak memory {peak_mib:.0f} MiB")
    assert peak_mib < 160, f"peak memory {peak_mib:.0f} MiB for 4 x 8 MiB of part buffers"
    assert object_md5(garage.client(), "memory.bin") == (md5, size)


@pytest.fixture
def coordinator(garage, tmp_path):
    """`hoist serve` in front of garage, with an API key."""
    key = "hk_interop_" + "0123456789abcdef" * 2
    env = garage.env()
    args = [HOIST_BIN, "serve", "--listen", "127.0.0.1:0", "--s3-endpoint", garage.endpoint, "--region", REGION,
            "--bucket", BUCKET, "--api-key", key, "--data", str(tmp_path / "serve")]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = proc.stdout.readline()
    assert first.startswith("hoist coordinator listening on http://"), first
    url = first.strip().rsplit(" ", 1)[1]
    yield url, key
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


@pytest.mark.parametrize("checksum", ["crc64nvme", "sha256"])
def test_through_the_coordinator(garage, coordinator, tmp_path, checksum):
    url, key = coordinator
    src = tmp_path / "c.bin"
    size = 120 * MIB + 5
    md5 = write_random(src, size, seed=4)
    r = subprocess.run([HOIST_BIN, "upload", "--json", "--checksum", checksum, str(src), "--server", url,
                        "--token", key], capture_output=True, text=True, timeout=300,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    done = [json.loads(line) for line in r.stdout.splitlines()][-1]
    assert done["event"] == "result"
    stored_key = done["key"]
    client = garage.client()
    assert object_md5(client, stored_key) == (md5, size)
    head = client.head_object(Bucket=BUCKET, Key=stored_key, ChecksumMode="ENABLED")
    if checksum == "crc64nvme":
        assert head["ChecksumCRC64NVME"] == crc64nvme_file_b64(src)
    else:
        assert "ChecksumSHA256" in head


def test_doctor_finds_and_fixes_a_bucket_without_cors(garage):
    def doctor(*extra):
        return subprocess.run([HOIST_BIN, "doctor", "--endpoint", garage.endpoint, "--bucket", BUCKET,
                               "--region", REGION, "--origin", "http://app.example", *extra],
                              env=garage.env(), capture_output=True, text=True, timeout=120)
    before = doctor()
    assert before.returncode == 2, before.stdout
    assert "[fail] cors" in before.stdout
    assert "[ok  ] sigv4" in before.stdout and "[ok  ] sigv2" in before.stdout
    fixed = doctor("--fix")
    assert fixed.returncode == 0, fixed.stdout
    after = doctor()
    assert after.returncode == 0, after.stdout
    cors = garage.client().get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert any("http://app.example" in r["AllowedOrigins"] and "PUT" in r["AllowedMethods"] for r in cors)
