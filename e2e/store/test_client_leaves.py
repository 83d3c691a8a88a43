"""A client that goes away after sending a request.

S3 carries out a request it received whole even when the client is gone before the answer
(the client only loses the answer), and never stores a body it did not receive whole. The
store must do the same, and the index it answers from must agree with its disk, which is what
it answers from after a restart. Latency injected before each request is handled keeps the
request in flight while the client leaves.
"""

import socket
import time
import urllib.parse

import pytest

from conftest import BUCKET


def send_and_leave(store, s3, key, body, sent):
    """Sends a presigned PUT of `body` whose first `sent` bytes go out, then closes."""
    url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=600)
    target = url.removeprefix(store.endpoint)
    head = (f"PUT {target} HTTP/1.1\r\nHost: {store.host}:{store.port}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock = socket.create_connection((store.host, store.port))
    sock.sendall(head + body[:sent])
    time.sleep(0.1)
    sock.close()


def listed(s3):
    return {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


@pytest.mark.parametrize("latency_ms", [400])
def test_a_request_received_whole_is_carried_out_after_its_client_leaves(start_store, tmp_path, latency_ms):
    data = tmp_path / "left"
    store = start_store(["--fault-latency-ms", str(latency_ms)], data_dir=data)
    s3 = store.client(read_timeout=30)
    whole = b"w" * 100_000
    half = b"h" * 100_000
    send_and_leave(store, s3, "sent whole", whole, len(whole))
    send_and_leave(store, s3, "sent half", half, len(half) // 2)

    deadline = time.time() + 10
    while "sent whole" not in listed(s3) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(latency_ms / 1000 + 0.5)  # the half-sent one has had its turn too
    before = listed(s3)
    assert before == {"sent whole": len(whole)}
    assert s3.get_object(Bucket=BUCKET, Key="sent whole")["Body"].read() == whole
    # Both requests ran to their end and were logged with their outcome.
    logged = [line for line in store.stderr if "method=PUT" in line and 'route="/{bucket}/{key}' in line]
    assert any("status=200" in line for line in logged), store.stderr
    assert any("status=4" in line for line in logged), store.stderr

    store.stop()
    again = start_store(data_dir=data)
    assert listed(again.client()) == before
