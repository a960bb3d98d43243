"""Work off the event loop, one idiom: async code awaits a blocking call on a worker thread.

Three kinds of worker thread, and nothing else makes threads for blocking calls:

- the store's **writer**: one thread per ``Store``, every mirror and outbox write
  (``Store.run_write``);
- the store's **readers**: a small pool per ``Store``, reads on their own WAL connections
  (``Store.run_read``);
- the **general pool**: one per process, blocking work that is not the store's reads or
  writes — the keyring, config files, file checks, opening and closing the store, the demo
  backend (``await workers.run(fn, *args)``).

Work that must neither overlap nor change order (keyring calls, the drafts file) queues on a
``Serial`` lane over the general pool rather than on a thread of its own. This module is the
only one that makes executors; ``tests/test_architecture.py`` holds the others to that.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

GENERAL_NAME = "relaydesk-worker"
# Enough for the few long calls that can overlap at start-up (the demo backend seeding, the
# deferred mirror check, the engine's imports) while keyring and drafts lanes still move.
GENERAL_THREADS = 4


class Pool:
    """Named worker threads (started on first use). Once ``shutdown()``, it takes no more."""

    def __init__(self, name: str, threads: int) -> None:
        self.name = name
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=name)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kw: Any) -> Future[T]:
        return self._executor.submit(fn, *args, **kw)

    async def run(self, fn: Callable[..., T], /, *args: Any, **kw: Any) -> T:
        """``fn(*args, **kw)`` on one of this pool's threads; the caller's loop stays free."""
        return await asyncio.wrap_future(self._executor.submit(fn, *args, **kw))

    def call(self, fn: Callable[..., T], /, *args: Any, **kw: Any) -> T:
        """``fn(*args, **kw)`` on one of this pool's threads, waited for (plain code only)."""
        return self._executor.submit(fn, *args, **kw).result()

    def shutdown(self) -> None:
        """Finish what is queued and end the threads."""
        self._executor.shutdown(wait=True)


_lock = threading.Lock()
_general: Pool | None = None


def general() -> Pool:
    """The process's general pool (made again after ``shutdown()``)."""
    global _general
    with _lock:
        if _general is None:
            _general = Pool(GENERAL_NAME, GENERAL_THREADS)
        return _general


async def run(fn: Callable[..., T], /, *args: Any, **kw: Any) -> T:
    """``fn(*args, **kw)`` on the general pool: blocking work that is not a store read or write."""
    return await general().run(fn, *args, **kw)


def shutdown() -> None:
    """At the desk's or the CLI's end: finish the general pool's queued work, end its threads."""
    global _general
    with _lock:
        pool, _general = _general, None
    if pool is not None:
        pool.shutdown()


class Serial:
    """One job at a time, in the order queued, on the general pool's threads: what a
    single-thread executor guarantees, without a thread of its own."""

    def __init__(self, name: str) -> None:
        self.name = name  # what the lane is for (its jobs run on the pool's threads)
        self._lock = threading.Lock()
        self._jobs: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._draining = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kw: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            self._jobs.append((functools.partial(fn, *args, **kw), future))
            if self._draining:
                return future
            self._draining = True
        try:
            general().submit(self._drain)
        except BaseException:
            with self._lock:
                self._draining = False
                self._jobs.clear()
            raise
        return future

    async def run(self, fn: Callable[..., T], /, *args: Any, **kw: Any) -> T:
        return await asyncio.wrap_future(self.submit(fn, *args, **kw))

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._draining = False
                    return
                job, future = self._jobs.popleft()
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                result = job()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
