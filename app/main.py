"""``relaydesk``: the desk's entry point."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    # The PySide6 desk is issue #4; until it lands, say so instead of failing obscurely.
    print("relaydesk: the desk is not built yet (issue #4). Use `relaydesk-sync` for the "
          "headless client and `relaydesk-server` for the backend.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
