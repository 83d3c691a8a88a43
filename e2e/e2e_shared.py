"""Helpers every end-to-end area uses: reproducible test files, an object's MD5 read back with
boto3, an independent CRC-64/NVME, and `hoist upload --json` killed or raced part-way. Each area's helper module puts this directory on
`sys.path` and imports from here."""

import base64
import hashlib
import json
import signal
import subprocess

MIB = 1 << 20


def _crc64nvme_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x9A6C9329AC4BC9B5 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC64NVME = _crc64nvme_table()


def crc64nvme(data, crc=0):
    """CRC-64/NVME (reflected, polynomial 0x9A6C9329AC4BC9B5), table-driven in plain Python:
    independent of the Rust implementations it checks. Pass the previous value to continue."""
    crc ^= 0xFFFFFFFFFFFFFFFF
    table = _CRC64NVME
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def crc64nvme_file_b64(path):
    """The file's CRC-64/NVME, base64 as S3 writes it."""
    crc = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            crc = crc64nvme(chunk, crc)
    return base64.b64encode(crc.to_bytes(8, "big")).decode()


def write_random(path, size, seed=1):
    """Deterministic bytes (a hash chain), written in 1 MiB blocks; returns the MD5."""
    md5 = hashlib.md5()
    block = hashlib.sha512(str(seed).encode()).digest() * (1 << 14)  # 1 MiB
    with open(path, "wb") as f:
        left, i = size, 0
        while left:
            chunk = (block[i % 64:] + block[: i % 64])[: min(left, len(block))]
            f.write(chunk)
            md5.update(chunk)
            left -= len(chunk)
            i += 1
    return md5.hexdigest()


def object_md5_in(client, bucket, key):
    """MD5 (hex) and size of an object, read back with the given boto3 client."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    md5, n = hashlib.md5(), 0
    for chunk in iter(lambda: body.read(MIB), b""):
        md5.update(chunk)
        n += len(chunk)
    return md5.hexdigest(), n


def stop_process(proc, timeout=15):
    """SIGTERM, then SIGKILL after `timeout` seconds; answers the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def killed_after(cmd, env, parts_done):
    """`cmd` (a `hoist upload --json` command line) killed with SIGKILL once it reported
    `parts_done` parts stored."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = 0
    for line in p.stdout:
        if json.loads(line)["event"] == "part_done":
            seen += 1
            if seen >= parts_done:
                break
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    assert p.returncode == -signal.SIGKILL


def resume_replacing_a_part(cmd, env, client, bucket, upload, body, **part_args):
    """Runs `cmd` (a `hoist upload --json --resume` command line) and, once it reports its first
    part stored, has boto3 replace with `body` the lowest-numbered part the resume took over
    from the store's listing of `upload` (a ListMultipartUploads entry). Answers the exit
    status, the events, stderr and the part replaced."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    events = []
    replaced = None
    key, upload_id = upload["Key"], upload["UploadId"]
    for line in p.stdout:
        events.append(json.loads(line))
        if replaced is None and events[-1]["event"] == "part_done":
            listed = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
            sent = {e["number"] for e in events if e["event"] == "part_done"}
            replaced = min({x["PartNumber"] for x in listed} - sent)
            client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=replaced, Body=body,
                               **part_args)
    returncode = p.wait(timeout=300)
    return returncode, events, p.stderr.read().decode(), replaced
