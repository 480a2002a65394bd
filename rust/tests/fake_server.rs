// SPDX-License-Identifier: Apache-2.0
//! The client against a scripted server on a private socket, for what a
//! well-behaved walld never does: frames that break the protocol, errors
//! at HELLO, replies out of order; a `Producer`'s frames, and its
//! answer to each kind of error, one connection after another; and
//! version 2's cursor frames, a cursor list in pages, and the flags a
//! READ_END may carry on each version. (The other tests run the real
//! walld.)

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use walld_client::{Ack, Client, Error, Filter, Producer, ProducerOptions};

/// One frame: header and body.
fn frame(op: u8, id: u64, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&((16 + body.len()) as u32).to_le_bytes());
    f.push(op);
    f.push(0);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&id.to_le_bytes());
    f.extend_from_slice(body);
    f
}

fn error(id: u64, code: u16, msg: &str) -> Vec<u8> {
    let mut b = code.to_le_bytes().to_vec();
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(msg.as_bytes());
    frame(0xff, id, &b)
}

fn hello_reply(id: u64, max_record: u32) -> Vec<u8> {
    hello_reply_as(id, 1, max_record, max_record + 24)
}

fn hello_reply_as(id: u64, version: u16, max_record: u32, max_frame: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&max_record.to_le_bytes());
    b.extend_from_slice(&max_frame.to_le_bytes());
    b.extend_from_slice(b"fake 0");
    frame(0x81, id, &b)
}

/// Reads one frame from the client: (op, flags, id, body).
fn recv(s: &mut UnixStream) -> (u8, u8, u64, Vec<u8>) {
    let mut h = [0u8; 16];
    s.read_exact(&mut h).unwrap();
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let mut id = [0u8; 8];
    id.copy_from_slice(&h[8..16]);
    let mut body = vec![0u8; len - 16];
    s.read_exact(&mut body).unwrap();
    (h[4], h[5], u64::from_le_bytes(id), body)
}

/// A server on a private socket that runs `script` on one connection.
fn serve(script: impl FnOnce(UnixStream) + Send + 'static) -> (PathBuf, thread::JoinHandle<()>) {
    serve_listener(move |l| {
        let (s, _) = l.accept().unwrap();
        script(s);
    })
}

/// A server on a private socket that runs `script` on its listener, to
/// accept as many connections as it expects.
fn serve_listener(
    script: impl FnOnce(&UnixListener) + Send + 'static,
) -> (PathBuf, thread::JoinHandle<()>) {
    let dir = std::env::temp_dir().join(format!(
        "walld-rust-fake.{}.{:?}",
        std::process::id(),
        thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("s");
    let l = UnixListener::bind(&path).unwrap();
    let h = thread::spawn(move || {
        script(&l);
        let _ = std::fs::remove_dir_all(&dir);
    });
    (path, h)
}

/// Answers the HELLO; returns the stream.
fn greet(mut s: UnixStream, max_record: u32) -> UnixStream {
    let (op, flags, id, body) = recv(&mut s);
    assert_eq!((op, flags, body), (0x01, 0, vec![1, 0, 1, 0]), "HELLO for version 1..1");
    assert_ne!(id, 0, "request ids are never 0");
    s.write_all(&hello_reply(id, max_record)).unwrap();
    s
}

#[test]
fn busy_with_id_0_at_connect() {
    let (path, h) = serve(|mut s| {
        // As walld refusing a connection: before reading anything.
        s.write_all(&error(0, 10, "too many connections")).unwrap();
    });
    match Client::connect_timeout(&path, Duration::from_secs(5)) {
        Err(Error::Busy(m)) => assert_eq!(m, "too many connections"),
        r => panic!("{:?}", r.map(|_| ())),
    }
    h.join().unwrap();
}

#[test]
fn version_error_at_hello() {
    let (path, h) = serve(|mut s| {
        let (_, _, id, _) = recv(&mut s);
        s.write_all(&error(id, 8, "this walld speaks 2")).unwrap();
    });
    match Client::connect_timeout(&path, Duration::from_secs(5)) {
        Err(Error::Version(m)) => assert_eq!(m, "this walld speaks 2"),
        r => panic!("{:?}", r.map(|_| ())),
    }
    h.join().unwrap();
}

#[test]
fn a_nonsense_hello_reply_is_a_protocol_error() {
    let (path, h) = serve(|mut s| {
        let (_, _, id, _) = recv(&mut s);
        // max_frame below max_record + 24.
        let mut b = vec![1, 0, 0, 0];
        b.extend_from_slice(&100u32.to_le_bytes());
        b.extend_from_slice(&100u32.to_le_bytes());
        s.write_all(&frame(0x81, id, &b)).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest); // the client closes
    });
    match Client::connect_timeout(&path, Duration::from_secs(5)) {
        Err(Error::Protocol(m)) => assert!(m.contains("max_frame"), "{}", m),
        r => panic!("{:?}", r.map(|_| ())),
    }
    h.join().unwrap();
}

#[test]
fn a_bad_frame_closes_the_connection_with_outcome_unknown() {
    let (path, h) = serve(|s| {
        let mut s = greet(s, 1000);
        let (op, _, id1, body) = recv(&mut s);
        assert_eq!(op, 0x02);
        assert_eq!(&body[..8], &[9, 0, 3, 0, 7, 0, 0, 0], "type, vshard, tenant");
        assert_eq!(&body[8..], b"abc");
        let (_, _, _id2, _) = recv(&mut s);
        // The first reply fine, then a frame above the announced limit.
        s.write_all(&frame(0x82, id1, &5u64.to_le_bytes())).unwrap();
        s.write_all(&frame(0x89, 77, &vec![0u8; 2000])).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    });
    let c = Client::connect_timeout(&path, Duration::from_secs(5)).unwrap();
    assert_eq!(c.server_info().server, "fake 0");
    let p1 = c.send_append(9, 7, 3, b"abc").unwrap();
    let p2 = c.send_append(9, 7, 3, b"def").unwrap();
    assert_eq!(p1.wait().unwrap(), 5);
    match p2.wait() {
        Err(Error::OutcomeUnknown(m)) => assert!(m.contains("above the limit"), "{}", m),
        r => panic!("{:?}", r),
    }
    assert!(c.is_closed());
    assert!(matches!(c.ping(), Err(Error::Closed(_))));
    drop(c);
    h.join().unwrap();
}

#[test]
fn replies_are_matched_by_id_and_unknown_ids_break_the_connection() {
    let (path, h) = serve(|s| {
        let mut s = greet(s, 1000);
        let (_, _, a, _) = recv(&mut s);
        let (_, _, b, _) = recv(&mut s);
        let (op, _, r, body) = recv(&mut s);
        assert_eq!(op, 0x06);
        assert_eq!(body.len(), 24);
        // Out of order, a record of the read in between.
        s.write_all(&frame(0x83, b, &40u64.to_le_bytes())).unwrap();
        let mut rec = 12u64.to_le_bytes().to_vec();
        rec.extend_from_slice(&[1, 0, 2, 0, 3, 0, 0, 0]);
        rec.extend_from_slice(b"payload");
        s.write_all(&frame(0xc0, r, &rec)).unwrap();
        s.write_all(&frame(0x89, a, &[])).unwrap();
        s.write_all(&frame(0xc1, r, &13u64.to_le_bytes())).unwrap();
        // Then a reply to a request never made.
        let (_, _, _, _) = recv(&mut s);
        s.write_all(&frame(0x83, 999, &1u64.to_le_bytes())).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    });
    let c = Client::connect_timeout(&path, Duration::from_secs(5)).unwrap();
    thread::scope(|sc| {
        let ping = sc.spawn(|| c.ping());
        thread::sleep(Duration::from_millis(50));
        let sync = sc.spawn(|| c.sync());
        thread::sleep(Duration::from_millis(50));
        let mut r = c.read(12, Filter::all().tenant(3)).unwrap();
        let rec = r.next().unwrap().unwrap();
        assert_eq!(
            (rec.lsn, rec.record_type, rec.vshard_id, rec.tenant_id),
            (12, 1, 2, 3)
        );
        assert_eq!(rec.payload, b"payload");
        assert!(r.next().is_none());
        assert_eq!(r.next_lsn(), Some(13));
        ping.join().unwrap().unwrap();
        assert_eq!(sync.join().unwrap().unwrap(), 40);
    });
    match c.sync() {
        Err(Error::OutcomeUnknown(m)) => assert!(m.contains("not in flight"), "{}", m),
        r => panic!("{:?}", r),
    }
    drop(c);
    h.join().unwrap();
}

/// Every way of asking for a level puts at most one level flag on an
/// APPEND or SYNC (walld closes the connection on REPLICATED and LOCAL
/// together), and none on a nowait APPEND.
#[test]
fn ack_flags_on_the_wire() {
    use walld_client::Ack;
    let (path, h) = serve(|s| {
        let mut s = greet(s, 1000);
        let (a, y, n) = (0x02u8, 0x03u8, 0x01u8);
        let (l, r) = (0x04u8, 0x02u8);
        let want = vec![
            // Client level Default: append, append_many x2, sync, nowait.
            (a, 0), (a, 0), (a, 0), (y, 0), (a, n),
            // append_with / send_append_with / sync_with, each level.
            (a, 0), (a, 0), (y, 0),
            (a, l), (a, l), (y, l),
            (a, r), (a, r), (y, r),
            // Client level Local, then Replicated: append, many, sync, send_sync, nowait.
            (a, l), (a, l), (y, l), (y, l), (a, n), (a, n),
            (a, r), (a, r), (y, r), (y, r), (a, n), (a, n),
        ];
        let mut seen = Vec::new();
        while seen.len() < want.len() {
            let (op, flags, id, _) = recv(&mut s);
            seen.push((op, flags));
            s.write_all(&frame(op | 0x80, id, &1u64.to_le_bytes())).unwrap();
        }
        assert_eq!(seen, want);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty(), "requests after the last one expected");
    });
    let c = Client::connect_timeout(&path, Duration::from_secs(5)).unwrap();
    c.append(1, 1, 1, b"x").unwrap();
    c.append_many(vec![(1u16, 1u32, 1u16, b"y"), (1, 1, 1, b"z")]).unwrap();
    c.sync().unwrap();
    c.append_nowait(1, 1, 1, b"n").unwrap();
    for ack in [Ack::Default, Ack::Local, Ack::Replicated] {
        c.append_with(1, 1, 1, b"w", ack).unwrap();
        c.send_append_with(1, 1, 1, b"s", ack).unwrap().wait().unwrap();
        c.sync_with(ack).unwrap();
    }
    for ack in [Ack::Local, Ack::Replicated] {
        c.set_ack(ack);
        c.append(1, 1, 1, b"x").unwrap();
        c.append_many(vec![(1u16, 1u32, 1u16, b"y")]).unwrap();
        c.sync().unwrap();
        c.send_sync().unwrap().wait().unwrap();
        c.append_nowait(1, 1, 1, b"n").unwrap();
        c.append_many_nowait(vec![(1u16, 1u32, 1u16, b"m")]).unwrap();
    }
    drop(c);
    h.join().unwrap();
}

#[test]
fn replication_errors_from_the_server() {
    let (path, h) = serve(|s| {
        let mut s = greet(s, 1000);
        let (_, _, id, _) = recv(&mut s);
        s.write_all(&error(id, 13, "1000 records durable here are not replicated yet"))
            .unwrap();
        let (_, _, id, _) = recv(&mut s);
        s.write_all(&error(id, 12, "LSN 77 is durable on this machine")).unwrap();
        let (_, _, id, _) = recv(&mut s);
        s.write_all(&frame(0x89, id, &[])).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    });
    let c = Client::connect_timeout(&path, Duration::from_secs(5)).unwrap();
    let e = c.append(1, 1, 1, b"x").unwrap_err();
    assert!(matches!(e, Error::ReplicationBacklog(_)), "{:?}", e);
    assert!(e.is_retryable() && !e.is_outcome_unknown());
    let e = c
        .append_with(1, 1, 1, b"y", walld_client::Ack::Replicated)
        .unwrap_err();
    assert!(matches!(e, Error::ReplicationUnavailable(_)), "{:?}", e);
    assert_eq!(e.lsn(), Some(77));
    c.ping().unwrap();
    drop(c);
    h.join().unwrap();
}

/// Accepts a producer's connection and answers its HELLO, which asks for
/// version 2 alone.
fn greet_v2(l: &UnixListener, max_record: u32) -> UnixStream {
    let (mut s, _) = l.accept().unwrap();
    let (op, flags, id, body) = recv(&mut s);
    assert_eq!((op, flags, body), (0x01, 0, vec![2, 0, 2, 0]), "HELLO for version 2..2");
    s.write_all(&hello_reply_as(id, 2, max_record, max_record + 40)).unwrap();
    s
}

/// An idempotent APPEND from a producer: (id, flags, seq, payload),
/// after checking its fixed fields against `rtype`, `vshard`, `tenant`
/// and `producer`.
fn recv_seq(s: &mut UnixStream, rtype: u16, vshard: u16, tenant: u32, producer: u64) -> (u64, u8, u64, Vec<u8>) {
    let (op, flags, id, body) = recv(s);
    assert_eq!(op, 0x02, "an APPEND");
    assert_eq!(flags & 0x08, 0x08, "flag PRODUCER");
    assert!(body.len() >= 24, "body of {} bytes", body.len());
    assert_eq!(&body[0..2], &rtype.to_le_bytes(), "type");
    assert_eq!(&body[2..4], &vshard.to_le_bytes(), "vshard");
    assert_eq!(&body[4..8], &tenant.to_le_bytes(), "tenant");
    assert_eq!(&body[8..16], &producer.to_le_bytes(), "producer");
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&body[16..24]);
    (id, flags, u64::from_le_bytes(seq), body[24..].to_vec())
}

fn lsn_reply(id: u64, lsn: u64) -> Vec<u8> {
    frame(0x82, id, &lsn.to_le_bytes())
}

/// Options bounding every wait of a producer against a scripted server.
fn bounded() -> ProducerOptions {
    Producer::options()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Some(Duration::from_secs(5)))
        .retry_for(Some(Duration::from_secs(10)))
}

/// Reads what the client sends until it closes the connection.
fn drain(mut s: UnixStream) {
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
}

#[test]
fn a_producer_needs_version_2() {
    let (path, h) = serve(|mut s| {
        let (op, _, id, body) = recv(&mut s);
        assert_eq!((op, body), (0x01, vec![2, 0, 2, 0]), "HELLO for version 2..2");
        s.write_all(&error(id, 8, "this walld speaks 1")).unwrap();
    });
    match bounded().open(&path) {
        Err(Error::Version(m)) => assert_eq!(m, "this walld speaks 1"),
        r => panic!("{:?}", r.map(|_| ())),
    }
    h.join().unwrap();
}

#[test]
fn a_version_2_hello_reply_has_room_for_an_idempotent_append() {
    // max_frame = max_record + 24 is enough for version 1, not for 2;
    // and the reply must name the version asked for.
    for (version, max_frame, what) in [(2u16, 1024u32, "max_frame"), (1, 1040, "version 1")] {
        let (path, h) = serve(move |mut s| {
            let (_, _, id, _) = recv(&mut s);
            s.write_all(&hello_reply_as(id, version, 1000, max_frame)).unwrap();
            drain(s);
        });
        match bounded().open(&path) {
            Err(Error::Protocol(m)) => assert!(m.contains(what), "{}", m),
            r => panic!("{:?}", r.map(|_| ())),
        }
        h.join().unwrap();
    }
}

#[test]
fn a_producer_resends_under_the_same_number() {
    let (path, h) = serve_listener(|l| {
        // The first try: the connection is lost with the append in flight.
        let mut s = greet_v2(l, 1000);
        let (_, flags, seq, payload) = recv_seq(&mut s, 9, 3, 7, 0x1234);
        assert_eq!((flags, seq, &payload[..]), (0x08 | 0x04, 1, &b"abc"[..]));
        drop(s);
        // Sent again, the same record under the same number.
        let mut s = greet_v2(l, 1000);
        let (id, flags, seq, payload) = recv_seq(&mut s, 9, 3, 7, 0x1234);
        assert_eq!((flags, seq, &payload[..]), (0x08 | 0x04, 1, &b"abc"[..]));
        s.write_all(&lsn_reply(id, 7)).unwrap();
        // BUSY: sent again on the same connection.
        let (id, _, seq, payload) = recv_seq(&mut s, 1, 0, 7, 0x1234);
        assert_eq!((seq, &payload[..]), (2, &b""[..]));
        s.write_all(&error(id, 10, "busy; nothing was written")).unwrap();
        let (id, _, seq, _) = recv_seq(&mut s, 1, 0, 7, 0x1234);
        assert_eq!(seq, 2);
        s.write_all(&lsn_reply(id, 8)).unwrap();
        l.set_nonblocking(true).unwrap();
        drain(s);
        assert!(l.accept().is_err(), "no third connection");
    });
    let mut p = bounded()
        .producer_id(0x1234)
        .tenant(7)
        .ack(Ack::Local)
        .open(&path)
        .unwrap();
    assert_eq!((p.producer_id(), p.tenant(), p.ack()), (0x1234, 7, Ack::Local));
    assert_eq!(p.append(9, 3, b"abc").unwrap(), 7);
    assert_eq!((p.next_seq(), p.retries()), (2, 1));
    assert_eq!(p.append(1, 0, b"").unwrap(), 8);
    assert_eq!((p.next_seq(), p.retries(), p.is_pending()), (3, 2, false));
    drop(p);
    h.join().unwrap();
}

#[test]
fn a_refusal_after_an_unknown_outcome_leaves_the_append_pending() {
    let (path, h) = serve_listener(|l| {
        let mut s = greet_v2(l, 1000);
        let _ = recv_seq(&mut s, 1, 2, 0, 55);
        drop(s);
        // The record may be in the log: this refusal may be about it.
        let mut s = greet_v2(l, 1000);
        let (id, _, seq, _) = recv_seq(&mut s, 1, 2, 0, 55);
        assert_eq!(seq, 4);
        s.write_all(&error(id, 4, "the log is sealed; appends are refused")).unwrap();
        // resume: the same record, the same number.
        let (id, _, seq, payload) = recv_seq(&mut s, 1, 2, 0, 55);
        assert_eq!((seq, &payload[..]), (4, &b"x"[..]));
        s.write_all(&lsn_reply(id, 30)).unwrap();
        drain(s);
    });
    let mut p = bounded().producer_id(55).next_seq(4).open(&path).unwrap();
    let e = p.append(1, 2, b"x").unwrap_err();
    assert!(matches!(e, Error::Sealed(_)), "{:?}", e);
    assert!(p.is_pending());
    assert_eq!(p.next_seq(), 4);
    // Nothing is sent while it is pending.
    let e = p.append(1, 2, b"y").unwrap_err();
    assert!(matches!(e, Error::ProducerPending(_)), "{:?}", e);
    assert!(e.to_string().contains("record number 4"), "{}", e);
    assert_eq!(p.resume().unwrap(), Some(30));
    assert!(!p.is_pending());
    assert_eq!(p.next_seq(), 5);
    assert_eq!(p.resume().unwrap(), None);
    drop(p);
    h.join().unwrap();
}

#[test]
fn how_each_answer_settles_an_append() {
    let (path, h) = serve_listener(|l| {
        let mut s = greet_v2(l, 1000);
        // INTERNAL: pending.
        let (id, _, seq, _) = recv_seq(&mut s, 0, 0, 0, 66);
        assert_eq!(seq, 1);
        s.write_all(&error(id, 11, "a bug")).unwrap();
        // REPL_UNAVAILABLE: durable, the number used.
        let (id, flags, seq, _) = recv_seq(&mut s, 0, 0, 0, 66);
        assert_eq!((flags, seq), (0x08 | 0x02, 1));
        s.write_all(&error(id, 12, "LSN 3 is durable on this machine")).unwrap();
        // SEQUENCE at the first try: the number stays free.
        let (id, _, seq, _) = recv_seq(&mut s, 0, 0, 0, 66);
        assert_eq!(seq, 2);
        s.write_all(&error(id, 15, "sequence 2 is out of order; nothing was written")).unwrap();
        // NOT_PERMITTED: the same.
        let (id, _, seq, _) = recv_seq(&mut s, 0, 0, 0, 66);
        assert_eq!(seq, 2);
        s.write_all(&error(id, 3, "tenant 0: append not permitted")).unwrap();
        let (id, _, seq, _) = recv_seq(&mut s, 0, 0, 0, 66);
        assert_eq!(seq, 2);
        s.write_all(&lsn_reply(id, 4)).unwrap();
        drain(s);
    });
    let mut p = bounded()
        .producer_id(66)
        .ack(Ack::Replicated)
        .open(&path)
        .unwrap();
    let e = p.append(0, 0, b"r").unwrap_err();
    assert!(matches!(e, Error::Internal(_)), "{:?}", e);
    assert!(p.is_pending() && p.next_seq() == 1);
    let e = p.resume().unwrap_err();
    assert!(matches!(e, Error::ReplicationUnavailable(_)), "{:?}", e);
    assert_eq!(e.lsn(), Some(3));
    assert!(!p.is_pending() && p.next_seq() == 2);
    let e = p.append(0, 0, b"s").unwrap_err();
    assert!(matches!(e, Error::Sequence(_)), "{:?}", e);
    assert!(!p.is_pending() && p.next_seq() == 2);
    let e = p.append(0, 0, b"s").unwrap_err();
    assert!(matches!(e, Error::NotPermitted(_)), "{:?}", e);
    assert!(!p.is_pending() && p.next_seq() == 2);
    assert_eq!(p.append(0, 0, b"s").unwrap(), 4);
    assert_eq!((p.next_seq(), p.retries()), (3, 0));
    drop(p);
    h.join().unwrap();
}

#[test]
fn a_producer_gives_up_when_retry_for_runs_out() {
    let (path, h) = serve_listener(|l| {
        // Every try: BUSY, on the one connection.
        let mut s = greet_v2(l, 1000);
        let mut tries = 0;
        loop {
            let mut hdr = [0u8; 16];
            if s.read_exact(&mut hdr).is_err() {
                break; // the producer gave up and closed
            }
            let len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
            let mut body = vec![0u8; len - 16];
            s.read_exact(&mut body).unwrap();
            let mut id = [0u8; 8];
            id.copy_from_slice(&hdr[8..16]);
            s.write_all(&error(u64::from_le_bytes(id), 10, "busy")).unwrap();
            tries += 1;
        }
        assert!(tries >= 2, "{} tries", tries);
    });
    let mut p = bounded()
        .retry_for(Some(Duration::from_millis(100)))
        .open(&path)
        .unwrap();
    let e = p.append(0, 0, b"z").unwrap_err();
    match &e {
        Error::OutcomeUnknown(m) => {
            assert!(m.contains("record number 1 not settled"), "{}", m);
            assert!(m.contains("in 0.1 s; last: busy"), "{}", m);
        }
        e => panic!("{:?}", e),
    }
    // Given up: pending, even though every answer said nothing was
    // written (as libwal and the Python client have it).
    assert!(p.is_pending() && p.next_seq() == 1);
    assert!(p.retries() >= 1);
    drop(p);
    h.join().unwrap();
}

/// A frame from the server with `flags` in its header.
fn frame_flags(op: u8, flags: u8, id: u64, body: &[u8]) -> Vec<u8> {
    let mut f = frame(op, id, body);
    f[5] = flags;
    f
}

/// Answers the HELLO of a client that asks for protocol version 2;
/// returns the stream.
fn greet_stream_v2(mut s: UnixStream, max_record: u32) -> UnixStream {
    let (op, flags, id, body) = recv(&mut s);
    assert_eq!((op, flags, body), (0x01, 0, vec![2, 0, 2, 0]), "HELLO for version 2..2");
    s.write_all(&hello_reply_as(id, 2, max_record, max_record + 40)).unwrap();
    s
}

fn connect_v2(path: &std::path::Path) -> Client {
    Client::options()
        .protocol(2)
        .timeout(Some(Duration::from_secs(5)))
        .connect(path)
        .unwrap()
}

#[test]
fn a_version_1_read_end_has_no_flags() {
    let (path, h) = serve(|s| {
        let mut s = greet(s, 1000);
        let (op, flags, id, _) = recv(&mut s);
        assert_eq!((op, flags), (0x06, 0x01), "a follow READ");
        // SEALED_END is version 2's: on version 1 a broken frame.
        s.write_all(&frame_flags(0xc1, 0x01, id, &5u64.to_le_bytes())).unwrap();
        drain(s);
    });
    let c = Client::connect_timeout(&path, Duration::from_secs(5)).unwrap();
    let mut r = c.follow(0, Filter::all()).unwrap();
    match r.next_timeout(Duration::from_secs(5)) {
        Some(Err(Error::OutcomeUnknown(m))) => assert!(m.contains("flags 0x01"), "{}", m),
        other => panic!("{:?}", other),
    }
    assert!(!r.sealed() && r.next_lsn().is_none());
    drop(r);
    assert!(c.is_closed());
    drop(c);
    h.join().unwrap();
}

#[test]
fn a_version_2_read_end_may_say_sealed_and_nothing_else() {
    let (path, h) = serve(|s| {
        let mut s = greet_stream_v2(s, 1000);
        // A follow read that ends at the end of a sealed log.
        let (op, _, id, _) = recv(&mut s);
        assert_eq!(op, 0x06);
        let mut rec = 4u64.to_le_bytes().to_vec();
        rec.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        rec.extend_from_slice(b"last");
        s.write_all(&frame(0xc0, id, &rec)).unwrap();
        s.write_all(&frame_flags(0xc1, 0x01, id, &5u64.to_le_bytes())).unwrap();
        // One that walld ends as it stops: no flag.
        let (_, _, id, _) = recv(&mut s);
        s.write_all(&frame(0xc1, id, &5u64.to_le_bytes())).unwrap();
        // UNTIL_END answers a READ flag this client never sends.
        let (_, _, id, _) = recv(&mut s);
        s.write_all(&frame_flags(0xc1, 0x02, id, &5u64.to_le_bytes())).unwrap();
        drain(s);
    });
    let c = connect_v2(&path);
    assert_eq!(c.server_info().protocol_version, 2);
    let mut r = c.follow(0, Filter::all()).unwrap();
    let rec = r.next_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!((rec.lsn, &rec.payload[..]), (4, &b"last"[..]));
    assert!(r.next_timeout(Duration::from_secs(5)).is_none());
    assert!(r.sealed());
    assert_eq!(r.next_lsn(), Some(5));
    drop(r);
    let mut r = c.follow(5, Filter::all()).unwrap();
    assert!(r.next_timeout(Duration::from_secs(5)).is_none());
    assert!(!r.sealed());
    assert_eq!(r.next_lsn(), Some(5));
    drop(r);
    let mut r = c.follow(5, Filter::all()).unwrap();
    match r.next_timeout(Duration::from_secs(5)) {
        Some(Err(Error::OutcomeUnknown(m))) => assert!(m.contains("flags 0x02"), "{}", m),
        other => panic!("{:?}", other),
    }
    drop(r);
    assert!(c.is_closed());
    drop(c);
    h.join().unwrap();

    // SEALED_END on any frame but READ_END is a broken frame too.
    for (op, what) in [(0x89u8, "a PING reply"), (0xc0, "a RECORD"), (0xff, "an ERROR")] {
        let (path, h) = serve(move |s| {
            let mut s = greet_stream_v2(s, 1000);
            let (_, _, id, _) = recv(&mut s);
            let body = match op {
                0xc0 => {
                    let mut b = 1u64.to_le_bytes().to_vec();
                    b.extend_from_slice(&[0; 8]);
                    b
                }
                0xff => vec![10, 0, 0, 0],
                _ => Vec::new(),
            };
            s.write_all(&frame_flags(op, 0x01, id, &body)).unwrap();
            drain(s);
        });
        let c = connect_v2(&path);
        let r = if op == 0xc0 {
            let mut r = c.read(0, Filter::all()).unwrap();
            match r.next_timeout(Duration::from_secs(5)) {
                Some(Err(e)) => Err(e),
                other => panic!("{}: {:?}", what, other),
            }
        } else {
            c.ping()
        };
        match r {
            Err(Error::OutcomeUnknown(m)) => assert!(m.contains("flags 0x01"), "{}: {}", what, m),
            r => panic!("{}: {:?}", what, r),
        }
        assert!(c.is_closed(), "{}", what);
        drop(c);
        h.join().unwrap();
    }
}

/// A CURSOR_LIST reply body: count, flags, then the entries.
fn list_body(more: bool, entries: &[(&str, u64, u64)]) -> Vec<u8> {
    let mut b = (entries.len() as u32).to_le_bytes().to_vec();
    b.extend_from_slice(&(more as u32).to_le_bytes());
    for (name, lsn, ms) in entries {
        b.extend_from_slice(&lsn.to_le_bytes());
        b.extend_from_slice(&ms.to_le_bytes());
        b.push(name.len() as u8);
        b.extend_from_slice(name.as_bytes());
    }
    b
}

#[test]
fn cursor_requests_on_the_wire_and_a_list_in_pages() {
    let (path, h) = serve(|s| {
        let mut s = greet_stream_v2(s, 1000);
        let mut lsn_name = 7u64.to_le_bytes().to_vec();
        lsn_name.extend_from_slice(b"etl");
        let (op, flags, id, body) = recv(&mut s);
        assert_eq!((op, flags, &body[..]), (0x0b, 0, &lsn_name[..]), "CURSOR_CREATE");
        s.write_all(&frame(0x8b, id, &7u64.to_le_bytes())).unwrap();
        let mut lsn_name = 9u64.to_le_bytes().to_vec();
        lsn_name.extend_from_slice(b"etl");
        let (op, flags, id, body) = recv(&mut s);
        assert_eq!((op, flags, &body[..]), (0x0c, 0, &lsn_name[..]), "CURSOR_COMMIT");
        s.write_all(&frame(0x8c, id, &9u64.to_le_bytes())).unwrap();
        let (op, flags, id, body) = recv(&mut s);
        assert_eq!((op, flags, &body[..]), (0x0d, 0, &b"etl"[..]), "CURSOR_GET");
        let mut state = 9u64.to_le_bytes().to_vec();
        state.extend_from_slice(&1234u64.to_le_bytes());
        s.write_all(&frame(0x8d, id, &state)).unwrap();
        let (op, _, id, _) = recv(&mut s);
        assert_eq!(op, 0x0d);
        s.write_all(&error(id, 16, "no cursor named zz")).unwrap();
        // The list: from the start, then after the last name of each
        // reply with MORE.
        let (op, flags, id, body) = recv(&mut s);
        assert_eq!((op, flags, &body[..]), (0x0e, 0, &b""[..]), "CURSOR_LIST");
        let page = list_body(true, &[("a", 1, 10), ("b-2", 2, 20)]);
        s.write_all(&frame(0x8e, id, &page)).unwrap();
        let (op, _, id, body) = recv(&mut s);
        assert_eq!((op, &body[..]), (0x0e, &b"b-2"[..]), "CURSOR_LIST after b-2");
        s.write_all(&frame(0x8e, id, &list_body(false, &[("etl", 9, 1234)]))).unwrap();
        let (op, flags, id, body) = recv(&mut s);
        assert_eq!((op, flags, &body[..]), (0x0f, 0, &b"etl"[..]), "CURSOR_DROP");
        s.write_all(&frame(0x8f, id, &9u64.to_le_bytes())).unwrap();
        // TRUNCATE: FORCE with truncate_force, no flag without.
        let (op, flags, id, body) = recv(&mut s);
        assert_eq!((op, flags, &body[..]), (0x07, 0x02, &4u64.to_le_bytes()[..]));
        s.write_all(&frame(0x87, id, &3u64.to_le_bytes())).unwrap();
        let (op, flags, id, _) = recv(&mut s);
        assert_eq!((op, flags), (0x07, 0));
        s.write_all(&error(id, 17, "cursor etl is at LSN 0; nothing removed")).unwrap();
        // A list whose second reply goes back: an error, and no third
        // request.
        let (_, _, id, _) = recv(&mut s);
        s.write_all(&frame(0x8e, id, &list_body(true, &[("m", 1, 1)]))).unwrap();
        let (_, _, id, body) = recv(&mut s);
        assert_eq!(body, b"m");
        s.write_all(&frame(0x8e, id, &list_body(false, &[("a", 1, 1)]))).unwrap();
        let (op, _, id, _) = recv(&mut s);
        assert_eq!(op, 0x09, "a PING after the list");
        s.write_all(&frame(0x89, id, &[])).unwrap();
        drain(s);
    });
    let c = connect_v2(&path);
    assert_eq!(c.cursor_create("etl", 7).unwrap(), 7);
    assert_eq!(c.cursor_commit("etl", 9).unwrap(), 9);
    let got = c.cursor_get("etl").unwrap();
    assert_eq!(
        (got.name.as_str(), got.lsn, got.commit_ms),
        ("etl", 9, 1234)
    );
    match c.cursor_get("zz") {
        Err(e @ Error::NotFound(_)) => assert_eq!(e.code(), Some(16)),
        r => panic!("{:?}", r),
    }
    let all = c.cursors().unwrap();
    let seen: Vec<(&str, u64, u64)> = all
        .iter()
        .map(|x| (x.name.as_str(), x.lsn, x.commit_ms))
        .collect();
    assert_eq!(seen, [("a", 1, 10), ("b-2", 2, 20), ("etl", 9, 1234)]);
    assert_eq!(c.cursor_drop("etl").unwrap(), 9);
    assert_eq!(c.truncate_force(4).unwrap(), 3);
    match c.truncate(4) {
        Err(e @ Error::Held(_)) => {
            assert_eq!(e.code(), Some(17));
            assert!(e.to_string().contains("cursor etl"), "{}", e);
        }
        r => panic!("{:?}", r),
    }
    match c.cursors() {
        Err(Error::Protocol(m)) => assert!(m.contains("out of order"), "{}", m),
        r => panic!("{:?}", r),
    }
    c.ping().unwrap();
    drop(c);
    h.join().unwrap();
}

#[test]
fn version_1_sends_no_cursor_request() {
    let (path, h) = serve(|s| {
        let mut s = greet(s, 1000);
        // Nothing before the PING: each call below was refused here.
        let (op, _, id, _) = recv(&mut s);
        assert_eq!(op, 0x09, "the first request after HELLO is the PING");
        s.write_all(&frame(0x89, id, &[])).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty(), "nothing after the PING");
    });
    let c = Client::connect_timeout(&path, Duration::from_secs(5)).unwrap();
    assert!(matches!(c.cursor_create("etl", 0), Err(Error::Version(_))));
    assert!(matches!(c.cursor_commit("etl", 1), Err(Error::Version(_))));
    assert!(matches!(c.cursor_get("etl"), Err(Error::Version(_))));
    assert!(matches!(c.cursors(), Err(Error::Version(_))));
    assert!(matches!(c.cursor_drop("etl"), Err(Error::Version(_))));
    assert!(matches!(c.truncate_force(1), Err(Error::Version(_))));
    // The name is checked first.
    assert!(matches!(c.cursor_drop("no/slash"), Err(Error::BadRequest(_))));
    c.ping().unwrap();
    drop(c);
    h.join().unwrap();
}
