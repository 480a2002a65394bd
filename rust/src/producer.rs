// SPDX-License-Identifier: Apache-2.0
//! Idempotent appends: [`Producer`] (PROTOCOL.md, "Producers";
//! docs/PRODUCERS.md).
//!
//! A producer numbers its appends 1, 2, 3, ... and sends one whose
//! outcome is unknown again, under the same number, on a new connection
//! when needed, until walld answers with its LSN or a definite refusal.
//! walld recognises the number and writes the record at most once, across
//! its own restarts and kill -9. The rules are those of libwal's
//! `struct wal_producer`, as the Python client's `walld.Producer` has
//! them.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{socket_from_env, Ack, Client};
use crate::error::{Error, Result};
use crate::wire;

/// The first pause between two tries; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest pause between two tries.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How a [`Producer`] is opened: its identity, its first number and how
/// it retries. Set what differs from the defaults, then
/// [`open`](ProducerOptions::open):
///
/// ```no_run
/// use std::time::Duration;
/// use walld_client::Producer;
///
/// # fn main() -> walld_client::Result<()> {
/// let mut p = Producer::options()
///     .tenant(7)
///     .retry_for(Some(Duration::from_secs(60)))
///     .open("/run/walld/walld.sock")?;
/// let lsn = p.append(1, 0, b"order 42")?;
/// # let _ = lsn;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerOptions {
    producer_id: Option<u64>,
    next_seq: u64,
    tenant: u32,
    ack: Ack,
    retry_for: Option<Duration>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
}

impl Default for ProducerOptions {
    fn default() -> ProducerOptions {
        ProducerOptions {
            producer_id: None,
            next_seq: 1,
            tenant: 0,
            ack: Ack::Default,
            retry_for: Some(Duration::from_secs(30)),
            timeout: Some(Duration::from_secs(10)),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl ProducerOptions {
    /// The defaults: a random producer id, first number 1, tenant 0,
    /// [`Ack::Default`], retries for 30 s, each try bounded by 10 s, each
    /// connection's HELLO exchange by 10 s.
    pub fn new() -> ProducerOptions {
        ProducerOptions::default()
    }

    /// The producer id: any u64 but 0 (0 is refused by
    /// [`open`](ProducerOptions::open) with [`Error::BadRequest`]). By
    /// default a random one, read from `/dev/urandom`. A process that
    /// comes back as the same producer passes its id again, with
    /// [`next_seq`](ProducerOptions::next_seq).
    pub fn producer_id(mut self, producer_id: u64) -> ProducerOptions {
        self.producer_id = Some(producer_id);
        self
    }

    /// The number of the first record (1, the default, for a new
    /// producer; 0 is refused by [`open`](ProducerOptions::open)). A
    /// process that comes back as the same producer passes the number
    /// after the last one it saw acknowledged (stored with its own
    /// state), or takes a new id.
    pub fn next_seq(mut self, next_seq: u64) -> ProducerOptions {
        self.next_seq = next_seq;
        self
    }

    /// The tenant of every record of the producer (0 by default). walld
    /// keeps numbers per (tenant, producer id): the same id under two
    /// tenants is two producers.
    pub fn tenant(mut self, tenant_id: u32) -> ProducerOptions {
        self.tenant = tenant_id;
        self
    }

    /// The acknowledgement level of every append ([`Ack::Default`] by
    /// default: walld's `replication.ack`).
    pub fn ack(mut self, ack: Ack) -> ProducerOptions {
        self.ack = ack;
        self
    }

    /// How long an append goes on trying, from its first try (30 s by
    /// default); `None`: for ever. A zero duration makes one try.
    pub fn retry_for(mut self, retry_for: Option<Duration>) -> ProducerOptions {
        self.retry_for = retry_for;
        self
    }

    /// The time limit of each try: sending the append and getting its
    /// reply (10 s by default); `None`: no limit. A try past it counts as
    /// an outcome unknown: the connection is dropped and the append sent
    /// again.
    pub fn timeout(mut self, timeout: Option<Duration>) -> ProducerOptions {
        self.timeout = timeout;
        self
    }

    /// The time limit of each connection's HELLO exchange (10 s by
    /// default), and never more than what is left of
    /// [`retry_for`](ProducerOptions::retry_for).
    pub fn connect_timeout(mut self, timeout: Duration) -> ProducerOptions {
        self.connect_timeout = timeout;
        self
    }

    /// Opens the producer on walld's socket at `path`: connects at once,
    /// asking for protocol version 2. Fails as
    /// [`Client::connect_timeout`] does when walld cannot be reached
    /// ([`Error::Io`] for a missing socket or walld not running), with
    /// [`Error::Version`] when walld does not speak version 2, and with
    /// [`Error::BadRequest`] for a producer id or first number of 0.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Producer> {
        Producer::start(self, path.as_ref().to_path_buf())
    }

    /// Opens the producer on the socket named by `$WALLD_SOCKET`, or on
    /// [`DEFAULT_SOCKET`](crate::DEFAULT_SOCKET) when it is not set, as
    /// [`open`](ProducerOptions::open) does.
    pub fn open_env(self) -> Result<Producer> {
        self.open(socket_from_env())
    }
}

/// The append a producer has not settled: sent again under the
/// producer's next number until it settles.
#[derive(Debug)]
struct Unsettled {
    record_type: u16,
    vshard_id: u16,
    payload: Vec<u8>,
}

/// How a try that failed goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    /// Nothing written, for a reason that passes: again on the same
    /// connection.
    Later,
    /// The connection is gone or useless: again on a new one. `ambiguous`
    /// when the record may be in the log after this try.
    Reconnect { ambiguous: bool },
}

/// Whether a try that failed with `e` is tried again, and how; `None` when
/// `e` is the append's answer. `connecting`: `e` came from connecting and
/// saying HELLO, so that no append was sent on that connection (a timeout
/// or a connection lost then is a failure to connect).
fn again(e: &Error, connecting: bool) -> Option<Again> {
    match e {
        Error::Busy(_) | Error::NoSpace(_) | Error::ReplicationBacklog(_) => Some(Again::Later),
        Error::Closed(_) | Error::ShuttingDown(_) | Error::Io(_) => {
            Some(Again::Reconnect { ambiguous: false })
        }
        Error::OutcomeUnknown(_) | Error::Timeout if connecting => {
            Some(Again::Reconnect { ambiguous: false })
        }
        // The connection was lost with the append in flight, walld's
        // write failed, or the stream broke: the record may be in the log.
        Error::OutcomeUnknown(_) | Error::Timeout | Error::WalIo(_) | Error::Protocol(_) => {
            Some(Again::Reconnect { ambiguous: true })
        }
        _ => None,
    }
}

/// A random producer id, not 0, from `/dev/urandom`.
fn random_id() -> Result<u64> {
    let mut f = File::open("/dev/urandom")?;
    loop {
        let mut b = [0u8; 8];
        f.read_exact(&mut b)?;
        let id = u64::from_le_bytes(b);
        if id != 0 {
            return Ok(id);
        }
    }
}

/// Seconds, for messages.
fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// An idempotent sender of records to walld: each of its appends is
/// written at most once, however often it is sent (PROTOCOL.md,
/// "Producers"; docs/PRODUCERS.md).
///
/// A producer is the pair (tenant, producer id), named when it is opened
/// ([`ProducerOptions`]); it numbers its records 1, 2, 3, ... (from
/// [`ProducerOptions::next_seq`]) and keeps one connection of its own,
/// which speaks protocol version 2.
///
/// [`append`](Producer::append) returns the record's LSN once it is
/// durable (at the producer's [`Ack`] level), after as many reconnects
/// and resends as it takes within [`ProducerOptions::retry_for`], under
/// the same number, with a pause between tries of 10 ms doubling up to
/// 1 s. walld writes a number once and answers a resend with the LSN the
/// record got the first time. It tries again when the outcome is unknown
/// ([`Error::OutcomeUnknown`], [`Error::Timeout`], [`Error::WalIo`], a
/// [`Error::Protocol`] break), when the connection is gone or cannot be
/// made ([`Error::Closed`], [`Error::Io`]), when walld is stopping
/// ([`Error::ShuttingDown`]), on a new connection for all of these; and
/// on the same connection after [`Error::Busy`], [`Error::NoSpace`] and
/// [`Error::ReplicationBacklog`].
///
/// What `append` returns settles the record:
///
/// - its LSN: the number is used;
/// - [`Error::ReplicationUnavailable`] (with [`Ack::Replicated`]): the
///   record is durable and its number used; do not append it again;
/// - a definite refusal ([`Error::Sealed`], [`Error::TooLarge`],
///   [`Error::NotPermitted`], [`Error::Sequence`], ...): nothing was
///   written by this append, and the number stays free, when no try was
///   ambiguous. After a try whose outcome was unknown the refusal may be
///   about a record already in the log, so the append stays **pending**;
/// - [`Error::OutcomeUnknown`] when `retry_for` runs out, or
///   [`Error::Internal`]: the append stays pending.
///
/// While an append is pending, `append` returns
/// [`Error::ProducerPending`] without sending anything: a new record must
/// never take a number that may already be in the log.
/// [`resume`](Producer::resume) sends the pending record again until it
/// settles.
///
/// ```no_run
/// use walld_client::{Error, Producer};
///
/// # fn main() -> walld_client::Result<()> {
/// let mut p = Producer::from_env()?; // a random producer id, tenant 0
/// match p.append(1, 3, b"order 42") {
///     Ok(lsn) => println!("LSN {}, written once", lsn),
///     Err(e) if p.is_pending() => {
///         // Given up for now: walld may hold the record. Later:
///         println!("{}; resumed at LSN {:?}", e, p.resume()?);
///     }
///     Err(e) => return Err(e), // settled: nothing written
/// }
/// println!("the next number is {}", p.next_seq());
/// # Ok(())
/// # }
/// ```
///
/// Methods take `&mut self`: one thread appends at a time, blocking. To
/// pipeline, keep at most walld's `producers.window` (default 32) appends
/// in flight, so that every resend is recognised. Dropping the producer
/// closes its connection; a pending append stays unsettled.
#[derive(Debug)]
pub struct Producer {
    path: PathBuf,
    id: u64,
    tenant: u32,
    /// The number of the next record, or of the pending one.
    next: u64,
    ack: Ack,
    retry_for: Option<Duration>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    /// The connection, while there is one.
    conn: Option<Client>,
    pending: Option<Unsettled>,
    /// A try of the pending append may have written it.
    maybe_in_log: bool,
    retries: u64,
}

impl Producer {
    /// Opens a producer with the defaults of [`ProducerOptions`] (a
    /// random id, tenant 0) on walld's socket at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Producer> {
        ProducerOptions::new().open(path)
    }

    /// Opens a producer with the defaults of [`ProducerOptions`] on the
    /// socket named by `$WALLD_SOCKET`, or on
    /// [`DEFAULT_SOCKET`](crate::DEFAULT_SOCKET) when it is not set.
    pub fn from_env() -> Result<Producer> {
        ProducerOptions::new().open_env()
    }

    /// The options, to set and then [`open`](ProducerOptions::open) a
    /// producer with.
    pub fn options() -> ProducerOptions {
        ProducerOptions::new()
    }

    fn start(o: ProducerOptions, path: PathBuf) -> Result<Producer> {
        let id = match o.producer_id {
            Some(0) => return Err(Error::BadRequest("a producer id is not 0".to_string())),
            Some(id) => id,
            None => random_id()?,
        };
        if o.next_seq == 0 {
            return Err(Error::BadRequest("sequence numbers start at 1".to_string()));
        }
        let mut p = Producer {
            path,
            id,
            tenant: o.tenant,
            next: o.next_seq,
            ack: o.ack,
            retry_for: o.retry_for,
            timeout: o.timeout,
            connect_timeout: o.connect_timeout,
            conn: None,
            pending: None,
            maybe_in_log: false,
            retries: 0,
        };
        p.connect(o.connect_timeout)?;
        Ok(p)
    }

    /// The producer id (with the [`tenant`](Producer::tenant), what walld
    /// knows the producer by).
    pub fn producer_id(&self) -> u64 {
        self.id
    }

    /// The tenant of every record of this producer.
    pub fn tenant(&self) -> u32 {
        self.tenant
    }

    /// The number of the record [`append`](Producer::append) sends next,
    /// or of the pending one. 0 once every u64 has been used.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// True while an append is pending: its outcome is not settled, and
    /// [`resume`](Producer::resume) must settle it before the next
    /// [`append`](Producer::append).
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// How many times an append was sent again (each try after an
    /// append's first), over the producer's life.
    pub fn retries(&self) -> u64 {
        self.retries
    }

    /// The acknowledgement level of the producer's appends.
    pub fn ack(&self) -> Ack {
        self.ack
    }

    /// The socket path the producer connects to.
    pub fn socket_path(&self) -> &Path {
        &self.path
    }

    /// Connects when not connected (or when the connection closed),
    /// waiting at most `timeout` for walld's HELLO reply.
    fn connect(&mut self, timeout: Duration) -> Result<()> {
        if let Some(c) = &self.conn {
            if !c.is_closed() {
                return Ok(());
            }
        }
        self.conn = None;
        // Version 2 alone; the HELLO within `timeout`, each try within
        // the producer's own limit.
        let c = Client::options()
            .protocol(wire::VERSION_2)
            .timeout(Some(timeout))
            .connect(&self.path)?;
        c.set_timeout(self.timeout);
        self.conn = Some(c);
        Ok(())
    }

    /// Appends one record, of type `record_type` and virtual shard
    /// `vshard_id`, under the producer's next number; returns its LSN
    /// once it is durable, written once however many times it was sent.
    /// See [`Producer`] for what is tried again and what settles the
    /// record. [`Error::ProducerPending`], without sending anything, while
    /// an earlier append is pending.
    pub fn append(&mut self, record_type: u16, vshard_id: u16, payload: &[u8]) -> Result<u64> {
        if self.pending.is_some() {
            return Err(Error::ProducerPending(format!(
                "producer {}: record number {} is not settled (its outcome is unknown): \
                 Producer::resume first",
                self.id, self.next
            )));
        }
        if self.next == 0 {
            return Err(Error::BadRequest(format!(
                "producer {}: every sequence number is used; take a new producer id",
                self.id
            )));
        }
        self.pending = Some(Unsettled {
            record_type,
            vshard_id,
            payload: payload.to_vec(),
        });
        self.maybe_in_log = false;
        self.settle()
    }

    /// Sends the pending append again until it settles, as
    /// [`append`](Producer::append) does, with a new
    /// [`retry_for`](ProducerOptions::retry_for); returns its LSN, or
    /// `None` when nothing was pending. An error leaves it pending or
    /// settles it, as for `append`.
    pub fn resume(&mut self) -> Result<Option<u64>> {
        if self.pending.is_none() {
            return Ok(None);
        }
        self.settle().map(Some)
    }

    /// Sends the pending append and settles it by the answer.
    fn settle(&mut self) -> Result<u64> {
        match self.send() {
            Ok(lsn) => {
                self.used();
                Ok(lsn)
            }
            // Durable, only not replicated in time.
            Err(e @ Error::ReplicationUnavailable(_)) => {
                self.used();
                Err(e)
            }
            // Stays pending.
            Err(e @ (Error::OutcomeUnknown(_) | Error::Internal(_))) => Err(e),
            Err(e) => {
                if !self.maybe_in_log {
                    // Refused: the number stays free.
                    self.pending = None;
                }
                Err(e)
            }
        }
    }

    /// The pending append took its number.
    fn used(&mut self) {
        self.pending = None;
        self.next = self.next.wrapping_add(1);
    }

    /// Sends the pending append until walld answers it, or until
    /// `retry_for` runs out ([`Error::OutcomeUnknown`]).
    fn send(&mut self) -> Result<u64> {
        let start = Instant::now();
        let mut backoff = BACKOFF_MIN;
        let mut tries: u64 = 0;
        let mut last: Option<Error> = None;
        loop {
            let left = self
                .retry_for
                .map(|r| r.checked_sub(start.elapsed()).unwrap_or(Duration::ZERO));
            if tries > 0 && left == Some(Duration::ZERO) {
                let last = last.map(|e| e.to_string()).unwrap_or_default();
                return Err(Error::OutcomeUnknown(format!(
                    "producer {}: record number {} not settled after {} tries in {}; last: {}",
                    self.id,
                    self.next,
                    tries,
                    secs(self.retry_for.unwrap_or_default()),
                    last
                )));
            }
            if tries > 0 {
                self.retries += 1;
            }
            tries += 1;
            let ct = match left {
                None => self.connect_timeout,
                Some(l) => l.min(self.connect_timeout).max(Duration::from_millis(1)),
            };
            let r = match self.connect(ct) {
                Err(e) => Err((e, true)),
                Ok(()) => match (&self.conn, &self.pending) {
                    (Some(c), Some(u)) => {
                        let a = wire::SeqAppend {
                            record_type: u.record_type,
                            vshard_id: u.vshard_id,
                            tenant_id: self.tenant,
                            producer: self.id,
                            seq: self.next,
                        };
                        c.append_seq(self.ack, &a, &u.payload)
                            .map_err(|e| (e, false))
                    }
                    _ => unreachable!("sending with no connection or nothing pending"),
                },
            };
            let e = match r {
                Ok(lsn) => return Ok(lsn),
                Err((e, connecting)) => match again(&e, connecting) {
                    None => return Err(e),
                    Some(Again::Later) => e,
                    Some(Again::Reconnect { ambiguous }) => {
                        if ambiguous {
                            self.maybe_in_log = true;
                        }
                        self.conn = None;
                        e
                    }
                },
            };
            last = Some(e);
            thread::sleep(backoff);
            backoff = std::cmp::min(backoff * 2, BACKOFF_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_tried_again() {
        let s = String::new;
        for e in [
            Error::Busy(s()),
            Error::NoSpace(s()),
            Error::ReplicationBacklog(s()),
        ] {
            assert_eq!(again(&e, false), Some(Again::Later), "{:?}", e);
            assert_eq!(again(&e, true), Some(Again::Later), "{:?}", e);
        }
        let io = || Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        for e in [Error::Closed(s()), Error::ShuttingDown(s()), io()] {
            assert_eq!(
                again(&e, false),
                Some(Again::Reconnect { ambiguous: false })
            );
        }
        for e in [
            Error::OutcomeUnknown(s()),
            Error::Timeout,
            Error::WalIo(s()),
            Error::Protocol(s()),
        ] {
            assert_eq!(
                again(&e, false),
                Some(Again::Reconnect { ambiguous: true }),
                "{:?}",
                e
            );
        }
        // While connecting, nothing of the append was sent.
        for e in [Error::OutcomeUnknown(s()), Error::Timeout] {
            assert_eq!(again(&e, true), Some(Again::Reconnect { ambiguous: false }));
        }
        for e in [
            Error::BadRequest(s()),
            Error::TooLarge(s()),
            Error::NotPermitted(s()),
            Error::Sealed(s()),
            Error::Version(s()),
            Error::Range(s()),
            Error::Internal(s()),
            Error::ReplicationUnavailable(s()),
            Error::Damaged(s()),
            Error::Sequence(s()),
        ] {
            assert_eq!(again(&e, false), None, "{:?}", e);
        }
    }

    #[test]
    fn options() {
        let o = ProducerOptions::new();
        assert_eq!(o, ProducerOptions::default());
        assert_eq!(o.producer_id, None);
        assert_eq!((o.next_seq, o.tenant, o.ack), (1, 0, Ack::Default));
        assert_eq!(o.retry_for, Some(Duration::from_secs(30)));
        assert_eq!(o.timeout, Some(Duration::from_secs(10)));
        assert_eq!(o.connect_timeout, Duration::from_secs(10));
        let o = o
            .producer_id(5)
            .next_seq(9)
            .tenant(3)
            .ack(Ack::Local)
            .retry_for(None)
            .timeout(None)
            .connect_timeout(Duration::from_secs(1));
        assert_eq!(o.producer_id, Some(5));
        assert_eq!((o.next_seq, o.tenant, o.ack), (9, 3, Ack::Local));
        assert_eq!((o.retry_for, o.timeout), (None, None));
        assert_eq!(o.connect_timeout, Duration::from_secs(1));
    }

    #[test]
    fn ids_of_0_are_refused_before_connecting() {
        let nowhere = "/nonexistent/walld.sock";
        let e = Producer::options()
            .producer_id(0)
            .open(nowhere)
            .unwrap_err();
        assert!(matches!(e, Error::BadRequest(_)), "{:?}", e);
        let e = Producer::options().next_seq(0).open(nowhere).unwrap_err();
        assert!(matches!(e, Error::BadRequest(_)), "{:?}", e);
        let e = Producer::open(nowhere).unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{:?}", e);
        assert_ne!(random_id().unwrap(), 0);
        assert_ne!(random_id().unwrap(), random_id().unwrap());
    }

    #[test]
    fn seconds_in_messages() {
        assert_eq!(secs(Duration::from_millis(500)), "0.5 s");
        assert_eq!(secs(Duration::from_secs(30)), "30 s");
    }
}
