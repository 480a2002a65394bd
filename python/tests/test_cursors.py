# SPDX-License-Identifier: Apache-2.0
"""Consumer cursors (protocol version 2, PROTOCOL.md section 6) from the
Python client: create, commit, get, list (past one reply), drop; the
rules (a cursor never goes back, nothing above the durable LSN, unknown
names); durable across walld killed by PID; truncate held by a cursor;
a read that ends at the end of a sealed log."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

import walld


def test_version_1_has_no_cursors(server):
    with server.client() as c:
        assert c.server_info.version == 1
        with pytest.raises(walld.VersionMismatch) as ei:
            c.cursor_get("x")
        assert "protocol=2" in str(ei.value)
        c.ping()                         # nothing was sent: still open


def test_create_commit_get_drop_and_the_rules(make_walld):
    w = make_walld()
    with w.client(protocol=2) as c:
        assert c.server_info.version == 2
        lsns = c.append_many([b"r%d" % i for i in range(10)])
        assert c.cursor_create("orders.v1") == 0
        # Create if missing: the existing cursor is kept.
        assert c.cursor_create("orders.v1", lsns[5]) == 0
        before = time.time() * 1000
        assert c.cursor_commit("orders.v1", lsns[3]) == lsns[3]
        got = c.cursor_get("orders.v1")
        assert got.name == "orders.v1" and got.lsn == lsns[3]
        assert before - 5000 <= got.commit_ms <= time.time() * 1000 + 5000
        # A retried commit succeeds; a cursor never goes back.
        assert c.cursor_commit("orders.v1", lsns[3]) == lsns[3]
        with pytest.raises(walld.OutOfRange):
            c.cursor_commit("orders.v1", lsns[2])
        with pytest.raises(walld.OutOfRange):       # above the durable LSN
            c.cursor_commit("orders.v1", lsns[-1] + 100)
        with pytest.raises(walld.NotFound) as ei:
            c.cursor_get("missing")
        assert ei.value.code == 16
        with pytest.raises(ValueError):
            c.cursor_create("-starts-with-a-dash")
        with pytest.raises(ValueError):
            c.cursor_create("x" * 65)
        assert c.cursor_drop("orders.v1") == lsns[3]
        with pytest.raises(walld.NotFound):
            c.cursor_drop("orders.v1")
        c.ping()                 # errors leave the connection usable


def test_list_pages_and_survives_kill_9(make_walld):
    w = make_walld()
    n = 900                      # more than one 64 KiB reply holds
    names = sorted("consumer-%04d-%s" % (i, "x" * 50) for i in range(n))
    with w.client(protocol=2) as c:
        last = c.append(b"one record")
        for i, name in enumerate(names):
            c.cursor_create(name, last if i % 2 else 0)
        asked: list[str] = []
        ask = c._core.cursor

        def spy(op, name, lsn=None):
            asked.append(name)
            return ask(op, name, lsn)

        c._core.cursor = spy             # counts the LIST requests
        listed = c.cursors()
    assert len(asked) >= 2 and asked[0] == "" and asked[1] in names
    assert [cur.name for cur in listed] == names
    assert [cur.lsn for cur in listed] == \
        [last if i % 2 else 0 for i in range(n)]
    w.signal(signal.SIGKILL)             # acknowledged means durable
    assert w.wait() == -signal.SIGKILL
    w.start()
    with w.client(protocol=2) as c:
        assert c.cursors() == listed


def test_truncate_held_by_a_cursor_then_forced(make_walld):
    w = make_walld()
    with w.client(protocol=2) as c:
        first = c.append(b"in the first segment")
        c.rotate()
        c.append(b"in the second")
        c.cursor_create("slow", 0)
        with pytest.raises(walld.Held) as ei:
            c.truncate(first + 1)
        assert "slow" in str(ei.value)
        assert c.truncate(first + 1, force=True) > first
    with w.client() as c1:
        with pytest.raises(walld.VersionMismatch):
            c1.truncate(1, force=True)


def test_read_ends_at_the_end_of_a_sealed_log(make_walld):
    w = make_walld()
    with w.client(protocol=2) as c:
        c.append(b"last")
        c.seal()
        with c.read(follow=True) as r:
            assert [rec.payload for rec in r] == [b"last"]
            assert r.ended and r.sealed

    async def main() -> None:
        c = await w.aclient(protocol=2)
        try:
            assert await c.cursor_create("a", 1) == 1
            assert (await c.cursor_get("a")).lsn == 1
            assert [x.name for x in await c.cursors()] == ["a"]
            r = c.read(follow=True)
            assert [rec.payload async for rec in r] == [b"last"]
            assert r.sealed
            assert await c.cursor_drop("a") == 1
        finally:
            c.close()

    asyncio.run(main())
