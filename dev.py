#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python 3.11+.

Creates ``.venv`` from the lock file (``uv.lock``) when missing or out of date, then runs
the ``yardstick`` command inside it with the arguments given:

    python3 dev.py up --demo     # start everything
    python3 dev.py test          # every check and the whole test suite
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".yardstick-lock"
UV_VERSION = "0.13.9"


def main() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (dev.py may run on an older python3)
        sys.exit("Yardstick needs Python 3.11 or newer")
    digest = hashlib.sha256(
        (ROOT / "uv.lock").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    if not PY.exists():
        print("creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not STAMP.exists() or STAMP.read_text() != digest:
        print("installing the locked dependencies …", flush=True)
        subprocess.check_call([str(PY), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"])
        subprocess.check_call(
            [
                str(VENV / "bin" / "uv"),
                "sync",
                "--frozen",
                "--inexact",
                "--extra",
                "dev",
                "--python",
                str(PY),
            ],
            cwd=ROOT,
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV)},
        )
        STAMP.write_text(digest)
    os.execv(str(VENV / "bin" / "yardstick"), ["yardstick", *sys.argv[1:]])


if __name__ == "__main__":
    main()
