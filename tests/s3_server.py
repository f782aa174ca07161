"""A real S3 endpoint on loopback (moto's server mode) and a fault-injecting proxy in front of it.

moto's server has no fault injection of its own, so `FaultProxy` is a small HTTP server on
127.0.0.1 that forwards each request to moto, except the ones its `FaultPlan` picks: those get an
S3 error answer (503 SlowDown, 400 ThrottlingException, 500 InternalError, 503 ServiceUnavailable,
502 with an HTML page), a dropped connection, a write that reaches moto but whose answer is a 500
(the client must retry a PUT that already happened: nothing may be duplicated), or an object body
that breaks off half-way. Every injected fault is counted by kind.
"""

from __future__ import annotations

import http.client
import random
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: kind -> (HTTP status, S3 error code or None for a non-XML page)
ERROR_ANSWERS = {
    "slowdown": (503, "SlowDown"),
    "throttling": (400, "ThrottlingException"),
    "internal": (500, "InternalError"),
    "unavailable": (503, "ServiceUnavailable"),
    "bad_gateway": (502, None),
}
#: Faults that need no answer from moto; then those that do.
ALL_KINDS = tuple(ERROR_ANSWERS) + ("reset", "after_commit", "truncated")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_moto() -> tuple[object, str]:
    """moto's threaded server on a free loopback port; returns (server, endpoint URL)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


@dataclass
class FaultPlan:
    """Which requests fail, and how. Each request fails with probability `rate` (seeded, so a run
    can be replayed) with the kind injected least so far, but one SDK call (its `amz-sdk-invocation-id`) gets at most `max_per_call`
    faults, so a client allowed more attempts than that must never lose a request."""

    rate: float = 0.0  # float-ok: a probability, not money
    kinds: tuple[str, ...] = ALL_KINDS
    max_per_call: int = 3
    seed: int = 9
    injected: Counter = field(default_factory=Counter)
    requests: int = 0
    forwarded: int = 0
    _per_call: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self._random = random.Random(self.seed)

    def choose(self, method: str, path: str, call_id: str | None) -> str | None:
        with self._lock:
            self.requests += 1
            if self._random.random() >= self.rate:
                return None
            if call_id is not None and self._per_call[call_id] >= self.max_per_call:
                return None
            kinds = [k for k in self.kinds if _applies(k, method, path)]
            if not kinds:
                return None
            # The kind injected least so far: every kind gets its turn, even the ones only some
            # requests allow (a lost answer to a write, a body that breaks off).
            fewest = min(self.injected[k] for k in kinds)
            kind = self._random.choice([k for k in kinds if self.injected[k] == fewest])
            self.injected[kind] += 1
            if call_id is not None:
                self._per_call[call_id] += 1
            return kind

    @property
    def total(self) -> int:
        return sum(self.injected.values())


def _applies(kind: str, method: str, path: str) -> bool:
    query = urlsplit(path).query
    if kind == "throttling":  # an error code in a body; a HEAD answer has none, so only its status counts
        return method != "HEAD"
    if kind == "after_commit":  # a write that happens although its answer says it failed
        return method in ("PUT", "DELETE")
    if kind == "truncated":  # an object body that breaks off
        return method == "GET" and urlsplit(path).path.count("/") >= 2 and "list-type" not in query
    return True


class FaultProxy:
    """HTTP on 127.0.0.1 forwarding to `upstream` (moto), failing what `plan` picks."""

    def __init__(self, upstream: str, plan: FaultPlan | None = None):
        self.plan = plan or FaultPlan()
        target = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive and 100-continue, as boto3 expects

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _error(self, status: int, code: str | None) -> None:
                if code is None:
                    body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                    content_type = "text/html"
                else:
                    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                            f"<Message>injected by the test's fault proxy</Message><RequestId>fault</RequestId></Error>").encode()
                    content_type = "application/xml"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _forward(self, body: bytes):
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                connection.close()
                proxy.plan.forwarded += 1
                return answer.status, answer.getheaders(), payload

            def _handle(self):
                body = self._body()
                fault = proxy.plan.choose(self.command, self.path, self.headers.get("amz-sdk-invocation-id"))
                if fault in ERROR_ANSWERS:
                    return self._error(*ERROR_ANSWERS[fault])
                if fault == "reset":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, headers, payload = self._forward(body)
                if fault == "after_commit":
                    return self._error(500, "InternalError")
                self.send_response(status)
                for name, value in headers:
                    if name.lower() in _HOP_BY_HOP or name.lower() in ("content-length", "date", "server"):
                        continue
                    self.send_header(name, value)
                length = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
                self.send_header("Content-Length", length if self.command == "HEAD" else str(len(payload)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if fault == "truncated" and len(payload) > 1:
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="s3-fault-proxy", daemon=True)

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
