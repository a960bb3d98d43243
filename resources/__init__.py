"""The desk's data files, shipped inside the package: ``icons/`` (stroke SVGs),
``translations/`` (the Qt Linguist ``.ts`` and the ``.qm`` compiled from it when the package is
built) and ``illustrations/`` (pictures for guide steps).

Read them with :func:`files`, never by a path next to the source: installed from a wheel,
they live in site-packages (or a zip, or a frozen bundle), not in a checkout.
"""

from __future__ import annotations

from importlib.resources import files as _files
from importlib.resources.abc import Traversable


def files(*parts: str) -> Traversable:
    """This package's data, e.g. ``files("icons", "send.svg").read_bytes()``."""
    return _files(__name__).joinpath(*parts)
