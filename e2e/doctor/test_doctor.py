"""`hoist doctor` against a real `hoist store`: a correct bucket, a broken one before and after
`--fix` (read back with boto3), a skewed clock, and `hoist gc`."""

import re
import time

from conftest import BUCKET, ORIGIN, checks_by_id


def good_bucket(client):
    client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [ORIGIN], "AllowedMethods": ["GET", "PUT", "POST"], "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3000}]})
    client.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [{
        "ID": "abort", "Status": "Enabled", "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})


def test_a_correct_bucket_exits_0(store):
    good_bucket(store.client())
    code, report = store.doctor_json("--origin", ORIGIN)
    checks = checks_by_id(report)
    assert code == 0, report
    assert report["result"] == "ok"
    assert set(checks) == {"clock", "sigv4", "sigv2", "credentials", "ttl", "cors", "lifecycle", "stale-uploads"}
    assert all(c["status"] == "ok" for c in checks.values()), report
    p = store.hoist("doctor", "--origin", ORIGIN)
    assert p.returncode == 0 and "[ok  ] cors" in p.stdout and "result: ok" in p.stdout, p.stdout


def test_without_an_origin_the_cors_line_names_the_origins_the_bucket_allows(store):
    client = store.client()
    # No CORS configuration at all.
    client.delete_bucket_cors(Bucket=BUCKET)
    code, report = store.doctor_json()
    cors = checks_by_id(report)["cors"]
    assert cors["status"] == "warn" and "no CORS rules" in cors["summary"], cors
    p = store.hoist("doctor")
    assert "cors" in p.stdout and "no CORS rules" in p.stdout, p.stdout

    # One origin may PUT and read ETag; another may PUT but not read it.
    client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": [ORIGIN], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]},
        {"AllowedOrigins": ["https://blind.example.com"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]},
    ]})
    code, report = store.doctor_json()
    cors = checks_by_id(report)["cors"]
    assert cors["status"] == "warn" and cors["cause"] == "cors-etag-hidden", cors
    assert "https://blind.example.com" in cors["summary"] and ORIGIN in cors["summary"], cors

    good_bucket(client)
    code, report = store.doctor_json()
    cors = checks_by_id(report)["cors"]
    assert cors["status"] == "ok" and cors["summary"] == f"browsers on {ORIGIN} may PUT and read ETag", cors


def test_a_broken_bucket_exits_2_and_fix_repairs_it(store):
    client = store.client()
    client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [{
        "ID": "other", "AllowedOrigins": ["https://other.example.com"], "AllowedMethods": ["GET"]}]})
    code, report = store.doctor_json("--origin", ORIGIN)
    checks = checks_by_id(report)
    assert code == 2, report
    assert checks["cors"]["status"] == "fail" and checks["cors"]["cause"] == "cors-preflight"
    assert checks["lifecycle"]["status"] == "warn"

    p = store.hoist("doctor", "--origin", ORIGIN, "--fix")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "changed:\n  - CORS: added rule hoist-uploads" in p.stdout, p.stdout
    assert "lifecycle: added rule hoist-abort-incomplete-multipart-uploads" in p.stdout

    rules = client.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://other.example.com"], "the existing rule is kept"
    added = rules[1]
    assert added["AllowedOrigins"] == [ORIGIN] and "PUT" in added["AllowedMethods"] and "ETag" in added["ExposeHeaders"]
    # What Uppy 6 sends straight to the store is admitted too.
    assert {"POST", "DELETE"} <= set(added["AllowedMethods"]) and "Location" in added["ExposeHeaders"]
    lifecycle = client.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert lifecycle[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1

    code, report = store.doctor_json("--origin", ORIGIN, "--fix")
    assert code == 0, report
    assert report["changes"] == ["nothing needed changing"]


def test_a_store_clock_off_by_5_s_fails_the_clock_check(start_store):
    skewed = start_store("--fault-clock-offset", "5")
    good_bucket(skewed.client())
    code, report = skewed.doctor_json("--origin", ORIGIN)
    clock = checks_by_id(report)["clock"]
    assert code == 2 and clock["status"] == "fail" and clock["cause"] == "clock-skew", report
    measured = re.search(r"clock is (\d+) ms ahead", clock["summary"])
    assert measured and abs(int(measured.group(1)) - 5000) <= 10, clock
    assert any("corrects for it when signing" in e for e in clock["evidence"])
    code, report = skewed.doctor_json("--origin", ORIGIN, "--max-clock-offset", "10s")
    assert code == 0, report


def test_gc_aborts_stale_uploads_and_leaves_nothing(store):
    client = store.client()
    for key, size in (("a.bin", 1000), ("b.bin", 2000)):
        upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * size)
    time.sleep(2.2)
    code, report = store.doctor_json("--stale-after", "1s")
    stale = checks_by_id(report)["stale-uploads"]
    assert stale["status"] == "warn" and stale["summary"] == "2 incomplete upload(s) older than 1 s hold 2.9 KiB", stale
    assert code == 1, report

    client.create_multipart_upload(Bucket=BUCKET, Key="fresh.bin")

    dry = store.hoist("gc", "--older-than", "1s", "--dry-run")
    assert dry.returncode == 0 and "would abort a.bin" in dry.stdout and "2.9 KiB would be freed" in dry.stdout, dry.stdout
    assert len(client.list_multipart_uploads(Bucket=BUCKET)["Uploads"]) == 3

    done = store.hoist("gc", "--older-than", "1s")
    assert "aborted 2 incomplete upload(s)" in done.stdout and "freed 2.9 KiB" in done.stdout, done.stdout
    left = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert [u["Key"] for u in left] == ["fresh.bin"]

    store.hoist("gc", "--older-than", "0s")
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_gc_refuses_an_age_without_a_unit(store):
    p = store.hoist("gc", "--older-than", "24")
    assert p.returncode == 2 and "invalid duration" in p.stderr, p.stderr
