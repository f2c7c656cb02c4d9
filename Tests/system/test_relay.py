"""Events that committed but never reached Redis are published by a worker's event relay."""

import time

from helpers import psql, redis_cli


def test_worker_relays_events_left_unpublished(migrated):
    db = migrated.db_url
    user = psql(db, "INSERT INTO users (email, name, password_hash) VALUES ('r@example.com', 'R', 'x') RETURNING id")
    board = psql(db, f"INSERT INTO boards (name, created_by, version) VALUES ('B', {user}, 3) RETURNING id")
    # Three committed events as a crashed web process would leave them: in PostgreSQL, not in Redis.
    for version in (1, 2, 3):
        psql(db, f"""INSERT INTO events (board_id, version, kind, actor_id, payload, created_at)
                     VALUES ({board}, {version}, 'card.created', {user}, '{{"n": {version}}}', now() - interval '1 minute')""")
    stream = f"tack:{{board:{board}}}:history"
    assert redis_cli(migrated.redis_url, "XLEN", stream) == "0"

    worker = migrated.start("run", "worker")
    deadline = time.time() + 20
    while time.time() < deadline and psql(db, f"SELECT count(*) FROM events WHERE board_id = {board} AND published_at IS NULL") != "0":
        time.sleep(0.2)
    assert psql(db, f"SELECT count(*) FROM events WHERE board_id = {board} AND published_at IS NULL") == "0", migrated.output(worker)
    ids = redis_cli(migrated.redis_url, "XRANGE", stream, "-", "+").split()
    assert [i for i in ids if i.endswith("-0")] == ["1-0", "2-0", "3-0"], ids
    assert "relayed unpublished board events" in migrated.output(worker)
