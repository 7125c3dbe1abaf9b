"""The crash suite at full scale, on its own embedded broker:

    .venv/bin/python -m tests.chaos --events 20000 --kills 10 [--workers 2] [--faults mix]
                                    [--lost-answers 0.05] [--seed S]

Prints the report; exit status 0 when nothing was lost or duplicated, 1 when something was, 2 when the
suite could not run as asked (e.g. the emulators refuse the lost-answer fault mode) or its self-check
failed (it did not see an anomaly it injected, so its counts cannot be trusted).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from pathlib import Path

from xstream_emulators.embedded import EmbeddedBroker

from tests.chaos.suite import Options, SuiteError, run_suite


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000, help="CDC records (about)")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of random workers while events flow")
    parser.add_argument("--workers", type=int, default=2, help="worker processes running at once")
    parser.add_argument("--seed", type=int, default=1, help="scenario and kill schedule")
    parser.add_argument("--faults", choices=["none", "mix"], default="none",
                        help="mix: ~25%% OpenText faults (JSON 500, HTML 500, 503 + Retry-After, ticket expiry, "
                             "0.2%% hangs)")
    parser.add_argument("--lost-answers", type=float, default=0.0, metavar="RATE",
                        help="lost_answer_rate on the OpenText and ERP emulators (the server acts, the answer is lost)")
    parser.add_argument("--lost-answer-kind", choices=["reset", "hang"], default="reset")
    parser.add_argument("--contracts", type=int, default=None, help="supplier contracts (F3/F6); default by events")
    parser.add_argument("--stream-seconds", type=float, default=None,
                        help="how long producing the CDC records takes (default max(20, events/100))")
    parser.add_argument("--quiet-seconds", type=float, default=20.0,
                        help="settled when nothing changed this long (and the CDC input is consumed)")
    parser.add_argument("--settle-timeout", type=float, default=600.0, help="hard limit of the settle wait")
    parser.add_argument("--worker-source", type=Path, default=None, metavar="DIR",
                        help="run the workers from this source tree (e.g. an exported commit: "
                             "git archive HEAD | tar -x -C DIR) instead of the installed xstream")
    parser.add_argument("--no-self-check", action="store_true", help="skip injecting anomalies after the count")
    parser.add_argument("--log-dir", type=Path, default=None, help="worker logs (default: a temporary directory)")
    args = parser.parse_args(argv)
    if not 0 <= args.lost_answers <= 1:
        parser.error("--lost-answers must be between 0 and 1")
    if args.workers < 1 or args.kills < 0 or args.events < 10:
        parser.error("need --workers >= 1, --kills >= 0, --events >= 10")
    return Options(events=args.events, kills=args.kills, workers=args.workers, seed=args.seed,
                   faults=None if args.faults == "none" else args.faults, lost_answers=args.lost_answers,
                   lost_answer_kind=args.lost_answer_kind, contracts=args.contracts,
                   stream_seconds=args.stream_seconds, quiet_s=args.quiet_seconds,
                   settle_timeout_s=args.settle_timeout, log_dir=args.log_dir, progress=_say,
                   self_check=not args.no_self_check,
                   worker_source=args.worker_source.resolve() if args.worker_source else None)


_START = time.monotonic()


def _say(text: str) -> None:
    print(f"[{time.monotonic() - _START:6.1f}s] {text}", flush=True)


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # asyncio.run cancels the run: every finally block stops what it started


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    options = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with EmbeddedBroker() as broker:
            report = asyncio.run(run_suite(options, broker.bootstrap, "tansu"))
    except SuiteError as exc:
        print(f"crash suite could not run: {exc}", file=sys.stderr)
        return 2
    print(report.text())
    if not report.suite_ok:
        return 2
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
