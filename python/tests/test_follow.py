# SPDX-License-Identifier: Apache-2.0
"""Follow reads: a reader following while other clients append."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import walld


def test_follow_while_another_client_appends(server):
    tenant = 4001
    with server.client() as w:
        start = w.sync() + 1
    got: list[walld.Record] = []
    errors: list[BaseException] = []
    ready = threading.Event()
    want = 600

    def follower():
        try:
            with server.client() as c:
                with c.read(from_lsn=start, tenant=tenant,
                            follow=True) as r:
                    ready.set()
                    for rec in r:
                        got.append(rec)
                        if len(got) == want:
                            break
                assert r.ended
                c.ping()
        except BaseException as e:  # noqa: BLE001 - checked below
            errors.append(e)
            ready.set()

    t = threading.Thread(target=follower)
    t.start()
    ready.wait(10)
    mine = []
    with server.client() as w:
        for i in range(100):
            mine.append(w.append(b"single %d" % i, tenant=tenant))
            w.append(b"someone else's", tenant=tenant + 1)
            if i % 25 == 0:
                time.sleep(0.01)
        mine += w.append_many([b"piped %d" % i for i in range(400)],
                              tenant=tenant)
        w.append_many([b"other"] * 200, tenant=tenant + 1)
        mine += w.append_many([b"promised %d" % i for i in range(100)],
                              tenant=tenant, nowait=True)
        w.sync()
    t.join(30)
    assert not t.is_alive(), "the follower never saw every record"
    assert not errors, errors
    assert [r.lsn for r in got] == mine
    assert got[0].payload == b"single 0"
    assert got[-1].payload == b"promised 99"
    assert {r.tenant for r in got} == {tenant}


def test_follow_until_to_lsn(server):
    with server.client() as c:
        nxt = c.sync() + 1
        r = c.read(from_lsn=nxt, to_lsn=nxt + 2, follow=True)
        assert r.get(0.2) is None and not r.ended   # nothing yet, still on
        with server.client() as w:
            lsns = w.append_many([b"1", b"2", b"3", b"4"])
        assert lsns[0] == nxt
        recs = list(r)      # ends by itself once "to" is passed
        assert [x.lsn for x in recs] == lsns[:3]
        assert r.ended and r.next_lsn == nxt + 3


def test_async_follow_while_another_client_appends(server):
    tenant = 4101

    async def main():
        c = await server.aclient()
        w = await server.aclient()
        start = await w.sync() + 1
        want = 300
        got = []

        async def follow():
            async with c.read(from_lsn=start, tenant=tenant,
                              follow=True) as r:
                async for rec in r:
                    got.append(rec)
                    if len(got) == want:
                        break

        task = asyncio.create_task(follow())
        await asyncio.sleep(0.05)
        mine = []
        for i in range(50):
            mine.append(await w.append(b"a%d" % i, tenant=tenant))
            await w.append(b"not mine", tenant=tenant + 1)
        mine += await w.append_many([b"b"] * 250, tenant=tenant)
        async with asyncio.timeout(30):
            await task
        assert [r.lsn for r in got] == mine
        # The connection is still good for other work after the cancel.
        await c.ping()
        r2 = c.read(from_lsn=1 << 62, follow=True)
        assert await r2.get(0.1) is None and not r2.ended
        await r2.cancel()
        assert r2.ended
        c.close()
        w.close()

    asyncio.run(main())


def test_follow_ended_by_walld_stopping(make_walld):
    w = make_walld()
    with w.client() as c:
        lsn = c.append(b"one")
        r = c.read(from_lsn=lsn, follow=True)
        assert next(r).lsn == lsn
        assert r.get(0.1) is None and not r.ended
        w.signal(signal.SIGTERM)
        # walld ends the read itself (READ_END), then closes: a normal end,
        # with the LSN to go on from on a new connection.
        assert list(r) == []
        assert r.ended and r.next_lsn == lsn + 1
    assert w.wait() == 0
