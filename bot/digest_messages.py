"""The daily digest's words: headings and labels in the chat's language, rendered to Telegram HTML.

The digest service chooses and groups the items; this module, on the presentation side, gives them words.
It is handed to `DigestService` by the composition root (`bot/composition.py`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import date
from zoneinfo import ZoneInfo

from bot.commands.buttons import MY_TOPICS, stashed_values
from bot.commands.digest_buttons import digest_buttons
from bot.i18n import Lang, choose_language, t
from bot.keyboards import keyboard_json
from bot.render import render_digest, safe_link
from bot.services.digests import DigestDraft
from bot.telegram_html import CAPTION_LIMIT, utf16_len
from readmodels import DigestGroup, SubscriberView

# a header longer than this leaves a photo caption too little room for the lead item
_PHOTO_HEADER_UNITS = 300


def subscriber_language(subscriber: SubscriberView) -> Lang:
    return choose_language(subscriber.language, subscriber.telegram_language)


class DigestMessages:
    """`bot.services.digests.DigestWriter` in the bot's languages."""

    def style(self, subscriber: SubscriberView) -> Hashable:
        return subscriber_language(subscriber), subscriber.timezone

    def other_label(self, subscriber: SubscriberView) -> str:
        return t(subscriber_language(subscriber), "digest_other")

    def messages(
        self, subscriber: SubscriberView, groups: Sequence[DigestGroup], local_date: date
    ) -> DigestDraft:
        """The digest's messages: the lead story as a photo with its caption when it has an image, the rest
        as text; buttons under the last message: Open for each item, More, mute a group's topic, pause."""
        lang = subscriber_language(subscriber)
        header = t(lang, "digest_header", date=local_date.strftime("%Y-%m-%d"))
        tz = ZoneInfo(subscriber.timezone)
        items = [view for group in groups for view in group.items]
        photo = items[0].image_url if items and utf16_len(header) <= _PHOTO_HEADER_UNITS else None
        if photo is not None and safe_link(photo) is None:
            photo = None
        chunks = render_digest(
            groups, tz=tz, header=header, first_limit=CAPTION_LIMIT if photo is not None else None
        )
        buttons = digest_buttons(
            lang,
            groups,
            topic=MY_TOPICS,  # its More pages through the chat's own topics, not through everything
            page_size=subscriber.digest_size,
            controls=subscriber.kind != "channel",
        )
        return DigestDraft(
            chunks,
            photo_url=photo,
            reply_markup=keyboard_json(buttons),
            callback_values=stashed_values(buttons),
        )
