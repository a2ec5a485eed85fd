"""Preparing the files of a large import in worker processes, handed back in order.

Preparing an article (cleaning, summary, tags, fingerprint) is jieba-bound pure Python: one process uses one
core. Workers are spawned, not forked: this process runs an event loop and database threads a fork would copy
mid-step. A bounded number of files is in flight, so memory stays flat however many there are. A worker that
dies (killed, out of memory, a crash in a parser) costs only the file it held, reported as a failure.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TypeVar

Prepared = TypeVar("Prepared")


def warm_up() -> None:
    """Load jieba's dictionary once per worker, before its first file."""
    from summarizer._jieba import cut

    cut("预热")


async def prepare_in_workers(
    files: Sequence[Path | Prepared],
    prepare: Callable[[Path], Prepared],
    *,
    workers: int,
    ahead: int,
    lost: Callable[[Path], Prepared],
) -> AsyncIterator[Prepared]:
    """`prepare(path)` of each file, in `workers` processes, yielded in the files' order; an item that is no
    path (a failure found while listing) passes through, and `lost(path)` stands for a file whose worker died.
    Up to `ahead` files are in the pool at once: while the caller stores what it was given (a batch takes a
    while), the workers go on with the next ones. `prepare` must be picklable: a module-level function or a
    partial of one."""
    context = multiprocessing.get_context("spawn")

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=context, initializer=warm_up)

    pool = new_pool()
    pending: deque[tuple[Path | Prepared, Future[Prepared] | None]] = deque()
    remaining = iter(files)
    try:
        while True:
            while len(pending) < ahead and (item := next(remaining, None)) is not None:
                pending.append((item, pool.submit(prepare, item) if isinstance(item, Path) else None))
            if not pending:
                return
            item, future = pending.popleft()
            if future is None or not isinstance(item, Path):
                yield item  # type: ignore[misc]  # not a path: passed through as it came
                continue
            try:
                result = await asyncio.wrap_future(future)
            except BrokenProcessPool:
                # a worker died, and which of the files in flight it held is unknown: each is prepared again
                # alone in a new pool, so that only the file that kills its worker is lost
                suspects = [item, *(held for held, _ in pending)]
                pending.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
                for suspect in suspects:
                    if not isinstance(suspect, Path):
                        yield suspect
                        continue
                    try:
                        result = await asyncio.wrap_future(pool.submit(prepare, suspect))
                    except BrokenProcessPool:
                        yield lost(suspect)
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = new_pool()
                    else:
                        yield result
                continue
            yield result
    finally:
        # an import that ends early (an error, Ctrl-C) does not wait for files no one will store
        pool.shutdown(wait=False, cancel_futures=True)
