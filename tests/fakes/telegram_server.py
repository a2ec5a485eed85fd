"""A real local HTTP server speaking the Telegram Bot API, for tests that drive the real `telegram.Bot`.

No mocks: tests give PTB `base_url=await fake.start()` (it ends in "/bot"; PTB appends the token) and the
real `Bot` / `Application` talk HTTP to it. Answers use Telegram's envelopes, `{"ok": true, "result": ...}`
and `{"ok": false, "error_code": N, "description": "...", "parameters": {...}}`, so PTB raises its real
exceptions.

    async with FakeTelegram() as fake:           # or: base_url = await fake.start(); ...; await fake.close()
        bot = Bot(fake.token, base_url=fake.base_url)
        fake.block(42)                           # 403 "Forbidden: bot was blocked by the user" for chat 42
        fake.rate_limit(7, retry_after=3)        # one 429 with parameters.retry_after for chat 7
        fake.push_message(42, "/start")          # an update for getUpdates
        fake.slow_sends(0.5)                     # answer sends and edits half a second late
        ...
        fake.sent(42)                            # the accepted sendMessage/sendPhoto params for chat 42

Scripted faults (per chat id, checked before anything else): `block`, `deactivate`, `kick`, `not_found`
(for good); `rate_limit`, `fail`, `reject_parse`, `stall` (`times` requests); `migrate` (for good, like
Telegram: the old group id keeps answering "upgraded"); `refuse_photos()` (every sendPhoto).
`enforce_limits(...)` answers 429 whenever a send breaks Telegram's documented flood limits, measured with
sliding windows on the server's monotonic clock; `limit_429s` counts those, `scripted_429s` the scripted ones.
`slow_sends(seconds)` (the `send_latency` attribute) answers sendMessage, sendPhoto and editMessageText late,
like a loaded server: faults and limits are applied on arrival, the message is accepted after the wait.

getUpdates serves one consumer, as Telegram does: a getUpdates arriving while another waits (a long poll)
terminates the waiting one, which is answered 409 "Conflict: terminated by other getUpdates request; ..."
(`poll_conflicts` counts those); while a webhook is set (setWebhook with a url, not yet deleted) getUpdates
answers 409 "Conflict: can't use getUpdates method while webhook is active; ...". A long poll waits ≤ 0.2 s.

Validation follows Telegram: empty text, text over 4096 UTF-16 units (after entity parsing), captions over
1024, and HTML that Telegram's parser rejects (unknown or unclosed tags) answer 400 with Telegram's
descriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer

DEFAULT_TOKEN = "123456:TEST-token"
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "blockquote"}
    | {"tg-spoiler", "tg-emoji", "span"}
)
SEND_METHODS = frozenset({"sendmessage", "sendphoto"})
# the methods `slow_sends` delays: the ones whose answer time a loaded Telegram server stretches
SLOW_METHODS = SEND_METHODS | {"editmessagetext"}
# Parameters Telegram documents as strings; every other form value PTB sends JSON-encoded (numbers, objects).
_STRING_PARAMS = frozenset(
    {"text", "caption", "parse_mode", "photo", "callback_query_id", "url", "secret_token", "language_code"}
    | {"action", "inline_message_id", "business_connection_id", "message_effect_id"}
)

PHOTO_REFUSED = "Bad Request: wrong file identifier/HTTP URL specified"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


@dataclass
class _Fault:
    status: int
    description: str
    parameters: dict[str, Any] | None = None
    times: int | None = None  # None: every request
    delay: float = 0.0  # seconds to wait before answering (a stalled request), then answer normally

    def use(self) -> bool:
        """Consume one use; False when the fault is exhausted."""
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class _LongPoll:
    """A getUpdates request waiting for updates. A later getUpdates terminates it: Telegram answers it 409."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    terminated: bool = False


@dataclass(frozen=True)
class Limits:
    global_per_second: int
    per_chat_per_second: int
    per_group_per_minute: int


@dataclass
class _Windows:
    """Send times (monotonic seconds) within the sliding windows."""

    all: deque[float] = field(default_factory=deque)
    per_chat: dict[int, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    per_group: dict[int, deque[float]] = field(default_factory=lambda: defaultdict(deque))


class TelegramApiError(Exception):
    """An error answer: raised inside a method handler, turned into Telegram's error envelope."""

    def __init__(self, status: int, description: str, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = dict(parameters) if parameters else None


def bad_request(detail: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {detail}")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _EntityParser(HTMLParser):
    """Telegram's HTML parse mode as far as tests need it: allowed tags, properly nested. Keeps the text."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._lines = source.splitlines(keepends=True)
        self.stack: list[str] = []
        self.parts: list[str] = []
        self.error: str | None = None

    def _offset(self) -> int:
        line, column = self.getpos()
        prefix = "".join(self._lines[: line - 1]) + (self._lines[line - 1][:column] if self._lines else "")
        return len(prefix.encode("utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.error is None and tag not in ALLOWED_TAGS:
            self.error = f'Unsupported start tag "{tag}" at byte offset {self._offset()}'
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.error is None:
            self.error = f'Unsupported start tag "{tag}" at byte offset {self._offset()}'

    def handle_endtag(self, tag: str) -> None:
        if self.error is not None:
            return
        if not self.stack:
            self.error = f"Unexpected end tag at byte offset {self._offset()}"
        elif self.stack[-1] != tag:
            self.error = (
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1]}"'
                if tag in self.stack
                else f'Unmatched end tag at byte offset {self._offset()}, expected "</{self.stack[-1]}>", '
                f'found "</{tag}>"'
            )
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def parse_html(text: str) -> str:
    """The text Telegram would show for `text` in HTML parse mode; raises TelegramApiError like Telegram."""
    parser = _EntityParser(text)
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    if parser.error is not None:
        raise bad_request(f"can't parse entities: {parser.error}")
    return "".join(parser.parts)


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


# the user a group's anonymous administrators write as
ANONYMOUS_ADMIN_ID = 1087968824
# what ChatMemberAdministrator carries besides its status and user (Bot API 7.x)
ADMIN_RIGHTS = (
    "is_anonymous", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
    "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
    "can_post_stories", "can_edit_stories", "can_delete_stories",
)  # fmt: skip


class FakeTelegram(LocalServer):
    """An aiohttp.web server on 127.0.0.1 and a free port, answering `/bot{token}/{method}` like Telegram."""

    URL_SUFFIX = "/bot"

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        me: Mapping[str, Any] | None = None,
        channels: Mapping[str, int] | None = None,
    ) -> None:
        self.token = token
        self.me: dict[str, Any] = {
            "id": 12345,
            "is_bot": True,
            "first_name": "newsbot",
            "username": "newsbot_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        if me:
            self.me.update(me)
        # "@name" -> chat id, for getChat and sends addressed by username
        self.channels: dict[str, int] = {"@newsbot_channel": -1001234567890, **(channels or {})}
        # group chat id -> the user ids of its administrators (getChatMember); the first one is its creator
        self.admins: dict[int, list[int]] = {}
        self.base_url = ""
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (scope JSON, language) -> commands
        self.webhook_url = ""
        self.send_latency = 0.0  # seconds before answering sendMessage/sendPhoto/editMessageText
        self.scripted_429s = 0
        self.limit_429s = 0
        self._sent: list[dict[str, Any]] = []
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat id, message id) -> Message
        self._faults: dict[int, list[_Fault]] = defaultdict(list)
        self._refuse_photos = False
        self._expire_queries = False
        self._refuse_button_urls = False
        # forum supergroups: chat id -> the ids of its topics (sending to another is "message thread not
        # found"); the forums whose General topic is closed (sending without a topic is TOPIC_CLOSED)
        self.forum_topics: dict[int, set[int]] = {}
        self.closed_general: set[int] = set()
        self.callback_answers = 0  # answerCallbackQuery calls, refused ones too
        self.callback_alerts: list[str] = []  # the texts of answers shown as an alert
        self._photo_refusal = PHOTO_REFUSED
        self._limits: Limits | None = None
        self._windows = _Windows()
        self._updates: list[dict[str, Any]] = []
        self._long_poll: _LongPoll | None = None  # the getUpdates waiting now, if any
        self.poll_conflicts = 0  # getUpdates answered 409 because a later one arrived
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._app = web.Application()
        self._app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner: web.AppRunner | None = None

    # --- scripted faults -----------------------------------------------------------------------------

    def block(self, chat_id: int) -> None:
        self._faults[chat_id].append(_Fault(403, "Forbidden: bot was blocked by the user"))

    def deactivate(self, chat_id: int) -> None:
        self._faults[chat_id].append(_Fault(403, "Forbidden: user is deactivated"))

    def kick(self, chat_id: int) -> None:
        self._faults[chat_id].append(_Fault(403, "Forbidden: bot was kicked from the group chat"))

    def not_found(self, chat_id: int) -> None:
        self._faults[chat_id].append(_Fault(400, "Bad Request: chat not found"))

    def rate_limit(self, chat_id: int, retry_after: int, times: int = 1) -> None:
        self._faults[chat_id].append(
            _Fault(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}, times)
        )

    def fail(self, chat_id: int, status: int = 502, times: int = 1) -> None:
        self._faults[chat_id].append(_Fault(status, _reason(status), None, times))

    def stall(self, chat_id: int, seconds: float, times: int = 1) -> None:
        """Wait `seconds` before answering (normally): a client with a shorter read timeout sees TimedOut."""
        self._faults[chat_id].append(_Fault(200, "", None, times, delay=seconds))

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        self._faults[chat_id].append(
            _Fault(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new_chat_id},
            )
        )

    def reject_parse(self, chat_id: int, times: int = 1) -> None:
        self._faults[chat_id].append(
            _Fault(
                400,
                'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
                None,
                times,
            )
        )

    def refuse_button_urls(self, refuse: bool = True) -> None:
        """Refuse every sendMessage carrying a URL button, as Telegram does a URL it will not take."""
        self._refuse_button_urls = refuse

    def expire_callback_queries(self, expire: bool = True) -> None:
        """Refuse answerCallbackQuery as Telegram does a query older than ~15 s (a press handled after a
        restart or a backlog)."""
        self._expire_queries = expire

    def refuse_photos(self, refuse: bool = True, *, reason: str = PHOTO_REFUSED) -> None:
        """Refuse every sendPhoto with `reason` (Telegram's text, "Bad Request: ..."), as for a photo
        Telegram cannot fetch, or a group whose members may not send media."""
        self._refuse_photos = refuse
        self._photo_refusal = reason

    def clear_faults(self, chat_id: int | None = None) -> None:
        if chat_id is None:
            self._faults.clear()
        else:
            self._faults.pop(chat_id, None)

    def slow_sends(self, seconds: float) -> None:
        """Answer every sendMessage, sendPhoto and editMessageText `seconds` late, like a loaded Telegram.

        Faults and flood limits are applied on arrival, before the wait (Telegram counts a send when it
        arrives); the message is accepted, recorded and answered after it. A client that gives up earlier
        sees TimedOut, yet the message is still delivered, as with Telegram. 0 turns it off.
        """
        self.send_latency = seconds

    def enforce_limits(
        self, global_per_second: int = 30, per_chat_per_second: int = 1, per_group_per_minute: int = 20
    ) -> None:
        """Answer 429 for any send that would break these sliding windows (1 s and 60 s)."""
        self._limits = Limits(global_per_second, per_chat_per_second, per_group_per_minute)
        self._windows = _Windows()

    # --- records -----------------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Parameters of the sendMessage/sendPhoto requests Telegram accepted, in order (with "method")."""
        return [p for p in self._sent if chat_id is None or p["chat_id"] == chat_id]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name.lower() == method.lower()]

    @property
    def total_429s(self) -> int:
        return self.scripted_429s + self.limit_429s

    # --- update injection ------------------------------------------------------------------------------

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "zh-hans",
        first_name: str = "Test",
        chat_title: str | None = None,
        as_chat: bool = False,
        thread_id: int | None = None,
        in_topic: bool = True,
    ) -> int:
        """Queue a message update from a user; returns its update_id. A leading /command gets its entity.

        `as_chat`: an anonymous group administrator's message, as Telegram sends it: from GroupAnonymousBot,
        with the group itself as `sender_chat`. `thread_id`: written in that topic of a forum supergroup, or
        with `in_topic=False` in that reply thread of an ordinary one (both carry message_thread_id)."""
        if as_chat:
            user = {"id": ANONYMOUS_ADMIN_ID, "is_bot": True, "first_name": "Group"}
            user["username"] = "GroupAnonymousBot"
        else:
            user = self._user(user_id if user_id is not None else chat_id, first_name, language_code)
        chat = self._chat(chat_id, chat_type, title=chat_title, first_name=first_name)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if as_chat:
            message["sender_chat"] = chat
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if in_topic:
                message["is_topic_message"] = True
                chat["is_forum"] = True
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        return self._push({"message": message})

    def push_migration(self, old_chat_id: int, new_chat_id: int, *, title: str = "Group") -> None:
        """Telegram's two notices of a group upgraded to a supergroup: in the old group a message with
        `migrate_to_chat_id`, in the new supergroup one with `migrate_from_chat_id`."""
        user = self._user(old_chat_id, "Test", "zh-hans")
        notices = (
            (old_chat_id, "group", "migrate_to_chat_id", new_chat_id),
            (new_chat_id, "supergroup", "migrate_from_chat_id", old_chat_id),
        )
        for chat_id, chat_type, key, other in notices:
            chat = self._chat(chat_id, chat_type, title=title)
            message = {"message_id": next(self._message_ids), "from": user, "chat": chat, key: other}
            self._push({"message": {**message, "date": int(time.time())}})

    def push_membership(
        self, chat_id: int, status: str, *, chat_type: str = "private", old_status: str = "member"
    ) -> None:
        """Telegram's my_chat_member update: the bot's own status in the chat changed, as when a user blocks
        the bot ("kicked" in a private chat) or a group removes it ("left", "kicked")."""
        chat = self._chat(chat_id, chat_type)
        by = self._user(abs(chat_id), "Test", "zh-hans")

        def member(state: str) -> dict[str, Any]:
            return {"user": self.me, "status": state} | ({"until_date": 0} if state == "kicked" else {})

        update = {
            "chat": chat,
            "from": by,
            "date": int(time.time()),
            "old_chat_member": member(old_status),
            "new_chat_member": member(status),
        }
        self._push({"my_chat_member": update})

    def push_callback(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int,
        user_id: int | None = None,
        language_code: str = "zh-hans",
        first_name: str = "Test",
        chat_type: str = "private",
    ) -> int:
        """Queue a callback query (a button press on message `message_id`); returns its update_id."""
        user = self._user(user_id if user_id is not None else chat_id, first_name, language_code)
        # the bot's message the button is on; made up (and kept, so the bot can edit it) when not sent here
        message = self._messages.setdefault(
            (chat_id, message_id),
            {
                "message_id": message_id,
                "from": self.me,
                "chat": self._chat(chat_id, chat_type, first_name=first_name),
                "date": int(time.time()),
                "text": "…",
            },
        )
        callback = {
            "id": str(next(self._callback_ids)),
            "from": user,
            "message": message,
            "chat_instance": str(chat_id),
            "data": data,
        }
        return self._push({"callback_query": callback})

    def push_channel_post(self, chat_id: int, text: str, *, title: str = "Channel") -> int:
        post = {
            "message_id": next(self._message_ids),
            "sender_chat": self._chat(chat_id, "channel", title=title),
            "chat": self._chat(chat_id, "channel", title=title),
            "date": int(time.time()),
            "text": text,
        }
        return self._push({"channel_post": post})

    def _push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update})
        if self._long_poll is not None:
            self._long_poll.wake.set()
        return update_id

    def _user(self, user_id: int, first_name: str, language_code: str) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    def _chat(
        self, chat_id: int, chat_type: str, *, title: str | None = None, first_name: str = "Test"
    ) -> dict[str, Any]:
        if chat_type == "private":
            return {"id": chat_id, "type": "private", "first_name": first_name}
        return {"id": chat_id, "type": chat_type, "title": title or f"Chat {chat_id}"}

    def _chat_for(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self.channels.values():
            name = next(n for n, i in self.channels.items() if i == chat_id)
            return {"id": chat_id, "type": "channel", "title": name.lstrip("@"), "username": name.lstrip("@")}
        if chat_id > 0:
            return self._chat(chat_id, "private")
        return self._chat(chat_id, "supergroup" if str(chat_id).startswith("-100") else "group")

    # --- HTTP ----------------------------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        return _error(404, "Not Found")

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        self.calls.append((method, params))
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return _error(404, "Not Found")
        try:
            chat_id = self._resolve_chat(params) if "chat_id" in params else None
            if chat_id is not None:
                await self._apply_faults(chat_id)
                if method.lower() in SEND_METHODS:
                    self._check_limits(chat_id)
            if self.send_latency and method.lower() in SLOW_METHODS:
                await asyncio.sleep(self.send_latency)
            result = await handler(params, chat_id)
        except TelegramApiError as exc:
            return _error(exc.status, exc.description, exc.parameters)
        return web.json_response({"ok": True, "result": result})

    def _resolve_chat(self, params: dict[str, Any]) -> int:
        raw = params["chat_id"]
        if isinstance(raw, str) and raw.startswith("@"):
            if raw not in self.channels:
                raise bad_request("chat not found")
            return self.channels[raw]
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        params["chat_id"] = chat_id
        return chat_id

    async def _apply_faults(self, chat_id: int) -> None:
        for fault in list(self._faults.get(chat_id, [])):
            if not fault.use():
                self._faults[chat_id].remove(fault)
                continue
            if fault.delay:
                await asyncio.sleep(fault.delay)
                return
            if fault.status == 429:
                self.scripted_429s += 1
            raise TelegramApiError(fault.status, fault.description, fault.parameters)

    def _check_limits(self, chat_id: int) -> None:
        if self._limits is None:
            return
        now = time.monotonic()
        w = self._windows
        checks = [
            (w.all, self._limits.global_per_second, 1.0),
            (w.per_chat[chat_id], self._limits.per_chat_per_second, 1.0),
        ]
        if chat_id < 0:
            checks.append((w.per_group[chat_id], self._limits.per_group_per_minute, 60.0))
        wait = 0.0
        for window, limit, length in checks:
            while window and window[0] <= now - length:
                window.popleft()
            if len(window) >= limit:
                wait = max(wait, window[0] + length - now)
        if wait > 0:
            self.limit_429s += 1
            retry_after = max(1, int(wait + 0.999))
            raise TelegramApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        for window, _limit, _length in checks:
            window.append(now)

    # --- methods -------------------------------------------------------------------------------------

    async def _m_getme(self, params: dict[str, Any], chat_id: int | None) -> Any:
        return self.me

    async def _m_getupdates(self, params: dict[str, Any], chat_id: int | None) -> Any:
        if self.webhook_url:
            raise TelegramApiError(409, WEBHOOK_CONFLICT)
        if self._long_poll is not None:
            # Telegram serves one consumer: the poll in progress is answered 409, the newest one carries on
            self._long_poll.terminated = True
            self._long_poll.wake.set()
        offset = int(params.get("offset") or 0)
        if offset:
            # like Telegram: an offset confirms every update before it
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        wait = min(float(params.get("timeout") or 0), 0.2)
        if not self._updates and wait > 0:
            poll = self._long_poll = _LongPoll()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.wake.wait(), wait)
            finally:
                if self._long_poll is poll:
                    self._long_poll = None
            if poll.terminated:
                self.poll_conflicts += 1
                raise TelegramApiError(409, POLL_CONFLICT)
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]

    async def _m_deletewebhook(self, params: dict[str, Any], chat_id: int | None) -> Any:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_setwebhook(self, params: dict[str, Any], chat_id: int | None) -> Any:
        self.webhook_url = str(params.get("url", ""))
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any], chat_id: int | None) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _m_setmycommands(self, params: dict[str, Any], chat_id: int | None) -> Any:
        self.commands[self._commands_key(params)] = list(params.get("commands") or [])
        return True

    async def _m_deletemycommands(self, params: dict[str, Any], chat_id: int | None) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _m_getmycommands(self, params: dict[str, Any], chat_id: int | None) -> Any:
        return self.commands.get(self._commands_key(params), [])

    def _message(self, chat_id: int, **fields: Any) -> dict[str, Any]:
        message = {
            "message_id": next(self._message_ids),
            "from": self.me,
            "chat": self._chat_for(chat_id),
            "date": int(time.time()),
            **fields,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _topic(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any]:
        """The topic fields of a message sent with `params`, refused as Telegram refuses a forum's."""
        thread = params.get("message_thread_id")
        if chat_id in self.forum_topics:
            if thread is None and chat_id in self.closed_general:
                raise bad_request("TOPIC_CLOSED")
            if thread is not None and int(thread) not in self.forum_topics[chat_id]:
                raise bad_request("message thread not found")
        return {} if thread is None else {"message_thread_id": int(thread), "is_topic_message": True}

    def _visible_text(self, text: str, params: dict[str, Any]) -> str:
        if str(params.get("parse_mode") or "").lower() == "html":
            return parse_html(text)
        return text

    async def _m_sendmessage(self, params: dict[str, Any], chat_id: int | None) -> Any:
        assert chat_id is not None
        text = str(params.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        visible = self._visible_text(text, params)
        if utf16_len(visible) > MESSAGE_LIMIT:
            raise bad_request("message is too long")
        if not visible.strip():
            raise bad_request("message text is empty")
        markup = params.get("reply_markup")
        if self._refuse_button_urls and isinstance(markup, dict):
            buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
            if any("url" in b for b in buttons):
                raise bad_request("BUTTON_URL_INVALID")
        topic = self._topic(chat_id, params)
        self._sent.append({"method": "sendMessage", **params})
        return self._message(chat_id, text=visible, **topic)

    async def _m_sendphoto(self, params: dict[str, Any], chat_id: int | None) -> Any:
        assert chat_id is not None
        if self._refuse_photos or not params.get("photo"):
            raise bad_request(self._photo_refusal.removeprefix("Bad Request: "))
        caption = self._visible_text(str(params.get("caption") or ""), params)
        if utf16_len(caption) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        topic = self._topic(chat_id, params)
        self._sent.append({"method": "sendPhoto", **params})
        sizes = [
            {
                "file_id": f"photo-{w}",
                "file_unique_id": f"u{w}",
                "width": w,
                "height": w * 3 // 4,
                "file_size": w * 90,
            }
            for w in (90, 320, 800)
        ]
        fields: dict[str, Any] = {"photo": sizes}
        if caption:
            fields["caption"] = caption
        return self._message(chat_id, **fields, **topic)

    def _stored(self, params: dict[str, Any], chat_id: int | None) -> dict[str, Any]:
        if chat_id is None:
            raise bad_request("chat_id is empty")
        stored = self._messages.get((chat_id, int(params.get("message_id") or 0)))
        if stored is None:
            raise bad_request("message to edit not found")
        return stored

    async def _m_editmessagetext(self, params: dict[str, Any], chat_id: int | None) -> Any:
        if params.get("inline_message_id"):
            return True
        stored = self._stored(params, chat_id)
        text = str(params.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        visible = self._visible_text(text, params)
        if utf16_len(visible) > MESSAGE_LIMIT:
            raise bad_request("message is too long")
        markup = params.get("reply_markup")
        if visible == stored.get("text") and markup == stored.get("reply_markup"):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        stored["text"] = visible
        stored["edit_date"] = int(time.time())
        _set_markup(stored, markup)
        return stored

    async def _m_editmessagereplymarkup(self, params: dict[str, Any], chat_id: int | None) -> Any:
        if params.get("inline_message_id"):
            return True
        stored = self._stored(params, chat_id)
        _set_markup(stored, params.get("reply_markup"))
        stored["edit_date"] = int(time.time())
        return stored

    async def _m_answercallbackquery(self, params: dict[str, Any], chat_id: int | None) -> Any:
        self.callback_answers += 1
        if self._expire_queries:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        if str(params.get("show_alert")).lower() == "true":
            self.callback_alerts.append(str(params.get("text") or ""))
        return True

    async def _m_sendchataction(self, params: dict[str, Any], chat_id: int | None) -> Any:
        return True

    async def _m_getchatmember(self, params: dict[str, Any], chat_id: int | None) -> Any:
        """The member as Telegram describes one: creator, administrator (with its rights) or member."""
        if chat_id is None:
            raise bad_request("chat not found")
        try:
            user_id = int(params["user_id"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("invalid user_id specified") from None
        user = self._user(user_id, "Member", "en")
        admins = self.admins.get(chat_id, [])
        if admins and user_id == admins[0]:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in admins:
            rights = dict.fromkeys(ADMIN_RIGHTS, True)
            return {"status": "administrator", "user": user, "can_be_edited": False, **rights}
        return {"status": "member", "user": user}

    async def _m_getchat(self, params: dict[str, Any], chat_id: int | None) -> Any:
        if chat_id is None:
            raise bad_request("chat not found")
        # getChat answers a ChatFullInfo, which has a few more required fields
        return {**self._chat_for(chat_id), "accent_color_id": 0, "max_reaction_count": 11}


def _set_markup(message: dict[str, Any], markup: Any) -> None:
    if markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def _reason(status: int) -> str:
    return {
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, "Internal Server Error")


def _error(status: int, description: str, parameters: Mapping[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = dict(parameters)
    return web.json_response(body, status=status)


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Request parameters as Telegram reads them: query string, JSON body, or (multipart) form fields."""
    params: dict[str, Any] = {k: _decode_form_value(k, v) for k, v in request.query.items()}
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            # like Telegram, an object parameter may come JSON-serialized in a string (PTB's json_payload)
            params.update({k: _decode_form_value(k, v) if isinstance(v, str) else v for k, v in body.items()})
        return params
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, str):
            params[name] = _decode_form_value(name, value)
        elif isinstance(value, web.FileField):  # an uploaded file
            params[name] = value.filename or "upload"
    return params
