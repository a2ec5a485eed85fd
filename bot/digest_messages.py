"""The daily digest's words: headings and labels in the chat's language, rendered to Telegram HTML.

The digest service chooses and groups the items; this module, on the presentation side, gives them words.
It is handed to `DigestService` by the composition root (`bot/composition.py`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import date
from zoneinfo import ZoneInfo

from bot.i18n import Lang, choose_language, t
from bot.render import render_digest
from readmodels import DigestGroup, SubscriberView


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
    ) -> list[str]:
        header = t(subscriber_language(subscriber), "digest_header", date=local_date.strftime("%Y-%m-%d"))
        return render_digest(groups, tz=ZoneInfo(subscriber.timezone), header=header)
