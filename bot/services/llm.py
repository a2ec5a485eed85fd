"""LLM summaries in the background: the client over any OpenAI-compatible API, and the service that upgrades
stored extractive summaries and tags to the LLM's.

Availability first: articles are stored with their extractive summary by ingestion, and nothing here is on the
path of a Telegram command. An upgrade replaces the current summary and the tags in one transaction when a
valid answer arrives; otherwise the extractive summary simply stays.

    LlmSummarizer.summarize(...) -> LlmOutcome    one article: at most two answers (an invalid one is retried
                                                  once), each request retried on 429/5xx with backoff
    CircuitBreaker                                after repeated failures, no calls for a cool-down period
    LlmService.upgrade_pending(filter) -> report  many articles, `concurrency` at a time, cache first
    LlmService.run(stop)                          the bot's background loop over recently ingested articles

Failures never raise out of `summarize`: they come back as values (`LlmOutcome.fallback` says why). State
changes (circuit open/half-open/closed, JSON mode unsupported) are logged once each, never per article, and
never with the API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    BadRequestError,
    OpenAIError,
    UnprocessableEntityError,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.ingest import process_name, utc_now
from bot.services.llm_budget import BUDGET_WINDOW, LlmBudget
from db.llm import (
    OFFLINE_METHODS,
    LlmTarget,
    PendingFilter,
    cached_answer,
    count_pending,
    finish_request,
    llm_stats,
    lock_budget,
    pending_articles,
    replace_summary,
    store_cached_answer,
    store_translation,
    summary_languages,
    translation_targets,
)
from db.models import LlmCacheEntry, LlmRequest, Summary
from db.outbox import OutboxRepo
from summarizer.llm import (
    PROMPT_VERSION,
    InvalidAnswer,
    LlmAnswer,
    build_messages,
    prompt_token_bound,
    read_answer,
)
from summarizer.matching import search_terms

log = logging.getLogger(__name__)

RequestOutcome = Literal["ok", "invalid", "error", "timeout", "rate_limited"]
Fallback = Literal["invalid", "error", "timeout", "rate_limited", "unavailable", "budget"]
# Admits one request within the daily budget, given the most prompt and completion tokens it may spend: its
# ticket (the request's row, written before it is sent), or None when the budget has no room for it.
Admit = Callable[[int, int], Awaitable[int | None]]


# ---- the circuit breaker --------------------------------------------------------------------------------


# what `resummarize --method` names: "extractive" covers every offline summary, "llm" those of another model
# or prompt version
SUMMARY_METHODS: dict[str, tuple[str, ...]] = {"extractive": OFFLINE_METHODS, "llm": ("llm",)}


class CircuitBreaker:
    """Closed: calls go through. After `failures` failed articles in a row it opens: no calls for `cooldown`
    seconds. Then half-open: one article is tried; success closes it, failure opens it again.

    `clock` returns seconds (monotonic); tests move it instead of sleeping.
    """

    def __init__(
        self, *, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._streak = 0
        self._opened_at = 0.0
        self._trial = False
        self.state: Literal["closed", "open", "half-open"] = "closed"

    def allow(self) -> bool:
        """Whether a call may start now (in half-open state: only the one trial)."""
        if self.state == "closed":
            return True
        if self.state == "open" and self._clock() - self._opened_at >= self._cooldown:
            self.state = "half-open"
            self._trial = False
            log.info("LLM circuit half-open: trying one request")
        if self.state == "half-open" and not self._trial:
            self._trial = True
            return True
        return False

    def succeeded(self) -> None:
        if self.state != "closed":
            log.warning("LLM answering again: circuit closed, LLM summaries resume")
        self.state = "closed"
        self._streak = 0
        self._trial = False

    def released(self) -> None:
        """A call was allowed but not made (the daily budget had no room): a half-open trial is still due."""
        self._trial = False

    def failed(self, reason: str) -> None:
        self._streak += 1
        if self.state == "half-open" or (self.state == "closed" and self._streak >= self._threshold):
            if self.state == "closed":
                log.warning(
                    "LLM circuit open after %d failures in a row (last: %s); extractive summaries carry on, "
                    "next try in %.0f s",
                    self._streak,
                    reason,
                    self._cooldown,
                )
            else:
                log.info("LLM still failing (%s); circuit open again for %.0f s", reason, self._cooldown)
            self.state = "open"
            self._opened_at = self._clock()
            self._trial = False


# ---- the client -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request sent, for accounting."""

    outcome: RequestOutcome
    ticket: int  # its row, written as "sent" when the budget admitted it
    reason: str | None = None
    prompt_tokens: int | None = None  # as the answer's usage says; None: unknown
    completion_tokens: int | None = None
    # whether the server may have spent tokens on it: not when it refused it or was never reached (unknown
    # usage is then none); an answer or a timeout with unknown usage keeps the most it could have spent
    may_have_spent: bool = True


@dataclass(slots=True)
class LlmOutcome:
    answer: LlmAnswer | None
    attempts: list[Attempt] = field(default_factory=list)
    fallback: Fallback | None = None  # why the article keeps its extractive summary

    @property
    def prompt_tokens(self) -> int:
        return sum(a.prompt_tokens or 0 for a in self.attempts)

    @property
    def completion_tokens(self) -> int:
        return sum(a.completion_tokens or 0 for a in self.attempts)


class _RequestFailed(Exception):
    def __init__(self, kind: Fallback, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LlmLimits:
    timeout: float = 30.0  # seconds per request
    concurrency: int = 4  # requests in flight
    retries: int = 2  # extra tries after a 429 or 5xx
    backoff: float = 1.0  # first wait before a retry without retry-after; doubles
    max_wait: float = 60.0  # a longer retry-after is not waited for
    max_output_tokens: int = 4096  # the most an answer may spend (max_tokens): bounds each request's cost


def retry_after_seconds(headers: Any) -> float | None:
    """The wait a 429/503 asks for: retry-after-ms, or retry-after in seconds or as an HTTP date."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            parsed = email.utils.parsedate_tz(value) if name == "retry-after" else None
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


class LlmSummarizer:
    """One summary per article through `AsyncOpenAI` (built with max_retries=0: retries are counted here)."""

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str,
        max_chars: int,
        max_input_chars: int,
        limits: LlmLimits,
        breaker: CircuitBreaker,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self.model = model
        self._max_chars = max_chars
        self._max_input_chars = max_input_chars
        self._limits = limits
        self.breaker = breaker
        self._sleep = sleep
        self._in_flight = asyncio.Semaphore(limits.concurrency)
        self._json_mode = True  # until the server says it does not support response_format
        # OpenAI's reasoning models refuse max_tokens and ask for max_completion_tokens, which older servers
        # do not know: the first until the server asks for the second
        self._output_limit = "max_tokens"

    async def close(self) -> None:
        await self._client.close()

    async def summarize(self, *, title: str, text: str, language: str, admit: Admit) -> LlmOutcome:
        """The LLM's summary and tags of one article, or why there are none. Never raises for API trouble.
        Each request is sent only once `admit` has found room for it in the daily budget."""
        outcome = LlmOutcome(answer=None)
        if not self.breaker.allow():
            outcome.fallback = "unavailable"
            return outcome
        obeyed = False  # the last invalid answer did what the article asked
        for _ in range(2):  # an invalid answer is retried once
            try:
                content = await self._complete(title, text, language, outcome.attempts, admit)
            except _RequestFailed as exc:
                if exc.kind == "budget":
                    self.breaker.released()
                else:
                    self.breaker.failed(exc.reason)
                outcome.fallback = exc.kind
                return outcome
            try:
                outcome.answer = read_answer(
                    content, title=title, text=text, language=language, max_chars=self._max_chars
                )
            except InvalidAnswer as exc:
                last = outcome.attempts[-1]
                outcome.attempts[-1] = replace(last, outcome="invalid", reason=exc.reason)
                obeyed = exc.obeyed
                continue
            self.breaker.succeeded()
            return outcome
        # an article's planted instructions say nothing of the server: five such articles in a row once
        # switched LLM summaries off for everyone for the cool-down
        if obeyed:
            self.breaker.released()
        else:
            self.breaker.failed(f"invalid answers ({outcome.attempts[-1].reason})")
        outcome.fallback = "invalid"
        return outcome

    async def _complete(
        self, title: str, text: str, language: str, attempts: list[Attempt], admit: Admit
    ) -> str | None:
        """The content of one successful response, after retries; raises _RequestFailed."""
        retries = self._limits.retries
        delay = self._limits.backoff
        while True:
            json_mode = self._json_mode
            output_limit = self._output_limit
            messages = build_messages(
                title,
                text,
                language=language,
                max_chars=self._max_chars,
                max_input_chars=self._max_input_chars,
                json_mode=json_mode,
            )
            kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0.2}
            kwargs[output_limit] = self._limits.max_output_tokens
            if json_mode:
                kwargs["response_format"] = {"type": "json_object"}
            ticket = await admit(prompt_token_bound(messages), self._limits.max_output_tokens)
            if ticket is None:
                raise _RequestFailed("budget", "the daily budget has no room")
            failed = partial(Attempt, ticket=ticket, may_have_spent=False)
            wait: float | None = None
            async with self._in_flight:
                try:
                    async with asyncio.timeout(self._limits.timeout):
                        response = await self._client.chat.completions.create(**kwargs)
                except (APITimeoutError, TimeoutError):
                    # the server may have answered, and billed, after we stopped waiting
                    reason = f"no answer within {self._limits.timeout:g} s"
                    attempts.append(Attempt("timeout", ticket, reason))
                    raise _RequestFailed("timeout", "timeout") from None
                except APIConnectionError:
                    attempts.append(failed("error", reason="cannot connect"))
                    raise _RequestFailed("error", "cannot connect") from None
                except (BadRequestError, UnprocessableEntityError) as exc:
                    if output_limit == "max_tokens" and "max_completion_tokens" in exc.message:
                        attempts.append(failed("error", reason="max_tokens not supported"))
                        if self._output_limit == "max_tokens":
                            self._output_limit = "max_completion_tokens"
                            log.warning("the LLM server wants max_completion_tokens, not max_tokens")
                        continue
                    if json_mode and _rejects_json_mode(exc):
                        attempts.append(failed("error", reason="response_format not supported"))
                        if self._json_mode:
                            self._json_mode = False
                            log.warning(
                                "the LLM server does not support JSON mode; asking for JSON in the prompt"
                            )
                        continue
                    attempts.append(failed("error", reason=_status_reason(exc)))
                    raise _RequestFailed("error", _status_reason(exc)) from None
                except APIStatusError as exc:
                    kind: Literal["rate_limited", "error"] = (
                        "rate_limited" if exc.status_code == 429 else "error"
                    )
                    attempts.append(failed(kind, reason=_status_reason(exc)))
                    if exc.status_code != 429 and exc.status_code < 500:  # 401, 404: no retry helps
                        raise _RequestFailed("error", _status_reason(exc)) from None
                    asked = retry_after_seconds(exc.response.headers)
                    wait = delay if asked is None else asked
                    if retries <= 0 or wait > self._limits.max_wait:
                        raise _RequestFailed(kind, _status_reason(exc)) from None
                except (OpenAIError, ValueError, TypeError, AttributeError, LookupError) as exc:
                    # an answer the client could not read (a 200 with an HTML page, "null", bytes that are
                    # not UTF-8): a failed request, counted like the others, not an error out of the pass
                    reason = f"unreadable response ({exc.__class__.__name__})"
                    attempts.append(Attempt("error", ticket, reason))
                    raise _RequestFailed("error", reason) from None
            if wait is not None:  # slept outside the semaphore, so other articles go on meanwhile
                retries -= 1
                delay *= 2
                await self._sleep(wait)
                continue
            # the envelope as the server sent it: the client does not check its types
            usage = getattr(response, "usage", None)
            choices = getattr(response, "choices", None)
            choice = choices[0] if isinstance(choices, list) and choices else None
            message = getattr(choice, "message", None)
            attempts.append(
                Attempt(
                    "ok",
                    ticket,
                    None,
                    _token_count(getattr(usage, "prompt_tokens", None)),
                    _token_count(getattr(usage, "completion_tokens", None)),
                )
            )
            content: str | None = getattr(message, "content", None)  # anything but text: an invalid answer
            return content


def _token_count(value: object) -> int | None:
    """A usage figure the budget can add up: a whole number within reason (a string, a negative or a number
    over 2**31 once failed the store, or loosened the cap), else unknown."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return None


def _rejects_json_mode(exc: APIStatusError) -> bool:
    return exc.param == "response_format" or "response_format" in exc.message or "json" in exc.message.lower()


def _status_reason(exc: APIStatusError) -> str:
    # the code or type only: servers echo parts of the API key in their messages
    detail = exc.code or exc.type
    return f"HTTP {exc.status_code}" + (f" {detail}" if detail else "")


# ---- the upgrade service --------------------------------------------------------------------------------


@dataclass(slots=True)
class UpgradeReport:
    upgraded: int = 0  # new LLM summaries from requests
    cached: int = 0  # LLM summaries reused from the cache
    fallback: int = 0  # tried and kept the extractive summary
    left: int = 0  # when the LLM became unavailable or the budget ran out: articles still pending
    budget_spent: str | None = None  # why they are left when it is the daily budget, in words

    def line(self) -> str:
        text = (
            f"llm summaries: {self.upgraded} new, {self.cached} from cache, {self.fallback} kept extractive"
        )
        if self.left and self.budget_spent:
            text += (
                f", {self.left} still pending (the daily budget is spent: {self.budget_spent} in the last"
                " 24 hours; they keep their offline summaries until it has room, newest first)"
            )
        elif self.left:
            text += f", {self.left} still pending (the LLM is unavailable; run again later)"
        return text


ArticleOutcome = Literal["upgraded", "cached", "fallback", "left"]
# the articles one translation pass asks for, per language (the next pass takes the next ones)
TRANSLATION_PAGE = 50


def translation_version(language: str) -> str:
    """The prompt version of summaries made in a reader's language: requests, the cache and give-ups are
    counted per language."""
    return f"{PROMPT_VERSION}:{language}"


# The background upgrades run in one process at a time (the lease's holder renews it while it works): every
# `newsbot run` would otherwise ask the LLM for the same articles (the daily caps would hold, the answers
# would be paid for twice).
UPGRADES_LEASE = "llm-upgrades"
UPGRADES_LEASE_LENGTH = timedelta(minutes=5)


class LlmService:
    """Replaces extractive summaries and tags with the LLM's. Owns its sessions: one per article."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        summarizer: LlmSummarizer,
        *,
        concurrency: int = 4,
        recent: timedelta = timedelta(hours=48),
        interval: float = 30.0,
        budget: LlmBudget | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self.budget = budget or LlmBudget()
        self.summarizer = summarizer
        self._concurrency = concurrency
        self._recent = recent
        self._interval = interval
        self._now = now
        self._wake = asyncio.Event()
        self._budget_logged = False
        self._refused: str | None = None  # why the budget last refused a request, till one is admitted
        self.holder = process_name()
        self._lease_renew_at: datetime | None = None  # set while `run` holds the upgrades' lease

    @property
    def model(self) -> str:
        return self.summarizer.model

    async def close(self) -> None:
        await self.summarizer.close()

    def pending(self, **criteria: Any) -> PendingFilter:
        return PendingFilter(model=self.model, prompt_version=PROMPT_VERSION, **criteria)

    async def upgrade_pending(
        self,
        criteria: PendingFilter,
        *,
        page: int = 100,
        on_article: Callable[[int, int], None] | None = None,
    ) -> UpgradeReport:
        """Upgrade every article matching `criteria`, newest first, `concurrency` at a time.

        Each article commits on its own, so an interrupted run loses nothing and a new run continues with the
        articles still pending. Stops early when the circuit opens (`left` counts what remains).
        `on_article(done, total)` hears of each article done (for a progress display).
        """
        report = UpgradeReport()
        self._refused = None
        before: tuple[datetime, int] | None = None
        total = done = 0
        if on_article is not None:
            async with self._sessions() as session:
                total = await count_pending(session, criteria)
        while True:
            async with self._sessions() as session:
                targets = await pending_articles(session, criteria, before=before, limit=page)
            if not targets:
                return report
            before = (targets[-1].listed_at, targets[-1].id)

            def counted(outcome: ArticleOutcome) -> ArticleOutcome:
                nonlocal done
                done += 1
                if on_article is not None:
                    on_article(done, max(total, done))
                return outcome

            outcomes = await self._upgrade_many(targets, self.upgrade_article, counted)
            for outcome in outcomes:
                if outcome == "upgraded":
                    report.upgraded += 1
                elif outcome == "cached":
                    report.cached += 1
                elif outcome == "fallback":
                    report.fallback += 1
            if "left" in outcomes:
                async with self._sessions() as session:
                    report.left = await count_pending(session, criteria)
                report.budget_spent = await self.over_budget() or self._refused
                return report

    async def _upgrade_many(
        self,
        targets: Sequence[LlmTarget],
        upgrade: Callable[[LlmTarget], Awaitable[ArticleOutcome]] | None = None,
        then: Callable[[ArticleOutcome], ArticleOutcome] = lambda outcome: outcome,
    ) -> list[ArticleOutcome]:
        gate = asyncio.Semaphore(self._concurrency)
        each = upgrade or self.upgrade_article

        async def one(target: LlmTarget) -> ArticleOutcome:
            async with gate:
                if self._lease_renew_at is not None and not await self._keep_lease():
                    return "left"  # another process does the upgrades now
                return then(await each(target))

        # not a TaskGroup: one article's error would cancel the others mid-request, and answers already paid
        # for would be lost; each finishes, then the errors are raised together
        results = await asyncio.gather(*(one(t) for t in targets), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise BaseExceptionGroup("LLM upgrades: articles failed", errors)
        return [r for r in results if not isinstance(r, BaseException)]

    async def upgrade_article(self, target: LlmTarget) -> ArticleOutcome:
        """Cache first, then the LLM; store the new summary and tags, or account for the fallback."""
        return await self._summarize_into(target, language=None)

    async def _summarize_into(self, target: LlmTarget, *, language: str | None) -> ArticleOutcome:
        """The LLM's summary of `target`, from the cache or asked for within the daily budget. `language`
        None: the article's own summary, with the tags and search terms it brings; else its summary in a
        reader's language (the tags stay). Requests, cache and give-ups are counted per prompt version."""
        model = self.model
        version = PROMPT_VERSION if language is None else translation_version(language)

        async def store(session: AsyncSession, text: str, tags: list[str], tokens: tuple[int, int]) -> bool:
            summary = self._summary(
                text, prompt_tokens=tokens[0], completion_tokens=tokens[1], language=language
            )
            if language is not None:
                return await store_translation(session, target.id, summary)
            terms = search_terms(target.title, text, tags)
            return await replace_summary(session, target.id, summary, tags, tagger="llm", terms=terms)

        async with self._sessions() as session:
            cached = await cached_answer(session, target.content_hash, model=model, prompt_version=version)
        if cached is not None:
            # a transaction of its own that writes first: SQLite takes the write lock at once
            async with self._sessions() as session, session.begin():
                alive = await store(session, cached.summary, cached.tags.split("\n"), (0, 0))
                session.add(self._row("cache_hit", target.id if alive else None, prompt_version=version))
            return "cached"
        if await self.over_budget() is not None:
            return "left"  # keeps its offline summary; a later pass upgrades it when the window has room
        outcome = await self.summarizer.summarize(
            title=target.title,
            text=target.text,
            language=language or target.language,
            admit=partial(self._admit, prompt_version=version),
        )
        if outcome.fallback in ("unavailable", "budget"):
            if outcome.attempts:  # the requests made before the budget ran out (the article stays pending)
                async with self._sessions() as session, session.begin():
                    await self._write_attempts(session, outcome, None)
            return "left"
        if outcome.answer is None:
            await self._account(outcome, target.id, prompt_version=version)
            return "fallback"
        answer = outcome.answer
        async with self._sessions() as session, session.begin():
            tokens = (outcome.prompt_tokens, outcome.completion_tokens)
            alive = await store(session, answer.summary, answer.tags, tokens)
            await store_cached_answer(
                session,
                LlmCacheEntry(
                    content_hash=target.content_hash,
                    model=model,
                    prompt_version=version,
                    summary=answer.summary,
                    tags="\n".join(answer.tags),
                    prompt_tokens=outcome.prompt_tokens,
                    completion_tokens=outcome.completion_tokens,
                    created_at=self._now(),
                ),
            )
            await self._write_attempts(session, outcome, target.id if alive else None)
        return "upgraded"

    async def translate_recent(self) -> UpgradeReport:
        """Summaries in the languages readers asked for (`/settings summaries`), of the story leads listed
        within `recent` that are written in another language; newest first, within the daily budget."""
        report = UpgradeReport()
        async with self._sessions() as session:
            languages = await summary_languages(session)
        for language in languages:
            async with self._sessions() as session:
                targets = await translation_targets(
                    session,
                    language,
                    model=self.model,
                    prompt_version=translation_version(language),
                    since=self._now() - self._recent,
                    limit=TRANSLATION_PAGE,
                )
            outcomes = await self._upgrade_many(targets, partial(self.translate_article, language=language))
            report.upgraded += outcomes.count("upgraded")
            report.cached += outcomes.count("cached")
            report.fallback += outcomes.count("fallback")
            report.left += outcomes.count("left")
            if "left" in outcomes:
                break  # the budget is spent or the LLM unavailable: the next pass goes on
        return report

    async def translate_article(self, target: LlmTarget, language: str) -> ArticleOutcome:
        """The article's summary in `language`: from the cache, or asked of the LLM (its tags stay)."""
        return await self._summarize_into(target, language=language)

    async def _admit(self, prompt_tokens: int, completion_tokens: int, *, prompt_version: str) -> int | None:
        """Room in the daily budget for one request that may spend up to these tokens: its row, written as
        "sent" with them before the request goes out, so that every process counts it from now on (and a
        request whose process stops before its answer still counts); None when a cap would be passed.

        The count and the row are one step for all processes (`lock_budget`): checks side by side once all
        saw room for one more, and an article's retries and other processes' requests went past the cap."""
        async with self._sessions() as session, session.begin():
            if self.budget.capped:
                await lock_budget(session)
                stats = await llm_stats(session, since=self._now() - BUDGET_WINDOW)
                refused = self.budget.refuses(stats, tokens=prompt_tokens + completion_tokens)
                if refused is not None:
                    self._refused = refused
                    self._log_budget(refused)
                    return None
            row = self._row(
                "sent",
                None,
                prompt_version=prompt_version,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
            session.add(row)
            await session.flush()
        self._refused = None
        self._budget_logged = False
        return row.id

    async def over_budget(self) -> str | None:
        """The spending cap reached over the last 24 hours, in words (None while there is room)."""
        if not self.budget.capped:
            return None
        async with self._sessions() as session:
            stats = await llm_stats(session, since=self._now() - BUDGET_WINDOW)
        spent = self.budget.spent(stats)
        self._log_budget(spent)
        return spent

    def _log_budget(self, spent: str | None) -> None:
        """Log the pause once, until a request is admitted again."""
        if spent is not None and not self._budget_logged:
            log.warning("LLM summaries paused: the daily budget is spent (%s in the last 24 hours)", spent)
            self._budget_logged = True

    async def _account(
        self, outcome: LlmOutcome, article_id: int | None, *, prompt_version: str = PROMPT_VERSION
    ) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await self._write_attempts(session, outcome, article_id)
                session.add(
                    self._row("fallback", article_id, reason=outcome.fallback, prompt_version=prompt_version)
                )
        except IntegrityError:  # the article was deleted meanwhile
            if article_id is None:
                raise
            await self._account(outcome, None, prompt_version=prompt_version)

    @staticmethod
    async def _write_attempts(session: AsyncSession, outcome: LlmOutcome, article_id: int | None) -> None:
        """What became of each request, over the row it was admitted with. A usage the answer did not say
        keeps the most the request could spend, unless the server refused it or was never reached."""
        for attempt in outcome.attempts:
            values: dict[str, object] = {"outcome": attempt.outcome, "reason": attempt.reason}
            values["article_id"] = article_id
            tokens = {"prompt_tokens": attempt.prompt_tokens, "completion_tokens": attempt.completion_tokens}
            if any(n is not None for n in tokens.values()) or not attempt.may_have_spent:
                values.update(tokens)
            await finish_request(session, attempt.ticket, **values)

    def _summary(
        self, text: str, *, prompt_tokens: int, completion_tokens: int, language: str | None = None
    ) -> Summary:
        return Summary(
            text=text,
            method="llm",
            model=self.model,
            version=PROMPT_VERSION if language is None else translation_version(language),
            is_current=True,
            created_at=self._now(),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            language=language,
        )

    def _row(
        self, outcome: str, article_id: int | None, *, prompt_version: str = PROMPT_VERSION, **values: Any
    ) -> LlmRequest:
        return LlmRequest(
            created_at=self._now(),
            model=self.model,
            prompt_version=prompt_version,
            outcome=outcome,
            article_id=article_id,
            **values,
        )

    # ---- the running bot --------------------------------------------------------------------------------

    def wake(self) -> None:
        """New articles arrived: start the next pass now rather than after the interval."""
        self._wake.set()

    async def upgrade_recent(self) -> UpgradeReport:
        """One pass over articles ingested within `recent` that still want an LLM summary."""
        return await self.upgrade_pending(self.pending(ingested_since=self._now() - self._recent))

    async def _keep_lease(self, *, force: bool = False) -> bool:
        """Take or renew the upgrades' lease (renewed once a third has passed); False: another has it."""
        now = self._now()
        if not force and self._lease_renew_at is not None and now < self._lease_renew_at:
            return True
        async with self._sessions() as session, session.begin():
            lease = await OutboxRepo(session).take_lease(
                UPGRADES_LEASE, holder=self.holder, now=now, until=now + UPGRADES_LEASE_LENGTH
            )
        self._lease_renew_at = now + UPGRADES_LEASE_LENGTH / 3 if lease.held else None
        return lease.held

    async def run(self, stop: asyncio.Event) -> None:
        """Upgrade recent articles until `stop` is set: a pass, then a pause of `interval` (or until woken).
        Only the process holding the upgrades' lease works; the others look again after each pause."""
        try:
            await self._run(stop)
        finally:
            if self._lease_renew_at is not None:
                self._lease_renew_at = None
                with contextlib.suppress(SQLAlchemyError):  # it runs out by itself
                    async with self._sessions() as session, session.begin():
                        await OutboxRepo(session).release_lease(
                            UPGRADES_LEASE, holder=self.holder, now=self._now()
                        )

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                if await self._keep_lease(force=True):  # else another process upgrades: look again later
                    await self._pass()
            except* SQLAlchemyError as errors:  # articles go side by side: their errors come grouped
                name = errors.exceptions[0].__class__.__name__
                log.warning("LLM upgrades: database error %s; trying again later", name)
            except* Exception:
                # a bug met by some article: the loop lives on (it once died silently for the life of the
                # process); the pass is tried again after the pause
                log.exception("LLM upgrades: a pass failed; trying again later")
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=self._interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def _pass(self) -> None:
        report = await self.upgrade_recent()
        translated = await self.translate_recent()
        report.upgraded += translated.upgraded
        report.cached += translated.cached
        report.fallback += translated.fallback
        if report.upgraded or report.cached or report.fallback:
            log.info(report.line())


def build_llm_service(
    sessions: async_sessionmaker[AsyncSession],
    *,
    api_key: str | None,
    base_url: str | None,
    model: str,
    max_chars: int,
    max_input_chars: int,
    limits: LlmLimits,
    breaker_failures: int,
    breaker_cooldown: float,
    recent: timedelta,
    interval: float,
    budget: LlmBudget | None = None,
) -> LlmService:
    # local servers (Ollama, vLLM, llama.cpp) want no key, but the client insists on one
    client = AsyncOpenAI(api_key=api_key or "none", base_url=base_url, timeout=limits.timeout, max_retries=0)
    summarizer = LlmSummarizer(
        client,
        model=model,
        max_chars=max_chars,
        max_input_chars=max_input_chars,
        limits=limits,
        breaker=CircuitBreaker(failures=breaker_failures, cooldown=breaker_cooldown),
    )
    return LlmService(
        sessions, summarizer, concurrency=limits.concurrency, recent=recent, interval=interval, budget=budget
    )
