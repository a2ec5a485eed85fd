"""newsbot application: configuration, ingestion, services, command line and (later) Telegram adapters."""

__version__ = "0.1.0"
