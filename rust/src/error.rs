// SPDX-License-Identifier: Apache-2.0
//! The error type: one variant per error code of the protocol, and the
//! client's own failures.

use std::fmt;
use std::io;

/// What can go wrong with a request to walld.
///
/// The variants named after a protocol error code carry walld's message
/// (for a human; it may be empty). Of the rest, two say something about
/// what walld did with a request:
///
/// - [`Error::OutcomeUnknown`]: the request was sent, and the connection
///   was lost before its reply came. For an append, the record may or may
///   not be durable; check with a read before appending it again.
/// - [`Error::Closed`]: the connection was already gone; nothing was sent,
///   and it is safe to retry on a new connection.
///
/// A [`Producer`](crate::Producer) retries what may be retried itself;
/// what it returns is final for the append, or leaves it pending
/// ([`Error::ProducerPending`]).
#[derive(Debug)]
pub enum Error {
    /// `BAD_REQUEST` (code 1): walld found the request malformed or out of
    /// order, a bug in the caller or in this crate; nothing was done and
    /// walld closes the connection. Also returned without asking walld for
    /// arguments the protocol forbids (a read whose end is below its start,
    /// a [`Producer`](crate::Producer) id or first sequence number of 0,
    /// a cursor name that breaks the rules of
    /// [`Client::cursor_create`](crate::Client::cursor_create)).
    BadRequest(String),
    /// `TOO_LARGE` (code 2): the payload is above walld's `max_record`.
    /// Nothing was written; do not retry it as it is. The client checks the
    /// size itself before sending, so this comes without a round trip.
    TooLarge(String),
    /// `NOT_PERMITTED` (code 3): walld's access list does not let this
    /// process do this (for this tenant). Nothing was done; the connection
    /// stays usable.
    NotPermitted(String),
    /// `SEALED` (code 4): the log is sealed. Nothing was written, and no
    /// append will ever succeed again on this log.
    Sealed(String),
    /// `NO_SPACE` (code 5): no space for a new segment. Nothing was
    /// written; safe to retry later.
    NoSpace(String),
    /// `IO` (code 6): a write or fsync of walld's failed. The outcome is
    /// unknown (the record may or may not be on disk after a restart), and
    /// walld refuses every later append until it is restarted.
    WalIo(String),
    /// `SHUTTING_DOWN` (code 7): walld is stopping. Nothing was written;
    /// safe to retry once it is back.
    ShuttingDown(String),
    /// `VERSION` (code 8): walld and this client have no protocol version
    /// in common. Also returned without sending anything for a request
    /// the connection's protocol version does not have: cursors and
    /// [`Client::truncate_force`](crate::Client::truncate_force) on a
    /// version 1 connection (open a version 2 one with
    /// [`ClientOptions::protocol`](crate::ClientOptions::protocol)).
    Version(String),
    /// `RANGE` (code 9): an LSN out of range, e.g. a read from below the
    /// log's first LSN (truncated away), a cursor commit below the
    /// cursor's LSN (a cursor never goes back), or a cursor LSN above the
    /// durable LSN.
    Range(String),
    /// `BUSY` (code 10): a limit was reached (too many connections, too
    /// many reads streaming on one connection). Nothing was written; safe
    /// to retry.
    Busy(String),
    /// `INTERNAL` (code 11), or an error code this client does not know:
    /// a bug in walld. For an append, treat the outcome as unknown.
    Internal(String),
    /// `REPL_UNAVAILABLE` (code 12): an append or sync that asked for
    /// [`Ack::Replicated`](crate::Ack::Replicated). Its records **are
    /// durable** on walld's disk, but the replication stream did not
    /// acknowledge them in time (NATS unreachable, no quorum, walld
    /// fenced), or walld does not replicate at all. walld replicates them
    /// later. Not an outcome unknown: do not append the record again, that
    /// would write it twice. [`Error::lsn`] gives the LSN walld names.
    ReplicationUnavailable(String),
    /// `REPL_BACKLOG` (code 13): too many durable records wait for
    /// replication (`replication.backlog_records` or `backlog_bytes`).
    /// Nothing was written; safe to retry once the stream catches up.
    ReplicationBacklog(String),
    /// `DAMAGED` (code 14): a record the read reached fails its checks
    /// (checksum, header, footer, authentication, a missing segment, a
    /// read error). The message names the file, offset and LSN; the
    /// records before it were delivered, and a read may go on from the
    /// LSN after it.
    Damaged(String),
    /// `SEQUENCE` (code 15): an idempotent append's sequence number (a
    /// [`Producer`](crate::Producer)'s) is neither its producer's next
    /// nor one of its recent ones (PROTOCOL.md, "Producers"). Nothing was
    /// written; walld's message says the next number it expects and the
    /// oldest it recognises a retry for. A `next_seq` too far ahead or
    /// behind, or a retry from further back than walld's
    /// `producers.window`.
    Sequence(String),
    /// `NOT_FOUND` (code 16, protocol version 2): walld has no cursor of
    /// that name (a commit, get or drop). Nothing was done; the
    /// connection stays usable.
    NotFound(String),
    /// `HELD` (code 17, protocol version 2): a truncate would remove
    /// records a consumer cursor has not consumed; walld's message names
    /// the cursor and its LSN. Nothing was removed.
    /// [`Client::truncate_force`](crate::Client::truncate_force) goes
    /// past it. (On a version 1 connection walld answers the same
    /// truncate with [`Error::NotPermitted`].)
    Held(String),
    /// A [`Producer`](crate::Producer) append refused, without sending
    /// anything, because an earlier append of the producer is pending: its
    /// outcome is unknown (the producer gave up retrying it, or walld
    /// answered `INTERNAL`), or it was refused after a try that may have
    /// written it. A new record must never take a number that may be in
    /// the log: [`Producer::resume`](crate::Producer::resume) settles the
    /// pending one first. The text names the producer and the number.
    ProducerPending(String),
    /// The request was sent and the connection was lost (walld died or
    /// closed it, or sent something this client could not make sense of)
    /// before its reply arrived. The request may or may not have taken
    /// effect. The text says why the connection was lost.
    OutcomeUnknown(String),
    /// The connection was closed before this request: nothing was sent.
    /// The text says why it was closed. Connect again to go on. Also
    /// returned by `connect` when walld closed the connection during the
    /// HELLO exchange without saying why.
    Closed(String),
    /// No reply within the client's timeout
    /// ([`Client::set_timeout`](crate::Client::set_timeout)). The request
    /// may still be carried out by walld (for an append: outcome unknown);
    /// its reply, if it comes, is discarded, and the connection stays
    /// usable.
    Timeout,
    /// walld broke the protocol while connecting (an answer to HELLO that
    /// makes no sense). Once connected, a broken frame from walld closes
    /// the connection, and requests in flight get
    /// [`Error::OutcomeUnknown`] with the reason.
    Protocol(String),
    /// A local I/O error: connecting failed (no such socket, permission
    /// denied, walld not running), or the socket failed before a request
    /// was sent.
    Io(io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error for an ERROR frame with `code` and `message`.
    pub(crate) fn from_wire(code: u16, message: String) -> Error {
        match code {
            1 => Error::BadRequest(message),
            2 => Error::TooLarge(message),
            3 => Error::NotPermitted(message),
            4 => Error::Sealed(message),
            5 => Error::NoSpace(message),
            6 => Error::WalIo(message),
            7 => Error::ShuttingDown(message),
            8 => Error::Version(message),
            9 => Error::Range(message),
            10 => Error::Busy(message),
            11 => Error::Internal(message),
            12 => Error::ReplicationUnavailable(message),
            13 => Error::ReplicationBacklog(message),
            14 => Error::Damaged(message),
            15 => Error::Sequence(message),
            16 => Error::NotFound(message),
            17 => Error::Held(message),
            _ => Error::Internal(format!("unknown error code {}: {}", code, message)),
        }
    }

    /// The protocol's error code for the variants that have one
    /// (`BAD_REQUEST` = 1 ... `SEQUENCE` = 15, `NOT_FOUND` = 16, `HELD` =
    /// 17), `None` for the others.
    /// An unknown code from walld is reported as 11, `INTERNAL`.
    pub fn code(&self) -> Option<u16> {
        Some(match self {
            Error::BadRequest(_) => 1,
            Error::TooLarge(_) => 2,
            Error::NotPermitted(_) => 3,
            Error::Sealed(_) => 4,
            Error::NoSpace(_) => 5,
            Error::WalIo(_) => 6,
            Error::ShuttingDown(_) => 7,
            Error::Version(_) => 8,
            Error::Range(_) => 9,
            Error::Busy(_) => 10,
            Error::Internal(_) => 11,
            Error::ReplicationUnavailable(_) => 12,
            Error::ReplicationBacklog(_) => 13,
            Error::Damaged(_) => 14,
            Error::Sequence(_) => 15,
            Error::NotFound(_) => 16,
            Error::Held(_) => 17,
            _ => return None,
        })
    }

    /// True when the request certainly had no effect and the same request
    /// may be sent again (on a new connection for [`Error::Closed`]):
    /// `NO_SPACE`, `SHUTTING_DOWN`, `BUSY`, `REPL_BACKLOG`, and a
    /// connection that was already closed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::NoSpace(_)
                | Error::ShuttingDown(_)
                | Error::Busy(_)
                | Error::ReplicationBacklog(_)
                | Error::Closed(_)
        )
    }

    /// For [`Error::ReplicationUnavailable`]: the durable LSN the request
    /// waited for (the record's, for an append; the last one it covered,
    /// for a sync), as walld's message names it (`LSN <n> is durable
    /// ...`). `None` for other errors, or a message without it.
    pub fn lsn(&self) -> Option<u64> {
        match self {
            Error::ReplicationUnavailable(m) => {
                let mut words = m.split(' ');
                match (words.next(), words.next()) {
                    (Some("LSN"), Some(n)) if n.bytes().all(|b| b.is_ascii_digit()) => {
                        n.parse().ok()
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// True when a request that changes the log (append, seal, rotate,
    /// truncate) or a cursor (create, commit, drop) may or may not have
    /// taken effect: the connection was lost with it in flight, walld's
    /// write failed (`IO`), walld had a bug (`INTERNAL`), or no reply
    /// came in time.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::OutcomeUnknown(_) | Error::WalIo(_) | Error::Internal(_) | Error::Timeout
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, msg) = match self {
            Error::BadRequest(m) => ("bad request", m),
            Error::TooLarge(m) => ("too large", m),
            Error::NotPermitted(m) => ("not permitted", m),
            Error::Sealed(m) => ("sealed", m),
            Error::NoSpace(m) => ("no space", m),
            Error::WalIo(m) => ("walld I/O error, outcome unknown", m),
            Error::ShuttingDown(m) => ("walld is shutting down", m),
            Error::Version(m) => ("no common protocol version", m),
            Error::Range(m) => ("out of range", m),
            Error::Busy(m) => ("busy", m),
            Error::Internal(m) => ("walld internal error", m),
            Error::ReplicationUnavailable(m) => ("durable, not replicated", m),
            Error::ReplicationBacklog(m) => ("replication backlog full, nothing written", m),
            Error::Damaged(m) => ("damaged record", m),
            Error::Sequence(m) => ("out of sequence", m),
            Error::NotFound(m) => ("not found", m),
            Error::Held(m) => ("held by a cursor", m),
            Error::ProducerPending(m) => ("an earlier append is pending, nothing sent", m),
            Error::OutcomeUnknown(m) => ("connection lost, outcome unknown", m),
            Error::Closed(m) => ("connection closed, nothing sent", m),
            Error::Timeout => return f.write_str("no reply from walld within the timeout"),
            Error::Protocol(m) => ("protocol error", m),
            Error::Io(e) => return write!(f, "I/O error: {}", e),
        };
        if msg.is_empty() {
            f.write_str(what)
        } else {
            write!(f, "{}: {}", what, msg)
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_back_to_itself() {
        for code in 1..=17u16 {
            assert_eq!(Error::from_wire(code, String::new()).code(), Some(code));
        }
        let e = Error::from_wire(99, "what".to_string());
        assert!(matches!(e, Error::Internal(_)));
        assert_eq!(e.to_string(), "walld internal error: unknown error code 99: what");
    }

    #[test]
    fn replication_errors() {
        let e = Error::from_wire(12, "LSN 42 is durable on this machine".to_string());
        assert!(matches!(e, Error::ReplicationUnavailable(_)));
        assert_eq!(e.lsn(), Some(42));
        assert!(!e.is_outcome_unknown() && !e.is_retryable());
        assert!(e.to_string().starts_with("durable, not replicated: LSN 42"));
        assert_eq!(Error::from_wire(12, String::new()).lsn(), None);
        assert_eq!(Error::from_wire(12, "LSN +4 x".to_string()).lsn(), None);
        assert_eq!(Error::from_wire(12, "LSN 7".to_string()).lsn(), Some(7));
        let b = Error::from_wire(13, "full".to_string());
        assert!(matches!(b, Error::ReplicationBacklog(_)));
        assert!(b.is_retryable() && !b.is_outcome_unknown());
        assert_eq!(b.lsn(), None);
        assert_eq!(Error::Internal("LSN 3 x".to_string()).lsn(), None);
    }

    #[test]
    fn producer_errors() {
        let e = Error::from_wire(15, "sequence 9 is out of order; nothing was written".into());
        assert!(matches!(e, Error::Sequence(_)));
        assert_eq!(e.code(), Some(15));
        assert!(!e.is_retryable() && !e.is_outcome_unknown());
        assert_eq!(
            e.to_string(),
            "out of sequence: sequence 9 is out of order; nothing was written"
        );
        let p = Error::ProducerPending("record number 2".into());
        assert_eq!(p.code(), None);
        assert!(!p.is_retryable() && !p.is_outcome_unknown());
        assert!(p.to_string().starts_with("an earlier append is pending"));
    }

    #[test]
    fn cursor_errors() {
        let e = Error::from_wire(16, "no cursor named etl".into());
        assert!(matches!(e, Error::NotFound(_)));
        assert_eq!(e.code(), Some(16));
        assert!(!e.is_retryable() && !e.is_outcome_unknown());
        assert_eq!(e.to_string(), "not found: no cursor named etl");
        let h = Error::from_wire(17, "cursor slow is at LSN 0; nothing removed".into());
        assert!(matches!(h, Error::Held(_)));
        assert_eq!(h.code(), Some(17));
        assert!(!h.is_retryable() && !h.is_outcome_unknown());
        assert_eq!(
            h.to_string(),
            "held by a cursor: cursor slow is at LSN 0; nothing removed"
        );
        assert_eq!(Error::Held(String::new()).to_string(), "held by a cursor");
    }

    #[test]
    fn outcome_unknown_is_neither_retryable_nor_a_code() {
        let e = Error::OutcomeUnknown("walld closed the connection".into());
        assert!(e.is_outcome_unknown());
        assert!(!e.is_retryable());
        assert_eq!(e.code(), None);
        assert!(Error::Closed(String::new()).is_retryable());
        assert!(!Error::Closed(String::new()).is_outcome_unknown());
        assert!(Error::Sealed(String::new()).to_string().starts_with("sealed"));
    }
}
