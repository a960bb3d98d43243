"""Building the package compiles the translators' ``.ts`` files into the ``.qm`` the desk loads.

The ``.qm`` is a build output, never committed: a wheel (``pip install .``) gets it in its
``resources/translations``; an editable install (``pip install -e .``) gets it beside the
``.ts`` in the checkout, where ``python -m app.i18n build`` also writes it. Qt's ``lrelease``
comes from PySide6, a build requirement in ``pyproject.toml``. Everything else about the
package is declared there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
TRANSLATIONS = Path("resources", "translations")
# PySide6's own wrapper finds its lrelease binary, wherever the build environment put PySide6.
LRELEASE = "from PySide6.scripts.pyside_tool import lrelease; lrelease()"


class BuildPyWithTranslations(build_py):
    """``build_py``, then each ``resources/translations/*.ts`` compiled with lrelease."""

    def _targets(self) -> list[tuple[Path, Path]]:
        out = HERE if self.editable_mode else Path(self.build_lib)
        return [(ts, out / TRANSLATIONS / f"{ts.stem}.qm")
                for ts in sorted((HERE / TRANSLATIONS).glob("*.ts"))]

    def run(self) -> None:
        super().run()
        for ts, qm in self._targets():
            qm.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-c", LRELEASE, "-silent", str(ts), "-qm", str(qm)],
                           check=True)
            if not qm.is_file():
                raise RuntimeError(f"lrelease made no {qm} from {ts}")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        built = [] if self.editable_mode else [str(qm) for _, qm in self._targets()]
        return [*super().get_outputs(include_bytecode), *built]


setup(cmdclass={"build_py": BuildPyWithTranslations})
