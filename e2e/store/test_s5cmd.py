"""s5cmd, an independent Go client: a 1 GiB multipart upload and download, MD5 checked."""

import hashlib
import os
import re
import subprocess

from conftest import BUCKET

GIB = 1024 * 1024 * 1024


def s5cmd(store, *args, timeout=900):
    result = subprocess.run(
        ["s5cmd", "--endpoint-url", store.endpoint, *args],
        env=store.env(), capture_output=True, text=True, timeout=timeout,
    )
    assert result.returncode == 0, f"s5cmd {args} failed: {result.stdout} {result.stderr}"
    return result.stdout


def write_random(path, size):
    md5 = hashlib.md5()
    chunk = os.urandom(8 * 1024 * 1024)
    with open(path, "wb") as out:
        written = 0
        while written < size:
            # Vary each chunk cheaply so parts differ.
            block = written.to_bytes(8, "little") + chunk[8:]
            block = block[: size - written]
            out.write(block)
            md5.update(block)
            written += len(block)
    return md5.hexdigest()


def file_md5(path):
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(8 * 1024 * 1024):
            md5.update(block)
    return md5.hexdigest()


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_one_gib_multipart_round_trip(store, tmp_path):
    source = tmp_path / "one-gib.bin"
    expected = write_random(source, GIB)
    try:
        s5cmd(store, "cp", "--part-size", "16", "--concurrency", "4", str(source), f"s3://{BUCKET}/big/one-gib.bin")
        head = store.client().head_object(Bucket=BUCKET, Key="big/one-gib.bin")
        assert head["ContentLength"] == GIB
        # A multipart ETag: 64 parts of 16 MiB.
        assert re.fullmatch(r'"[0-9a-f]{32}-64"', head["ETag"]), head["ETag"]
        # Bodies are streamed to disk, never held whole: the store stays small.
        peak = peak_rss_mib(store.proc.pid)
        print(f"\n[s5cmd] store peak RSS {peak:.1f} MiB")
        assert peak < 100, f"{peak:.1f} MiB"
        listed = s5cmd(store, "ls", f"s3://{BUCKET}/big/")
        assert "one-gib.bin" in listed
        source.unlink()
        target = tmp_path / "downloaded.bin"
        s5cmd(store, "cp", f"s3://{BUCKET}/big/one-gib.bin", str(target))
        assert file_md5(target) == expected
    finally:
        for leftover in tmp_path.glob("*.bin"):
            leftover.unlink()
