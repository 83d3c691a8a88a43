"""Virtual-hosted-style addressing under `--domain` (as MinIO's and Garage's root domain):
`Host: BUCKET.DOMAIN:PORT` addresses BUCKET, and path-style keeps working. Names under the
domain are not in any resolver here, so every request goes to the loopback socket with the
virtual host in its `Host` header."""

import urllib.error
import urllib.parse
import urllib.request

import boto3
import pytest
from botocore.config import Config

from conftest import BUCKET
from raw import request, texts, xml

DOMAIN = "s3.local"


@pytest.fixture
def hosted(start_store):
    return start_store(["--domain", DOMAIN])


def virtual_client(store):
    """boto3 in virtual-hosted style against http://s3.local:PORT, each request sent to the
    store's loopback address with its Host header kept as signed."""
    s3 = boto3.client(
        "s3", endpoint_url=f"http://{DOMAIN}:{store.port}", region_name="us-east-1",
        aws_access_key_id=store.access_key, aws_secret_access_key=store.secret_key,
        config=Config(s3={"addressing_style": "virtual"}, signature_version="s3v4", retries={"max_attempts": 1}),
    )

    def to_loopback(request, **_):
        parts = urllib.parse.urlsplit(request.url)
        assert parts.hostname.endswith(DOMAIN), request.url
        request.headers["Host"] = parts.netloc
        request.url = urllib.parse.urlunsplit(parts._replace(netloc=f"{store.host}:{store.port}"))

    s3.meta.events.register_first("before-send.s3", to_loopback)
    seen = []
    s3.meta.events.register("before-send.s3", lambda request, **_: seen.append(request.headers["Host"]))
    return s3, seen


def test_boto3_in_virtual_hosted_style(hosted):
    s3, hosts = virtual_client(hosted)
    s3.put_object(Bucket=BUCKET, Key="dir/virtual key", Body=b"virtual")
    assert s3.get_object(Bucket=BUCKET, Key="dir/virtual key")["Body"].read() == b"virtual"
    s3.head_bucket(Bucket=BUCKET)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/virtual key"]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    s3.complete_multipart_upload(Bucket=BUCKET, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    s3.copy_object(Bucket=BUCKET, Key="mp-copy", CopySource={"Bucket": BUCKET, "Key": "mp"})
    assert s3.get_object(Bucket=BUCKET, Key="mp-copy")["Body"].read() == b"part"
    s3.delete_object(Bucket=BUCKET, Key="mp")
    assert hosts and all(h == f"{BUCKET}.{DOMAIN}:{hosted.port}" for h in hosts), set(hosts)

    # Path-style requests to the same store see the same objects.
    path_style = hosted.client()
    keys = [o["Key"] for o in path_style.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["dir/virtual key", "mp-copy"]


def test_the_host_header_names_the_bucket(hosted):
    hosted.client().put_object(Bucket=BUCKET, Key="k", Body=b"by host")
    host = f"{BUCKET}.{DOMAIN}:{hosted.port}"
    status, _, body = request(hosted, "GET", "/k", host=host)
    assert (status, body) == (200, b"by host")
    status, _, body = request(hosted, "GET", "/", {"list-type": "2"}, host=host)
    assert status == 200 and texts(xml(body), "Name") == [BUCKET]
    assert texts(xml(body), "Contents/Key") == ["k"]
    # Host names are case-insensitive.
    status, _, body = request(hosted, "GET", "/k", host=host.upper())
    assert (status, body) == (200, b"by host")
    status, _, body = request(hosted, "GET", "/k", host=f"missing-bucket.{DOMAIN}:{hosted.port}")
    assert status == 404 and texts(xml(body), "Code") == ["NoSuchBucket"]
    # The domain itself, and any other host, is path-style.
    status, _, body = request(hosted, "GET", f"/{BUCKET}/k", host=f"{DOMAIN}:{hosted.port}")
    assert (status, body) == (200, b"by host")


def test_without_a_domain_hosts_name_no_bucket(start_store, tmp_path):
    plain = start_store(data_dir=tmp_path / "plain")
    plain.client().put_object(Bucket=BUCKET, Key="k", Body=b"x")
    status, _, _ = request(plain, "GET", "/k", host=f"{BUCKET}.{DOMAIN}:{plain.port}")
    assert status != 200
    status, _, body = request(plain, "GET", f"/{BUCKET}/k", host=f"{BUCKET}.{DOMAIN}:{plain.port}")
    assert (status, body) == (200, b"x")
    # The same request is virtual-hosted once the store has the domain.
    plain.stop()
    hosted = start_store(["--domain", DOMAIN], data_dir=tmp_path / "plain")
    status, _, body = request(hosted, "GET", "/k", host=f"{BUCKET}.{DOMAIN}:{hosted.port}")
    assert (status, body) == (200, b"x")


def test_presigned_virtual_hosted_url_and_cors(hosted):
    path_style = hosted.client()
    path_style.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["PUT", "GET"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]})
    s3, _ = virtual_client(hosted)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "signed"}, ExpiresIn=300)
    parts = urllib.parse.urlsplit(url)
    assert parts.netloc == f"{BUCKET}.{DOMAIN}:{hosted.port}"
    loopback = urllib.parse.urlunsplit(parts._replace(netloc=f"{hosted.host}:{hosted.port}"))
    put = urllib.request.Request(loopback, data=b"presigned", method="PUT",
                                 headers={"Host": parts.netloc, "Origin": "https://app.example.com"})
    with urllib.request.urlopen(put, timeout=10) as response:
        assert response.status == 200
        # The bucket's CORS rules are found from the Host.
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert path_style.get_object(Bucket=BUCKET, Key="signed")["Body"].read() == b"presigned"

    preflight = urllib.request.Request(f"{hosted.endpoint}/signed", method="OPTIONS", headers={
        "Host": parts.netloc, "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"})
    with urllib.request.urlopen(preflight, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
