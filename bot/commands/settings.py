"""/settings: a chat's digest time, time zone, digest size, language, the languages of the articles it
gets, silent delivery, link previews and a pause, by arguments or by the menu's buttons.

Values come from what people type and from button data any client can forge: each is checked here before it
reaches the service (ASCII numbers within bounds, time zones from the list the zone database names).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.commands.base import Request, button_rows, say, text_reply
from bot.commands.buttons import MAX_PAUSE_DAYS, SETTINGS, ButtonValue
from bot.commands.replies import Reply
from bot.errors import InvalidSetting
from bot.i18n import choose_language, listed, t
from bot.numbers import parse_bounded_int
from bot.render import format_local_time
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
# the article languages a reader can pick, each named in itself (ISO 639-1, as summarizer.language detects)
ARTICLE_LANGUAGES = {
    "zh": "中文", "en": "English", "ja": "日本語", "ko": "한국어", "de": "Deutsch", "fr": "Français",
    "es": "Español", "pt": "Português", "ru": "Русский",
}  # fmt: skip
ALL = "all"
ORIGINAL = "original"
# the languages the LLM is asked to summarize in for a reader (the bot's own languages)
SUMMARY_LANGUAGES = {"zh": "中文", "en": "English"}
ON_OFF = {"on": True, "off": False, "1": True, "0": False, "yes": True, "no": False, "开": True, "关": False}


class SettingsCommands:
    def __init__(
        self, *, subscriptions: SubscriptionService, now: Callable[[], datetime], llm: bool = False
    ) -> None:
        self._subs = subscriptions
        self._now = now
        self._llm = llm  # summaries in a reader's language need the LLM

    async def settings(self, req: Request) -> Reply:
        if req.args:
            name = req.args[0].lower()
            if name in ("languages", "langs") and len(req.args) > 2:  # "/settings languages zh en"
                return await self._apply(req, name, ",".join(req.args[1:]), edit=False)
            if len(req.args) != 2:
                return say(req, "settings_usage")
            return await self._apply(req, name, req.args[1], edit=False)
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
        if name == "langs":
            return self._language_choices(req.subscriber, req)
        return say(req, "button_expired")

    def _language_choices(self, subscriber: SubscriberView, req: Request) -> Reply:
        """A button per article language, ticked when chosen (a press toggles it), and "all"."""
        chosen = set(subscriber.article_languages)
        choices = [
            SETTINGS.button(("✓ " if code in chosen else "") + name, "langs", code)
            for code, name in ARTICLE_LANGUAGES.items()
        ]
        choices.append(
            SETTINGS.button(("✓ " if not chosen else "") + t(req.lang, "all_languages"), "langs", ALL)
        )
        choices.append(SETTINGS.button(t(req.lang, "button_back"), "menu", ALL))
        text = t(req.lang, "settings_pick_langs", langs=self._languages_shown(subscriber, req))
        return text_reply(text, buttons=button_rows(choices, 3), edit=True)

    @staticmethod
    def _languages_shown(subscriber: SubscriberView, req: Request) -> str:
        if not subscriber.article_languages:
            return t(req.lang, "all_languages")
        return listed(req.lang, (ARTICLE_LANGUAGES.get(code, code) for code in subscriber.article_languages))

    def _menu(self, subscriber: SubscriberView, req: Request, *, edit: bool) -> Reply:
        lang = req.lang
        digest_time = subscriber.digest_time.strftime("%H:%M")
        tz = ZoneInfo(subscriber.timezone)
        paused = subscriber.paused_until
        text = t(
            lang,
            "settings_header",
            time=digest_time,
            tz=escape(subscriber.timezone),
            size=subscriber.digest_size,
            lang=LANGUAGE_NAMES[lang],
            langs=self._languages_shown(subscriber, req),
            silent=t(lang, "on" if subscriber.silent else "off"),
            previews=t(lang, "on" if subscriber.link_previews else "off"),
        )
        if self._llm:
            chosen = subscriber.summary_language
            shown = SUMMARY_LANGUAGES.get(chosen, chosen) if chosen else t(lang, "summaries_original")
            text += "\n" + t(lang, "settings_summaries", language=shown)
        if paused is not None and paused > self._now():
            text += "\n" + t(lang, "settings_paused", date=format_local_time(paused, tz)[:10])
        other = "en" if lang == "zh" else "zh"
        silent_next = "off" if subscriber.silent else "on"
        previews_next = "off" if subscriber.link_previews else "on"
        buttons = [
            SETTINGS.button(t(lang, "button_time", time=digest_time), "time"),
            SETTINGS.button(t(lang, "button_tz"), "tz"),
            SETTINGS.button(t(lang, "button_size", size=subscriber.digest_size), "size"),
            SETTINGS.button(t(lang, "button_lang"), "lang", other),
            SETTINGS.button(t(lang, "button_langs"), "langs"),
            SETTINGS.button(t(lang, f"button_silent_{silent_next}"), "silent", silent_next),
            SETTINGS.button(t(lang, f"button_previews_{previews_next}"), "previews", previews_next),
        ]
        if self._llm:
            # one press: summaries in the bot's language, another: as written
            wanted = "" if subscriber.summary_language == lang else lang
            label = "button_summaries_original" if not wanted else "button_summaries_mine"
            buttons.append(SETTINGS.button(t(lang, label), "summaries", wanted or ORIGINAL))
        return text_reply(text, buttons=button_rows(buttons, 2), edit=edit)

    @staticmethod
    def _parse_languages(subscriber: SubscriberView, value: str, *, toggle: bool) -> list[str]:
        """`all`, or language codes ("zh,en"); a button press toggles its one language instead."""
        if value.strip().lower() == ALL:
            return []
        codes = [code.strip().lower() for code in value.replace("，", ",").split(",") if code.strip()]
        unknown = [code for code in codes if code not in ARTICLE_LANGUAGES]
        if unknown or not codes:
            raise InvalidSetting("settings_bad_langs", value)
        if not toggle:
            return list(dict.fromkeys(codes))
        chosen = list(subscriber.article_languages)
        code = codes[0]
        return [c for c in chosen if c != code] if code in chosen else [*chosen, code]

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
            elif name in ("languages", "langs"):
                languages = self._parse_languages(req.subscriber, value, toggle=edit)
                subscriber = await self._subs.update_settings(ctx, article_languages=languages)
                if edit:  # a press in the language choices: show them again, ticked anew
                    return self._language_choices(subscriber, Request(ctx, subscriber, lang, []))
            elif name in ("silent", "previews") and value.lower() in ON_OFF:
                on = ON_OFF[value.lower()]
                if name == "silent":
                    subscriber = await self._subs.update_settings(ctx, silent=on)
                else:
                    subscriber = await self._subs.update_settings(ctx, link_previews=on)
            elif name == "summaries":
                if not self._llm:
                    return say(req, "summaries_need_llm")
                code = value.strip().lower()
                if code not in SUMMARY_LANGUAGES and code != ORIGINAL:
                    raise InvalidSetting("settings_bad_summaries", value)
                chosen = "" if code == ORIGINAL else code
                subscriber = await self._subs.update_settings(ctx, summary_language=chosen)
            elif name == "pause":
                days = parse_bounded_int(value, low=0, high=MAX_PAUSE_DAYS)
                if days is None:
                    return say(req, "settings_bad_pause", value=escape(value[:40]), max=MAX_PAUSE_DAYS)
                subscriber = await self._subs.pause(ctx, days)
            elif name == "menu":
                return self._menu(req.subscriber, req, edit=edit)
            else:
                return say(req, "settings_usage")
        except InvalidSetting as exc:
            codes = ", ".join(ARTICLE_LANGUAGES)
            return say(req, exc.key, value=escape(exc.value[:40]), max=MAX_DIGEST_SIZE, codes=codes)
        menu = self._menu(subscriber, Request(ctx, subscriber, lang, []), edit=edit)
        return Reply(
            chunks=[t(lang, "settings_saved") + "\n\n" + menu.chunks[0]], buttons=menu.buttons, edit=edit
        )
