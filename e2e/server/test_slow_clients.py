"""`hoist serve` under a slow-socket attack near its descriptor limit: sockets that send half a
request head and stop, held against the coordinator and the embedded store at once, more of
them than the process has descriptors. A normal client must still create, upload and complete."""

import os
import socket
import time
import urllib.parse

from server_e2e import put

OPEN_FILES = 256
HELD_EACH = 300


def half_open(base, head, n):
    """`n` sockets to `base` that each sent the start of a request head."""
    u = urllib.parse.urlsplit(base)
    held = []
    for _ in range(n):
        s = socket.create_connection((u.hostname, u.port), timeout=5)
        s.sendall(head)
        held.append(s)
    return held


def still_open(sockets):
    """How many of `sockets` the server has not closed."""
    n = 0
    for s in sockets:
        s.setblocking(False)
        try:
            n += s.recv(1) != b""
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def test_a_client_is_served_while_half_open_sockets_exceed_the_descriptor_limit(start_serve):
    s = start_serve(open_files=OPEN_FILES)
    held = half_open(s.coordinator, b"POST /v1/uploads HT", HELD_EACH)
    held += half_open(s.store, b"PUT /uploads/k HT", HELD_EACH)
    time.sleep(0.5)

    started = time.monotonic()
    body = os.urandom(64 * 1024)
    status, up = s.api("POST", "/v1/uploads", {"size": len(body), "filename": "served.bin"})
    assert status == 201, up
    assert put(up["url"], up["headers"], body)[0] == 200
    status, done = s.api("POST", f"/v1/uploads/{up['id']}/complete", {})
    assert status == 200, done
    took = time.monotonic() - started
    assert s.s3().get_object(Bucket="uploads", Key=up["key"])["Body"].read() == body

    kept = still_open(held)
    print(f"ulimit -n {OPEN_FILES}, {2 * HELD_EACH} half-open sockets: {kept} held, "
          f"{2 * HELD_EACH - kept} shed; create+PUT+complete in {took:.3f} s")
    assert kept < OPEN_FILES, kept
    for sock in held:
        sock.close()
