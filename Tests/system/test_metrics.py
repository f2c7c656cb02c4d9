"""`/metrics` of a real `run web`: requests by route and status, latency, and pool use."""

import re
import urllib.request

from conftest import wait_http


def scrape(base):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def value(text, name):
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    assert match, f"{name} is not in /metrics"
    return float(match.group(1))


def test_metrics_report_requests_latency_and_pool_use(migrated):
    migrated.start("run", "web", env={"TACK_DATABASE_POOL_SIZE": "7"})
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/readyz")
    for _ in range(3):
        urllib.request.urlopen(base + "/readyz", timeout=10).read()
    text = scrape(base)
    assert re.search(r'^hb_requests\{.*"/readyz".*\} [1-9]', text, re.M), "requests by route and status"
    assert re.search(r'^http_server_request_duration_bucket\{.*"/readyz"', text, re.M), "a latency histogram by route"
    assert value(text, "tack_postgres_pool_size") == 7
    assert value(text, "tack_redis_pool_size") >= 1
    # /readyz queried PostgreSQL: the pool opened a connection, and none is leased between requests.
    assert value(text, "tack_postgres_connections_open") >= 1
    assert value(text, "tack_postgres_connections_in_use") == 0
    assert value(text, "tack_redis_connections_busy") == 0
    assert value(text, "tack_redis_requests_outstanding") == 0
