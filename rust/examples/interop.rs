// SPDX-License-Identifier: Apache-2.0
//! The Rust side of tests/integ/clients_interop.sh, with this crate.
//! tests/helpers/walinterop.c (libwal) and tests/helpers/interop.py do the
//! same with their clients.
//!
//! ```text
//! interop append SOCKET COUNT    append COUNT records, print each one
//! interop dump SOCKET [TENANT]   print every record of the log (of
//!                                TENANT only, when given)
//! ```
//!
//! One line per record, in the same form on the three sides: "LSN TYPE
//! TENANT VSHARD HEX", HEX the payload in lower-case hex ("-" when
//! empty). Record i of a writer: type BASE + i % 3, tenant TENANT, vshard
//! i % 7; payload empty when i % 97 == 1, else "TAG i " followed by the
//! 256 byte values from i on (i % 10 == 0) or by xorshift32 bytes, 70000
//! of them when i % 499 == 7, else (i * 7919) % 300. This side's TAG is
//! "rs", BASE 200, TENANT 2002.

use std::io::{self, BufWriter, Write};
use std::process::exit;
use std::time::Duration;

use walld_client::{Ack, Client, Filter};

const TAG: &str = "rs";
const TYPE: u16 = 200;
const TENANT: u32 = 2002;
/// Records 0..SINGLE: one blocking append each, acknowledged LOCAL.
const SINGLE: u64 = 40;
/// Records SINGLE..NOWAIT: nowait appends, then one sync.
const NOWAIT: u64 = 80;
/// The rest, at walld's default level, in batches: `append_many` and
/// `send_append` in turn.
const BATCH: u64 = 500;

/// Record i: (type, tenant, vshard, payload).
fn record(i: u64) -> (u16, u32, u16, Vec<u8>) {
    let header = (TYPE + (i % 3) as u16, TENANT, (i % 7) as u16);
    if i % 97 == 1 {
        return (header.0, header.1, header.2, Vec::new());
    }
    let mut p = format!("{} {} ", TAG, i).into_bytes();
    if i % 10 == 0 {
        p.extend((0..256u64).map(|k| ((i + k) & 255) as u8));
    } else {
        let n = if i % 499 == 7 { 70000 } else { (i * 7919) % 300 };
        let mut x = (i.wrapping_mul(2654435761).wrapping_add(1)) as u32;
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            p.push((x >> 24) as u8);
        }
    }
    (header.0, header.1, header.2, p)
}

/// Writes a record in the shared line form.
fn line(
    out: &mut impl Write,
    lsn: u64,
    rtype: u16,
    tenant: u32,
    vshard: u16,
    p: &[u8],
) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = Vec::with_capacity(2 * p.len() + 48);
    write!(s, "{} {} {} {} ", lsn, rtype, tenant, vshard)?;
    if p.is_empty() {
        s.push(b'-');
    }
    for b in p {
        s.push(HEX[(b >> 4) as usize]);
        s.push(HEX[(b & 15) as usize]);
    }
    s.push(b'\n');
    out.write_all(&s)
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("interop: {}: {}", what, e);
    exit(1)
}

/// Appends count records four ways, printing each once durable.
fn append(c: &Client, count: u64, out: &mut impl Write) -> io::Result<()> {
    let mut done: Vec<(u64, u64)> = Vec::new(); // (LSN, record)
    let mut i = 0;
    while i < count.min(SINGLE) {
        let (t, te, v, p) = record(i);
        let lsn = c
            .append_with(t, te, v, &p, Ack::Local)
            .unwrap_or_else(|e| fail("append", e));
        done.push((lsn, i));
        i += 1;
    }
    while i < count.min(NOWAIT) {
        let (t, te, v, p) = record(i);
        let lsn = c
            .append_nowait(t, te, v, &p)
            .unwrap_or_else(|e| fail("append nowait", e));
        done.push((lsn, i));
        i += 1;
    }
    if count > SINGLE {
        let durable = c.sync_with(Ack::Local).unwrap_or_else(|e| fail("sync", e));
        if let Some(&(lsn, _)) = done.last() {
            if lsn > durable {
                fail("sync", format!("durable LSN {} below LSN {}", durable, lsn));
            }
        }
    }
    c.set_ack(Ack::Default);
    let mut k = 0;
    while i < count {
        let end = count.min(i + BATCH);
        if k % 2 == 0 {
            let lsns = c
                .append_many((i..end).map(record))
                .unwrap_or_else(|e| fail("append_many", e));
            done.extend(lsns.into_iter().zip(i..end));
        } else {
            let mut sent = Vec::new();
            for j in i..end {
                let (t, te, v, p) = record(j);
                let pend = c
                    .send_append(t, te, v, &p)
                    .unwrap_or_else(|e| fail("send_append", e));
                sent.push((pend, j));
            }
            for (pend, j) in sent {
                let lsn = pend.wait().unwrap_or_else(|e| fail("send_append wait", e));
                done.push((lsn, j));
            }
        }
        i = end;
        k += 1;
    }
    let mut last = 0;
    for (lsn, j) in done {
        if lsn <= last {
            fail("append", format!("LSN {} after {}", lsn, last));
        }
        last = lsn;
        let (t, te, v, p) = record(j);
        line(out, lsn, t, te, v, &p)?;
    }
    Ok(())
}

/// Prints every record of the log (of one tenant), in LSN order.
fn dump(c: &Client, tenant: Option<u32>, out: &mut impl Write) -> io::Result<()> {
    let mut filter = Filter::all();
    if let Some(t) = tenant {
        filter = filter.tenant(t);
    }
    let mut last = 0;
    for r in c.read(0, filter).unwrap_or_else(|e| fail("read", e)) {
        let r = r.unwrap_or_else(|e| fail("read", e));
        if r.lsn <= last {
            fail("read", format!("LSN {} after {}", r.lsn, last));
        }
        last = r.lsn;
        line(out, r.lsn, r.record_type, r.tenant_id, r.vshard_id, &r.payload)?;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: interop append SOCKET COUNT\n       interop dump SOCKET [TENANT]");
        exit(64)
    };
    if args.len() < 3 || args.len() > 4 {
        usage();
    }
    let n: Option<u64> = match args.get(3) {
        Some(s) => Some(s.parse().unwrap_or_else(|_| usage())),
        None => None,
    };
    let c = Client::connect_timeout(&args[2], Duration::from_secs(60))
        .unwrap_or_else(|e| fail(&args[2], e));
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let r = match (args[1].as_str(), n) {
        ("append", Some(n)) => append(&c, n, &mut out),
        ("dump", None) => dump(&c, None, &mut out),
        ("dump", Some(t)) if t <= u32::MAX as u64 => dump(&c, Some(t as u32), &mut out),
        _ => usage(),
    };
    if let Err(e) = r.and_then(|()| out.flush()) {
        fail("stdout", e);
    }
}
