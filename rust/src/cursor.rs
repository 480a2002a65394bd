// SPDX-License-Identifier: Apache-2.0
//! Consumer cursors (protocol version 2: PROTOCOL.md section 6;
//! docs/CURSORS.md): named positions in the log that walld keeps for its
//! consumers, durably. The requests are [`Client`] methods; they need a
//! connection opened for version 2 ([`ClientOptions::protocol`]).
//!
//! [`ClientOptions::protocol`]: crate::ClientOptions::protocol

use crate::client::{expect_u64, Client};
use crate::conn::Reply;
use crate::error::{Error, Result};
use crate::wire;

/// A consumer cursor, as walld keeps it ([`Client::cursor_get`],
/// [`Client::cursors`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// Its name: 1..64 bytes of `[A-Za-z0-9._-]`, the first a letter or a
    /// digit.
    pub name: String,
    /// The LSN of the last record its consumer has finished with (0:
    /// none yet); the consumer reads on from `lsn + 1`.
    pub lsn: u64,
    /// When it was last committed: Unix time in milliseconds, UTC (0 for
    /// a cursor not committed since its creation).
    pub commit_ms: u64,
}

/// [`Error::BadRequest`] for a name that breaks the rules: walld would
/// close the connection on it.
fn check_name(name: &str) -> Result<()> {
    if wire::cursor_name_valid(name.as_bytes()) {
        return Ok(());
    }
    Err(Error::BadRequest(format!(
        "a cursor name is 1..{} bytes of [A-Za-z0-9._-], the first a letter or a digit, \
         not {:?}; nothing was sent",
        wire::CURSOR_NAME_MAX,
        name
    )))
}

/// Decodes a CURSOR_LIST reply body: the cursors of one reply, and
/// whether more follow (flag `MORE`). An error says how it is broken.
pub(crate) fn decode_list(b: &[u8]) -> std::result::Result<(Vec<Cursor>, bool), String> {
    if b.len() < wire::CURSOR_LIST_FIXED {
        return Err(format!(
            "cursor-list reply body of {} bytes, below 8",
            b.len()
        ));
    }
    let count = wire::get32(&b[0..4]);
    let flags = wire::get32(&b[4..8]);
    if flags & !wire::CURSOR_LIST_MORE != 0 {
        return Err(format!("cursor-list reply with flags 0x{:x}", flags));
    }
    let mut out = Vec::new();
    let mut rest = &b[wire::CURSOR_LIST_FIXED..];
    for i in 0..count {
        if rest.len() < wire::CURSOR_ENT_FIXED {
            return Err(format!(
                "cursor-list reply cut short at entry {} of {}",
                i + 1,
                count
            ));
        }
        let n = rest[16] as usize;
        let end = wire::CURSOR_ENT_FIXED + n;
        if rest.len() < end || !wire::cursor_name_valid(&rest[wire::CURSOR_ENT_FIXED..end]) {
            return Err(format!(
                "cursor-list reply entry {} of {} has no valid name",
                i + 1,
                count
            ));
        }
        out.push(Cursor {
            // Valid names are ASCII.
            name: String::from_utf8_lossy(&rest[wire::CURSOR_ENT_FIXED..end]).into_owned(),
            lsn: wire::get64(&rest[0..8]),
            commit_ms: wire::get64(&rest[8..16]),
        });
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        return Err(format!(
            "cursor-list reply with {} bytes after its entries",
            rest.len()
        ));
    }
    Ok((out, flags & wire::CURSOR_LIST_MORE != 0))
}

impl Client {
    /// Sends cursor request `op` about `name` (for CURSOR_LIST: the name
    /// to list after, empty for the first), with `lsn` for CREATE and
    /// COMMIT, and waits for its reply. The name and the connection's
    /// version are checked first: nothing is sent when they are wrong.
    /// `what` names the method, for the errors.
    fn cursor_call(&self, op: u8, what: &str, name: &str, lsn: Option<u64>) -> Result<Reply> {
        if op != wire::OP_CURSOR_LIST || !name.is_empty() {
            check_name(name)?;
        }
        self.need_version(wire::VERSION_2, what)?;
        let id = self.new_id();
        self.call(wire::cursor(op, id, lsn, name.as_bytes()), id, op)
    }

    /// Creates the consumer cursor `name` at `lsn`, the last record its
    /// consumer has finished with (0: none yet), unless it exists; returns
    /// the cursor's LSN: `lsn`, or the existing cursor's, left as it was
    /// ("create if missing"). Durable when it returns (walld fsyncs its
    /// cursors file before replying).
    ///
    /// Cursors need protocol version 2
    /// ([`ClientOptions::protocol`](crate::ClientOptions::protocol)): on a
    /// version 1 connection every cursor call is [`Error::Version`],
    /// without sending anything. A name is 1..64 bytes of
    /// `[A-Za-z0-9._-]`, the first a letter or a digit: any other is
    /// [`Error::BadRequest`], without sending anything. An `lsn` above
    /// the durable LSN is [`Error::Range`]; more than walld's
    /// `cursors.max` cursors is [`Error::Busy`]. Needs the access list's
    /// `cursor` operation for the name.
    pub fn cursor_create(&self, name: &str, lsn: u64) -> Result<u64> {
        self.cursor_call(wire::OP_CURSOR_CREATE, "cursor_create", name, Some(lsn))
            .and_then(expect_u64)
    }

    /// Moves cursor `name` forward to `lsn`, durably, and returns its
    /// LSN. Committing the cursor's own LSN again succeeds (a retried
    /// commit); a cursor never goes back: an `lsn` below the cursor's is
    /// [`Error::Range`], and so is one above the durable LSN.
    /// [`Error::NotFound`] when walld has no cursor of that name.
    pub fn cursor_commit(&self, name: &str, lsn: u64) -> Result<u64> {
        self.cursor_call(wire::OP_CURSOR_COMMIT, "cursor_commit", name, Some(lsn))
            .and_then(expect_u64)
    }

    /// Cursor `name` as walld keeps it (durably): its LSN and the time of
    /// its last commit. [`Error::NotFound`] when there is none. Needs
    /// permission to read.
    pub fn cursor_get(&self, name: &str) -> Result<Cursor> {
        match self.cursor_call(wire::OP_CURSOR_GET, "cursor_get", name, None)? {
            Reply::CursorState { lsn, commit_ms } => Ok(Cursor {
                name: name.to_string(),
                lsn,
                commit_ms,
            }),
            other => Err(Error::Protocol(format!("unexpected reply {:?}", other))),
        }
    }

    /// Every cursor, sorted by name (bytewise). walld answers with as
    /// many as fit one reply (64 KiB) and says whether more follow; this
    /// asks again from the last name until none do. Needs permission to
    /// read.
    pub fn cursors(&self) -> Result<Vec<Cursor>> {
        let mut out: Vec<Cursor> = Vec::new();
        // The last name received: the next request lists after it.
        let mut after = String::new();
        loop {
            let (page, more) =
                match self.cursor_call(wire::OP_CURSOR_LIST, "cursors", &after, None)? {
                    Reply::CursorList { cursors, more } => (cursors, more),
                    other => return Err(Error::Protocol(format!("unexpected reply {:?}", other))),
                };
            if page.is_empty() && more {
                return Err(Error::Protocol(
                    "cursor-list reply with no entry and flag MORE".to_string(),
                ));
            }
            for c in page {
                // Sorted, and after the name asked for: also what makes
                // the loop end.
                if c.name <= after {
                    return Err(Error::Protocol(format!(
                        "cursor-list reply out of order: {:?} after {:?}",
                        c.name, after
                    )));
                }
                after.clone_from(&c.name);
                out.push(c);
            }
            if !more {
                return Ok(out);
            }
        }
    }

    /// Removes cursor `name`, durably, and returns the LSN it had.
    /// [`Error::NotFound`] when there is none. To move a cursor back,
    /// drop it and create it again at the LSN wanted.
    pub fn cursor_drop(&self, name: &str) -> Result<u64> {
        self.cursor_call(wire::OP_CURSOR_DROP, "cursor_drop", name, None)
            .and_then(expect_u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list reply body: count, flags, then the entries.
    fn body(flags: u32, entries: &[(&str, u64, u64)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        for (name, lsn, ms) in entries {
            b.extend_from_slice(&lsn.to_le_bytes());
            b.extend_from_slice(&ms.to_le_bytes());
            b.push(name.len() as u8);
            b.extend_from_slice(name.as_bytes());
        }
        b
    }

    #[test]
    fn list_replies() {
        let (l, more) = decode_list(&body(0, &[])).unwrap();
        assert!(l.is_empty() && !more);
        let (l, more) = decode_list(&body(1, &[("a", 3, 1000), ("b.c", 0, 0)])).unwrap();
        assert!(more);
        assert_eq!(
            l,
            [
                Cursor {
                    name: "a".to_string(),
                    lsn: 3,
                    commit_ms: 1000
                },
                Cursor {
                    name: "b.c".to_string(),
                    lsn: 0,
                    commit_ms: 0
                }
            ]
        );
    }

    #[test]
    fn broken_list_replies() {
        let good = body(0, &[("etl", 1, 2)]);
        assert!(decode_list(&good[..7]).unwrap_err().contains("below 8"));
        // Cut in an entry's fixed part, and in its name.
        assert!(decode_list(&good[..20]).unwrap_err().contains("cut short"));
        assert!(decode_list(&good[..good.len() - 1])
            .unwrap_err()
            .contains("no valid name"));
        let mut extra = good.clone();
        extra.push(0);
        assert!(decode_list(&extra)
            .unwrap_err()
            .contains("after its entries"));
        let mut flags = good.clone();
        flags[4] = 3;
        assert!(decode_list(&flags).unwrap_err().contains("flags 0x3"));
        // A count above the entries there.
        let mut count = good;
        count[0] = 2;
        assert!(decode_list(&count).unwrap_err().contains("entry 2 of 2"));
        for bad in ["-x", "a b", ""] {
            let b = body(0, &[(bad, 1, 1)]);
            assert!(
                decode_list(&b).unwrap_err().contains("no valid name"),
                "{:?}",
                bad
            );
        }
    }

    #[test]
    fn names_are_checked_before_sending() {
        assert!(check_name("orders.v1").is_ok());
        let e = check_name("-starts-with-a-dash").unwrap_err();
        assert!(matches!(e, Error::BadRequest(_)), "{:?}", e);
        assert!(e.to_string().contains("nothing was sent"), "{}", e);
        assert!(check_name(&"x".repeat(65)).is_err());
        assert!(check_name(&"x".repeat(64)).is_ok());
        assert!(check_name("").is_err());
    }
}
