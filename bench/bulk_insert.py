"""Bulk insert benchmark: 100k records in one POST through the gateway vs psycopg executemany.

    python bench/bulk_insert.py [--rows 100000] [--rounds 3] [--no-continue]

One run, same table (`gateway_bench_stream.bulk_orders`, emptied before every measurement),
same rows:

- gateway: one HTTP POST of a {"resource": [...]} body with `--rows` records to granian
  (1 worker, 1 blocking thread; GATEWAY_MAX_BODY_BYTES raised), default batch mode, answering
  every new id; timed from sending the request to the last byte of the answer.
- gateway rollback=true: the same, all or nothing.
- gateway continue=true: the same rows with `continue=true` (skip both continue cases with
  --no-continue).
- gateway continue=true, one bad record: the record in the middle has an impossible
  `created_at` (February 30th), which only PostgreSQL finds: the answer is the 400 batch error
  naming that record (checked), and every other record is written (checked).
- psycopg executemany: the baseline, `executemany("INSERT ... VALUES (%s, ...)")` of the same
  rows in one transaction on a direct connection (psycopg pipelines it); also with
  `returning=True` fetching the ids, which is what the gateway does.

Measurements alternate between the targets for `--rounds` rounds; the report gives the median
and best rows/s of each. Uses bench/stream_memory.py's `running_gateway()`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixture  # noqa: E402
from bench.stream_memory import (  # noqa: E402
    DATABASE,
    HOST,
    SERVICE,
    Gateway,
    ensure_database,
    running_gateway,
)

TABLE = "bulk_orders"
_INSERT = f"INSERT INTO {TABLE} (customer_id, status, total, created_at, note) VALUES (%s, %s, %s, %s, %s)"  # noqa: E501
_INSERT_RETURNING = _INSERT + " RETURNING id"
STATUSES = ("new", "paid", "shipped", "delivered", "cancelled")


def make_rows(n: int) -> list[tuple[int, str, Decimal, str, str]]:
    return [
        (
            i % 10_000 + 1,
            STATUSES[i % 5],
            Decimal(i % 100_000) / 100,
            f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}T{i % 24:02d}:00:00Z",
            f"bulk note {i}",
        )
        for i in range(n)
    ]


def with_bad_record(rows: list[Any]) -> tuple[list[Any], int]:
    """The rows with the middle one's created_at on a day that does not exist."""
    bad = len(rows) // 2
    customer, status, total, _, note = rows[bad]
    return [
        *rows[:bad],
        (customer, status, total, "2025-02-30T00:00:00Z", note),
        *rows[bad + 1 :],
    ], bad


def json_body(rows: list[tuple[int, str, Decimal, str, str]]) -> bytes:
    keys = ("customer_id", "status", "total", "created_at", "note")
    records = [dict(zip(keys, (c, s, str(t), at, note), strict=True)) for c, s, t, at, note in rows]
    return json.dumps({"resource": records}).encode()


def reset_table() -> None:
    with fixture.connect(DATABASE) as conn:
        fixture.create_orders_table(conn, TABLE)
        conn.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")


def count_rows() -> int:
    with fixture.connect(DATABASE) as conn:
        row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return int(row[0]) if row else 0


STAGES: dict[str, list[dict[str, float]]] = {}  # target query -> Server-Timing per request


def _stages(header: str | None) -> dict[str, float]:
    """`auth;dur=1.2, parse;dur=3.4` -> {"auth": 1.2, "parse": 3.4} (milliseconds)."""
    out = {}
    for item in (header or "").split(","):
        name, _, dur = item.strip().partition(";dur=")
        if dur:
            out[name] = float(dur)
    return out


def via_gateway(gw: Gateway, body: bytes, n: int, query: str = "", bad: int | None = None) -> float:
    """POST the records; seconds until the whole answer is read. Checks the answer: every new
    id, or (`bad`: the index of the one record that must fail) the batch error naming it."""
    path = f"/api/v2/{SERVICE}/_table/{TABLE}" + (f"?{query}" if query else "")
    headers = gw.headers(**{"Content-Type": "application/json"})
    conn = http.client.HTTPConnection(HOST, gw.server.port, timeout=900)
    started = time.perf_counter()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    label = query + (f" (record {bad} bad)" if bad is not None else "")
    STAGES.setdefault(label, []).append(_stages(response.getheader("Server-Timing")))
    if bad is not None:
        context = json.loads(raw)["error"]["context"] if response.status == 400 else {}
        if context.get("error") != [bad] or len(context.get("resource", ())) != n:
            raise RuntimeError(f"gateway answered {response.status}: {raw[:500]!r}")
        return seconds
    if response.status != 200:
        raise RuntimeError(f"gateway answered {response.status}: {raw[:500]!r}")
    ids = [r["id"] for r in json.loads(raw)["resource"]]
    if ids != list(range(1, n + 1)):
        raise RuntimeError(f"unexpected ids in the answer: {ids[:5]}... ({len(ids)})")
    return seconds


def via_executemany(rows: list[Any], returning: bool) -> float:
    """The same rows with psycopg executemany in one transaction; seconds."""
    with fixture.connect(DATABASE) as conn:
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            if returning:
                cur.executemany(_INSERT_RETURNING, rows, returning=True)
                ids = []
                while True:
                    ids.append(cur.fetchone())
                    if not cur.nextset():
                        break
                assert len(ids) == len(rows)
            else:
                cur.executemany(_INSERT, rows)
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="100k-record POST vs psycopg executemany.")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--no-continue", "--no-per-record", action="store_true", help="skip continue=true"
    )
    p.add_argument("--app", default="gateway.wsgi:application", help="WSGI app for granian")
    args = p.parse_args(argv)
    command = " ".join(["python bench/bulk_insert.py", *(sys.argv[1:] if argv is None else argv)])
    ensure_database(DATABASE)
    rows = make_rows(args.rows)
    body = json_body(rows)
    bad_rows, bad = with_bad_record(rows)
    bad_body = json_body(bad_rows)
    n = args.rows
    print(f"{n:,} records, request body {len(body) / 1024 / 1024:.1f} MB", flush=True)
    env = {"GATEWAY_MAX_BODY_BYTES": str(max(len(body) * 2, 16 * 1024 * 1024))}
    times: dict[str, list[float]] = {}
    with running_gateway(DATABASE, args.app, env) as gw:
        targets: dict[str, Callable[[], float]] = {
            "gateway (default mode)": lambda: via_gateway(gw, body, n),
            "gateway rollback=true": lambda: via_gateway(gw, body, n, "rollback=true"),
            "psycopg executemany": lambda: via_executemany(rows, returning=False),
            "psycopg executemany, RETURNING id": lambda: via_executemany(rows, returning=True),
        }
        if not args.no_continue:
            targets["gateway continue=true"] = lambda: via_gateway(gw, body, n, "continue=true")
            targets["gateway continue=true, one bad record"] = lambda: via_gateway(
                gw, bad_body, n, "continue=true", bad=bad
            )
        written = {name: n - 1 if "bad record" in name else n for name in targets}
        reset_table()
        via_gateway(gw, body, n)  # warm-up: imports, pool, schema cache
        STAGES.clear()
        for round_no in range(args.rounds):
            order = list(targets) if round_no % 2 == 0 else list(reversed(targets))
            for name in order:
                reset_table()
                seconds = targets[name]()
                if count_rows() != written[name]:
                    raise RuntimeError(f"{name}: the table does not hold {written[name]:,} rows")
                times.setdefault(name, []).append(seconds)
                print(f"round {round_no + 1} {name:40} {n / seconds:>9,.0f} rows/s", flush=True)
    reset_table()
    baseline = statistics.median(times["psycopg executemany"])
    lines = [
        f"Command: `{command}`",
        "",
        "| target | median s | median rows/s | best rows/s | vs executemany |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, values in times.items():
        med = statistics.median(values)
        lines.append(
            f"| {name} | {med:.2f} | {n / med:,.0f} | {n / min(values):,.0f} "
            f"| {baseline / med:.2f}x |"
        )
    lines += ["", "Gateway stages (Server-Timing, median ms): "]
    for query, timings in STAGES.items():
        names = list(timings[0])
        spent = ", ".join(f"{k} {statistics.median(t[k] for t in timings):,.0f}" for k in names)
        lines.append(f"- `{query or 'default mode'}`: {spent}")
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
