"""A HAR recorded by real Chromium (playwright-core's recordHar, through the browser harness
in e2e/browser) while the upload page meets each browser-side failure, named by
`hoist doctor explain`. Skipped when Node, Chromium or the harness's packages are missing."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import HOIST_BIN, REPO

HARNESS = REPO / "e2e" / "browser"
SCRIPT = REPO / "e2e" / "doctor" / "record_har.mjs"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")

# In CI the test command installs all three, so a missing one there is a failure, not a skip.
pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and not (shutil.which("node") and os.path.exists(CHROMIUM) and (HARNESS / "node_modules" / "playwright-core").is_dir()),
    reason="needs node, Chromium and `npm ci` in e2e/browser (e2e/browser/run.sh installs them)",
)


def record(scenario, tmp_path):
    har = tmp_path / f"{scenario}.har"
    env = dict(os.environ, HOIST_BIN=HOIST_BIN)
    p = subprocess.run(["node", str(SCRIPT), scenario, str(har)], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(p.stdout.strip().splitlines()[-1])
    assert har.exists() and json.loads(har.read_text())["log"]["entries"], "the HAR has entries"
    return har, result


def explain(har):
    p = subprocess.run([HOIST_BIN, "doctor", "explain", "--json", str(har)], capture_output=True, text=True, timeout=60)
    assert p.stdout, p.stderr
    found = json.loads(p.stdout)
    return p.returncode, found if isinstance(found, list) else [found]


@pytest.mark.parametrize("scenario", ["cors-preflight", "cors-etag-hidden", "url-expired"])
def test_a_chromium_har_is_named(scenario, tmp_path):
    har, result = record(scenario, tmp_path)
    code, findings = explain(har)
    causes = [f["cause"] for f in findings]
    assert code == 0, findings
    assert scenario in causes, (result, findings)
    # The cause the page met comes first (in the order it happened).
    assert causes[0] == scenario, findings
    if scenario == "url-expired":
        evidence = "\n".join(findings[0]["evidence"])
        assert "Request has expired" in evidence and "after the upload started" in evidence, evidence
