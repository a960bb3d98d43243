"""The one way off the event loop (``sync.workers``): the general pool, serial lanes, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from sync import workers


@pytest.mark.asyncio
async def test_run_leaves_the_loop_thread_for_the_general_pool() -> None:
    loop_thread = threading.current_thread()
    thread = await workers.run(threading.current_thread)
    assert thread is not loop_thread
    assert thread.name.startswith(workers.GENERAL_NAME)
    with pytest.raises(ZeroDivisionError):
        await workers.run(lambda: 1 / 0)


@pytest.mark.asyncio
async def test_a_lane_runs_one_job_at_a_time_in_the_order_queued() -> None:
    lane = workers.Serial("relaydesk-test-lane")
    running, overlaps, order = [0], [], []
    guard = threading.Lock()

    def job(i: int) -> str:
        with guard:
            running[0] += 1
            overlaps.append(running[0])
        time.sleep(0.002 * (5 - i % 5))  # early jobs are the slow ones: no overtaking
        order.append(i)
        with guard:
            running[0] -= 1
        return threading.current_thread().name

    names = await asyncio.gather(*(lane.run(job, i) for i in range(20)))
    assert order == list(range(20))
    assert max(overlaps) == 1
    assert all(name.startswith(workers.GENERAL_NAME) for name in names)  # no thread of its own


@pytest.mark.asyncio
async def test_a_failing_or_cancelled_job_does_not_stop_the_lane() -> None:
    lane = workers.Serial("relaydesk-test-lane")
    started, release = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        release.wait(5)

    first = asyncio.ensure_future(lane.run(block))
    await asyncio.to_thread(started.wait, 5)  # test-side waiting only
    queued = asyncio.ensure_future(lane.run(lambda: "never"))
    await asyncio.sleep(0)
    queued.cancel()  # still waiting behind `block`: it never runs
    failing = asyncio.ensure_future(lane.run(lambda: 1 / 0))
    release.set()
    await first
    with pytest.raises(ZeroDivisionError):
        await failing
    assert queued.cancelled()
    assert await lane.run(lambda: "after") == "after"


def test_shutdown_finishes_queued_work_and_a_later_run_starts_again() -> None:
    lane = workers.Serial("relaydesk-test-lane")
    done: list[int] = []
    futures = [lane.submit(lambda i=i: (time.sleep(0.01), done.append(i))) for i in range(3)]
    workers.shutdown()  # from plain code, as the desk and the CLI do at their end
    assert done == [0, 1, 2] and all(f.done() for f in futures)
    assert not any(t.name.startswith(workers.GENERAL_NAME) for t in threading.enumerate()
                   if t.is_alive())
    workers.shutdown()  # twice is harmless
    assert asyncio.run(workers.run(lambda: 42)) == 42
    workers.shutdown()
