"""HTTPS served by hoist itself (--tls-cert/--tls-key), driven by boto3, the AWS CLI, urllib and
`hoist upload`, with a test CA made by openssl and trusted by each client the way it is told to
(boto3's `verify`, AWS_CA_BUNDLE). A certificate replaced on disk is served after SIGHUP; a
client that does not trust the CA is told so, with the next step."""

import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import boto3
import pytest
from botocore.config import Config

from server_e2e import HOIST_BIN, make_certificates

MIB = 1024 * 1024


def served_certificate(url, ca):
    """The DER certificate an HTTPS server at `url` presents (verified against `ca`)."""
    host, port = url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def der_of(pem_path):
    return ssl.PEM_cert_to_DER_cert(pem_path.read_text())


def s3_for(endpoint, credentials, ca):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"], region_name="us-east-1", verify=str(ca),
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
    )


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HOIST_"))}
    env.update(extra)
    return env


@pytest.fixture
def certs(tmp_path):
    made = make_certificates(tmp_path / "tls", ("a", "b"))
    return tmp_path / "tls" / "ca.pem", made


def test_serve_over_https_end_to_end(start_serve, certs, tmp_path):
    ca, made = certs
    cert, key = made["a"]
    s = start_serve(["--tls-cert", str(cert), "--tls-key", str(key)])
    assert s.coordinator.startswith("https://") and s.store.startswith("https://"), s.lines
    context = ssl.create_default_context(cafile=str(ca))

    # The coordinator's API over HTTPS: a multipart upload planned, its part URLs on https.
    status, created = s.api("POST", "/v1/uploads", {"filename": "x.bin", "size": 120 * MIB}, context=context)
    assert status == 201, created
    assert created["parts"][0]["url"].startswith(s.store + "/"), created["parts"][0]["url"]
    status, _ = s.api("DELETE", f"/v1/uploads/{created['id']}", context=context)
    assert status in (200, 204)

    # `hoist upload` through the coordinator, trusting the CA by AWS_CA_BUNDLE: multipart, intact.
    src = tmp_path / "big.bin"
    data = os.urandom(110 * MIB)
    src.write_bytes(data)
    r = subprocess.run([HOIST_BIN, "upload", "--json", "--server", s.coordinator, str(src)],
                       env=clean_env(AWS_CA_BUNDLE=str(ca)), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = [json.loads(line) for line in r.stdout.splitlines()][-1]
    assert result["multipart"] is True
    # boto3 reads it back from the embedded store over HTTPS.
    body = s3_for(s.store, s.credentials(), ca).get_object(Bucket="uploads", Key=result["key"])["Body"].read()
    assert hashlib.md5(body).hexdigest() == hashlib.md5(data).hexdigest()

    # A client that does not trust the CA is refused, and told what to do.
    r = subprocess.run([HOIST_BIN, "upload", "--server", s.coordinator, str(src)], env=clean_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "certificate" in r.stderr and "AWS_CA_BUNDLE" in r.stderr, r.stderr

    # Plain HTTP to the HTTPS port gets no answer.
    plain = s.coordinator.replace("https://", "http://")
    with pytest.raises(Exception):
        import urllib.request
        urllib.request.urlopen(plain + "/healthz", timeout=10).read()


def test_store_over_https_with_boto3_and_awscli_and_sighup_reload(certs, tmp_path):
    ca, made = certs
    live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    live_cert.write_bytes(made["a"][0].read_bytes())
    live_key.write_bytes(made["a"][1].read_bytes())
    proc = subprocess.Popen(
        [HOIST_BIN, "store", "--data", str(tmp_path / "store"), "--listen", "127.0.0.1:0", "--bucket", "tls",
         "--tls-cert", str(live_cert), "--tls-key", str(live_key)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        first = proc.stdout.readline()
        assert first.startswith("hoist store listening on https://"), first + proc.stderr.read()
        endpoint = first.split()[-1]
        credentials = json.loads((tmp_path / "store" / "credentials.json").read_text())
        s3 = s3_for(endpoint, credentials, ca)
        s3.put_object(Bucket="tls", Key="hello.txt", Body=b"over https")
        assert s3.get_object(Bucket="tls", Key="hello.txt")["Body"].read() == b"over https"

        # The AWS CLI, trusting the CA with --ca-bundle.
        env = clean_env(AWS_ACCESS_KEY_ID=credentials["access_key_id"],
                        AWS_SECRET_ACCESS_KEY=credentials["secret_access_key"], AWS_DEFAULT_REGION="us-east-1")
        src = tmp_path / "cli.bin"
        src.write_bytes(os.urandom(3 * MIB))
        r = subprocess.run(["aws", "--endpoint-url", endpoint, "--ca-bundle", str(ca), "s3", "cp", str(src),
                            "s3://tls/cli.bin"], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert s3.head_object(Bucket="tls", Key="cli.bin")["ContentLength"] == 3 * MIB

        # Certificate b replaces a on disk; SIGHUP makes new connections get it, and the
        # process keeps serving. (The files are also watched; SIGHUP makes it immediate.)
        assert served_certificate(endpoint, ca) == der_of(made["a"][0])
        live_cert.write_bytes(made["b"][0].read_bytes())
        live_key.write_bytes(made["b"][1].read_bytes())
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while served_certificate(endpoint, ca) != der_of(made["b"][0]):
            assert time.monotonic() < deadline, "the replaced certificate was never served"
            time.sleep(0.1)
        assert proc.poll() is None
        assert s3_for(endpoint, credentials, ca).get_object(Bucket="tls", Key="hello.txt")["Body"].read() == b"over https"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def test_sighup_without_tls_does_not_stop_the_store(tmp_path):
    proc = subprocess.Popen([HOIST_BIN, "store", "--data", str(tmp_path / "store"), "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        assert proc.stdout.readline().startswith("hoist store listening on http://")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None, "SIGHUP ended a store that has nothing to reload"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


@pytest.mark.parametrize("flags, expect", [
    (["--tls-cert", "{cert}"], "--tls-cert needs --tls-key"),
    (["--tls-key", "{key}"], "--tls-key needs --tls-cert"),
    (["--tls-cert", "{key}", "--tls-key", "{key}"], "no PEM certificate"),
    (["--tls-cert", "{cert}", "--tls-key", "{other_key}"], "cannot be served"),
])
def test_bad_certificate_settings_are_refused_at_start_and_by_check_config(certs, tmp_path, flags, expect):
    _, made = certs
    names = {"cert": made["a"][0], "key": made["a"][1], "other_key": made["b"][1]}
    args = [f.format(**names) for f in flags]
    base = [HOIST_BIN, "serve", "--data", str(tmp_path / "d"), "--listen", "127.0.0.1:0", "--store-listen",
            "127.0.0.1:0"]
    for extra in ([], ["--check-config"]):
        r = subprocess.run(base + extra + args, env=clean_env(), capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, r.stdout
        assert expect in r.stderr, r.stderr


def test_check_config_accepts_a_good_certificate(certs, tmp_path):
    _, made = certs
    r = subprocess.run([HOIST_BIN, "serve", "--check-config", "--data", str(tmp_path / "d"), "--tls-cert",
                        str(made["a"][0]), "--tls-key", str(made["a"][1])],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "TLS certificate" in r.stdout


def test_store_url_names_the_embedded_store_for_clients(start_serve, certs, tmp_path):
    ca, made = certs
    cert, key = made["a"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = start_serve(["--tls-cert", str(cert), "--tls-key", str(key), "--store-listen", f"127.0.0.1:{port}",
                     "--store-url", f"https://localhost:{port}"])
    context = ssl.create_default_context(cafile=str(ca))
    status, created = s.api("POST", "/v1/uploads", {"filename": "s.bin", "size": 1000}, context=context)
    assert status == 201, created
    url = created["url"]
    assert url.startswith(f"https://localhost:{port}/uploads/"), url
    # The URL works for a client that reaches the store by that name.
    import urllib.request
    req = urllib.request.Request(url, data=b"x" * 1000, method="PUT")
    for k, v in created["headers"].items():
        if k.lower() != "content-length":
            req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30, context=context) as resp:
        assert resp.status == 200
    # The coordinator reached its store under that name too (the upload completes).
    status, done = s.api("POST", f"/v1/uploads/{created['id']}/complete", {}, context=context)
    assert status == 200, done
