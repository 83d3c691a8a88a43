"""The seed's CORS rules set with the AWS CLI, then real preflights."""

import json
import subprocess
import urllib.error
import urllib.request

from conftest import BUCKET

SEED = {
    "CORSRules": [
        {
            "AllowedOrigins": ["https://app.example.com"],
            "AllowedMethods": ["GET", "PUT", "POST"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        }
    ]
}
MSG = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted "
    "by the resource's CORS spec."
)


def aws(store, *args):
    return subprocess.run(
        ["aws", "--endpoint-url", store.endpoint, "s3api", *args],
        env=store.env(), capture_output=True, text=True, timeout=60,
    )


def preflight(store, origin, method, headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    request = urllib.request.Request(f"{store.endpoint}/{BUCKET}/upload.bin", method="OPTIONS", headers=h)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def test_seed_rules_with_aws_cli_then_preflight(store, tmp_path):
    status, _, body = preflight(store, "https://app.example.com", "PUT")
    assert status == 403 and MSG in body

    cors = tmp_path / "cors.json"
    cors.write_text(json.dumps(SEED))
    result = aws(store, "put-bucket-cors", "--bucket", BUCKET, "--cors-configuration", f"file://{cors}")
    assert result.returncode == 0, result.stderr
    shown = aws(store, "get-bucket-cors", "--bucket", BUCKET)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["CORSRules"][0]["ExposeHeaders"] == ["ETag"]

    status, headers, _ = preflight(store, "https://app.example.com", "PUT", "content-type,x-amz-date")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "PUT" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"] == "content-type, x-amz-date"
    assert headers["Access-Control-Max-Age"] == "3000"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in headers["Vary"]

    status, _, body = preflight(store, "https://other.example.com", "PUT")
    assert status == 403 and "<Code>AccessForbidden</Code>" in body and MSG in body
    status, _, body = preflight(store, "https://app.example.com", "DELETE")
    assert status == 403 and "<Method>DELETE</Method>" in body

    # A real cross-origin upload sees the ETag exposed.
    s3 = store.client()
    url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "upload.bin"}, ExpiresIn=60)
    request = urllib.request.Request(url, data=b"part", method="PUT", headers={"Origin": "https://app.example.com"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Access-Control-Expose-Headers"] == "ETag"
        assert response.headers["ETag"]
