"""Helpers of the interoperability tests: garage (an independent S3 server, run as separate
processes) on loopback, as a single node or a three-node cluster, and boto3 as the independent
client.

garage is found on PATH, at $GARAGE_BIN or at /opt/garage/bin/garage (`cargo install garage
--locked`; `HOIST_TEST_GARAGE=1 ./scripts/test` installs it). Without it the tests skip."""

import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "e2e"))
from e2e_shared import (MIB, crc64nvme_file_b64, killed_after, object_md5_in, stop_process,  # noqa: E402,F401
                        write_random)
HOIST_BIN = os.environ.get("HOIST_BIN", str(REPO / "target" / "debug" / "hoist"))
REGION = "garage"
BUCKET = "interop"

sys.dont_write_bytecode = True


def garage_bin():
    for candidate in (os.environ.get("GARAGE_BIN"), shutil.which("garage"), "/opt/garage/bin/garage"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Garage:
    """One single-node garage process with a bucket and a key allowed on it."""

    def __init__(self, binary, root):
        root.mkdir(parents=True, exist_ok=True)
        self.s3_port, rpc_port = free_port(), free_port()
        config = root / "garage.toml"
        config.write_text(f"""metadata_dir = "{root}/meta"
data_dir = "{root}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secrets.token_hex(32)}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{self.s3_port}"
root_domain = ".s3.garage.localhost"
""")
        # garage's key ids are GK and 24 hex digits, its secrets 64 hex digits.
        self.access_key = "GK" + secrets.token_hex(12)
        self.secret_key = secrets.token_hex(32)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(GARAGE_DEFAULT_ACCESS_KEY=self.access_key, GARAGE_DEFAULT_SECRET_KEY=self.secret_key,
                   GARAGE_DEFAULT_BUCKET=BUCKET)
        self.log = open(root / "garage.log", "wb")
        self.proc = subprocess.Popen([binary, "-c", str(config), "server", "--single-node", "--default-bucket"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # answering (403 to an anonymous request) means ready
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"garage did not start: {(root / 'garage.log').read_text()[-2000:]}")
                time.sleep(0.1)
        # The default bucket and key appear shortly after the listener does.
        deadline = time.time() + 30
        while True:
            try:
                self.client().head_bucket(Bucket=BUCKET)
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key,
                   AWS_REGION=REGION, AWS_ENDPOINT_URL=self.endpoint, **extra)
        return env

    def client(self):
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )

    def stop(self):
        stop_process(self.proc)
        self.log.close()


class GarageCluster:
    """Three garage nodes on loopback, each its own process with its own config and directories:
    replication factor 3 (write and read quorum 2), consistent mode, no compression. Joined with
    `node connect`, given a layout of one zone, then a key and a bucket allowed to it, as
    /work/shared/reference/garage-cluster.md (the project's reference) describes. Any node's S3
    port serves the bucket; `endpoint` is node 1's."""

    NODES = 3

    def __init__(self, binary, root):
        self.binary, self.root = binary, root
        secret = secrets.token_hex(32)
        self.nodes = []
        for i in range(1, self.NODES + 1):
            node_root = root / f"node{i}"
            node_root.mkdir(parents=True, exist_ok=True)
            s3_port, rpc_port = free_port(), free_port()
            config = node_root / "garage.toml"
            config.write_text(f"""metadata_dir = "{node_root}/meta"
data_dir = "{node_root}/data"
db_engine = "sqlite"
replication_factor = 3
consistency_mode = "consistent"
compression_level = "none"
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"
""")
            log = open(node_root / "garage.log", "wb")
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            proc = subprocess.Popen([binary, "-c", str(config), "server"], stdout=log, stderr=subprocess.STDOUT,
                                    env=env)
            self.nodes.append({"config": config, "proc": proc, "log": log, "s3_port": s3_port,
                               "endpoint": f"http://127.0.0.1:{s3_port}"})
        self.endpoint = self.nodes[0]["endpoint"]
        try:
            self._form()
        except Exception:
            self.stop()
            raise

    def garage(self, node, *args, timeout=30):
        r = subprocess.run([self.binary, "-c", str(self.nodes[node]["config"]), *args], capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"garage {' '.join(args)}: {r.stderr or r.stdout}")
        return r.stdout

    def _retry(self, what, call, seconds=30):
        deadline = time.time() + seconds
        while True:
            try:
                return call()
            except Exception:
                if time.time() > deadline or any(n["proc"].poll() is not None for n in self.nodes):
                    logs = "\n".join((n["config"].parent / "garage.log").read_text()[-1500:] for n in self.nodes)
                    raise RuntimeError(f"garage cluster: {what} failed; logs:\n{logs}")
                time.sleep(0.2)

    def _form(self):
        ids = [self._retry(f"node id of node {i + 1}", lambda i=i: self.garage(i, "node", "id", "-q").strip())
               for i in range(self.NODES)]
        for full in ids[1:]:
            self._retry(f"node connect {full}", lambda full=full: self.garage(0, "node", "connect", full))
        for full in ids:
            self.garage(0, "layout", "assign", "-z", "dc1", "-c", "10G", full.split("@")[0])
        self.garage(0, "layout", "apply", "--version", "1")
        self.access_key = "GK" + secrets.token_hex(12)
        self.secret_key = secrets.token_hex(32)
        self._retry("key import", lambda: self.garage(0, "key", "import", "--yes", "-n", "hoist", self.access_key,
                                                      self.secret_key))
        self._retry("bucket create", lambda: self.garage(0, "bucket", "create", BUCKET))
        self.garage(0, "bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", "hoist")
        # Every node serves the bucket once the layout and the bucket have reached it, and
        # reaches a quorum once the nodes have all connected to each other.
        for node in self.nodes:
            client = self.client(node["endpoint"])

            def round_trip(c=client):
                c.put_object(Bucket=BUCKET, Key=".ready", Body=b"ready")
                c.get_object(Bucket=BUCKET, Key=".ready")["Body"].read()

            self._retry(f"a PUT and GET through {node['endpoint']}", round_trip, seconds=60)
        self.client().delete_object(Bucket=BUCKET, Key=".ready")

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key,
                   AWS_REGION=REGION, AWS_ENDPOINT_URL=self.endpoint)
        env.update(extra)
        return env

    def client(self, endpoint=None):
        return boto3.client(
            "s3", endpoint_url=endpoint or self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
        )

    def stop(self):
        for node in self.nodes:
            stop_process(node["proc"])
            node["log"].close()


def object_md5(client, key):
    return object_md5_in(client, BUCKET, key)


def split_at_sending_again(events):
    """Part numbers sent before a `sending_again` event, and those sent after it."""
    marks = [i for i, e in enumerate(events) if e["event"] == "sending_again"]
    assert len(marks) <= 1, marks
    cut = marks[0] if marks else len(events)
    done = [(i, e["number"]) for i, e in enumerate(events) if e["event"] == "part_done"]
    if marks:
        print(f"\n[interop] the Complete refused parts {events[cut]['parts']}: sent again")
        assert sorted(n for i, n in done if i > cut) == sorted(events[cut]["parts"])
    return [n for i, n in done if i < cut], [n for i, n in done if i > cut]
