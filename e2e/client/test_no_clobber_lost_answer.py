"""`hoist upload --no-clobber` when the store's answer is lost: a proxy in front of the store lets
the first PUT (or Complete) land and cuts the connection before its 200 reaches the client. The
client's retry is refused with 412 by the object its own first try made, and must end as a
success; an object another writer made meanwhile must still end in exit code 7."""

import json
import os
import subprocess
import sys

import pytest

from client_e2e import BUCKET, HOIST_BIN, Coordinator, object_md5, write_random

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lost_answer import LostAnswerProxy, Rule  # noqa: E402

MIB = 1 << 20
EXIT_ALREADY_EXISTS = 7


@pytest.fixture
def proxy(store):
    p = LostAnswerProxy(store.endpoint)
    yield p
    p.close()


def upload(env, *args):
    return subprocess.run([HOIST_BIN, "upload", "--json", "--no-clobber", *args], env=env, capture_output=True,
                          timeout=300)


def through(cli_env, proxy):
    return {**cli_env, "AWS_ENDPOINT_URL": proxy.endpoint}


def test_a_single_put_whose_answer_was_lost_is_a_success(store, cli_env, proxy, tmp_path):
    src = tmp_path / "a.bin"
    md5 = write_random(src, 3 * MIB + 5, seed=11)
    proxy.add(Rule("PUT", f"/{BUCKET}/lost/a.bin", LostAnswerProxy.LOSE_ANSWER))
    r = upload(through(cli_env, proxy), str(src), f"s3://{BUCKET}/lost/a.bin")
    assert r.returncode == 0, r.stderr
    # The first PUT landed and its answer was lost; the retry met the object it made.
    puts = [m for m, p, _ in proxy.log if m == "PUT" and p == f"/{BUCKET}/lost/a.bin"]
    assert len(puts) >= 2 and proxy.actions(LostAnswerProxy.LOSE_ANSWER), proxy.log
    done = json.loads(r.stdout.decode().splitlines()[-1])
    assert done["etag"].strip('"') == md5, done
    assert object_md5(store.client(), "lost/a.bin") == (md5, 3 * MIB + 5)


def test_a_single_put_cut_while_another_writer_creates_the_key_is_already_exists(store, cli_env, proxy, tmp_path):
    src = tmp_path / "b.bin"
    write_random(src, 3 * MIB + 5, seed=12)
    theirs = b"another writer's object, of another size"

    def other_writer():
        store.client().put_object(Bucket=BUCKET, Key="lost/b.bin", Body=theirs)

    proxy.add(Rule("PUT", f"/{BUCKET}/lost/b.bin", LostAnswerProxy.CUT_BEFORE, hook=other_writer))
    r = upload(through(cli_env, proxy), str(src), f"s3://{BUCKET}/lost/b.bin")
    assert r.returncode == EXIT_ALREADY_EXISTS, r.stderr
    assert b"not this upload's" in r.stderr, r.stderr
    assert store.client().get_object(Bucket=BUCKET, Key="lost/b.bin")["Body"].read() == theirs


def test_another_writers_object_of_the_same_size_is_told_apart(store, cli_env, proxy, tmp_path):
    src, other = tmp_path / "c.bin", tmp_path / "other.bin"
    write_random(src, 2 * MIB, seed=13)
    their_md5 = write_random(other, 2 * MIB, seed=14)

    def other_writer():
        store.client().put_object(Bucket=BUCKET, Key="lost/c.bin", Body=other.read_bytes())

    proxy.add(Rule("PUT", f"/{BUCKET}/lost/c.bin", LostAnswerProxy.CUT_BEFORE, hook=other_writer))
    r = upload(through(cli_env, proxy), str(src), f"s3://{BUCKET}/lost/c.bin")
    assert r.returncode == EXIT_ALREADY_EXISTS, r.stderr
    assert object_md5(store.client(), "lost/c.bin") == (their_md5, 2 * MIB)


def test_a_complete_whose_answer_was_lost_is_a_success(store, cli_env, proxy, tmp_path):
    src = tmp_path / "m.bin"
    size = 101 * MIB + 3
    md5 = write_random(src, size, seed=15)
    proxy.add(Rule("POST", f"/{BUCKET}/lost/m.bin", LostAnswerProxy.LOSE_ANSWER, query_has="uploadId"))
    r = upload(through(cli_env, proxy), "--part-size", "20MiB", str(src), f"s3://{BUCKET}/lost/m.bin")
    assert r.returncode == 0, r.stderr
    assert proxy.actions(LostAnswerProxy.LOSE_ANSWER), proxy.log
    assert object_md5(store.client(), "lost/m.bin") == (md5, size)
    assert store.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_through_a_coordinator_a_lost_answer_to_the_put_is_a_success(store, proxy, tmp_path):
    # The coordinator signs URLs for the proxy's address, so the uploader's PUT goes through it.
    coordinator = Coordinator(proxy_as_store(store, proxy), tmp_path / "coordinator")
    try:
        env = {"HOME": str(tmp_path), "HOIST_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
        src = tmp_path / "d.bin"
        md5 = write_random(src, 3 * MIB + 1, seed=16)
        proxy.add(Rule("PUT", f"/{BUCKET}/shared/d.bin", LostAnswerProxy.LOSE_ANSWER))
        r = upload(env, "--server", coordinator.url, "--token", Coordinator.API_KEY, "--key", "shared/d.bin",
                   str(src))
        assert r.returncode == 0, r.stderr
        assert proxy.actions(LostAnswerProxy.LOSE_ANSWER), proxy.log
        assert object_md5(store.client(), "shared/d.bin") == (md5, 3 * MIB + 1)
    finally:
        coordinator.stop()


def proxy_as_store(store, proxy):
    class Fronted:
        endpoint = proxy.endpoint
    return Fronted
