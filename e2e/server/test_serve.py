"""`hoist serve` as a user runs it: defaults, settings precedence, the upload flow through the
coordinator checked with boto3, graceful shutdown."""

import hashlib
import os
import subprocess

from server_e2e import HOIST_BIN, put

MIB = 1024 * 1024


def test_single_and_multipart_uploads_land_intact(start_serve):
    s = start_serve(["--part-size", "5MiB", "--single-put-threshold", "5MiB"])
    assert s.lines[-1] == f"upload page: {s.coordinator}/"
    s3 = s.s3()

    # Single PUT, anonymous (both listen on loopback).
    body = os.urandom(123_457)
    status, up = s.api("POST", "/v1/uploads", {"size": len(body), "filename": "a b.txt", "content_type": "text/plain"})
    assert status == 201, up
    assert up["strategy"] == "single"
    assert put(up["url"], up["headers"], body)[0] == 200
    status, done = s.api("POST", f"/v1/uploads/{up['id']}/complete", {})
    assert status == 200 and done["size"] == len(body), done
    obj = s3.get_object(Bucket="uploads", Key=up["key"])
    assert obj["Body"].read() == body
    assert obj["ContentType"] == "text/plain"

    # Multipart: 3 parts, the ETags not sent back (as a browser that cannot read them).
    data = os.urandom(12 * MIB + 1)
    status, up = s.api("POST", "/v1/uploads", {"size": len(data), "filename": "big.bin"})
    assert status == 201 and up["part_count"] == 3, up
    for p in up["parts"]:
        chunk = data[p["offset"]:p["offset"] + p["length"]]
        assert put(p["url"], p["headers"], chunk)[0] == 200
    status, done = s.api("POST", f"/v1/uploads/{up['id']}/complete")
    assert status == 200, done
    got = s3.get_object(Bucket="uploads", Key=up["key"])["Body"].read()
    assert hashlib.md5(got).hexdigest() == hashlib.md5(data).hexdigest()
    assert done["etag"].strip('"').endswith("-3")


def test_abort_leaves_no_multipart_upload(start_serve):
    s = start_serve(["--part-size", "5MiB", "--single-put-threshold", "5MiB"])
    status, up = s.api("POST", "/v1/uploads", {"size": 6 * MIB})
    assert status == 201
    p = up["parts"][0]
    assert put(p["url"], p["headers"], os.urandom(p["length"]))[0] == 200
    s3 = s.s3()
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket="uploads").get("Uploads", [])] == [up["key"]]
    status, _ = s.api("DELETE", f"/v1/uploads/{up['id']}")
    assert status == 204
    assert s3.list_multipart_uploads(Bucket="uploads").get("Uploads", []) == []


def test_settings_precedence_flag_env_file(start_serve, tmp_path):
    cfg = tmp_path / "hoist.toml"
    cfg.write_text('bucket = "from-file"\nkey_prefix = "file-prefix"\napi_keys = ["k1"]\nanonymous = false\n')
    # File only.
    s = start_serve(["--config", str(cfg)])
    status, up = s.api("POST", "/v1/uploads", {"size": 1}, token="k1")
    assert status == 201, up
    assert (up["bucket"], up["key"].split("/")[0]) == ("from-file", "file-prefix")
    assert s.api("POST", "/v1/uploads", {"size": 1})[0] == 401, "anonymous = false from the file"
    s.stop()
    # The environment beats the file; a flag beats both.
    s = start_serve(["--config", str(cfg), "--key-prefix", "flag-prefix"],
                    env={"HOIST_BUCKET": "from-env", "HOIST_KEY_PREFIX": "env-prefix"})
    status, up = s.api("POST", "/v1/uploads", {"size": 1}, token="k1")
    assert (up["bucket"], up["key"].split("/")[0]) == ("from-env", "flag-prefix"), up


def test_token_survives_a_restart_with_the_same_data_dir(start_serve, tmp_path):
    data = tmp_path / "kept"
    s = start_serve(["--part-size", "5MiB", "--single-put-threshold", "5MiB"], data_dir=data)
    status, up = s.api("POST", "/v1/uploads", {"size": 6 * MIB})
    assert status == 201
    assert oct((data / "coordinator-token-secret").stat().st_mode & 0o777) == "0o600"
    assert s.stop() == 0
    s = start_serve(data_dir=data)
    status, state = s.api("GET", f"/v1/uploads/{up['id']}")
    assert status == 200, state
    assert state["missing"] == [1, 2]


def test_sigterm_shuts_down_cleanly_and_help_lists_every_setting(start_serve):
    s = start_serve()
    assert s.api("GET", "/healthz")[0] == 200
    assert s.api("GET", "/readyz")[0] == 200
    assert s.stop(timeout=10) == 0
    help_text = subprocess.run([HOIST_BIN, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    for name in ["listen", "store-listen", "data", "bucket", "s3-endpoint", "region", "api-key", "grant-secret",
                 "token-secret", "anonymous", "cors-origin", "key-prefix", "max-upload-size", "part-size",
                 "single-put-threshold", "part-url-ttl", "log-json", "config"]:
        assert f"--{name}" in help_text, name
        assert "HOIST_" + name.upper().replace("-", "_") in help_text or name in ("api-key", "cors-origin"), name


def test_external_store_with_aws_credentials(start_serve, tmp_path):
    key, secret = "AKIDEXTERNAL", "externalSecretKey0123456789abcdefghijklm"
    store = subprocess.Popen(
        [HOIST_BIN, "store", "--listen", "127.0.0.1:0", "--data", str(tmp_path / "ext"), "--bucket", "ext",
         "--access-key", key, "--secret-key", secret],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    try:
        endpoint = store.stdout.readline().split()[-1]
        assert endpoint.startswith("http://127.0.0.1:"), endpoint
        s = start_serve(["--s3-endpoint", endpoint, "--bucket", "ext", "--api-key", "k"],
                        env={"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"})
        assert s.store is None, "no embedded store with --s3-endpoint"
        assert s.lines[-1] == f"using the S3 store at {endpoint}, bucket ext", s.lines
        assert s.api("POST", "/v1/uploads", {"size": 1})[0] == 401, "not anonymous with an external store"
        body = b"external bytes"
        status, up = s.api("POST", "/v1/uploads", {"size": len(body)}, token="k")
        assert status == 201, up
        assert put(up["url"], up["headers"], body)[0] == 200
        status, done = s.api("POST", f"/v1/uploads/{up['id']}/complete", {}, token="k")
        assert status == 200 and done["bucket"] == "ext", done
        assert s.api("GET", "/readyz")[0] == 200
    finally:
        store.terminate()
        store.wait(timeout=10)
