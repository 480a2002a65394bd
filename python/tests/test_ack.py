# SPDX-License-Identifier: Apache-2.0
"""Acknowledgement levels against a real walld that does not replicate
(no replication.servers): a 'replicated' append or sync ends with
ReplicationUnavailable once its records are durable, and reading back
finds them; 'local' and walld's default succeed. The flags on the wire,
and REPL_BACKLOG, are in test_fake_server.py."""

from __future__ import annotations

import asyncio

import pytest

import walld

ALL_BYTES = bytes(range(256))


def read_one(c: walld.Client, lsn: int) -> walld.Record:
    recs = list(c.read(from_lsn=lsn, to_lsn=lsn))
    assert len(recs) == 1, recs
    return recs[0]


def test_error_classes():
    e = walld.error_for_code(12, "LSN 42 is durable on this machine but "
                             "not replicated", "append")
    assert type(e) is walld.ReplicationUnavailable
    assert isinstance(e, walld.ServerError)
    assert not isinstance(e, walld.OutcomeUnknown)
    assert not e.outcome_unknown and not e.retry_safe
    assert e.code == 12 and e.name == "repl_unavailable" and e.lsn == 42
    assert walld.error_for_code(12, "", "sync").lsn is None
    assert walld.error_for_code(12, "LSN x is", "sync").lsn is None
    b = walld.error_for_code(13, "backlog full", "append")
    assert type(b) is walld.ReplicationBacklog
    assert b.retry_safe and not b.outcome_unknown and b.code == 13
    assert b.name == "repl_backlog"
    assert not issubclass(walld.ReplicationUnavailable, walld.OutcomeUnknown)
    assert not issubclass(walld.ReplicationBacklog, walld.OutcomeUnknown)


def test_replicated_append_is_durable_without_replication(server):
    payload = b"replicated?" + ALL_BYTES
    with server.client() as c:
        before = c.stats()["next_lsn"]
        with pytest.raises(walld.ReplicationUnavailable) as ei:
            c.append(payload, type=3, vshard=4, tenant=5, ack="replicated")
        e = ei.value
        assert e.op == "append" and e.code == 12
        assert "durable" in e.message and e.message in str(e)
        # The message names the record's LSN: it was given one...
        assert e.lsn is not None and e.lsn >= before
        # ...it is durable, and the connection is still good.
        assert c.stats()["durable_lsn"] >= e.lsn
        assert read_one(c, e.lsn) == walld.Record(e.lsn, 3, 4, 5, payload)
        c.ping()
        assert not c.closed


def test_local_and_default_acks_succeed(server):
    with server.client() as c:
        a = c.append(b"local", tenant=9, ack="local")
        b = c.append(b"default", tenant=9, ack=None)
        d = c.append(b"client default", tenant=9)
        assert a < b < d
        assert c.sync(ack="local") >= d
        assert c.sync(ack=None) >= d
        assert c.sync() >= d
        assert [r.payload for r in c.read(from_lsn=a, to_lsn=d,
                                          tenant=9)] == \
            [b"local", b"default", b"client default"]


def test_replicated_sync_fails_after_durable(server):
    with server.client() as c:
        lsn = c.append(b"before the sync", nowait=True)
        with pytest.raises(walld.ReplicationUnavailable) as ei:
            c.sync(ack="replicated")
        assert ei.value.op == "sync"
        assert ei.value.lsn is not None and ei.value.lsn >= lsn
        # Everything before the sync is durable all the same.
        assert c.sync(ack="local") >= lsn
        assert read_one(c, lsn).payload == b"before the sync"


def test_client_level_ack(server):
    with server.client(ack="replicated") as c:
        assert c.ack == "replicated"
        with pytest.raises(walld.ReplicationUnavailable) as ei:
            c.append(b"client replicated")
        lsn = ei.value.lsn
        assert lsn is not None
        assert read_one(c, lsn).payload == b"client replicated"
        # A call's own level wins over the client's.
        a = c.append(b"call local", ack="local")
        b = c.append(b"call default", ack=None)
        assert lsn < a < b
        # nowait appends carry no level: the client's is left out.
        n = c.append(b"nowait", nowait=True)
        assert n > b
        with pytest.raises(walld.ReplicationUnavailable):
            c.sync()
        c.ack = "local"
        assert c.ack == "local"
        assert c.sync() >= n
        c.append(b"local now")
        c.ack = None
        c.append(b"default now")
        with pytest.raises(ValueError):
            c.ack = "remote"
        assert c.ack is None
        c.ping()


def test_bad_ack_values_send_nothing(server):
    with server.client() as c:
        before = c.stats()["next_lsn"]
        for bad in ("remote", "LOCAL", "", 1, True, b"local"):
            with pytest.raises(ValueError):
                c.append(b"x", ack=bad)  # type: ignore[arg-type]
            with pytest.raises(ValueError):
                c.sync(ack=bad)  # type: ignore[arg-type]
            with pytest.raises(ValueError):
                c.append_many([b"x"], ack=bad)  # type: ignore[arg-type]
        # A level with nowait means nothing: refused, not sent.
        for level in ("local", "replicated"):
            with pytest.raises(ValueError):
                c.append(b"x", nowait=True, ack=level)
            with pytest.raises(ValueError):
                c.append_many([b"x"], nowait=True, ack=level)
        assert c.append(b"x", nowait=True, ack=None) == before
        with pytest.raises(ValueError):
            walld.Client(server.sock, ack="both")
        assert not c.closed and c.stats()["next_lsn"] == before + 1


def test_append_many_replicated(server):
    items = [ALL_BYTES[i:] for i in range(40)] + [b""]
    with server.client() as c:
        res = c.append_many(items, tenant=11, ack="replicated",
                            return_exceptions=True)
        assert len(res) == len(items)
        assert all(isinstance(r, walld.ReplicationUnavailable) for r in res)
        lsns = [r.lsn for r in res]
        assert all(lsn is not None for lsn in lsns)
        assert lsns == sorted(lsns) and len(set(lsns)) == len(lsns)
        # Raised: the first failure, with every result.
        with pytest.raises(walld.ReplicationUnavailable) as ei:
            c.append_many([b"a", b"b"], ack="replicated")
        assert len(ei.value.results) == 2
        ok = c.append_many(items, tenant=11, ack="local")
        assert ok[0] > ei.value.results[1].lsn
        got = {r.lsn: r.payload for r in c.read(from_lsn=lsns[0],
                                                 tenant=11)}
        for lsn, p in zip(lsns + ok, items + items):
            assert got[lsn] == p


def test_async_acks(server):
    async def main():
        c = await server.aclient(ack="replicated")
        try:
            with pytest.raises(walld.ReplicationUnavailable) as ei:
                await c.append(b"async replicated", tenant=12)
            lsn = ei.value.lsn
            assert lsn is not None
            a = await c.append(b"async local", tenant=12, ack="local")
            with pytest.raises(walld.ReplicationUnavailable):
                await c.sync()
            assert await c.sync(ack="local") >= a
            res = await c.append_many([b"m1", b"m2"], tenant=12,
                                      return_exceptions=True)
            assert all(isinstance(r, walld.ReplicationUnavailable)
                       for r in res)
            c.ack = "local"
            b = await c.append(b"async client local", tenant=12)
            with pytest.raises(ValueError):
                await c.append(b"x", nowait=True, ack="replicated")
            recs = [r async for r in c.read(from_lsn=lsn, tenant=12)]
            assert [r.payload for r in recs] == [
                b"async replicated", b"async local", b"m1", b"m2",
                b"async client local"]
            assert recs[-1].lsn == b
        finally:
            c.close()

    asyncio.run(main())
