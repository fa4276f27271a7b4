"""Faults under load (issue #10): what clients see while a service's database is down, and how
fast the gateway serves again once it is back.

    python bench/faults.py [--outage 3] [--threads 3] [--workers 2] [--scenarios stop kill term]

The stand is tests/faults/harness.py's: a real gateway (granian, `--workers` processes sharing
Redis) with two services, `faulty` on a private PostgreSQL this script controls (pgserver's
binaries on a free port) and `steady` on the shared server. Clients (`--threads` per service,
back to back on kept-alive connections) read one row each; every answer is recorded. Scenarios:

  stop   pg_ctl stop -m fast (clients get 57P01, sockets close), `--outage` s, pg_ctl start
  kill   pg_ctl stop -m immediate (no goodbye), `--outage` s, pg_ctl start
  term   pg_terminate_backend() of every connection to the faulty database, three times

Per scenario: answers during the outage by status, their latency (p50/p99/max), the time from
"the server accepts connections again" to the first success and to the last failure (after
which every answer is a success: all workers serve again), failures among the answers after
that, and the steady service's failures. Prints a Markdown table (also written to
bench/results/faults.md, git-ignored).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults.harness import FAULTY, STEADY, Answer, Load, Stand, on, stand  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "faults.md"
SHARED = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=2"


@dataclass
class Outcome:
    scenario: str
    down: list[Answer]  # faulty answers sent while the server was down
    back_at: float  # when the server accepted connections again (or the faults ended)
    faulty: list[Answer]
    steady: list[Answer]

    def first_success(self) -> float | None:
        ok = [a for a in self.faulty if a.started >= self.back_at and a.status == 200]
        return ok[0].ended - self.back_at if ok else None

    def last_failure(self) -> float:
        bad = [a for a in self.faulty if a.ended >= self.back_at and a.status != 200]
        return max((a.ended for a in bad), default=self.back_at) - self.back_at

    def after_recovery(self) -> tuple[int, int]:
        """(answers after the last failure, failures among them: 0 by definition, checked)"""
        cut = self.back_at + self.last_failure()
        later = [a for a in self.faulty if a.started > cut]
        return len(later), sum(1 for a in later if a.status != 200)


def statuses(answers: list[Answer]) -> str:
    counts: dict[int, int] = {}
    for a in answers:
        counts[a.status] = counts.get(a.status, 0) + 1
    return ", ".join(f"{s}: {n}" for s, n in sorted(counts.items())) or "-"


def latency(answers: list[Answer]) -> str:
    if not answers:
        return "-"
    ms = sorted(a.elapsed * 1000 for a in answers)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{statistics.median(ms):.1f} / {p99:.1f} / {ms[-1]:.1f}"


def run_outage(s: Stand, mode: str, outage: float) -> tuple[float, float, float]:
    """Stop the private server in `mode`, wait, start it; (stop began, down, back) times."""
    time.sleep(1.5)
    stopping = time.monotonic()
    s.pg.stop(mode)
    down = time.monotonic()
    time.sleep(outage)
    s.pg.start()
    back = time.monotonic()
    time.sleep(3.0)
    return stopping, down, back


def run_terminate(s: Stand) -> tuple[float, float, float]:
    time.sleep(1.5)
    start = time.monotonic()
    for _ in range(3):
        s.pg.terminate_clients("faulty")
        time.sleep(1.0)
    return start, start, start


def scenario(s: Stand, name: str, args: argparse.Namespace) -> Outcome:
    load = Load(s.gateway.port, s.headers, [FAULTY, STEADY], threads=args.threads).start()
    try:
        if name == "term":
            stopping, down, back = run_terminate(s)
        else:
            mode = "fast" if name == "stop" else "immediate"
            stopping, down, back = run_outage(s, mode, args.outage)
    finally:
        answers = load.stop()
        if not s.pg.running():
            s.pg.start()
    faulty = on(answers, FAULTY)
    if name == "term":
        window = [a for a in faulty if a.started >= stopping]
    else:
        window = [a for a in faulty if a.started >= down and a.ended <= back]
    return Outcome(name, window, back, faulty, on(answers, STEADY))


def report(outcomes: list[Outcome], args: argparse.Namespace, workers: int) -> str:
    lines = [
        "| scenario | answers while down | latency while down p50 / p99 / max ms "
        "| first success after back | all OK after back | answers after, failed "
        "| steady service failed |",
        "| --- | --- | --- | ---: | ---: | --- | ---: |",
    ]
    for o in outcomes:
        first = o.first_success()
        later, failed = o.after_recovery()
        steady_failed = sum(1 for a in o.steady if a.status != 200)
        lines.append(
            f"| {o.scenario} | {statuses(o.down)} | {latency(o.down)} "
            f"| {'-' if first is None else f'{first * 1000:.0f} ms'} "
            f"| {o.last_failure() * 1000:.0f} ms | {later}, {failed} "
            f"| {steady_failed} of {len(o.steady)} |"
        )
    command = " ".join(["python bench/faults.py", *sys.argv[1:]])
    head = [
        f"`{command}` on {platform.node() or 'this machine'}: {workers} granian worker(s), "
        f"{args.threads} client(s) per service, outage {args.outage:g} s "
        f"(Python {platform.python_version()}).",
        "",
        'For `term` the window is the three terminations, 1 s apart; "back" is the first.',
        "",
    ]
    return "\n".join(head + lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the server is down")
    parser.add_argument("--threads", type=int, default=3, help="clients per service")
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes")
    parser.add_argument(
        "--scenarios", nargs="+", default=["stop", "kill", "term"], choices=["stop", "kill", "term"]
    )
    args = parser.parse_args(argv)
    outcomes: list[Outcome] = []
    with (
        tempfile.TemporaryDirectory(prefix="gw-faults-") as tmp,
        stand(SHARED, Path(tmp), workers=args.workers, LOG_LEVEL="ERROR") as s,
    ):
        for name in args.scenarios:
            outcomes.append(scenario(s, name, args))
        text = report(outcomes, args, s.workers)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    bad = any(o.after_recovery()[1] or any(a.status != 200 for a in o.steady) for o in outcomes)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
