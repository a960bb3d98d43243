"""The sync engine: one worker runs push-then-pull cycles on the asyncio loop.

Triggers — a new intent, a server poke, a reconnect, a timer — set one wake-up flag; a trigger
that arrives during a cycle makes another cycle follow it. Errors never end the worker: they
become a state with a sentence and a retry after exponential backoff with full jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from sync import mirror, outbox
from sync.client import (
    ApiClient,
    ApiError,
    AuthRequired,
    Refused,
    ResyncRequired,
    ServerBusy,
    ServerFailed,
    StreamSilent,
    Tokens,
    Unreachable,
    silence_limit,
)
from sync.credentials import KEYRING, CredentialStore
from sync.mirror import BootstrapProgress, PageError
from sync.outbox import IntentRecord
from sync.schema import SIGNED_OUT
from sync.status import (  # noqa: F401  (re-exported: the engine's status and options)
    PROBLEMS,
    EngineOptions,
    EngineState,
    EngineStatus,
    now_ms,
)
from sync.store import Store

log = logging.getLogger("relaydesk.sync.engine")
T = TypeVar("T")


RESYNC_GAVE_UP = "The server keeps asking for a full resync; will retry later."


class SignInRequired(Exception):
    pass


def _problem(exc: Exception) -> str:
    """The PROBLEMS kind of a failed cycle's error."""
    if isinstance(exc, PageError):
        return "bad_answer"
    if isinstance(exc, ServerBusy):
        return "server_busy"
    if isinstance(exc, ServerFailed):
        return "server_failed"
    if isinstance(exc, ApiError) and exc.message == RESYNC_GAVE_UP:
        return "resync_loop"
    return "refused"


def _never_sent(exc: Exception) -> bool:
    """Whether a failed push provably never reached the server: no sign-in to send it with,
    or no connection made (refused, no route, TLS refused). A timeout or a lost answer may
    have been applied."""
    import httpx

    if isinstance(exc, SignInRequired):
        return True
    return isinstance(exc, Unreachable) and isinstance(
        exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base·2ⁿ))."""

    def __init__(self, base: float = 1.0, cap: float = 60.0,
                 rng: Callable[[float, float], float] = random.uniform) -> None:
        self.base, self.cap, self._rng = base, cap, rng
        self.attempt = 0

    def next_delay(self, cap: float | None = None) -> float:
        """The next wait; ``cap`` (when given) bounds it instead of ``self.cap``."""
        ceiling = min(self.cap if cap is None else cap, self.base * (2 ** self.attempt))
        self.attempt += 1
        return self._rng(0.0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class SyncEngine:
    UNDO_WAIT_S = 5.0  # how long an undo waits for a push in progress to say if it left

    def __init__(self, store: Store, api: ApiClient, credentials: CredentialStore | None,
                 options: EngineOptions | None = None) -> None:
        self.store = store
        self.api = api
        self.credentials = credentials
        self.options = options or EngineOptions()
        self.backoff = Backoff(self.options.backoff_base_s, self.options.backoff_cap_s)
        self._status = EngineStatus(EngineState.CONNECTING, "Connecting…",
                                    credentials_secure=bool(credentials and credentials.secure))
        self._listeners: list[Callable[[EngineStatus], None]] = []
        self._wake = asyncio.Event()
        self._signed_in = asyncio.Event()
        self._timer: asyncio.Handle | None = None
        self._timer_when = 0.0
        self._tasks: list[asyncio.Task[Any]] = []
        self._tokens: Tokens | None = None
        self._stopping = False
        self._last_event_id: str | None = None
        self._resyncs = 0
        self._not_before = 0.0  # loop time before which no cycle starts (Retry-After)
        self._resync_hold_until = 0.0  # loop time before which no resync is attempted
        self.cycles = 0
        self._cycle_lock = asyncio.Lock()
        self._agent_active = False  # set_agent_active: someone is at the desk
        # Set when the event stream should try again at once (the server answered a cycle,
        # the agent came back): its wait between attempts is cut short.
        self._reconnect_now = asyncio.Event()
        self._last_answer = 0.0  # loop time of the server's last answer to a sync request
        self._cycle: asyncio.Future[bool] | None = None  # the worker's cycle in flight
        self._cycle_started = 0.0  # (loop time)
        self._pushing: asyncio.Future[None] | None = None  # done when a push has settled

    # ------------------------------------------------------------------ observation

    @property
    def status(self) -> EngineStatus:
        return self._status

    def subscribe(self, listener: Callable[[EngineStatus], None]) -> None:
        self._listeners.append(listener)
        listener(self._status)

    def _set(self, **changes: Any) -> None:
        if "state" in changes and "problem" not in changes:
            changes["problem"] = None  # a problem belongs to the error it came with
        self._status = replace(self._status, **changes)
        for listener in list(self._listeners):
            try:
                listener(self._status)
            except Exception:  # a broken observer must not stop syncing
                log.exception("status listener failed")

    async def _refresh_counts(self) -> None:
        pending, rejected = await self.store.run_read(self._read_counts)
        self._set(pending=pending, rejected=rejected,
                  data_version=self._status.data_version + 1)

    def _read_counts(self) -> tuple[int, int]:
        with self.store.read_outbox() as conn:
            return outbox.agent_counts(conn)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load credentials (off the GUI thread) and start the worker and event listener."""
        await self.prepare()
        self._tasks.append(asyncio.create_task(self._worker(), name="relaydesk-sync-worker"))
        if self.options.use_events:
            self._tasks.append(asyncio.create_task(self._events(), name="relaydesk-sync-events"))
        self.trigger("start")

    async def prepare(self) -> None:
        """Load credentials and state without starting background work (one-shot use:
        ``prepare()`` then ``sync_once()``, as the command line does)."""
        if self.credentials is not None:
            self._tokens = await self._in_keyring(self.credentials.load)
        if self._tokens is not None:
            self.api.access_token = self._tokens.access_token
            self._signed_in.set()
        else:
            self._set(state=EngineState.SIGN_IN_REQUIRED, message="Sign in to sync.")
        self._last_event_id = await self.store.run_read(self.store.read_state, mirror.LAST_EVENT_ID)
        await self._refresh_counts()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._signed_in.set()
        if self._timer is not None:
            self._timer.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def trigger(self, reason: str = "") -> None:
        """Ask for a cycle; one arriving during a cycle makes another follow."""
        log.debug("sync trigger: %s", reason)
        self._wake.set()

    def set_agent_active(self, active: bool) -> None:
        """Someone is at the desk (its window active), or no longer: while they are, a lost
        server is looked for again sooner (``retry_cap``); coming back retries soon."""
        was, self._agent_active = self._agent_active, active
        if active and not was and self._status.state in (EngineState.OFFLINE,
                                                         EngineState.ERROR):
            self._reconnect_now.set()
            self._schedule(self.backoff.next_delay(self.retry_cap()))

    def retry_cap(self) -> float:
        """The longest wait before looking for a lost server again: short while the agent
        waits for it (work in the outbox, or at the desk), else the long cap."""
        if self._status.pending or self._agent_active:
            return min(self.options.attended_backoff_cap_s, self.options.backoff_cap_s)
        return self.options.backoff_cap_s

    def _schedule(self, delay: float) -> None:
        if self._stopping:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        when = now + delay
        timer = self._timer
        # Keep a pending earlier wake-up. A timer that has fired is forgotten when it fires
        # (_timer_fired), not judged by its deadline: Qt's coarse timers, which qasync's
        # call_later uses, may fire up to 5% before it. The deadline is kept here: not every
        # loop's call_later returns a TimerHandle (qasync's has no when()).
        if timer is not None and not timer.cancelled() and self._timer_when <= when:
            return
        if timer is not None:
            timer.cancel()
        self._timer = loop.call_later(delay, self._timer_fired)
        self._timer_when = when

    def _timer_fired(self) -> None:
        self._timer = None
        self.trigger("timer")

    async def _in_keyring(self, fn: Callable[..., T], *args: Any) -> T:
        return await KEYRING.run(fn, *args)

    async def agent_id(self) -> str | None:
        """The signed-in agent this mirror belongs to (None before the first sign-in)."""
        return await self.store.run_read(self.store.read_state, mirror.AGENT_ID)

    async def server_totals(self) -> dict[str, int]:
        """Rows per entity the server would send this agent now (the first bootstrap page's
        totals): what ``verify`` compares the mirror with."""
        raw = await self._call(lambda: self.api.bootstrap_page_raw(None, 1))
        return dict(mirror.parse_page(raw)["totals"])

    # ------------------------------------------------------------------ sign-in

    async def login(self, email: str, password: str) -> None:
        """Sign in; the tokens go to the keyring (or memory), never to the mirror."""
        body = await self.api.login(email, password)
        owner = await self.store.run_read(self.store.read_state, mirror.AGENT_ID)
        if owner and owner != body.agent.id:
            self.api.access_token = self._tokens.access_token if self._tokens else None
            raise Refused(
                "This data directory belongs to another agent; use a separate one for "
                f"{email}.")
        tokens = Tokens(body.access_token, body.access_expires_at, body.refresh_token,
                        body.refresh_expires_at)
        await self._store_tokens(tokens)
        await self.store.run_write(self._remember_agent, body.agent.id, body.agent.email)
        self._signed_in.set()
        self.backoff.reset()
        self._set(state=EngineState.CONNECTING, message="Signed in; syncing…")
        self.trigger("login")

    def _remember_agent(self, agent_id: str, email: str) -> None:
        with self.store.write_mirror() as conn:
            self.store.set_state(conn, mirror.AGENT_ID, agent_id)
            self.store.set_state(conn, mirror.AGENT_EMAIL, email)
            self.store.set_state(conn, mirror.SERVER_URL, self.api.base_url)
            self.store.set_state(conn, SIGNED_OUT, None)

    async def logout(self) -> None:
        # Forget locally first, so a request racing the server-side logout (the event stream
        # answering 401) does not try to refresh what is being ended.
        self._tokens = None
        self._signed_in.clear()
        with contextlib.suppress(ApiError):
            if self.api.access_token:
                await self.api.logout()
        self.api.access_token = None
        if self.credentials is not None:
            await self._in_keyring(self.credentials.clear)
        # Remembered across restarts: a desk someone signed out of shows no customer data.
        await self.store.run_write(self._write_state, SIGNED_OUT, "1")
        self._set(state=EngineState.SIGN_IN_REQUIRED, message="Signed out.")

    async def _store_tokens(self, tokens: Tokens) -> None:
        self._tokens = tokens
        self.api.access_token = tokens.access_token
        if self.credentials is not None:
            await self._in_keyring(self.credentials.save, tokens)
            self._set(credentials_secure=self.credentials.secure)

    async def _refresh_tokens(self) -> None:
        """401 → refresh once; if that fails too, the agent must sign in (outbox kept)."""
        tokens = self._tokens
        if tokens is None:
            raise SignInRequired
        try:
            pair = await self.api.refresh(tokens.refresh_token)
        except (AuthRequired, Refused) as exc:
            if self._tokens is not tokens:  # signed out or in again meanwhile: not ours to end
                raise SignInRequired from exc
            self._tokens = None
            self.api.access_token = None
            self._signed_in.clear()
            if self.credentials is not None:
                await self._in_keyring(self.credentials.clear)
            raise SignInRequired from exc
        await self._store_tokens(Tokens(pair.access_token, pair.access_expires_at,
                                        pair.refresh_token, pair.refresh_expires_at))

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self._tokens is None:
            raise SignInRequired
        if self._tokens.access_expires_at - 30_000 < now_ms():
            await self._refresh_tokens()
        try:
            answer = await fn()
        except AuthRequired:
            await self._refresh_tokens()
            answer = await fn()
        self._last_answer = asyncio.get_running_loop().time()
        return answer

    # ------------------------------------------------------------------ intents

    async def enqueue(self, name: str, args: dict[str, Any], *,
                      not_before: int | None = None) -> IntentRecord:
        """Queue an intent durably (works offline) and ask for a sync. With ``not_before``
        (epoch ms) it is pushed no earlier than that (a reply's undo delay)."""
        record = await self.store.run_write(self._enqueue, name, args, not_before)
        await self._refresh_counts()
        self.trigger("intent")
        return record

    def _enqueue(self, name: str, args: dict[str, Any], not_before: int | None) -> IntentRecord:
        with self.store.write_outbox() as conn:
            return outbox.enqueue(conn, name, args, now_ms(), not_before)

    async def cancel_intent(self, intent_id: int) -> bool:
        """Take back an intent the agent undid, if no push has taken it (``outbox.cancel``):
        True when it never leaves the desk, False when it may have (reverse it instead). A
        push in progress may yet turn out never to have left (no connection: it gives its
        claims back): its outcome is awaited, a few seconds at most."""
        cancelled = await self.store.run_write(self._with_outbox, outbox.cancel, intent_id)
        pushing = self._pushing
        if not cancelled and pushing is not None and not pushing.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pushing), self.UNDO_WAIT_S)
            cancelled = await self.store.run_write(self._with_outbox, outbox.cancel, intent_id)
        await self._refresh_counts()
        return cancelled

    async def retry_intent(self, intent_id: int) -> IntentRecord:
        record = await self.store.run_write(self._with_outbox, outbox.retry, intent_id)
        await self._refresh_counts()
        self.trigger("retry")
        return record

    async def discard_intent(self, intent_id: int) -> None:
        await self.store.run_write(self._with_outbox, outbox.discard, intent_id)
        await self._refresh_counts()

    def _with_outbox(self, fn: Callable[..., T], *args: Any) -> T:
        with self.store.write_outbox() as conn:
            return fn(conn, *args)

    # ------------------------------------------------------------------ the worker

    async def _worker(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            wait = self._not_before - asyncio.get_running_loop().time()
            if wait > 0:  # the server asked us to come back later: pokes do not cut it short
                self._schedule(wait)
                continue
            # A task of its own, so a cycle stuck on a dead connection can be abandoned
            # (_went_silent) without ending the worker.
            cycle = self._cycle = asyncio.ensure_future(self.run_cycle_guarded())
            self._cycle_started = asyncio.get_running_loop().time()
            try:
                await asyncio.wait({cycle})
                if cycle.cancelled():
                    self._schedule(self.backoff.next_delay(self.retry_cap()))
                else:
                    cycle.result()
            except asyncio.CancelledError:
                cycle.cancel()
                with contextlib.suppress(BaseException):
                    await cycle  # unwound before the worker ends: stop() closes what it used
                raise
            except Exception:  # the worker must outlive any bug (powersync-kotlin #340)
                log.exception("sync worker: cycle bookkeeping failed")
                self._schedule(self.options.backoff_cap_s)
            finally:
                self._cycle = None

    async def run_cycle_guarded(self) -> bool:
        """One cycle; failures become a state and a scheduled retry. True when it synced."""
        try:
            await self.sync_once()
        except SignInRequired:
            if self._status.state is not EngineState.SIGN_IN_REQUIRED:
                self._set(state=EngineState.SIGN_IN_REQUIRED,
                          message="Your sign-in has ended; sign in again. "
                                  "Your unsent work is kept.")
            return False
        except (ApiError, PageError) as exc:
            retryable = isinstance(exc, PageError) or exc.retryable
            if isinstance(exc, ServerBusy) and exc.retry_after is not None:
                delay = exc.retry_after
                self._not_before = asyncio.get_running_loop().time() + delay
            else:
                delay = (self.backoff.next_delay(self.retry_cap()) if retryable
                         else self.options.backoff_cap_s)
            state = EngineState.OFFLINE if isinstance(exc, Unreachable) else EngineState.ERROR
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            self._set(state=state, message=message, retry_in_s=round(delay, 1),
                      problem=None if state is EngineState.OFFLINE else _problem(exc))
            self._schedule(delay)
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never end the loop (powersync-kotlin #340)
            log.exception("sync cycle failed")
            delay = self.backoff.next_delay(self.retry_cap())
            self._set(state=EngineState.ERROR,
                      message=f"Syncing failed unexpectedly ({exc.__class__.__name__}); "
                              "retrying.", retry_in_s=round(delay, 1), problem="unexpected")
            self._schedule(delay)
            return False
        self.backoff.reset()
        self._reconnect_now.set()  # the server answers: a lost event stream may come back now
        self._schedule(self.options.safety_poll_s if self._status.live
                       else self.options.poll_interval_s)
        return True

    async def sync_once(self) -> None:
        """Push everything pending, bootstrap if needed, pull to the end. Raises on failure.

        One cycle at a time: a direct call (the CLI) waits for the worker's cycle to end."""
        async with self._cycle_lock:
            await self._sync_once()

    async def _sync_once(self) -> None:
        self.cycles += 1
        if self._tokens is None:
            raise SignInRequired
        # Only the first cycle says "syncing": later ones keep the last known state (up to
        # date, offline…) until they finish, so the status bar does not flicker on retries.
        if self._status.state in (EngineState.CONNECTING, EngineState.SIGN_IN_REQUIRED):
            self._set(state=EngineState.SYNCING, message="Syncing…", retry_in_s=None)
        await self._push_all()
        loop = asyncio.get_running_loop()
        if loop.time() + 0.05 < self._resync_hold_until:
            # electric #1552: after giving up on resyncs, pokes do not start new rebuilds.
            raise Refused(RESYNC_GAVE_UP)
        while True:
            done, token, progress = await self.store.run_read(mirror.bootstrap_state, self.store)
            if not done:
                await self._bootstrap(token, progress)
            try:
                await self._pull_all()
                break
            except ResyncRequired:
                self._resyncs += 1
                if self._resyncs > self.options.max_consecutive_resyncs:
                    # electric #1552: never loop on resync; back off instead.
                    self._resyncs = 0
                    self._resync_hold_until = loop.time() + self.options.backoff_cap_s
                    raise Refused(RESYNC_GAVE_UP) from None
                log.info("cursor too old: rebuilding the mirror (outbox kept)")
                await self.store.run_write(mirror.clear_mirror, self.store)
                await self._push_all()
        self._resyncs = 0
        stamp = now_ms()
        await self.store.run_write(self._write_state, mirror.LAST_SYNC_AT, str(stamp))
        await self._refresh_counts()
        self._set(state=EngineState.UP_TO_DATE, message="Up to date.", last_sync_at=stamp,
                  progress=None, retry_in_s=None)

    def _write_state(self, key: str, value: str | None) -> None:
        with self.store.write_mirror() as conn:
            self.store.set_state(conn, key, value)

    async def _bootstrap(self, token: str | None, progress: BootstrapProgress) -> None:
        self._set(state=EngineState.BOOTSTRAPPING, message="Downloading the workspace…",
                  progress=progress)
        # Two stages: a task fetches and parses pages (the next one as soon as a page's token
        # is known) while this one writes them, so neither the server nor the writer waits
        # for the other. A small queue bounds what is held in memory.
        pages: asyncio.Queue[mirror.BootstrapPage] = asyncio.Queue(
            maxsize=self.options.bootstrap_prefetch)
        fetcher = asyncio.ensure_future(self._fetch_pages(token, pages))
        try:
            while True:
                if fetcher.done() and pages.empty():
                    await fetcher  # its error; it cannot have ended before the last page
                    raise PageError("the bootstrap ended before its last page")
                get = asyncio.ensure_future(pages.get())
                await asyncio.wait((get, fetcher), return_when=asyncio.FIRST_COMPLETED)
                if not get.done():  # the fetcher ended: see above on the next turn
                    get.cancel()
                    continue
                progress, next_token = await self.store.run_write(mirror.apply_bootstrap_page,
                                                                  self.store, get.result())
                self._set(progress=progress, data_version=self._status.data_version + 1)
                if not next_token:
                    return
        finally:
            if not fetcher.done():
                fetcher.cancel()
                with contextlib.suppress(BaseException):
                    await fetcher

    async def _fetch_pages(self, token: str | None,
                           pages: asyncio.Queue[mirror.BootstrapPage]) -> None:
        """Fetch and parse bootstrap pages in order into ``pages`` until the last one."""
        limit = self.options.bootstrap_limit
        while True:
            raw = await self._call(
                lambda t=token: self.api.bootstrap_page_raw(t, limit, columns=True))
            page = await self.store.run_read(mirror.parse_bootstrap_page, raw)
            await pages.put(page)
            token = page.next_token
            if not token:
                return

    async def _push_all(self) -> None:
        """Push every pending intent, in mutation id order, one batch in flight at a time.

        While batch N is on the wire, batch N+1 is claimed; once N is answered, N+1 goes out
        at once and N's answers are written meanwhile. Nothing depends on that order: a crash
        before N's answers are written leaves N pending, and the server answers its second
        push as duplicates. Every batch is claimed (``outbox.claim``, on the writer) before
        it is sent, so an undo's ``outbox.cancel`` either takes an intent first or finds it
        claimed; intents held back (``not_before``) stop the queue until they are due."""
        pushing = self._pushing = asyncio.get_running_loop().create_future()
        try:
            await self._push_batches()
        finally:
            pushing.set_result(None)

    async def _push_batches(self) -> None:
        client_id, batch, held = await self.store.run_write(self._next_batch)
        unsent: int | None = None  # a push that never left: its claims are counted back
        writing: asyncio.Future[None] | None = None  # the previous batch's answers
        # The next batch, claimed (outbox.claim) while this one is on the wire.
        upcoming: asyncio.Future[tuple[list[IntentRecord], int | None]] | None = None
        try:
            while batch:
                mutations = [{"id": i.mutation_id, "name": i.name, "args": i.args}
                             for i in batch]
                upcoming = asyncio.ensure_future(
                    self.store.run_write(self._claim_after, batch[-1].mutation_id))
                try:
                    response = await self._call(
                        lambda c=client_id, m=mutations: self.api.push(c, m))
                except (SignInRequired, Unreachable) as exc:
                    if _never_sent(exc):
                        unsent = batch[0].mutation_id
                    raise
                if writing is not None:
                    done, writing = writing, None
                    await done
                following, held = await upcoming
                upcoming = None
                answered = {r.id for r in response.results}
                if not response.stopped_at_gap and all(i.mutation_id in answered
                                                       for i in batch):
                    writing = asyncio.ensure_future(self._record_batch(response))
                    batch = following
                    continue
                # Something unusual: settle this batch before deciding what to push next.
                await self.store.run_write(self._record, response)
                await self._refresh_counts()
                if response.stopped_at_gap:
                    log.warning("server forgot this client's intents (gap after %d); "
                                "renumbering", response.last_mutation_id)
                    await self.store.run_write(self._with_outbox, outbox.start_new_client)
                elif not response.results:
                    return
                client_id, batch, held = await self.store.run_write(self._next_batch)
            if writing is not None:
                done, writing = writing, None
                await done
            if held is not None:  # a held-back reply: push it (and what follows) when due
                self._schedule(max(0.0, (held - now_ms()) / 1000) + 0.01)
        finally:
            # Only left over when something failed: the write still completes (it keeps the
            # answers the server gave), and its own failure must not hide the first one.
            for leftover in (upcoming, writing):
                if leftover is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(leftover)
            if unsent is not None:  # (after the claim of the next batch, also unsent)
                with contextlib.suppress(Exception):
                    await self.store.run_write(self._with_outbox, outbox.release, unsent)

    async def _record_batch(self, response: Any) -> None:
        await self.store.run_write(self._record, response)
        await self._refresh_counts()

    def _next_batch(self) -> tuple[str, list[IntentRecord], int | None]:
        with self.store.write_outbox() as conn:
            batch, held = outbox.claim(conn, now_ms(), self.options.push_batch)
            return outbox.client_id(conn), batch, held

    def _claim_after(self, after: int) -> tuple[list[IntentRecord], int | None]:
        with self.store.write_outbox() as conn:
            return outbox.claim(conn, now_ms(), self.options.push_batch, after)

    def _record(self, response: Any) -> None:
        with self.store.write_outbox() as conn:
            outbox.record_results(conn, response, now_ms())

    async def _pull_all(self) -> None:
        client_id = await self.store.run_write(self._with_outbox, outbox.client_id)
        cursor = await self.store.run_read(mirror.get_cursor, self.store)
        while True:
            raw = await self._call(lambda c=cursor: self.api.pull_raw(
                c, self.options.pull_limit, client_id))
            result = await self.store.run_write(mirror.apply_pull_page, self.store, raw, cursor)
            if result.applied:
                self._set(data_version=self._status.data_version + 1)
            cursor = result.cursor
            if not result.has_more:
                return

    # ------------------------------------------------------------------ server-sent events

    async def _events(self) -> None:
        backoff = Backoff(self.options.backoff_base_s, self.options.backoff_cap_s)
        while not self._stopping:
            await self._signed_in.wait()
            if self._stopping:
                return
            stream = None
            try:
                async with self.api.events(self._last_event_id,
                                           heartbeat_s=self.options.heartbeat_s) as stream:
                    backoff.reset()
                    self._abandon_stuck_cycle(silence_limit(stream.heartbeat_s))
                    self._set(live=True)
                    self.backoff.reset()  # connectivity is back: retry now, not later
                    self.trigger("reconnect")
                    async for event in stream.events():
                        if event.event == "poke":
                            self._last_event_id = event.id or self._last_event_id
                            self.trigger("poke")
            except asyncio.CancelledError:
                raise
            except AuthRequired:
                with contextlib.suppress(SignInRequired, ApiError):
                    await self._refresh_tokens()
            except StreamSilent as exc:
                if stream is not None and stream.last_heard is not None:
                    self._went_silent(exc, stream.last_heard + stream.heartbeat_s)
            except (ApiError, PageError) as exc:
                log.debug("event stream unavailable: %s", exc)
            except Exception:
                log.exception("event stream failed")
            finally:
                if self._status.live:
                    self._set(live=False)
                    # The stream was up and is gone (the server stopped, the network went):
                    # a cycle now says whether the server is still there.
                    self.trigger("stream lost")
            if self._last_event_id:
                with contextlib.suppress(Exception):
                    await self.store.run_write(self._write_state, mirror.LAST_EVENT_ID,
                                               self._last_event_id)
            self._reconnect_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reconnect_now.wait(),
                                       backoff.next_delay(self.retry_cap()))

    def _went_silent(self, exc: StreamSilent, due: float) -> None:
        """The stream had been talking and went quiet (its next heartbeat was ``due``, loop
        time). Unless the server answered a request after that, the way to it is gone, and
        a request would only wait for its own read time-out to say so: offline now, and a
        cycle waiting on that way is abandoned (safe to do again: intents apply once)."""
        if self._last_answer > due:
            log.info("event stream silent, but the server answers: reconnecting it")
            return
        log.info("event stream silent: %s", exc.message)
        if self._status.state in (EngineState.UP_TO_DATE, EngineState.SYNCING,
                                  EngineState.CONNECTING, EngineState.BOOTSTRAPPING):
            self._set(state=EngineState.OFFLINE, message=exc.message, retry_in_s=None)
        if self._cycle is not None and not self._cycle.done():
            log.info("abandoning a sync cycle waiting on the lost connection")
            self._cycle.cancel()

    def _abandon_stuck_cycle(self, limit: float) -> None:
        """Cancel the worker's cycle if the server has answered none of its requests for
        ``limit`` seconds: it waits on a connection that is gone (the stream just died, or
        came back on a new one), and would until its read time-out. The worker retries."""
        cycle = self._cycle
        if cycle is None or cycle.done():
            return
        now = asyncio.get_running_loop().time()
        if now - max(self._last_answer, self._cycle_started) >= limit:
            log.info("abandoning a sync cycle waiting on a lost connection")
            cycle.cancel()

