"""A desk that cannot open a window says why in one sentence of ours, with the command that
fixes it — not Qt's "could not load the Qt platform plugin" and an abort (issue 11).

The desk runs as a real process, on this machine's real Qt. A missing library is really
missing: a private mount namespace hides it from the dynamic loader (root only; CI runs as
root), so Qt fails to load its xcb plugin exactly as on a fresh Debian/Ubuntu.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import display_check
from app.display_check import debian_package, install_command, no_display

REPO = Path(__file__).resolve().parents[2]
QT_SAYS = "could not load the qt platform plugin"


def desk_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any display or platform choice, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")}
    return {**env, "PYTHONPATH": str(REPO), "RELAYDESK_CONFIG_DIR": str(tmp_path / "config"),
            "RELAYDESK_LOG_DIR": str(tmp_path / "logs"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **extra}


DESK = [sys.executable, "-m", "app.main", "--demo"]


def start_desk(tmp_path: Path, env: dict[str, str],
               wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [*(wrap or []), *DESK, "--data-dir", str(tmp_path / "data")]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """What the agent sees, asserted to be one line of ours and exit code 1."""
    said = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, (result.returncode, said)
    assert QT_SAYS not in said.lower()
    assert len(said.splitlines()) == 1, said
    assert said.startswith("relaydesk: cannot "), said
    return said


def unused_display() -> str:
    for n in range(4000, 4100):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return f":{n}"
    pytest.skip("no unused X display number")


# --------------------------------------------------------------------------- the desk


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland: Linux")
def test_no_display_is_said_in_one_sentence_before_anything_starts(tmp_path: Path) -> None:
    said = one_sentence(start_desk(tmp_path, desk_env(tmp_path)))
    assert said == ("relaydesk: cannot open a window: no display (DISPLAY is not set); run it "
                    "in a desktop session, or set QT_QPA_PLATFORM=offscreen for a headless "
                    "test")
    assert not (tmp_path / "data").exists()  # said before the demo backend or a workspace


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11: Linux")
def test_no_x_server_at_display_is_said_in_one_sentence(tmp_path: Path) -> None:
    display = unused_display()
    said = one_sentence(start_desk(tmp_path, desk_env(tmp_path, DISPLAY=display)))
    missing = display_check.missing_libraries()
    if missing:  # a machine without the xcb plugin's libraries: they are what stops Qt first
        assert f"({', '.join(missing)})" in said
    else:
        assert said == (f"relaydesk: cannot open a window: no X server answers at "
                        f"DISPLAY={display}; run it in a desktop session, or set "
                        "QT_QPA_PLATFORM=offscreen for a headless test")
    assert not (tmp_path / "data").exists()


# ------------------------------------------------- a library really missing (mount namespace)


def library_paths() -> dict[str, Path]:
    """Where the loader finds each library of the xcb plugin (soname -> file)."""
    out = subprocess.run(["ldd", *map(str, display_check.xcb_plugin_files())],
                         capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            found[m.group(1)] = Path(m.group(2))
    return found


def hiding(sonames: list[str], tmp_path: Path) -> list[str]:
    """A command prefix that runs a command with ``sonames`` gone from the system: a private
    mount namespace where each library's folder is overlaid with whiteouts for its files."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("hiding a system library takes root and unshare (Linux)")
    found = library_paths()
    if not all(s in found for s in sonames):
        pytest.skip(f"{sonames} are not all installed here")
    scratch = tmp_path / "ns"
    scratch.mkdir()
    lines = ["set -e", f"mount -t tmpfs none {scratch}"]
    for i, soname in enumerate(sonames):
        real = found[soname].resolve()
        upper, work = scratch / f"upper{i}", scratch / f"work{i}"
        lines.append(f"mkdir {upper} {work}")
        for name in {soname, found[soname].name, real.name}:
            lines.append(f"mknod {upper / name} c 0 0")  # an overlay whiteout: no such file
        lines.append(f"mount -t overlay overlay -o lowerdir={real.parent},upperdir={upper},"
                     f"workdir={work} {real.parent}")
    lines.append('exec "$@"')
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(lines),
              "hide"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a mount namespace here: {probe.stderr.strip()}")
    return prefix


@pytest.mark.parametrize(("soname", "package", "how"), [
    # Qt's own example: Qt 6.5+ needs it, Debian 12 and Ubuntu do not install it.
    ("libxcb-cursor.so.0", "libxcb-cursor0", "cannot open a window"),
    # QtGui itself loads it: importing Qt fails before any plugin.
    ("libEGL.so.1", "libegl1", "cannot start"),
])
def test_a_missing_library_is_named_with_the_command_that_installs_it(
        tmp_path: Path, soname: str, package: str, how: str) -> None:
    hide = hiding([soname], tmp_path)
    env = desk_env(tmp_path, DISPLAY=unused_display())

    # The check the scripts use sees it gone …
    packages = subprocess.run([*hide, sys.executable, "-m", "app.display_check", "packages"],
                              env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert packages.stdout.split() == [package]

    # … and the desk, whose Qt really fails to load it, says so and how to install it.
    said = one_sentence(start_desk(tmp_path, env, wrap=hide))
    assert said.startswith(f"relaydesk: {how}: the system libraries Qt needs are missing "
                           f"({soname}); ")
    command = install_command([soname])
    assert command is not None and command.endswith(f"install {package}")  # Debian, Fedora
    assert said.endswith(f"install them with: {command}")
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------------------- the rules


def test_no_display_reads_the_environment() -> None:
    linux = "linux"
    sentence = no_display({}, linux)
    assert sentence is not None and "DISPLAY is not set" in sentence
    assert no_display({"QT_QPA_PLATFORM": "xcb"}, linux) == sentence
    assert no_display({"QT_QPA_PLATFORM": "xcb;offscreen", "WAYLAND_DISPLAY": "w"},
                      linux) == sentence  # xcb asked for: Wayland does not help
    assert no_display({"DISPLAY": ":0"}, linux) is None
    assert no_display({"WAYLAND_DISPLAY": "wayland-0"}, linux) is None
    for platform in ("offscreen", "offscreen:fontengine=freetype", "wayland", "vnc", "minimal"):
        assert no_display({"QT_QPA_PLATFORM": platform}, linux) is None
    assert no_display({}, "darwin") is None
    assert no_display({}, "win32") is None


def test_debian_packages_for_sonames() -> None:
    assert debian_package("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert debian_package("libX11-xcb.so.1") == "libx11-xcb1"
    assert debian_package("libglib-2.0.so.0") == "libglib2.0-0"  # the table, not the rule
    # Not in the table: Debian's naming rule (policy 8.1).
    assert debian_package("libxcb-xtest.so.0") == "libxcb-xtest0"
    assert debian_package("libwayland-client.so.0") == "libwayland-client0"
    assert debian_package("libSM.so.6") == "libsm6"
    assert debian_package("libfoo2.so.5.1") == "libfoo2-5"
    assert debian_package("libfoo_bar.so.1") == "libfoo-bar1"


def test_one_install_command_for_the_system_at_hand() -> None:
    libs = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-randr.so.0", "libxcb.so.1"]

    def having(*tools: str):  # type: ignore[no-untyped-def]
        return lambda tool: f"/usr/bin/{tool}" if tool in tools else None

    assert install_command(libs, which=having("apt-get", "dnf"), root=False) == (
        "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-randr0 libxcb1")
    assert install_command(libs, which=having("apt-get"), root=True) == (
        "apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-randr0 libxcb1")
    assert install_command(libs, which=having("dnf"), root=False) == (
        "sudo dnf install xcb-util-cursor xcb-util-wm libxcb")
    # dnf, but a library we cannot name the Fedora package of; or neither tool.
    assert install_command([*libs, "libfoo.so.1"], which=having("dnf"), root=False) is None
    assert install_command(libs, which=having(), root=False) is None
    assert display_check.missing_libraries_sentence(libs[:2], None) == (
        "the system libraries Qt needs are missing (libxcb-cursor.so.0, libxcb-icccm.so.4); "
        "install the packages that provide them")


def test_the_offscreen_check_names_what_a_headless_run_lacks(tmp_path: Path) -> None:
    """`make test` and `make screenshots` run offscreen, which still loads QtGui's libraries
    (a minimal Debian lacks libxkbcommon0): their check sees a missing one."""
    assert [f.name for f in display_check.offscreen_plugin_files()] == ["libqoffscreen.so"]
    hide = hiding(["libxkbcommon.so.0"], tmp_path)
    packages = subprocess.run(
        [*hide, sys.executable, "-m", "app.display_check", "packages", "--offscreen"],
        cwd=REPO, capture_output=True, text=True, check=True)
    assert packages.stdout.split() == ["libxkbcommon0"]
    check = subprocess.run(
        [*hide, sys.executable, "-m", "app.display_check", "check", "--offscreen"],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert check.returncode == 1 and "libxkbcommon.so.0" in check.stdout
