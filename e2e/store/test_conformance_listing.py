"""Listings as Amazon S3 answers them (S3 API reference: ListObjects, ListObjectsV2,
ListMultipartUploads, ListBuckets, CreateBucket): `encoding-type=url` applied to every name,
`max-keys=0`, owners, ListBuckets pages, and CreateBucket's answers about regions."""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BUCKET
from raw import request, texts, xml

# Names with every character class that encoding changes: a space, '+', '%', '~', non-ASCII.
KEYS = ["dir one/a+b.txt", "dir one/c%d é.txt", "dir one/sub dir/x", "top~level", "z*star"]


def error(exc):
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"], exc.value.response["Error"]["Code"]


def client_in(store, region):
    return boto3.client(
        "s3", endpoint_url=store.endpoint, region_name=region,
        aws_access_key_id=store.access_key, aws_secret_access_key=store.secret_key,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
    )


@pytest.fixture
def keyed(store):
    s3 = store.client()
    for key in KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    return store


# 1. encoding-type=url

def test_v2_names_round_trip_through_boto3s_url_encoding(keyed):
    # boto3 asks for encoding-type=url on its own and decodes with unquote_plus: the store
    # must encode, or '+' comes back as a space and '%' sequences are mangled.
    s3 = keyed.client()
    listed = s3.list_objects_v2(Bucket=BUCKET)
    assert [o["Key"] for o in listed["Contents"]] == sorted(KEYS)
    grouped = s3.list_objects_v2(Bucket=BUCKET, Prefix="dir one/", Delimiter="/", StartAfter="dir one/a+b.txt")
    assert [o["Key"] for o in grouped["Contents"]] == ["dir one/c%d é.txt"]
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir one/sub dir/"]
    assert grouped["Prefix"] == "dir one/"
    assert grouped["StartAfter"] == "dir one/a+b.txt"


def test_v2_raw_answer_is_url_encoded(keyed):
    status, _, body = request(keyed, "GET", f"/{BUCKET}", {
        "list-type": "2", "encoding-type": "url", "prefix": "dir one/", "delimiter": "/",
        "start-after": "dir one/a+b.txt",
    })
    assert status == 200, body
    root = xml(body)
    assert texts(root, "EncodingType") == ["url"]
    assert texts(root, "Prefix") == ["dir+one/"]
    assert texts(root, "Delimiter") == ["/"]
    assert texts(root, "StartAfter") == ["dir+one/a%2Bb.txt"]
    assert texts(root, "Contents/Key") == ["dir+one/c%25d+%C3%A9.txt"]
    assert texts(root, "CommonPrefixes/Prefix") == ["dir+one/sub+dir/"]
    # Without encoding-type the names are sent as they are.
    status, _, body = request(keyed, "GET", f"/{BUCKET}", {"list-type": "2", "prefix": "top"})
    assert texts(xml(body), "Contents/Key") == ["top~level"]


def test_v1_markers_and_names_are_url_encoded(keyed):
    status, _, body = request(keyed, "GET", f"/{BUCKET}", {
        "encoding-type": "url", "prefix": "dir one/", "marker": "dir one/a+b.txt", "delimiter": " ",
        "max-keys": "1",
    })
    assert status == 200, body
    root = xml(body)
    assert texts(root, "Prefix") == ["dir+one/"]
    assert texts(root, "Marker") == ["dir+one/a%2Bb.txt"]
    assert texts(root, "Delimiter") == ["+"]
    # The first entry after the marker rolls up at the space of "c%d é.txt".
    assert texts(root, "CommonPrefixes/Prefix") == ["dir+one/c%25d+"]
    assert texts(root, "IsTruncated") == ["true"]
    assert texts(root, "NextMarker") == ["dir+one/c%25d+"]
    # boto3 decodes v1 answers too.
    s3 = keyed.client()
    listed = s3.list_objects(Bucket=BUCKET, Marker="dir one/a+b.txt", MaxKeys=1)
    assert [o["Key"] for o in listed["Contents"]] == ["dir one/c%d é.txt"]
    assert listed["Marker"] == "dir one/a+b.txt"


def test_an_unknown_encoding_type_is_invalid_argument(keyed):
    status, _, body = request(keyed, "GET", f"/{BUCKET}", {"list-type": "2", "encoding-type": "base64"})
    assert status == 400 and texts(xml(body), "Code") == ["InvalidArgument"]


def test_multipart_upload_listing_is_url_encoded_and_grouped(store):
    s3 = store.client()
    for key in ["up one/a+b", "up one/x y/1", "up one/x y/2", "up two"]:
        s3.create_multipart_upload(Bucket=BUCKET, Key=key)
    status, _, body = request(store, "GET", f"/{BUCKET}", {
        "uploads": "", "encoding-type": "url", "prefix": "up one/", "delimiter": "/",
    })
    assert status == 200, body
    root = xml(body)
    assert texts(root, "EncodingType") == ["url"]
    assert texts(root, "Prefix") == ["up+one/"]
    assert texts(root, "Delimiter") == ["/"]
    assert texts(root, "Upload/Key") == ["up+one/a%2Bb"]
    assert texts(root, "CommonPrefixes/Prefix") == ["up+one/x+y/"]

    status, _, body = request(store, "GET", f"/{BUCKET}", {
        "uploads": "", "encoding-type": "url", "key-marker": "up one/a+b", "max-uploads": "1",
    })
    root = xml(body)
    assert texts(root, "KeyMarker") == ["up+one/a%2Bb"]
    assert texts(root, "Upload/Key") == ["up+one/x+y/1"]
    assert texts(root, "IsTruncated") == ["true"]
    assert texts(root, "NextKeyMarker") == ["up+one/x+y/1"]


def test_multipart_uploads_page_in_key_then_upload_id_order_from_the_markers(store):
    """ListMultipartUploads: keys in order, and within a key the upload ids in order (what
    upload-id-marker compares); key-marker alone skips every upload of that key; another
    bucket's uploads never show."""
    s3 = store.client()
    # Buckets named to sort on both sides of this one, with uploads of a key listed here and
    # of a key after every key here.
    for other in ("0-" + BUCKET, BUCKET + "-z"):
        s3.create_bucket(Bucket=other)
        for key in ("k/a", "z"):
            s3.create_multipart_upload(Bucket=other, Key=key)
    made = []
    for key in ["k/b", "k/a", "l", "k/a", "k/b", "k/a", "j"]:
        made.append((key, s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]))
    expected = sorted(made)

    pages = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=BUCKET, PaginationConfig={"PageSize": 2})
    seen, truncated = [], []
    for page in pages:
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        truncated.append(page["IsTruncated"])
    assert seen == expected
    assert truncated == [True, True, True, False]

    page = s3.list_multipart_uploads(Bucket=BUCKET, Prefix="k/", MaxUploads=1000)
    assert [(u["Key"], u["UploadId"]) for u in page["Uploads"]] == [
        u for u in expected if u[0].startswith("k/")]

    page = s3.list_multipart_uploads(Bucket=BUCKET, KeyMarker="k/a")
    assert [(u["Key"], u["UploadId"]) for u in page["Uploads"]] == [
        u for u in expected if u[0] > "k/a"]

    second_a = [u for u in expected if u[0] == "k/a"][1]
    page = s3.list_multipart_uploads(
        Bucket=BUCKET, KeyMarker="k/a", UploadIdMarker=second_a[1], MaxUploads=2)
    assert [(u["Key"], u["UploadId"]) for u in page["Uploads"]] == [
        u for u in expected if u > second_a][:2]
    assert page["IsTruncated"] is True
    assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == [
        u for u in expected if u > second_a][1]

    # An aborted upload leaves the listing.
    s3.abort_multipart_upload(Bucket=BUCKET, Key=second_a[0], UploadId=second_a[1])
    page = s3.list_multipart_uploads(Bucket=BUCKET, Prefix="k/a")
    assert second_a not in [(u["Key"], u["UploadId"]) for u in page["Uploads"]]
    assert len(page["Uploads"]) == 2


def test_multipart_uploads_roll_up_at_the_delimiter_page_by_page(store):
    """ListMultipartUploads with a delimiter: every key with the delimiter after the prefix
    rolls up into one CommonPrefixes entry, which counts as one entry of a page; a page that
    ends on a common prefix continues after every key under it."""
    s3 = store.client()
    made = {}
    for key in ["g/1", "g/2", "g/\U0010FFFF", "g/\U0010FFFF\U0010FFFF/x", "h", "h", "i/a", "i/b/c", "j/é/1", "j0"]:
        made.setdefault(key, []).append(s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"])

    whole = s3.list_multipart_uploads(Bucket=BUCKET, Delimiter="/")
    assert [(u["Key"], u["UploadId"]) for u in whole["Uploads"]] == sorted(
        [("h", i) for i in made["h"]] + [("j0", made["j0"][0])])
    assert [p["Prefix"] for p in whole["CommonPrefixes"]] == ["g/", "i/", "j/"]
    assert whole["IsTruncated"] is False

    entries = []
    pages = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=BUCKET, Delimiter="/", PaginationConfig={"PageSize": 1})
    for page in pages:
        got = [("upload", u["Key"]) for u in page.get("Uploads", [])] + [
            ("prefix", p["Prefix"]) for p in page.get("CommonPrefixes", [])]
        assert len(got) == 1, page
        entries += got
    assert entries == [("prefix", "g/"), ("upload", "h"), ("upload", "h"), ("prefix", "i/"),
                       ("prefix", "j/"), ("upload", "j0")]

    inner = s3.list_multipart_uploads(Bucket=BUCKET, Prefix="i/", Delimiter="/")
    assert [u["Key"] for u in inner["Uploads"]] == ["i/a"]
    assert [p["Prefix"] for p in inner["CommonPrefixes"]] == ["i/b/"]
    after = s3.list_multipart_uploads(Bucket=BUCKET, Delimiter="/", KeyMarker="g/")
    assert [p["Prefix"] for p in after["CommonPrefixes"]] == ["i/", "j/"]
    assert [u["Key"] for u in after["Uploads"]] == ["h", "h", "j0"]


# 3. Listing details

def test_max_keys_zero_is_an_empty_page_that_is_not_truncated(keyed):
    s3 = keyed.client()
    v2 = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=0)
    assert v2["IsTruncated"] is False and "Contents" not in v2 and v2["KeyCount"] == 0
    assert "NextContinuationToken" not in v2
    v1 = s3.list_objects(Bucket=BUCKET, MaxKeys=0)
    assert v1["IsTruncated"] is False and "Contents" not in v1


def test_owner_with_fetch_owner_on_v2_and_always_on_v1(keyed):
    s3 = keyed.client()
    plain = s3.list_objects_v2(Bucket=BUCKET)
    assert all("Owner" not in o for o in plain["Contents"])
    fetched = s3.list_objects_v2(Bucket=BUCKET, FetchOwner=True)
    for o in fetched["Contents"]:
        assert o["Owner"]["ID"] and o["Owner"]["DisplayName"]
    v1 = s3.list_objects(Bucket=BUCKET)
    for o in v1["Contents"]:
        assert o["Owner"]["ID"] and o["Owner"]["DisplayName"]
    assert v1["Contents"][0]["Owner"] == s3.list_buckets()["Owner"]


def test_list_buckets_pages_with_max_buckets_and_continuation_token(store):
    s3 = store.client()
    for name in ["page-a", "page-b", "page-c"]:
        s3.create_bucket(Bucket=name)
    first = s3.list_buckets(MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == ["e2e-bucket", "page-a"]
    token = first["ContinuationToken"]
    second = s3.list_buckets(MaxBuckets=2, ContinuationToken=token)
    assert [b["Name"] for b in second["Buckets"]] == ["page-b", "page-c"]
    assert "ContinuationToken" not in second
    every = s3.list_buckets()
    assert len(every["Buckets"]) == 4 and "ContinuationToken" not in every
    prefixed = s3.list_buckets(Prefix="page-")
    assert [b["Name"] for b in prefixed["Buckets"]] == ["page-a", "page-b", "page-c"]
    assert prefixed["Prefix"] == "page-"
    # Every bucket is in the store's region.
    assert s3.list_buckets(BucketRegion="eu-west-1")["Buckets"] == []
    assert len(s3.list_buckets(BucketRegion="us-east-1")["Buckets"]) == 4
    with pytest.raises(ClientError) as err:
        s3.list_buckets(MaxBuckets=10001)
    assert error(err) == (400, "InvalidArgument")


def test_recreating_your_own_bucket_in_us_east_1_is_200(store):
    s3 = store.client()
    answer = s3.create_bucket(Bucket=BUCKET)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answer["Location"] == f"/{BUCKET}"


def test_a_location_constraint_not_the_stores_region_is_refused(start_store):
    store = start_store()
    s3 = store.client()
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket="elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error(err) == (400, "IllegalLocationConstraintException")
    assert "eu-west-1" in err.value.response["Error"]["Message"]
    assert "elsewhere" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_outside_us_east_1_the_constraint_must_name_the_region(start_store):
    store = start_store(["--region", "eu-west-1"])
    s3 = client_in(store, "eu-west-1")
    # Outside us-east-1, creating a bucket you own again is 409.
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error(err) == (409, "BucketAlreadyOwnedByYou")
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket="no-constraint")
    assert error(err) == (400, "IllegalLocationConstraintException")
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket="other-region", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert error(err) == (400, "IllegalLocationConstraintException")
    made = s3.create_bucket(Bucket="right-region", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket="right-region")["LocationConstraint"] == "eu-west-1"
