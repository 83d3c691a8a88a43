"""Object-level behaviours of the store against the S3 API reference: conditional reads and
writes, the standard headers and their `response-*` overrides, a repeated Complete,
`?partNumber=`, bad input, and GetObjectAttributes. Each expectation is S3's documented
answer (status, error Code, headers); where the reference leaves room, the comment says what
Amazon S3 does and that this is what is asserted."""

import base64
import datetime
import hashlib
import json
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
import zlib

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import BUCKET

MIB = 1 << 20
PART = 5 * MIB


def failure(call, *args, **kwargs):
    """The status and error Code of a call that must fail, and its response headers."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Code"),
        response["ResponseMetadata"]["HTTPHeaders"],
    )


def send(request):
    """Sends a prepared AWSRequest as it is; answers status, body and headers."""
    http = urllib.request.Request(
        request.url, data=request.body or None, method=request.method, headers=dict(request.headers.items())
    )
    try:
        with urllib.request.urlopen(http, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


def signed(store, method, path, query="", headers=None, body=b""):
    """A header-signed request to `path` (already percent-encoded), signed by botocore."""
    url = f"{store.endpoint}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(Credentials(store.access_key, store.secret_key), "s3", "us-east-1").add_auth(request)
    return send(request)


def code_of(body):
    text = body.decode(errors="replace")
    start = text.find("<Code>")
    return text[start + 6 : text.find("</Code>")] if start >= 0 else None


def multipart(s3, key, parts, **create):
    """Uploads `parts` (bytes each) as a multipart upload; answers the upload id and the
    part list for Complete (with their checksums, when the upload has an algorithm)."""
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, **create)["UploadId"]
    listed = []
    algorithm = create.get("ChecksumAlgorithm")
    for number, data in enumerate(parts, 1):
        extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        answer = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=data, **extra)
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        if algorithm:
            part[f"Checksum{algorithm}"] = answer[f"Checksum{algorithm}"]
        listed.append(part)
    return upload, listed


def complete(s3, key, upload, parts, **extra):
    return s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}, **extra
    )


# 1. Conditional reads (S3 GetObject / HeadObject "Request Syntax", RFC 7232).


def test_if_match_and_if_unmodified_since_fail_with_412(store):
    s3 = store.client()
    etag = s3.put_object(Bucket=BUCKET, Key="c", Body=b"conditional")["ETag"]
    modified = s3.head_object(Bucket=BUCKET, Key="c")["LastModified"]
    day = datetime.timedelta(days=1)
    for call in (s3.get_object, s3.head_object):
        status, code, _ = failure(call, Bucket=BUCKET, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')
        assert status == 412
        if call is s3.get_object:  # a HEAD answer has no body, so no Code
            assert code == "PreconditionFailed"
        status, _, _ = failure(call, Bucket=BUCKET, Key="c", IfUnmodifiedSince=modified - day)
        assert status == 412
        assert call(Bucket=BUCKET, Key="c", IfMatch=etag)["ETag"] == etag
        assert call(Bucket=BUCKET, Key="c", IfUnmodifiedSince=modified)["ETag"] == etag


def test_if_none_match_and_if_modified_since_answer_304_with_the_etag(store):
    s3 = store.client()
    etag = s3.put_object(Bucket=BUCKET, Key="c", Body=b"conditional")["ETag"]
    modified = s3.head_object(Bucket=BUCKET, Key="c")["LastModified"]
    for call in (s3.get_object, s3.head_object):
        for condition in ({"IfNoneMatch": etag}, {"IfNoneMatch": "*"}, {"IfModifiedSince": modified}):
            status, _, headers = failure(call, Bucket=BUCKET, Key="c", **condition)
            assert status == 304, condition
            assert headers["etag"] == etag
            assert "last-modified" in headers
        answer = call(Bucket=BUCKET, Key="c", IfModifiedSince=modified - datetime.timedelta(days=1))
        assert answer["ETag"] == etag
        assert call(Bucket=BUCKET, Key="c", IfNoneMatch='"0123456789abcdef0123456789abcdef"')["ETag"] == etag
    # A 304 carries no body.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "c"}, ExpiresIn=60)
    request = urllib.request.Request(url, headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 304 and info.value.read() == b""


def test_two_conditions_follow_the_precedence_s3_documents(store):
    # S3 GetObject: If-Match true and If-Unmodified-Since false -> 200; If-None-Match false
    # and If-Modified-Since true -> 304.
    s3 = store.client()
    etag = s3.put_object(Bucket=BUCKET, Key="c", Body=b"conditional")["ETag"]
    modified = s3.head_object(Bucket=BUCKET, Key="c")["LastModified"]
    earlier = modified - datetime.timedelta(days=1)
    for call in (s3.get_object, s3.head_object):
        answer = call(Bucket=BUCKET, Key="c", IfMatch=etag, IfUnmodifiedSince=earlier)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        status, _, _ = failure(call, Bucket=BUCKET, Key="c", IfNoneMatch=etag, IfModifiedSince=earlier)
        assert status == 304


# 1. Conditional writes (S3 PutObject / CompleteMultipartUpload, "If-Match", "If-None-Match").


def test_put_if_none_match_refuses_an_existing_key(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="new", Body=b"first", IfNoneMatch="*")
    status, code, _ = failure(s3.put_object, Bucket=BUCKET, Key="new", Body=b"second", IfNoneMatch="*")
    assert (status, code) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=BUCKET, Key="new")["Body"].read() == b"first"


def test_put_if_match_replaces_only_the_named_etag(store):
    s3 = store.client()
    status, code, _ = failure(s3.put_object, Bucket=BUCKET, Key="m", Body=b"x", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert (status, code) == (404, "NoSuchKey")
    etag = s3.put_object(Bucket=BUCKET, Key="m", Body=b"one")["ETag"]
    status, code, _ = failure(s3.put_object, Bucket=BUCKET, Key="m", Body=b"two", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert (status, code) == (412, "PreconditionFailed")
    s3.put_object(Bucket=BUCKET, Key="m", Body=b"three", IfMatch=etag)
    assert s3.get_object(Bucket=BUCKET, Key="m")["Body"].read() == b"three"


def test_concurrent_if_none_match_puts_let_exactly_one_win(store):
    body = b"r" * (4 * MIB)
    results = []
    barrier = threading.Barrier(6)

    def put(n):
        s3 = store.client()
        barrier.wait()
        try:
            s3.put_object(Bucket=BUCKET, Key="race", Body=body[:-1] + bytes([n]), IfNoneMatch="*")
            results.append(200)
        except ClientError as err:
            results.append((err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Code"]))

    threads = [threading.Thread(target=put, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 1, results
    assert all(r in ((412, "PreconditionFailed"), (409, "ConditionalRequestConflict")) for r in results if r != 200)


def test_complete_if_none_match_on_an_existing_key_is_412_and_keeps_the_upload(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="mp", Body=b"already here")
    upload, parts = multipart(s3, "mp", [b"part"])
    status, code, _ = failure(complete, s3, "mp", upload, parts, IfNoneMatch="*")
    assert (status, code) == (412, "PreconditionFailed")
    # The upload is left to be completed without the condition, or aborted.
    assert len(s3.list_parts(Bucket=BUCKET, Key="mp", UploadId=upload)["Parts"]) == 1
    complete(s3, "mp", upload, parts)
    assert s3.get_object(Bucket=BUCKET, Key="mp")["Body"].read() == b"part"


def test_complete_if_none_match_after_another_write_is_409_conflict(store):
    # Another write of the key committed while the upload was open: S3 answers 409
    # ConditionalRequestConflict and tells the client to initiate the upload again; the store
    # then no longer knows the upload.
    s3 = store.client()
    upload, parts = multipart(s3, "mp2", [b"part"])
    s3.put_object(Bucket=BUCKET, Key="mp2", Body=b"won the race")
    status, code, _ = failure(complete, s3, "mp2", upload, parts, IfNoneMatch="*")
    assert (status, code) == (409, "ConditionalRequestConflict")
    status, code, _ = failure(s3.list_parts, Bucket=BUCKET, Key="mp2", UploadId=upload)
    assert (status, code) == (404, "NoSuchUpload")
    assert s3.get_object(Bucket=BUCKET, Key="mp2")["Body"].read() == b"won the race"


def test_complete_if_match(store):
    s3 = store.client()
    upload, parts = multipart(s3, "mp3", [b"part"])
    status, code, _ = failure(complete, s3, "mp3", upload, parts, IfMatch='"0123456789abcdef0123456789abcdef"')
    assert (status, code) == (404, "NoSuchKey")
    etag = s3.put_object(Bucket=BUCKET, Key="mp4", Body=b"old")["ETag"]
    upload, parts = multipart(s3, "mp4", [b"new"])
    status, code, _ = failure(complete, s3, "mp4", upload, parts, IfMatch='"0123456789abcdef0123456789abcdef"')
    assert (status, code) == (412, "PreconditionFailed")
    complete(s3, "mp4", upload, parts, IfMatch=etag)
    assert s3.get_object(Bucket=BUCKET, Key="mp4")["Body"].read() == b"new"


def test_conditional_delete_is_refused_not_ignored(store):
    # The store does not judge DeleteObject's conditions: it must not delete regardless.
    s3 = store.client()
    etag = s3.put_object(Bucket=BUCKET, Key="keep", Body=b"kept")["ETag"]
    status, code, _ = failure(s3.delete_object, Bucket=BUCKET, Key="keep", IfMatch=etag)
    assert (status, code) == (501, "NotImplemented")
    assert s3.get_object(Bucket=BUCKET, Key="keep")["Body"].read() == b"kept"


# 2. Standard headers, stored and overridden.

HEADERS = {
    "CacheControl": "max-age=3600",
    "ContentDisposition": 'attachment; filename="report.csv"',
    "ContentEncoding": "gzip",
    "ContentLanguage": "de-DE",
    "Expires": datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
}


def assert_headers(answer):
    for name, value in HEADERS.items():
        assert answer[name] == value, name


def test_standard_headers_are_stored_and_returned(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="h", Body=b"data", **HEADERS)
    assert_headers(s3.head_object(Bucket=BUCKET, Key="h"))
    assert_headers(s3.get_object(Bucket=BUCKET, Key="h"))
    upload, parts = multipart(s3, "hm", [b"data"], **HEADERS)
    complete(s3, "hm", upload, parts)
    assert_headers(s3.head_object(Bucket=BUCKET, Key="hm"))
    assert_headers(s3.get_object(Bucket=BUCKET, Key="hm"))


def test_response_overrides_replace_the_stored_headers(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="h", Body=b"data", ContentType="application/octet-stream", **HEADERS)
    overrides = {
        "ResponseCacheControl": "no-store",
        "ResponseContentDisposition": 'inline; filename="x.txt"',
        "ResponseContentEncoding": "identity",
        "ResponseContentLanguage": "fr",
        "ResponseContentType": "text/plain",
        "ResponseExpires": datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
    }
    answer = s3.get_object(Bucket=BUCKET, Key="h", **overrides)
    for name, value in overrides.items():
        assert answer[name.removeprefix("Response")] == value, name
    # S3 takes them on a HEAD too.
    head = s3.head_object(Bucket=BUCKET, Key="h", **overrides)
    for name, value in overrides.items():
        assert head[name.removeprefix("Response")] == value, name
    # Without overrides the stored values come back.
    assert s3.get_object(Bucket=BUCKET, Key="h")["ContentDisposition"] == HEADERS["ContentDisposition"]
    # A presigned GET (the usual way to name a download) carries them in its signed query.
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": BUCKET, "Key": "h", "ResponseContentDisposition": "attachment; filename=\"y.bin\""},
        ExpiresIn=60,
    )
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Disposition"] == 'attachment; filename="y.bin"'
        assert response.headers["Cache-Control"] == HEADERS["CacheControl"]


# 3. A Complete repeated after it succeeded.


def test_complete_repeated_answers_as_the_first(store):
    s3 = store.client()
    upload, parts = multipart(s3, "again", [b"a" * PART, b"b" * 10])
    first = complete(s3, "again", upload, parts)
    second = complete(s3, "again", upload, parts)
    for field in ("ETag", "Location", "Bucket", "Key"):
        assert second[field] == first[field], field
    assert first["ETag"].endswith('-2"')
    # A different part list is not the same request: the upload no longer exists.
    status, code, _ = failure(complete, s3, "again", upload, parts[:1])
    assert (status, code) == (404, "NoSuchUpload")
    # Nor once another object replaced the one it made.
    s3.put_object(Bucket=BUCKET, Key="again", Body=b"other")
    status, code, _ = failure(complete, s3, "again", upload, parts)
    assert (status, code) == (404, "NoSuchUpload")


# 4. ?partNumber= on GET and HEAD.


def test_part_number_reads_one_part_of_a_multipart_object(store):
    s3 = store.client()
    data = [bytes([65 + i]) * size for i, size in enumerate((PART, PART, 1000))]
    upload, parts = multipart(s3, "parts", data)
    etag = complete(s3, "parts", upload, parts)["ETag"]
    start = 0
    for number, part in enumerate(data, 1):
        answer = s3.get_object(Bucket=BUCKET, Key="parts", PartNumber=number)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert answer["ContentRange"] == f"bytes {start}-{start + len(part) - 1}/{sum(map(len, data))}"
        assert answer["PartsCount"] == 3 and answer["ETag"] == etag
        assert answer["Body"].read() == part
        head = s3.head_object(Bucket=BUCKET, Key="parts", PartNumber=number)
        assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert head["ContentLength"] == len(part) and head["PartsCount"] == 3
        start += len(part)
    # S3 documents 416 InvalidPartNumber for a part the object does not have.
    status, code, _ = failure(s3.get_object, Bucket=BUCKET, Key="parts", PartNumber=4)
    assert (status, code) == (416, "InvalidPartNumber")
    status, _, _ = failure(s3.head_object, Bucket=BUCKET, Key="parts", PartNumber=4)
    assert status == 416


def test_part_number_one_of_a_single_put_is_the_whole_object(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="single", Body=b"whole object")
    answer = s3.get_object(Bucket=BUCKET, Key="single", PartNumber=1)
    assert answer["Body"].read() == b"whole object"
    assert answer["ContentRange"] == "bytes 0-11/12"
    assert "PartsCount" not in answer
    status, code, _ = failure(s3.get_object, Bucket=BUCKET, Key="single", PartNumber=2)
    assert (status, code) == (416, "InvalidPartNumber")


def test_a_part_of_a_composite_object_answers_the_parts_checksum(store):
    # S3: with x-amz-checksum-mode ENABLED, one part of a COMPOSITE object is answered with
    # that part's checksum; the whole object with the composite one.
    s3 = store.client()
    upload, parts = multipart(s3, "sums", [b"s" * PART, b"t" * 10], ChecksumAlgorithm="SHA256")
    done = complete(s3, "sums", upload, parts)
    for number, part in enumerate(parts, 1):
        for call in (s3.get_object, s3.head_object):
            answer = call(Bucket=BUCKET, Key="sums", PartNumber=number, ChecksumMode="ENABLED")
            assert answer["ChecksumSHA256"] == part["ChecksumSHA256"]
    whole = s3.head_object(Bucket=BUCKET, Key="sums", ChecksumMode="ENABLED")
    assert whole["ChecksumSHA256"] == done["ChecksumSHA256"] and whole["ChecksumSHA256"].endswith("-2")
    assert "ChecksumSHA256" not in s3.get_object(Bucket=BUCKET, Key="sums", Range="bytes=0-9", ChecksumMode="ENABLED")


def test_head_with_a_range_answers_as_the_ranged_get(store):
    # S3 HeadObject: a satisfiable Range changes only the length (206); otherwise 416.
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="single", Body=b"whole object")
    head = s3.head_object(Bucket=BUCKET, Key="single", Range="bytes=0-3")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert (head["ContentLength"], head["ContentRange"]) == (4, "bytes 0-3/12")
    status, _, _ = failure(s3.head_object, Bucket=BUCKET, Key="single", Range="bytes=100-")
    assert status == 416


def test_part_number_outside_1_to_10000_is_invalid_argument(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="single", Body=b"whole object")
    for number in ("0", "10001"):
        status, body, _ = signed(store, "GET", f"/{BUCKET}/single", f"partNumber={number}")
        assert (status, code_of(body)) == (400, "InvalidArgument"), number
    status, body, _ = signed(store, "GET", f"/{BUCKET}/single", "partNumber=1", headers={"Range": "bytes=0-1"})
    assert (status, code_of(body)) == (400, "InvalidRequest")


# 5. Bad input.


def test_a_key_that_is_not_utf8_is_refused_with_400(store):
    # S3 answers a path that does not decode as 400 InvalidURI, naming the URI.
    for method in ("PUT", "GET", "DELETE"):
        status, body, _ = signed(store, method, f"/{BUCKET}/bad%FF%FEkey", body=b"x" if method == "PUT" else b"")
        assert status == 400, (method, body)
        assert code_of(body) == "InvalidURI"
        assert b"<Message>Couldn't parse the specified URI.</Message>" in body
        assert f"<URI>/{BUCKET}/bad%FF%FEkey</URI>".encode() in body
    status, _, _ = signed(store, "HEAD", f"/{BUCKET}/bad%FF%FEkey")
    assert status == 400


def test_content_md5_malformed_or_wrong_length_is_invalid_digest(store):
    s3 = store.client()
    for digest in ("not base64!", base64.b64encode(b"12345678").decode()):
        status, code, _ = failure(s3.put_object, Bucket=BUCKET, Key="md5", Body=b"data", ContentMD5=digest)
        assert (status, code) == (400, "InvalidDigest"), digest
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, code, _ = failure(s3.put_object, Bucket=BUCKET, Key="md5", Body=b"data", ContentMD5=wrong)
    assert (status, code) == (400, "BadDigest")
    right = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    s3.put_object(Bucket=BUCKET, Key="md5", Body=b"data", ContentMD5=right)


def _sigv4_dated_by_date(store, path, date):
    """A GET signed by hand with `Date` and no `X-Amz-Date`: SigV4 then takes the Date, in
    its basic form, as the request time."""
    amz = date.strftime("%Y%m%dT%H%M%SZ")
    http_date = date.strftime("%a, %d %b %Y %H:%M:%S GMT")
    host = store.endpoint.removeprefix("http://")
    payload = hashlib.sha256(b"").hexdigest()
    canonical = "\n".join(
        ["GET", path, "", f"date:{http_date}", f"host:{host}", f"x-amz-content-sha256:{payload}", "", "date;host;x-amz-content-sha256", payload]
    )
    scope = f"{amz[:8]}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    import hmac

    key = ("AWS4" + store.secret_key).encode()
    for part in (amz[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Date": http_date,
        "x-amz-content-sha256": payload,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={store.access_key}/{scope}, SignedHeaders=date;host;x-amz-content-sha256, Signature={signature}",
    }
    request = AWSRequest(method="GET", url=store.endpoint + path, headers=headers)
    return send(request)


def test_sigv4_dated_by_the_date_header_is_accepted(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="dated", Body=b"by Date")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    status, body, _ = _sigv4_dated_by_date(store, f"/{BUCKET}/dated", now)
    assert (status, body) == (200, b"by Date")
    # The Date is the request time: far off, it is skewed as an X-Amz-Date would be.
    status, body, _ = _sigv4_dated_by_date(store, f"/{BUCKET}/dated", now - datetime.timedelta(hours=1))
    assert (status, code_of(body)) == (403, "RequestTimeTooSkewed")


def _presigned_put_with_query_checksum(store, key, crc):
    """A presigned PUT whose CRC32 is a signed query parameter, as the AWS SDK for
    JavaScript v3 presigner hoists `x-amz-checksum-crc32` into the URL."""
    query = urllib.parse.urlencode({"x-amz-checksum-crc32": crc, "x-amz-sdk-checksum-algorithm": "CRC32"})
    request = AWSRequest(method="PUT", url=f"{store.endpoint}/{BUCKET}/{key}?{query}")
    S3SigV4QueryAuth(Credentials(store.access_key, store.secret_key), "s3", "us-east-1", expires=300).add_auth(request)
    return request.url


def test_checksum_in_a_presigned_query_is_enforced(store):
    body = b"checked by the query"
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    wrong = base64.b64encode(zlib.crc32(b"something else").to_bytes(4, "big")).decode()
    url = _presigned_put_with_query_checksum(store, "q", wrong)
    status, answer, _ = send(AWSRequest(method="PUT", url=url, data=body))
    assert (status, code_of(answer)) == (400, "BadDigest")
    assert b"The CRC32 you specified did not match the calculated checksum." in answer
    url = _presigned_put_with_query_checksum(store, "q", crc)
    status, answer, headers = send(AWSRequest(method="PUT", url=url, data=body))
    assert status == 200, answer
    assert headers["x-amz-checksum-crc32"] == crc
    head = store.client().head_object(Bucket=BUCKET, Key="q", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc


# 6. GetObjectAttributes.

ALL_ATTRIBUTES = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_object_attributes_of_a_single_put(store):
    s3 = store.client()
    body = b"a" * 1024
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    s3.put_object(Bucket=BUCKET, Key="attrs", Body=body, ChecksumSHA256=sha)
    answer = s3.get_object_attributes(Bucket=BUCKET, Key="attrs", ObjectAttributes=ALL_ATTRIBUTES)
    # The document's ETag is unquoted, as S3 writes it there.
    assert answer["ETag"] == hashlib.md5(body).hexdigest()
    assert answer["Checksum"]["ChecksumSHA256"] == sha
    assert answer["ObjectSize"] == 1024 and answer["StorageClass"] == "STANDARD"
    assert "ObjectParts" not in answer
    assert answer["LastModified"] == s3.head_object(Bucket=BUCKET, Key="attrs")["LastModified"]
    only = s3.get_object_attributes(Bucket=BUCKET, Key="attrs", ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == 1024
    assert not {"ETag", "Checksum", "StorageClass", "ObjectParts"} & set(only)
    status, code, _ = failure(s3.get_object_attributes, Bucket=BUCKET, Key="missing", ObjectAttributes=["ETag"])
    assert (status, code) == (404, "NoSuchKey")


def test_object_attributes_list_each_part_with_size_and_checksum(store):
    s3 = store.client()
    data = [b"x" * PART, b"y" * PART, b"z" * 77]
    upload, parts = multipart(s3, "attrs-mp", data, ChecksumAlgorithm="SHA256")
    done = complete(s3, "attrs-mp", upload, parts)
    answer = s3.get_object_attributes(Bucket=BUCKET, Key="attrs-mp", ObjectAttributes=ALL_ATTRIBUTES)
    assert answer["ETag"] == done["ETag"].strip('"')
    assert answer["ObjectSize"] == sum(map(len, data))
    # Amazon S3 writes a COMPOSITE checksum here without the "-N" that Complete answers
    # (observed on the wire; the reference does not say): that is what is asserted.
    composite = base64.b64encode(
        hashlib.sha256(b"".join(base64.b64decode(p["ChecksumSHA256"]) for p in parts)).digest()
    ).decode()
    assert done["ChecksumSHA256"] == f"{composite}-3"
    assert answer["Checksum"] == {"ChecksumSHA256": composite, "ChecksumType": "COMPOSITE"}
    listed = answer["ObjectParts"]
    assert listed["TotalPartsCount"] == 3 and listed["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"], p["ChecksumSHA256"]) for p in listed["Parts"]] == [
        (p["PartNumber"], len(d), p["ChecksumSHA256"]) for p, d in zip(parts, data)
    ]
    page = s3.get_object_attributes(Bucket=BUCKET, Key="attrs-mp", ObjectAttributes=["ObjectParts"], MaxParts=2)
    assert page["ObjectParts"]["IsTruncated"] is True
    assert [p["PartNumber"] for p in page["ObjectParts"]["Parts"]] == [1, 2]
    marker = page["ObjectParts"]["NextPartNumberMarker"]
    rest = s3.get_object_attributes(
        Bucket=BUCKET, Key="attrs-mp", ObjectAttributes=["ObjectParts"], PartNumberMarker=int(marker)
    )
    assert [p["PartNumber"] for p in rest["ObjectParts"]["Parts"]] == [3]
    assert rest["ObjectParts"]["IsTruncated"] is False


def test_object_attributes_without_checksums_count_the_parts_only(store):
    # The S3 reference: for an object without an additional checksum a general purpose
    # bucket answers no Part elements, only the count.
    s3 = store.client()
    upload, parts = multipart(s3, "plain-mp", [b"p" * PART, b"q"])  # no ChecksumAlgorithm
    complete(s3, "plain-mp", upload, parts)
    answer = s3.get_object_attributes(Bucket=BUCKET, Key="plain-mp", ObjectAttributes=["ObjectParts", "Checksum"])
    assert "Checksum" not in answer
    assert answer["ObjectParts"] == {"TotalPartsCount": 2}


def test_object_attributes_with_the_aws_cli(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="cli", Body=b"from the cli")
    out = subprocess.run(
        ["aws", "--endpoint-url", store.endpoint, "s3api", "get-object-attributes", "--bucket", BUCKET, "--key", "cli",
         "--object-attributes", "ETag", "ObjectSize"],
        env=store.env(), capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["ETag"] == hashlib.md5(b"from the cli").hexdigest()
    assert answer["ObjectSize"] == 12
    out = subprocess.run(
        ["aws", "--endpoint-url", store.endpoint, "s3api", "get-object-attributes", "--bucket", BUCKET, "--key", "cli",
         "--object-attributes", "Colour"],
        env=store.env(), capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
