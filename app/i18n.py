"""Translations: English in the source, Japanese from Qt Linguist files.

``resources/translations/relaydesk_ja.ts`` is the translators' file (kept in git);
``python -m app.i18n update`` refreshes it from every ``tr()`` in ``app/`` (and the sentences
``protocol/events.py`` marks), and
``python -m app.i18n build`` compiles each ``.ts`` into the ``.qm`` beside it in the checkout.
The ``.qm`` is a build output, ignored by git: building the package compiles it too
(``setup.py``), so a wheel ships it. The desk reads it through ``importlib.resources``
(:data:`TRANSLATIONS`), wherever the package is installed.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from importlib.resources.abc import Traversable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

import resources

log = logging.getLogger("relaydesk.i18n")

# What the desk loads: the package's own data, read through importlib.resources.
TRANSLATIONS = resources.files("translations")
# The checkout the build tools below work on: the translators' .ts, and the sources it covers.
ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = ROOT / "resources" / "translations"
APP_DIR = ROOT / "app"
# Qt-free modules whose strings the desk translates (marked with QT_TRANSLATE_NOOP).
SHARED_SOURCES = (ROOT / "protocol" / "events.py",)
LANGUAGES = ("en", "ja")
SOURCE_LANGUAGE = "en"

_installed: list[QTranslator] = []  # QCoreApplication does not own them: keep them alive
_data: list[bytes] = []  # nor does a translator copy the .qm it was loaded from: keep it too


def system_language() -> str:
    """The first UI language the OS prefers that the desk speaks, else English."""
    for name in QLocale.system().uiLanguages():
        lang = name.replace("_", "-").split("-")[0].lower()
        if lang in LANGUAGES:
            return lang
    return SOURCE_LANGUAGE


def _load(translator: QTranslator, lang: str, directory: Traversable | None) -> bytes | None:
    """Load ``relaydesk_<lang>.qm`` from ``directory`` (the package's by default) into
    ``translator``; the bytes it now reads from, or None when there is no such file."""
    try:
        data = (directory or TRANSLATIONS).joinpath(f"relaydesk_{lang}.qm").read_bytes()
    except OSError:
        return None
    return data if translator.load(data) else None


def install_translations(app: QCoreApplication, language: str,
                         directory: Traversable | None = None) -> str:
    """Install the translators for ``language`` ("system", "en" or "ja") and return the
    language in effect. Calling it again replaces the previous translators."""
    lang = system_language() if language == "system" else language
    if lang not in LANGUAGES:
        log.warning("unknown language %r, using English", language)
        lang = SOURCE_LANGUAGE
    for old in _installed:
        app.removeTranslator(old)
    _installed.clear()
    _data.clear()
    if lang != SOURCE_LANGUAGE:
        ours = QTranslator()
        data = _load(ours, lang, directory)
        if data is None:
            log.warning("no translation %s/relaydesk_%s.qm (run `make install`); "
                        "continuing in English", directory or TRANSLATIONS, lang)
            lang = SOURCE_LANGUAGE
        else:
            qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
            qtbase = QTranslator()
            if qtbase.load(f"qtbase_{lang}", qt_dir):  # Qt's own buttons and dialogs
                app.installTranslator(qtbase)
                _installed.append(qtbase)
            app.installTranslator(ours)
            _installed.append(ours)
            _data.append(data)
    # Dates and numbers follow the language shown, unless the OS already speaks it.
    if QLocale.system().name().split("_")[0] != lang:
        QLocale.setDefault(QLocale(lang))
    else:
        QLocale.setDefault(QLocale.system())
    log.info("language %s (asked: %s)", lang, language)
    return lang


def translated_into(language: str, context: str, source: str,
                    directory: Traversable | None = None) -> str:
    """``source`` in ``language`` ("system", "en", "ja"), whichever language the desk shows
    now (the source itself when that language has no translation of it)."""
    lang = system_language() if language == "system" else language
    translator = QTranslator()
    if lang == SOURCE_LANGUAGE:
        return source
    data = _load(translator, lang, directory)  # held until the translator is done with it
    if data is None:
        return source
    return translator.translate(context, source) or source


# --------------------------------------------------------------------------- build tools


def _tool(name: str) -> str:
    """A Qt tool from the venv that runs us (the wrappers pip installs beside python)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found next to {sys.executable} or on PATH; "
                                "install PySide6 into this environment")
    return found


def build_qm(directory: Path | None = None) -> list[Path]:
    """Compile every ``*.ts`` in ``directory`` into a ``.qm`` beside it; returns the .qm paths."""
    directory = directory or TRANSLATIONS_DIR
    built = []
    for ts in sorted(directory.glob("*.ts")):
        qm = ts.with_suffix(".qm")
        subprocess.run([_tool("pyside6-lrelease"), "-silent", str(ts), "-qm", str(qm)],
                       check=True)
        built.append(qm)
    return built


def update_ts(language: str = "ja", sources: list[Path] | None = None,
              directory: Path | None = None) -> Path:
    """Collect every translatable string from ``app/`` into ``relaydesk_<language>.ts``,
    keeping existing translations and dropping strings no longer in the code."""
    directory = directory or TRANSLATIONS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    ts = directory / f"relaydesk_{language}.ts"
    files = sources if sources is not None else [*sorted(APP_DIR.rglob("*.py")),
                                                 *SHARED_SOURCES]
    subprocess.run([_tool("pyside6-lupdate"), "-silent", "-no-obsolete", "-locations", "none",
                    "-source-language", SOURCE_LANGUAGE, "-target-language", language,
                    *map(str, files), "-ts", str(ts)], check=True)
    return ts


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["build"]:
        for qm in build_qm():
            print(f"built {qm.relative_to(ROOT)}")
        return 0
    if args == ["update"]:
        print(f"updated {update_ts().relative_to(ROOT)}")
        return 0
    print("usage: python -m app.i18n build|update", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
