"""Fault injection in front of the real server: never a fake server.

Two tools:

* :class:`FaultyTransport` — an ``httpx.AsyncBaseTransport`` wrapping a real
  ``httpx.AsyncHTTPTransport`` to the live server. Faults are scripted per request, matched by
  method and path prefix, and fire a given number of times (optionally after letting some
  matching requests through). Every exchange is logged so tests can count requests.

* :class:`TcpProxy` — a real asyncio TCP proxy on 127.0.0.1 (in its own thread, so it also
  serves subprocesses and blocking tests) that can forward, refuse connections (the
  listening socket is closed), reset them, blackhole them, swallow the server's answers, or
  throttle the download. Switching to an offline mode cuts open connections (the event
  stream included), as a lost network would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import orjson

from protocol.wire import API_PREFIX
from tests.sync.helpers import as_rows, mirror_rows, wait_for

# --------------------------------------------------------------------------- httpx transport


class Kind(StrEnum):
    DROP_REQUEST = "drop_request"  # never sent: ConnectError
    DROP_RESPONSE = "drop_response"  # sent and processed, answer lost: ReadError
    DUPLICATE = "duplicate"  # sent twice; the second answer is returned
    DELAY = "delay"  # sent after ``delay_s``
    HOLD = "hold"  # waits until ``release`` is set (``entered`` tells it is waiting)
    STATUS = "status"  # answered locally with ``status`` (and Retry-After), never sent
    TRUNCATE = "truncate"  # the real answer's body cut to ``keep`` bytes (or half)
    RESET = "reset"  # sent; the connection resets while the body is read
    REWRITE = "rewrite"  # the real answer's body passed through ``rewrite(body)``


@dataclass
class Fault:
    kind: Kind
    method: str | None = None
    path: str = ""
    times: int | None = 1  # None: every matching request
    after: int = 0  # let this many matching requests through first
    delay_s: float = 0.0
    status: int = 500
    retry_after: float | None = None
    keep: int | None = None
    rewrite: Callable[[bytes], bytes] | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return path.startswith(self.path)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass
class Exchange:
    method: str
    path: str  # without the API prefix ("/sync/pull")
    params: dict[str, str]
    started: float  # time.monotonic()
    fault: Kind | None = None
    status: int | None = None
    ended: float | None = None
    error: str | None = None
    content: bytes = b""

    def json(self) -> Any:
        return orjson.loads(self.content) if self.content else None

    def mutation_ids(self) -> list[int]:
        """For a push: the ids of the intents it carried."""
        body = self.json() or {}
        return [m["id"] for m in body.get("mutations", [])]


def api_path(url: httpx.URL) -> str:
    path = url.path
    return path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path


class FaultyTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport with scripted faults; ``log`` records every exchange."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.faults: list[Fault] = []
        self.log: list[Exchange] = []

    # -- scripting ---------------------------------------------------------------------

    def add(self, kind: Kind | str, method: str | None = None, path: str = "", *,
            times: int | None = 1, after: int = 0, **params: Any) -> Fault:
        fault = Fault(Kind(kind), method, path, times, after, **params)
        self.faults.append(fault)
        return fault

    def drop_request(self, method: str | None, path: str, **kw: Any) -> Fault:
        return self.add(Kind.DROP_REQUEST, method, path, **kw)

    def drop_response(self, method: str | None, path: str, **kw: Any) -> Fault:
        return self.add(Kind.DROP_RESPONSE, method, path, **kw)

    def duplicate(self, method: str | None, path: str, **kw: Any) -> Fault:
        return self.add(Kind.DUPLICATE, method, path, **kw)

    def delay(self, method: str | None, path: str, delay_s: float, **kw: Any) -> Fault:
        return self.add(Kind.DELAY, method, path, delay_s=delay_s, **kw)

    def hold(self, method: str | None, path: str, **kw: Any) -> Fault:
        return self.add(Kind.HOLD, method, path, **kw)

    def answer(self, method: str | None, path: str, status: int,
               retry_after: float | None = None, **kw: Any) -> Fault:
        return self.add(Kind.STATUS, method, path, status=status, retry_after=retry_after, **kw)

    def truncate(self, method: str | None, path: str, keep: int | None = None,
                 **kw: Any) -> Fault:
        return self.add(Kind.TRUNCATE, method, path, keep=keep, **kw)

    def reset(self, method: str | None, path: str, **kw: Any) -> Fault:
        return self.add(Kind.RESET, method, path, **kw)

    def rewrite(self, method: str | None, path: str, fn: Callable[[bytes], bytes],
                **kw: Any) -> Fault:
        return self.add(Kind.REWRITE, method, path, rewrite=fn, **kw)

    def clear(self) -> None:
        for fault in self.faults:
            fault.release.set()
        self.faults.clear()

    # -- observation -------------------------------------------------------------------

    def requests(self, method: str | None = None, path: str = "") -> list[Exchange]:
        return [e for e in self.log
                if (method is None or e.method == method.upper()) and e.path.startswith(path)]

    def count(self, method: str | None = None, path: str = "") -> int:
        return len(self.requests(method, path))

    # -- the transport -----------------------------------------------------------------

    def _pick(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.exhausted or not fault.matches(method, path):
                continue
            fault.seen += 1
            if fault.seen <= fault.after:
                continue
            fault.fired += 1
            return fault
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = api_path(request.url)
        entry = Exchange(request.method, path, dict(request.url.params), time.monotonic())
        if request.method != "GET":
            entry.content = await request.aread()
        self.log.append(entry)
        fault = self._pick(request.method, path)
        entry.fault = fault.kind if fault else None
        try:
            response = await self._handle(request, fault)
        except Exception as exc:
            entry.error, entry.ended = repr(exc), time.monotonic()
            raise
        entry.status, entry.ended = response.status_code, time.monotonic()
        return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def _send_read(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        response = await self._send(request)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return response, body

    @staticmethod
    def _copy(response: httpx.Response, body: bytes, request: httpx.Request) -> httpx.Response:
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-length", "transfer-encoding",
                                        "content-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=body,
                              request=request)

    async def _handle(self, request: httpx.Request, fault: Fault | None) -> httpx.Response:
        if fault is None:
            return await self._send(request)
        kind = fault.kind
        if kind is Kind.DROP_REQUEST:
            raise httpx.ConnectError("injected: request dropped", request=request)
        if kind is Kind.STATUS:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            body = orjson.dumps({"error": "injected", "message": None} if fault.status != 410
                                else {"error": "resync_required",
                                      "message": "This cursor can no longer be continued."})
            return httpx.Response(fault.status, headers=headers, content=body,
                                  request=request)
        if kind in (Kind.DELAY, Kind.HOLD):
            fault.entered.set()
            if kind is Kind.DELAY:
                await asyncio.sleep(fault.delay_s)
            else:
                await fault.release.wait()
            return await self._send(request)
        await request.aread()
        if kind is Kind.DUPLICATE:
            await self._send_read(_clone(request))
            response, body = await self._send_read(_clone(request))
            return self._copy(response, body, request)
        if kind is Kind.DROP_RESPONSE:
            await self._send_read(request)
            raise httpx.ReadError("injected: response lost after the server processed it",
                                  request=request)
        if kind is Kind.RESET:
            response = await self._send(request)
            try:
                async for _chunk in response.aiter_raw():
                    break  # a little arrived, then the peer reset
            finally:
                await response.aclose()
            raise httpx.ReadError("[Errno 104] Connection reset by peer (injected)",
                                  request=request)
        response, body = await self._send_read(request)
        if kind is Kind.TRUNCATE:
            keep = fault.keep if fault.keep is not None else len(body) // 2
            return self._copy(response, body[:keep], request)
        if kind is Kind.REWRITE:
            assert fault.rewrite is not None
            return self._copy(response, fault.rewrite(body), request)
        raise AssertionError(kind)

    async def aclose(self) -> None:
        self.clear()
        await self.inner.aclose()


def _clone(request: httpx.Request) -> httpx.Request:
    return httpx.Request(request.method, request.url, headers=request.headers,
                         content=request.content, extensions=request.extensions)


# --------------------------------------------------------------------------- TCP proxy


class Mode(StrEnum):
    FORWARD = "forward"
    REFUSE = "refuse"  # nobody listens: connection refused
    RESET = "reset"  # accepted, then reset at once (RST)
    BLACKHOLE = "blackhole"  # accepted, requests read, never answered
    SWALLOW = "swallow"  # requests reach the server; its answers are dropped


OFFLINE_MODES = (Mode.REFUSE, Mode.RESET, Mode.BLACKHOLE)
_REQUEST_LINE = re.compile(rb"(GET|POST|PUT|PATCH|DELETE|HEAD) (\S+) HTTP/1\.[01]\r\n")


def _rst(writer: asyncio.StreamWriter | None) -> None:
    """Abort with a TCP reset (SO_LINGER 0), as a dead network path or a crashed peer."""
    if writer is None:
        return
    with contextlib.suppress(Exception):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(Exception):
        writer.transport.abort()


class TcpProxy:
    """A TCP proxy on 127.0.0.1 in front of ``target_port``; its own loop in a thread."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode = Mode.FORWARD
        self.rate_bps: float | None = None  # throttle server → client
        self.request_lines: list[str] = []  # "GET /api/v1/sync/pull?cursor=0..." in order
        # Called (in the proxy's thread) with the request line and the status each time the
        # last byte of a response with a Content-Length has been handed to the client.
        self.on_response: Callable[[str, int], None] | None = None
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="tcp-proxy")
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control (from any thread) -----------------------------------------------------

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def start(self) -> TcpProxy:
        self._thread.start()
        self._run(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_mode(self, mode: Mode | str, *, cut: bool | None = None) -> None:
        """Switch mode. Offline modes cut open connections unless ``cut=False``."""
        self._run(self._set_mode(Mode(mode), cut))

    def offline(self, mode: Mode | str = Mode.REFUSE) -> None:
        self.set_mode(mode)

    def online(self) -> None:
        self.set_mode(Mode.FORWARD)

    def cut(self) -> None:
        """Reset every open connection (the listener stays as it is)."""
        self._run(self._cut())

    def open_connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def requests(self, contains: str = "") -> list[str]:
        with self._lock:
            return [line for line in self.request_lines if contains in line]

    # -- inside the loop ---------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._cut()

    async def _set_mode(self, mode: Mode, cut: bool | None) -> None:
        previous, self.mode = self.mode, mode
        if mode is Mode.REFUSE and self._server is not None:
            self._server.close()
            self._server = None
        if mode is not Mode.REFUSE and self._server is None:
            await self._listen()
        if cut if cut is not None else (mode in OFFLINE_MODES and previous != mode):
            await self._cut()

    async def _cut(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for client, upstream in conns:
            _rst(client)
            _rst(upstream)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        mode = self.mode
        if mode is Mode.REFUSE:  # a connection that raced the close of the listener
            _rst(writer)
            return
        if mode is Mode.RESET:
            _rst(writer)
            return
        upstream_w: asyncio.StreamWriter | None = None
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]
        if mode is Mode.BLACKHOLE:
            pair = (writer, None)
            with self._lock:
                self._conns.add(pair)
            try:
                while await reader.read(65536):
                    pass
            except (ConnectionError, OSError):
                pass
            finally:
                with self._lock:
                    self._conns.discard(pair)
                _rst(writer)
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except OSError:
            _rst(writer)
            return
        pair = (writer, upstream_w)
        with self._lock:
            self._conns.add(pair)
        try:
            asked: list[str] = []  # this connection's requests not answered yet
            await asyncio.gather(self._pump_up(reader, upstream_w, asked),
                                 self._pump_down(upstream_r, writer, asked))
        finally:
            with self._lock:
                self._conns.discard(pair)
            for w in (writer, upstream_w):
                with contextlib.suppress(Exception):
                    w.close()

    async def _pump_up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       asked: list[str]) -> None:
        tail = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                scan = tail + chunk
                found = [m.group(0)[:-2].decode("latin-1")
                         for m in _REQUEST_LINE.finditer(scan) if m.end() > len(tail)]
                if found:
                    asked.extend(found)
                    with self._lock:
                        self.request_lines.extend(found)
                tail = scan[-2048:]
                writer.write(chunk)
                await writer.drain()
            with contextlib.suppress(Exception):
                writer.write_eof()
        except (ConnectionError, OSError):
            _rst(writer)

    async def _pump_down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         asked: list[str]) -> None:
        framing = _ResponseFraming()
        try:
            while True:
                rate = self.rate_bps
                chunk = await reader.read(4096 if rate else 65536)
                if not chunk:
                    break
                if self.mode is Mode.SWALLOW:
                    continue
                writer.write(chunk)
                await writer.drain()
                for status in framing.feed(chunk):
                    line = asked.pop(0) if asked else ""
                    if self.on_response is not None:
                        self.on_response(line, status)
                if rate:
                    await asyncio.sleep(len(chunk) / rate)
            with contextlib.suppress(Exception):
                writer.write_eof()
        except (ConnectionError, OSError):
            _rst(writer)


class _ResponseFraming:
    """Finds the complete HTTP/1.1 responses in a byte stream (Content-Length bodies only;
    a chunked or unframed response, like the event stream, never completes)."""

    def __init__(self) -> None:
        self.head = b""
        self.status = 0
        self.remaining: int | None = None  # body bytes still due; None: reading a head
        self.streaming = False

    def feed(self, data: bytes) -> list[int]:
        """The statuses of the responses this data completed."""
        done: list[int] = []
        while data and not self.streaming:
            if self.remaining is None:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    return done
                head, data = self.head[:end], self.head[end + 4:]
                self.head = b""
                status = re.match(rb"HTTP/1\.[01] (\d{3})", head)
                self.status = int(status.group(1)) if status else 0
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if length is None:
                    if self.status in (204, 304) or 100 <= self.status < 200:
                        done.append(self.status)
                        continue
                    self.streaming = True
                    return done
                self.remaining = int(length.group(1))
            take = min(self.remaining, len(data))
            self.remaining -= take
            data = data[take:]
            if self.remaining == 0:
                self.remaining = None
                done.append(self.status)
        return done


# --------------------------------------------------------------------------- process death

_ZYGOTE = r"""
import json, os, signal, sys, traceback
import sync.cli
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
print("ready", flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.environ.update(cmd["env"])
            out = os.open(cmd["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            sys.stdin = open(os.devnull)
            code = sync.cli.main(cmd["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            with open(cmd["out"] + ".rc", "w") as rc:
                rc.write(str(code))
            os._exit(code)
    print(pid, flush=True)
"""


@dataclass
class CliProcess:
    """A ``relaydesk-sync`` process started by :class:`CliForker`."""

    pid: int
    out: Path

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL: no cleanup, no clean-shutdown marker, like a crash or a power cut."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                raise TimeoutError(f"relaydesk-sync {self.pid} still running")
            time.sleep(0.02)
        rc = Path(str(self.out) + ".rc")
        return int(rc.read_text()) if rc.exists() else -9

    def output(self) -> str:
        return self.out.read_text() if self.out.exists() else ""

    def lines(self) -> list[str]:
        return self.output().splitlines()


class CliForker:
    """Runs ``relaydesk-sync`` commands as separate processes that tests can SIGKILL.

    Starting Python and importing the client takes seconds on a busy machine, so one warm,
    single-threaded parent (imports done, nothing else) forks a child per command; each child
    is the CLI (``sync.cli.main``) with its own environment, output file and exit code.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE], env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().strip()
        if ready != "ready":
            self.proc.kill()
            raise RuntimeError(f"the CLI forker did not start: {ready!r}")
        self._count = 0

    def spawn(self, argv: list[str], out_dir: Path, env: dict[str, str] | None = None
              ) -> CliProcess:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._count += 1
        out = out_dir / f"relaydesk-sync-{self._count}.out"
        self.proc.stdin.write(json.dumps({"argv": argv, "env": env or {},
                                          "out": str(out)}) + "\n")
        self.proc.stdin.flush()
        return CliProcess(int(self.proc.stdout.readline()), out)

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- assertions


# wait_for, mirror_rows and as_rows live in tests.sync.helpers (re-exported here).


def outbox_intents(store: Any) -> list[Any]:
    from sync import outbox

    with store.read_outbox() as conn:
        return outbox.unsettled(conn)


def server_messages(db: Any, body: str) -> int:
    """How many messages with this body the server holds."""
    from sqlalchemy import func, select

    from server import models as m

    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(m.Message)
                            .where(m.Message.body == body)) or 0)


def delivered(api: Any, ws: Any, channel_key: str, body: str) -> int:
    """How many times the loopback provider sent ``body`` on the channel."""
    return sum(1 for o in api.outbound(ws, channel_key) if o.body == body)


# --------------------------------------------------------------------------- desks

FAST = dict(backoff_base_s=0.1, backoff_cap_s=1.0)


def record_states(desk: Any) -> list[Any]:
    """Every status the engine publishes from now on."""
    seen: list[Any] = []
    desk.engine.subscribe(seen.append)
    return seen


async def open_desk(make_desk: Any, url: str, ws: Any, transport: Any = None,
                    email: str | None = None, **options: Any) -> Any:
    """A signed-in desk (alice unless ``email``) that has finished its first sync."""
    from sync.engine import EngineOptions, EngineState

    opts = EngineOptions(**{**FAST, **options})
    desk = await make_desk(url, email=email or ws.emails["alice"], transport=transport,
                           options=opts)
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE, 15), \
        desk.engine.status
    return desk


async def converged(desk: Any, server_db: Any, ws: Any, timeout: float = 15,
                    agent: str = "alice", rejected: int = 0) -> bool:
    """Up to date, nothing unsent or unsettled (but ``rejected`` intents), and the mirror
    equals what the server says the agent may see."""
    from sync.engine import EngineState
    from tests.server.harness import expected_state

    agent_id = ws.agents[agent]

    def done() -> bool:
        st = desk.engine.status
        return (st.state is EngineState.UP_TO_DATE and st.pending == 0
                and len(outbox_intents(desk.store)) == rejected
                and mirror_rows(desk.store) == as_rows(expected_state(server_db, agent_id)))
    return await wait_for(done, timeout, interval=0.1)


async def send(desk: Any, conv: Any, body: str) -> Any:
    return await desk.engine.enqueue("send_message", {"conversation_id": conv.conversation_id,
                                                      "body": body})


def once(api: Any, ws: Any, server_db: Any, body: str, channel_key: str = "a_sms") -> bool:
    """Sent to the customer exactly once, and one message on the server."""
    return delivered(api, ws, channel_key, body) == 1 and server_messages(server_db, body) == 1


@contextlib.contextmanager
def shared_server(tmp_dir: Path, **overrides: Any) -> Iterator[tuple[Any, Any, Any]]:
    """A migrated server database, the standard workspace and a live server over them, for a
    whole test module (building a workspace hashes four passwords: seconds on a busy box).
    Tests sharing it use their own conversations and message texts."""
    from server.db import Database
    from tests.server.harness import LiveServer, build_workspace

    db = Database(f"sqlite:///{tmp_dir / 'server.sqlite3'}")
    db.migrate()
    srv = None
    try:
        ws = build_workspace(db)
        srv = LiveServer(db.url.render_as_string(hide_password=False), tmp_dir,
                         **{"heartbeat_s": 1.0, **overrides})
        srv.start()
        yield db, ws, srv
    finally:
        if srv is not None:
            srv.stop()
        db.dispose()


def new_handle() -> str:
    """A phone number no other test uses (so each test gets its own conversation)."""
    import uuid

    return f"+1555{uuid.uuid4().int % 10**7:07d}"
