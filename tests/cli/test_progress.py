"""Progress bars of long command-line work (bot/progress.py): shown on a terminal, silent on a pipe, and
lines said meanwhile are whole."""

from __future__ import annotations

import fcntl
import io
import os
import struct
import termios

from bot.progress import Progress


def test_on_a_pipe_only_the_lines_said_are_written() -> None:
    err = io.StringIO()
    with Progress(err, what="import", unit="file") as progress:
        progress.update(1, 3)
        progress.say("failed: a.md: empty file")
        progress.update(3, 3)
    assert err.getvalue() == "failed: a.md: empty file\n"


def test_on_a_terminal_the_count_and_the_lines_said_are_shown() -> None:
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 rows, 100 columns
    try:
        with open(terminal, "w", encoding="utf-8", closefd=False) as err:
            with Progress(err, what="import", unit="file") as progress:
                progress.update(2, 10)
                progress.say("failed: b.md: empty file")
                progress.update(10, 10)
            err.flush()
        shown = os.read(controller, 65536).decode("utf-8", errors="replace")
    finally:
        os.close(controller)
        os.close(terminal)
    assert "import" in shown
    assert "2/10" in shown
    assert "failed: b.md: empty file" in shown
