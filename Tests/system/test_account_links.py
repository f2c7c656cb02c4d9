"""Invitations by email and forgotten passwords, through real `run web` and `run worker` processes
and a real SMTP server (aiosmtpd): the links are emailed, work once, expire, and a reset request
answers the same whether or not an account has the address."""

import re

from helpers import PASSWORD, User, login, mails, psql, signup, start_smtp, wait_http, wait_until

MAIL_ENV = {"TACK_MAIL_SECURITY": "none", "TACK_MAIL_FROM": "Tack <tack@example.com>", "TACK_WEB_BASE_URL": "http://tack.test"}


def start(migrated, tmp_path, worker=True):
    """web (+ worker) sending email to a fresh aiosmtpd; (base, smtp process, outbox)."""
    smtp, port, outbox = start_smtp(tmp_path)
    env = dict(MAIL_ENV, TACK_MAIL_HOST="127.0.0.1", TACK_MAIL_PORT=str(port))
    migrated.start("run", "web", env=env)
    if worker:
        migrated.start("run", "worker", env=env)
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/healthz")
    return base, smtp, outbox


def link_in(text, path):
    """The secret part of the link to `path` in an email's text."""
    found = re.search(r"http://tack\.test" + re.escape(path) + r"#([ir][0-9]+\.[A-Za-z0-9_-]+)", text)
    assert found, f"no {path} link in:\n{text}"
    return found.group(1)


def anonymous(base):
    return User(base)


def test_an_invitation_is_emailed_accepted_once_by_a_new_account_with_the_invited_role(migrated, tmp_path):
    base, smtp, outbox = start(migrated, tmp_path)
    try:
        owner = signup(base, "olive@example.com", "Olive Owner")
        board, column = owner.create_board("Launch"), None
        column = owner.create_column(board)
        owner.create_card(board, column, "Write the announcement")
        signup(base, "taken@example.com", "Tess Taken")

        # An address with an account is added, not invited.
        status, body, _ = owner.request("POST", f"/api/v1/boards/{board}/invitations", {"email": "taken@example.com"})
        assert status == 409 and body["error"]["code"] == "account_exists", body
        # Ownership is not given by invitation.
        status, body, _ = owner.request("POST", f"/api/v1/boards/{board}/invitations", {"email": "new@example.com", "role": "owner"})
        assert status == 400 and body["error"]["field"] == "role", body

        created = owner.call("POST", f"/api/v1/boards/{board}/invitations", {"email": "New@Example.com", "role": "viewer"}, expect=201)
        assert created["emailed"] is True and "url" not in created, created
        assert created["invitation"]["email"] == "new@example.com" and created["invitation"]["role"] == "viewer"
        pending = owner.call("GET", f"/api/v1/boards/{board}/invitations")["invitations"]
        assert [i["email"] for i in pending] == ["new@example.com"]

        wait_until(lambda: mails(outbox), what="the invitation email")
        [(to, subject, text)] = mails(outbox)
        assert to == ["new@example.com"] and "Olive Owner invited you to Launch" in subject, (to, subject)
        assert "as viewer" in text
        token = link_in(text, "/invitations/accept")
        wait_until(lambda: owner.call("GET", f"/api/v1/boards/{board}/invitations")["invitations"][0].get("emailed_at"),
                   what="the invitation marked emailed")

        stranger = anonymous(base)
        status, body, _ = stranger.request("POST", "/api/v1/invitations/preview", {"token": token})
        assert status == 200, body
        assert body["invitation"] == {**body["invitation"], "board_id": board, "board_name": "Launch", "email": "new@example.com",
                                      "role": "viewer", "invited_by": "Olive Owner", "account_exists": False}
        # A changed character is not a link of this server's.
        forged = token[:-1] + ("A" if token[-1] != "A" else "B")
        status, body, _ = stranger.request("POST", "/api/v1/invitations/preview", {"token": forged})
        assert status == 400 and body["error"]["code"] == "link_invalid" and body["error"]["field"] == "token", body

        # Accepted by someone without an account: the account of the invited address, signed in, on the board.
        status, body, headers = stranger.request("POST", "/api/v1/invitations/accept", {"token": token, "name": "Nina New", "password": PASSWORD})
        assert status == 201, body
        assert body["board_id"] == board and body["user"]["email"] == "new@example.com"
        assert headers["Set-Cookie"].startswith("tack_session=")
        nina = User(base, id=body["user"]["id"], name="Nina New", email="new@example.com",
                    cookie=headers["Set-Cookie"].split(";", 1)[0], csrf=body["csrf_token"])
        snapshot = nina.call("GET", f"/api/v1/boards/{board}")
        assert snapshot["board"]["role"] == "viewer"
        assert [c["title"] for c in snapshot["cards"]] == ["Write the announcement"]
        members = {m["email"]: m["role"] for m in owner.call("GET", f"/api/v1/boards/{board}/members")["items"]}
        assert members["new@example.com"] == "viewer"
        events = owner.call("GET", f"/api/v1/boards/{board}/events?after=0")["events"]
        assert events[-1]["kind"] == "member.added" and events[-1]["actor_id"] == nina.id

        # Once only, for anyone.
        status, body, _ = anonymous(base).request("POST", "/api/v1/invitations/accept", {"token": token, "name": "Again", "password": PASSWORD})
        assert status == 410 and body["error"]["code"] == "link_used", body
        assert owner.call("GET", f"/api/v1/boards/{board}/invitations")["invitations"] == []

        # A withdrawn invitation's link stops working; an invitee who already has an account joins by logging in.
        again = owner.call("POST", f"/api/v1/boards/{board}/invitations", {"email": "later@example.com"}, expect=201)
        wait_until(lambda: len(mails(outbox)) == 2, what="the second invitation email")
        withdrawn = link_in(mails(outbox)[1][2], "/invitations/accept")
        owner.call("DELETE", f"/api/v1/boards/{board}/invitations/{again['invitation']['id']}", expect=204)
        status, body, _ = anonymous(base).request("POST", "/api/v1/invitations/preview", {"token": withdrawn})
        assert status == 410 and body["error"]["code"] == "link_used", body

        owner.call("POST", f"/api/v1/boards/{board}/invitations", {"email": "late@example.com", "role": "admin"}, expect=201)
        wait_until(lambda: len(mails(outbox)) == 3, what="the third invitation email")
        third = link_in(mails(outbox)[2][2], "/invitations/accept")
        late = signup(base, "late@example.com", "Lara Late")
        assert late.call("POST", "/api/v1/invitations/accept", {"token": third})["board_id"] == board
        assert late.call("GET", f"/api/v1/boards/{board}")["board"]["role"] == "admin"

        # Expired: the row's expiry passed.
        owner.call("POST", f"/api/v1/boards/{board}/invitations", {"email": "slow@example.com"}, expect=201)
        wait_until(lambda: len(mails(outbox)) == 4, what="the fourth invitation email")
        slow = link_in(mails(outbox)[3][2], "/invitations/accept")
        psql(migrated.db_url, "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE email = 'slow@example.com'")
        status, body, _ = anonymous(base).request("POST", "/api/v1/invitations/accept", {"token": slow, "name": "Sam", "password": PASSWORD})
        assert status == 410 and body["error"]["code"] == "link_expired", body
        assert psql(migrated.db_url, "SELECT count(*) FROM users WHERE email = 'slow@example.com'") == "0"
    finally:
        smtp.kill()


def test_without_mail_an_invitation_answers_the_link_to_pass_on_and_reset_says_it_cannot_email(migrated):
    migrated.env["TACK_WEB_BASE_URL"] = "http://tack.test"
    migrated.start("run", "web")
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/healthz")
    owner = signup(base, "owen@example.com", "Owen Owner")
    board = owner.create_board("Quiet")
    created = owner.call("POST", f"/api/v1/boards/{board}/invitations", {"email": "pat@example.com"}, expect=201)
    assert created["emailed"] is False
    token = link_in(created["url"], "/invitations/accept")
    status, body, _ = anonymous(base).request("POST", "/api/v1/invitations/accept", {"token": token, "name": "Pat", "password": PASSWORD})
    assert status == 201 and body["board_id"] == board, body
    # A member cannot invite; a non-member does not see the board at all.
    pat = login(base, "pat@example.com")
    status, body, _ = pat.request("POST", f"/api/v1/boards/{board}/invitations", {"email": "x@example.com"})
    assert status == 403, body
    status, body, _ = anonymous(base).request("POST", "/api/v1/auth/password_reset", {"email": "owen@example.com"})
    assert status == 409 and body["error"]["code"] == "mail_not_configured", body


def test_a_password_reset_link_is_emailed_only_to_an_account_works_once_and_tells_nobody_who_has_one(migrated, tmp_path):
    base, smtp, outbox = start(migrated, tmp_path)
    try:
        rita = signup(base, "rita@example.com", "Rita Reset")
        other_session = login(base, "rita@example.com")
        answers = []
        for address in ("rita@example.com", "nobody@example.com"):
            status, body, headers = anonymous(base).request("POST", "/api/v1/auth/password_reset", {"email": address})
            answers.append((status, body, headers.get("Set-Cookie")))
        assert answers[0] == answers[1], answers
        assert answers[0][0] == 202
        # Both requests are handled; only the account's address gets an email.
        wait_until(lambda: psql(migrated.db_url, "SELECT count(*) FROM password_resets WHERE emailed_at IS NULL") == "0",
                   what="both reset requests handled by the worker")
        [(to, subject, text)] = mails(outbox)
        assert to == ["rita@example.com"] and "Reset your password" in subject
        token = link_in(text, "/password_reset")

        status, body, headers = anonymous(base).request("POST", "/api/v1/auth/password_reset/confirm", {"token": token, "password": "short"})
        assert status == 400 and body["error"]["field"] == "password", body
        new_password = "a fresh and different passphrase"
        status, body, headers = anonymous(base).request("POST", "/api/v1/auth/password_reset/confirm", {"token": token, "password": new_password})
        assert status == 200 and body["user"]["email"] == "rita@example.com", body
        assert headers["Set-Cookie"].startswith("tack_session=")
        # Every earlier session ended; the new password logs in, the old one does not.
        for old in (rita, other_session):
            assert old.request("GET", "/api/v1/me")[0] == 401
        login(base, "rita@example.com", password=new_password)
        status, _, _ = anonymous(base).request("POST", "/api/v1/auth/login", {"email": "rita@example.com", "password": PASSWORD})
        assert status == 401
        # Once only.
        status, body, _ = anonymous(base).request("POST", "/api/v1/auth/password_reset/confirm", {"token": token, "password": "yet another long passphrase"})
        assert status == 410 and body["error"]["code"] == "link_used", body

        # A link past its hour answers link_expired.
        anonymous(base).request("POST", "/api/v1/auth/password_reset", {"email": "rita@example.com"})
        wait_until(lambda: len(mails(outbox)) == 2, what="the second reset email")
        second = link_in(mails(outbox)[1][2], "/password_reset")
        psql(migrated.db_url, "UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE emailed_at IS NOT NULL AND used_at IS NULL")
        status, body, _ = anonymous(base).request("POST", "/api/v1/auth/password_reset/confirm", {"token": second, "password": "yet another long passphrase"})
        assert status == 410 and body["error"]["code"] == "link_expired", body
        login(base, "rita@example.com", password=new_password)

        # Three requests an hour per address, then 429 - for an address with an account or without alike.
        for address in ("rita@example.com", "nobody@example.com"):
            statuses = [anonymous(base).request("POST", "/api/v1/auth/password_reset", {"email": address})[0] for _ in range(3)]
            assert statuses[-1] == 429, (address, statuses)
    finally:
        smtp.kill()
