"""Operations (issue #6, item 4): /health, /ready, /metrics, Server-Timing on failures, JSON logs
with the request id, and a graceful shutdown of the real production server (granian).
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connections
from django.http import HttpResponse
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from core.context import RequestContext
from core.verbs import GET
from gateway import metrics
from gateway.logs import JsonFormatter, RequestFilter
from tests import servers
from tests.conftest import make_app, make_role, service_kwargs

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TODO = "/api/v2/shop/_table/todo"
UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: Client | None = None, **headers: str) -> Samples:
    """GET /metrics, parsed: {(sample name, labels): value}."""
    response = (client or Client()).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- /health and /ready ------------------------------------------------------------------------


def test_health_answers_without_any_io(django_assert_num_queries: Any, monkeypatch: Any) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("the metadata database is down")

    with django_assert_num_queries(0):
        monkeypatch.setattr(connections["default"], "ensure_connection", down)
        response = Client().get("/health")
        monkeypatch.undo()
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert Client().post("/health").status_code in (403, 405)  # CSRF or method: never a write


def test_ready_checks_the_metadata_database_and_the_cache(cache_backend: str) -> None:
    response = Client().get("/ready")  # on local memory, then on the real Redis
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "cache": "ok",
    }


def test_ready_is_503_naming_the_database_when_it_is_down(monkeypatch: Any) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError(
            'connection to server at "10.9.8.7", port 5432 failed: password=hunter2 refused'
        )

    monkeypatch.setattr(connections["default"], "ensure_connection", down)
    response = Client().get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {
        "status": "failed",
        "ms": body["checks"]["database"]["ms"],
        "error": "OperationalError",
        "detail": "The metadata database did not answer SELECT 1.",
    }
    assert body["checks"]["cache"]["status"] == "ok"
    assert b"10.9.8.7" not in response.content and b"hunter2" not in response.content


def test_ready_is_503_naming_the_cache_when_it_fails() -> None:
    with override_settings(CACHES=UNREACHABLE_REDIS):
        response = Client().get("/ready")
    assert response.status_code == 503, response.content
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["cache"]["status"] == "failed"
    assert checks["cache"]["error"] == "ConnectionError"
    assert checks["cache"]["detail"] == "The cache backend did not store and return a value."
    assert b"127.0.0.1" not in response.content and b"redis://" not in response.content


# --- /metrics ------------------------------------------------------------------------------------


def test_metrics_count_requests_by_service_verb_and_status(api: Any, anon: Any) -> None:
    before = scrape()
    assert api.get(TODO)[0] == 200
    assert api.get(f"{TODO}/1")[0] == 200
    assert api.get("/api/v2/shop/_table/no_such_table")[0] == 404
    assert api.post(TODO, [{"name": "counted"}])[0] == 200
    assert anon.get(TODO)[0] == 401
    assert api.get("/api/v2/no_such_service/_table/x")[0] == 404  # unknown: service ""
    assert api.get("/api/v2/system/service")[0] == 200
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "gateway_requests_total"
    assert delta(requests, service="shop", verb="GET", status="200") == 2
    assert delta(requests, service="shop", verb="GET", status="404") == 1
    assert delta(requests, service="shop", verb="POST", status="200") == 1
    assert delta(requests, service="shop", verb="GET", status="401") == 1
    assert delta(requests, service="", verb="GET", status="404") == 1
    assert delta(requests, service="system", verb="GET", status="200") == 1
    assert not any(
        dict(labels).get("service") == "no_such_service" for _, labels in after
    )  # a caller cannot invent label values

    histogram = "gateway_request_duration_seconds"
    assert delta(f"{histogram}_count", service="shop") == 5
    assert delta(f"{histogram}_bucket", service="shop", le="+Inf") == 5
    assert delta(f"{histogram}_bucket", service="shop", le="10.0") == 5
    assert (f"{histogram}_bucket", frozenset({("service", "shop"), ("le", "0.001")})) in after
    assert delta(f"{histogram}_sum", service="shop") > 0

    # the pool of `shop` is open now: read from the registry at scrape time
    assert value(after, "gateway_pool_size", service="shop") >= 1
    assert value(after, "gateway_pool_in_use", service="shop") == 0
    assert value(after, "gateway_pool_waiting", service="shop") == 0
    assert value(after, "gateway_pool_max", service="shop") >= 1


def test_metrics_count_cache_outcomes_and_limit_rejections(api: Any) -> None:
    assert api.get(TODO)[0] == 200  # the registry knows `shop` now
    before = scrape()
    for cache, limited_by, status in (("hit", None, 200), ("miss", None, 200), (None, 7, 429)):
        context = RequestContext("rid", "GET", TODO, "127.0.0.1", verb="GET", service="shop")
        context.cache, context.limited_by, context.status = cache, limited_by, status
        metrics.observe(context, HttpResponse(status=status))
    after = scrape()
    for result in ("hit", "miss"):
        name, labels = "gateway_cache_total", {"service": "shop", "result": result}
        assert value(after, name, **labels) - value(before, name, **labels) == 1
    assert value(after, "gateway_cache_total", service="shop", result="bypass") == value(
        before, "gateway_cache_total", service="shop", result="bypass"
    )
    name = "gateway_limit_rejections_total"
    assert value(after, name, service="shop") - value(before, name, service="shop") == 1
    assert (
        value(after, "gateway_requests_total", service="shop", verb="GET", status="429")
        - value(before, "gateway_requests_total", service="shop", verb="GET", status="429")
        == 1
    )


def test_odd_verbs_do_not_grow_the_label_space(api: Any) -> None:
    Client().generic("BREW", TODO)
    samples = scrape()
    verbs = {dict(labels).get("verb") for name, labels in samples if name.startswith("gateway_")}
    assert "BREW" not in verbs and "OTHER" in verbs


@override_settings(GATEWAY_METRICS_TOKEN="metrics-token-123")
def test_metrics_need_the_bearer_token_when_one_is_set() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json()["error"]["status_code"] == 401
    for wrong in (
        "Bearer metrics-token-12",
        "Bearer metrics-token-1234",
        "Basic metrics-token-123",
    ):
        assert Client().get("/metrics", headers={"Authorization": wrong}).status_code == 401
    assert scrape(Authorization="Bearer metrics-token-123")
    assert scrape(Authorization="bearer metrics-token-123")


# --- Server-Timing ---------------------------------------------------------------------------


def test_server_timing_on_failed_data_answers_not_on_the_system_api(api: Any, anon: Any) -> None:
    client = Client()
    failed = client.get(TODO)  # no credentials: 401
    assert failed.status_code == 401
    assert failed["Server-Timing"].startswith("total;dur=")
    assert client.get("/api/v2/shop/_table/todo/999", headers=api.headers)["Server-Timing"]
    assert "Server-Timing" not in client.get("/api/v2/system/service", headers=api.headers)


# --- JSON logs -------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the root logger writes with LOG_FORMAT=json (the handler settings.py configures)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_json_log_lines_carry_the_request_id_and_no_credentials(
    service: Any, json_log: io.StringIO
) -> None:
    role = make_role(
        "broken",
        [
            {
                "service": service,
                "component": "_table/*",
                "verb_mask": GET,
                "filters": [{"name": "owner_id", "operator": "=", "value": "1"}],
            }
        ],
    )
    _app, key = make_app("broken app", role)
    response = Client().get(
        f"/api/v2/shop/_table/orders?api_key={key}&filter=id%3D1",
        headers={"X-Request-ID": "ops-test-42"},
    )
    assert response.status_code == 500  # the misconfigured filter logs a warning
    assert response["X-Request-ID"] == "ops-test-42"
    logging.getLogger("gateway").info("outside any request, key=%s", "?api_key=" + key)
    text = json_log.getvalue()
    assert key not in text
    entries = [json.loads(line) for line in text.splitlines()]
    warning = next(e for e in entries if e["message"].startswith("role row filter misconfigured"))
    assert warning["request_id"] == "ops-test-42"
    assert warning["level"] == "WARNING" and warning["logger"] == "rbac.row_filters"
    assert set(warning) == {"time", "level", "logger", "message", "request_id"}
    outside = entries[-1]
    assert outside["request_id"] is None
    assert outside["message"] == "outside any request, key=?api_key=[redacted]"


def test_json_log_lines_hold_the_traceback(json_log: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("gateway").exception("it failed: GET /x?session_token=abc.def&a=1")
    entry = json.loads(json_log.getvalue().splitlines()[-1])
    assert entry["message"] == "it failed: GET /x?session_token=[redacted]&a=1"
    assert "ValueError: boom" in entry["exc_info"] and "Traceback" in entry["exc_info"]


def _python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gateway.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.sqlite3'}",
        **env,
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.run(  # noqa: S603 (our interpreter, our code)
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_log_format_json_configures_the_console_handler(tmp_path: Path) -> None:
    code = (
        "import django, logging; django.setup(); logging.getLogger('gateway').warning('hi %s', 1)"
    )
    done = _python(code, tmp_path, LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stderr.strip().splitlines()[-1])
    assert entry["message"] == "hi 1" and entry["request_id"] is None
    done = _python(code, tmp_path, LOG_FORMAT="yaml")
    assert done.returncode != 0 and "LOG_FORMAT must be 'plain' or 'json'" in done.stderr


# --- the production server: multiprocess metrics, graceful shutdown ---------------------------


def test_the_exit_hook_runs_once_and_needs_no_django(tmp_path: Path) -> None:
    code = (
        "from core import shutdown\n"
        "shutdown.at_exit(lambda: print('flushed'))\n"
        "shutdown.install()\n"
        "shutdown.install()\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "flushed\n", "")


_SETUP = """
import os
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from rbac.models import User
from services.models import Service
User.objects.create_superuser("ops@example.com", "ops-password-123")
Service.objects.create(allow_sql=True, **__import__("json").loads(os.environ["SERVICE_JSON"]))
"""


SERVERS = {"granian": servers.granian, "gunicorn": servers.gunicorn}


def _http(port: int, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    headers = {"X-DreamFactory-Session-Token": token} if token else {}
    status, answer, _ = servers.http(port, method, path, body, headers=headers)
    return status, answer


@pytest.mark.slow
@pytest.mark.parametrize("server_name", sorted(SERVERS))
def test_sigterm_finishes_the_request_in_flight_and_closes_the_pools(
    tmp_path: Path, seeded: dict[str, Any], server_name: str
) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gateway.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.sqlite3'}",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "SERVICE_JSON": json.dumps(service_kwargs(seeded)),
    }
    (tmp_path / "prometheus").mkdir()
    servers.manage(env, "shell", "-v0", "-c", _SETUP)
    server_log = tmp_path / "server.log"
    gateway = servers.GatewayServer(env, server_log, command=SERVERS[server_name])
    gateway.start(timeout=20)
    server = gateway.process
    assert server is not None
    port = gateway.port
    try:
        status, body = _http(
            port,
            "POST",
            "/api/v2/system/admin/session",
            {"email": "ops@example.com", "password": "ops-password-123"},
        )
        assert status == 200, body
        token = body["session_token"]
        assert _http(port, "GET", "/api/v2/shop/_table/todo/1", token=token)[0] == 200
        assert _http(port, "GET", "/ready")[0] == 200

        # multiprocess mode: the samples come from the workers' files
        status, text = _http(port, "GET", "/metrics")
        assert status == 200
        assert 'gateway_requests_total{service="shop",status="200",verb="GET"} 1.0' in text
        assert 'gateway_pool_size{service="shop"}' in text
        assert list((tmp_path / "prometheus").glob("gauge_livesum_*.db"))

        outcome: dict[str, Any] = {}

        def slow_request() -> None:
            query = {"query": "SELECT 'slept' AS outcome FROM pg_sleep(1.5)"}
            outcome["answer"] = _http(port, "POST", "/api/v2/shop/_sql", query, token=token)
            outcome["at"] = time.monotonic()

        caller = threading.Thread(target=slow_request)
        caller.start()
        with psycopg.connect(seeded["conninfo"], autocommit=True) as pg:
            deadline = time.monotonic() + 5
            while not pg.execute(
                "SELECT 1 FROM pg_stat_activity WHERE query LIKE %s AND state = 'active'",
                ["%FROM pg_sleep(1.5)%"],
            ).fetchone():
                assert time.monotonic() < deadline, "the slow request never reached PostgreSQL"
                time.sleep(0.02)
        sent = time.monotonic()
        server.send_signal(signal.SIGTERM)  # what `docker stop` sends to PID 1
        caller.join(10)
        assert server.wait(timeout=10) == 0, server_log.read_text()
        exited = time.monotonic()
        assert outcome["answer"] == (
            200,
            {"resource": [{"outcome": "slept"}], "meta": {"count": 1, "columns": ["outcome"]}},
        ), server_log.read_text()
        assert sent < outcome["at"] <= exited and exited - sent < 8
        print(f"answered {outcome['at'] - sent:.2f}s, exited {exited - sent:.2f}s after SIGTERM")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    log_lines = server_log.read_text().splitlines()
    closing = [
        json.loads(line)
        for line in log_lines
        if line.startswith("{") and "connection pools" in line
    ]
    assert closing and closing[0]["message"] == "closed the connection pools of 1 service(s)"
    assert not list((tmp_path / "prometheus").glob("gauge_livesum_*.db"))  # worker retired


def test_gateway_metrics_false_records_nothing_and_hides_metrics(tmp_path: Path) -> None:
    code = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "from core import context\nfrom gateway import metrics\n"
        "print(metrics.observe in context._observers, Client().get('/metrics').status_code)\n"
    )
    done = _python(code, tmp_path)
    assert (done.returncode, done.stdout) == (0, "True 200\n"), done.stderr
    done = _python(code, tmp_path, GATEWAY_METRICS="false")
    assert (done.returncode, done.stdout) == (0, "False 404\n"), done.stderr


def test_tallied_requests_reach_the_histogram_as_single_observations_would() -> None:
    """observe() tallies per bucket and adds the tallies on flush (a scrape flushes first):
    the exposed buckets, count and sum are those of one Histogram.observe() per request."""
    durations = [0.0004, 0.0008, 0.003, 0.003, 0.07, 2.0, 42.0]  # none near a bound
    before = scrape()
    for seconds in durations:
        context = RequestContext(request_id="x", method="GET", path="/api/v2/system/x", client="")
        context.service, context.verb, context.status = "system", "GET", 299
        context.started -= seconds  # `duration` is measured from `started`
        metrics.observe(context, HttpResponse())
    after = scrape()
    name = "gateway_request_duration_seconds"
    for bound in (*metrics.DURATION_BUCKETS, float("inf")):
        le = "+Inf" if bound == float("inf") else str(bound)
        expected = sum(1 for d in durations if d <= bound)
        grown = value(after, f"{name}_bucket", service="system", le=le) - value(
            before, f"{name}_bucket", service="system", le=le
        )
        assert grown == expected, (le, grown, expected)
    assert value(after, f"{name}_count", service="system") - value(
        before, f"{name}_count", service="system"
    ) == len(durations)
    grown_sum = value(after, f"{name}_sum", service="system") - value(
        before, f"{name}_sum", service="system"
    )
    assert abs(grown_sum - sum(durations)) < 0.01
    assert value(after, "gateway_requests_total", service="system", verb="GET", status="299") >= 7
