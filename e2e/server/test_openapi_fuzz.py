"""Schemathesis generates requests from `/openapi.json` against a real `hoist serve` (with and
without an API key), with every check it has: no answer is a 5xx, a request valid by the
document is never refused with a 400, one invalid by it is never accepted, every answer matches
its documented schema, and the documented links hold (a created upload is found, a deleted one
is gone).

The stateful phase follows the links the document declares. Link inference is off: it would
join `POST /v1/uploads` to the Uppy routes (which address the same upload under another name),
and then read an abort through one API as a resource "still available" through the other.

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
    config = tmp_path / "schemathesis.toml"
    config.write_text("[phases.stateful.inference]\nalgorithms = []\n")
    args = [
        *schemathesis_cmd(), "--config-file", str(config), "run", f"{serve.coordinator}/openapi.json",
        "--checks", checks,
        "--max-examples", str(MAX_EXAMPLES),
        "--max-time", str(MAX_TIME_SECS),
        "--seed", "1",
        # One worker: hypothesis reads lambda sources with ast.parse, which CPython 3.11 can
        # fail ("AST constructor recursion depth mismatch") when two threads compile at once.
        "--workers", "1",
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


@pytest.mark.parametrize("auth", [True, False], ids=["api-key", "no-auth"])
def test_the_document_and_the_code_agree_and_nothing_gets_a_5xx(start_serve, tmp_path, auth):
    # Limits off: the fuzzer sends hundreds of requests a second, as one caller.
    serve = start_serve(["--api-key", API_KEY, "--anonymous", "false", "--rate-limit", "0",
                         "--max-open-uploads", "0"])
    headers = [f"Authorization: Bearer {API_KEY}"] if auth else []
    code, out = fuzz(serve, tmp_path, "all", headers)
    assert not re.search(r"\[5\d\d\]", out), out[-20000:]
    assert code == 0, out[-20000:]
    serve.stop()
