"""Background work from the GUI thread, one idiom: ``spawn(coro)``.

qasync keeps no reference to tasks it starts, so a task nobody holds can be collected
mid-flight; every coroutine the desk starts goes through here, is kept until it ends, and
an exception it raises is logged and reported once (the crash dialog hooks ``on_error``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("relaydesk.tasks")

_tasks: set[asyncio.Task[Any]] = set()
on_error: Callable[[BaseException], None] | None = None


def spawn(coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
    task = asyncio.get_event_loop().create_task(coro, name=name)
    _tasks.add(task)
    task.add_done_callback(_done)
    return task


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


def running() -> int:
    return sum(1 for t in _tasks if not t.done())
