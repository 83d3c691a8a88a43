"""A body larger than 256 KiB goes to disk past the page cache (O_DIRECT) unless the store is
started with --buffered-writes; either way the object comes back whole. The body file's open
flags are read from /proc while its body is half sent."""

import os
import socket
import time

import pytest

from conftest import BUCKET


def body_file_flags(store, timeout=10.0):
    """The open flags of the store's file under DATA/tmp (the body being received)."""
    tmp = str(store.data_dir / "tmp")
    pid = store.proc.pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    fields = dict(line.split(":", 1) for line in info if ":" in line)
            except FileNotFoundError:
                continue
            if target.startswith(tmp + "/"):
                return int(fields["flags"].strip(), 8)
        time.sleep(0.05)
    pytest.fail(f"no body file open under {tmp} within {timeout} s")


@pytest.mark.parametrize("args, direct", [((), True), (("--buffered-writes",), False)],
                         ids=["default", "buffered-writes"])
def test_a_large_body_is_written_past_the_page_cache_unless_told_not_to(start_store, args, direct):
    store = start_store(list(args))
    s3 = store.client(read_timeout=30)
    body = os.urandom(3 * 2**20 + 5)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "big"}, ExpiresIn=600)
    head = (f"PUT {url.removeprefix(store.endpoint)} HTTP/1.1\r\nHost: {store.host}:{store.port}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection((store.host, store.port), timeout=30) as sock:
        sock.sendall(head + body[: 2**21])
        flags = body_file_flags(store)
        sock.sendall(body[2**21:])
        answer = sock.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 200"), answer
    assert bool(flags & os.O_DIRECT) == direct, f"flags {flags:o}"
    got = s3.get_object(Bucket=BUCKET, Key="big")["Body"].read()
    assert got == body
