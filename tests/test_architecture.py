"""The packages depend one way: ``app -> sync -> protocol <- server`` (issue 12).

Read from the source (every ``import`` and ``from … import``, at any depth, in every module),
so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "sync", "protocol", "server", "plugins")
# What each package may import of the others.
ALLOWED = {
    "protocol": set(),
    "server": {"protocol"},
    "sync": {"protocol"},
    "app": {"sync", "protocol", "plugins"},
    "plugins": {"sync", "protocol"},
}
# The embedded demo workspace runs the reference backend in the desk's process: the one
# place the desk starts a server.
EXCEPTIONS = {("app/demo.py", "server")}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_every_package_imports_only_what_it_may() -> None:
    wrong = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for other in imported_packages(path) - {package} - ALLOWED[package]:
                if (rel, other) not in EXCEPTIONS:
                    wrong.append(f"{rel} imports {other}")
    assert not wrong, "imports against app -> sync -> protocol <- server:\n" + "\n".join(wrong)


def test_the_check_sees_an_import_hidden_in_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from sync.store import Store\n    import server.app\n")
    assert imported_packages(module) == {"sync", "server"}
