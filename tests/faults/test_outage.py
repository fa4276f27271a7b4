"""A database that goes away and comes back (issue #10): a real gateway (granian, two workers
sharing Redis) in front of a private PostgreSQL that these tests stop, restart and whose
connections they terminate, under a bounded load of concurrent reads.

While it is down every answer is a quick 503 with Retry-After (no request waits for the pool
timeout) and the other service keeps answering; within a second of it being back every
request succeeds, and no stale pooled connection ever surfaces as an error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.faults.harness import FAULTY, STEADY, Answer, Load, Stand, between, on, stand

pytestmark = pytest.mark.slow

FAST = 100.0  # ms of the gateway's own time for an answer while the database is down
# ... and what a client may see at most on a loaded machine: far below GATEWAY_POOL_TIMEOUT
CLIENT_MAX = 1.0
BACK_WITHIN = 1.0  # seconds after the server accepts connections again


@pytest.fixture(scope="module")
def faults(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    with stand(pg_server, tmp_path_factory.mktemp("faults")) as ready:
        yield ready


def _statuses(answers: list[Answer]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for answer in answers:
        counts[answer.status] = counts.get(answer.status, 0) + 1
    return counts


def test_outage_answers_503_at_once_and_recovers_within_a_second(faults: Stand) -> None:
    load = Load(faults.gateway.port, faults.headers, [FAULTY, STEADY], threads=2).start()
    try:
        time.sleep(1.0)
        stopping = time.monotonic()
        faults.pg.stop("fast")
        down = time.monotonic()
        time.sleep(1.5)
        # a write while it is down: refused at once, nothing pretends to have been written
        started = time.monotonic()
        status, body, headers = faults.gateway.call(
            "POST", FAULTY, {"resource": [{"id": 999, "name": "x"}]}, headers=faults.headers
        )
        assert time.monotonic() - started < CLIENT_MAX
        assert status == 503, body
        assert headers.get("retry-after") == "1"
        assert body["error"]["context"]["reason"] in ("connection_refused", "shutting_down")
        time.sleep(0.5)
        starting = time.monotonic()
        faults.pg.start()
        back = time.monotonic()
        time.sleep(2.5)
    finally:
        answers = load.stop()
        if not faults.pg.running():
            faults.pg.start()
    faulty, steady = on(answers, FAULTY), on(answers, STEADY)

    assert _statuses(between(faulty, 0, stopping)) == {200: len(between(faulty, 0, stopping))}
    # only 200 or 503 while it stops and starts: never a 500, never a hang
    assert set(_statuses(faulty)) <= {200, 503}, _statuses(faulty)

    outage = between(faulty, down, starting)
    assert len(outage) > 100, "the load did not run during the outage"
    assert all(a.status == 503 and a.retry_after == "1" for a in outage), _statuses(outage)
    # every answer within 100 ms of the gateway's own time (its Server-Timing), none waiting
    # for the pool timeout, whatever the load of the machine adds on the client's side
    slowest = max(a.server_ms or 0.0 for a in outage)
    assert slowest < FAST, f"an answer took {slowest:.0f} ms while the database was down"
    assert all(a.server_ms is not None for a in outage)
    waited = max(a.elapsed for a in outage)
    assert waited < CLIENT_MAX, f"a client waited {waited * 1000:.0f} ms for its answer"
    assert "Connection refused" in outage[-1].message, outage[-1].message

    # back: the first success soon after the server accepts connections, then only successes
    after = [a for a in faulty if a.started >= back + BACK_WITHIN]
    assert len(after) >= 100
    assert all(a.status == 200 for a in after), [(a.status, a.message) for a in after[:5]]
    first_ok = next(a for a in faulty if a.started >= back and a.status == 200)
    assert first_ok.started - back < BACK_WITHIN

    # the other service never noticed
    assert steady and all(a.status == 200 for a in steady), _statuses(steady)


def test_terminated_connections_are_never_handed_out(faults: Stand) -> None:
    load = Load(faults.gateway.port, faults.headers, [FAULTY], threads=3).start()
    try:
        time.sleep(0.5)
        marks = []
        for _ in range(3):  # every pooled connection of every worker, three times over
            marks.append(time.monotonic())
            assert faults.pg.terminate_clients("faulty") >= faults.workers
            time.sleep(0.7)
    finally:
        answers = load.stop()
    after = [a for a in answers if a.started >= marks[0]]
    assert len(after) >= 100
    # a read that met a dead connection was retried on a fresh one: no error at all
    assert all(a.status == 200 for a in answers), [
        (a.status, a.message) for a in answers if a.status != 200
    ][:5]


def test_the_postgrest_dialect_answers_an_outage_in_its_own_body(faults: Stand) -> None:
    """`/rest/` shares the executor, the breaker and the pools: a stopped database is a quick
    503 in PostgREST's error body with Retry-After, the other service keeps answering, and the
    first reads after the restart succeed."""
    faulty, steady = "/rest/faulty/items?id=eq.7", "/rest/steady/items?id=eq.7"
    assert faults.read(faulty)[0] == 200
    faults.pg.stop("fast")
    try:
        time.sleep(0.5)
        started = time.monotonic()
        status, body, headers = faults.read(faulty)
        assert time.monotonic() - started < CLIENT_MAX
        assert status == 503, body
        assert set(body) == {"code", "details", "hint", "message"}, body
        assert headers.get("retry-after") == "1"
        status, body, _ = faults.gateway.call(
            "POST", "/rest/faulty/items", {"id": 999, "name": "x"}, headers=faults.headers
        )
        assert status == 503 and "code" in body, body
        assert faults.read(steady)[:2] == (200, [{"id": 7, "name": "item 7"}])
    finally:
        faults.pg.start()
    # each worker's breaker probes on its own: wait until reads succeed on every worker (a few
    # in a row), then the answer is the row
    deadline, in_a_row = time.monotonic() + 5, 0
    while in_a_row < 2 * faults.workers:
        assert time.monotonic() < deadline, "the dialect did not recover after the restart"
        in_a_row = in_a_row + 1 if faults.read(faulty)[0] == 200 else 0
        time.sleep(0.05)
    assert faults.read(faulty)[1] == [{"id": 7, "name": "item 7"}]
