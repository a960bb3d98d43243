"""Request body limits enforced before a body is buffered.

A declared ``Content-Length`` over the route's limit is answered 413 before the application
runs; a chunked or streamed body is counted as it is read and refused as soon as it passes the
limit. Either way the connection is closed instead of being drained, so a 300 MB body costs
the server no more memory than the limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from server.limits import BodyLimits, too_large_message

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit; answered 413.

    An HTTPException, because FastAPI re-raises those from its body parsing (any other
    exception there becomes a 400)."""

    def __init__(self, limit: int, option: str) -> None:
        super().__init__(413, too_large_message(limit, option), headers={"Connection": "close"})
        self.limit, self.option = limit, option


class BodyLimitMiddleware:
    """Pure ASGI (no buffering of its own): the route's limit on every request body."""

    def __init__(self, app: App, limits: BodyLimits,
                 too_large: Callable[[int, str], bytes]) -> None:
        self.app = app
        self.limits = limits
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, option = self.limits.for_path(scope["path"])
        length: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value)  # the HTTP parser (h11) has checked it is digits
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None and length > limit:
            await self._refuse(send, limit, option)
            return
        received = 0
        body_done = not chunked and not length

        async def limited_receive() -> Message:
            nonlocal received, body_done
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, option)
                if not message.get("more_body", False):
                    body_done = True
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not body_done:
                # Answered before the body was read (401, 404, 413): close rather than have
                # the server read and discard the rest of it.
                headers = list(message.get("headers", []))
                if (b"connection", b"close") not in headers:
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, limited_receive, closing_send)

    async def _refuse(self, send: Send, limit: int, option: str) -> None:
        body = self.too_large(limit, option)
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})
