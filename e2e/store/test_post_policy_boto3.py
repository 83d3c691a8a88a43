"""Browser-style POST uploads with policies signed by boto3's generate_presigned_post (an
independent SigV4 POST signer), sent as plain multipart/form-data to a real `hoist store`."""

import hashlib
import re
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config

from conftest import BUCKET


def post_form(url, fields, filename, data, extra_fields=()):
    """POST fields then the file, as a browser form does; (status, body text, headers)."""
    boundary = f"----hoistE2E{uuid.uuid4().hex}"
    body = b""
    for name, value in list(fields.items()) + list(extra_fields):
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), err.headers


def element(xml, name):
    match = re.search(f"<{name}>(.*?)</{name}>", xml, re.S)
    return match.group(1) if match else None


def read(s3, key):
    got = s3.get_object(Bucket=BUCKET, Key=key)
    return got["Body"].read(), got["ContentType"]


def test_boto3_policy_with_201_and_a_size_range(store):
    s3 = store.client()
    post = s3.generate_presigned_post(
        BUCKET,
        "forms/report.txt",
        Fields={"Content-Type": "text/plain", "success_action_status": "201"},
        Conditions=[{"Content-Type": "text/plain"}, {"success_action_status": "201"}, ["content-length-range", 1, 1024]],
        ExpiresIn=300,
    )
    assert post["url"] == f"{store.endpoint}/{BUCKET}"
    status, body, headers = post_form(post["url"], post["fields"], "report.txt", b"quarterly figures")
    assert status == 201, body
    assert element(body, "Key") == "forms/report.txt"
    assert element(body, "Bucket") == BUCKET
    etag = f'"{hashlib.md5(b"quarterly figures").hexdigest()}"'
    assert element(body, "ETag") == etag and headers["ETag"] == etag
    assert headers["Location"].endswith(f"/{BUCKET}/forms/report.txt")
    assert read(s3, "forms/report.txt") == (b"quarterly figures", "text/plain")

    # The same form with a file over the range is refused and stores nothing new.
    status, body, _ = post_form(post["url"], post["fields"], "report.txt", b"x" * 1025)
    assert status == 400 and element(body, "Code") == "EntityTooLarge", body
    assert (element(body, "ProposedSize"), element(body, "MaxSizeAllowed")) == ("1025", "1024")
    assert read(s3, "forms/report.txt")[0] == b"quarterly figures"


def test_boto3_default_answer_and_filename_key(store):
    s3 = store.client()
    data = bytes(range(256)) * 4096  # 1 MiB, every byte value, CR and LF included
    post = s3.generate_presigned_post(BUCKET, "in/${filename}", ExpiresIn=300)
    status, body, headers = post_form(post["url"], post["fields"], "blob.bin", data)
    assert status == 204 and body == "", body
    assert headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    # Without a Content-Type field the object gets S3's default type.
    assert read(s3, "in/blob.bin") == (data, "binary/octet-stream")


def test_boto3_policy_conditions_and_signature_are_enforced(store):
    s3 = store.client()
    post = s3.generate_presigned_post(
        BUCKET, "guarded.txt", Fields={"Content-Type": "text/plain"}, Conditions=[{"Content-Type": "text/plain"}], ExpiresIn=300
    )
    changed = dict(post["fields"], **{"Content-Type": "text/html"})
    status, body, _ = post_form(post["url"], changed, "g.txt", b"<script>")
    assert status == 403 and element(body, "Code") == "AccessDenied", body
    assert element(body, "Message") == 'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "text/plain"]'

    status, body, _ = post_form(post["url"], post["fields"], "g.txt", b"x", extra_fields=[("x-amz-meta-extra", "1")])
    assert status == 403 and element(body, "Message") == "Invalid according to Policy: Extra input fields: x-amz-meta-extra", body

    forger = boto3.client(
        "s3",
        endpoint_url=store.endpoint,
        aws_access_key_id=store.access_key,
        aws_secret_access_key="not-the-secret-key",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    forged = forger.generate_presigned_post(BUCKET, "guarded.txt", ExpiresIn=300)
    status, body, _ = post_form(forged["url"], forged["fields"], "g.txt", b"x")
    assert status == 403 and element(body, "Code") == "SignatureDoesNotMatch", body
    assert element(body, "StringToSign") == forged["fields"]["policy"]

    status, body, _ = post_form(post["url"], post["fields"], "g.txt", b"fine")
    assert status == 204, body
    assert read(s3, "guarded.txt") == (b"fine", "text/plain")


def test_store_clock_decides_policy_expiry(start_store):
    store = start_store(["--fault-clock-offset", "7200"])
    s3 = store.client()
    post = s3.generate_presigned_post(BUCKET, "late.txt", ExpiresIn=3600)
    status, body, _ = post_form(post["url"], post["fields"], "late.txt", b"too late")
    assert status == 403, body
    assert (element(body, "Code"), element(body, "Message")) == (
        "AccessDenied",
        "Invalid according to Policy: Policy expired.",
    )


def test_malformed_forms_get_400(store):
    request = urllib.request.Request(
        f"{store.endpoint}/{BUCKET}",
        data=b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b--\r\n",
        method="POST",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("a form without a file was accepted")
    except urllib.error.HTTPError as err:
        body = err.read().decode()
        assert err.code == 400 and element(body, "Code") == "InvalidArgument", body
