# SPDX-License-Identifier: Apache-2.0
"""Idempotent appends: :class:`Producer` (PROTOCOL.md, "Producers";
docs/PRODUCERS.md).

A producer numbers its appends 1, 2, 3, ... and sends one whose outcome is
unknown again, under the same number, on a new connection when needed,
until walld answers with its LSN or a definite refusal. walld recognises
the number and writes the record at most once, across its own restarts
and kill -9. The rules are those of libwal's ``struct wal_producer``.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from ._core import ack_flag, as_payload, check_u
from .client import Client
from . import errors as E

__all__ = ["Producer"]

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


class Producer:
    """An idempotent sender of records to walld: a blocking client whose
    appends are each written at most once, however often they are sent.

    ``producer_id`` (any u64 but 0; default: a random one) and ``tenant``
    name the producer: walld keeps numbers per (tenant, id). ``next_seq``
    is the number of the first record: 1 for a new producer; a process that
    comes back as the same producer passes the number after the last one
    it saw acknowledged (or takes a new id).

    :meth:`append` returns the record's LSN once it is durable (as ``ack``
    asks: ``'local'``, ``'replicated'`` or None, walld's default), after
    as many reconnects and resends as it takes within ``retry_for``
    seconds (None: for ever), each try bounded by ``timeout``. Connects at
    once, within ``connect_timeout``: raises :class:`walld.ConnectError`
    when walld cannot be reached and :class:`walld.VersionMismatch` when
    it does not speak protocol version 2.

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

    Keep one producer per thread. A context manager: leaving the block
    closes it.
    """

    def __init__(self, path: str | None = None, *,
                 producer_id: int | None = None, next_seq: int = 1,
                 tenant: int = 0, ack: str | None = None,
                 retry_for: float | None = 30.0, timeout: float | None = 10.0,
                 connect_timeout: float = 10.0) -> None:
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
        self._client: Client | None = None
        self._pending: tuple[bytes, int, int] | None = None
        self._maybe_in_log = False
        self._closed = False
        self._connect(connect_timeout)

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

    def _connect(self, timeout: float) -> Client:
        c = self._client
        if c is not None and not c.closed:
            return c
        self._client = None
        c = Client(self.path, timeout=self._timeout, connect_timeout=timeout,
                   ack=self._ack, versions=(2, 2))
        self._client = c
        return c

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def append(self, payload: bytes | bytearray | memoryview, *,
               type: int = 0, vshard: int = 0) -> int:
        """Appends one record as this producer's next number; returns its
        LSN once it is durable. See the class for what is retried and what
        is raised."""
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
        return self._settle()

    def resume(self) -> int | None:
        """Sends the pending append again until it settles, as
        :meth:`append` does; returns its LSN (None when nothing was
        pending)."""
        if self._closed:
            raise E.Disconnected("the producer is closed")
        if self._pending is None:
            return None
        return self._settle()

    def _settle(self) -> int:
        try:
            lsn = self._send()
        except E.ReplicationUnavailable:
            self._used()        # durable, only not replicated in time
            raise
        except (E.OutcomeUnknown, E.InternalError):
            raise               # stays pending
        except E.WalldError:
            if not self._maybe_in_log:
                self._pending = None    # refused: the number stays free
            raise
        self._used()
        return lsn

    def _used(self) -> None:
        self._pending = None
        self._next += 1

    def _send(self) -> int:
        assert self._pending is not None
        payload, rtype, vshard = self._pending
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
            try:
                ct = self._connect_timeout if left is None else \
                    max(0.001, min(self._connect_timeout, left))
                c = self._connect(ct)
                return c._u64(c._core.append_seq(
                    payload, rtype, vshard, self.tenant, self.producer_id,
                    self._next, c._ack_flag))
            except E.WalldError as e:
                if _ambiguous(e):
                    self._maybe_in_log = True
                elif not isinstance(e, _LATER + _RECONNECT):
                    raise
                last = e
                if not isinstance(e, _LATER):
                    self._drop()
            time.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    def close(self) -> None:
        """Closes the connection. A pending append stays unsettled."""
        self._closed = True
        self._drop()

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<walld.Producer id {self.producer_id} tenant {self.tenant} "
                f"next {self._next}{' pending' if self.pending else ''}>")
