"""The `hoist store` process: generated credentials, bucket creation, signals, refusals."""

import json
import stat
import time
import urllib.error
import urllib.request

from conftest import BUCKET


def test_generated_credentials_are_kept_private_and_printed_once(start_store, tmp_path):
    data = tmp_path / "data"
    store = start_store(data_dir=data, credentials=False)
    time.sleep(0.3)
    printed = dict(line.split("=", 1) for line in store.lines if line.startswith("AWS_"))
    saved = json.loads((data / "credentials.json").read_text())
    assert printed["AWS_ACCESS_KEY_ID"] == saved["access_key_id"]
    assert printed["AWS_SECRET_ACCESS_KEY"] == saved["secret_access_key"]
    assert stat.S_IMODE((data / "credentials.json").stat().st_mode) == 0o600
    store.access_key, store.secret_key = saved["access_key_id"], saved["secret_access_key"]
    store.client().put_object(Bucket=BUCKET, Key="k", Body=b"v")
    assert store.stop() == 0  # SIGTERM is a clean shutdown

    again = start_store(data_dir=data, credentials=False)
    time.sleep(0.3)
    assert not any(line.startswith("AWS_") for line in again.lines)
    again.access_key, again.secret_key = saved["access_key_id"], saved["secret_access_key"]
    assert again.client().get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"v"


def test_anonymous_and_sigv2_are_refused(store):
    request = urllib.request.Request(f"{store.endpoint}/{BUCKET}/k")
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("anonymous GET succeeded")
    except urllib.error.HTTPError as err:
        assert err.code == 403 and b"<Code>AccessDenied</Code>" in err.read()
    request = urllib.request.Request(
        f"{store.endpoint}/{BUCKET}/k", headers={"Authorization": f"AWS {store.access_key}:c2lnbmF0dXJlCg==", "Date": "Sun, 29 Nov 2026 00:00:00 GMT"}
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("SigV2 GET succeeded")
    except urllib.error.HTTPError as err:
        body = err.read().decode()
        assert err.code == 400
        assert "<Message>The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.</Message>" in body


def test_max_put_size_flag(start_store):
    store = start_store(["--max-put-size", "1MiB"])
    s3 = store.client()
    try:
        s3.put_object(Bucket=BUCKET, Key="big", Body=b"x" * (1024 * 1024 + 1))
        raise AssertionError("over-limit PUT succeeded")
    except s3.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] == "EntityTooLarge"
        assert err.response["Error"]["MaxSizeAllowed"] == "1048576"
        assert err.response["Error"]["ProposedSize"] == "1048577"
