// SPDX-License-Identifier: Apache-2.0
//! The client against a scripted server on a private socket, for what a
//! well-behaved walld never does: frames that break the protocol, errors
//! at HELLO, replies out of order. (The other tests run the real walld.)

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use walld_client::{Client, Error, Filter};

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
    let mut b = Vec::new();
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&max_record.to_le_bytes());
    b.extend_from_slice(&(max_record + 24).to_le_bytes());
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
        let (s, _) = l.accept().unwrap();
        script(s);
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
