# SPDX-License-Identifier: Apache-2.0
"""The exceptions of the walld client.

Every exception the package raises on purpose derives from
:class:`WalldError`. They fall into four groups:

* :class:`ServerError` and its subclasses: walld answered a request with an
  ERROR frame. One class per protocol error code (PROTOCOL.md, section 4);
  ``code`` and ``message`` hold what walld said. One of them,
  :class:`ReplicationUnavailable`, reports a record that IS durable.
* :class:`OutcomeUnknown`: the connection was lost (or timed out, see
  :class:`Timeout`) after a request was sent and before its reply came. An
  append may or may not be durable. This is not a server error: walld never
  said anything about the request.
* :class:`Disconnected`: the connection is closed and the request never
  reached walld whole (or was a read): nothing was done, it may be sent
  again on a new connection.
* :class:`ConnectError` (walld could not be reached) and
  :class:`ProtocolError` (one side broke the protocol).

Two class attributes summarise what a caller may do next:
``retry_safe`` is true when nothing was done and sending the same request
again (perhaps later) is safe; ``outcome_unknown`` is true when the request
may or may not have taken effect.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "WalldError",
    "ConnectError",
    "Disconnected",
    "OutcomeUnknown",
    "Timeout",
    "ProtocolError",
    "ServerError",
    "BadRequest",
    "TooLarge",
    "NotPermitted",
    "Sealed",
    "NoSpace",
    "IOFailed",
    "ShuttingDown",
    "VersionMismatch",
    "OutOfRange",
    "Busy",
    "InternalError",
    "ReplicationUnavailable",
    "ReplicationBacklog",
    "Damaged",
    "OutOfSequence",
    "NotFound",
    "Held",
    "ProducerPending",
    "error_for_code",
]


class WalldError(Exception):
    """Base class of every error the walld client raises."""

    #: True when nothing was done and the same request may be sent again.
    retry_safe: ClassVar[bool] = False
    #: True when the request may or may not have taken effect.
    outcome_unknown: bool = False


class ConnectError(WalldError, ConnectionError):
    """walld could not be reached: the socket is missing, refuses
    connections, may not be opened, or the HELLO exchange did not finish in
    time. Nothing was sent."""

    retry_safe = True


class Disconnected(WalldError):
    """The connection is closed, and this request never reached walld whole
    (or it was a read, which changes nothing). Nothing was done: the request
    may be sent again on a new connection.

    Raised for calls on a closed client, for requests whose bytes were not
    all written when the connection broke, and for reads whose stream was
    cut."""

    retry_safe = True


class OutcomeUnknown(WalldError):
    """The connection was lost after the request was sent and before its
    reply arrived (walld was killed, the socket was reset, the client timed
    out). Whether the request took effect is unknown: an append may or may
    not be durable; read the log to find out.

    For :meth:`walld.Client.append_many`, ``results`` holds one entry per
    record: its LSN when the reply came, else the exception for that
    record."""

    outcome_unknown = True

    def __init__(self, message: str, results: list[Any] | None = None) -> None:
        super().__init__(message)
        #: Per-record results of a pipelined call (None for a single call).
        self.results: list[Any] | None = results


class Timeout(OutcomeUnknown, TimeoutError):
    """The request did not complete within the client's timeout. The
    connection has been closed (it may be stuck), so the outcome of this
    request and of every other one in flight on it is unknown."""


class ProtocolError(WalldError):
    """One side broke the wire protocol. Raised directly when walld sends an
    invalid frame during the HELLO exchange; :class:`BadRequest` (walld
    rejecting a request as malformed) is one too. Either way the connection
    is closed."""


class ServerError(WalldError):
    """walld answered the request with an ERROR frame.

    ``code`` is the protocol error code, ``name`` its identifier
    (``"sealed"``, ``"no_space"``, ...), ``message`` walld's human-readable
    text, ``op`` the name of the request that failed (``"append"``, ...).
    For a pipelined call, ``results`` holds one entry per record (an LSN or
    an exception)."""

    code: ClassVar[int] = 0
    name: ClassVar[str] = "unknown"

    def __init__(self, message: str, *, code: int | None = None,
                 op: str = "", results: list[Any] | None = None) -> None:
        super().__init__(message)
        #: walld's message, for a human.
        self.message: str = message
        #: The request that failed: "append", "read", "seal", ...
        self.op: str = op
        #: Per-record results of a pipelined call (None for a single call).
        self.results: list[Any] | None = results
        if code is not None and code != type(self).code:
            # An unknown code: keep the number walld sent.
            self.code = code  # type: ignore[misc]

    def __str__(self) -> str:
        what = f"{self.op}: " if self.op else ""
        return f"{what}{self.name} ({self.code}): {self.message}"


class BadRequest(ServerError, ProtocolError):
    """Code 1: walld found the request malformed, unknown, out of order, or
    its arguments invalid (e.g. a HELLO with an empty version range).
    Nothing was done, and walld closes the connection."""

    code = 1
    name = "bad_request"


class TooLarge(ServerError):
    """Code 2: the payload is above walld's ``max_record``. Nothing was
    written; do not retry as is. The client also raises it before sending
    a payload above the limit walld announced."""

    code = 2
    name = "too_large"


class NotPermitted(ServerError):
    """Code 3: walld's access list does not let this peer do this (on this
    tenant). Nothing was done; the connection stays open."""

    code = 3
    name = "not_permitted"


class Sealed(ServerError):
    """Code 4: the log is sealed. Nothing was written, and no append will
    ever succeed again."""

    code = 4
    name = "sealed"


class NoSpace(ServerError):
    """Code 5: no disk space for a new segment. Nothing was written; safe to
    retry later."""

    code = 5
    name = "no_space"
    retry_safe = True


class IOFailed(ServerError):
    """Code 6: a write or fsync failed in walld. The outcome is unknown (the
    record may or may not be on disk after a restart); walld refuses every
    later append until it is restarted."""

    code = 6
    name = "io"
    outcome_unknown = True


class ShuttingDown(ServerError):
    """Code 7: walld is stopping. Nothing was written; safe to retry once it
    is back."""

    code = 7
    name = "shutting_down"
    retry_safe = True


class VersionMismatch(ServerError):
    """Code 8: walld and this client share no protocol version (HELLO)."""

    code = 8
    name = "version"


class OutOfRange(ServerError):
    """Code 9: an LSN out of range, e.g. a read starting below the log's
    first LSN (truncated away)."""

    code = 9
    name = "range"


class Busy(ServerError):
    """Code 10: a walld limit was reached (too many connections, too many
    reads streaming on this connection). Nothing was done; safe to retry."""

    code = 10
    name = "busy"
    retry_safe = True


class InternalError(ServerError):
    """Code 11, or a code this client does not know: a walld bug. For a
    request that writes (append, sync, seal, rotate, truncate) the outcome
    is unknown (``outcome_unknown`` is then true)."""

    code = 11
    name = "internal"


class ReplicationUnavailable(ServerError):
    """Code 12: a ``replicated`` append or sync whose records ARE durable
    on walld's disk (the fdatasync succeeded), but which the replication
    stream did not acknowledge in time (NATS unreachable, no quorum, walld
    fenced), or walld does not replicate at all. walld replicates them
    later. Not an outcome unknown: do not append the record again, that
    would write it twice.

    ``lsn`` is the LSN the request waited for (the record's, for an
    append), as walld's message names it; None if the message does not
    say."""

    code = 12
    name = "repl_unavailable"

    def __init__(self, message: str, *, code: int | None = None,
                 op: str = "", results: list[Any] | None = None) -> None:
        super().__init__(message, code=code, op=op, results=results)
        #: The durable LSN the request waited for, from walld's message
        #: ("LSN <n> is durable ..."); None when the message has no LSN.
        self.lsn: int | None = None
        head, _, rest = message.partition(" ")
        num = rest.partition(" ")[0]
        if head == "LSN" and num.isdigit() and num.isascii():
            self.lsn = int(num)


class ReplicationBacklog(ServerError):
    """Code 13: too many durable records wait for replication
    (``replication.backlog_records`` or ``backlog_bytes``). Nothing was
    written; safe to retry once the stream catches up."""

    code = 13
    name = "repl_backlog"
    retry_safe = True


class Damaged(ServerError):
    """Code 14: a record the read reached fails its checks (checksum,
    header, footer, authentication, a missing segment, a read error). The
    message names the file, offset and LSN; records before it were
    delivered, and a read may go on from the LSN after it."""

    code = 14
    name = "damaged"


class OutOfSequence(ServerError):
    """Code 15: an idempotent append's sequence number is neither its
    producer's next nor one of its recent ones (PROTOCOL.md, "Producers").
    Nothing was written. A client bug, or a retry from further back than
    walld's ``producers.window``."""

    code = 15
    name = "sequence"


class NotFound(ServerError):
    """Code 16 (version 2): no cursor of that name. Nothing was done."""

    code = 16
    name = "not_found"


class Held(ServerError):
    """Code 17 (version 2): a truncate would remove records a cursor has
    not consumed; the message names the cursor. Nothing was removed
    (``truncate(before, force=True)`` goes past it)."""

    code = 17
    name = "held"


class ProducerPending(WalldError):
    """A :class:`walld.Producer` gave up on an append whose outcome is
    unknown (or whose refusal may be about a record already in the log),
    and refuses new appends until :meth:`walld.Producer.resume` settles it:
    a new record must never take a number that may be in the log."""


_BY_CODE: dict[int, type[ServerError]] = {
    cls.code: cls
    for cls in (BadRequest, TooLarge, NotPermitted, Sealed, NoSpace,
                IOFailed, ShuttingDown, VersionMismatch, OutOfRange, Busy,
                InternalError, ReplicationUnavailable, ReplicationBacklog,
                Damaged, OutOfSequence, NotFound, Held)
}

_WRITING_OPS = frozenset(("append", "sync", "seal", "rotate", "truncate",
                          "cursor-create", "cursor-commit", "cursor-drop"))


def error_for_code(code: int, message: str, op: str = "") -> ServerError:
    """Makes the exception for an ERROR frame: the class of ``code`` (or
    :class:`InternalError` for a code this client does not know) with
    walld's ``message``, for a request named ``op``."""
    cls = _BY_CODE.get(code, InternalError)
    exc = cls(message, code=code, op=op)
    if cls is InternalError and op in _WRITING_OPS:
        exc.outcome_unknown = True
    return exc
