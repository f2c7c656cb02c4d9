"""Fixtures for the system tests: real tack processes against the private PostgreSQL and Redis that
`./platform test` starts. A missing server fails the tests; nothing is skipped. Everything that is
not a fixture lives in helpers.py."""

import os
import uuid

import pytest

from helpers import Tack, psql, redis_cli, require_env


@pytest.fixture
def binary():
    path = require_env("TACK_TEST_BINARY")
    assert os.access(path, os.X_OK), f"{path} is not an executable tack binary"
    return path


@pytest.fixture
def fresh_db():
    admin = require_env("TACK_TEST_POSTGRES_URL")
    name = "sys_" + uuid.uuid4().hex[:12]
    psql(admin, f"CREATE DATABASE {name}")
    base = admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_url():
    base = require_env("TACK_TEST_REDIS_URL")
    url = base.rsplit("/", 1)[0] + "/1"  # Swift tests use db 0; system tests run one at a time on db 1
    redis_cli(url, "FLUSHDB")
    return url


@pytest.fixture
def tack(binary, tmp_path, fresh_db, redis_url):
    t = Tack(binary, tmp_path, fresh_db, redis_url)
    yield t
    t.stop_all()


@pytest.fixture
def migrated(tack):
    tack("upgrade_db", check=True)
    return tack
