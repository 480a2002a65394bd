# SPDX-License-Identifier: Apache-2.0
"""Idempotent appends: :class:`Producer` (PROTOCOL.md, "Producers";
docs/PRODUCERS.md).

A producer numbers its appends 1, 2, 3, ... and sends one whose outcome is
unknown again, under the same number, on a new connection when needed,
until walld answers with its LSN or a definite refusal. walld recognises
the number and writes the record at most once, across its own restarts
and kill -9. The rules are those of libwal's ``struct wal_producer``.

:class:`Producer` is blocking, :class:`AsyncProducer` is for asyncio; both
drive the same steps (:class:`_Producer`), which do no I/O themselves.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any, Generator

from . import errors as E
from ._core import ack_flag, as_payload, check_u
from .aio import AsyncClient
from .client import Client

__all__ = ["AsyncProducer", "Producer"]

_BACKOFF_MIN = 0.01
_BACKOFF_MAX = 1.0

# Nothing written, for a reason that passes: the same connection will do.
_LATER = (E.Busy, E.NoSpace, E.ReplicationBacklog)
# The connection is gone or useless; nothing was written.
_RECONNECT = (E.ConnectError, E.Disconnected, E.ShuttingDown)


def _ambiguous(e: BaseException) -> bool:
    """True when the append may be in the log after e: the connection was
    lost with it in flight, walld's write failed, or the stream broke."""
    if isinstance(e, (E.OutcomeUnknown, E.IOFailed)):
        return True
    return isinstance(e, E.ProtocolError) and not isinstance(e, E.BadRequest)


# One step of a pending append's tries, for the caller to carry out:
# ("try", connect timeout), answered with the LSN or the WalldError of one
# try on the producer's connection; ("sleep", seconds), answered with None.
_Step = tuple[str, float]


class _Producer:
    """What both producers share: the numbering, the pending append, and
    the steps that settle it."""

    def __init__(self, path: str | None, producer_id: int | None,
                 next_seq: int, tenant: int, ack: str | None,
                 retry_for: float | None, timeout: float | None,
                 connect_timeout: float) -> None:
        check_u("tenant", tenant, 32)
        check_u("next_seq", next_seq, 64)
        ack_flag(ack)
        if producer_id is None:
            producer_id = 0
            while producer_id == 0:
                producer_id = secrets.randbits(64)
        check_u("producer_id", producer_id, 64)
        if producer_id == 0 or next_seq == 0:
            raise ValueError("a producer id is not 0, and sequence numbers "
                             "start at 1")
        #: The socket path (None: :func:`walld.default_socket`).
        self.path = path
        #: The producer id (with :attr:`tenant`, what walld knows it by).
        self.producer_id: int = producer_id
        #: The tenant of every record of this producer.
        self.tenant: int = tenant
        #: How many times an append was sent again, over the producer's life.
        self.retries = 0
        self._next = next_seq
        self._ack = ack
        self._retry_for = retry_for
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._pending: tuple[bytes, int, int] | None = None
        self._maybe_in_log = False
        self._closed = False

    @property
    def next_seq(self) -> int:
        """The number of the record :meth:`append` sends next (or of the
        pending one)."""
        return self._next

    @property
    def pending(self) -> bool:
        """True while an append's outcome is unsettled (see
        :meth:`resume`)."""
        return self._pending is not None

    def _begin(self, payload: Any, type: int, vshard: int) -> None:
        """Makes a new append the pending one, or raises why not."""
        if self._closed:
            raise E.Disconnected("the producer is closed")
        if self._pending is not None:
            raise E.ProducerPending(
                f"producer {self.producer_id}: record number {self._next} "
                f"is not settled (its outcome is unknown): resume() first")
        check_u("type", type, 16)
        check_u("vshard", vshard, 16)
        self._pending = (bytes(as_payload(payload)), type, vshard)
        self._maybe_in_log = False

    def _resuming(self) -> bool:
        """True when resume() has a pending append to settle."""
        if self._closed:
            raise E.Disconnected("the producer is closed")
        return self._pending is not None

    def _steps(self) -> Generator[_Step, Any, int]:
        """The tries of the pending append (see _Step): returns its LSN, or
        raises the error that ends them."""
        start = time.monotonic()
        backoff = _BACKOFF_MIN
        tries = 0
        last: E.WalldError | None = None
        while True:
            left = None if self._retry_for is None else \
                self._retry_for - (time.monotonic() - start)
            if tries and left is not None and left <= 0:
                raise E.OutcomeUnknown(
                    f"producer {self.producer_id}: record number "
                    f"{self._next} not settled after {tries} tries in "
                    f"{self._retry_for} s; last: {last}") from last
            if tries:
                self.retries += 1
            tries += 1
            got = yield ("try", self._connect_timeout if left is None else
                         max(0.001, min(self._connect_timeout, left)))
            if not isinstance(got, E.WalldError):
                return int(got)
            if _ambiguous(got):
                self._maybe_in_log = True
            elif not isinstance(got, _LATER + _RECONNECT):
                raise got
            last = got
            if not isinstance(got, _LATER):
                self._drop()
            yield ("sleep", backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    def _settled(self, lsn: int) -> int:
        self._pending = None
        self._next += 1
        return lsn

    def _ended(self, e: BaseException) -> None:
        """What the exception that ended the tries does to the pending
        append."""
        if not isinstance(e, E.WalldError):
            self._maybe_in_log = True   # interrupted or cancelled, mid-try
        elif isinstance(e, E.ReplicationUnavailable):
            self._settled(0)    # durable, only not replicated in time
        elif isinstance(e, (E.OutcomeUnknown, E.InternalError)):
            pass                # stays pending
        elif not self._maybe_in_log:
            self._pending = None    # refused: the number stays free

    def _seq_args(self) -> tuple[Any, ...]:
        """append_seq's arguments for the pending append, but the flags."""
        assert self._pending is not None
        payload, rtype, vshard = self._pending
        return (payload, rtype, vshard, self.tenant, self.producer_id,
                self._next)

    def _drop(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"<walld.{type(self).__name__} id {self.producer_id} tenant "
                f"{self.tenant} next {self._next}"
                f"{' pending' if self.pending else ''}>")


_PRODUCER_DOC = """

    ``producer_id`` (any u64 but 0; default: a random one) and ``tenant``
    name the producer: walld keeps numbers per (tenant, id). ``next_seq``
    is the number of the first record: 1 for a new producer; a process that
    comes back as the same producer passes the number after the last one
    it saw acknowledged (or takes a new id).

    :meth:`append` returns the record's LSN once it is durable (as ``ack``
    asks: ``'local'``, ``'replicated'`` or None, walld's default), after
    as many reconnects and resends as it takes within ``retry_for``
    seconds (None: for ever), each try bounded by ``timeout``. Connecting
    (within ``connect_timeout``) raises :class:`walld.ConnectError` when
    walld cannot be reached and :class:`walld.VersionMismatch` when it
    does not speak protocol version 2.

    A definite refusal (:class:`walld.Sealed`, :class:`walld.TooLarge`,
    :class:`walld.NotPermitted`, :class:`walld.OutOfSequence`) is raised at
    once and leaves the number unused, when it answers the first try.
    After a try whose outcome was unknown it may be about a record that is
    in the log already: then the append stays pending, as when
    ``retry_for`` runs out (:class:`walld.OutcomeUnknown`) or walld
    answers :class:`walld.InternalError`. While an append is pending, new
    ones raise :class:`walld.ProducerPending`: :meth:`resume` sends it
    again until it settles. A ``replicated`` append that walld made
    durable but could not replicate in time raises
    :class:`walld.ReplicationUnavailable`: its number is used, the record
    is in the log.
"""


class Producer(_Producer):
    __doc__ = """An idempotent sender of records to walld, blocking: its
    appends are each written at most once, however often they are sent.
    Connects at once.""" + _PRODUCER_DOC + """
    Keep one producer per thread. A context manager: leaving the block
    closes it.
    """

    def __init__(self, path: str | None = None, *,
                 producer_id: int | None = None, next_seq: int = 1,
                 tenant: int = 0, ack: str | None = None,
                 retry_for: float | None = 30.0, timeout: float | None = 10.0,
                 connect_timeout: float = 10.0) -> None:
        super().__init__(path, producer_id, next_seq, tenant, ack, retry_for,
                         timeout, connect_timeout)
        self._client: Client | None = None
        self._connect(connect_timeout)

    def _connect(self, timeout: float) -> Client:
        c = self._client
        if c is None or c.closed:
            self._client = None
            c = self._client = Client(self.path, timeout=self._timeout,
                                      connect_timeout=timeout, ack=self._ack,
                                      versions=(2, 2))
        return c

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _try(self, connect_timeout: float) -> int:
        c = self._connect(connect_timeout)
        return c._u64(c._core.append_seq(*self._seq_args(), c._ack_flag))

    def _settle(self) -> int:
        steps = self._steps()
        got: Any = None
        try:
            while True:
                what, arg = steps.send(got)
                if what == "sleep":
                    time.sleep(arg)
                    got = None
                    continue
                try:
                    got = self._try(arg)
                except E.WalldError as e:
                    got = e
        except StopIteration as done:
            return self._settled(done.value)
        except BaseException as e:
            self._ended(e)
            raise

    def append(self, payload: bytes | bytearray | memoryview, *,
               type: int = 0, vshard: int = 0) -> int:
        """Appends one record as this producer's next number; returns its
        LSN once it is durable. See the class for what is retried and what
        is raised."""
        self._begin(payload, type, vshard)
        return self._settle()

    def resume(self) -> int | None:
        """Sends the pending append again until it settles, as
        :meth:`append` does; returns its LSN (None when nothing was
        pending)."""
        return self._settle() if self._resuming() else None

    def close(self) -> None:
        """Closes the connection. A pending append stays unsettled."""
        self._closed = True
        self._drop()

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncProducer(_Producer):
    __doc__ = """An idempotent sender of records to walld, for asyncio: the
    operations of :class:`walld.Producer` as coroutines. Make one with
    ``await AsyncProducer.connect(path, ...)``, or ``async with
    AsyncProducer(path, ...) as p:``.""" + _PRODUCER_DOC + """
    Appends of one producer are numbered in turn: tasks that share it
    wait for one another. An append whose task is cancelled stays pending
    (its record may be in the log): :meth:`resume` settles it.
    """

    def __init__(self, path: str | None = None, *,
                 producer_id: int | None = None, next_seq: int = 1,
                 tenant: int = 0, ack: str | None = None,
                 retry_for: float | None = 30.0, timeout: float | None = 10.0,
                 connect_timeout: float = 10.0) -> None:
        super().__init__(path, producer_id, next_seq, tenant, ack, retry_for,
                         timeout, connect_timeout)
        self._client: AsyncClient | None = None
        self._turn = asyncio.Lock()

    @classmethod
    async def connect(cls, path: str | None = None,
                      **kw: Any) -> "AsyncProducer":
        """Makes a producer (the arguments of the class) and connects it."""
        p = cls(path, **kw)
        await p._connect(p._connect_timeout)
        return p

    async def _connect(self, timeout: float) -> AsyncClient:
        c = self._client
        if c is None or c.closed:
            self._client = None
            c = await AsyncClient.connect(self.path, timeout=self._timeout,
                                          connect_timeout=timeout,
                                          ack=self._ack, versions=(2, 2))
            self._client = c
        return c

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _try(self, connect_timeout: float) -> int:
        c = await self._connect(connect_timeout)
        return await c._u64(c._check().append_seq(*self._seq_args(),
                                                  c._ack_flag))

    async def _settle(self) -> int:
        steps = self._steps()
        got: Any = None
        try:
            while True:
                what, arg = steps.send(got)
                if what == "sleep":
                    await asyncio.sleep(arg)
                    got = None
                    continue
                try:
                    got = await self._try(arg)
                except E.WalldError as e:
                    got = e
        except StopIteration as done:
            return self._settled(done.value)
        except BaseException as e:
            self._ended(e)
            raise

    async def append(self, payload: bytes | bytearray | memoryview, *,
                     type: int = 0, vshard: int = 0) -> int:
        """Appends one record as this producer's next number; returns its
        LSN once it is durable (see :meth:`walld.Producer.append`)."""
        async with self._turn:
            self._begin(payload, type, vshard)
            return await self._settle()

    async def resume(self) -> int | None:
        """Settles the pending append, as :meth:`walld.Producer.resume`."""
        async with self._turn:
            return await self._settle() if self._resuming() else None

    def close(self) -> None:
        """Closes the connection. A pending append stays unsettled."""
        self._closed = True
        self._drop()

    async def __aenter__(self) -> "AsyncProducer":
        await self._connect(self._connect_timeout)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
