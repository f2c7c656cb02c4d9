"""Card attachments against a real `tack run web` (+ worker, + push): uploads stream to
node.storage_dir under random names and come back byte for byte to members only; names are
sanitised and types decided from the bytes; the size limit is enforced while the body streams and
the board quota under the board's lock, and nothing of a refused upload stays (no row, no file);
deleting an attachment, its card or its board removes its files; exports list them; a 100 MiB
upload does not grow the web process's memory."""

import hashlib
import io
import json
import os
import socket
import struct
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from helpers import Receiver, Stack, User, psql, run, shared_board, signup, wait_until


MiB = 1024 * 1024


def png(width=2, height=2, rgb=(200, 30, 30)):
    """A real PNG image of one colour."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def stack_with(migrated, pushes=0, **settings):
    """web + worker with attachments settings given as TACK_ATTACHMENTS_<KEY>."""
    for key, value in settings.items():
        migrated.env[f"TACK_ATTACHMENTS_{key.upper()}"] = str(value)
    return Stack(migrated, pushes=pushes, worker=True)


def stored_files(tack):
    """Every file under node.storage_dir/attachments (relative paths)."""
    root = Path(tack.env["TACK_NODE_STORAGE_DIR"]) / "attachments"
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def rows(tack, where="TRUE"):
    return int(psql(tack.db_url, f"SELECT count(*) FROM attachments WHERE {where}"))


def path_of(board, card, attachment=None):
    base = f"/api/v1/boards/{board}/cards/{card}/attachments"
    return base if attachment is None else f"{base}/{attachment}"


def chunks(total, size=MiB, byte=None):
    """`total` bytes in chunks of `size`, produced as they are sent (never all in memory)."""
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield (bytes([byte]) * n) if byte is not None else os.urandom(n)
        sent += n


@pytest.fixture
def team(migrated):
    """web + worker, an owner with a board, a column and a card, and a member of the board."""
    stack = stack_with(migrated)
    owner = signup(stack.base, "olive@example.com", "Olive Owner")
    member = signup(stack.base, "mo@example.com", "Mo Member")
    board, column = shared_board(owner, member, name="Files")
    card = owner.create_card(board, column, "With files")["card"]["id"]
    return stack, owner, member, board, column, card


def test_upload_list_download_round_trip_with_events_live_and_for_webhooks(migrated):
    receiver = Receiver(status=200)
    migrated.env["TACK_WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "true"
    stack = stack_with(migrated, pushes=1)
    owner = signup(stack.base, "olive@example.com", "Olive Owner")
    member = signup(stack.base, "mo@example.com", "Mo Member")
    board, column = shared_board(owner, member, name="Files")
    card = owner.create_card(board, column, "With files")["card"]["id"]
    owner.call("POST", f"/api/v1/boards/{board}/webhooks",
               {"url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["attachment.added", "attachment.deleted"]}, expect=201)
    data = os.urandom(300_000) + b"\x00end"
    image = png()

    async def upload_while_a_member_listens():
        ws = await stack.connect(member)
        await ws.subscribe(board)
        _, reply = owner.upload(board, card, "Quarterly report.pdf", data, content_type="application/pdf")
        pushed = await ws.wait_for("event", board=board, kind="attachment.added")
        await ws.close()
        return reply, pushed
    reply, pushed = run(upload_while_a_member_listens(), 60)
    attachment = reply["attachment"]
    assert pushed["data"]["id"] == attachment["id"] and pushed["card"] == card, "members' open pages hear of it live"
    assert reply["event"]["kind"] == "attachment.added" and reply["version"] == reply["event"]["version"]
    assert attachment["name"] == "Quarterly report.pdf"
    assert attachment["size"] == len(data) and attachment["sha256"] == hashlib.sha256(data).hexdigest()
    assert attachment["content_type"] == "application/octet-stream", "random bytes are not a PDF, whatever the client said"
    assert attachment["image"] is False and attachment["uploaded_by"] == owner.id
    assert attachment["url"] == path_of(board, card, attachment["id"])
    _, picture = member.upload(board, card, "dot.png", image, content_type="image/png")

    listed = member.call("GET", path_of(board, card))["items"]
    assert [a["id"] for a in listed] == [attachment["id"], picture["attachment"]["id"]]
    assert listed[1]["image"] is True and listed[1]["content_type"] == "image/png"

    status, body, headers = member.raw("GET", attachment["url"])
    assert status == 200 and body == data, "the member downloads the same bytes"
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == "attachment; filename=\"Quarterly report.pdf\"; filename*=UTF-8''Quarterly%20report.pdf"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"] and "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "private, no-cache"
    assert headers["ETag"] == f"\"{attachment['sha256']}\""
    status, body, headers = owner.raw("GET", picture["attachment"]["url"])
    assert status == 200 and body == image and headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"].startswith("inline; "), "images are shown inline (thumbnails)"
    status, body, _ = owner.raw("GET", attachment["url"], headers={"If-None-Match": f"\"{attachment['sha256']}\""})
    assert status == 304 and body == b""

    # Files are stored under random keys, never under the uploaded name.
    files = stored_files(migrated)
    assert len(files) == 2 and all(len(Path(f).name) == 32 and "report" not in f for f in files), files

    # A viewer reads but does not write; a read-only token neither uploads nor deletes.
    viewer = signup(stack.base, "vera@example.com", "Vera Viewer")
    owner.add_member(board, viewer.email, role="viewer")
    assert viewer.raw("GET", attachment["url"])[1] == data
    status, refused = viewer.upload(board, card, "no.txt", b"no", expect=403)
    reader = owner.with_token(scope="read")
    assert reader.raw("GET", attachment["url"])[1] == data
    assert reader.raw("POST", path_of(board, card) + "?name=x.txt", b"x")[0] == 403
    assert reader.raw("DELETE", attachment["url"])[0] == 403
    assert User(stack.base).raw("GET", attachment["url"])[0] == 401

    # Webhooks hear of both changes.
    member.call("DELETE", picture["attachment"]["url"])
    wait_until(lambda: len(receiver.requests) >= 3, what="the webhook deliveries",
               on_timeout=lambda: psql(migrated.db_url, "SELECT event_kind, status, attempts FROM webhook_deliveries")
               + f"\n{[r['headers'].get('X-Tack-Event') for r in receiver.requests]}\n" + migrated.output(stack.worker)[-3000:])
    kinds = sorted(r["headers"]["X-Tack-Event"] for r in receiver.requests)
    assert kinds == ["attachment.added", "attachment.added", "attachment.deleted"], kinds
    receiver.close()


def test_an_oversize_upload_is_refused_while_it_streams_and_nothing_is_kept(migrated):
    stack = stack_with(migrated, max_bytes=MiB)
    owner = signup(stack.base, "olive@example.com", "Olive Owner")
    board, column = shared_board(owner)
    card = owner.create_card(board, column, "Big")["card"]["id"]
    # Chunked, no Content-Length: the server only learns the size by reading.
    status, refused = owner.upload(board, card, "big.bin", chunks(3 * MiB), expect=413)
    assert refused["error"]["code"] == "attachment_too_large", refused
    assert "1 MiB" in refused["error"]["message"] and "attachments.max_bytes" in refused["error"]["message"]
    # The answer comes while the body is still streaming: 1.5 MiB sent of a body that never ends.
    host, port = "127.0.0.1", int(migrated.env["TACK_WEB_PORT"])
    with socket.create_connection((host, port), timeout=10) as sock:
        head = (f"POST {path_of(board, card)}?name=endless.bin HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Cookie: {owner.cookie}\r\nX-CSRF-Token: {owner.csrf}\r\nContent-Type: application/octet-stream\r\n"
                "Transfer-Encoding: chunked\r\n\r\n")
        sock.sendall(head.encode())
        for _ in range(6):
            sock.sendall(b"40000\r\n" + b"\x07" * 0x40000 + b"\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # With a Content-Length above the limit it is refused before the body is read.
    status, refused = owner.upload(board, card, "big.bin", os.urandom(MiB + 1), expect=413)
    assert refused["error"]["code"] == "attachment_too_large"
    assert rows(migrated) == 0 and stored_files(migrated) == [], "no row and no file, partial or whole"
    # Exactly the limit is fine.
    owner.upload(board, card, "limit.bin", b"\x01" * MiB)
    assert rows(migrated) == 1 and len(stored_files(migrated)) == 1


def test_names_are_sanitised_and_a_name_with_nothing_left_is_refused(team):
    stack, owner, member, board, column, card = team
    for raw, stored in (("../../etc/passwd", "passwd"), ("a/b", "b"), ("C:\\temp\\notes.txt", "notes.txt"),
                        ("bell\u0007\nand\ttab.txt", "bellandtab.txt"), ("rtl\u202egnp.exe", "rtlgnp.exe"),
                        ("Résumé – 2025.pdf", "Résumé – 2025.pdf"), ("x" * 400 + ".txt", "x" * 176 + ".txt")):
        _, reply = owner.upload(board, card, raw, b"text")
        assert reply["attachment"]["name"] == stored, (raw, reply["attachment"]["name"])
    status, body, headers = owner.raw("GET", path_of(board, card, reply["attachment"]["id"] - 1))
    assert headers["Content-Disposition"] == "attachment; filename=\"R_sum_ _ 2025.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%80%93%202025.pdf"
    for raw in ("", "..", "/", "a/..", "\u0000", "\u0007\u001b", " . "):
        status, refused = owner.upload(board, card, raw, b"x", expect=400)
        assert refused["error"]["code"] == "invalid_field" and refused["error"]["field"] == "name", (raw, refused)
    status, body, _ = owner.raw("POST", path_of(board, card), b"x")
    assert status == 400 and json.loads(body)["error"]["field"] == "name", "no ?name= at all"
    tack = stack.tack
    assert rows(tack) == 7 and len(stored_files(tack)) == 7, "the refused names left nothing"
    assert not any("passwd" in f or "notes" in f for f in stored_files(tack))


def test_the_type_comes_from_the_bytes_and_html_is_never_served_as_html(team):
    stack, owner, member, board, column, card = team
    html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
    cases = [("cat.png", html, "text/html"), ("page.html", html, "text/html"), ("logo.svg", b"<svg onload='alert(1)'/>", "image/svg+xml"),
             ("real.png", png(), "text/html"), ("notes.txt", "naïve text\n".encode(), "application/x-evil"),
             ("doc.pdf", b"%PDF-1.4\n%\xe2\xe3\n", "text/html")]
    decided = {}
    for name, data, claimed in cases:
        _, reply = owner.upload(board, card, name, data, content_type=claimed)
        decided[name] = reply["attachment"]
    assert {n: a["content_type"] for n, a in decided.items()} == {
        "cat.png": "application/octet-stream", "page.html": "application/octet-stream", "logo.svg": "application/octet-stream",
        "real.png": "image/png", "notes.txt": "text/plain; charset=utf-8", "doc.pdf": "application/pdf"}
    for name in ("cat.png", "page.html", "logo.svg"):
        status, body, headers = member.raw("GET", decided[name]["url"])
        assert status == 200 and headers["Content-Type"] == "application/octet-stream", (name, headers)
        assert headers["Content-Disposition"].startswith("attachment;"), (name, headers["Content-Disposition"])
        assert headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in headers["Content-Security-Policy"]
        assert decided[name]["image"] is False
    # Only a real image may be a cover, and only one of the card's own.
    refused = owner.request("PATCH", f"/api/v1/boards/{board}/cards/{card}", {"cover_attachment_id": decided["cat.png"]["id"]})
    assert refused[0] == 400 and refused[1]["error"]["field"] == "cover_attachment_id", refused
    other = owner.create_card(board, column, "Other")["card"]["id"]
    refused = owner.request("PATCH", f"/api/v1/boards/{board}/cards/{other}", {"cover_attachment_id": decided["real.png"]["id"]})
    assert refused[0] == 400, refused
    covered = owner.call("PATCH", f"/api/v1/boards/{board}/cards/{card}", {"cover_attachment_id": decided["real.png"]["id"]})
    assert covered["card"]["cover_attachment_id"] == decided["real.png"]["id"]
    snapshot = member.call("GET", f"/api/v1/boards/{board}")
    assert [c["cover_attachment_id"] for c in snapshot["cards"] if c["id"] == card] == [decided["real.png"]["id"]]
    # Deleting the cover clears it, with a card.updated event after the attachment.deleted one.
    deleted = owner.call("DELETE", decided["real.png"]["url"])
    events = owner.call("GET", f"/api/v1/boards/{board}/events?after={deleted['version'] - 2}")["events"]
    assert [e["kind"] for e in events] == ["attachment.deleted", "card.updated"], events
    assert "cover_attachment_id" not in events[1]["payload"]
    assert "cover_attachment_id" not in owner.call("GET", f"/api/v1/boards/{board}/cards/{card}")
    uncover = owner.call("PATCH", f"/api/v1/boards/{board}/cards/{card}", {"cover_attachment_id": None})
    assert "cover_attachment_id" not in uncover["card"]


def test_a_board_quota_refuses_what_does_not_fit_and_keeps_nothing_of_it(migrated):
    stack = stack_with(migrated, max_bytes=MiB, board_quota_bytes=MiB)
    owner = signup(stack.base, "olive@example.com", "Olive Owner")
    board, column = shared_board(owner)
    card = owner.create_card(board, column, "Quota")["card"]["id"]
    _, first = owner.upload(board, card, "first.bin", os.urandom(700_000))
    for body in (os.urandom(400_000), chunks(400_000, size=64 * 1024)):  # told by Content-Length, then found under the lock
        status, refused = owner.upload(board, card, "second.bin", body, expect=413)
        assert refused["error"]["code"] == "quota_exceeded", refused
        assert "attachments.board_quota_bytes" in refused["error"]["message"] and "1 GiB" not in refused["error"]["message"]
    assert rows(migrated) == 1 and len(stored_files(migrated)) == 1, "the refused uploads left nothing"
    # Two uploads at once that fit alone but not together: one is refused.
    results = []
    threads = [threading.Thread(target=lambda: results.append(owner.upload(board, card, "race.bin", os.urandom(200_000), expect=None)[0]))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [201, 413], results
    assert rows(migrated) == 2 and len(stored_files(migrated)) == 2
    # The quota is per board.
    other, other_column = shared_board(owner, name="Other")
    other_card = owner.create_card(other, other_column, "Elsewhere")["card"]["id"]
    owner.upload(other, other_card, "elsewhere.bin", os.urandom(700_000))
    # Room made, it fits.
    owner.call("DELETE", first["attachment"]["url"])
    owner.upload(board, card, "second.bin", os.urandom(400_000))
    assert rows(migrated, f"board_id = {board}") == 2


def test_only_members_download_and_a_removed_member_is_refused(team):
    stack, owner, member, board, column, card = team
    _, reply = member.upload(board, card, "secret.txt", b"for members only")
    url = reply["attachment"]["url"]
    outsider = signup(stack.base, "otto@example.com", "Otto Outsider")
    for path in (url, path_of(board, card)):
        status, body, _ = outsider.raw("GET", path)
        assert status == 404 and json.loads(body)["error"]["code"] == "board_not_found", "a non-member learns nothing"
    assert outsider.upload(board, card, "x.txt", b"x", expect=404)[1]["error"]["code"] == "board_not_found"
    assert outsider.raw("DELETE", url)[0] == 404
    # The uploader, removed from the board, loses access to their own upload.
    assert member.raw("GET", url)[1] == b"for members only"
    owner.remove_member(board, member.id)
    status, body, _ = member.raw("GET", url)
    assert status == 404 and body != b"for members only"
    # Another card's or board's id in the path does not reach it.
    other = owner.create_card(board, column, "Other")["card"]["id"]
    assert owner.raw("GET", path_of(board, other, reply["attachment"]["id"]))[0] == 404
    assert rows(stack.tack) == 1


def test_deleting_an_attachment_its_card_or_its_board_removes_the_files(team):
    stack, owner, member, board, column, card = team
    tack = stack.tack
    other = owner.create_card(board, column, "Other")["card"]["id"]
    first = member.upload(board, card, "one.txt", b"one")[1]["attachment"]
    member.upload(board, card, "two.txt", b"two")
    kept = member.upload(board, other, "kept.txt", b"kept")[1]["attachment"]
    assert len(stored_files(tack)) == 3
    deleted = member.call("DELETE", first["url"])
    assert deleted["event"]["kind"] == "attachment.deleted" and deleted["event"]["data"] == {"id": first["id"], "card_id": card}
    assert len(stored_files(tack)) == 2 and rows(tack) == 2
    assert member.raw("GET", first["url"])[0] == 404
    assert member.raw("DELETE", first["url"])[0] == 404
    # The card goes with its files; the other card's stays.
    owner.call("DELETE", f"/api/v1/boards/{board}/cards/{card}")
    assert rows(tack) == 1 and len(stored_files(tack)) == 1
    assert member.raw("GET", kept["url"])[1] == b"kept"
    # The board goes with all of them.
    owner.call("DELETE", f"/api/v1/boards/{board}", expect=204)
    assert rows(tack) == 0 and stored_files(tack) == []
    assert psql(tack.db_url, "SELECT count(*) FROM attachment_removals") == "0"


def test_the_worker_removes_files_a_web_process_left_behind(team):
    stack, owner, member, board, column, card = team
    tack = stack.tack
    attachment = member.upload(board, card, "orphan.txt", b"orphan")[1]["attachment"]
    assert len(stored_files(tack)) == 1
    # Deleted behind the web role's back (as if it had stopped before removing the file).
    psql(tack.db_url, f"DELETE FROM attachments WHERE id = {attachment['id']}")
    assert len(stored_files(tack)) == 1
    wait_until(lambda: stored_files(tack) == [], timeout=45, what="the worker's sweep to remove the file")
    wait_until(lambda: psql(tack.db_url, "SELECT count(*) FROM attachment_removals") == "0", timeout=10, what="the record to go")


def test_a_worker_removes_day_old_files_that_no_attachment_names_and_nothing_else(team):
    stack, owner, member, board, column, card = team
    tack = stack.tack
    kept = member.upload(board, card, "kept.txt", b"kept")[1]["attachment"]
    root = Path(tack.env["TACK_NODE_STORAGE_DIR"]) / "attachments"
    [recorded] = stored_files(tack)
    day_and_more = time.time() - 25 * 3600

    def put(relative, old):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left behind")
        if old:
            os.utime(path, (day_and_more, day_and_more))

    # Written but never recorded (the web process stopped in between), and an upload cut off on a
    # file system without O_TMPFILE: both a day old, so they go.
    put("ab/ab" + "1" * 30, old=True)
    put("cd/.tmp-x1Y2z3", old=True)
    # The same, but recent (an upload that may still be recorded): left alone.
    put("ab/ab" + "2" * 30, old=False)
    put("cd/.tmp-q9W8e7", old=False)
    # Not a name Tack writes, or not in a key folder: never touched, however old.
    put("ab/notes.txt", old=True)
    put("ab/cd" + "3" * 30, old=True)
    put("zz/ab" + "4" * 30, old=True)
    # A recorded attachment's file is kept however old it is.
    os.utime(root / recorded, (day_and_more, day_and_more))

    before = set(stored_files(tack))
    gone = {"ab/ab" + "1" * 30, "cd/.tmp-x1Y2z3"}
    assert gone <= before
    # A worker sweeps when it starts (then hourly).
    second = tack.start("run", "worker")
    wait_until(lambda: set(stored_files(tack)) == before - gone, timeout=30,
               what="the new worker's orphan sweep", on_timeout=lambda: f"{stored_files(tack)}\n{tack.output(second)[-2000:]}")
    assert "removed attachment files that no attachment names" in tack.output(second)
    assert member.raw("GET", kept["url"])[1] == b"kept"


def test_the_json_export_lists_attachments_with_their_download_path(team):
    stack, owner, member, board, column, card = team
    data = os.urandom(5000)
    attachment = member.upload(board, card, "export me.bin", data)[1]["attachment"]
    export = owner.call("POST", f"/api/v1/boards/{board}/exports", {"format": "json"}, expect=202)["export"]["id"]
    wait_until(lambda: owner.call("GET", f"/api/v1/boards/{board}/exports/{export}")["export"]["status"] == "ready", what="the export")
    status, body, _ = owner.raw("GET", f"/api/v1/boards/{board}/exports/{export}/download")
    assert status == 200
    exported = [c for c in json.loads(body)["cards"] if c["id"] == card][0]
    assert exported["attachments"] == [{
        "id": attachment["id"], "name": "export me.bin", "content_type": "application/octet-stream", "size": 5000,
        "sha256": hashlib.sha256(data).hexdigest(), "uploaded_by": member.id, "created_at": exported["attachments"][0]["created_at"],
        "url": attachment["url"]}]
    assert member.raw("GET", exported["attachments"][0]["url"])[1] == data, "the path in the export downloads the file"


def test_the_zip_export_holds_the_board_and_every_attachment_file_after_the_board_is_gone(team):
    stack, owner, member, board, column, card = team
    other = owner.create_card(board, column, "Second")["card"]["id"]
    files = {"plan ünïcödé.bin": os.urandom(300_000), "photo.png": png(4, 4), "notes.txt": b"line one\nline two\n"}
    ids = {}
    for (name, data), on in zip(files.items(), (card, card, other)):
        ids[name] = member.upload(board, on, name, data)[1]["attachment"]["id"]
    # A file missing from storage (its row still there) leaves the export whole, without that file.
    gone = member.upload(board, other, "lost.txt", b"lost")[1]["attachment"]
    key = psql(stack.tack.db_url, f"SELECT storage_key FROM attachments WHERE id = {gone['id']}")
    (Path(stack.tack.env["TACK_NODE_STORAGE_DIR"]) / "attachments" / key[:2] / key).unlink()

    # A format Tack does not write is refused by name.
    status, refused, _ = owner.request("POST", f"/api/v1/boards/{board}/exports", {"format": "rar"})
    assert status == 400 and refused["error"]["field"] == "format" and "zip" in refused["error"]["message"], refused
    export = owner.call("POST", f"/api/v1/boards/{board}/exports", {"format": "zip"}, expect=202)["export"]["id"]
    wait_until(lambda: owner.call("GET", f"/api/v1/boards/{board}/exports/{export}")["export"]["status"] in ("ready", "failed"),
               what="the zip export")
    listed = owner.call("GET", f"/api/v1/boards/{board}/exports/{export}")["export"]
    assert listed["status"] == "ready" and listed["format"] == "zip", listed
    status, body, headers = owner.raw("GET", f"/api/v1/boards/{board}/exports/{export}/download")
    assert status == 200 and headers["Content-Type"] == "application/zip", (status, headers)
    assert f'filename="board-{board}-{export}.zip"' in headers["Content-Disposition"]
    assert len(body) == listed["bytes"]
    # The board goes; the export a member downloaded still has everything.
    owner.call("DELETE", f"/api/v1/boards/{board}", expect=204)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    names = sorted(archive.namelist())
    assert names == sorted(["board.json"] + [f"attachments/{ids[n]}/{n}" for n in files]), names
    for name, data in files.items():
        assert archive.read(f"attachments/{ids[name]}/{name}") == data, name
    document = json.loads(archive.read("board.json"))
    assert document["board"]["id"] == board
    listed_files = {a["name"]: a for c in document["cards"] for a in c["attachments"]}
    assert set(listed_files) == set(files) | {"lost.txt"}, "the JSON lists every attachment, the lost one too"
    for name, data in files.items():
        assert listed_files[name]["sha256"] == hashlib.sha256(archive.read(f"attachments/{ids[name]}/{name}")).hexdigest()
    assert "missing from storage" in stack.tack.output(stack.worker)


def rss_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_a_100_mib_upload_and_download_stream_without_growing_the_web_process(migrated):
    stack = stack_with(migrated, max_bytes=200 * MiB)
    owner = signup(stack.base, "olive@example.com", "Olive Owner")
    board, column = shared_board(owner)
    card = owner.create_card(board, column, "Huge")["card"]["id"]
    owner.upload(board, card, "warm-up.bin", os.urandom(2 * MiB))  # first-use allocations before measuring
    pid = stack.web.pid
    before = rss_kib(pid, "VmRSS")
    digest = hashlib.sha256()

    def produced():
        for chunk in chunks(100 * MiB):
            digest.update(chunk)
            yield chunk
    _, reply = owner.upload(board, card, "huge.bin", produced())
    assert reply["attachment"]["size"] == 100 * MiB and reply["attachment"]["sha256"] == digest.hexdigest()
    peak_after_upload = rss_kib(pid, "VmHWM")
    # Downloaded as a stream too.
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", int(migrated.env["TACK_WEB_PORT"]), timeout=120)
    conn.request("GET", reply["attachment"]["url"], headers=owner.auth_headers())
    response = conn.getresponse()
    assert response.status == 200
    received = hashlib.sha256()
    total = 0
    while chunk := response.read(MiB):
        received.update(chunk)
        total += len(chunk)
    conn.close()
    assert total == 100 * MiB and received.hexdigest() == digest.hexdigest()
    peak_after_download = rss_kib(pid, "VmHWM")
    growth = (max(peak_after_upload, peak_after_download) - before) / 1024
    print(f"web RSS before {before / 1024:.1f} MiB, peak after upload {peak_after_upload / 1024:.1f} MiB, "
          f"after download {peak_after_download / 1024:.1f} MiB")
    assert growth < 40, f"the web process grew by {growth:.1f} MiB for a 100 MiB file: it was not streamed"
