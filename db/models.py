"""The schema, as typed SQLAlchemy 2.0 models.

Articles are stored once (unique canonical link, unique guid per source, unique content hash). Every article
has one current summary and ranked tags. Subscribers, subscriptions and deliveries serve the Telegram bot.
Relationships are `lazy="raise"`: loading is always explicit, so no I/O hides in attribute access.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Source(Base):
    """A feed polled over HTTP, or a folder/file articles were imported from."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "feed" | "folder"
    url: Mapped[str] = mapped_column(String(2048), unique=True)  # feed URL, or folder path for imports
    name: Mapped[str] = mapped_column(String(256))
    site_url: Mapped[str | None] = mapped_column(String(2048))
    category: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # feed polling state
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    last_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(64))  # "ok", "not modified", "error"
    last_error: Mapped[str | None] = mapped_column(Text)
    error_streak: Mapped[int] = mapped_column(Integer, default=0)
    # the fetch claim: the process fetching the feed now, and until when (taken over after that)
    fetch_claimed_by: Mapped[str | None] = mapped_column(String(128))
    fetch_claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("source_id", "guid"),
        # /latest and the digest read newest first (a b-tree is scanned backwards just as fast);
        # id breaks ties so paging is stable
        Index("ix_articles_listed_at_id", "listed_at", "id"),
        Index("ix_articles_source_listed", "source_id", "listed_at"),
        Index("ix_articles_publisher_listed", "publisher", "listed_at"),
        # daily digests take the stories first stored since a chat's last digest
        Index("ix_articles_ingested_at", "ingested_at"),
        # a digest walks the stories begun in its window to their leads: read from this index alone (the
        # predicate as the queries write it, or the planner passes it by)
        Index(
            "ix_articles_story_leads",
            "story_id",
            "listed_at",
            "id",
            postgresql_where=sql_text("is_story_lead IS true"),
            sqlite_where=sql_text("is_story_lead IS 1"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2048), unique=True)
    guid: Mapped[str | None] = mapped_column(String(1024))
    author: Mapped[str | None] = mapped_column(String(256))
    # who readers see as the source: the feed's name, or the post's author (the publisher in blog archives)
    publisher: Mapped[str] = mapped_column(String(256))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the order of listings: the published time, or the ingest time when the source gives none
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)  # cleaned, paragraphs separated by blank lines
    html: Mapped[str] = mapped_column(Text)  # the body as the source gave it
    image_url: Mapped[str | None] = mapped_column(String(2048))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str] = mapped_column(String(8))
    categories: Mapped[str] = mapped_column(Text, default="")  # the source's categories, "\n"-joined
    is_excerpt: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str | None] = mapped_column(Text)  # file path or feed URL it came from
    # the story it reports on: the id of the story's first article (its own id when it starts one); several
    # processes joining one story concurrently converge on the smallest id (db/stories.py)
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # the article a story is listed as (the longest text; the earliest of equals): listings show leads only
    is_story_lead: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # summarizer.stories.StoryFingerprint as JSON: what a later article is compared with
    story_fingerprint: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source | None] = relationship(lazy="raise")
    summaries: Mapped[list[Summary]] = relationship(
        back_populates="article", lazy="raise", cascade="all, delete-orphan"
    )

    @property
    def chars(self) -> int:
        return len(self.text)


class Summary(Base):
    """A summary of an article. Exactly one per article and language is current; older ones stay for
    comparison."""

    __tablename__ = "summaries"
    __table_args__ = (
        Index("ix_summaries_article_current", "article_id", "is_current"),
        # the database refuses a second current summary of an article in one language (migration 0011). Two
        # indexes, as a unique index lets any number of NULLs through, and SQLAlchemy cannot read back (so
        # Alembic cannot compare) an index on coalesce(language, '') from SQLite
        Index(
            "ix_summaries_one_current_own",
            "article_id",
            unique=True,
            postgresql_where=sql_text("is_current AND language IS NULL"),
            sqlite_where=sql_text("is_current AND language IS NULL"),
        ),
        Index(
            "ix_summaries_one_current_translated",
            "article_id",
            "language",
            unique=True,
            postgresql_where=sql_text("is_current"),
            sqlite_where=sql_text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))  # "extractive" | "llm" | "title"
    model: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(32))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    # None: in the article's own language (the summary every listing shows); else a reader's language, made
    # by the LLM for the chats that asked for it. One current summary per article and language.
    language: Mapped[str | None] = mapped_column(String(8))

    article: Mapped[Article] = relationship(back_populates="summaries", lazy="raise")


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(128), unique=True)  # case-folded name, for lookups


class ArticleTag(Base):
    __tablename__ = "article_tags"
    # /latest with a tag walks one tag's articles newest first without touching the articles table
    __table_args__ = (Index("ix_article_tags_tag_listed", "tag_id", "listed_at", "article_id"),)

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)  # 0 = the strongest tag
    source: Mapped[str] = mapped_column(String(32), default="extractive")  # which tagger produced it
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the article's, copied for the index above


class StoryKey(Base):
    """The lookup keys of an article's story fingerprint (LSH bands of its shingles, its most specific
    keywords): a new article's candidate stories are the recent articles sharing a key, found through the
    (key, listed_at) index whatever the number of articles."""

    __tablename__ = "story_keys"
    __table_args__ = (Index("ix_story_keys_key_listed", "key", "listed_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the article's, copied for the index


class StoryCopy(Base):
    """An exact copy of a stored article from another source or sub-feed: not stored again, but recorded as
    a member of the article's story, so that readers see who carried it."""

    __tablename__ = "story_copies"
    __table_args__ = (UniqueConstraint("article_id", "publisher", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    publisher: Mapped[str] = mapped_column(String(256))
    title: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2048))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoryPublisher(Base):
    """A publisher that carries a story, through one of its articles or their exact copies. How many carry a
    story is then a count of a few index entries, where counting its members and copies took a union per
    story (a digest reads it for hundreds of candidates). Written when an article joins a story or a copy is
    recorded, in the same transaction."""

    __tablename__ = "story_publishers"

    # like `Article.story_id`, no foreign key: a story outlives its first article's deletion by hand, and a
    # report joining it then must not fail
    story_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publisher: Mapped[str] = mapped_column(String(256), primary_key=True)


class TagDayCount(Base):
    """How many articles listed on a (UTC) day carry a tag: /topics sums a week of these, not the articles."""

    __tablename__ = "tag_day_counts"
    # a week of counts read from the index alone, without a lookup of each row (/topics: 22.9 -> 6.1 ms p95 on
    # SQLite at a million articles, measured for issue #14)
    __table_args__ = (Index("ix_tag_day_counts_day_tag_count", "day", "tag_id", "count"),)
    # the key starts with the day, so a week of counts is one range of it (SQLite keeps no statistics and
    # would otherwise walk a (tag_id, day) key from end to end to save a sort)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class ArticleTerms(Base):
    """The words /search finds an article by (jieba tokens of title, summary and tags, space-separated).

    PostgreSQL keeps them as a stored tsvector column (`terms_vector`) with a GIN index (migration 0010);
    SQLite mirrors them into an FTS5 table kept in step by triggers (migration 0004). Neither is described
    here: see db.engine.FULL_TEXT_OBJECTS.
    """

    __tablename__ = "article_terms"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    terms: Mapped[str] = mapped_column(Text)


class Subscriber(Base):
    """A Telegram chat (private, group or channel) the bot talks to."""

    __tablename__ = "subscribers"
    __table_args__ = (Index("ix_subscribers_active_digest", "active", "digest_time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "private" | "group" | "supergroup" | "channel"
    # the forum topic the chat subscribed in, where its digests go (None: the chat itself, or General)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(String(256))
    language: Mapped[str | None] = mapped_column(String(8))  # chosen in /settings; None: follow Telegram's
    telegram_language: Mapped[str | None] = mapped_column(String(16))  # language_code last seen from the user
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    digest_time: Mapped[time] = mapped_column(Time, default=time(8, 0))
    digest_size: Mapped[int] = mapped_column(Integer, default=10)
    wants_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    inactive_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the languages of the articles it gets ("en,de"), ISO 639-1; None: every language
    article_languages: Mapped[str | None] = mapped_column(String(64))
    silent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # digests: no sound
    link_previews: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # no digest before then
    # when any setting last changed (a chat that never did may give way to another record: OutboxRepo)
    settings_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the digest time or time zone last changed: a digest time that had passed then waits for the next
    # day (see digests.is_due)
    schedule_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary_language: Mapped[str | None] = mapped_column(String(8))  # None: the article's own language


class Subscription(Base):
    """What a chat follows: a topic word, a source, or a muted word."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("subscriber_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "topic" | "source" | "mute"
    value: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    """Something sent (or to be sent) to a chat. A digest is unique per subscriber and local date."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "kind", "digest_date"),
        Index("ix_deliveries_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # "digest" | "channel" | "reply"
    digest_date: Mapped[date | None] = mapped_column(Date)
    article_ids: Mapped[str] = mapped_column(Text, default="")  # comma-separated ids of the items sent
    status: Mapped[str] = mapped_column(String(16))  # "pending" | "empty" | "sent" | "failed" | "dropped"
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A message waiting to be sent (replies, digests, channel posts). It survives restarts.

    It leaves "pending" only when Telegram accepted it ("sent"), when its chat is gone ("dropped"), or after
    the last allowed attempt ("dead", kept with its last error).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # the claim: pending rows by priority, then due time (replies before digests)
        Index("ix_outbox_status_priority_not_before", "status", "priority", "not_before", "id"),
        Index("ix_outbox_claimed_by", "claimed_by"),
        Index("ix_outbox_delivery", "delivery_id", "seq"),
        # the sender drops, retargets and looks up a chat's pending messages
        Index("ix_outbox_subscriber_status", "subscriber_id", "status"),
        Index("ix_outbox_chat_status", "chat_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    # None for a reply to a chat newsbot keeps no record of (its record could not be made)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    chat_kind: Mapped[str] = mapped_column(String(16))  # picks the per-chat rate budget
    # 0: a reply to someone waiting; 1: scheduled (digests, channel posts). Lower goes first.
    priority: Mapped[int] = mapped_column(Integer, default=1)
    reply_markup: Mapped[str | None] = mapped_column(Text)  # inline keyboard as Bot API JSON, with the text
    # the claim: which sender process holds the row, and until when (taken over after that)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # order of the parts of one delivery
    text: Mapped[str] = mapped_column(Text)  # Telegram HTML, within the message (or caption) limit
    photo_url: Mapped[str | None] = mapped_column(String(2048))  # sent as a photo with `text` as caption
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | dropped | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)  # backoff and retry_after
    as_plain_text: Mapped[bool] = mapped_column(Boolean, default=False)  # after "can't parse entities"
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    silent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # no sound
    link_preview: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reply_to: Mapped[int | None] = mapped_column(BigInteger)  # the message it answers (groups: threaded)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)  # the forum topic it goes to (None: General)


class SenderLease(Base):
    """Who sends for a bot token: Telegram's flood limits are per bot, so one process at a time sends (the
    holder renews `expires_at`; when it stops renewing, another process takes over)."""

    __tablename__ = "sender_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)  # "telegram:" + a hash of the token
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LlmRequest(Base):
    """Accounting of LLM summaries: one row per request sent, and one per article that kept its extractive
    summary ("fallback", with the reason) or reused a cached answer ("cache_hit")."""

    __tablename__ = "llm_requests"
    __table_args__ = (
        Index("ix_llm_requests_created_at", "created_at"),
        # automatic upgrades skip articles given up for this model and prompt version
        Index("ix_llm_requests_article_outcome", "article_id", "outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    model: Mapped[str] = mapped_column(String(128))
    prompt_version: Mapped[str] = mapped_column(String(32))
    # ok | invalid | error | timeout | rate_limited  (requests); fallback | cache_hit  (articles)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)


class LlmCacheEntry(Base):
    """An accepted LLM answer, keyed by the article's content hash, the model and the prompt version: the same
    story costs one request, even after its article was deleted and imported again."""

    __tablename__ = "llm_cache"
    __table_args__ = (UniqueConstraint("content_hash", "model", "prompt_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    prompt_version: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(Text)  # "\n"-joined, strongest first
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboxFile(Base):
    """A file of INBOX_DIR as one process claimed it for import: several processes watching one folder import
    each version of a file (its size and mtime) once. A changed file is claimed again; so is the file of a
    process that died while importing it, once `claimed_at` is older than the claim's lifetime."""

    __tablename__ = "inbox_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(2048), unique=True)  # absolute, symlinks resolved
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)  # integer nanoseconds: compared exactly, unlike floats
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None while the import runs
    outcome: Mapped[str | None] = mapped_column(String(200))  # the import's summary line


class CallbackValue(Base):
    """A button's value too long for Telegram's 64 bytes of callback data (a long Chinese topic, a search
    query): the button carries `key`, a hash of the value, and a press finds the value here, in any process.
    Rows go once no button sent in the last `KEEP_FOR` (bot/services/callback_values.py) carried them."""

    __tablename__ = "callback_values"
    __table_args__ = (Index("ix_callback_values_offered_at", "offered_at"),)

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # when a button last carried it (to within a day: db/callback_values.py REOFFER_AFTER)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
