"""Presigned URLs minted by boto3's own generate_presigned_url, used with plain HTTP."""

import re
import time
import urllib.error
import urllib.request

from conftest import BUCKET


def http(method, url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), err.headers


def element(xml, name):
    match = re.search(f"<{name}>(.*?)</{name}>", xml, re.S)
    return match.group(1) if match else None


def test_presigned_put_then_get(store):
    s3 = store.client()
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "docs/a b.txt"}, ExpiresIn=300)
    status, body, _ = http("PUT", put_url, data=b"presigned body")
    assert status == 200, body
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "docs/a b.txt"}, ExpiresIn=300)
    status, body, headers = http("GET", get_url)
    assert (status, body) == (200, "presigned body")
    assert headers["ETag"] == '"' + __import__("hashlib").md5(b"presigned body").hexdigest() + '"'


def test_expired_presigned_url(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.2)
    status, body, _ = http("GET", url)
    assert status == 403
    assert element(body, "Code") == "AccessDenied"
    assert element(body, "Message") == "Request has expired"
    assert element(body, "X-Amz-Expires") == "1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", element(body, "Expires"))
    assert element(body, "ServerTime") > element(body, "Expires")
    assert element(body, "RequestId") and element(body, "HostId")


def test_presigned_url_lifetime_above_a_week(store):
    s3 = store.client()
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "k"}, ExpiresIn=604801)
    status, body, _ = http("GET", url)
    assert status == 403
    assert element(body, "Code") == "AuthorizationQueryParametersError"
    assert element(body, "Message").startswith("X-Amz-Expires must be less than a week")


def test_presigned_url_with_wrong_secret(store):
    import boto3
    from botocore.config import Config

    forged = boto3.client(
        "s3",
        endpoint_url=store.endpoint,
        aws_access_key_id=store.access_key,
        aws_secret_access_key="wrong-secret",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    url = forged.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "k"}, ExpiresIn=60)
    status, body, _ = http("GET", url)
    assert status == 403
    assert element(body, "Code") == "SignatureDoesNotMatch"
    assert element(body, "AWSAccessKeyId") == store.access_key


def test_store_clock_offset_makes_fresh_urls_expired(start_store):
    store = start_store(["--fault-clock-offset", "7200"])
    s3 = store.client()
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "k"}, ExpiresIn=3600)
    status, body, headers = http("GET", url)
    assert status == 403 and element(body, "Message") == "Request has expired"
    # The Date header follows the store's clock: two hours ahead.
    served = time.mktime(time.strptime(headers["Date"], "%a, %d %b %Y %H:%M:%S GMT"))
    assert abs(served - time.mktime(time.gmtime()) - 7200) < 30
