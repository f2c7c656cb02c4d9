"""`create_user` as an operator runs it, and the account it makes logging in to a real `run web`."""

import os
import pty
import select
import subprocess
import time

from helpers import PASSWORD, create_user, one_line, psql, request, wait_http









def test_create_user_makes_the_first_admin_who_logs_in_to_the_web_role(migrated):
    r = create_user(migrated, "--email", "Root@Example.com", "--name", "Root", "--admin", "--password-stdin")
    assert r.returncode == 0, r.stderr
    line = one_line(r.stdout)
    assert "administrator" in line and "root@example.com" in line
    assert PASSWORD not in r.stdout + r.stderr
    row = psql(migrated.db_url, "SELECT is_admin, substr(password_hash, 1, 7) FROM users WHERE email = 'root@example.com'")
    assert row == "t|$2b$12$", "bcrypt at cost 12"

    migrated.start("run", "web")
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/healthz")
    status, headers, body = request(base, "POST", "/api/v1/auth/login", {"email": "root@example.com", "password": PASSWORD})
    assert status == 200, body
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("tack_session=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie, cookie
    assert "Secure" not in cookie, "base_url is http here"
    session = cookie.split(";", 1)[0]
    status, _, me = request(base, "GET", "/api/v1/me", headers={"Cookie": session})
    assert status == 200 and me["user"]["is_admin"] is True and me["csrf_token"] == body["csrf_token"]
    # A write with the cookie but no CSRF token is refused; with it, it goes through.
    status, _, err = request(base, "POST", "/api/v1/me/tokens", {"name": "cli", "scope": "read"}, headers={"Cookie": session})
    assert status == 403 and err["error"]["code"] == "csrf_failed"
    status, _, token = request(base, "POST", "/api/v1/me/tokens", {"name": "cli", "scope": "read"},
                               headers={"Cookie": session, "X-CSRF-Token": body["csrf_token"]})
    assert status == 201 and token["token"].startswith("tack_pat_")
    status, _, me = request(base, "GET", "/api/v1/me", headers={"Authorization": "Bearer " + token["token"]})
    assert status == 200 and me["authenticated_by"] == "token"


def test_login_throttling_counts_the_address_nginx_saw_not_a_spoofed_one(migrated):
    migrated.env["TACK_WEB_LOGIN_MAX_ATTEMPTS_PER_ADDRESS"] = "3"
    migrated.start("run", "web")
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    wait_http(base + "/healthz")
    for i in range(3):
        status, _, _ = request(base, "POST", "/api/v1/auth/login", {"email": f"guess{i}@example.com", "password": "x" * 12},
                               headers={"X-Forwarded-For": f"10.9.9.{i}, 192.0.2.10"})
        assert status == 401
    # A client inventing new addresses in front of the one the proxy appended is still one client.
    status, headers, body = request(base, "POST", "/api/v1/auth/login", {"email": "guess9@example.com", "password": "x" * 12},
                                    headers={"X-Forwarded-For": "10.9.9.99, 192.0.2.10"})
    assert status == 429 and body["error"]["code"] == "too_many_attempts"
    assert int(headers["Retry-After"]) > 0
    status, _, _ = request(base, "POST", "/api/v1/auth/login", {"email": "guess9@example.com", "password": "x" * 12},
                           headers={"X-Forwarded-For": "192.0.2.11"})
    assert status == 401, "another client is not blocked"


def test_create_user_refuses_bad_input_in_one_line_with_exit_2(migrated):
    assert create_user(migrated, "--email", "ann@example.com", "--name", "Ann", "--password-stdin").returncode == 0
    cases = [
        (["--email", "ANN@example.com", "--name", "Ann again"], PASSWORD, "already exists"),
        (["--email", "not-an-email", "--name", "Bob"], PASSWORD, "--email"),
        (["--email", "bob@example.com", "--name", ""], PASSWORD, "--name"),
        (["--email", "bob@example.com", "--name", "Bob"], "short", "password"),
        (["--email", "bob@example.com", "--name", "Bob"], "password123", "password"),
    ]
    for args, password, needle in cases:
        r = create_user(migrated, *args, "--password-stdin", password=password)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        line = one_line(r.stderr)
        assert needle in line, line
        if password != PASSWORD:
            assert password not in line, "the password is never echoed"
        assert r.stdout == ""
    # Empty standard input, and no terminal without --password-stdin.
    r = subprocess.run([migrated.binary, "create_user", "--email", "bob@example.com", "--name", "Bob", "--password-stdin",
                        "--config", str(migrated.config)], input="", capture_output=True, text=True, env=migrated.env)
    assert r.returncode == 2 and "--password-stdin" in one_line(r.stderr)
    r = subprocess.run([migrated.binary, "create_user", "--email", "bob@example.com", "--name", "Bob",
                        "--config", str(migrated.config)], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=migrated.env)
    assert r.returncode == 2 and "--password-stdin" in one_line(r.stderr)
    assert psql(migrated.db_url, "SELECT string_agg(email, ',' ORDER BY email) FROM users") == "ann@example.com"


def test_create_user_needs_a_current_schema(tack):
    r = create_user(tack, "--email", "ann@example.com", "--name", "Ann", "--password-stdin")
    assert r.returncode == 2
    assert "upgrade_db" in one_line(r.stderr)


def test_create_user_asks_twice_with_echo_off_on_a_terminal(migrated):
    master, slave = pty.openpty()
    proc = subprocess.Popen([migrated.binary, "create_user", "--email", "tty@example.com", "--name", "Tty", "--config", str(migrated.config)],
                            stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=migrated.env, cwd=migrated.workdir)
    os.close(slave)
    seen = b""

    def read_until(needle, timeout=20):
        nonlocal seen
        deadline = time.time() + timeout
        while needle not in seen and time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        assert needle in seen, seen

    read_until(b"Password for tty@example.com:")
    os.write(master, (PASSWORD + "\n").encode())
    read_until(b"Same password again:")
    os.write(master, (PASSWORD + "\n").encode())
    out, _ = proc.communicate(timeout=60)
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                break
            chunk = os.read(master, 4096)
            if not chunk:
                break
            seen += chunk
    except OSError:
        pass
    os.close(master)
    assert proc.returncode == 0, seen
    assert b"created user Tty <tty@example.com>" in out
    assert PASSWORD.encode() not in seen, "the terminal never showed the password"
