"""The HTTP API (FastAPI). Handlers are thin: storage work lives in the domain modules."""


import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from protocol import wire as p
from protocol.names import HEARTBEAT_HEADER
from server import (
    articles,
    auth,
    bootstrap,
    feed,
    inbound,
    maintenance,
    mutations,
    proxies,
    serialize,
    throttle,
)
from server import models as m
from server.body_limit import BodyLimitMiddleware
from server.config import ServerSettings
from server.db import Database
from server.events import Broker, PostgresListener
from server.limits import too_large_message

log = logging.getLogger("relaydesk.server")
auth_log = logging.getLogger("relaydesk.server.auth")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# A feed position as the event stream sent it: digits, at most a BIGINT (2**63 - 1).
_EVENT_ID = re.compile(r"[0-9]{1,19}")
_MAX_SEQ = 2**63 - 1


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})
        self.retry_after = retry_after
        if retry_after is not None:
            # Rounded up: a client that waits exactly this long is not refused again.
            self.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))


def _error_response(err: ApiError) -> JSONResponse:
    body = p.ErrorBody(error=err.code, message=err.message, retry_after=err.retry_after)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=err.status,
                        headers=err.headers)


def _too_large_body(limit: int, option: str) -> bytes:
    return p.ErrorBody(error="body_too_large",
                       message=too_large_message(limit, option)).model_dump_json(
                           exclude_none=True).encode()


# What each error status means, for the OpenAPI document (every answer has ErrorBody's shape).
_ERROR_DOCS: dict[int, str] = {
    400: "The body is not valid JSON (error invalid_json)",
    403: "Only supervisors may do this (not_permitted)",
    401: "No valid sign-in (auth_required, invalid_token, token_expired) or channel secret "
         "(invalid_channel_secret), or wrong credentials (invalid_credentials)",
    404: "No such channel (channel_not_found)",
    409: "The client id belongs to another agent (client_id_taken)",
    410: "The cursor can no longer be continued: bootstrap again (resync_required)",
    413: "The request body is over this endpoint's limit (body_too_large)",
    422: "A parameter or the body breaks the schema, e.g. a NUL character in a text "
         "(invalid_request)",
    429: "Too many failed sign-in attempts: wait Retry-After seconds (too_many_attempts)",
    503: "The server's database is unavailable: retry after Retry-After seconds "
         "(database_unavailable)",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                                "schema": {"type": "integer"}}}


def _errors(*statuses: int, params: bool = True,
            **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses plus those every route can give (413: any
    request may carry a body; 422: its parameters, if it has any; 503: the database)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 413, 503, *((422,) if params else ())}):
        doc: dict[str, Any] = {"model": p.ErrorBody,
                               "description": descriptions.get(f"e{status}",
                                                               _ERROR_DOCS[status])}
        if status in (429, 503):
            doc["headers"] = _RETRY_AFTER
        out[status] = doc
    return out


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a handler that reads its body itself (after authenticating)."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


# Request bodies read by the handlers themselves: their schemas are added to the document.
_RAW_BODIES: tuple[type[BaseModel], ...] = (p.PushRequest, p.InboundMessage,
                                             *articles.RAW_BODIES)


async def _read_body(request: Request, model: type[M]) -> M:
    """The request body as ``model``; read only now, within the route's body limit."""
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def _resume_position(last_event_id: str | None) -> int | None:
    """The feed position a reconnecting event stream resumes after (None: from now)."""
    if last_event_id is None or not last_event_id.strip():
        return None
    value = last_event_id.strip()
    if not _EVENT_ID.fullmatch(value) or int(value) > _MAX_SEQ:
        raise ApiError(400, "bad_last_event_id",
                       "Last-Event-ID must be a feed position this server sent (up to 19 "
                       "digits); reconnect without it.")
    return int(value)


def _sqlstate(exc: OperationalError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


@dataclass(frozen=True)
class AuthContext:
    viewer: feed.Viewer
    family: str
    resync_before: int


def create_app(
    settings: ServerSettings,
    db: Database | None = None,
    *,
    on_started: Callable[[], None] | None = None,
) -> FastAPI:
    db = db or Database(settings.database_url)
    broker = Broker()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        head = await run_in_threadpool(_read_head)
        broker.bind(asyncio.get_running_loop(), head)
        listener = None
        if db.is_postgres:
            conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
            listener = PostgresListener(conninfo, broker.publish)
            listener.start()
        tasks = [asyncio.create_task(_poll_head()), asyncio.create_task(_maintain())]
        if on_started is not None:
            on_started()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if listener is not None:
                listener.stop()
            db.dispose()

    app = FastAPI(
        title="Relaydesk reference backend",
        version=str(p.PROTOCOL_VERSION),
        lifespan=lifespan,
        description="Sync feed, intents and channels for the Relaydesk agent desk.",
    )
    app.state.db = db
    app.state.broker = broker
    app.state.settings = settings
    app.add_middleware(BodyLimitMiddleware, limits=settings.body_limits,
                       too_large=_too_large_body)
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate_openapi()
            _, defs = models_json_schema([(model, "validation") for model in _RAW_BODIES],
                                         ref_template="#/components/schemas/{model}")
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in defs.get("$defs", {}).items():
                schemas.setdefault(name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def _read_head() -> int:
        with db.read() as s:
            return feed.read_head(s)[0]

    async def _poll_head() -> None:
        while True:
            await asyncio.sleep(settings.head_poll_s)
            try:
                broker.publish(await run_in_threadpool(_read_head))
            except Exception:  # the database may be restarting; keep polling
                log.warning("could not read the feed head", exc_info=True)

    async def _maintain() -> None:
        while True:
            try:
                await run_in_threadpool(
                    maintenance.prune, db, settings.change_retention_s * 1000
                )
            except Exception:
                log.warning("maintenance failed", exc_info=True)
            await asyncio.sleep(settings.maintenance_interval_s)

    # ------------------------------------------------------------------ errors

    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, err: ApiError) -> JSONResponse:
        return _error_response(err)

    @app.exception_handler(articles.Refused)
    async def _refused_article(_req: Request, err: articles.Refused) -> JSONResponse:
        return _error_response(ApiError(err.status, err.code, err.message))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        if first.get("type") == "json_invalid":
            return _error_response(ApiError(
                400, "invalid_json", "The request body is not valid JSON; send UTF-8 JSON "
                                     "as the OpenAPI document describes."))
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        msg = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
        return _error_response(ApiError(422, "invalid_request", f"Invalid request: {msg}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(req: Request, err: StarletteHTTPException) -> JSONResponse:
        # Starlette's and FastAPI's own answers (404, 405, a body that is not JSON, 413) in
        # the one error shape.
        headers = dict(err.headers or {})
        if err.status_code == 404:
            error = ApiError(404, "not_found", "There is nothing at this address; the API is "
                                               f"under {p.API_PREFIX} (see /openapi.json).")
        elif err.status_code == 405:
            error = ApiError(405, "method_not_allowed",
                             f"This address does not take {req.method}; see /openapi.json.")
        elif err.status_code == 413:
            error = ApiError(413, "body_too_large", str(err.detail))
        elif err.status_code == 400:
            error = ApiError(400, "invalid_json", "The request body is not valid JSON; send "
                                                  "UTF-8 JSON as the OpenAPI document describes.")
        else:
            error = ApiError(err.status_code, f"http_{err.status_code}", str(err.detail))
        error.headers.update(headers)
        return _error_response(error)

    @app.exception_handler(OperationalError)
    async def _db_down(_req: Request, err: OperationalError) -> JSONResponse:
        log.error("database error: %s", err.__class__.__name__)
        return _error_response(ApiError(503, "database_unavailable",
                                        "The server's database is unavailable; try again shortly.",
                                        retry_after=1))

    def write_with_retry(fn: Callable[[Any], T]) -> T:
        """Run ``fn(session)`` in a write transaction, retrying unique-key races and
        PostgreSQL deadlock / serialization failures (the transaction had no effect)."""
        for attempt in range(4):
            try:
                with db.write() as session:
                    return fn(session)
            except IntegrityError:
                if attempt == 3:
                    raise
            except OperationalError as exc:
                if attempt == 3 or _sqlstate(exc) not in ("40P01", "40001"):
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ auth

    def current(authorization: Annotated[str | None, Header()] = None) -> AuthContext:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(401, "auth_required", "Sign in first (Authorization: Bearer <token>).",
                           headers={"WWW-Authenticate": "Bearer"})
        token = authorization[7:].strip()
        try:
            with db.read() as s:
                viewer, family, agent = auth.viewer_for_token(s, token)
        except auth.InvalidToken as exc:
            raise ApiError(401, exc.code, exc.message,
                           headers={"WWW-Authenticate": "Bearer"}) from None
        return AuthContext(viewer, family, agent.resync_before_seq)

    Authed = Annotated[AuthContext, Depends(current)]

    @app.get("/healthz", response_model=p.Health, tags=["ops"], responses=_errors(params=False))
    def healthz() -> p.Health:
        with db.read() as s:
            head, _ = feed.read_head(s)
        return p.Health(status="ok", database=db.url.get_backend_name(), head_seq=head)

    def _ttls() -> tuple[int, int]:
        return settings.access_token_ttl_s * 1000, settings.refresh_token_ttl_s * 1000

    def _client_address(request: Request) -> str:
        peer = request.client.host if request.client else None
        return proxies.client_address(peer, request.headers.items(), settings.trusted_proxies)

    def _refused(email: str, address: str, reason: str, retry_after_s: float | None = None
                 ) -> None:
        # For the admin: who, from where, why (never the password); %r keeps a hostile
        # email on one line.
        auth_log.warning("sign-in refused: email=%r address=%s reason=%s%s", email, address,
                         reason, "" if retry_after_s is None else
                         f" retry_after={math.ceil(retry_after_s)}s")

    @app.post(f"{p.API_PREFIX}/auth/login", response_model=p.LoginResponse, tags=["auth"],
              responses=_errors(400, 401, 429,
                                e401="Wrong email or password (invalid_credentials)"))
    def login(body: p.LoginRequest, request: Request) -> p.LoginResponse:
        email = auth.normalize_email(body.email)
        address = _client_address(request)
        try:
            attempt = write_with_retry(lambda s: throttle.begin_attempt(s, email, address))
        except throttle.Throttled as exc:
            _refused(email, address, f"throttled_{exc.reason}", exc.retry_after_s)
            raise ApiError(429, "too_many_attempts",
                           "Too many failed sign-in attempts; wait before trying again.",
                           retry_after=exc.retry_after_s) from None
        with db.read() as s:
            agent = s.scalar(serialize.select(m.Agent).where(m.Agent.email == email))
        if agent is None:
            auth.burn_password_check(body.password)
            reason = "unknown_account"
        elif not auth.verify_password(body.password, agent.password_hash):
            reason = "wrong_password"
        elif not agent.active:
            reason = "disabled_account"
        else:
            reason = ""
        if reason or agent is None:
            _refused(email, address, reason)
            raise ApiError(401, "invalid_credentials", "Wrong email or password.")
        agent_id = agent.id

        def signed_in(s: Any) -> tuple[auth.IssuedTokens, dict[str, Any] | None]:
            throttle.succeeded(s, attempt, email, address)
            return auth.issue_tokens(s, agent_id, *_ttls()), serialize.load_agent(s, agent_id)

        tokens, profile = write_with_retry(signed_in)
        return p.LoginResponse(
            access_token=tokens.access_token, access_expires_at=tokens.access_expires_at,
            refresh_token=tokens.refresh_token, refresh_expires_at=tokens.refresh_expires_at,
            agent=p.AgentData.model_validate(profile), server_time=feed.now_ms(),
        )

    @app.post(f"{p.API_PREFIX}/auth/refresh", response_model=p.TokenPair, tags=["auth"],
              responses=_errors(400, 401, e401="The refresh token is unknown, expired or "
                                               "ended (invalid_token, token_expired)"))
    def refresh(body: p.RefreshRequest) -> p.TokenPair:
        try:
            _agent_id, tokens = write_with_retry(
                lambda s: auth.refresh_tokens(s, body.refresh_token, *_ttls()))
        except auth.InvalidToken as exc:
            if exc.revoke:
                with db.write() as s:
                    auth.revoke_family(s, exc.revoke)
            raise ApiError(401, exc.code, exc.message) from None
        return p.TokenPair(
            access_token=tokens.access_token, access_expires_at=tokens.access_expires_at,
            refresh_token=tokens.refresh_token, refresh_expires_at=tokens.refresh_expires_at,
        )

    @app.post(f"{p.API_PREFIX}/auth/logout", status_code=204, tags=["auth"],
              responses=_errors(401))
    def logout(ctx: Authed) -> Response:
        with db.write() as s:
            auth.revoke_family(s, ctx.family)
        return Response(status_code=204)

    # ------------------------------------------------------------------ sync

    @app.get(f"{p.API_PREFIX}/sync/bootstrap",
             response_model=p.BootstrapResponse | p.BootstrapColumnsResponse,
             tags=["sync"], responses=_errors(
                 400, 401, e400="The page token is not one this server issued; start the "
                                "bootstrap again without it (bad_page_token)"))
    def sync_bootstrap(
        ctx: Authed,
        page_token: str | None = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
        format: Annotated[p.BootstrapFormat, Query(
            description="items: one object per row; columns: rows as value lists under "
                        "their column names (BootstrapColumnsResponse)",
        )] = p.BootstrapFormat.ITEMS,
    ) -> Response:
        size = min(limit or settings.bootstrap_page_default, settings.bootstrap_page_max)
        try:
            with db.read() as s:
                page = bootstrap.bootstrap_page(s, ctx.viewer, page_token, size)
        except bootstrap.BadPageToken as exc:
            raise ApiError(400, "bad_page_token", str(exc)) from None
        body = bootstrap.encode_page(page, columns=format is p.BootstrapFormat.COLUMNS)
        return Response(body, media_type="application/json")

    @app.get(f"{p.API_PREFIX}/sync/pull", response_model=p.PullResponse, tags=["sync"],
             responses=_errors(401, 410))
    def sync_pull(
        ctx: Authed,
        cursor: Annotated[int, Query(ge=0)],
        limit: Annotated[int | None, Query(ge=1)] = None,
        client_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        size = min(limit or settings.pull_limit_default, settings.pull_limit_max)
        try:
            with db.read() as s:
                page = feed.pull(s, ctx.viewer, cursor, size, ctx.resync_before)
                last_id = mutations.last_mutation_id(s, client_id, ctx.viewer.agent_id)
        except feed.ResyncRequired:
            raise ApiError(410, "resync_required",
                           "This cursor can no longer be continued; bootstrap again.") from None
        body = b'{"changes":%s,"cursor":%d,"has_more":%s,"last_mutation_id":%d}' % (
            feed.encode_changes(page.rows), page.cursor,
            b"true" if page.has_more else b"false", last_id,
        )
        return Response(body, media_type="application/json")

    # The body is read after the bearer token is checked (a parameter would be parsed first).
    @app.post(f"{p.API_PREFIX}/sync/push", response_model=p.PushResponse, tags=["sync"],
              responses=_errors(400, 401, 409), openapi_extra=_json_body(p.PushRequest))
    async def sync_push(ctx: Authed, request: Request) -> p.PushResponse:
        body = await _read_body(request, p.PushRequest)
        try:
            response, head = await run_in_threadpool(
                write_with_retry,
                lambda s: mutations.push(s, ctx.viewer, body, is_postgres=db.is_postgres),
            )
        except mutations.ClientConflict:
            raise ApiError(409, "client_id_taken",
                           "This client id belongs to another agent; use a new one.") from None
        broker.publish(head)
        return response

    @app.get(f"{p.API_PREFIX}/sync/events", tags=["sync"],
             responses={200: {"content": {"text/event-stream": {}}, "headers": {
                 HEARTBEAT_HEADER: {"description": "Seconds between heartbeats (a `:` "
                                                   "comment line) while nothing changes",
                                    "schema": {"type": "number"}}}}, **_errors(
                 400, 401, e400="Last-Event-ID is not a feed position this server sent "
                                "(bad_last_event_id)")})
    async def sync_events(
        ctx: Authed,
        authorization: Annotated[str | None, Header()] = None,
        last_event_id: Annotated[str | None, Header(
            description="The id of the last event received: a feed position, up to 19 "
                        "digits (anything else gets 400 bad_last_event_id)")] = None,
    ) -> StreamingResponse:
        resume = _resume_position(last_event_id)
        token = (authorization or "")[7:].strip()  # checked by ``current`` already
        return StreamingResponse(_event_stream(token, resume),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no",
                                          HEARTBEAT_HEADER: f"{settings.heartbeat_s:g}"})

    async def _event_stream(token: str, resume: int | None) -> AsyncIterator[bytes]:
        """Pokes for changes the agent may see *now* (the sign-in is looked up again each
        time, so team moves apply at once and a stream ends with its sign-in)."""

        def visible(after: int, upto: int, resuming: bool) -> int | None:
            with db.read() as s:
                viewer = auth.viewer_for_token(s, token)[0]
                seq = feed.latest_visible_seq(s, viewer, after, upto)
                if seq is None and resuming and after < feed.read_head(s)[1]:
                    return upto  # what happened meanwhile was pruned: pull, and resync
                return seq

        def still_signed_in() -> bool:
            try:
                with db.read() as s:
                    auth.viewer_for_token(s, token)
            except auth.InvalidToken:
                return False
            return True

        resuming = resume is not None and resume < broker.head
        checked = resume if resume is not None and resuming else broker.head
        yield b"retry: 2000\n\n"
        last_sent = time.monotonic()
        while True:
            head = broker.head
            if head > checked:
                try:
                    seq = await run_in_threadpool(visible, checked, head, resuming)
                except auth.InvalidToken:
                    return  # the desk reconnects, gets 401 and signs in again
                checked, resuming = head, False
                if seq is not None:
                    yield b"id: %d\nevent: poke\ndata:\n\n" % seq
                    last_sent = time.monotonic()
                    continue
            wait = settings.heartbeat_s - (time.monotonic() - last_sent)
            if wait <= 0:
                if not await run_in_threadpool(still_signed_in):
                    return
                yield b": heartbeat\n\n"
                last_sent = time.monotonic()
                continue
            await broker.wait_beyond(checked, wait)

    # ------------------------------------------------------------------ channels

    def _channel(session: Any, channel_id: str, secret: str | None) -> m.Channel:
        try:
            return inbound.authenticate_channel(session, channel_id, secret)
        except inbound.ChannelAuthError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None

    # The body is read after the channel secret is checked (a parameter would be parsed first).
    @app.post(f"{p.API_PREFIX}/channels/{{channel_id}}/inbound", response_model=p.InboundResult,
              tags=["channels"], responses=_errors(400, 401, 404),
              openapi_extra=_json_body(p.InboundMessage))
    async def channel_inbound(
        channel_id: str,
        request: Request,
        x_relaydesk_channel_secret: Annotated[str | None, Header()] = None,
    ) -> p.InboundResult:
        def check() -> None:
            with db.read() as s:
                _channel(s, channel_id, x_relaydesk_channel_secret)

        await run_in_threadpool(check)
        body = await _read_body(request, p.InboundMessage)

        def work(s: Any) -> inbound.InboundOutcome:
            channel = _channel(s, channel_id, x_relaydesk_channel_secret)
            return inbound.receive(s, channel, body, is_postgres=db.is_postgres)

        outcome = await run_in_threadpool(write_with_retry, work)
        broker.publish(outcome.head)
        return outcome.result

    @app.get(f"{p.API_PREFIX}/channels/{{channel_id}}/outbound", response_model=p.OutboundList,
             tags=["channels"], responses=_errors(401, 404))
    def channel_outbound(
        channel_id: str,
        after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
        x_relaydesk_channel_secret: Annotated[str | None, Header()] = None,
    ) -> p.OutboundList:
        with db.read() as s:
            _channel(s, channel_id, x_relaydesk_channel_secret)
            return inbound.outbound_log(s, channel_id, after, limit)

    # ------------------------------------------------------------------ articles

    def _read(fn: Callable[[Any], T]) -> T:
        with db.read() as s:
            return fn(s)

    app.include_router(articles.router(articles.Wiring(
        current=current, read=_read, write=write_with_retry, published=broker.publish,
        read_body=_read_body, errors=_errors, json_body=_json_body,
        is_postgres=db.is_postgres)))

    return app
