# SPDX-License-Identifier: Apache-2.0
"""walld: a client for the walld write-ahead-log daemon.

Speaks walld's wire protocol (proto/PROTOCOL.md) over its AF_UNIX socket,
with the standard library only. :class:`Client` is blocking,
:class:`AsyncClient` is for asyncio; both offer the same operations::

    import walld

    with walld.Client() as c:            # $WALLD_SOCKET, else /run/walld/walld.sock
        lsn = c.append(b"hello", tenant=7)   # durable when it returns
        for rec in c.read(from_lsn=lsn):
            print(rec.lsn, rec.payload)

Errors are :class:`WalldError` subclasses: one per protocol error code
(:class:`Sealed`, :class:`TooLarge`, :class:`NotPermitted`, ...), and
:class:`OutcomeUnknown` when the connection was lost with a request in
flight. :class:`ReplicationUnavailable` is the one error after which the
record is durable: a ``replicated`` append the replication stream did not
take in time. :class:`Producer` makes appends idempotent: sent again after
an unknown outcome, a record is still written once.
"""

from ._core import Cursor, Entry, Record, ServerInfo
from .aio import AsyncClient, AsyncReader
from .client import Client, Reader, default_socket
from .producer import AsyncProducer, Producer
from .errors import (
    BadRequest,
    Busy,
    ConnectError,
    Disconnected,
    InternalError,
    Held,
    IOFailed,
    NoSpace,
    NotFound,
    NotPermitted,
    OutcomeUnknown,
    OutOfRange,
    OutOfSequence,
    Damaged,
    ProducerPending,
    ProtocolError,
    ReplicationBacklog,
    ReplicationUnavailable,
    Sealed,
    ServerError,
    ShuttingDown,
    Timeout,
    TooLarge,
    VersionMismatch,
    WalldError,
    error_for_code,
)

#: The version of this package.
__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncProducer",
    "AsyncReader",
    "BadRequest",
    "Busy",
    "Client",
    "ConnectError",
    "Cursor",
    "Disconnected",
    "Entry",
    "Held",
    "IOFailed",
    "InternalError",
    "NoSpace",
    "NotFound",
    "NotPermitted",
    "OutOfRange",
    "OutOfSequence",
    "Damaged",
    "OutcomeUnknown",
    "Producer",
    "ProducerPending",
    "ProtocolError",
    "Reader",
    "Record",
    "ReplicationBacklog",
    "ReplicationUnavailable",
    "Sealed",
    "ServerError",
    "ServerInfo",
    "ShuttingDown",
    "Timeout",
    "TooLarge",
    "VersionMismatch",
    "WalldError",
    "default_socket",
    "error_for_code",
]
