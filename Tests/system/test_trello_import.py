"""Trello import through the API, against a real `tack run web` and `tack run worker`: an owner
uploads a Trello board export (built here to Trello's documented format, see trello.py) and gets a
new Tack board, checked through the API: lists → columns in order (closed → archived), cards in
order with description, due date, done, archived, labels and assignees, checklists with items,
comments with their author (or the author's name and date in the text), unicode intact. A 5,000-card
board imports whole. A malformed or oversized file gets a clear error and creates nothing; the same
file twice makes two boards."""

import http.client
import json
import time
import urllib.parse

from helpers import Stack, psql, signup
from trello import TrelloBoard, big_board

def upload(user, data, content_type="application/json"):
    parts = urllib.parse.urlsplit(user.base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    headers = user.auth_headers(write=True)
    headers["Content-Type"] = content_type
    conn.request("POST", "/api/v1/imports/trello", body=data, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, (json.loads(body) if body else None)


def finished(user, import_id, timeout=120):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        job = user.call("GET", f"/api/v1/imports/{import_id}")["import"]
        seen.append(job["progress"])
        if job["status"] in ("done", "failed"):
            assert seen == sorted(seen), f"progress never goes back: {seen}"
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {import_id} did not finish in {timeout} s (progress {seen[-5:]})")


def boards_of(user):
    return [b["id"] for b in user.call("GET", "/api/v1/boards?archived=true")["items"]]


def test_a_trello_export_becomes_a_board_with_everything_in_it(migrated):
    stack = Stack(migrated, pushes=0, worker=True)
    owner = signup(stack.base, "owner@example.com", "Olive Owner")
    bob = signup(stack.base, "bob@example.com", "Bob Builder")
    cara = signup(stack.base, "cara.h@example.com", "Cara")

    t = TrelloBoard("Launch 🚀 план", desc="Everything for the launch")
    m_bob = t.member("bob", "Bob B.")                       # matched by username (bob@…)
    m_cara = t.member("cara_trello", "Cara H.", email="cara.h@example.com")  # matched by email
    m_gone = t.member("ghost", "Gus Ghost")                 # no Tack account
    urgent = t.label("urgent", "red")
    plain = t.label("", "sky_dark")                         # unnamed: named after its colour
    twin = t.label("urgent", "green")                       # same name: made unique
    todo = t.list("To do", 2048)
    done = t.list("Done", 4096)
    later = t.list("Someday", 1024, closed=True)            # archived, and first by position
    c2 = t.card(todo, "Second", 200, desc="**bold** text")
    c1 = t.card(todo, "First — ü ß 日本語 עברית", 100, desc="multi\nline", due="2024-06-30T15:30:00.000Z",
                due_complete=True, labels=[urgent, plain], members=[m_bob, m_cara, m_gone])
    t.card(done, "Archived card", 50, closed=True, labels=[twin])
    t.card(later, "In an archived list", 10)
    t.checklist(c1, "Launch steps", 2, [("Write notes", True, m_cara), ("Tag ✓", False, None, "2024-07-01T12:00:00.000Z")])
    t.checklist(c1, "Before", 1, [("Plan", True)])
    t.comment(c1, "First comment by Bob", "2024-05-01T09:00:00.000Z", member_id=m_bob, username="bob", full_name="Bob B.")
    t.other_action(c1, "2024-05-01T09:30:00.000Z")
    t.comment(c1, "Ghost was here 👻", "2024-05-02T09:00:00.000Z", member_id=m_gone, username="ghost", full_name="Gus Ghost")

    status, answer = upload(owner, t.bytes())
    assert status == 202, answer
    job = finished(owner, answer["import"]["id"])
    assert job["status"] == "done", job
    assert job["progress"] == 100
    assert job["summary"] == {"columns": 3, "cards": 4, "labels": 3, "checklist_items": 3, "comments": 2, "matched_members": 2}
    board = job["board_id"]

    snapshot = owner.call("GET", f"/api/v1/boards/{board}")
    assert snapshot["board"]["name"] == "Launch 🚀 план"
    assert snapshot["board"]["description"] == "Everything for the launch"
    assert snapshot["board"]["role"] == "owner"
    assert [c["name"] for c in snapshot["columns"]] == ["To do", "Done"], "the closed list is archived"
    archived_columns = owner.call("GET", f"/api/v1/boards/{board}/columns?archived=true")["items"]
    assert [c["name"] for c in archived_columns] == ["Someday"]
    labels = {l["id"]: l for l in snapshot["labels"]}
    assert sorted((l["name"], l["color"]) for l in labels.values()) == [
        ("Sky Dark", "#227d9b"), ("urgent", "#f87462"), ("urgent 2", "#4bce97")]
    members = {m["email"]: m for m in snapshot["members"]}
    assert members["bob@example.com"]["role"] == "member" and members["cara.h@example.com"]["role"] == "member"
    assert len(members) == 3

    cards = snapshot["cards"]
    assert [c["title"] for c in cards] == ["First — ü ß 日本語 עברית", "Second"], "archived cards are off the board; order kept"
    first, second = cards
    assert first["description"] == "multi\nline" and second["description"] == "**bold** text"
    assert first["due_at"] == "2024-06-30T15:30:00Z" and first["due_has_time"] is True and first["done"] is True
    assert sorted(labels[i]["name"] for i in first["labels"]) == ["Sky Dark", "urgent"]
    assert sorted(first["assignees"]) == sorted([bob.id, cara.id]), "matched members are assigned; the unmatched one is not"
    assert first["checklist_progress"] == {"total": 3, "done": 2}
    assert first["comment_count"] == 2
    archived_cards = owner.call("GET", f"/api/v1/boards/{board}/cards?archived=true")["items"]
    assert [c["title"] for c in archived_cards] == ["Archived card"]
    assert [labels[i]["name"] for i in archived_cards[0]["labels"]] == ["urgent 2"]

    checklists = owner.call("GET", f"/api/v1/boards/{board}/cards/{first['id']}/checklists")["items"]
    assert [c["title"] for c in checklists] == ["Before", "Launch steps"], "checklists in Trello's order"
    steps = checklists[1]["items"]
    assert [(i["text"], i["done"]) for i in steps] == [("Write notes", True), ("Tag ✓", False)]
    assert steps[0]["assignee_id"] == cara.id and steps[1]["due_at"] == "2024-07-01T12:00:00Z"

    comments = owner.call("GET", f"/api/v1/boards/{board}/cards/{first['id']}/comments")["items"]
    assert [c["created_at"] for c in comments] == ["2024-05-01T09:00:00Z", "2024-05-02T09:00:00Z"], "oldest first, dates kept"
    assert comments[0]["author_id"] == bob.id and comments[0]["body"] == "First comment by Bob"
    assert comments[1]["author_id"] == owner.id
    assert comments[1]["body"] == "**Gus Ghost** wrote on Trello (2024-05-02):\n\nGhost was here 👻"

    # Bob, matched, sees the board; the import is the owner's alone.
    assert board in boards_of(bob)
    assert bob.request("GET", f"/api/v1/imports/{answer['import']['id']}")[0] == 404
    assert [i["id"] for i in owner.call("GET", "/api/v1/imports")["items"]] == [answer["import"]["id"]]

    # The same file again makes a second, separate board.
    status, again = upload(owner, t.bytes())
    assert status == 202
    second_job = finished(owner, again["import"]["id"])
    assert second_job["status"] == "done" and second_job["board_id"] != board
    assert len(owner.call("GET", f"/api/v1/boards/{second_job['board_id']}")["cards"]) == 2


def test_a_5000_card_board_imports_whole(migrated):
    stack = Stack(migrated, pushes=0, worker=True)
    owner = signup(stack.base, "big@example.com", "Big Owner")
    export = big_board(5000)
    status, answer = upload(owner, export.bytes())
    assert status == 202, answer
    job = finished(owner, answer["import"]["id"], timeout=300)
    assert job["status"] == "done", job
    assert job["summary"]["cards"] == 5000 and job["summary"]["checklist_items"] == 2000 and job["summary"]["comments"] == 1000
    snapshot = owner.call("GET", f"/api/v1/boards/{job['board_id']}")
    assert len(snapshot["columns"]) == 10 and len(snapshot["cards"]) == 5000
    # Each column holds its cards in Trello's order.
    by_column = {}
    for card in snapshot["cards"]:
        by_column.setdefault(card["column_id"], []).append(int(card["title"].split()[1]))
    for numbers in by_column.values():
        assert numbers == sorted(numbers) and len(numbers) == 500
    assert sum(c["checklist_progress"]["total"] for c in snapshot["cards"]) == 2000
    assert sum(c["checklist_progress"]["done"] for c in snapshot["cards"]) == 1000
    assert sum(c["comment_count"] for c in snapshot["cards"]) == 1000


def test_a_malformed_or_oversized_file_gets_a_clear_error_and_creates_nothing(migrated):
    stack = Stack(migrated, pushes=0, worker=True)
    owner = signup(stack.base, "careful@example.com", "Careful")
    before = boards_of(owner)

    status, answer = upload(owner, b"<html>not json</html>")
    assert status == 400 and answer["error"]["field"] == "file", answer
    status, answer = upload(owner, b"{}", content_type="text/plain")
    assert status == 415, answer
    status, answer = upload(owner, b"{" + b" " * (50 * 1024 * 1024) + b"}")
    assert status == 413 and "50 MiB" in answer["error"]["message"], answer

    def fails(data, *expected):
        status, answer = upload(owner, data)
        assert status == 202, answer
        job = finished(owner, answer["import"]["id"])
        assert job["status"] == "failed" and "board_id" not in job, job
        for text in expected:
            assert text in job["error"], job["error"]
        return job

    fails(b'{"name": "cut short", "lists": [', "not valid JSON")
    fails(b'{"name": "no lists"}', "no lists or no cards")
    t = TrelloBoard("Broken")
    lst = t.list("A", 1)
    t.card(lst, "ok", 1)
    t.card("5f00000000000000000000ff", "orphan", 2)
    fails(t.bytes(), "cards[1].idList", "names no list")
    t = TrelloBoard("Wrong types")
    t.list("A", 1)
    t.data["cards"] = [{"id": "x", "idList": t.data["lists"][0]["id"], "name": 42}]
    fails(t.bytes(), "cards[0].name", "must be a string")
    t = TrelloBoard("Bad date")
    lst = t.list("A", 1)
    t.card(lst, "c", 1, due="next tuesday")
    fails(t.bytes(), "cards[0].due", "date")

    assert boards_of(owner) == before, "no failed import left a board behind"
    # Nothing half-made either: no stray columns or cards outside the owner's boards.
    assert psql(migrated.db_url, "SELECT (SELECT count(*) FROM boards), (SELECT count(*) FROM columns), (SELECT count(*) FROM cards)") == "0|0|0"
