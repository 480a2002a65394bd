# SPDX-License-Identifier: Apache-2.0
"""The blocking client: :class:`Client` and its read iterator
:class:`Reader`."""

from __future__ import annotations

import os
import select
import socket
import time
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Sequence

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
from .errors import ConnectError, ProtocolError, ServerError

__all__ = ["Client", "Reader", "default_socket"]

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_MSG_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)
_FOLLOW_DEFAULT: Any = object()


def default_socket() -> str:
    """The socket path used when none is given: ``$WALLD_SOCKET``, else
    ``/run/walld/walld.sock``."""
    return os.environ.get(_core.SOCKET_ENV) or _core.DEFAULT_SOCKET


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


class Client:
    """A blocking connection to walld.

    Connects to the AF_UNIX socket at ``path`` (default:
    :func:`default_socket`) and does the HELLO exchange, both within
    ``connect_timeout`` seconds, raising :class:`walld.ConnectError` when
    walld cannot be reached (or :class:`walld.Busy` when it refuses more
    connections).

    ``timeout`` (seconds, None for no limit) bounds every later call. When
    it expires the call raises :class:`walld.Timeout` (an
    :class:`walld.OutcomeUnknown`) and the connection is closed: make a new
    client to go on.

    ``ack`` is the acknowledgement level of waiting appends and syncs that
    do not give their own: ``'local'`` (durable on walld's disk),
    ``'replicated'`` (and held by the stream walld replicates into; else
    :class:`walld.ReplicationUnavailable`), or None, walld's configured
    ``replication.ack``. It may be changed later (``c.ack = 'local'``).

    ``protocol`` is the wire protocol version asked for: 1, or 2 for the
    consumer cursors (:meth:`cursor_create` ...), ``truncate(force=True)``
    and :attr:`Reader.sealed`; :class:`walld.VersionMismatch` when walld
    does not speak it.

    A client is used by one thread at a time (use one client per thread).
    It is a context manager: ``with walld.Client() as c: ...`` closes it.
    """

    def __init__(self, path: str | None = None, *,
                 timeout: float | None = None,
                 connect_timeout: float | None = 10.0,
                 ack: str | None = None, protocol: int = 1,
                 versions: tuple[int, int] | None = None) -> None:
        # versions: the protocol versions offered in HELLO, sent as they
        # are (walld judges them), for tests of other versions; else
        # `protocol` alone.
        if versions is None:
            versions = (protocol, protocol)
        #: The socket path this client connected to.
        self.path: str = path if path is not None else default_socket()
        #: Seconds each call may take (None: no limit).
        self.timeout: float | None = timeout
        self._ack_flag = ack_flag(ack)
        self._ack = ack
        self._core = Core()
        self._sock: socket.socket | None = None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(connect_timeout)
            sock.connect(self.path)
        except OSError as e:
            sock.close()
            why = "timed out" if isinstance(e, TimeoutError) else \
                (e.strerror or str(e))
            raise ConnectError(f"cannot connect to walld at {self.path}: "
                               f"{why}") from e
        sock.setblocking(False)
        self._sock = sock
        self._fd = sock.fileno()
        self._poll = select.poll()
        self._poll.register(self._fd, _POLLIN)
        self._mask = _POLLIN
        req = self._core.hello(*versions)
        try:
            self._pump(lambda: req.done, _deadline(connect_timeout), req)
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
        #: What walld said in its HELLO reply (limits, version).
        self.server_info: ServerInfo = req.value

    # ------------------------------------------------------------- I/O

    def _send(self) -> None:
        core = self._core
        sock = self._sock
        assert sock is not None
        while core.out_bytes:
            try:
                if len(core.out) == 1:
                    n = sock.send(core.out[0], _MSG_NOSIGNAL)
                else:
                    n = sock.sendmsg(list(islice(core.out, 64)), (),
                                     _MSG_NOSIGNAL)
            except BlockingIOError:
                return
            except OSError as e:
                # walld may have answered (an error, say) and closed: take
                # what it sent before giving up on the connection.
                self._recv()
                self._lost(f"connection to walld lost: "
                           f"{e.strerror or e}", e)
                return
            core.advance(n)

    def _recv(self) -> None:
        core = self._core
        sock = self._sock
        assert sock is not None
        while not core.closed:
            room = core.recv_room()
            want = len(room)
            try:
                n = sock.recv_into(room)
            except BlockingIOError:
                return
            except OSError as e:
                self._lost(f"connection to walld lost: "
                           f"{e.strerror or e}", e)
                return
            finally:
                del room
            if n == 0:
                self._lost("walld closed the connection", None)
                return
            core.received(n)
            if n < want:
                return

    def _lost(self, reason: str, cause: BaseException | None,
              timed_out: object = None) -> None:
        self._core.fail(reason, cause=cause, timed_out=timed_out)
        self._close_socket()

    def _close_socket(self) -> None:
        if self._sock is not None:
            try:
                self._poll.unregister(self._fd)
            except (KeyError, ValueError):
                pass
            self._sock.close()
            self._sock = None

    def _pump(self, cond: Callable[[], Any], deadline: float | None,
              what: object = None, soft: bool = False) -> bool:
        """Sends and receives until cond() is true or the connection is
        closed; False when the deadline passed first. A soft deadline only
        returns; otherwise it closes the connection (Timeout for what)."""
        core = self._core
        while True:
            if core.closed:
                return True
            if core.out_bytes:
                self._send()
            if not core.closed:
                self._recv()
            if cond() or core.closed:
                return True
            if deadline is None:
                ms = -1
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    if not soft:
                        self._lost("timed out waiting for walld", None,
                                   what)
                    return False
                ms = int(left * 1000) + 1
            mask = _POLLIN | _POLLOUT if core.out_bytes else _POLLIN
            if mask != self._mask:
                self._poll.modify(self._fd, mask)
                self._mask = mask
            self._poll.poll(ms)

    def _call(self, req: _core.Req) -> Any:
        self._pump(lambda: req.done, _deadline(self.timeout), req)
        if req.error is not None:
            raise req.error
        return req.value

    def _u64(self, req: _core.Req) -> int:
        v = self._call(req)
        assert isinstance(v, int)
        return v

    def _text(self, req: _core.Req) -> str:
        v = self._call(req)
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
        return self.server_info.max_record

    @property
    def ack(self) -> str | None:
        """The acknowledgement level of waiting appends and syncs that do
        not give their own: ``'local'``, ``'replicated'``, or None
        (walld's ``replication.ack``)."""
        return self._ack

    @ack.setter
    def ack(self, ack: str | None) -> None:
        self._ack_flag = ack_flag(ack)
        self._ack = ack

    def append(self, payload: bytes | bytearray | memoryview, *,
               type: int = 0, vshard: int = 0, tenant: int = 0,
               nowait: bool = False, ack: str | None = CLIENT_ACK) -> int:
        """Appends one record and returns its LSN.

        Without ``nowait`` the call returns once the record is durable (its
        fdatasync is done), and with ``ack='replicated'`` once the stream
        walld replicates into holds it too. With ``nowait`` it returns as
        soon as walld has given the record its LSN: a promise, durable only
        once a later :meth:`sync` (or waiting append) reports a durable LSN
        at or above it; ``ack`` cannot be given then. ``type`` and
        ``vshard`` are 0..65535, ``tenant`` 0..4294967295. A payload above
        :attr:`max_record` raises :class:`walld.TooLarge` without being
        sent.

        ``ack``: ``'local'``, ``'replicated'`` or None (walld's default);
        left out, the client's :attr:`ack`. A replicated append that the
        stream did not take in time raises
        :class:`walld.ReplicationUnavailable`: the record is durable all
        the same (its ``lsn`` says where); do not append it again."""
        return self._u64(self._core.append(
            payload, type, vshard, tenant,
            append_flags(nowait, ack, self._ack_flag)))

    def append_many(self, items: Iterable[Any], *, type: int = 0,
                    vshard: int = 0, tenant: int = 0, nowait: bool = False,
                    ack: str | None = CLIENT_ACK,
                    return_exceptions: bool = False) -> list[Any]:
        """Pipelines many appends on this connection and returns their LSNs,
        in the order of ``items``.

        Each item is a bytes-like payload (appended with ``type``,
        ``vshard`` and ``tenant``), or a :class:`walld.Entry` (or a plain
        ``(payload, type, vshard, tenant)`` tuple) with its own header.
        Requests go out in large batches while replies are read; without
        ``nowait`` every LSN returned is durable (and replicated, with
        ``ack='replicated'``, as in :meth:`append`).

        When an item fails, the call still waits for every other reply,
        then raises the first failure (by position) with ``results`` set
        to the whole list: an LSN for each item that succeeded, an
        exception for each that did not. With ``return_exceptions`` that
        list is returned instead."""
        check_u("type", type, 16)
        check_u("vshard", vshard, 16)
        check_u("tenant", tenant, 32)
        flags = append_flags(nowait, ack, self._ack_flag)
        if isinstance(items, (bytes, bytearray, memoryview, str)):
            raise TypeError("append_many takes an iterable of payloads, "
                            "not one payload")
        if not isinstance(items, Sequence):
            items = list(items)
        core = self._core
        b = core.batch(len(items))
        deadline = _deadline(self.timeout)
        i = 0
        n = len(items)
        low = _core.CHUNK_BYTES
        while i < n and not core.closed:
            i = core.encode_chunk(b, items, i, flags, type, vshard, tenant)
            # Keep about one chunk queued: send it while reading replies.
            if core.out_bytes > low:
                if not self._pump(lambda: core.out_bytes <= low, deadline, b):
                    break
        self._pump(lambda: b.done, deadline, b)
        return batch_outcome(b, return_exceptions)

    def sync(self, *, ack: str | None = CLIENT_ACK) -> int:
        """Waits until everything this connection sent before is durable
        (``nowait`` appends included), and replicated with
        ``ack='replicated'``; returns the durable LSN, the highest LSN known
        durable (0 for an empty log). ``ack`` as in :meth:`append`."""
        flags = self._ack_flag if ack is CLIENT_ACK else ack_flag(ack)
        return self._u64(self._core.simple(OP_SYNC, flags))

    def seal(self) -> int:
        """Seals the log (every later append fails with
        :class:`walld.Sealed`) and returns its last LSN (0 when empty).
        Sealing a sealed log returns the same LSN."""
        return self._u64(self._core.simple(OP_SEAL))

    def rotate(self) -> int:
        """Closes the active segment and starts a new one; returns the first
        LSN of the new segment (the LSN the next append will get)."""
        return self._u64(self._core.simple(OP_ROTATE))

    def truncate(self, before: int, *, force: bool = False) -> int:
        """Deletes the whole sealed segments whose records all have LSNs
        below ``before`` (never the active segment); returns the log's
        first LSN afterwards, which may be below ``before``. On a
        ``protocol=2`` connection a truncate that would remove records a
        cursor has not consumed raises :class:`walld.Held` (version 1:
        :class:`walld.NotPermitted`) unless ``force``."""
        return self._u64(self._core.truncate(before, force))

    def cursor_create(self, name: str, lsn: int = 0) -> int:
        """Creates the consumer cursor ``name`` at ``lsn`` (the last record
        its consumer has finished with; 0: none) unless it exists; returns
        the cursor's LSN, the existing one's if it did (PROTOCOL.md section
        6, docs/CURSORS.md). Durable when it returns. Cursors need a
        ``protocol=2`` client; names are 1..64 characters of
        ``[A-Za-z0-9._-]``, the first a letter or a digit."""
        return self._u64(self._core.cursor(OP_CURSOR_CREATE, name, lsn))

    def cursor_commit(self, name: str, lsn: int) -> int:
        """Moves cursor ``name`` forward to ``lsn``, durably; returns its
        LSN. :class:`walld.OutOfRange` for an LSN above the durable one or
        below the cursor's (a cursor never goes back),
        :class:`walld.NotFound` for a name walld does not have."""
        return self._u64(self._core.cursor(OP_CURSOR_COMMIT, name, lsn))

    def cursor_get(self, name: str) -> Cursor:
        """Cursor ``name`` as walld keeps it (:class:`walld.NotFound`
        when there is none)."""
        lsn, ms = self._call(self._core.cursor(OP_CURSOR_GET, name))
        return Cursor(name, lsn, ms)

    def cursors(self) -> list[Cursor]:
        """Every cursor, sorted by name (as many requests as it takes)."""
        out: list[Cursor] = []
        after = ""
        while True:
            got, more = self._call(self._core.cursor(OP_CURSOR_LIST, after))
            out += got
            if not more or not got:
                return out
            after = got[-1].name

    def cursor_drop(self, name: str) -> int:
        """Removes cursor ``name``, durably; returns the LSN it had."""
        return self._u64(self._core.cursor(OP_CURSOR_DROP, name))

    def stats(self) -> dict[str, int | str]:
        """walld's metrics as a dict: ``{name: value}``, the value an int
        when it is a decimal integer, else a str (e.g. ``"version"``,
        ``"state"``)."""
        return parse_stats(self._text(self._core.simple(OP_STATS)))

    def stats_text(self) -> str:
        """walld's metrics as the raw text of the STATS reply."""
        return self._text(self._core.simple(OP_STATS))

    def ping(self) -> None:
        """Checks that walld is there and ready to serve requests."""
        self._call(self._core.simple(OP_PING))

    def read(self, from_lsn: int = 0, to_lsn: int = 0, *,
             tenant: int | None = None, vshard: int | None = None,
             type: int | None = None, follow: bool = False,
             timeout: float | None = _FOLLOW_DEFAULT) -> "Reader":
        """Starts a read and returns its :class:`Reader`, an iterator of
        :class:`walld.Record` in LSN order.

        ``from_lsn`` is the first LSN wanted (0: wherever the log starts;
        an LSN below the first one raises :class:`walld.OutOfRange`),
        ``to_lsn`` the last one (0: no end; below ``from_lsn`` is a
        ValueError, not sent). ``tenant``, ``vshard``
        and ``type``, when given, keep only the records that match. Without
        ``follow`` the reader ends at the end of the log; with it, it waits
        for new records until ``to_lsn`` is passed or it is cancelled.

        ``timeout`` bounds each wait for the next record (default: the
        client's timeout, and no limit for a follow read). Other calls may
        be made on the client while a reader is open; records that arrive
        meanwhile are kept for the reader."""
        if timeout is _FOLLOW_DEFAULT:
            timeout = None if follow else self.timeout
        st = self._core.read(from_lsn, to_lsn, tenant, vshard, type, follow)
        return Reader(self, st, timeout)

    def close(self) -> None:
        """Closes the connection. Readers still open end with
        :class:`walld.Disconnected`."""
        self._core.fail("closed by the client")
        self._close_socket()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<walld.Client {self.path!r} {state}>"


class Reader:
    """The records of one read, in LSN order: iterate over it.

    Made by :meth:`Client.read`. Iteration ends at the end of the read
    (never, for a follow read, unless :meth:`cancel` is called or
    ``to_lsn`` is passed); errors (:class:`walld.OutOfRange`,
    :class:`walld.NotPermitted`, :class:`walld.Busy`, a lost connection)
    are raised from the iteration. A context manager: leaving the block
    cancels the read if it is still going."""

    def __init__(self, client: Client, stream: Stream,
                 timeout: float | None) -> None:
        self._client = client
        self._st = stream
        #: Seconds each wait for the next record may take (None: no limit).
        self.timeout = timeout

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        st = self._st
        if not st.records and not st.ended:
            self._client._pump(lambda: st.records or st.ended,
                               _deadline(self.timeout), st)
        if st.records:
            return st.records.popleft()
        if st.error is not None:
            raise st.error
        raise StopIteration

    def get(self, timeout: float | None) -> Record | None:
        """The next record, waiting at most ``timeout`` seconds (None: no
        limit); None when none came in time or the read has ended (see
        :attr:`ended`). A timeout here leaves the read and the connection
        as they are. Errors are raised as by iteration."""
        st = self._st
        if not st.records and not st.ended:
            self._client._pump(lambda: st.records or st.ended,
                               _deadline(timeout), st, soft=True)
        if st.records:
            return st.records.popleft()
        if st.error is not None:
            raise st.error
        return None

    @property
    def ended(self) -> bool:
        """True once walld ended the read (READ_END or an error) and every
        record received has been taken."""
        return self._st.ended and not self._st.records

    @property
    def next_lsn(self) -> int | None:
        """Once the read ended normally: the LSN a later read should start
        from to continue where this one stopped. None before."""
        return self._st.next_lsn

    @property
    def sealed(self) -> bool:
        """True when the read ended because the log is sealed and no record
        will ever follow (READ_END's ``SEALED_END``, on a ``protocol=2``
        client; a follow read ends there too, where version 1 waits)."""
        return self._st.sealed

    def cancel(self) -> None:
        """Ends the read: asks walld to stop the stream, drops the records
        not taken yet and waits for the end of the stream."""
        st = self._st
        if st.ended:
            st.records.clear()
            return
        self._client._core.cancel(st)
        self._client._pump(lambda: st.ended,
                           _deadline(self._client.timeout), st)

    def close(self) -> None:
        """Same as :meth:`cancel`."""
        self.cancel()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._client.closed:
            self.cancel()
