"""Sign-in tokens in the OS keyring — and nowhere else.

Only backends keyring recommends (macOS Keychain, Windows Credential Locker, Secret
Service, KWallet) are used. Without one, tokens live in memory for this session and
``secure`` says so (as they do by design for an account that signs in by itself, such as
the desk's demo: ``keyring=False``); they are never written to the mirror, settings or
logs. Every method blocks: call them on the ``KEYRING`` lane, never on the GUI thread
(keyring itself is imported there too, by the first ``CredentialStore``).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import TYPE_CHECKING

import orjson

from sync.client import Tokens
from sync.workers import Serial

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger("relaydesk.sync.credentials")
SERVICE = "relaydesk"
# Keyring calls one at a time, in order: a sign-out's delete must not overtake the save of a
# refresh queued before it, and some backends are not safe to call from two threads at once
# (KWallet opens its D-Bus handle on first use and keeps it on the backend object).
KEYRING = Serial("relaydesk-keyring")


def is_secure(backend: KeyringBackend) -> bool:
    from keyring.backends import chainer, fail, null

    if isinstance(backend, chainer.ChainerBackend):
        # The chainer writes to its first backend (highest priority): that one must be secure.
        chained = list(backend.backends)
        return bool(chained) and is_secure(chained[0])
    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    if type(backend).__module__.startswith("keyrings.alt"):  # plaintext / file-encrypted
        return False
    try:
        return float(backend.priority) >= 1  # type: ignore[arg-type]
    except Exception:
        return False


class CredentialStore:
    """The tokens of one account (server + email)."""

    def __init__(self, server_url: str, email: str, *, keyring: bool = True) -> None:
        self.account = f"{server_url.rstrip('/')}|{email.strip().lower()}"
        self._memory: Tokens | None = None
        self.secure, self.backend_name = False, "memory"
        if not keyring:  # nothing to keep: the OS keyring is never asked
            return
        import keyring as os_keyring

        backend = os_keyring.get_keyring()
        self.secure = is_secure(backend)
        self.backend_name = type(backend).__name__
        if not self.secure:
            log.warning("no secure keyring available (%s); sign-in is kept for this session "
                        "only", self.backend_name)

    def save(self, tokens: Tokens) -> None:
        import keyring
        import keyring.errors

        self._memory = tokens
        if not self.secure:
            return
        try:
            keyring.set_password(SERVICE, self.account, orjson.dumps(asdict(tokens)).decode())
        except keyring.errors.KeyringError as exc:
            self.secure = False
            log.warning("the keyring refused to store the sign-in (%s); keeping it in memory",
                        exc.__class__.__name__)

    def load(self) -> Tokens | None:
        import keyring
        import keyring.errors

        if self._memory is not None or not self.secure:
            return self._memory
        try:
            raw = keyring.get_password(SERVICE, self.account)
        except keyring.errors.KeyringError as exc:
            log.warning("the keyring could not be read (%s)", exc.__class__.__name__)
            return None
        if not raw:
            return None
        try:
            self._memory = Tokens(**orjson.loads(raw))
        except (orjson.JSONDecodeError, TypeError):
            log.warning("ignoring an unreadable sign-in entry in the keyring")
            return None
        return self._memory

    def clear(self) -> None:
        import keyring
        import keyring.errors

        self._memory = None
        if not self.secure:
            return
        try:
            keyring.delete_password(SERVICE, self.account)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            log.warning("the keyring could not forget the sign-in (%s)", exc.__class__.__name__)
