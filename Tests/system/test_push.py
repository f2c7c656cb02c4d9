"""The push role with real processes (docs/push-protocol.md): live delivery to members only, resume
with no gap and no duplicate, resync after pruning, refused handshakes, sessions and tokens that
end, membership removal, bad input, a client that stops reading, presence, SIGTERM drain, SSE, and
200 clients behind nginx while a push process is killed and Redis restarts."""

import asyncio
import http.client
import json
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from websockets.exceptions import ConnectionClosed

from helpers import Receiver, Tack, free_port, psql, redis_cli, wait_until
from helpers import (Closed, HandshakeRefused, Nginx, PrivateRedis, PushSocket, ResumingClient, Silence, SseStream, Stack,
                     assert_still_serves, async_wait_until, metrics, parse_vector, run, shared_board, short, signup,
                     version_report, write_cards)


@pytest.fixture
def stack(migrated):
    """web, worker (it relays events the web could not publish) and one push process."""
    return Stack(migrated)


def people(stack, *names, base=None):
    return [signup(base or stack.base, f"{name.lower()}@example.com", name) for name in names]


def presence_ids(message):
    return {user["id"] for user in message["users"]}


async def wait_presence(sock, board, ids, timeout=10.0):
    """Reads until a presence message for `board` lists exactly the users `ids`; returns it."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{sock.label}: no presence of board {board} listing users {sorted(ids)} within {timeout} s; "
                                 f"presence messages received: {[sorted(presence_ids(m)) for m in seen]}")
        try:
            message = await sock.wait_for("presence", board=board, timeout=left)
        except Closed:
            raise
        except AssertionError:
            continue  # the deadline check above says what was seen
        seen.append(message)
        if presence_ids(message) == set(ids):
            return message


# --- delivery and authorisation ------------------------------------------------------------------

def test_a_member_sees_another_members_card_live_and_an_outsider_gets_nothing(stack):
    ada, ben, cy = people(stack, "Ada", "Ben", "Cy")
    board, column = shared_board(ada, ben)
    private = ada.create_board("Ada's private board")

    async def scenario():
        b = await stack.connect(ben, label="Ben (member)")
        c = await stack.connect(cy, label="Cy (not a member)")
        subscribed = await b.subscribe(board)
        assert subscribed["version"] == ada.board_version(board), short(subscribed)
        # The board, another real board, and ids that do not exist: one answer for all, no history.
        for target in (board, private, private + 1000, 2 ** 40):
            await c.send({"type": "subscribe", "board": target, "after": 0})
            error = await c.wait_for("error", timeout=5)
            assert error["code"] == "board_not_found" and error["board"] == target, \
                f"Cy subscribing to board {target}: expected error board_not_found, got {short(error)}"

        written = await asyncio.to_thread(ada.create_card, board, column, "Live card")
        await b.events_through(board, written["version"])
        b.versions.assert_exactly(board, subscribed["version"] + 1, written["version"], "Ben")
        event = b.events[-1]
        assert event["kind"] == "card.created" and event["actor"] == ada.id and event["card"] == written["card"]["id"], short(event)
        assert event["data"]["title"] == "Live card", short(event)
        datetime.fromisoformat(event["at"].replace("Z", "+00:00"))

        await c.quiet(1.5)
        leaked = [m for m in c.messages if m["type"] not in ("error",)]
        assert not leaked, f"Cy, who is on none of these boards, received {[short(m, 150) for m in leaked]}"

        values = metrics(stack.push_port())
        for name, least in (("tack_push_connections", 2), ("tack_push_subscriptions", 1), ("tack_push_deliveries_total", 1),
                            ("tack_push_publish_to_send_seconds_count", 1)):
            assert values.get(name, 0) >= least, f"/push/metrics: {name} is {values.get(name)}, expected at least {least}"
        for name in ("tack_push_cutoffs_total", "tack_push_gap_refills_total", "tack_push_resyncs_total"):
            assert name in values, f"/push/metrics has no {name}"
        await b.close()
        await c.close()

    run(scenario(), 60)


def test_a_client_that_reconnects_with_after_gets_exactly_the_versions_it_missed(stack):
    ada, = people(stack, "Ada")
    board = ada.create_board("Resume")
    column = ada.create_column(board)

    async def scenario():
        first = await stack.connect(ada, label="first connection")
        subscribed = await first.subscribe(board, after=0)
        await first.events_through(board, subscribed["version"])
        first.versions.assert_exactly(board, 1, subscribed["version"], "the first connection (after: 0)")
        last = first.versions.last(board)
        await first.close()

        written = await asyncio.to_thread(write_cards, ada, board, column, 50, 2)
        assert written == list(range(last + 1, last + 51)), f"nobody else writes to board {board}: {written}"

        second = await stack.connect(ada, label="the resumed connection")
        again = await second.subscribe(board, after=last)
        assert again["version"] == written[-1], f"subscribed says version {again['version']}, the board is at {written[-1]}"
        await second.events_through(board, written[-1])
        live = await asyncio.to_thread(ada.create_card, board, column, "live after the resume")
        await second.events_through(board, live["version"])
        await second.quiet(0.5)
        second.versions.assert_exactly(board, last + 1, live["version"], "the resumed connection")
        assert {e["kind"] for e in second.events} == {"card.created"}, Counter(e["kind"] for e in second.events)
        await second.close()

    run(scenario(), 60)


def test_resuming_from_before_the_kept_history_gets_resync_then_the_events_after_it(stack):
    ada, = people(stack, "Ada")
    board = ada.create_board("Pruned")
    column = ada.create_column(board)
    final = write_cards(ada, board, column, 5, 1)[-1]
    # What the nightly prune leaves (never a board's latest event), and a Redis that lost the stream.
    psql(stack.tack.db_url, f"DELETE FROM events WHERE board_id = {board} AND version < {final}")
    redis_cli(stack.tack.redis_url, "DEL", f"tack:{{board:{board}}}:history")

    async def scenario():
        sock = await stack.connect(ada, label="resuming from 0")
        subscribed = await sock.subscribe(board, after=0)
        assert subscribed["version"] == final, short(subscribed)
        resync = await sock.wait_for("resync", board=board, timeout=10)
        assert resync["reason"] == "history_pruned", short(resync)
        assert not sock.events, f"events arrived before the resync although versions 1..{final - 1} are gone: " \
                                f"{[short(e, 100) for e in sock.events]}"
        resumed_at = resync["version"]
        assert 1 <= resumed_at <= final, f"resync version {resumed_at}, the board is at {final}"
        snapshot = await asyncio.to_thread(ada.board_version, board)
        assert snapshot >= resumed_at, f"the snapshot (version {snapshot}) is older than the resync's version {resumed_at}"

        live = await asyncio.to_thread(ada.create_card, board, column, "after the resync")
        await sock.events_through(board, live["version"])
        await sock.quiet(0.5)
        sock.versions.assert_exactly(board, resumed_at + 1, live["version"], "after the resync")
        await sock.close()

    run(scenario(), 60)


def test_a_version_reused_after_postgresql_lost_commits_is_never_taken_for_the_old_event(migrated):
    """A failover to a standby that missed the newest commits (or a restore) makes PostgreSQL hand out
    versions again that clients, Redis and webhook receivers have seen, as other events. Events carry
    a random id: the live reader and resuming readers are told `history_rewritten` and then get the
    new events, the history stream holds the new ones, and the receiver gets them under new
    delivery ids."""
    receiver = Receiver(status=200)
    try:
        migrated.env["TACK_WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "true"
        stack = Stack(migrated)
        ada, = people(stack, "Ada")
        board = ada.create_board("Failover")
        column = ada.create_column(board)
        ada.call("POST", f"/api/v1/boards/{board}/webhooks",
                 {"url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["card.created"]}, expect=201)
        kept = ada.create_card(board, column, "kept")
        base = kept["version"]
        kept_id = kept["event"]["id"]
        seen = {}

        async def scenario():
            live = await stack.connect(ada, label="live reader")
            await live.subscribe(board, after=base)
            doomed = [await asyncio.to_thread(ada.create_card, board, column, f"doomed {i}") for i in range(3)]
            await live.events_through(board, base + 3)
            old_ids = {e["version"]: e["id"] for e in live.events}
            assert old_ids == {d["version"]: d["event"]["id"] for d in doomed}, "write replies and push carry the same event ids"
            wait_until(lambda: len(receiver.requests) >= 4, 30, "the four deliveries before the failover")
            seen["deliveries"] = {r["headers"]["X-Tack-Delivery"] for r in receiver.requests}
            assert all(str(json.loads(r["body"])["event"]["id"]) in r["headers"]["X-Tack-Delivery"] for r in receiver.requests)

            # PostgreSQL loses the last three commits (what an asynchronous standby promoted before
            # receiving them has); Redis keeps its history stream, clients keep what they were sent.
            psql(migrated.db_url, f"""
                DELETE FROM cards WHERE board_id = {board} AND title LIKE 'doomed%';
                DELETE FROM events WHERE board_id = {board} AND version > {base};
                DELETE FROM webhook_deliveries WHERE board_id = {board} AND event_version > {base};
                UPDATE webhooks SET dispatched_version = {base} WHERE board_id = {board};
                UPDATE boards SET version = {base} WHERE id = {board};""")

            resync = await live.wait_for("resync", board=board, timeout=10)
            assert resync["reason"] == "history_rewritten" and resync["version"] == base, short(resync)
            reborn = [await asyncio.to_thread(ada.create_card, board, column, f"reborn {i}") for i in range(3)]
            assert [r["version"] for r in reborn] == [base + 1, base + 2, base + 3], "the versions are used again"
            new_ids = {r["version"]: r["event"]["id"] for r in reborn}
            assert not set(new_ids.values()) & set(old_ids.values())

            got = []
            while len(got) < 3:
                message = await live.recv(10)
                if message["type"] == "event" and message["version"] > base and message["id"] in new_ids.values():
                    got.append(message)
                else:
                    assert message["type"] != "event", f"after the resync the live reader got an old event: {short(message)}"
            assert [(m["version"], m["id"], m["data"]["title"]) for m in got] == \
                [(r["version"], r["event"]["id"], f"reborn {i}") for i, r in enumerate(reborn)]

            # Readers that were away: one holds the lost version 3 under its old id, one the version
            # before the loss, one a version above anything the server now has.
            for after, after_id, label in ((base + 3, old_ids[base + 3], "holding a lost event"),
                                            (base + 1, old_ids[base + 1], "holding the first lost event")):
                sock = await stack.connect(ada, label=label)
                await sock.send({"type": "subscribe", "board": board, "after": after, "after_id": after_id})
                await sock.wait_for("subscribed", board=board, timeout=10)
                told = await sock.wait_for("resync", board=board, timeout=10)
                assert told["reason"] == "history_rewritten" and told["version"] == base + 3, short(told)
                await sock.quiet(0.5)
                assert not sock.events, f"after the resync the board reloads: no events, got {[short(e) for e in sock.events]}"
                await sock.close()
            sound = await stack.connect(ada, label="holding the last event that survived")
            await sound.send({"type": "subscribe", "board": board, "after": base, "after_id": kept_id})
            await sound.wait_for("subscribed", board=board, timeout=10)
            await sound.events_through(board, base + 3)
            await sound.quiet(0.5)
            assert [(e["version"], e["id"]) for e in sound.events] == sorted(new_ids.items())
            assert not [m for m in sound.messages if m["type"] == "resync"], "its history is intact: no resync"
            await sound.close()
            ahead = await stack.connect(ada, label="ahead of the server")
            await ahead.subscribe(board, after=base + 10)
            told = await ahead.wait_for("resync", board=board, timeout=10)
            assert told["reason"] == "history_rewritten" and told["version"] == base + 3, short(told)
            await ahead.close()
            await live.close()

        run(scenario(), 90)

        # The history stream holds the new events, not the lost ones.
        entries = redis_cli(migrated.redis_url, "XRANGE", f"tack:{{board:{board}}}:history", f"{base + 1}-0", "+").split()
        for version, event_id in new_ids_of(ada, board, base).items():
            assert event_id in entries, f"the history stream lacks the new event {version} ({event_id}): {entries[-12:]}"
        # The receiver gets the three new events under new delivery ids.
        wait_until(lambda: len(receiver.requests) >= 7, 30, "the deliveries of the new events")
        new_deliveries = [r for r in receiver.requests if r["headers"]["X-Tack-Delivery"] not in seen["deliveries"]]
        titles = sorted(json.loads(r["body"])["event"]["payload"]["title"] for r in new_deliveries)
        assert titles == ["reborn 0", "reborn 1", "reborn 2"], titles
    finally:
        receiver.close()


def new_ids_of(user, board, after):
    """Version → event id of `board`'s events after `after`, from the API's event log."""
    page = user.call("GET", f"/api/v1/boards/{board}/events?after={after}")
    return {e["version"]: e["id"] for e in page["events"]}


def test_handshakes_without_a_valid_credential_or_with_a_foreign_origin_are_refused_with_json(stack):
    ada, = people(stack, "Ada")
    board = ada.create_board("Guarded")
    column = ada.create_column(board)
    reader = ada.with_token("read")
    other_port = int(stack.tack.env["TACK_WEB_PORT"]) + 1

    async def scenario():
        refusals = [
            ("no credential", {}, 401, "not_signed_in"),
            ("no credential but this site's Origin", {"origin": stack.origin}, 401, "not_signed_in"),
            ("an unknown session cookie", {"cookie": "tack_session=" + "0" * 64, "origin": stack.origin}, 401, "not_signed_in"),
            ("an unknown API token", {"token": "tack_pat_" + "x" * 40}, 401, "not_signed_in"),
            ("the session cookie with a foreign Origin", {"cookie": ada.cookie, "origin": "http://evil.example"}, 403, "origin_forbidden"),
            ("the session cookie with this host on another port", {"cookie": ada.cookie, "origin": f"http://localhost:{other_port}"},
             403, "origin_forbidden"),
            ("the session cookie with no Origin", {"cookie": ada.cookie}, 403, "origin_forbidden"),
        ]
        for what, credentials, status, code in refusals:
            try:
                sock = await PushSocket.connect(stack.ws_url(), **credentials)
            except HandshakeRefused as refused:
                assert (refused.status, refused.code) == (status, code), \
                    f"{what}: expected HTTP {status} {code}, got HTTP {refused.status} {refused.body[:300]}"
                assert refused.content_type.startswith("application/json"), f"{what}: Content-Type {refused.content_type!r}"
                continue
            await sock.close()
            raise AssertionError(f"{what}: the handshake was accepted; expected HTTP {status} {code}")

        accepted = {
            "the session cookie with this site's Origin": {"cookie": ada.cookie, "origin": stack.origin},
            "a read token with no Origin": {"token": reader.token},
            "a read token with a foreign Origin": {"token": reader.token, "origin": "http://evil.example"},
        }
        socks = {}
        for what, credentials in accepted.items():
            try:
                socks[what] = await PushSocket.connect(stack.ws_url(), label=what, **credentials)
            except HandshakeRefused as refused:
                raise AssertionError(f"{what}: refused with HTTP {refused.status} {refused.body[:300]}") from None
            await socks[what].subscribe(board)
        written = await asyncio.to_thread(ada.create_card, board, column, "for every accepted socket")
        for sock in socks.values():
            await sock.events_through(board, written["version"])
            await sock.close()

    run(scenario(), 60)


def test_logging_out_closes_that_sessions_sockets_with_4401_and_no_other(stack):
    ada, = people(stack, "Ada")
    board = ada.create_board("Sessions")
    column = ada.create_column(board)
    laptop = ada.new_session()

    async def scenario():
        phone = await stack.connect(ada, label="the session that logs out")
        other = await stack.connect(laptop, label="another session of the same account")
        await phone.subscribe(board)
        await other.subscribe(board)
        await asyncio.to_thread(ada.logout)
        code = await phone.closed(timeout=5)
        assert code == 4401, f"after logout the socket closed with {code}, expected 4401"

        written = await asyncio.to_thread(laptop.create_card, board, column, "still signed in here")
        await other.events_through(board, written["version"])
        assert other.close_code is None, "logging out one session closed another session's socket"
        with pytest.raises(HandshakeRefused) as refused:
            await stack.connect(ada, label="the ended session again")
        assert refused.value.status == 401 and refused.value.code == "not_signed_in", refused.value
        await other.close()

    run(scenario(), 60)


def test_revoking_a_token_closes_its_sockets_with_4401(stack):
    ada, = people(stack, "Ada")
    board = ada.create_board("Tokens")
    reader = ada.with_token("read")

    async def scenario():
        sock = await stack.connect(reader, label="a token's socket")
        await sock.subscribe(board)
        await asyncio.to_thread(ada.revoke_token, reader.token_id)
        code = await sock.closed(timeout=5)
        assert code == 4401, f"after the token was revoked its socket closed with {code}, expected 4401"
        with pytest.raises(HandshakeRefused) as refused:
            await stack.connect(reader, label="the revoked token again")
        assert refused.value.status == 401 and refused.value.code == "not_signed_in", refused.value

    run(scenario(), 60)


def test_a_removed_member_is_unsubscribed_and_gets_nothing_after_the_removal(stack):
    ada, ben = people(stack, "Ada", "Ben")
    board, column = shared_board(ada, ben)
    own = ben.create_board("Ben's own")
    own_column = ben.create_column(own)

    async def scenario():
        sock = await stack.connect(ben, label="Ben")
        start = (await sock.subscribe(board))["version"]
        await sock.subscribe(own)
        before = await asyncio.to_thread(write_cards, ada, board, column, 3, 1)
        await sock.events_through(board, before[-1])

        removal = await asyncio.to_thread(ada.remove_member, board, ben.id)
        await asyncio.to_thread(write_cards, ada, board, column, 5, 1, "after Ben left")
        gone = await sock.wait_for("unsubscribed", board=board, timeout=10)
        assert gone["reason"] == "forbidden", short(gone)
        await sock.quiet(2)
        got = sock.versions.of(board)
        late = [v for v in got if v > removal]
        assert not late, f"Ben received versions {late} of board {board} after his removal (version {removal})"
        # Up to the removal nothing was lost; the removal event itself may or may not come.
        sock.versions.assert_exactly(board, start + 1, removal if removal in got else removal - 1, "Ben before his removal")

        # His other board carries on, and the one he left stays closed to him.
        written = await asyncio.to_thread(ben.create_card, own, own_column, "my own board still works")
        await sock.events_through(own, written["version"])
        await sock.send({"type": "subscribe", "board": board, "after": 0})
        error = await sock.wait_for("error", timeout=5)
        assert error["code"] == "board_not_found" and error["board"] == board, short(error)
        await sock.quiet(0.5)
        assert not [v for v in sock.versions.of(board) if v > removal], "history of the board he left was sent again"
        await sock.close()

    run(scenario(), 60)


# --- bad input ----------------------------------------------------------------------------------

def test_malformed_messages_are_answered_with_errors_and_the_connection_stays_usable(stack):
    ada, = people(stack, "Ada")
    board = ada.create_board("Garbage in")
    column = ada.create_column(board)
    cases = [
        ("not JSON", "{not json", "malformed_message", None),
        ("a JSON array", "[1, 2]", "malformed_message", None),
        ("a JSON number", "42", "malformed_message", None),
        ("a JSON string", '"subscribe"', "malformed_message", None),
        ("JSON null", "null", "malformed_message", None),
        ("an unknown type", '{"type": "dance", "board": 1}', "unknown_type", None),
        ("subscribe without a board", '{"type": "subscribe"}', "invalid_field", "board"),
        ("subscribe with a string board", f'{{"type": "subscribe", "board": "{board}"}}', "invalid_field", "board"),
        ("subscribe with a fractional board", '{"type": "subscribe", "board": 1.5}', "invalid_field", "board"),
        ("unsubscribe with a string board", f'{{"type": "unsubscribe", "board": "{board}"}}', "invalid_field", "board"),
    ]

    async def scenario():
        sock = await stack.connect(ada, label="a client sending garbage")
        for what, raw, code, field in cases:
            await sock.send(raw)
            try:
                error = await sock.wait_for("error", timeout=5)
            except AssertionError as missing:
                raise AssertionError(f"{what} ({raw}): expected error {code}: {missing}") from None
            assert error["code"] == code, f"{what} ({raw}): expected error {code}, got {short(error)}"
            if field:
                assert error.get("field") == field, f"{what} ({raw}): expected field {field!r}, got {short(error)}"
            assert isinstance(error.get("message"), str) and error["message"], f"{what}: an error without a message: {short(error)}"
        assert sock.close_code is None, f"the connection closed ({sock.close_code}) after bad messages"
        assert not sock.events
        await sock.close()
        await assert_still_serves(stack, ada, board, column)

    run(scenario(), 60)


def test_binary_and_oversize_frames_close_the_connection_and_others_are_still_served(stack):
    ada, = people(stack, "Ada")
    board = ada.create_board("Frames")
    column = ada.create_column(board)

    async def scenario():
        sock = await stack.connect(ada, label="a client sending a binary frame")
        await sock.subscribe(board)
        await sock.send(b'{"type": "subscribe", "board": 1}')
        code = await sock.closed(timeout=5)
        assert code == 1003, f"a binary frame: the connection closed with {code}, expected 1003"
        await assert_still_serves(stack, ada, board, column, label="a fresh client after the binary frame")

        sock = await stack.connect(ada, label="a client sending 10 KB")
        await sock.subscribe(board)
        await sock.send('{"type": "subscribe", "board": %d, "padding": "%s"}' % (board, "x" * 10240))
        code = await sock.closed(timeout=5)
        assert code == 1009, f"a 10 KB frame: the connection closed with {code}, expected 1009"
        await assert_still_serves(stack, ada, board, column, label="a fresh client after the oversize frame")

    run(scenario(), 60)


def test_a_connection_holds_at_most_100_boards(stack):
    ada, = people(stack, "Ada")
    boards = [ada.create_board(f"Many {i}") for i in range(150)]
    column = ada.create_column(boards[0])

    async def scenario():
        sock = await stack.connect(ada, label="a client with 150 boards")
        # Paced below the rate limit (bursts of 40, then 20 a second), so only the board limit answers.
        for i, board in enumerate(boards):
            await sock.send({"type": "subscribe", "board": board})
            if i >= 30:
                await asyncio.sleep(0.06)
        subscribed, refused, other = [], 0, []
        deadline = time.monotonic() + 20
        while len(subscribed) + refused + len(other) < len(boards) and time.monotonic() < deadline:
            try:
                message = await sock.recv(deadline - time.monotonic())
            except Silence:
                break
            if message["type"] == "subscribed":
                subscribed.append(message["board"])
            elif message["type"] == "error" and message["code"] == "too_many_subscriptions":
                refused += 1
            elif message["type"] == "error":
                other.append(message)
        assert not other, f"unexpected errors: {[short(m, 150) for m in other[:5]]}"
        assert (len(subscribed), refused) == (100, 50), \
            f"150 subscribes: {len(subscribed)} subscribed and {refused} too_many_subscriptions, expected 100 and 50"

        # Leaving one board makes room for another.
        await sock.send({"type": "unsubscribe", "board": subscribed[0]})
        await sock.wait_for("unsubscribed", board=subscribed[0], timeout=5)
        await sock.subscribe(next(b for b in boards if b not in subscribed))
        await sock.close()
        await assert_still_serves(stack, ada, boards[0], column)

    run(scenario(), 90)


def test_a_message_storm_is_rate_limited_and_others_are_still_served(stack):
    ada, = people(stack, "Ada")
    board = ada.create_board("Storm")
    column = ada.create_column(board)

    async def scenario():
        sock = await stack.connect(ada, label="a storming client")
        await sock.subscribe(board)
        sent = 0
        try:
            for i in range(500):
                await sock.send({"type": "unsubscribe" if i % 2 == 0 else "subscribe", "board": board})
                sent += 1
        except ConnectionClosed:
            pass
        answers = [m for m in await sock.quiet(3)]
        types = Counter(m["type"] if m["type"] != "error" else f"error {m['code']}" for m in answers)
        limited = types["error rate_limited"]
        assert limited > 0 or sock.close_code == 1008, \
            f"{sent} messages at once: no rate_limited error and no close 1008 (close code {sock.close_code}); answers: {dict(types)}"
        assert sock.close_code in (None, 1008), f"the storming client was closed with {sock.close_code}, expected 1008 or nothing"
        acted = types["subscribed"] + types["unsubscribed"]
        assert acted < 250, f"the server acted on {acted} of {sent} messages sent at once (limit: bursts of 40, 20 a second)"
        await sock.close()
        await assert_still_serves(stack, ada, board, column, label="a fresh client after the storm")

    run(scenario(), 60)


# --- slow clients, presence, drain ---------------------------------------------------------------

def test_a_client_that_stops_reading_is_cut_off_while_another_receives_everything(stack):
    ada, = people(stack, "Ada")
    board = ada.create_board("Firehose")
    column = ada.create_column(board)
    count = 2000

    async def keep_reading(sock):
        while True:
            try:
                await sock.recv(1.0)
            except Silence:
                pass

    async def scenario():
        reader = await stack.connect(ada, label="the reading client")
        start = (await reader.subscribe(board))["version"]
        # A small receive buffer and a one-frame queue, so it really stops reading. Even so the
        # server's kernel send buffer grows to about 4 MB on loopback (tcp_wmem): the 2,000 events
        # of about 4.5 KB each (9 MB) overflow it and any sane outbound queue behind it.
        stuck = await stack.connect(ada, label="the client that stopped reading", rcvbuf=4096, max_queue=1)
        stuck_start = (await stuck.subscribe(board))["version"]
        reading = asyncio.create_task(keep_reading(reader))
        written = await asyncio.to_thread(write_cards, ada, board, column, count, 4, "T" * 400, "D" * 4000)
        final = written[-1]
        try:
            await async_wait_until(lambda: (reader.versions.last(board) or 0) >= final or reading.done(), 60, "")
        except AssertionError:
            reader.versions.assert_exactly(board, start + 1, final, "the reading client, after 60 s")
        if reading.done():
            raise AssertionError(f"the reading client stopped: {reading.exception()}")
        reading.cancel()
        try:
            await reading
        except asyncio.CancelledError:
            pass
        await reader.quiet(0.5)
        reader.versions.assert_exactly(board, start + 1, final, "the reading client")
        assert reader.close_code is None, f"the reading client was closed too ({reader.close_code})"

        # Now the stuck client reads its backlog: it must end in a cut-off, not in all the events.
        try:
            code = await stuck.closed(timeout=30)
        except AssertionError:
            raise AssertionError(f"the client that stopped reading was never cut off: it received "
                                 f"{len(stuck.versions.of(board))} of {count} events and is still open") from None
        assert code in (4008, 1006), f"the stuck client was closed with {code}, expected 4008 (or 1006 when the close frame was lost)"
        got = stuck.versions.of(board)
        assert len(got) < count, f"the stuck client received all {count} events before being closed"
        stuck.versions.assert_exactly(board, stuck_start + 1, stuck_start + len(got), "the stuck client before its cut-off")
        assert metrics(stack.push_port()).get("tack_push_cutoffs_total", 0) >= 1, "tack_push_cutoffs_total did not count the cut-off"

        # 4008 means "resume": it gets exactly the rest.
        resumed = await stack.connect(ada, label="the stuck client, resumed")
        last = stuck.versions.last(board, stuck_start)
        await resumed.subscribe(board, after=last)
        await resumed.events_through(board, final, timeout=30)
        await resumed.quiet(0.3)
        resumed.versions.assert_exactly(board, last + 1, final, "the stuck client after resuming")
        await resumed.close()
        await reader.close()

    run(scenario(), 150)


def test_presence_lists_who_has_the_board_open_across_push_processes(stack):
    stack.add_push()
    ada, ben = people(stack, "Ada", "Ben")
    board, _ = shared_board(ada, ben)

    async def scenario():
        a = await stack.connect(ada, 0, label="Ada on push process 1")
        await a.subscribe(board)
        await wait_presence(a, board, {ada.id})
        b = await stack.connect(ben, 1, label="Ben on push process 2")
        await b.subscribe(board)
        for sock in (a, b):
            message = await wait_presence(sock, board, {ada.id, ben.id})
            names = {user["id"]: user["name"] for user in message["users"]}
            assert names == {ada.id: "Ada", ben.id: "Ben"}, f"{sock.label}: presence {short(message)}"
        await b.close()
        await wait_presence(a, board, {ada.id}, timeout=10)
        await a.close()

    run(scenario(), 60)


def test_sigterm_drains_with_1012_and_clients_resume_on_another_process_without_loss(migrated):
    drain = 2
    stack = Stack(migrated, pushes=2, push_env={"TACK_PUSH_DRAIN_SECONDS": str(drain)})
    ada, ben = people(stack, "Ada", "Ben")
    board, column = shared_board(ada, ben)
    victim = stack.pushes[0][0]

    async def scenario():
        clients = [ResumingClient([stack.ws_url(0), stack.ws_url(1)], [board], cookie=user.cookie, origin=stack.origin,
                                  label=f"client {i} ({user.name})")
                   for i, user in enumerate([ada, ben] * 10)]
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await async_wait_until(lambda: all(c.subscribed_once.is_set() for c in clients), 20, "20 clients subscribed")
        assert all(c.connections == 1 for c in clients), [c.connections for c in clients]

        stop = threading.Event()
        written, failures = [], []

        def writer():
            while not stop.is_set():
                try:
                    written.append(ada.create_card(board, column, f"during the drain {len(written)}")["version"])
                except Exception as error:
                    failures.append(error)
                    return
                time.sleep(0.01)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        await asyncio.sleep(1)
        sigterm = time.monotonic()
        victim.send_signal(signal.SIGTERM)

        def exit_time():
            try:
                victim.wait(timeout=drain + 10)
                return time.monotonic()
            except Exception:
                return None

        exited = asyncio.create_task(asyncio.to_thread(exit_time))
        await async_wait_until(lambda: all(c.ready >= 2 for c in clients), drain + 15,
                               "every client resubscribed on the second push process")
        await asyncio.sleep(1)
        stop.set()
        await asyncio.to_thread(thread.join, 10)
        assert not failures, f"a write failed: {failures[0]}"
        final = await asyncio.to_thread(ada.board_version, board)
        try:
            await async_wait_until(lambda: all(c.caught_up({board: final}) for c in clients), 20, "every client caught up")
        finally:
            for c in clients:
                await c.stop()
            for t in tasks:
                t.cancel()
        exit_at = await exited

        assert exit_at is not None, f"the SIGTERMed push process did not exit within {drain + 10} s:\n{stack.push_log(0)}"
        assert exit_at - sigterm <= drain + 5, f"the push process took {exit_at - sigterm:.1f} s to exit (drain window {drain} s)"
        assert victim.returncode == 0, f"the drained push process exited {victim.returncode}:\n{stack.push_log(0)}"
        first_codes = [c.closes[0][1] for c in clients]
        assert first_codes == [1012] * len(clients), f"close codes seen when the process drained: {first_codes}"
        times = sorted(c.closes[0][0] - sigterm for c in clients)
        assert times[-1] <= drain + 1.5, f"closes came {times[0]:.2f}..{times[-1]:.2f} s after SIGTERM, the drain window is {drain} s"
        assert times[-1] - times[0] >= 0.3, f"all 20 closes came within {times[-1] - times[0]:.2f} s: not spread over the window"
        assert len(written) >= 20, f"the writer wrote only {len(written)} cards around the drain"
        report = version_report(clients, {board: final})
        assert not report, f"{len(report)} problems:\n" + "\n".join(report[:15])

    run(scenario(), 90)


# --- SSE ----------------------------------------------------------------------------------------

def test_an_sse_client_resumes_with_last_event_id_and_gets_exactly_what_it_missed(migrated):
    stack = Stack(migrated, push_env={"TACK_PUSH_PING_INTERVAL": "1"})
    ada, cy = people(stack, "Ada", "Cy")
    board = ada.create_board("Streamed")
    column = ada.create_column(board)
    other = ada.create_board("Streamed too")
    other_column = ada.create_column(other)
    reader = ada.with_token("read")
    outsider = cy.with_token("read")
    host, port = "127.0.0.1", stack.push_port()

    async def scenario():
        refusals = [
            ("no credential", [board], {}, 401, "not_signed_in"),
            ("the session cookie with a foreign Origin", [board], {"cookie": ada.cookie, "origin": "http://evil.example"},
             403, "origin_forbidden"),
            ("a non-member's token", [board], {"token": outsider.token}, 404, "board_not_found"),
            ("a member's token with one board not hers", [board, cy.create_board("Cy's")], {"token": reader.token},
             404, "board_not_found"),
        ]
        for what, boards, credentials, status, code in refusals:
            try:
                stream = await SseStream.open(host, port, boards, **credentials)
            except HandshakeRefused as refused:
                assert (refused.status, refused.code) == (status, code), \
                    f"SSE with {what}: expected HTTP {status} {code}, got HTTP {refused.status} {refused.body[:300]}"
                continue
            await stream.close()
            raise AssertionError(f"SSE with {what}: the stream was opened; expected HTTP {status} {code}")

        start = await asyncio.to_thread(ada.board_version, board)
        # A browser's first connection: the session cookie (no Origin on a same-origin GET) and
        # the position in the query.
        first = await SseStream.open(host, port, [board], cookie=ada.cookie, query_last_event_id=f"{board}:{start}", label="first stream")
        await first.wait_for("subscribed", board)
        written = await asyncio.to_thread(write_cards, ada, board, column, 3, 1)
        await first.events_through(board, written[-1])
        first.versions.assert_exactly(board, start + 1, written[-1], "the first SSE stream")
        assert parse_vector(first.last_id) == {board: written[-1]}, f"the last id was {first.last_id!r}"
        resume_from = first.last_id
        await first.close()

        missed = await asyncio.to_thread(write_cards, ada, board, column, 10, 1, "missed")
        # The reconnection, as EventSource makes it: the same URL (its query position now stale)
        # plus Last-Event-ID, which wins; `other` is not in the position, so it starts from now.
        second = await SseStream.open(host, port, [board, other], token=reader.token, last_event_id=resume_from,
                                      query_last_event_id=f"{board}:{start}", label="resumed stream")
        other_start = (await second.wait_for("subscribed", other))["version"]
        await second.events_through(board, missed[-1])
        live_other = await asyncio.to_thread(ada.create_card, other, other_column, "live on the other board")
        live = await asyncio.to_thread(ada.create_card, board, column, "live")
        await second.events_through(other, live_other["version"])
        await second.events_through(board, live["version"])
        await second.quiet(2.5)
        second.versions.assert_exactly(board, written[-1] + 1, live["version"], "the resumed SSE stream")
        second.versions.assert_exactly(other, other_start + 1, live_other["version"], "the board that started from now")
        assert parse_vector(second.last_id) == {board: live["version"], other: live_other["version"]}, \
            f"the last id was {second.last_id!r}"
        assert second.pings >= 1, "no `: ping` comment within 2.5 s at a 1 s ping interval"
        await second.close()

    run(scenario(), 60)


# --- everything at once --------------------------------------------------------------------------

def test_200_clients_behind_nginx_get_every_version_once_through_a_push_kill_and_a_redis_restart(binary, tmp_path, fresh_db):
    """Two push processes behind the rendered nginx example; 200 WebSocket clients of 5 users over
    10 boards (a quarter of them on two boards; some by API token); 5,000 cards written through
    nginx by 4 writers; Redis restarted after 1,500 writes, the busier push process kill -9'd after
    3,000. Every client must end with every version of its boards exactly once, in order."""
    redis = PrivateRedis(tmp_path / "redis")
    tack = Tack(binary, tmp_path, fresh_db, redis.url)
    nginx = None
    try:
        tack("upgrade_db", check=True)
        nginx_port = free_port()
        stack = Stack(tack, pushes=2, base_url=f"http://localhost:{nginx_port}")
        nginx = Nginx(tmp_path, [int(tack.env["TACK_WEB_PORT"])], [stack.push_port(0), stack.push_port(1)], port=nginx_port)
        run(chaos(stack, nginx, redis, tack), 170)
    finally:
        if nginx:
            nginx.stop()
        tack.stop_all()
        redis.stop()


async def chaos(stack, nginx, redis, tack):
    users = people(stack, *[f"User{i}" for i in range(5)], base=nginx.base)
    # Several sessions per user: nginx hashes the session cookie, so this spreads the clients over
    # both push processes (the token clients all hash alike).
    with ThreadPoolExecutor(4) as pool:
        extra = list(pool.map(lambda u: u.new_session(), [u for u in users for _ in range(3)]))
    sessions = {u.id: [u] + [s for s in extra if s.id == u.id] for u in users}
    tokens = {u.id: u.with_token("read") for u in users}
    owner = users[0]
    boards, columns = [], {}
    for i in range(10):
        board = owner.create_board(f"Chaos {i}")
        columns[board] = owner.create_column(board)
        for user in users[1:]:
            owner.add_member(board, user.email)
        boards.append(board)

    clients = []
    for i in range(200):
        user = users[i % 5]
        mine = [boards[i % 10]] + ([boards[(i + 3) % 10]] if i % 4 == 0 else [])
        if i % 8 == 7:
            credentials = {"token": tokens[user.id].token}
        else:
            credentials = {"cookie": sessions[user.id][(i // 5) % 4].cookie, "origin": stack.origin}
        clients.append(ResumingClient([nginx.ws_url], mine, label=f"client {i} ({user.name}, boards {mine})", **credentials))
    tasks = [asyncio.create_task(c.run()) for c in clients]
    try:
        await async_wait_until(lambda: all(c.subscribed_once.is_set() for c in clients), 40, "200 clients subscribed")
        spread = {port: metrics(port).get("tack_push_connections", 0) for port in (stack.push_port(0), stack.push_port(1))}
        assert all(n > 0 for n in spread.values()), f"nginx sent every client to one push process: connections {spread}"
        victim_index = 0 if spread[stack.push_port(0)] >= spread[stack.push_port(1)] else 1

        total, per_writer = 5000, 1250
        progress = {"written": 0, "retried": Counter()}
        failures = []
        lock = threading.Lock()
        deadline = time.time() + 110
        writers = [u.with_token("read_write") for u in users[:4]]  # through nginx, like the users

        def write(k, api):
            for n in range(per_writer):
                board = boards[(k + n) % 10]
                while True:
                    if time.time() > deadline:
                        failures.append(f"writer {k} stopped at {n} of {per_writer}: out of time")
                        return
                    try:
                        status, answer, _ = api.request("POST", f"/api/v1/boards/{board}/cards",
                                                        {"column_id": columns[board], "title": f"writer {k} card {n}"})
                    except (OSError, http.client.HTTPException) as error:
                        status, answer = None, repr(error)
                    if status == 201:
                        break
                    if status is not None and 400 <= status < 500:
                        failures.append(f"writer {k}: HTTP {status} {answer}")
                        return
                    with lock:
                        progress["retried"][status] += 1
                    time.sleep(0.2)
                with lock:
                    progress["written"] += 1

        threads = [threading.Thread(target=write, args=(k, api), daemon=True) for k, api in enumerate(writers)]
        for t in threads:
            t.start()

        def written_past(n):
            return progress["written"] >= n or failures or not any(t.is_alive() for t in threads)

        await async_wait_until(lambda: written_past(1500), 60, "1,500 writes")
        await asyncio.to_thread(redis.restart, 1.0)
        await async_wait_until(lambda: written_past(3000), 60, "3,000 writes")
        os.killpg(stack.pushes[victim_index][0].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        await async_wait_until(lambda: not any(t.is_alive() for t in threads), 120, "the writers to finish")
        assert not failures, f"writes failed: {failures[:5]}"
        assert progress["written"] == total, f"{progress['written']} of {total} writes"

        rows = psql(tack.db_url, f"SELECT id, version FROM boards WHERE id IN ({','.join(map(str, boards))})")
        finals = {int(b): int(v) for b, v in (row.split("|") for row in rows.splitlines())}
        try:
            await async_wait_until(lambda: all(c.caught_up(finals) for c in clients), 45, "every client caught up")
        except AssertionError:
            behind = [f"{c.label}: at {[c.last(b) for b in c.boards]}, boards at {[finals[b] for b in c.boards]}"
                      for c in clients if not c.caught_up(finals)]
            raise AssertionError(f"{len(behind)} of {len(clients)} clients did not catch up within 45 s "
                                 f"(retried writes: {dict(progress['retried'])}):\n" + "\n".join(behind[:15])) from None
        await asyncio.sleep(1)  # a late duplicate would show now
    finally:
        for c in clients:
            await c.stop()
        for t in tasks:
            t.cancel()

    report = version_report(clients, finals)
    assert not report, f"{len(report)} problems over {len(clients)} clients:\n" + "\n".join(report[:20])
    reconnected = [c for c in clients if any(when >= killed_at and code == 1006 for when, code in c.closes)]
    assert reconnected, "no client was connected to the killed push process"
    assert all(c.ready >= 2 for c in reconnected), "a client of the killed process never resubscribed"
