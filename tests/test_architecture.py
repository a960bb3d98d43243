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


# One way off the event loop (issue 12): only sync/workers.py makes executors or hands work
# to a thread; everything else awaits the store's writer or readers, or workers.run / a lane.
WORKERS = "sync/workers.py"
OFF_LOOP = {"to_thread", "run_in_executor", "ThreadPoolExecutor", "ProcessPoolExecutor"}


def off_loop_calls(path: Path) -> list[int]:
    """Lines that name ``asyncio.to_thread``, ``run_in_executor`` or an executor class."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        named = (node.attr if isinstance(node, ast.Attribute)
                 else node.id if isinstance(node, ast.Name) else None)
        if named in OFF_LOOP:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            lines.extend(node.lineno for alias in node.names if alias.name in OFF_LOOP)
    return sorted(set(lines))


def test_work_leaves_the_loop_only_through_sync_workers() -> None:
    wrong = []
    for package in ("app", "sync"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel != WORKERS:
                wrong.extend(f"{rel}:{line}" for line in off_loop_calls(path))
    assert not wrong, ("a private executor or the default one; use the store's run_write / "
                       "run_read, sync.workers.run or a workers.Serial lane:\n"
                       + "\n".join(wrong))


def test_the_check_sees_each_way_off_the_loop(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import asyncio\n"
                      "from concurrent.futures import ThreadPoolExecutor as Pool\n"
                      "async def f(loop, fn):\n"
                      "    await asyncio.to_thread(fn)\n"
                      "    await loop.run_in_executor(None, fn)\n"
                      "    import concurrent.futures\n"
                      "    concurrent.futures.ThreadPoolExecutor(1)\n")
    assert off_loop_calls(module) == [2, 4, 5, 7]
    assert off_loop_calls(ROOT / WORKERS)  # the one module that may
