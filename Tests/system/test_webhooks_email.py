"""Webhooks delivered to a real local HTTP receiver, and notification email received by a real
SMTP server (aiosmtpd), through real `run web` and `run worker` processes."""

import hashlib
import hmac
import json
import time

from standardwebhooks.webhooks import Webhook

from helpers import Receiver, create_user, psql, redis_cli, request, start_smtp, token_headers, wait_http, wait_until

PASSWORD = "a long and unusual passphrase"


def test_webhooks_sign_retry_under_one_delivery_id_and_email_reaches_smtp(migrated, tmp_path):
    receiver = Receiver()
    smtp, smtp_port, outbox = start_smtp(tmp_path)
    try:
        env = {"TACK_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true", "TACK_WORKER_RETRY_BASE_DELAY": "0.3",
               "TACK_MAIL_HOST": "127.0.0.1", "TACK_MAIL_PORT": str(smtp_port), "TACK_MAIL_SECURITY": "none",
               "TACK_MAIL_FROM": "Tack <tack@example.com>"}
        for email, name in (("owner@example.com", "Olive Owner"), ("bob@example.com", "Bob Builder")):
            r = create_user(migrated, "--email", email, "--name", name, "--password-stdin")
            assert r.returncode == 0, r.stderr
        web = migrated.start("run", "web", env=env)
        worker = migrated.start("run", "worker", env=env)
        base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
        wait_http(base + "/healthz")
        owner = token_headers(base, "owner@example.com")

        status, _, created = request(base, "POST", "/api/v1/boards", {"name": "Hooks"}, owner)
        assert status == 201, created
        board = created["board"]["id"]
        status, _, hook = request(base, "POST", f"/api/v1/boards/{board}/webhooks",
                                  {"url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["card.created"]}, owner)
        assert status == 201, hook
        secret = hook["secret"]
        assert secret.startswith("whsec_") and hook["standard_secret"] == secret
        status, _, listed = request(base, "GET", f"/api/v1/boards/{board}/webhooks", headers=owner)
        assert status == 200 and "secret" not in json.dumps(listed), "the secret is shown only once"

        status, _, column = request(base, "POST", f"/api/v1/boards/{board}/columns", {"name": "Todo"}, owner)
        assert status == 201, column
        status, _, card = request(base, "POST", f"/api/v1/boards/{board}/cards",
                                  {"column_id": column["column"]["id"], "title": "Ship it"}, owner)
        assert status == 201, card

        # 500 first, then 200 on the retry: two requests, one delivery id.
        wait_until(lambda: len(receiver.requests) >= 2, what="the retried delivery")
        first, second = receiver.requests[:2]
        assert first["status"] == 500 and second["status"] == 200
        delivery = first["headers"]["X-Tack-Delivery"]
        assert second["headers"]["X-Tack-Delivery"] == delivery, "the delivery id stays the same across retries"
        for attempt in (first, second):
            headers, body = attempt["headers"], attempt["body"]
            signed = f"{headers['X-Tack-Delivery']}.{headers['X-Tack-Timestamp']}.".encode() + body
            expected = "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["X-Tack-Signature"], expected), "the signature verifies"
            # The same delivery verifies as a Standard Webhooks message, with that spec's own library.
            assert headers["webhook-id"] == delivery
            assert json.loads(body) == Webhook(hook["standard_secret"]).verify(body, {k.lower(): v for k, v in headers.items()})
            assert headers["X-Tack-Event"] == "card.created"
            payload = json.loads(body)
            assert payload["delivery_id"] == delivery and payload["webhook_id"] == hook["webhook"]["id"]
            assert payload["event"]["kind"] == "card.created" and payload["event"]["payload"]["title"] == "Ship it"
        # Only card.created passes the filter: the column event was not delivered.
        time.sleep(1)
        assert {r["headers"]["X-Tack-Event"] for r in receiver.requests} == {"card.created"}

        def log():
            status, _, page = request(base, "GET", f"/api/v1/boards/{board}/webhooks/{hook['webhook']['id']}/deliveries", headers=owner)
            assert status == 200, page
            return page["items"]
        items = wait_until(lambda: [i for i in log() if i["status"] == "succeeded"], what="the delivery log")
        assert items[0]["id"] == delivery
        assert [a["status_code"] for a in items[0]["attempts"]] == [500, 200]
        assert all(isinstance(a["latency_ms"], int) for a in items[0]["attempts"])

        # A mention notifies bob in the app and by email.
        status, _, member = request(base, "PUT", f"/api/v1/boards/{board}/members", {"email": "bob@example.com", "role": "member"}, owner)
        assert status in (200, 201), member
        status, _, comment = request(base, "POST", f"/api/v1/boards/{board}/cards/{card['card']['id']}/comments",
                                     {"body": "@bob please review"}, owner)
        assert status == 201, comment
        bob = token_headers(base, "bob@example.com")
        status, _, bell = request(base, "GET", "/api/v1/notifications?unread=true", headers=bob)
        assert status == 200 and bell["unread_count"] >= 1, bell
        mail = wait_until(lambda: sorted(outbox.glob("*.json")), what="the notification email")
        message = json.loads(mail[0].read_text())
        assert message["to"] == ["bob@example.com"]
        assert "Olive Owner mentioned you" in message["data"]
        assert "Ship it" in message["data"]
        assert psql(migrated.db_url, "SELECT count(*) FROM notifications WHERE emailed_at IS NULL AND user_id = "
                                     "(SELECT id FROM users WHERE email = 'bob@example.com')") == "0"
        status, _, read = request(base, "POST", "/api/v1/notifications/read", {"all": True}, bob)
        assert status == 200 and read["unread_count"] == 0
    finally:
        receiver.close()
        smtp.kill()


def test_webhook_to_loopback_is_refused_when_the_guard_is_on(migrated):
    receiver = Receiver()
    try:
        r = create_user(migrated, "--email", "guard@example.com", "--name", "Guard", "--password-stdin")
        assert r.returncode == 0, r.stderr
        migrated.start("run", "web")
        worker = migrated.start("run", "worker")
        base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
        wait_http(base + "/healthz")
        owner = token_headers(base, "guard@example.com")
        status, _, created = request(base, "POST", "/api/v1/boards", {"name": "Guarded"}, owner)
        board = created["board"]["id"]
        # A literal loopback address is refused when saved...
        status, _, refused = request(base, "POST", f"/api/v1/boards/{board}/webhooks", {"url": f"http://127.0.0.1:{receiver.port}/"}, owner)
        assert status == 400 and refused["error"]["field"] == "url" and "loopback" in refused["error"]["message"], refused
        # ...and so is its non-dotted spelling.
        status, _, refused = request(base, "POST", f"/api/v1/boards/{board}/webhooks", {"url": f"http://2130706433:{receiver.port}/"}, owner)
        assert status == 400 and refused["error"]["field"] == "url" and "127.0.0.1 is loopback" in refused["error"]["message"], refused
        # A name that resolves to it is refused at delivery, and so is a name that does not resolve:
        # the delivery log (read by any board admin) says the same for both, without an address,
        # so it cannot be used to map internal names; the server log keeps the reason.
        hooks = {}
        for name in ("localhost", "no-such-host.invalid"):
            status, _, hook = request(base, "POST", f"/api/v1/boards/{board}/webhooks", {"url": f"http://{name}:{receiver.port}/"}, owner)
            assert status == 201, hook
            hooks[name] = hook["webhook"]["id"]
        request(base, "POST", f"/api/v1/boards/{board}/columns", {"name": "Todo"}, owner)

        def failed(hook_id):
            def check():
                _, _, page = request(base, "GET", f"/api/v1/boards/{board}/webhooks/{hook_id}/deliveries", headers=owner)
                return [i for i in page["items"] if i["status"] == "failed"]
            return check
        errors = {}
        for name, hook_id in hooks.items():
            items = wait_until(failed(hook_id), what=f"the refused delivery to {name}")
            assert len(items[0]["attempts"]) == 1, "a refused target is not retried"
            errors[name] = items[0]["attempts"][0]["error"]
        assert errors == {"localhost": "refused: internal or unresolvable target",
                          "no-such-host.invalid": "refused: internal or unresolvable target"}, errors
        assert receiver.requests == [], "nothing reached the loopback receiver"
        worker_log = migrated.output(worker)
        assert "localhost resolves to" in worker_log and "no-such-host.invalid does not resolve" in worker_log, "the server log keeps the reason"
    finally:
        receiver.close()


def test_board_export_is_written_by_a_worker_and_downloaded_by_members(migrated):
    import urllib.request
    r = create_user(migrated, "--email", "exporter@example.com", "--name", "Ex", "--password-stdin")
    assert r.returncode == 0, r.stderr
    migrated.start("run", "web")
    migrated.start("run", "worker")
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/healthz")
    owner = token_headers(base, "exporter@example.com")
    _, _, created = request(base, "POST", "/api/v1/boards", {"name": "Export me"}, owner)
    board = created["board"]["id"]
    _, _, column = request(base, "POST", f"/api/v1/boards/{board}/columns", {"name": "Todo"}, owner)
    for title in ("Plain", 'Quote "this", please', "=HYPERLINK(\"x\")"):
        status, _, _ = request(base, "POST", f"/api/v1/boards/{board}/cards", {"column_id": column["column"]["id"], "title": title}, owner)
        assert status == 201
    files = {}
    for fmt in ("json", "csv"):
        status, _, export = request(base, "POST", f"/api/v1/boards/{board}/exports", {"format": fmt}, owner)
        assert status == 202, export
        export_id = export["export"]["id"]

        def ready():
            _, _, e = request(base, "GET", f"/api/v1/boards/{board}/exports/{export_id}", headers=owner)
            return e["export"]["status"] == "ready" and e
        e = wait_until(ready, what=f"the {fmt} export")
        req = urllib.request.Request(base + f"/api/v1/boards/{board}/exports/{export_id}/download", headers=owner)
        with urllib.request.urlopen(req, timeout=10) as response:
            assert "attachment" in response.headers["Content-Disposition"]
            files[fmt] = response.read()
        assert e["export"]["bytes"] == len(files[fmt])
    document = json.loads(files["json"])
    assert document["board"]["name"] == "Export me"
    assert sorted(c["title"] for c in document["cards"]) == sorted(["Plain", 'Quote "this", please', "=HYPERLINK(\"x\")"])
    import csv, io
    rows = list(csv.DictReader(io.StringIO(files["csv"].decode())))
    assert [r["title"] for r in rows] == ["Plain", 'Quote "this", please', "'=HYPERLINK(\"x\")"], "quoted, and formulas defused"
    assert all(r["column"] == "Todo" for r in rows)
    # An outsider cannot download it.
    r = create_user(migrated, "--email", "outsider@example.com", "--name", "Out", "--password-stdin")
    outsider = token_headers(base, "outsider@example.com")
    status, _, _ = request(base, "GET", f"/api/v1/boards/{board}/exports/{export_id}", headers=outsider)
    assert status == 404


def test_a_webhook_that_keeps_failing_is_disabled_and_its_creator_notified(migrated):
    receiver = Receiver(status=410)
    try:
        r = create_user(migrated, "--email", "hooker@example.com", "--name", "Hook", "--password-stdin")
        assert r.returncode == 0, r.stderr
        env = {"TACK_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true", "TACK_WEBHOOKS_DISABLE_AFTER_FAILURES": "2"}
        migrated.start("run", "web", env=env)
        migrated.start("run", "worker", env=env)
        base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
        wait_http(base + "/healthz")
        owner = token_headers(base, "hooker@example.com")
        _, _, created = request(base, "POST", "/api/v1/boards", {"name": "Flaky"}, owner)
        board = created["board"]["id"]
        status, _, hook = request(base, "POST", f"/api/v1/boards/{board}/webhooks", {"url": f"http://127.0.0.1:{receiver.port}/"}, owner)
        assert status == 201, hook
        hook_id = hook["webhook"]["id"]
        for name in ("One", "Two", "Three"):
            request(base, "POST", f"/api/v1/boards/{board}/columns", {"name": name}, owner)

        def disabled():
            _, _, one = request(base, "GET", f"/api/v1/boards/{board}/webhooks/{hook_id}", headers=owner)
            return not one["webhook"]["active"] and one["webhook"]
        webhook = wait_until(disabled, what="the webhook to be disabled")
        # Deliveries already under way when it was disabled still finish (and count).
        assert webhook["failures_in_row"] >= 2 and "410" in webhook["disabled_reason"], webhook
        _, _, bell = request(base, "GET", "/api/v1/notifications", headers=owner)
        kinds = [n["kind"] for n in bell["items"]]
        assert kinds.count("webhook_disabled") == 1, bell
        # A 4xx answer is not retried: one attempt per delivery; nothing more once disabled.
        seen = len(receiver.requests)
        ids = [r["headers"]["X-Tack-Delivery"] for r in receiver.requests]
        assert len(set(ids)) == len(ids) == seen <= 3, ids
        request(base, "POST", f"/api/v1/boards/{board}/columns", {"name": "Four"}, owner)
        time.sleep(2)
        assert len(receiver.requests) == seen, "a disabled webhook gets no deliveries"
    finally:
        receiver.close()


def test_daily_digest_gathers_unread_notifications_in_one_email(migrated, tmp_path):
    smtp, smtp_port, outbox = start_smtp(tmp_path)
    try:
        env = {"TACK_MAIL_HOST": "127.0.0.1", "TACK_MAIL_PORT": str(smtp_port), "TACK_MAIL_SECURITY": "none",
               "TACK_MAIL_FROM": "tack@example.com"}
        for email, name in (("dora@example.com", "Dora Owner"), ("carol@example.com", "Carol Digest")):
            assert create_user(migrated, "--email", email, "--name", name, "--password-stdin").returncode == 0
        migrated.start("run", "web", env=env)
        base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
        wait_http(base + "/healthz")
        dora, carol = token_headers(base, "dora@example.com"), token_headers(base, "carol@example.com")
        status, _, settings = request(base, "PATCH", "/api/v1/me/settings", {"email_notifications": "daily"}, carol)
        assert status == 200 and settings["email_notifications"] == "daily"
        _, _, created = request(base, "POST", "/api/v1/boards", {"name": "Digest"}, dora)
        board = created["board"]["id"]
        request(base, "PUT", f"/api/v1/boards/{board}/members", {"email": "carol@example.com", "role": "member"}, dora)
        _, _, column = request(base, "POST", f"/api/v1/boards/{board}/columns", {"name": "Todo"}, dora)
        for title in ("First card", "Second card"):
            _, _, card = request(base, "POST", f"/api/v1/boards/{board}/cards", {"column_id": column["column"]["id"], "title": title}, dora)
            request(base, "POST", f"/api/v1/boards/{board}/cards/{card['card']['id']}/comments", {"body": "@carol see this"}, dora)
        # The worker starts after both mentions: one digest carries both.
        migrated.start("run", "worker", env=env)
        mail = wait_until(lambda: sorted(outbox.glob("*.json")), what="the digest")
        time.sleep(3)
        mails = [json.loads(m.read_text()) for m in sorted(outbox.glob("*.json"))]
        assert len(mails) == 1, [m["data"][:200] for m in mails]
        assert mails[0]["to"] == ["carol@example.com"]
        assert "2 unread notifications" in mails[0]["data"]
        assert "First card" in mails[0]["data"] and "Second card" in mails[0]["data"]
    finally:
        smtp.kill()


def test_a_delivery_whose_job_redis_lost_is_enqueued_again_under_its_id(migrated):
    """Redis can lose a job after it was enqueued (a crash before the AOF reached the disk, a failover
    to a replica that missed it): a delivery still pending and not attempted for long is enqueued
    again by the dispatcher's sweep, under the same delivery id."""
    receiver = Receiver(status=500)
    try:
        env = {"TACK_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true", "TACK_WORKER_RETRY_BASE_DELAY": "600"}
        assert create_user(migrated, "--email", "lost@example.com", "--name", "Lou", "--password-stdin").returncode == 0
        migrated.start("run", "web", env=env)
        migrated.start("run", "worker", env=env)
        base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
        wait_http(base + "/healthz")
        owner = token_headers(base, "lost@example.com")
        _, _, created = request(base, "POST", "/api/v1/boards", {"name": "Lost"}, owner)
        board = created["board"]["id"]
        status, _, hook = request(base, "POST", f"/api/v1/boards/{board}/webhooks",
                                  {"url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["board.updated"]}, owner)
        assert status == 201, hook
        assert request(base, "PATCH", f"/api/v1/boards/{board}", {"name": "Lost and found"}, owner)[0] == 200

        # The first attempt fails; its retry waits ten minutes in Redis, then Redis loses it.
        wait_until(lambda: receiver.requests, 30, "the first attempt")
        delivery = receiver.requests[0]["headers"]["X-Tack-Delivery"]
        for key in redis_cli(migrated.redis_url, "KEYS", "tack:q:*").split():
            redis_cli(migrated.redis_url, "DEL", key)
        receiver.status = 200
        time.sleep(2)
        assert len(receiver.requests) == 1, "nothing is delivered while the delivery was seen recently"
        # Hours later (the sweep waits three times the longest retry delay, at least three hours):
        psql(migrated.db_url, f"UPDATE webhook_deliveries SET enqueued_at = now() - interval '4 hours' WHERE id = '{delivery}'")
        wait_until(lambda: len(receiver.requests) >= 2, 30, "the delivery enqueued again")
        again = receiver.requests[1]
        assert again["status"] == 200 and again["headers"]["X-Tack-Delivery"] == delivery, "the same delivery id"
        wait_until(lambda: psql(migrated.db_url, f"SELECT status FROM webhook_deliveries WHERE id = '{delivery}'") == "succeeded",
                   15, "the delivery to succeed")
    finally:
        receiver.close()


def test_an_export_whose_job_redis_lost_is_enqueued_again_and_finishes(migrated):
    """An export's job lost with Redis (recorded, enqueued, then gone before any worker ran it) is
    enqueued again by the worker's sweep once it has not been seen for long, and the export becomes
    ready instead of staying pending until it expires."""
    assert create_user(migrated, "--email", "exporter@example.com", "--name", "Exa", "--password-stdin").returncode == 0
    migrated.start("run", "web")
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/healthz")
    owner = token_headers(base, "exporter@example.com")
    _, _, created = request(base, "POST", "/api/v1/boards", {"name": "Exported"}, owner)
    board = created["board"]["id"]
    status, _, export = request(base, "POST", f"/api/v1/boards/{board}/exports", {"format": "json"}, owner)
    assert status == 202, export
    export_id = export["export"]["id"]
    # No worker has run yet; Redis loses the queue with the job in it.
    for key in redis_cli(migrated.redis_url, "KEYS", "tack:q:*").split():
        redis_cli(migrated.redis_url, "DEL", key)
    migrated.start("run", "worker")
    time.sleep(6)
    assert psql(migrated.db_url, f"SELECT status FROM exports WHERE id = {export_id}") == "pending", \
        "an export seen recently is not enqueued again"
    # Hours later (three times the longest retry wait, at least three hours):
    psql(migrated.db_url, f"UPDATE exports SET enqueued_at = now() - interval '4 hours' WHERE id = {export_id}")
    wait_until(lambda: psql(migrated.db_url, f"SELECT status FROM exports WHERE id = {export_id}") == "ready", 30,
               "the export enqueued again and written")
    _, _, done = request(base, "GET", f"/api/v1/boards/{board}/exports/{export_id}", headers=owner)
    assert done["export"]["status"] == "ready" and done["export"]["bytes"] > 0, done
