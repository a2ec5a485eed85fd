"""The `newsbot` command line: argument parsing and plain-text/JSON output over the services.

Each command is a small async function taking the parsed arguments and the `Services` that the composition
root built (`bot/composition.py`); it reads and writes through the same services as the bot, never the
database itself. Every read command has a `--json` twin, written by `print_json`. Errors the user can fix
print one line on stderr; the exit status comes from the error tree in one place (`exit_status`): 1 means
some input failed, 2 means newsbot could not run at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import __version__
from bot.composition import Services, open_services
from bot.config import Settings, load_settings
from bot.errors import BadInput, CannotRun, NewsbotError, SourceError, printable
from bot.numbers import parse_bounded_int
from bot.services.ingest import read_article_bytes
from bot.sources.types import RawArticle
from bot.telegram_html import html_to_plain
from readmodels import ArticleView, ChatContext, FeedView, without_credentials

if TYPE_CHECKING:
    from bot.services.digests import PlannedDigest

# What only some commands use (python-telegram-bot, aiohttp, the OpenAI client) is imported inside them: a
# read command such as `newsbot latest` would otherwise spend most of its time importing them.

log = logging.getLogger("newsbot")

EXIT_OK, EXIT_FAILURES, EXIT_CANNOT_RUN = 0, 1, 2


class CredentialFreeFormatter(logging.Formatter):
    """Log lines (ours, the libraries', tracebacks) without the user:password@ part of any URL in them: a
    feed URL may carry credentials, and logs are read by more people than the config."""

    def format(self, record: logging.LogRecord) -> str:
        return without_credentials(super().format(record))


def exit_status(error: NewsbotError) -> int:
    """The one mapping of newsbot's error tree (bot/errors.py) to exit statuses."""
    if isinstance(error, CannotRun):
        return EXIT_CANNOT_RUN
    if isinstance(error, BadInput):
        return EXIT_FAILURES
    return EXIT_CANNOT_RUN


def print_json(document: object, out: TextIO, *, line: bool = False) -> None:
    """Every JSON the command line writes: UTF-8 text as is (Chinese stays readable); indented, or one line
    of JSON Lines with `line`."""
    print(json.dumps(document, ensure_ascii=False, indent=None if line else 2), file=out)


# ---- commands -------------------------------------------------------------------------------------------


async def cmd_import(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    from bot.progress import Progress

    started = datetime.now(UTC)
    with Progress(err, what="import", unit="file") as progress:
        result = await app.ingest.import_paths(
            [Path(p) for p in args.paths],
            on_failure=lambda failure: progress.say(f"failed: {failure}"),
            on_file=progress.update,
        )
    if app.llm is not None and result.imported:
        # stored with extractive summaries already; upgrade them before exiting (never an import failure)
        with Progress(err, what="LLM summaries", unit="article") as progress:
            upgrades = await app.llm.upgrade_pending(
                app.llm.pending(ingested_since=started), on_article=progress.update
            )
        print(upgrades.line(), file=out)
    print(result.summary_line(), file=out)
    return EXIT_FAILURES if result.failed else EXIT_OK


async def cmd_resummarize(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    from bot.services.llm import SUMMARY_METHODS

    if app.llm is None:
        print(
            "newsbot: resummarize needs the LLM: set OPENAI_API_KEY (or SUMMARIZER=llm and OPENAI_BASE_URL)",
            file=err,
        )
        return EXIT_CANNOT_RUN
    since = datetime.combine(args.since, time(0, 0), tzinfo=app.settings.tz) if args.since else None
    methods = tuple(m for name in args.method or ["extractive"] for m in SUMMARY_METHODS[name])
    # an explicit run tries again the articles automatic upgrades gave up on
    criteria = app.llm.pending(methods=methods, listed_since=since, skip_given_up=False)
    from bot.progress import Progress

    with Progress(err, what="resummarize", unit="article") as progress:
        report = await app.llm.upgrade_pending(criteria, on_article=progress.update)
    print(report.line(), file=out)
    return EXIT_FAILURES if report.left or report.fallback else EXIT_OK


async def cmd_stats(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    from summarizer.llm import PROMPT_VERSION

    periods = {
        "day": await app.reading.llm_stats(window=timedelta(days=1)),
        "week": await app.reading.llm_stats(window=timedelta(days=7)),
    }
    settings = app.settings
    if args.json:
        document = {
            "llm": {
                "enabled": app.llm is not None,
                "model": settings.openai_model,
                "prompt_version": PROMPT_VERSION,
                "daily_requests": settings.llm_daily_requests,
                "daily_tokens": settings.llm_daily_tokens,
            },
            **{name: {**asdict(s), "failures": s.failures} for name, s in periods.items()},
        }
        print_json(document, out)
        return EXIT_OK
    state = f"model {settings.openai_model}" if app.llm is not None else "off (offline extractive summaries)"
    print(f"LLM summaries: {state}, prompt {PROMPT_VERSION}", file=out)
    day = periods["day"]
    if settings.llm_daily_requests is not None:
        print(f"budget: {day.requests} of {settings.llm_daily_requests} requests in the last day", file=out)
    if settings.llm_daily_tokens is not None:
        used = day.prompt_tokens + day.completion_tokens
        print(f"budget: {used} of {settings.llm_daily_tokens} tokens in the last day", file=out)
    print(f"{'':<20}{'last day':>10}{'last week':>11}", file=out)
    day, week = periods["day"], periods["week"]
    rows = [
        ("requests", day.requests, week.requests),
        ("  answered", day.ok, week.ok),
        ("failures", day.failures, week.failures),
        ("  invalid answers", day.invalid, week.invalid),
        ("  timeouts", day.timeouts, week.timeouts),
        ("  rate limited", day.rate_limited, week.rate_limited),
        ("  other errors", day.errors, week.errors),
        ("fallbacks", day.fallbacks, week.fallbacks),
        ("cache hits", day.cache_hits, week.cache_hits),
        ("prompt tokens", day.prompt_tokens, week.prompt_tokens),
        ("completion tokens", day.completion_tokens, week.completion_tokens),
    ]
    for name, a, b in rows:
        print(f"{name:<20}{a:>10,}{b:>11,}", file=out)
    return EXIT_OK


async def cmd_fetch(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    from bot.progress import Progress
    from bot.sources.feeds import feed_http_session

    # through a resolver that refuses private addresses (unless FETCH_ALLOW_PRIVATE)
    async with feed_http_session(app.settings.fetch_allow_private) as http:
        # on demand: also feeds fetched within the interval (never one another process is fetching)
        with Progress(err, what="fetch", unit="feed") as progress:
            outcomes = await app.feeds.fetch_all(http, force=True, on_feed=progress.update)
    if not outcomes:
        print("no feeds; add one with: newsbot feeds add URL", file=out)
        return EXIT_OK
    failed = 0
    imported = duplicates = 0
    for o in outcomes:
        imported += o.result.imported
        duplicates += o.result.duplicates
        if o.status == "error":
            print(f"failed: {o.url}: {printable(o.error or '')}", file=err)
        for failure in o.result.failed:
            if failure.where != o.url:
                print(f"failed: {failure}", file=err)
        failed += len(o.result.failed)
        print(f"{o.status:>12}  {o.name}  (+{o.result.imported} new, {o.result.duplicates} seen)", file=out)
    print(f"imported {imported}, duplicates {duplicates}, failed {failed}", file=out)
    return EXIT_FAILURES if failed else EXIT_OK


async def cmd_feeds(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    tz = app.settings.tz
    if args.feeds_command == "add":
        source = await app.feeds.add(args.url, name=args.name)
        print(f"added feed {source.id}: {source.url}", file=out)
    elif args.feeds_command == "remove":
        source = await app.feeds.remove(args.feed)
        print(f"removed feed {source.id}: {source.url}", file=out)
    elif args.feeds_command == "list":
        feeds = await app.feeds.list_feeds()
        if args.json:
            print_json([_feed_json(s) for s in feeds], out)
        elif not feeds:
            print("no feeds; add one with: newsbot feeds add URL", file=out)
        for s in feeds if not args.json else []:
            fetched = _local(s.last_fetch_at, tz) if s.last_fetch_at else "never fetched"
            status = s.last_status or "-"
            line = (
                f"{s.id:>4}  {s.name}  <{s.url}>  last fetch {fetched}, {status}, "
                f"error streak {s.error_streak}"
            )
            if s.last_error:
                line += f" ({printable(s.last_error)})"
            print(line, file=out)
    elif args.feeds_command == "import":
        path = Path(args.opml)
        try:
            # as article files are read: a FIFO does not hang the read, /dev/zero is not read for ever
            data = await asyncio.to_thread(read_article_bytes, path, max_bytes=app.settings.max_file_bytes)
        except SourceError as exc:
            print(f"failed: {exc}", file=err)
            return EXIT_FAILURES
        except OSError as exc:
            print(f"failed: {printable(str(path))}: cannot read: {exc.strerror or exc}", file=err)
            return EXIT_FAILURES
        try:
            added, skipped = await app.feeds.import_opml(data, origin=str(path))
        except SourceError as exc:
            print(f"failed: {exc}", file=err)
            return EXIT_FAILURES
        print(f"added {len(added)} feeds, {len(skipped)} already followed", file=out)
    elif args.feeds_command == "export" and args.json:
        print_json([_feed_json(s) for s in await app.feeds.list_feeds()], out)
    elif args.feeds_command == "export":
        document = await app.feeds.export_opml()
        if args.output:
            try:
                await asyncio.to_thread(Path(args.output).write_text, document, encoding="utf-8")
            except OSError as exc:
                print(f"failed: {printable(args.output)}: cannot write: {exc.strerror or exc}", file=err)
                return EXIT_FAILURES
        else:
            out.write(document)
    return EXIT_OK


async def cmd_latest(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    items = (await app.reading.latest(limit=args.n, tag=args.tag, publisher=args.source)).items
    if args.json:
        print_json([_article_json(v) for v in items], out)
        return EXIT_OK
    if not items:
        print("no articles yet; try: newsbot import PATH", file=out)
    for view in items:
        print(render_article_text(view, app.settings.tz), file=out)
    return EXIT_OK


async def cmd_tags(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    counts = await app.reading.topics(limit=args.n, window=timedelta(days=args.days))
    if args.json:
        print_json([{"tag": c.name, "count": c.count} for c in counts], out)
        return EXIT_OK
    if not counts:
        print(f"no tagged articles in the last {args.days} days", file=out)
    for c in counts:
        print(f"{c.count:>6}  {c.name}", file=out)
    return EXIT_OK


async def cmd_run(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    from bot.runner import run_bot

    return await run_bot(app)


def console_settings(settings: Settings, args: argparse.Namespace) -> Settings:
    """`console --admin` with no ADMIN_IDS makes the console's own user the admin."""
    from bot.console import CONSOLE_CHAT_ID

    if args.admin and not settings.admin_ids:
        return settings.model_copy(update={"admin_ids": [CONSOLE_CHAT_ID]})
    return settings


async def cmd_console(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    from bot.console import CONSOLE_CHAT_ID, run_console

    admins = app.settings.admin_ids
    admin = args.admin or CONSOLE_CHAT_ID in admins
    ctx = ChatContext(
        chat_id=CONSOLE_CHAT_ID,
        chat_kind="private",
        user_id=admins[0] if admin and admins else CONSOLE_CHAT_ID,
        language_code=args.lang,
        chat_title="console",
    )
    await run_console(app.commands, ctx, sys.stdin, out)
    return EXIT_OK


# how long `digest --send-now` keeps sending messages that Telegram asked us to hold back
SEND_NOW_PATIENCE = timedelta(minutes=2)


async def cmd_digest(args: argparse.Namespace, app: Services, out: TextIO, err: TextIO) -> int:
    if args.dry_run:
        planned = await app.digests.plan(force=True)
        if args.json:
            print_json([_planned_json(digest) for digest in planned], out)
            return EXIT_OK
        if not planned:
            print("no subscriber is waiting for a digest today", file=out)
        for digest in planned:
            s = digest.subscriber
            count = len(digest.article_ids)
            print(f"== chat {s.chat_id} ({s.kind}, {s.title or '-'}): {count} items", file=out)
            for chunk in digest.chunks:
                print(html_to_plain(chunk), file=out)
            print(file=out)
        return EXIT_OK
    print(await send_digests_now(app), file=out)
    return EXIT_OK


async def send_digests_now(app: Services) -> str:
    """Enqueue today's digest for every digest subscriber not yet served, then see them sent: by this
    process, or by a running bot when one holds the sender lease (it sends; this waits and reports)."""
    from telegram import Bot

    from bot.app import bot_token, initialize_bot, resolve_channel
    from bot.telegram_request import AiohttpRequest

    settings = app.settings
    # a connection per request in flight, as the running bot's Application has
    request = AiohttpRequest(connections=settings.send_concurrency + 4)
    bot = Bot(bot_token(settings), base_url=settings.telegram_base_url, request=request)
    try:
        await initialize_bot(bot, settings)
        if settings.channel_id:
            await resolve_channel(bot, app.subscriptions, settings.channel_id)
        report = await app.digests.run(force=True)
        sender = app.outbox_sender(bot)
        elsewhere = await sender.lease_holder()
        totals = await sender.drain(patience=SEND_NOW_PATIENCE)
        keys = [(d.subscriber.id, d.local_date) for d in report.planned if d.chunks]
        statuses = await sender.await_digests(keys, patience=SEND_NOW_PATIENCE) if keys else {}
    finally:
        await bot.shutdown()
    planned = (
        f"digests: {report.enqueued} enqueued, {report.empty} with nothing new, "
        f"{report.already_done} already sent"
    )
    if not keys:
        return planned
    words = {"sent": "sent", "failed": "failed", "dropped": "dropped (chat gone)", "pending": "still pending"}
    outcome = ", ".join(f"{statuses[s]} {word}" for s, word in words.items() if statuses.get(s))
    sender_line = (
        f"sent by the running bot {elsewhere}" if elsewhere and not totals.total() else f"outbox: {totals}"
    )
    return f"{planned}; delivered: {outcome or 'nothing yet'}; {sender_line}"


def cmd_summarize(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    # the parsers and the summarizer are imported by the commands that use them: `latest` never waits for them
    from bot.services.prepare import prepare_article
    from bot.sources.files import parse_article_file

    max_chars = args.max_chars or settings.summary_max_chars
    if args.jsonl:
        return _summarize_jsonl(sys.stdin, out, err, max_chars=max_chars)
    if not args.files:
        print("summarize: give FILE... or --jsonl", file=err)
        return EXIT_CANNOT_RUN
    failed = 0
    rows: list[dict[str, object]] = []
    for name in args.files:
        try:
            data = read_article_bytes(Path(name), max_bytes=settings.max_file_bytes)
            articles = parse_article_file(data, origin=name, suffix=Path(name).suffix, default_tz=settings.tz)
        except SourceError as exc:
            print(f"failed: {exc}", file=err)
            failed += 1
            continue
        except OSError as exc:
            print(f"failed: {name}: cannot read: {exc.strerror or exc}", file=err)
            failed += 1
            continue
        for raw in articles:
            prepared = prepare_article(raw, max_chars=max_chars)
            if args.json:
                rows.append(
                    {
                        "file": name,
                        "title": prepared.title,
                        "summary": prepared.summary.text,
                        "tags": prepared.tags,
                    }
                )
            else:
                print(
                    f"{prepared.title}\n  {prepared.summary.text}\n  {_hashtags(prepared.tags)}\n", file=out
                )
    if args.json:
        print_json(rows, out)
    return EXIT_FAILURES if failed else EXIT_OK


def _summarize_jsonl(stdin: TextIO, out: TextIO, err: TextIO, *, max_chars: int) -> int:
    from bot.services.prepare import prepare_article

    failed = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
            title, text = str(item.get("title") or ""), str(item.get("text") or "")
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            print(f"failed: stdin line {number}: {reason}", file=err)
            print_json({"id": None, "summary": "", "tags": [], "error": reason}, out, line=True)
            failed += 1
            continue
        raw = RawArticle(title=title, body=text, body_format="text", origin=f"stdin line {number}")
        prepared = prepare_article(raw, max_chars=max_chars)
        row = {"id": item.get("id"), "summary": prepared.summary.text, "tags": prepared.tags}
        print_json(row, out, line=True)
    out.flush()
    return EXIT_FAILURES if failed else EXIT_OK


# ---- output ---------------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _local(value: datetime, tz: timezone | object) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")  # type: ignore[arg-type]


def _hashtags(tags: Sequence[str]) -> str:
    return " ".join("#" + t.replace(" ", "_") for t in tags)


def _feed_json(feed: FeedView) -> dict[str, object]:
    return {
        "id": feed.id,
        "name": feed.name,
        "url": feed.url,
        "site_url": feed.site_url,
        "category": feed.category,
        "last_fetch": _iso(feed.last_fetch_at),
        "last_success": _iso(feed.last_success_at),
        "status": feed.last_status,
        "error": feed.last_error,
        "error_streak": feed.error_streak,
    }


def _planned_json(digest: PlannedDigest) -> dict[str, object]:
    s = digest.subscriber
    return {
        "chat_id": s.chat_id,
        "kind": s.kind,
        "title": s.title,
        "date": digest.local_date.isoformat(),
        "since": _iso(digest.since),
        "groups": [{"topic": g.topic, "items": [_article_json(v) for v in g.items]} for g in digest.groups],
        "messages": digest.chunks,
    }


def _article_json(view: ArticleView) -> dict[str, object]:
    return {
        "title": view.title,
        "link": view.link,
        "source": view.publisher,
        "published": _iso(view.published_at or view.listed_at),
        "summary": view.summary,
        "summary_method": view.summary_method,
        "language": view.language,  # ISO 639-1, as detected at import ("und" when it could not be told)
        "tags": view.tags,
        "image": view.image_url,
        "chars": view.chars,
        # the story's other reports: other sources' articles and exact copies, earliest first
        "also": [
            {
                "title": also.title,
                "link": also.link,
                "source": also.publisher,
                "published": _iso(also.published_at) if also.published_at else None,
            }
            for also in view.also
        ],
    }


def render_article_text(view: ArticleView, tz: object) -> str:
    lines = [
        f"{_local(view.published_at or view.listed_at, tz)}  {view.publisher}",
        view.title,
        *([f"  also: {', '.join(dict.fromkeys(a.publisher for a in view.also))}"] if view.also else []),
        f"  {view.summary}",
    ]
    if view.tags:
        lines.append(f"  {_hashtags(view.tags)}")
    if view.link:
        lines.append(f"  {view.link}")
    return "\n".join(lines) + "\n"


# ---- parsing and dispatch -------------------------------------------------------------------------------


def _date(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None
    if not 1900 <= day.year <= 2999:  # 0001-01-01 in a zone east of UTC is no instant Python can hold
        raise argparse.ArgumentTypeError(f"not a date from 1900 to 2999: {value!r}")
    return day


def _bounded(high: int) -> Callable[[str], int]:
    """An argparse type: a whole number of ASCII digits from 1 to `high` (past it is a typo, and too big for
    SQLite's LIMIT or for a date)."""

    def parse(value: str) -> int:
        text = value.strip()
        digits = text.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):  # '²' and '1_0' are no count here either
            raise argparse.ArgumentTypeError(f"not a whole number: {value!r}")
        number = parse_bounded_int(digits, low=1, high=high)
        if number is None or text.startswith("-"):
            raise argparse.ArgumentTypeError(f"must be 1 to {high}: {value}")
        return number

    return parse


# items one listing prints, characters of a summary, days back (about 270 years: the dates stay valid)
_count, _chars, _days = _bounded(10_000), _bounded(100_000), _bounded(100_000)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbot", description="News summaries for Telegram.")
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("import", help="import post files, folders (recursively) and RSS/Atom files")
    p.add_argument("paths", nargs="+", metavar="PATH")

    commands.add_parser("fetch", help="poll every feed once and store new articles")

    feeds = commands.add_parser("feeds", help="manage the feeds newsbot polls")
    feed_commands = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    p = feed_commands.add_parser("add", help="follow a feed")
    p.add_argument("url")
    p.add_argument("--name")
    p = feed_commands.add_parser("list", help="feeds with their last fetch, status and error streak")
    p.add_argument("--json", action="store_true")
    p = feed_commands.add_parser("remove", help="stop following a feed")
    p.add_argument("feed", metavar="ID|URL")
    p = feed_commands.add_parser("import", help="follow every feed of an OPML file")
    p.add_argument("opml", metavar="OPML")
    p = feed_commands.add_parser("export", help="write the feeds as OPML 2.0")
    p.add_argument("-o", "--output", metavar="FILE")
    p.add_argument("--json", action="store_true", help="the feeds as JSON instead of OPML")

    p = commands.add_parser("summarize", help="print title, summary and tags of article files (no database)")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--max-chars", type=_chars)
    p.add_argument("--jsonl", action="store_true", help='read {"id","title","text"} lines from stdin')
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("latest", help="the newest articles")
    p.add_argument("-n", type=_count, default=10)
    p.add_argument("--tag")
    p.add_argument("--source")
    p.add_argument("--json", action="store_true")

    commands.add_parser("run", help="run the Telegram bot with the feed poller and the digest scheduler")

    p = commands.add_parser("console", help="chat with the bot in the terminal, without Telegram")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.add_argument("--admin", action="store_true", help="allow the admin commands")

    p = commands.add_parser("digest", help="today's digests: print them, or send them at once")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="print what each subscriber would receive now")
    mode.add_argument("--send-now", action="store_true", help="send today's digest to whoever has not had it")
    p.add_argument("--json", action="store_true", help="with --dry-run: the digests as JSON")

    p = commands.add_parser("resummarize", help="upgrade stored summaries to LLM ones (resumable)")
    p.add_argument(
        "--since", type=_date, metavar="DATE", help="only articles listed since this day (YYYY-MM-DD)"
    )
    p.add_argument(
        "--method",
        action="append",
        choices=["extractive", "llm"],
        help="upgrade summaries made this way (repeatable; default extractive, the offline ones; "
        "llm: those by another model or prompt version)",
    )

    p = commands.add_parser("stats", help="LLM requests, tokens, failures, fallbacks and cache hits")
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("tags", help="the most used tags")
    p.add_argument("--days", type=_days, default=7)
    p.add_argument("-n", type=_count, default=30)
    p.add_argument("--json", action="store_true")
    return parser


DB_COMMANDS = {
    "import": cmd_import,
    "fetch": cmd_fetch,
    "feeds": cmd_feeds,
    "latest": cmd_latest,
    "tags": cmd_tags,
    "run": cmd_run,
    "console": cmd_console,
    "digest": cmd_digest,
    "resummarize": cmd_resummarize,
    "stats": cmd_stats,
}


def run_cli(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    log_handler = logging.StreamHandler(err)
    log_handler.setFormatter(CredentialFreeFormatter("newsbot: %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[log_handler])

    async def run(settings: Settings) -> int:
        if args.command == "console":
            settings = console_settings(settings, args)
        async with open_services(settings) as services:
            return await DB_COMMANDS[args.command](args, services, out, err)

    try:
        settings = load_settings()
        logging.getLogger().setLevel(settings.log_level.upper())
        if settings.log_level != "error":  # `newsbot run` says what it runs in one line, even at "warning"
            logging.getLogger("newsbot.startup").setLevel(logging.INFO)
        if args.command == "summarize":
            return cmd_summarize(args, settings, out, err)
        return asyncio.run(run(settings))
    except NewsbotError as exc:
        print(f"newsbot: {exc}", file=err)
        return exit_status(exc)
    except KeyboardInterrupt:
        print("newsbot: interrupted", file=err)
        return 130
    except BrokenPipeError:
        # the reader went away (`newsbot latest | head`): stop quietly; point stdout at devnull so that
        # Python's own flush at exit does not fail again (the recipe in the `signal` module's documentation)
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURES
