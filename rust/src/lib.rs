// SPDX-License-Identifier: Apache-2.0
//! A client for walld, the write-ahead-log daemon, speaking its wire
//! protocol (proto/PROTOCOL.md, version 1; version 2 on request, and for
//! a [`Producer`]) over its AF_UNIX socket. The standard library only.
//!
//! walld owns a directory of WAL segments and makes appends durable with
//! group commit; many processes share one log through it. A [`Client`]
//! is one connection:
//!
//! ```no_run
//! use walld_client::{Client, Filter};
//!
//! # fn main() -> walld_client::Result<()> {
//! let wal = Client::from_env()?; // $WALLD_SOCKET or /run/walld/walld.sock
//! // record type, tenant, vshard, payload: the LSN, once durable.
//! let lsn = wal.append(1, 42, 3, b"hello")?;
//! for rec in wal.read(lsn, Filter::all().tenant(42))? {
//!     let rec = rec?;
//!     println!("{} {:?}", rec.lsn, rec.payload);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Requests may be pipelined ([`Client::send_append`],
//! [`Client::append_many`]): replies are read by a thread of the client
//! while requests are written, and matched to them by request id.
//!
//! Errors are [`Error`]s: one variant per error code of the protocol,
//! [`Error::OutcomeUnknown`] when the connection was lost with the
//! request in flight, [`Error::Closed`] when it was lost before, and
//! [`Error::Io`] for local failures.
//!
//! An append or a sync may ask to be acknowledged only once the stream
//! walld replicates into holds its records ([`Ack::Replicated`], with
//! [`Client::append_with`], [`Client::sync_with`] or
//! [`Client::set_ack`]); [`Error::ReplicationUnavailable`] then says the
//! records are durable but not replicated in time.
//!
//! When the connection is lost with an append in flight, its outcome is
//! unknown, and sent again as a plain append the record may be written
//! twice. A [`Producer`] makes appends idempotent (PROTOCOL.md,
//! "Producers"; docs/PRODUCERS.md): it numbers its records and sends one
//! whose outcome is unknown again under the same number, reconnecting
//! as needed, and walld writes each number once:
//!
//! ```no_run
//! use walld_client::Producer;
//!
//! # fn main() -> walld_client::Result<()> {
//! let mut p = Producer::options().tenant(42).open_env()?; // a random id
//! // record type, vshard, payload: the LSN, durable, written once.
//! let lsn = p.append(1, 3, b"order 17")?;
//! # let _ = lsn;
//! # Ok(())
//! # }
//! ```
//!
//! An append it gives up on stays pending ([`Error::ProducerPending`] for
//! the next ones) until [`Producer::resume`] settles it; a number
//! walld finds out of order is [`Error::Sequence`].
//!
//! A client that asks for protocol version 2 ([`ClientOptions::protocol`])
//! may also keep consumer cursors in walld (PROTOCOL.md section 6;
//! docs/CURSORS.md): named positions in the log, durable, that a consumer
//! resumes from after a crash or a restart:
//!
//! ```no_run
//! use walld_client::{Client, Filter};
//!
//! # fn main() -> walld_client::Result<()> {
//! let wal = Client::options().protocol(2).connect_env()?;
//! let done = wal.cursor_create("billing", 0)?; // create if missing
//! for rec in wal.read(done + 1, Filter::all())? {
//!     let rec = rec?;
//!     // ... handle the record, then:
//!     wal.cursor_commit("billing", rec.lsn)?; // durable when it returns
//! }
//! # Ok(())
//! # }
//! ```
//!
//! On such a connection a truncate that would remove records a cursor has
//! not consumed is [`Error::Held`] ([`Client::truncate_force`] goes past
//! it), and a read ends at the end of a sealed log, follow reads too, with
//! [`Reader::sealed`] true.

#![deny(missing_docs)]

mod client;
mod conn;
mod cursor;
mod error;
mod producer;
mod read;
mod stats;
mod wire;

pub use client::{
    socket_from_env, Ack, Client, ClientOptions, Pending, ServerInfo, DEFAULT_SOCKET, SOCKET_ENV,
};
pub use cursor::Cursor;
pub use error::{Error, Result};
pub use producer::{Producer, ProducerOptions};
pub use read::{Filter, Reader, Record};
pub use stats::{State, Stats};

/// The examples of README.md, compiled (not run) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
