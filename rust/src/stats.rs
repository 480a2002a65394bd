// SPDX-License-Identifier: Apache-2.0
//! The STATS reply, parsed.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// The state walld reports for itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Appends are accepted.
    ReadWrite,
    /// The log is sealed: no append will succeed again.
    Sealed,
    /// walld is shutting down.
    Stopping,
    /// A write or fsync failed; walld refuses appends until restarted.
    Failed,
    /// A state this client does not know.
    Other(String),
}

impl State {
    fn parse(s: &str) -> State {
        match s {
            "read-write" => State::ReadWrite,
            "sealed" => State::Sealed,
            "stopping" => State::Stopping,
            "failed" => State::Failed,
            other => State::Other(other.to_string()),
        }
    }
}

/// walld's metrics, from a STATS request ([`Client::stats`](crate::Client::stats)).
///
/// The fields are the figures a WAL writer usually asks about; every line
/// walld sent, these included, is in [`get`](Stats::get) and
/// [`get_u64`](Stats::get_u64) by name (names walld adds later are there
/// too). Counters count since walld started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// walld's version (`version`).
    pub version: String,
    /// walld's state (`state`).
    pub state: State,
    /// The lowest LSN still in the log (`first_lsn`; rises with
    /// truncation).
    pub first_lsn: u64,
    /// The LSN the next append will get (`next_lsn`): the position of the
    /// end of the log, in records. The seed's `WalWriter::next_lsn`.
    pub next_lsn: u64,
    /// The highest LSN known durable, 0 for none (`durable_lsn`).
    pub durable_lsn: u64,
    /// Segment files in the data directory (`segments`).
    pub segments: u64,
    /// Bytes the segment files take on disk (`bytes_on_disk`): the whole
    /// log's size, with the unused tail of the active segment, which is
    /// allocated ahead.
    pub bytes_on_disk: u64,
    /// Bytes of records (headers included) walld has written to segments
    /// since it started (`bytes_written`). With `bytes_on_disk`, the
    /// nearest thing to the seed's `WalWriter::file_offset`, which walld
    /// does not expose: positions in the log are LSNs.
    pub bytes_written: u64,
    /// Records appended since walld started (`appends_total`).
    pub appends_total: u64,
    /// Client connections open, this one included (`connections`).
    pub connections: u64,
    lines: BTreeMap<String, String>,
}

impl Stats {
    /// Parses the text of a STATS reply: `name value` lines.
    pub(crate) fn parse(text: &[u8]) -> Result<Stats> {
        let text = std::str::from_utf8(text)
            .map_err(|_| Error::Protocol("stats reply is not UTF-8".to_string()))?;
        let mut lines = BTreeMap::new();
        for line in text.lines() {
            if line.is_empty() {
                continue;
            }
            let (name, value) = line.split_once(' ').ok_or_else(|| {
                Error::Protocol(format!("stats line without a value: {:?}", line))
            })?;
            lines.insert(name.to_string(), value.to_string());
        }
        let word = |name: &str| -> Result<String> {
            lines
                .get(name)
                .cloned()
                .ok_or_else(|| Error::Protocol(format!("stats without {}", name)))
        };
        let num = |name: &str| -> Result<u64> {
            let v = word(name)?;
            v.parse::<u64>()
                .map_err(|_| Error::Protocol(format!("stats {} is not a number: {:?}", name, v)))
        };
        Ok(Stats {
            version: word("version")?,
            state: State::parse(&word("state")?),
            first_lsn: num("first_lsn")?,
            next_lsn: num("next_lsn")?,
            durable_lsn: num("durable_lsn")?,
            segments: num("segments")?,
            bytes_on_disk: num("bytes_on_disk")?,
            bytes_written: num("bytes_written")?,
            appends_total: num("appends_total")?,
            connections: num("connections")?,
            lines,
        })
    }

    /// The value of the stats line `name`, as walld wrote it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.lines.get(name).map(|s| s.as_str())
    }

    /// The value of the stats line `name` as a number; `None` when there
    /// is no such line or its value is not a whole number.
    pub fn get_u64(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    /// Every stats line, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lines.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version 0.1.0\nstate sealed\nfirst_lsn 1\nnext_lsn 8\n\
        durable_lsn 7\nsegments 2\nbytes_on_disk 2097152\nbytes_written 400\n\
        keys_needed none\nappends_total 7\nconnections 1\nnew_thing 5\n";

    #[test]
    fn parses_known_and_unknown_lines() {
        let s = Stats::parse(TEXT.as_bytes()).unwrap();
        assert_eq!(s.state, State::Sealed);
        assert_eq!((s.first_lsn, s.next_lsn, s.durable_lsn), (1, 8, 7));
        assert_eq!(s.bytes_written, 400);
        assert_eq!(s.get("keys_needed"), Some("none"));
        assert_eq!(s.get_u64("keys_needed"), None);
        assert_eq!(s.get_u64("new_thing"), Some(5));
        assert_eq!(s.iter().count(), 12);
    }

    #[test]
    fn a_missing_lsn_is_a_protocol_error() {
        let t = TEXT.replace("durable_lsn 7\n", "");
        assert!(matches!(Stats::parse(t.as_bytes()), Err(Error::Protocol(_))));
    }
}
