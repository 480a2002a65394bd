# SPDX-License-Identifier: Apache-2.0
"""The protocol engine shared by the blocking and the asyncio clients.

No I/O happens here. The engine turns requests into frames (queued as
buffers for the caller to write), takes the bytes the caller read into its
receive buffer, decodes frames, and completes requests, pipelined batches
and read streams. The two clients only move bytes and wait.

Wire format: proto/PROTOCOL.md (little-endian; 16-byte header
``u32 len, u8 op, u8 flags, u16 zero, u64 id``).
"""

from __future__ import annotations

import re
import struct
from collections import deque
from typing import Any, Callable, NamedTuple, Sequence, Union

from .errors import (
    Disconnected,
    OutcomeUnknown,
    ProtocolError,
    ServerError,
    Timeout,
    TooLarge,
    VersionMismatch,
    WalldError,
    error_for_code,
)

WIRE_VERSION = 1
HDR_LEN = 16
MAX_FRAME_HARD = 17 << 20
DEFAULT_SOCKET = "/run/walld/walld.sock"
SOCKET_ENV = "WALLD_SOCKET"

OP_HELLO = 0x01
OP_APPEND = 0x02
OP_SYNC = 0x03
OP_SEAL = 0x04
OP_ROTATE = 0x05
OP_READ = 0x06
OP_TRUNCATE = 0x07
OP_STATS = 0x08
OP_PING = 0x09
OP_READ_CANCEL = 0x0A
OP_CURSOR_CREATE = 0x0B    # version 2: section 6 of PROTOCOL.md
OP_CURSOR_COMMIT = 0x0C
OP_CURSOR_GET = 0x0D
OP_CURSOR_LIST = 0x0E
OP_CURSOR_DROP = 0x0F
REPLY = 0x80
OP_RECORD = 0xC0
OP_READ_END = 0xC1
OP_ERROR = 0xFF

F_NOWAIT = 0x01
F_REPLICATED = 0x02    # append, sync: reply once durable and replicated
F_LOCAL = 0x04         # append, sync: reply once durable on walld's disk
F_PRODUCER = 0x08      # append (version 2): idempotent, with a producer id
F_FOLLOW = 0x01
F_TENANT = 0x02
F_VSHARD = 0x04
F_TYPE = 0x08
F_SEALED_END = 0x01    # READ_END (version 2): the log is sealed, no more
F_FORCE = 0x02         # TRUNCATE (version 2): past the cursors
F_LIST_MORE = 0x1      # CURSOR_LIST reply: cursors after the last entry

OP_NAMES = {
    OP_HELLO: "hello", OP_APPEND: "append", OP_SYNC: "sync",
    OP_SEAL: "seal", OP_ROTATE: "rotate", OP_READ: "read",
    OP_TRUNCATE: "truncate", OP_STATS: "stats", OP_PING: "ping",
    OP_READ_CANCEL: "read-cancel", OP_CURSOR_CREATE: "cursor-create",
    OP_CURSOR_COMMIT: "cursor-commit", OP_CURSOR_GET: "cursor-get",
    OP_CURSOR_LIST: "cursor-list", OP_CURSOR_DROP: "cursor-drop",
}
# Requests whose reply body is one u64.
_U64_OPS = frozenset((OP_APPEND, OP_SYNC, OP_SEAL, OP_ROTATE, OP_TRUNCATE,
                      OP_CURSOR_CREATE, OP_CURSOR_COMMIT, OP_CURSOR_DROP))
_CURSOR_NAME = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_HDR = struct.Struct("<IBBHQ")
_REPLY_U64 = struct.Struct("<IBBHQQ")          # a header and one u64
_APPEND = struct.Struct("<IBBHQHHI")           # header + append fixed part
_APPEND_SEQ = struct.Struct("<IBBHQHHIQQ")     # ... + producer id and seq
_HELLO = struct.Struct("<IBBHQHH")             # header + hello body
_READ = struct.Struct("<IBBHQQQIHH")           # header + read body
_TRUNC = struct.Struct("<IBBHQQ")              # header + u64
_HELLO_REPLY = struct.Struct("<HHII")
_RECORD = struct.Struct("<QHHI")
_ERROR = struct.Struct("<HH")
_U64 = struct.Struct("<Q")
_CURSOR_GOT = struct.Struct("<QQ")             # lsn, commit_ms
_LIST_HEAD = struct.Struct("<II")              # count, flags
_LIST_ENTRY = struct.Struct("<QQB")            # lsn, commit_ms, name length

_NEVER = 1 << 62   # the output offset of an item not queued yet

#: The acknowledgement levels (PROTOCOL.md, "Acknowledgement levels"): an
#: ``ack`` value and the flag a waiting APPEND or a SYNC carries for it.
#: None sends neither flag: walld's ``replication.ack`` decides.
ACK_FLAGS: dict[Any, int] = {None: 0, "local": F_LOCAL,
                             "replicated": F_REPLICATED}


class _ClientAck:
    """The default of a call's ``ack``: the client's own ``ack``."""

    def __repr__(self) -> str:
        return "<the client's ack>"


#: An ``ack`` argument left out: the client's ``ack`` applies.
CLIENT_ACK: Any = _ClientAck()


def ack_flag(ack: Any) -> int:
    """The flag for an acknowledgement level: 'local', 'replicated', or None
    (walld's default). Raises ValueError for anything else."""
    try:
        return ACK_FLAGS[ack]
    except (KeyError, TypeError):
        raise ValueError(f"ack must be 'local', 'replicated' or None, "
                         f"not {ack!r}") from None


def append_flags(nowait: bool, ack: Any, client_flag: int) -> int:
    """The flags of an APPEND: NOWAIT, or the level of the call's ``ack``
    (CLIENT_ACK: the client's, already a flag). Never both levels. With
    nowait the level means nothing (the reply is a promise): a level asked
    for by the call is a ValueError, the client's is left out."""
    if nowait:
        if ack is not CLIENT_ACK and ack is not None:
            ack_flag(ack)
            raise ValueError(f"ack={ack!r} with nowait: a nowait append is "
                             f"acknowledged before it is durable; pass ack "
                             f"to a later sync() instead")
        return F_NOWAIT
    if ack is CLIENT_ACK:
        return client_flag
    return ack_flag(ack)

#: Bytes of one pipelined chunk: encoded, queued and sent as one buffer.
CHUNK_BYTES = 256 * 1024

Payload = Union[bytes, bytearray, memoryview]


class Record(NamedTuple):
    """One record of the log, as a read returns it."""

    #: The record's log sequence number (>= 1).
    lsn: int
    #: The record type (u16) given at append.
    type: int
    #: The vshard (u16) given at append.
    vshard: int
    #: The tenant (u32) given at append.
    tenant: int
    #: The payload, possibly empty.
    payload: bytes


class Entry(NamedTuple):
    """One record to append in a pipeline, with its own header: an item of
    :meth:`walld.Client.append_many` (a plain ``(payload, type, vshard,
    tenant)`` tuple works too)."""

    #: The payload (bytes-like, possibly empty).
    payload: Payload
    #: The record type, 0..65535.
    type: int = 0
    #: The vshard, 0..65535.
    vshard: int = 0
    #: The tenant, 0..4294967295.
    tenant: int = 0


class Cursor(NamedTuple):
    """A consumer cursor (PROTOCOL.md section 6; docs/CURSORS.md), as
    walld keeps it durably."""

    #: Its name: 1..64 bytes of ``[A-Za-z0-9._-]``, the first a letter or
    #: a digit.
    name: str
    #: The LSN of the last record its consumer finished with (0: none);
    #: the consumer reads on from ``lsn + 1``.
    lsn: int
    #: When it was last committed: Unix time in milliseconds (0: never).
    commit_ms: int


class ServerInfo(NamedTuple):
    """What walld said in its HELLO reply."""

    #: The protocol version in use.
    version: int
    #: The largest payload walld accepts.
    max_record: int
    #: The largest frame walld accepts.
    max_frame: int
    #: walld's version string, e.g. "walld 0.1.0".
    server: str


class _Broken(Exception):
    """Internal: the server sent something invalid; the connection must
    close."""


class Req:
    """One request waiting for its reply."""

    __slots__ = ("id", "op", "end", "done", "value", "error", "waiter")

    def __init__(self, rid: int, op: int) -> None:
        self.id = rid
        self.op = op
        self.end = 0            # output offset just past its frame
        self.done = False
        self.value: Any = None
        self.error: WalldError | None = None
        self.waiter: Any = None  # an asyncio future, for the async client


class Batch:
    """Pipelined appends with the ids lo..hi-1, item i having id lo + i."""

    __slots__ = ("lo", "hi", "results", "left", "ends", "waiter", "failed")

    def __init__(self, lo: int, n: int) -> None:
        self.lo = lo
        self.hi = lo + n
        self.results: list[Any] = [None] * n   # LSN or exception
        self.left = n
        self.ends = [_NEVER] * n                # output offset past item i
        self.waiter: Any = None
        self.failed = False

    @property
    def done(self) -> bool:
        """True once every item has its LSN or its exception."""
        return self.left == 0


class Stream:
    """One read stream: records as they come, then its end."""

    __slots__ = ("id", "end", "records", "ended", "next_lsn", "error",
                 "discard", "waiter", "cancelled", "sealed")

    def __init__(self, rid: int) -> None:
        self.id = rid
        self.end = 0
        self.records: deque[Record] = deque()
        self.ended = False
        self.next_lsn: int | None = None
        self.error: WalldError | None = None
        self.discard = False     # cancelled: drop records that still come
        self.waiter: Any = None
        self.cancelled = False
        self.sealed = False      # READ_END said the log is sealed


def as_payload(p: Any) -> Payload:
    """Returns a bytes-like payload whose len() is its size in bytes."""
    t = type(p)
    if t is bytes or t is bytearray:
        return p  # type: ignore[no-any-return]
    if isinstance(p, str):
        raise TypeError("a payload is bytes-like, not str: encode it first")
    mv = memoryview(p)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv


def check_u(what: str, v: int, bits: int) -> int:
    """Raises ValueError unless v is an int in 0..2**bits-1."""
    if not isinstance(v, int) or v < 0 or v >> bits:
        raise ValueError(f"{what} must be an integer in 0..{(1 << bits) - 1},"
                         f" not {v!r}")
    return v


def parse_stats(text: str) -> dict[str, int | str]:
    """Parses a STATS reply: ``name value`` lines. A decimal integer value
    becomes an int; any other value (a version, a state word, a list of key
    ids, a segment name) stays a str."""
    out: dict[str, int | str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(" ")
        if not sep or not name:
            continue
        if value.isdigit() and value.isascii():
            out[name] = int(value)
        else:
            out[name] = value
    return out


class Core:
    """The engine of one connection. See the module docstring."""

    def __init__(self, writer: Callable[[Any], None] | None = None) -> None:
        self.next_id = 1
        self.reqs: dict[int, Req] = {}
        self.batches: list[Batch] = []
        self.streams: dict[int, Stream] = {}
        # Output: buffers queued and not yet handed to the socket (the
        # blocking client), or a writer that takes them at once (async).
        self.writer = writer
        self.out: deque[Any] = deque()
        self.out_bytes = 0
        self.queued = 0   # bytes ever queued
        self.sent = 0     # bytes ever handed to the kernel
        # Input.
        self.rbuf = bytearray(1 << 20)
        self.rpos = 0
        self.rlen = 0
        self.rx_limit = MAX_FRAME_HARD
        self.info: ServerInfo | None = None
        self.max_record = MAX_FRAME_HARD
        # State.
        self.closed = False
        self.close_reason = ""
        self.hangup: ServerError | None = None   # ERROR with id 0

    # ---------------------------------------------------------- output

    def queue(self, buf: Any) -> int:
        """Queues a buffer to send; returns the output offset past it."""
        n = len(buf)
        self.queued += n
        if self.writer is not None:
            self.writer(buf)
            self.sent = self.queued
        else:
            self.out.append(buf)
            self.out_bytes += n
        return self.queued

    def advance(self, n: int) -> None:
        """Drops n bytes from the head of the output (they were sent)."""
        self.sent += n
        self.out_bytes -= n
        out = self.out
        while n:
            head = out[0]
            k = len(head)
            if n >= k:
                out.popleft()
                n -= k
            else:
                out[0] = memoryview(head)[n:]
                n = 0

    def _new_id(self) -> int:
        rid = self.next_id
        self.next_id = rid + 1
        return rid

    def check_open(self) -> None:
        """Raises Disconnected when the connection is closed."""
        if self.closed:
            raise Disconnected(f"the connection is closed: "
                               f"{self.close_reason}")

    # --------------------------------------------------------- requests

    def hello(self, min_version: int = WIRE_VERSION,
              max_version: int = WIRE_VERSION) -> Req:
        """Queues the HELLO request."""
        check_u("min_version", min_version, 16)
        check_u("max_version", max_version, 16)
        rid = self._new_id()
        if self.closed:
            # walld refused the connection before the HELLO could go.
            req = Req(rid, OP_HELLO)
            req.done = True
            req.error = self.hangup or Disconnected(
                f"hello: {self.close_reason}")
            return req
        req = self.reqs[rid] = Req(rid, OP_HELLO)
        req.end = self.queue(_HELLO.pack(20, OP_HELLO, 0, 0, rid,
                                         min_version, max_version))
        return req

    def simple(self, op: int, flags: int = 0) -> Req:
        """Queues a request with an empty body (sync, seal, rotate, stats,
        ping)."""
        self.check_open()
        rid = self._new_id()
        req = self.reqs[rid] = Req(rid, op)
        req.end = self.queue(_HDR.pack(HDR_LEN, op, flags, 0, rid))
        return req

    def truncate(self, before: int, force: bool = False) -> Req:
        """Queues a TRUNCATE request; ``force`` (version 2) goes past the
        cursors."""
        check_u("before", before, 64)
        self.check_open()
        if force and self.version < 2:
            raise VersionMismatch("truncate(force=True) needs protocol "
                                  "version 2: connect with protocol=2",
                                  op="truncate")
        rid = self._new_id()
        req = self.reqs[rid] = Req(rid, OP_TRUNCATE)
        req.end = self.queue(_TRUNC.pack(24, OP_TRUNCATE,
                                         F_FORCE if force else 0, 0, rid,
                                         before))
        return req

    def too_large(self, n: int) -> TooLarge:
        """The local error for a payload above max_record."""
        return TooLarge(f"payload of {n} bytes is above walld's max_record "
                        f"({self.max_record}); not sent", op="append")

    def append(self, payload: Any, type: int, vshard: int, tenant: int,
               flags: int) -> Req:
        """Queues one APPEND request with ``flags`` (from append_flags)."""
        p = as_payload(payload)
        check_u("type", type, 16)
        check_u("vshard", vshard, 16)
        check_u("tenant", tenant, 32)
        n = len(p)
        if n > self.max_record:
            raise self.too_large(n)
        self.check_open()
        rid = self._new_id()
        req = self.reqs[rid] = Req(rid, OP_APPEND)
        hdr = _APPEND.pack(24 + n, OP_APPEND, flags, 0, rid, type, vshard,
                           tenant)
        if n <= 4096:
            req.end = self.queue(hdr + p)
        else:
            self.queue(hdr)
            req.end = self.queue(p)
        return req

    def append_seq(self, payload: Any, type: int, vshard: int, tenant: int,
                   producer: int, seq: int, flags: int) -> Req:
        """Queues one idempotent APPEND (flag PRODUCER, version 2) of
        producer ``producer``'s record number ``seq``; ``flags`` is the
        acknowledgement level's (never NOWAIT)."""
        p = as_payload(payload)
        check_u("type", type, 16)
        check_u("vshard", vshard, 16)
        check_u("tenant", tenant, 32)
        check_u("producer", producer, 64)
        check_u("seq", seq, 64)
        if producer == 0 or seq == 0:
            raise ValueError("a producer id and a sequence number start "
                             "at 1")
        n = len(p)
        if n > self.max_record:
            raise self.too_large(n)
        self.check_open()
        if self.version < 2:
            raise VersionMismatch(f"walld speaks protocol version "
                                  f"{self.version} here: idempotent appends "
                                  f"need version 2", op="append")
        rid = self._new_id()
        req = self.reqs[rid] = Req(rid, OP_APPEND)
        req.end = self.queue(_APPEND_SEQ.pack(
            40 + n, OP_APPEND, flags | F_PRODUCER, 0, rid, type, vshard,
            tenant, producer, seq) + p)
        return req

    @property
    def version(self) -> int:
        """The protocol version the HELLO chose (1 until it is done)."""
        return self.info.version if self.info is not None else 1

    def cursor(self, op: int, name: str, lsn: int | None = None) -> Req:
        """Queues a CURSOR_* request (version 2) for cursor ``name`` (for
        CURSOR_LIST: the name to list after, possibly empty); ``lsn`` for
        CREATE and COMMIT."""
        if not isinstance(name, str):
            raise TypeError(f"a cursor name is a str, not {name!r}")
        raw = name.encode("ascii", "replace")
        if (raw or op != OP_CURSOR_LIST) and not _CURSOR_NAME.fullmatch(raw):
            raise ValueError(f"a cursor name is 1..64 characters of "
                             f"[A-Za-z0-9._-], the first a letter or a "
                             f"digit, not {name!r}")
        self.check_open()
        if self.version < 2:
            raise VersionMismatch(
                f"cursors need protocol version 2, and this connection "
                f"speaks {self.version}: connect with protocol=2",
                op=OP_NAMES[op])
        body = raw
        if op in (OP_CURSOR_CREATE, OP_CURSOR_COMMIT):
            body = _U64.pack(check_u("lsn", lsn or 0, 64)) + raw
        rid = self._new_id()
        req = self.reqs[rid] = Req(rid, op)
        req.end = self.queue(_HDR.pack(HDR_LEN + len(body), op, 0, 0, rid)
                             + body)
        return req

    def _cursor_list(self, b0: int, b1: int) -> tuple[list[Cursor], bool]:
        buf = self.rbuf
        if b1 - b0 < 8:
            raise _Broken(f"cursor-list reply body of {b1 - b0} bytes")
        count, flags = _LIST_HEAD.unpack_from(buf, b0)
        if flags & ~F_LIST_MORE:
            raise _Broken(f"cursor-list flags 0x{flags:x}")
        out: list[Cursor] = []
        pos = b0 + 8
        for _ in range(count):
            if b1 - pos < 17:
                raise _Broken("cursor-list reply cut short")
            lsn, ms, n = _LIST_ENTRY.unpack_from(buf, pos)
            name = bytes(buf[pos + 17:pos + 17 + n])
            if not 1 <= n <= 64 or len(name) != n or \
                    not _CURSOR_NAME.fullmatch(name):
                raise _Broken("cursor-list entry with a bad name")
            out.append(Cursor(name.decode("ascii"), lsn, ms))
            pos += 17 + n
        if pos != b1:
            raise _Broken("cursor-list reply with bytes after its entries")
        return out, bool(flags & F_LIST_MORE)

    def batch(self, n: int) -> Batch:
        """Reserves the ids of n pipelined appends."""
        self.check_open()
        b = Batch(self.next_id, n)
        self.next_id += n
        if n:
            self.batches.append(b)
        return b

    def encode_chunk(self, b: Batch, items: Sequence[Any], i: int,
                     flags: int, type: int, vshard: int,
                     tenant: int) -> int:
        """Encodes items i.. of a batch, as APPENDs with ``flags`` (from
        append_flags), into one buffer of about CHUNK_BYTES, queues it and
        returns the index of the first item not encoded. An item above
        max_record fails at once with TooLarge."""
        n = len(items)
        buf = bytearray()
        pack = _APPEND.pack
        ends = b.ends
        lo = b.lo
        base = self.queued
        maxrec = self.max_record
        while i < n:
            p = items[i]
            t = p.__class__
            if t is bytes or t is bytearray:
                ln = len(p)
                hdr = pack(24 + ln, OP_APPEND, flags, 0, lo + i, type,
                           vshard, tenant)
            else:
                ptype, pvshard, ptenant = type, vshard, tenant
                if isinstance(p, tuple):
                    ptype, pvshard, ptenant = _entry_header(p)
                    p = p[0]
                p = as_payload(p)
                ln = len(p)
                hdr = pack(24 + ln, OP_APPEND, flags, 0, lo + i, ptype,
                           pvshard, ptenant)
            if ln > maxrec:
                b.results[i] = self.too_large(ln)
                b.left -= 1
                b.failed = True
                ends[i] = base + len(buf)
                i += 1
                continue
            buf += hdr
            buf += p
            k = len(buf)
            ends[i] = base + k
            i += 1
            if k >= CHUNK_BYTES:
                break
        if buf:
            self.queue(buf)
        if b.left == 0:
            self._batch_done(b)
        return i

    def read(self, from_lsn: int, to_lsn: int, tenant: int | None,
             vshard: int | None, type: int | None, follow: bool) -> Stream:
        """Queues a READ request and returns its stream."""
        check_u("from_lsn", from_lsn, 64)
        check_u("to_lsn", to_lsn, 64)
        if to_lsn and to_lsn < from_lsn:
            # walld would answer BAD_REQUEST and close the connection.
            raise ValueError(f"to_lsn {to_lsn} is below from_lsn "
                             f"{from_lsn}")
        flags = F_FOLLOW if follow else 0
        if tenant is not None:
            check_u("tenant", tenant, 32)
            flags |= F_TENANT
        if vshard is not None:
            check_u("vshard", vshard, 16)
            flags |= F_VSHARD
        if type is not None:
            check_u("type", type, 16)
            flags |= F_TYPE
        self.check_open()
        rid = self._new_id()
        st = self.streams[rid] = Stream(rid)
        st.end = self.queue(_READ.pack(40, OP_READ, flags, 0, rid, from_lsn,
                                       to_lsn, tenant or 0, vshard or 0,
                                       type or 0))
        return st

    def cancel(self, st: Stream) -> None:
        """Queues READ_CANCEL for a stream (once) and drops its records."""
        st.discard = True
        st.records.clear()
        if st.ended or st.cancelled or self.closed:
            return
        st.cancelled = True
        self.queue(_HDR.pack(HDR_LEN, OP_READ_CANCEL, 0, 0, st.id))

    # ------------------------------------------------------------ input

    def recv_room(self) -> memoryview:
        """A view of the free end of the receive buffer, for recv_into."""
        if self.rpos == self.rlen:
            self.rpos = self.rlen = 0
        buf = self.rbuf
        free = len(buf) - self.rlen
        if free < 65536:
            keep = self.rlen - self.rpos
            need = 0
            if keep >= HDR_LEN:
                need = _HDR.unpack_from(buf, self.rpos)[0]
            size = len(buf)
            while size < need + 65536:
                size *= 2
            if size > len(buf):
                nb = bytearray(size)
                nb[:keep] = buf[self.rpos:self.rlen]
                self.rbuf = buf = nb
            elif self.rpos:
                buf[:keep] = buf[self.rpos:self.rlen]
            self.rpos = 0
            self.rlen = keep
        return memoryview(buf)[self.rlen:]

    def received(self, n: int) -> None:
        """n more bytes are at the end of the receive buffer: decodes every
        whole frame. On an invalid frame the connection is broken."""
        self.rlen += n
        try:
            self._parse()
        except _Broken as e:
            self.fail(f"walld sent an invalid frame: {e}",
                      cause=ProtocolError(str(e)))

    def _parse(self) -> None:
        buf = self.rbuf
        pos = self.rpos
        end = self.rlen
        limit = self.rx_limit
        unpack_hdr = _HDR.unpack_from
        unpack_24 = _REPLY_U64.unpack_from
        batches = self.batches
        while end - pos >= HDR_LEN:
            # The common case first, in one unpack: the 24-byte reply
            # (header, LSN) to a pipelined append.
            if batches and end - pos >= 24:
                ln, op, flags, zero, rid, lsn = unpack_24(buf, pos)
                if ln == 24 and op == 0x82 and not flags and not zero:
                    b = batches[0]
                    k = rid - b.lo
                    if 0 <= k < b.hi - b.lo:
                        res = b.results
                        if res[k] is not None:
                            raise _Broken(f"a second reply for append {rid}")
                        res[k] = lsn
                        b.left -= 1
                        if b.left == 0:
                            self._batch_done(b)
                        pos += 24
                        continue
            ln, op, flags, zero, rid = unpack_hdr(buf, pos)
            if ln < HDR_LEN or ln > limit:
                raise _Broken(f"frame length {ln} out of bounds "
                              f"({HDR_LEN}..{limit})")
            if (flags or zero) and (zero or op != OP_READ_END or
                                    flags & ~F_SEALED_END or
                                    self.version < 2):
                raise _Broken(f"frame op 0x{op:02x} has flags 0x{flags:02x}"
                              f" and reserved 0x{zero:04x}")
            if end - pos < ln:
                break
            self.rpos = pos + ln
            self._frame(op, rid, pos + HDR_LEN, pos + ln, flags)
            pos += ln
        self.rpos = pos

    def _frame(self, op: int, rid: int, b0: int, b1: int,
               flags: int) -> None:
        """Dispatches one frame other than a fast-path append reply."""
        buf = self.rbuf
        req = self.reqs.get(rid)
        if req is not None:
            if op == OP_ERROR:
                self._complete(req, None, self._error(b0, b1, req.op))
                return
            if op != req.op | REPLY:
                raise _Broken(f"reply op 0x{op:02x} to a "
                              f"{OP_NAMES.get(req.op)} request")
            n = b1 - b0
            if req.op in _U64_OPS:
                if n != 8:
                    raise _Broken(f"{OP_NAMES[req.op]} reply body of {n} "
                                  f"bytes, not 8")
                self._complete(req, _U64.unpack_from(buf, b0)[0], None)
            elif req.op == OP_STATS:
                try:
                    text = bytes(buf[b0:b1]).decode("utf-8")
                except UnicodeDecodeError:
                    raise _Broken("stats text is not UTF-8") from None
                self._complete(req, text, None)
            elif req.op == OP_PING:
                if n:
                    raise _Broken(f"ping reply body of {n} bytes")
                self._complete(req, None, None)
            elif req.op == OP_HELLO:
                self._complete(req, self._hello_reply(req, b0, b1), None)
            elif req.op == OP_CURSOR_GET:
                if n != 16:
                    raise _Broken(f"cursor-get reply body of {n} bytes")
                self._complete(req, _CURSOR_GOT.unpack_from(buf, b0), None)
            elif req.op == OP_CURSOR_LIST:
                self._complete(req, self._cursor_list(b0, b1), None)
            else:
                raise _Broken(f"a reply to a {OP_NAMES.get(req.op)} request")
            return
        st = self.streams.get(rid)
        if st is not None:
            self._stream_frame(st, op, b0, b1, flags)
            return
        for b in self.batches:
            if b.lo <= rid < b.hi:
                k = rid - b.lo
                if b.results[k] is not None:
                    raise _Broken(f"a second reply for append {rid}")
                if op == OP_ERROR:
                    b.results[k] = self._error(b0, b1, OP_APPEND)
                    b.failed = True
                elif op == OP_APPEND | REPLY and b1 - b0 == 8:
                    b.results[k] = _U64.unpack_from(buf, b0)[0]
                else:
                    raise _Broken(f"op 0x{op:02x} ({b1 - b0} bytes) in "
                                  f"reply to an append")
                b.left -= 1
                if b.left == 0:
                    self._batch_done(b)
                return
        if rid == 0 and op == OP_ERROR:
            # About the connection, not a request: walld closes it next.
            self.hangup = self._error(b0, b1, 0)
            return
        raise _Broken(f"op 0x{op:02x} for id {rid}, which has no request "
                      f"in flight")

    def _error(self, b0: int, b1: int, op: int) -> ServerError:
        if b1 - b0 < 4:
            raise _Broken(f"error body of {b1 - b0} bytes")
        code, zero = _ERROR.unpack_from(self.rbuf, b0)
        if code == 0 or zero:
            raise _Broken(f"error code {code}, reserved {zero}")
        msg = bytes(self.rbuf[b0 + 4:b1]).decode("utf-8", "replace")
        return error_for_code(code, msg, OP_NAMES.get(op, ""))

    def _hello_reply(self, req: Req, b0: int, b1: int) -> ServerInfo:
        if b1 - b0 < 12:
            raise _Broken(f"hello reply body of {b1 - b0} bytes")
        version, zero, max_record, max_frame = _HELLO_REPLY.unpack_from(
            self.rbuf, b0)
        raw = bytes(self.rbuf[b0 + 12:b1])
        if (version < 1 or zero or max_record < 1
                or max_frame < max_record + 24 or max_frame > MAX_FRAME_HARD
                or b"\0" in raw):
            raise _Broken(f"hello reply: version {version}, max_record "
                          f"{max_record}, max_frame {max_frame}")
        info = ServerInfo(version, max_record, max_frame,
                          raw.decode("utf-8", "replace"))
        self.info = info
        self.max_record = max_record
        self.rx_limit = max(max_frame, max_record + 32)
        return info

    def _stream_frame(self, st: Stream, op: int, b0: int, b1: int,
                      flags: int) -> None:
        buf = self.rbuf
        if op == OP_RECORD:
            if b1 - b0 < 16:
                raise _Broken(f"record body of {b1 - b0} bytes")
            lsn, rtype, vshard, tenant = _RECORD.unpack_from(buf, b0)
            if not st.discard:
                st.records.append(Record(lsn, rtype, vshard, tenant,
                                         bytes(buf[b0 + 16:b1])))
                _wake(st)
            return
        if op == OP_READ_END:
            if b1 - b0 != 8:
                raise _Broken(f"read-end body of {b1 - b0} bytes")
            st.next_lsn = _U64.unpack_from(buf, b0)[0]
            st.sealed = bool(flags & F_SEALED_END)
        elif op == OP_ERROR:
            st.error = self._error(b0, b1, OP_READ)
        else:
            raise _Broken(f"op 0x{op:02x} in a read stream")
        st.ended = True
        del self.streams[st.id]
        _wake(st)

    def _complete(self, req: Req, value: Any,
                  error: WalldError | None) -> None:
        del self.reqs[req.id]
        req.value = value
        req.error = error
        req.done = True
        _wake(req)

    def _batch_done(self, b: Batch) -> None:
        try:
            self.batches.remove(b)
        except ValueError:
            pass
        _wake(b)

    # ---------------------------------------------------------- closing

    def fail(self, reason: str, *, cause: BaseException | None = None,
             timed_out: object = None) -> None:
        """Closes the connection for good and ends everything in flight:
        a request sent whole fails with OutcomeUnknown (Timeout for
        ``timed_out``), one not sent whole, and every read stream, with
        Disconnected."""
        if self.closed:
            return
        self.closed = True
        hang = self.hangup
        if hang is not None:
            reason = f"{reason} (walld said: {hang.message})"
            if cause is None:
                cause = hang
        self.close_reason = reason
        sent = self.sent

        def lost(what: str, end: int, obj: object) -> WalldError:
            if end > sent:
                exc: WalldError = Disconnected(
                    f"{what}: not sent: {reason}")
            elif obj is timed_out and obj is not None:
                exc = Timeout(f"{what}: {reason}; outcome unknown")
            else:
                exc = OutcomeUnknown(f"{what}: {reason}; outcome unknown")
            exc.__cause__ = cause
            return exc

        for req in list(self.reqs.values()):
            if req.op == OP_HELLO and hang is not None:
                self._complete(req, None, hang)
            else:
                self._complete(req, None, lost(OP_NAMES[req.op], req.end,
                                                req))
        for b in list(self.batches):
            res = b.results
            for k in range(len(res)):
                if res[k] is None:
                    res[k] = lost(f"append #{k}", b.ends[k], b)
            b.left = 0
            b.failed = True
            self._batch_done(b)
        for st in list(self.streams.values()):
            if st is timed_out:
                st.error = lost("read", st.end, st)
            else:
                st.error = Disconnected(f"read: {reason}")
                st.error.__cause__ = cause
            st.ended = True
            del self.streams[st.id]
            _wake(st)
        self.out.clear()
        self.out_bytes = 0


def _entry_header(p: tuple[Any, ...]) -> tuple[int, int, int]:
    """The (type, vshard, tenant) of an Entry or a plain tuple."""
    n = len(p)
    t = p[1] if n > 1 else 0
    v = p[2] if n > 2 else 0
    te = p[3] if n > 3 else 0
    if n < 1 or n > 4:
        raise ValueError("an entry is (payload, type, vshard, tenant)")
    return check_u("type", t, 16), check_u("vshard", v, 16), \
        check_u("tenant", te, 32)


def _wake(obj: Any) -> None:
    w = obj.waiter
    if w is not None and not w.done():
        w.set_result(None)


def batch_outcome(b: Batch, return_exceptions: bool) -> list[Any]:
    """The result of a finished batch: the list of LSNs, or (when an item
    failed and return_exceptions is false) the first failure raised with
    the whole list as its ``results``."""
    res = b.results
    if not b.failed or return_exceptions:
        return res
    for r in res:
        if isinstance(r, BaseException):
            r.results = res  # type: ignore[attr-defined]
            raise r
    return res

