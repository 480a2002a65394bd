# SPDX-License-Identifier: Apache-2.0
"""The asyncio client: :class:`AsyncClient` and its read iterator
:class:`AsyncReader`."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any, Callable, Iterable, Sequence

from . import _core
from ._core import (
    CLIENT_ACK,
    OP_CURSOR_COMMIT,
    OP_CURSOR_CREATE,
    OP_CURSOR_DROP,
    OP_CURSOR_GET,
    OP_CURSOR_LIST,
    OP_PING,
    OP_ROTATE,
    OP_SEAL,
    OP_STATS,
    OP_SYNC,
    Core,
    Cursor,
    Record,
    ServerInfo,
    Stream,
    ack_flag,
    append_flags,
    batch_outcome,
    check_u,
    parse_stats,
)
from .client import default_socket
from .errors import ConnectError, ProtocolError, ServerError

__all__ = ["AsyncClient", "AsyncReader"]

_FOLLOW_DEFAULT: Any = object()


class _Protocol(asyncio.BufferedProtocol):
    """Feeds the engine straight from the socket, into its buffer."""

    def __init__(self, client: "AsyncClient") -> None:
        self._client = client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._client._transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._client._core.recv_room()

    def buffer_updated(self, nbytes: int) -> None:
        core = self._client._core
        core.received(nbytes)
        if core.closed:
            self._client._lost(core.close_reason)

    def eof_received(self) -> bool:
        c = self._client
        t = c._transport
        if t is not None:
            # What the transport still holds never reached walld.
            c._core.sent = c._core.queued - t.get_write_buffer_size()
        c._lost("walld closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self._drain()
        if exc is None:
            self._client._lost("walld closed the connection")
        else:
            self._client._lost(f"connection to walld lost: {exc}", exc)

    def _drain(self) -> None:
        # A write failed (walld closed): the transport stopped reading, but
        # walld may have said why first (an ERROR frame). Read what is left
        # from a duplicate of the descriptor, which is still open here.
        core = self._client._core
        t = self._client._transport
        if t is None or core.closed:
            return
        try:
            s = socket.socket(fileno=os.dup(t.get_extra_info("socket")
                                            .fileno()))
        except (OSError, AttributeError):
            return
        with s:
            s.setblocking(False)
            while not core.closed:
                room = core.recv_room()
                try:
                    n = s.recv_into(room)
                except OSError:
                    return
                finally:
                    del room
                if n == 0:
                    return
                core.received(n)

    def pause_writing(self) -> None:
        self._client._paused = True

    def resume_writing(self) -> None:
        self._client._paused = False
        self._client._wake_drain()


class AsyncClient:
    """An asyncio connection to walld, with the operations of
    :class:`walld.Client` as coroutines.

    Make one with ``await AsyncClient.connect(path)``, or
    ``async with AsyncClient(path) as c:`` (which connects on entry and
    closes on exit). ``path`` defaults to :func:`walld.default_socket`.

    ``timeout`` (seconds, None for no limit) bounds every call; when it
    expires the call raises :class:`walld.Timeout` (an
    :class:`walld.OutcomeUnknown`) and the connection is closed. Cancelling
    a call (e.g. with ``asyncio.timeout``) leaves the connection open: the
    request stays in flight and its reply is dropped.

    ``ack`` is the default acknowledgement level of waiting appends and
    syncs, as for :class:`walld.Client`.

    Many tasks may share one client: their requests are pipelined on the
    connection and replies are matched by request id.
    """

    def __init__(self, path: str | None = None, *,
                 timeout: float | None = None,
                 connect_timeout: float | None = 10.0,
                 ack: str | None = None, protocol: int = 1,
                 versions: tuple[int, int] | None = None) -> None:
        #: The socket path this client connects to.
        self.path: str = path if path is not None else default_socket()
        #: Seconds each call may take (None: no limit).
        self.timeout: float | None = timeout
        self._ack_flag = ack_flag(ack)
        self._ack = ack
        #: What walld said in its HELLO reply; None until connected.
        self.server_info: ServerInfo | None = None
        self._connect_timeout = connect_timeout
        self._versions = versions or (protocol, protocol)
        self._core = Core()
        self._transport: asyncio.WriteTransport | None = None
        self._paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    @classmethod
    async def connect(cls, path: str | None = None, *,
                      timeout: float | None = None,
                      connect_timeout: float | None = 10.0,
                      ack: str | None = None, protocol: int = 1,
                      versions: tuple[int, int] | None = None
                      ) -> "AsyncClient":
        """Makes a client and connects it (see :meth:`open`)."""
        c = cls(path, timeout=timeout, connect_timeout=connect_timeout,
                ack=ack, protocol=protocol, versions=versions)
        await c.open()
        return c

    async def open(self) -> None:
        """Connects to walld and does the HELLO exchange within
        ``connect_timeout``; raises :class:`walld.ConnectError` when walld
        cannot be reached, :class:`walld.Busy` when it refuses more
        connections."""
        if self._transport is not None or self._core.closed:
            raise RuntimeError("AsyncClient.open: already opened")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                await loop.create_unix_connection(lambda: _Protocol(self),
                                                  self.path)
        except OSError as e:
            why = "timed out" if isinstance(e, TimeoutError) else \
                (e.strerror or str(e))
            raise ConnectError(f"cannot connect to walld at {self.path}: "
                               f"{why}") from e
        assert self._transport is not None
        self._core.writer = self._transport.write
        req = self._core.hello(*self._versions)
        try:
            await self._wait(req, lambda: req.done, self._connect_timeout)
        except BaseException:
            self.close()
            raise
        if req.error is not None:
            self.close()
            if isinstance(req.error.__cause__, ProtocolError):
                raise req.error.__cause__
            if not isinstance(req.error, ServerError):
                raise ConnectError(f"hello to walld at {self.path}: "
                                   f"{req.error}") from req.error
            raise req.error
        self.server_info = req.value

    # ------------------------------------------------------------- I/O

    def _lost(self, reason: str, cause: BaseException | None = None,
              timed_out: object = None) -> None:
        self._core.fail(reason, cause=cause, timed_out=timed_out)
        if self._transport is not None:
            self._transport.abort()
        self._wake_drain()

    def _wake_drain(self) -> None:
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._paused and not self._core.closed:
            self._drain_waiter = loop.create_future()
            await self._drain_waiter

    async def _wait(self, obj: Any, cond: Callable[[], Any],
                    timeout: float | None, soft: bool = False) -> bool:
        """Waits until cond() (obj's waiter wakes us); False when timeout
        passed first. A soft timeout only returns; otherwise the connection
        is closed and obj fails with Timeout."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while not cond() and not self._core.closed:
                    obj.waiter = loop.create_future()
                    await obj.waiter
        except TimeoutError:
            if cond():
                return True
            if not soft:
                self._lost("timed out waiting for walld", None, obj)
            return False
        return True

    async def _call(self, req: _core.Req) -> Any:
        await self._wait(req, lambda: req.done, self.timeout)
        if req.error is not None:
            raise req.error
        return req.value

    async def _u64(self, req: _core.Req) -> int:
        v = await self._call(req)
        assert isinstance(v, int)
        return v

    async def _text(self, req: _core.Req) -> str:
        v = await self._call(req)
        assert isinstance(v, str)
        return v

    # ------------------------------------------------------- operations

    @property
    def closed(self) -> bool:
        """True once the connection is closed (by close(), or lost)."""
        return self._core.closed

    @property
    def max_record(self) -> int:
        """The largest payload walld accepts (from its HELLO reply)."""
        if self.server_info is None:
            raise RuntimeError("not connected")
        return self.server_info.max_record

    @property
    def ack(self) -> str | None:
        """The acknowledgement level of waiting appends and syncs that do
        not give their own (see :attr:`walld.Client.ack`)."""
        return self._ack

    @ack.setter
    def ack(self, ack: str | None) -> None:
        self._ack_flag = ack_flag(ack)
        self._ack = ack

    def _check(self) -> Core:
        if self._transport is None:
            raise RuntimeError("AsyncClient: not connected; await open()")
        return self._core

    async def append(self, payload: bytes | bytearray | memoryview, *,
                     type: int = 0, vshard: int = 0, tenant: int = 0,
                     nowait: bool = False,
                     ack: str | None = CLIENT_ACK) -> int:
        """Appends one record and returns its LSN: durable without
        ``nowait``, a promise with it; ``ack`` as in
        :meth:`walld.Client.append`."""
        return await self._u64(self._check().append(
            payload, type, vshard, tenant,
            append_flags(nowait, ack, self._ack_flag)))

    async def append_many(self, items: Iterable[Any], *, type: int = 0,
                          vshard: int = 0, tenant: int = 0,
                          nowait: bool = False,
                          ack: str | None = CLIENT_ACK,
                          return_exceptions: bool = False) -> list[Any]:
        """Pipelines many appends and returns their LSNs in order; items,
        ``ack`` and failures as in :meth:`walld.Client.append_many`."""
        check_u("type", type, 16)
        check_u("vshard", vshard, 16)
        check_u("tenant", tenant, 32)
        flags = append_flags(nowait, ack, self._ack_flag)
        if isinstance(items, (bytes, bytearray, memoryview, str)):
            raise TypeError("append_many takes an iterable of payloads, "
                            "not one payload")
        if not isinstance(items, Sequence):
            items = list(items)
        core = self._check()
        b = core.batch(len(items))
        n = len(items)
        i = 0
        try:
            async with asyncio.timeout(self.timeout):
                while i < n and not core.closed:
                    i = core.encode_chunk(b, items, i, flags, type, vshard,
                                          tenant)
                    # Let replies in between chunks; wait while the
                    # transport has too much to send.
                    await asyncio.sleep(0)
                    if self._paused:
                        await self._drain()
                loop = asyncio.get_running_loop()
                while not b.done and not core.closed:
                    b.waiter = loop.create_future()
                    await b.waiter
        except TimeoutError:
            if not b.done:
                self._lost("timed out waiting for walld", None, b)
        return batch_outcome(b, return_exceptions)

    async def sync(self, *, ack: str | None = CLIENT_ACK) -> int:
        """Waits until everything this connection sent before is durable
        (and replicated, with ``ack='replicated'``); returns the durable
        LSN (see :meth:`walld.Client.sync`)."""
        flags = self._ack_flag if ack is CLIENT_ACK else ack_flag(ack)
        return await self._u64(self._check().simple(OP_SYNC, flags))

    async def seal(self) -> int:
        """Seals the log; returns its last LSN (see
        :meth:`walld.Client.seal`)."""
        return await self._u64(self._check().simple(OP_SEAL))

    async def rotate(self) -> int:
        """Starts a new segment; returns its first LSN (see
        :meth:`walld.Client.rotate`)."""
        return await self._u64(self._check().simple(OP_ROTATE))

    async def truncate(self, before: int, *, force: bool = False) -> int:
        """Deletes whole sealed segments below ``before``; returns the
        log's first LSN afterwards (see :meth:`walld.Client.truncate`)."""
        return await self._u64(self._check().truncate(before, force))

    async def cursor_create(self, name: str, lsn: int = 0) -> int:
        """Creates cursor ``name`` at ``lsn`` if it is missing; its LSN
        (see :meth:`walld.Client.cursor_create`)."""
        return await self._u64(self._check().cursor(OP_CURSOR_CREATE, name,
                                                    lsn))

    async def cursor_commit(self, name: str, lsn: int) -> int:
        """Moves cursor ``name`` forward to ``lsn``, durably."""
        return await self._u64(self._check().cursor(OP_CURSOR_COMMIT, name,
                                                    lsn))

    async def cursor_get(self, name: str) -> Cursor:
        """Cursor ``name`` as walld keeps it."""
        lsn, ms = await self._call(self._check().cursor(OP_CURSOR_GET, name))
        return Cursor(name, lsn, ms)

    async def cursors(self) -> list[Cursor]:
        """Every cursor, sorted by name."""
        out: list[Cursor] = []
        after = ""
        while True:
            got, more = await self._call(self._check().cursor(
                OP_CURSOR_LIST, after))
            out += got
            if not more or not got:
                return out
            after = got[-1].name

    async def cursor_drop(self, name: str) -> int:
        """Removes cursor ``name``; the LSN it had."""
        return await self._u64(self._check().cursor(OP_CURSOR_DROP, name))

    async def stats(self) -> dict[str, int | str]:
        """walld's metrics as a dict (see :meth:`walld.Client.stats`)."""
        return parse_stats(await self._text(self._check().simple(OP_STATS)))

    async def stats_text(self) -> str:
        """walld's metrics as the raw text of the STATS reply."""
        return await self._text(self._check().simple(OP_STATS))

    async def ping(self) -> None:
        """Checks that walld is there and ready to serve requests."""
        await self._call(self._check().simple(OP_PING))

    def read(self, from_lsn: int = 0, to_lsn: int = 0, *,
             tenant: int | None = None, vshard: int | None = None,
             type: int | None = None, follow: bool = False,
             timeout: float | None = _FOLLOW_DEFAULT) -> "AsyncReader":
        """Starts a read at once and returns its :class:`AsyncReader`, an
        async iterator of :class:`walld.Record`; arguments as in
        :meth:`walld.Client.read`."""
        if timeout is _FOLLOW_DEFAULT:
            timeout = None if follow else self.timeout
        st = self._check().read(from_lsn, to_lsn, tenant, vshard, type,
                                follow)
        return AsyncReader(self, st, timeout)

    def close(self) -> None:
        """Closes the connection at once. Requests in flight fail with
        :class:`walld.OutcomeUnknown`, readers with
        :class:`walld.Disconnected`."""
        self._core.fail("closed by the client")
        if self._transport is not None:
            self._transport.abort()
        self._wake_drain()

    async def __aenter__(self) -> "AsyncClient":
        if self._transport is None:
            await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<walld.AsyncClient {self.path!r} {state}>"


class AsyncReader:
    """The records of one read, in LSN order: ``async for rec in reader``.

    Made by :meth:`AsyncClient.read`; behaves as :class:`walld.Reader`.
    An async context manager: leaving the block cancels the read if it is
    still going."""

    def __init__(self, client: AsyncClient, stream: Stream,
                 timeout: float | None) -> None:
        self._client = client
        self._st = stream
        #: Seconds each wait for the next record may take (None: no limit).
        self.timeout = timeout

    def __aiter__(self) -> "AsyncReader":
        return self

    async def __anext__(self) -> Record:
        st = self._st
        if not st.records and not st.ended:
            await self._client._wait(st, lambda: st.records or st.ended,
                                     self.timeout)
        if st.records:
            return st.records.popleft()
        if st.error is not None:
            raise st.error
        raise StopAsyncIteration

    async def get(self, timeout: float | None) -> Record | None:
        """The next record, waiting at most ``timeout`` seconds; None when
        none came in time or the read has ended (see :attr:`ended`). A
        timeout here leaves the read and the connection as they are."""
        st = self._st
        if not st.records and not st.ended:
            await self._client._wait(st, lambda: st.records or st.ended,
                                     timeout, soft=True)
        if st.records:
            return st.records.popleft()
        if st.error is not None:
            raise st.error
        return None

    @property
    def ended(self) -> bool:
        """True once walld ended the read and every record received has
        been taken."""
        return self._st.ended and not self._st.records

    @property
    def next_lsn(self) -> int | None:
        """Once the read ended normally: the LSN to continue from."""
        return self._st.next_lsn

    @property
    def sealed(self) -> bool:
        """True when the read ended because the log is sealed (see
        :attr:`walld.Reader.sealed`)."""
        return self._st.sealed

    async def cancel(self) -> None:
        """Ends the read: asks walld to stop the stream, drops the records
        not taken yet and waits for the end of the stream."""
        st = self._st
        if st.ended:
            st.records.clear()
            return
        self._client._core.cancel(st)
        await self._client._wait(st, lambda: st.ended, self._client.timeout)

    async def aclose(self) -> None:
        """Same as :meth:`cancel`."""
        await self.cancel()

    async def __aenter__(self) -> "AsyncReader":
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self._client.closed:
            await self.cancel()
