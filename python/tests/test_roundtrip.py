# SPDX-License-Identifier: Apache-2.0
"""Round trips against a real walld: appends and reads of binary payloads,
pipelining, append-then-sync, stats, ping; blocking and asyncio."""

from __future__ import annotations

import asyncio
import os

import pytest

import walld

ALL_BYTES = bytes(range(256))


def read_one(c: walld.Client, lsn: int) -> walld.Record:
    recs = list(c.read(from_lsn=lsn, to_lsn=lsn))
    assert len(recs) == 1, recs
    return recs[0]


def test_hello_and_limits(server):
    with server.client() as c:
        info = c.server_info
        assert info.version == 1
        assert info.max_record == c.max_record >= 1
        assert info.max_frame >= info.max_record + 24
        assert info.server.startswith("walld ")
        assert c.ping() is None
        assert not c.closed
    assert c.closed


def test_socket_from_environment(server, monkeypatch):
    monkeypatch.setenv("WALLD_SOCKET", server.sock)
    assert walld.default_socket() == server.sock
    with walld.Client() as c:
        assert c.path == server.sock
        c.ping()
    monkeypatch.delenv("WALLD_SOCKET")
    assert walld.default_socket() == "/run/walld/walld.sock"


def test_binary_payloads_round_trip(server):
    payloads = [ALL_BYTES, b"", ALL_BYTES * 64, bytes([0]) * 7,
                bytes(reversed(ALL_BYTES)), b"\n\r\0\xff"]
    with server.client() as c:
        lsns = [c.append(p, type=i, vshard=1000 + i, tenant=7)
                for i, p in enumerate(payloads)]
        assert lsns == sorted(lsns) and len(set(lsns)) == len(lsns)
        for i, (lsn, p) in enumerate(zip(lsns, payloads)):
            rec = read_one(c, lsn)
            assert rec == walld.Record(lsn, i, 1000 + i, 7, p)
            assert type(rec.payload) is bytes


def test_payload_types_and_header_extremes(server):
    with server.client() as c:
        a = c.append(bytearray(ALL_BYTES), type=65535, vshard=65535,
                     tenant=4294967295)
        b = c.append(memoryview(ALL_BYTES)[10:20])
        arr = memoryview(bytes(8)).cast("I")     # 2 elements of 4 bytes
        d = c.append(arr)
        assert read_one(c, a) == (a, 65535, 65535, 4294967295, ALL_BYTES)
        assert read_one(c, b).payload == ALL_BYTES[10:20]
        assert read_one(c, d).payload == bytes(8)
        for bad in ({"type": 65536}, {"vshard": -1}, {"tenant": 1 << 32},
                    {"type": 1.5}):
            with pytest.raises(ValueError):
                c.append(b"x", **bad)
        with pytest.raises(TypeError):
            c.append("text is not bytes")  # type: ignore[arg-type]
        c.ping()   # nothing of the refused calls was sent


def test_largest_record(server):
    with server.client() as c:
        big = os.urandom(c.max_record)
        lsn = c.append(big, tenant=3)
        assert read_one(c, lsn).payload == big
        with pytest.raises(walld.TooLarge) as ei:
            c.append(big + b"!")
        assert "not sent" in str(ei.value)
        assert not c.closed
        c.ping()


def test_pipeline_thousands(server):
    n = 20000
    payloads = [i.to_bytes(4, "little") + ALL_BYTES[: i % 200]
                for i in range(n)]
    with server.client() as c:
        lsns = c.append_many(payloads, type=9, vshard=3, tenant=11)
        assert len(lsns) == n
        assert all(b > a for a, b in zip(lsns, lsns[1:]))
        # Everything came back durable: the durable LSN covers it.
        assert c.sync() >= lsns[-1]
        got = list(c.read(from_lsn=lsns[0], to_lsn=lsns[-1], tenant=11,
                          type=9))
        sent = set(lsns)
        mine = [r for r in got if r.lsn in sent]
        assert [r.payload for r in mine] == payloads
        assert {(r.type, r.vshard, r.tenant) for r in mine} == {(9, 3, 11)}


def test_pipeline_entries_and_generators(server):
    with server.client() as c:
        items = [walld.Entry(b"a", tenant=1), (b"b", 2, 3, 4), b"c",
                 walld.Entry(memoryview(b"dd"), type=5)]
        lsns = c.append_many(iter(items), tenant=99)
        recs = [read_one(c, lsn) for lsn in lsns]
        assert [(r.payload, r.type, r.vshard, r.tenant) for r in recs] == [
            (b"a", 0, 0, 1), (b"b", 2, 3, 4), (b"c", 0, 0, 99),
            (b"dd", 5, 0, 0)]
        assert c.append_many([]) == []
        with pytest.raises(TypeError):
            c.append_many(b"one payload")


def test_pipeline_failure_keeps_the_others(server):
    with server.client() as c:
        items = [b"1", b"x" * (c.max_record + 1), b"3"]
        with pytest.raises(walld.TooLarge) as ei:
            c.append_many(items)
        res = ei.value.results
        assert isinstance(res[0], int) and isinstance(res[2], int)
        assert isinstance(res[1], walld.TooLarge)
        res2 = c.append_many(items, return_exceptions=True)
        assert isinstance(res2[1], walld.TooLarge) and res2[2] > res[2]


def test_append_nowait_then_sync(server):
    with server.client() as c:
        lsns = [c.append(b"promise %d" % i, nowait=True) for i in range(50)]
        assert lsns == sorted(lsns)
        more = c.append_many([b"p"] * 2000, nowait=True)
        durable = c.sync()
        assert durable >= more[-1] > lsns[-1]
        assert read_one(c, lsns[7]).payload == b"promise 7"


def test_stats(server):
    with server.client() as c:
        c.append(b"counted")
        s = c.stats()
        assert isinstance(s["next_lsn"], int) and s["next_lsn"] > 1
        assert isinstance(s["appends_total"], int)
        assert s["state"] == "read-write"
        assert isinstance(s["version"], str)
        assert s["durable_lsn"] <= s["next_lsn"] - 1
        assert "next_lsn " in c.stats_text()


def test_rotate(server):
    with server.client() as c:
        last = c.append(b"before rotate")
        first = c.rotate()
        assert first == last + 1 or first > last
        assert c.append(b"after rotate") >= first


def test_read_filters(server):
    with server.client() as c:
        start = c.sync() + 1
        spec = [(t, v, ty) for t in (301, 302) for v in (1, 2)
                for ty in (7, 8)]
        lsns = c.append_many([walld.Entry(b"%d/%d/%d" % (t, v, ty), ty, v, t)
                              for (t, v, ty) in spec])

        def got(**kw):
            return [r.lsn for r in c.read(from_lsn=start, **kw)
                    if r.lsn in lsns]

        assert got() == lsns
        assert got(tenant=301) == lsns[:4]
        assert got(tenant=302, vshard=2) == lsns[6:8]
        assert got(tenant=301, vshard=1, type=8) == [lsns[1]]
        assert got(type=7) == lsns[0::2]
        assert [r.lsn for r in c.read(from_lsn=lsns[2], to_lsn=lsns[4])] \
            == lsns[2:5]
        r = c.read(from_lsn=lsns[-1])
        assert [x.lsn for x in r][-1] >= lsns[-1]
        assert r.ended and r.next_lsn is not None and r.next_lsn > lsns[-1]


def test_calls_while_reading(server):
    with server.client() as c:
        lsns = c.append_many([b"r%d" % i for i in range(3000)])
        seen = []
        reader = c.read(from_lsn=lsns[0], to_lsn=lsns[-1])
        for i, rec in enumerate(reader):
            seen.append(rec.lsn)
            if i % 500 == 0:
                c.ping()
                seen_lsn = c.append(b"meanwhile")
                assert seen_lsn > lsns[-1]
        assert seen == lsns


def test_reader_cancel(server):
    with server.client() as c:
        lsns = c.append_many([b"c"] * 5000)
        with c.read(from_lsn=lsns[0]) as r:
            first = next(r)
            assert first.lsn == lsns[0]
        assert r.ended
        assert list(r) == []
        c.ping()


def test_async_round_trips(server):
    async def main():
        c = await server.aclient()
        try:
            assert c.server_info is not None and c.max_record >= 1
            await c.ping()
            a = await c.append(ALL_BYTES, type=1, vshard=2, tenant=3)
            e = await c.append(b"")
            p = await c.append(b"later", nowait=True)
            assert await c.sync() >= p
            recs = [r async for r in c.read(from_lsn=a, to_lsn=p)]
            assert [(r.lsn, r.payload) for r in recs] == [
                (a, ALL_BYTES), (e, b""), (p, b"later")]
            assert recs[0][1:4] == (1, 2, 3)
            lsns = await c.append_many([b"%d" % i for i in range(5000)],
                                       tenant=5)
            assert all(y > x for x, y in zip(lsns, lsns[1:]))
            # Many tasks sharing the connection.
            many = await asyncio.gather(*(c.append(b"t%d" % i)
                                          for i in range(500)))
            assert len(set(many)) == 500
            s = await c.stats()
            assert s["next_lsn"] > max(many)
            assert await c.rotate() > max(many)
            with pytest.raises(walld.TooLarge):
                await c.append(b"x" * (c.max_record + 1))
        finally:
            c.close()
        assert c.closed

    asyncio.run(main())


def test_async_context_manager_and_reader_cancel(server):
    async def main():
        async with walld.AsyncClient(server.sock, timeout=20) as c:
            lsns = await c.append_many([b"z"] * 3000)
            async with c.read(from_lsn=lsns[0]) as r:
                rec = await r.__anext__()
                assert rec.lsn == lsns[0]
            assert r.ended
            await c.ping()
        assert c.closed

    asyncio.run(main())
