"""``relaydesk-server``: run, seed and administer the reference backend.

Exit codes: 0 success, 1 failure (database unreachable, server error), 2 usage or input
error (the message says what to fix).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import socket
import sys
import time
from pathlib import Path

from server import limits
from server.config import ServerSettings, default_data_dir

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _add_db_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None,
                   help="directory for the default SQLite database and server files "
                        f"(default: {default_data_dir()})")
    p.add_argument("--database-url", default=os.environ.get("RELAYDESK_DATABASE_URL"),
                   help="SQLAlchemy URL, e.g. postgresql+psycopg://relaydesk@db/relaydesk "
                        "(default: a SQLite file in the data directory; env "
                        "RELAYDESK_DATABASE_URL)")


def _settings(args: argparse.Namespace) -> ServerSettings:
    from server.db import sqlite_url_for

    data_dir = (args.data_dir or default_data_dir()).expanduser()
    url = args.database_url or sqlite_url_for(data_dir)
    return ServerSettings(database_url=url, data_dir=data_dir)


def _open_db(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from server.db import Database, make_private_dir

    settings = _settings(args)
    make_private_dir(settings.data_dir)
    db = Database(settings.database_url)
    db.migrate()
    return settings, db


def _duration(text: str) -> int:
    """'30d', '12h', '15m', '45s' or plain seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30d, 12h, 90s)") from None


def _size(text: str) -> int:
    try:
        return limits.parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _network(text: str):  # type: ignore[no-untyped-def]
    from server.proxies import parse_network

    try:
        return parse_network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaydesk-server",
        description="The Relaydesk reference backend: sync feed, intents and channels.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="migrate the database, then serve the HTTP API",
                           description="Migrate the database, then serve the HTTP API. "
                                       "Prints the URL it listens on.")
    _add_db_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765,
                       help="port to bind (default 8765; 0 picks a free one)")
    serve.add_argument("--change-retention", type=_duration, default="30d",
                       help="how long feed changes and tombstones are kept (default 30d)")
    serve.add_argument("--access-token-ttl", type=_duration, default="1h")
    serve.add_argument("--refresh-token-ttl", type=_duration, default="30d")
    serve.add_argument("--heartbeat", type=float, default=2.0,
                       help="seconds between server-sent-event heartbeats, announced to "
                            "desks, which take a stream silent for two of them as dead "
                            "(default 2)")
    serve.add_argument("--maintenance-interval", type=_duration, default="1h",
                       help="how often old changes and tokens are pruned (default 1h)")
    serve.add_argument("--workers-threads", type=int, default=40,
                       help="threads serving blocking requests (default 40)")
    serve.add_argument("--auth-body-limit", type=_size, default=limits.AUTH_BODY_LIMIT,
                       metavar="SIZE",
                       help="largest request body for sign-in and every route without its own "
                            f"limit (default {limits.AUTH_BODY_LIMIT} bytes: the largest legal "
                            "sign-in); e.g. 16KiB")
    serve.add_argument("--inbound-body-limit", type=_size, default=limits.INBOUND_BODY_LIMIT,
                       metavar="SIZE",
                       help="largest body for channels/ID/inbound (default "
                            f"{limits.INBOUND_BODY_LIMIT} bytes: the largest legal inbound "
                            "message in any JSON encoding)")
    serve.add_argument("--push-body-limit", type=_size, default=limits.PUSH_BODY_LIMIT,
                       metavar="SIZE",
                       help="largest body for sync/push, read after the bearer token is "
                            f"checked (default {limits.PUSH_BODY_LIMIT} bytes: "
                            f"{limits.MAX_MUTATIONS_PER_PUSH} intents with full-length texts as "
                            "UTF-8 JSON)")
    serve.add_argument("--article-body-limit", type=_size, default=limits.ARTICLE_BODY_LIMIT,
                       metavar="SIZE",
                       help="largest body for creating or editing an article, read after the "
                            f"bearer token is checked (default {limits.ARTICLE_BODY_LIMIT} "
                            "bytes: the largest legal article in any JSON encoding)")
    serve.add_argument("--trusted-proxy", type=_network, action="append", default=[],
                       metavar="ADDR_OR_CIDR",
                       help="a reverse proxy whose Forwarded / X-Forwarded-For / X-Real-IP "
                            "headers name the client (repeat for several; default none: those "
                            "headers are ignored)")

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    _add_db_options(migrate)

    seed = sub.add_parser("seed", help="fill the database with a workspace")
    seed_sub = seed.add_subparsers(dest="seed_kind", required=True, metavar="KIND")
    demo = seed_sub.add_parser("demo", help="the realistic demo workspace (idempotent)")
    _add_db_options(demo)
    synth = seed_sub.add_parser("synthetic", help="a large generated workspace for benchmarks")
    _add_db_options(synth)
    synth.add_argument("--conversations", type=int, required=True)
    synth.add_argument("--messages-per-conversation", type=int, required=True)
    synth.add_argument("--seed", type=int, default=7, help="random seed (default 7)")

    team = sub.add_parser("team", help="manage teams")
    team_sub = team.add_subparsers(dest="team_cmd", required=True, metavar="ACTION")
    team_add = team_sub.add_parser("add", help="create a team")
    _add_db_options(team_add)
    team_add.add_argument("--name", required=True)

    agent = sub.add_parser("agent", help="manage agents")
    agent_sub = agent.add_subparsers(dest="agent_cmd", required=True, metavar="ACTION")
    agent_add = agent_sub.add_parser(
        "add", help="create an agent",
        description="Create an agent. The password is read from standard input "
                    "(--password-stdin), so it never appears in the process list or history.")
    _add_db_options(agent_add)
    agent_add.add_argument("--email", required=True)
    agent_add.add_argument("--name", required=True)
    agent_add.add_argument("--role", required=True, choices=["agent", "trainee", "supervisor"])
    agent_add.add_argument("--team", action="append", default=[],
                           help="team name or id (repeat for several)")
    agent_add.add_argument("--password-stdin", action="store_true", required=True,
                           help="read the password from the first line of standard input")
    agent_teams = agent_sub.add_parser("set-teams", help="replace an agent's teams")
    _add_db_options(agent_teams)
    agent_teams.add_argument("--email", required=True)
    agent_teams.add_argument("--team", action="append", default=[])

    channel = sub.add_parser("channel", help="manage channels")
    channel_sub = channel.add_subparsers(dest="channel_cmd", required=True, metavar="ACTION")
    channel_add = channel_sub.add_parser(
        "add", help="create a channel; prints its id and inbound secret")
    _add_db_options(channel_add)
    channel_add.add_argument("--type", required=True,
                             choices=["email", "web_chat", "sms", "whatsapp", "messenger",
                                      "instagram", "line"])
    channel_add.add_argument("--name", required=True)
    channel_add.add_argument("--team", required=True, help="team name or id")

    arts = sub.add_parser("articles", help="import or export the knowledge base as Markdown files")
    arts_sub = arts.add_subparsers(dest="articles_cmd", required=True, metavar="ACTION")
    arts_import = arts_sub.add_parser(
        "import", help="create or update articles from a folder of Markdown files",
        description="Create or update the articles in DIR's *.md files (KEY.LOCALE.md, YAML "
                    "front matter: title, locale, category, tags, visibility, teams, status). "
                    "An article with the same key and locale is updated in place, with a new "
                    "version only when something differs. Bad files are listed with the "
                    "reason and change nothing; the others import. Exit code 0 when every "
                    "file imported, 2 when any failed.")
    _add_db_options(arts_import)
    arts_import.add_argument("dir", type=Path, metavar="DIR")
    arts_import.add_argument("--as", dest="author", required=True, metavar="EMAIL",
                             help="the supervisor the new versions are recorded under")
    arts_export = arts_sub.add_parser(
        "export", help="write every article to a folder as Markdown files",
        description="Write every article (every status) to DIR as KEY.LOCALE.md, in one "
                    "canonical form, so the folder can live in git: export, import and "
                    "export again gives the same bytes. Other files in DIR are left alone.")
    _add_db_options(arts_export)
    arts_export.add_argument("dir", type=Path, metavar="DIR")

    prune = sub.add_parser("prune", help="drop feed changes older than the retention now")
    _add_db_options(prune)
    prune.add_argument("--change-retention", type=_duration, default="30d")
    return parser


def _cmd_serve(args: argparse.Namespace) -> int:
    import anyio.to_thread
    import uvicorn

    from server.app import create_app

    settings, db = _open_db(args)
    settings.change_retention_s = args.change_retention
    settings.access_token_ttl_s = args.access_token_ttl
    settings.refresh_token_ttl_s = args.refresh_token_ttl
    settings.heartbeat_s = args.heartbeat
    settings.maintenance_interval_s = float(max(1, args.maintenance_interval))
    settings.body_limits = limits.BodyLimits(auth=args.auth_body_limit,
                                             inbound=args.inbound_body_limit,
                                             push=args.push_body_limit,
                                             article=args.article_body_limit)
    settings.trusted_proxies = tuple(args.trusted_proxy)
    try:
        # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) on accepted
        # connections only when the listening socket says so; otherwise every small
        # response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET,
                             socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"relaydesk-server: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return EXIT_FAILURE
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host

    def announce() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = args.workers_threads
        print(f"Relaydesk server listening on http://{shown}:{port} "
              f"(database: {db.display_url})", flush=True)

    app = create_app(settings, db, on_started=announce)
    # The app's long-lived objects never need collecting; a bootstrap allocates millions of
    # short-lived ones, so collect young objects less often (measured: ~1.5x rows per CPU-s).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from any loopback
    # peer as the client's address; the app reads it only from --trusted-proxy peers.
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=3, proxy_headers=False)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return EXIT_OK


def _cmd_seed(args: argparse.Namespace) -> int:
    from server import seed

    _, db = _open_db(args)
    if args.seed_kind == "demo":
        result = seed.seed_demo(db)
        print("Demo workspace " + ("created." if result.created else "already present."))
        print("Sign in with:")
        for email, password, role in seed.demo_credentials(result.workspace):
            print(f"  {role:<10} {email}  password: {password}")
        if result.channel_secrets:
            print("Channels (id, inbound secret — shown only now):")
            for name, (cid, secret) in result.channel_secrets.items():
                print(f"  {name}: {cid}  {secret}")
        return EXIT_OK
    if args.conversations < 1 or args.messages_per_conversation < 0:
        print("relaydesk-server: --conversations must be ≥ 1 and "
              "--messages-per-conversation ≥ 0", file=sys.stderr)
        return EXIT_USAGE
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(f"\r  {done:,}/{total:,} conversations", end="", file=sys.stderr, flush=True)

    res = seed.seed_synthetic(db, args.conversations, args.messages_per_conversation,
                              seed=args.seed, progress=progress)
    print(file=sys.stderr)
    print(f"Seeded {res.conversations:,} conversations and {res.messages:,} messages "
          f"in {time.monotonic() - started:.1f} s.")
    print(f"Sign in as {res.supervisor} (supervisor) or bench-agent-00..{len(res.agents) - 1:02d}"
          f"@synthetic.test, password: {res.password}")
    return EXIT_OK


def _cmd_admin(args: argparse.Namespace) -> int:
    from server import admin
    from server.feed import ChangeBuffer

    _, db = _open_db(args)
    password = None
    if args.command == "agent" and args.agent_cmd == "add":
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            print("relaydesk-server: no password on standard input", file=sys.stderr)
            return EXIT_USAGE
    try:
        with db.write() as s:
            buf = ChangeBuffer(s, is_postgres=db.is_postgres)
            if args.command == "team":
                team = admin.add_team(s, buf, args.name)
                message = f"Team {team.name!r} created: {team.id}"
            elif args.command == "agent" and args.agent_cmd == "add":
                agent = admin.add_agent(s, buf, email=args.email, name=args.name,
                                        role=args.role, teams=args.team, password=password or "")
                message = f"Agent {agent.email} ({agent.role}) created: {agent.id}"
            elif args.command == "agent":
                admin.set_agent_teams(s, buf, args.email, args.team)
                message = f"Teams of {args.email} set; their desk will re-sync."
            else:
                new = admin.add_channel(s, buf, type_=args.type, name=args.name, team=args.team)
                message = (f"Channel {new.channel.name!r} ({new.channel.type}) created.\n"
                           f"  id:     {new.channel.id}\n"
                           f"  secret: {new.secret}\n"
                           "Keep the secret: it is shown only now. Providers post to "
                           f"/api/v1/channels/{new.channel.id}/inbound with the header "
                           "X-Relaydesk-Channel-Secret.")
            buf.flush()
    except admin.AdminError as exc:
        print(f"relaydesk-server: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(message)
    return EXIT_OK


def _cmd_articles(args: argparse.Namespace) -> int:
    from server import article_files

    _, db = _open_db(args)
    if args.articles_cmd == "export":
        exported = article_files.export_folder(db, args.dir)
        print(f"Exported {len(exported.written) + len(exported.unchanged)} articles to "
              f"{args.dir}: {len(exported.written)} written, {len(exported.unchanged)} "
              "already up to date.")
        return EXIT_OK
    report = article_files.import_folder(db, args.dir, args.author)
    for problem in report.failed:
        print(f"relaydesk-server: {problem.name}: {problem.reason}", file=sys.stderr)
    print(f"Imported from {args.dir}: {len(report.created)} created, {len(report.updated)} "
          f"updated, {len(report.unchanged)} unchanged, {len(report.failed)} failed.")
    return EXIT_OK if report.ok else EXIT_USAGE


def _cmd_prune(args: argparse.Namespace) -> int:
    from server import maintenance

    _, db = _open_db(args)
    through = maintenance.prune(db, args.change_retention * 1000)
    print(f"Feed changes pruned through seq {through}.")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            return _cmd_serve(args)
        if args.command == "migrate":
            _, db = _open_db(args)
            print(f"Database is up to date ({db.display_url}).")
            return EXIT_OK
        if args.command == "seed":
            return _cmd_seed(args)
        if args.command == "prune":
            return _cmd_prune(args)
        if args.command == "articles":
            return _cmd_articles(args)
        return _cmd_admin(args)
    except ValueError as exc:
        print(f"relaydesk-server: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # e.g. a data directory that cannot be created
        where = f"cannot use {exc.filename}: " if exc.filename else ""
        print(f"relaydesk-server: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # an operational failure: one sentence, details with -v
        from sqlalchemy.exc import ArgumentError, OperationalError

        if isinstance(exc, ArgumentError):
            print(f"relaydesk-server: not a database URL: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, OperationalError):
            if args.verbose:
                logging.exception("database error")
            # Drivers write several lines (psycopg adds a hint); one line is what scripts and
            # service logs want.
            reason = " ".join(str(exc.orig or exc).split())
            print(f"relaydesk-server: cannot use the database: {reason}", file=sys.stderr)
            return EXIT_FAILURE
        raise


if __name__ == "__main__":
    sys.exit(main())
