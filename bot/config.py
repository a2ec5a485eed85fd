"""Typed settings, read once from the environment and a `.env` file.

`load_settings()` is the only entry point; nothing constructs Settings at import time. A bad value raises
`SettingsError` whose message is one line naming the setting, never echoing a secret.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import SettingsError

__all__ = ["DEFAULT_DATABASE_URL", "Settings", "SettingsError", "load_settings"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///newsbot.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
        env_ignore_empty=True,  # `KEY=` in .env means "use the default"
        # "inf" and "nan" are no number of seconds or bytes: FETCH_INTERVAL=inf once failed every command
        allow_inf_nan=False,
    )

    # what newsbot logs to stderr: debug, info, warning (the default) or error
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    # storage
    database_url: str = DEFAULT_DATABASE_URL
    # time zone for naive dates in posts and for showing times
    timezone: str = "Asia/Shanghai"
    # summaries
    summary_max_chars: int = Field(default=150, ge=20, le=2000)
    # how alike two reports must be to be one story (0-1): lower groups more, higher groups less
    story_threshold: float = Field(default=0.40, gt=0.0, le=1.0)
    # ingestion
    max_file_bytes: int = Field(default=10_000_000, ge=1024, le=2**31)
    # processes of `newsbot import`, the storing one included (0: a preparing one per core besides it; 1: one)
    import_workers: int = Field(default=0, ge=0, le=64)
    fetch_timeout: float = Field(default=20.0, gt=0, le=600)
    fetch_max_bytes: int = Field(default=5_000_000, ge=1024, le=2**31)
    fetch_per_host: int = Field(default=2, ge=1, le=32)
    fetch_concurrency: int = Field(default=16, ge=1, le=256)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    fetch_allow_private: bool = False  # also fetch from loopback/private/link-local addresses (intranet)
    fetch_max_items: int = Field(default=200, ge=1, le=100_000)  # newest entries kept from one fetch
    # telegram (used by the bot)
    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    digest_time: time = time(8, 0)
    channel_id: str | None = None
    webhook_url: str | None = None  # webhook mode when set; long polling otherwise
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    # what Telegram sends in X-Telegram-Bot-Api-Secret-Token; unset: derived from the bot token
    webhook_secret: SecretStr | None = None
    # who receives updates: auto = webhook when WEBHOOK_URL is set, else long polling; off = this process
    # receives none (Telegram serves one receiver per bot; the other processes still send and run jobs)
    updates: Literal["auto", "polling", "webhook", "off"] = "auto"
    # the running bot
    fetch_interval: float = Field(default=600.0, ge=10, le=604_800)  # seconds between feed polls (a week)
    # seconds between looks for due digests
    digest_check_interval: float = Field(default=30.0, ge=0.1, le=3600)
    inbox_dir: Path | None = None  # post files dropped here are imported as they appear
    inbox_interval: float = Field(default=5.0, ge=0.5, le=86_400)  # seconds between looks at INBOX_DIR
    # outbox sending budgets (Telegram's documented limits)
    send_global_per_second: float = Field(default=30.0, gt=0, le=10_000)
    send_private_per_second: float = Field(default=1.0, gt=0, le=10_000)
    send_group_per_minute: float = Field(default=20.0, gt=0, le=600_000)
    send_max_attempts: int = Field(default=8, ge=1, le=100)
    send_concurrency: int = Field(default=32, ge=1, le=200)  # requests to Telegram in flight at once
    # several processes: one sends for the bot while it renews this lease; another takes over when it lapses
    outbox_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    # seconds between looks at the outbox for messages enqueued by another process (replies wait this long)
    outbox_poll_interval: float = Field(default=0.25, ge=0.01, le=60)
    # LLM summaries (used by the LLM summarizer)
    summarizer: Literal["extractive", "llm", "auto"] = "auto"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = Field(default="gpt-4o-mini", min_length=1, max_length=128)
    llm_timeout: float = Field(default=30.0, gt=0, le=600)  # seconds per request
    llm_concurrency: int = Field(default=4, ge=1, le=64)  # requests in flight at once
    # article text sent, cut at a paragraph
    llm_max_input_chars: int = Field(default=6000, ge=500, le=200_000)
    llm_retries: int = Field(default=2, ge=0, le=10)  # extra tries after a 429 or 5xx
    # first wait before a retry (doubles), when no retry-after
    llm_backoff: float = Field(default=1.0, ge=0, le=60)
    # longest retry-after honoured; longer counts as a failure
    llm_max_wait: float = Field(default=60.0, ge=0, le=600)
    llm_breaker_failures: int = Field(default=5, ge=1, le=1000)  # failures in a row that open the circuit
    # seconds without calls once the circuit is open
    llm_breaker_cooldown: float = Field(default=120.0, ge=0, le=86_400)
    # seconds between background upgrade passes (bot)
    llm_interval: float = Field(default=30.0, ge=0.1, le=3600)
    # the bot upgrades articles ingested this recently
    llm_recent_hours: float = Field(default=48.0, gt=0, le=8760)
    # spending caps over the last 24 hours (unset: none); past one, articles keep the offline summary until
    # the window has room again
    llm_daily_requests: int | None = Field(default=None, ge=1)
    llm_daily_tokens: int | None = Field(default=None, ge=1)
    # the most one answer may spend (max_tokens); a reasoning model's thinking counts in it
    llm_max_output_tokens: int = Field(default=4096, ge=64, le=1_000_000)

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        value = value.strip()
        if value.startswith(("postgres://", "postgresql://")):
            # operators paste the URL their host gives them; use the async driver we ship
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        # the messages never repeat the URL: it may hold a password
        try:
            url = make_url(value)
            url.port  # noqa: B018 - read here: a password with an unescaped "@" or ":" spills into the port
        except (ArgumentError, ValueError):
            # sqlalchemy's own message quotes what it could not read, which may be part of the password
            raise ValueError(
                "is not a database URL (write '@', ':' and '/' in the password as %40, %3A and %2F)"
            ) from None
        # libpq's sslmode, as hosted PostgreSQL providers write it; db.engine.make_engine hands it to asyncpg
        ssl_modes = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
        if url.get_backend_name() == "postgresql" and url.query.get("sslmode", "disable") not in ssl_modes:
            raise ValueError(f"sslmode must be one of {', '.join(ssl_modes)}")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            return [p for p in parts if p]
        return value

    @field_validator("telegram_base_url", "openai_base_url", "webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("updates")
    @classmethod
    def _webhook_has_url(cls, value: str, info: ValidationInfo) -> str:
        # webhook_url is declared first, so it is validated and in info.data when it was given and valid
        if value == "webhook" and not info.data.get("webhook_url"):
            raise ValueError("webhook needs WEBHOOK_URL (the public HTTPS URL Telegram posts updates to)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's setWebhook refuses other secret_tokens; an empty one means "derive it from the token"
        if value is None or not value.get_secret_value():
            return None
        secret = value.get_secret_value()
        if len(secret) > 256 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("openai_api_key", "telegram_bot_token")
    @classmethod
    def _header_safe(cls, value: SecretStr | None) -> SecretStr | None:
        # sent in an HTTP header or URL: anything but printable ASCII (a pasted curly quote, a line break)
        # failed every request with a traceback; the message never shows the key
        if value is not None and not all(" " < c < "\x7f" for c in value.get_secret_value()):
            raise ValueError("must be printable ASCII without spaces (check for a pasted quote or space)")
        return value

    @model_validator(mode="after")
    def _llm_reachable(self) -> Settings:
        if self.summarizer == "llm" and self.openai_api_key is None and self.openai_base_url is None:
            raise ValueError(
                "SUMMARIZER=llm needs OPENAI_API_KEY (or OPENAI_BASE_URL for a server that wants no key)"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def uses_llm(self) -> bool:
        """Whether summaries are upgraded by the LLM: SUMMARIZER=llm, or auto with an API key."""
        if self.summarizer == "llm":
            return True
        return self.summarizer == "auto" and self.openai_api_key is not None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    name = ".".join(str(p) for p in first["loc"]).upper() or "settings"
    message = first["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return f"invalid setting {name}: {message}"


def load_settings(env_file: Path | str | None = ".env", **overrides: object) -> Settings:
    """Read settings from the environment and `env_file`; raise SettingsError with one line on bad values."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg, arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    except UnicodeDecodeError:
        raise SettingsError(f"{env_file} is not UTF-8 text") from None
