# SPDX-License-Identifier: Apache-2.0
"""What real walld cannot be made to do: a scripted fake server sends
invalid frames, unknown error codes, an internal error, a hang-up reason.
The client must close the connection and report each case as the right
exception."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import tempfile
import threading
from typing import Callable

import pytest

import walld

HDR = struct.Struct("<IBBHQ")


def frame(op: int, rid: int, body: bytes = b"", flags: int = 0,
          length: int | None = None) -> bytes:
    n = 16 + len(body) if length is None else length
    return HDR.pack(n, op, flags, 0, rid) + body


def error(rid: int, code: int, msg: bytes) -> bytes:
    return frame(0xFF, rid, struct.pack("<HH", code, 0) + msg)


def hello_reply(rid: int, max_record: int = 1000,
                max_frame: int = 1024) -> bytes:
    return frame(0x81, rid, struct.pack("<HHII", 1, 0, max_record,
                                        max_frame) + b"fake 1")


def recv_frame(s: socket.socket) -> tuple[int, int, int, bytes]:
    def exactly(n: int) -> bytes:
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b
    ln, op, flags, _, rid = HDR.unpack(exactly(16))
    return op, flags, rid, exactly(ln - 16)


class Fake:
    """A one-connection server running ``script(sock)`` in a thread."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.dir = tempfile.mkdtemp(prefix="walld-fake.")
        self.path = os.path.join(self.dir, "fake.sock")
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.path)
        self.lsock.listen(4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(script,))
        self.thread.start()

    def _run(self, script: Callable[[socket.socket], None]) -> None:
        try:
            conn, _ = self.lsock.accept()
            with conn:
                script(conn)
        except BaseException as e:  # noqa: BLE001 - reported by close()
            self.error = e

    def close(self) -> None:
        self.thread.join(10)
        self.lsock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)
        if self.error is not None:
            raise self.error


def greet(s: socket.socket) -> None:
    op, _, rid, body = recv_frame(s)
    assert op == 0x01 and body == struct.pack("<HH", 1, 1)
    s.sendall(hello_reply(rid))


def run(script: Callable[[socket.socket], None],
        client: Callable[[str], None]) -> None:
    f = Fake(script)
    try:
        client(f.path)
    finally:
        f.close()


def test_errors_by_code():
    def script(s):
        greet(s)
        for code in (11, 42, 11):
            op, _, rid, _ = recv_frame(s)
            s.sendall(error(rid, code, b"oops %d" % code))
        assert s.recv(1) == b""      # the client closes

    def client(path):
        with walld.Client(path, timeout=5) as c:
            assert c.server_info.server == "fake 1"
            with pytest.raises(walld.InternalError) as ei:
                c.append(b"x")
            assert ei.value.outcome_unknown and ei.value.code == 11
            with pytest.raises(walld.InternalError) as ei:
                c.append(b"y")
            assert ei.value.code == 42 and ei.value.message == "oops 42"
            with pytest.raises(walld.InternalError) as ei:
                c.stats()
            assert not ei.value.outcome_unknown
            assert not c.closed

    run(script, client)


@pytest.mark.parametrize("bad", [
    frame(0x82, 2, b"\0" * 8, length=15),            # length below 16
    frame(0x82, 2, b"\0" * 8, length=1 << 30),       # above the limit
    frame(0x82, 2, b"\0" * 8, flags=1),              # flags in a reply
    frame(0x83, 2, b"\0" * 8),                       # wrong reply op
    frame(0x82, 2, b"\0" * 4),                       # u64 body too short
    frame(0x82, 77, b"\0" * 8),                      # id never sent
    error(2, 0, b"code 0"),                          # error code 0
])
def test_invalid_frames_close_the_connection(bad):
    def script(s):
        greet(s)
        recv_frame(s)
        s.sendall(bad)
        try:
            recv_frame(s)
        except (EOFError, ConnectionResetError):
            pass

    def client(path):
        c = walld.Client(path, timeout=5)
        with pytest.raises(walld.OutcomeUnknown) as ei:
            c.append(b"x")
        assert isinstance(ei.value.__cause__, walld.ProtocolError)
        assert "invalid frame" in str(ei.value)
        assert c.closed
        c.close()

    run(script, client)


def test_invalid_hello_reply():
    def script(s):
        _, _, rid, _ = recv_frame(s)
        s.sendall(hello_reply(rid, max_record=1000, max_frame=1000))

    def client(path):
        with pytest.raises(walld.ProtocolError):
            walld.Client(path, timeout=5)

    run(script, client)


def test_hangup_reason_and_outcome_unknown():
    def script(s):
        greet(s)
        recv_frame(s)
        s.sendall(error(0, 2, b"bad frame: too large"))

    def client(path):
        c = walld.Client(path, timeout=5)
        with pytest.raises(walld.OutcomeUnknown) as ei:
            c.append(b"x")
        assert "walld said: bad frame: too large" in str(ei.value)
        assert isinstance(ei.value.__cause__, walld.TooLarge)
        c.close()

    run(script, client)


def test_request_never_sent_is_disconnected():
    gone = threading.Event()

    def script(s):
        greet(s)
        s.shutdown(socket.SHUT_RDWR)
        gone.set()

    def client(path):
        c = walld.Client(path, timeout=5)
        gone.wait(5)
        with pytest.raises((walld.Disconnected, walld.OutcomeUnknown)) as ei:
            c.append(b"x" * 900)
        # Shut down before anything was sent: nothing reached the server.
        if isinstance(ei.value, walld.Disconnected):
            assert ei.value.retry_safe
        assert c.closed
        with pytest.raises(walld.Disconnected):
            c.ping()

    run(script, client)


def test_async_invalid_frame_and_hangup():
    def script(s):
        greet(s)
        recv_frame(s)
        recv_frame(s)
        s.sendall(error(0, 10, b"going away") + frame(0x89, 99))

    def client(path):
        async def main():
            c = await walld.AsyncClient.connect(path, timeout=5)
            res = await asyncio.gather(c.ping(), c.sync(),
                                       return_exceptions=True)
            for r in res:
                assert isinstance(r, walld.OutcomeUnknown)
                assert isinstance(r.__cause__, walld.ProtocolError)
                assert "walld said: going away" in str(r)
            assert c.closed

        asyncio.run(main())

    run(script, client)


def test_refused_at_accept():
    """walld refusing a connection sends ERROR id 0 BUSY at once and
    closes, before reading the HELLO: both clients raise Busy."""
    for use_async in (False, True):
        def script(s):
            s.sendall(error(0, 10, b"too many connections"))
            s.shutdown(socket.SHUT_RDWR)

        def client(path):
            if use_async:
                async def main():
                    with pytest.raises(walld.Busy) as ei:
                        await walld.AsyncClient.connect(path, timeout=5)
                    return ei.value
                e = asyncio.run(main())
            else:
                with pytest.raises(walld.Busy) as ei:
                    walld.Client(path, timeout=5)
                e = ei.value
            assert e.message == "too many connections" and e.retry_safe

        run(script, client)


def recorder(seen: list[tuple[int, int]]) -> Callable[[socket.socket], None]:
    """A fake walld that answers every APPEND and SYNC with LSN 1 and notes
    the op and flags of each, until the client hangs up."""
    def script(s: socket.socket) -> None:
        greet(s)
        while True:
            try:
                op, flags, rid, _ = recv_frame(s)
            except EOFError:
                return
            seen.append((op, flags))
            s.sendall(frame(op | 0x80, rid, struct.pack("<Q", 1)))
    return script


@pytest.mark.parametrize("default", [None, "local", "replicated"])
def test_ack_flags_on_the_wire(default):
    """Every way of asking for a level puts at most one level flag on an
    APPEND or SYNC (walld closes the connection on REPLICATED and LOCAL
    together), and none on a nowait APPEND: the call's level, else the
    client's."""
    seen: list[tuple[int, int]] = []
    flag = {None: 0, "local": 0x04, "replicated": 0x02}
    want: list[tuple[int, int]] = []

    def client(path):
        with walld.Client(path, timeout=5, ack=default) as c:
            for kw in ({}, {"ack": None}, {"ack": "local"},
                       {"ack": "replicated"}):
                f = flag[kw.get("ack", default)]
                c.append(b"x", **kw)
                c.append_many([b"y", b"z"], **kw)
                c.sync(**kw)
                want.extend([(2, f)] * 3 + [(3, f)])
                if kw.get("ack") is None:
                    c.append(b"n", nowait=True, **kw)
                    c.append_many([b"m"], nowait=True, **kw)
                    want.extend([(2, 1)] * 2)

    run(recorder(seen), client)
    assert seen == want
    assert all(f & 0x06 != 0x06 for _, f in seen)


def test_async_ack_flags_on_the_wire():
    seen: list[tuple[int, int]] = []

    def client(path):
        async def main():
            c = await walld.AsyncClient.connect(path, timeout=5,
                                                ack="replicated")
            await c.append(b"f")
            await c.append_many([b"g"])
            await c.sync()
            await c.append(b"h", nowait=True)
            await c.append(b"i", ack="local")
            await c.sync(ack=None)
            c.close()

        asyncio.run(main())

    run(recorder(seen), client)
    assert seen == [(2, 2), (2, 2), (3, 2), (2, 1), (2, 4), (3, 0)]


def test_replication_errors_from_the_server():
    def script(s):
        greet(s)
        _, _, rid, _ = recv_frame(s)
        s.sendall(error(rid, 13, b"1000 records durable here are not "
                        b"replicated yet"))
        _, _, rid, _ = recv_frame(s)
        s.sendall(error(rid, 12, b"LSN 77 is durable on this machine but "
                        b"not replicated"))
        _, _, rid, _ = recv_frame(s)
        s.sendall(frame(0x89, rid))
        assert s.recv(1) == b""

    def client(path):
        with walld.Client(path, timeout=5) as c:
            with pytest.raises(walld.ReplicationBacklog) as eb:
                c.append(b"x")
            assert eb.value.retry_safe and not eb.value.outcome_unknown
            assert "not replicated yet" in eb.value.message
            with pytest.raises(walld.ReplicationUnavailable) as eu:
                c.append(b"y", ack="replicated")
            assert eu.value.lsn == 77 and not eu.value.outcome_unknown
            c.ping()
            assert not c.closed

    run(script, client)
