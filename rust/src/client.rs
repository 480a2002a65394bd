// SPDX-License-Identifier: Apache-2.0
//! The client: a connection to walld and the requests of PROTOCOL.md.

use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::conn::{self, lock, Call, Reg, Reply, Shared, Stream};
use crate::error::{Error, Result};
use crate::read::{Filter, Reader};
use crate::stats::Stats;
use crate::wire;

/// The environment variable naming walld's socket.
pub const SOCKET_ENV: &str = "WALLD_SOCKET";
/// walld's socket when [`SOCKET_ENV`] is not set.
pub const DEFAULT_SOCKET: &str = "/run/walld/walld.sock";

/// Frames of a pipelined batch are written in chunks of about this size.
const BATCH_CHUNK: usize = 64 << 10;

/// How far a waiting append, or a sync, must have gone before walld
/// replies (PROTOCOL.md, "Acknowledgement levels"; docs/REPLICATION.md).
/// A `nowait` append has no level: its reply is a promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ack {
    /// walld's configured `replication.ack` (`local` unless set): the
    /// request carries neither flag. The default of a new [`Client`].
    #[default]
    Default,
    /// Durable on walld's disk (its fdatasync done): flag `LOCAL`.
    Local,
    /// Durable on walld's disk and held by the NATS JetStream stream walld
    /// replicates into (a quorum of its replicas): flag `REPLICATED`. When
    /// the stream does not take it in time, or walld does not replicate,
    /// the request fails with [`Error::ReplicationUnavailable`] once its
    /// records are durable.
    Replicated,
}

impl Ack {
    /// The flag an APPEND or SYNC carries for this level: never both.
    pub(crate) fn flag(self) -> u8 {
        match self {
            Ack::Default => 0,
            Ack::Local => wire::F_LOCAL,
            Ack::Replicated => wire::F_REPLICATED,
        }
    }

    fn from_flag(f: u8) -> Ack {
        match f {
            wire::F_LOCAL => Ack::Local,
            wire::F_REPLICATED => Ack::Replicated,
            _ => Ack::Default,
        }
    }
}

/// What walld said about itself in its HELLO reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The protocol version in use: the one the client asked for, 1
    /// unless opened with [`ClientOptions::protocol`] (a
    /// [`Producer`](crate::Producer)'s connection speaks 2).
    pub protocol_version: u16,
    /// The largest payload walld accepts, in bytes (its
    /// `limits.max_record`).
    pub max_record: u32,
    /// The largest frame walld accepts, in bytes (at least `max_record`
    /// + 24; + 40 in version 2).
    pub max_frame: u32,
    /// walld's version string, e.g. `walld 0.1.0`.
    pub server: String,
}

/// A connection to walld.
///
/// It plays the part of nodedb-wal's `WalWriter` for a log that walld
/// owns: [`append`](Client::append) returns the LSN of a durable record,
/// [`append_nowait`](Client::append_nowait) and [`sync`](Client::sync)
/// give the append-then-sync pattern, [`seal`](Client::seal) seals the
/// log. Every method takes `&self`: one `Client` may be shared by threads
/// (in an `Arc`), and their requests are pipelined on the one connection.
///
/// A thread per connection reads walld's replies; dropping the `Client`
/// closes the connection and ends that thread. Requests still in flight
/// then are abandoned (their outcome is unknown).
///
/// Requests are sent with `MSG_NOSIGNAL`: a connection walld has closed
/// is an error, never a `SIGPIPE`.
#[derive(Debug)]
pub struct Client {
    shared: Arc<Shared>,
    writer: Mutex<UnixStream>,
    next_id: AtomicU64,
    timeout: Mutex<Option<Duration>>,
    /// The flag of the client's [`Ack`] level.
    ack: AtomicU8,
    info: ServerInfo,
    path: PathBuf,
    thread: Option<JoinHandle<()>>,
}

/// How a [`Client`] connects: the protocol version it asks for and its
/// time limit. [`Client::connect`] and [`Client::connect_timeout`] are
/// the defaults and a timeout; protocol version 2 (consumer cursors,
/// [`Client::truncate_force`], reads that end at the end of a sealed log)
/// is asked for here:
///
/// ```no_run
/// use std::time::Duration;
/// use walld_client::Client;
///
/// # fn main() -> walld_client::Result<()> {
/// let wal = Client::options()
///     .protocol(2)
///     .timeout(Some(Duration::from_secs(10)))
///     .connect("/run/walld/walld.sock")?;
/// let lsn = wal.cursor_create("billing", 0)?; // create if missing
/// # let _ = lsn;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    protocol: u16,
    timeout: Option<Duration>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            protocol: wire::VERSION,
            timeout: None,
        }
    }
}

impl ClientOptions {
    /// The defaults: protocol version 1, no time limit (as
    /// [`Client::connect`]).
    pub fn new() -> ClientOptions {
        ClientOptions::default()
    }

    /// The protocol version the HELLO asks for, and nothing else: 1 (the
    /// default) or 2 (PROTOCOL.md; walld speaks both). Version 2 adds
    /// consumer cursors ([`Client::cursor_create`] and the rest),
    /// [`Client::truncate_force`] and [`Reader::sealed`]; everything else
    /// works as on version 1. [`connect`](ClientOptions::connect) refuses
    /// any other version with [`Error::Version`], without connecting; a
    /// walld that does not speak the version asked for answers
    /// [`Error::Version`] too.
    pub fn protocol(mut self, version: u16) -> ClientOptions {
        self.protocol = version;
        self
    }

    /// The time limit of the HELLO exchange, kept as the client's limit
    /// for every later request ([`Client::set_timeout`]); `None`, the
    /// default, waits as long as it takes.
    pub fn timeout(mut self, timeout: Option<Duration>) -> ClientOptions {
        self.timeout = timeout;
        self
    }

    /// Connects to walld's socket at `path` and says HELLO for the
    /// protocol version of [`protocol`](ClientOptions::protocol). Fails as
    /// [`Client::connect`] does.
    pub fn connect(self, path: impl AsRef<Path>) -> Result<Client> {
        if self.protocol < wire::VERSION || self.protocol > wire::VERSION_2 {
            return Err(Error::Version(format!(
                "this client speaks protocol versions {} and {}, not {}; nothing was sent",
                wire::VERSION,
                wire::VERSION_2,
                self.protocol
            )));
        }
        Client::open(path.as_ref(), self.timeout, self.protocol)
    }

    /// Connects to the socket named by `$WALLD_SOCKET`, or to
    /// [`DEFAULT_SOCKET`] when it is not set, as
    /// [`connect`](ClientOptions::connect) does.
    pub fn connect_env(self) -> Result<Client> {
        self.connect(socket_from_env())
    }
}

/// A request sent and not answered yet: [`wait`](Pending::wait) for its
/// LSN. Dropping it without waiting gives the request up (it still runs
/// in walld; its reply is discarded).
#[derive(Debug)]
#[must_use = "a pending request does nothing unless waited for"]
pub struct Pending<'a> {
    client: &'a Client,
    id: u64,
    waited: bool,
}

impl Pending<'_> {
    /// The request id, as sent on the wire.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Waits for the reply, up to the client's timeout, and returns its
    /// LSN: for an append the record's LSN (durable, unless it was sent
    /// with `nowait`), for a sync the durable LSN.
    pub fn wait(mut self) -> Result<u64> {
        self.waited = true;
        let r = self.client.wait(self.id, self.client.deadline());
        r.and_then(expect_u64)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.waited {
            conn::abandon(&self.client.shared, self.id);
        }
    }
}

pub(crate) fn expect_u64(r: Reply) -> Result<u64> {
    match r {
        Reply::U64(v) => Ok(v),
        other => Err(Error::Protocol(format!("unexpected reply {:?}", other))),
    }
}

impl Client {
    /// Connects to walld's socket at `path` and says HELLO, for protocol
    /// version 1 (see [`options`](Client::options) for version 2). No
    /// time limit (see [`connect_timeout`](Client::connect_timeout));
    /// this is walld's equivalent of opening a WAL file.
    pub fn connect(path: impl AsRef<Path>) -> Result<Client> {
        Client::open(path.as_ref(), None, wire::VERSION)
    }

    /// Connects as [`connect`](Client::connect) does, waiting at most
    /// `timeout` for walld's HELLO reply, and keeps `timeout` as the
    /// client's time limit for every later request
    /// ([`set_timeout`](Client::set_timeout)).
    pub fn connect_timeout(path: impl AsRef<Path>, timeout: Duration) -> Result<Client> {
        Client::open(path.as_ref(), Some(timeout), wire::VERSION)
    }

    /// How to connect otherwise: [`ClientOptions`], for protocol version
    /// 2 (`Client::options().protocol(2).connect(path)`).
    pub fn options() -> ClientOptions {
        ClientOptions::default()
    }

    /// Connects to the socket named by `$WALLD_SOCKET`, or to
    /// [`DEFAULT_SOCKET`] when it is not set (as `walctl` does).
    pub fn from_env() -> Result<Client> {
        Client::connect(socket_from_env())
    }

    /// Connects and says HELLO for protocol version `version` alone.
    fn open(path: &Path, timeout: Option<Duration>, version: u16) -> Result<Client> {
        let sock = UnixStream::connect(path)?;
        let rsock = sock.try_clone()?;
        let shared = Arc::new(Shared::default());
        lock(&shared.st).version = version;
        let s2 = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("walld-client".to_string())
            .spawn(move || conn::receive(s2, rsock))?;
        let mut c = Client {
            shared,
            writer: Mutex::new(sock),
            next_id: AtomicU64::new(1),
            timeout: Mutex::new(None),
            ack: AtomicU8::new(0),
            info: ServerInfo {
                protocol_version: 0,
                max_record: 0,
                max_frame: wire::MAX_FRAME_HARD,
                server: String::new(),
            },
            path: path.to_path_buf(),
            thread: Some(thread),
        };
        c.set_timeout(timeout);
        let id = c.new_id();
        let deadline = c.deadline();
        let r = c
            .submit(&wire::hello(id, version), id, Reg::Call(wire::OP_HELLO))
            .and_then(|()| c.wait(id, deadline));
        match r {
            Ok(Reply::Hello(info)) => {
                c.info = info;
                Ok(c)
            }
            Ok(other) => Err(Error::Protocol(format!("unexpected reply {:?}", other))),
            Err(Error::Timeout) => Err(Error::Timeout),
            // The connection was lost while saying HELLO, which changes
            // nothing. walld may have said why before closing (an ERROR
            // with id 0: too many connections, shutting down), even when
            // our HELLO could not be written: once the receiving thread
            // has read everything, report that.
            Err(e @ (Error::Closed(_) | Error::OutcomeUnknown(_))) => {
                let limit = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(5));
                let st = c.wait_dead(limit);
                Err(match (&st.fatal, &st.dead) {
                    (Some((code, msg)), _) => Error::from_wire(*code, msg.clone()),
                    (None, Some(d)) if d.protocol => Error::Protocol(d.reason.clone()),
                    (None, Some(d)) => Error::Closed(d.reason.clone()),
                    (None, None) => e,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Waits until the connection is marked dead, or `deadline`.
    fn wait_dead(&self, deadline: Instant) -> std::sync::MutexGuard<'_, conn::State> {
        let mut st = lock(&self.shared.st);
        while st.dead.is_none() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .shared
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st
    }

    /// What walld said in its HELLO reply.
    pub fn server_info(&self) -> &ServerInfo {
        &self.info
    }

    /// The largest payload walld accepts ([`ServerInfo::max_record`]).
    pub fn max_record(&self) -> u32 {
        self.info.max_record
    }

    /// The socket path this client connected to.
    pub fn socket_path(&self) -> &Path {
        &self.path
    }

    /// Sets the time limit for each later request: the time to send it and
    /// get its reply (for [`read`](Client::read), between two records;
    /// [`follow`](Client::follow) readers wait without a limit unless
    /// asked, see [`Reader::next_timeout`]). `None`, the default, waits as
    /// long as it takes. A zero duration is taken as one millisecond.
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        let t = timeout.map(|d| std::cmp::max(d, Duration::from_millis(1)));
        *lock(&self.timeout) = t;
        let _ = lock(&self.writer).set_write_timeout(t);
    }

    /// The time limit set by [`set_timeout`](Client::set_timeout).
    pub fn timeout(&self) -> Option<Duration> {
        *lock(&self.timeout)
    }

    /// Sets the acknowledgement level of every later waiting append
    /// ([`append`](Client::append), [`send_append`](Client::send_append),
    /// [`append_many`](Client::append_many)) and sync
    /// ([`sync`](Client::sync), [`send_sync`](Client::send_sync)).
    /// [`Ack::Default`], the initial level, leaves it to walld's
    /// `replication.ack`. [`append_with`](Client::append_with) and
    /// [`sync_with`](Client::sync_with) name their own.
    pub fn set_ack(&self, ack: Ack) {
        self.ack.store(ack.flag(), Ordering::Relaxed);
    }

    /// The level set by [`set_ack`](Client::set_ack).
    pub fn ack(&self) -> Ack {
        Ack::from_flag(self.ack.load(Ordering::Relaxed))
    }

    fn ack_flag(&self) -> u8 {
        self.ack.load(Ordering::Relaxed)
    }

    /// True once the connection is closed (walld went away, a protocol
    /// error, or an I/O failure): every later request fails with
    /// [`Error::Closed`].
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.st).dead.is_some()
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.timeout().map(|t| Instant::now() + t)
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(crate) fn new_id(&self) -> u64 {
        // Never 0: an ERROR with id 0 is about the whole connection.
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers what request `id` expects, then writes its frame. On
    /// failure the registration is undone: nothing is in flight.
    pub(crate) fn submit(&self, frame: &[u8], id: u64, reg: Reg) -> Result<()> {
        if frame.len() > self.info.max_frame as usize {
            return Err(Error::TooLarge(format!(
                "a frame of {} bytes is above walld's max_frame of {}; nothing was sent",
                frame.len(),
                self.info.max_frame
            )));
        }
        self.register(id, reg)?;
        let r = {
            let mut w = lock(&self.writer);
            conn::write_frame(&mut w, frame)
        };
        let mut st = lock(&self.shared.st);
        st.busy -= 1;
        match r {
            Ok(()) => Ok(()),
            Err(f) => {
                unregister(&mut st, id, reg);
                drop(st);
                Err(self.write_failed(f))
            }
        }
    }

    /// Marks request `id` in flight (and this thread busy).
    fn register(&self, id: u64, reg: Reg) -> Result<()> {
        let mut st = lock(&self.shared.st);
        if let Some(d) = &st.dead {
            return Err(Error::Closed(d.reason.clone()));
        }
        match reg {
            Reg::Call(op) => {
                st.calls.insert(id, Call::Waiting(op));
            }
            Reg::Stream => {
                st.streams.insert(id, Stream::default());
            }
            Reg::None => {}
        }
        st.busy += 1;
        self.shared.cv.notify_all();
        Ok(())
    }

    /// The error for a frame that could not be written. A frame cut in
    /// the middle would garble the stream: the connection is shut down
    /// (walld never runs a request it did not get whole).
    fn write_failed(&self, f: conn::WriteFailure) -> Error {
        let timeout = conn::is_timeout(&f.err);
        if timeout && f.written == 0 {
            return Error::Timeout;
        }
        let why = if timeout {
            "a request was cut short by the timeout".to_string()
        } else {
            format!("sending a request failed: {}", f.err)
        };
        self.kill(&why);
        if timeout {
            return Error::Timeout;
        }
        let st = lock(&self.shared.st);
        let reason = st.dead.as_ref().map(|d| d.reason.clone()).unwrap_or(why);
        Error::Closed(reason)
    }

    /// Shuts the connection down from this side; the receiving thread
    /// then marks it dead with `why`.
    fn kill(&self, why: &str) {
        {
            let mut st = lock(&self.shared.st);
            if st.dead.is_none() && st.kill_reason.is_none() {
                st.kill_reason = Some(why.to_string());
            }
        }
        let _ = lock(&self.writer).shutdown(Shutdown::Both);
    }

    pub(crate) fn wait(&self, id: u64, deadline: Option<Instant>) -> Result<Reply> {
        conn::wait_call(&self.shared, id, deadline)
    }

    /// Sends a request with one reply and waits for it.
    pub(crate) fn call(&self, frame: Vec<u8>, id: u64, op: u8) -> Result<Reply> {
        let deadline = self.deadline();
        self.submit(&frame, id, Reg::Call(op))?;
        self.wait(id, deadline)
    }

    fn call_u64(&self, op: u8) -> Result<u64> {
        let id = self.new_id();
        self.call(wire::empty(op, id), id, op).and_then(expect_u64)
    }

    fn check_payload(&self, payload: &[u8]) -> Result<()> {
        if payload.len() > self.info.max_record as usize {
            return Err(Error::TooLarge(format!(
                "a payload of {} bytes is above walld's max_record of {}; nothing was sent",
                payload.len(),
                self.info.max_record
            )));
        }
        Ok(())
    }

    fn send_append_flags(
        &self,
        flags: u8,
        record_type: u16,
        tenant_id: u32,
        vshard_id: u16,
        payload: &[u8],
    ) -> Result<Pending<'_>> {
        self.check_payload(payload)?;
        let id = self.new_id();
        let mut f = Vec::new();
        wire::append(&mut f, id, flags, record_type, tenant_id, vshard_id, payload);
        self.submit(&f, id, Reg::Call(wire::OP_APPEND))?;
        Ok(Pending {
            client: self,
            id,
            waited: false,
        })
    }

    /// Sends an idempotent append (flag `PRODUCER`, on a connection of
    /// protocol version 2) at the level `ack` and waits for its LSN: the
    /// record's, whether this send wrote it or walld recognised a retry
    /// of a record it holds.
    pub(crate) fn append_seq(&self, ack: Ack, a: &wire::SeqAppend, payload: &[u8]) -> Result<u64> {
        self.need_version(wire::VERSION_2, "an idempotent append")?;
        self.check_payload(payload)?;
        let id = self.new_id();
        let mut f = Vec::new();
        wire::append_seq(&mut f, id, ack.flag(), a, payload);
        self.call(f, id, wire::OP_APPEND).and_then(expect_u64)
    }

    /// Appends one record and returns its LSN once it is durable (walld
    /// replies after the fdatasync that covers it), at the client's
    /// acknowledgement level ([`set_ack`](Client::set_ack)). The
    /// counterpart of `WalWriter::append` followed by `sync`.
    ///
    /// A payload above [`max_record`](Client::max_record) is
    /// [`Error::TooLarge`] without asking walld; an empty one is a valid
    /// record.
    pub fn append(
        &self,
        record_type: u16,
        tenant_id: u32,
        vshard_id: u16,
        payload: &[u8],
    ) -> Result<u64> {
        self.send_append(record_type, tenant_id, vshard_id, payload)?
            .wait()
    }

    /// Appends one record as [`append`](Client::append) does, at the
    /// level `ack` whatever the client's. With [`Ack::Replicated`] it
    /// returns once the replication stream holds the record too; when the
    /// stream does not take it in time (or walld does not replicate) it
    /// fails with [`Error::ReplicationUnavailable`], and the record is
    /// durable all the same: do not append it again
    /// ([`Error::lsn`] gives its LSN).
    pub fn append_with(
        &self,
        record_type: u16,
        tenant_id: u32,
        vshard_id: u16,
        payload: &[u8],
        ack: Ack,
    ) -> Result<u64> {
        self.send_append_with(record_type, tenant_id, vshard_id, payload, ack)?
            .wait()
    }

    /// Appends one record and returns its LSN as soon as walld has given
    /// it one, before it is durable: the LSN is a promise, kept once a
    /// later [`sync`](Client::sync) (or durable append) reports a durable
    /// LSN at or above it. If walld dies before, the record may be lost.
    pub fn append_nowait(
        &self,
        record_type: u16,
        tenant_id: u32,
        vshard_id: u16,
        payload: &[u8],
    ) -> Result<u64> {
        self.send_append_nowait(record_type, tenant_id, vshard_id, payload)?
            .wait()
    }

    /// Sends a durable append without waiting for it: many can be in
    /// flight, and their LSNs come back in the order they were sent.
    /// [`Pending::wait`] gives the LSN.
    pub fn send_append(
        &self,
        record_type: u16,
        tenant_id: u32,
        vshard_id: u16,
        payload: &[u8],
    ) -> Result<Pending<'_>> {
        let flags = self.ack_flag();
        self.send_append_flags(flags, record_type, tenant_id, vshard_id, payload)
    }

    /// [`send_append`](Client::send_append) at the level `ack`.
    pub fn send_append_with(
        &self,
        record_type: u16,
        tenant_id: u32,
        vshard_id: u16,
        payload: &[u8],
        ack: Ack,
    ) -> Result<Pending<'_>> {
        self.send_append_flags(ack.flag(), record_type, tenant_id, vshard_id, payload)
    }

    /// Sends an append without waiting for it, as
    /// [`send_append`](Client::send_append), with the `nowait` meaning of
    /// [`append_nowait`](Client::append_nowait).
    pub fn send_append_nowait(
        &self,
        record_type: u16,
        tenant_id: u32,
        vshard_id: u16,
        payload: &[u8],
    ) -> Result<Pending<'_>> {
        self.send_append_flags(wire::F_NOWAIT, record_type, tenant_id, vshard_id, payload)
    }

    /// Appends many records, pipelined: every one is sent before the
    /// first reply is waited for (in chunks of about 64 KiB a write), and
    /// the LSNs come back in the order of `records`, each durable (at the
    /// client's acknowledgement level, [`set_ack`](Client::set_ack)).
    /// Each item is `(record_type, tenant_id, vshard_id, payload)`.
    ///
    /// On an error, the records before the one that failed may have been
    /// appended (those are durable when the error is walld's); use
    /// [`send_append`](Client::send_append) to know the fate of each.
    pub fn append_many<I, P>(&self, records: I) -> Result<Vec<u64>>
    where
        I: IntoIterator<Item = (u16, u32, u16, P)>,
        P: AsRef<[u8]>,
    {
        let flags = self.ack_flag();
        self.append_many_flags(flags, records)
    }

    /// [`append_many`](Client::append_many) with `nowait` appends: the
    /// LSNs are promises until a [`sync`](Client::sync).
    pub fn append_many_nowait<I, P>(&self, records: I) -> Result<Vec<u64>>
    where
        I: IntoIterator<Item = (u16, u32, u16, P)>,
        P: AsRef<[u8]>,
    {
        self.append_many_flags(wire::F_NOWAIT, records)
    }

    fn append_many_flags<I, P>(&self, flags: u8, records: I) -> Result<Vec<u64>>
    where
        I: IntoIterator<Item = (u16, u32, u16, P)>,
        P: AsRef<[u8]>,
    {
        let deadline = self.deadline();
        let mut sent: Vec<Pending<'_>> = Vec::new();
        let mut buf: Vec<u8> = Vec::with_capacity(BATCH_CHUNK + 1024);
        let mut ids: Vec<u64> = Vec::new();
        // Why sending stopped early, if it did.
        let mut stop = None;
        for (record_type, tenant_id, vshard_id, payload) in records {
            let payload = payload.as_ref();
            if let Err(e) = self.check_payload(payload) {
                stop = Some(e);
                break;
            }
            let id = self.new_id();
            if let Err(e) = self.register(id, Reg::Call(wire::OP_APPEND)) {
                stop = Some(e);
                break;
            }
            self.unbusy();
            ids.push(id);
            wire::append(&mut buf, id, flags, record_type, tenant_id, vshard_id, payload);
            if buf.len() >= BATCH_CHUNK {
                if let Err(e) = self.flush_batch(&mut buf, &mut ids, &mut sent) {
                    stop = Some(e);
                    break;
                }
            }
        }
        // The records before one that cannot be sent still go.
        if !buf.is_empty() && !self.is_closed() {
            if let Err(e) = self.flush_batch(&mut buf, &mut ids, &mut sent) {
                stop.get_or_insert(e);
            }
        }
        {
            // Registered but never sent.
            let mut st = lock(&self.shared.st);
            for id in ids {
                st.calls.remove(&id);
            }
        }
        let mut lsns = Vec::with_capacity(sent.len());
        let mut waiting = sent.into_iter();
        for mut p in waiting.by_ref() {
            p.waited = true;
            match self.wait(p.id, deadline).and_then(expect_u64) {
                Ok(lsn) => lsns.push(lsn),
                // The first record that failed says why; the rest are
                // abandoned as they drop.
                Err(e) => return Err(e),
            }
        }
        match stop {
            Some(e) => Err(e),
            None => Ok(lsns),
        }
    }

    fn unbusy(&self) {
        lock(&self.shared.st).busy -= 1;
    }

    /// Writes the frames of a batch. The frames written whole are in
    /// flight; the rest are unregistered by the caller.
    fn flush_batch<'a>(
        &'a self,
        buf: &mut Vec<u8>,
        ids: &mut Vec<u64>,
        sent: &mut Vec<Pending<'a>>,
    ) -> Result<()> {
        {
            let mut st = lock(&self.shared.st);
            st.busy += 1;
            self.shared.cv.notify_all();
        }
        let r = {
            let mut w = lock(&self.writer);
            conn::write_frame(&mut w, buf)
        };
        self.unbusy();
        // Frames written whole, from the lengths in their headers.
        let whole = match &r {
            Ok(()) => ids.len(),
            Err(f) => {
                let (mut off, mut n) = (0usize, 0usize);
                while off + 4 <= buf.len() {
                    let len = wire::get32(&buf[off..off + 4]) as usize;
                    if off + len > f.written {
                        break;
                    }
                    off += len;
                    n += 1;
                }
                n
            }
        };
        for id in ids.drain(..whole) {
            sent.push(Pending {
                client: self,
                id,
                waited: false,
            });
        }
        buf.clear();
        match r {
            Ok(()) => Ok(()),
            Err(f) => Err(self.write_failed(f)),
        }
    }

    /// Returns once everything this connection sent before is durable (at
    /// the client's acknowledgement level, [`set_ack`](Client::set_ack)),
    /// with the highest LSN known durable (0 for an empty log). With
    /// [`append_nowait`](Client::append_nowait), the counterpart of
    /// `WalWriter::sync`.
    pub fn sync(&self) -> Result<u64> {
        self.sync_flags(self.ack_flag())
    }

    /// [`sync`](Client::sync) at the level `ack`: with
    /// [`Ack::Replicated`], once everything sent before is durable and
    /// held by the replication stream, else
    /// [`Error::ReplicationUnavailable`] (all of it is durable then).
    pub fn sync_with(&self, ack: Ack) -> Result<u64> {
        self.sync_flags(ack.flag())
    }

    fn sync_flags(&self, flags: u8) -> Result<u64> {
        let id = self.new_id();
        self.call(wire::empty_flags(wire::OP_SYNC, flags, id), id, wire::OP_SYNC)
            .and_then(expect_u64)
    }

    /// Sends a SYNC without waiting for it, behind requests already sent
    /// (to pipeline it after [`send_append_nowait`](Client::send_append_nowait)
    /// calls), at the client's acknowledgement level. [`Pending::wait`]
    /// gives the durable LSN.
    pub fn send_sync(&self) -> Result<Pending<'_>> {
        let id = self.new_id();
        let f = wire::empty_flags(wire::OP_SYNC, self.ack_flag(), id);
        self.submit(&f, id, Reg::Call(wire::OP_SYNC))?;
        Ok(Pending {
            client: self,
            id,
            waited: false,
        })
    }

    /// Seals the log: walld writes and syncs the seal marker, and every
    /// later append (from any client) fails with [`Error::Sealed`].
    /// Returns the log's last LSN (0 when it has no record). Sealing a
    /// sealed log succeeds again with the same LSN. Needs the `seal`
    /// permission.
    pub fn seal(&self) -> Result<u64> {
        self.call_u64(wire::OP_SEAL)
    }

    /// Closes the active segment and starts a new one; returns the first
    /// LSN of the new segment (the LSN the next append gets). Needs the
    /// `rotate` permission.
    pub fn rotate(&self) -> Result<u64> {
        self.call_u64(wire::OP_ROTATE)
    }

    /// Deletes the whole sealed segments whose records are all below
    /// `before`, oldest first (never the active segment, nor a segment not
    /// archived yet), and returns the log's first LSN afterwards: it may
    /// be below `before`, since only whole segments go. Needs the
    /// `truncate` permission.
    ///
    /// Nor does it remove records a consumer cursor has not consumed
    /// (docs/CURSORS.md): walld then removes nothing and answers
    /// [`Error::Held`] naming the cursor, on a protocol version 2
    /// connection, [`Error::NotPermitted`] on version 1.
    /// [`truncate_force`](Client::truncate_force) goes past the cursors.
    pub fn truncate(&self, before: u64) -> Result<u64> {
        self.truncate_flags(before, 0)
    }

    /// Truncates as [`truncate`](Client::truncate) does, and past the
    /// consumer cursors: segments whose records a cursor has not consumed
    /// go too (flag `FORCE`; walld logs it). Needs protocol version 2
    /// ([`ClientOptions::protocol`]): on a version 1 connection,
    /// [`Error::Version`] without sending anything.
    pub fn truncate_force(&self, before: u64) -> Result<u64> {
        self.need_version(wire::VERSION_2, "truncate_force (flag FORCE)")?;
        self.truncate_flags(before, wire::F_FORCE)
    }

    fn truncate_flags(&self, before: u64, flags: u8) -> Result<u64> {
        let id = self.new_id();
        self.call(
            wire::with_u64(wire::OP_TRUNCATE, flags, id, before),
            id,
            wire::OP_TRUNCATE,
        )
        .and_then(expect_u64)
    }

    /// [`Error::Version`] unless this connection speaks protocol
    /// `version` or a later one; `what` names what needs it.
    pub(crate) fn need_version(&self, version: u16, what: &str) -> Result<()> {
        if self.info.protocol_version >= version {
            return Ok(());
        }
        Err(Error::Version(format!(
            "{} needs protocol version {}, and this connection speaks {}: \
             connect with Client::options().protocol({}); nothing was sent",
            what, version, self.info.protocol_version, version
        )))
    }

    /// walld's metrics, parsed: LSNs, sizes, counters (see [`Stats`]).
    /// Needs the `stats` permission.
    pub fn stats(&self) -> Result<Stats> {
        let id = self.new_id();
        match self.call(wire::empty(wire::OP_STATS, id), id, wire::OP_STATS)? {
            Reply::Text(t) => Stats::parse(&t),
            other => Err(Error::Protocol(format!("unexpected reply {:?}", other))),
        }
    }

    /// Asks walld whether it is there and ready; anyone who can connect
    /// may ping.
    pub fn ping(&self) -> Result<()> {
        let id = self.new_id();
        match self.call(wire::empty(wire::OP_PING, id), id, wire::OP_PING)? {
            Reply::Empty => Ok(()),
            other => Err(Error::Protocol(format!("unexpected reply {:?}", other))),
        }
    }

    /// Reads the records from LSN `from` to the end of the log as it is
    /// when the read gets there, in LSN order, that pass `filter`. `from`
    /// 0 starts wherever the log starts; an LSN below the log's first
    /// (truncated away, even 1) ends the read with [`Error::Range`]. Only
    /// durable records are read. Iterate over the [`Reader`]; other
    /// requests may be made on this client meanwhile.
    pub fn read(&self, from: u64, filter: Filter) -> Result<Reader<'_>> {
        self.read_range(from, None, filter, false)
    }

    /// Reads as [`read`](Client::read) does, then goes on with each record
    /// as it becomes durable, until [`Reader::cancel`] or the end of
    /// walld (which ends the read as a normal end: continue from
    /// [`Reader::next_lsn`] on a new connection). On a protocol version 2
    /// connection ([`ClientOptions::protocol`]) the read also ends at the
    /// end of a sealed log, with [`Reader::sealed`] true: nothing will
    /// ever follow. On version 1 it waits there for ever.
    pub fn follow(&self, from: u64, filter: Filter) -> Result<Reader<'_>> {
        self.read_range(from, None, filter, true)
    }

    /// The general read: from LSN `from` to LSN `to` inclusive (`None`: no
    /// end), following new records when `follow` is set. `to` below
    /// `from` is [`Error::BadRequest`], without asking walld (which would
    /// close the connection).
    pub fn read_range(
        &self,
        from: u64,
        to: Option<u64>,
        filter: Filter,
        follow: bool,
    ) -> Result<Reader<'_>> {
        let to_wire = match to {
            Some(0) => {
                // 0 means "no end" on the wire: LSNs start at 1, so a read
                // up to 0 reads nothing.
                return Err(Error::BadRequest(
                    "a read up to LSN 0 can return nothing".to_string(),
                ));
            }
            Some(t) if t < from => {
                return Err(Error::BadRequest(format!(
                    "a read from LSN {} to LSN {}: the end is below the start",
                    from, t
                )));
            }
            Some(t) => t,
            None => 0,
        };
        let req = wire::ReadReq {
            from,
            to: to_wire,
            follow,
            tenant: filter.tenant_id,
            vshard: filter.vshard_id,
            record_type: filter.record_type,
        };
        let id = self.new_id();
        self.submit(&wire::read(id, &req), id, Reg::Stream)?;
        Ok(Reader::new(self, id, follow))
    }

    /// Sends a READ_CANCEL for read `id` (no reply comes).
    pub(crate) fn cancel_read(&self, id: u64) -> Result<()> {
        self.submit(&wire::empty(wire::OP_READ_CANCEL, id), id, Reg::None)
    }
}

/// Undoes what [`Client::register`] did for a request never sent.
fn unregister(st: &mut conn::State, id: u64, reg: Reg) {
    match reg {
        Reg::Call(_) => {
            st.calls.remove(&id);
        }
        Reg::Stream => {
            st.streams.remove(&id);
        }
        Reg::None => {}
    }
}

/// The socket path from `$WALLD_SOCKET`, else [`DEFAULT_SOCKET`].
pub fn socket_from_env() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        {
            let mut st = lock(&self.shared.st);
            st.closing = true;
            if st.dead.is_none() && st.kill_reason.is_none() {
                st.kill_reason = Some("the client closed the connection".to_string());
            }
            self.shared.cv.notify_all();
        }
        let _ = lock(&self.writer).shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_levels_send_one_flag_at_most() {
        let both = wire::F_LOCAL | wire::F_REPLICATED;
        let mut seen = Vec::new();
        for a in [Ack::Default, Ack::Local, Ack::Replicated] {
            let f = a.flag();
            assert_ne!(f & both, both);
            assert_eq!(f & wire::F_NOWAIT, 0);
            assert_eq!(Ack::from_flag(f), a);
            seen.push(f);
        }
        assert_eq!(seen, [0, wire::F_LOCAL, wire::F_REPLICATED]);
        assert_eq!(Ack::default(), Ack::Default);
        let f = wire::empty_flags(wire::OP_SYNC, Ack::Replicated.flag(), 3);
        assert_eq!((f[4], f[5]), (wire::OP_SYNC, 0x02));
    }
}
