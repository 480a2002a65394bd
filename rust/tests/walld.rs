// SPDX-License-Identifier: Apache-2.0
//! walld-client against a real walld: each test starts its own walld on
//! a private socket (tests/common), so the tests may run in parallel.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Walld, SIGCONT, SIGKILL, SIGSTOP, SIGTERM};
use walld_client::{Client, Error, Filter, Record, State};

/// Every record of the log, by a plain read from the start.
fn read_all(c: &Client, filter: Filter) -> Vec<Record> {
    c.read(0, filter)
        .expect("read")
        .collect::<Result<Vec<_>, _>>()
        .expect("read records")
}

/// A payload whose bytes depend on `seed`: every byte value occurs.
fn binary(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn round_trip_of_binary_payloads() {
    let w = Walld::start_with("limits:\n  max_record: 256KiB\n");
    let c = w.client();
    assert_eq!(c.server_info().protocol_version, 1);
    assert_eq!(c.max_record(), 256 << 10);
    assert!(c.server_info().server.starts_with("walld "));

    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let cases: Vec<(u16, u32, u16, Vec<u8>)> = vec![
        (1, 42, 3, b"hello".to_vec()),
        (0, 0, 0, Vec::new()), // an empty payload is a record too
        (0xffff, 0xffff_ffff, 0xffff, all_bytes),
        (7, 1, 2, vec![0u8; 1000]),
        (8, 2, 1, binary(1, 4096)),
        (9, 3, 0, binary(2, 256 << 10)), // exactly max_record
        (2, 42, 3, b"\r\n\0\xff".to_vec()),
    ];
    let mut lsns = Vec::new();
    for (t, tenant, vshard, p) in &cases {
        lsns.push(c.append(*t, *tenant, *vshard, p).expect("append"));
    }
    assert_eq!(lsns, (1..=cases.len() as u64).collect::<Vec<_>>());

    let recs = read_all(&c, Filter::all());
    assert_eq!(recs.len(), cases.len());
    for (r, ((t, tenant, vshard, p), lsn)) in recs.iter().zip(cases.iter().zip(&lsns)) {
        assert_eq!(r.lsn, *lsn);
        assert_eq!(r.record_type, *t);
        assert_eq!(r.tenant_id, *tenant);
        assert_eq!(r.vshard_id, *vshard);
        assert_eq!(&r.payload, p, "payload of LSN {}", lsn);
    }

    // Filters, alone and together; a range; a start in the middle.
    let lsns_of = |v: Vec<Record>| v.iter().map(|r| r.lsn).collect::<Vec<_>>();
    assert_eq!(lsns_of(read_all(&c, Filter::all().tenant(42))), vec![1, 7]);
    assert_eq!(lsns_of(read_all(&c, Filter::all().vshard(0))), vec![2, 6]);
    assert_eq!(lsns_of(read_all(&c, Filter::all().record_type(9))), vec![6]);
    assert_eq!(
        lsns_of(read_all(&c, Filter::all().tenant(42).record_type(2))),
        vec![7]
    );
    let mid: Vec<Record> = c
        .read_range(3, Some(5), Filter::all(), false)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(lsns_of(mid), vec![3, 4, 5]);
    let mut r = c.read(6, Filter::all()).unwrap();
    assert_eq!(r.next().unwrap().unwrap().lsn, 6);
    assert_eq!(r.next().unwrap().unwrap().lsn, 7);
    assert!(r.next().is_none());
    assert_eq!(r.next_lsn(), Some(8));
    drop(r);

    // A record survives a restart of walld byte for byte.
    drop(c);
    let mut w = w;
    w.signal(SIGTERM);
    assert!(w.wait_exit().success());
    w.launch();
    let c = w.client();
    let again = read_all(&c, Filter::all());
    assert_eq!(again, recs);
}

#[test]
fn append_nowait_then_sync() {
    let w = Walld::start();
    let c = w.client();
    assert_eq!(c.sync().unwrap(), 0, "the durable LSN of an empty log");
    let mut last = 0;
    for i in 0..100u32 {
        let lsn = c.append_nowait(1, i % 4, 0, &i.to_le_bytes()).unwrap();
        assert!(lsn > last);
        last = lsn;
    }
    let durable = c.sync().unwrap();
    assert!(durable >= last, "durable {} below {}", durable, last);
    let st = c.stats().unwrap();
    assert!(st.durable_lsn >= last);
    assert_eq!(st.next_lsn, last + 1);

    // Pipelined: nowait appends, then a sync behind them.
    let p1 = c.send_append_nowait(1, 1, 1, b"a").unwrap();
    let p2 = c.send_append_nowait(1, 1, 1, b"b").unwrap();
    let s = c.send_sync().unwrap();
    let (a, b) = (p1.wait().unwrap(), p2.wait().unwrap());
    assert_eq!((a, b), (last + 1, last + 2));
    assert!(s.wait().unwrap() >= b);
}

#[test]
fn pipelining_thousands_of_appends() {
    let w = Walld::start();
    let c = w.client();

    // append_many: 5000 records sent before the first reply is awaited.
    let n = 5000u32;
    let lsns = c
        .append_many((0..n).map(|i| (3, i % 10, (i % 7) as u16, binary(i, (i % 300) as usize))))
        .expect("append_many");
    assert_eq!(lsns.len(), n as usize);
    assert_eq!(lsns, (1..=n as u64).collect::<Vec<_>>(), "LSNs in order");
    assert!(c.stats().unwrap().durable_lsn >= n as u64);

    // Pending handles: 3000 sent, then collected in order.
    let mut pending = Vec::new();
    for i in 0..3000u32 {
        pending.push(c.send_append(4, 1, 0, &i.to_be_bytes()).unwrap());
    }
    let more: Vec<u64> = pending.into_iter().map(|p| p.wait().unwrap()).collect();
    assert!(more.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(more[0], n as u64 + 1);

    // nowait appends pipelined, then one sync.
    let nw = c
        .append_many_nowait((0..2000u32).map(|i| (5, 2, 0, i.to_le_bytes())))
        .unwrap();
    assert!(c.sync().unwrap() >= *nw.last().unwrap());

    // One client shared by threads: their requests interleave on one
    // connection, and every LSN is distinct.
    let shared = Arc::new(w.client());
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            let c = Arc::clone(&shared);
            thread::spawn(move || {
                (0..500u32)
                    .map(|i| c.append(6, 100 + t, 0, &i.to_le_bytes()).unwrap())
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 2000);

    // Everything reads back: 5000 + 3000 + 2000 + 2000 records.
    let recs = read_all(&c, Filter::all());
    assert_eq!(recs.len(), 12000);
    for (i, r) in recs.iter().take(n as usize).enumerate() {
        let i = i as u32;
        assert_eq!(r.payload, binary(i, (i % 300) as usize));
        assert_eq!((r.tenant_id, r.vshard_id), (i % 10, (i % 7) as u16));
    }
    let tenant7 = read_all(&c, Filter::all().tenant(7).record_type(3));
    assert_eq!(tenant7.len(), 500);
}

#[test]
fn sealed_after_seal() {
    let w = Walld::start();
    let c = w.client();
    let other = w.client();
    c.append(1, 1, 1, b"before the seal").unwrap();
    let lsn = c.append(1, 1, 1, b"the last record").unwrap();
    assert_eq!(c.seal().unwrap(), lsn);
    for conn in [&c, &other] {
        match conn.append(1, 1, 1, b"after") {
            Err(Error::Sealed(msg)) => assert!(msg.contains("sealed"), "{}", msg),
            r => panic!("append after seal: {:?}", r),
        }
        assert!(matches!(
            conn.append_nowait(1, 1, 1, b"after"),
            Err(Error::Sealed(_))
        ));
    }
    let e = c.append(1, 1, 1, b"x").unwrap_err();
    assert_eq!(e.code(), Some(4));
    assert!(!e.is_retryable() && !e.is_outcome_unknown());
    // Sealing again gives the same LSN; the connection is still usable,
    // and so are reads.
    assert_eq!(other.seal().unwrap(), lsn);
    c.ping().unwrap();
    assert_eq!(c.stats().unwrap().state, State::Sealed);
    assert_eq!(read_all(&c, Filter::all()).len(), 2);
    // A batch after the seal fails at its first record.
    assert!(matches!(
        c.append_many(vec![(1u16, 1u32, 1u16, b"a"), (1, 1, 1, b"b")]),
        Err(Error::Sealed(_))
    ));
    c.ping().unwrap();
}

#[test]
fn too_large_is_refused_and_the_connection_stays() {
    let w = Walld::start_with("limits:\n  max_record: 64KiB\n");
    let c = w.client();
    let max = c.max_record() as usize;
    assert_eq!(max, 64 << 10);
    match c.append(1, 1, 1, &vec![7u8; max + 1]) {
        Err(Error::TooLarge(msg)) => assert!(msg.contains("max_record"), "{}", msg),
        r => panic!("append of max_record + 1 bytes: {:?}", r),
    }
    assert!(matches!(
        c.append_many(vec![(1u16, 1u32, 1u16, vec![1u8; 10]), (1, 1, 1, vec![0u8; max + 1])]),
        Err(Error::TooLarge(_))
    ));
    // The record before the one too large went through.
    assert_eq!(read_all(&c, Filter::all()).len(), 1);
    assert_eq!(c.append(1, 1, 1, &vec![7u8; max]).unwrap(), 2);
    c.ping().unwrap();
    assert!(!c.is_closed());
}

/// The uid the access-list test gives append on tenant 1, and nothing
/// else. It needs no entry in /etc/passwd.
const APPENDER_UID: u32 = 4244;
const CHILD_ENV: &str = "WALLD_RUST_TEST_CHILD_SOCKET";

#[test]
fn not_permitted_through_an_access_list() {
    if let Some(sock) = std::env::var_os(CHILD_ENV) {
        return not_permitted_child(&sock);
    }
    if !common::is_root() {
        // Root may do anything whatever the list says: the refusals can
        // only be seen from another uid, and only root can become one.
        panic!("this test needs root, to connect to walld as uid {}", APPENDER_UID);
    }
    let w = Walld::start_with(&format!(
        "access:\n  - user: {}\n    ops: [append]\n    tenants: [1, 10-20]\n",
        APPENDER_UID
    ));
    // This test again, as that uid, with CHILD_ENV set: it then runs
    // not_permitted_child. A copy of the program, where that uid can run
    // it.
    let exe = std::env::current_exe().unwrap();
    let copy = w.dir.join("child-test");
    std::fs::copy(&exe, &copy).unwrap();
    use std::os::unix::process::CommandExt;
    let out = Command::new(&copy)
        .args(["--exact", "not_permitted_through_an_access_list", "--nocapture"])
        .env(CHILD_ENV, &w.sock)
        .current_dir(&w.dir)
        .uid(APPENDER_UID)
        .gid(APPENDER_UID)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child as uid {}:\n{}", APPENDER_UID, text);
    assert!(text.contains("child: all checks passed"), "{}", text);

    let c = w.client();
    let st = c.stats().unwrap();
    assert_eq!(st.get_u64("denied_append_total"), Some(2));
    assert_eq!(st.get_u64("denied_seal_total"), Some(1));
    // What the child appended is there, and only that.
    let recs = read_all(&c, Filter::all());
    let tenants: Vec<u32> = recs.iter().map(|r| r.tenant_id).collect();
    assert_eq!(tenants, vec![1, 15]);
}

/// What not_permitted_through_an_access_list runs as uid 4244.
fn not_permitted_child(sock: &std::ffi::OsStr) {
    let c = Client::connect_timeout(sock, Duration::from_secs(5)).expect("connect");
    c.ping().expect("anyone may ping");
    assert_eq!(c.append(1, 1, 0, b"allowed").unwrap(), 1);
    match c.append(1, 2, 0, b"refused") {
        Err(Error::NotPermitted(msg)) => assert!(
            msg.contains(&format!("append to tenant 2 not permitted for uid {}", APPENDER_UID)),
            "{}",
            msg
        ),
        r => panic!("append to tenant 2: {:?}", r),
    }
    // The connection stays usable after a refusal.
    assert_eq!(c.append(1, 15, 0, b"in the range").unwrap(), 2);
    assert!(matches!(c.append_nowait(1, 21, 0, b"x"), Err(Error::NotPermitted(_))));
    let e = c.seal().unwrap_err();
    assert!(matches!(e, Error::NotPermitted(_)), "{:?}", e);
    assert_eq!(e.code(), Some(3));
    assert!(matches!(c.stats(), Err(Error::NotPermitted(_))));
    assert!(matches!(c.sync(), Err(Error::NotPermitted(_))));
    let mut r = c.read(0, Filter::all()).unwrap();
    assert!(matches!(r.next(), Some(Err(Error::NotPermitted(_)))));
    assert!(r.next().is_none());
    c.ping().unwrap();
    println!("child: all checks passed");
}

#[test]
fn follow_reads_new_records_as_they_come() {
    let w = Walld::start();
    let writer = w.client();
    let reader = w.client();
    writer.append(1, 5, 0, b"old").unwrap();
    let from = writer.stats().unwrap().next_lsn;

    let mut f = reader.follow(from, Filter::all().tenant(5)).unwrap();
    // Nothing yet: a bounded wait times out and the read goes on.
    assert!(matches!(
        f.next_timeout(Duration::from_millis(100)),
        Some(Err(Error::Timeout))
    ));
    let w2 = thread::spawn({
        let sock = w.sock.clone();
        move || {
            let c = Client::connect(&sock).unwrap();
            let mut lsns = Vec::new();
            for i in 0..50u32 {
                // Tenants 5 and 6 alternate; the reader wants 5.
                lsns.push((i % 2, c.append(2, 5 + i % 2, 0, &i.to_le_bytes()).unwrap()));
                thread::sleep(Duration::from_millis(2));
            }
            lsns
        }
    });
    let mut got = Vec::new();
    while got.len() < 25 {
        let r = f.next_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!(r.tenant_id, 5);
        got.push(r);
    }
    let sent = w2.join().unwrap();
    let want: Vec<u64> = sent.iter().filter(|(t, _)| *t == 0).map(|(_, l)| *l).collect();
    assert_eq!(got.iter().map(|r| r.lsn).collect::<Vec<_>>(), want);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.payload, ((i * 2) as u32).to_le_bytes());
    }

    // Requests on the reader's own connection go on while it follows.
    let lsn = reader.append(3, 5, 1, b"from the reader's connection").unwrap();
    let r = f.next_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!((r.lsn, r.record_type), (lsn, 3));

    // Cancel: the read ends, saying where to go on.
    f.cancel().unwrap();
    assert!(f.next_timeout(Duration::from_secs(10)).is_none());
    assert_eq!(f.next_lsn().map(|n| n > lsn), Some(true));
    drop(f);

    // From above the end: nothing yet, then only from that LSN on; a
    // plain read from there ends at once.
    let end = reader.stats().unwrap().next_lsn;
    let mut ahead = reader.read(end + 2, Filter::all()).unwrap();
    assert!(ahead.next().is_none());
    assert_eq!(ahead.next_lsn(), Some(end + 2));
    let mut f = reader.follow(end + 2, Filter::all()).unwrap();
    for i in 0..3u64 {
        assert_eq!(writer.append(4, 9, 9, b"ahead").unwrap(), end + i);
    }
    assert_eq!(f.next_timeout(Duration::from_secs(10)).unwrap().unwrap().lsn, end + 2);
    drop(f);

    // A follow read dropped midway is cancelled; the connection goes on.
    let g = reader.follow(0, Filter::all()).unwrap();
    drop(g);
    reader.ping().unwrap();
    assert_eq!(read_all(&reader, Filter::all().tenant(6)).len(), 25);
}

#[test]
fn follow_ends_when_walld_stops() {
    let mut w = Walld::start();
    let c = w.client();
    c.append(1, 1, 1, b"one").unwrap();
    let mut f = c.follow(0, Filter::all()).unwrap();
    assert_eq!(f.next().unwrap().unwrap().lsn, 1);
    w.signal(SIGTERM);
    // walld ends the read with READ_END: a normal end, and where to go on.
    assert!(f.next_timeout(Duration::from_secs(10)).is_none());
    assert_eq!(f.next_lsn(), Some(2));
    drop(f);
    assert!(w.wait_exit().success());
    // Then the connection is closed: nothing in flight, nothing sent.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !c.is_closed() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    match c.ping() {
        Err(e @ Error::Closed(_)) => assert!(e.is_retryable()),
        r => panic!("ping after walld stopped: {:?}", r),
    }
}

#[test]
fn outcome_unknown_when_walld_is_killed_with_a_request_in_flight() {
    let mut w = Walld::start();
    let c = w.client();
    c.append(1, 1, 1, b"durable").unwrap();

    // Stopped, walld reads nothing: the appends are surely in flight when
    // it is killed.
    w.signal(SIGSTOP);
    let p = c.send_append(1, 1, 1, b"in flight").unwrap();
    let sync = c.send_sync().unwrap();
    // Connecting to a stopped walld: the HELLO reply does not come.
    let hello = Client::connect_timeout(&w.sock, Duration::from_millis(50)).map(|_| ());
    thread::sleep(Duration::from_millis(100));
    w.signal(SIGKILL);
    let _ = w.wait_exit();

    match p.wait() {
        Err(e @ Error::OutcomeUnknown(_)) => {
            assert!(e.is_outcome_unknown() && !e.is_retryable());
            assert_eq!(e.code(), None);
        }
        r => panic!("append in flight when walld died: {:?}", r),
    }
    assert!(matches!(sync.wait(), Err(Error::OutcomeUnknown(_))));
    assert!(matches!(hello, Err(Error::Timeout)), "{:?}", hello);
    // Later requests are not sent at all.
    assert!(c.is_closed());
    assert!(matches!(c.append(1, 1, 1, b"after"), Err(Error::Closed(_))));
    assert!(matches!(c.read(0, Filter::all()), Err(Error::Closed(_))));

    // A blocking append in another thread, walld killed meanwhile.
    w.launch();
    let c = Arc::new(w.client());
    w.signal(SIGSTOP);
    let t = thread::spawn({
        let c = Arc::clone(&c);
        move || c.append(1, 1, 1, b"waiting")
    });
    thread::sleep(Duration::from_millis(100));
    w.signal(SIGKILL);
    let _ = w.wait_exit();
    assert!(matches!(t.join().unwrap(), Err(Error::OutcomeUnknown(_))));

    // A read cut by walld's death ends with OutcomeUnknown too.
    w.launch();
    let c = w.client();
    let mut f = c.follow(0, Filter::all()).unwrap();
    assert_eq!(f.next().unwrap().unwrap().lsn, 1);
    w.signal(SIGKILL);
    let _ = w.wait_exit();
    assert!(matches!(
        f.next_timeout(Duration::from_secs(10)),
        Some(Err(Error::OutcomeUnknown(_)))
    ));
    assert!(f.next().is_none());
}

#[test]
fn timeout_leaves_the_connection_usable() {
    let w = Walld::start();
    let c = w.client();
    c.set_timeout(Some(Duration::from_millis(200)));
    assert_eq!(c.timeout(), Some(Duration::from_millis(200)));
    w.signal(SIGSTOP);
    let t0 = Instant::now();
    let e = c.ping().unwrap_err();
    assert!(matches!(e, Error::Timeout), "{:?}", e);
    assert!(t0.elapsed() >= Duration::from_millis(200));
    let e = c.append(1, 1, 1, b"late").unwrap_err();
    assert!(matches!(e, Error::Timeout) && e.is_outcome_unknown());
    w.signal(SIGCONT);
    // The late replies are dropped; the next request gets its own.
    c.set_timeout(None);
    c.ping().unwrap();
    assert_eq!(c.append(1, 1, 1, b"next").unwrap(), 2);
    // The timed-out append did take place: its outcome was unknown.
    assert_eq!(read_all(&c, Filter::all()).len(), 2);
}

#[test]
fn rotate_truncate_and_range() {
    let w = Walld::start();
    let c = w.client();
    for i in 0..10u32 {
        c.append(1, 1, 0, &i.to_le_bytes()).unwrap();
    }
    assert_eq!(c.rotate().unwrap(), 11, "first LSN of the new segment");
    for i in 10..20u32 {
        c.append(1, 1, 0, &i.to_le_bytes()).unwrap();
    }
    assert_eq!(c.rotate().unwrap(), 21);
    // The new segment's file is made at its first append: 2 files.
    let segments = c.stats().unwrap().segments;
    assert!(segments >= 2, "{} segments", segments);

    // Only whole segments go: before 15 removes the first one only.
    assert_eq!(c.truncate(15).unwrap(), 11);
    let st = c.stats().unwrap();
    assert_eq!(st.first_lsn, 11);
    assert_eq!(st.segments, segments - 1);

    // Below the first LSN: RANGE, and the connection stays.
    let mut r = c.read(5, Filter::all()).unwrap();
    match r.next() {
        Some(Err(Error::Range(msg))) => assert!(msg.contains("below"), "{}", msg),
        other => panic!("read from below the first LSN: {:?}", other),
    }
    assert!(r.next().is_none());
    drop(r);
    // From 0: from wherever the log starts now.
    let recs = read_all(&c, Filter::all());
    assert_eq!(recs.first().map(|r| r.lsn), Some(11));
    assert_eq!(recs.len(), 10);
    c.ping().unwrap();
}

#[test]
fn stats_are_parsed() {
    let w = Walld::start();
    let c = w.client();
    let before = c.stats().unwrap();
    assert_eq!(before.state, State::ReadWrite);
    assert_eq!((before.first_lsn, before.next_lsn, before.durable_lsn), (1, 1, 0));
    assert!(before.version.starts_with(char::is_numeric), "{}", before.version);
    assert!(before.connections >= 1);
    let lsn = c.append(1, 1, 1, &[0u8; 100]).unwrap();
    let after = c.stats().unwrap();
    assert_eq!((after.next_lsn, after.durable_lsn), (lsn + 1, lsn));
    assert!(after.bytes_written >= before.bytes_written + 100);
    assert!(after.bytes_on_disk > 0);
    assert_eq!(after.appends_total, before.appends_total + 1);
    assert_eq!(after.get("encryption"), Some("off"));
    assert_eq!(after.get_u64("append_bytes_total"), Some(100));
    assert!(after.iter().count() > 20);
}

#[test]
fn busy_errors_and_local_checks() {
    let w = Walld::start_with("limits:\n  max_connections: 2\n");
    let c = w.client();
    // More reads streaming at once than walld allows on one connection.
    let mut readers = Vec::new();
    let mut busy = None;
    for _ in 0..64 {
        let mut r = c.follow(0, Filter::all()).unwrap();
        match r.next_timeout(Duration::from_millis(50)) {
            Some(Err(Error::Timeout)) => readers.push(r),
            Some(Err(e)) => {
                busy = Some(e);
                break;
            }
            other => panic!("follow of an empty log: {:?}", other),
        }
    }
    match busy {
        Some(e @ Error::Busy(_)) => assert!(e.is_retryable()),
        other => panic!("no BUSY after {} reads: {:?}", readers.len(), other),
    }
    drop(readers);
    c.ping().unwrap();

    // A read that ends below its start is refused here, not sent.
    assert!(matches!(
        c.read_range(10, Some(5), Filter::all(), false),
        Err(Error::BadRequest(_))
    ));
    c.ping().unwrap();

    // One connection more than max_connections: refused at accept.
    let _second = w.client();
    match Client::connect_timeout(&w.sock, Duration::from_secs(5)) {
        Err(Error::Busy(msg)) => assert!(msg.contains("too many connections"), "{}", msg),
        r => panic!("a third connection with max_connections 2: {:?}", r.map(|_| ())),
    }

    // No walld at all: a local I/O error.
    let e = Client::connect(w.dir.join("no-such.sock")).unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{:?}", e);
}
