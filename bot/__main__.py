"""Entry point of the `newsbot` console script and `python -m bot`."""

from __future__ import annotations

import os
import sys


def main() -> None:
    # python-telegram-bot 22 deprecates integer retry_after; opt in to the timedelta it will use from v23
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    from bot.cli import run_cli

    sys.exit(run_cli())


if __name__ == "__main__":
    main()
