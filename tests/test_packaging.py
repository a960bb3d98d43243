"""Packaging: a non-editable ``pip install .`` into a fresh venv starts the desk with its icons
and its Japanese translation, read from the installed package, not from the checkout.

What is real and what is borrowed, to stay fast (~10 s) and offline:

- The source is a copy of what git would commit (tracked and new files, nothing git ignores),
  so a ``.qm`` left in the checkout by ``make install`` cannot stand in for the one the build
  must make, and the build's ``build/`` stays out of the checkout other people work in.
- Relaydesk itself is installed for real: ``pip install --no-deps --no-build-isolation
  --no-index <copy>`` in the fresh venv builds a wheel (setup.py compiling the ``.ts`` with
  lrelease) and installs it into that venv's site-packages, not as an editable link.
- Its third-party dependencies (PySide6, SQLAlchemy, …, and the setuptools and pip that build
  and install it) are this test environment's: a ``.pth`` in the fresh venv points at a
  directory of symlinks to this environment's site-packages, minus Relaydesk's own editable
  install. Installing them again would download or unpack hundreds of megabytes and could not
  run offline; it would test pip, not our package.

The installed desk then runs from a directory outside the checkout in isolated mode (``-I``:
no PYTHONPATH, no current directory on ``sys.path``), and ``relaydesk --demo --language ja``,
its console script, starts, opens its window in Japanese and quits cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OUR_PACKAGES = {"app", "protocol", "sync", "server", "plugins", "resources"}

# Run by the installed desk's python: what it loaded, from where, and whether it works.
CHECK = r"""
import importlib.metadata, json, sys
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

qapp = QApplication([])
import app, resources
from app import i18n, icons

language = i18n.install_translations(qapp, "ja")
image = icons.icon("send", "#000000").pixmap(32, 32).toImage()
drawn = sum(image.pixelColor(x, y).alpha() > 0 for x in range(32) for y in range(32))
dist = importlib.metadata.distribution("relaydesk")
print(json.dumps({
    "language": language,
    "pending": QCoreApplication.translate("Labels", "Pending"),
    "icons": icons.names(),
    "drawn_pixels": drawn,
    "files": [m.__file__ for m in (app, resources, i18n, icons)],
    "qm": str(i18n.TRANSLATIONS.joinpath("relaydesk_ja.qm")),
    "direct_url": json.loads(dist.read_text("direct_url.json") or "{}"),
    "sys_path": sys.path,
}))
"""


def run(command: list[str | Path], cwd: Path, timeout: float = 120,
        env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def copy_what_git_commits(source: Path) -> None:
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO)
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():  # (a tracked file someone just deleted is not there)
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)


def link_dependencies(view: Path) -> None:
    """Symlinks to this environment's installed distributions, except Relaydesk's own."""
    view.mkdir()
    for site in dict.fromkeys(Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")):
        for entry in site.iterdir():
            name = entry.name
            if (name in OUR_PACKAGES or name.startswith(("relaydesk-", "__editable__"))
                    or name.endswith(".pth") or name == "__pycache__"
                    or (view / name).exists()):
                continue
            (view / name).symlink_to(entry)


def desk_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    return {**env, "QT_QPA_PLATFORM": "offscreen", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "RELAYDESK_CONFIG_DIR": str(tmp_path / "config"),
            "RELAYDESK_LOG_DIR": str(tmp_path / "logs"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def wait_for_log(log: Path, text: str, process: subprocess.Popen[bytes],
                 timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(encoding="utf-8") if log.exists() else ""
        if text in content:
            return content
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"the desk exited ({process.returncode}) before "
                                 f"{text!r}:\n{output}\n{content}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {text!r} in {log}")


@pytest.mark.slow
def test_a_non_editable_install_starts_the_desk_with_its_icons_and_japanese(
        tmp_path: Path) -> None:
    source, venv, outside = tmp_path / "source", tmp_path / "venv", tmp_path / "elsewhere"
    source.mkdir()
    outside.mkdir()
    copy_what_git_commits(source)
    assert not list(source.rglob("*.qm")), "the build must compile the .qm, not copy one"

    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    python = venv / "bin" / "python"
    site = Path(run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()"
                     "['purelib'])"], outside).strip())
    link_dependencies(tmp_path / "dependencies")
    (site / "relaydesk_test_dependencies.pth").write_text(f"{tmp_path / 'dependencies'}\n")

    env = desk_env(tmp_path)
    run([python, "-I", "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", source], outside, env=env)

    found = json.loads(run([python, "-I", "-c", CHECK], outside, env=env).splitlines()[-1])
    # Loaded from the fresh venv's site-packages, installed as files (not an editable link),
    # with neither the checkout nor its copy on sys.path.
    for file in [*found["files"], found["qm"]]:
        assert Path(file).resolve().is_relative_to(site.resolve()), file
    assert not found["direct_url"].get("dir_info", {}).get("editable", False)
    assert not any(str(REPO) in entry or str(source) in entry for entry in found["sys_path"])
    # The icons and the translation the build shipped, working.
    assert found["icons"] == sorted(p.stem for p in (REPO / "resources" / "icons").glob("*.svg"))
    assert found["drawn_pixels"] > 0
    assert found["language"] == "ja"
    assert found["pending"] == "保留中"

    # The installed console script starts the desk on its demo workspace, in Japanese.
    log = tmp_path / "logs" / "relaydesk.log"
    desk = subprocess.Popen([venv / "bin" / "relaydesk", "--demo", "--language", "ja",
                             "--data-dir", tmp_path / "demo"], cwd=outside, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        wait_for_log(log, "desk window open", desk, 60)
        desk.send_signal(signal.SIGTERM)
        assert desk.wait(30) == 0
    finally:
        if desk.poll() is None:
            desk.kill()
            desk.wait()
    text = log.read_text(encoding="utf-8")
    assert "language ja (asked: ja)" in text
    assert "desk closed cleanly" in text
    assert "no translation" not in text and "no icon" not in text
