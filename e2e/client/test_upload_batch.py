"""`hoist upload` of folders, globs and lists of files: a real store process, the real CLI,
boto3 to check every object byte for byte, and the store's own request counts."""

import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest

from client_e2e import BUCKET, HOIST_BIN, Coordinator, store_env, write_random

MIB = 1 << 20


def run(env, *args, timeout=600, user=None):
    cmd = [HOIST_BIN, "upload", *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, env=env, capture_output=True, timeout=timeout)


def events(stdout):
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


def md5_of(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree(root, big=0):
    """A folder with nested directories, unicode and spaces in names, empty files and, when
    `big`, one file of that size. Returns {relative path: md5}."""
    files = {
        "top.txt": b"top\n",
        "a b/c d/with space.bin": os.urandom(70_000),
        "a b/élan vital/ünïcödé 名前.txt": "unicode ✓\n".encode(),
        "a b/empty": b"",
        "deep/1/2/3/4/leaf.json": b'{"leaf": true}',
        "deep/1/empty too": b"",
    }
    for i in range(20):
        files[f"many/f{i:02}.dat"] = os.urandom(1000 + 997 * i)
    out = {}
    for rel, body in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
        out[rel] = hashlib.md5(body).hexdigest()
    if big:
        p = root / "video" / "big movie.mp4"
        p.parent.mkdir(parents=True, exist_ok=True)
        out["video/big movie.mp4"] = write_random(p, big, seed=7)
    return out


def stored(client, prefix):
    """{key relative to prefix: (md5 of the bytes read back, size)} for every object under prefix."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for o in page.get("Contents", []):
            body = client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            out[o["Key"][len(prefix):]] = (hashlib.md5(body).hexdigest(), len(body))
    return out


def store_requests(store, operation):
    text = urllib.request.urlopen(f"{store.endpoint}/_hoist/metrics", timeout=10).read().decode()
    return sum(int(float(v)) for v in re.findall(
        rf'^hoist_store_requests_total{{operation="{operation}",status="\d+"}} (\S+)$', text, re.M))


def test_folder_tree_uploads_byte_for_byte_with_one_event_per_file(store, cli_env, tmp_path):
    src = tmp_path / "src"
    want = tree(src, big=101 * MIB)
    r = run(cli_env, "--json", "--part-size", "8MiB", str(src), f"s3://{BUCKET}/up/")
    assert r.returncode == 0, r.stderr.decode()
    ev = events(r.stdout)
    started = {e["key"] for e in ev if e["event"] == "file_started"}
    done = {e["key"]: e for e in ev if e["event"] == "file_done"}
    assert started == set(done) == {f"up/{rel}" for rel in want}
    assert done["up/video/big movie.mp4"]["multipart"] is True
    assert done["up/top.txt"]["multipart"] is False
    summary = ev[-1]
    assert summary["event"] == "summary"
    assert (summary["files"], summary["uploaded"], summary["failed"], summary["exit_code"]) == (len(want), len(want), 0, 0)
    got = stored(store.client(), "up/")
    assert got == {rel: (md5, os.path.getsize(src / rel)) for rel, md5 in want.items()}
    # Keys use `/` and keep unicode and spaces exactly.
    assert "a b/élan vital/ünïcödé 名前.txt" in got


def test_rerun_with_skip_existing_sends_nothing_then_only_what_changed(store, cli_env, tmp_path):
    src = tmp_path / "src"
    want = tree(src, big=101 * MIB)
    dest = f"s3://{BUCKET}/again/"
    assert run(cli_env, "--quiet", str(src), dest).returncode == 0
    puts, parts = store_requests(store, "PutObject"), store_requests(store, "UploadPart")
    r = run(cli_env, "--json", "--skip-existing", str(src), dest)
    assert r.returncode == 0, r.stderr.decode()
    summary = events(r.stdout)[-1]
    assert (summary["skipped"], summary["uploaded"], summary["bytes_sent"]) == (len(want), 0, 0)
    assert (store_requests(store, "PutObject"), store_requests(store, "UploadPart")) == (puts, parts)
    # One file changes (same size), one is added: only those two are sent.
    (src / "many" / "f03.dat").write_bytes(os.urandom(os.path.getsize(src / "many" / "f03.dat")))
    (src / "new file.txt").write_bytes(b"new")
    r = run(cli_env, "--json", "--skip-existing", str(src), dest)
    assert r.returncode == 0, r.stderr.decode()
    ev = events(r.stdout)
    assert sorted(e["key"] for e in ev if e["event"] == "file_done") == ["again/many/f03.dat", "again/new file.txt"]
    assert store_requests(store, "PutObject") == puts + 2
    got = stored(store.client(), "again/")
    assert got["many/f03.dat"][0] == md5_of(src / "many" / "f03.dat")


def test_batch_killed_half_way_resumes_finished_files_skipped_and_parts_kept(start_store, tmp_path):
    store = start_store(["--fault-bandwidth", "24MiB"])
    env = store_env(store, tmp_path)
    src = tmp_path / "src"
    want = tree(src)
    for n in range(2):
        p = src / "large" / f"part{n}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        want[f"large/part{n}.bin"] = write_random(p, 120 * MIB + n, seed=20 + n)
    dest = f"s3://{BUCKET}/resumed/"
    args = ["--json", "--part-size", "5MiB", "--concurrency", "6", str(src), dest]
    p = subprocess.Popen([HOIST_BIN, "upload", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finished, parts_seen = set(), 0
    for line in p.stdout:
        e = json.loads(line)
        if e["event"] == "file_done":
            finished.add(e["key"])
        if e["event"] == "file_started" and e["size"] > 100 * MIB:
            parts_seen += 1
        if len(finished) >= 10 and parts_seen >= 1:
            break
    # Wait until the large files have stored some parts (their journals are written).
    deadline = time.time() + 60
    while store_requests(store, "UploadPart") < 8 and time.time() < deadline:
        time.sleep(0.2)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    parts_before = store_requests(store, "UploadPart")
    assert parts_before >= 8
    r = run(env, "--json", "--resume", "--part-size", "5MiB", str(src), dest)
    assert r.returncode == 0, r.stderr.decode()
    ev = events(r.stdout)
    skipped = {e["key"] for e in ev if e["event"] == "file_skipped"}
    assert finished <= skipped, (finished, skipped)
    resumed = [e for e in ev if e["event"] == "file_done" and e["parts_resumed"] > 0]
    assert resumed, "no multipart file continued its upload"
    total_parts = 2 * -(-(120 * MIB) // (5 * MIB))
    sent_again = sum(e["parts_sent"] for e in ev if e["event"] == "file_done" and e["multipart"])
    assert sent_again < total_parts
    assert stored(store.client(), "resumed/") == {rel: (md5, os.path.getsize(src / rel)) for rel, md5 in want.items()}


def unreadable_env(cli_env, tmp_path):
    """When run as root (which reads every file), the upload runs as `nobody`, so a file with
    mode 000 really is unreadable."""
    env = dict(cli_env)
    if os.geteuid() == 0:
        state = tmp_path / "nobody-state"
        state.mkdir(mode=0o777, exist_ok=True)
        os.chmod(state, 0o777)
        env["HOIST_STATE_DIR"] = str(state)
        env["HOME"] = str(state)
        return env, 65534
    return env, None


@pytest.fixture
def open_dir():
    """A folder every user can enter (pytest's own are private to their owner)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="hoist-batch-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_one_unreadable_file_fails_alone_with_its_cause_and_exit_code(store, cli_env, tmp_path, open_dir):
    src = open_dir / "src"
    want = tree(src)
    secret = src / "many" / "f07.dat"
    secret.chmod(0o000)
    env, user = unreadable_env(cli_env, open_dir)
    r = run(env, "--json", str(src), f"s3://{BUCKET}/partial/", user=user)
    assert r.returncode == 9, r.stderr.decode()
    ev = events(r.stdout)
    failed = [e for e in ev if e["event"] == "file_failed"]
    assert len(failed) == 1 and failed[0]["key"] == "partial/many/f07.dat"
    assert "Permission denied" in failed[0]["message"] and failed[0]["next"]
    summary = ev[-1]
    assert (summary["failed"], summary["uploaded"], summary["exit_code"]) == (1, len(want) - 1, 9)
    assert summary["failures"][0]["path"].endswith("many/f07.dat")
    del want["many/f07.dat"]
    assert set(stored(store.client(), "partial/")) == set(want)
    # The text summary names the failure and the next step on standard error.
    r = run(env, str(src), f"s3://{BUCKET}/partial2/", user=user)
    err = r.stderr.decode()
    assert r.returncode == 9 and "1 files failed" in err and "f07.dat" in err and "next:" in err
    assert re.search(r"\d+ files: \d+ uploaded .*1 failed", r.stdout.decode())
    # --fail-fast stops at the first failure, with that failure's exit code.
    solo = open_dir / "solo"
    solo.mkdir(mode=0o755)
    shutil.copy(src / "top.txt", solo / "ok.txt")
    (solo / "zz-locked").write_bytes(b"x")
    (solo / "zz-locked").chmod(0)
    r = run(env, "--fail-fast", "--json", str(solo / "zz-locked"), f"s3://{BUCKET}/ff/", user=user)
    assert r.returncode == 2, r.stderr.decode()


def test_globs_include_exclude_and_several_arguments(store, cli_env, tmp_path):
    src = tmp_path / "src"
    tree(src)
    (src / "skip.tmp").write_bytes(b"tmp")
    os.symlink(src / "deep", src / "link-to-deep")
    r = run(cli_env, "--quiet", "--exclude", "*.tmp", "--exclude", "many/f1*", str(src), f"{src}/deep/**/*.json",
            f"s3://{BUCKET}/sel")
    assert r.returncode == 0, r.stderr.decode()
    keys = set(stored(store.client(), "sel/"))
    assert "skip.tmp" not in keys and "many/f10.dat" not in keys and "many/f09.dat" in keys
    assert "1/2/3/4/leaf.json" in keys, "a glob's files are named relative to its base folder"
    assert not any(k.startswith("link-to-deep/") for k in keys), "links inside folders are not followed"
    r = run(cli_env, "--quiet", "--follow-symlinks", "--include", "link-to-deep/**", str(src), f"s3://{BUCKET}/links/")
    assert r.returncode == 0, r.stderr.decode()
    assert set(stored(store.client(), "links/")) == {"link-to-deep/1/2/3/4/leaf.json", "link-to-deep/1/empty too"}
    # A glob that matches nothing and a missing path are refused before anything is sent.
    for bad in [f"{src}/*.nothing", f"{src}/missing"]:
        r = run(cli_env, str(src), bad, f"s3://{BUCKET}/never/")
        assert r.returncode == 2, r.stderr.decode()
    assert stored(store.client(), "never/") == {}


def test_batch_through_the_coordinator_keeps_relative_paths(store, start_coordinator, tmp_path):
    coordinator = start_coordinator(store)
    src = tmp_path / "src"
    want = tree(src, big=12 * MIB)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HOIST_STATE_DIR": str(tmp_path / "state")}
    r = run(env, "--json", "--server", coordinator.url, "--token", Coordinator.API_KEY, "--key", "via/",
            str(src))
    assert r.returncode == 0, r.stderr.decode()
    summary = events(r.stdout)[-1]
    assert (summary["uploaded"], summary["failed"]) == (len(want), 0)
    assert stored(store.client(), "via/") == {rel: (md5, os.path.getsize(src / rel)) for rel, md5 in want.items()}
    # A prefix must end in /: a single key cannot hold several files.
    r = run(env, "--server", coordinator.url, "--token", Coordinator.API_KEY, "--key", "one-key", str(src))
    assert r.returncode == 2 and b"ending in /" in r.stderr


def coordinator_requests(coordinator, route):
    text = urllib.request.urlopen(f"{coordinator.url}/metrics", timeout=10).read().decode()
    return sum(int(float(v)) for v in re.findall(
        rf'^hoist_requests_total{{route="{re.escape(route)}",status="\d+"}} (\S+)$', text, re.M))


def test_folder_through_the_coordinator_lands_in_one_folder_with_gathered_calls(store, start_coordinator, tmp_path):
    coordinator = start_coordinator(store)
    src = tmp_path / "photos"
    want = tree(src, big=12 * MIB)
    for i in range(300):
        rel = f"small/{i % 7}/s{i}.txt"
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(100 + i))
        want[rel] = md5_of(p)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HOIST_STATE_DIR": str(tmp_path / "state")}
    auth = ["--server", coordinator.url, "--token", Coordinator.API_KEY]
    r = run(env, "--json", *auth, str(src))
    assert r.returncode == 0, r.stderr.decode()
    ev = events(r.stdout)
    keys = [e["key"] for e in ev if e["event"] == "file_done"]
    assert len(keys) == len(want)
    # One folder the coordinator made, under which every file keeps its relative path.
    folder = os.path.commonprefix([k for k in keys]).rsplit("/", 1)[0] + "/"
    assert folder.count("/") >= 2 and sorted(k[len(folder):] for k in keys) == sorted(want)
    assert stored(store.client(), folder) == {rel: (md5, os.path.getsize(src / rel)) for rel, md5 in want.items()}
    # Creating and confirming the small files took a few gathered calls, not one each.
    creates = coordinator_requests(coordinator, "/v1/uploads/batch")
    confirms = coordinator_requests(coordinator, "/v1/uploads/batch/complete")
    assert coordinator_requests(coordinator, "/v1/uploads") == 0
    assert 1 <= creates <= len(want) // 3 and 1 <= confirms <= len(want) // 3, (creates, confirms)
    # A rerun with --skip-existing continues the same folder and sends nothing.
    puts = store_requests(store, "PutObject")
    r = run(env, "--json", "--skip-existing", *auth, str(src))
    assert r.returncode == 0, r.stderr.decode()
    summary = events(r.stdout)[-1]
    assert (summary["skipped"], summary["uploaded"], summary["bytes_sent"]) == (len(want), 0, 0)
    assert store_requests(store, "PutObject") == puts
    # A new run without it makes a new folder.
    r = run(env, "--json", *auth, str(src / "a b"))
    assert r.returncode == 0, r.stderr.decode()
    new_keys = [e["key"] for e in events(r.stdout) if e["event"] == "file_done"]
    assert new_keys and not any(k.startswith(folder) for k in new_keys)


def test_small_files_do_not_wait_behind_a_large_one(start_store, tmp_path):
    # Each connection is slow, so the large file takes seconds; it is named first.
    store = start_store(["--fault-bandwidth", "16MiB"])
    env = store_env(store, tmp_path)
    big = tmp_path / "big.bin"
    write_random(big, 110 * MIB, seed=3)
    small = tmp_path / "small"
    small.mkdir()
    for i in range(40):
        (small / f"s{i:02}").write_bytes(os.urandom(2000))
    r = run(env, "--json", "--concurrency", "8", "--memory", "96MiB", str(big), str(small), f"s3://{BUCKET}/order/")
    assert r.returncode == 0, r.stderr.decode()
    done = [e["key"] for e in events(r.stdout) if e["event"] == "file_done"]
    assert done[-1] == "order/big.bin" and len(done) == 41, done


def test_on_a_terminal_one_bar_counts_files_and_bytes(store, cli_env, tmp_path):
    src = tmp_path / "src"
    want = tree(src)
    total = sum(os.path.getsize(src / rel) for rel in want)
    cmd = f"{HOIST_BIN} upload --concurrency 2 '{src}' s3://{BUCKET}/tty/"
    # `script` gives the command a terminal, as a user at a shell has.
    r = subprocess.run(["script", "-qefc", cmd, "/dev/null"], env=cli_env, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stdout.decode(errors="replace")
    screen = r.stdout.decode(errors="replace").replace("\r", "\n")
    n = len(want)
    assert re.search(rf"\] {n}/{n} files ", screen), screen[-2000:]
    assert f"{n} files: {n} uploaded" in screen
    # No line per file on a terminal: the bar stands for them.
    assert "uploaded " + str(src) not in screen
    assert len(stored(store.client(), "tty/")) == n and total > 0
