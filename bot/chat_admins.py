"""Who administers a group: Telegram's getChatMember, remembered for a minute.

In groups and channels only the chat's administrators change what the chat gets (its subscription, topics,
muted words, sources and settings); the command layer asks `ChatAdmins.is_admin` before such a change. An
answer is kept briefly so that a burst of presses costs one request, and so that a demoted administrator
loses the right within a minute. Telegram failing to answer counts as "not an administrator": a change that
cannot be checked is refused, never allowed.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from telegram import Bot
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

log = logging.getLogger(__name__)

ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
CACHE_SECONDS = 60.0
CACHE_SIZE = 10_000


class ChatAdmins(Protocol):
    async def is_admin(self, chat_id: int, user_id: int) -> bool: ...


class TelegramChatAdmins:
    """`ChatAdmins` by getChatMember, each answer kept CACHE_SECONDS."""

    def __init__(
        self, bot: Bot, *, seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._bot = bot
        self._seconds = seconds
        self._clock = clock
        self._known: OrderedDict[tuple[int, int], tuple[bool, float]] = OrderedDict()

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        key = (chat_id, user_id)
        known = self._known.get(key)
        if known is not None and known[1] > self._clock():
            return known[0]
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("cannot tell whether user %s administers chat %s: %s", user_id, chat_id, exc)
            return False
        answer = member.status in ADMIN_STATUSES
        self._known[key] = (answer, self._clock() + self._seconds)
        self._known.move_to_end(key)
        if len(self._known) > CACHE_SIZE:
            self._known.popitem(last=False)
        return answer
