"""Sign-in tokens go to a secure keyring or stay in memory — never anywhere else."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from sync import workers
from sync.client import Tokens
from sync.credentials import SERVICE, CredentialStore, is_secure
from tests.support.keyring_backend import FileTestKeyring

URL = "http://127.0.0.1:9/"
ALICE = "alice@test.relaydesk"
TOKENS = Tokens("access-abc123", int(time.time() * 1000) + 3_600_000, "refresh-xyz789",
                int(time.time() * 1000) + 86_400_000)


class MemoryBackend(KeyringBackend):
    """A backend that keeps entries in a dict (what a plaintext store would do)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


class AltLike(MemoryBackend):
    """Looks like keyrings.alt (plaintext or file-"encrypted"), even with a high priority."""

    priority = 5  # type: ignore[assignment]


AltLike.__module__ = "keyrings.alt.file"


def chain(*backends: KeyringBackend) -> chainer.ChainerBackend:
    """A chainer over exactly these backends, in the order the chainer would use them."""
    cls = type("Chain", (chainer.ChainerBackend,), {"backends": list(backends)})
    return cls()


@pytest.fixture
def use_backend() -> Iterator[Callable[[KeyringBackend], KeyringBackend]]:
    previous = keyring.get_keyring()

    def use(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield use
    keyring.set_keyring(previous)


# --------------------------------------------------------------------------- is_secure


def test_only_recommended_backends_count_as_secure():
    assert is_secure(fail.Keyring()) is False
    assert is_secure(null.Keyring()) is False
    assert is_secure(FileTestKeyring()) is True
    assert is_secure(MemoryBackend()) is True  # same class outside keyrings.alt: trusted
    assert is_secure(AltLike()) is False  # keyrings.alt: plaintext on disk, whatever priority

    assert is_secure(chain(fail.Keyring(), null.Keyring(), AltLike())) is False
    assert is_secure(chain()) is False
    assert is_secure(chain(FileTestKeyring(), AltLike())) is True
    # A chainer writes to its first backend: a secure one further down does not help.
    assert is_secure(chain(AltLike(), FileTestKeyring())) is False


def test_chain_order_decides_where_tokens_are_written(use_backend):
    plain, safe = AltLike(), MemoryBackend()
    use_backend(chain(plain, safe))
    store = CredentialStore(URL, ALICE)
    store.save(TOKENS)
    assert plain.entries == {} and safe.entries == {}
    assert store.secure is False and store.load() == TOKENS


# --------------------------------------------------------------------------- CredentialStore


def test_without_a_secure_keyring_tokens_stay_in_memory(use_backend, caplog):
    calls: list[str] = []

    class RecordingNull(null.Keyring):
        def get_password(self, service, username):
            calls.append("get")

        def set_password(self, service, username, password):
            calls.append("set")

        def delete_password(self, service, username):
            calls.append("delete")

    use_backend(RecordingNull())
    with caplog.at_level("WARNING", logger="relaydesk.sync.credentials"):
        store = CredentialStore(URL, ALICE)
    assert store.secure is False
    assert "no secure keyring" in caplog.text
    store.save(TOKENS)
    assert store.load() == TOKENS  # this session keeps working
    assert CredentialStore(URL, ALICE).load() is None  # the next process must sign in
    store.clear()
    assert store.load() is None
    assert calls == []  # the keyring was never touched
    for secret in (TOKENS.access_token, TOKENS.refresh_token):
        assert secret not in caplog.text


def test_file_keyring_round_trip(file_keyring: Path):
    store = CredentialStore(URL, " Alice@Test.Relaydesk ")
    assert store.secure is True
    store.save(TOKENS)
    entries = json.loads(file_keyring.read_text())
    assert list(entries) == [f"{SERVICE}\0http://127.0.0.1:9|{ALICE}"]

    # Another process (a fresh store) finds them; another account does not.
    assert CredentialStore("http://127.0.0.1:9", ALICE).load() == TOKENS
    assert CredentialStore(URL, "bob@test.relaydesk").load() is None
    assert CredentialStore("http://127.0.0.1:10", ALICE).load() is None

    store.clear()
    assert json.loads(file_keyring.read_text()) == {}
    assert store.load() is None
    assert CredentialStore(URL, ALICE).load() is None
    store.clear()  # forgetting twice is fine


@pytest.mark.parametrize("raw", ["{not json", '{"access_token": "x"}', "[1, 2]", '"text"'])
def test_an_unreadable_keyring_entry_is_ignored(file_keyring, raw, caplog):
    keyring.set_password(SERVICE, f"http://127.0.0.1:9|{ALICE}", raw)
    store = CredentialStore(URL, ALICE)
    with caplog.at_level("WARNING", logger="relaydesk.sync.credentials"):
        assert store.load() is None
    assert "unreadable" in caplog.text
    store.save(TOKENS)  # signing in again replaces it
    assert CredentialStore(URL, ALICE).load() == TOKENS


def test_a_failing_keyring_falls_back_to_memory(file_keyring, use_backend):
    class Locked(FileTestKeyring):
        def get_password(self, service, username):
            raise keyring.errors.KeyringLocked("locked")

        def set_password(self, service, username, password):
            raise keyring.errors.PasswordSetError("locked")

    use_backend(Locked())
    store = CredentialStore(URL, ALICE)
    assert store.secure is True
    assert store.load() is None  # a read error is not fatal
    store.save(TOKENS)
    assert store.secure is False  # and the state can say so
    assert store.load() == TOKENS
    assert not file_keyring.exists()


# --------------------------------------------------------------------------- threads


@pytest.mark.asyncio
async def test_keyring_calls_never_run_on_the_event_loop_thread(server, ws, file_keyring,
                                                                use_backend, make_desk):
    calls: list[tuple[str, threading.Thread]] = []

    class Recording(FileTestKeyring):
        def get_password(self, service, username):
            calls.append(("get", threading.current_thread()))
            return super().get_password(service, username)

        def set_password(self, service, username, password):
            calls.append(("set", threading.current_thread()))
            super().set_password(service, username, password)

        def delete_password(self, service, username):
            calls.append(("delete", threading.current_thread()))
            super().delete_password(service, username)

    use_backend(Recording())
    loop_thread = threading.current_thread()
    desk = await make_desk(server.url, email=ws.emails["alice"])  # start() + login()
    assert desk.engine.status.credentials_secure is True
    await desk.engine.logout()
    assert [name for name, _ in calls] == ["get", "set", "delete"]
    for name, thread in calls:
        assert thread is not loop_thread and thread is not threading.main_thread(), name
        assert thread.name.startswith(workers.GENERAL_NAME), thread.name  # its keyring lane
