// SPDX-License-Identifier: Apache-2.0
//! Acknowledgement levels against a real walld that does not replicate
//! (no `replication.servers`): a replicated append or sync fails with
//! `ReplicationUnavailable` once its records are durable, and reading
//! back finds them; local and walld's default succeed, and no request
//! carries both level flags (walld would close the connection).

mod common;

use common::Walld;
use walld_client::{Ack, Client, Error, Filter, Record};

fn read_lsn(c: &Client, lsn: u64) -> Record {
    let recs = c
        .read_range(lsn, Some(lsn), Filter::all(), false)
        .expect("read")
        .collect::<Result<Vec<_>, _>>()
        .expect("read records");
    assert_eq!(recs.len(), 1, "records at LSN {}: {:?}", lsn, recs);
    recs.into_iter().next().unwrap()
}

fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

#[test]
fn replicated_append_is_durable_without_replication() {
    let w = Walld::start();
    let c = w.client();
    let payload = all_bytes();
    let e = c
        .append_with(3, 5, 4, &payload, Ack::Replicated)
        .expect_err("walld does not replicate");
    assert!(matches!(e, Error::ReplicationUnavailable(_)), "{:?}", e);
    assert_eq!(e.code(), Some(12));
    assert!(!e.is_outcome_unknown() && !e.is_retryable());
    assert!(e.to_string().contains("durable"), "{}", e);
    // The record has its LSN, is durable, and reads back.
    let lsn = e.lsn().expect("the message names the LSN");
    assert_eq!(lsn, 1);
    assert!(c.stats().expect("stats").durable_lsn >= lsn);
    let r = read_lsn(&c, lsn);
    assert_eq!(
        (r.lsn, r.record_type, r.tenant_id, r.vshard_id, r.payload),
        (1, 3, 5, 4, payload)
    );
    // The connection is still good.
    c.ping().expect("ping after REPL_UNAVAILABLE");
    assert!(!c.is_closed());
}

#[test]
fn local_and_default_levels_succeed() {
    let w = Walld::start();
    let c = w.client();
    assert_eq!(c.ack(), Ack::Default);
    let a = c.append_with(1, 9, 0, b"local", Ack::Local).expect("local");
    let b = c.append_with(1, 9, 0, b"default", Ack::Default).expect("default");
    let d = c.append(1, 9, 0, b"client default").expect("append");
    assert_eq!((a, b, d), (1, 2, 3));
    assert_eq!(c.sync_with(Ack::Local).expect("sync local"), 3);
    assert_eq!(c.sync_with(Ack::Default).expect("sync default"), 3);
    assert_eq!(c.sync().expect("sync"), 3);
    let p = c
        .send_append_with(1, 9, 0, b"sent local", Ack::Local)
        .expect("send");
    assert_eq!(p.wait().expect("wait"), 4);
}

#[test]
fn replicated_sync_fails_after_durable() {
    let w = Walld::start();
    let c = w.client();
    let lsn = c.append_nowait(0, 0, 0, b"before the sync").expect("nowait");
    let e = c.sync_with(Ack::Replicated).expect_err("not replicated");
    assert!(matches!(e, Error::ReplicationUnavailable(_)), "{:?}", e);
    assert!(e.lsn().expect("LSN in the message") >= lsn);
    assert!(c.sync_with(Ack::Local).expect("sync") >= lsn);
    assert_eq!(read_lsn(&c, lsn).payload, b"before the sync");
}

#[test]
fn client_level_ack() {
    let w = Walld::start();
    let c = w.client();
    c.set_ack(Ack::Replicated);
    assert_eq!(c.ack(), Ack::Replicated);
    let e = c.append(2, 1, 1, b"client replicated").expect_err("replicated");
    assert_eq!(e.lsn(), Some(1));
    assert_eq!(read_lsn(&c, 1).payload, b"client replicated");
    // A call's own level wins.
    assert_eq!(c.append_with(2, 1, 1, b"call local", Ack::Local).expect("local"), 2);
    // nowait appends carry no level.
    assert_eq!(c.append_nowait(2, 1, 1, b"nowait").expect("nowait"), 3);
    assert!(matches!(c.sync(), Err(Error::ReplicationUnavailable(_))));
    assert!(matches!(
        c.send_sync().expect("send sync").wait(),
        Err(Error::ReplicationUnavailable(_))
    ));
    // Pipelined: every record fails the same way, and every one is there.
    let e = c
        .append_many((0..50u32).map(|i| (2u16, 1u32, 1u16, i.to_le_bytes())))
        .expect_err("replicated");
    assert_eq!(e.lsn(), Some(4));
    c.set_ack(Ack::Local);
    assert_eq!(c.ack(), Ack::Local);
    let lsns = c
        .append_many((50..60u32).map(|i| (2u16, 1u32, 1u16, i.to_le_bytes())))
        .expect("local");
    assert_eq!(lsns, (54..64).collect::<Vec<u64>>());
    assert_eq!(c.sync().expect("sync"), 63);
    c.set_ack(Ack::Default);
    assert_eq!(c.append(2, 1, 1, b"default").expect("default"), 64);
    let recs: Vec<Record> = c
        .read(4, Filter::all())
        .expect("read")
        .collect::<Result<_, _>>()
        .expect("records");
    assert_eq!(recs.len(), 61);
    for (i, r) in recs.iter().take(60).enumerate() {
        assert_eq!(r.lsn, 4 + i as u64);
        assert_eq!(r.payload, (i as u32).to_le_bytes());
    }
    assert!(!c.is_closed());
}
