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


def read_all(controller: int) -> str:
    """Everything written to a pseudo-terminal whose terminal side is closed. One read may return only part
    of it (the kernel hands written bytes to the reading side in pieces, later under load); the reads end
    with EIO once all was read."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal side is closed and nothing is left
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_on_a_terminal_the_count_and_the_lines_said_are_shown() -> None:
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 rows, 100 columns
    try:
        try:
            with open(terminal, "w", encoding="utf-8", closefd=False) as err:
                with Progress(err, what="import", unit="file") as progress:
                    progress.update(2, 10)
                    progress.say("failed: b.md: empty file")
                    progress.update(10, 10)
                err.flush()
        finally:
            os.close(terminal)
        shown = read_all(controller)
    finally:
        os.close(controller)
    assert "import" in shown
    assert "2/10" in shown
    assert "failed: b.md: empty file" in shown
