"""A TCP proxy on loopback in front of a store that loses answers on purpose.

Each request is read whole (head and a Content-Length body) and sent to the store on a
connection of its own; the store's answer is read to its end and relayed. A rule can instead
let the store carry out the request and then close the client's connection without relaying
the answer (the client sees a connection cut after sending everything: its request landed
and it cannot know), or cut the connection before the request reaches the store, after
running a hook (another writer acting meanwhile). Every request is recorded as
`(method, path, action)`.
"""

import socket
import threading
import urllib.parse


class Rule:
    """Matches requests by method and path (query excluded) and, when `query_has` is given,
    a query parameter present (or, with a leading `!`, absent); acts `times` times."""

    def __init__(self, method, path, action, times=1, query_has=None, hook=None):
        self.method, self.path, self.action, self.left = method, path, action, times
        self.query_has, self.hook = query_has, hook

    def matches(self, method, target):
        if self.left <= 0 or method != self.method:
            return False
        parts = urllib.parse.urlsplit(target)
        if urllib.parse.unquote(parts.path) != self.path:
            return False
        if self.query_has:
            names = {k for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)}
            want = self.query_has.lstrip("!")
            if (want in names) == self.query_has.startswith("!"):
                return False
        return True


class LostAnswerProxy:
    LOSE_ANSWER = "lose-answer"
    CUT_BEFORE = "cut-before"

    def __init__(self, upstream):
        u = urllib.parse.urlsplit(upstream)
        self.upstream = (u.hostname, u.port)
        self.rules, self.log = [], []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.endpoint = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def add(self, rule):
        with self.lock:
            self.rules.append(rule)
        return rule

    def actions(self, action):
        return [(m, p) for m, p, a in self.log if a == action]

    def close(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        reader = conn.makefile("rb")
        try:
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                method, target, head, body = request
                with self.lock:
                    rule = next((r for r in self.rules if r.matches(method, target)), None)
                    if rule:
                        rule.left -= 1
                    action = rule.action if rule else "relay"
                    self.log.append((method, target.split("?")[0], action))
                if action == self.CUT_BEFORE:
                    if rule.hook:
                        rule.hook()
                    return
                answer = self._forward(head, body)
                if action == self.LOSE_ANSWER:
                    return
                conn.sendall(answer)
                if b"\r\nconnection: close" in answer.split(b"\r\n\r\n", 1)[0].lower():
                    return
        except (OSError, ValueError):
            return
        finally:
            reader.close()
            conn.close()

    def _forward(self, head, body):
        # One connection per request, closed by the store after its answer: the answer is
        # then everything read until the end, whatever its framing.
        lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
        head = b"\r\n".join(lines) + b"\r\nConnection: close"
        with socket.create_connection(self.upstream, timeout=60) as up:
            up.sendall(head + b"\r\n\r\n" + body)
            chunks = []
            while True:
                chunk = up.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)


def _read_request(reader):
    """(method, target, head without its final CRLFCRLF, body), or None at the end."""
    lines = []
    while True:
        line = reader.readline(1 << 16)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            if lines:
                break
            continue
        lines.append(line.rstrip(b"\r\n"))
    method, target, _ = lines[0].decode("latin-1").split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"transfer-encoding":
            raise ValueError("chunked request bodies are not proxied")
    body = reader.read(length) if length else b""
    return method, target, b"\r\n".join(lines), body


def main(argv):
    """`python3 lost_answer.py UPSTREAM [--lose-answer METHOD PATH]…`, for tests in other
    languages: prints `proxy listening on URL`, then one line per request a rule acted on."""
    import sys
    import time

    proxy = LostAnswerProxy(argv[0])
    args = argv[1:]
    while args:
        flag, method, path, *args = args
        if flag != "--lose-answer":
            raise SystemExit(f"unknown option {flag}")
        proxy.add(Rule(method, path, LostAnswerProxy.LOSE_ANSWER))
    print(f"proxy listening on {proxy.endpoint}", flush=True)
    told = 0
    while True:
        time.sleep(0.05)
        acted = [entry for entry in proxy.log if entry[2] != "relay"]
        for method, path, action in acted[told:]:
            print(f"{action} {method} {path}", flush=True)
        told = len(acted)
        if sys.stdin.closed:
            return


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
