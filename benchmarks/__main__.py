"""`python -m benchmarks [--quick] [--parts quality,ingest,read,fanout,stories,reader] [--articles N] [--output BENCHMARKS.md]`.

Runs the chosen parts in order and writes the report. The full run takes 10-13 minutes on two cores;
`--quick` runs every part on tiny inputs (the smoke test uses it).
"""  # the first line is the --help description (parse_args), kept whole  # noqa: E501

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

PARTS = ("quality", "ingest", "read", "fanout", "stories", "reader")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks that everything runs")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    parser.add_argument(
        "--articles", type=int, default=None, help="articles in the read-latency database (default 1,000,000)"
    )
    parser.add_argument(
        "--ingest-files", type=int, default=None, help="files imported in the ingest part (default 2,000)"
    )
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    return args


def run_part(part: str, args: argparse.Namespace) -> Any:
    if part == "quality":
        from benchmarks import quality

        return quality.run(quick=args.quick)
    if part == "ingest":
        from benchmarks import ingest

        return ingest.run(quick=args.quick, articles=args.ingest_files)
    if part == "read":
        from benchmarks import read_latency

        return read_latency.run(quick=args.quick, articles=args.articles)
    if part == "stories":
        from benchmarks import stories

        return stories.run(quick=args.quick)
    if part == "reader":
        from benchmarks import reader

        return reader.run(quick=args.quick)
    from benchmarks import fanout

    return fanout.run(quick=args.quick)


def failed_part(part: str, exc: BaseException) -> Any:
    from benchmarks.measure import PartResult, Target

    detail = "".join(traceback.format_exception(exc)[-3:]).strip()
    result = PartResult(f"{part}: failed")
    result.add(f"This part failed and has no figures:\n\n```\n{detail}\n```")
    result.targets.append(Target(f"{part}: ran", f"failed: {exc.__class__.__name__}: {exc}", False))
    return result


RUN_TARGET_MINUTES = 15.0


def run_time(durations: list[tuple[str, float]], total_s: float, *, whole: bool) -> Any:
    """The section on how long the run took, part by part; the target applies to a whole run only."""
    from benchmarks.measure import PartResult, Target, table

    result = PartResult("Run time")
    rows: list[list[object]] = [[part, f"{seconds / 60:.1f}"] for part, seconds in durations]
    rows.append(["**whole run**", f"**{total_s / 60:.1f}**"])
    result.add(table(["part", "minutes"], rows))
    if whole:
        result.targets.append(
            Target(
                f"benchmark: the whole run ≤ {RUN_TARGET_MINUTES:.0f} minutes on this machine",
                f"{total_s / 60:.1f} minutes",
                total_s / 60 <= RUN_TARGET_MINUTES,
            )
        )
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="jieba")
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    import jieba

    jieba.setLogLevel(logging.WARNING)
    from benchmarks import report

    started = time.perf_counter()
    results = []
    durations: list[tuple[str, float]] = []
    for part in args.parts:
        t0 = time.perf_counter()
        print(f"benchmarks: {part} ...", file=sys.stderr, flush=True)
        try:
            results.append(run_part(part, args))
        except Exception as exc:  # one broken part must not lose the others' figures
            if args.quick:
                raise  # the smoke test must see it
            results.append(failed_part(part, exc))
        durations.append((part, time.perf_counter() - t0))
        print(f"benchmarks: {part} done in {durations[-1][1]:.0f} s", file=sys.stderr, flush=True)
    # the target is for the default run: every part at its full size
    defaults = args.articles is None and args.ingest_files is None
    whole = not args.quick and set(args.parts) == set(PARTS) and defaults
    results.append(run_time(durations, time.perf_counter() - started, whole=whole))
    command = "python -m benchmarks" + (" " + " ".join(sys.argv[1:] if argv is None else argv)).rstrip()
    text = report.render(results, command=command, seconds=time.perf_counter() - started)
    report.write(args.output, text)
    for result in results:
        for target in result.targets:
            print(f"{'met' if target.met else 'NOT MET'}: {target.what}: {target.measured}", file=sys.stderr)
    print(f"benchmarks: wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
