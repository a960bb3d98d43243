"""Suite-wide settings: Qt renders offscreen; nothing reaches the network but loopback."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests must never talk to a real keyring or pick up a developer's workspace.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
