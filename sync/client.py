"""The REST client: one ``httpx.AsyncClient``, errors sorted into what the engine can act on.

httpx is imported when a client is made, not with this module: the desk imports the error
classes and ``Tokens`` at start-up but talks to the server only once its window is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from protocol.names import API_PREFIX, DEFAULT_HEARTBEAT_S, HEARTBEAT_HEADER

if TYPE_CHECKING:
    import httpx
    from httpx_sse import ServerSentEvent

    from protocol import wire as p

# connect, read, write, pool (seconds): httpx.Timeout(connect=10.0, read=60.0, write=30.0,
# pool=10.0) unless a client is given another.
DEFAULT_TIMEOUTS = (10.0, 60.0, 30.0, 10.0)



def silence_limit(heartbeat_s: float) -> float:
    """How long the event stream may say nothing (not even a heartbeat) before it counts as
    dead: one heartbeat missed, and a second of lateness on top."""
    return 2 * heartbeat_s + 1.0


def announced_heartbeat(value: str | None) -> float | None:
    """The heartbeat interval a server announced, or None when it said nothing usable."""
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        seconds = float(value)
        if math.isfinite(seconds) and 0.05 <= seconds <= 3600:
            return seconds
    return None


class ApiError(Exception):
    """Base: ``message`` is a sentence an agent or admin can act on."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None
                 ) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


class Unreachable(ApiError):
    """No answer: connection refused or reset, timeout, a truncated or garbled body."""

    retryable = True


class StreamSilent(Unreachable):
    """The event stream sent nothing, not even a heartbeat, for longer than its limit: the
    way to the server is gone (a network that drops packets closes nothing)."""


class ServerBusy(ApiError):
    """429/503: come back later (``retry_after`` seconds when the server said so)."""

    retryable = True

    def __init__(self, message: str, *, status: int, retry_after: float | None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ServerFailed(ApiError):
    """Another 5xx: the server broke; retried with backoff."""

    retryable = True


class AuthRequired(ApiError):
    """401: the access token is missing, expired or revoked."""


class ResyncRequired(ApiError):
    """410: the cursor is too old; bootstrap again."""


class Refused(ApiError):
    """Another 4xx: retrying the same request cannot help."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    return None


def _error_for(response: httpx.Response) -> ApiError:
    status = response.status_code
    code, message = None, None
    with contextlib.suppress(Exception):
        body = orjson.loads(response.content)
        code, message = body.get("error"), body.get("message")
    message = message or f"The server answered {status}."
    if status in (429, 503):
        return ServerBusy(message, status=status, retry_after=_retry_after(response))
    if status >= 500:
        return ServerFailed(message, status=status, code=code)
    if status == 401:
        return AuthRequired(message, status=status, code=code)
    if status == 410:
        return ResyncRequired(message, status=status, code=code)
    return Refused(message, status=status, code=code)


class EventStream:
    """An open event stream: ``events()`` yields its events and raises ``StreamSilent`` when
    it goes quiet for longer than its heartbeat allows."""

    def __init__(self, response: httpx.Response, heartbeat_s: float) -> None:
        self.response = response
        self.heartbeat_s = heartbeat_s
        # Loop time of the last line (a heartbeat, an event) after the headers; None: none.
        self.last_heard: float | None = None

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        """The events (``event.id``: the last id the stream gave, as the SSE rules keep it);
        parsed here, not by httpx_sse, because the heartbeats it skips are what is timed."""
        from httpx_sse import ServerSentEvent

        limit = silence_limit(self.heartbeat_s)
        loop = asyncio.get_running_loop()
        lines = self.response.aiter_lines()
        name, data, last_id = "", [], None
        while True:
            try:
                # Every line counts, heartbeat comments too: silence is what is measured.
                async with asyncio.timeout(limit):
                    line = await anext(lines)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise StreamSilent(f"The server sent nothing for {limit:g} s; the connection "
                                   "is taken as lost.") from None
            self.last_heard = loop.time()
            if not line:  # a blank line ends an event
                if data:
                    yield ServerSentEvent(name or "message", "\n".join(data), last_id)
                name, data = "", []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            elif field == "id" and "\0" not in value:
                last_id = value


@dataclass
class Tokens:
    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_at: int


class ApiClient:
    """Calls to one Relaydesk server. ``transport`` lets tests put a real fault-injecting
    transport in front of the real connection."""

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: httpx.Timeout | None = None) -> None:
        import httpx

        if timeout is None:
            connect, read, write, pool = DEFAULT_TIMEOUTS
            timeout = httpx.Timeout(connect=connect, read=read, write=write, pool=pool)
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.base_url, transport=transport,
                                      timeout=timeout, headers={"User-Agent": "relaydesk-sync"})
        self.access_token: str | None = None
        self._announced_heartbeat_s: float | None = None  # by the server's last event stream

    async def aclose(self) -> None:
        await self.http.aclose()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}

    async def _request(self, method: str, path: str, *, auth: bool = True,
                       **kw: Any) -> httpx.Response:
        import httpx

        headers = {**(self._auth() if auth else {}), **kw.pop("headers", {})}
        try:
            response = await self.http.request(method, f"{API_PREFIX}{path}", headers=headers,
                                               **kw)
        except httpx.TransportError as exc:  # connect, read, write, pool, protocol errors
            raise Unreachable(_describe_transport(exc, self.base_url)) from exc
        if response.status_code >= 400:
            raise _error_for(response)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:  # a truncated body
            raise Unreachable("The server's answer was cut off.") from exc

    # ------------------------------------------------------------------ auth

    async def login(self, email: str, password: str) -> p.LoginResponse:
        r = await self._request("POST", "/auth/login", auth=False,
                                json={"email": email, "password": password})
        from protocol import wire as p

        body = p.LoginResponse.model_validate(self._json(r))
        self.access_token = body.access_token
        return body

    async def refresh(self, refresh_token: str) -> p.TokenPair:
        r = await self._request("POST", "/auth/refresh", auth=False,
                                json={"refresh_token": refresh_token})
        from protocol import wire as p

        body = p.TokenPair.model_validate(self._json(r))
        self.access_token = body.access_token
        return body

    async def logout(self) -> None:
        await self._request("POST", "/auth/logout")
        self.access_token = None

    # ------------------------------------------------------------------ sync

    async def bootstrap_page_raw(self, page_token: str | None, limit: int | None = None,
                                 *, columns: bool = False) -> bytes:
        """One bootstrap page as bytes; parsing is left to the caller's worker thread.
        ``columns``: rows as value lists under their column names (``format=columns``)."""
        params: dict[str, Any] = {"format": "columns"} if columns else {}
        if page_token:
            params["page_token"] = page_token
        if limit:
            params["limit"] = limit
        r = await self._request("GET", "/sync/bootstrap", params=params)
        return r.content

    async def pull_raw(self, cursor: int, limit: int, client_id: str | None) -> bytes:
        params: dict[str, Any] = {"cursor": cursor, "limit": limit}
        if client_id:
            params["client_id"] = client_id
        r = await self._request("GET", "/sync/pull", params=params)
        return r.content

    async def push(self, client_id: str, mutations: list[dict[str, Any]]) -> p.PushResponse:
        r = await self._request("POST", "/sync/push",
                                content=orjson.dumps({"client_id": client_id,
                                                      "mutations": mutations}),
                                headers={"Content-Type": "application/json"})
        from protocol import wire as p

        return p.PushResponse.model_validate(self._json(r))

    @contextlib.asynccontextmanager
    async def events(self, last_event_id: str | None, *,
                     heartbeat_s: float = DEFAULT_HEARTBEAT_S) -> AsyncIterator[EventStream]:
        """The server-sent event stream (raises like other calls if it cannot be opened).
        ``heartbeat_s``: the interval to expect when the server does not announce one."""
        headers = {**self._auth(), "Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        import httpx

        # The answer's headers are awaited as long as silence is allowed on the stream.
        expected = self._announced_heartbeat_s or heartbeat_s
        timeout = httpx.Timeout(10.0, read=silence_limit(expected))
        try:
            async with self.http.stream("GET", f"{API_PREFIX}/sync/events", headers=headers,
                                        timeout=timeout) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error_for(response)
                announced = announced_heartbeat(response.headers.get(HEARTBEAT_HEADER))
                self._announced_heartbeat_s = announced
                yield EventStream(response, announced or heartbeat_s)
        except httpx.TransportError as exc:
            raise Unreachable(_describe_transport(exc, self.base_url)) from exc


def _describe_transport(exc: httpx.TransportError, base_url: str) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
            return f"The server {base_url} presented a certificate this computer does not trust."
        return f"Cannot reach the server {base_url}."
    if isinstance(exc, httpx.TimeoutException):
        return f"The server {base_url} did not answer in time."
    return f"The connection to {base_url} was interrupted."
