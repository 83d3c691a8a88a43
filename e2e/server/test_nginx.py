"""deploy/nginx.conf in front of `hoist serve`, as shipped but for its ports, names and
certificate paths: `nginx -t` accepts it, and a multipart upload by `hoist upload` goes through
its coordinator block and its store block over TLS, read back intact with boto3 through the
proxy (the coordinator's own calls to the store go through the proxy too). The request id
nginx makes reaches the coordinator's log."""

import hashlib
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import time

import boto3
import pytest
from botocore.config import Config

from server_e2e import HOIST_BIN, make_certificates

REPO = pathlib.Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def nginx_binary():
    return shutil.which("nginx") or next((p for p in ["/usr/sbin/nginx"] if os.path.exists(p)), None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shipped_config(coordinator, store, front, s3_front, cert, key):
    """deploy/nginx.conf with this test's addresses and certificate put in; nothing else."""
    text = (REPO / "deploy" / "nginx.conf").read_text()
    swaps = [
        ("server 127.0.0.1:8080;", f"server {coordinator};"),
        ("server 127.0.0.1:9000;", f"server {store};"),
        ("/etc/ssl/hoist/fullchain.pem", str(cert)),
        ("/etc/ssl/hoist/privkey.pem", str(key)),
    ]
    for old, new in swaps:
        assert old in text, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    ports = iter([front, s3_front])
    text, n = re.subn(r"(?m)^(\s+listen )443( ssl[^;]*;)", lambda m: f"{m[1]}127.0.0.1:{next(ports)}{m[2]}", text)
    assert n == 2, text
    return text


@pytest.fixture
def nginx(tmp_path):
    binary = nginx_binary()
    if not binary:
        pytest.skip("nginx is not installed (the test command installs it)")
    procs = []

    def start(site):
        prefix = tmp_path / "nginx"
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        (prefix / "site.conf").write_text(site)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (prefix / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n  access_log {prefix}/logs/access.log;\n"
            f"  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n"
            f"  fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n"
            f"  scgi_temp_path {prefix}/scgi;\n  include {prefix}/site.conf;\n}}\n")
        check = subprocess.run([binary, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        assert "[warn]" not in check.stderr, check.stderr
        proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return prefix

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def wait_for(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def test_the_shipped_nginx_config_carries_uploads_over_tls(start_serve, nginx, tmp_path):
    certs = make_certificates(tmp_path / "tls", names=("proxy",))
    cert, key = certs["proxy"]
    ca = tmp_path / "tls" / "ca.pem"
    front, s3_front = free_port(), free_port()
    s = start_serve(["--trusted-proxy", "127.0.0.1", "--store-url", f"https://localhost:{s3_front}",
                     "--part-size", "5MiB", "--single-put-threshold", "5MiB", "--log-json"],
                    # The coordinator's own calls to the store go to its public URL, the proxy.
                    env={"AWS_CA_BUNDLE": str(ca)})
    strip = lambda url: url.split("://", 1)[1].rstrip("/")
    nginx(shipped_config(strip(s.coordinator), strip(s.store), front, s3_front, cert, key))
    wait_for(front)
    wait_for(s3_front)

    src = tmp_path / "through-nginx.bin"
    data = os.urandom(23 * MIB + 17)
    src.write_bytes(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))}
    env["AWS_CA_BUNDLE"] = str(ca)
    r = subprocess.run([HOIST_BIN, "upload", "--json", "--server", f"https://localhost:{front}", str(src)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.splitlines()[-1])
    assert result["event"] == "result" and result["multipart"] is True, result

    # Read back through the proxy's store block, signed for the name the client uses.
    c = s.credentials()
    s3 = boto3.client("s3", endpoint_url=f"https://localhost:{s3_front}", aws_access_key_id=c["access_key_id"],
                      aws_secret_access_key=c["secret_access_key"], region_name="us-east-1", verify=str(ca),
                      config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    body = s3.get_object(Bucket="uploads", Key=result["key"])["Body"].read()
    assert hashlib.md5(body).hexdigest() == hashlib.md5(data).hexdigest()

    # The coordinator logged each request with the id nginx made (32 hex digits), and believed
    # the proxy's X-Forwarded-For (the client's loopback address, not the proxy's socket).
    lines = [json.loads(l) for l in "".join(s.stderr).splitlines() if l.startswith("{")]
    creates = [l for l in lines if "/v1/uploads" in json.dumps(l) and "POST" in json.dumps(l)]
    assert creates, lines[-5:]
    # hoist's own ids have 16 hex digits: these are nginx's.
    assert any(re.search(r'"request_id": "[0-9a-f]{32}"', json.dumps(l)) for l in creates), creates[:3]
