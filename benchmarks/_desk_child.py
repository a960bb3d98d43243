"""The process ``benchmarks/desk.py`` starts and times; not meant to be run by hand.

``empty``: an empty QMainWindow of the desk's size, offscreen; says when it first painted.

``desk DATA_DIR``: the real desk (``app.main.main``, offscreen) on a prepared workspace
whose server is unreachable. A few hooks, installed before ``main`` runs (the thread's once
the inbox has painted), only observe: the inbox table's and the thread's paint events, the
model's signals, ``DeskSession.open``. They import nothing the desk has not imported by then.
The one fixture is a sign-in "in the keyring" (the session's ``CredentialStore.load``, once
the session has made it), so the engine starts as for a returning agent and goes offline
instead of asking to sign in (with ``RELAYDESK_BENCH_TOKENS``, a real sign-in to a live
server, as JSON). ``--mode start`` closes the window once the inbox has painted rows with
data; ``--mode session`` then opens conversations, switches views and reads its memory use;
``--mode hostile`` (a live server) opens two conversations full of huge messages and takes
more arriving, timing the longest the event loop was held each time.

``post URL CHANNEL SECRET HANDLE COUNT INTERVAL``: a customer sending COUNT huge messages,
one every INTERVAL seconds, through the channel's inbound webhook (a process of its own,
so its work is not the desk's).

Every line for the parent is ``BENCH {json}`` on standard output, with ``t`` =
``time.monotonic()`` (CLOCK_MONOTONIC: comparable with the parent's clock on Linux).
"""

from __future__ import annotations

import time

T_PYTHON = time.monotonic()  # the interpreter is up; nothing heavy imported yet

import argparse  # noqa: E402
import asyncio  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MARK = "BENCH "
NONE_FLOOR = 10_000
# What the desk leaves until after its first paint (the engine connects then): reported, so
# a run shows when one of them creeps back in front of the paint.
HEAVY_MODULES = ("sqlalchemy", "alembic", "httpx", "keyring", "pydantic", "sync.engine")


def say(event: str, **extra: Any) -> None:
    extra.setdefault("t", time.monotonic())
    cpu = os.times()
    # None's reference count: PySide6 6.12.0 on Python 3.11 drops one per call of a void
    # method (QTimer.start, QWidget.update…); at zero the process aborts ("none_dealloc").
    print(MARK + json.dumps({"event": event, "cpu_s": round(cpu.user + cpu.system, 3),
                             "none_refs": sys.getrefcount(None), **extra}), flush=True)


def memory() -> dict[str, float]:
    """VmRSS and VmHWM (peak) of this process, MB (10^6 bytes)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) * 1024 / 1e6, 1)
    return out


def ms(a: float, b: float | None) -> float | None:
    return None if b is None else round((b - a) * 1000, 2)


# --------------------------------------------------------------------------- empty window


def run_empty() -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv[:1])
    done = []

    class Empty(QMainWindow):
        def paintEvent(self, event: Any) -> None:
            super().paintEvent(event)
            if not done:
                done.append(True)
                say("painted")
                QTimer.singleShot(0, app.quit)

    window = Empty()
    window.resize(1440, 860)
    window.show()
    return app.exec()


# --------------------------------------------------------------------------- the desk


class Probe:
    """Observes the desk through the hooks; drives the session phases."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.window: Any = None
        self.loaded = False
        self.fetched = False
        self.started = False
        self.switch: dict[str, Any] | None = None  # the view switch being timed
        self.opening: dict[str, Any] | None = None  # the conversation open being timed
        self.profile = cProfile.Profile() if args.profile else None
        self.task: asyncio.Task[None] | None = None
        self.stopped: str | None = None

    # -- hooks

    def window_built(self, window: Any) -> None:
        self.window = window
        say("window_built")
        window.inbox_model.loaded.connect(self.on_loaded)
        window.inbox_model.rowsFetched.connect(self.on_rows)

    def on_loaded(self) -> None:
        if not self.loaded:
            self.loaded = True
            say("ids_loaded", rows=self.window.inbox_model.rowCount())
        if self.switch is not None and self.switch.get("loaded") is None:
            self.switch["loaded"] = time.perf_counter()
            self.check_switch()

    def on_rows(self) -> None:
        if not self.fetched:
            self.fetched = True
            say("rows_fetched")
        self.check_switch()

    def visible_ready(self) -> tuple[bool, int]:
        """Whether every row the table shows has fresh data; and how many rows it shows."""
        rows, model = self.window.inbox.table.visible_rows(), self.window.inbox_model
        if not rows:
            return True, 0
        stale = getattr(model, "_stale", set())
        ids = model.ids()[rows.start:rows.stop]
        return all(model.cached(c) is not None and c not in stale for c in ids), len(ids)

    def table_painted(self) -> None:
        if self.window is None:
            return
        if not self.started and self.loaded:
            ready, shown = self.visible_ready()
            if ready:
                self.started = True
                say("inbox_painted", rows=self.window.inbox_model.rowCount(), shown=shown,
                    heavy_modules=[m for m in HEAVY_MODULES if m in sys.modules], **memory())
                self.after_start()
        sw = self.switch
        if sw is not None and sw.get("data") is not None and sw.get("painted") is None:
            sw["painted"] = time.perf_counter()
            if not sw["future"].done():
                sw["future"].set_result(None)

    def check_switch(self) -> None:
        sw = self.switch
        if sw is None or sw.get("loaded") is None or sw.get("data") is not None:
            return
        ready, shown = self.visible_ready()
        if ready:
            sw["data"] = time.perf_counter()
            sw["shown"] = shown
            sw["rows"] = self.window.inbox_model.rowCount()

    def thread_set(self) -> None:
        op = self.opening
        if (op is not None and op.get("set") is None
                and self.window.conversation.conversation_id == op["cid"]):
            op["set"] = time.perf_counter()

    def thread_painted(self) -> None:
        op = self.opening
        if op is not None and op.get("set") is not None and op.get("painted") is None:
            op["painted"] = time.perf_counter()
            if not op["future"].done():
                op["future"].set_result(None)

    # -- after the first paint

    def after_start(self) -> None:
        from PySide6.QtCore import QTimer

        if self.profile is not None and self.args.mode == "start":
            self.profile.disable()
            self.profile.dump_stats(str(Path(self.args.profile) / "start.prof"))
        if self.args.mode == "start":
            QTimer.singleShot(0, self.window.close)
        else:
            install_thread_hooks(self)
            phases = self.hostile_phases() if self.args.mode == "hostile" else self.phases()
            self.task = asyncio.get_event_loop().create_task(phases)

    async def phases(self) -> None:
        results: dict[str, Any] = {}
        try:
            await asyncio.sleep(self.args.settle)
            results["memory_after_start"] = memory()
            # Opening first: few void calls, so it is measured even when PySide6 drops
            # references to None (see ``say``) fast enough to stop the views early.
            results["conversation"] = await self.conversations()
            results["memory_after_conversation"] = memory()
            results["views"] = await self.views()
            results["memory_after_views"] = memory()
            results["engine_state"] = self.window.session.status.state.value
            results["stopped_early"] = self.stopped
            say("results", **results)
        except Exception as exc:  # reported to the parent, which marks the parts failed
            say("error", error=f"{exc.__class__.__name__}: {exc}",
                traceback=traceback.format_exc(), **results)
        finally:
            self.window.close()

    def _profiled(self, name: str) -> Any:
        probe = self

        class Ctx:
            def __enter__(self) -> None:
                if probe.profile is not None:
                    probe.profile = cProfile.Profile()
                    probe.profile.enable()

            def __exit__(self, *_exc: object) -> None:
                if probe.profile is not None:
                    probe.profile.disable()
                    probe.profile.dump_stats(str(Path(probe.args.profile) / f"{name}.prof"))

        return Ctx()

    async def views(self) -> list[dict[str, Any]]:
        w = self.window
        directory = w.session.directory
        if not directory.teams or not directory.channels:
            raise RuntimeError("the mirror's directory has no teams or channels")
        steps = [("mine", "mine"), ("unassigned", "unassigned"),
                 ("team", f"team:{directory.teams[0].id}"),
                 ("channel", f"channel:{directory.channels[0].id}"),
                 ("resolved", "status:resolved"), ("tag", f"tag:{self.args.tag}"),
                 ("all", "all"), ("search", None)]
        samples = []
        with self._profiled("views"):
            for _round in range(self.args.rounds):
                for name, key in steps:
                    if self.none_low():
                        return samples
                    samples.append(await self.one_switch(name, key))
                    await asyncio.sleep(0.05)
        return samples

    def none_low(self) -> bool:
        """Whether None's reference count fell so low that going on would abort the desk
        (see ``say``): the phases then stop early, and say so, to keep what was measured."""
        if sys.getrefcount(None) >= NONE_FLOOR:
            return False
        self.stopped = f"None's reference count fell below {NONE_FLOOR:,}"
        return True

    def _set_search(self, text: str) -> None:
        search = self.window.inbox.search
        old = search.blockSignals(True)  # no debounced refresh: the switch is timed alone
        search.setText(text)
        search.blockSignals(old)

    async def one_switch(self, name: str, key: str | None) -> dict[str, Any]:
        w = self.window
        if key is not None and w.inbox.search.text():
            self._set_search("")
        if key is None:
            self._set_search(self.args.search)
        future = asyncio.get_event_loop().create_future()
        self.switch = sw = {"future": future}
        start = sw["start"] = time.perf_counter()
        if key is None:
            w.inbox.set_filter(w.nav.current_filter())
        elif not w.nav.select_view(key):
            raise RuntimeError(f"the navigation has no entry {key!r}")
        self.check_switch()
        try:
            await asyncio.wait_for(asyncio.shield(future), self.args.step_timeout)
        except TimeoutError:
            if sw.get("data") is None:
                raise TimeoutError(f"view {name}: no data after {self.args.step_timeout} s "
                                   f"(loaded: {sw.get('loaded') is not None})") from None
        finally:
            self.switch = None
        return {"view": name, "loaded_ms": ms(start, sw.get("loaded")),
                "data_ms": ms(start, sw.get("data")), "painted_ms": ms(start, sw.get("painted")),
                "rows": sw.get("rows"), "shown": sw.get("shown")}

    async def conversations(self) -> dict[str, Any]:
        big, small = self.args.big, self.args.small
        samples = []
        with self._profiled("conversation"):
            for _ in range(self.args.opens):
                if self.none_low():
                    break
                await self.one_open(small)
                await asyncio.sleep(0.1)
                samples.append(await self.one_open(big))
                await asyncio.sleep(0.1)
        return {"samples": samples, "items": len(self.window.conversation.thread.items)}

    async def one_open(self, cid: str) -> dict[str, Any]:
        future = asyncio.get_event_loop().create_future()
        self.opening = op = {"cid": cid, "future": future}
        start = time.perf_counter()
        self.window.conversation.open_conversation(cid)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.args.step_timeout)
        except TimeoutError:
            raise TimeoutError(f"conversation {cid}: not painted after "
                               f"{self.args.step_timeout} s") from None
        finally:
            self.opening = None
        return {"set_ms": ms(start, op.get("set")), "painted_ms": ms(start, op.get("painted"))}


    # -- hostile text (--mode hostile)

    async def hostile_phases(self) -> None:
        results: dict[str, Any] = {}
        try:
            flood, notes = self.args.big, self.args.small
            await self.until_mirrored([flood, notes])
            monitor = StallMonitor()
            opens = []
            for _ in range(self.args.opens):
                for name, cid in (("flood", flood), ("notes", notes)):
                    opens.append({"conversation": name, **await self.watched_open(cid, monitor)})
                    await asyncio.sleep(0.2)
            results["opens"] = opens
            results["arrivals"] = await self.arrivals(flood, monitor)
            results["engine_state"] = self.window.session.status.state.value
            say("results", **results)
        except Exception as exc:
            say("error", error=f"{exc.__class__.__name__}: {exc}",
                traceback=traceback.format_exc(), **results)
        finally:
            self.window.close()

    async def until_mirrored(self, cids: list[str], timeout: float = 300.0) -> None:
        """Until the engine is up to date and every one of ``cids`` is in the mirror."""
        from sync import queries
        from sync.engine import EngineState
        from sync.status import now_ms

        session = self.window.session
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if session.status.state is EngineState.UP_TO_DATE:
                rows = await session.read(queries.conversation_rows, cids, now_ms())
                if all(c in rows for c in cids):
                    say("mirrored")
                    return
            await asyncio.sleep(0.25)
        raise TimeoutError(f"not synced after {timeout:.0f} s: {session.status.state}")

    async def until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not after {timeout:.0f} s")
            await asyncio.sleep(0.01)

    async def watched_open(self, cid: str, monitor: StallMonitor) -> dict[str, Any]:
        """Open ``cid`` as the agent does; until its thread has settled: first paint, all
        in, and the longest the event loop was held meanwhile."""
        pane = self.window.conversation
        thread = pane.thread
        future = asyncio.get_event_loop().create_future()
        self.opening = op = {"cid": cid, "future": future}
        monitor.start()
        start = time.perf_counter()
        pane.open_conversation(cid)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.args.step_timeout)
            await self.until(lambda: not thread.rendering and bool(thread.items)
                             and pane.conversation_id == cid, self.args.step_timeout,
                             f"conversation {cid} settled")
        finally:
            self.opening = None
        settled = time.perf_counter()
        held = monitor.stop()
        return {"painted_ms": ms(start, op.get("painted")), "settled_ms": ms(start, settled),
                "items": len(thread.items), "shown": len(thread.shown_items()), **held}

    async def arrivals(self, cid: str, monitor: StallMonitor) -> dict[str, Any]:
        """With ``cid`` open, the customer sends huge messages one a second; until all of
        them are in its thread."""
        pane = self.window.conversation
        opened = await self.watched_open(cid, monitor)
        before = len(pane.thread.items)
        post = json.loads(self.args.post)
        count, interval = self.args.arrivals, 1.0
        monitor.start()
        start = time.perf_counter()
        poster = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__)), "post", post["url"], post["channel"],
            post["secret"], post["handle"], str(count), str(interval))
        try:
            await self.until(lambda: len(pane.thread.items) >= before + count
                             and not pane.thread.rendering,
                             count * interval + self.args.step_timeout, "the arrivals shown")
            code = await asyncio.wait_for(poster.wait(), self.args.step_timeout)
        finally:
            if poster.returncode is None:
                poster.kill()
        seconds = time.perf_counter() - start
        held = monitor.stop()
        if code != 0:
            raise RuntimeError(f"the poster failed (exit {code})")
        return {"opened": opened, "arrived": len(pane.thread.items) - before,
                "seconds": round(seconds, 1), **held}


class StallMonitor:
    """How long the GUI thread's event loop goes without running a 5 ms timer: the gaps
    between its ticks (5 ms when nothing holds the loop)."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self.tick)
        self.gaps: list[float] = []
        self.last = 0.0

    def start(self) -> None:
        self.gaps = []
        self.last = time.perf_counter()
        self.timer.start()

    def tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self.last) * 1000)
        self.last = now

    def stop(self) -> dict[str, Any]:
        self.tick()
        self.timer.stop()
        gaps = sorted(self.gaps)
        over = [g for g in gaps if g > 50]
        return {"max_held_ms": round(gaps[-1], 1),
                "p99_held_ms": round(gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))], 1),
                "held_over_50ms": len(over), "held_over_50ms_total_ms": round(sum(over), 1)}


def post_messages(url: str, channel: str, secret: str, handle: str, count: int,
                  interval: float) -> int:
    """The ``post`` command: ``count`` huge messages through the inbound webhook."""
    import httpx

    sys.path.insert(0, str(ROOT))
    from benchmarks._common import hostile_body

    with httpx.Client(base_url=url, timeout=60) as http:
        for n in range(count):
            started = time.monotonic()
            answer = http.post(f"/api/v1/channels/{channel}/inbound",
                               headers={"X-Relaydesk-Channel-Secret": secret},
                               json={"handle": handle, "text": hostile_body(1000 + n),
                                     "provider_message_id": f"arrival-{time.time_ns()}-{n}"})
            answer.raise_for_status()
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return 0


def after(cls: type, name: str, then: Callable[..., None]) -> None:
    """Wrap ``cls.name`` (a plain method) so ``then(self, *args)`` runs after each call."""
    method = getattr(cls, name)

    def wrapped(self: Any, *a: Any, **kw: Any) -> Any:
        result = method(self, *a, **kw)
        then(self, *a)
        return result

    setattr(cls, name, wrapped)


def install_hooks(probe: Probe) -> None:
    # In the order the desk's own start imports them (``relaydesk`` runs app.main.main):
    # its Qt-free modules before PySide6, which inspects every module imported after it.
    from app.main import import_before_qt

    import_before_qt()
    from app import i18n, logs, settings, theme  # noqa: F401  (imports: one bucket)
    from app.desk import Desk
    from app.inbox.view import InboxTable
    from app.session import DeskSession
    from app.window import MainWindow

    make_engine = DeskSession._make_engine

    async def signed_in(self: Any) -> None:
        # Made after the first paint (``DeskSession.connect``), with the modules it loads.
        await make_engine(self)
        from sync.client import Tokens

        far = int(time.time() * 1000) + 30 * 86_400_000
        tokens = Tokens("bench-access", far, "bench-refresh", far)
        if os.environ.get("RELAYDESK_BENCH_TOKENS"):
            tokens = Tokens(**json.loads(os.environ["RELAYDESK_BENCH_TOKENS"]))
        self.credentials.load = lambda: tokens

    DeskSession._make_engine = signed_in

    open_session = DeskSession.open

    async def timed_open(self: Any, *a: Any, **kw: Any) -> None:
        say("session_open_start")
        await open_session(self, *a, **kw)
        say("session_opened")

    DeskSession.open = timed_open

    desk_run = Desk.run

    async def timed_run(self: Any) -> int:
        say("desk_run")  # QApplication, logging, settings, translations and theme are done
        return await desk_run(self)

    Desk.run = timed_run

    after(MainWindow, "__init__", lambda window, *_: probe.window_built(window))
    after(InboxTable, "paintEvent", lambda *_: probe.table_painted())


def install_thread_hooks(probe: Probe) -> None:
    """The conversation's hooks, once the inbox has painted: the desk loads the conversation
    pane's modules after that paint, and importing them here first would time them in."""
    from app.conversation.thread import ThreadBrowser, ThreadView

    after(ThreadView, "set_thread", lambda *_: probe.thread_set())
    after(ThreadBrowser, "paintEvent", lambda *_: probe.thread_painted())


def run_desk(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    probe = Probe(args)
    if probe.profile is not None:
        probe.profile.enable()
    install_hooks(probe)
    from app.main import main

    say("imported")

    code = main(["--data-dir", args.data_dir])
    say("exit", code=code)
    return code


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("empty")
    d = sub.add_parser("desk")
    d.add_argument("data_dir")
    d.add_argument("--mode", choices=["start", "session", "hostile"], default="start")
    d.add_argument("--rounds", type=int, default=8)
    d.add_argument("--opens", type=int, default=7)
    d.add_argument("--big", default="")
    d.add_argument("--small", default="")
    d.add_argument("--tag", default="vip")
    d.add_argument("--search", default="refund")
    d.add_argument("--settle", type=float, default=1.5)
    d.add_argument("--step-timeout", type=float, default=30.0)
    d.add_argument("--profile", default=None, help="directory for cProfile files")
    d.add_argument("--post", default="{}", help="hostile: JSON url, channel, secret, handle")
    d.add_argument("--arrivals", type=int, default=10)
    post = sub.add_parser("post")
    for name in ("url", "channel", "secret", "handle"):
        post.add_argument(name)
    post.add_argument("count", type=int)
    post.add_argument("interval", type=float)
    args = p.parse_args()
    if args.what == "post":
        return post_messages(args.url, args.channel, args.secret, args.handle, args.count,
                             args.interval)
    say("python", t=T_PYTHON)
    return run_empty() if args.what == "empty" else run_desk(args)


if __name__ == "__main__":
    sys.exit(main())
