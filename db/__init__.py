"""Storage: SQLAlchemy models, engine and session set-up, Alembic migrations and the queries the app needs.

Nothing here knows about Telegram, HTTP or summarizing; callers own sessions and transactions.
"""
