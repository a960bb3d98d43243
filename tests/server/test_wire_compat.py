"""The wire format is pinned: desks and servers of different builds keep syncing.

``wire_format.json`` holds what the server said and what the desk sent in one scripted
session, recorded from the build of December 2026 (before the protocol package): sign-in,
inbound messages, every intent pushed (applied, duplicate, refused), bootstrap pages in both
formats, a pull, the error shape. The tests check that

- today's server answers the same script with the same JSON (key names, key order, value
  types and values; ids, tokens and times are placeholders, rows compared in a canonical
  order because ids are random);
- today's desk still applies the recorded pages to its mirror (a server of that build);
- today's server still takes the recorded pushes (a desk of that build).

Re-record (``python -m tests.server.test_wire_compat record``) only when the protocol
changes on purpose; the diff of the JSON file is then the wire change to review.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson

from tests.server.harness import PASSWORD, PREFIX, Api, LiveServer, Workspace, build_workspace

RECORDED = Path(__file__).with_name("wire_format.json")
CLIENT_ID = "wire-compat-client-1"

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_TOKEN_KEYS = {"access_token", "refresh_token", "page_token", "next_page_token"}
_MS_KEYS = re.compile(r"(_at|_until|server_time)$")


# --------------------------------------------------------------------------- normal form


def normalize(value: Any, key: str = "") -> Any:
    """Ids, tokens and times as placeholders; everything else as it was."""
    if isinstance(value, dict) and "columns" in value and "rows" in value:
        columns = value["columns"]  # a columns-format group: each value under its column
        return {**{k: normalize(v, k) for k, v in value.items() if k != "rows"},
                "rows": [[normalize(v, c) for v, c in zip(row, columns, strict=True)]
                         for row in value["rows"]]}
    if isinstance(value, dict):
        return {k: normalize(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v, key) for v in value]
    if isinstance(value, str):
        if key in _TOKEN_KEYS:
            return "<token>"
        if _UUID.match(value):
            return "<uuid>"
        return _ISO.sub("<iso>", value)
    if isinstance(value, int) and not isinstance(value, bool) and _MS_KEYS.search(key):
        return "<ms>"
    return value


def _canonical(rows: list[Any]) -> list[Any]:
    """Rows in an order that does not depend on their (random) ids."""
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))


def canonical(exchange: dict[str, Any]) -> dict[str, Any]:
    """A normalized session with its row lists in canonical order."""
    out = json.loads(json.dumps(exchange))
    for page in out["bootstrap_items"]:
        page["items"] = _canonical(page["items"])
    for page in out["bootstrap_columns"]:
        for group in page["groups"]:
            group["rows"] = _canonical(group["rows"])
    for page in out["pull"]:  # which change got which position can follow the ids
        page["seqs"] = sorted(c["seq"] for c in page["changes"])
        page["changes"] = _canonical([{k: v for k, v in c.items() if k != "seq"}
                                      for c in page["changes"]])
    return out


# --------------------------------------------------------------------------- the script

_FUTURE = 4_102_444_800_000  # 2100-01-01
# What the recorded desk pushed: every intent (applied, refused, unknown), then a second
# batch starting two back (duplicates). ``{name}`` stands for an id of the session.
_MUTATIONS: list[dict[str, Any]] = [
    {"id": 1, "name": "send_message", "args": {
        "conversation_id": "{sms}", "message_id": "{m1}", "body": "On its way"}},
    {"id": 2, "name": "add_note", "args": {
        "conversation_id": "{sms}", "message_id": "{m2}", "body": "Courier asked",
        "mentions": ["{tina}"]}},
    {"id": 3, "name": "set_status", "args": {
        "conversation_id": "{mail}", "status": "snoozed", "snoozed_until": _FUTURE}},
    {"id": 4, "name": "assign", "args": {"conversation_id": "{mail}", "agent_id": "{alice}"}},
    {"id": 5, "name": "set_priority", "args": {"conversation_id": "{sms}",
                                               "priority": "urgent"}},
    {"id": 6, "name": "add_tag", "args": {"conversation_id": "{sms}", "tag": "vip"}},
    {"id": 7, "name": "remove_tag", "args": {"conversation_id": "{sms}", "tag": "vip"}},
    {"id": 8, "name": "mark_read", "args": {"conversation_id": "{chat}"}},
    {"id": 9, "name": "assign", "args": {"conversation_id": "{chat}", "agent_id": None}},
    {"id": 10, "name": "set_status", "args": {"conversation_id": "{chat}",
                                              "status": "resolved"}},
    {"id": 11, "name": "send_message", "args": {
        "conversation_id": "{chat}", "message_id": "{m11}", "body": "Bye",
        "template": "no-such-template"}},
    {"id": 12, "name": "no_such_intent", "args": {}},
]
PUSHES = [{"client_id": CLIENT_ID, "mutations": _MUTATIONS[:6]},
          {"client_id": CLIENT_ID, "mutations": _MUTATIONS[4:]}]


def concrete(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with each ``{name}`` replaced by ``ids[name]`` (a message id made up)."""
    if isinstance(value, dict):
        return {k: concrete(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [concrete(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        name = value[1:-1]
        return ids.get(name) or ids.setdefault(name, str(uuid.uuid4()))
    return value


def _json(response: Any) -> Any:
    return {"status": response.status_code, "body": orjson.loads(response.content)}


def session_script(api: Api, ws: Workspace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the recorded session against a server; (what it said, the raw pushes sent)."""
    said: dict[str, Any] = {}
    login = api.http.post(f"{PREFIX}/auth/login",
                          json={"email": ws.emails["alice"], "password": PASSWORD})
    said["login"] = _json(login)
    api.token = login.json()["access_token"]

    def inbound(channel: str, handle: str, text: str, **extra: Any) -> dict[str, Any]:
        cid = ws.channels[channel]
        r = api.http.post(f"{PREFIX}/channels/{cid}/inbound",
                          headers={"X-Relaydesk-Channel-Secret": ws.secrets[cid]},
                          json={"handle": handle, "text": text,
                                "provider_message_id": uuid.uuid4().hex, **extra})
        return _json(r)

    said["inbound"] = [
        inbound("a_sms", "+15550100111", "Hello, my parcel is late"),
        inbound("a_email", "Ann@Example.com", "<p>Invoice <b>AH-1</b></p>",
                subject="Invoice question", display_name="Ann Lee"),
        inbound("a_whatsapp", "+15550100222", "Hi there"),
    ]
    ids = {"sms": said["inbound"][0]["body"]["conversation_id"],
           "mail": said["inbound"][1]["body"]["conversation_id"],
           "chat": said["inbound"][2]["body"]["conversation_id"],
           "alice": ws.agents["alice"], "tina": ws.agents["tina"]}
    pushes = concrete(PUSHES, ids)
    said["push"] = [_json(api.post("/sync/push", json=body)) for body in pushes]

    said["bootstrap_items"], said["bootstrap_columns"] = [], []
    for fmt, key in (("items", "bootstrap_items"), ("columns", "bootstrap_columns")):
        token = None
        while True:
            params: dict[str, Any] = {"format": fmt}
            if token:
                params["page_token"] = token
            page = orjson.loads(api.get("/sync/bootstrap", params=params).content)
            said[key].append(page)
            token = page["next_page_token"]
            if token is None:
                break
    said["pull"] = [orjson.loads(api.get(
        "/sync/pull", params={"cursor": 0, "limit": 1000, "client_id": CLIENT_ID}).content)]
    api.token = "not-a-token"
    said["errors"] = [_json(api.get("/sync/pull", params={"cursor": 0})),
                      _json(api.get("/sync/pull", params={"cursor": "x"}))]
    return said, {"pushes": PUSHES}


def record_or_run(database_url: str, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from server.db import Database

    db = Database(database_url)
    db.migrate()
    ws = build_workspace(db)
    server = LiveServer(database_url, tmp_path, heartbeat_s=1.0)
    server.start()
    try:
        with Api(server.url) as api:
            return session_script(api, ws)
    finally:
        server.stop()
        db.dispose()


def recorded() -> dict[str, Any]:
    return json.loads(RECORDED.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- tests


def test_the_server_answers_as_the_recorded_build_did(database_url: str, tmp_path: Path
                                                      ) -> None:
    said, _sent = record_or_run(database_url, tmp_path)
    want = canonical(recorded()["said"])
    got = canonical(normalize(said))
    for part in want:  # one part at a time: a failure names the exchange that changed
        assert got[part] == want[part], f"the wire format of {part!r} changed"


def _denormalized(value: Any, key: str = "") -> Any:
    """A recorded page with its placeholders made concrete again (fresh ids, fixed times)."""
    if isinstance(value, dict):
        return {k: _denormalized(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_denormalized(v, key) for v in value]
    if value == "<uuid>":
        return str(uuid.uuid4())
    if value == "<ms>":
        return 1_767_225_600_000  # 2026-01-01
    if value == "<token>":
        return "recorded-token"
    if isinstance(value, str):
        return value.replace("<iso>", "2026-01-01T00:00:00Z")
    return value


def test_a_desk_of_today_applies_pages_of_the_recorded_server(tmp_path: Path) -> None:
    from sync import mirror
    from sync.store import Store

    pages = recorded()["said"]
    store = Store(tmp_path / "desk")
    store.open()
    try:
        for fmt in ("bootstrap_items", "bootstrap_columns"):
            store.rebuild_mirror()
            counts: dict[str, int] = {}
            for raw in pages[fmt]:
                page = _denormalized(raw)
                page["next_page_token"] = None if raw["next_page_token"] is None else "t"
                parsed = mirror.parse_bootstrap_page(orjson.dumps(page))
                mirror.apply_bootstrap_page(store, parsed)
            with store.read_db("mirror") as db:
                for table in ("teams", "agents", "channels", "templates", "canned_replies",
                              "contacts", "conversations", "messages"):
                    counts[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            want = {"teams": 2, "agents": 4, "channels": 7, "templates": 2,
                    "canned_replies": 2, "contacts": 3, "conversations": 3}
            assert {k: counts[k] for k in want} == want, fmt
            assert counts["messages"] >= 8, fmt  # three inbound, a reply, a note, events
        store.rebuild_mirror()  # from the start of the feed, as a desk that pulls only
        pull = _denormalized(pages["pull"][0])
        result = mirror.apply_pull_page(store, orjson.dumps(pull), 0)
        assert result.applied == len(pull["changes"]) > 0
    finally:
        store.close()


def test_the_server_takes_the_pushes_a_recorded_desk_sent(database_url: str, tmp_path: Path
                                                          ) -> None:
    """The recorded desk's push bodies, with today's conversation ids: same answers."""
    from server.db import Database

    db = Database(database_url)
    db.migrate()
    ws = build_workspace(db)
    server = LiveServer(database_url, tmp_path, heartbeat_s=1.0)
    server.start()
    try:
        with Api(server.url) as api:
            api.login(ws.emails["alice"])
            ids = {"alice": ws.agents["alice"], "tina": ws.agents["tina"]}
            for name, (channel, handle) in {"sms": ("a_sms", "+15550100111"),
                                            "mail": ("a_email", "ann@example.com"),
                                            "chat": ("a_whatsapp", "+15550100222")}.items():
                ids[name] = api.inbound(ws, channel, handle, "Hi").conversation_id
            answers = [normalize(_json(api.post("/sync/push", json=body)))
                       for body in concrete(recorded()["sent"]["pushes"], ids)]
        want = recorded()["said"]["push"]
        assert [[(x["id"], x["status"], (x.get("error") or {}).get("code"))
                 for x in a["body"]["results"]] for a in answers] == \
               [[(x["id"], x["status"], (x.get("error") or {}).get("code"))
                 for x in w["body"]["results"]] for w in want]
    finally:
        server.stop()
        db.dispose()


def _record(path: Path) -> None:  # pragma: no cover - run by hand
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        said, sent = record_or_run(f"sqlite:///{tmp}/server.sqlite3", Path(tmp))
    path.write_text(json.dumps({"said": normalize(said), "sent": sent},
                               indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"recorded {path}")


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] != ["record"]:
        sys.exit("usage: python -m tests.server.test_wire_compat record")
    _record(RECORDED)
