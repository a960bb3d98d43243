"""``relaydesk-sync``: the headless desk client, for IT admins, scripts and tests.

Exit codes:
  0  success (queued work counts as success, even offline)
  1  the server could not be reached or failed; nothing was lost
  2  usage or input error (the message says what to fix)
  3  sign-in required
  4  verify found a problem
  130 interrupted
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sync import entities, mirror, outbox, workers
from sync.client import ApiClient, ApiError, Refused, Unreachable
from sync.credentials import KEYRING, CredentialStore
from sync.engine import EngineOptions, SignInRequired, SyncEngine
from sync.mirror import PageError
from sync.private_files import private_umask
from sync.store import MIRROR_FILE, OutboxUnreadable, Store, check_file
from sync.workspace import WorkspaceConfig, default_data_dir

T = TypeVar("T")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SIGN_IN, EXIT_VERIFY = 0, 1, 2, 3, 4
STATUSES = ("open", "pending", "snoozed", "resolved")
SEARCH_KINDS = ("message", "conversation", "contact", "article")


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaydesk-sync",
        description="The Relaydesk sync client without the GUI: sign in, sync, queue replies.",
        epilog="Exit codes: 0 ok, 1 server unreachable or failed (work kept), 2 usage error, "
               "3 sign-in required, 4 verify found a problem.",
    )
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"workspace directory (default: {default_data_dir()}; "
                             "env RELAYDESK_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (for commands whose output is data)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str, *, json_out: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        if json_out:
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                           help="print JSON")
        return p

    login = add("login", "sign in (the password is read from stdin when it is not a terminal)")
    login.add_argument("--server", required=True, help="e.g. https://relaydesk.example.com")
    login.add_argument("--email", required=True)
    add("logout", "sign out and forget the tokens (queued work is kept)")
    sync = add("sync", "run one sync cycle (push, then pull)", json_out=True)
    sync.add_argument("--watch", action="store_true",
                      help="keep syncing with server-sent events until interrupted")
    add("status", "show the sync state", json_out=True)
    ob = add("outbox", "list queued and rejected work", json_out=True)
    ob_actions = ob.add_mutually_exclusive_group()
    ob_actions.add_argument("--retry", type=int, metavar="ID", help="queue a rejected intent again")
    ob_actions.add_argument("--discard", type=int, metavar="ID", help="drop a rejected intent")
    send = add("send", "queue a reply to the customer", json_out=True)
    send.add_argument("conversation_id")
    send.add_argument("text")
    send.add_argument("--template", help="approved template name (after WhatsApp's 24 h)")
    send.add_argument("--human-agent-tag", action="store_true",
                      help="Messenger/Instagram between 24 h and 7 days")
    note = add("note", "queue an internal note", json_out=True)
    note.add_argument("conversation_id")
    note.add_argument("text")
    note.add_argument("--mention", action="append", default=[], metavar="AGENT_ID")
    st = add("set-status", "queue a status change", json_out=True)
    st.add_argument("conversation_id")
    st.add_argument("status", choices=STATUSES)
    st.add_argument("--until", help="snooze until: minutes from now (e.g. 90) or epoch ms")
    add("reset-cache", "rebuild the mirror from the server (the outbox is kept)", json_out=True)
    add("verify", "integrity checks and per-entity counts compared with the server",
        json_out=True)
    search = add("search", "search the mirror: messages, conversations, contacts and articles "
                 "(offline: no server needed)", json_out=True)
    search.add_argument("query", help="words, in any order (English or Japanese)")
    search.add_argument("--type", choices=SEARCH_KINDS, action="append", dest="kinds",
                        metavar="{" + ",".join(SEARCH_KINDS) + "}",
                        help="only this kind of result (repeat for several)")
    search.add_argument("--locale", help="only results in this language (e.g. en, ja)")
    search.add_argument("--limit", type=_positive, default=10, metavar="N",
                        help="at most N results of each kind (default 10)")
    suggest = add("suggest", "the articles best suited to a conversation, in its language "
                  "(offline)", json_out=True)
    suggest.add_argument("conversation_id")
    suggest.add_argument("--limit", type=_positive, default=5, metavar="N",
                         help="at most N articles (default 5)")
    return parser


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {value!r}")
    return number


# --------------------------------------------------------------------------- plumbing


class Session:
    """Store + client + engine for one command."""

    def __init__(self, data_dir: Path, config: WorkspaceConfig | None) -> None:
        self.data_dir = data_dir
        self.config = config
        self.store = Store(data_dir)
        self.api: ApiClient | None = None
        self.engine: SyncEngine | None = None

    async def open(self, *, events: bool = False, need_server: bool = True) -> None:
        try:
            await workers.run(self.store.open)
        except OutboxUnreadable as exc:
            raise CliError(str(exc), EXIT_VERIFY) from None
        if self.config is None:
            if need_server:
                raise CliError("not signed in here; run `relaydesk-sync login` first",
                               EXIT_SIGN_IN)
            return
        self.api = ApiClient(self.config.server_url)
        creds = CredentialStore(self.config.server_url, self.config.email)
        self.engine = SyncEngine(self.store, self.api, creds, EngineOptions(use_events=events))

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.stop()
        if self.api is not None:
            await self.api.aclose()
        await workers.run(self.store.close)


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(text)


def _fmt_time(ms: int | None) -> str:
    if not ms:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def _intent_json(i: outbox.IntentRecord) -> dict[str, Any]:
    return {"id": i.id, "mutation_id": i.mutation_id, "name": i.name, "args": i.args,
            "state": i.state, "attempts": i.attempts, "error_code": i.error_code,
            "error_message": i.error_message, "created_at": i.created_at,
            "not_before": i.not_before}


def _held(i: outbox.IntentRecord) -> str:
    """When a held intent (a reply the agent can still undo) leaves, for the listing."""
    if i.state != outbox.PENDING or not i.not_before or i.not_before <= time.time() * 1000:
        return ""
    return f"held until {_fmt_time(i.not_before)}  "


async def _try_sync(s: Session) -> tuple[bool, str]:
    """One cycle for commands that queued work: failures are reported, never fatal."""
    assert s.engine is not None
    await s.engine.prepare()
    try:
        await s.engine.sync_once()
        return True, "sent"
    except SignInRequired:
        return False, "not sent: sign-in required (it stays queued)"
    except (ApiError, PageError) as exc:
        reason = exc.message if isinstance(exc, ApiError) else str(exc)
        return False, f"queued; will be sent when the server is reachable ({reason})"


# --------------------------------------------------------------------------- commands


async def cmd_login(args: argparse.Namespace, data_dir: Path) -> int:
    password = _read_password()
    config = WorkspaceConfig(server_url=args.server.rstrip("/"), email=args.email.strip())
    existing = WorkspaceConfig.load(data_dir)
    if existing and existing.email.lower() != config.email.lower():
        raise CliError(f"{data_dir} is the workspace of {existing.email}; use another "
                       "--data-dir for a different agent")
    s = Session(data_dir, config)
    await s.open()
    assert s.engine is not None and s.api is not None
    try:
        try:
            await s.engine.login(config.email, password)
        except Refused as exc:
            if exc.status == 401:
                raise CliError(exc.message, EXIT_SIGN_IN) from None
            raise CliError(exc.message) from None
        except ApiError as exc:
            raise CliError(exc.message, EXIT_SIGN_IN if exc.status == 401 else EXIT_FAILED
                           ) from None
        status = s.engine.status
        config.agent_id = await s.engine.agent_id()
        config.save(data_dir)
        note = "" if status.credentials_secure else (
            " (no secure keyring on this system: the sign-in lasts for this command only)")
        print(f"Signed in to {config.server_url} as {config.email}{note}.")
        return EXIT_OK
    finally:
        await s.close()


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("no password given (type it, or pipe it on standard input)")
    return password


async def cmd_logout(args: argparse.Namespace, data_dir: Path) -> int:
    s = Session(data_dir, WorkspaceConfig.load(data_dir))
    await s.open()
    try:
        assert s.engine is not None
        await s.engine.prepare()
        await s.engine.logout()
        print("Signed out. Queued work is kept and is sent after the next sign-in.")
        return EXIT_OK
    finally:
        await s.close()


async def cmd_sync(args: argparse.Namespace, data_dir: Path) -> int:
    s = Session(data_dir, WorkspaceConfig.load(data_dir))
    await s.open(events=args.watch)
    assert s.engine is not None
    try:
        if args.watch:
            return await _watch(s, args)
        await s.engine.prepare()
        try:
            await s.engine.sync_once()
        except SignInRequired:
            raise CliError("sign-in required: run `relaydesk-sync login`", EXIT_SIGN_IN) from None
        except (ApiError, PageError) as exc:
            reason = exc.message if isinstance(exc, ApiError) else str(exc)
            raise CliError(f"sync failed: {reason} Queued work is kept.", EXIT_FAILED) from None
        st = s.engine.status
        _emit(args, {"state": st.state.value, "pending": st.pending, "rejected": st.rejected,
                     "last_sync_at": st.last_sync_at},
              f"Up to date. {st.pending} pending, {st.rejected} rejected.")
        return EXIT_OK
    finally:
        await s.close()


async def _watch(s: Session, args: argparse.Namespace) -> int:
    assert s.engine is not None
    last: list[str] = []

    def show(status: Any) -> None:
        line = f"{status.state.value}: {status.message} (pending {status.pending}, " \
               f"rejected {status.rejected}{', live' if status.live else ''})"
        if not last or last[-1] != line:
            last.append(line)
            if args.json:
                print(json.dumps({"state": status.state.value, "message": status.message,
                                  "pending": status.pending, "rejected": status.rejected,
                                  "live": status.live}), flush=True)
            else:
                print(line, flush=True)

    s.engine.subscribe(show)
    # A long-running process: freeze start-up objects so full collections stay short
    # (measured: loop stalls during a large bootstrap drop from ~100 ms to ~10 ms).
    gc.collect()
    gc.freeze()
    await s.engine.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C ends the process
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    return EXIT_OK


async def cmd_status(args: argparse.Namespace, data_dir: Path) -> int:
    config = WorkspaceConfig.load(data_dir)
    s = Session(data_dir, config)
    await s.open(need_server=False)
    try:
        def read() -> dict[str, Any]:
            with s.store.read_mirror() as conn:
                st = {k: s.store.get_state(conn, k) for k in
                      (mirror.CURSOR, mirror.BOOTSTRAPPED, mirror.LAST_SYNC_AT)}
                counts = mirror.entity_counts(conn)
            with s.store.read_outbox() as conn:
                # What the agent did, as the desk counts it (automatic mark-reads left out).
                waiting, refused = outbox.agent_counts(conn)
            return {"server": config.server_url if config else None,
                    "email": config.email if config else None,
                    "cursor": int(st[mirror.CURSOR] or 0),
                    "bootstrapped": st[mirror.BOOTSTRAPPED] == "1",
                    "last_sync_at": int(st[mirror.LAST_SYNC_AT]) if st[mirror.LAST_SYNC_AT]
                    else None,
                    "outbox": {"pending": waiting, "rejected": refused},
                    "counts": counts}
        info = await s.store.run_read(read)
        signed_in = False
        if config is not None:
            creds = CredentialStore(config.server_url, config.email)
            signed_in = await KEYRING.run(creds.load) is not None
            info["credentials"] = "keyring" if creds.secure else "memory (no secure keyring)"
        info["signed_in"] = signed_in
        text = (f"Workspace: {info['email'] or '(not signed in)'} on {info['server'] or '-'}\n"
                f"Signed in: {'yes' if signed_in else 'no'}\n"
                f"Last sync: {_fmt_time(info['last_sync_at'])} (cursor {info['cursor']})\n"
                f"Outbox: {info['outbox']['pending']} pending, "
                f"{info['outbox']['rejected']} rejected\n"
                f"Mirror: " + ", ".join(f"{k} {v}" for k, v in info["counts"].items()))
        _emit(args, info, text)
        return EXIT_OK
    finally:
        await s.close()


async def cmd_outbox(args: argparse.Namespace, data_dir: Path) -> int:
    s = Session(data_dir, WorkspaceConfig.load(data_dir))
    await s.open(need_server=False)
    try:
        if args.retry is not None or args.discard is not None:
            fn = outbox.retry if args.retry is not None else outbox.discard
            target = args.retry if args.retry is not None else args.discard

            def change() -> None:
                with s.store.write_outbox() as conn:
                    fn(conn, target)
            try:
                await s.store.run_write(change)
            except outbox.InvalidIntent as exc:
                raise CliError(str(exc)) from None
            print("Queued again." if args.retry is not None else "Discarded.")
            return EXIT_OK

        def read() -> list[outbox.IntentRecord]:
            with s.store.read_outbox() as conn:
                return outbox.unsettled(conn)
        intents = await s.store.run_read(read)
        lines = [f"{i.id:>5}  {i.state:<8} {i.name:<13} {i.conversation_id or '':<36}  "
                 f"{_held(i)}{i.error_message or ''}" for i in intents]
        _emit(args, [_intent_json(i) for i in intents],
              "\n".join(lines) if lines else "The outbox is empty.")
        return EXIT_OK
    finally:
        await s.close()


async def _queue(args: argparse.Namespace, data_dir: Path, name: str,
                 intent_args: dict[str, Any]) -> int:
    s = Session(data_dir, WorkspaceConfig.load(data_dir))
    await s.open()
    assert s.engine is not None
    try:
        try:
            record = await s.engine.enqueue(name, intent_args)
        except outbox.InvalidIntent as exc:
            raise CliError(str(exc)) from None
        sent, message = await _try_sync(s)
        final = record
        def reread() -> outbox.IntentRecord | None:
            with s.store.read_outbox() as conn:
                return next((i for i in outbox.unsettled(conn) if i.id == record.id), None)
        after = await s.store.run_read(reread)
        if after is not None:
            final = after
        if after is not None and after.state == outbox.REJECTED:
            message = f"rejected by the server: {after.error_message}"
        data = {**_intent_json(final), "state": final.state if after else "settled",
                "synced": sent, "message": message}
        _emit(args, data, f"Queued #{record.id} ({name}): {message}")
        return EXIT_OK
    finally:
        await s.close()


def _until(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise CliError(f"--until {value!r}: give minutes from now or epoch milliseconds"
                       ) from None
    return number if number > 10**11 else int(time.time() * 1000) + number * 60_000


async def cmd_reset_cache(args: argparse.Namespace, data_dir: Path) -> int:
    s = Session(data_dir, WorkspaceConfig.load(data_dir))
    await s.open()
    assert s.engine is not None
    try:
        await s.store.run_write(s.store.rebuild_mirror)
        sent, message = await _try_sync(s)
        _emit(args, {"rebuilt": True, "synced": sent, "message": message},
              "Mirror rebuilt" + (" and synced." if sent else f"; {message}"))
        return EXIT_OK if sent else EXIT_FAILED
    finally:
        await s.close()


async def cmd_verify(args: argparse.Namespace, data_dir: Path) -> int:
    problems: list[str] = []
    for path in (data_dir / "mirror.sqlite3", data_dir / "outbox.sqlite3"):
        problem = await workers.run(check_file, path, True)
        if problem:
            problems.append(f"{path.name}: integrity check failed: {problem}")
    if problems:
        _emit(args, {"ok": False, "problems": problems}, "\n".join(problems))
        return EXIT_VERIFY
    s = Session(data_dir, WorkspaceConfig.load(data_dir))
    await s.open()
    assert s.engine is not None and s.api is not None
    try:
        await s.engine.prepare()
        comparison: dict[str, dict[str, int]] = {}
        for _attempt in range(3):  # a change landing mid-way shows as a difference: look again
            try:
                await s.engine.sync_once()
                server_totals = await s.engine.server_totals()
            except SignInRequired:
                raise CliError("sign-in required: run `relaydesk-sync login`",
                               EXIT_SIGN_IN) from None
            except (ApiError, PageError) as exc:
                reason = exc.message if isinstance(exc, ApiError) else str(exc)
                raise CliError(f"cannot compare with the server: {reason}", EXIT_FAILED
                               ) from None

            def local() -> dict[str, int]:
                with s.store.read_mirror() as conn:
                    return mirror.entity_counts(conn)
            local_counts = await s.store.run_read(local)
            comparison, not_kept = compare_counts(local_counts, server_totals)
            if all(c["local"] == c["server"] for c in comparison.values()):
                break
        ok = all(c["local"] == c["server"] for c in comparison.values())
        lines = [f"{k:<13} local {c['local']:>8}  server {c['server']:>8}"
                 f"{'' if c['local'] == c['server'] else '  MISMATCH'}"
                 for k, c in comparison.items()]
        lines += [f"{k:<13} not kept by this desk (a newer server's kind)" for k in not_kept]
        _emit(args, {"ok": ok, "integrity": "ok", "counts": comparison,
                     "not_kept": not_kept},
              "Integrity: ok\n" + "\n".join(lines) + ("\nAll counts match." if ok else
                                                       "\nCounts differ: run reset-cache."))
        return EXIT_OK if ok else EXIT_VERIFY
    finally:
        await s.close()


def compare_counts(local: dict[str, int], server: dict[str, int]
                   ) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Each kind's local and server count, for the kinds this desk keeps; and the kinds the
    server counts that this desk does not know (a newer server's: the mirror skips their rows,
    so they cannot match, and a reset would not change that)."""
    kept = {k: v for k, v in server.items() if entities.entity_named(k) is not None}
    return ({k: {"local": local.get(k, 0), "server": v} for k, v in kept.items()},
            sorted(set(server) - set(kept)))


# --------------------------------------------------------------------------- search


async def _read_mirror_offline(data_dir: Path, read: Callable[[Any], T]) -> T:
    """``read(sqlite3 connection)`` in one read of the workspace's mirror, without the
    server (nor signing in)."""
    if not (data_dir / MIRROR_FILE).exists():
        raise CliError(f"nothing synced in {data_dir} yet: run `relaydesk-sync login` and "
                       "`relaydesk-sync sync` first")
    store = Store(data_dir)
    try:
        await workers.run(store.open)
    except OutboxUnreadable as exc:
        raise CliError(str(exc), EXIT_VERIFY) from None
    try:
        def run() -> T:
            with store.read_db("mirror") as db:
                return read(db)
        return await store.run_read(run)
    finally:
        await workers.run(store.close)


def search_results(db: Any, query: str, kinds: list[str] | None, limit: int,
                   locale: str | None) -> list[dict[str, Any]]:
    """What ``search --json`` prints: each kind's best ``limit`` hits, kinds in order."""
    from sync import fulltext

    hits = fulltext.search(db, query, kinds or list(SEARCH_KINDS), limit, locale=locale)
    # A message's title: its conversation's subject, else the contact's name.
    msg_ids = [h.id for h in hits if h.kind == "message"]
    of_message: dict[str, tuple[str, str | None]] = {}
    for start in range(0, len(msg_ids), 500):
        part = msg_ids[start:start + 500]
        of_message.update((r[0], (r[1], r[2])) for r in db.execute(
            "SELECT m.id, m.conversation_id, coalesce(c.subject, k.name) FROM messages m "
            "LEFT JOIN conversations c ON c.id = m.conversation_id "
            "LEFT JOIN contacts k ON k.id = c.contact_id "
            f"WHERE m.id IN ({', '.join('?' * len(part))})", part))
    conv_ids = [h.id for h in hits if h.kind == "conversation" and not (h.title and
                                                                          h.title.text)]
    contact_of = {r[0]: r[1] for r in db.execute(
        "SELECT c.id, k.name FROM conversations c LEFT JOIN contacts k ON k.id = c.contact_id "
        f"WHERE c.id IN ({', '.join('?' * len(conv_ids))})", conv_ids)} if conv_ids else {}
    out = []
    for hit in hits:
        item: dict[str, Any] = {"kind": hit.kind, "id": hit.id}
        if hit.kind == "message":
            conversation_id, title = of_message.get(hit.id, (None, None))
            item["title"] = title
            item["conversation_id"] = conversation_id
        elif hit.kind == "conversation" and not (hit.title and hit.title.text):
            item["title"] = contact_of.get(hit.id)
        else:
            item["title"] = hit.title.text if hit.title else None
        item["snippet"] = hit.snippet.text
        item["score"] = round(hit.score, 4)
        out.append(item)
    return out


async def cmd_search(args: argparse.Namespace, data_dir: Path) -> int:
    results = await _read_mirror_offline(
        data_dir, lambda db: search_results(db, args.query, args.kinds, args.limit,
                                            args.locale))
    text = "\n".join(f"{r['kind']:<12} {r['id']}  {r['title'] or ''}\n"
                     f"{'':<12} {' '.join(r['snippet'].split())}" for r in results)
    _emit(args, results, text or "No results.")
    return EXIT_OK


async def cmd_suggest(args: argparse.Namespace, data_dir: Path) -> int:
    from sync import suggest

    def read(db: Any) -> list[dict[str, Any]] | None:
        try:
            return [suggest.as_json(s) for s in suggest.suggest(db, args.conversation_id,
                                                                args.limit)]
        except suggest.UnknownConversation:
            return None

    found = await _read_mirror_offline(data_dir, read)
    if found is None:
        raise CliError(f"no conversation {args.conversation_id} in this workspace's mirror "
                       "(sync first, or check the id)")
    text = "\n".join(f"{s['title']}  [{s['locale']}{', translation' if s['translated'] else ''}]"
                     f"  ({s['id']})" for s in found)
    _emit(args, found, text or "No suggestions.")
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Path], Awaitable[int]]] = {
    "login": cmd_login,
    "logout": cmd_logout,
    "sync": cmd_sync,
    "status": cmd_status,
    "outbox": cmd_outbox,
    "reset-cache": cmd_reset_cache,
    "verify": cmd_verify,
    "search": cmd_search,
    "suggest": cmd_suggest,
}


async def _dispatch(args: argparse.Namespace, data_dir: Path) -> int:
    if args.command == "send":
        intent = {"conversation_id": args.conversation_id, "body": args.text}
        if args.template:
            intent["template"] = args.template
        if args.human_agent_tag:
            intent["human_agent_tag"] = True
        return await _queue(args, data_dir, "send_message", intent)
    if args.command == "note":
        return await _queue(args, data_dir, "add_note",
                            {"conversation_id": args.conversation_id, "body": args.text,
                             "mentions": args.mention})
    if args.command == "set-status":
        intent = {"conversation_id": args.conversation_id, "status": args.status}
        if args.status == "snoozed":
            if not args.until:
                raise CliError("snoozing needs --until (minutes from now or epoch ms)")
            intent["snoozed_until"] = _until(args.until)
        return await _queue(args, data_dir, "set_status", intent)
    return await COMMANDS[args.command](args, data_dir)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    data_dir = (args.data_dir or default_data_dir()).expanduser()
    try:
        with private_umask():  # whatever the workspace gains is the user's alone
            return asyncio.run(_dispatch(args, data_dir))
    except CliError as exc:
        print(f"relaydesk-sync: {exc}", file=sys.stderr)
        return exc.code
    except ValueError as exc:
        print(f"relaydesk-sync: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Unreachable as exc:
        print(f"relaydesk-sync: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    finally:
        workers.shutdown()  # the general pool's threads; each Store ends its own at close


if __name__ == "__main__":
    sys.exit(main())
