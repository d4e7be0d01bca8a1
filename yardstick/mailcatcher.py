"""A local SMTP catcher for `yardstick up`: survey invitations are written to
``<data dir>/mail/*.eml`` instead of being sent, so a developer can open them and follow
the links. Started only when no SMTP server is configured (YARDSTICK_SMTP_HOST unset).
Never use it in production: the files contain the recipients' addresses."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self._lock:
            self._count += 1
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{self._count:05d}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    controller = Controller(SaveToFolder(args.folder), hostname=args.host, port=args.port)
    try:
        controller.start()
    except OSError as exc:
        # Said plainly: a catcher that is not running means invitations go nowhere (or to
        # whatever else listens there).
        print(
            f"mail catcher: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
            "choose another port",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
