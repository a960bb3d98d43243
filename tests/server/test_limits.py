"""Request body limits and credentials checked before bodies, against the real server.

Bodies are sent over raw sockets where a client library would not let the test see what the
server does mid-request (answer before the body arrives, stop reading it at the limit).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from protocol import wire as p
from server import limits
from server.db import Database
from server.limits import BodyLimits
from tests.server.harness import PASSWORD, PREFIX, Api, LiveServer, Workspace

ASTRAL = "\U0001f600"  # 1 character to the protocol, 12 bytes as escaped JSON
MB = 1_000_000
FLOOD_BYTES = 300 * MB
FLOOD_STREAMS = 4  # per kind of request
MiB = 1024 * 1024


# --------------------------------------------------------------------------- raw HTTP


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return sock


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: relaydesk.test",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def send_body(url: str, path: str, headers: dict[str, str], total: int, *,
              chunked: bool, chunk: int = MiB, finish: bool = True) -> tuple[int | None, int]:
    """POST ``total`` bytes (declared with Content-Length, or chunked; ``finish``: end the
    chunks) while the server keeps reading; returns (the status it answered, or None if the
    connection was reset before the answer could be read, and the bytes sent)."""
    sock = _connect(url)
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(total)}
    sent = 0
    payload = b"a" * chunk
    frame = b"%x\r\n%b\r\n" % (chunk, payload) if chunked else payload
    try:
        sock.sendall(_head("POST", path, {"Content-Type": "application/json", **headers,
                                          **framing}))
        try:
            while sent < total:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered: stop sending
                sock.sendall(frame)
                sent += chunk
            else:
                if chunked and finish:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection at its limit
        try:
            return _read_response(sock)[0], sent
        except (ConnectionError, OSError):
            return None, sent
    finally:
        sock.close()


def answer_without_body(url: str, path: str, headers: dict[str, str]
                        ) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Send only the head of a request that declares a 1,000-byte body: the server must
    answer without waiting for the body."""
    sock = _connect(url)
    try:
        sock.sendall(_head("POST", path, {"Content-Type": "application/json",
                                          "Content-Length": "1000", **headers}))
        sock.settimeout(10)
        status, resp_headers, body = _read_response(sock)
        return status, resp_headers, json.loads(body)
    finally:
        sock.close()


# --------------------------------------------------------------------------- the limits


def _max_login() -> dict[str, str]:
    return {"email": ASTRAL * p.EMAIL_MAX_CHARS, "password": ASTRAL * p.PASSWORD_MAX_CHARS}


def _max_inbound() -> dict[str, Any]:
    return {"handle": ASTRAL * p.HANDLE_MAX_CHARS,
            "display_name": ASTRAL * p.DISPLAY_NAME_MAX_CHARS,
            "text": ASTRAL * p.MAX_TEXT_CHARS, "subject": ASTRAL * p.SUBJECT_MAX_CHARS,
            "provider_message_id": ASTRAL * p.PROVIDER_ID_MAX_CHARS,
            "sent_at": p.MAX_EPOCH_MS}


def test_the_largest_legal_bodies_fit_the_default_limits() -> None:
    """Legal bodies in the most verbose encodings: Python's json (ASCII escapes) for sign-in
    and inbound, orjson (UTF-8, what the desk sends) for a push of 500 full-length notes."""
    login = json.dumps(_max_login()).encode()
    p.LoginRequest.model_validate_json(login)
    assert len(login) <= limits.AUTH_BODY_LIMIT
    refresh = json.dumps({"refresh_token": ASTRAL * p.TOKEN_MAX_CHARS}).encode()
    assert len(refresh) <= limits.AUTH_BODY_LIMIT
    inbound = json.dumps(_max_inbound()).encode()
    p.InboundMessage.model_validate_json(inbound)
    assert len(inbound) <= limits.INBOUND_BODY_LIMIT
    note = {"id": 2**63 - 1, "name": "n" * p.MUTATION_NAME_MAX_CHARS, "args": {
        "conversation_id": str(uuid.uuid4()), "message_id": ASTRAL * p.MESSAGE_ID_MAX_CHARS,
        "body": ASTRAL * p.MAX_TEXT_CHARS, "mentions": [str(uuid.uuid4()) for _ in range(50)]}}
    p.AddNoteArgs.model_validate(note["args"])
    one = len(orjson.dumps(note))
    envelope = len(orjson.dumps({"client_id": "c" * 64, "mutations": []}))
    largest_push = envelope + p.MAX_MUTATIONS_PER_PUSH * (one + 1)
    assert largest_push <= limits.PUSH_BODY_LIMIT
    # Small where it matters: sign-in is read before anyone is authenticated.
    assert limits.AUTH_BODY_LIMIT <= 20 * 1024


def test_bodies_up_to_the_limit_are_served_and_larger_ones_get_413(
    live_server: LiveServer, workspace: Workspace
) -> None:
    cid = workspace.channels["a_sms"]
    secret = {"X-Relaydesk-Channel-Secret": workspace.secrets[cid]}
    inbound_path = f"{PREFIX}/channels/{cid}/inbound"
    login = json.dumps(_max_login()).encode()
    inbound = json.dumps(_max_inbound()).encode()
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        json_type = {"Content-Type": "application/json"}
        r = http.post(f"{PREFIX}/auth/login", content=login, headers=json_type)
        assert r.status_code == 401, r.text  # legal, just wrong
        r = http.post(inbound_path, content=inbound, headers={**json_type, **secret})
        assert r.status_code == 200, r.text
        for path, body, limit, extra in (
            (f"{PREFIX}/auth/login", login, limits.AUTH_BODY_LIMIT, {}),
            (inbound_path, inbound, limits.INBOUND_BODY_LIMIT, secret),
        ):
            padded = body + b" " * (limit + 1 - len(body))  # still JSON, one byte too long
            r = http.post(path, content=padded, headers={**json_type, **extra})
            assert r.status_code == 413, r.text
            error = p.ErrorBody.model_validate(r.json())
            assert error.error == "body_too_large"
            assert f"{limit:,} bytes" in error.message
            assert r.headers["connection"] == "close"


def test_push_and_auth_limits_are_configurable(
    db: Database, workspace: Workspace, tmp_path: Path
) -> None:
    server = LiveServer(db.url.render_as_string(hide_password=False), tmp_path,
                        body_limits=BodyLimits(auth=2048, push=4096))
    server.start()
    try:
        with Api(server.url) as alice:
            alice.login(workspace.emails["alice"])
            body = orjson.dumps({"client_id": "client-limits", "mutations": []})
            for size, status in ((4096, 200), (4097, 413)):
                r = alice.http.post(f"{PREFIX}/sync/push",
                                    content=body + b" " * (size - len(body)),
                                    headers={**alice.headers,
                                             "Content-Type": "application/json"})
                assert r.status_code == status, r.text
            r = alice.http.post(f"{PREFIX}/auth/login", content=b" " * 2049)
            assert r.status_code == 413
            assert "--auth-body-limit" in r.json()["message"]
    finally:
        server.stop()


def test_an_oversized_body_is_refused_before_it_is_sent_or_as_it_passes_the_limit(
    live_server: LiveServer, workspace: Workspace
) -> None:
    path = f"{PREFIX}/auth/login"
    # Declared: the answer comes at once, not one byte of the body is needed.
    status, headers, body = answer_without_body(live_server.url, path,
                                                {"Content-Length": str(FLOOD_BYTES)})
    assert status == 413
    assert p.ErrorBody.model_validate(body).error == "body_too_large"
    assert headers["connection"] == "close"
    # Streamed (chunked, no length): counted as it arrives; the server answers once it has
    # read one chunk past the limit (the client then stops, so nothing is left unread).
    status, _ = send_body(live_server.url, path, {}, limits.AUTH_BODY_LIMIT + 1,
                          chunked=True, chunk=limits.AUTH_BODY_LIMIT + 1, finish=False)
    assert status == 413


# --------------------------------------------------------------------------- credentials first


def test_credentials_are_checked_before_the_body_is_read(
    live_server: LiveServer, workspace: Workspace
) -> None:
    cid = workspace.channels["a_sms"]
    inbound = f"{PREFIX}/channels/{cid}/inbound"
    push = f"{PREFIX}/sync/push"
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        # Not even valid JSON: the secret or token is what is wrong, and said first.
        for path, headers, code in (
            (inbound, {"X-Relaydesk-Channel-Secret": "wrong"}, "invalid_channel_secret"),
            (inbound, {}, "invalid_channel_secret"),
            (f"{PREFIX}/channels/{uuid.uuid4()}/inbound",
             {"X-Relaydesk-Channel-Secret": "wrong"}, "channel_not_found"),
            (push, {}, "auth_required"),
            (push, {"Authorization": "Bearer stolen"}, "invalid_token"),
        ):
            r = http.post(path, content=b"{not json", headers=headers)
            assert r.json()["error"] == code, (path, r.text)
            assert r.status_code in (401, 404)
            # ... without waiting for the body at all.
            status, _, body = answer_without_body(live_server.url, path, headers)
            assert status == r.status_code
            assert body["error"] == code


# --------------------------------------------------------------------------- memory


def _memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_memory_stays_flat_under_a_flood_of_oversized_bodies(
    server_process_factory: Any, database_url: str, workspace: Workspace
) -> None:
    """Four each of: 300 MB declared to sign-in; 300 MB streamed to sign-in, to a channel
    (with its secret), to push without a token and to push with one (push limit 1 MiB):
    the server's peak memory grows by far less than one such body."""
    server = server_process_factory(database_url, "--push-body-limit", "1MiB")
    assert server.proc is not None
    cid = workspace.channels["a_sms"]
    with Api(server.url) as alice:
        alice.login(workspace.emails["alice"])
        alice.inbound(workspace, "a_sms", "+15550100001", "warm-up")
        alice.push("client-flood", [])
        token = alice.token
    kinds: list[tuple[str, dict[str, str], bool]] = [
        (f"{PREFIX}/auth/login", {}, False),
        (f"{PREFIX}/auth/login", {}, True),
        (f"{PREFIX}/channels/{cid}/inbound",
         {"X-Relaydesk-Channel-Secret": workspace.secrets[cid]}, True),
        (f"{PREFIX}/sync/push", {}, True),
        (f"{PREFIX}/sync/push", {"Authorization": f"Bearer {token}"}, True),
    ]
    before = _memory_kib(server.proc.pid)
    results: list[tuple[str, int | None, int]] = []
    lock = threading.Lock()

    def flood(path: str, headers: dict[str, str], chunked: bool) -> None:
        status, sent = send_body(server.url, path, headers, FLOOD_BYTES, chunked=chunked)
        with lock:
            results.append((path, status, sent))

    threads = [threading.Thread(target=flood, args=kind)
               for kind in kinds for _ in range(FLOOD_STREAMS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    after = _memory_kib(server.proc.pid)
    assert len(results) == len(threads)
    growth_mib = (after["VmHWM"] - before["VmHWM"]) / 1024
    assert growth_mib < 64, (before, after)
    # Every stream was cut off long before its 300 MB (socket buffers hold a few MB).
    assert all(sent < 32 * MB for _, _, sent in results), results
    assert all(status in (None, 401, 413) for _, status, _ in results), results
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/healthz").status_code == 200
        assert http.post(f"{PREFIX}/auth/login", json={
            "email": workspace.emails["bob"], "password": PASSWORD}).status_code == 200
