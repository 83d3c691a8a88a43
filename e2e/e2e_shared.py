"""Helpers every end-to-end area uses: reproducible test files, an object's MD5 read back with
boto3, and an independent CRC-64/NVME. Each area's helper module puts this directory on
`sys.path` and imports from here."""

import base64
import hashlib
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
