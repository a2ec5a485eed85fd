"""Entry point of the `newsbot` console script and `python -m bot`."""

from __future__ import annotations

import sys

from bot.cli import run_cli


def main() -> None:
    sys.exit(run_cli())


if __name__ == "__main__":
    main()
