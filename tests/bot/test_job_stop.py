"""Stopping the JobQueue (`bot.runner.pause_jobs`, then PTB's own stop): no job is cut short. A job that
began while another was finishing used to be cancelled by APScheduler's shutdown, with a traceback logged."""

from __future__ import annotations

import asyncio
import logging

import pytest
from telegram.ext import Application, ContextTypes

from bot.runner import pause_jobs


async def test_a_job_due_while_another_finishes_is_not_cut_short(caplog: pytest.LogCaptureFixture) -> None:
    application = Application.builder().token("123:test").updater(None).build()
    jobs = application.job_queue
    assert jobs is not None
    finished: list[str] = []

    async def long_job(_: ContextTypes.DEFAULT_TYPE) -> None:
        await asyncio.sleep(0.5)
        finished.append("long")

    async def due_meanwhile(_: ContextTypes.DEFAULT_TYPE) -> None:
        await asyncio.sleep(0.5)
        finished.append("due meanwhile")

    jobs.run_once(long_job, when=0)
    jobs.run_once(due_meanwhile, when=0.2)
    await jobs.start()
    await asyncio.sleep(0.1)  # the long job is running; the other is due in 0.1 s
    pause_jobs(application)
    await jobs.stop(wait=True)
    await asyncio.sleep(0.7)  # time for a job cut loose from the stop to end, or to be seen cancelled
    cut_short = [r for r in caplog.records if r.exc_info and r.exc_info[0] is asyncio.CancelledError]
    assert finished == ["long"]  # the job due after the stop began never started
    assert cut_short == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
