"""Helpers every sync test shares: reading a mirror, comparing it with the server, polling,
and the module-scoped server that the fault and regression suites reuse."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from server.db import Database
from sync import entities
from sync.store import Store
from tests.server.harness import Api, LiveServer, Workspace

Rows = dict[tuple[str, str], dict[str, Any]]


async def wait_for(pred: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02
                   ) -> bool:
    """Poll ``pred`` on the running loop (the engine keeps running in between)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if pred():
            return True
        await asyncio.sleep(interval)
    return bool(pred())


def mirror_rows(store: Store) -> Rows:
    """Every row of the mirror, keyed like ``expected_state``."""
    out = {}
    with store.read_mirror() as conn:
        for entity, spec in entities.SPECS.items():
            for row in conn.execute(select(spec.table)).mappings():
                out[(entity.value, row["id"])] = dict(row)
    return out


def as_rows(expected: Rows) -> Rows:
    """``expected_state`` payloads as the mirror stores them (JSON fields as text)."""
    return {k: entities.SPECS[entities.Entity(k[0])].to_row(v) for k, v in expected.items()}


# --------------------------------------------------------------------------- module-scoped server
# Import these fixtures into a test module to share one server and workspace between its
# tests (each test then works on conversations of its own).


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Any]]:
    from tests.sync.faults import shared_server

    with shared_server(tmp_path_factory.mktemp("server")) as triple:
        yield triple


@pytest.fixture(scope="module")
def server_db(shared: tuple[Any, Any, Any]) -> Database:
    return shared[0]


@pytest.fixture(scope="module")
def ws(shared: tuple[Any, Any, Any]) -> Workspace:
    return shared[1]


@pytest.fixture(scope="module")
def server(shared: tuple[Any, Any, Any]) -> LiveServer:
    return shared[2]


@pytest.fixture
def api(server: LiveServer) -> Iterator[Api]:
    with Api(server.url) as client:
        yield client
