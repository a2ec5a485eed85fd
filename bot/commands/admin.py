"""Admin commands: /addfeed, /removefeed, /feeds, /stats. Only ADMIN_IDS reach them (the table checks)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.commands.base import Request, say, text_reply
from bot.commands.replies import Reply
from bot.errors import FeedError
from bot.i18n import Lang, t
from bot.render import format_local_time
from bot.services.feeds import FeedService
from bot.services.llm_budget import BUDGET_WINDOW, LlmBudget
from bot.services.reading import ReadingService
from bot.telegram_html import escape


class AdminCommands:
    def __init__(
        self, *, feeds: FeedService, reading: ReadingService, llm_budget: LlmBudget | None = None
    ) -> None:
        self._feeds = feeds
        self._reading = reading
        self._llm_budget = llm_budget  # None: LLM summaries are off

    async def addfeed(self, req: Request) -> Reply:
        if len(req.args) != 1:
            return say(req, "addfeed_usage")
        try:
            fetched = await self._feeds.add_and_fetch(req.args[0])
        except FeedError as exc:
            return say(req, "feed_error", error=escape(str(exc)))
        return say(
            req,
            "feed_added",
            id=fetched.source_id,
            name=escape(fetched.name[:100]),
            url=escape(fetched.url),
            imported=fetched.result.imported,
        )

    async def removefeed(self, req: Request) -> Reply:
        if len(req.args) != 1:
            return say(req, "removefeed_usage")
        try:
            feed = await self._feeds.remove(req.args[0])
        except FeedError as exc:
            return say(req, "feed_error", error=escape(str(exc)))
        return say(req, "feed_removed", id=feed.id, url=escape(feed.url))

    async def feeds(self, req: Request) -> Reply:
        feeds = await self._feeds.list_feeds()
        if not feeds:
            return say(req, "sources_none")
        lang, tz = req.lang, ZoneInfo(req.subscriber.timezone)
        blocks = [t(lang, "feeds_header")]
        for feed in feeds:
            blocks.append(
                t(
                    lang,
                    "feed_admin_line",
                    id=feed.id,
                    name=escape(feed.name[:100]),
                    url=escape(feed.url),
                    fetched=format_local_time(feed.last_fetch_at, tz) if feed.last_fetch_at else "-",
                    status=escape(feed.last_status or "-"),
                    streak=feed.error_streak,
                    error=f" ({escape(feed.last_error[:200])})" if feed.last_error else "",
                )
            )
        return text_reply("\n\n".join(blocks))

    async def stats(self, req: Request) -> Reply:
        s = await self._reading.stats()
        text = t(
            req.lang,
            "stats",
            active=s.active,
            subscribers=s.subscribers,
            articles=s.articles,
            recent=s.recent,
            sent=s.sent,
            pending=s.pending,
            failed=s.failed,
            dead=s.dead,
        )
        return text_reply(text + "\n" + await self._llm_use(req.lang))

    async def _llm_use(self, lang: Lang) -> str:
        budget = self._llm_budget
        if budget is None:
            return t(lang, "stats_llm_off")
        day = await self._reading.llm_stats(window=BUDGET_WINDOW)
        tokens = day.prompt_tokens + day.completion_tokens
        line = t(
            lang,
            "stats_llm",
            requests=f"{day.requests} / {budget.daily_requests}" if budget.daily_requests else day.requests,
            tokens=f"{tokens} / {budget.daily_tokens}" if budget.daily_tokens else tokens,
        )
        return line + (t(lang, "stats_llm_spent") if budget.spent(day) else "")
