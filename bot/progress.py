"""Progress of long command-line work (`newsbot import`, `resummarize`, `fetch`) on a terminal: a tqdm bar on
stderr with the count, the rate and the time left. Quiet when stderr is no terminal (piped, a log file, cron):
there the final summary line on stdout is the record, as before."""

from __future__ import annotations

from types import TracebackType
from typing import TextIO

from tqdm import tqdm


class Progress:
    """`update(done, total)` as work finishes; `say(line)` prints a line (a failure) above the bar."""

    def __init__(self, err: TextIO, *, what: str, unit: str) -> None:
        self._err = err
        self._what = what
        self._unit = unit
        self._bar: tqdm[None] | None = None
        self._shown = _is_terminal(err)

    def update(self, done: int, total: int) -> None:
        if not self._shown:
            return
        if self._bar is None:
            # made at the first update: the total is known only once the work is listed
            self._bar = tqdm(
                total=total, desc=self._what, unit=self._unit, file=self._err, leave=False, dynamic_ncols=True
            )
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def say(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self._err)
        else:
            print(line, file=self._err, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()  # leave=False: the bar goes, the summary line that follows stays
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: no bar
        return False
