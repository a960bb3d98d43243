"""Can the desk open a window? Said in one sentence of ours, not in Qt's abort.

On Linux Qt ends the process (qFatal, exit by SIGABRT) when no platform plugin loads: with no
display at all, with no X server at ``DISPLAY``, or when a library the xcb plugin needs is
missing, as on a fresh Debian/Ubuntu (libxcb-cursor0, libxcb-icccm4 …). Start-up pays only
for reading the environment (``no_display``); the libraries are examined (``ldd`` on the xcb
plugin) only after Qt failed, and by ``scripts/ensure-x11-libs`` before ``make run``
(``python -m app.display_check``). Standard library only: this runs before Qt is imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

# The libraries Qt's xcb plugin and QtGui load, with the packages that ship them: (Debian and
# Ubuntu, Fedora). A library not listed gets its Debian name from the soname (debian_package).
LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libXau.so.6": ("libxau6", "libXau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}

HEADLESS_HINT = ("run it in a desktop session, or set QT_QPA_PLATFORM=offscreen for a "
                 "headless test")


def requested_platform(env: Mapping[str, str]) -> str:
    """The platform plugin asked for by ``QT_QPA_PLATFORM`` ("xcb", "offscreen" …; the
    first of a list, without its options), "" for Qt's default."""
    return env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()


def no_display(env: Mapping[str, str], system: str = sys.platform) -> str | None:
    """Why Qt could not open a window, judged from the environment alone (start-up's check:
    no file or process is looked at), or None when it may."""
    if not system.startswith("linux"):
        return None
    platform = requested_platform(env)
    if platform not in ("", "xcb"):
        return None  # offscreen, wayland (whose socket has a default name), vnc, eglfs …
    if env.get("DISPLAY") or (not platform and env.get("WAYLAND_DISPLAY")):
        return None
    return f"cannot open a window: no display (DISPLAY is not set); {HEADLESS_HINT}"


# --------------------------------------------------------------------------- libraries


def qt_directory() -> Path | None:
    """PySide6's bundled Qt (``…/PySide6/Qt``), found without importing PySide6."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def xcb_plugin_files(qt_dir: Path | None = None) -> list[Path]:
    """The xcb platform plugin and the Qt library it is built on; what they load, they load
    through these (QtGui's own libraries included)."""
    qt_dir = qt_dir or qt_directory()
    if qt_dir is None:
        return []
    files = [qt_dir / "plugins" / "platforms" / "libqxcb.so",
             *sorted((qt_dir / "lib").glob("libQt6XcbQpa.so*"))]
    return [f for f in files if f.is_file()]


def offscreen_plugin_files(qt_dir: Path | None = None) -> list[Path]:
    """The offscreen platform plugin (the test suite's and the screenshots'): what even a
    headless run of the desk loads (QtGui's GL, fonts and X11 client libraries)."""
    qt_dir = qt_dir or qt_directory()
    if qt_dir is None:
        return []
    plugin = qt_dir / "plugins" / "platforms" / "libqoffscreen.so"
    return [plugin] if plugin.is_file() else []


def missing_libraries(files: Sequence[Path] | None = None) -> list[str]:
    """The sonames that ``files`` (default: the xcb plugin's) need and the dynamic loader
    cannot find, as ``ldd`` reports them; without ldd, the ones of LIBRARIES that do not
    load."""
    import shutil
    import subprocess

    files = xcb_plugin_files() if files is None else files
    if not files:
        return []
    ldd = shutil.which("ldd")
    if ldd is None:
        return _not_loadable(LIBRARIES)
    out = subprocess.run([ldd, *map(str, files)], capture_output=True, text=True,
                         timeout=60, check=False).stdout
    missing: list[str] = []
    for line in out.splitlines():
        name, sep, where = line.strip().partition(" => ")
        if sep and where.strip() == "not found" and name not in missing:
            missing.append(name)
    return missing


def _not_loadable(sonames: Iterable[str]) -> list[str]:
    import ctypes

    missing = []
    for soname in sonames:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships ``soname``: from LIBRARIES, else named as Debian
    names library packages (policy 8.1: libfoo.so.1 in libfoo1, libfoo2.so.0 in libfoo2-0)."""
    if soname in LIBRARIES:
        return LIBRARIES[soname][0]
    name, _, version = soname.partition(".so.")
    name, version = name.lower().replace("_", "-"), version.split(".")[0]
    if not version:
        return name
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def install_command(sonames: Sequence[str], *,
                    which: Callable[[str], str | None] | None = None,
                    root: bool | None = None) -> str | None:
    """The one command that installs ``sonames`` here: apt-get where there is apt-get, dnf
    where there is dnf and every library is in LIBRARIES; None when we cannot tell."""
    import shutil

    which = which or shutil.which
    root = os.geteuid() == 0 if root is None else root
    sudo = "" if root else "sudo "
    if which("apt-get"):
        return f"{sudo}apt-get install " + " ".join(_unique(map(debian_package, sonames)))
    if which("dnf") and all(s in LIBRARIES for s in sonames):
        return f"{sudo}dnf install " + " ".join(_unique(LIBRARIES[s][1] for s in sonames))
    return None


def missing_libraries_sentence(sonames: Sequence[str], command: str | None) -> str:
    """What is missing and the one command that installs it (``install_command``)."""
    advice = (f"install them with: {command}" if command
              else "install the packages that provide them")
    return f"the system libraries Qt needs are missing ({', '.join(sonames)}); {advice}"


# --------------------------------------------------------------------------- after a failure


def explain_qt_failure(messages: Sequence[str], env: Mapping[str, str] = os.environ) -> str:
    """Our sentence for Qt's "no platform plugin could be initialized", from what Qt logged
    before it (``messages``) and a look at the xcb plugin's libraries."""
    import re

    said = "\n".join(messages)
    plugin = re.search(r'platform plugin "([^"]+)"', said)
    name = plugin.group(1) if plugin else requested_platform(env) or "xcb"
    if name == "xcb":
        missing = missing_libraries()
        if missing:
            return ("cannot open a window: "
                    + missing_libraries_sentence(missing, install_command(missing)))
        unreachable = re.search(r"could not connect to display ?(\S*)", said)
        if unreachable:
            where = unreachable.group(1) or env.get("DISPLAY", "")
            return (f"cannot open a window: no X server answers at DISPLAY={where}; "
                    f"{HEADLESS_HINT}")
    return (f'cannot open a window: Qt could not start its "{name}" display plugin; run it '
            "with QT_DEBUG_PLUGINS=1 to see why")


def explain_import_failure(error: ImportError) -> str | None:
    """Our sentence when importing Qt failed for want of a system library (a minimal system
    lacks libEGL, libfontconfig …); None for any other import error."""
    import re

    lost = re.match(r"(\S+): cannot open shared object file", str(error))
    if lost is None:
        return None
    missing = missing_libraries() or [lost.group(1)]
    return f"cannot start: {missing_libraries_sentence(missing, install_command(missing))}"


# --------------------------------------------------------------------------- for the scripts


def main(argv: Sequence[str] | None = None) -> int:
    """``check``: exit 1 with our sentence when the xcb plugin lacks libraries, else 0;
    ``packages``: the Debian packages that ship the missing ones, one a line. With
    ``--offscreen``, the same for the offscreen plugin (tests, screenshots)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m app.display_check",
                                     description=main.__doc__)
    parser.add_argument("what", choices=["check", "packages"])
    parser.add_argument("--offscreen", action="store_true",
                        help="the offscreen platform plugin instead of xcb")
    args = parser.parse_args(argv)
    missing = missing_libraries(offscreen_plugin_files() if args.offscreen else None)
    if args.what == "packages":
        for package in _unique(map(debian_package, missing)):
            print(package)
        return 0
    if missing:
        print(missing_libraries_sentence(missing, install_command(missing)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
