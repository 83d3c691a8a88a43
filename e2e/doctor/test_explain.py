"""`hoist doctor explain` on what real clients saw: boto3's presigned URLs used by curl."""

import json
import pathlib
import time

import urllib.error
import urllib.request

from conftest import BUCKET, ORIGIN, REPO, curl_v

FIXTURES = REPO / "crates" / "hoist-doctor" / "tests" / "fixtures"


def explain(store, path_or_text, *, stdin=False):
    args = ["doctor", "explain", "--json"]
    if stdin:
        p = store.hoist(*args, "-", stdin=path_or_text)
    else:
        p = store.hoist(*args, str(path_or_text))
    return p.returncode, json.loads(p.stdout)


def test_expired_url_from_boto3_through_curl(store, tmp_path):
    url = store.client().generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "late.bin"}, ExpiresIn=1)
    time.sleep(2.2)
    body = tmp_path / "body.bin"
    body.write_bytes(b"hello")
    transcript = tmp_path / "curl.txt"
    transcript.write_text(curl_v("-X", "PUT", "--data-binary", f"@{body}", url))
    code, finding = explain(store, transcript)
    assert code == 0, finding
    assert finding["cause"] == "url-expired", transcript.read_text()
    assert any("for 1 s" in line for line in finding["evidence"]), finding
    assert finding["fix"]

    # The text form names the cause, the evidence and the fix.
    p = store.hoist("doctor", "explain", str(transcript))
    assert p.returncode == 0
    assert "read a curl -v transcript" in p.stdout
    assert "cause: url-expired" in p.stdout and "\nfix: " in p.stdout


def test_sigv2_presigned_url_from_boto3(store, tmp_path):
    # botocore still signs Signature Version 2 query URLs when asked to: old code does this.
    url = store.client(signature_version="s3").generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "k"})
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    transcript = curl_v(url)
    code, finding = explain(store, transcript, stdin=True)
    assert finding["cause"] == "sigv2", transcript
    assert code == 0


def test_a_bare_error_body_on_stdin(store):
    store.client().put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://other.example.com"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]}]})
    url = store.client().generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "k"}, ExpiresIn=60)
    req = urllib.request.Request(url, method="OPTIONS", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("the preflight was allowed")
    except urllib.error.HTTPError as e:
        assert e.code == 403
        body = e.read().decode()
    code, finding = explain(store, body, stdin=True)
    assert (code, finding["cause"]) == (0, "cors-preflight"), finding


def test_har_fixtures_and_unreadable_input(store, tmp_path):
    code, finding = explain(store, FIXTURES / "chrome-etag-hidden.har")
    assert (code, finding["cause"]) == (0, "cors-etag-hidden")
    code, finding = explain(store, FIXTURES / "chrome-expired-parts.har")
    assert (code, finding["cause"]) == (0, "url-expired")
    assert any("12 min 30 s after the upload started" in line for line in finding["evidence"]), finding

    junk = tmp_path / "junk.txt"
    junk.write_text("the upload failed, please help\n")
    code, finding = explain(store, junk)
    assert code == 1
    assert finding["cause"] == "unknown"
    assert "is not an S3 XML error body" in finding["evidence"][0]

    missing = store.hoist("doctor", "explain", str(tmp_path / "missing.har"))
    assert missing.returncode == 1 and "missing.har" in missing.stderr
