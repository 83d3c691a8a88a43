"""CopyObject and UploadPartCopy as the S3 API reference describes them, through boto3, a
raw signed request, the AWS CLI's server-side copies (`aws s3 cp`, `aws s3 mv`) and rclone's
(`copyto` and `copy` of a folder, server-side with CopyObject and UploadPartCopy)."""

import base64
import datetime
import hashlib
import os
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import BUCKET
from raw import request, texts, xml

MIB = 1 << 20
GIB = 1 << 30


def error(exc):
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def body_of(s3, key):
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def put(s3, key, data, **extra):
    return s3.put_object(Bucket=BUCKET, Key=key, Body=data, **extra)["ETag"]


def test_copy_object_copies_bytes_and_metadata(store):
    s3 = store.client()
    etag = put(s3, "src", b"hello copy", ContentType="text/plain", Metadata={"a": "1"})
    answer = s3.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"})
    result = answer["CopyObjectResult"]
    assert result["ETag"] == etag
    assert isinstance(result["LastModified"], datetime.datetime)
    head = s3.head_object(Bucket=BUCKET, Key="dst")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"a": "1"}
    assert body_of(s3, "dst") == b"hello copy"
    # A copy asked for with another checksum gets that checksum of its bytes.
    summed = s3.copy_object(Bucket=BUCKET, Key="dst-sha", CopySource={"Bucket": BUCKET, "Key": "src"},
                            ChecksumAlgorithm="SHA256")["CopyObjectResult"]
    assert summed["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"hello copy").digest()).decode()
    assert summed["ETag"] == etag
    # The copy is an object of its own: deleting the source leaves it whole.
    s3.delete_object(Bucket=BUCKET, Key="src")
    assert body_of(s3, "dst") == b"hello copy"


def test_metadata_directive_replace_and_copy_onto_itself(store):
    s3 = store.client()
    put(s3, "meta", b"m", ContentType="text/plain", Metadata={"a": "1"})
    s3.copy_object(Bucket=BUCKET, Key="meta2", CopySource=f"{BUCKET}/meta", MetadataDirective="REPLACE",
                   ContentType="application/json", Metadata={"b": "2"})
    head = s3.head_object(Bucket=BUCKET, Key="meta2")
    assert head["ContentType"] == "application/json" and head["Metadata"] == {"b": "2"}

    # S3: copying an object onto itself without changing anything is illegal.
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=BUCKET, Key="meta", CopySource=f"{BUCKET}/meta")
    assert error(err) == (400, "InvalidRequest")
    assert "copy an object to itself" in err.value.response["Error"]["Message"]
    # Replacing its metadata is how S3 edits metadata in place.
    s3.copy_object(Bucket=BUCKET, Key="meta", CopySource=f"{BUCKET}/meta", MetadataDirective="REPLACE",
                   Metadata={"c": "3"})
    assert s3.head_object(Bucket=BUCKET, Key="meta")["Metadata"] == {"c": "3"}
    assert body_of(s3, "meta") == b"m"

    status, _, body = request(store, "PUT", f"/{BUCKET}/meta3", headers={
        "x-amz-copy-source": f"/{BUCKET}/meta", "x-amz-metadata-directive": "MERGE"})
    assert status == 400 and texts(xml(body), "Code") == ["InvalidArgument"]


def test_standard_headers_are_copied_or_replaced_with_the_metadata(store):
    """COPY keeps the source's Cache-Control, Content-Disposition, Content-Encoding,
    Content-Language and Expires; REPLACE takes the request's and keeps none of the source's
    (S3 CopyObject: "x-amz-metadata-directive")."""
    s3 = store.client()
    expires = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    put(s3, "hdr", b"h", CacheControl="max-age=60", ContentDisposition="attachment", ContentEncoding="identity",
        ContentLanguage="fr", Expires=expires)
    s3.copy_object(Bucket=BUCKET, Key="hdr-copy", CopySource=f"{BUCKET}/hdr")
    head = s3.head_object(Bucket=BUCKET, Key="hdr-copy")
    assert (head["CacheControl"], head["ContentDisposition"], head["ContentLanguage"]) == ("max-age=60", "attachment", "fr")
    assert head["ContentEncoding"] == "identity" and head["Expires"] == expires
    s3.copy_object(Bucket=BUCKET, Key="hdr-replaced", CopySource=f"{BUCKET}/hdr", MetadataDirective="REPLACE",
                   CacheControl="no-store")
    head = s3.head_object(Bucket=BUCKET, Key="hdr-replaced")
    assert head["CacheControl"] == "no-store"
    for gone in ("ContentDisposition", "ContentLanguage", "Expires"):
        assert gone not in head, (gone, head)


def test_copy_source_conditions(store):
    s3 = store.client()
    etag = put(s3, "cond", b"conditional")
    source = {"Bucket": BUCKET, "Key": "cond"}
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    failing = [
        {"CopySourceIfMatch": '"0123456789abcdef0123456789abcdef"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": future},
        {"CopySourceIfUnmodifiedSince": past},
        # A false If-None-Match fails whatever If-Modified-Since says.
        {"CopySourceIfNoneMatch": etag, "CopySourceIfModifiedSince": past},
    ]
    for conditions in failing:
        with pytest.raises(ClientError) as err:
            s3.copy_object(Bucket=BUCKET, Key="cond-copy", CopySource=source, **conditions)
        assert error(err) == (412, "PreconditionFailed"), conditions
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="cond-copy")
    holding = [
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"0123456789abcdef0123456789abcdef"'},
        {"CopySourceIfModifiedSince": past},
        {"CopySourceIfUnmodifiedSince": future},
        # A true If-Match wins over a false If-Unmodified-Since.
        {"CopySourceIfMatch": etag, "CopySourceIfUnmodifiedSince": past},
    ]
    for conditions in holding:
        answer = s3.copy_object(Bucket=BUCKET, Key="cond-copy", CopySource=source, **conditions)
        assert answer["CopyObjectResult"]["ETag"] == etag, conditions


def test_url_encoded_copy_source_and_version_ids(store):
    s3 = store.client()
    key = "dir one/a+b é.txt"
    put(s3, key, b"encoded")
    s3.copy_object(Bucket=BUCKET, Key="enc-copy", CopySource={"Bucket": BUCKET, "Key": key})
    assert body_of(s3, "enc-copy") == b"encoded"
    encoded = f"/{BUCKET}/dir%20one/a%2Bb%20%C3%A9.txt"
    status, _, body = request(store, "PUT", f"/{BUCKET}/enc-copy2",
                              headers={"x-amz-copy-source": encoded + "?versionId=null"})
    assert status == 200, body
    assert texts(xml(body), "ETag") and texts(xml(body), "LastModified")
    assert body_of(s3, "enc-copy2") == b"encoded"
    # The store keeps no versions: any other version id is refused.
    status, _, body = request(store, "PUT", f"/{BUCKET}/enc-copy3",
                              headers={"x-amz-copy-source": encoded + "?versionId=3HL4kqtJlcpXroDTDmJ"})
    assert status == 400 and texts(xml(body), "Code") == ["InvalidArgument"]
    status, _, body = request(store, "PUT", f"/{BUCKET}/enc-copy3", headers={"x-amz-copy-source": "no-key"})
    assert status == 400 and texts(xml(body), "Code") == ["InvalidArgument"]
    assert texts(xml(body), "Message") == [
        "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"]
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=BUCKET, Key="x", CopySource={"Bucket": BUCKET, "Key": "missing"})
    assert error(err) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=BUCKET, Key="x", CopySource={"Bucket": "no-such-bucket", "Key": "k"})
    assert error(err) == (404, "NoSuchBucket")


def multipart_object(s3, key, parts):
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    done = []
    for number, data in enumerate(parts, 1):
        etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=data)["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": done})


def test_copy_of_a_multipart_object_is_a_single_part_object(store):
    s3 = store.client()
    parts = [os.urandom(5 * MIB), b"tail"]
    multipart_object(s3, "multi", parts)
    assert s3.head_object(Bucket=BUCKET, Key="multi")["ETag"].endswith('-2"')
    answer = s3.copy_object(Bucket=BUCKET, Key="multi-copy", CopySource={"Bucket": BUCKET, "Key": "multi"})
    whole = b"".join(parts)
    assert answer["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(whole).hexdigest()}"'
    assert body_of(s3, "multi-copy") == whole


def test_upload_part_copy_with_and_without_a_range(store):
    s3 = store.client()
    data = os.urandom(6 * MIB)
    etag = put(s3, "part-src", data)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="assembled")["UploadId"]
    source = {"Bucket": BUCKET, "Key": "part-src"}
    whole = s3.upload_part_copy(Bucket=BUCKET, Key="assembled", UploadId=upload, PartNumber=1, CopySource=source)
    assert whole["CopyPartResult"]["ETag"] == etag
    ranged = s3.upload_part_copy(Bucket=BUCKET, Key="assembled", UploadId=upload, PartNumber=2,
                                 CopySource=source, CopySourceRange="bytes=100-199")
    assert ranged["CopyPartResult"]["ETag"] == f'"{hashlib.md5(data[100:200]).hexdigest()}"'
    listed = s3.list_parts(Bucket=BUCKET, Key="assembled", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, len(data)), (2, 100)]

    for malformed in ["0-99", "bytes=5", "bytes=a-b"]:
        with pytest.raises(ClientError) as err:
            s3.upload_part_copy(Bucket=BUCKET, Key="assembled", UploadId=upload, PartNumber=3,
                                CopySource=source, CopySourceRange=malformed)
        assert error(err) == (400, "InvalidArgument"), malformed
        assert err.value.response["Error"]["Message"].startswith(
            "The x-amz-copy-source-range value must be of the form bytes=first-last")
    with pytest.raises(ClientError) as err:
        s3.upload_part_copy(Bucket=BUCKET, Key="assembled", UploadId=upload, PartNumber=3,
                            CopySource=source, CopySourceRange=f"bytes=0-{len(data)}")
    assert error(err) == (400, "InvalidArgument")
    assert err.value.response["Error"]["Message"] == \
        f"Range specified is not valid for source object of size: {len(data)}"
    with pytest.raises(ClientError) as err:
        s3.upload_part_copy(Bucket=BUCKET, Key="assembled", UploadId=upload, PartNumber=3,
                            CopySource=source, CopySourceIfMatch='"0123456789abcdef0123456789abcdef"')
    assert error(err) == (412, "PreconditionFailed")

    s3.complete_multipart_upload(Bucket=BUCKET, Key="assembled", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": whole["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": ranged["CopyPartResult"]["ETag"]},
    ]})
    assert body_of(s3, "assembled") == data + data[100:200]


def aws(store, *args):
    result = subprocess.run(["aws", "--endpoint-url", store.endpoint, *args],
                            env=store.env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli_cp_and_mv_copy_on_the_server(store):
    s3 = store.client()
    small, large = os.urandom(1000), os.urandom(20 * MIB)
    put(s3, "cli/small", small)
    put(s3, "cli/large", large)
    # Under its multipart threshold the CLI sends CopyObject; above it, UploadPartCopy ranges.
    aws(store, "s3", "cp", f"s3://{BUCKET}/cli/small", f"s3://{BUCKET}/cli/small-copy")
    aws(store, "s3", "cp", f"s3://{BUCKET}/cli/large", f"s3://{BUCKET}/cli/large copy")
    assert body_of(s3, "cli/small-copy") == small
    assert body_of(s3, "cli/large copy") == large
    assert s3.head_object(Bucket=BUCKET, Key="cli/large copy")["ETag"].endswith('-3"')
    aws(store, "s3", "mv", f"s3://{BUCKET}/cli/large copy", f"s3://{BUCKET}/cli/moved")
    assert body_of(s3, "cli/moved") == large
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="cli/")["Contents"]]
    assert keys == ["cli/large", "cli/moved", "cli/small", "cli/small-copy"]


# rclone is installed by scripts/test (Debian's package); a bare run without it skips.
needs_rclone = pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone is not installed")


def rclone(store, *args):
    """Runs rclone against the store as an on-the-fly remote; returns the remote's prefix too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    env["RCLONE_CONFIG"] = "/dev/null"
    result = subprocess.run(["rclone", "--s3-no-check-bucket", "--retries", "1", "--low-level-retries", "1",
                             *[a.replace("REMOTE:", rclone_remote(store)) for a in args]],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return result


def rclone_remote(store):
    return (f":s3,provider=Other,access_key_id={store.access_key},secret_access_key={store.secret_key},"
            f"endpoint='{store.endpoint}',force_path_style=true:")


@needs_rclone
def test_rclone_server_side_copy(store):
    s3 = store.client()
    put(s3, "rc/src", b"rclone bytes")
    rclone(store, "copyto", f"REMOTE:{BUCKET}/rc/src", f"REMOTE:{BUCKET}/rc/dst")
    assert body_of(s3, "rc/dst") == b"rclone bytes"


@needs_rclone
def test_rclone_server_side_copy_of_a_large_object_uses_upload_part_copy(store):
    s3 = store.client()
    data = os.urandom(12 * MIB + 5)
    put(s3, "rc/big", data)
    # Above --s3-copy-cutoff rclone copies in parts: CreateMultipartUpload, UploadPartCopy with
    # ranges, CompleteMultipartUpload, all on the store's side.
    rclone(store, "copyto", "--s3-copy-cutoff", "5M", f"REMOTE:{BUCKET}/rc/big", f"REMOTE:{BUCKET}/rc/big-copy")
    head = s3.head_object(Bucket=BUCKET, Key="rc/big-copy")
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    assert body_of(s3, "rc/big-copy") == data


@needs_rclone
def test_rclone_copy_of_a_folder_and_back(store, tmp_path):
    s3 = store.client()
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha", "sub/b.bin": os.urandom(MIB + 1), "sub/large.bin": os.urandom(11 * MIB + 3),
             "empty": b""}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    # Small chunks so that the large file goes up as a multipart upload.
    rclone(store, "copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(folder), f"REMOTE:{BUCKET}/tree")
    for name, data in files.items():
        assert body_of(s3, f"tree/{name}") == data, name
    # rclone check compares sizes and MD5s (from ETags, and the metadata rclone keeps for multipart).
    rclone(store, "check", str(folder), f"REMOTE:{BUCKET}/tree")
    # A server-side copy of the folder, then the copy back to disk.
    rclone(store, "copy", "--s3-copy-cutoff", "5M", f"REMOTE:{BUCKET}/tree", f"REMOTE:{BUCKET}/tree2")
    back = tmp_path / "back"
    rclone(store, "copy", f"REMOTE:{BUCKET}/tree2", str(back))
    for name, data in files.items():
        assert (back / name).read_bytes() == data, name
    # Copying again sends nothing: every object is found equal.
    again = rclone(store, "copy", "-v", str(folder), f"REMOTE:{BUCKET}/tree")
    assert "Copied" not in again.stderr, again.stderr


def test_the_5_gib_copy_limit(store):
    # An object over 5 GiB, made of 52 parts each linked from one 100 MiB object, so that
    # almost nothing is written to disk.
    s3 = store.client()
    piece = os.urandom(100 * MIB)
    put(s3, "piece", piece)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="huge")["UploadId"]
    parts = []
    for number in range(1, 53):
        answer = s3.upload_part_copy(Bucket=BUCKET, Key="huge", UploadId=upload, PartNumber=number,
                                     CopySource={"Bucket": BUCKET, "Key": "piece"})
        parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
    s3.complete_multipart_upload(Bucket=BUCKET, Key="huge", UploadId=upload, MultipartUpload={"Parts": parts})
    size = s3.head_object(Bucket=BUCKET, Key="huge")["ContentLength"]
    assert size == 52 * 100 * MIB > 5 * GIB

    message = "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=BUCKET, Key="huge-copy", CopySource={"Bucket": BUCKET, "Key": "huge"})
    assert error(err) == (400, "InvalidRequest")
    assert err.value.response["Error"]["Message"] == message
    target = s3.create_multipart_upload(Bucket=BUCKET, Key="huge-part")["UploadId"]
    with pytest.raises(ClientError) as err:
        s3.upload_part_copy(Bucket=BUCKET, Key="huge-part", UploadId=target, PartNumber=1,
                            CopySource={"Bucket": BUCKET, "Key": "huge"})
    assert error(err) == (400, "InvalidRequest")
    # A range of it is within the limit.
    ranged = s3.upload_part_copy(Bucket=BUCKET, Key="huge-part", UploadId=target, PartNumber=1,
                                 CopySource={"Bucket": BUCKET, "Key": "huge"},
                                 CopySourceRange=f"bytes={100 * MIB - 10}-{100 * MIB + 9}")
    assert ranged["CopyPartResult"]["ETag"] == f'"{hashlib.md5(piece[-10:] + piece[:10]).hexdigest()}"'


def test_copy_options_the_store_does_not_keep_are_not_implemented(store):
    s3 = store.client()
    put(s3, "plain", b"p")
    source = {"Bucket": BUCKET, "Key": "plain"}
    for option in [
        {"StorageClass": "GLACIER"},
        {"Tagging": "a=b", "TaggingDirective": "REPLACE"},
        {"ServerSideEncryption": "AES256"},
        {"ACL": "public-read"},
        {"WebsiteRedirectLocation": "/elsewhere"},
    ]:
        with pytest.raises(ClientError) as err:
            s3.copy_object(Bucket=BUCKET, Key="opt-copy", CopySource=source, **option)
        assert error(err) == (501, "NotImplemented"), option
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="opt-copy")
    # The owner's own ACLs and the one storage class are what the store has anyway.
    s3.copy_object(Bucket=BUCKET, Key="opt-copy", CopySource=source, ACL="private", StorageClass="STANDARD")
    assert body_of(s3, "opt-copy") == b"p"
