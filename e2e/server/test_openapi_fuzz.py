"""Schemathesis generates requests from `/openapi.json` against a real `hoist serve` (with and
without an API key): whatever it sends, valid by the document or not, no answer is a 5xx.

Bounded for CI: a few examples per operation and a time budget per run. The case count of
each run is printed (pytest -s shows it).
"""

import json
import re
import shutil
import subprocess
import sys

import pytest

API_KEY = "fuzz-api-key-0123456789"
MAX_EXAMPLES = 25
MAX_TIME_SECS = 75


def schemathesis_cmd():
    exe = shutil.which("schemathesis") or shutil.which("st")
    if exe:
        return [exe]
    return [sys.executable, "-m", "schemathesis.cli"]


def fuzz(serve, tmp_path, checks, headers=()):
    report = tmp_path / "report.ndjson"
    args = [
        *schemathesis_cmd(), "run", f"{serve.coordinator}/openapi.json",
        "--checks", checks,
        "--max-examples", str(MAX_EXAMPLES),
        "--max-time", str(MAX_TIME_SECS),
        "--seed", "1",
        "--workers", "2",
        "--request-timeout", "20",
        "--no-color",
        "--suppress-health-check", "all",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]
    for h in headers:
        args += ["-H", h]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=MAX_TIME_SECS * 3)
    out = proc.stdout + proc.stderr
    cases = re.findall(r"(\d+) generated", out)
    print(f"schemathesis ({'with' if headers else 'without'} auth): "
          f"{cases[-1] if cases else '?'} cases, exit {proc.returncode}")
    return proc.returncode, out


# Only the server-error check is required: the document still disagrees with the code in
# places (valid-by-the-document requests refused on the /s3 routes, /s3 query parameters not
# closed), which `--checks all` reports.
@pytest.mark.parametrize("auth", [True, False], ids=["api-key", "no-auth"])
def test_no_request_from_the_document_gets_a_5xx(start_serve, tmp_path, auth):
    # Limits off: the fuzzer sends hundreds of requests a second, as one caller.
    serve = start_serve(["--api-key", API_KEY, "--anonymous", "false", "--rate-limit", "0",
                         "--max-open-uploads", "0"])
    headers = [f"Authorization: Bearer {API_KEY}"] if auth else []
    code, out = fuzz(serve, tmp_path, "not_a_server_error", headers)
    assert not re.search(r"\[5\d\d\]", out), out[-20000:]
    assert code == 0, out[-20000:]
    serve.stop()
