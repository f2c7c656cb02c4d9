"""`seed_demo`, as `./platform up` runs it: a demo account whose password works, a demo board with
columns, labels, cards and a comment, and nothing duplicated or reset by a second run."""

import os
import stat

from helpers import psql, request, wait_http




def api(base, method, path, body=None, cookie=None):
    """A call that must succeed: (headers, body)."""
    status, headers, reply = request(base, method, path, body, {"Cookie": cookie} if cookie else None)
    assert status < 300, f"{method} {path}: {status} {reply}"
    return headers, reply


def fields(output):
    return {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in output.strip().splitlines()}


def test_seed_demo_creates_a_usable_demo_once(migrated, tmp_path):
    password_file = tmp_path / "demo-password"
    first = migrated("seed_demo", "--password-file", str(password_file), check=True)
    out = fields(first.stdout)
    assert out["demo account"] == "demo@example.com (created)"
    password = out["password"]
    assert password_file.read_text().strip() == password
    assert stat.S_IMODE(os.stat(password_file).st_mode) == 0o600
    assert out["demo board"].startswith("Welcome to Tack, http://localhost:5000/boards/") and out["demo board"].endswith("(created)")

    second = fields(migrated("seed_demo", "--password-file", str(password_file), check=True).stdout)
    assert second["demo account"] == "demo@example.com (exists)"
    assert second["password"] == password, "the stored password is reused, not reset"
    assert second["demo board"].endswith("(exists, left as it is)")
    assert psql(migrated.db_url, "SELECT count(*) FROM boards") == "1"
    assert psql(migrated.db_url, "SELECT count(*) FROM users") == "1"

    migrated.start("run", "web")
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/healthz")
    headers, _ = api(base, "POST", "/api/v1/auth/login", {"email": "demo@example.com", "password": password})
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    _, boards = api(base, "GET", "/api/v1/boards", cookie=cookie)
    board_id = boards["items"][0]["id"]
    _, snapshot = api(base, "GET", f"/api/v1/boards/{board_id}", cookie=cookie)
    assert [c["name"] for c in snapshot["columns"]] == ["To do", "In progress", "Review", "Done"]
    assert len(snapshot["labels"]) == 4 and len(snapshot["cards"]) == 7
    assert any(c["done"] for c in snapshot["cards"]) and any(c["due_at"] for c in snapshot["cards"])
    _, events = api(base, "GET", f"/api/v1/boards/{board_id}/events?after=0&limit=1000", cookie=cookie)
    assert [e["version"] for e in events["events"]] == list(range(1, snapshot["board"]["version"] + 1))
    assert [e["kind"] for e in events["events"]].count("comment.created") == 1

    # A lost password file: the next run makes a new password and sets it on the account.
    password_file.unlink()
    third = fields(migrated("seed_demo", "--password-file", str(password_file), check=True).stdout)
    assert third["password"] != password and third["password"].endswith("(set now)")
    new_password = third["password"].split()[0]
    headers, _ = api(base, "POST", "/api/v1/auth/login", {"email": "demo@example.com", "password": new_password})
    assert headers["Set-Cookie"].startswith("tack_session=")
