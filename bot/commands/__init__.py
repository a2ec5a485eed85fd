"""The bot's command layer: every command and button press, answered as a `Reply`.

Nothing here knows Telegram's API: it deals in `readmodels.ChatContext`, read models, strings and buttons.
The Telegram adapter (`bot/app.py`) and the terminal console (`bot/console.py`) both call `CommandService`.

    table.py          the command table (handler, /help line, menu description) and CommandService
    buttons.py        every button's callback data, built and parsed in one place
    numbers.py        numbers from people and buttons: ASCII digits within bounds, or nothing
    base.py           Request (who asks, in which language, with which words) and reply builders
    replies.py        Reply and Button, what the adapters show
    reading.py        /latest /search /digest /topics /sources
    subscriptions.py  /start /subscribe /unsubscribe /mute /unmute /mysubs
    settings.py       /settings and its menu
    admin.py          /addfeed /removefeed /feeds /stats
"""

from bot.commands.replies import Button, Reply
from bot.commands.table import Command, CommandService

__all__ = ["Button", "Command", "CommandService", "Reply"]
