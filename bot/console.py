"""`newsbot console`: a terminal chat over the same CommandService the Telegram adapter uses.

Type commands as in Telegram (`/latest 3`); the replies print as plain text, their buttons numbered. Typing a
button's number presses it. `quit`, `exit` or end of input leaves.
"""

from __future__ import annotations

from typing import TextIO

from bot.commands import Button, CommandService, Reply
from bot.numbers import parse_bounded_int
from bot.telegram_html import html_to_plain
from readmodels import ChatContext

CONSOLE_CHAT_ID = 1
PROMPT = "> "


def render_plain(reply: Reply) -> tuple[str, list[Button]]:
    """The reply as terminal text, and its buttons in the numbered order shown."""
    text = "\n\n".join(html_to_plain(chunk) for chunk in reply.chunks)
    buttons = [button for row in reply.buttons for button in row]
    if buttons:
        text += "\n" + "  ".join(f"[{i}] {b.text}" for i, b in enumerate(buttons, start=1))
    return text, buttons


async def run_console(commands: CommandService, ctx: ChatContext, stdin: TextIO, stdout: TextIO) -> None:
    buttons: list[Button] = []
    stdout.write("newsbot console: type /help, a button's number, or quit\n")
    while True:
        stdout.write(PROMPT)
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return
        line = line.strip()
        if not line:
            continue
        if line.lower() in ("quit", "exit"):
            return
        number = parse_bounded_int(line, low=1, high=len(buttons))
        if number is not None:
            pressed = buttons[number - 1]
            if pressed.url:
                stdout.write(pressed.url + "\n")
                continue
            reply = await commands.button(ctx, pressed.callback_data or "")
        elif line.startswith("/"):
            # a lone "/" is a command without a name: the service answers it as an unknown one
            name, *args = line[1:].split() or [""]
            reply = await commands.handle(ctx, name.split("@")[0], args)
        else:
            reply = await commands.free_text(ctx)
        text, buttons = render_plain(reply)
        stdout.write(text + "\n")
