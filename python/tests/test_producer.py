# SPDX-License-Identifier: Apache-2.0
"""Idempotent appends (walld.Producer, protocol version 2): a record sent
again under its number is written once, across walld killed (SIGKILL by
PID) and restarted mid-stream; definite refusals leave the number free; an
append given up on stays pending until resume() settles it."""

from __future__ import annotations

import signal
import threading
import time

import pytest

import walld


def payloads(w, first: int = 1) -> list[tuple[int, bytes]]:
    """Every record of w's log from LSN first: (LSN, payload)."""
    with w.client() as c:
        return [(r.lsn, r.payload) for r in c.read(from_lsn=first)]


def test_numbers_and_a_retry_answered_with_the_first_lsn(server):
    with walld.Producer(server.sock, tenant=3) as p:
        assert p.producer_id != 0 and p.next_seq == 1
        lsns = [p.append(b"rec %d" % i, type=2, vshard=1) for i in range(5)]
        assert lsns == sorted(lsns) and len(set(lsns)) == 5
        assert p.next_seq == 6 and not p.pending and p.retries == 0
        pid = p.producer_id
    with server.client() as c:
        before = c.stats()["next_lsn"]
    # The same producer again from number 3: walld recognises 3 and 4 and
    # writes nothing; 6 is new.
    with walld.Producer(server.sock, producer_id=pid, tenant=3,
                        next_seq=3) as q:
        assert q.append(b"rec 2") == lsns[2]
        assert q.append(b"rec 3") == lsns[3]
        with server.client() as c:
            assert c.stats()["next_lsn"] == before
    # Under another tenant the same id is another producer.
    with walld.Producer(server.sock, producer_id=pid, tenant=4,
                        next_seq=3) as o:
        assert o.append(b"other tenant") >= before
    recs = dict(payloads(server, lsns[0]))
    assert [recs[n] for n in lsns] == [b"rec %d" % i for i in range(5)]


def test_out_of_sequence_leaves_the_number_free(server):
    with walld.Producer(server.sock, tenant=5) as p:
        p.append(b"one")
        pid = p.producer_id
    with walld.Producer(server.sock, producer_id=pid, tenant=5,
                        next_seq=40) as q:
        with pytest.raises(walld.OutOfSequence) as ei:
            q.append(b"a gap")
        assert ei.value.code == 15 and "nothing was written" in str(ei.value)
        assert q.next_seq == 40 and not q.pending
    with walld.Producer(server.sock, producer_id=pid, tenant=5,
                        next_seq=2) as r:
        r.append(b"two")
        assert r.next_seq == 3


def test_definite_refusal_leaves_the_number_free(make_walld):
    w = make_walld()
    with walld.Producer(w.sock) as p:
        first = p.append(b"before the seal")
        with w.client() as c:
            c.seal()
        with pytest.raises(walld.Sealed):
            p.append(b"after the seal")
        assert p.next_seq == 2 and not p.pending
        # A retry of a record in the log is answered even when sealed.
    with walld.Producer(w.sock, producer_id=p.producer_id) as q:
        assert q.append(b"before the seal") == first
    with pytest.raises(ValueError):
        walld.Producer(w.sock, producer_id=0)
    with pytest.raises(walld.TooLarge):
        with walld.Producer(w.sock) as big:
            big.append(b"x" * (big._client.max_record + 1))


def test_walld_killed_and_restarted_mid_stream_writes_each_record_once(
        make_walld):
    w = make_walld()
    n = 3000
    got: list[int] = []
    out: dict[str, BaseException] = {}
    p = walld.Producer(w.sock, tenant=9, retry_for=60, timeout=10)

    def run() -> None:
        try:
            for i in range(n):
                got.append(p.append(b"record %06d" % i))
        except BaseException as e:  # noqa: BLE001 - checked below
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    for kill in range(3):
        # Wait for appends to flow, then kill walld with some in flight.
        mark = len(got)
        end = time.monotonic() + 20
        while len(got) < mark + 200 and t.is_alive():
            assert time.monotonic() < end, "appends stopped flowing"
            time.sleep(0.005)
        w.stop()                         # SIGKILL by PID
        assert w.proc is not None and w.proc.returncode == -signal.SIGKILL
        time.sleep(0.2)                  # the producer retries meanwhile
        w.start()
    t.join(120)
    assert not t.is_alive(), "the producer did not finish"
    p.close()
    assert "e" not in out, f"the producer failed: {out.get('e')!r}"
    assert len(got) == n and p.retries >= 3
    log = payloads(w)
    # Each record once, in order, at the LSN its append returned: nothing
    # duplicated by the resends, nothing lost.
    assert [pl for _, pl in log] == [b"record %06d" % i for i in range(n)]
    assert [lsn for lsn, _ in log] == got


def test_given_up_then_resumed(make_walld):
    w = make_walld()
    p = walld.Producer(w.sock, retry_for=0.5)
    first = p.append(b"first")
    w.stop()                             # SIGKILL: walld is down
    with pytest.raises(walld.OutcomeUnknown):
        p.append(b"second")
    assert p.pending and p.next_seq == 2 and p.retries >= 1
    with pytest.raises(walld.ProducerPending):
        p.append(b"third")
    w.start()
    second = p.resume()
    assert second is not None and second > first and not p.pending
    assert p.resume() is None
    third = p.append(b"third")
    p.close()
    assert [pl for _, pl in payloads(w)] == [b"first", b"second", b"third"]
    assert third == second + 1


def test_async_producer_killed_restarted_and_cancelled(make_walld):
    """AsyncProducer: tasks sharing it are numbered in turn; walld killed
    and restarted mid-stream writes each record once; a cancelled append
    stays pending until resume()."""
    import asyncio

    w = make_walld()

    async def main() -> tuple[list[int], int]:
        async with walld.AsyncProducer(w.sock, tenant=2, retry_for=60) as p:
            lsns = await asyncio.gather(
                *(p.append(b"task %d" % i) for i in range(50)))
            assert sorted(lsns) == list(lsns) and p.next_seq == 51
            w.stop()                     # SIGKILL by PID
            later = asyncio.create_task(p.append(b"across the restart"))
            await asyncio.sleep(0.3)     # it retries meanwhile
            assert not later.done()
            w.start()
            across = await later
            assert p.retries >= 1 and across > lsns[-1]
            # A cancelled append stays pending: its record may be in the log.
            w.signal(signal.SIGSTOP)     # no reply comes...
            cancelled = asyncio.create_task(p.append(b"cancelled"))
            await asyncio.sleep(0.3)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            assert p.pending
            with pytest.raises(walld.ProducerPending):
                await p.append(b"refused while pending")
            w.signal(signal.SIGCONT)
            settled = await p.resume()
            assert settled is not None and await p.resume() is None
            return list(lsns) + [across, settled], p.next_seq

    got, next_seq = asyncio.run(main())
    assert next_seq == 53
    log = payloads(w)
    assert [pl for _, pl in log] == \
        [b"task %d" % i for i in range(50)] + [b"across the restart",
                                               b"cancelled"]
    assert [lsn for lsn, _ in log] == got
