//! A client for walld, the write-ahead-log daemon, speaking its wire
//! protocol (proto/PROTOCOL.md, version 1) over its AF_UNIX socket. The
//! standard library only.

#![deny(missing_docs)]
#![allow(dead_code)] // the client that uses the wire format comes next

mod error;
mod wire;

pub use error::{Error, Result};
