"""The desk agrees with each entity kind's declaration (protocol.entities): the mirror its
migrations build has a table per kind with exactly the declared fields (nullable where they
are), and a payload of every declared field goes in and comes back out. Every disagreement
is named."""

from __future__ import annotations

from pathlib import Path

from protocol.entities import KINDS, Type
from sync import entities
from sync.store import Store


def test_the_migrated_mirror_has_each_kinds_declared_fields(tmp_path: Path) -> None:
    store = Store(tmp_path / "desk")
    store.open()
    wrong: list[str] = []
    try:
        with store.read_db("mirror") as db:
            for kind in KINDS:
                info = {r[1]: r for r in db.execute(f"PRAGMA table_info({kind.table})")}
                if not info:
                    wrong.append(f"no mirror table {kind.table} for {kind.entity.value}")
                    continue
                for name in set(info) - set(kind.field_names):
                    wrong.append(f"{kind.table}.{name}: in the mirror, not declared")
                for f in kind.fields:
                    if f.name not in info:
                        wrong.append(f"{kind.table}.{f.name}: declared, not in the mirror")
                    elif f.name != "id" and bool(info[f.name][3]) == f.nullable:
                        wrong.append(f"{kind.table}.{f.name}: NOT NULL is {info[f.name][3]}, "
                                     f"declared nullable={f.nullable}")
    finally:
        store.close()
    assert not wrong, "the mirror disagrees with protocol.entities:\n" + "\n".join(wrong)


def _sample(kind_field: Type, name: str) -> object:
    return {Type.TEXT: f"{name}-value", Type.INT: 7, Type.BOOL: True, Type.MS: 1_767_225_600_000,
            Type.TEXT_LIST: ["a", "b"], Type.TEXT_MAP: {"k": "v"},
            Type.IDENTITIES: [{"channel_type": "sms", "handle": "+1", "opted_out": False}],
            }[kind_field]


def test_every_declared_field_goes_into_the_mirror_and_back(tmp_path: Path) -> None:
    import orjson

    store = Store(tmp_path / "desk")
    store.open()
    try:
        for kind in KINDS:
            payload = {f.name: _sample(f.type, f.name) for f in kind.fields}
            payload["id"] = f"{kind.entity.value}-1"
            with store.write_mirror() as conn:
                entities.apply_changes(conn, [(kind.entity.value, payload["id"], "upsert",
                                               payload)])
            with store.read_db("mirror") as db:
                row = db.execute(f"SELECT * FROM {kind.table} WHERE id = ?",
                                 (payload["id"],)).fetchone()
                names = [d[0] for d in db.execute(f"SELECT * FROM {kind.table} LIMIT 0")
                         .description]
            back = dict(zip(names, row, strict=True))
            for f in kind.fields:
                value = orjson.loads(back[f.name]) if f.type.is_json else back[f.name]
                assert value == payload[f.name], (kind.entity.value, f.name)
    finally:
        store.close()
