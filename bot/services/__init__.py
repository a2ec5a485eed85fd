"""Orchestration: the services own sessions and transactions and sit between sources, summarizer and db."""
