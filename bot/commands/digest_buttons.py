"""The buttons under a digest, daily or on demand: Open for each item, More and « Back, mute a group's topic,
pause the daily digest."""

from __future__ import annotations

from collections.abc import Sequence

from bot.commands.base import button_rows
from bot.commands.buttons import DIGEST_MORE, MUTE_TOPIC, PAUSE
from bot.commands.replies import Button
from bot.i18n import Lang, t
from bot.render import item_link, safe_link
from bot.services.subscriptions import clean_topic
from readmodels import DigestGroup

PAUSE_DAYS = 7
MUTE_BUTTONS = 3  # the groups of a digest that get a "mute" button, biggest first
OPEN_PER_ROW = 5


def digest_buttons(
    lang: Lang,
    groups: Sequence[DigestGroup],
    *,
    offset: int = 0,
    topic: str = "",
    back: bool = False,
    page_size: int | None = None,
    pause: bool = True,
    controls: bool = True,
) -> list[list[Button]]:
    """Open (a link button per numbered item), « Back (on a next page: `page_size` items before, the chat's
    digest size, which a short last page is not), More (the next items of the digest, or of `topic`'s), mute
    a group's topic (not the catch-all "Other": that word would hide every item mentioning it), pause 7
    days. Without `controls` (a channel's digest), only Open: anyone reading a channel may press its buttons,
    and the answer would be posted to the whole channel."""
    items = [view for group in groups for view in group.items]
    opens = [
        Button(str(offset + number), url=link)
        for number, view in enumerate(items, start=1)
        if (link := safe_link(item_link(view))) is not None
    ]
    rows = button_rows(opens, OPEN_PER_ROW)
    if not controls:
        return rows
    size = len(items)
    previous = max(0, offset - (page_size or size))
    back_button = DIGEST_MORE.button(t(lang, "button_back"), previous, topic) if back else None
    # a page shorter than a whole one is the last
    more = (
        DIGEST_MORE.button(t(lang, "button_more"), offset + size, topic) if size >= (page_size or 0) else None
    )
    rows += button_rows([back_button, more], 2)
    # a group's tag, when a topic can be that tag (a longer one made a button that always answered "expired")
    named = sorted(
        (
            g
            for g in groups
            if not g.plain and len(g.items) > 1 and g.topic and clean_topic(g.topic) == g.topic
        ),
        key=lambda g: -len(g.items),
    )
    mutes = [MUTE_TOPIC.button(t(lang, "button_mute_topic", topic=g.topic), g.topic) for g in named]
    rows += button_rows(mutes[:MUTE_BUTTONS], MUTE_BUTTONS)
    if pause:
        rows += button_rows([PAUSE.button(t(lang, "button_pause", days=PAUSE_DAYS), PAUSE_DAYS)], 1)
    return rows
