"""Bucket creation and settings under simultaneous requests, and across a restart.

S3 reference: CreateBucket outside us-east-1 answers 409 BucketAlreadyOwnedByYou when the caller
already owns the bucket, so of many simultaneous creations of one new bucket exactly one gets
200. PutBucketCors and PutBucketLifecycleConfiguration replace the whole configuration: after
simultaneous writers, the bucket holds exactly one of the configurations sent, and a restart
answers the same one.
"""

import threading

from botocore.exceptions import ClientError

from conftest import BUCKET
from test_conformance_listing import client_in

WRITERS = 12


def all_at_once(work):
    """Runs work(i) for every writer at the same moment; their answers, in writer order."""
    answers = [None] * WRITERS
    barrier = threading.Barrier(WRITERS)

    def run(i):
        barrier.wait()
        try:
            answers[i] = work(i)
        except ClientError as e:
            answers[i] = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_simultaneous_creations_of_one_bucket_have_one_winner(start_store):
    store = start_store(["--region", "eu-west-1"])
    clients = [client_in(store, "eu-west-1") for _ in range(WRITERS)]
    constraint = {"LocationConstraint": "eu-west-1"}
    for attempt in range(3):
        name = f"raced-{attempt}"
        answers = all_at_once(
            lambda i: clients[i].create_bucket(Bucket=name, CreateBucketConfiguration=constraint)[
                "ResponseMetadata"]["HTTPStatusCode"])
        assert answers.count(200) == 1, answers
        assert sorted(a for a in answers if a != 200) == [(409, "BucketAlreadyOwnedByYou")] * (WRITERS - 1)
        assert name in [b["Name"] for b in clients[0].list_buckets()["Buckets"]]


def cors(i):
    return {"CORSRules": [{"AllowedOrigins": [f"https://site-{i}.example"], "AllowedMethods": ["PUT"],
                           "ExposeHeaders": ["ETag"]}]}


def lifecycle(i):
    return {"Rules": [{"ID": f"rule-{i}", "Status": "Enabled", "Filter": {"Prefix": f"tmp-{i}/"},
                       "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": i + 1}}]}


def test_simultaneous_settings_keep_one_whole_configuration_across_a_restart(start_store, tmp_path):
    data = tmp_path / "settings"
    store = start_store(data_dir=data)
    clients = [store.client() for _ in range(WRITERS)]
    for _ in range(3):
        answers = all_at_once(lambda i: clients[i].put_bucket_cors(Bucket=BUCKET, CORSConfiguration=cors(i))[
            "ResponseMetadata"]["HTTPStatusCode"])
        assert answers == [200] * WRITERS
        answers = all_at_once(lambda i: clients[i].put_bucket_lifecycle_configuration(
            Bucket=BUCKET, LifecycleConfiguration=lifecycle(i))["ResponseMetadata"]["HTTPStatusCode"])
        assert answers == [200] * WRITERS
    origins = clients[0].get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert len(origins) == 1 and origins[0]["AllowedOrigins"][0] in {f"https://site-{i}.example" for i in range(WRITERS)}
    rules = clients[0].get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert len(rules) == 1
    winner = int(rules[0]["ID"].removeprefix("rule-"))
    assert rules[0]["Filter"] == {"Prefix": f"tmp-{winner}/"}
    assert rules[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": winner + 1}

    store.stop()
    again = start_store(data_dir=data).client()
    assert again.get_bucket_cors(Bucket=BUCKET)["CORSRules"] == origins
    assert again.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"] == rules
