"""`/metrics` of a real `run web`: requests by route and status, latency, and pool use."""

import json
import re
import urllib.error
import urllib.request

from helpers import wait_http


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


def test_metrics_count_every_error_under_the_status_answered(migrated):
    """Errors decided inside the handlers (a board that is not there, a label that exists) are
    counted under the status the client received, never as 500 (input-probe F2)."""
    migrated.start("run", "web")
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/readyz")
    body = json.dumps({"email": "metrics@example.com", "name": "M", "password": "a long and unusual passphrase"}).encode()
    signup = urllib.request.urlopen(urllib.request.Request(base + "/api/v1/auth/signup", data=body, headers={"Content-Type": "application/json"}), timeout=10)
    reply = json.loads(signup.read())
    cookie = signup.headers["Set-Cookie"].split(";")[0]
    headers = {"Cookie": cookie, "X-CSRF-Token": reply["csrf_token"], "Content-Type": "application/json"}

    def call(method, path, payload=None):
        request = urllib.request.Request(base + path, data=json.dumps(payload).encode() if payload is not None else None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    status, _ = call("GET", "/api/v1/boards/999999")
    assert status == 404
    status, board = call("POST", "/api/v1/boards", {"name": "Metrics"})
    assert status == 201
    board_id = board["board"]["id"]
    assert call("POST", f"/api/v1/boards/{board_id}/labels", {"name": "urgent", "color": "#d73a4a"})[0] == 201
    status, _ = call("POST", f"/api/v1/boards/{board_id}/labels", {"name": "urgent", "color": "#d73a4a"})
    assert status == 409

    text = scrape(base)
    counted = {}
    for line in text.splitlines():
        if line.startswith("hb_requests{"):
            route = re.search(r'http[._]route="([^"]*)"', line)
            status = re.search(r'status[._]code="(\d+)"', line)
            if route and status:
                counted.setdefault(route.group(1), set()).add(status.group(1))
    assert "404" in counted.get("/api/v1/boards/{board}", set()), counted
    assert "409" in counted.get("/api/v1/boards/{board}/labels", set()), counted
    assert not any("500" in statuses for statuses in counted.values()), f"a 4xx counted as 500: {counted}"
