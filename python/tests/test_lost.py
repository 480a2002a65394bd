# SPDX-License-Identifier: Apache-2.0
"""A lost connection: walld killed (SIGKILL by PID) with requests in
flight gives OutcomeUnknown, never a server error; timeouts close the
connection with Timeout; records acknowledged before the kill survive."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import pytest

import walld


def kill_later(w, delay: float) -> threading.Timer:
    t = threading.Timer(delay, w.signal, (signal.SIGKILL,))
    t.start()
    return t


def test_outcome_unknown_when_walld_is_killed(make_walld):
    w = make_walld()
    c = w.client()
    before = c.append(b"durable before the kill")
    w.signal(signal.SIGSTOP)         # the next append gets no reply...
    kill_later(w, 0.3)               # ...and walld dies with it in flight
    with pytest.raises(walld.OutcomeUnknown) as ei:
        c.append(b"in flight")
    e = ei.value
    assert type(e) is walld.OutcomeUnknown
    assert e.outcome_unknown and not isinstance(e, walld.ServerError)
    assert "outcome unknown" in str(e)
    assert c.closed
    with pytest.raises(walld.Disconnected):
        c.ping()
    assert w.wait() == -signal.SIGKILL
    c.close()
    # What was acknowledged is there after a restart.
    w2 = make_walld(data_dir=w.data)
    with w2.client() as c2:
        assert next(iter(c2.read(from_lsn=before, to_lsn=before))).payload \
            == b"durable before the kill"


def test_pipeline_killed_midway(make_walld):
    w = make_walld()
    c = w.client()
    n = 400_000
    out: dict[str, BaseException] = {}

    def run():
        try:
            c.append_many([b"k" * 16] * n)
        except BaseException as e:  # noqa: BLE001 - checked below
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.1)
    w.signal(signal.SIGKILL)
    t.join(60)
    e = out["e"]
    assert isinstance(e, (walld.OutcomeUnknown, walld.Disconnected)), e
    res = e.results
    assert res is not None and len(res) == n
    acked = [r for r in res if isinstance(r, int)]
    lost = [r for r in res if not isinstance(r, int)]
    assert lost, "the pipeline finished before the kill"
    assert all(isinstance(r, (walld.OutcomeUnknown, walld.Disconnected))
               for r in lost)
    assert acked == sorted(acked)
    # Replies come in order: every item after the first lost one is lost.
    first_lost = next(i for i, r in enumerate(res) if not isinstance(r, int))
    assert all(not isinstance(r, int) for r in res[first_lost:])
    assert w.wait() == -signal.SIGKILL
    c.close()
    # Every LSN acknowledged (durable) is in the log after a restart.
    w2 = make_walld(data_dir=w.data)
    with w2.client() as c2:
        if acked:
            got = [r.lsn for r in c2.read(to_lsn=acked[-1])]
            assert got[-len(acked):] == acked


def test_async_outcome_unknown_when_walld_is_killed(make_walld):
    w = make_walld()

    async def main():
        c = await w.aclient()
        await c.append(b"before")
        w.signal(signal.SIGSTOP)
        kill_later(w, 0.3)
        results = await asyncio.gather(
            c.append(b"one"), c.append_many([b"two", b"three"]), c.sync(),
            return_exceptions=True)
        assert type(results[0]) is walld.OutcomeUnknown
        assert isinstance(results[1], walld.OutcomeUnknown)
        assert all(isinstance(r, walld.OutcomeUnknown)
                   for r in results[1].results)
        assert type(results[2]) is walld.OutcomeUnknown
        assert c.closed
        with pytest.raises(walld.Disconnected):
            await c.ping()
        c.close()

    asyncio.run(main())
    assert w.wait() == -signal.SIGKILL


def test_timeout_closes_the_connection(make_walld):
    w = make_walld()
    c = w.client(timeout=0.4)
    c.ping()
    w.signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(walld.Timeout) as ei:
            c.append(b"no answer")
        assert 0.3 < time.monotonic() - t0 < 5
        assert isinstance(ei.value, walld.OutcomeUnknown)
        assert isinstance(ei.value, TimeoutError)
        assert c.closed
        with pytest.raises(walld.Disconnected):
            c.ping()
        # Connecting to a walld that does not answer: ConnectError.
        with pytest.raises(walld.ConnectError):
            walld.Client(w.sock, connect_timeout=0.3)

        async def main():
            a = await w.aclient(timeout=None)
            w.signal(signal.SIGSTOP)
            a.timeout = 0.3
            with pytest.raises(walld.Timeout):
                await a.sync()
            assert a.closed
            with pytest.raises(walld.ConnectError):
                await walld.AsyncClient.connect(w.sock, connect_timeout=0.3)

        w.signal(signal.SIGCONT)
        asyncio.run(main())
    finally:
        w.signal(signal.SIGCONT)
    with w.client() as c2:       # walld itself is fine
        c2.ping()


def test_cancelled_call_keeps_the_connection(server):
    async def main():
        c = await server.aclient()
        r = c.read(from_lsn=1 << 62, follow=True)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await r.__anext__()          # nothing comes: cancelled
        assert not c.closed
        await c.ping()
        await r.cancel()
        c.close()

    asyncio.run(main())
