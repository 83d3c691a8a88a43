"""`hoist upload --no-clobber`, direct and through a coordinator: an object at the key is kept,
the command ends with exit code 7 and says why; without an object the upload goes through."""

import json
import subprocess

import pytest

from client_e2e import BUCKET, HOIST_BIN, Coordinator, object_md5, write_random

MIB = 1 << 20
EXIT_ALREADY_EXISTS = 7


def run(env, *args):
    return subprocess.run([HOIST_BIN, "upload", *args], env=env, capture_output=True, timeout=300)


# Direct uploads are single PUTs up to the planner's threshold, 100 MiB.
@pytest.mark.parametrize("size", [3 * MIB + 1, 101 * MIB + 7], ids=["single", "multipart"])
def test_direct_upload_never_replaces_an_object(store, cli_env, tmp_path, size):
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    md5 = write_random(first, size, seed=1)
    write_random(second, size, seed=2)
    args = ["--no-clobber", "--part-size", "5MiB"]
    r = run(cli_env, "--json", *args, str(first), f"s3://{BUCKET}/kept.bin")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.decode().splitlines()[0])["multipart"] == (size > 100 * MIB)
    r = run(cli_env, "--json", *args, str(second), f"s3://{BUCKET}/kept.bin")
    assert r.returncode == EXIT_ALREADY_EXISTS, r.stderr
    assert b"already exists" in r.stderr and b"--no-clobber" in r.stderr, r.stderr
    last = json.loads(r.stdout.decode().splitlines()[-1])
    assert (last["event"], last["kind"], last["exit_code"]) == ("error", "already_exists", 7)
    # The doctor's cause and the next step, in the event and on standard error.
    assert last["cause"] == "already-exists" and "another key" in last["next"], last
    assert b"cause: already-exists" in r.stderr and b"next: choose another key" in r.stderr, r.stderr
    assert object_md5(store.client(), "kept.bin") == (md5, size)
    # The loser's multipart upload is aborted: no parts remain.
    assert store.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    # Without the flag the object is replaced, as S3 does.
    r = run(cli_env, "--part-size", "5MiB", str(second), f"s3://{BUCKET}/kept.bin")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("size", [3 * MIB + 1, 12 * MIB + 7], ids=["single", "multipart"])
def test_through_a_coordinator(store, start_coordinator, tmp_path, size):
    coordinator = start_coordinator(store)
    env = {"HOME": str(tmp_path), "HOIST_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    md5 = write_random(first, size, seed=3)
    write_random(second, size, seed=4)
    common = ["--server", coordinator.url, "--token", Coordinator.API_KEY, "--key", "shared/kept.bin",
              "--no-clobber"]
    r = run(env, *common, str(first))
    assert r.returncode == 0, r.stderr
    r = run(env, *common, str(second))
    assert r.returncode == EXIT_ALREADY_EXISTS, r.stderr
    assert b"already exists" in r.stderr, r.stderr
    assert object_md5(store.client(), "shared/kept.bin") == (md5, size)
