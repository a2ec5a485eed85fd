"""The daily cap on what LLM summaries spend (LLM_DAILY_REQUESTS, LLM_DAILY_TOKENS), apart from the LLM client
so that /stats can show its use without loading the client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from readmodels import LlmStats

# the budget is a rolling window: what the last 24 hours spent, whenever one looks
BUDGET_WINDOW = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LlmBudget:
    """Caps on what the LLM path spends over any 24 hours (None: no cap)."""

    daily_requests: int | None = None
    daily_tokens: int | None = None

    @property
    def capped(self) -> bool:
        return self.daily_requests is not None or self.daily_tokens is not None

    def spent(self, stats: LlmStats) -> str | None:
        """Which cap the last day's use has reached, in words; None while there is room."""
        if self.daily_requests is not None and stats.requests >= self.daily_requests:
            return f"{stats.requests} of {self.daily_requests} requests"
        tokens = stats.prompt_tokens + stats.completion_tokens
        if self.daily_tokens is not None and tokens >= self.daily_tokens:
            return f"{tokens} of {self.daily_tokens} tokens"
        return None

    def refuses(self, stats: LlmStats, *, tokens: int) -> str | None:
        """Why one more request, which may spend up to `tokens`, would pass a cap, in words; None: it fits.
        The requests in flight count with the most they may spend, so the caps hold however many
        requests, retries and processes run at once."""
        spent = self.spent(stats)
        if spent is not None:
            return spent
        used = stats.prompt_tokens + stats.completion_tokens
        if self.daily_tokens is not None and used + tokens > self.daily_tokens:
            return f"{used} of {self.daily_tokens} tokens, a request may need {tokens},"
        return None
