"""Trello board exports built to the format Trello's "Print and export → Export as JSON" writes
(the board object with `labels`, `lists`, `cards`, `checklists`, `members` and `actions`; ids are
24 hex digits, positions are numbers, dates are ISO 8601 with milliseconds and Z). Only the fields
an import reads are filled in, plus a few others every real export has, so a reader that trips
over an unknown field would show it."""

import itertools
import json

_ids = itertools.count(0x5F0000000000000000000000)


def trello_id():
    return format(next(_ids), "024x")


class TrelloBoard:
    def __init__(self, name, desc=""):
        self.board_id = trello_id()
        self.data = {
            "id": self.board_id, "name": name, "desc": desc, "closed": False, "idOrganization": None,
            "url": f"https://trello.com/b/abc/{name.lower().replace(' ', '-')}", "prefs": {"background": "blue"},
            "labelNames": {}, "labels": [], "lists": [], "cards": [], "checklists": [], "members": [], "actions": [],
        }

    def member(self, username, full_name, email=None):
        member = {"id": trello_id(), "username": username, "fullName": full_name, "initials": full_name[:1], "avatarUrl": None}
        if email:
            member["email"] = email
        self.data["members"].append(member)
        return member["id"]

    def label(self, name, color):
        label = {"id": trello_id(), "idBoard": self.board_id, "name": name, "color": color, "uses": 0}
        self.data["labels"].append(label)
        return label["id"]

    def list(self, name, pos, closed=False):
        lst = {"id": trello_id(), "name": name, "closed": closed, "pos": pos, "idBoard": self.board_id, "subscribed": False}
        self.data["lists"].append(lst)
        return lst["id"]

    def card(self, list_id, name, pos, desc="", due=None, due_complete=False, closed=False, labels=(), members=()):
        card = {
            "id": trello_id(), "name": name, "desc": desc, "closed": closed, "idList": list_id, "idBoard": self.board_id,
            "pos": pos, "due": due, "dueComplete": due_complete, "start": None, "idLabels": list(labels),
            "idMembers": list(members), "idChecklists": [], "dateLastActivity": "2024-05-01T10:00:00.000Z",
            "badges": {"comments": 0, "checkItems": 0}, "shortUrl": "https://trello.com/c/xyz",
        }
        self.data["cards"].append(card)
        return card["id"]

    def checklist(self, card_id, name, pos, items):
        """`items`: (text, complete) or (text, complete, member id, due)."""
        checklist = {"id": trello_id(), "name": name, "idCard": card_id, "idBoard": self.board_id, "pos": pos, "checkItems": []}
        for i, item in enumerate(items):
            text, complete = item[0], item[1]
            checklist["checkItems"].append({
                "id": trello_id(), "name": text, "state": "complete" if complete else "incomplete", "pos": 16384 * (i + 1),
                "idChecklist": checklist["id"], "idMember": item[2] if len(item) > 2 else None, "due": item[3] if len(item) > 3 else None,
            })
        self.data["checklists"].append(checklist)
        next(c for c in self.data["cards"] if c["id"] == card_id)["idChecklists"].append(checklist["id"])
        return checklist["id"]

    def comment(self, card_id, text, date, member_id=None, username="someone", full_name="Some One"):
        """A `commentCard` action; Trello lists actions newest first, so it is put first."""
        creator = {"id": member_id or trello_id(), "username": username, "fullName": full_name}
        self.data["actions"].insert(0, {
            "id": trello_id(), "idMemberCreator": creator["id"], "type": "commentCard", "date": date,
            "data": {"text": text, "card": {"id": card_id, "name": "", "idShort": 1}, "board": {"id": self.board_id}},
            "memberCreator": creator,
        })

    def other_action(self, card_id, date):
        """An action that is not a comment (the import ignores it)."""
        self.data["actions"].insert(0, {"id": trello_id(), "idMemberCreator": trello_id(), "type": "updateCard", "date": date,
                                        "data": {"card": {"id": card_id}, "old": {"pos": 1}}})

    def bytes(self):
        return json.dumps(self.data, ensure_ascii=False).encode()


def big_board(cards, lists=10):
    """A board of `cards` cards over `lists` lists, every tenth with a checklist of four items and
    every fifth with a comment."""
    board = TrelloBoard("Big board")
    list_ids = [board.list(f"List {i}", 1024 * (i + 1)) for i in range(lists)]
    label = board.label("bulk", "green")
    for n in range(cards):
        card = board.card(list_ids[n % lists], f"Card {n}", 1000 + n, desc=f"Description {n}", labels=[label] if n % 3 == 0 else [])
        if n % 10 == 0:
            board.checklist(card, "Steps", 1, [(f"Step {k}", k < 2) for k in range(4)])
        if n % 5 == 0:
            board.comment(card, f"Comment on {n}", "2024-02-01T09:00:00.000Z")
    return board
