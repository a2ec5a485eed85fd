"""/settings: a chat's digest time, time zone, digest size and language, by arguments or by the
menu's buttons.

Values come from what people type and from button data any client can forge: each is checked here before it
reaches the service (ASCII numbers within bounds, time zones from the list the zone database names).
"""

from __future__ import annotations

from bot.commands.base import Request, button_rows, say, text_reply
from bot.commands.buttons import SETTINGS, ButtonValue
from bot.commands.replies import Reply
from bot.errors import InvalidSetting
from bot.i18n import choose_language, t
from bot.services.subscriptions import (
    MAX_DIGEST_SIZE,
    SubscriptionService,
    parse_digest_size,
    parse_digest_time,
    parse_timezone,
)
from bot.telegram_html import escape
from readmodels import SubscriberView

TIME_CHOICES = ("06:00", "07:00", "08:00", "09:00", "12:00", "18:00", "20:00", "22:00")
TZ_CHOICES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)
SIZE_CHOICES = (5, 10, 15, 20)
LANGUAGE_NAMES = {"zh": "简体中文", "en": "English"}


class SettingsCommands:
    def __init__(self, *, subscriptions: SubscriptionService) -> None:
        self._subs = subscriptions

    async def settings(self, req: Request) -> Reply:
        if req.args:
            if len(req.args) != 2:
                return say(req, "settings_usage")
            return await self._apply(req, req.args[0].lower(), req.args[1], edit=False)
        return self._menu(req.subscriber, req, edit=False)

    async def button(self, req: Request, values: tuple[ButtonValue, ...]) -> Reply:
        """`set:NAME` opens the choices of one setting; `set:NAME:VALUE` saves one."""
        name, value = str(values[0]), str(values[1])
        if value:
            return await self._apply(req, name, value, edit=True)
        if name == "time":
            choices = [SETTINGS.button(v, "time", v) for v in TIME_CHOICES]
            return text_reply(t(req.lang, "settings_pick_time"), buttons=button_rows(choices, 4), edit=True)
        if name == "tz":
            choices = [SETTINGS.button(v, "tz", v) for v in TZ_CHOICES]
            return text_reply(t(req.lang, "settings_pick_tz"), buttons=button_rows(choices, 2), edit=True)
        if name == "size":
            choices = [SETTINGS.button(str(v), "size", v) for v in SIZE_CHOICES]
            return text_reply(t(req.lang, "settings_pick_size"), buttons=button_rows(choices, 4), edit=True)
        return say(req, "button_expired")

    def _menu(self, subscriber: SubscriberView, req: Request, *, edit: bool) -> Reply:
        lang = req.lang
        digest_time = subscriber.digest_time.strftime("%H:%M")
        text = t(
            lang,
            "settings_header",
            time=digest_time,
            tz=escape(subscriber.timezone),
            size=subscriber.digest_size,
            lang=LANGUAGE_NAMES[lang],
        )
        other = "en" if lang == "zh" else "zh"
        buttons = [
            SETTINGS.button(t(lang, "button_time", time=digest_time), "time"),
            SETTINGS.button(t(lang, "button_tz"), "tz"),
            SETTINGS.button(t(lang, "button_size", size=subscriber.digest_size), "size"),
            SETTINGS.button(t(lang, "button_lang"), "lang", other),
        ]
        return text_reply(text, buttons=button_rows(buttons, 2), edit=edit)

    async def _apply(self, req: Request, name: str, value: str, *, edit: bool) -> Reply:
        ctx, lang = req.ctx, req.lang
        try:
            if name == "time":
                subscriber = await self._subs.update_settings(ctx, digest_time=parse_digest_time(value))
            elif name == "tz":
                subscriber = await self._subs.update_settings(ctx, timezone=parse_timezone(value))
            elif name == "size":
                subscriber = await self._subs.update_settings(ctx, digest_size=parse_digest_size(value))
            elif name == "lang" and value in ("zh", "en"):
                subscriber = await self._subs.update_settings(ctx, language=value)
                lang = choose_language(value, None)
            else:
                return say(req, "settings_usage")
        except InvalidSetting as exc:
            return say(req, exc.key, value=escape(exc.value[:40]), max=MAX_DIGEST_SIZE)
        menu = self._menu(subscriber, Request(ctx, subscriber, lang, []), edit=edit)
        return Reply(
            chunks=[t(lang, "settings_saved") + "\n\n" + menu.chunks[0]], buttons=menu.buttons, edit=edit
        )
