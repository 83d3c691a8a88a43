"""Bucket lifecycle as Amazon S3 has it (S3 API reference: PutBucketLifecycleConfiguration,
LifecycleRule, LifecycleExpiration; the `x-amz-expiration` header of PutObject, HeadObject
and GetObject): configurations checked as S3 checks them, returned as they were sent,
expiration carried out by the sweeper, and anything the store would ignore refused with 501."""

import datetime
import json
import re
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import BUCKET

EXPIRATION = re.compile(r'^expiry-date="[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", rule-id="([^"]*)"$')
MIDNIGHT = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


def error(exc):
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def rule(**fields):
    base = {"ID": "r1", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 3}}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def put_rules(s3, *rules):
    return s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": list(rules)})


def refused(s3, *rules):
    with pytest.raises(ClientError) as err:
        put_rules(s3, *rules)
    with pytest.raises(ClientError) as none:
        s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)
    assert error(none) == (404, "NoSuchLifecycleConfiguration"), "a refused configuration was kept"
    return error(err), err.value.response["Error"].get("Message", "")


def test_rule_ids_are_checked(store):
    s3 = store.client()
    assert refused(s3, rule(ID="x" * 256))[0] == (400, "InvalidArgument")
    (status, message) = refused(s3, rule(ID="same"), rule(ID="same", Filter={"Prefix": "other/"}))
    assert status == (400, "InvalidArgument") and "unique" in message
    put_rules(s3, rule(ID="x" * 255))


def test_status_other_than_enabled_or_disabled_is_malformed_xml(store):
    s3 = store.client()
    for status in ["enabled", "On", ""]:
        assert refused(s3, rule(Status=status))[0] == (400, "MalformedXML"), status


def test_expiration_days_and_dates_are_checked(store):
    s3 = store.client()
    for days in [0, -1]:
        (status, message) = refused(s3, rule(Expiration={"Days": days}))
        assert status == (400, "InvalidArgument") and "'Days'" in message, days
    (status, message) = refused(s3, rule(Expiration={"Date": MIDNIGHT.replace(hour=12)}))
    assert status == (400, "InvalidArgument") and "midnight GMT" in message
    # Days and Date together do not validate against S3's schema.
    assert refused(s3, rule(Expiration={"Days": 1, "Date": MIDNIGHT}))[0] == (400, "MalformedXML")
    put_rules(s3, rule(Expiration={"Date": MIDNIGHT}))


def test_dates_and_filters_come_back_as_sent(store):
    s3 = store.client()
    sent = [
        rule(ID="dated", Expiration={"Date": MIDNIGHT}),
        rule(ID="and", Filter={"And": {"Prefix": "big/", "ObjectSizeGreaterThan": 1000, "ObjectSizeLessThan": 5000}}),
        rule(ID="size", Filter={"ObjectSizeGreaterThan": 10}),
        rule(ID="all", Filter={}, Expiration=None, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 2}),
    ]
    put_rules(s3, *sent)
    got = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert got[0]["Expiration"] == {"Date": MIDNIGHT}
    assert got[0]["Filter"] == {"Prefix": "logs/"}
    assert got[1]["Filter"] == sent[1]["Filter"]
    assert got[2]["Filter"] == {"ObjectSizeGreaterThan": 10}
    assert got[3]["Filter"] == {} and got[3]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}


def test_a_legacy_prefix_comes_back_as_a_legacy_prefix(store, tmp_path):
    config = {"Rules": [{"ID": "legacy", "Status": "Enabled", "Prefix": "old/", "Expiration": {"Days": 30}}]}
    path = tmp_path / "lifecycle.json"
    path.write_text(json.dumps(config))
    aws = ["aws", "--endpoint-url", store.endpoint, "s3api"]
    put = subprocess.run([*aws, "put-bucket-lifecycle-configuration", "--bucket", BUCKET,
                          "--lifecycle-configuration", f"file://{path}"],
                         env=store.env(), capture_output=True, text=True, timeout=60)
    assert put.returncode == 0, put.stderr
    got = subprocess.run([*aws, "get-bucket-lifecycle-configuration", "--bucket", BUCKET],
                         env=store.env(), capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    (back,) = json.loads(got.stdout)["Rules"]
    assert back["Prefix"] == "old/" and "Filter" not in back


def test_tag_filters_are_not_implemented(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="t", Body=b"t")
    # The store keeps no object tags, so a rule on tags could never match: 501, not kept.
    with pytest.raises(ClientError) as err:
        s3.put_object_tagging(Bucket=BUCKET, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert error(err) == (501, "NotImplemented")
    tag = {"Key": "class", "Value": "temp"}
    assert refused(s3, rule(Filter={"Tag": tag}))[0] == (501, "NotImplemented")
    assert refused(s3, rule(Filter={"And": {"Prefix": "a/", "Tags": [tag]}}))[0] == (501, "NotImplemented")


def test_actions_the_store_does_not_carry_out_are_not_implemented(store):
    s3 = store.client()
    for unsupported in [
        {"Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]},
        {"NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
        {"NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "GLACIER"}]},
        {"Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]:
        assert refused(s3, rule(**unsupported))[0] == (501, "NotImplemented"), unsupported


def wait_until(check, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def keys(s3):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_expiration_days_are_carried_out_and_announced(start_store):
    # A "day" of one second, swept every second.
    store = start_store(["--lifecycle-day", "1", "--sweep-interval", "1"])
    s3 = store.client()
    put_rules(s3, rule(ID="tmp-rule", Filter={"Prefix": "tmp/"}, Expiration={"Days": 2}),
              rule(ID="abort", Filter={"Prefix": ""}, Expiration=None,
                   AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}))
    put = s3.put_object(Bucket=BUCKET, Key="tmp/a", Body=b"a")
    assert EXPIRATION.match(put["Expiration"]).group(1) == "tmp-rule"
    kept = s3.put_object(Bucket=BUCKET, Key="keep/b", Body=b"b")
    assert "Expiration" not in kept
    head = s3.head_object(Bucket=BUCKET, Key="tmp/a")
    assert head["Expiration"] == put["Expiration"]
    assert s3.get_object(Bucket=BUCKET, Key="tmp/a")["Expiration"] == put["Expiration"]
    assert "Expiration" not in s3.head_object(Bucket=BUCKET, Key="keep/b")
    created = s3.create_multipart_upload(Bucket=BUCKET, Key="keep/upload")
    upload = created["UploadId"]
    # S3 announces when a rule will abort the upload.
    assert created["AbortRuleId"] == "abort" and isinstance(created["AbortDate"], datetime.datetime)

    assert wait_until(lambda: keys(s3) == ["keep/b"]), keys(s3)
    # AbortIncompleteMultipartUpload keeps working beside Expiration.
    assert wait_until(lambda: not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads"))
    assert upload


def test_expiration_dates_and_size_filters_are_carried_out(start_store):
    store = start_store(["--sweep-interval", "1"])
    s3 = store.client()
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    s3.put_object(Bucket=BUCKET, Key="old/small", Body=b"s")
    s3.put_object(Bucket=BUCKET, Key="old/large", Body=b"x" * 100)
    s3.put_object(Bucket=BUCKET, Key="new/large", Body=b"x" * 100)
    put_rules(s3, rule(ID="dated", Filter={"And": {"Prefix": "old/", "ObjectSizeGreaterThan": 10}},
                       Expiration={"Date": past}))
    head = s3.head_object(Bucket=BUCKET, Key="old/large")
    assert head["Expiration"] == 'expiry-date="Wed, 01 Jan 2020 00:00:00 GMT", rule-id="dated"'
    assert "Expiration" not in s3.head_object(Bucket=BUCKET, Key="old/small")
    assert wait_until(lambda: keys(s3) == ["new/large", "old/small"]), keys(s3)
