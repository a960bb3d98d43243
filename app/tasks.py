"""Background work from the GUI thread, one idiom: ``spawn(coro)``, whose coroutine awaits
its blocking calls on a worker thread (``sync.workers``): the session's ``read`` (the store's
readers), its engine (the store's writer, the keyring lane), or ``run`` here (the general
pool: config files, the demo backend). Nothing on the GUI thread waits for them.

qasync keeps no reference to tasks it starts, so a task nobody holds can be collected
mid-flight; every coroutine the desk starts goes through here, is kept until it ends, and
an exception it raises is logged and reported once (the crash dialog hooks ``on_error``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sync import workers

log = logging.getLogger("relaydesk.tasks")

_tasks: set[asyncio.Task[Any]] = set()
on_error: Callable[[BaseException], None] | None = None
T = TypeVar("T")


def spawn(coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
    task = asyncio.get_event_loop().create_task(coro, name=name)
    _tasks.add(task)
    task.add_done_callback(_done)
    return task


async def run(fn: Callable[..., T], /, *args: Any) -> T:
    """``fn(*args)`` on the general worker pool: blocking work that is not a database read
    or write (those go through the session)."""
    return await workers.run(fn, *args)


def _done(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task %s failed", task.get_name(), exc_info=exc)
        if on_error is not None:
            on_error(exc)


async def cancel_all() -> None:
    """On quit: cancel what is still running and wait for it to unwind."""
    pending = [t for t in _tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


def shutdown_workers() -> None:
    """The last step of quitting, after every task and the session have ended: the general
    pool's threads end (each store ends its own writer and readers when it closes)."""
    workers.shutdown()


def running() -> int:
    return sum(1 for t in _tasks if not t.done())
