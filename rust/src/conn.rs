// SPDX-License-Identifier: Apache-2.0
//! One connection to walld: the state shared between the caller's threads
//! and the receiving thread, and that thread itself.
//!
//! Every frame walld sends is read by one thread per connection, which
//! files it under its request id: a reply completes a call, RECORD and
//! READ_END frames go to the queue of their read. Callers write their
//! frames themselves (under a lock, so frames never interleave) and wait
//! on a condition variable for what they asked for. So replies are read
//! while requests are written, as PROTOCOL.md §5 asks, and any number of
//! requests can be in flight.

use std::collections::{HashMap, VecDeque};
use std::ffi::c_void;
use std::io::{self, Read};
use std::os::raw::c_int;
use std::os::unix::io::AsRawFd;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::cursor::{self, Cursor};
use crate::error::Error;
use crate::read::Record;
use crate::wire::{self, Header};
use crate::ServerInfo;

/// Payload bytes of read streams buffered before the receiving thread
/// stops taking frames from the socket (while nobody waits for a reply).
pub(crate) const STREAM_BUFFER_LIMIT: usize = 8 << 20;

/// Locks a mutex, ignoring poisoning: the state is kept consistent by
/// every holder before anything that can panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The decoded reply to a request.
#[derive(Debug)]
pub(crate) enum Reply {
    Hello(ServerInfo),
    U64(u64),
    Empty,
    Text(Vec<u8>),
    /// CURSOR_GET (version 2): the cursor's LSN and last commit time.
    CursorState { lsn: u64, commit_ms: u64 },
    /// CURSOR_LIST (version 2): a page of cursors, sorted by name, and
    /// whether more follow the last one.
    CursorList { cursors: Vec<Cursor>, more: bool },
}

/// A request waiting for its one reply.
#[derive(Debug)]
pub(crate) enum Call {
    /// Sent (or being sent); the op is the request's.
    Waiting(u8),
    /// Given up by the caller (timeout, dropped handle): the reply is
    /// checked and discarded when it comes.
    Abandoned(u8),
    /// The outcome, to be taken by the caller.
    Done(Result<Reply, Error>),
}

/// How a read stream ended.
#[derive(Debug)]
pub(crate) enum StreamEnd {
    /// READ_END with the LSN to continue from; `sealed` when it carried
    /// `SEALED_END` (version 2): the log is sealed, nothing will follow.
    Next { next: u64, sealed: bool },
    /// ERROR, or the connection was lost.
    Failed(Error),
}

/// The frames of one READ not yet taken by its reader.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    pub items: VecDeque<Record>,
    pub end: Option<StreamEnd>,
    /// The reader is gone: records are dropped, and the entry is removed
    /// at the end of the stream.
    pub discard: bool,
    /// LSN of the last record, to check the order.
    pub last_lsn: u64,
}

/// Why the connection is closed.
#[derive(Debug, Clone)]
pub(crate) struct Death {
    pub reason: String,
    /// walld broke the protocol.
    pub protocol: bool,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub calls: HashMap<u64, Call>,
    pub streams: HashMap<u64, Stream>,
    /// Set once the connection is closed; nothing is sent after it.
    pub dead: Option<Death>,
    /// An ERROR with id 0: about the connection as a whole (walld closes
    /// it right after).
    pub fatal: Option<(u16, String)>,
    /// Why this side shut the socket down, when it did.
    pub kill_reason: Option<String>,
    /// Threads sending a request or waiting for a reply: while there are
    /// any, the receiving thread never stops reading.
    pub busy: usize,
    /// The client is being dropped.
    pub closing: bool,
    /// Payload bytes held in `streams`.
    pub buffered: usize,
    /// The protocol version the HELLO asked for (1, or 2): the HELLO
    /// reply must name it, and it says which flags a frame from walld may
    /// carry. Set before the receiving thread starts.
    pub version: u16,
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub st: Mutex<State>,
    pub cv: Condvar,
}

impl Shared {
    /// Marks the connection dead: calls in flight get OutcomeUnknown,
    /// streams end with it.
    fn die(&self, death: Death) {
        let mut st = lock(&self.st);
        if st.dead.is_some() {
            return;
        }
        let reason = death.reason.clone();
        st.calls.retain(|_, c| !matches!(c, Call::Abandoned(_)));
        for c in st.calls.values_mut() {
            if let Call::Waiting(_) = c {
                *c = Call::Done(Err(Error::OutcomeUnknown(reason.clone())));
            }
        }
        let mut freed = 0;
        st.streams.retain(|_, s| {
            if s.discard {
                freed += s.items.iter().map(|r| r.payload.len()).sum::<usize>();
                return false;
            }
            if s.end.is_none() {
                s.end = Some(StreamEnd::Failed(Error::OutcomeUnknown(reason.clone())));
            }
            true
        });
        st.buffered -= freed;
        st.dead = Some(death);
        self.cv.notify_all();
    }
}

/// Reads exactly `buf.len()` bytes. `Ok(false)` when the stream ended
/// before the first byte (a clean end between frames).
fn read_full(r: &mut impl Read, buf: &mut [u8], at_boundary: bool) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 && at_boundary => return Ok(false),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "walld closed the connection in the middle of a frame",
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The receiving thread: reads frames until the connection ends, then
/// marks it dead.
pub(crate) fn receive(shared: Arc<Shared>, sock: UnixStream) {
    let mut r = io::BufReader::with_capacity(1 << 16, &sock);
    // Before the HELLO reply, the hard limit; then the one it announces.
    let mut max_in = wire::MAX_FRAME_HARD;
    // The HELLO reply names the version asked for, or the connection
    // fails: frames are judged by it from the first.
    let version = lock(&shared.st).version;
    let death = loop {
        {
            let mut st = lock(&shared.st);
            while st.buffered > STREAM_BUFFER_LIMIT && st.busy == 0 && !st.closing {
                st = shared.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
        let mut hb = [0u8; wire::HDR_LEN];
        match read_full(&mut r, &mut hb, true) {
            Ok(true) => {}
            Ok(false) => break lost(&shared, "walld closed the connection".to_string()),
            Err(e) => break lost(&shared, e.to_string()),
        }
        let h = match wire::parse_header(&hb, max_in, version) {
            Ok(h) => h,
            Err(why) => break broken(format!("bad frame header from walld: {}", why)),
        };
        match frame(&shared, &mut r, h, &mut max_in) {
            Ok(()) => {}
            Err(FrameError::Io(e)) => break lost(&shared, e.to_string()),
            Err(FrameError::Protocol(why)) => break broken(why),
        }
    };
    let _ = sock.shutdown(Shutdown::Both);
    shared.die(death);
}

/// The connection ended or failed: why, as the caller will see it.
fn lost(shared: &Shared, what: String) -> Death {
    let st = lock(&shared.st);
    let reason = if let Some(k) = &st.kill_reason {
        k.clone()
    } else if let Some((code, msg)) = &st.fatal {
        format!(
            "walld closed the connection after: {}",
            Error::from_wire(*code, msg.clone())
        )
    } else {
        what
    };
    Death {
        reason,
        protocol: false,
    }
}

fn broken(why: String) -> Death {
    Death {
        reason: why,
        protocol: true,
    }
}

enum FrameError {
    Io(io::Error),
    Protocol(String),
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> FrameError {
        FrameError::Io(e)
    }
}

fn body(r: &mut impl Read, len: usize) -> io::Result<Vec<u8>> {
    let mut b = vec![0u8; len];
    read_full(r, &mut b, false)?;
    Ok(b)
}

/// Handles one frame whose header has been read and checked.
fn frame(
    shared: &Shared,
    r: &mut impl Read,
    h: Header,
    max_in: &mut u32,
) -> Result<(), FrameError> {
    let blen = h.len as usize - wire::HDR_LEN;
    match h.op {
        wire::OP_RECORD => {
            if blen < wire::RECORD_FIXED {
                return Err(FrameError::Protocol(format!(
                    "RECORD body of {} bytes, below {}",
                    blen,
                    wire::RECORD_FIXED
                )));
            }
            let mut fixed = [0u8; wire::RECORD_FIXED];
            read_full(r, &mut fixed, false)?;
            let payload = body(r, blen - wire::RECORD_FIXED)?;
            let rec = Record {
                lsn: wire::get64(&fixed[0..8]),
                record_type: wire::get16(&fixed[8..10]),
                vshard_id: wire::get16(&fixed[10..12]),
                tenant_id: wire::get32(&fixed[12..16]),
                payload,
            };
            stream_record(shared, h.id, rec)
        }
        wire::OP_READ_END => {
            let b = body(r, blen)?;
            if b.len() != 8 {
                return Err(FrameError::Protocol(format!(
                    "READ_END body of {} bytes, not 8",
                    b.len()
                )));
            }
            // parse_header let SEALED_END through on version 2 only.
            let end = StreamEnd::Next {
                next: wire::get64(&b),
                sealed: h.flags & wire::F_SEALED_END != 0,
            };
            stream_end(shared, h.id, end, "READ_END")
        }
        wire::OP_ERROR => {
            let b = body(r, blen)?;
            if b.len() < 4 || wire::get16(&b[0..2]) == 0 || wire::get16(&b[2..4]) != 0 {
                return Err(FrameError::Protocol("malformed ERROR body".to_string()));
            }
            let code = wire::get16(&b[0..2]);
            let msg = String::from_utf8_lossy(&b[4..]).into_owned();
            error(shared, h.id, code, msg)
        }
        op if op & wire::REPLY != 0 => {
            let b = body(r, blen)?;
            reply(shared, h, b, max_in)
        }
        op => Err(FrameError::Protocol(format!(
            "unexpected op 0x{:02x} from walld",
            op
        ))),
    }
}

fn stream_record(shared: &Shared, id: u64, rec: Record) -> Result<(), FrameError> {
    let mut st = lock(&shared.st);
    let n = rec.payload.len();
    let s = match st.streams.get_mut(&id) {
        Some(s) if s.end.is_none() => s,
        _ => {
            return Err(FrameError::Protocol(format!(
                "RECORD for id {}, which has no read streaming",
                id
            )))
        }
    };
    if rec.lsn == 0 || rec.lsn <= s.last_lsn {
        return Err(FrameError::Protocol(format!(
            "RECORD with LSN {} after LSN {} in read {}",
            rec.lsn, s.last_lsn, id
        )));
    }
    s.last_lsn = rec.lsn;
    if s.discard {
        return Ok(());
    }
    s.items.push_back(rec);
    st.buffered += n;
    shared.cv.notify_all();
    Ok(())
}

fn stream_end(shared: &Shared, id: u64, end: StreamEnd, what: &str) -> Result<(), FrameError> {
    let mut st = lock(&shared.st);
    match st.streams.get_mut(&id) {
        Some(s) if s.end.is_none() => {
            if s.discard {
                st.streams.remove(&id);
            } else {
                s.end = Some(end);
            }
            shared.cv.notify_all();
            Ok(())
        }
        _ => Err(FrameError::Protocol(format!(
            "{} for id {}, which has no read streaming",
            what, id
        ))),
    }
}

fn error(shared: &Shared, id: u64, code: u16, msg: String) -> Result<(), FrameError> {
    if id == 0 {
        // About the connection, not a request: walld closes it next.
        lock(&shared.st).fatal = Some((code, msg));
        return Ok(());
    }
    {
        let mut st = lock(&shared.st);
        match st.calls.get(&id) {
            Some(Call::Waiting(_)) => {
                st.calls.insert(id, Call::Done(Err(Error::from_wire(code, msg))));
                shared.cv.notify_all();
                return Ok(());
            }
            Some(Call::Abandoned(_)) => {
                st.calls.remove(&id);
                return Ok(());
            }
            Some(Call::Done(_)) => {
                return Err(FrameError::Protocol(format!(
                    "a second answer to request {}",
                    id
                )))
            }
            None => {}
        }
    }
    stream_end(
        shared,
        id,
        StreamEnd::Failed(Error::from_wire(code, msg)),
        "ERROR",
    )
}

/// Decodes a reply body for the request op `req`, on a connection whose
/// HELLO asked for protocol version `version` alone.
fn decode(req: u8, b: Vec<u8>, version: u16) -> Result<Reply, String> {
    let want = |n: usize| {
        if b.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{} reply body of {} bytes, not {}",
                wire::op_name(req),
                b.len(),
                n
            ))
        }
    };
    match req {
        wire::OP_HELLO => {
            if b.len() < 12 {
                return Err(format!("hello reply body of {} bytes, below 12", b.len()));
            }
            let info = ServerInfo {
                protocol_version: wire::get16(&b[0..2]),
                max_record: wire::get32(&b[4..8]),
                max_frame: wire::get32(&b[8..12]),
                server: String::from_utf8_lossy(&b[12..]).into_owned(),
            };
            if info.protocol_version != version || wire::get16(&b[2..4]) != 0 {
                return Err(format!(
                    "hello reply with version {}, not the {} asked for",
                    info.protocol_version, version
                ));
            }
            // Room for an APPEND of the largest payload; in version 2, an
            // idempotent one.
            let slack = if version >= wire::VERSION_2 {
                wire::FRAME_SLACK_V2
            } else {
                wire::FRAME_SLACK
            };
            if info.max_record == 0
                || (info.max_frame as u64) < info.max_record as u64 + slack as u64
                || info.max_frame > wire::MAX_FRAME_HARD
            {
                return Err(format!(
                    "hello reply with max_record {} and max_frame {}",
                    info.max_record, info.max_frame
                ));
            }
            Ok(Reply::Hello(info))
        }
        wire::OP_APPEND
        | wire::OP_SYNC
        | wire::OP_SEAL
        | wire::OP_ROTATE
        | wire::OP_TRUNCATE
        | wire::OP_CURSOR_CREATE
        | wire::OP_CURSOR_COMMIT
        | wire::OP_CURSOR_DROP => {
            want(8)?;
            Ok(Reply::U64(wire::get64(&b)))
        }
        wire::OP_CURSOR_GET => {
            want(16)?;
            Ok(Reply::CursorState {
                lsn: wire::get64(&b[0..8]),
                commit_ms: wire::get64(&b[8..16]),
            })
        }
        wire::OP_CURSOR_LIST => {
            let (cursors, more) = cursor::decode_list(&b)?;
            Ok(Reply::CursorList { cursors, more })
        }
        wire::OP_PING => {
            want(0)?;
            Ok(Reply::Empty)
        }
        wire::OP_STATS => Ok(Reply::Text(b)),
        _ => Err(format!("a reply to {}, which has none", wire::op_name(req))),
    }
}

fn reply(shared: &Shared, h: Header, b: Vec<u8>, max_in: &mut u32) -> Result<(), FrameError> {
    let mut st = lock(&shared.st);
    let (req, abandoned) = match st.calls.get(&h.id) {
        Some(Call::Waiting(op)) => (*op, false),
        Some(Call::Abandoned(op)) => (*op, true),
        _ => {
            return Err(FrameError::Protocol(format!(
                "reply op 0x{:02x} to request {}, which is not in flight",
                h.op, h.id
            )))
        }
    };
    if h.op != req | wire::REPLY {
        return Err(FrameError::Protocol(format!(
            "reply op 0x{:02x} to a {} request",
            h.op,
            wire::op_name(req)
        )));
    }
    let rep = decode(req, b, st.version).map_err(FrameError::Protocol)?;
    if let Reply::Hello(info) = &rep {
        // Frames from walld may be up to max(max_frame, max_record + 32).
        let lim = std::cmp::max(info.max_frame as u64, info.max_record as u64 + 32);
        *max_in = std::cmp::min(lim, wire::MAX_FRAME_HARD as u64) as u32;
    }
    if abandoned {
        st.calls.remove(&h.id);
    } else {
        st.calls.insert(h.id, Call::Done(Ok(rep)));
        shared.cv.notify_all();
    }
    Ok(())
}

/// What a request registers before it is sent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reg {
    /// A request with one reply; the op is the request's.
    Call(u8),
    /// A READ.
    Stream,
    /// Nothing comes back (READ_CANCEL).
    None,
}

/// How writing a frame failed.
pub(crate) struct WriteFailure {
    pub written: usize,
    pub err: io::Error,
}

extern "C" {
    fn send(fd: c_int, buf: *const c_void, len: usize, flags: c_int) -> isize;
}

/// send(2)'s flag for "no SIGPIPE, EPIPE instead" (Linux).
const MSG_NOSIGNAL: c_int = 0x4000;

/// Writes what it can of `buf` to the socket, as `write` would, but
/// without raising SIGPIPE when walld is gone (the program may not ignore
/// it). The one call of this crate outside the standard library.
fn send_some(w: &UnixStream, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes, and the descriptor is
    // open for as long as w is borrowed.
    let n = unsafe {
        send(
            w.as_raw_fd(),
            buf.as_ptr() as *const c_void,
            buf.len(),
            MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Writes a whole frame, or says how far it got.
pub(crate) fn write_frame(w: &mut UnixStream, frame: &[u8]) -> Result<(), WriteFailure> {
    let mut written = 0;
    while written < frame.len() {
        match send_some(w, &frame[written..]) {
            Ok(0) => {
                return Err(WriteFailure {
                    written,
                    err: io::Error::new(io::ErrorKind::WriteZero, "the socket took no bytes"),
                })
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(WriteFailure { written, err }),
        }
    }
    Ok(())
}

/// True for the error a write timeout (SO_SNDTIMEO) gives.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Waits for the reply to call `id` until `deadline` (none: no limit).
/// On a timeout the call is abandoned.
pub(crate) fn wait_call(shared: &Shared, id: u64, deadline: Option<Instant>) -> Result<Reply, Error> {
    let mut st = lock(&shared.st);
    st.busy += 1;
    shared.cv.notify_all();
    let out = loop {
        match st.calls.get(&id) {
            Some(Call::Done(_)) => match st.calls.remove(&id) {
                Some(Call::Done(r)) => break r,
                _ => unreachable!(),
            },
            Some(Call::Waiting(_)) => {}
            _ => break Err(Error::Protocol(format!("request {} is not in flight", id))),
        }
        match deadline {
            None => st = shared.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    if let Some(Call::Waiting(op)) = st.calls.get(&id) {
                        let op = *op;
                        st.calls.insert(id, Call::Abandoned(op));
                    }
                    break Err(Error::Timeout);
                }
                st = shared
                    .cv
                    .wait_timeout(st, d - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    };
    st.busy -= 1;
    out
}

/// Gives up call `id` without waiting for it (its handle was dropped).
pub(crate) fn abandon(shared: &Shared, id: u64) {
    let mut st = lock(&shared.st);
    match st.calls.get(&id) {
        Some(Call::Waiting(op)) => {
            let op = *op;
            st.calls.insert(id, Call::Abandoned(op));
        }
        Some(Call::Done(_)) => {
            st.calls.remove(&id);
        }
        _ => {}
    }
}
