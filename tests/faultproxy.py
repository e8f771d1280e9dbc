"""A fault-injecting HTTP/1.1 proxy for tests, in front of the moto S3 server.

It runs as its own process (``python tests/faultproxy.py ...``), so a test can SIGKILL it
in the middle of a publish, exactly as a storage endpoint dies, and start it again on the
same port. Tests drive it through :class:`FaultProxy`; the ``fault_proxy`` fixture yields
one started in front of ``s3_endpoint``.

How it works
------------
- One thread per client connection, HTTP/1.1 keep-alive on the client side. Each request
  is forwarded on a fresh upstream connection (closed once its response has been relayed),
  so no upstream connection is ever reused in an unknown state.
- Request bodies are framed, not guessed: ``Content-Length`` or ``Transfer-Encoding:
  chunked`` (aws-chunked bodies travel inside either). They are streamed, never buffered.
- ``Expect: 100-continue`` is left to the upstream: the proxy forwards the head, relays
  the upstream's ``100 Continue`` (moto sends two; every interim response is relayed) and
  only then the body. If the upstream answers with a final status instead, that goes to the
  client, which then sends no body, and the connection is closed.
- Responses are relayed as they come: by ``Content-Length``, chunked framing, or until the
  upstream closes; none for HEAD, 1xx, 204 and 304.
- Faults are rules held in the proxy process, consumed first come first served by the
  requests that match them (method and/or a substring of the path). They are set through a
  small control HTTP server on a second port (``POST /faults``, ``POST /clear``,
  ``GET /faults``), so the proxy is never restarted to change them:

  * ``fail``: answer ``503 SlowDown`` or ``500 InternalError`` with S3's XML error body,
    without contacting the upstream. A body the client sends is read and discarded first
    (the connection stays usable); with ``Expect: 100-continue`` the error is the answer to
    the head, no body is read, and the connection is closed.
  * ``drop``: for a request with a body, forward the head and at most ``after_bytes`` of
    the body (never all of it), then close the upstream connection (the server sees an
    incomplete request and stores nothing) and reset the client's (RST: the client sees a
    reset or EOF while sending or waiting for the answer).

- Every request is appended to a JSON-lines log file as soon as its outcome is known and
  before the client sees it, so a client that got an answer finds it logged: ``seq``,
  ``method``, ``path``, ``status`` (an HTTP status; ``"dropped"``; ``"upstream-error"`` when
  the server could not be reached, answered with 502; ``"broken"`` when either side broke
  off mid-exchange), ``fault``, ``body_bytes``, ``framing`` of the request body and
  ``expect`` (100-continue). The log survives a SIGKILL and a restart. Pending faults do
  not: a restarted proxy starts with none.
- A watchdog exits the proxy when the process that started it is gone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

MAX_HEAD = 64 * 1024
PIECE = 64 * 1024
CONTINUE_WAIT = 5.0  # seconds to wait for the upstream's answer to Expect: 100-continue

ERRORS = {
    503: ("Slow Down", "SlowDown", "Please reduce your request rate."),
    500: (
        "Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
}
BAD_GATEWAY = ("Bad Gateway", "BadGateway", "The fault proxy could not reach the server.")


# ---------------------------------------------------------------------------------------
# The proxy process
# ---------------------------------------------------------------------------------------


class BadRequest(Exception):
    pass


@dataclass
class Rule:
    kind: str  # "fail" | "drop"
    remaining: int
    status: int = 503
    method: str | None = None
    path: str | None = None
    after_bytes: int = 0

    def matches(self, method: str, path: str, has_body: bool) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is not None and self.path not in path:
            return False
        return self.kind != "drop" or has_body


class State:
    def __init__(self, log_path: Path):
        self.lock = threading.Lock()
        self.rules: list[Rule] = []
        self.seq = 0
        self.log = log_path.open("a", encoding="utf-8")

    def take(self, method: str, path: str, has_body: bool) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.matches(method, path, has_body):
                    rule.remaining -= 1
                    return rule
            return None

    def record(self, **entry: Any) -> int:
        with self.lock:
            self.seq += 1
            line = json.dumps({"seq": self.seq, "t": round(time.time(), 3), **entry})
            self.log.write(line + "\n")
            self.log.flush()
            return self.seq


Headers = list[tuple[str, str]]


def read_head(reader: BinaryIO) -> tuple[str, Headers, bytes] | None:
    """(start line, headers, raw head bytes); None on EOF before any byte."""
    raw = bytearray()
    lines: list[bytes] = []
    while True:
        line = reader.readline(MAX_HEAD + 1)
        if not line:
            if not raw:
                return None
            raise BadRequest("connection closed inside a message head")
        raw += line
        if len(raw) > MAX_HEAD:
            raise BadRequest("message head too large")
        if line in (b"\r\n", b"\n"):
            if not lines:  # tolerate blank lines before a request (RFC 9112 2.2)
                raw.clear()
                continue
            break
        lines.append(line.rstrip(b"\r\n"))
    start = lines[0].decode("latin-1")
    headers: Headers = []
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise BadRequest(f"malformed header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return start, headers, bytes(raw)


def header(headers: Headers, name: str) -> str | None:
    name = name.lower()
    values = [v for k, v in headers if k.lower() == name]
    return ", ".join(values) if values else None


def body_framing(headers: Headers) -> tuple[str, int]:
    """("chunked", 0), ("length", n) or ("none", 0) for a request."""
    te = header(headers, "Transfer-Encoding")
    if te and te.lower().split(",")[-1].strip() == "chunked":
        return "chunked", 0
    length = header(headers, "Content-Length")
    if length is not None:
        n = int(length.split(",")[0])
        return ("length", n) if n > 0 else ("none", 0)
    return "none", 0


def body_pieces(reader: BinaryIO, kind: str, length: int) -> Iterator[bytes]:
    """The raw bytes of a message body (chunk framing included), in pieces."""
    if kind == "length":
        left = length
        while left:
            data = reader.read(min(PIECE, left))
            if not data:
                raise ConnectionError("peer closed inside a body")
            left -= len(data)
            yield data
    elif kind == "chunked":
        while True:
            size_line = reader.readline(1024)
            if not size_line.endswith(b"\n"):
                raise ConnectionError("peer closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                trailer = bytearray(size_line)
                while True:
                    line = reader.readline(MAX_HEAD)
                    if not line:
                        raise ConnectionError("peer closed inside chunked trailers")
                    trailer += line
                    if line in (b"\r\n", b"\n"):
                        break
                yield bytes(trailer)
                return
            yield size_line
            left = size + 2  # data and its CRLF
            while left:
                data = reader.read(min(PIECE, left))
                if not data:
                    raise ConnectionError("peer closed inside a chunk")
                left -= len(data)
                yield data
    elif kind == "eof":
        while data := reader.read1(PIECE):  # type: ignore[attr-defined]
            yield data


def reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def error_response(status: int, method: str, keep_alive: bool, seq: int) -> bytes:
    reason, code, message = ERRORS.get(status, BAD_GATEWAY)
    request_id = f"FAULTPROXY{seq:06d}"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>faultproxy</HostId></Error>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        "Content-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"x-amz-request-id: {request_id}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    ).encode()
    return head if method == "HEAD" else head + body


class Connection:
    """One client connection, served request by request until either side closes."""

    def __init__(self, client: socket.socket, upstream: tuple[str, int], state: State):
        self.client = client
        self.reader = client.makefile("rb")
        self.upstream = upstream
        self.state = state
        self.entry: dict[str, Any] | None = None  # the request being served
        self.logged = False

    def record(self, status: int | str, entry: dict[str, Any]) -> int:
        self.logged = True
        return self.state.record(status=status, **entry)

    def serve(self) -> None:
        try:
            while True:
                self.logged = False
                try:
                    if not self.one_request():
                        break
                except Exception:
                    if not self.logged and self.entry is not None:  # cut off mid-exchange
                        self.record("broken", self.entry)
                    raise
        except (OSError, ConnectionError, BadRequest, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                self.reader.close()
            with contextlib.suppress(OSError):
                self.client.close()

    def one_request(self) -> bool:
        """Serve one request; True when the connection stays open for another."""
        self.entry = None
        head = read_head(self.reader)
        if head is None:
            return False
        start, headers, raw_head = head
        method, target, version = start.split(" ", 2)
        kind, length = body_framing(headers)
        expect = (header(headers, "Expect") or "").lower() == "100-continue" and kind != "none"
        client_close = (header(headers, "Connection") or "").lower() == "close" or (
            version == "HTTP/1.0"
        )
        entry: dict[str, Any] = {
            "method": method,
            "path": target,
            "fault": None,
            "framing": kind,  # of the request body: "length", "chunked" or "none"
            "expect": expect,
        }
        self.entry = entry
        rule = self.state.take(method, target, kind != "none")

        if rule is not None and rule.kind == "fail":
            entry["fault"] = str(rule.status)
            keep = not expect and not client_close
            if not expect:  # read and discard the body, so the answer is not lost to a RST
                entry["body_bytes"] = sum(len(p) for p in body_pieces(self.reader, kind, length))
            seq = self.record(rule.status, entry)
            self.client.sendall(error_response(rule.status, method, keep, seq))
            return keep

        try:
            up = socket.create_connection(self.upstream, timeout=60)
        except OSError:
            seq = self.record("upstream-error", entry)
            self.client.sendall(error_response(502, method, False, seq))
            return False
        up_reader = up.makefile("rb")
        try:
            up.sendall(raw_head)
            if expect and self.await_continue(up, up_reader, method, entry):
                return False  # the upstream answered the head: no body follows
            if rule is not None and rule.kind == "drop":
                entry["fault"] = "drop"
                entry["body_bytes"] = self.forward_partial(up, kind, length, rule.after_bytes)
                self.record("dropped", entry)
                with contextlib.suppress(OSError):
                    up.shutdown(socket.SHUT_RDWR)
                reset(self.client)
                return False
            sent = 0
            for piece in body_pieces(self.reader, kind, length):
                up.sendall(piece)
                sent += len(piece)
            entry["body_bytes"] = sent
            upstream_close = self.relay_response(up_reader, method, entry)
            return not (client_close or upstream_close)
        finally:
            with contextlib.suppress(OSError):
                up_reader.close()
            with contextlib.suppress(OSError):
                up.close()

    def await_continue(
        self, up: socket.socket, up_reader: BinaryIO, method: str, entry: dict[str, Any]
    ) -> bool:
        """Relay the upstream's answer to ``Expect: 100-continue``. False once a 100 (or
        nothing, within CONTINUE_WAIT) came; True when the upstream answered with a final
        status (relayed and logged)."""
        sel = selectors.DefaultSelector()
        sel.register(up, selectors.EVENT_READ)
        ready = sel.select(CONTINUE_WAIT)
        sel.close()
        if not ready:
            return False  # the client sends the body after its own timeout
        head = read_head(up_reader)
        if head is None:
            raise ConnectionError("upstream closed before answering")
        start, headers, raw = head
        status = int(start.split(" ", 2)[1])
        if 100 <= status < 200:
            self.client.sendall(raw)
            return False
        self.record(status, entry)
        self.client.sendall(raw)
        self.relay_body(up_reader, headers, status, method)
        return True

    def relay_response(self, up_reader: BinaryIO, method: str, entry: dict[str, Any]) -> bool:
        """Relay interim responses and the final one, logged before the client sees it;
        True when the connection must close after it."""
        while True:
            head = read_head(up_reader)
            if head is None:
                raise ConnectionError("upstream closed before answering")
            start, headers, raw = head
            version, status_text = start.split(" ", 2)[:2]
            status = int(status_text)
            if status >= 200 or status == 101:
                break
            self.client.sendall(raw)
        self.record(status, entry)
        self.client.sendall(raw)
        until_eof = self.relay_body(up_reader, headers, status, method)
        close = (
            until_eof
            or (header(headers, "Connection") or "").lower() == "close"
            or version == "HTTP/1.0"
        )
        return close

    def relay_body(self, up_reader: BinaryIO, headers: Headers, status: int, method: str) -> bool:
        """Relay a response body; True when it ran until the upstream closed."""
        if method == "HEAD" or status < 200 or status in (204, 304):
            return False
        kind, length = body_framing(headers)
        if kind == "none" and header(headers, "Content-Length") is None:
            kind = "eof"
        for piece in body_pieces(up_reader, kind, length):
            self.client.sendall(piece)
        return kind == "eof"

    def forward_partial(self, up: socket.socket, kind: str, length: int, limit: int) -> int:
        """Forward at most ``limit`` bytes of the body, and never all of it."""
        sent = 0
        pending: bytes | None = None
        for piece in body_pieces(self.reader, kind, length):
            if pending is not None:
                chunk = pending[: max(0, limit - sent)]
                up.sendall(chunk)
                sent += len(chunk)
                if len(chunk) < len(pending):
                    return sent
            pending = piece
        if pending:  # the last piece: hold back at least its last byte
            chunk = pending[: max(0, min(limit - sent, len(pending) - 1))]
            up.sendall(chunk)
            sent += len(chunk)
        return sent


class ControlHandler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        with self.state.lock:
            self._reply([asdict(r) for r in self.state.rules if r.remaining > 0])

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.state.lock:
            if self.path == "/clear":
                self.state.rules.clear()
            elif self.path == "/faults":
                self.state.rules.append(Rule(**json.loads(data)))
            else:
                self.send_error(404)
                return
        self._reply({"ok": True})


def listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="host:port of the server behind")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--log", type=Path, required=True)
    p.add_argument("--parent-pid", type=int)
    args = p.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    upstream = (host, int(port))

    state = State(args.log)
    listener = listen(args.port)
    ControlHandler.state = state
    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), ControlHandler)
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, daemon=True).start()
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(f"READY {listener.getsockname()[1]} {control.server_address[1]}", flush=True)
    while True:
        client, _ = listener.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(client, upstream, state)
        threading.Thread(target=conn.serve, daemon=True).start()


# ---------------------------------------------------------------------------------------
# The test side
# ---------------------------------------------------------------------------------------

START_TIMEOUT = 15.0


class FaultProxy:
    """Start, steer, read, kill and restart the proxy process in front of ``upstream_url``."""

    def __init__(self, upstream_url: str, workdir: Path | None = None):
        hostport = upstream_url.split("://", 1)[-1].rstrip("/")
        self.upstream = hostport
        self.workdir = Path(workdir) if workdir else Path(os.environ.get("TMPDIR", "/tmp"))
        tag = f"{os.getpid()}-{id(self):x}"
        self.log_path = self.workdir / f"faultproxy-{tag}.jsonl"
        self.stderr_path = self.workdir / f"faultproxy-{tag}.err"
        self.port = 0
        self.control_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> FaultProxy:
        if self.alive:
            raise RuntimeError("proxy already running")
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # a restart may race the old listener's teardown: retry briefly
            try:
                self._spawn(deadline)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _spawn(self, deadline: float) -> None:
        with self.stderr_path.open("ab") as err:
            seen = err.tell()
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    f"--upstream={self.upstream}",
                    f"--port={self.port}",
                    f"--control-port={self.control_port}",
                    f"--log={self.log_path}",
                    f"--parent-pid={os.getpid()}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(max(0.1, deadline - time.monotonic()))
        sel.close()
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("READY "):
            self._reap()
            tail = self.stderr_path.read_bytes()[seen:].decode(errors="replace")[-2000:]
            if "Address already in use" in tail:
                raise OSError(f"proxy ports busy: {tail}")
            raise RuntimeError(f"fault proxy did not start: {line!r}\n{tail}")
        self.port, self.control_port = (int(x) for x in line.split()[1:3])

    def _control(self, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.control_port}{path}",
            data=data,
            method="GET" if data is None and path == "/faults" else "POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def fail_next(
        self, n: int, status: int = 503, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` (503 SlowDown or 500
        InternalError) and S3's XML error body, without contacting the server."""
        if status not in ERRORS:
            raise ValueError(f"status must be one of {sorted(ERRORS)}")
        self._control(
            "/faults",
            {"kind": "fail", "remaining": n, "status": status, "method": method, "path": path},
        )

    def drop_next(
        self, n: int, after_bytes: int = 1024, method: str | None = None, path: str | None = None
    ) -> None:
        """For the next ``n`` matching requests that carry a body: forward the head and at
        most ``after_bytes`` of the body (never all of it), then drop both connections."""
        self._control(
            "/faults",
            {
                "kind": "drop",
                "remaining": n,
                "after_bytes": after_bytes,
                "method": method,
                "path": path,
            },
        )

    def pending(self) -> list[dict[str, Any]]:
        """Fault rules not yet used up."""
        result: list[dict[str, Any]] = self._control("/faults")
        return result

    def clear(self) -> None:
        self._control("/clear", {})

    def requests(self) -> list[dict[str, Any]]:
        """Every request seen so far, across kills and restarts, oldest first."""
        if not self.log_path.exists():
            return []
        entries = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):  # a line cut short by SIGKILL
                entries.append(json.loads(line))
        return entries

    def kill(self) -> None:
        """SIGKILL: open connections reset, new ones refused, like a server dying."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self._reap()

    def restart(self) -> FaultProxy:
        """Start again on the same port (and control port), with no faults pending."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
else:  # pytest only on the test side: the proxy process starts faster without it
    import pytest

    @pytest.fixture
    def fault_proxy(s3_endpoint: str, tmp_path: Path) -> Iterator[FaultProxy]:
        """A started proxy in front of the session's moto server; stopped (or reaped, if a test
        killed it) at teardown."""
        proxy = FaultProxy(s3_endpoint, workdir=tmp_path)
        try:
            yield proxy.start()
        finally:
            proxy.stop()
