"""Screenshot one window of a running X server into a PNG, once it shows something.

``make try-x11`` looks at the desk's real window with it: this process is a second X client
(through Qt's xcb plugin, as ImageMagick's ``import -window`` would be) that reads the window's
pixels from the server. A window that is blank or still being painted has a colour or two; the
grab is repeated until it has at least ``--min-colours`` distinct colours. Prints the count;
exit 1 when the window stayed blank, could not be read, or was smaller than ``--min-size``.

    DISPLAY=:1 python scripts/x11_grab.py WINDOW_ID out.png --min-colours 64 --timeout 30
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from PySide6.QtGui import QGuiApplication, QImage


def distinct_colours(image: QImage) -> int:
    """How many different RGB values ``image`` has."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB32)
    # Format_RGB32 rows are whole 32-bit pixels with no padding: one uint32 a pixel.
    return len(set(memoryview(rgb.constBits()).cast("I")))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("window", help="the X window id (decimal, as xdotool prints it, or 0x…)")
    p.add_argument("output", type=Path)
    p.add_argument("--min-colours", type=int, default=64)
    p.add_argument("--min-size", default="640x480", help="WIDTHxHEIGHT the window must reach")
    p.add_argument("--timeout", type=float, default=30.0)
    args = p.parse_args(argv)
    min_w, min_h = (int(v) for v in args.min_size.split("x"))

    args.output.parent.mkdir(parents=True, exist_ok=True)

    os.environ["QT_QPA_PLATFORM"] = "xcb"  # read the real server, whatever the caller set
    app = QGuiApplication(sys.argv[:1])
    screen = app.primaryScreen()
    window = int(args.window, 0)
    deadline = time.monotonic() + args.timeout
    colours, size = 0, (0, 0)
    while True:
        image = screen.grabWindow(window).toImage()
        if not image.isNull():
            colours, size = distinct_colours(image), (image.width(), image.height())
            if colours >= args.min_colours and size[0] >= min_w and size[1] >= min_h:
                break
        if time.monotonic() > deadline:
            print(f"x11_grab: window {args.window} stayed blank: {colours} colour(s) at "
                  f"{size[0]}x{size[1]} after {args.timeout:g} s (wanted {args.min_colours} "
                  f"at {args.min_size} or more)", file=sys.stderr)
            if not image.isNull():
                image.save(str(args.output), "PNG")
            return 1
        time.sleep(0.5)
    if not image.save(str(args.output), "PNG"):
        print(f"x11_grab: could not write {args.output}", file=sys.stderr)
        return 1
    print(colours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
