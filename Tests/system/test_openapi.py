"""schemathesis against a real `tack run web`, driven by the OpenAPI document it serves: generated
requests (valid and invalid), authenticated by a session cookie with its CSRF token, then by a
read_write API token, must never get a 5xx, nor an answer whose status, content type, headers or
body the document does not describe. On failure, the reports (`session.har`, `token.har`, JSON)
are in the test's tmp_path."""

import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request

from helpers import PASSWORD, create_user, psql, request, wait_http

# Checks every response must pass. Data acceptance checks (does the server accept everything the
# schema allows, reject everything it forbids) are left out: the document states lengths and types,
# while some rules (a column of this board, a member's email, a strong password) need server state.
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance"]

# Operations generated data cannot make succeed: the document itself (schemathesis does not test
# it), login and password change (generated credentials), logout (the token run has no session to
# end, the session run must keep its own), sign-up (generated passwords are mostly refused as too
# weak). Every other operation must answer 2xx at least once.
NO_SUCCESS_EXPECTED = {"GET /api/v1/openapi.json", "POST /api/v1/auth/login", "PUT /api/v1/me/password",
                       "POST /api/v1/auth/logout", "POST /api/v1/auth/signup",
                       # No worker runs here, so no export becomes ready for download (409).
                       "GET /api/v1/boards/{board}/exports/{export}/download",
                       # Emailed links are signed with the server's secret: generated ones are refused.
                       "POST /api/v1/invitations/preview", "POST /api/v1/invitations/accept",
                       "POST /api/v1/auth/password_reset/confirm"}

# Fixtures get ids far above the small integers generated ids favour, so a generated
# DELETE /api/v1/me/tokens/1 or /boards/1 cannot revoke the test's token or delete its board.
FIXTURE_IDS_FROM = 1_000_000_007


def schemathesis_config(path, document, ids, spare):
    """One `[[operations]]` entry per operation with path parameters: real ids, so requests get past
    the 404 to the logic and its success answers are checked too. Deletions get spare resources of
    their own (the first one succeeds, the rest are 404), so no generated request, linked or not,
    can delete what the other operations work on, or revoke the token the run uses."""
    lines = ['[generation]', 'database = "none"', '']
    for route, item in document["paths"].items():
        names = [segment[1:-1] for segment in route.split("/") if segment.startswith("{")]
        for method in item:
            if method == "parameters" or not names:
                continue
            # A DELETE deletes what its last parameter names.
            values = [spare[name] if method == "delete" and name == names[-1] else ids[name] for name in names]
            lines += ["[[operations]]", f'include-name = "{method.upper()} {route}"',
                      "[operations.parameters]", *(f"{name} = {value}" for name, value in zip(names, values)), ""]
    path.write_text("\n".join(lines))
    return path


def operations_answering_2xx(har, operations):
    """The operations ("METHOD /route") with at least one 2xx answer among the requests of a HAR file."""
    succeeded = set()
    for entry in json.loads(har.read_text())["log"]["entries"]:
        if 200 <= entry["response"]["status"] < 300:
            method, path = entry["request"]["method"], urllib.parse.urlsplit(entry["request"]["url"]).path
            succeeded.update(name for name, pattern in operations.items() if name.startswith(method + " ") and pattern.match(path))
    return succeeded


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(migrated, tmp_path):
    email = "fuzz@example.com"
    r = create_user(migrated, "--email", email, "--name", "Fuzz", "--admin", "--password-stdin")
    assert r.returncode == 0, r.stderr
    for table in ("users", "api_tokens", "boards", "columns", "cards", "labels", "comments", "webhooks", "exports", "invitations",
                  "attachments"):
        psql(migrated.db_url, f"ALTER TABLE {table} ALTER COLUMN id RESTART WITH {FIXTURE_IDS_FROM}")
    # Mail "configured" (nothing reads it: no worker runs), so a password reset request can succeed.
    migrated.start("run", "web", env={"TACK_MAIL_HOST": "127.0.0.1", "TACK_MAIL_PORT": "9", "TACK_MAIL_SECURITY": "none",
                                      "TACK_MAIL_FROM": "tack@example.com"})
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/readyz")

    # A session, then a read_write token from it (tokens are made from sessions only).
    status, headers, login = request(base, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, login
    browser = {"Cookie": headers["Set-Cookie"].split(";", 1)[0], "X-CSRF-Token": login["csrf_token"]}
    status, _, token = request(base, "POST", "/api/v1/me/tokens", {"name": "schemathesis", "scope": "read_write"}, headers=browser)
    assert status == 201, token
    bearer = {"Authorization": "Bearer " + token["token"]}

    # A board with something of everything, so generated requests reach real resources, and a spare
    # of each thing a DELETE removes.
    def create(path, body):
        status, _, reply = request(base, "POST", path, body, headers=bearer)
        assert status == 201, (path, reply)
        return reply
    board = create("/api/v1/boards", {"name": "Fuzzed", "description": "schemathesis works here"})["board"]["id"]
    column = create(f"/api/v1/boards/{board}/columns", {"name": "To do", "wip_limit": 3})["column"]["id"]
    create(f"/api/v1/boards/{board}/columns", {"name": "Done"})
    label = create(f"/api/v1/boards/{board}/labels", {"name": "bug", "color": "#d73a4a"})["label"]["id"]
    other = create("/api/v1/users", {"email": "other@example.com", "name": "Other", "password": PASSWORD})["user"]["id"]
    status, _, member = request(base, "PUT", f"/api/v1/boards/{board}/members", {"email": "other@example.com", "role": "member"}, headers=bearer)
    assert status == 200, member
    card = create(f"/api/v1/boards/{board}/cards", {"column_id": column, "title": "Fuzz me", "labels": [label],
                                                   "assignees": [other], "due_at": "2030-01-31T17:00:00Z"})["card"]["id"]
    comment = create(f"/api/v1/boards/{board}/cards/{card}/comments", {"body": "hello @other"})["comment"]["id"]
    webhook = create(f"/api/v1/boards/{board}/webhooks", {"url": "https://hooks.example.com/tack"})["webhook"]["id"]
    status, _, export = request(base, "POST", f"/api/v1/boards/{board}/exports", {"format": "csv"}, headers=bearer)
    assert status == 202, export
    invitation = create(f"/api/v1/boards/{board}/invitations", {"email": "invitee@example.com"})["invitation"]["id"]
    def attach(name):
        upload = urllib.request.Request(f"{base}/api/v1/boards/{board}/cards/{card}/attachments?name={name}", data=b"%PDF-1.4\n",
                                        method="POST", headers={**bearer, "Content-Type": "application/pdf"})
        with urllib.request.urlopen(upload, timeout=10) as answer:
            assert answer.status == 201
            return json.loads(answer.read())["attachment"]["id"]
    checklist = create(f"/api/v1/boards/{board}/cards/{card}/checklists", {"title": "Steps", "items": [{"text": "one"}]})["checklist"]
    status, _, imported = request(base, "POST", "/api/v1/imports/trello", {"name": "Trello", "lists": [], "cards": []}, headers=bearer)
    assert status == 202, imported
    ids = {"board": board, "column": column, "card": card, "comment": comment, "label": label, "webhook": webhook,
           "export": export["export"]["id"], "invitation": invitation, "checklist": checklist["id"], "item": checklist["items"][0]["id"],
           "import": imported["import"]["id"], "attachment": attach("fixture.pdf")}
    spare = {
        "board": create("/api/v1/boards", {"name": "Spare"})["board"]["id"],
        "column": create(f"/api/v1/boards/{board}/columns", {"name": "Empty"})["column"]["id"],
        "card": create(f"/api/v1/boards/{board}/cards", {"column_id": column, "title": "Spare"})["card"]["id"],
        "comment": create(f"/api/v1/boards/{board}/cards/{card}/comments", {"body": "spare"})["comment"]["id"],
        "label": create(f"/api/v1/boards/{board}/labels", {"name": "spare", "color": "#00ff00"})["label"]["id"],
        "user": other,
        "webhook": create(f"/api/v1/boards/{board}/webhooks", {"url": "https://spare.example.com/"})["webhook"]["id"],
        "invitation": create(f"/api/v1/boards/{board}/invitations", {"email": "spare@example.com"})["invitation"]["id"],
        "checklist": create(f"/api/v1/boards/{board}/cards/{card}/checklists", {"title": "Spare"})["checklist"]["id"],
        "item": create(f"/api/v1/boards/{board}/checklists/{checklist['id']}/items", {"text": "spare"})["item"]["id"],
        "attachment": attach("spare.pdf"),
    }
    status, _, spare_token = request(base, "POST", "/api/v1/me/tokens", {"name": "spare", "scope": "read"}, headers=browser)
    assert status == 201, spare_token
    spare["id"] = spare_token["id"]

    status, _, document = request(base, "GET", "/api/v1/openapi.json")
    assert status == 200
    operations = {f"{method.upper()} {route}": re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route) + "$")
                  for route, item in document["paths"].items() for method in item if method != "parameters"}
    config = schemathesis_config(tmp_path / "schemathesis.toml", document, ids, spare)

    def schemathesis(name, *args):
        """One bounded, reproducible run; fails the test on any failure, returns the JSON report."""
        report, har = tmp_path / f"{name}.json", tmp_path / f"{name}.har"
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run",
             f"{base}/api/v1/openapi.json", "--url", base, "--checks", ",".join(CHECKS), *args,
             # One worker: CPython 3.11's ast.parse is not thread-safe, and Hypothesis parses
             # lambdas while describing strategies.
             "--max-examples", "15", "--seed", "20251121", "--workers", "1", "--request-timeout", "10",
             "--report", "json,har", "--report-json-path", str(report), "--report-har-path", str(har)],
            capture_output=True, text=True, cwd=tmp_path, timeout=240)
        output = run.stdout + run.stderr
        assert run.returncode == 0, f"schemathesis ({name}) found failures (exit {run.returncode}):\n{output[-20000:]}"
        results = json.loads(report.read_text())
        assert results["failures"] == [] and results["errors"] == [], output[-20000:]
        assert {phase: v["status"] for phase, v in results["phases"].items()} == \
            {"examples": "skip", "coverage": "success", "fuzzing": "success", "stateful": "success"}, results["phases"]
        return results, operations_answering_2xx(har, operations)

    # First the caller's own account as the pages call it, with the session cookie and the CSRF
    # token (not logout, which would end the session the run uses; and before the token run, whose
    # POST /auth/logout_all ends every session).
    results, succeeded = schemathesis("session", "--header", f"Cookie: {browser['Cookie']}",
                                       "--header", f"X-CSRF-Token: {browser['X-CSRF-Token']}", "--include-path-regex", "^/api/v1/me")
    # (A generated current_password is always wrong: 403 wrong_password, never a refused session.)
    assert results["operations"]["tested"] == 7, results["operations"]
    assert set(results["warnings"]["missing_auth"]) <= {"PUT /api/v1/me/password"}, results["warnings"]["missing_auth"]
    generated = results["test_cases"]["generated"]

    # Then everything, as a script calls it: with the read_write API token.
    results, by_token = schemathesis("token", "--header", f"Authorization: Bearer {token['token']}")
    # (schemathesis leaves out GET /api/v1/openapi.json: the operation serving the document it loaded.)
    assert results["operations"]["tested"] == results["operations"]["total"] == len(operations) - 1 > 40, results["operations"]
    # Only token creation refuses the token throughout (it needs a session): the token stayed valid.
    assert set(results["warnings"]["missing_auth"]) <= {"POST /api/v1/me/tokens"}, results["warnings"]["missing_auth"]
    assert results["test_cases"]["generated"] > 20 * len(operations), results["test_cases"]
    generated += results["test_cases"]["generated"]
    succeeded |= by_token

    # Not vacuous: every operation that generated data can pass got past validation to a success
    # answer that the checks saw.
    never = sorted(set(operations) - succeeded)
    print(f"schemathesis: {generated} test cases, {len(succeeded)} of {len(operations)} operations answered 2xx, never: {never}")
    assert set(never) <= NO_SUCCESS_EXPECTED, f"operations that never got past validation: {sorted(set(never) - NO_SUCCESS_EXPECTED)}"
    # The deletions reached their spare resources, and the fixtures survived.
    assert request(base, "GET", f"/api/v1/boards/{spare['board']}", headers=bearer)[0] == 404
    status, _, snapshot = request(base, "GET", f"/api/v1/boards/{board}", headers=bearer)
    assert status == 200, "the fixture board survived the run"
    assert spare["column"] not in [c["id"] for c in snapshot["columns"]]
