// SPDX-License-Identifier: Apache-2.0
//! Reading the log: records, filters, and the reader iterator.

use std::time::{Duration, Instant};

use crate::client::Client;
use crate::conn::{lock, StreamEnd};
use crate::error::{Error, Result};

/// One record of the log, as a read returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its LSN (log sequence number, from 1).
    pub lsn: u64,
    /// The record type given at append.
    pub record_type: u16,
    /// The tenant given at append.
    pub tenant_id: u32,
    /// The virtual shard given at append.
    pub vshard_id: u16,
    /// The payload, byte for byte as appended.
    pub payload: Vec<u8>,
}

/// Which records a read returns: each field set narrows it to records
/// with that value; [`Filter::all`] (the default) returns every record.
///
/// ```
/// use walld_client::Filter;
/// let f = Filter::all().tenant(7).record_type(2);
/// assert_eq!(f.tenant_id, Some(7));
/// assert_eq!(f.vshard_id, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only records of this tenant.
    pub tenant_id: Option<u32>,
    /// Only records of this virtual shard.
    pub vshard_id: Option<u16>,
    /// Only records of this type.
    pub record_type: Option<u16>,
}

impl Filter {
    /// No filter: every record.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Only the records of tenant `tenant_id`.
    pub fn tenant(mut self, tenant_id: u32) -> Filter {
        self.tenant_id = Some(tenant_id);
        self
    }

    /// Only the records of virtual shard `vshard_id`.
    pub fn vshard(mut self, vshard_id: u16) -> Filter {
        self.vshard_id = Some(vshard_id);
        self
    }

    /// Only the records of type `record_type`.
    pub fn record_type(mut self, record_type: u16) -> Filter {
        self.record_type = Some(record_type);
        self
    }
}

/// A read in progress: an iterator over `Result<Record>`, in LSN order.
///
/// The iteration ends (`None`) when walld ends the read: at the end of
/// the log for [`Client::read`], at the read's end for
/// [`Client::read_range`], and for [`Client::follow`] after
/// [`cancel`](Reader::cancel) or when walld stops; on a protocol version
/// 2 connection ([`ClientOptions::protocol`](crate::ClientOptions::protocol))
/// every read, follow reads too, also ends at the end of a **sealed**
/// log, with [`sealed`](Reader::sealed) true (on version 1 a follow read
/// of a sealed log waits for ever). Then [`next_lsn`](Reader::next_lsn)
/// says where a later read should start to go on. An error (walld's, or
/// the connection lost) is the last item.
///
/// Records are buffered as they arrive (up to 8 MiB of payloads, then
/// walld is made to wait), so a slow reader never blocks other requests
/// on the same client. Dropping a reader before its end cancels the read.
#[derive(Debug)]
pub struct Reader<'a> {
    client: &'a Client,
    id: u64,
    follow: bool,
    finished: bool,
    cancelled: bool,
    next_lsn: Option<u64>,
    sealed: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(client: &'a Client, id: u64, follow: bool) -> Reader<'a> {
        Reader {
            client,
            id,
            follow,
            finished: false,
            cancelled: false,
            next_lsn: None,
            sealed: false,
        }
    }

    /// The request id of the READ.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Once the read has ended normally: the LSN to start a later read
    /// from to continue where this one stopped. `None` before the end, or
    /// when it ended with an error.
    pub fn next_lsn(&self) -> Option<u64> {
        self.next_lsn
    }

    /// True when the read ended because it reached the end of a sealed
    /// log: no record will ever follow ([`next_lsn`](Reader::next_lsn)
    /// is past the last one). walld says so on a protocol version 2
    /// connection ([`ClientOptions::protocol`](crate::ClientOptions::protocol);
    /// READ_END's flag `SEALED_END`), for a follow read too. False before
    /// the end, after an error, always on version 1, and for a follow
    /// read that walld ended because it is stopping (read again from
    /// `next_lsn` once it is back).
    pub fn sealed(&self) -> bool {
        self.sealed
    }

    /// True once the read has ended (normally or with an error).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Asks walld to end the read. Records already on their way still
    /// come: iterate on until `None` to get them and
    /// [`next_lsn`](Reader::next_lsn). Cancelling twice, or a read that
    /// has ended, does nothing.
    pub fn cancel(&mut self) -> Result<()> {
        if self.finished || self.cancelled {
            return Ok(());
        }
        self.cancelled = true;
        self.client.cancel_read(self.id)
    }

    /// The next record, waiting at most `timeout` for it:
    /// `Some(Err(Error::Timeout))` when none came in time (the read goes
    /// on), `None` at the end of the read.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<Record>> {
        self.next_until(Some(Instant::now() + timeout))
    }

    fn next_until(&mut self, deadline: Option<Instant>) -> Option<Result<Record>> {
        if self.finished {
            return None;
        }
        let shared = self.client.shared();
        let mut st = lock(&shared.st);
        loop {
            let s = match st.streams.get_mut(&self.id) {
                Some(s) => s,
                None => {
                    self.finished = true;
                    return Some(Err(Error::Protocol(format!(
                        "read {} is not streaming",
                        self.id
                    ))));
                }
            };
            if let Some(rec) = s.items.pop_front() {
                st.buffered -= rec.payload.len();
                shared.cv.notify_all();
                return Some(Ok(rec));
            }
            if s.end.is_some() {
                let end = s.end.take();
                st.streams.remove(&self.id);
                self.finished = true;
                return match end {
                    Some(StreamEnd::Next { next, sealed }) => {
                        self.next_lsn = Some(next);
                        self.sealed = sealed;
                        None
                    }
                    Some(StreamEnd::Failed(e)) => Some(Err(e)),
                    None => None,
                };
            }
            match deadline {
                None => st = shared.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Some(Err(Error::Timeout));
                    }
                    st = shared
                        .cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<Record>;

    /// The next record. A [`Client::read`] waits at most the client's
    /// timeout for it; a follow read waits as long as it takes (use
    /// [`Reader::next_timeout`] to bound it).
    fn next(&mut self) -> Option<Result<Record>> {
        let deadline = if self.follow {
            None
        } else {
            self.client.deadline()
        };
        self.next_until(deadline)
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let ended = {
            let shared = self.client.shared();
            let mut st = lock(&shared.st);
            let mut freed = 0;
            let ended = match st.streams.get_mut(&self.id) {
                Some(s) => {
                    freed = s.items.iter().map(|r| r.payload.len()).sum::<usize>();
                    s.items.clear();
                    if s.end.is_some() {
                        true
                    } else {
                        s.discard = true;
                        false
                    }
                }
                None => true,
            };
            if ended {
                st.streams.remove(&self.id);
            }
            st.buffered -= freed;
            shared.cv.notify_all();
            ended
        };
        if !ended && !self.cancelled {
            // The stream's frames are discarded until its READ_END.
            let _ = self.client.cancel_read(self.id);
        }
    }
}
